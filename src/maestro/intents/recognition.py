"""What the matcher makes of an utterance: the result types every layer above reads (voice,
actions, the box), apart from the matching machinery."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class NameValue:
    """A library or device slot: the resolved name and URI (device id), or the raw text."""

    name: str
    uri: str | None
    kind: str
    #: Whose album or song it is, as the library has it (a read-back says it); not part of its identity.
    artist: str = field(default="", compare=False)

    def to_json(self) -> dict[str, Any]:
        if self.kind == "device":
            return {"name": self.name, "id": self.uri}
        return {"name": self.name, "uri": self.uri}


@dataclass
class Recognition:
    """What the matcher made of one utterance."""

    #: The utterance as given.
    text: str
    #: Intent name, or None when nothing scored above the threshold.
    intent: str | None
    #: Slot name -> int (number), str (enum, text) or NameValue (library, device).
    slots: dict[str, Any] = field(default_factory=dict)
    #: 0..1; 1 is an exact template match with every name found exactly.
    score: float = 0.0
    #: The template that matched (for debugging and `--json` consumers).
    template: str | None = None
    #: Problems the reply should mention ("volume goes from 0 to 100").
    problems: list[str] = field(default_factory=list)
    #: Which parser answered: "templates", or "learned" (:mod:`maestro.intents.learned`).
    parser: str = "templates"
    #: Why the learned parser answered as it did (its label, confidence, runner-up): ``parse --explain``.
    reasons: dict[str, Any] = field(default_factory=dict)

    def slots_json(self) -> dict[str, Any]:
        return {k: v.to_json() if isinstance(v, NameValue) else v for k, v in self.slots.items()}

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "text": self.text,
            "intent": self.intent,
            "slots": self.slots_json(),
            "score": round(self.score, 3),
        }
        if self.problems:
            body["problems"] = self.problems
        return body
