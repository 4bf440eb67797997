"""Audio in: WAV files of any rate, channels and depth become 16 kHz mono int16; mic errors are clear."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from maestro.errors import UsageError
from maestro.voice.audio import CHUNK_SAMPLES, RATE, WavSource, find_input_device, read_wav


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
    with pytest.raises(UsageError, match="not a PCM WAV"):
        read_wav(tmp_path / "bad.wav")


def test_missing_microphone_lists_what_there_is() -> None:
    with pytest.raises(UsageError) as info:
        find_input_device("Definitely Not A Real Microphone")
    assert "No microphone matches" in str(info.value) and "Inputs:" in str(info.value)
    assert find_input_device("") is None  # the default device
