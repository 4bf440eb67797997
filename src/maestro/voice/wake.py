"""The wake phrase, in two stages.

Stage one is the grammar path: the command model knows "hey maestro" as the first
words of an utterance, and any of its n-best that opens with the phrase counts
(:func:`after_wake`; the phrase's last word is the one that counts). Stage two is
the neural pass: where the grammar path missed the phrase (music, noise, a voice
unlike the last one) or only a lower-ranked hypothesis heard it, Whisper hears the
utterance again, and the phrase wakes Maestro only when it opens what Whisper heard
(sound keys alike) and Whisper was confident (:func:`confirm_wake`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from rapidfuzz import fuzz

from maestro.intents.normalize import normalize
from maestro.intents.sounds import sound_key
from maestro.voice.audio import RATE
from maestro.voice.segmenter import PREROLL_S
from maestro.voice.whisper import Transcript

#: The second stage's defaults: how alike (rapidfuzz ratio of sound keys) the words the neural
#: pass heard first must be to the phrase (``voice.wake_confirm``), how confident it must have been
#: (mean token log-probability), and the shortest utterance worth asking it about.
WAKE_CONFIRM = 85.0
WAKE_MIN_LOGPROB = -0.7
WAKE_MIN_S = 0.5
#: How alike leading words must be to the wake phrase for the neural pass's own spelling of it to be
#: taken off a command it heard ("hey my stroke play abbey road").
WAKE_SOUND_RATIO = 70


class Transcriber(Protocol):
    """The neural pass (``voice.whisper.WhisperTranscriber``, or a test's twin)."""

    def transcribe(self, pcm: bytes) -> Transcript: ...


def after_wake(text: str, wake_words: Sequence[str]) -> str | None:
    """What follows the wake phrase ("" for the phrase alone); None when ``text`` does not start
    with it.

    The phrase's last word ("maestro") is the one that counts: measured on the bench's voices,
    "hey" came out as "carry", "queue", "too", "do you" in half of the misses while "maestro" was
    heard almost every time. So the last word must come within the phrase's length (plus one) of
    the start, after at most as many words as the phrase has before it, plus one.
    """
    words = text.split()
    key = wake_words[-1]
    window = words[: len(wake_words) + 1]
    if key not in window:
        return None
    return " ".join(words[window.index(key) + 1 :])


def first_stage(alternatives: Sequence[str], wake_words: Sequence[str], second_stage: bool) -> list[str]:
    """The grammar path's n-best after the wake phrase, when its best guess opens with the phrase.
    Where only a lower-ranked hypothesis heard it, that is generous enough to be the first stage
    but not sure enough to wake on (most false wakes in ordinary speech come this way): with a
    second stage to decide, as for a phrase the grammar missed, none ([])."""
    rest = [after for text in alternatives if (after := after_wake(text, wake_words)) is not None]
    if rest and after_wake(alternatives[0], wake_words) is None and second_stage:
        return []
    return rest


def confirm_wake(
    neural: Transcriber,
    utterance: bytes,
    word_starts: Sequence[tuple[str, float]],
    wake_words: Sequence[str],
    ratio: float,
) -> str | None:
    """The second stage: what follows the wake phrase when the neural pass hears it opening the
    utterance; None when it does not. Where the grammar path heard the phrase later in the
    utterance (someone was talking, a TV), only the audio from there is heard again."""
    if len(utterance) < WAKE_MIN_S * RATE * 2:
        return None
    start = wake_word_start(word_starts, wake_words)
    heard = neural.transcribe(utterance[int(start * RATE) * 2 :])
    if heard.avg_logprob < WAKE_MIN_LOGPROB:
        return None
    return after_wake_sound(normalize(heard.text), wake_words, ratio)


def wake_word_start(word_starts: Sequence[tuple[str, float]], wake_words: Sequence[str]) -> float:
    """Seconds into the utterance where the grammar path heard the wake phrase begin (0: not heard)."""
    key, before = wake_words[-1], len(wake_words) - 1
    for at, (word, _) in enumerate(word_starts):
        if word == key:
            return max(0.0, word_starts[max(0, at - before)][1] - PREROLL_S)
    return 0.0


def strip_wake(text: str, wake_words: Sequence[str]) -> str:
    """ "hey my stroke play abbey road" -> "play abbey road": the neural pass spells the wake phrase
    its own way ("hey, maestro", "hey my stroke"); the words at the start that sound most like it go."""
    rest = after_wake_sound(text, wake_words, WAKE_SOUND_RATIO)
    return text if rest is None else rest


def after_wake_sound(text: str, wake_words: Sequence[str], ratio: float) -> str | None:
    """What follows the wake phrase when ``text`` opens with words that sound like it (the first or
    second word on, ``ratio`` 0-100 alike); None when it does not."""
    words = text.split()
    target = sound_key(" ".join(wake_words))
    best, cut = ratio, -1
    for start in range(min(2, len(words))):
        for end in range(start + 1, min(len(words), start + len(wake_words) + 1) + 1):
            alike = fuzz.ratio(sound_key(" ".join(words[start:end])), target)
            if alike > best or (alike == best and cut < 0):
                best, cut = alike, end
    return None if cut < 0 else " ".join(words[cut:])
