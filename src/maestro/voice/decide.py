"""Which words are taken: the grammar path's n-best, the doubt check, and the tiers.

The grammar path (a trigram over the command sentences) answers alone when it is
sure: a command, every word of it heard with a posterior of at least
``sure_posterior``. Otherwise, and for every request that may name something the
command model cannot know (an intent with a free-text slot, or "play <anything>"),
the neural pass decides: its reading stands when it is a command, or when the
grammar path had none. ``neural_decides`` (``voice.engine = "whisper"``): the
neural pass decides every command. Without a neural pass, "play <name>" whose
name the command model does not know is heard again by the open-vocabulary pass.
What counts as an open request comes from intents.yaml's slot types, not from
intent names.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from maestro.intents.matcher import Matcher
from maestro.intents.normalize import normalize
from maestro.intents.recognition import NameValue, Recognition
from maestro.voice.audio import RATE
from maestro.voice.wake import Transcriber, after_wake, strip_wake

EDGE_WORD_LETTERS = 3
#: A word whose posterior is below DOUBT was a guess; when at least DOUBTFUL_SHARE of the words
#: were, the utterance is not taken as a command.
DOUBT = 0.2
DOUBTFUL_SHARE = 0.5
#: The grammar path is sure of a command when every word of it had at least this posterior.
SURE_POSTERIOR = 0.8
#: Words that open a request for something by name ("play", "put on ..."): such a request that the
#: grammar path did not understand may still be one, with a name it cannot know.
PLAY_WORDS = frozenset({"play", "queue", "put", "add", "listen", "spin"})


#: Faster than anyone speaks a command: a transcript with more words a second is running away.
MAX_WORDS_PER_S = 5.0
#: The same word (or pair of words) this many times in a row is the decoder looping ("ny ny ny ny").
REPEATS = 3

#: Readings the neural model scores at most, and readings of the repairs parsed to find them.
MAX_READINGS = 8
MAX_TRIED = 120
#: How much less likely per token (nats; tokens of the shorter of the two) the best reading the
#: grammar knows may be than what the neural pass wrote freely, and still be taken: far less
#: likely is speech the grammar does not hold (commands of one grammar heard against another's
#: readings fall 3 nats a token or more behind; a right reading with a sound or two misheard,
#: about one at most).
MARGIN = 1.0
#: ... and for a reading in one of the user's own phrasings, this many times as far: the neural
#: model's sense of what people say is what the user's own words go against ("bin this one" it
#: writes "then this one"), and the user has said these words are theirs.
OWN_MARGIN = 2.0


#: A phrasing of the user's own of at most this many words, and nothing else (no slot), is heard
#: only with all of them (:func:`said_whole`).
SHORT_OWN = 2
_PLAIN_WORD = re.compile(r"[a-z']+\Z")

#: The score a reading keeps at most when no recogniser was sure of its very words (the neural
#: pass wrote something near it, or was not asked in time): below 1, a name in it is read back
#: before it plays and a lasting change is asked first (``maestro.actions``).
UNSURE_SCORE = 0.9


def unsure(recognition: Recognition) -> Recognition:
    if recognition.score <= UNSURE_SCORE:
        return recognition
    return dataclasses.replace(recognition, score=UNSURE_SCORE)


class Rescorer(Protocol):
    def score(self, pcm: bytes, readings: Sequence[str]) -> list[float]: ...

    def tokens(self, text: str) -> int: ...


class Nearby(Protocol):
    def near(self, text: str, limit: int = ...) -> list[tuple[str, float]]: ...


@dataclass(frozen=True)
class Decision:
    transcript: str
    recognition: Recognition
    #: The words came from an open-vocabulary pass.
    open_vocabulary: bool
    #: The neural pass was asked.
    asked: bool


class Decider:
    """The tiers, over one matcher; the engines' outputs are handed in per utterance."""

    def __init__(
        self,
        matcher: Matcher,
        *,
        neural: Transcriber | None = None,
        sure_posterior: float = SURE_POSTERIOR,
        neural_decides: bool = False,
        scorer: Rescorer | None = None,
        repairs: Nearby | None = None,
    ) -> None:
        self.matcher = matcher
        self.neural = neural
        #: Scoring readings against the audio (the grammar inside the neural pass), when there is one.
        self.scorer = scorer
        self.repairs = repairs
        self.sure_posterior = sure_posterior
        self.neural_decides = neural_decides
        spec = matcher.spec
        #: Requests whose words may be a name no model can know (a free-text slot).
        self.open_intents = frozenset(i for i in spec.intents if "text" in spec.slot_types(i))
        #: Requests that name something: an open pass's reading of one is worth taking.
        self.naming_intents = frozenset(i for i in spec.intents if spec.slot_types(i) & {"text", "library"})

    def decide(
        self,
        alternatives: list[str],
        *,
        posteriors: Callable[[], Sequence[tuple[str, float]]],
        utterance: bytes,
        wake_words: Sequence[str],
        woke_here: bool,
        open_pass: Callable[[bytes], str],
    ) -> Decision:
        """The reading of one utterance: ``alternatives`` are the grammar path's n-best (the wake
        phrase taken off), ``posteriors`` its best guess's word posteriors, ``woke_here`` whether
        the wake phrase began this very utterance (the neural pass then hears it too)."""
        transcript, recognition = self.choose(alternatives)
        ignored = {*self.matcher.spec.fillers, *wake_words}
        if recognition.intent is not None and self.doubtful(transcript, posteriors(), ignored):
            recognition = Recognition(transcript, None)
        words = transcript.split()
        wants_open = recognition.intent in self.open_intents or (
            recognition.intent is None and bool(words) and words[0] in PLAY_WORDS
        )
        sure = self.sure(transcript, recognition, posteriors(), ignored)
        asked = self.neural is not None and (wants_open or not sure)
        if asked:
            # The grammar path is unsure (or the name may be one it cannot know): the neural pass decides.
            heard, runaway = cut_runaway(self.neural_text(utterance, wake_words, woke_here),
                                         len(utterance) / 2 / RATE)  # fmt: skip
            if runaway and self.scorer is None:  # a looping decoder: doubtful, whatever it says
                heard = ""
            if self.scorer is not None:
                best = self.rescored(heard, alternatives, utterance, wake_words, woke_here)
                # No reading the grammar knows comes near what the neural pass heard: no command,
                # even where the grammar path had an (unsure) one. Only when it heard nothing at
                # all ("skip" is too short for it) does the grammar path's reading stand.
                if best is not None or recognition.intent is None or self.neural_decides or heard:
                    text, again = best or (heard, Recognition(heard, None))
                    if text != heard:  # a reading near what it wrote, not what it wrote
                        again = unsure(again)
                    return Decision(text, again, True, True)
            again = self.match(heard, learned=True)
            if again.intent is not None or recognition.intent is None or self.neural_decides:
                return Decision(heard, again, True, True)
        elif wants_open:
            heard = open_pass(utterance)
            if (after := after_wake(heard, wake_words)) is not None:
                heard = after
            again = self.match(heard, learned=True)
            if again.intent in self.naming_intents:
                return Decision(heard, again, True, False)
        if not sure and not self.names_heard_surely(recognition, posteriors()):
            recognition = unsure(recognition)
        return Decision(transcript, recognition, False, asked)

    def rescored(
        self,
        heard: str,
        alternatives: list[str],
        utterance: bytes,
        wake_words: Sequence[str],
        woke_here: bool,
    ) -> tuple[str, Recognition] | None:
        """The reading the audio makes likeliest among those the grammar knows: what the neural pass
        wrote, the grammar path's n-best, and readings near what it wrote (a sound misheard, a number
        in digits); None when even the best is far less likely than the free transcript (speech the
        grammar does not hold, out of domain)."""
        assert self.scorer is not None
        readings: dict[str, Recognition] = {}

        def consider(text: str, learned: bool = False) -> None:
            if text and text not in readings and len(readings) < MAX_READINGS:
                recognition = self.match(text, learned=learned)
                if recognition.intent is not None:
                    readings[text] = recognition

        consider(heard)  # (a transcript cut because it ran away is still only a reading to score)
        for text in alternatives:
            consider(text)
        if self.repairs is not None and len(readings) < MAX_READINGS:
            # Near what the neural pass wrote and near the grammar path's best guess (which often
            # has every word right but one: "brew a single shot light roast ... *an* and some sugar").
            sources = dict.fromkeys([heard, *alternatives[:1]])
            near = [pair for text in sources if text for pair in self.repairs.near(text, limit=MAX_TRIED)]
            for text, _ in sorted(near, key=lambda pair: pair[1])[:MAX_TRIED]:
                consider(text)
        if not readings:
            # No reading the grammar knows: what the neural pass wrote may be a phrasing no template
            # lists, for the learned parser. Only then: as the free transcript itself it would
            # always sound likeliest, beating the grammar's reading that mends one wrong sound.
            consider(heard, learned=True)
        if not readings:
            return None
        said = " ".join(wake_words) + " " if woke_here else ""  # the audio opens with the phrase
        texts = list(readings)
        scores = self.scorer.score(utterance, [said + t for t in [*texts, heard]])
        free = scores[-1]
        # Only readings near enough to the free transcript are candidates (per token of the shorter
        # text: a short reading of a long sentence the grammar does not hold, "silence" for "set a
        # timer for five minutes", carries its whole deficit); of those, the likeliest with the
        # grammar's prior.
        heard_tokens = self.scorer.tokens(said + heard)
        own = self.matcher.spec.own
        plausible = [
            (score, text) for score, text in zip(scores[:-1], texts, strict=True)
            if (score - free) / max(1, min(self.scorer.tokens(said + text), heard_tokens))
            >= -MARGIN * (OWN_MARGIN if readings[text].template in own else 1.0)
        ]  # fmt: skip
        if not plausible:
            return None
        _, best = max(plausible, key=lambda pair: pair[0] + 2 * math.log(max(readings[pair[1]].score, 1e-3)))
        return best, readings[best]

    def neural_text(self, utterance: bytes, wake_words: Sequence[str], woke_here: bool) -> str:
        """The utterance through the neural pass, without the wake phrase it may begin with."""
        assert self.neural is not None
        heard = normalize(self.neural.transcribe(utterance).text)
        return strip_wake(heard, wake_words) if woke_here else heard

    def sure(
        self,
        transcript: str,
        recognition: Recognition,
        posteriors: Sequence[tuple[str, float]],
        ignored: set[str],
    ) -> bool:
        """The grammar path's answer stands without the neural pass: a command, every word of it
        heard with a posterior of at least ``sure_posterior`` (fillers and the wake phrase aside).
        Never, when the neural pass decides every command."""
        if self.neural_decides or recognition.intent is None or recognition.score < 1.0:
            return False
        said = [w for w in transcript.split() if w not in ignored]
        heard = {w: p for w, p in posteriors if w not in ignored}
        return bool(said) and all(heard.get(w, 0.0) >= self.sure_posterior for w in said)

    def names_heard_surely(self, recognition: Recognition, posteriors: Sequence[tuple[str, float]]) -> bool:
        """What the reading acts on was heard surely: the words of the names it holds, or, when it
        names nothing, every word (its words as ``sure`` counts them)."""
        spec = self.matcher.spec
        named = [
            normalize(value.name if isinstance(value, NameValue) else str(value))
            for slot, value in recognition.slots.items()
            if isinstance(value, NameValue) or (slot in spec.slots and spec.slots[slot].type == "text")
        ]
        if not named or recognition.score < 1.0:
            return False
        heard = dict(posteriors)
        return all(heard.get(word, 0.0) >= self.sure_posterior for name in named for word in name.split())

    @staticmethod
    def doubtful(transcript: str, posteriors: Sequence[tuple[str, float]], ignored: set[str]) -> bool:
        """Most words of the recogniser's best guess were themselves guesses (posterior < DOUBT).

        A command heard clearly has one or two uncertain small words ("pause *the* tv"); the
        same command model forced onto other speech ("play this eagles" for a clip of music,
        "pause let us" for "pause timer") is unsure of most of them. Fillers and the wake phrase
        do not count either way, nor an edge word the transcript left out (breath heard as "lot"
        after "unmute the speaker").
        """
        heard = [(word, p) for word, p in posteriors if word not in ignored]
        said = [word for word in transcript.split() if word not in ignored]
        words = [word for word, _ in heard]
        for start in range(len(words) - len(said) + 1):
            if said and words[start : start + len(said)] == said:
                heard = heard[start : start + len(said)]
                break
        unsure = sum(p < DOUBT for _, p in heard)
        # One word alone ("stop") is often unsure against its neighbours ("top") yet right.
        return len(heard) >= 2 and unsure >= DOUBTFUL_SHARE * len(heard)

    def is_edge_noise(self, text: str) -> bool:
        """Nothing, or one short word that is no command: the breath after "hey maestro"."""
        words = text.split()
        if not words:
            return True
        return len(words) == 1 and len(text) <= EDGE_WORD_LETTERS and self.match(text).intent is None

    def choose(self, alternatives: list[str]) -> tuple[str, Recognition]:
        """The first of the n-best that is a command; else the best without a short edge word."""
        for text in alternatives:
            recognition = self.match(text)
            if recognition.intent is not None:
                return text, recognition
        # Breath and room noise at the edges come out as one short word ("if", "hey"):
        # the best hypothesis without it, when what remains is still a sentence.
        words = alternatives[0].split() if alternatives else []
        if len(words) >= 3:
            for edge, trimmed in ((words[-1], words[:-1]), (words[0], words[1:])):
                if len(edge) <= EDGE_WORD_LETTERS:
                    recognition = self.match(" ".join(trimmed))
                    if recognition.intent is not None:
                        return " ".join(trimmed), recognition
        text = alternatives[0] if alternatives else ""
        return text, Recognition(text, None)

    def match(self, text: str, *, learned: bool = False) -> Recognition:
        """``learned``: the learned parser may read ``text`` too; only for free transcripts (the
        grammar path's readings are the templates' own words)."""
        recognition = self.matcher.match(text, learned=learned)
        if recognition.template in self.matcher.spec.own and not said_whole(text, recognition.template):
            return Recognition(text, None)
        if any(
            isinstance(v, NameValue) and v.kind == "device" and not v.uri for v in recognition.slots.values()
        ):
            # Typed, "move it to the garage" deserves "I can't see a garage". Heard, a device
            # name the recogniser knows is never missing: this was not a command.
            return Recognition(text, None)
        return recognition


