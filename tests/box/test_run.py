"""`maestro run`: pairs by itself when not signed in, runs, stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.live import LiveSandbox


@pytest.mark.slow
def test_not_paired_pairs_first_then_stops_within_two_seconds(live: LiveSandbox, tmp_path: Path) -> None:
    live.state.poll_interval = 1
    env = {
        **os.environ,
        **live.env(tmp_path),
        "MAESTRO_TTS_ENGINE": "none",
        "MAESTRO_DISPLAY_DRIVER": "terminal",
    }
    process = subprocess.Popen([sys.executable, "-m", "maestro", "run"], env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        assert process.stdout is not None
        line = ""
        while not line.startswith("Code: "):
            line = process.stdout.readline()
            assert line, process.stderr.read() if process.stderr else ""
        live.control("approve", {"user_code": line.removeprefix("Code: ").strip()})
        deadline = time.monotonic() + 20
        while not (tmp_path / "tokens.json").exists():
            assert time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(0.5)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
        assert time.monotonic() - started < 2.0
    finally:
        live.state.poll_interval = 5
        process.kill()
    assert process.returncode == 0, err
    assert "Maestro stopped." in out
    assert "Connected" in err and "Nothing playing" in err  # the terminal display's screens


@pytest.mark.slow
async def test_runtime_reports_trouble_once_and_recovers(live: LiveSandbox, tmp_path: Path) -> None:
    import asyncio

    from maestro import config
    from maestro.box.runtime import Runtime
    from maestro.display.devices import NullDisplay
    from maestro.intents.spec import default_intents_path
    from maestro.session import Session
    from maestro.voice.tts import SilentSpeaker

    live.pair_into(tmp_path)
    settings = config.load(live.env(tmp_path))
    async with Session.open(settings, state_dir=tmp_path, intents=default_intents_path()) as session:
        speaker, display = SilentSpeaker(), NullDisplay()
        runtime = Runtime(session, speaker, display, poll_s=0.05)
        live.control("faults", {"status": 503, "count": 10, "path": "/v1/me/player"})
        stop = asyncio.Event()
        task = asyncio.create_task(runtime.run(stop))
        for _ in range(200):  # until Spotify answers again (each failing poll retries ~3 s)
            await asyncio.sleep(0.1)
            if speaker.history[-1:] == ["Spotify is back."]:
                break
        stop.set()
        await asyncio.wait_for(task, timeout=2)
    trouble = [text for text in speaker.history if "isn't answering" in text]
    assert len(trouble) == 1  # once, not on every poll
    assert speaker.history[-1] == "Spotify is back."
    assert display.screens[-1].kind == "idle"


@pytest.mark.slow
async def test_failed_pairing_waits_before_trying_again(live: LiveSandbox, tmp_path: Path) -> None:
    import asyncio

    from maestro import config
    from maestro.box.runtime import Runtime
    from maestro.display.devices import NullDisplay
    from maestro.intents.spec import default_intents_path
    from maestro.session import Session
    from maestro.voice.tts import SilentSpeaker

    settings = config.load({**live.env(tmp_path), "MAESTRO_SPOTIFY_CLIENT_ID": "not-allowlisted"})
    async with Session.open(settings, state_dir=tmp_path, intents=default_intents_path()) as session:
        speaker = SilentSpeaker()
        stop = asyncio.Event()
        task = asyncio.create_task(Runtime(session, speaker, NullDisplay(), pair_retry_s=0.5).run(stop))
        await asyncio.sleep(1.2)
        stop.set()
        await asyncio.wait_for(task, timeout=2)
    refusals = [text for text in speaker.history if "allowlist" in text]
    assert 1 <= len(refusals) <= 3  # said, then retried calmly: no tight loop


async def test_revoked_sign_in_is_spoken_shown_and_pairing_starts_again(
    live: LiveSandbox, tmp_path: Path
) -> None:
    import asyncio

    from maestro import config
    from maestro.box.runtime import Runtime
    from maestro.display.devices import NullDisplay
    from maestro.intents.spec import default_intents_path
    from maestro.session import Session
    from maestro.voice.tts import SilentSpeaker

    live.pair_into(tmp_path)
    live.control("tokens", {"expire": True, "revoke": True})  # the user removed Maestro's access
    settings = config.load(live.env(tmp_path))
    lines: list[str] = []
    async with Session.open(settings, state_dir=tmp_path, intents=default_intents_path()) as session:
        speaker, display = SilentSpeaker(), NullDisplay()
        stop = asyncio.Event()
        runtime = Runtime(session, speaker, display, poll_s=0.05, print_line=lines.append)
        task = asyncio.create_task(runtime.run(stop))
        for _ in range(100):
            await asyncio.sleep(0.05)
            if any(line.startswith("Code: ") for line in lines):
                break
        stop.set()
        await asyncio.wait_for(task, timeout=2)
    assert any("pair again" in text for text in speaker.history)  # spoken
    assert any(s.kind == "error" and "pair again" in s.lines[0] for s in display.screens)  # shown
    assert any(line.startswith("Code: ") for line in lines)  # and a new pairing began
    assert display.screens[-1].kind == "pairing"


async def test_a_command_that_breaks_is_said_and_the_next_one_runs(tmp_path: Path, caplog) -> None:
    from maestro import config
    from maestro.box.runtime import Runtime
    from maestro.display.devices import NullDisplay
    from maestro.messages import Reply, Screen
    from maestro.session import Session
    from maestro.voice.tts import SilentSpeaker

    (tmp_path / "config.toml").write_text("")
    env = {"MAESTRO_CONFIG": str(tmp_path / "config.toml"), "MAESTRO_STATE_DIR": str(tmp_path)}
    async with Session.open(config.load(env), state_dir=tmp_path) as session:
        speaker, display = SilentSpeaker(), NullDisplay()
        runtime = Runtime(session, speaker, display, print_line=lambda line: None)

        async def broken() -> Reply:
            raise KeyError("a bug")

        async def fine() -> Reply:
            return Reply("Paused.", Screen("message", "Paused."))

        failed = await runtime.commands.run("card", broken)
        worked = await runtime.commands.run("voice", fine)
    assert not failed.ok and speaker.history == ["Sorry, something went wrong with that.", "Paused."]
    assert worked.ok and [s.kind for s in display.screens] == ["error", "message"]
    assert "card command failed" in caplog.text


async def test_a_command_before_sign_in_points_at_the_screen_on_the_daemon_only(tmp_path: Path) -> None:
    """The daemon pairs by itself: a command before sign-in says where the code is, where a one-shot
    command says how to pair."""
    from maestro import config
    from maestro.intents import Recognition
    from maestro.session import DAEMON_NOT_PAIRED, Session

    (tmp_path / "config.toml").write_text("")
    env = {"MAESTRO_CONFIG": str(tmp_path / "config.toml"), "MAESTRO_STATE_DIR": str(tmp_path)}
    pause = Recognition(text="pause", intent="Pause", score=1.0)
    async with Session.open(config.load(env), state_dir=tmp_path, lasting=True) as daemon:
        said_by_daemon = (await daemon.actions.run(pause)).speech
    async with Session.open(config.load(env), state_dir=tmp_path) as one_shot:
        said_once = (await one_shot.actions.run(pause)).speech
    assert said_by_daemon == DAEMON_NOT_PAIRED
    assert said_once != DAEMON_NOT_PAIRED and "maestro pair" in said_once
