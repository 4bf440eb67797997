"""From a card laid on the reader to what Maestro should do about it.

The order is: a card resting on the reader does nothing; the same card back
within the second-tap window does the second-tap action (toggle, restart or
nothing); otherwise the card's own NDEF record wins, then its UID in
``tags.yaml``. ``tags.yaml`` is re-read when it changes on disk, so
``maestro tags add`` works while the daemon runs; a broken edit is reported
once and the last good mapping stays in use.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from maestro.nfc.readers import TagEvent
from maestro.nfc.tags import TagError, TagStore, TapTracker, parse_ndef

UNKNOWN_CARD = (
    "I don't know this card yet. Tell me what it plays on the web app's Cards page, "
    "or run: maestro tags learn."
)


@dataclass(frozen=True)
class CardCommand:
    """What a tap asks for; exactly one field besides ``uid`` is set."""

    uid: str
    uri: str | None = None  # play this Spotify URI
    text: str | None = None  # run this command as if it had been said
    second_tap: str | None = None  # "toggle" or "restart"
    problem: str | None = None  # say this instead (unknown card, damaged tag)


class Cards:
    def __init__(
        self,
        store: TagStore,
        *,
        second_tap: str = "toggle",
        window_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.second_tap = second_tap
        self.tracker = TapTracker(window_s)
        self.clock = clock
        self.last_unknown: str | None = None
        self._mtime = self._stat()
        self._reported: str | None = None

    def _stat(self) -> float | None:
        try:
            return self.store.path.stat().st_mtime
        except OSError:
            return None

    def mapping_problem(self) -> str | None:
        """Re-reads tags.yaml if it changed; a new problem with it is returned once."""
        mtime = self._stat()
        if mtime != self._mtime:
            self._mtime = mtime
            self.store.reload()
        problem = self.store.problem
        if problem == self._reported:
            return None
        self._reported = problem
        return problem

    def on_event(self, event: TagEvent) -> CardCommand | None:
        now = self.clock()
        if event.kind == "removed":
            self.tracker.removed(event.uid, now)
            return None
        seen = self.tracker.arrived(event.uid, now)
        if seen == "resting":
            return None
        if seen == "second":
            if self.second_tap == "ignore":
                return None
            return CardCommand(event.uid, second_tap=self.second_tap)
        try:
            action = parse_ndef(event.ndef) if event.ndef else None
            if action is None:
                action = self.store.lookup(event.uid)
        except TagError as exc:
            return CardCommand(event.uid, problem=f"I can't read this card. {exc}")
        if action is None:
            self.last_unknown = event.uid
            return CardCommand(event.uid, problem=UNKNOWN_CARD)
        return CardCommand(event.uid, uri=action.uri, text=action.command)
