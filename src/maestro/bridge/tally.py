"""How pairings went, in counts and outcomes: never a code, a state or a token.

Each event is one INFO line as it happens ("pairing delivered"), and every
``SUMMARY_EVERY_S`` the bridge logs what happened since ("3 started, 2 approved,
2 delivered, 1 expired"): what an operator reads in the journal.
"""

from __future__ import annotations

import logging
import time
from collections import Counter

log = logging.getLogger("maestro.bridge")
SUMMARY_EVERY_S = 600.0
#: In the order a pairing goes through them.
EVENTS = ("started", "confirmed", "cancelled", "approved", "refused", "delivered", "expired")


class Tally:
    def __init__(self, clock: object = time.monotonic) -> None:
        self.counts: Counter[str] = Counter()
        self._clock = clock
        self._since = self._now()

    def _now(self) -> float:
        return float(self._clock())  # type: ignore[operator]

    def note(self, event: str) -> None:
        self.counts[event] += 1
        log.info("pairing %s", event)

    def summary(self, force: bool = False) -> str | None:
        """What happened since the last summary, once ``SUMMARY_EVERY_S`` has passed (None: too soon,
        or nothing happened); the counts start again."""
        if not force and self._now() - self._since < SUMMARY_EVERY_S:
            return None
        minutes = max(1, round((self._now() - self._since) / 60))
        counts, self.counts, self._since = self.counts, Counter(), self._now()
        if not counts:
            return None
        ordered = [event for event in EVENTS if counts[event]] + sorted(set(counts) - set(EVENTS))
        return f"pairings in the last {minutes} min: " + ", ".join(f"{counts[e]} {e}" for e in ordered)
