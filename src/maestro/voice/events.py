"""What the listener reports, as small dataclasses read by one loop (the daemon, `tags learn`,
`maestro listen`): it woke, it heard a command, or it gave up waiting for one."""

from __future__ import annotations

from dataclasses import dataclass, field

from maestro.intents.recognition import Recognition


@dataclass(frozen=True)
class Woke:
    """The wake phrase was heard (``at_s``: audio time, seconds since the listener started)."""

    at_s: float


@dataclass(frozen=True)
class GaveUp:
    """Woken, but nobody spoke within the speech timeout."""

    at_s: float


@dataclass(frozen=True)
class Heard:
    """A command was heard (or something that was none: ``recognition.intent`` is None)."""

    #: The words taken, without the wake phrase.
    transcript: str
    recognition: Recognition
    #: From the end of speech to this answer, in wall time.
    latency_ms: float
    at_s: float
    #: The words came from an open-vocabulary pass (a name the command model cannot know).
    open_vocabulary: bool = False
    #: The grammar path's n-best, as heard.
    alternatives: list[str] = field(default_factory=list)
    #: The neural pass was asked (whether or not its answer was taken): it set the latency.
    neural: bool = False
    #: The utterance's sound (16 kHz mono PCM), kept only with ``voice.keep_audio``.
    audio: bytes = field(default=b"", repr=False, compare=False)

    @property
    def intent(self) -> str | None:
        return self.recognition.intent


Event = Woke | GaveUp | Heard
