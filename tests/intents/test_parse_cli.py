"""`maestro parse`: the JSON contract, stdin mode, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from maestro import cli

LIBRARY = {
    "albums": [{"name": "Abbey Road", "artist": "The Beatles", "uri": "spotify:album:abbey"}],
    "artists": [{"name": "The Beatles", "uri": "spotify:artist:beatles"}],
    "devices": [{"name": "Kitchen", "id": "dev-kitchen"}],
}


@pytest.fixture
def library(tmp_path: Path) -> Path:
    path = tmp_path / "library.json"
    path.write_text(json.dumps(LIBRARY))
    return path


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "maestro", "parse", *args], input=stdin, capture_output=True, text=True
    )


def test_json_contract(library: Path) -> None:
    result = run("play abbey road by the beatles", "--library", str(library), "--json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert set(body) == {"text", "intent", "slots", "score"}
    assert body["text"] == "play abbey road by the beatles"
    assert body["intent"] == "PlayAlbum"
    assert body["slots"] == {
        "album": {"name": "Abbey Road", "uri": "spotify:album:abbey"},
        "artist": {"name": "The Beatles", "uri": "spotify:artist:beatles"},
    }
    assert body["score"] == 1.0


def test_stdin_gives_one_object_per_line(library: Path) -> None:
    result = run("-", "--library", str(library), "--json", stdin="skip\nvolume to fifty\n\ntell me a joke\n")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["intent"] for line in lines] == ["Next", "SetVolume", None]
    assert lines[1]["slots"] == {"volume": 50}
    assert lines[2]["slots"] == {} and 0 <= lines[2]["score"] < 0.6


def test_device_slot_carries_the_id(library: Path) -> None:
    body = json.loads(run("play it in the kitchen", "--library", str(library), "--json").stdout)
    assert body["slots"] == {"device": {"name": "Kitchen", "id": "dev-kitchen"}}


def test_human_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["parse", "set", "the", "volume", "to", "thirty"]) == 0
    assert capsys.readouterr().out.strip() == "SetVolume volume=30 (score 1.00)"


def test_broken_intents_file_exits_2_with_location(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "intents.yaml"
    broken.write_text('intents:\n  Next:\n    templates: ["skip (it"]\n')
    assert cli.main(["parse", "skip", "--intents", str(broken)]) == 2
    assert f"{broken}:3:" in capsys.readouterr().err


def test_user_copy_in_the_config_dir_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.toml").write_text("")
    (tmp_path / "intents.yaml").write_text('intents:\n  Wave:\n    templates: ["wave (hello|goodbye)"]\n')
    monkeypatch.setenv("MAESTRO_CONFIG", str(tmp_path / "config.toml"))
    result = subprocess.run(
        [sys.executable, "-m", "maestro", "parse", "wave goodbye", "--json"], capture_output=True, text=True
    )
    assert json.loads(result.stdout)["intent"] == "Wave"


def test_bad_library_file_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "library.json"
    bad.write_text("{not json")
    result = run("skip", "--library", str(bad), "--json")
    assert result.returncode == 2 and "not valid JSON" in result.stderr
