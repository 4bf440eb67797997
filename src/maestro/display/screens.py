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
import re
from datetime import datetime
from pathlib import Path

from anyascii import anyascii
from PIL import Image, ImageDraw, ImageFont

from maestro.messages import Screen

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
SIZES = ((128, 64), (128, 32))
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_FILES = {
    "regular": "DejaVuSans.ttf",
    "bold": "DejaVuSans-Bold.ttf",
    "mono": "DejaVuSansMono-Bold.ttf",
    # Addresses: in a proportional face without anti-aliasing "rn" fuses into "m" ("intemet").
    "mono-regular": "DejaVuSansMono.ttf",
}
ON, OFF = 1, 0  # lit and dark pixels
MARQUEE_GAP = 24  # pixels between the end of a scrolling title and its next start


@functools.lru_cache(maxsize=64)
def font(style: str, size: int) -> Font:
    try:
        # BASIC layout: whole-pixel advances per glyph. Raqm's fractional positions, rounded again
        # for 1-bit pixels, opened gaps inside words ("Com e Together", "pai r").
        return ImageFont.truetype(
            str(FONT_DIR / FONT_FILES[style]), size, layout_engine=ImageFont.Layout.BASIC
        )
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
    """The text cut to ``width`` with "…": at a word boundary when one leaves most of the row."""
    if text_width(text, face) <= width:
        return text
    cut = text
    while cut and text_width(cut + "…", face) > width:
        cut = cut[:-1]
    words = cut.rsplit(" ", 1)[0].rstrip(" ,;:·—-")
    if " " in cut and text_width(words, face) >= width * 0.6:
        cut = words  # "Can't reach Spotify…", not "Can't reach Spotify. Is th…"
    return cut.rstrip() + "…"


@functools.lru_cache(maxsize=64)
def tight_rows(face: Font) -> tuple[int, int]:
    """(offset, step) to stack rows of ``face`` without its built-in leading: on a 32-px panel
    those few pixels are another row. Draw at ``y - offset``; the next row is ``step`` lower."""
    top = face.getbbox("H")[1] if isinstance(face, ImageFont.FreeTypeFont) else 0
    bottom = face.getbbox("gjpqy")[3]
    return max(0, top), bottom - max(0, top) + 1


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


_URL_BREAKS = re.compile(r"(?=[/:?])|(?<=[.-])")
_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}")


def _url_pieces(url: str) -> list[str]:
    """Where a short address may break: before "/", ":" or "?", after a dot or dash of a host name
    (not inside an IP address): "bridge.example.net/pair" -> ["bridge.", "example.", "net", "/pair"]."""
    ip = _IPV4.match(url)
    head, rest = (ip.group(0), url[ip.end() :]) if ip else ("", url)
    pieces = [piece for piece in _URL_BREAKS.split(rest) if piece]
    if head:
        pieces = [head, *pieces] if not pieces or pieces[0][0] in "/:?" else [head + pieces[0], *pieces[1:]]
    return pieces


def _url_lines(url: str, face: Font, width: int, most: int) -> list[str] | None:
    """The address in at most ``most`` rows, broken only between pieces; None when it won't fit."""
    lines: list[str] = []
    for piece in _url_pieces(url):
        if lines and text_width(lines[-1] + piece, face) <= width:
            lines[-1] += piece
        elif text_width(piece, face) <= width and len(lines) < most:
            lines.append(piece)
        else:
            return None
    return lines


def _address_rows(url: str, width: int, most: int) -> tuple[Font, list[str]]:
    """The largest mono face (9 px, then 8) in which the address fits ``most`` rows, else cut."""
    for size in (9, 8):
        face = font("mono-regular", size)
        lines = _url_lines(url, face, width, most)
        if lines is not None:
            return face, lines
    face = font("mono-regular", 8)
    return face, [ellipsize(url, face, width)]


def _code_text(c: Canvas, xy: tuple[int, int], text: str, face: Font) -> None:
    """The code, its zeros slashed: read from across a room, "40BD" must not look like "4OBD"."""
    x, y = xy
    for char in text:
        c.draw.text((x, y), char, font=face, fill=ON)
        if char == "0":
            left, top, right, bottom = face.getbbox("0")
            c.draw.line((x + right - 2, y + top + 2, x + left + 1, y + bottom - 3), fill=ON, width=2)
        x += math.ceil(face.getlength(char))


def code_face(parts: list[str], width: int, height: int, gap: int) -> tuple[Font, int]:
    """The largest mono face in which the code's lines fit by their ink (not their line boxes):
    the code is the largest thing on the pairing screen. Returns the face and one line's ink height."""
    face, ink_h = font("mono", 10), 0
    for size in range(40, 9, -1):
        face = font("mono", size)
        top, bottom = min(face.getbbox(p)[1] for p in parts), max(face.getbbox(p)[3] for p in parts)
        ink_h = bottom - top
        wide = max(text_width(part, face) for part in parts)
        if wide <= width and len(parts) * ink_h + (len(parts) - 1) * gap <= height:
            break
    return face, ink_h


def _pairing(c: Canvas, s: Screen) -> None:
    qr = qr_image(s.qr, c.height) if s.qr and c.height >= 48 else None
    left = c.width - (qr.width + 2 if qr else 0)
    if qr is not None:
        c.image.paste(qr, (c.width - qr.width, (c.height - qr.height) // 2))
    url = s.lines[0] if s.lines else ""
    small, url_rows = font("mono-regular", 9), []
    if url:
        small, url_rows = _address_rows(url, left - 2, 3 if c.height >= 48 else 1)
    offset, step = tight_rows(small)
    code_box_h = c.height - len(url_rows) * step - 2
    parts = _split_code(s.title) if c.height >= 48 else [s.title]
    gap = 2
    face, ink_h = code_face(parts, left - 2, code_box_h, gap)
    y = max(0, (code_box_h - len(parts) * ink_h - (len(parts) - 1) * gap) // 2)
    for part in parts:
        _code_text(c, ((left - text_width(part, face)) // 2, y - face.getbbox(part)[1]), part, face)
        y += ink_h + gap
    y = c.height - len(url_rows) * step
    for row in url_rows:
        c.draw.text(((left - text_width(row, small)) // 2, y - offset), row, font=small, fill=ON)
        y += step


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
    rows = [row for line in lines for row in _wrap(line, face, width, len(line))]
    if len(rows) <= room:
        return rows
    return _wrap(" · ".join(line for line in lines if line), face, width, room)


def _wrap(text: str, face: Font, width: int, most: int) -> list[str]:
    text = displayable(text, face)
    lines: list[str] = []
    words = text.split()
    while words and len(lines) < most:
        line = words.pop(0)
        while words and text_width(f"{line} {words[0]}", face) <= width:
            line = f"{line} {words.pop(0)}"
        lines.append(ellipsize(line, face, width))
    if words and lines:
        lines[-1] = ellipsize(lines[-1] + " " + " ".join(words), face, width)
    return lines


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
