"""Where screens go: one small interface, the OLED and its twins.

Every real display is a :class:`FrameDisplay`: it renders a screen with
``display.screens`` and hands the frame to a *sink* — the luma.oled panel, a
directory of PNG files (the twin the tests read), or a terminal drawn in
Unicode quadrant blocks (the twin for the demo and SSH). Drawing happens on a
worker thread and the newest screen wins, so a slow I2C bus never holds up the
event loop and a burst of screens does not queue. After a while with nothing
new to show, the panel is dimmed (OLEDs burn in); anything new brightens it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol, TextIO

from PIL import Image

from maestro.config import DisplaySettings
from maestro.display import screens
from maestro.errors import MaestroError
from maestro.messages import Screen

log = logging.getLogger(__name__)

BRIGHT, DIM = 255, 8
SCROLL_STEP_PX, SCROLL_PERIOD_S = 3, 0.1


class Display(Protocol):
    async def show(self, screen: Screen) -> None: ...

    async def aclose(self) -> None: ...


class NullDisplay:
    """No display: remembers the screens (tests read them)."""

    def __init__(self) -> None:
        self.screens: list[Screen] = []

    async def show(self, screen: Screen) -> None:
        self.screens.append(screen)

    async def aclose(self) -> None:
        return None


class Sink(Protocol):
    """Blocking frame output; called from a worker thread, one call at a time."""

    def draw(self, image: Image.Image, screen: Screen) -> None: ...

    def contrast(self, level: int) -> None: ...

    def close(self) -> None: ...


class FrameDisplay:
    """Renders screens to 1-bit frames and feeds them to a sink off the event loop."""

    def __init__(
        self,
        sink: Sink,
        size: tuple[int, int] = (128, 64),
        *,
        dim_after_s: float = 60.0,
        animate: bool = False,
        clock: Callable[[], datetime] = datetime.now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock``: the time the idle screen shows; ``monotonic``: the time dimming counts in."""
        self.sink = sink
        self.size = size
        self.dim_after_s = dim_after_s
        self.animate = animate
        self.clock = clock
        self.monotonic = monotonic
        self.screens: list[Screen] = []
        self.frames_drawn = 0
        self.dimmed = False
        self._latest: Screen | None = None
        self._changed = asyncio.Event()
        self._drawn = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._last_activity = monotonic()
        self._failed = False

    async def show(self, screen: Screen) -> None:
        """Returns at once; the worker draws the newest screen."""
        previous = self.screens[-1] if self.screens else None
        self.screens.append(screen)
        if previous is None or (previous.kind, previous.title) != (screen.kind, screen.title):
            self._last_activity = self.monotonic()  # a progress tick is not activity; a new song is
        self._latest = screen
        self._drawn.clear()
        self._changed.set()
        if self._worker is None:
            self._worker = asyncio.create_task(self._run(), name="display")

    async def flush(self) -> None:
        """Waits until the newest screen has been drawn (tests, and before exiting)."""
        if self._worker is not None and self._latest is not None:
            await self._drawn.wait()

    async def _run(self) -> None:
        scroll = 0
        while True:
            timeout = self._next_wake(scroll)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)
            screen = self._latest
            if screen is None:
                continue
            if self._changed.is_set():
                self._changed.clear()
                scroll = 0
                await self._set_contrast(BRIGHT)
                await self._draw(screen, 0)
                if not self._changed.is_set():  # nothing newer arrived while drawing
                    self._drawn.set()
            elif 0 < self.dim_after_s <= self._idle_for() and not self.dimmed:
                await self._set_contrast(DIM)
            elif self._scrolling(screen):
                scroll += SCROLL_STEP_PX
                await self._draw(screen, scroll)

    def _next_wake(self, scroll: int) -> float | None:
        screen = self._latest
        if screen is not None and self._scrolling(screen):
            return SCROLL_PERIOD_S
        if not self.dimmed and self.dim_after_s > 0:
            return max(0.01, self.dim_after_s - self._idle_for())
        return None

    def _scrolling(self, screen: Screen) -> bool:
        return self.animate and not self.dimmed and screens.scrolls(screen, self.size)

    def _idle_for(self) -> float:
        return self.monotonic() - self._last_activity

    def _render_and_draw(self, screen: Screen, scroll: int) -> None:
        self.sink.draw(screens.render(screen, self.size, now=self.clock(), scroll_px=scroll), screen)

    async def _draw(self, screen: Screen, scroll: int) -> None:
        try:  # rendering a QR code takes tens of milliseconds on a Pi: off the loop too
            await asyncio.to_thread(self._render_and_draw, screen, scroll)
            self.frames_drawn += 1
            self._failed = False
        except Exception as exc:  # an I2C hiccup or an unplugged panel must not stop Maestro
            if not self._failed:
                log.warning("display: could not draw (%s); will keep trying", exc)
            self._failed = True

    async def _set_contrast(self, level: int) -> None:
        dim = level == DIM
        if dim == self.dimmed:
            return
        self.dimmed = dim
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.sink.contrast, level)

    async def aclose(self) -> None:
        if self._worker is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.flush(), 1.0)
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        await asyncio.to_thread(self.sink.close)


