"""Small messages passed between pipeline stages (and to the display and speaker)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Screen:
    """What the display should show; ``display.screens`` draws it."""

    #: message, error, now_playing, volume, devices, pairing, listening, thinking, idle
    kind: str
    title: str = ""
    lines: tuple[str, ...] = ()
    #: A number the screen draws as a bar: volume percent, or progress percent.
    value: int | None = None
    #: Text to draw as a QR code (the pairing link).
    qr: str | None = None


@dataclass(frozen=True)
class Reply:
    """The outcome of one command: what to say, what to show, and how it went."""

    speech: str
    screen: Screen
    ok: bool = True
    #: For `maestro say`: 0 ok, 1 a failure the message explains, 2 bad input.
    exit_code: int = 0
    #: The intent that produced it (None: nothing understood).
    intent: str | None = None
    data: dict[str, object] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "intent": self.intent,
            "ok": self.ok,
            "speech": self.speech,
            "screen": {"kind": self.screen.kind, "title": self.screen.title, "lines": list(self.screen.lines),
                       "value": self.screen.value},
            **({"data": self.data} if self.data else {}),
        }  # fmt: skip
