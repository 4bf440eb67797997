"""The web app in a real headless Chromium (Debian's, driven by Playwright), against the running box
and the sandbox: pairing with the code the box says, the Now page kept up to date by events (no
reload), the Heard page, at phone and desktop width, with no script or style refused by the CSP."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import httpx
import pytest

from maestro.web.access import Access
from tests.live import LiveSandbox
from tests.web.box import web_box

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (./dev installs it)"),
    pytest.mark.slow,
]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip
#: Where the screenshots go to be looked at (MAESTRO_SCREENSHOTS), else the test's own directory.
SHOTS = os.environ.get("MAESTRO_SCREENSHOTS")


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

        await page.goto(url)
        assert page.url.endswith("/pair")
        await page.click("form[action='/pair/code'] button")
        said = next(line for line in reversed(box.speaker.history) if "code for your browser" in line)  # type: ignore[attr-defined]
        await page.screenshot(path=str(shots / f"pair-{width}.png"), full_page=True)
        await page.fill("#code", re.sub(r"\D", "", said))
        await page.click("form[action='/pair'] button")
        await page.wait_for_url(f"{url}/")
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
        await page.click("nav >> text=Phrasings")
        assert await page.text_content("ol.heard li q") == "bin this tune"
        await page.screenshot(path=str(shots / f"phrasings-{width}.png"), full_page=True)
        for name in ("Cards", "Speakers", "Settings"):  # every page drawn, nothing refused by the CSP
            await page.click(f"nav >> text={name}")
            await page.wait_for_url(f"{url}/{name.lower()}")
            await page.screenshot(path=str(shots / f"{name.lower()}-{width}.png"), full_page=True)
        await page.select_option("select[name='voice.engine']", "whisper")
        await page.click("form.settings button")
        assert "After Maestro restarts: Recogniser" in (await page.text_content("p.note") or "")
        await browser.close()
    assert live.snapshot()["playback"]["is_playing"] is False
    assert [reply.intent for _, reply in box.replies][-1] is None  # "bin this tune", before it was taught
    assert box.session.matcher.match("bin this tune").intent == "Next"
    assert problems == []  # nothing refused by the CSP, no script error
