"""The web app in a real headless Chromium (Debian's, driven by Playwright), against the running box
and the sandbox: pairing with the code the box says, the Now page kept up to date by events (no
reload), the Heard page, at phone and desktop width, with no script or style refused by the CSP."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from PIL import Image

if TYPE_CHECKING:
    from playwright.async_api import Page

from maestro.box.runtime import Runtime
from maestro.web.access import Access
from tests.box.test_display import zbar
from tests.live import LiveSandbox
from tests.web.box import HandReader, web_box

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (./dev installs it)"),
    pytest.mark.slow,
]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip
#: Where the screenshots go to be looked at (MAESTRO_SCREENSHOTS), else the test's own directory.
SHOTS = os.environ.get("MAESTRO_SCREENSHOTS")


async def pair_browser(page: Page, box: Runtime, url: str, shot: Path) -> None:
    """Pairs the page's browser with the code the box says."""
    await page.goto(url)
    assert page.url.endswith("/pair")
    await page.click("form[action='/pair/code'] button")
    said = next(line for line in reversed(box.speaker.history) if "code for your browser" in line)  # type: ignore[attr-defined]
    await page.screenshot(path=str(shot), full_page=True)
    await page.fill("#code", re.sub(r"\D", "", said))
    await page.click("form[action='/pair'] button")
    await page.wait_for_url(f"{url}/")


