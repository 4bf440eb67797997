"""Screens drawn as 1-bit images for a 128x64 (or 128x32) OLED: pure functions, no hardware.

``render(screen, size)`` turns a :class:`~maestro.messages.Screen` into a PIL
image in mode "1". The same image goes to the OLED, the PNG twin and the
terminal twin, so what the tests check is what the box shows.

Type is DejaVu Sans (Debian's fonts-dejavu-core: Latin, Greek, Cyrillic),
drawn without anti-aliasing, which a 1-bit panel cannot show anyway.
Characters the font lacks (CJK, emoji) are transliterated with anyascii
rather than drawn as empty boxes; without DejaVu, Pillow's built-in font
(ASCII only) takes over the same way.
"""

from __future__ import annotations

import functools
import math
from datetime import datetime
from pathlib import Path

from anyascii import anyascii
from PIL import Image, ImageDraw, ImageFont

from maestro.messages import Screen

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
SIZES = ((128, 64), (128, 32))
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_FILES = {"regular": "DejaVuSans.ttf", "bold": "DejaVuSans-Bold.ttf", "mono": "DejaVuSansMono-Bold.ttf"}
ON, OFF = 1, 0  # lit and dark pixels
MARQUEE_GAP = 24  # pixels between the end of a scrolling title and its next start


@functools.lru_cache(maxsize=64)
def font(style: str, size: int) -> Font:
    try:
        return ImageFont.truetype(str(FONT_DIR / FONT_FILES[style]), size)
    except OSError:  # no DejaVu on this machine: Pillow's own (ASCII) font still draws
        return ImageFont.load_default(size)


@functools.lru_cache(maxsize=4096)
def _has_glyph(face: Font, char: str) -> bool:
    if char.isascii():
        return True
    missing = face.getmask("\U0010fffd")  # a private-use code point: the font's "no glyph" box
    mask = face.getmask(char)
    return not (mask.size == missing.size and bytes(mask) == bytes(missing))


def displayable(text: str, face: Font) -> str:
    """The text with each character the font cannot draw transliterated ("東京" -> "Dong Jing")."""
    out: list[str] = []
    spelled_before = False
    for char in text:
        if _has_glyph(face, char):
            out.append(char)
            spelled_before = False
            continue
        spelled = anyascii(char)
        if spelled_before and spelled[:1].isalnum():
            out.append(" ")  # one transliterated syllable per character: keep them apart
        out.append(spelled)
        spelled_before = bool(spelled)
    return " ".join("".join(out).split())


def text_width(text: str, face: Font) -> int:
    return math.ceil(face.getlength(text))


def ellipsize(text: str, face: Font, width: int) -> str:
    if text_width(text, face) <= width:
        return text
    while text and text_width(text + "…", face) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def largest_font(text: str, style: str, width: int, height: int, *, top: int = 40, least: int = 8) -> Font:
    """The largest size of ``style`` in which ``text`` fits the box (at least ``least`` px)."""
    for size in range(top, least - 1, -1):
        face = font(style, size)
        left, upper, right, lower = face.getbbox(text)
        if right - min(left, 0) <= width and lower - min(upper, 0) <= height:
            return face
    return font(style, least)


