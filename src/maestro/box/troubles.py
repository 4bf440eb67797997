"""Trouble from one source (Spotify, the microphone, the reader, the disk...): said and shown once,
not at every retry, and a word when it is over."""

from __future__ import annotations

import logging
from collections.abc import Callable

from maestro.box.activity import Activity
from maestro.box.status import StatusWriter
from maestro.display.devices import Display
from maestro.messages import Screen
from maestro.voice.tts import Speaker

log = logging.getLogger(__name__)


class Troubles:
    def __init__(
        self,
        speaker: Speaker,
        display: Display,
        print_line: Callable[[str], None],
        status: StatusWriter | None = None,
        activity: Activity | None = None,
    ) -> None:
        self.speaker = speaker
        self.display = display
        self.print_line = print_line
        #: For `maestro status` (None: nobody asks, in tests).
        self.status = status
        #: source -> the message said about it, while the trouble lasts.
        self.current: dict[str, str] = {}
        self.activity = activity or Activity()
        #: Told of every change to ``current`` (the web app's pages show what is wrong).
        self.watchers: list[Callable[[dict[str, str]], None]] = []

    def _changed(self) -> None:
        for watch in self.watchers:
            watch(dict(self.current))

    async def report(self, message: str, source: str = "spotify") -> None:
        if self.current.get(source) == message:
            return  # once per trouble, not once per poll or retry
        self.current[source] = message
        self.activity.set("trouble")
        self._changed()
        if self.status is not None:
            self.status.trouble(source, message)
        log.info("trouble (%s): %s", source, message)  # printed just below: one line is enough
        self.print_line(f"Trouble: {message}")
        await self.display.show(Screen("error", "Trouble", (message,)))
        await self.speaker.say(message)

    def remember(self, source: str, message: str) -> None:
        """Trouble already said elsewhere (pairing says its own): only "back" is still to come."""
        self.current[source] = message
        self.activity.set("trouble")
        self._changed()

    async def resolved(self, source: str, message: str) -> None:
        """The source's trouble is over: say ``message``, if there was trouble."""
        if self.current.pop(source, None) is not None:
            self.activity.set("trouble", bool(self.current))
            self._changed()
            if self.status is not None:
                self.status.resolved(source)
            self.print_line(message)
            await self.speaker.say(message)
