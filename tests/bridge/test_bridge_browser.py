"""The bridge end to end in a real headless Chromium (Debian's, driven by Playwright).

The box runs Maestro's own device-flow client against the bridge; the "phone"
is Chromium: it opens the link (or types the code), confirms, agrees on the
sandbox's Spotify page, and comes back through /callback (or pastes the address
in local mode). The box's poll then gets tokens that work on the Web API, and a
refresh through the bridge works.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from maestro import config
from maestro.bridge.app import BridgeConfig, create_app
from maestro.bridge.sqlite_store import SQLiteStore
from maestro.display.devices import NullDisplay
from maestro.intents.spec import default_intents_path
from maestro.serving import serve_in_thread
from maestro.session import Session
from maestro.voice.tts import SilentSpeaker
from tests.live import LiveSandbox, free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="needs Debian's chromium (apt-get install chromium; ./dev installs it)",
)
CLIENT = "my-spotify-app"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


@contextlib.contextmanager
def bridge_server(live: LiveSandbox, tmp_path: Path, **options: object) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    bridge_config = BridgeConfig(client_id=CLIENT, base_url=base, accounts_url=live.url, **options)  # type: ignore[arg-type]
    app = create_app(bridge_config, SQLiteStore(tmp_path / "bridge.sqlite3"))
    # Register the bridge's callback with "Spotify" (a loopback URI without a port matches any port).
    live.state.redirect_uris = (*live.state.redirect_uris, "http://127.0.0.1/callback")
    with serve_in_thread(app, port):
        yield base


async def pair_with_browser(live: LiveSandbox, tmp_path: Path, base: str, browse) -> tuple[str, Session]:
    from playwright.async_api import async_playwright

    settings = config.load({**live.env(tmp_path), "MAESTRO_SPOTIFY_CLIENT_ID": CLIENT})
    session = Session.open(settings, state_dir=tmp_path, intents=default_intents_path())
    links: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    lines: dict[str, str] = {}

    def print_line(line: str) -> None:
        key, _, value = line.partition(": ")
        lines[key] = value
        if key == "Open":
            links.put_nowait((lines["Code"], value))

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = await (await browser.new_context()).new_page()

        async def phone() -> None:
            code, link = await links.get()
            await browse(page, code, link)

        pairing = asyncio.create_task(
            session.pair(SilentSpeaker(), NullDisplay(), bridge_url=base, print_line=print_line)
        )
        await asyncio.wait_for(phone(), timeout=60)
        name = await asyncio.wait_for(pairing, timeout=60)
        await browser.close()
    return name, session


async def confirm_and_agree(page) -> None:
    assert "in front of you" in await page.content()
    await page.click("text=Continue to Spotify")
    await page.wait_for_url("**/authorize?**")
    await page.click("button[value=approve]")  # the sandbox's "Agree"


@pytest.mark.slow
async def test_link_confirm_agree_tokens_refresh(live: LiveSandbox, tmp_path: Path) -> None:
    with bridge_server(live, tmp_path, interval_s=1) as base:

        async def browse(page, code: str, link: str) -> None:
            await page.goto(link)
            await confirm_and_agree(page)
            await page.wait_for_selector("text=Done — you can close this page")

        name, session = await pair_with_browser(live, tmp_path, base, browse)
        try:
            assert name == "Sandbox User"
            tokens = session.tokens.tokens
            assert tokens is not None and tokens.token_url == f"{base}/token"
            devices = await session.player.devices()
            assert {d.name for d in devices} >= {"Living Room", "Kitchen"}
            new_access = await session.tokens.refresh(tokens.access_token)  # through the bridge
            assert new_access != tokens.access_token
            assert (await session.player.me())["id"] == "sandbox-user"
        finally:
            await session.aclose()


@pytest.mark.slow
async def test_code_typed_by_hand(live: LiveSandbox, tmp_path: Path) -> None:
    with bridge_server(live, tmp_path, interval_s=1) as base:

        async def browse(page, code: str, link: str) -> None:
            await page.goto(f"{base}/pair")
            await page.fill("#code", code.lower().replace("-", " "))
            await page.click("text=Continue")
            await confirm_and_agree(page)
            await page.wait_for_selector("text=Done")

        name, session = await pair_with_browser(live, tmp_path, base, browse)
        await session.aclose()
        assert name == "Sandbox User"


@pytest.mark.slow
async def test_local_mode_paste_back(live: LiveSandbox, tmp_path: Path) -> None:
    nowhere = free_port()  # the phone's own 127.0.0.1: nothing answers there
    with bridge_server(live, tmp_path, interval_s=1, mode="local",
                       local_redirect_uri=f"http://127.0.0.1:{nowhere}/callback") as base:  # fmt: skip

        async def browse(page, code: str, link: str) -> None:
            await page.goto(link)
            prefix = f"http://127.0.0.1:{nowhere}/callback?"
            # Loading that address fails on the "phone"; the address bar still shows it.
            async with page.expect_event("requestfailed", lambda r: r.url.startswith(prefix)) as failed:
                await confirm_and_agree(page)
            landed = (await failed.value).url
            tab = await page.context.new_page()  # the user copies the address into a new tab
            await tab.goto(f"{base}/pair/paste")
            await tab.fill("#url", landed)
            async with tab.expect_navigation():
                await tab.click("button:has-text('Finish')")
            assert "Done — you can close this page" in await tab.content()

        name, session = await pair_with_browser(live, tmp_path, base, browse)
        await session.aclose()
        assert name == "Sandbox User"
