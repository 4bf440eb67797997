"""Ducking against the live sandbox: the music goes quiet on the wake phrase and always comes back
(after the reply, a timeout, a failed restore, a stop, a kill)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from maestro import config
from maestro.box.runtime import Runtime
from maestro.display.devices import NullDisplay
from maestro.ducking import DUCK_FILE, Ducker
from maestro.intents import Matcher, load_spec
from maestro.session import Session
from maestro.voice.asr import PocketSphinxEngine
from maestro.voice.audio import RATE, chunks
from maestro.voice.listener import Listener
from maestro.voice.synth import espeak_pcm, mix, rms, silence
from maestro.voice.tts import SilentSpeaker, write_wav
from tests.intents.helpers import catalog_library
from tests.live import LiveSandbox

LIVING_ROOM = "c7b60f3edf3318e80575d5e28c1ce24aa99a9025"
DEN_TV = "9a1f2c7e4b0d4e58b6b3f0e1d2c3a4b5c6d7e8f9"
ABBEY_ROAD = "spotify:album:p20IVD9KD4N2EBDzU5oRJd"


def volume(live: LiveSandbox, device_id: str = LIVING_ROOM) -> int | None:
    return next(d["volume_percent"] for d in live.snapshot()["devices"] if d["id"] == device_id)


async def playing(session: Session, device_id: str = LIVING_ROOM, percent: int = 60) -> None:
    await session.player.play(context_uri=ABBEY_ROAD, device_id=device_id)
    if device_id == LIVING_ROOM:
        await session.player.volume(percent, device_id)


class Listening(SilentSpeaker):
    """Says nothing; notes the speaker's volume each time a reply is spoken."""

    def __init__(self, live: LiveSandbox) -> None:
        super().__init__()
        self.live = live
        self.volumes: list[int | None] = []

    async def say(self, text: str) -> None:
        self.volumes.append(volume(self.live))


def command_audio(*commands: str) -> bytes:
    pcm = silence(0.8)
    for command in commands:
        pcm += espeak_pcm("hey maestro", "en-us", 150) + silence(0.3) + espeak_pcm(command, "en-us", 150)
        pcm += silence(1.5)
    return mix(pcm, None, 20, rms(pcm))