@dataclass
class PngSink:
    """Writes every frame as ``NNNN-kind.png`` (the twin the tests and `display preview` use)."""

    directory: Path
    frames: list[Path] = field(default_factory=list)
    contrasts: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.directory = Path(self.directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def draw(self, image: Image.Image, screen: Screen) -> None:
        path = self.directory / f"{len(self.frames) + 1:04d}-{screen.kind}.png"
        image.save(path)
        self.frames.append(path)

    def contrast(self, level: int) -> None:
        self.contrasts.append(level)

    def close(self) -> None:
        return None


# Quadrant blocks, indexed by the lit pixels of a 2x2 cell: 1 top left, 2 top right, 4, 8 bottom.
QUADRANTS = " ▘▝▀▖▌▞▛▗▚▐▜▄▙▟█"


def to_blocks(image: Image.Image) -> list[str]:
    """A 1-bit image as text, one character per 2x2 pixels (a 128x64 screen is 64x32 characters)."""
    width, height = image.size
    pixels = image.convert("1").load()

    def lit(x: int, y: int) -> int:
        return 1 if x < width and y < height and pixels[x, y] else 0

    rows = []
    for y in range(0, height, 2):
        row = []
        for x in range(0, width, 2):
            index = lit(x, y) | lit(x + 1, y) << 1 | lit(x, y + 1) << 2 | lit(x + 1, y + 1) << 3
            row.append(QUADRANTS[index])
        rows.append("".join(row))
    return rows


class TerminalSink:
    """Draws frames in a box of Unicode blocks, with the screen's words under it (logs, SSH)."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stderr

    def draw(self, image: Image.Image, screen: Screen) -> None:
        rows = to_blocks(image)
        width = len(rows[0])
        words = " · ".join(part for part in (screen.title, *screen.lines) if part) or f"({screen.kind})"
        framed = ["┌" + "─" * width + "┐", *(f"│{row}│" for row in rows), "└" + "─" * width + "┘"]
        print("\n".join([*framed, f" {words}"]), file=self.out, flush=True)

    def contrast(self, level: int) -> None:
        return None

    def close(self) -> None:
        return None


class LumaSink:
    """An SSD1306/SH1106 panel over I2C through luma.oled."""

    def __init__(self, driver: str, *, port: int, address: int, rotate: int, size: tuple[int, int]) -> None:
        try:
            from luma.core.interface.serial import i2c
            from luma.oled.device import sh1106, ssd1306
        except ImportError as exc:
            raise MaestroError(
                "The OLED needs luma.oled: pip install 'maestro-remote[oled]' "
                '(or set [display] driver = "terminal" or "none").'
            ) from exc
        device_class = {"ssd1306": ssd1306, "sh1106": sh1106}[driver]  # SH1106 needs its own column offset
        try:
            serial = i2c(port=port, address=address)
        except Exception as exc:  # luma raises DeviceNotFoundError / DevicePermissionError
            raise MaestroError(
                f"No OLED at I2C port {port}, address {address:#04x} ({exc}). Is I2C enabled "
                "(raspi-config) and is the panel wired to SDA/SCL? `i2cdetect -y 1` lists what answers."
            ) from exc
        self.device = device_class(serial, width=size[0], height=size[1], rotate=rotate)

    @classmethod
    def on(cls, device: object) -> LumaSink:
        """Wraps an already made luma device (tests use luma's own noop interface)."""
        sink = cls.__new__(cls)
        sink.device = device
        return sink

    def draw(self, image: Image.Image, screen: Screen) -> None:
        self.device.display(image.convert(self.device.mode))  # type: ignore[attr-defined]

    def contrast(self, level: int) -> None:
        self.device.contrast(level)  # type: ignore[attr-defined]

    def close(self) -> None:
        self.device.cleanup()  # type: ignore[attr-defined]


def make_display(settings: DisplaySettings, *, out: TextIO | None = None) -> Display:
    """The display the settings ask for; a missing panel or library says how to fix it."""
    if settings.height not in (32, 64):
        raise MaestroError(
            f"[display] height must be 64 or 32 (a 128x64 or 128x32 panel), not {settings.height}."
        )
    size = (128, settings.height)
    if settings.driver == "none":
        return NullDisplay()
    if settings.driver == "terminal":
        return FrameDisplay(TerminalSink(out), size, dim_after_s=0)  # a terminal does not burn in
    if settings.driver == "png":
        if not settings.png_dir:
            raise MaestroError('[display] driver = "png" needs png_dir (a directory for the frames).')
        return FrameDisplay(
            PngSink(Path(settings.png_dir).expanduser()), size, dim_after_s=settings.dim_after_s
        )
    sink = LumaSink(
        settings.driver,
        port=settings.i2c_port,
        address=settings.i2c_address,
        rotate=settings.rotate,
        size=size,
    )
    return FrameDisplay(sink, size, dim_after_s=settings.dim_after_s, animate=True)


class TeeDisplay:
    """The same screens on several displays: the OLED and, for `maestro pair` in a terminal, the terminal."""

    def __init__(self, *displays: Display) -> None:
        self.displays = displays

    async def show(self, screen: Screen) -> None:
        await asyncio.gather(*(display.show(screen) for display in self.displays))

    async def aclose(self) -> None:
        await asyncio.gather(*(display.aclose() for display in self.displays))


def command_display(settings: DisplaySettings, *, terminal: bool) -> Display:
    """What a one-off command (`maestro pair`) draws on: the configured display, as the daemon
    does, plus the terminal when run from one (or when no display is configured at all)."""
    configured = make_display(settings)
    if settings.driver == "terminal" or not (terminal or isinstance(configured, NullDisplay)):
        return configured
    return TeeDisplay(configured, TerminalDisplay())


class TerminalDisplay(FrameDisplay):
    """The terminal twin: what `maestro pair` and the demo draw on."""

    def __init__(self, out: TextIO | None = None) -> None:
        super().__init__(TerminalSink(out), dim_after_s=0)
