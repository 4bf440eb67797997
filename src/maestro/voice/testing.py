"""Fakes of the voice's interfaces, for tests and benches: no model, no microphone.

:class:`ScriptedEngine` is a grammar engine whose hypotheses and word posteriors
are given; :class:`TranscriberTwin` a neural pass that answers what it is told.
"""

from __future__ import annotations

from maestro.voice.whisper import Transcript


class ScriptedEngine:
    """An engine whose hypotheses and word posteriors are given (the wake phrase heard in them)."""

    name = "scripted"
    wake_in_transcript = True

    def __init__(
        self, texts: list[str], posteriors: list[tuple[str, float]] | None = None, *, partial: str = "",
        wake_phrase: str = "hey maestro",
    ) -> None:  # fmt: skip
        self.texts, self.posteriors = texts, posteriors or []
        self.wake_phrase = wake_phrase
        #: What the engine has heard so far, mid-utterance (for the pause rule).
        self.partial_text = partial
        self.fed = 0  # bytes of audio given as commands

    def start_wake(self) -> None: ...

    def wake_feed(self, pcm: bytes) -> bool:
        return False

    def start_command(self) -> None: ...

    def command_feed(self, pcm: bytes) -> None:
        self.fed += len(pcm)

    def partial(self) -> str:
        return self.partial_text

    def command_end(self, alternatives: int) -> list[str]:
        return self.texts

    def word_posteriors(self) -> list[tuple[str, float]]:
        return self.posteriors

    def word_starts(self) -> list[tuple[str, float]]:
        return []

    def transcribe_open(self, pcm: bytes) -> str:
        return ""


class TranscriberTwin:
    """A neural pass that hears ``text`` (with this confidence) in whatever it is given, and keeps
    the length of every clip it was asked about."""

    def __init__(self, text: str, avg_logprob: float = -0.2) -> None:
        self.text = text
        self.avg_logprob = avg_logprob
        self.calls: list[int] = []

    def transcribe(self, pcm: bytes) -> Transcript:
        self.calls.append(len(pcm))
        return Transcript(self.text, self.avg_logprob)
