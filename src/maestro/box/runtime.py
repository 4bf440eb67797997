"""The runtime behind `maestro run`: one asyncio task group running the box's loops.

- Spotify (:mod:`maestro.box.spotify_loop`): sign-in, what is playing, the sleep timer.
- Voice (:mod:`maestro.box.voice_loop`): the microphone through the listener to commands.
- Cards (:mod:`maestro.box.cards_loop`): the NFC reader to commands.
- Home Assistant (:mod:`maestro.home`), when ``mqtt.url`` is set: MQTT commands to commands,
  what is playing and every command out.
- The web app (:mod:`maestro.web`), unless ``web.enabled`` is false: pages and the JSON API.

They share a :class:`~maestro.box.state.BoxState` (what the screen shows and why), run commands
one at a time through :class:`~maestro.box.commands.Commands`, and say trouble once through
:class:`~maestro.box.troubles.Troubles`. SIGTERM stops everything within two seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from maestro.box.cards_loop import cards_loop
from maestro.box.commands import Commands
from maestro.box.spotify_loop import SpotifyLoop
from maestro.box.state import BoxParts
from maestro.box.status import StatusWriter
from maestro.box.troubles import Troubles
from maestro.box.voice_loop import Names, VoiceInput, VoiceLoop
from maestro.display.devices import Display
from maestro.ducking import Ducker
from maestro.errors import MaestroError
from maestro.messages import Reply
from maestro.nfc.cards import Cards
from maestro.nfc.readers import Reader
from maestro.session import Session
from maestro.voice.events import Heard
from maestro.voice.tts import Speaker

if TYPE_CHECKING:
    from maestro.box.web_server import WebServer

#: SIGTERM to exit, in all: the music put back, a token refresh under way saved.
STOP_BUDGET_S = 2.0


class Runtime:
    def __init__(
        self,
        session: Session,
        speaker: Speaker,
        display: Display,
        *,
        voice: Callable[[Runtime], VoiceInput] | None = None,
        reader: Reader | None = None,
        cards: Cards | None = None,
        poll_s: float = 5.0,
        pair_retry_s: float = 30.0,
        print_line: Callable[[str], None] = print,
        status: StatusWriter | None = None,
    ) -> None:
        self.parts = BoxParts(session, speaker, display, print_line)
        self.session, self.speaker, self.display = session, speaker, display
        self.state, self.background = self.parts.state, self.parts.background
        self.voice_factory = voice
        self.reader = reader
        self.cards = cards
        self.ducker = Ducker(session.player, session.state_dir, session.settings.voice.duck_volume)
        self.troubles = Troubles(speaker, display, print_line, status, self.state.activity)
        self.commands = Commands(self.parts, status)
        self.spotify = SpotifyLoop(self.parts, troubles=self.troubles, commands=self.commands,
                                   ducker=self.ducker, poll_s=poll_s, pair_retry_s=pair_retry_s)  # fmt: skip
        self.voice = VoiceLoop(self.parts, commands=self.commands, ducker=self.ducker)
        #: The web app, once it listens (``web.enabled``).
        self.web: WebServer | None = None

    async def run(self, stop: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as group:
            loops = [group.create_task(self.spotify.run(stop), name="spotify")]
            if self.voice_factory is not None:
                loops.append(group.create_task(self._voice(), name="voice"))
            if self.reader is not None and self.cards is not None:
                loops.append(group.create_task(self.cards_loop(self.reader, self.cards, stop), name="nfc"))
            if self.session.settings.mqtt.url:  # not cancelled: it says "offline" itself on stop
                group.create_task(self._home(stop), name="mqtt")
            if self.session.settings.web.enabled:  # not cancelled: it closes its connections on stop
                group.create_task(self._web(stop), name="web")
            await stop.wait()
            for task in [*loops, *self.background.tasks]:  # a look at Spotify under way is not waited for
                task.cancel()
        # Stopped (SIGTERM, Ctrl-C): the music put back if it was ducked, a refresh under way saved;
        # within STOP_BUDGET_S, whatever Spotify does.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_BUDGET_S):
                await self.ducker.restore()
                await self.session.tokens.settle()

    async def _voice(self) -> None:
        try:
            voice = await asyncio.to_thread(self.voice_factory, self)  # type: ignore[arg-type]
        except MaestroError as exc:  # no speech model, a broken setting: the rest still works
            await self.troubles.report(f"Voice control is off: {exc}", "voice")
            return
        await self.voice.run(voice)

    async def _home(self, stop: asyncio.Event) -> None:
        from maestro.box.home_loop import home_link  # only a box with mqtt.url imports aiomqtt

        try:
            link = home_link(self)
        except MaestroError as exc:  # a broken mqtt.url: the rest still works
            await self.troubles.report(f"Home Assistant is off: {exc}", "mqtt")
            return
        await link.run(stop)

    async def _web(self, stop: asyncio.Event) -> None:
        from maestro.box.web_server import WebServer, bound_socket  # only a box with the web app on

        listen = self.session.settings.web.listen
        try:
            sock = bound_socket(listen)
        except OSError as exc:  # the port is taken (another program, a second box): the rest still works
            await self.troubles.report(f"The web app is off: {listen} can't be used ({exc.strerror}).", "web")
            return
        self.web = WebServer(self, sock)
        self.parts.print_line(f"Web app: {self.web.url}")
        await self.web.run(stop)

    async def cards_loop(self, reader: Reader, cards: Cards, stop: asyncio.Event) -> None:
        await cards_loop(
            reader, cards, stop, session=self.session, commands=self.commands, troubles=self.troubles
        )

    # -- what the demo and the tests read ---------------------------------------------------------

    @property
    def replies(self) -> deque[tuple[str, Reply]]:
        return self.commands.replies

    @property
    def heard(self) -> deque[Heard]:
        return self.voice.heard

    def names(self) -> Names:
        return self.voice.names()

    async def settle(self) -> None:
        """Waits for the commands (and earcons) still under way."""
        await self.background.settle()
