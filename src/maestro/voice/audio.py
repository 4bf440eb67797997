"""Audio in: 16 kHz mono 16-bit chunks, from a WAV file or the microphone.

Every source yields the same thing, whatever it reads: ``bytes`` of int16
samples at 16 kHz, mono, in chunks of ``CHUNK_SAMPLES``. Sound files of any rate,
channel count and sample format (read by soundfile) are converted (soxr); the microphone is
read with sounddevice at its native rate and converted the same way.
sounddevice (and PortAudio) are imported only when a microphone is opened, so
commands that need none work where PortAudio is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import soxr

from maestro.errors import MaestroError, UsageError

log = logging.getLogger(__name__)
RATE = 16_000
CHUNK_SAMPLES = 1024  # 64 ms: what the wake-word search is fed


def to_pcm16k(samples: np.ndarray, rate: int) -> bytes:
    """float or int samples, shape (n,) or (n, channels), at ``rate`` -> 16 kHz mono int16 bytes."""
    audio = samples.astype(np.float32)
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    if rate != RATE:
        audio = soxr.resample(audio, rate, RATE)
    return np.clip(np.rint(audio), -32768, 32767).astype(np.int16).tobytes()


def read_wav(path: Path) -> bytes:
    """A whole sound file as 16 kHz mono int16 bytes: WAV of any rate, channels and sample format
    (8-32-bit integer, 32/64-bit float), and whatever else libsndfile reads (FLAC, Ogg)."""
    import soundfile

    if not Path(path).exists():
        raise UsageError(f"{path}: no such file")
    if Path(path).is_dir():
        raise UsageError(f"{path}: a directory, not a sound file")
    _looks_like_sound(Path(path))
    try:
        samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.SoundFileError, RuntimeError, OSError) as exc:
        detail = str(exc).rpartition(": ")[2].rstrip(".") or type(exc).__name__
        raise UsageError(f"{path}: not a sound file Maestro can read ({detail})") from exc
    return to_pcm16k(samples * 32768.0, rate)


def _looks_like_sound(path: Path) -> None:
    """Text under a sound file's name ("notes.mp3") is said plainly; libsndfile would print its
    decoders' complaints on stderr and then blame a pipe."""
    try:
        with open(path, "rb") as file:
            head = file.read(512)
    except OSError as exc:
        raise UsageError(f"{path}: cannot be read ({exc.strerror})") from exc
    if not head:
        raise UsageError(f"{path}: an empty file, not a sound file")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return  # binary: let libsndfile judge it
    if b"\x00" not in head:
        raise UsageError(f"{path}: a text file, not a sound file (WAV, FLAC or Ogg)")


def chunks(pcm: bytes, samples: int = CHUNK_SAMPLES) -> Iterator[bytes]:
    step = samples * 2
    for start in range(0, len(pcm), step):
        yield pcm[start : start + step]


class WavSource:
    """A WAV file as a stream of chunks (as fast as it is read, or in real time)."""

    def __init__(self, path: Path, *, realtime: bool = False) -> None:
        self.pcm = read_wav(Path(path))
        self.realtime = realtime

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / RATE

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in chunks(self.pcm):
            yield chunk
            await asyncio.sleep(len(chunk) / 2 / RATE if self.realtime else 0)

    async def aclose(self) -> None:
        return None


def _sounddevice() -> Any:
    try:
        import sounddevice
    except (ImportError, OSError) as exc:
        raise MaestroError(
            "The microphone needs PortAudio and sounddevice: apt-get install libportaudio2, "
            "pip install sounddevice."
        ) from exc
    return sounddevice


def find_input_device(wanted: str) -> int | None:
    """The input device for ``voice.input_device`` (an index or part of a name); None = default."""
    if not wanted:
        return None
    sd = _sounddevice()
    inputs = [(i, d) for i, d in enumerate(sd.query_devices()) if d["max_input_channels"] > 0]
    if wanted.isdigit() and any(i == int(wanted) for i, _ in inputs):
        return int(wanted)
    for index, device in inputs:
        if wanted.lower() in device["name"].lower():
            return index
    names = "; ".join(f"{i}: {d['name']}" for i, d in inputs) or "none"
    raise UsageError(f"No microphone matches voice.input_device = {wanted!r}. Inputs: {names}.")


