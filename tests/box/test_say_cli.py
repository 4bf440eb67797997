"""`maestro say` and `maestro devices` as a user runs them: a real process, a real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.live import LiveSandbox


def maestro(live: LiveSandbox, state_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "maestro", *args],
        capture_output=True, text=True, env={**os.environ, **live.env(state_dir), **env}, timeout=60,
    )  # fmt: skip


def test_say_plays_and_prints_the_reply(live: LiveSandbox, tmp_path: Path) -> None:
    live.pair_into(tmp_path)
    result = maestro(live, tmp_path, "say", "play", "abbey", "road", MAESTRO_PLAYER_DEFAULT_DEVICE="Kitchen")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Playing Abbey Road."
    assert live.snapshot()["playback"]["device_name"] == "Kitchen"


@pytest.mark.slow
def test_say_json(live: LiveSandbox, tmp_path: Path) -> None:
    live.pair_into(tmp_path)
    maestro(live, tmp_path, "say", "play abbey road", MAESTRO_PLAYER_DEFAULT_DEVICE="Kitchen")
    result = maestro(live, tmp_path, "say", "--json", "what's playing")
    body = json.loads(result.stdout)
    assert body["intent"] == "NowPlaying" and body["reply"]["ok"] is True
    assert body["reply"]["speech"].startswith("This is Come Together, by The Beatles")
    assert body["reply"]["screen"]["kind"] == "now_playing"


@pytest.mark.slow
def test_say_exit_codes(live: LiveSandbox, tmp_path: Path) -> None:
    not_paired = maestro(live, tmp_path, "say", "skip")
    assert not_paired.returncode == 1 and "not connected to Spotify" in not_paired.stdout
    live.pair_into(tmp_path)
    nonsense = maestro(live, tmp_path, "say", "tell me a joke")
    assert nonsense.returncode == 2 and nonsense.stdout.strip() == "Sorry, I didn't get that."


def test_devices(live: LiveSandbox, tmp_path: Path) -> None:
    live.pair_into(tmp_path)
    result = maestro(live, tmp_path, "devices")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[:3]] == ["Living", "Kitchen", "Bedroom"]
    assert "fixed volume" in lines[3]
