"""The OLED screens (golden images, a QR that decodes), the frame displays and their twins."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from maestro.cli import main
from maestro.config import DisplaySettings
from maestro.display import pairing_screen, screens, typeset
from maestro.display.devices import (
    BRIGHT,
    DIM,
    FrameDisplay,
    LumaSink,
    NullDisplay,
    PngSink,
    TerminalSink,
    make_display,
    to_blocks,
)
from maestro.display.screens import SAMPLE_TIME, SAMPLES, render
from maestro.errors import MaestroError
from maestro.messages import Screen
from tests.paths import GOLDEN
from tests.waiting import FakeClock, until

GOLDEN = GOLDEN / "display"
UPDATE = os.environ.get("MAESTRO_UPDATE_GOLDEN") == "1"  # regenerate after a deliberate design change


@pytest.mark.parametrize("size", [(128, 64), (128, 32)], ids=["128x64", "128x32"])
@pytest.mark.parametrize("name", list(SAMPLES))
def test_screen_matches_its_golden_image(name: str, size: tuple[int, int]) -> None:
    image = render(SAMPLES[name], size, now=SAMPLE_TIME)
    assert image.mode == "1" and image.size == size
    path = GOLDEN / f"{name}-{size[0]}x{size[1]}.png"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path)
    assert path.exists(), f"no golden image {path.name}: run with MAESTRO_UPDATE_GOLDEN=1 and look at it"
    golden = Image.open(path).convert("1")
    diff = ImageChops.difference(image.convert("L"), golden.convert("L"))
    changed = size[0] * size[1] - diff.histogram()[0]
    # A few pixels may move with another FreeType inside another Pillow; a layout change moves hundreds.
    assert changed <= size[0] * size[1] // 100, f"{name} at {size}: {changed} pixels differ from {path.name}"


def test_screens_draw_something_distinct() -> None:
    """Golden images only guard against change; this guards against blank or identical screens."""
    drawn = {name: render(screen, now=SAMPLE_TIME).tobytes() for name, screen in SAMPLES.items()}
    assert all(any(data) for data in drawn.values())
    assert len(set(drawn.values())) == len(drawn)


def zbar(image: Image.Image, tmp_path: Path) -> str:
    if shutil.which("zbarimg") is None:
        pytest.fail("zbarimg is missing: apt-get install zbar-tools (./dev setup does)")
    path = tmp_path / "qr.png"
    image.save(path)
    result = subprocess.run(["zbarimg", "-q", "--raw", str(path)], capture_output=True, text=True)
    return result.stdout.strip()


@pytest.mark.parametrize(
    "uri",
    [
        "https://bridge.example.net/pair?code=BCDFGHJK",
        "https://www.spotify.com/pair?code=abc123",
        "https://maestro-bridge.example-home.net/pair?user_code=BCDFGHJK&session=0123456789abcdef",
    ],
)
def test_pairing_qr_decodes_to_the_complete_uri_at_panel_resolution(uri: str, tmp_path: Path) -> None:
    image = render(Screen("pairing", "BCDF-GHJK", ("bridge.example.net/pair",), qr=uri))
    assert zbar(image, tmp_path) == uri  # 1 pixel per OLED pixel, no scaling up


def test_a_bridge_pairing_link_is_drawn_two_pixels_a_module_and_decodes(tmp_path: Path) -> None:
    """The bridge's short link in capitals (alphanumeric mode) fits version 3: 2 px a module on the
    64-pixel panel (the older link needed 37 modules at 1 px, about 6 mm on a 0.96" screen)."""
    from maestro.bridge.codes import new_link_secret
    from maestro.bridge.device import short_link

    for host in ("https://bridge.example.net", "https://maestro-bridge.example-home.net:8443"):
        link = short_link(host, "BCDFGHJK", new_link_secret())
        qr = pairing_screen.qr_image(link, 64)
        assert qr is not None and qr.width >= 2 * 29, (link, qr and qr.width)  # 29 modules, 2 px each
        image = render(Screen("pairing", "BCDF-GHJK", ("bridge.example.net/pair",), qr=link))
        assert zbar(image, tmp_path) == link


def test_qr_uses_the_largest_module_that_fits() -> None:
    short = pairing_screen.qr_image("https://x.io/p?c=ABCD", 64)
    longer = pairing_screen.qr_image(
        "https://maestro-bridge.example-home.net/pair?user_code=BCDFGHJK&s=" + "x" * 40, 64
    )
    assert short is not None and longer is not None
    assert short.width <= 64 and longer.width <= 64
    assert short.width / 25 >= 2  # v1/v2 at 2 px per module or more
    assert pairing_screen.qr_image("x" * 2000, 64) is None  # does not fit: no QR rather than a broken one


def test_pairing_on_a_32_pixel_panel_shows_the_code_without_a_qr() -> None:
    image = render(SAMPLES["pairing"], (128, 32))
    wide = render(Screen("pairing", "BCDF-GHJK", ("bridge.example.net/pair",)), (128, 32))
    assert image.tobytes() == wide.tobytes()


def test_the_code_gets_the_largest_type_that_fits() -> None:
    face = typeset.largest_font("BCDF", "mono", 60, 24)
    assert face.getbbox("BCDF")[2] <= 60
    assert typeset.font("mono", face.size + 1).getbbox("BCDF")[2] > 60 or face.size + 1 > 40


def test_code_glyphs_that_look_alike_are_drawn_apart() -> None:
    """Read from across a room: O/0 (the zero is slashed), I/1, S/5, B/8 must differ on the panel."""
    for pair in ("O0", "I1", "S5", "B8", "Z2"):
        first, second = (render(Screen("pairing", ch * 6, ("x.io/pair",)), (128, 32)) for ch in pair)
        diff = ImageChops.difference(first.convert("L"), second.convert("L"))
        assert 128 * 32 - diff.histogram()[0] >= 40, pair  # whole strokes apart, not a pixel or two


@pytest.mark.parametrize(
    ("url", "rows"),
    [
        ("127.0.0.1:8765/pair", ["127.0.0.1", ":8765/pair"]),  # never inside an IP address
        ("bridge.example.net/pair", ["bridge.", "example.net", "/pair"]),
        ("spotify.com/pair", ["spotify.com", "/pair"]),
    ],
)
def test_addresses_break_only_between_their_parts(url: str, rows: list[str]) -> None:
    face, lines = pairing_screen.address_rows(url, 60, 3)
    assert lines == rows and "".join(lines) == url
    assert face.size == 9  # a mono face: "rn" stays two letters


@pytest.mark.parametrize("url", ["spotify.com/pair", "127.0.0.1:8765/pair", "maestro.example-home.net/pair"])
def test_the_code_is_the_largest_thing_on_the_pairing_screen(url: str) -> None:
    for left, height in ((62, 64), (128, 32)):
        address, rows = pairing_screen.address_rows(url, left, 3 if height == 64 else 1)
        room = height - len(rows) * typeset.tight_rows(address)[1] - 2
        parts = ["4OBD", "R5X0"] if height == 64 else ["4OBD-R5X0"]
        face, ink = pairing_screen.code_face(parts, left, room, 2)
        assert face.size > address.size and ink >= 10, (url, height)


def test_small_screens_keep_what_matters() -> None:
    small = (128, 32)
    devices = render(Screen("devices", "Speakers", ("Living Room", "Kitchen", "Den TV"), selected=2), small)
    one = render(Screen("devices", "Speakers", ("Den TV",), selected=0), small)
    assert devices.crop((0, 12, 128, 32)).tobytes() != one.crop((0, 12, 128, 32)).tobytes()  # "+2 more" row
    assert screens._body_rows(("So What", "Miles Davis"), typeset.font("regular", 9), 128, 1) == [
        "So What · Miles Davis"
    ]  # one row left: the artist is kept, joined
    cut = typeset.ellipsize("Can't reach Spotify. Is the internet down?", typeset.font("regular", 9), 100)
    whole_words = ["Can't", "reach", "Spotify.", "Is", "the", "internet", "down?"]
    assert cut.endswith("…") and cut[:-1].split()[-1] in whole_words + [w.rstrip(".") for w in whole_words]
    paused = render(dataclasses.replace(SAMPLES["now_playing"], playing=False), small)
    assert paused.tobytes() != render(SAMPLES["now_playing"], small).tobytes()  # play/pause is shown


def test_non_latin_titles_fall_back_to_a_transliteration() -> None:
    face = typeset.font("bold", 14)
    assert typeset.displayable("東京事変", face) == "Dong Jing Shi Bian"
    assert typeset.displayable("Björk — Кино", face) == "Björk — Кино"  # DejaVu draws these itself
    assert typeset.displayable("🎵 Song", face).endswith("Song")


def test_long_titles_ellipsize_or_scroll() -> None:
    face = typeset.font("bold", 14)
    title = SAMPLES["now_playing-long"].title
    short = typeset.ellipsize(title, face, 128)
    assert short.endswith("…") and typeset.text_width(short, face) <= 128
    assert screens.scrolls(SAMPLES["now_playing-long"]) and not screens.scrolls(SAMPLES["now_playing"])
    still, moved = render(SAMPLES["now_playing-long"]), render(SAMPLES["now_playing-long"], scroll_px=30)
    top = (0, 0, 128, 16)
    assert still.crop(top).tobytes() != moved.crop(top).tobytes()
    assert still.crop((0, 20, 128, 64)).tobytes() == moved.crop((0, 20, 128, 64)).tobytes()  # only the title


def test_blocks_show_two_by_two_pixels_per_character() -> None:
    image = Image.new("1", (4, 2), 0)
    image.putpixel((0, 0), 1)
    image.putpixel((3, 1), 1)
    assert to_blocks(image) == ["▘▗"]
    assert len(to_blocks(render(SAMPLES["idle"], now=SAMPLE_TIME))) == 32


class GateSink(PngSink):
    """A PNG sink whose draw waits for the test: a slow I2C bus, made deterministic."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.gate = threading.Event()

    def draw(self, image: Image.Image, screen: Screen) -> None:
        self.gate.wait(5)
        super().draw(image, screen)


async def test_show_never_waits_for_the_panel_and_the_newest_screen_wins(tmp_path: Path) -> None:
    sink = GateSink(tmp_path)
    display = FrameDisplay(sink, dim_after_s=0)
    await display.show(SAMPLES["listening"])
    await asyncio.sleep(0.05)  # the worker is now stuck in draw
    for name in ("thinking", "volume", "now_playing"):
        await asyncio.wait_for(display.show(SAMPLES[name]), 0.05)  # returns although the panel is busy
    sink.gate.set()
    await display.flush()
    await display.aclose()
    assert [p.name for p in sink.frames] == ["0001-listening.png", "0002-now_playing.png"]
    assert Image.open(sink.frames[-1]).tobytes() == render(SAMPLES["now_playing"]).tobytes()


async def test_dims_when_idle_and_brightens_for_something_new(tmp_path: Path) -> None:
    sink = PngSink(tmp_path)
    clock = FakeClock()
    display = FrameDisplay(sink, dim_after_s=60, monotonic=clock)
    await display.show(SAMPLES["now_playing"])
    await display.flush()
    clock.advance(61)  # a minute on, with only the progress moving:
    await display.show(Screen("now_playing", "Come Together", ("The Beatles",), value=50))
    await until(lambda: display.dimmed)  # a progress tick is not activity
    assert sink.contrasts == [DIM]
    await display.show(SAMPLES["volume"])
    await display.flush()
    assert not display.dimmed and sink.contrasts == [DIM, BRIGHT]
    await display.aclose()


class BrokenSink(PngSink):
    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.failures = 2

    def draw(self, image: Image.Image, screen: Screen) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError(121, "Remote I/O error")  # what smbus says when the panel is unplugged
        super().draw(image, screen)


async def test_a_failing_panel_is_reported_once_and_retried(tmp_path: Path, caplog) -> None:
    sink = BrokenSink(tmp_path)
    display = FrameDisplay(sink, dim_after_s=0)
    for name in ("listening", "thinking", "volume"):
        await display.show(SAMPLES[name])
        await asyncio.sleep(0.05)
    await display.aclose()
    assert [p.name for p in sink.frames] == ["0001-volume.png"]
    assert sum("could not draw" in r.message for r in caplog.records) == 1


async def test_oled_drivers_draw_through_luma(tmp_path: Path) -> None:
    from luma.core.interface.serial import noop
    from luma.oled.device import sh1106, ssd1306

    for device_class in (ssd1306, sh1106):
        device = device_class(noop(), width=128, height=64)
        drawn: list[Image.Image] = []
        device.display = drawn.append  # keep the frame luma would send over I2C
        display = FrameDisplay(LumaSink.on(device), animate=True, dim_after_s=0)
        await display.show(SAMPLES["now_playing-long"])
        await asyncio.sleep(0.35)  # long title: the OLED scrolls it
        await display.aclose()
        assert len(drawn) >= 3 and drawn[0].size == (128, 64)
        assert drawn[0].tobytes() != drawn[-1].tobytes()


def test_missing_panel_says_how_to_fix_it() -> None:
    with pytest.raises(MaestroError, match=r"No OLED at I2C port 99.*i2cdetect"):
        make_display(DisplaySettings(driver="ssd1306", i2c_port=99))


def test_missing_luma_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "luma.oled.device", None)
    with pytest.raises(MaestroError, match=r"maestro-remote\[oled\]"):
        make_display(DisplaySettings(driver="sh1106"))


def test_make_display_choices(tmp_path: Path) -> None:
    assert isinstance(make_display(DisplaySettings(driver="none")), NullDisplay)
    png = make_display(DisplaySettings(driver="png", png_dir=str(tmp_path), height=32))
    assert isinstance(png, FrameDisplay) and png.size == (128, 32)
    with pytest.raises(MaestroError, match="png_dir"):
        make_display(DisplaySettings(driver="png"))
    with pytest.raises(MaestroError, match="64 or 32"):
        make_display(DisplaySettings(driver="terminal", height=48))


def test_terminal_twin_draws_blocks_and_the_words(tmp_path: Path) -> None:
    out = io.StringIO()
    TerminalSink(out).draw(render(SAMPLES["now_playing"]), SAMPLES["now_playing"])
    rows = out.getvalue().splitlines()
    assert len(rows) == 32 + 3 and all(len(row) == 66 for row in rows[:-1])
    assert rows[-1].strip() == "Come Together · The Beatles · Abbey Road"


def test_display_preview_writes_the_screen(tmp_path: Path, capsys) -> None:
    path = tmp_path / "pairing.png"
    assert main(["display", "preview", "pairing", "--png", str(path)]) == 0
    assert Image.open(path).convert("1").tobytes() == render(SAMPLES["pairing"]).tobytes()
    assert main(["display", "preview", "volume", "--png", str(path), "--size", "128x32", "--scale", "4"]) == 0
    assert Image.open(path).size == (512, 128)
    assert main(["display", "preview", "nothing"]) == 2
    assert "Screens: pairing" in capsys.readouterr().err
