"""Speech out: replies spoken by pyttsx3 (espeak-ng) from one worker thread.

Every :class:`Speaker` queues what it is asked to say, so replies never
overlap; ``say`` returns once the words have been spoken (or written).
``speaking`` is set while audio plays, so the wake word can ignore Maestro's
own voice.

- :class:`Pyttsx3Speaker`: the loudspeaker.
- :class:`WavSpeaker`: the same voice written to numbered WAV files (tests, the
  demo's ``--no-audio``), or to one named file.
- :class:`SilentSpeaker`: says nothing (``tts.engine = "none"``).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import logging
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from maestro.config import TtsSettings
from maestro.errors import MaestroError

log = logging.getLogger(__name__)
T = TypeVar("T")


#: What ``history`` records for the earcon (the short tone that says "I'm listening").
CHIME = "<chime>"
#: What a speaker remembers saying (tests and `status` read the newest): a daemon runs for months.
HISTORY = 100


def remember(history: list[T], item: T) -> None:
    """``item`` at the end of ``history``, the oldest dropped past ``HISTORY``."""
    history.append(item)
    del history[:-HISTORY]


def chime_pcm(rate: int = 22_050) -> bytes:
    """Two short rising tones (E5, A5), 180 ms in all, faded in and out so they do not click."""
    parts = []
    for freq in (659.25, 880.0):
        t = np.arange(int(rate * 0.09)) / rate
        fade = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01)
        parts.append(0.3 * np.sin(2 * np.pi * freq * t) * fade)
    return (np.concatenate(parts) * 32767).astype("<i2").tobytes()


def write_wav(path: Path, pcm: bytes, rate: int = 22_050) -> None:
    with wave.open(os.fspath(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(pcm)


class Speaker(Protocol):
    speaking: threading.Event

    async def say(self, text: str) -> None: ...

    async def chime(self) -> None:
        """The earcon after the wake phrase; queued like speech, so it never overlaps a reply."""

    async def aclose(self) -> None: ...


class SilentSpeaker:
    def __init__(self) -> None:
        self.speaking = threading.Event()
        self.history: list[str] = []

    async def say(self, text: str) -> None:
        remember(self.history, text)

    async def chime(self) -> None:
        remember(self.history, CHIME)

    async def aclose(self) -> None:
        return None


def _engine(voice: str, rate: int) -> Any:
    try:
        import pyttsx3
    except ImportError as exc:
        raise MaestroError("Speech needs pyttsx3: pip install pyttsx3 (and apt install espeak-ng).") from exc
    try:
        with _quiet_stdout():
            engine = pyttsx3.init()
    except (RuntimeError, OSError) as exc:
        raise MaestroError(f"The speech engine would not start ({exc}). Is espeak-ng installed?") from exc
    if rate:
        engine.setProperty("rate", rate)
    if voice:
        engine.setProperty("voice", voice)
    return engine


@contextlib.contextmanager
def _quiet_stdout() -> Any:
    """pyttsx3's espeak driver prints "Audio saved to ..." on stdout: keep CLI output clean."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


#: pyttsx3 2.99's espeak driver silently drops utterances longer than about six
#: seconds (measured here): speak in short pieces, which also paces the code.
MAX_WORDS = 10


def chunks(text: str) -> list[str]:
    """Sentences (or comma pieces, or runs of ``MAX_WORDS`` words) short enough to synthesise."""
    pieces: list[str] = []
    for sentence in re.split(r"(?<=[.!?:;])\s+", text.strip()):
        parts = [sentence] if len(sentence.split()) <= MAX_WORDS else re.split(r"(?<=,)\s+", sentence)
        for part in parts:
            words = part.split()
            pieces += [" ".join(words[i : i + MAX_WORDS]) for i in range(0, len(words), MAX_WORDS)]
    return [p for p in pieces if p]


class _ThreadedSpeaker:
    """One worker thread owns the pyttsx3 engine (it is not thread-safe); a queue feeds it."""

    def __init__(self, voice: str = "", rate: int = 160) -> None:
        self.voice, self.rate = voice, rate
        self.speaking = threading.Event()
        self.history: list[str] = []
        self._jobs: queue.Queue[tuple[str, Callable[[], None]] | None] = queue.Queue()
        self._ready = threading.Event()
        self._error: Exception | None = None
        self._thread = threading.Thread(target=self._work, name="maestro-tts", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=15)
        if self._error:
            raise self._error

    def _work(self) -> None:
        try:
            engine = _engine(self.voice, self.rate)
        except MaestroError as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        while (job := self._jobs.get()) is not None:
            text, done = job
            try:
                self.speaking.set()
                with _quiet_stdout():
                    if text == CHIME:
                        self._chime()
                    else:
                        self._render(engine, text)
            except Exception as exc:  # a TTS hiccup must not kill the voice
                log.warning("speech failed: %s", exc)
            finally:
                self.speaking.clear()
                done()

    def _render(self, engine: Any, text: str) -> None:
        raise NotImplementedError

    def _chime(self) -> None:
        raise NotImplementedError

    async def chime(self) -> None:
        await self._queue(CHIME)

    async def say(self, text: str) -> None:
        if not text.strip():
            return
        await self._queue(text)

    async def _queue(self, text: str) -> None:
        remember(self.history, text)
        loop = asyncio.get_running_loop()
        finished = loop.create_future()

        def done() -> None:
            loop.call_soon_threadsafe(lambda: finished.done() or finished.set_result(None))

        self._jobs.put((text, done))
        await finished

    async def aclose(self) -> None:
        self._jobs.put(None)
        await asyncio.to_thread(self._thread.join, 10)


