"""Pauses people make mid-command: how long one may last before the utterance ends.

The endpointer ends speech after 0.3 s of non-speech. People stop to think ("may I have a dark
roast ... eight ounce iced coffee"), and a command cut there loses its end. So the words heard so
far decide: the start of a command that is not one yet may pause ``HOLD_S`` longer; a whole
command that could go on, a breath's ``CONTINUE_S``; anything else ends at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from maestro.intents.matcher import Matcher
from maestro.voice.audio import RATE

#: An unfinished command ("give me a double shot ...", "put the volume at ...") may pause this long
#: beyond the endpointer's own 0.3 s before it ends: people stop to think mid-command.
HOLD_S = 1.0
#: A whole command that could go on ("brew a sixteen ounce mocha ... with skim milk") may pause this
#: long: a breath between parts of an order, not the thinking an unfinished one allows.
CONTINUE_S = 0.3
#: Frames that sound like speech but never start it (a murmur, a breath) stretch a pause only
#: this much beyond what it may last.
MURMUR_S = 1.0


def allowed_pause(matcher: Matcher, heard: str) -> float:
    """How much longer than the endpointer's own a pause after ``heard`` may last (0: none)."""
    if not heard:
        return 0.0
    if matcher.unfinished(heard):
        return HOLD_S
    return CONTINUE_S if CONTINUE_S and matcher.continues(heard) else 0.0


@dataclass
class Pause:
    """A pause under way in an utterance that may go on."""

    allowed_s: float
    #: Bytes of it that did not sound like speech, and bytes in all since it began.
    quiet: int = 0
    total: int = 0

    def add(self, frame: bytes, voiced: bool) -> bool:
        """One more frame of the pause; True when the pause has ended the utterance. Frames that
        sound like the speaker going on do not count (the endpointer needs a few of them before
        it says speech began again), but only for so long."""
        self.quiet += 0 if voiced else len(frame)
        self.total += len(frame)
        return self.quiet / 2 / RATE >= self.allowed_s or self.total / 2 / RATE >= self.allowed_s + MURMUR_S
