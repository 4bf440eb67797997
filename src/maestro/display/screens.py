"""Screens drawn as 1-bit images for a 128x64 (or 128x32) OLED: pure functions, no hardware.

``render(screen, size)`` turns a :class:`~maestro.messages.Screen` into a PIL
image in mode "1". The same image goes to the OLED, the PNG twin and the
terminal twin, so what the tests check is what the box shows.

Type is DejaVu Sans (Debian's fonts-dejavu-core: Latin, Greek, Cyrillic),
drawn without anti-aliasing, which a 1-bit panel cannot show anyway
(:mod:`maestro.display.typeset`); the pairing screen has a module of its own
(:mod:`maestro.display.pairing_screen`).
"""

from __future__ import annotations

from datetime import datetime

from PIL import Image

from maestro.display.pairing_screen import draw_pairing
from maestro.display.typeset import (
    OFF,
    ON,
    Canvas,
    Font,
    displayable,
    ellipsize,
    font,
    largest_font,
    line_height,
    text_width,
    tight_rows,
    wrap,
)
from maestro.messages import Screen


def _now_playing(c: Canvas, s: Screen, scroll_px: int) -> None:
    """Title, artist (and album), play state, time and speaker, progress bar: what a glance wants."""
    tall = c.height >= 48
    big, small, status = (
        (font("bold", 14), font("regular", 11), font("regular", 9)) if tall
        else (font("bold", 12), font("regular", 9), font("regular", 9))
    )  # fmt: skip
    y = _row(c, 0, s.title, big, scroll_px=scroll_px, accents=tall)
    lines = [line for line in s.lines if line]
    if tall:
        for line in lines[:2]:
            y = _row(c, y, line, small)
        bits = [s.elapsed] if s.elapsed else []
    else:  # one row for everything after the title: artist · speaker
        bits = lines[:1]
    offset, step = tight_rows(status)
    icon_w = 9 if s.playing is not None else 0
    if s.playing is not None:
        _state_icon(c, (0, y + 1), playing=s.playing, height=min(7, step - 2))
    text = " · ".join([*bits, *([s.device] if s.device else [])])
    if s.device and text_width(text, status) > c.width - icon_w:  # the speaker's name goes first
        rest = " · ".join(bits)
        device = ellipsize(s.device, status, (c.width - icon_w) // 2)
        c.draw.text((c.width - text_width(device, status), y - offset), device, font=status, fill=ON)
        text = ellipsize(rest, status, c.width - icon_w - text_width(device, status) - 6)
    c.draw.text((icon_w, y - offset), ellipsize(text, status, c.width - icon_w), font=status, fill=ON)
    if s.value is not None:
        bar_h = 5 if tall else 4
        c.bar((0, c.height - bar_h, c.width - 1, c.height - 1), s.value)


def _row(c: Canvas, y: int, text: str, face: Font, *, scroll_px: int = 0, accents: bool = False) -> int:
    """One tightly stacked row at ``y``; returns where the next one starts. ``accents``: keep the
    room above capitals ("Å", "É"), for a title where the screen has it."""
    offset, step = tight_rows(face)
    c.text((0, y - (0 if accents else offset)), text, face, scroll_px=scroll_px)
    return y + step + (offset if accents else 0)


def _state_icon(c: Canvas, at: tuple[int, int], *, playing: bool, height: int) -> None:
    x, y = at
    if playing:
        c.draw.polygon([(x, y), (x + height * 3 // 4, y + height // 2), (x, y + height)], fill=ON)
    else:
        c.draw.rectangle((x, y, x + 1, y + height), fill=ON)
        c.draw.rectangle((x + 4, y, x + 5, y + height), fill=ON)


def _volume(c: Canvas, s: Screen) -> None:
    level = s.value if s.value is not None else 0
    face = largest_font("100", "bold", c.width // 2, c.height - 14)
    label = f"{level}" if level else "Muted"
    if not level:
        face = largest_font("Muted", "bold", c.width - 28, c.height - 14)
    _speaker_icon(c, (2, (c.height - 14) // 2 - 8), muted=not level)
    c.draw.text((28, max(0, (c.height - 14 - line_height(face)) // 2)), label, font=face, fill=ON)
    c.bar((0, c.height - 10, c.width - 1, c.height - 1), level)


def _speaker_icon(c: Canvas, at: tuple[int, int], *, muted: bool) -> None:
    x, y = at
    c.draw.rectangle((x, y + 5, x + 4, y + 11), fill=ON)
    c.draw.polygon([(x + 4, y + 5), (x + 10, y), (x + 10, y + 16), (x + 4, y + 11)], fill=ON)
    if muted:
        c.draw.line((x + 13, y + 4, x + 21, y + 12), fill=ON, width=2)
        c.draw.line((x + 13, y + 12, x + 21, y + 4), fill=ON, width=2)
    else:
        for r in (5, 9):
            c.draw.arc((x + 10 - r, y + 8 - r, x + 10 + r, y + 8 + r), -50, 50, fill=ON)


def _listening(c: Canvas, s: Screen) -> None:
    cx, cy = c.width // 2, (c.height - 14) // 2 if c.height >= 48 else c.height // 2
    if c.height >= 48:
        # A microphone: capsule, cradle and stand.
        c.draw.rounded_rectangle((cx - 6, cy - 16, cx + 6, cy + 6), radius=6, fill=ON)
        c.draw.arc((cx - 11, cy - 8, cx + 11, cy + 12), 0, 180, fill=ON, width=2)
        c.draw.line((cx, cy + 12, cx, cy + 17), fill=ON, width=2)
        c.draw.line((cx - 6, cy + 18, cx + 6, cy + 18), fill=ON, width=2)
        c.centred(c.height - 14, s.title or "Listening…", font("bold", 12))
    else:
        c.centred(8, s.title or "Listening…", font("bold", 14))


def _thinking(c: Canvas, s: Screen) -> None:
    y = (c.height - 6) // 2 - (6 if c.height >= 48 else 0)
    for i in range(3):
        x = c.width // 2 - 14 + i * 14
        c.draw.ellipse((x - 3, y, x + 3, y + 6), fill=ON)
    if c.height >= 48:
        c.centred(c.height - 16, s.title or "One moment", font("regular", 11))


def _message(c: Canvas, s: Screen, *, error: bool) -> None:
    tall = c.height >= 48
    title_face = font("bold", 12 if tall else 10)
    body = font("regular", 11 if tall else 9)
    offset, step = tight_rows(title_face)
    if tall:  # room for accents above the title's capitals
        step, offset = step + offset, 0
    if error:  # an inverted title bar: trouble reads as trouble from across the room
        c.draw.rectangle((0, 0, c.width - 1, step), fill=ON)
        c.text((2, 1 - offset), s.title, title_face, fill=OFF, width=c.width - 4)
    else:
        c.text((0, -offset), s.title, title_face)
    y = step + 2
    body_offset, body_step = tight_rows(body)
    for row in _body_rows(s.lines, body, c.width, (c.height - y + 1) // body_step):
        c.draw.text((0, y - body_offset), row, font=body, fill=ON)
        y += body_step


def _body_rows(lines: tuple[str, ...], face: Font, width: int, room: int) -> list[str]:
    """Each line on rows of its own when they fit; else all of them run together with " · ",
    so a small screen keeps the artist after the title rather than dropping it."""
    if room <= 0:
        return []
    rows = [row for line in lines for row in wrap(line, face, width, len(line))]
    if len(rows) <= room:
        return rows
    return wrap(" · ".join(line for line in lines if line), face, width, room)


def _devices(c: Canvas, s: Screen) -> None:
    """The speakers, the active one marked; when they don't all fit, the last row says how many more."""
    tall = c.height >= 48
    title_face, face = font("bold", 12 if tall else 10), font("regular", 10 if tall else 9)
    offset, step = tight_rows(title_face)
    c.text((0, -offset), s.title or "Speakers", title_face)
    y = step + 1
    row_offset, row_step = tight_rows(face)
    room = max(1, (c.height - y + 1) // row_step)
    order = list(range(len(s.lines)))
    if s.selected is not None and s.selected in order:  # the active one is always shown
        order.remove(s.selected)
        order.insert(0, s.selected)
    shown = order if len(order) <= room else order[: max(1, room - 1)]
    for index in shown:
        active = index == s.selected
        cx, cy = 4, y + row_step // 2 - 1
        if active:
            c.draw.ellipse((cx - 3, cy - 3, cx + 3, cy + 3), fill=ON)
        else:
            c.draw.ellipse((cx - 2, cy - 2, cx + 2, cy + 2), outline=ON)
        c.text((10, y - row_offset), s.lines[index], face, width=c.width - 10)
        y += row_step
    hidden = [s.lines[i] for i in order if i not in shown]
    if hidden:
        more = f"+{len(hidden)} more: " + ", ".join(hidden)
        if y + row_step > c.height + 1:  # no row left: say so after the last name
            y -= row_step
            name = ellipsize(s.lines[shown[-1]], face, (c.width - 10) // 2)
            more = f"{name}  +{len(hidden)} more"
        c.draw.rectangle((10, y, c.width - 1, y + row_step - 1), fill=OFF)
        c.draw.text((10, y - row_offset), ellipsize(more, face, c.width - 10), font=face, fill=ON)


def _idle(c: Canvas, s: Screen, now: datetime) -> None:
    clock = now.strftime("%H:%M")
    room = c.height - (16 if c.height >= 48 else 0)
    big = largest_font("00:00", "bold", c.width - 8, room - 2, top=36)
    left, top, right, bottom = big.getbbox(clock)  # centred by its ink, not its line box
    x, y = (c.width - (right - left)) // 2 - left, (room - (bottom - top)) // 2 - top
    c.draw.text((x, y), clock, font=big, fill=ON)
    if c.height >= 48:
        status = s.lines[0] if s.lines else now.strftime("%a %d %b")
        c.centred(c.height - 14, status, font("regular", 11))


def render(
    screen: Screen,
    size: tuple[int, int] = (128, 64),
    *,
    now: datetime | None = None,
    scroll_px: int = 0,
) -> Image.Image:
    """The screen as a 1-bit image. ``scroll_px`` moves a too-long now-playing title along."""
    canvas = Canvas(size)
    kind = screen.kind
    if kind == "pairing":
        draw_pairing(canvas, screen)
    elif kind == "now_playing":
        _now_playing(canvas, screen, scroll_px)
    elif kind == "volume":
        _volume(canvas, screen)
    elif kind == "listening":
        _listening(canvas, screen)
    elif kind == "thinking":
        _thinking(canvas, screen)
    elif kind == "devices":
        _devices(canvas, screen)
    elif kind == "idle":
        _idle(canvas, screen, now or datetime.now())
    else:
        _message(canvas, screen, error=kind == "error")
    return canvas.image


def scrolls(screen: Screen, size: tuple[int, int] = (128, 64)) -> bool:
    """Whether the screen has a title too long to show at once (the OLED then animates it)."""
    if screen.kind != "now_playing":
        return False
    face = font("bold", 14 if size[1] >= 48 else 12)
    return text_width(displayable(screen.title, face), face) > size[0]


#: Sample data for ``maestro display preview`` and the golden images.
SAMPLES: dict[str, Screen] = {
    "pairing": Screen(
        "pairing", "BCDF-GHJK", ("bridge.example.net/pair",),
        qr="HTTPS://BRIDGE.EXAMPLE.NET/P/BCDFGHJKQ2XJ7NPAW3VYRZ4K",  # as a bridge sends it
    ),
    "pairing-spotify": Screen(
        "pairing", "abc123", ("spotify.com/pair",), qr="https://www.spotify.com/pair?code=abc123"
    ),
    "listening": Screen("listening"),
    "thinking": Screen("thinking"),
    "now_playing": Screen(
        "now_playing", "Come Together", ("The Beatles", "Abbey Road"), value=42, playing=True,
        elapsed="1:49 / 4:19", device="Living Room",
    ),
    "now_playing-long": Screen(
        "now_playing", "Sgt. Pepper's Lonely Hearts Club Band (Remastered 2009)", ("The Beatles",), value=7,
        playing=False, elapsed="0:09 / 2:02", device="Kitchen",
    ),
    "now_playing-cjk": Screen("now_playing", "東京事変 — 群青日和", ("Björk", "Кино"), value=90),
    "volume": Screen("volume", "Volume", (), value=65),
    "volume-muted": Screen("volume", "Muted", (), value=0),
    "message": Screen("message", "Queued", ("So What", "Miles Davis")),
    "error": Screen("error", "Trouble", ("Can't reach Spotify. Is the internet down? I'll keep trying.",)),
    "devices": Screen("devices", "Speakers", ("Living Room", "Kitchen", "Den TV"), selected=1),
    "idle": Screen("idle", "Maestro", ("Nothing playing",)),
}  # fmt: skip
SAMPLE_TIME = datetime(2026, 11, 28, 7, 45)
