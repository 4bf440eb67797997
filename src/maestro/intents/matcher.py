"""Text -> :class:`Recognition`: which intent, with which typed slots, how sure.

Matching runs in stages, cheapest and surest first:

1. the utterance, normalised, with fillers ("um", "uh") dropped, against every template
   (:mod:`~maestro.intents.walk` walks them; articles in templates are optional);
2. the same with polite or wake-word prefixes and suffixes stripped
   ("hey maestro could you ... please");
3. numbers written as digits read as words ("a 12 ounce latte");
4. tolerant: words the templates do not know read as words they do
   (:mod:`~maestro.intents.corrections`), for what ASR mishears ("skipp", "volum");
5. learned: where the templates found nothing, the parser learned from them
   (:mod:`~maestro.intents.learned`) reads phrasings no template lists ("the speakers are far too
   loud"); its reading counts only when it is confident and its names are the user's. Where only
   a free-text reading fits, it may veto it ("put the kettle on" asks for no music).

Each way the words fit a template resolves its slots (:mod:`~maestro.intents.slots`: numbers,
enums, library and device names with rapidfuzz, free text); a reading whose required name does
not resolve is dropped. Readings are ranked by score, then resolved names, then literal words in
the template (specificity), then file order: deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from maestro.intents.corrections import Corrections
from maestro.intents.examples import NONE, read_label
from maestro.intents.learned import LearnedParser, Learner, Reading, describe
from maestro.intents.library import LibraryProvider
from maestro.intents.normalize import normalize
from maestro.intents.numbers import spelled
from maestro.intents.recognition import NameValue, Recognition
from maestro.intents.slots import DEVICE_FILLERS, UNRESOLVED, SlotValues
from maestro.intents.spec import IntentSpec
from maestro.intents.walk import ANY_WORD, Captures, CompiledTemplate, Walk, Walker


@dataclass
class _Candidate:
    compiled: CompiledTemplate
    slots: dict[str, Any]
    score: float
    resolved: int
    problems: list[str]
    #: Words that went into slots: of two equal readings, the one whose template says more wins
    #: ("my crime junkie podcast": "my" is the template's, not the name's).
    slot_words: int = 0

    def rank(self) -> tuple[float, int, int, int, int, int]:
        t = self.compiled
        own = int(not t.template.wrapped or not any(v.kind == "device" for v in self.slots.values()
                                                      if isinstance(v, NameValue)))  # fmt: skip
        return (round(self.score, 6), self.resolved, own, t.specificity, -self.slot_words, -t.template.order)


#: The learned parser's reading is taken at this probability or more (its classifier's).
CONFIDENT = 0.9
#: ... and when its slot tagging is at least this likely.
TAGGED = 0.5
#: The daemon trains the learned parser this long after its names change (or it starts): a box
#: busy starting up or fetching its library is not slowed, and one fetch trains once.
LEARN_AFTER_S = 60.0
#: A learned reading never scores above this: any template reading without doubt ranks first.
LEARNED_CEILING = 0.95


@dataclass(frozen=True)
class _Learned:
    intent: str
    slots: dict[str, Any]
    score: float


class Matcher:
    def __init__(
        self, spec: IntentSpec, library: LibraryProvider | None = None, learner: Learner | None = None
    ) -> None:
        self.spec = spec
        #: The second parser, trained from ``spec`` and the names (None: the templates alone).
        self.learner = learner
        self._compile()
        self.names = SlotValues(library)

    def _compile(self) -> None:
        """The templates walked, and the words they know (for misheard-word corrections)."""
        self.walker = Walker(self.spec)
        self.vocabulary = self.walker.vocabulary()
        self.grammar_words = frozenset(self.vocabulary)
        self.corrections = Corrections(self.vocabulary)

    def refresh(self) -> None:
        """The spec changed in place (the user's own phrasings): its words and the learned parser
        follow at once."""
        self._compile()
        self._retrain(delay_s=0.0)

    def set_library(self, library: LibraryProvider) -> None:
        """Use new names (the library refreshes in the background)."""
        self.names.use(library)
        self._retrain(delay_s=LEARN_AFTER_S)

    def _retrain(self, delay_s: float) -> None:
        """The learned parser is out of date: the daemon trains it again after ``delay_s``."""
        if self.learner is not None:
            self.learner.forget()
            if self.learner.background:
                self.learner.train_ahead(self.names.library, delay_s=delay_s)

    @property
    def learned(self) -> LearnedParser | None:
        return self.learner.parser(self.names.library) if self.learner is not None else None

    @property
    def library(self) -> LibraryProvider:
        return self.names.library

    # -- matching ---------------------------------------------------------------

    def match(self, text: str, *, learned: bool = True) -> Recognition:
        """``learned``: False asks the templates alone (readings the grammar itself generated)."""
        words = self._drop_fillers(normalize(text).split())
        unknown: list[str] = []  # speaker names readings asked for that no speaker has
        best = self._best(words, penalty=0.0, unknown=unknown)
        stripped = self._strip_edges(words)
        if stripped != words and (best is None or best.score < 1.0):
            best = _better(best, self._best(stripped, penalty=0.0, unknown=unknown))
        if (best is None or best.score < 1.0) and any(w.isdigit() for w in stripped):
            # Numbers read the same whether written as digits ("a 12 ounce latte", as Whisper writes
            # them) or words ("twelve ounce"): digits read as words, where the templates want words.
            in_words = spelled(stripped)
            best = _better(best, self._best(in_words, penalty=0.0, unknown=unknown))
            stripped = in_words if best is not None and best.score >= 1.0 else stripped
        # Nothing, or only a free-text reading ("play <anything>" takes any words): perhaps a word
        # was heard as another ("water please", "the dinner jazz playlists").
        if best is None or best.score <= UNRESOLVED:
            for fixed, cost in self.corrections.readings(stripped, self.names.library_words()):
                best = _better(best, self._best(fixed, penalty=cost))
        # Politeness alone ("thank you", "hello maestro") asks for nothing: no guess for the learned parser.
        ask = learned and (best is None or self._free_text_only(best))
        parser = self.learned if ask and self._strip_edges(words, all_of_it=True) else None
        second, why = self._second_opinion(parser, text, spelled(stripped), best) if parser else (None, {})
        if best is None:
            # "move it to the garage": nothing fits, so say which speaker was not found. The words
            # that could be a speaker's name were narrowed to speakers' words; widen them once.
            self._best(stripped, penalty=0.0, unknown=unknown, any_device=True)
            name = self._unknown_speaker(stripped, unknown)
            # The learned parser read the rest ("in the garage, next song" as the next song): a
            # name made of words no template holds is a speaker the user does not have, not filler.
            if name and (second is None or not set(name.split()) & self.grammar_words):
                return Recognition(text, None, problems=[f"I can't find a speaker called {name}."])
        if second is not None:
            return second
        if best is None:
            return Recognition(text, None, reasons=why)
        template = best.compiled.template
        score = max(0.0, min(1.0, best.score))
        if score < self.spec.threshold:
            return Recognition(text, None, score=score)
        return Recognition(text, template.intent, best.slots, score, template.text, best.problems)

    def _second_opinion(
        self, parser: LearnedParser, text: str, words: list[str], best: _Candidate | None
    ) -> tuple[Recognition | None, dict[str, Any]]:
        """The learned parser's answer where the templates found nothing, or only a free-text
        reading (None: the templates' answer stands), and why. A free-text reading ("play some
        classical music") is what the templates mean to say, unless the learned parser is sure the
        sentence asks for no music at all ("put the kettle on")."""
        if not words:
            return None, {}
        reading = parser.read(words)
        why = describe(reading)
        if best is not None:
            if reading.label == NONE and reading.confidence >= CONFIDENT:
                return Recognition(text, None, parser="learned", reasons=why), why
            return None, why
        found, refused = self._learned(parser, reading)
        if found is None:
            return None, {**why, "refused": refused}
        return Recognition(text, found.intent, found.slots, found.score, None, [], "learned", why), why

    @staticmethod
    def _free_text_only(candidate: _Candidate) -> bool:
        """Only a free-text slot took words ("play <anything>"): no name, number or speaker (at
        the free-text score, a value that is text is the free text)."""
        if candidate.score != UNRESOLVED:
            return False
        fixed = candidate.compiled.template.fixed
        named = [value for name, value in candidate.slots.items() if name not in fixed]
        return bool(named) and all(isinstance(value, str) for value in named)

    def _learned(self, parser: LearnedParser, reading: Reading) -> tuple[_Learned | None, str]:
        """The learned reading as an answer, when the parser is confident and every slot it tagged
        resolves the way a template's would (a speaker or name must be the user's, a number a
        number); else None and why not."""
        if reading.label == NONE:
            return None, "no request to Maestro"
        if reading.confidence < CONFIDENT or reading.tagging < TAGGED:
            return None, f"not sure enough (needs {CONFIDENT:.0%} for the intent, {TAGGED:.0%} for the slots)"
        missing = parser.required.get(reading.label, set()) - set(reading.spans)
        if missing:
            return None, f"no {', '.join(sorted(missing))}"
        intent, fixed = read_label(reading.label)
        slots: dict[str, Any] = dict(fixed)
        weakest = 1.0
        for name in sorted(reading.spans, key=lambda n: n != "artist"):  # "X by Y": Y first, as templates do
            words = reading.spans[name]
            source = parser.sources.get(intent, {}).get(name)
            artist = slots.get("artist")
            outcome = None if source is None else self.names.resolve(
                name, self.spec.slots[source], words, artist.name if isinstance(artist, NameValue) else ""
            )  # fmt: skip
            if outcome is None or outcome[2] is not None:
                return None, f"{words!r} is no {name}"
            value, factor, _ = outcome
            if isinstance(value, NameValue) and not value.uri:
                return None, f"{words!r} is none of your {name}s"  # names it finds must be the user's
            slots[name] = value
            weakest = min(weakest, factor)
        return _Learned(intent, slots, min(LEARNED_CEILING, reading.confidence) * weakest), ""

    def unfinished(self, text: str) -> bool:
        """Is ``text`` the start of a command that is not finished: no template matches it whole,
        but some template's sentences begin with exactly these words ("give me a double shot",
        "put the volume at")? The listener lets such an utterance run on through a pause."""
        words = spelled(self._strip_edges(self._drop_fillers(normalize(text).split())))
        if not words or self.match(" ".join(words), learned=False).intent is not None:
            return False
        # What is heard mid-utterance is a rough guess ("give me *eight* double shot"): the words
        # with one of them left out may start a command too.
        readings = [words, *([*words[:i], *words[i + 1 :]] for i in range(len(words)) if len(words) > 1)]
        return any(self.walker.starts_a_command(self._walk(reading)) for reading in readings)

    def continues(self, text: str) -> bool:
        """Could a command go on after ``text`` ("brew a sixteen ounce mocha" ... "with skim milk")?
        The listener gives such an utterance a short pause's grace before it ends."""
        words = spelled(self._strip_edges(self._drop_fillers(normalize(text).split())))
        return bool(words) and self.walker.starts_a_command(self._walk([*words, ANY_WORD]))

    def _walk(self, words: list[str], any_device: bool = False) -> Walk:
        is_device_word = self.names.is_device_word
        devicey = frozenset(i for i, word in enumerate(words) if any_device or is_device_word(word))
        return Walk(words, devicey, {})

    def _drop_fillers(self, words: list[str]) -> list[str]:
        fillers = set(self.spec.fillers)
        return [w for w in words if w not in fillers]

    def _strip_edges(self, words: list[str], *, all_of_it: bool = False) -> list[str]:
        """Drop wake words and politeness at either end, repeatedly (``all_of_it``: even when
        nothing would be left: "thank you" is politeness alone)."""
        keep = 0 if all_of_it else 1
        changed = True
        while changed and words:
            changed = False
            for phrase in self.spec.prefixes:
                parts = phrase.split()
                if words[: len(parts)] == parts and len(words) >= len(parts) + keep:
                    words, changed = words[len(parts) :], True
                    break
            for phrase in self.spec.suffixes:
                parts = phrase.split()
                if words[-len(parts) :] == parts and len(words) >= len(parts) + keep:
                    words, changed = words[: -len(parts)], True
                    break
        return words

    def _best(
        self, words: list[str], penalty: float, unknown: list[str] | None = None, *, any_device: bool = False
    ) -> _Candidate | None:
        """The best reading of ``words``. ``any_device``: every word may be a speaker's name, and only
        templates about a speaker alone are tried (to name the speaker that was not found)."""
        if not words:
            return None
        present = frozenset(words)
        best: _Candidate | None = None
        walk = self._walk(words, any_device)  # one memo for all templates: <play> is walked once
        for compiled in self.walker.templates:
            if not compiled.anchors <= present:
                continue
            if any_device and (compiled.template.wrapped or not compiled.device_only):
                continue
            fits = walk.fits(compiled.first, 0) and walk.fits(compiled.last, len(words) - 1)
            if not (fits or compiled.first[1]):
                continue
            # Every way the words fit, not just the first: the first fit may put
            # words in a slot that do not resolve ("play some X": is "some" part of X?).
            for captures in self.walker.parses(compiled, walk):
                candidate = self._candidate(compiled, words, captures, 1.0 - penalty, unknown)
                if candidate is not None and (best is None or candidate.rank() > best.rank()):
                    best = candidate
        return best

    def _candidate(
        self, compiled: CompiledTemplate, words: list[str], captures: Captures, score: float,
        unknown: list[str] | None = None,
    ) -> _Candidate | None:  # fmt: skip
        raw = {
            name: (" ".join(words[start:end]), self.spec.slots[source])
            for name, source, start, end in captures
        }
        slots: dict[str, Any] = dict(compiled.template.fixed)
        problems: list[str] = []
        resolved = 0
        # Cheap and decisive first: a device that is not one ends this reading before
        # any big library is searched; then the artist, since "X by Y" looks for X
        # among Y's items.
        order = sorted(raw, key=lambda name: (raw[name][1].kind != "device", name != "artist"))
        weakest = 1.0  # a reading is as sure as its least sure slot: two unknown names cost no more than one
        for name in order:
            text, slot = raw[name]
            artist = slots.get("artist")
            artist_name = artist.name if isinstance(artist, NameValue) and artist.uri else ""
            outcome = self.names.resolve(name, slot, text, artist_name)
            if outcome is None:
                if slot.kind == "device" and unknown is not None and len(text.split()) <= 3:
                    unknown.append(text)  # a speaker's name is short: longer is some other sentence
                return None
            value, factor, problem = outcome
            slots[name] = value
            weakest = min(weakest, factor)
            if isinstance(value, NameValue) and value.uri:
                resolved += 1
            if problem:
                problems.append(problem)
        in_order = {name: slots[name] for name in [*compiled.template.fixed, *raw]}
        slot_words = sum(end - start for _, _, start, end in captures)
        return _Candidate(compiled, in_order, score * weakest, resolved, problems, slot_words)

    def _unknown_speaker(self, words: list[str], candidates: list[str]) -> str | None:
        """The speaker a real command named that is not one of the user's: a candidate name that is
        not the whole utterance ("hello" is no command naming a speaker "hello"), and with one of
        the user's speakers in its place, the rest is a command ("in the garage, next song")."""
        known = [key for key in self.names.index("device").keys if key]
        if not known:
            return None  # no speaker to try in its place: better "didn't get that" than a guess
        stand_in = known[0].split()
        # A slot that takes every word after "in the" offers "garage next song": its shorter parts too.
        spans = {" ".join(c.split()[i:j]) for c in candidates for i in range(len(c.split()))
                 for j in range(i + 1, len(c.split()) + 1)}  # fmt: skip
        for name in sorted(spans - set(DEVICE_FILLERS), key=lambda s: (len(s.split()), s))[:12]:
            parts = name.split()
            for start in range(len(words) - len(parts) + 1):
                if words[start : start + len(parts)] != parts or len(parts) == len(words):
                    continue
                replaced = [*words[:start], *stand_in, *words[start + len(parts) :]]
                if self._best(replaced, penalty=0.0, unknown=[]) is not None:
                    return name
        return None


def _better(a: _Candidate | None, b: _Candidate | None) -> _Candidate | None:
    if a is None:
        return b
    if b is None:
        return a
    return b if b.rank() > a.rank() else a
