"""What the web app shows, kept up to date by the box and sent on to every open page.

The box tells :class:`Live` of each change (what plays, what the box is doing, a command carried
out); every page listening (``/api/events``, server-sent events) gets it at once. A page too slow
to take its events loses the oldest: the next one carries the whole state again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any

#: Commands kept for the Heard page (a daemon runs for months).
HISTORY = 200
#: Events waiting for one page; past that the oldest go (each carries what the page needs).
BACKLOG = 50


@dataclass(frozen=True)
class Entry:
    """One command, as the Heard page shows it."""

    id: int
    at: float
    source: str  # voice, card, web, mqtt, sleep timer
    heard: str
    intent: str | None
    slots: dict[str, Any]
    reply: str
    ok: bool
    #: Voice only: which recogniser decided, and how long after the end of speech.
    recogniser: str | None = None
    took_ms: float | None = None
    #: Its sound is kept (``voice.keep_audio``), to play on the Heard page.
    audio: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Live:
    #: What plays (title, artist, album, uri, speaker, volume, playing), or None.
    playing: dict[str, Any] | None = None
    activity: str = "idle"
    #: Whom the box is signed in to Spotify as (None: not signed in, or not known yet).
    account: str | None = None
    #: While the box pairs with Spotify: its code, the address to type and the link to open.
    pairing: dict[str, Any] | None = None
    #: What is wrong now (Spotify unreachable, no microphone...), as the box said it: source -> message.
    troubles: dict[str, str] = field(default_factory=dict)
    history: deque[Entry] = field(default_factory=lambda: deque(maxlen=HISTORY))
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _pages: set[asyncio.Queue[tuple[str, dict[str, Any]]]] = field(default_factory=set)

    def state(self) -> dict[str, Any]:
        last = self.history[-1].to_json() if self.history else None
        return {"playing": self.playing, "activity": self.activity, "last_command": last,
                "account": self.account, "pairing": self.pairing,
                "troubles": list(self.troubles.values())}  # fmt: skip

    def set_playing(self, playing: dict[str, Any] | None) -> None:
        self._set("playing", playing)

    def set_activity(self, activity: str) -> None:
        self._set("activity", activity)

    def set_account(self, account: str | None) -> None:
        self._set("account", account)

    def set_pairing(self, pairing: dict[str, Any] | None) -> None:
        self._set("pairing", pairing)

    def set_troubles(self, troubles: dict[str, str]) -> None:
        self._set("troubles", troubles)

    def _set(self, name: str, value: Any) -> None:
        if value != getattr(self, name):
            setattr(self, name, value)
            self._tell("state", self.state())

    def add(self, **entry: Any) -> Entry:
        added = Entry(id=next(self._ids), at=time.time(), **entry)
        self.history.append(added)
        self._tell("heard", added.to_json())
        self._tell("state", self.state())
        return added

    @contextlib.asynccontextmanager
    async def listening(self) -> AsyncIterator[asyncio.Queue[tuple[str, dict[str, Any]]]]:
        """A page's own queue of (event, data), the current state first."""
        queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(BACKLOG)
        queue.put_nowait(("state", self.state()))
        self._pages.add(queue)
        try:
            yield queue
        finally:
            self._pages.discard(queue)

    def _tell(self, event: str, data: dict[str, Any]) -> None:
        for queue in self._pages:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait((event, data))
