"""`maestro run` as a whole: voice from a WAV, cards from a scripted reader, frames as PNG files.

One daemon process against the live sandbox, with Spotify failing at the
start and the card reader unplugged half-way: both are reported once and
recovered from, and every command still lands in the sandbox.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from maestro.voice.audio import RATE
from maestro.voice.synth import espeak_pcm, mix, rms, silence
from maestro.voice.tts import write_wav
from tests.live import LiveSandbox

ABBEY_ROAD = "spotify:album:p20IVD9KD4N2EBDzU5oRJd"


def voice_wav(path: Path, lead_s: float, *commands: str) -> Path:
    """Silence, then "hey maestro ... command" for each command, in a room with a little noise."""
    pcm = silence(lead_s)
    for command in commands:
        pcm += espeak_pcm("hey maestro", "en-us", 150) + silence(0.3) + espeak_pcm(command, "en-us", 150)
        pcm += silence(2.5)
    write_wav(path, mix(pcm, None, 20, rms(pcm)), RATE)
    return path


class Lines:
    """The daemon's stdout, line by line, read on a thread so the test can wait for a line."""

    def __init__(self, stream) -> None:
        self.all: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        for line in self.all:
            if text in line:
                return line
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            self.all.append(line)
            if text in line:
                return line
        raise AssertionError(f"no line with {text!r} in {timeout} s; got:\n" + "\n".join(self.all))


def playback(live: LiveSandbox) -> dict:
    return live.snapshot()["playback"] or {}


def volume(live: LiveSandbox, device: str) -> int:
    return next(d["volume_percent"] for d in live.snapshot()["devices"] if d["name"] == device)


@pytest.mark.slow
def test_daemon_runs_voice_cards_and_display_through_faults(live: LiveSandbox, tmp_path: Path) -> None:
    live.pair_into(tmp_path)
    (tmp_path / "tags.yaml").write_text('04D4E5F6: "volume 30"\n')
    (tmp_path / "cards.txt").write_text(
        "wait 6\n"
        f"tap 04A1B2C3 {ABBEY_ROAD}\n"  # a card with the album's link written on it
        "wait 1\nremove\nwait 0.5\n"
        f"tap 04A1B2C3 {ABBEY_ROAD}\n"  # back within the window: a second tap pauses
        "wait 0.5\nremove\n"
        "unplug 2\n"  # the reader goes away for two seconds
        "tap 04D4E5F6\nwait 0.5\nremove\n"  # a card known only by its UID in tags.yaml
    )
    wav = voice_wav(tmp_path / "voice.wav", 15.0, "resume the music", "set the volume to forty")
    frames = tmp_path / "frames"
    env = {
        **os.environ,
        **live.env(tmp_path),
        "MAESTRO_PLAYER_DEFAULT_DEVICE": "Living Room",
        "MAESTRO_PLAYER_POLL_S": "0.5",
        "MAESTRO_TTS_ENGINE": "wav",
        "MAESTRO_TTS_WAV_DIR": str(tmp_path / "speech"),
        "MAESTRO_DISPLAY_DRIVER": "png",
        "MAESTRO_DISPLAY_PNG_DIR": str(frames),
        "MAESTRO_NFC_READER": f"scripted:{tmp_path / 'cards.txt'}",
        "MAESTRO_VOICE_ENGINE": "pocketsphinx",
        "MAESTRO_VOICE_INPUT_DEVICE": f"wav:{wav}",
    }
    # Spotify answers 503 to the first requests: the daemon must say so once, then carry on.
    live.control("faults", {"status": 503, "count": 12, "path": "/v1/me/player"})
    process = subprocess.Popen([sys.executable, "-m", "maestro", "run"], env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        lines = Lines(process.stdout)
        lines.wait_for("Maestro is running: voice and NFC cards.")
        assert "Spotify" in lines.wait_for("Trouble: ")
        lines.wait_for("Spotify is back.")

        lines.wait_for("Maestro: Playing Abbey Road, by The Beatles.")
        assert playback(live)["context_uri"] == ABBEY_ROAD
        lines.wait_for("Maestro: Paused.")  # the second tap
        assert playback(live)["is_playing"] is False
        assert "unplugged" in lines.wait_for("Trouble: The ")
        lines.wait_for("The card reader is back.")
        lines.wait_for("Maestro: Volume 30.")
        assert volume(live, "Living Room") == 30

        lines.wait_for("-> Resume", timeout=40)  # "Heard: "resume the music" -> Resume"
        lines.wait_for("Maestro: Resuming.")
        lines.wait_for("-> SetVolume", timeout=30)
        lines.wait_for("Maestro: Volume 40.")
        time.sleep(0.6)
        state = playback(live)
        assert state["is_playing"] is True and volume(live, "Living Room") == 40

        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
        assert time.monotonic() - started < 2.0
    finally:
        process.kill()
        err = process.stderr.read() if process.stderr else ""
    assert process.returncode == 0, err
    assert sum("Trouble: " in line and "Spotify" in line for line in lines.all) == 1  # said once
    assert sum("unplugged" in line for line in lines.all) == 1

    kinds = [path.stem.split("-", 1)[1] for path in sorted(frames.glob("*.png"))]
    assert {"error", "now_playing", "listening", "volume"} <= set(kinds)
    speech = sorted((tmp_path / "speech").glob("*.wav"))
    assert any(path.name.endswith("-chime.wav") for path in speech)  # the earcon after each wake
    assert len([p for p in speech if not p.name.endswith("-chime.wav")]) >= 8  # every reply and trouble


@pytest.mark.slow
async def test_names_fetched_after_start_are_heard_without_a_restart(
    live: LiveSandbox, tmp_path: Path
) -> None:
    """First start: no library yet, so the voice model knows no names; once the library
    arrives the model is rebuilt in the background and "play abbey road" is an album."""
    import asyncio

    from maestro import config
    from maestro.box.runtime import Runtime
    from maestro.box.wiring import default_voice
    from maestro.display.devices import NullDisplay
    from maestro.session import Session
    from maestro.voice.tts import SilentSpeaker

    live.pair_into(tmp_path)
    wav = voice_wav(tmp_path / "voice.wav", 6.0, "play abbey road")
    env = {**live.env(tmp_path), "MAESTRO_PLAYER_DEFAULT_DEVICE": "Living Room",
           "MAESTRO_VOICE_ENGINE": "pocketsphinx", "MAESTRO_VOICE_INPUT_DEVICE": f"wav:{wav}"}  # fmt: skip
    assert not (tmp_path / "library.json").exists()
    async with Session.open(config.load(env), state_dir=tmp_path) as session:
        runtime = Runtime(session, SilentSpeaker(), NullDisplay(), voice=default_voice, poll_s=0.5,
                          print_line=lambda line: None)  # fmt: skip
        stop = asyncio.Event()
        running = asyncio.create_task(runtime.run(stop))
        deadline = time.monotonic() + 30
        while not any(source == "voice" for source, _ in runtime.replies) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        stop.set()
        await asyncio.wait_for(running, 5)
    assert [(source, reply.intent) for source, reply in runtime.replies] == [("voice", "PlayAlbum")], (
        runtime.heard
    )
    assert runtime.replies[0][1].speech == "Playing Abbey Road."
    # Heard by the rebuilt command model itself, not rescued by the (slower) open-vocabulary pass.
    assert [(h.transcript, h.open_vocabulary) for h in runtime.heard] == [("play abbey road", False)]
    assert playback(live)["album_name"] == "Abbey Road"
