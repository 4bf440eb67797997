"""Speech made on the box, for the box to hear: the demo's commands, tests and the voice bench.

espeak-ng is called directly (not through pyttsx3) because the bench needs its
voices and speaking rates, and ``--stdout`` gives a WAV without temporary files.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import wave

import numpy as np

from maestro.errors import MaestroError
from maestro.voice.audio import RATE, to_pcm16k


def espeak_pcm(text: str, voice: str = "en-us", rate: int = 160) -> bytes:
    """``text`` spoken by espeak-ng, as 16 kHz mono int16."""
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise MaestroError("espeak-ng is not installed: apt-get install espeak-ng")
    wav = subprocess.run(
        [binary, "-v", voice, "-s", str(rate), "--stdout", text], capture_output=True, check=True, timeout=60
    ).stdout
    with wave.open(io.BytesIO(wav)) as reader:
        rate_in = reader.getframerate()
        samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
    return to_pcm16k(samples, rate_in)


def silence(seconds: float) -> bytes:
    return bytes(int(seconds * RATE) * 2)


def rms(pcm: bytes) -> float:
    audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    voiced = audio[audio != 0]
    return float(np.sqrt(np.mean(voiced**2))) if voiced.size else 0.0


def mix(speech: bytes, noise: np.ndarray | None, snr_db: float, level: float, seed: int = 0) -> bytes:
    """``speech`` with ``noise`` (white when None) at ``snr_db`` below ``level`` (the speech RMS).

    Synthetic speech has runs of exact zeros no microphone produces; the noise
    fills them as a room would.
    """
    audio = np.frombuffer(speech, dtype=np.int16).astype(np.float64)
    if noise is None:
        noise = np.random.default_rng(seed).normal(0.0, 1.0, audio.size)
    else:
        noise = np.resize(noise.astype(np.float64), audio.size)
    noise_rms = float(np.sqrt(np.mean(noise**2))) or 1.0
    noise = noise * (level / 10 ** (snr_db / 20) / noise_rms)
    return np.clip(np.rint(audio + noise), -32768, 32767).astype(np.int16).tobytes()


def utterance(
    *parts: str, voice: str = "en-us", rate: int = 150, gap_s: float = 0.3, snr_db: float = 20
) -> bytes:
    """Phrases with short pauses between them, in a room with a little noise (the demo's "voice")."""
    pcm = silence(0.5)
    for part in parts:
        pcm += espeak_pcm(part, voice, rate) + silence(gap_s)
    pcm += silence(1.0)
    return mix(pcm, None, snr_db, rms(pcm))
