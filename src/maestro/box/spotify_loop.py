"""The daemon's Spotify loop: signs in when there is no sign-in (and again when Spotify ends one),
then looks at what is playing (every ``poll_s`` while the screen is lit, less often once it has
dimmed) and keeps the display on it; runs the sleep timer; saves what a full disk held back."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from maestro.box.commands import Commands
from maestro.box.state import BoxParts
from maestro.box.troubles import Troubles
from maestro.ducking import Ducker
from maestro.errors import MaestroError, NotPairedError, RestrictedError, SignInExpiredError
from maestro.messages import Reply, Screen, now_playing_screen
from maestro.session import DAEMON_NOT_PAIRED
from maestro.spotify.client import deadline

log = logging.getLogger(__name__)

DIMMED_POLL_S = 15.0
SIGN_IN_ENDED = "Spotify ended Maestro's sign-in, so let's pair again: the code is coming up on my screen."


class SpotifyLoop:
    def __init__(
        self,
        box: BoxParts,
        *,
        troubles: Troubles,
        commands: Commands,
        ducker: Ducker,
        poll_s: float,
        pair_retry_s: float,
    ) -> None:
        self.box = box
        self.troubles = troubles
        self.commands = commands
        self.ducker = ducker
        self.poll_s = poll_s
        self.pair_retry_s = pair_retry_s

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                signed_in = self.box.session.tokens.tokens is not None
            except MaestroError as exc:  # tokens.json unreadable (owner, mode): said, retried
                await self.troubles.report(str(exc))
                await _wait(stop, self.pair_retry_s)
                continue
            if not signed_in:
                await self.pair(stop)
                continue
            try:
                await self.tick()
                await self.keep_files()
                if not self.box.state.listening and not self.commands.busy:
                    await self.ducker.restore()  # killed while ducked, or a restore that failed: now
            except (NotPairedError, SignInExpiredError) as exc:
                # The daemon pairs by itself: no "run maestro pair" here.
                expired = isinstance(exc, SignInExpiredError)
                await self.troubles.report(SIGN_IN_ENDED if expired else DAEMON_NOT_PAIRED)
                self.box.session.tokens.clear()
                continue
            except MaestroError as exc:  # network loss, Spotify trouble: say so once, keep going
                await self.troubles.report(str(exc))
            try:
                timer_left = await self.sleep_timer()
            except MaestroError as exc:
                await self.troubles.report(str(exc))
                timer_left = None
            await self._until_next_look(stop, timer_left)

    async def _until_next_look(self, stop: asyncio.Event, timer_left: float | None) -> None:
        wait_s = DIMMED_POLL_S if getattr(self.box.display, "dimmed", False) else self.poll_s
        if timer_left is not None:
            wait_s = min(wait_s, timer_left)  # wake for the timer, not at the next poll after it
        poke = self.box.state.poke
        poke.clear()
        waits = [asyncio.create_task(stop.wait()), asyncio.create_task(poke.wait())]
        try:
            await asyncio.wait(waits, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()

    async def pair(self, stop: asyncio.Event) -> None:
        box = self.box
        pairing = asyncio.create_task(
            box.session.pair(box.speaker, box.display, print_line=box.print_line, on_code=box.tell_pairing)
        )
        stopping = asyncio.create_task(stop.wait())
        try:
            with self.box.state.activity.during("pairing"):
                await asyncio.wait({pairing, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pairing, stopping):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, MaestroError):
                    await task
        if not pairing.done() or pairing.cancelled():
            return
        if pairing.exception() is None:
            await self.box.session.ensure_library()
            return
        # Could not pair (offline, not allowlisted, declined): it was said; try again later.
        self.troubles.remember("spotify", str(pairing.exception()))
        await _wait(stop, self.pair_retry_s)

    async def tick(self) -> None:
        """One look at Spotify: show what is playing when it changed."""
        self.box.session.library.refresh_in_background()
        with deadline():
            playing = await self.box.session.player.state()
        await self.troubles.resolved("spotify", "Spotify is back.")
        for watch in self.box.playing_watchers:
            await watch(playing)
        if playing is None or playing.item is None:
            screen = Screen("idle", "Maestro", ("Nothing playing",))
        else:
            screen = now_playing_screen(playing)
        state = self.box.state
        if state.listening or self.commands.busy or time.monotonic() < state.hold_until:
            return  # the listening screen or a reply is up: now playing can wait
        if screen != state.shown:
            state.shown = screen
            await self.box.display.show(screen)

    async def keep_files(self) -> None:
        """What could not be written (a full disk: the sign-in, the player memory) is written again;
        said once while it cannot be, and "back" when it is."""
        tokens, memory = self.box.session.tokens, self.box.session.player.memory
        tokens.retry_save()
        if memory.unsaved:
            memory.save()
        if tokens.unsaved or memory.unsaved:
            where = self.box.session.state_dir
            await self.troubles.report(f"I can't save my settings: the disk holding {where} is full. I'll "
                                       "keep working and save them when there is room.", "disk")  # fmt: skip
        else:
            await self.troubles.resolved("disk", "My settings are saved again.")

    async def sleep_timer(self) -> float | None:
        """Pauses when the sleep timer (player.json, set by voice or `maestro say`) runs out, and says so
        once; returns the seconds left, or None when no timer runs."""
        memory = self.box.session.player.memory
        memory.reload_if_changed()
        if not memory.sleep_at:
            return None
        left = memory.sleep_at - self.box.session.actions.clock()
        if left > 0:
            return left
        device = memory.sleep_device or None
        memory.sleep_at, memory.sleep_device = 0.0, ""
        memory.save()  # once, whatever happens next: a timer that fails must not fire every poll
        reply = await self.commands.run("sleep timer", lambda: self._sleep_pause(device))
        log.info("sleep timer: %s", reply.speech)
        return None

    async def _sleep_pause(self, device_id: str | None) -> Reply:
        try:
            with deadline():
                await self.box.session.player.pause(device_id)
        except RestrictedError:
            pass  # already paused: the timer's work is done
        screen = Screen("message", "Sleep timer", ("Paused",))
        return Reply("Sleep timer: the music is paused. Good night.", screen)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    """Until ``stop`` or ``seconds``, whichever comes first."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
