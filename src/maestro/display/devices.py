"""Where screens go: one small interface, a terminal twin and a silent one.

(The OLED drivers and the PNG twin arrive with the display issue.)
"""

from __future__ import annotations

import sys
from typing import Protocol, TextIO

from maestro.messages import Screen


class Display(Protocol):
    async def show(self, screen: Screen) -> None: ...

    async def aclose(self) -> None: ...


class NullDisplay:
    def __init__(self) -> None:
        self.screens: list[Screen] = []

    async def show(self, screen: Screen) -> None:
        self.screens.append(screen)

    async def aclose(self) -> None:
        return None


class TerminalDisplay:
    """Draws screens as text (and the pairing QR in Unicode blocks) on a terminal."""

    def __init__(self, out: TextIO | None = None, *, qr: bool = True) -> None:
        self.out = out or sys.stderr
        self.qr = qr
        self.screens: list[Screen] = []

    async def show(self, screen: Screen) -> None:
        self.screens.append(screen)
        width = max(24, len(screen.title) + 4, *(len(line) + 4 for line in screen.lines))
        rows = ["┌" + "─" * (width - 2) + "┐", f"│ {screen.title:<{width - 4}} │"]
        rows += [f"│ {line:<{width - 4}} │" for line in screen.lines]
        if screen.value is not None:
            filled = round((width - 4) * max(0, min(100, screen.value)) / 100)
            rows.append("│ " + "█" * filled + "░" * (width - 4 - filled) + " │")
        rows.append("└" + "─" * (width - 2) + "┘")
        print("\n".join(rows), file=self.out, flush=True)
        if screen.qr and self.qr:
            import segno

            segno.make(screen.qr, error="m").terminal(out=self.out, compact=True, border=2)

    async def aclose(self) -> None:
        return None
