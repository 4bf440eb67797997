"""From audio chunks to intents: wake phrase, endpointing, recognition, parsing.

:class:`Listener` is fed 16 kHz mono int16 chunks (microphone or WAV, it cannot
tell) and returns what happened: :class:`Woke`, :class:`Heard` (transcript +
recognition) or :class:`GaveUp` (woken, but nobody spoke within 5 s). It keeps
time by counting samples, not by the wall clock, so a WAV file read at full
speed behaves exactly like the microphone.

Decisions that make it behave:

- Steady room noise is subtracted first when the room is noisy
  (:mod:`maestro.voice.denoise`); in a quiet room the audio is untouched.
- The utterance ends when the endpointer (:mod:`maestro.voice.endpoint`: the
  WebRTC VAD plus a gate above the room's noise floor) has heard 0.3 s of
  non-speech; it is cut at 10 s whatever happens.
- A grammar-bound recogniser forces any speech onto *some* command. Here the
  command model is a trigram over the template sentences, so speech that is not
  a command comes out as a word sequence the matcher refuses; only then are the
  next-best hypotheses (three at most) tried, then the best one without a
  short word at either edge (breath and room noise heard as "if", "hey").
  A command is refused when most words of the recogniser's best guess had a
  low posterior: it was forced onto speech that was not one.
- "play <name>" whose name the command model does not know is heard again by
  the open-vocabulary pass (``PlaySearch``/``Queue``).
- While Maestro is speaking and Maestro is asleep, audio is dropped: its own
  voice must not wake it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pocketsphinx import Endpointer as PsEndpointer
from rapidfuzz import fuzz

from maestro.intents.matcher import Matcher, NameValue, Recognition
from maestro.intents.normalize import normalize
from maestro.intents.sounds import sound_key
from maestro.voice.asr import Engine
from maestro.voice.audio import RATE, chunks
from maestro.voice.denoise import NoiseSuppressor
from maestro.voice.endpoint import Endpointer, SileroEndpointer, silero_available
from maestro.voice.whisper import Transcript

SPEECH_TIMEOUT_S = 5.0
#: The VAD misses the unvoiced start of "skip", "stop", "shuffle": the recogniser
#: also gets this much audio from before the moment the VAD heard speech begin.
PREROLL_S = 0.25
MAX_COMMAND_S = 10.0
ALTERNATIVES = 3
EDGE_WORD_LETTERS = 3
#: A word whose posterior is below DOUBT was a guess; when at least DOUBTFUL_SHARE of the words
#: were, the utterance is not taken as a command.
DOUBT = 0.2
DOUBTFUL_SHARE = 0.5
#: The grammar path is sure of a command when every word of it had at least this posterior
#: (bench: natural voice, the neural pass then asked for about a third of the commands).
SURE_POSTERIOR = 0.8
#: The wake phrase's second stage (see Listener._confirm_wake): how alike (rapidfuzz ratio of sound
#: keys) the words the neural pass heard first must be to the phrase, how confident it must have been
#: (mean token log-probability), and the shortest utterance worth asking it about. Bench: with these,
#: of 53 utterances of other speech (commands without the phrase) none woke Maestro, and 70 of 72
#: wake phrases the grammar path had missed did.
WAKE_CONFIRM = 85.0
WAKE_MIN_LOGPROB = -0.7
WAKE_MIN_S = 0.5
#: Intents whose words may be a name the command model cannot know.
OPEN_INTENTS = frozenset({"PlaySearch", "Queue"})
PLAY_WORDS = frozenset({"play", "queue", "put", "add", "listen", "spin"})


@dataclass(frozen=True)
class Woke:
    at_s: float


@dataclass(frozen=True)
class GaveUp:
    at_s: float


@dataclass(frozen=True)
class Heard:
    transcript: str
    recognition: Recognition
    latency_ms: float
    at_s: float
    open_vocabulary: bool = False
    alternatives: list[str] = field(default_factory=list)
    #: The neural pass was asked (whether or not its answer was taken): it set the latency.
    neural: bool = False

    @property
    def intent(self) -> str | None:
        return self.recognition.intent


Event = Woke | GaveUp | Heard


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
    ) -> None:
        """``noise_handling=False``: PocketSphinx's plain VAD endpointer and no noise suppression
        (the bench's side-by-side peer). ``neural``: the second tier, asked whenever the grammar
        path is not sure (``sure_posterior``) and for every "play <name>"; ``neural_decides``: its
        answer stands even when it hears no command (``voice.engine = "whisper"``: every command
        goes to it, the grammar path only hears the wake phrase). ``vad``: ``silero`` (tells a voice from
        music), ``webrtc`` (the WebRTC VAD behind a noise-floor gate) or ``auto`` (Silero when installed).
        ``wake_confirm``: how alike (0-100) what the neural pass heard must be to the wake phrase for
        it to wake Maestro where the grammar path missed the phrase; 0 turns that second stage off."""
        self.engine = engine
        self.neural = neural
        self.sure_posterior = sure_posterior
        self.neural_decides = neural_decides
        self.wake_confirm = wake_confirm
        self.matcher = matcher
        self.use_wake = wake
        self.is_speaking = is_speaking
        self.speech_timeout_s = speech_timeout_s
        self.max_command_s = max_command_s
        self.clock = clock
        self.wake_words = engine.wake_phrase.split()  # the engine's: config may override intents.yaml
        self.samples = 0  # audio time: everything fed so far
        self.awake = not wake
        self._awake_at = 0
        self.noise_handling = noise_handling
        if vad == "auto":
            vad = "silero" if silero_available() else "webrtc"
        self.vad = vad
        self._silero: Any = None  # one detector for every utterance (its state is reset)
        self._muted = False  # the last audio came while Maestro spoke
        self._denoiser = NoiseSuppressor(RATE) if noise_handling else None  # lives on: it learns the room
        self._reset()
        if wake and not engine.wake_in_transcript:
            engine.start_wake()

    def fresh(self) -> Listener:
        """A new listener on the same engines (loaded once): another recording, another room."""
        return Listener(
            self.engine, self.matcher, wake=self.use_wake, is_speaking=self.is_speaking,
            speech_timeout_s=self.speech_timeout_s, max_command_s=self.max_command_s, clock=self.clock,
            noise_handling=self.noise_handling, neural=self.neural, sure_posterior=self.sure_posterior,
            neural_decides=self.neural_decides, vad=self.vad, wake_confirm=self.wake_confirm,
        )  # fmt: skip

    @property
    def between_utterances(self) -> bool:
        """Asleep (or, without a wake phrase, waiting) with no utterance under way."""
        return not self._utterance and (not self.awake or not self.use_wake)

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

    def _reset(self) -> None:
        """A new endpointer: the next utterance starts from silence."""
        self._endpointer: Endpointer | PsEndpointer
        if not self.noise_handling:
            self._endpointer = PsEndpointer(sample_rate=RATE)
        elif self.vad == "silero":
            self._endpointer = SileroEndpointer(sample_rate=RATE, detector=self._silero)
            self._silero = self._endpointer.detector
        else:
            self._endpointer = Endpointer(sample_rate=RATE)
        self._recent = bytearray()  # the last second given to the endpointer (for the pre-roll)
        self._recent_start = 0  # its offset in bytes since the endpointer started
        self._utterance = bytearray()
        self._pending = b""

    def _go_to_sleep(self) -> None:
        self.awake = False
        self._reset()
        if not self.engine.wake_in_transcript:
            self.engine.start_wake()

    def _wake_up(self) -> None:
        self.awake = True
        self._awake_at = self.samples
        self._reset()

    def feed(self, pcm: bytes) -> list[Event]:
        self.samples += len(pcm) // 2
        if self._denoiser is not None:
            pcm = self._denoiser.process(pcm)
        if not self.awake:
            if self.is_speaking():  # Maestro's own voice must not wake it
                if self._utterance:
                    self._go_to_sleep()
                self._listen_muted(pcm)
                return []
            if self._muted:  # Maestro stopped speaking: its voice's tail is no utterance to go on with
                self._muted = False
                if self._endpointer.in_speech:
                    self._reset()
            if not self.engine.wake_in_transcript:
                if not self.engine.wake_feed(pcm):
                    return []
                self._wake_up()
                # The chunk that ended the wake phrase may hold the command's first syllable.
                return [Woke(self.now_s), *self._listen(pcm)]
        return self._listen(pcm)

    def _listen(self, pcm: bytes) -> list[Event]:
        frame_bytes = self._endpointer.frame_bytes
        data = self._pending + pcm
        usable = len(data) - len(data) % frame_bytes
        events: list[Event] = []
        for start in range(0, usable, frame_bytes):
            started = self.clock()
            was_speaking = self._endpointer.in_speech
            frame = data[start : start + frame_bytes]
            self._remember(frame)
            speech = self._endpointer.process(frame)
            if speech is not None:
                if not was_speaking and not self._utterance:
                    self._start_utterance()
                self.engine.command_feed(speech)
                self._utterance += speech
                too_long = len(self._utterance) / 2 / RATE >= self.max_command_s
                if not self._endpointer.in_speech or too_long:
                    events += self._finish(started)  # the rest of the chunk goes on to a new utterance
            elif self.awake and not self._utterance and self._waited_too_long():
                if self.use_wake:
                    self._go_to_sleep()
                    events.append(GaveUp(self.now_s))
                else:
                    self._awake_at = self.samples  # nothing to go back to: keep waiting
        self._pending = data[usable:]
        return events

    def _listen_muted(self, pcm: bytes) -> None:
        """While Maestro speaks: the endpointer still hears the room (its noise floor, its voice
        detector's state), but nothing it hears becomes an utterance. Skipping this audio instead
        made what the endpointer knew depend on how long the reply took to say in wall time, and
        so on the machine's load (the demo heard "skip to the next song" as "the this song")."""
        self._muted = True
        frame_bytes = self._endpointer.frame_bytes
        data = self._pending + pcm
        usable = len(data) - len(data) % frame_bytes
        for start in range(0, usable, frame_bytes):
            frame = data[start : start + frame_bytes]
            self._remember(frame)
            self._endpointer.process(frame)
        self._pending = data[usable:]

    def _waited_too_long(self) -> bool:
        return (self.samples - self._awake_at) / RATE > self.speech_timeout_s

    def _remember(self, frame: bytes) -> None:
        self._recent += frame
        excess = len(self._recent) - 2 * RATE  # keep one second
        if excess > 0:
            del self._recent[:excess]
            self._recent_start += excess

    def _start_utterance(self) -> None:
        self.engine.start_command()
        begin = int(self._endpointer.speech_start * RATE) * 2 - self._recent_start
        preroll = bytes(self._recent[max(0, begin - int(PREROLL_S * RATE) * 2) : max(0, begin)])
        if preroll:
            self.engine.command_feed(preroll)
            self._utterance += preroll

    def flush(self) -> list[Event]:
        """End of the audio: finish an utterance in progress."""
        started = self.clock()
        if self._denoiser is not None:
            self._pending += self._denoiser.flush()
        events = self._listen(b"")  # whole frames through the endpointer first
        tail = self._endpointer.end_stream(self._pending) if self._pending else None
        if tail:
            if not self._utterance:
                self._start_utterance()
            self.engine.command_feed(tail)
            self._utterance += tail
        if not self._utterance:
            return events
        return events + self._finish(started)

    def _finish(self, started: float) -> list[Event]:
        alternatives = self.engine.command_end(ALTERNATIVES)
        events: list[Event] = []
        if not self.awake:
            # Asleep, an utterance counts only if it starts with the wake phrase, in any of the
            # n-best (clean bench wake 45/48 -> 47/48; still 0 false wakes in 10 minutes).
            rest = [after for t in alternatives if (after := self._after_wake(t)) is not None]
            if rest and self._after_wake(alternatives[0]) is None and self._second_stage:
                # Only a lower-ranked hypothesis heard the wake phrase: generous enough to be the
                # first stage, not sure enough to wake on (bench: the false wakes in ordinary
                # speech). The second stage decides, as for a wake phrase the grammar missed.
                rest = []
            if not rest:
                confirmed = self._confirm_wake()  # the second stage: the neural pass, where there is one
                if confirmed is None:
                    self._reset()
                    return []
                events.append(Woke(self.now_s))
                if self._is_edge_noise(confirmed):
                    self._wake_up()
                    return events
                return events + self._heard_neural(confirmed, started)
            events.append(Woke(self.now_s))
            if self._is_edge_noise(rest[0]):  # "hey maestro" ... then the command
                self._wake_up()
                return events
            alternatives = [t for t in rest if t]
        woke_here = bool(events)  # the wake phrase began this very utterance
        transcript, recognition = self._choose(alternatives)
        if recognition.intent is not None and self._doubtful(transcript):
            recognition = Recognition(transcript, None)
        open_vocabulary = False
        words = transcript.split()
        wants_open = recognition.intent in OPEN_INTENTS or (
            recognition.intent is None and bool(words) and words[0] in PLAY_WORDS
        )
        asked = self.neural is not None and (wants_open or not self._sure(transcript, recognition))
        if asked:
            # The grammar path is unsure (or the name may be one it cannot know): the neural pass decides.
            heard = self._neural_text(woke_here)
            again = self._match(heard)
            if again.intent is not None or recognition.intent is None or self.neural_decides:
                transcript, recognition, open_vocabulary = heard, again, True
        elif wants_open:
            heard = self.engine.transcribe_open(bytes(self._utterance))
            if (after := self._after_wake(heard)) is not None:
                heard = after
            again = self._match(heard)
            if again.intent is not None and (again.intent.startswith("Play") or again.intent == "Queue"):
                transcript, recognition, open_vocabulary = heard, again, True
        latency_ms = (self.clock() - started) * 1000
        events.append(
            Heard(transcript, recognition, latency_ms, self.now_s, open_vocabulary, alternatives, asked)
        )
        if self.use_wake:
            self._go_to_sleep()
        else:
            self._wake_up()
        return events

    def _heard_neural(self, text: str, started: float) -> list[Event]:
        """The command that followed a wake phrase only the neural pass heard: its words decide."""
        recognition = self._match(text)
        latency_ms = (self.clock() - started) * 1000
        heard = Heard(text, recognition, latency_ms, self.now_s, True, [text], neural=True)
        if self.use_wake:
            self._go_to_sleep()
        else:
            self._wake_up()
        return [heard]

    @property
    def _second_stage(self) -> bool:
        return self.neural is not None and self.wake_confirm > 0

    def _confirm_wake(self) -> str | None:
        """The wake phrase's second stage: what follows it, when the neural pass hears it where the
        grammar path did not; None when it does not (or there is no neural pass).

        The grammar path misses "hey maestro" said in music or loud noise, or by a voice unlike the
        last one (its running cepstral mean belongs to someone else): bench, natural voice, white
        noise at 10 dB, 29 of 51 missed wake phrases. Whisper hears them, and to keep it from
        waking on other speech the phrase must open what it heard (sound keys alike by
        ``wake_confirm``) and Whisper must have been confident (``WAKE_MIN_LOGPROB``). Where the
        grammar path heard the phrase later in the utterance (someone was talking, a TV), only the
        audio from there is heard again."""
        if not self._second_stage:
            return None
        assert self.neural is not None
        if len(self._utterance) < WAKE_MIN_S * RATE * 2:
            return None
        start = self._wake_word_start()
        heard = self.neural.transcribe(bytes(self._utterance[int(start * RATE) * 2 :]))
        if heard.avg_logprob < WAKE_MIN_LOGPROB:
            return None
        return after_wake_sound(normalize(heard.text), self.wake_words, self.wake_confirm)

    def _wake_word_start(self) -> float:
        """Seconds into the utterance where the grammar path heard the wake phrase begin (0: not heard)."""
        key, before = self.wake_words[-1], len(self.wake_words) - 1
        starts = self.engine.word_starts()
        for at, (word, _) in enumerate(starts):
            if word == key:
                return max(0.0, starts[max(0, at - before)][1] - PREROLL_S)
        return 0.0

    def _sure(self, transcript: str, recognition: Recognition) -> bool:
        """The grammar path's answer stands without the neural pass: a command, every word of it
        heard with a posterior of at least ``sure_posterior`` (fillers and the wake phrase aside)."""
        if recognition.intent is None or recognition.score < 1.0:
            return False
        ignored = {*self.matcher.spec.fillers, *self.wake_words}
        said = [w for w in transcript.split() if w not in ignored]
        heard = {w: p for w, p in self.engine.word_posteriors() if w not in ignored}
        return bool(said) and all(heard.get(w, 0.0) >= self.sure_posterior for w in said)

    def _neural_text(self, woke_here: bool) -> str:
        """The utterance through the neural pass, without the wake phrase it may begin with."""
        assert self.neural is not None
        heard = normalize(self.neural.transcribe(bytes(self._utterance)).text)
        return strip_wake(heard, self.wake_words) if woke_here else heard

    def _doubtful(self, transcript: str) -> bool:
        """Most words of the recogniser's best guess were themselves guesses (posterior < DOUBT).

        A command heard clearly has one or two uncertain small words ("pause *the* tv"); the
        same command model forced onto other speech ("play this eagles" for a clip of
        music, "pause let us" for "pause timer") is unsure of most of them. Fillers and
        the wake phrase do not count either way, nor an edge word the transcript left out
        (breath heard as "lot" after "unmute the speaker"). Measured on the recordings (decoder
        then with its flat second pass): non-commands accepted 4 -> 2 of 38, commands still 12 of 13.
        """
        ignored = {*self.matcher.spec.fillers, *self.wake_words}
        heard = [(word, p) for word, p in self.engine.word_posteriors() if word not in ignored]
        said = [word for word in transcript.split() if word not in ignored]
        words = [word for word, _ in heard]
        for start in range(len(words) - len(said) + 1):
            if said and words[start : start + len(said)] == said:
                heard = heard[start : start + len(said)]
                break
        unsure = sum(p < DOUBT for _, p in heard)
        # One word alone ("stop") is often unsure against its neighbours ("top") yet right.
        return len(heard) >= 2 and unsure >= DOUBTFUL_SHARE * len(heard)

    def _is_edge_noise(self, text: str) -> bool:
        """Nothing, or one short word that is no command: the breath after "hey maestro"."""
        words = text.split()
        if not words:
            return True
        return len(words) == 1 and len(text) <= EDGE_WORD_LETTERS and self._match(text).intent is None

    def _after_wake(self, text: str) -> str | None:
        """What follows the wake phrase ("" for the phrase alone); None when it does not start with it.

        The phrase's last word ("maestro") is the one that counts: measured on the
        bench's voices, "hey" came out as "carry", "queue", "too", "do you" in half
        of the misses while "maestro" was heard almost every time. So the last word
        must come within the phrase's length (plus one) of the start, after at
        most as many words as the phrase has before it, plus one.
        """
        words = text.split()
        key = self.wake_words[-1]
        window = words[: len(self.wake_words) + 1]
        if key not in window:
            return None
        return " ".join(words[window.index(key) + 1 :])

    def _choose(self, alternatives: list[str]) -> tuple[str, Recognition]:
        for text in alternatives:
            recognition = self._match(text)
            if recognition.intent is not None:
                return text, recognition
        # Breath and room noise at the edges come out as one short word ("if", "hey"):
        # the best hypothesis without it, when what remains is still a sentence.
        words = alternatives[0].split() if alternatives else []
        if len(words) >= 3:
            for edge, trimmed in ((words[-1], words[:-1]), (words[0], words[1:])):
                if len(edge) <= EDGE_WORD_LETTERS:
                    recognition = self._match(" ".join(trimmed))
                    if recognition.intent is not None:
                        return " ".join(trimmed), recognition
        text = alternatives[0] if alternatives else ""
        return text, Recognition(text, None)

    def _match(self, text: str) -> Recognition:
        recognition = self.matcher.match(text)
        if any(
            isinstance(v, NameValue) and v.kind == "device" and not v.uri for v in recognition.slots.values()
        ):
            # Typed, "move it to the garage" deserves "I can't see a garage". Heard, a device
            # name the recogniser knows is never missing: this was not a command.
            return Recognition(text, None)
        return recognition


def hear_file(listener: Listener, pcm: bytes) -> dict[str, Any]:
    """One recording through ``listener`` as `maestro listen --json` reports it (the design's contract):
    ``{"transcript", "wake", "intent", "slots", "score", "latency_ms"}``."""
    events = [event for chunk in chunks(pcm) for event in listener.feed(chunk)] + listener.flush()
    heard = next((e for e in events if isinstance(e, Heard)), None)
    return {
        "transcript": heard.transcript if heard else "",
        "wake": any(isinstance(e, Woke) for e in events) if listener.use_wake else None,
        "intent": heard.intent if heard else None,
        "slots": heard.recognition.slots_json() if heard else {},
        "score": round(heard.recognition.score, 3) if heard else 0.0,
        "latency_ms": round(heard.latency_ms, 1) if heard else None,
    }


class Transcriber(Protocol):
    """The neural pass (``voice.whisper.WhisperTranscriber``, or a test's twin)."""

    def transcribe(self, pcm: bytes) -> Transcript: ...


def strip_wake(text: str, wake_words: list[str]) -> str:
    """ "hey my stroke play abbey road" -> "play abbey road": the neural pass spells the wake phrase
    its own way ("hey, maestro", "hey my stroke"); the words at the start that sound most like it go."""
    rest = after_wake_sound(text, wake_words, WAKE_SOUND_RATIO)
    return text if rest is None else rest


#: How alike (rapidfuzz ratio of sound keys) leading words must be to count as the wake phrase.
WAKE_SOUND_RATIO = 70


def after_wake_sound(text: str, wake_words: list[str], ratio: float) -> str | None:
    """What follows the wake phrase when ``text`` opens with words that sound like it (the first or
    second word on, ``ratio`` 0-100 alike); None when it does not."""
    words = text.split()
    target = sound_key(" ".join(wake_words))
    best, cut = ratio, -1
    for start in range(min(2, len(words))):
        for end in range(start + 1, min(len(words), start + len(wake_words) + 1) + 1):
            alike = fuzz.ratio(sound_key(" ".join(words[start:end])), target)
            if alike > best or (alike == best and cut < 0):
                best, cut = alike, end
    return None if cut < 0 else " ".join(words[cut:])