async def paced(pcm: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks(pcm):
        yield chunk
        await asyncio.sleep(0.002)  # the network calls in the background get their turn, as live


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> PocketSphinxEngine:
    return PocketSphinxEngine(load_spec(), catalog_library(), tmp_path_factory.mktemp("speech"))


async def hear_commands(
    live: LiveSandbox, tmp_path: Path, engine: PocketSphinxEngine, *commands: str
) -> tuple[Runtime, Listening]:
    live.pair_into(tmp_path)
    async with Session.open(config.load(live.env(tmp_path)), state_dir=tmp_path) as session:
        await playing(session)
        speaker = Listening(live)
        runtime = Runtime(session, speaker, NullDisplay(), print_line=lambda line: None)
        listener = Listener(engine, Matcher(load_spec(), catalog_library()), wake=True)
        await runtime.voice.listen(paced(command_audio(*commands)), listener)
        await runtime.settle()
    return runtime, speaker


@pytest.mark.slow
async def test_the_music_is_ducked_while_listening_and_back_after_the_reply(
    live: LiveSandbox, tmp_path: Path, engine: PocketSphinxEngine
) -> None:
    runtime, speaker = await hear_commands(live, tmp_path, engine, "what is playing")
    assert [reply.intent for _, reply in runtime.replies] == ["NowPlaying"]
    assert speaker.volumes == [18]  # the reply was said over music at 30% of 60
    assert volume(live) == 60
    assert not (tmp_path / DUCK_FILE).exists()


@pytest.mark.slow
async def test_a_volume_command_while_ducked_is_the_users_volume(
    live: LiveSandbox, tmp_path: Path, engine: PocketSphinxEngine
) -> None:
    runtime, _ = await hear_commands(live, tmp_path, engine, "volume forty")
    assert [reply.intent for _, reply in runtime.replies] == ["SetVolume"]
    assert volume(live) == 40  # neither the duck (18) nor the old volume (60)


async def test_louder_while_ducked_is_louder_than_the_music_was(
    live: LiveSandbox, tmp_path: Path, engine: PocketSphinxEngine
) -> None:
    runtime, _ = await hear_commands(live, tmp_path, engine, "volume up")
    assert [reply.intent for _, reply in runtime.replies] == ["VolumeUp"]
    assert volume(live) == 70


@pytest.fixture
async def ducking(live: LiveSandbox, tmp_path: Path) -> AsyncIterator[tuple[Session, Ducker]]:
    """A signed-in session on the live sandbox and a Ducker at 30% over it."""
    live.pair_into(tmp_path)
    async with Session.open(config.load(live.env(tmp_path)), state_dir=tmp_path) as session:
        yield session, Ducker(session.player, tmp_path, 30)


@pytest.mark.slow
async def test_a_503_on_restore_is_retried_and_a_lasting_one_kept_for_later(
    live: LiveSandbox, tmp_path: Path, ducking: tuple[Session, Ducker]
) -> None:
    session, ducker = ducking
    await playing(session)
    ducker.duck()
    assert await ducker.restore() is True  # (restore waits for the duck in flight first)
    ducker.duck()
    await asyncio.sleep(0)
    await ducker._ducking  # type: ignore[misc]
    assert volume(live) == 18 and json.loads((tmp_path / DUCK_FILE).read_text())["volume"] == 60
    live.control("faults", {"status": 503, "count": 1, "path": "/v1/me/player/volume"})
    assert await ducker.restore() is True
    assert volume(live) == 60

    ducker.duck()
    await ducker._ducking  # type: ignore[misc]
    live.control("faults", {"status": 503, "count": 50, "path": "/v1/me/player"})
    assert await ducker.restore() is False  # Spotify is down: the promise stays on disk
    assert (tmp_path / DUCK_FILE).exists() and volume(live) == 18
    live.state.faults.clear()
    assert await ducker.restore() is True
    assert volume(live) == 60


async def test_a_volume_set_in_the_app_meanwhile_stands(
    live: LiveSandbox, tmp_path: Path, ducking: tuple[Session, Ducker]
) -> None:
    session, ducker = ducking
    await playing(session)
    ducker.duck()
    await ducker._ducking  # type: ignore[misc]
    await session.player.volume(45, LIVING_ROOM)  # someone in the Spotify app
    assert await ducker.restore() is True
    assert volume(live) == 45


async def test_a_fixed_volume_speaker_and_silence_are_left_alone(
    live: LiveSandbox, tmp_path: Path, ducking: tuple[Session, Ducker]
) -> None:
    session, ducker = ducking
    await playing(session, DEN_TV)
    ducker.duck()
    assert await ducker.restore() is True
    assert not (tmp_path / DUCK_FILE).exists()
    off = Ducker(session.player, tmp_path, 0)  # voice.duck_volume = 0: no ducking
    await playing(session)
    off.duck()
    assert await off.restore() is True and volume(live) == 60
    await session.player.pause()
    ducker.duck()  # nothing playing: nothing to lower
    assert await ducker.restore() is True and volume(live) == 60


def test_a_damaged_duck_file_is_dropped(tmp_path: Path) -> None:
    (tmp_path / DUCK_FILE).write_text("{not json")
    ducker = Ducker(None, tmp_path, 30)  # type: ignore[arg-type]
    assert ducker.ducked is None and not (tmp_path / DUCK_FILE).exists()


# -- the daemon: stopped or killed while ducked ---------------------------------------------------


def start_daemon(live: LiveSandbox, tmp_path: Path, wav: Path | None) -> subprocess.Popen[str]:
    env = {**os.environ, **live.env(tmp_path), "MAESTRO_VOICE_ENGINE": "pocketsphinx",
           "MAESTRO_PLAYER_POLL_S": "0.5"}  # fmt: skip
    if wav is None:
        env["MAESTRO_VOICE_ENABLED"] = "false"
    else:
        env["MAESTRO_VOICE_INPUT_DEVICE"] = f"wav:{wav}"
    return subprocess.Popen(
        [sys.executable, "-m", "maestro", "run"], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def wait_until(check, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow
@pytest.mark.parametrize("how", ["kill", "term"])
async def test_stopped_or_killed_while_ducked_the_music_comes_back(
    live: LiveSandbox, tmp_path: Path, how: str
) -> None:
    live.pair_into(tmp_path)
    async with Session.open(config.load(live.env(tmp_path)), state_dir=tmp_path) as session:
        await playing(session)
    # "hey maestro", then nobody speaks: Maestro listens (ducked) for 5 s before it gives up.
    pcm = silence(1.5) + espeak_pcm("hey maestro", "en-us", 150) + silence(20.0)
    wav = tmp_path / "wake.wav"
    write_wav(wav, mix(pcm, None, 20, rms(pcm)), RATE)
    daemon = start_daemon(live, tmp_path, wav)
    try:
        ducked = wait_until(lambda: volume(live) == 18)
        daemon.send_signal(signal.SIGKILL if how == "kill" else signal.SIGTERM)
        output, _ = daemon.communicate(timeout=10)
        assert ducked, output
    finally:
        daemon.kill()
    if how == "term":
        assert volume(live) == 60 and not (tmp_path / DUCK_FILE).exists()
        return
    assert volume(live) == 18 and (tmp_path / DUCK_FILE).exists()  # killed: nothing could run
    again = start_daemon(live, tmp_path, None)
    try:
        assert wait_until(lambda: volume(live) == 60), "the next start did not restore the music"
        assert wait_until(lambda: not (tmp_path / DUCK_FILE).exists(), 5)
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(10)
