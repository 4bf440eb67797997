"""From audio chunks to intents: the stages, driven.

:class:`Listener` is fed 16 kHz mono int16 chunks (microphone or WAV, it cannot
tell) and returns what happened (:mod:`maestro.voice.events`): ``Woke``,
``Heard`` (transcript + recognition) or ``GaveUp`` (woken, but nobody spoke
within 5 s). It keeps time by counting samples, not by the wall clock, so a WAV
file read at full speed behaves exactly like the microphone.

The stages, each in its module:

- :mod:`~maestro.voice.segmenter`: noise suppression (only in a noisy room), the
  endpointer (an utterance ends after 0.3 s of non-speech, and at 10 s whatever
  happens), the pre-roll; muted while Maestro speaks.
- the grammar engine (:mod:`~maestro.voice.asr`) decodes as the audio comes; at
  the end it gives its n-best.
- :mod:`~maestro.voice.wake`: while asleep, an utterance counts only if it opens
  with the wake phrase (the grammar path's n-best, or the neural pass's second stage).
- :mod:`~maestro.voice.decide`: which words are taken (n-best, doubt, the tiers).
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Any

from maestro.intents.matcher import Matcher
from maestro.voice.asr import Engine
from maestro.voice.audio import RATE, chunks
from maestro.voice.decide import SURE_POSTERIOR, Decider, Nearby, Rescorer
from maestro.voice.events import Event, GaveUp, Heard, Woke
from maestro.voice.pause import Pause, allowed_pause
from maestro.voice.segmenter import Segmenter
from maestro.voice.wake import WAKE_CONFIRM, Transcriber, after_wake, confirm_wake, first_stage

SPEECH_TIMEOUT_S = 5.0
MAX_COMMAND_S = 10.0
ALTERNATIVES = 3


class Listener:
    def __init__(
        self,
        engine: Engine,
        matcher: Matcher,
        *,
        wake: bool = True,
        is_speaking: Callable[[], bool] = lambda: False,
        speech_timeout_s: float = SPEECH_TIMEOUT_S,
        max_command_s: float = MAX_COMMAND_S,
        clock: Callable[[], float] = time.perf_counter,
        noise_handling: bool = True,
        neural: Transcriber | None = None,
        sure_posterior: float = SURE_POSTERIOR,
        neural_decides: bool = False,
        vad: str = "auto",
        wake_confirm: float = WAKE_CONFIRM,
        scorer: Rescorer | None = None,
        repairs: Nearby | None = None,
    ) -> None:
        """``neural``: the second tier (see :mod:`~maestro.voice.decide`); ``wake_confirm``: how
        alike (0-100) what it heard must be to the wake phrase for it to wake Maestro where the
        grammar path missed the phrase (0: no second stage). ``noise_handling`` and ``vad``: see
        :class:`~maestro.voice.segmenter.Segmenter`."""
        self.engine = engine
        self.matcher = matcher
        self.decider = Decider(matcher, neural=neural, sure_posterior=sure_posterior,
                               neural_decides=neural_decides, scorer=scorer, repairs=repairs)  # fmt: skip
        self.wake_confirm = wake_confirm
        self.use_wake = wake
        #: Each command's sound rides on its Heard (``voice.keep_audio``: the web app plays it back).
        self.keep_audio = False
        self.is_speaking = is_speaking
        self.speech_timeout_s = speech_timeout_s
        self.max_command_s = max_command_s
        self.clock = clock
        self.wake_words = engine.wake_phrase.split()  # the engine's: config may override intents.yaml
        self._noise_handling, self._vad = noise_handling, vad  # each recording's segmenter
        self._start()

    def _start(self) -> None:
        """A listener that has heard nothing yet."""
        self.samples = 0  # audio time: everything fed so far
        self.awake = not self.use_wake
        self._awake_at = 0
        self.segments = Segmenter(noise_handling=self._noise_handling, vad=self._vad)
        self._pause: Pause | None = None  # a pause under way in a command that may go on
        if self.use_wake and not self.engine.wake_in_transcript:
            self.engine.start_wake()

    @property
    def neural(self) -> Transcriber | None:
        return self.decider.neural

    def fresh(self) -> Listener:
        """A new listener on the same engines (loaded once): another recording, another room."""
        listener = copy.copy(self)
        listener._start()
        return listener

    @property
    def between_utterances(self) -> bool:
        """Asleep (or, without a wake phrase, waiting) with no utterance under way."""
        return not self.segments.utterance and (not self.awake or not self.use_wake)

    def use_engine(self, engine: Engine) -> None:
        """Switches to a new engine (one built for new library names) between utterances."""
        self.engine = engine
        self.wake_words = engine.wake_phrase.split()
        if self.use_wake:
            self._go_to_sleep()
        else:
            self._wake_up()

    def expect_answer(self) -> None:
        """Maestro asked a question ("Which speaker?"): hear the answer without the wake phrase."""
        if not self.awake:
            self._wake_up()

    @property
    def now_s(self) -> float:
        return self.samples / RATE

    def _go_to_sleep(self) -> None:
        self.awake = False
        self._pause = None
        self.segments.reset()
        if not self.engine.wake_in_transcript:
            self.engine.start_wake()

    def _wake_up(self) -> None:
        self.awake = True
        self._awake_at = self.samples
        self._pause = None
        self.segments.reset()

    # -- audio in ---------------------------------------------------------------------------

    def feed(self, pcm: bytes) -> list[Event]:
        self.samples += len(pcm) // 2
        pcm = self.segments.clean(pcm)
        if not self.awake:
            if self.is_speaking():  # Maestro's own voice must not wake it
                if self.segments.utterance:
                    self._go_to_sleep()
                self.segments.listen_muted(pcm)
                return []
            self.segments.unmute()
            if not self.engine.wake_in_transcript:
                if not self.engine.wake_feed(pcm):
                    return []
                self._wake_up()
                # The chunk that ended the wake phrase may hold the command's first syllable.
                return [Woke(self.now_s), *self._listen(pcm)]
        return self._listen(pcm)

    def flush(self) -> list[Event]:
        """End of the audio: finish an utterance in progress."""
        started = self.clock()
        self.segments.drain()
        events = self._listen(b"")  # whole frames through the endpointer first
        tail = self.segments.tail()
        if tail:
            self._hear(tail)
        if not self.segments.utterance:
            return events
        return events + self._finish(started)

    def _listen(self, pcm: bytes) -> list[Event]:
        events: list[Event] = []
        for frame in self.segments.frames(pcm):
            started = self.clock()
            speech = self.segments.speech(frame)
            if speech is not None:
                self._hear(speech)
                self._pause = None
                too_long = len(self.segments.utterance) / 2 / RATE >= self.max_command_s
                hold = 0.0 if too_long or self.segments.in_speech else self._pause_allowed()
                if too_long or (not self.segments.in_speech and not hold):
                    events += self._finish(started)  # the rest of the chunk goes on to a new utterance
                elif not self.segments.in_speech:
                    self._pause = Pause(hold)  # wait for the rest of it
            elif self._pause is not None:
                if self._pause.add(frame, self.segments.voiced):
                    events += self._finish(started)
            elif self.awake and not self.segments.utterance and self._waited_too_long():
                if self.use_wake:
                    self._go_to_sleep()
                    events.append(GaveUp(self.now_s))
                else:
                    self._awake_at = self.samples  # nothing to go back to: keep waiting
        return events

    def _hear(self, speech: bytes) -> None:
        """Speech for the recogniser; the first of an utterance comes with its pre-roll."""
        if not self.segments.utterance:
            self.engine.start_command()
            preroll = self.segments.preroll()
            if preroll:
                self.engine.command_feed(preroll)
                self.segments.utterance += preroll
        self.engine.command_feed(speech)
        self.segments.utterance += speech

    def _pause_allowed(self) -> float:
        """How long the pause that just began may last (:mod:`~maestro.voice.pause`)."""
        heard = self.engine.partial()
        if not self.awake:
            heard = after_wake(heard, self.wake_words) or ""  # no wake phrase: no command to wait for
        return allowed_pause(self.matcher, heard)

    def _waited_too_long(self) -> bool:
        return (self.samples - self._awake_at) / RATE > self.speech_timeout_s

    # -- an utterance ends ---------------------------------------------------------------------

    def _finish(self, started: float) -> list[Event]:
        self._pause = None
        alternatives = self.engine.command_end(ALTERNATIVES)
        events: list[Event] = []
        if not self.awake:
            woken, rest = self._woken(alternatives, started)
            if rest is None:  # no wake phrase; or the phrase alone; or the neural pass decided
                return woken
            events.append(Woke(self.now_s))
            alternatives = rest
        utterance = bytes(self.segments.utterance)
        decision = self.decider.decide(
            alternatives, posteriors=self.engine.word_posteriors, utterance=utterance,
            wake_words=self.wake_words, woke_here=bool(events), open_pass=self.engine.transcribe_open,
        )  # fmt: skip
        latency_ms = (self.clock() - started) * 1000
        events.append(Heard(decision.transcript, decision.recognition, latency_ms, self.now_s,
                            decision.open_vocabulary, alternatives, decision.asked,
                            audio=utterance if self.keep_audio else b""))  # fmt: skip
        self._after_command()
        return events

    def _woken(self, alternatives: list[str], started: float) -> tuple[list[Event], list[str] | None]:
        """Asleep: does this utterance open with the wake phrase? ``([], n-best after the phrase)``
        when a command follows in it; ``(events, None)`` when it is settled here: no wake phrase
        (no events), the phrase alone, or the neural pass heard the phrase and decided the command."""
        second_stage = self.neural is not None and self.wake_confirm > 0
        rest = first_stage(alternatives, self.wake_words, second_stage)
        if not rest:
            confirmed = self._confirm_wake() if second_stage else None
            if confirmed is None:
                self.segments.reset()
                return [], None
            if self.decider.is_edge_noise(confirmed):
                self._wake_up()
                return [Woke(self.now_s)], None
            recognition = self.decider.match(confirmed, learned=True)  # the neural pass's transcript
            latency_ms = (self.clock() - started) * 1000
            audio = bytes(self.segments.utterance) if self.keep_audio else b""
            heard = Heard(confirmed, recognition, latency_ms, self.now_s, True, [confirmed], neural=True,
                          audio=audio)  # fmt: skip
            self._after_command()
            return [Woke(self.now_s), heard], None
        if self.decider.is_edge_noise(rest[0]):  # "hey maestro" ... then the command
            self._wake_up()
            return [Woke(self.now_s)], None
        return [], [t for t in rest if t]

    def _confirm_wake(self) -> str | None:
        assert self.neural is not None
        return confirm_wake(self.neural, bytes(self.segments.utterance), self.engine.word_starts(),
                            self.wake_words, self.wake_confirm)  # fmt: skip

    def _after_command(self) -> None:
        if self.use_wake:
            self._go_to_sleep()
        else:
            self._wake_up()


async def listen_to(
    source: AsyncIterable[bytes], listener: Listener, before: Callable[[], Awaitable[None]] | None = None
) -> AsyncIterator[Event]:
    """The one loop over a listener: every event it reports for ``source``'s audio, in order (decoding
    on a worker thread), and those of the end when the source ends. ``before``: awaited before each
    chunk (the daemon's chance to swap the engine, or to listen for an answer)."""
    async for chunk in source:
        if before is not None:
            await before()
        for event in await asyncio.to_thread(listener.feed, chunk):
            yield event
    for event in listener.flush():
        yield event


def events_of(listener: Listener, pcm: bytes) -> list[Event]:
    """Every event for one recording, read at once (``maestro listen``, benches)."""
    return [event for chunk in chunks(pcm) for event in listener.feed(chunk)] + listener.flush()


def hear_file(listener: Listener, pcm: bytes) -> dict[str, Any]:
    """One recording through ``listener`` as `maestro listen --json` reports it (the design's contract):
    ``{"transcript", "wake", "intent", "slots", "score", "latency_ms"}``."""
    events = events_of(listener, pcm)
    heard = next((e for e in events if isinstance(e, Heard)), None)
    return {
        "transcript": heard.transcript if heard else "",
        "wake": any(isinstance(e, Woke) for e in events) if listener.use_wake else None,
        "intent": heard.intent if heard else None,
        "slots": heard.recognition.slots_json() if heard else {},
        "score": round(heard.recognition.score, 3) if heard else 0.0,
        "latency_ms": round(heard.latency_ms, 1) if heard else None,
    }
