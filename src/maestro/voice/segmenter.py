"""Audio into utterances, frame by frame: the room's noise taken out, the endpointer, the pre-roll.

:class:`Segmenter` keeps everything about *where* speech is (not what was said):
the noise suppressor (on only in a noisy room), the endpointer (Silero, the WebRTC
VAD behind a noise-floor gate, or PocketSphinx's own), the last second of audio
for the pre-roll, a partial frame left over between chunks, and the utterance's
audio so far. While Maestro speaks the audio still reaches the endpointer, muted:
what it knows of the room never depends on how long a reply took to say.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pocketsphinx import Endpointer as PsEndpointer

from maestro.voice.audio import RATE
from maestro.voice.denoise import NoiseSuppressor
from maestro.voice.endpoint import Endpointer, SileroEndpointer, silero_available

#: The VAD misses the unvoiced start of "skip", "stop", "shuffle": the recogniser
#: also gets this much audio from before the moment the VAD heard speech begin.
PREROLL_S = 0.25


class Segmenter:
    def __init__(self, *, noise_handling: bool = True, vad: str = "auto") -> None:
        """``noise_handling=False``: PocketSphinx's plain VAD endpointer and no noise suppression
        (the bench's side-by-side peer). ``vad``: ``silero`` (tells a voice from music),
        ``webrtc`` (the WebRTC VAD behind a noise-floor gate) or ``auto`` (Silero when installed)."""
        self.noise_handling = noise_handling
        self.vad = ("silero" if silero_available() else "webrtc") if vad == "auto" else vad
        self._silero: Any = None  # one detector for every utterance (its state is reset)
        self._denoiser = NoiseSuppressor(RATE) if noise_handling else None  # lives on: it learns the room
        self._muted = False  # the last audio came while Maestro spoke
        self.reset()

    def reset(self) -> None:
        """A new endpointer: the next utterance starts from silence."""
        self.endpointer: Endpointer | PsEndpointer
        if not self.noise_handling:
            self.endpointer = PsEndpointer(sample_rate=RATE)
        elif self.vad == "silero":
            self.endpointer = SileroEndpointer(sample_rate=RATE, detector=self._silero)
            self._silero = self.endpointer.detector
        else:
            self.endpointer = Endpointer(sample_rate=RATE)
        self._recent = bytearray()  # the last second given to the endpointer (for the pre-roll)
        self._recent_start = 0  # its offset in bytes since the endpointer started
        #: The utterance's audio so far (what the recogniser was given).
        self.utterance = bytearray()
        self._pending = b""

    @property
    def in_speech(self) -> bool:
        return bool(self.endpointer.in_speech)

    @property
    def voiced(self) -> bool:
        """The newest frame sounded like speech (before the window's rule says speech began)."""
        return bool(self.endpointer.voiced)

    def clean(self, pcm: bytes) -> bytes:
        """The room's steady noise taken out (only in a noisy room)."""
        return self._denoiser.process(pcm) if self._denoiser is not None else pcm

    def frames(self, pcm: bytes) -> Iterator[bytes]:
        """The endpointer's frames in ``pcm`` (with what was left over before), each remembered for
        the pre-roll; a partial frame waits for the next chunk. The caller may :meth:`reset` between
        frames (an utterance ended): the rest of the chunk goes to the new endpointer."""
        frame_bytes = self.endpointer.frame_bytes
        data = self._pending + pcm
        usable = len(data) - len(data) % frame_bytes
        for start in range(0, usable, frame_bytes):
            frame = data[start : start + frame_bytes]
            self._remember(frame)
            yield frame
        self._pending = data[usable:]

    def speech(self, frame: bytes) -> bytes | None:
        """The audio that belongs to speech (a window behind), or None."""
        return self.endpointer.process(frame)

    def preroll(self) -> bytes:
        """The audio from just before the endpointer heard speech begin."""
        begin = int(self.endpointer.speech_start * RATE) * 2 - self._recent_start
        return bytes(self._recent[max(0, begin - int(PREROLL_S * RATE) * 2) : max(0, begin)])

    def listen_muted(self, pcm: bytes) -> None:
        """While Maestro speaks: the endpointer still hears the room (its noise floor, its voice
        detector's state), but nothing it hears becomes an utterance. Skipping this audio instead
        made what the endpointer knew depend on how long the reply took to say in wall time, and
        so on the machine's load (the demo heard "skip to the next song" as "the this song")."""
        self._muted = True
        for frame in self.frames(pcm):
            self.endpointer.process(frame)

    def unmute(self) -> None:
        """Maestro stopped speaking: its voice's tail is no utterance to go on with."""
        if self._muted:
            self._muted = False
            if self.in_speech:
                self.reset()

    def drain(self) -> None:
        """The end of the audio: what the noise suppressor still holds joins the pending audio."""
        if self._denoiser is not None:
            self._pending += self._denoiser.flush()

    def tail(self) -> bytes | None:
        """What the endpointer still holds after the last whole frame (the end of a file)."""
        return self.endpointer.end_stream(self._pending) if self._pending else None

    def _remember(self, frame: bytes) -> None:
        self._recent += frame
        excess = len(self._recent) - 2 * RATE  # keep one second
        if excess > 0:
            del self._recent[:excess]
            self._recent_start += excess
