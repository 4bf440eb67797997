"""What the box is doing, in one word (Home Assistant's box-state sensor): of what is under way,
the one a person would name first."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator

log = logging.getLogger(__name__)

#: Most telling first: pairing needs the user; listening and speaking are what the room notices;
#: trouble lasts (a lost broker, a missing reader) and shows when nothing else is under way.
UNDER_WAY = ("pairing", "listening", "speaking", "thinking", "trouble")
IDLE = "idle"


class Activity:
    def __init__(self) -> None:
        self._under_way: set[str] = set()
        self.now = IDLE
        #: Told of every change (synchronously: they start their own work): ``watch(now)``.
        self.watchers: list[Callable[[str], None]] = []

    def set(self, what: str, on: bool = True) -> None:
        self.change(on=what) if on else self.change(off=what)

    def change(self, *, on: str | None = None, off: str | None = None) -> None:
        """One thing over and the next under way at once (listening -> thinking): no "idle" between."""
        for what in (on, off):
            if what is not None and what not in UNDER_WAY:
                raise ValueError(f"{what!r} is not one of {UNDER_WAY}")
        if off is not None:
            self._under_way.discard(off)
        if on is not None:
            self._under_way.add(on)
        now = next((name for name in UNDER_WAY if name in self._under_way), IDLE)
        if now != self.now:
            self.now = now
            for watch in self.watchers:
                try:
                    watch(now)
                except Exception:  # a watcher's failure is its own
                    log.exception("telling %s of %s failed", watch, now)

    def has(self, what: str) -> bool:
        return what in self._under_way

    @contextlib.contextmanager
    def during(self, what: str) -> Iterator[None]:
        self.set(what)
        try:
            yield
        finally:
            self.set(what, False)
