""" "No, I meant ..." right after a voice command: the words heard before are learned as the user's
own way of saying what follows (:mod:`maestro.intents.personal`), and what was meant is done."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from maestro.intents.personal import PhrasingError
from maestro.intents.recognition import Recognition
from maestro.messages import Reply
from maestro.session import Session

#: "no i meant play abbey road", "i meant next song", "sorry i meant pause" (normalised words).
CORRECTION = re.compile(r"^(?:(?:no|nope|sorry|no no)\s+)?i\s+meant\s+(?P<meant>.+)$")
#: A correction is for the command just before, not for one from long ago.
WINDOW_S = 30.0


@dataclass(frozen=True)
class _Said:
    words: str
    at: float


def meant_in(transcript: str) -> str | None:
    """What a correction says was meant, or None when the words are no correction."""
    found = CORRECTION.match(" ".join(transcript.lower().replace(",", " ").split()))
    return found.group("meant") if found else None


class Corrector:
    def __init__(self, session: Session, clock: Callable[[], float] = time.monotonic) -> None:
        self.session, self.clock = session, clock
        self._last: _Said | None = None

    def note(self, transcript: str) -> None:
        """A voice command that was no correction: the one a correction would be about."""
        self._last = _Said(transcript, self.clock())

    async def reply(self, transcript: str) -> tuple[Recognition, Reply] | None:
        """For a correction of the command just before: learns it and does what was meant; else
        None (the words are no correction, or there is nothing just before to correct)."""
        meant = meant_in(transcript)
        last, self._last = self._last, None
        if meant is None or last is None or self.clock() - last.at > WINDOW_S:
            return None
        session = self.session
        try:
            phrasing, now = await session.learn(last.words, meant)
        except PhrasingError as exc:
            recognition = session.matcher.match(meant)
            done = await session.actions.run(recognition)
            return recognition, _said_first(f"I couldn't learn that: {exc}", done)
        done = await session.actions.run(now)
        learned = f"Got it: “{last.words}” means that from now on." if now.intent == phrasing.intent else ""
        return now, _said_first(learned, done)


def _said_first(words: str, reply: Reply) -> Reply:
    if not words:
        return reply
    return dataclasses.replace(reply, speech=f"{words} {reply.speech}")
