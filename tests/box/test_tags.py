"""NFC cards: every URI/link form, NDEF (good and damaged), tags.yaml robustness, second taps."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import ndef
import pytest

from maestro.nfc.tags import (
    TagAction,
    TagError,
    TagStore,
    TapTracker,
    action_for,
    check_uid,
    normalise_uid,
    parse_ndef,
    spotify_uri,
)

ID = "4aawyAB9vmqN3uQ7FjRGTy"


@pytest.mark.parametrize(
    ("text", "uri"),
    [
        (f"spotify:album:{ID}", f"spotify:album:{ID}"),
        (f"spotify:playlist:{ID}", f"spotify:playlist:{ID}"),
        (f"spotify:track:{ID}", f"spotify:track:{ID}"),
        (f"spotify:artist:{ID}", f"spotify:artist:{ID}"),
        (f"spotify:user:someone:playlist:{ID}", f"spotify:playlist:{ID}"),
        (f"https://open.spotify.com/album/{ID}", f"spotify:album:{ID}"),
        (f"https://open.spotify.com/album/{ID}?si=abc123XYZ", f"spotify:album:{ID}"),
        (f"https://open.spotify.com/intl-de/album/{ID}?si=abc", f"spotify:album:{ID}"),
        (f"https://open.spotify.com/intl-pt-BR/playlist/{ID}", f"spotify:playlist:{ID}"),
        (f"http://open.spotify.com/track/{ID}/", f"spotify:track:{ID}"),
        (f"open.spotify.com/artist/{ID}", f"spotify:artist:{ID}"),
        (f"https://open.spotify.com/embed/track/{ID}", f"spotify:track:{ID}"),
    ],
)
def test_every_uri_and_link_form(text: str, uri: str) -> None:
    assert spotify_uri(text) == uri
    assert action_for(text) == TagAction(uri=uri)


@pytest.mark.parametrize(
    "text", ["https://example.com/album/x", "spotify:album:", "https://open.spotify.com/user/x"]
)
def test_links_that_are_not_playable_are_refused(text: str) -> None:
    with pytest.raises(TagError):
        action_for(text)


def test_commands() -> None:
    assert action_for("pause") == TagAction(command="pause")
    assert action_for(" volume 30 ") == TagAction(command="volume 30")


def ndef_bytes(*records: object) -> bytes:
    return b"".join(ndef.message_encoder(list(records)))


def test_ndef_uri_and_text_records() -> None:
    assert parse_ndef(
        ndef_bytes(ndef.UriRecord(f"https://open.spotify.com/intl-fr/album/{ID}?si=q"))
    ) == TagAction(uri=f"spotify:album:{ID}")
    assert parse_ndef(ndef_bytes(ndef.UriRecord(f"spotify:track:{ID}"))) == TagAction(
        uri=f"spotify:track:{ID}"
    )
    assert parse_ndef(ndef_bytes(ndef.TextRecord("play on kitchen"))) == TagAction(command="play on kitchen")
    assert parse_ndef(b"") is None


def test_malformed_ndef_is_a_clear_error() -> None:
    with pytest.raises(TagError, match="damaged"):
        parse_ndef(b"\xd1\x01\x99U")


def test_uids() -> None:
    assert normalise_uid("04:a1:b2:c3") == "04A1B2C3"
    assert check_uid("04-a1-b2-c3-d4-e5-f6") == "04A1B2C3D4E5F6"
    for bad in ("zz", "not a uid!", "AD", "04A1B2", "04 A1 B2 C3 D4"):  # not hex, or not 4/7/10 bytes
        with pytest.raises(TagError, match="not a card UID"):
            check_uid(bad)


def test_only_real_spotify_ids_are_links() -> None:
    assert spotify_uri("spotify:album:doesnotexist") is None  # Spotify ids are 22 characters
    with pytest.raises(TagError, match="not a Spotify album"):
        action_for("spotify:album:doesnotexist")


def test_store_round_trip_atomic_and_lookup(tmp_path: Path) -> None:
    path = tmp_path / "tags.yaml"
    store = TagStore(path)
    store.add("04:A1:B2:C3", action_for(f"https://open.spotify.com/album/{ID}?si=x"))
    store.add("DEADBEEF", action_for("pause"))
    again = TagStore(path)
    assert again.lookup("04a1b2c3") == TagAction(uri=f"spotify:album:{ID}")
    assert again.lookup("deadbeef") == TagAction(command="pause")
    assert again.lookup("0000") is None
    assert again.remove("DEADBEEF") and not again.remove("DEADBEEF")
    assert os.listdir(tmp_path) == ["tags.yaml"]


def test_broken_file_keeps_the_last_good_mapping(tmp_path: Path) -> None:
    path = tmp_path / "tags.yaml"
    store = TagStore(path, in_use=True)  # the daemon's: it goes on with the last good list
    store.add("04A1B2C3", action_for("pause"))
    path.write_text("04A1B2C3: pause\nDEADBEEF: [unclosed\n")
    store.reload()
    assert store.problem and f"{path}:3" in store.problem and "previous card list" in store.problem
    assert store.lookup("04A1B2C3") == TagAction(command="pause")
    path.write_text("04A1B2C3: https://example.com/nope\n")
    store.reload()
    assert "not a Spotify" in (store.problem or "")
    assert store.lookup("04A1B2C3") == TagAction(command="pause")


def test_second_tap_and_resting_card() -> None:
    taps = TapTracker(window_s=5)
    assert taps.arrived("A", 0) == "first"
    assert taps.arrived("A", 1) == "resting"  # never lifted: the reader just saw it again
    taps.removed("A", 2)
    assert taps.arrived("A", 4) == "second"
    taps.removed("A", 5)
    assert taps.arrived("A", 20) == "first"  # too late to count as a second tap
    taps.removed("A", 21)
    assert taps.arrived("B", 22) == "first"


@pytest.mark.slow
def test_tags_cli(tmp_path: Path) -> None:
    env = {**os.environ, "MAESTRO_CONFIG": str(tmp_path / "config.toml")}
    (tmp_path / "config.toml").write_text("")

    def tags(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "maestro", "tags", *args], capture_output=True, text=True, env=env
        )

    assert "No cards yet" in tags("list").stdout
    added = tags("add", "04:A1:B2:C3", f"https://open.spotify.com/intl-de/album/{ID}?si=1")
    assert added.returncode == 0
    assert (
        added.stdout.strip()
        == f"Card 04A1B2C3 now does spotify:album:{ID} (saved in {tmp_path / 'tags.yaml'})."
    )
    assert f"04A1B2C3              plays spotify:album:{ID}" in tags("list").stdout  # UIDs of 10 bytes fit
    command = tags("add", "04A1B2C4", "volume", "30")
    assert command.stdout.startswith('Card 04A1B2C4 now does "volume 30"')
    # Checked the way `tags learn` checks: a command Maestro understands, a real link, a real UID.
    sandwich = tags("add", "04A1B2C5", "make me a sandwich")
    assert sandwich.returncode == 2 and "is not a command Maestro understands" in sandwich.stderr
    fake = tags("add", "04A1B2C5", "spotify:album:doesnotexist")
    assert fake.returncode == 2 and "not a Spotify album" in fake.stderr
    not_uid = tags("add", "not a uid!", "pause")
    assert not_uid.returncode == 2 and "not a card UID" in not_uid.stderr
    assert tags("add", "04A1", "https://example.com/x").returncode == 2
    assert "04A1B2C5" not in tags("list").stdout and "AD" not in tags("list").stdout
    assert tags("remove", "04A1B2C3").returncode == 0
    assert tags("remove", "04A1B2C3").returncode == 2
    assert tags("learn").returncode == 2
    (tmp_path / "tags.yaml").write_text("A: [\n")
    broken = tags("list")
    assert broken.returncode == 2 and "tags.yaml:2" in broken.stderr
