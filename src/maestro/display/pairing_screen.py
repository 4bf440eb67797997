"""The pairing screen: the code as large as it fits (zeros slashed), the address beneath it, and
a QR code of the link beside them on a 64-px panel."""

from __future__ import annotations

import math
import re

from PIL import Image

from maestro.display.typeset import OFF, ON, Canvas, Font, ellipsize, font, text_width, tight_rows
from maestro.messages import Screen


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


def split_code(code: str) -> list[str]:
    """ "BCDF-GHJK" -> ["BCDF", "GHJK"]; "abc123" -> ["abc", "123"]: two big lines beat one small."""
    if "-" in code:
        return [part for part in code.split("-") if part]
    if len(code) >= 6:
        half = (len(code) + 1) // 2
        return [code[:half], code[half:]]
    return [code]


_URL_BREAKS = re.compile(r"(?=[/:?])|(?<=[.-])")
_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}")


def url_pieces(url: str) -> list[str]:
    """Where a short address may break: before "/", ":" or "?", after a dot or dash of a host name
    (not inside an IP address): "bridge.example.net/pair" -> ["bridge.", "example.", "net", "/pair"]."""
    ip = _IPV4.match(url)
    head, rest = (ip.group(0), url[ip.end() :]) if ip else ("", url)
    pieces = [piece for piece in _URL_BREAKS.split(rest) if piece]
    if head:
        pieces = [head, *pieces] if not pieces or pieces[0][0] in "/:?" else [head + pieces[0], *pieces[1:]]
    return pieces


def url_lines(url: str, face: Font, width: int, most: int) -> list[str] | None:
    """The address in at most ``most`` rows, broken only between pieces; None when it won't fit."""
    lines: list[str] = []
    for piece in url_pieces(url):
        if lines and text_width(lines[-1] + piece, face) <= width:
            lines[-1] += piece
        elif text_width(piece, face) <= width and len(lines) < most:
            lines.append(piece)
        else:
            return None
    return lines


def address_rows(url: str, width: int, most: int) -> tuple[Font, list[str]]:
    """The largest mono face (9 px, then 8) in which the address fits ``most`` rows, else cut."""
    for size in (9, 8):
        face = font("mono-regular", size)
        lines = url_lines(url, face, width, most)
        if lines is not None:
            return face, lines
    face = font("mono-regular", 8)
    return face, [ellipsize(url, face, width)]


def code_text(c: Canvas, xy: tuple[int, int], text: str, face: Font) -> None:
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


def draw_pairing(c: Canvas, s: Screen) -> None:
    qr = qr_image(s.qr, c.height) if s.qr and c.height >= 48 else None
    left = c.width - (qr.width + 2 if qr else 0)
    if qr is not None:
        c.image.paste(qr, (c.width - qr.width, (c.height - qr.height) // 2))
    url = s.lines[0] if s.lines else ""
    small, url_rows = font("mono-regular", 9), []
    if url:
        small, url_rows = address_rows(url, left - 2, 3 if c.height >= 48 else 1)
    offset, step = tight_rows(small)
    code_box_h = c.height - len(url_rows) * step - 2
    parts = split_code(s.title) if c.height >= 48 else [s.title]
    gap = 2
    face, ink_h = code_face(parts, left - 2, code_box_h, gap)
    y = max(0, (code_box_h - len(parts) * ink_h - (len(parts) - 1) * gap) // 2)
    for part in parts:
        code_text(c, ((left - text_width(part, face)) // 2, y - face.getbbox(part)[1]), part, face)
        y += ink_h + gap
    y = c.height - len(url_rows) * step
    for row in url_rows:
        c.draw.text(((left - text_width(row, small)) // 2, y - offset), row, font=small, fill=ON)
        y += step
