"""`maestro tags learn`: a tap from the configured reader, then a checked action saved to tags.yaml."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from maestro.nfc.learn import recent_unknown, remember_unknown

ID = "4aawyAB9vmqN3uQ7FjRGTy"


def learn(
    tmp_path: Path, script: str | None, *args: str, answers: str = ""
) -> subprocess.CompletedProcess[str]:
    if not (tmp_path / "config.toml").exists():
        (tmp_path / "config.toml").touch()
    env = {**os.environ, "MAESTRO_CONFIG": str(tmp_path / "config.toml"), "MAESTRO_STATE_DIR": str(tmp_path)}
    if script is not None:
        (tmp_path / "cards.txt").write_text(script)
        env["MAESTRO_NFC_READER"] = f"scripted:{tmp_path / 'cards.txt'}"
    return subprocess.run(
        [sys.executable, "-m", "maestro", "tags", "learn", *args],
        input=answers, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def mapping(tmp_path: Path) -> dict[str, str]:
    return yaml.safe_load((tmp_path / "tags.yaml").read_text())


def test_tap_then_type_a_command_that_is_checked(tmp_path: Path) -> None:
    result = learn(tmp_path, "wait 0.2\ntap 04:aa:55:01\n", answers="dance party\nvolume 30\n")
    assert result.returncode == 0, result.stderr
    assert "Lay the card on the reader" in result.stdout
    assert '"dance party" is not a command Maestro understands' in result.stdout  # asked again
    assert 'Card 04AA5501 now does "volume 30"' in result.stdout
    assert mapping(tmp_path) == {"04AA5501": "volume 30"}


def test_a_link_given_up_front_is_stored_as_its_uri(tmp_path: Path) -> None:
    result = learn(tmp_path, "tap 04BB1234\n", f"https://open.spotify.com/intl-de/album/{ID}?si=x")
    assert result.returncode == 0, result.stderr
    assert mapping(tmp_path) == {"04BB1234": f"spotify:album:{ID}"}
    again = learn(tmp_path, "tap 04BB1234\n", "pause")
    assert f"now does spotify:album:{ID}; it will be replaced" in again.stdout
    assert mapping(tmp_path) == {"04BB1234": "pause"}


@pytest.mark.slow
def test_busy_reader_offers_the_card_the_daemon_did_not_know(tmp_path: Path) -> None:
    busy = learn(tmp_path, "unplug 60\n", "pause", "--timeout", "1")
    assert busy.returncode == 1 and "stop it while learning" in busy.stderr
    remember_unknown(tmp_path, "04CC1234")
    assert recent_unknown(tmp_path) == "04CC1234" and recent_unknown(tmp_path, now=time.time() + 3600) is None
    result = learn(tmp_path, "unplug 60\n", "pause", "--timeout", "1")
    assert result.returncode == 0, result.stderr
    assert "last saw and did not know: 04CC1234" in result.stdout and mapping(tmp_path) == {
        "04CC1234": "pause"
    }
    assert recent_unknown(tmp_path) is None  # learnt: not offered again


@pytest.mark.slow
def test_mistakes_are_explained(tmp_path: Path) -> None:
    no_reader = learn(tmp_path, None, "pause")
    assert no_reader.returncode == 2 and "[nfc] reader" in no_reader.stderr
    nothing = learn(tmp_path, "wait 5\n", "pause", "--timeout", "0.5")
    assert nothing.returncode == 2 and "No card was laid on the reader" in nothing.stderr
    write = learn(tmp_path, "tap 04DD1234\n", f"spotify:album:{ID}", "--write")
    assert write.returncode == 2 and "--write needs an nfcpy reader" in write.stderr
    assert not (tmp_path / "tags.yaml").exists()  # nothing half-saved


@pytest.mark.slow
def test_say_what_the_card_does(tmp_path: Path) -> None:
    from maestro.voice.audio import RATE
    from maestro.voice.synth import utterance
    from maestro.voice.tts import write_wav

    write_wav(tmp_path / "said.wav", utterance("pause the music"), RATE)
    (tmp_path / "config.toml").write_text(f'[voice]\ninput_device = "wav:{tmp_path / "said.wav"}"\n')
    result = learn(tmp_path, "tap 04EE1234\n", "--say", answers="y\n")  # read back, then confirmed
    assert result.returncode == 0, result.stderr
    assert 'Heard: "pause the music"' in result.stdout and mapping(tmp_path) == {
        "04EE1234": "pause the music"
    }
