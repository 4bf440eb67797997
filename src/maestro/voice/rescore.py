"""How likely the audio makes each reading: Whisper, teacher-forced.

CTranslate2's ``Whisper.align`` gives the probability of every token of a given
text after the audio, the encoder run once for all of them. A reading's score is
the log-probability of its tokens and of the end of text after them (so a
reading that stops before the speech does pays for it). Readings are written as
Whisper writes (digits for numbers, a capital, a full stop), so its habits of
spelling do not count against the words.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from maestro.intents.numbers import TENS, UNITS, parse_number
from maestro.voice.audio import RATE

_NUMBER_WORDS = "|".join(sorted({*UNITS, *TENS} - {"oh"}, key=len, reverse=True))
_NUMBER_RUN = re.compile(rf"\b(?:(?:{_NUMBER_WORDS}|hundred|thousand)(?:\s+|\b))+")


class AcousticScorer:
    """Scores readings of one utterance with the neural pass's own model (a ``WhisperTranscriber``)."""

    def __init__(self, transcriber: Any, *, pad: bool = True) -> None:
        from faster_whisper.tokenizer import Tokenizer

        self.transcriber = transcriber
        self.whisper = transcriber.model
        self.lock = transcriber._lock  # one decode at a time on the shared model
        #: Pad the audio to the encoder's window as transcription does (False: only the speech).
        self.pad = pad
        self.tokenizer = Tokenizer(self.whisper.hf_tokenizer, self.whisper.model.is_multilingual,
                                   task="transcribe", language="en")  # fmt: skip

    def score(self, pcm: bytes, readings: Sequence[str]) -> list[float]:
        """Total log-probability of each reading after the audio (higher: more likely)."""
        if not readings:
            return []
        audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
        if audio.size < RATE // 10:
            return [-math.inf] * len(readings)
        window = self.transcriber.chunk_length  # the transcription's window, so both see the same
        frames = window * 100
        features = self.whisper.feature_extractor(audio, chunk_length=window)[:, :frames]
        num_frames = features.shape[-1]
        if self.pad and num_frames < frames:  # padded as the transcription pads it: the same view
            features = np.pad(features, ((0, 0), (0, frames - num_frames)))
        tokens = [[*self.tokenizer.encode(" " + written(text)), self.tokenizer.eot] for text in readings]
        with self.lock:
            encoded = self.whisper.encode(features)
            batch = _repeat(encoded, len(tokens))
            results = self.whisper.model.align(
                batch, self.tokenizer.sot_sequence, tokens, [num_frames] * len(tokens)
            )
        return [float(np.sum(np.log(np.maximum(r.text_token_probs, 1e-12)))) for r in results]

    def tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(" " + written(text))) + 1


def written(text: str) -> str:
    """A reading as Whisper would write it: "a twelve ounce latte" -> "A 12 ounce latte."."""

    def digits(match: re.Match[str]) -> str:
        words = match.group(0).strip()
        number = parse_number(words)
        return (str(number) if number is not None else words) + (" " if match.group(0).endswith(" ") else "")

    text = _NUMBER_RUN.sub(digits, text).strip()
    return (text[:1].upper() + text[1:] + ".") if text else text


def _repeat(encoded: Any, times: int) -> Any:
    """The encoder's output once per reading (``align`` takes a batch as wide as its texts)."""
    import ctranslate2

    if times == 1:
        return encoded
    return ctranslate2.StorageView.from_array(np.repeat(np.array(encoded), times, axis=0))
