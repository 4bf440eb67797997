"""Commands from voice, cards and the sleep timer: one at a time, each reply shown and said."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from maestro.box.state import BoxParts
from maestro.box.status import StatusWriter
from maestro.intents.recognition import Recognition
from maestro.messages import Reply, Screen

log = logging.getLogger(__name__)

#: A reply stays on screen this long before "now playing" comes back.
REPLY_HOLD_S = 4.0
#: Replies kept in memory (for tests and logs; the daemon runs for months).
HISTORY = 100


@dataclass(frozen=True)
class Done:
    """A command carried out, as its watchers are told of it."""

    source: str  # "voice", "card", "mqtt", "sleep timer"
    heard: str  # the words, or what the command was ("card 04A1B2C3")
    reply: Reply
    #: What else the source knows (a card: its uid and what the tap did; voice: the recogniser).
    details: Mapping[str, str | float] = field(default_factory=dict)
    #: What the words were taken to mean (None: not words, e.g. a card's album or a button).
    recognition: Recognition | None = None
    #: The command's sound (16 kHz mono PCM), with ``voice.keep_audio``.
    audio: bytes = field(default=b"", repr=False)


#: A command's work: its reply, or what its words were taken to mean and its reply.
Work = Callable[[], Awaitable[Reply | tuple[Recognition, Reply]]]


class Commands:
    def __init__(self, box: BoxParts, status: StatusWriter | None = None) -> None:
        self.box = box
        self.status = status
        self.replies: deque[tuple[str, Reply]] = deque(maxlen=HISTORY)
        #: Told of every command after its reply (Home Assistant), outside the one-at-a-time lock:
        #: a slow watcher never holds up the next command.
        self.watchers: list[Callable[[Done], Awaitable[None]]] = []
        self._one_at_a_time = asyncio.Lock()

    @property
    def busy(self) -> bool:
        return self._one_at_a_time.locked()

    async def run(
        self,
        source: str,
        work: Work,
        heard: str = "",
        *,
        speak: bool = True,
        details: Mapping[str, str | float] | None = None,
        audio: bytes = b"",
    ) -> Reply:
        """Runs one command at a time; shows and says the reply (``speak``: a command from Home
        Assistant is only shown). ``heard``: what the command was (the words, a card), for
        `maestro status`; ``details``: more for the watchers."""
        activity = self.box.state.activity
        async with self._one_at_a_time:
            activity.set("thinking")
            try:
                recognition, reply = await self._reply(source, work)
                self.replies.append((source, reply))
                if self.status is not None:
                    self.status.command(source, heard or source, reply)
                self.box.state.hold_until = time.monotonic() + REPLY_HOLD_S
                self.box.state.shown = reply.screen
                await self.box.display.show(reply.screen)
                self.box.print_line(f"Maestro: {reply.speech}")
                if speak:
                    activity.change(on="speaking", off="thinking")
                    await self.box.speaker.say(reply.speech)
                self.box.state.answer_wanted = reply.question
            finally:
                activity.set("thinking", False)
                activity.set("speaking", False)
        done = Done(source, heard or source, reply, details or {}, recognition, audio)
        for watch in self.watchers:
            try:
                await watch(done)
            except Exception:  # a watcher's failure is its own; the command is done
                log.exception("telling %s of a command failed", watch)
        self.box.state.poke.set()  # look at Spotify again now: the command changed what is playing
        return reply

    @staticmethod
    async def _reply(source: str, work: Work) -> tuple[Recognition | None, Reply]:
        try:
            done = await work()
        except Exception:  # a bug in one command must not take the daemon down with it
            log.exception("%s command failed", source)
            screen = Screen("error", "Sorry", ("Something went wrong.",))
            return None, Reply("Sorry, something went wrong with that.", screen, ok=False, exit_code=1)
        return done if isinstance(done, tuple) else (None, done)
