"""Audio in: WAV files of any rate, channels and depth become 16 kHz mono int16; mic errors are clear."""

from __future__ import annotations

import sys
import threading
import time
import typing
import wave
from pathlib import Path

import numpy as np
import pytest

from maestro.errors import UsageError
from maestro.voice.audio import CHUNK_SAMPLES, RATE, MicSource, WavSource, find_input_device, read_wav


def write_wav(
    path: Path, rate: int, channels: int, width: int, seconds: float = 1.0, freq: float = 440.0
) -> Path:
    t = np.arange(int(rate * seconds)) / rate
    tone = 0.5 * np.sin(2 * np.pi * freq * t)
    full_scale = {1: 127, 2: 32767, 3: 8388607, 4: 2147483647}[width]
    ints = np.rint(tone * full_scale).astype(np.int64)
    frames = np.repeat(ints[:, None], channels, axis=1).reshape(-1)
    if width == 1:
        raw = (frames + 128).astype(np.uint8).tobytes()
    elif width == 3:
        raw = b"".join(int(v).to_bytes(3, "little", signed=True) for v in frames)
    else:
        raw = frames.astype({2: "<i2", 4: "<i4"}[width]).tobytes()
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(raw)
    return path


def dominant_hz(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float32)
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.argmax(spectrum) * RATE / len(samples))


@pytest.mark.parametrize(
    ("rate", "channels", "width"),
    [(16000, 1, 2), (44100, 2, 2), (48000, 2, 2), (48000, 1, 3), (22050, 1, 4), (8000, 1, 1)],
)
def test_any_wav_becomes_16k_mono_int16(tmp_path: Path, rate: int, channels: int, width: int) -> None:
    pcm = read_wav(write_wav(tmp_path / "in.wav", rate, channels, width))
    assert abs(len(pcm) / 2 - RATE) <= 2  # one second stays one second
    assert abs(dominant_hz(pcm) - 440) < 3  # the same pitch
    peak = np.abs(np.frombuffer(pcm, dtype=np.int16)).max()
    assert 14000 < peak < 18500  # half of full scale, whatever the depth


async def test_wav_source_yields_fixed_chunks(tmp_path: Path) -> None:
    source = WavSource(write_wav(tmp_path / "in.wav", 48000, 2, 2, seconds=0.5))
    sizes = [len(chunk) async for chunk in source]
    assert all(size == CHUNK_SAMPLES * 2 for size in sizes[:-1]) and sum(sizes) == len(source.pcm)
    assert abs(source.seconds - 0.5) < 0.01


def test_bad_files_are_clear(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        read_wav(tmp_path / "missing.wav")
    (tmp_path / "bad.wav").write_bytes(b"not a wav at all")
    with pytest.raises(UsageError, match=r"bad.wav: a text file, not a sound file"):
        read_wav(tmp_path / "bad.wav")
    (tmp_path / "binary.wav").write_bytes(b"\x00\x01\xfe\xff" * 100)  # bytes, but no known format
    with pytest.raises(
        UsageError, match=r"binary.wav: not a sound file Maestro can read \(Format not recognised\)"
    ):
        read_wav(tmp_path / "binary.wav")
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(UsageError, match=r"empty.wav: an empty file"):
        read_wav(tmp_path / "empty.wav")
    with pytest.raises(UsageError, match="a directory"):
        read_wav(tmp_path)


def test_float_wav_is_read(tmp_path: Path) -> None:
    """32-bit IEEE float (WAV format 3), as many recorders write: half scale in, half scale out."""
    import soundfile

    t = np.arange(8000) / 8000
    soundfile.write(tmp_path / "float.wav", 0.5 * np.sin(2 * np.pi * 440 * t), 8000, subtype="FLOAT")
    pcm = np.frombuffer(read_wav(tmp_path / "float.wav"), dtype=np.int16)
    assert len(pcm) == 16000 and 15500 < np.abs(pcm).max() < 17000


def test_missing_microphone_lists_what_there_is() -> None:
    with pytest.raises(UsageError) as info:
        find_input_device("Definitely Not A Real Microphone")
    assert "No microphone matches" in str(info.value) and "Inputs:" in str(info.value)
    assert find_input_device("") is None  # the default device


class FakeSoundDevice:
    """sounddevice's surface that MicSource uses: devices come and go, streams deliver then stop."""

    class PortAudioError(Exception):
        pass

    MIC: typing.ClassVar[dict] = {"name": "USB mic", "max_input_channels": 1, "default_samplerate": 48000.0}

    def __init__(self, plan: list[int]) -> None:
        self.plan = plan  # per attempt: -1 no microphone at all; N: N chunks, then unplugged
        self.opened = 0

    def query_devices(self, index: int | None = None, kind: str | None = None) -> object:
        if kind == "input":
            return self.MIC
        if self.plan and self.plan[0] < 0:
            self.plan.pop(0)
            return []
        return [self.MIC]

    def RawInputStream(self, *, blocksize: int, callback, **settings: object) -> object:
        chunks_to_send = self.plan.pop(0)
        last = not self.plan
        self.opened += 1

        class Stream:
            active = False

            def start(self) -> None:
                self.active = True

                def run() -> None:
                    for _ in range(chunks_to_send):
                        callback(bytes(blocksize * 2), blocksize, None, None)
                        time.sleep(0.01)
                    if not last:
                        self.active = False  # unplugged (the last stream stays up)

                threading.Thread(target=run, daemon=True).start()

            def close(self) -> None:
                self.active = False

        return Stream()


async def test_microphone_loss_is_said_once_and_it_comes_back(monkeypatch) -> None:
    fake = FakeSoundDevice([-1, -1, 3, 2])
    monkeypatch.setitem(sys.modules, "sounddevice", fake)
    said: list[str] = []

    async def trouble(message: str) -> None:
        said.append(message)

    async def back() -> None:
        said.append("back")

    mic = MicSource(retry_s=(0.01, 0.02), on_trouble=trouble, on_back=back)
    received = []
    async for chunk in mic:
        received.append(chunk)
        if len(received) == 5:
            break
    assert all(len(chunk) == CHUNK_SAMPLES * 2 for chunk in received)  # 48 kHz in, 16 kHz chunks out
    # Missing twice, said once; back; unplugged; back again.
    assert said[0].startswith("No microphone found") and said[1:] == [
        "back",
        "The microphone stopped.",
        "back",
    ]
    assert fake.opened == 2


async def test_a_speaker_remembers_only_its_newest_words() -> None:
    from maestro.voice.tts import HISTORY, SilentSpeaker

    speaker = SilentSpeaker()
    for n in range(HISTORY + 5):
        await speaker.say(f"reply {n}")
    assert len(speaker.history) == HISTORY and speaker.history[-1] == f"reply {HISTORY + 4}"
    assert speaker.history[0] == "reply 5"  # a daemon that runs for months keeps a bounded history
