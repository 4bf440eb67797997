"""Type and drawing for the 1-bit screens: DejaVu fonts without anti-aliasing, text that fits
(ellipsized, wrapped, transliterated where the font lacks a glyph), and a canvas with the few
moves the screens make."""

from __future__ import annotations

import functools
import math
from pathlib import Path

from anyascii import anyascii
from PIL import Image, ImageDraw, ImageFont

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
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


def wrap(text: str, face: Font, width: int, most: int) -> list[str]:
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