@pytest.mark.parametrize("width,height", [(390, 844), (1280, 800)], ids=["phone", "desktop"])
async def test_pair_then_watch_it_play(live: LiveSandbox, tmp_path: Path, width: int, height: int) -> None:
    from playwright.async_api import async_playwright

    shots = Path(SHOTS) if SHOTS else tmp_path
    token = Access(tmp_path).new_token("test")
    async with web_box(live, tmp_path) as (box, url), async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = await (await browser.new_context(viewport={"width": width, "height": height})).new_page()
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))

        await pair_browser(page, box, url, shots / f"pair-{width}.png")
        assert await page.text_content("[data-live='playing.title']") == "Nothing playing"

        # A command from elsewhere (a script): the open page follows without a reload.
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http:
            answer = await http.post("/api/command", json={"text": "play abbey road"})
        assert answer.status_code == 200
        await page.wait_for_selector("[data-live='playing.title']:has-text('Come Together')", timeout=5000)
        assert await page.text_content("[data-live='playing.speaker']") == "Kitchen"
        await page.screenshot(path=str(shots / f"now-{width}.png"), full_page=True)

        await page.click("nav >> text=Heard")
        await page.wait_for_selector("ol.heard li q:has-text('play abbey road')")
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http:
            await http.post("/api/command", json={"text": "what's playing"})  # while the page is open
        live_entry = "ol.heard li:first-child"
        await page.wait_for_selector(f'{live_entry} q:has-text("what\'s playing")')
        assert await page.text_content(f"{live_entry} summary") == "I meant…"  # correctable at once
        await page.goto(f"{url}/")
        await page.fill("#text", "pause")
        await page.click("form.command button")
        await page.wait_for_url(f"{url}/heard")
        first = await page.text_content("ol.heard li:first-child")
        assert first is not None and "pause" in first and "Pause" in first
        await page.screenshot(path=str(shots / f"heard-{width}.png"), full_page=True)

        # Not understood, then taught from the Heard page: understood from then on.
        await page.goto(f"{url}/")
        await page.fill("#text", "bin this tune")
        await page.click("form.command button")
        await page.wait_for_url(f"{url}/heard")
        await page.click("ol.heard li:first-child summary")
        await page.fill("ol.heard li:first-child input[name=meant]", "next song")
        await page.screenshot(path=str(shots / f"correct-{width}.png"), full_page=True)
        await page.click("ol.heard li:first-child form.correct button")
        assert "now means Next" in (await page.text_content("p.note") or "")

        # Taught by choosing: the intent from the list, the album searched in the library as typed.
        await page.goto(f"{url}/")
        await page.fill("#text", "stick on abbey road")
        await page.click("form.command button")
        await page.wait_for_url(f"{url}/heard")
        await page.click("ol.heard li:first-child summary")
        async with page.expect_navigation(wait_until="domcontentloaded"):  # its script listens by then
            await page.click("ol.heard li:first-child a.choose")
        await page.select_option("#intent", "PlayAlbum")  # the page moves on to its slots by itself
        await page.wait_for_selector("input[name='slot.album']")
        await page.locator("input[name='slot.album']").press_sequentially("abb", delay=30)
        first = "#names-album option:first-child[value='Abbey Road']"
        await page.wait_for_selector(first, state="attached")  # the names most like what is typed, offered
        await page.fill("input[name='slot.album']", "Abbey Road")
        await page.screenshot(path=str(shots / f"choose-{width}.png"), full_page=True)
        await page.click("form.correct button")
        assert "now means PlayAlbum" in (await page.text_content("p.note") or "")
        await page.click("nav >> text=Phrasings")
        assert await page.text_content("ol.heard li:last-child q") == "stick on {known_album:album}"
        assert await page.text_content("ol.heard li q") == "bin this tune"
        await page.screenshot(path=str(shots / f"phrasings-{width}.png"), full_page=True)
        for name in ("Cards", "Speakers", "Settings"):  # every page drawn, nothing refused by the CSP
            await page.click(f"nav >> text={name}")
            await page.wait_for_url(f"{url}/{name.lower()}")
            await page.screenshot(path=str(shots / f"{name.lower()}-{width}.png"), full_page=True)
        # A card gets what a search found on Spotify (not in the library), by a button.
        await page.click("nav >> text=Cards")
        await page.click("text=Add a card by its number")
        await page.fill("#find-uid", "04A1B2C3")
        await page.fill("#find-q", "ziggy stardust")
        await page.click("form[action='/cards/find'] button")
        await page.screenshot(path=str(shots / f"cards-found-{width}.png"), full_page=True)
        await page.click("section.found li:first-child button")
        assert "now plays The Rise and Fall of Ziggy Stardust (album)" in (
            await page.text_content("p.note") or ""
        )
        await page.click("nav >> text=Settings")
        await page.select_option("select[name='voice.engine']", "whisper")
        await page.click("form.settings button")
        assert "After Maestro restarts: Recogniser" in (await page.text_content("p.note") or "")
        await browser.close()
    assert live.snapshot()["playback"]["is_playing"] is False
    assert [reply.intent for _, reply in box.replies][-1] is None  # "bin this tune", before it was taught
    assert box.session.matcher.match("bin this tune").intent == "Next"
    assert box.session.matcher.match("stick on kind of blue").intent == "PlayAlbum"
    assert problems == []  # nothing refused by the CSP, no script error


