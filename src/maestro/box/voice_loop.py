"""The daemon's voice loop: audio chunks -> :class:`~maestro.voice.listener.Listener` (on a worker
thread: decoding is CPU work) -> wake: the music ducked, the listening screen, the earcon ->
command: the thinking screen, the action, the spoken reply. When the library's names change (the
first sign-in, a new playlist) a new engine is built on a thread and swapped in between utterances."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import deque
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass

from maestro.box.commands import HISTORY, Commands
from maestro.box.correcting import Corrector
from maestro.box.state import BoxParts
from maestro.ducking import Ducker
from maestro.errors import MaestroError
from maestro.intents.library import KINDS
from maestro.intents.recognition import Recognition
from maestro.messages import Reply, Screen
from maestro.voice.asr import Engine
from maestro.voice.events import GaveUp, Heard, Woke
from maestro.voice.listener import Listener, listen_to

log = logging.getLogger(__name__)

#: Commands that change the volume: the music is put back before them, so "louder" means louder
#: than it was, not than the duck.
VOLUME_INTENTS = frozenset({"SetVolume", "VolumeUp", "VolumeDown", "Mute", "Unmute"})
Names = tuple[tuple[str, str], ...]


@dataclass
class VoiceInput:
    source: AsyncIterable[bytes]
    listener: Listener
    #: Builds an engine for the library as it is now (after sign-in, the names arrive).
    rebuild: Callable[[], Engine] | None = None
    #: The library names the listener's engine was built with.
    names: Names | None = None


class VoiceLoop:
    def __init__(self, box: BoxParts, *, commands: Commands, ducker: Ducker) -> None:
        self.box = box
        self.commands = commands
        self.ducker = ducker
        #: What was heard, for tests and logs: the last few, not months of them.
        self.heard: deque[Heard] = deque(maxlen=HISTORY)
        self.corrector = Corrector(box.session)

    async def run(self, voice: VoiceInput) -> None:
        await self.listen(voice.source, voice.listener, voice.rebuild, voice.names)

    async def listen(
        self,
        source: AsyncIterable[bytes],
        listener: Listener,
        rebuild: Callable[[], Engine] | None = None,
        names: Names | None = None,
    ) -> None:
        """Feeds audio to the listener and acts on what it hears, until the source ends."""
        # The names may have arrived while the first engine was being built: compare with those.
        seen, names = -1, self.names() if names is None else names
        building: asyncio.Task[Engine] | None = None
        library, personal = self.box.session.library, self.box.session.personal
        phrasings = personal.version

        async def between_chunks() -> None:
            nonlocal seen, names, building, phrasings
            if self.box.state.answer_wanted and listener.between_utterances:  # a question: no wake phrase
                self.box.state.answer_wanted = False
                listener.expect_answer()
                self.box.state.listening = True
                await self.box.display.show(Screen("listening", "Listening…"))
            if rebuild is not None and building is None and library.version != seen:
                seen = library.version
                if self.names() != names:
                    names = self.names()
                    building = asyncio.create_task(asyncio.to_thread(rebuild))
            if rebuild is not None and building is None and personal.version != phrasings:
                phrasings = personal.version  # the user taught a phrasing: the model learns its words
                building = asyncio.create_task(asyncio.to_thread(rebuild))
            if building is not None and building.done() and listener.between_utterances:
                try:
                    listener.use_engine(building.result())
                    log.info("voice: now hearing %d library names and %d own phrasings", len(names),
                             len(personal.phrasings))  # fmt: skip
                except MaestroError as exc:
                    log.warning("voice: could not rebuild the command model: %s", exc)
                building = None

        async for event in listen_to(source, listener, before=between_chunks):
            await self.on_event(event)

    def names(self) -> Names:
        """The library's names, as the voice model is built from them."""
        library = self.box.session.library
        return tuple(sorted((kind, item.name) for kind in KINDS for item in library.items(kind)))

    async def on_event(self, event: Woke | GaveUp | Heard) -> None:
        state = self.box.state
        if isinstance(event, Woke):
            state.listening = True
            self.ducker.duck()  # in the background: listening never waits on the network
            await self.box.display.show(Screen("listening", "Listening…"))
            self.box.background.start(self.box.speaker.chime())  # never hold up the audio
        elif isinstance(event, GaveUp):
            state.listening = False
            self.box.background.start(self.ducker.restore())
            if state.shown is not None:
                await self.box.display.show(state.shown)
        else:
            state.activity.change(on="thinking", off="listening")  # no "idle" between the two
            self.heard.append(dataclasses.replace(event, audio=b""))  # the sound goes on, not kept here
            self.box.print_line(
                f'Heard: "{event.transcript}"' + (f" -> {event.intent}" if event.intent else "")
            )
            self.box.background.start(self._command(event))

    async def _command(self, heard: Heard) -> None:
        await self.box.display.show(Screen("thinking"))
        actions = self.box.session.actions
        try:
            if heard.intent in VOLUME_INTENTS:
                await self.ducker.restore()

            async def work() -> tuple[Recognition, Reply]:
                corrected = await self.corrector.reply(heard.transcript)  # "no, I meant ..."
                if corrected is not None:
                    return corrected
                self.corrector.note(heard.transcript)
                return heard.recognition, await actions.run(heard.recognition)

            details = {"recogniser": recogniser(heard), "took_ms": round(heard.latency_ms)}
            await self.commands.run("voice", work, heard.transcript, details=details, audio=heard.audio)
        finally:
            self.box.state.activity.set("thinking", False)  # Commands.run did, unless it never ran
            if not self.box.state.answer_wanted:  # "Which speaker?": still listening, still ducked
                await self.ducker.restore()


def recogniser(heard: Heard) -> str:
    """Which recogniser's words were taken, as the Heard page says it."""
    if heard.open_vocabulary:
        return "open vocabulary"
    return "grammar + neural" if heard.neural else "grammar"
