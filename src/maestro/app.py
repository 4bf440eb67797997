"""The runtime behind `maestro run`: one asyncio loop wiring sign-in, Spotify, voice, NFC and the outputs.

Three loops share it:

- Spotify: signs in when there is no sign-in (and again when Spotify ends
  one), then polls what is playing (every ``poll_s`` while the screen is lit,
  less often once it has dimmed) and keeps the display on it.
- Voice: audio chunks -> :class:`~maestro.voice.listener.Listener` (on a
  worker thread: decoding is CPU work) -> wake: earcon and the listening
  screen -> command: thinking screen, action, spoken reply.
- NFC: reader events -> :class:`~maestro.nfc.cards.Cards` -> play a card,
  run its command, or toggle on a second tap.

Commands from voice and cards run one at a time. Trouble (network, Spotify,
microphone, NFC reader) is spoken and shown once, not at every retry, and
"back" is said when it clears. SIGTERM stops everything within two seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterable, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from maestro.box.status import StatusWriter
from maestro.display.devices import Display
from maestro.ducking import Ducker
from maestro.errors import MaestroError, NotPairedError, RestrictedError, SignInExpiredError
from maestro.intents import Recognition
from maestro.intents.library import KINDS
from maestro.messages import Reply, Screen, now_playing_screen
from maestro.nfc.cards import UNKNOWN_CARD, CardCommand, Cards
from maestro.nfc.learn import remember_unknown
from maestro.nfc.readers import Reader, ReaderService
from maestro.session import Session
from maestro.spotify.client import deadline
from maestro.voice.asr import Engine, engine_for
from maestro.voice.audio import input_source
from maestro.voice.events import GaveUp, Heard, Woke
from maestro.voice.listener import Listener
from maestro.voice.pipeline import listener_for
from maestro.voice.tts import Speaker
from maestro.voice.whisper import command_prompt

log = logging.getLogger(__name__)

REPLY_HOLD_S = 4.0  # a reply stays on screen this long before "now playing" comes back
#: Replies and utterances kept in memory (for tests and logs; the daemon runs for months).
HISTORY = 100
DIMMED_POLL_S = 15.0
#: The daemon pairs by itself when not signed in: a command then points at the code on the screen.
#: Commands that change the volume: the music is put back before them, so "louder" means louder
#: than it was, not than the duck.
VOLUME_INTENTS = frozenset({"SetVolume", "VolumeUp", "VolumeDown", "Mute", "Unmute"})
#: SIGTERM to exit, in all: the music put back, a token refresh under way saved.
STOP_BUDGET_S = 2.0
NOT_PAIRED_SPEECH = "I'm not connected to Spotify yet. Open the address on my screen and enter the code."
SIGN_IN_ENDED = "Spotify ended Maestro's sign-in, so let's pair again: the code is coming up on my screen."


@dataclass
class VoiceInput:
    source: AsyncIterable[bytes]
    listener: Listener
    #: Builds an engine for the library as it is now (after sign-in, the names arrive).
    rebuild: Callable[[], Engine] | None = None
    #: The library names the listener's engine was built with.
    names: tuple[tuple[str, str], ...] | None = None


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
        self.session = session
        self.speaker = speaker
        self.display = display
        self.voice_factory = voice
        self.reader = reader
        self.cards = cards
        self.poll_s = poll_s
        self.pair_retry_s = pair_retry_s
        self.print_line = print_line
        #: For `maestro status`: the last command and the troubles (None: nobody asks, in tests).
        self.status = status
        # What was done and heard, for tests and logs: the last few, not months of them.
        self.replies: deque[tuple[str, Reply]] = deque(maxlen=HISTORY)
        self.heard: deque[Heard] = deque(maxlen=HISTORY)
        self._shown: Screen | None = None
        self._troubles: dict[str, str] = {}  # source ("spotify", "microphone", "nfc", ...) -> message said
        self._commands = asyncio.Lock()
        self._listening = False
        self._answer_wanted = False  # the last reply asked a question
        self._hold_until = 0.0
        self._poke = asyncio.Event()
        self._background: set[asyncio.Task[Any]] = set()
        self._library_version = 0
        hearing = session.library.on_change

        def library_changed() -> None:
            if hearing is not None:
                hearing()
            self._library_version += 1

        session.library.on_change = library_changed
        session.actions.not_paired_speech = NOT_PAIRED_SPEECH
        self.ducker = Ducker(session.player, session.state_dir, session.settings.voice.duck_volume)

    # -- the whole --------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as group:
            loops = [group.create_task(self._spotify(stop), name="spotify")]
            if self.voice_factory is not None:
                loops.append(group.create_task(self._voice(), name="voice"))
            if self.reader is not None and self.cards is not None:
                loops.append(group.create_task(self.cards_loop(self.reader, self.cards, stop), name="nfc"))
            await stop.wait()
            for task in [*loops, *self._background]:  # a look at Spotify under way is not waited for
                task.cancel()
        # Stopped (SIGTERM, Ctrl-C): the music put back if it was ducked, a refresh under way saved;
        # within STOP_BUDGET_S, whatever Spotify does.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_BUDGET_S):
                await self.ducker.restore()
                await self.session.tokens.settle()

    # -- Spotify: sign-in and what is playing ------------------------------------------------

    async def _spotify(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                signed_in = self.session.tokens.tokens is not None
            except MaestroError as exc:  # tokens.json unreadable (owner, mode): said, retried
                await self.report(str(exc))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.pair_retry_s)
                continue
            if not signed_in:
                await self._pair(stop)
                continue
            try:
                await self.tick()
                await self.keep_files()
                if not self._listening and not self._commands.locked():
                    await self.ducker.restore()  # killed while ducked, or a restore that failed: now
            except (NotPairedError, SignInExpiredError) as exc:
                # The daemon pairs by itself: no "run maestro pair" here.
                expired = isinstance(exc, SignInExpiredError)
                await self.report(SIGN_IN_ENDED if expired else NOT_PAIRED_SPEECH)
                self.session.tokens.clear()
                continue
            except MaestroError as exc:  # network loss, Spotify trouble: say so once, keep going
                await self.report(str(exc))
            try:
                timer_left = await self.sleep_timer()
            except MaestroError as exc:
                await self.report(str(exc))
                timer_left = None
            dimmed = getattr(self.display, "dimmed", False)
            wait_s = DIMMED_POLL_S if dimmed else self.poll_s
            if timer_left is not None:
                wait_s = min(wait_s, timer_left)  # wake for the timer, not at the next poll after it
            self._poke.clear()
            waits = [asyncio.create_task(stop.wait()), asyncio.create_task(self._poke.wait())]
            try:
                await asyncio.wait(waits, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in waits:
                    task.cancel()

    async def _pair(self, stop: asyncio.Event) -> None:
        pairing = asyncio.create_task(
            self.session.pair(self.speaker, self.display, print_line=self.print_line)
        )
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({pairing, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pairing, stopping):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, MaestroError):
                    await task
        if not pairing.done() or pairing.cancelled():
            return
        if pairing.exception() is None:
            await self.session.ensure_library()
            return
        # Could not pair (offline, not allowlisted, declined): it was said; try again later.
        self._troubles["spotify"] = str(pairing.exception())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=self.pair_retry_s)

    async def keep_files(self) -> None:
        """What could not be written (a full disk: the sign-in, the player memory) is written again;
        said once while it cannot be, and "back" when it is."""
        tokens, memory = self.session.tokens, self.session.player.memory
        tokens.retry_save()
        if memory.unsaved:
            memory.save()
        if tokens.unsaved or memory.unsaved:
            where = self.session.state_dir
            await self.report(f"I can't save my settings: the disk holding {where} is full. I'll keep "
                              "working and save them when there is room.", "disk")  # fmt: skip
        else:
            await self.resolved("disk", "My settings are saved again.")

    async def sleep_timer(self) -> float | None:
        """Pauses when the sleep timer (player.json, set by voice or `maestro say`) runs out, and says so
        once; returns the seconds left, or None when no timer runs."""
        memory = self.session.player.memory
        memory.reload_if_changed()
        if not memory.sleep_at:
            return None
        left = memory.sleep_at - self.session.actions.clock()
        if left > 0:
            return left
        device = memory.sleep_device or None
        memory.sleep_at, memory.sleep_device = 0.0, ""
        memory.save()  # once, whatever happens next: a timer that fails must not fire every poll
        reply = await self.command("sleep timer", lambda: self._sleep_pause(device))
        log.info("sleep timer: %s", reply.speech)
        return None

    async def _sleep_pause(self, device_id: str | None) -> Reply:
        try:
            with deadline():
                await self.session.player.pause(device_id)
        except RestrictedError:
            pass  # already paused: the timer's work is done
        screen = Screen("message", "Sleep timer", ("Paused",))
        return Reply("Sleep timer: the music is paused. Good night.", screen)

    async def tick(self) -> None:
        """One look at Spotify: show what is playing when it changed."""
        self.session.library.refresh_in_background()
        with deadline():
            state = await self.session.player.state()
        await self.resolved("spotify", "Spotify is back.")
        if state is None or state.item is None:
            screen = Screen("idle", "Maestro", ("Nothing playing",))
        else:
            screen = now_playing_screen(state)
        if self._listening or self._commands.locked() or time.monotonic() < self._hold_until:
            return  # the listening screen or a reply is up: now playing can wait
        if screen != self._shown:
            self._shown = screen
            await self.display.show(screen)

    async def report(self, message: str, source: str = "spotify") -> None:
        """Trouble from one source (Spotify, the microphone, the reader...): said and shown once."""
        if self._troubles.get(source) == message:
            return  # once per trouble, not once per poll or retry
        self._troubles[source] = message
        if self.status is not None:
            self.status.trouble(source, message)
        log.info("trouble (%s): %s", source, message)  # printed just below: one line is enough
        self.print_line(f"Trouble: {message}")
        await self.display.show(Screen("error", "Trouble", (message,)))
        await self.speaker.say(message)

    async def resolved(self, source: str, message: str) -> None:
        """The source's trouble is over: say ``message``, if there was trouble."""
        if self._troubles.pop(source, None) is not None:
            if self.status is not None:
                self.status.resolved(source)
            self.print_line(message)
            await self.speaker.say(message)

    # -- commands (voice and cards) -----------------------------------------------------------

    async def command(self, source: str, run: Callable[[], Awaitable[Reply]], heard: str = "") -> Reply:
        """Runs one command at a time; shows and says the reply. ``heard``: what the command was
        (the words, a card), for `maestro status`."""
        async with self._commands:
            try:
                reply = await run()
            except Exception:  # a bug in one command must not take the daemon down with it
                log.exception("%s command failed", source)
                screen = Screen("error", "Sorry", ("Something went wrong.",))
                reply = Reply("Sorry, something went wrong with that.", screen, ok=False, exit_code=1)
            self.replies.append((source, reply))
            if self.status is not None:
                self.status.command(source, heard or source, reply)
            self._hold_until = time.monotonic() + REPLY_HOLD_S
            self._shown = reply.screen
            await self.display.show(reply.screen)
            self.print_line(f"Maestro: {reply.speech}")
            await self.speaker.say(reply.speech)
            self._answer_wanted = reply.question
        self._poke.set()  # look at Spotify again now: the command changed what is playing
        return reply

    def _in_background(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background work failed", exc_info=task.exception())

    # -- voice ----------------------------------------------------------------------------------

    async def _voice(self) -> None:
        try:
            voice = await asyncio.to_thread(self.voice_factory, self)  # type: ignore[arg-type]
        except MaestroError as exc:  # no speech model, a broken setting: the rest still works
            await self.report(f"Voice control is off: {exc}", "voice")
            return
        await self.listen(voice.source, voice.listener, voice.rebuild, voice.names)

    async def listen(
        self,
        source: AsyncIterable[bytes],
        listener: Listener,
        rebuild: Callable[[], Engine] | None = None,
        names: tuple[tuple[str, str], ...] | None = None,
    ) -> None:
        """Feeds audio to the listener (decoding on a worker thread) and acts on what it hears.

        When the library's names change (the first sign-in, a new playlist), a
        new engine is built on a thread and swapped in between utterances.
        """
        # The names may have arrived while the first engine was being built: compare with those.
        seen, names = -1, self.names() if names is None else names
        building: asyncio.Task[Engine] | None = None
        async for chunk in source:
            if self._answer_wanted and listener.between_utterances:  # a question was asked: no wake phrase
                self._answer_wanted = False
                listener.expect_answer()
                self._listening = True
                await self.display.show(Screen("listening", "Listening…"))
            for event in await asyncio.to_thread(listener.feed, chunk):
                await self._on_voice(event)
            if rebuild is not None and building is None and self._library_version != seen:
                seen = self._library_version
                if self.names() != names:
                    names = self.names()
                    building = asyncio.create_task(asyncio.to_thread(rebuild))
            if building is not None and building.done() and listener.between_utterances:
                try:
                    listener.use_engine(building.result())
                    log.info("voice: now hearing %d library names", len(names))
                except MaestroError as exc:
                    log.warning("voice: could not rebuild the command model: %s", exc)
                building = None
        for event in listener.flush():  # a WAV input ended
            await self._on_voice(event)

    def names(self) -> tuple[tuple[str, str], ...]:
        """The library's names, as the voice model is built from them."""
        library = self.session.library
        return tuple(sorted((kind, item.name) for kind in KINDS for item in library.items(kind)))

    async def settle(self) -> None:
        """Waits for the commands (and earcons) still under way."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    async def _on_voice(self, event: Woke | GaveUp | Heard) -> None:
        if isinstance(event, Woke):
            self._listening = True
            self.ducker.duck()  # in the background: listening never waits on the network
            await self.display.show(Screen("listening", "Listening…"))
            self._in_background(self.speaker.chime())  # never hold up the audio
        elif isinstance(event, GaveUp):
            self._listening = False
            self._in_background(self.ducker.restore())
            if self._shown is not None:
                await self.display.show(self._shown)
        else:
            self._listening = False
            self.heard.append(event)
            self.print_line(f'Heard: "{event.transcript}"' + (f" -> {event.intent}" if event.intent else ""))
            self._in_background(self._heard(event))

    async def _heard(self, heard: Heard) -> None:
        await self.display.show(Screen("thinking"))
        try:
            if heard.intent in VOLUME_INTENTS:
                await self.ducker.restore()
            await self.command("voice", lambda: self.session.actions.run(heard.recognition), heard.transcript)
        finally:
            if not self._answer_wanted:  # "Which speaker?": still listening, still ducked
                await self.ducker.restore()

    # -- NFC cards ---------------------------------------------------------------------------------

    async def cards_loop(self, reader: Reader, cards: Cards, stop: asyncio.Event) -> None:
        """Reader events -> card commands, until ``stop``; a lost reader is retried, a broken one reported."""
        service = ReaderService(
            reader,
            on_trouble=lambda message: self.report(message, "nfc"),
            on_back=lambda: self.resolved("nfc", "The card reader is back."),
        )
        running = asyncio.create_task(service.run(stop))
        try:
            while True:
                getting = asyncio.create_task(service.events.get())
                done, _ = await asyncio.wait({getting, running}, return_when=asyncio.FIRST_COMPLETED)
                if running in done:
                    getting.cancel()
                    if running.exception() is not None:  # a missing library, a bad setting
                        await self.report(f"Cards are off: {running.exception()}", "nfc")
                    return
                problem = cards.mapping_problem()
                if problem:
                    await self.report(problem, "tags")
                card = cards.on_event(getting.result())
                if card is not None:
                    await self.command("card", lambda card=card: self._card(card), f"card {card.uid}")  # type: ignore[misc]
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError, MaestroError):
                await running

    async def _card(self, card: CardCommand) -> Reply:
        actions = self.session.actions
        if card.problem:
            if (
                card.problem == UNKNOWN_CARD
            ):  # `maestro tags learn` offers it while the daemon holds the reader
                with contextlib.suppress(OSError):
                    remember_unknown(self.session.state_dir, card.uid)
            return Reply(card.problem, Screen("message", "Card", (card.problem,)), ok=False, intent=None)
        if card.second_tap == "toggle":
            return await actions.toggle()
        if card.second_tap == "restart":
            return await actions.run(Recognition(text="", intent="Restart", score=1.0))
        if card.uri:
            return await actions.play_uri(card.uri)
        return await actions.run(self.session.matcher.match(card.text or ""))


def default_voice(runtime: Runtime) -> VoiceInput:
    """The configured microphone (or ``wav:FILE``) and a listener for the session's intents and names.

    Builds the command model (about a second when it is not cached), so it is
    called on a worker thread.
    """
    session = runtime.session
    settings = session.settings
    names = runtime.names()
    listener = listener_for(
        settings, session.spec, session.library, session.matcher, cache_dir=session.state_dir / "speech",
        is_speaking=runtime.speaker.speaking.is_set,
    )  # fmt: skip

    def build() -> Engine:
        if listener.neural is not None:  # Whisper's prompt carries the names too
            listener.neural.prompt = command_prompt(session.spec, session.library)
        return engine_for(settings, session.spec, session.library, cache_dir=session.state_dir / "speech")

    source = input_source(
        settings.voice.input_device,
        realtime=True,  # a file plays like a microphone: commands arrive over time
        on_trouble=lambda message: runtime.report(message, "microphone"),
        on_back=lambda: runtime.resolved("microphone", "The microphone is back."),
    )
    return VoiceInput(source, listener, rebuild=build, names=names)
