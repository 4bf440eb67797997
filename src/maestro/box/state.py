"""What the daemon's loops share: the session and the outputs (:class:`BoxParts`), what the screen
shows and why, and the work left running."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from maestro.auth.device_flow import DeviceAuthorization
from maestro.box.activity import Activity
from maestro.display.devices import Display
from maestro.messages import Screen
from maestro.session import Session
from maestro.spotify.player import PlaybackState
from maestro.voice.tts import Speaker

log = logging.getLogger(__name__)


@dataclass
class BoxState:
    """One box's moment-to-moment state, written by the loops and read by the others."""

    #: The screen now up (the last look at Spotify or the last reply).
    shown: Screen | None = None
    #: The last reply asked a question ("Which speaker?"): the answer needs no wake phrase.
    answer_wanted: bool = False
    #: A reply stays on screen until this time (time.monotonic()).
    hold_until: float = 0.0
    #: Set after a command: look at Spotify now, not at the next poll.
    poke: asyncio.Event = field(default_factory=asyncio.Event)
    #: What the box is doing, in one word (Home Assistant's box-state sensor).
    activity: Activity = field(default_factory=Activity)

    @property
    def listening(self) -> bool:
        """Between the wake phrase and the end of the command: the listening screen stays up."""
        return self.activity.has("listening")

    @listening.setter
    def listening(self, on: bool) -> None:
        self.activity.set("listening", on)


class Background:
    """Work started and not waited for (an earcon, a duck, a voice command): failures logged, every
    task cancelled at stop, and ``settle`` for those who do want to wait."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()

    def start(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self._finished)

    async def settle(self) -> None:
        while self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background work failed", exc_info=task.exception())


@dataclass
class BoxParts:
    """What every loop of the running box works with: the Spotify side, the outputs, the shared
    state and the work left running."""

    session: Session
    speaker: Speaker
    display: Display
    print_line: Callable[[str], None]
    state: BoxState = field(default_factory=BoxState)
    background: Background = field(default_factory=Background)
    #: Told of each look at Spotify (Home Assistant): what is playing, or None.
    playing_watchers: list[Callable[[PlaybackState | None], Awaitable[None]]] = field(default_factory=list)
    #: Told of each Spotify pairing code while the box pairs, and of the end (None): the web page.
    pairing_watchers: list[Callable[[DeviceAuthorization | None], None]] = field(default_factory=list)
    #: The code up now while the box pairs (for a watcher that comes later), or None.
    pairing: DeviceAuthorization | None = None

    def tell_pairing(self, authorization: DeviceAuthorization | None) -> None:
        self.pairing = authorization
        for watch in self.pairing_watchers:
            watch(authorization)