class Canvas:
    """A 1-bit image with the few drawing moves the screens need."""

    def __init__(self, size: tuple[int, int]) -> None:
        self.image = Image.new("1", size, OFF)
        self.draw = ImageDraw.Draw(self.image)
        self.width, self.height = size

    def text(
        self,
        xy: tuple[int, int],
        text: str,
        face: Font,
        *,
        fill: int = ON,
        width: int | None = None,
        scroll_px: int = 0,
    ) -> int:
        """Draws one line (ellipsized to ``width``, or scrolled by ``scroll_px``); returns its height."""
        width = self.width - xy[0] if width is None else width
        text = displayable(text, face)
        if scroll_px and text_width(text, face) > width:
            span = text_width(text, face) + MARQUEE_GAP
            x = xy[0] - scroll_px % span
            strip = Image.new("1", (width, self.height), OFF)
            ImageDraw.Draw(strip).text((x - xy[0], 0), text, font=face, fill=ON)
            ImageDraw.Draw(strip).text((x - xy[0] + span, 0), text, font=face, fill=ON)
            self.image.paste(strip.crop((0, 0, width, line_height(face))), xy)
        else:
            self.draw.text(xy, ellipsize(text, face, width), font=face, fill=fill)
        return line_height(face)

    def centred(self, y: int, text: str, face: Font, *, fill: int = ON) -> int:
        text = ellipsize(displayable(text, face), face, self.width)
        self.draw.text(((self.width - text_width(text, face)) // 2, y), text, font=face, fill=fill)
        return line_height(face)

    def bar(self, box: tuple[int, int, int, int], percent: int) -> None:
        left, top, right, bottom = box
        self.draw.rectangle(box, outline=ON, fill=OFF)
        filled = round((right - left - 2) * max(0, min(100, percent)) / 100)
        if filled:
            self.draw.rectangle((left + 1, top + 1, left + filled, bottom - 1), fill=ON)


@functools.lru_cache(maxsize=64)
def line_height(face: Font) -> int:
    ascent, descent = face.getmetrics() if isinstance(face, ImageFont.FreeTypeFont) else (10, 2)
    return ascent + descent


def qr_image(data: str, max_px: int) -> Image.Image | None:
    """The QR code at the largest module size whose quiet zone still fits ``max_px``.

    Dark modules on a lit quiet zone: an inverted code did not decode with zbar.
    The border is at least one module (two when it fits), not the standard four:
    measured to decode with zbar, and the OLED's black surround adds to it.
    """
    import segno

    code = segno.make(data, error="l", micro=False, boost_error=True)
    modules = code.symbol_size(scale=1, border=0)[0]
    for scale in range(max_px // modules, 0, -1):
        for border in (2, 1):
            side = modules + 2 * border
            if side * scale <= max_px:
                image = Image.new("1", (side, side), ON)  # one pixel per module, then scaled up
                for row, values in enumerate(code.matrix):
                    for col, dark in enumerate(values):
                        if dark:
                            image.putpixel((col + border, row + border), OFF)
                return image.resize((side * scale, side * scale), Image.Resampling.NEAREST)
    return None


def _split_code(code: str) -> list[str]:
    """ "BCDF-GHJK" -> ["BCDF", "GHJK"]; "abc123" -> ["abc", "123"]: two big lines beat one small."""
    if "-" in code:
        return [part for part in code.split("-") if part]
    if len(code) >= 6:
        half = (len(code) + 1) // 2
        return [code[:half], code[half:]]
    return [code]


def _url_lines(url: str, face: Font, width: int, most: int) -> list[str]:
    """Breaks a short URL before '/' or '.' so each piece fits; never drops characters silently."""
    lines: list[str] = []
    rest = url
    while rest and len(lines) < most:
        if text_width(rest, face) <= width or len(lines) == most - 1:
            lines.append(ellipsize(rest, face, width))
            break
        cut = len(rest)
        while cut > 1 and text_width(rest[:cut], face) > width:
            cut -= 1
        # Break before a slash or after a dot, so "example." and "/pair" stay whole.
        nicer = max(rest.rfind("/", 1, cut), rest.rfind(".", 1, cut - 1) + 1)
        cut = nicer if nicer > cut // 3 else cut
        lines.append(rest[:cut])
        rest = rest[cut:]
    return lines


def _pairing(c: Canvas, s: Screen) -> None:
    qr = qr_image(s.qr, c.height) if s.qr and c.height >= 48 else None
    left = c.width - (qr.width + 2 if qr else 0)
    if qr is not None:
        c.image.paste(qr, (c.width - qr.width, (c.height - qr.height) // 2))
    url = s.lines[0] if s.lines else ""
    small, url_rows = font("regular", 9), []
    if url:  # two rows of 9 px if the address fits them, else three of 8 px
        url_rows = _url_lines(url, small, left - 2, 2 if c.height >= 48 else 1)
        if c.height >= 48 and "".join(url_rows) != url:
            small = font("regular", 8)
            url_rows = _url_lines(url, small, left - 2, 3)
    code_box_h = c.height - len(url_rows) * line_height(small) - 2
    parts = _split_code(s.title) if c.height >= 48 else [s.title]
    face = largest_font(max(parts, key=len), "mono", left - 2, code_box_h // len(parts) - 2)
    y = max(0, (code_box_h - len(parts) * line_height(face)) // 2)
    for part in parts:
        width = text_width(part, face)
        c.draw.text(((left - width) // 2, y), part, font=face, fill=ON)
        y += line_height(face)
    y = c.height - len(url_rows) * line_height(small)
    for row in url_rows:
        c.text(((left - text_width(row, small)) // 2, y), row, small, width=left)
        y += line_height(small)


def _now_playing(c: Canvas, s: Screen, scroll_px: int) -> None:
    big = font("bold", 14 if c.height >= 48 else 12)
    small = font("regular", 11 if c.height >= 48 else 10)
    y = c.text((0, 0), s.title, big, scroll_px=scroll_px)
    for line in s.lines[:2] if c.height >= 48 else s.lines[:1]:
        y += c.text((0, y), line, small)
    if s.value is not None:
        bar_h = 7 if c.height >= 48 else 4
        c.bar((0, c.height - bar_h, c.width - 1, c.height - 1), s.value)


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
    title_face = font("bold", 12)
    body = font("regular", 11 if c.height >= 48 else 10)
    bar_h = line_height(title_face) + 1
    if error:  # an inverted title bar: trouble reads as trouble from across the room
        c.draw.rectangle((0, 0, c.width - 1, bar_h - 1), fill=ON)
        c.text((2, 0), s.title, title_face, fill=OFF, width=c.width - 4)
    else:
        c.text((0, 0), s.title, title_face)
    y = bar_h + 1
    room = (c.height - y) // line_height(body)
    for line in s.lines:  # each line of the message starts a row; long ones wrap
        rows = _wrap(line, body, c.width, room)
        for row in rows:
            y += c.text((0, y), row, body)
        room -= len(rows)
        if room <= 0:
            break


def _wrap(text: str, face: Font, width: int, most: int) -> list[str]:
    text = displayable(text, face)
    lines: list[str] = []
    words = text.split()
    while words and len(lines) < most:
        line = words.pop(0)
        while words and text_width(f"{line} {words[0]}", face) <= width:
            line = f"{line} {words.pop(0)}"
        lines.append(line)
    if words and lines:
        lines[-1] = ellipsize(lines[-1] + " " + " ".join(words), face, width)
    return lines


def _devices(c: Canvas, s: Screen) -> None:
    c.text((0, 0), s.title or "Speakers", font("bold", 12))
    face = font("regular", 10)
    y = line_height(font("bold", 12))
    for line in s.lines[: max(1, (c.height - y) // line_height(face))]:
        y += c.text((4, y), f"• {line}", face)


def _idle(c: Canvas, s: Screen, now: datetime) -> None:
    clock = now.strftime("%H:%M")
    big = largest_font("00:00", "bold", c.width - 8, c.height - (16 if c.height >= 48 else 0), top=36)
    c.centred(0 if c.height < 48 else 4, clock, big)
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
        _pairing(canvas, screen)
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
        qr="https://bridge.example.net/pair?code=BCDFGHJK",
    ),
    "pairing-spotify": Screen(
        "pairing", "abc123", ("spotify.com/pair",), qr="https://www.spotify.com/pair?code=abc123"
    ),
    "listening": Screen("listening"),
    "thinking": Screen("thinking"),
    "now_playing": Screen("now_playing", "Come Together", ("The Beatles", "Abbey Road"), value=42),
    "now_playing-long": Screen(
        "now_playing", "Sgt. Pepper's Lonely Hearts Club Band (Remastered 2009)", ("The Beatles",), value=7
    ),
    "now_playing-cjk": Screen("now_playing", "東京事変 — 群青日和", ("Björk", "Кино"), value=90),
    "volume": Screen("volume", "Volume", (), value=65),
    "volume-muted": Screen("volume", "Muted", (), value=0),
    "message": Screen("message", "Queued", ("So What", "Miles Davis")),
    "error": Screen("error", "Trouble", ("Can't reach Spotify. Is the internet down? I'll keep trying.",)),
    "devices": Screen("devices", "Speakers", ("Living Room", "Kitchen", "TV")),
    "idle": Screen("idle", "Maestro", ("Nothing playing",)),
}  # fmt: skip
SAMPLE_TIME = datetime(2026, 11, 28, 7, 45)