class Pyttsx3Speaker(_ThreadedSpeaker):
    _chime_file: Path | None = None

    def _render(self, engine: Any, text: str) -> None:
        for piece in chunks(text):
            engine.say(piece)
            engine.runAndWait()

    def _chime(self) -> None:
        # Played with aplay, the ALSA player pyttsx3's espeak driver already relies on.
        if self._chime_file is None:
            self._chime_file = Path(tempfile.mkstemp(prefix="maestro-chime-", suffix=".wav")[1])
            write_wav(self._chime_file, chime_pcm())
        subprocess.run(["aplay", "-q", os.fspath(self._chime_file)], check=False, timeout=5)


class WavSpeaker(_ThreadedSpeaker):
    """Writes each utterance to ``directory/0001.wav``, ``0002.wav``, ... (or ``to_file``)."""

    def __init__(self, directory: Path, voice: str = "", rate: int = 160, *, to_file: Path | None = None):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.to_file = to_file
        self.files: list[Path] = []
        self._numbers = itertools.count(1)
        super().__init__(voice, rate)

    def _render(self, engine: Any, text: str) -> None:
        path = self.to_file or self.directory / f"{next(self._numbers):04d}.wav"
        with tempfile.TemporaryDirectory(dir=self.directory) as scratch:
            parts = []
            for n, piece in enumerate(chunks(text)):
                part = Path(scratch) / f"{n}.wav"
                for _ in range(3):  # the espeak driver now and then returns without writing (or
                    # with a header and no sound: a pairing code read back as nothing, in a test)
                    engine.save_to_file(piece, os.fspath(part))
                    engine.runAndWait()
                    if _has_sound(part):
                        parts.append(part)
                        break
                else:
                    log.warning("speech synthesis dropped %r", piece)
            _join_wavs(parts, path)
        remember(self.files, path)

    def _chime(self) -> None:
        path = self.directory / f"{next(self._numbers):04d}-chime.wav"
        write_wav(path, chime_pcm())
        remember(self.files, path)


def _has_sound(path: Path) -> bool:
    """A WAV file that is there, readable, and holds at least one frame."""
    try:
        with wave.open(os.fspath(path), "rb") as reader:
            return reader.getnframes() > 0
    except (OSError, EOFError, wave.Error):
        return False


def _join_wavs(parts: list[Path], target: Path) -> None:
    """One WAV from several of the same format (espeak-ng: 22,050 Hz mono 16-bit)."""
    params = None
    frames = []
    for part in parts:
        with wave.open(os.fspath(part), "rb") as reader:
            params = params or reader.getparams()
            frames.append(reader.readframes(reader.getnframes()))
    with wave.open(os.fspath(target), "wb") as writer:
        if params is None:
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(22050)
        else:
            writer.setparams(params)
        for chunk in frames:
            writer.writeframes(chunk)


def has_sound_card() -> bool:
    """Whether ALSA lists a sound card (no: a container, a VM, a Pi without a DAC)."""
    if not sys.platform.startswith("linux"):
        return True  # let the speech engine find out
    try:
        cards = Path("/proc/asound/cards").read_text()
    except OSError:
        return False  # no ALSA at all
    return "no soundcards" not in cards and bool(cards.strip())


def make_speaker(engine: str, *, voice: str = "", rate: int = 160, wav_dir: str = "") -> Speaker:
    """The speaker ``[tts]`` in config asks for."""
    if engine == "none":
        return SilentSpeaker()
    if engine == "wav":
        return WavSpeaker(Path(wav_dir or "maestro-speech"), voice, rate)
    return Pyttsx3Speaker(voice, rate)


NO_SOUND_CARD = (
    'No sound card here, so nothing is spoken (shown only). Plug in a speaker, or set [tts] engine = "none".'
)


def speaker_for(tts: TtsSettings, print_line: Callable[[str], None] = print) -> Speaker:
    """The configured speaker, or a silent one when it cannot be heard, said once in one line.

    Without a sound card every reply would otherwise end in a screenful of ``ALSA lib ...``
    and ``aplay: audio open error`` lines, burying what matters (the pairing code).
    """
    if tts.engine == "pyttsx3" and not has_sound_card():
        print_line(NO_SOUND_CARD)
        return SilentSpeaker()
    try:
        return make_speaker(tts.engine, voice=tts.voice, rate=tts.rate, wav_dir=tts.wav_dir)
    except MaestroError as exc:
        print_line(f"Nothing will be spoken: {exc}")
        return SilentSpeaker()