async def test_sign_out_of_spotify_and_in_again_from_the_phone(
    live: LiveSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Settings: sign out; the code, the link and its QR code come up without a reload; the link
    opened and approved, the page says whose account the box is signed in to."""
    from playwright.async_api import async_playwright

    monkeypatch.setattr(live.state, "poll_interval", 1)  # the box asks every second whether it is approved
    shots = Path(SHOTS) if SHOTS else tmp_path
    async with web_box(live, tmp_path) as (box, url), async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = await browser.new_context(viewport={"width": 390, "height": 844})
        page = await context.new_page()
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        await pair_browser(page, box, url, shots / "pair-spotify.png")
        await page.click("nav >> text=Settings")
        await page.wait_for_selector("[data-live='account']:has-text('Sandbox User')")
        await page.click("text=Sign out of Spotify, or sign in as someone else")
        await page.click("form[action='/spotify/sign-out'] button")
        assert "Signed out of Spotify" in (await page.text_content("p.note") or "")
        panel = page.locator("section.account .spotify-pairing")
        await panel.wait_for(state="visible", timeout=10_000)  # the code arrives by the event stream
        code = await panel.locator("[data-live='pairing.code']").text_content()
        link = await panel.locator("a").get_attribute("href")
        assert code and link == f"{live.url}/pair?code={code}"
        qr = panel.locator("img.qr")
        await qr.evaluate("img => img.decode()")  # drawn (not a string evaluated in the page: CSP)
        await qr.screenshot(path=str(tmp_path / "qr-shot.png"))
        assert zbar(Image.open(tmp_path / "qr-shot.png"), tmp_path) == link  # a phone's camera reads it
        await page.screenshot(path=str(shots / "spotify-pairing.png"), full_page=True)

        async with context.expect_page() as opened:  # the link, tapped: Spotify's page in a new tab
            await panel.locator("a").click()
        spotify = await opened.value
        await spotify.click("button[value=approve]")
        await spotify.wait_for_selector("text=Device connected")
        await page.wait_for_selector("[data-live='account']:has-text('Sandbox User')", timeout=10_000)
        assert await panel.is_hidden()
        await page.screenshot(path=str(shots / "spotify-signed-in.png"), full_page=True)
        await browser.close()
    assert (tmp_path / "tokens.json").exists()
    assert problems == []


async def test_a_card_assigned_in_the_browser_plays_at_the_next_tap_and_settings_explain(
    live: LiveSandbox, tmp_path: Path
) -> None:
    """An unknown card tapped; the Cards page offers it; searched and put on the card in the
    browser; tapped again, it plays. A bad setting is explained, a good one in effect at once."""
    from playwright.async_api import async_playwright

    from maestro.nfc.cards import Cards
    from maestro.nfc.tags import TagStore

    shots = Path(SHOTS) if SHOTS else tmp_path
    reader = HandReader()
    cards = Cards(TagStore(tmp_path / "tags.yaml", in_use=True), window_s=0.5)
    async with (
        web_box(live, tmp_path, reader=reader, cards=cards) as (box, url),
        async_playwright() as playwright,
    ):
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = await (await browser.new_context(viewport={"width": 390, "height": 844})).new_page()
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        await pair_browser(page, box, url, tmp_path / "pair.png")

        reader.tap("04A1B2C3")
        await page.click("nav >> text=Cards")
        for _ in range(50):  # the tap reaches the box in a moment
            if await page.locator("section.unknown").count():
                break
            await page.wait_for_timeout(100)
            await page.reload()
        await page.fill("#find-unknown", "abbey road")
        await page.click("section.unknown form[action='/cards/find'] button")
        await page.screenshot(path=str(shots / "card-found.png"), full_page=True)
        await page.click("section.found li:first-child button")
        assert "Card 04A1B2C3 now plays Abbey Road (album)" in (await page.text_content("p.note") or "")
        await page.wait_for_timeout(600)  # past the second-tap window: the next tap is a new one
        reader.tap("04A1B2C3")
        await page.click("nav >> text=Now")
        await page.wait_for_selector("[data-live='playing.album']:has-text('Abbey Road')", timeout=10_000)

        await page.click("nav >> text=Settings")
        await page.fill("input[name='player.max_volume']", "loud")
        await page.click("form.settings button")
        error = await page.text_content("p.error") or ""
        assert error.startswith("Loudest volume (player.max_volume):") and "loud" in error  # explained
        assert await page.input_value("input[name='player.max_volume']") == "loud"  # as typed, to put right
        await page.screenshot(path=str(shots / "setting-bad.png"), full_page=True)
        await page.fill("input[name='player.max_volume']", "40")
        await page.click("form.settings button")
        assert "In effect now: Loudest volume" in (await page.text_content("p.note") or "")
        await browser.close()
    assert box.session.actions.max_volume == 40
    assert "max_volume = 40" in (tmp_path / "config.toml").read_text()
    assert live.snapshot()["playback"]["album_name"] == "Abbey Road"
    assert [r.intent for source, r in box.replies if source == "card"][-1] == "PlayCard"
    assert [p for p in problems if "status of 422" not in p] == []  # the bad value's page is a 422
