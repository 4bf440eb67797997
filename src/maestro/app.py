"""The runtime behind `maestro run`: one asyncio loop wiring sign-in, Spotify and the outputs.

Today it signs in by itself when there is no sign-in (and again when Spotify
ends one), keeps the display on what is playing, reports trouble once (spoken
and on screen) instead of on every poll, and stops cleanly on SIGTERM. The
inputs (microphone, NFC reader) plug in here with the voice and daemon issues.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from maestro.display.devices import Display
from maestro.errors import MaestroError, NotPairedError, SignInExpiredError
from maestro.messages import Screen
from maestro.session import Session
from maestro.voice.tts import Speaker

log = logging.getLogger(__name__)


class Runtime:
    def __init__(
        self,
        session: Session,
        speaker: Speaker,
        display: Display,
        *,
        poll_s: float = 5.0,
        pair_retry_s: float = 30.0,
        print_line: Callable[[str], None] = print,
    ) -> None:
        self.session = session
        self.speaker = speaker
        self.display = display
        self.poll_s = poll_s
        self.pair_retry_s = pair_retry_s
        self.print_line = print_line
        self._shown: Screen | None = None
        self._trouble: str | None = None

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if self.session.tokens.tokens is None:
                await self._pair(stop)
                continue
            try:
                await self.tick()
            except (NotPairedError, SignInExpiredError) as exc:
                await self.report(str(exc))
                self.session.tokens.clear()
                continue
            except MaestroError as exc:  # network loss, Spotify trouble: say so once, keep going
                await self.report(str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.poll_s)

    async def _pair(self, stop: asyncio.Event) -> None:
        pairing = asyncio.create_task(
            self.session.pair(self.speaker, self.display, print_line=self.print_line)
        )
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({pairing, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pairing, stopping):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, MaestroError):
                    await task
        if not pairing.done() or pairing.cancelled():
            return
        if pairing.exception() is None:
            await self.session.ensure_library()
            return
        # Could not pair (offline, not allowlisted, declined): it was said; try again later.
        self._trouble = str(pairing.exception())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=self.pair_retry_s)

    async def tick(self) -> None:
        """One look at Spotify: show what is playing when it changed."""
        self.session.library.refresh_in_background()
        state = await self.session.player.state()
        if self._trouble is not None:
            self._trouble = None
            await self.speaker.say("Spotify is back.")
        if state is None or state.item is None:
            screen = Screen("idle", "Maestro", ("Nothing playing",))
        else:
            item = state.item
            progress = int(100 * state.progress_ms / item.duration_ms) if item.duration_ms else None
            screen = Screen("now_playing", item.name, (item.artist, item.album), value=progress)
        if screen != self._shown:
            self._shown = screen
            await self.display.show(screen)

    async def report(self, message: str) -> None:
        if message == self._trouble:
            return  # once per trouble, not once per poll
        self._trouble = message
        log.warning("%s", message)
        await self.display.show(Screen("error", "Trouble", (message,)))
        await self.speaker.say(message)
