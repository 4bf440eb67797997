"""Small messages passed between pipeline stages (and to the display and speaker)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from maestro.spotify.player import PlaybackState


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
    #: now_playing: playing (True) or paused (False); None when unknown.
    playing: bool | None = None
    #: now_playing: "1:23 / 4:05".
    elapsed: str = ""
    #: now_playing: the speaker it plays on.
    device: str = ""
    #: devices: the row of the active speaker.
    selected: int | None = None


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
    #: A question ("Which speaker?"): the daemon listens for the answer without the wake phrase.
    question: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "intent": self.intent,
            "ok": self.ok,
            "speech": self.speech,
            "screen": {"kind": self.screen.kind, "title": self.screen.title, "lines": list(self.screen.lines),
                       "value": self.screen.value},
            **({"data": self.data} if self.data else {}),
            **({"question": True} if self.question else {}),
        }  # fmt: skip


def clock_time(ms: int) -> str:
    """Milliseconds as "m:ss" (or "h:mm:ss")."""
    seconds = max(0, ms) // 1000
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def now_playing_screen(state: PlaybackState) -> Screen:
    """What is playing, as the OLED shows it: title, artist, album, state, time, speaker, progress."""
    item = state.item
    if item is None:
        return Screen("idle", "Maestro", ("Nothing playing",))
    progress = int(100 * state.progress_ms / item.duration_ms) if item.duration_ms else None
    elapsed = f"{clock_time(state.progress_ms)} / {clock_time(item.duration_ms)}" if item.duration_ms else ""
    device = state.device.name if state.device else ""
    return Screen("now_playing", item.name, (item.artist, item.album), value=progress,
                  playing=state.is_playing, elapsed=elapsed, device=device)  # fmt: skip