def said_whole(text: str, template: str) -> bool:
    """A short phrasing of the user's own is heard only with every word they taught it with: "a
    keeper" is the user's, "keeper" (the article left out, as templates allow) is anyone's word in
    passing. A phrasing of more words, or one with a name in it, carries evidence enough."""
    taught = template.split()
    if len(taught) > SHORT_OWN or any(not _PLAIN_WORD.match(word) for word in taught):
        return True
    heard = set(text.split())
    return all(word in heard for word in taught)


def cut_runaway(text: str, seconds: float) -> tuple[str, bool]:
    """A transcript that repeats itself or runs longer than the audio allows, cut: a word or pair of
    words said ``REPEATS`` times or more in a row folded to one, the words to as many as ``seconds``
    of speech can hold. True when it was cut (robotic voices sometimes give "play ny ny ny ny ..."
    to the end of the window)."""
    words = text.split()
    kept = _fold(_fold(words, 1), 2)
    kept = kept[: max(2, math.ceil(seconds * MAX_WORDS_PER_S))]
    return " ".join(kept), len(kept) < len(words)


def _fold(words: list[str], size: int) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(words):
        gram = words[i : i + size]
        runs = 1
        while len(gram) == size and words[i + runs * size : i + (runs + 1) * size] == gram:
            runs += 1
        if runs >= REPEATS:
            out += gram
            i += runs * size
        else:
            out.append(words[i])
            i += 1
    return out