def microphone_problem(device: str = "") -> str | None:
    """Why the microphone ``voice.input_device`` names cannot be opened now; None when it can."""
    try:
        sd = _sounddevice()
        if not any(d["max_input_channels"] > 0 for d in sd.query_devices()):
            return (
                "No microphone found: plug one in (a USB microphone or a sound HAT); "
                "`arecord -l` lists what the system sees."
            )
        sd.query_devices(find_input_device(device), "input")
    except MaestroError as exc:  # no PortAudio, or the configured device is not there
        return str(exc)
    except Exception as exc:  # PortAudioError: no default input, busy
        return f"The microphone is not available ({exc})."
    return None


STALL_S = 2.0  # no audio for this long from an open stream: the device is gone


class MicSource:
    """The microphone: native rate in, 16 kHz mono chunks out; reopened with backoff if it disappears.

    ``on_trouble(message)`` is called once when the microphone is missing or
    lost (not at every retry), ``on_back()`` when it works again.
    """

    def __init__(
        self,
        device: str = "",
        *,
        retry_s: tuple[float, float] = (2.0, 30.0),
        on_trouble: Callable[[str], Awaitable[None]] | None = None,
        on_back: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.device = device
        self.retry_s = retry_s
        self.on_trouble = on_trouble
        self.on_back = on_back
        self.trouble: str | None = None
        self._stream: Any = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        delay = self.retry_s[0]
        while True:
            queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=64)
            try:
                problem = microphone_problem(self.device)
                if problem is not None:
                    raise MaestroError(problem)
                sd = _sounddevice()
                index = find_input_device(self.device)
                info = sd.query_devices(index, "input")
                rate = int(info["default_samplerate"])
                self._stream = sd.RawInputStream(
                    samplerate=rate, channels=1, dtype="int16", device=index,
                    blocksize=int(rate * CHUNK_SAMPLES / RATE), callback=_callback(loop, queue, rate),
                )  # fmt: skip
                self._stream.start()
                if self.trouble is not None:
                    self.trouble = None
                    if self.on_back is not None:
                        await self.on_back()
                delay = self.retry_s[0]
                quiet_s = 0.0
                while True:
                    try:  # an unplugged device just stops calling back: notice by the silence
                        chunk = await asyncio.wait_for(queue.get(), 0.5)
                    except TimeoutError:
                        quiet_s += 0.5
                        if not self._stream.active or quiet_s >= STALL_S:
                            break
                        continue
                    quiet_s = 0.0
                    yield chunk
                problem = "The microphone stopped."
            except MaestroError as exc:  # no PortAudio, or the configured device is not there
                problem = str(exc)
            except Exception as exc:  # PortAudioError: unplugged, busy, no default input
                problem = f"The microphone is not available ({exc})."
            finally:
                await self.aclose()
            if problem != self.trouble:
                self.trouble = problem
                if self.on_trouble is not None:
                    await self.on_trouble(problem)  # said where the user is; the log needs no copy
                else:
                    log.warning("%s Retrying.", problem)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.retry_s[1])

    async def aclose(self) -> None:
        if self._stream is not None:
            with contextlib.suppress(Exception):
                self._stream.close()
            self._stream = None


def _callback(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes], rate: int) -> Any:
    """PortAudio's callback (its own thread): convert, then hand over to the loop."""

    def callback(data: bytes, frames: int, time_info: Any, status: Any) -> None:
        pcm = to_pcm16k(np.frombuffer(bytes(data), dtype=np.int16), rate)
        loop.call_soon_threadsafe(_offer, queue, pcm)

    return callback


def _offer(queue: asyncio.Queue[bytes], pcm: bytes) -> None:
    with contextlib.suppress(asyncio.QueueFull):  # a slow consumer drops audio, never blocks the callback
        queue.put_nowait(pcm)


def wav_input(device: str) -> Path | None:
    """``voice.input_device = "wav:FILE"`` names a file to play instead of a microphone; else None."""
    return Path(device.removeprefix("wav:")).expanduser() if device.startswith("wav:") else None


def input_source(
    device: str,
    *,
    realtime: bool,
    on_trouble: Callable[[str], Awaitable[None]] | None = None,
    on_back: Callable[[], Awaitable[None]] | None = None,
) -> WavSource | MicSource:
    """The audio ``voice.input_device`` asks for: the microphone, or a WAV file (tests, debugging)."""
    wav = wav_input(device)
    if wav is not None:
        return WavSource(wav, realtime=realtime)
    return MicSource(device, on_trouble=on_trouble, on_back=on_back)
