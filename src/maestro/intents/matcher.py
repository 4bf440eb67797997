"""Text -> :class:`Recognition`: which intent, with which typed slots, how sure.

Matching runs in stages, cheapest and surest first:

1. the utterance, normalised, with fillers ("um", "uh") dropped, against every
   template (articles in templates optional). Templates are walked as trees,
   listing every way the words fit; the words a template must contain and the
   words each part can start with prune the walk, and rules such as <play> are
   walked once per utterance, not once per template;
2. the same with polite or wake-word prefixes and suffixes stripped
   ("hey maestro could you ... please");
3. tolerant: words the templates do not know are replaced by the closest word
   they do know (rapidfuzz), for what ASR mishears ("skipp", "volum").

Each template match resolves its slots (numbers, enums, library and device
names with rapidfuzz, free text); a match whose required name does not resolve
is dropped. Candidates are ranked by score, then resolved names, then literal
words in the template (specificity), then file order: deterministic.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz, process

from maestro.intents.library import KINDS, EmptyLibrary, LibraryProvider, NameIndex, strip_generic_suffix
from maestro.intents.normalize import normalize
from maestro.intents.numbers import (
    DURATION_WORDS,
    NUMBER_WORDS,
    number_words,
    parse_duration,
    parse_number,
    parse_year,
)
from maestro.intents.recognition import NameValue, Recognition
from maestro.intents.sounds import stems, word_key
from maestro.intents.spec import IntentSpec, SlotDef, Template
from maestro.intents.templates import (
    OPTIONAL_WORDS,
    Alt,
    Node,
    Opt,
    RuleRef,
    Seq,
    Slot,
    Word,
    literal_words,
    references,
)

#: rapidfuzz cut-off (0..100) for a name to count as that library item or device.
NAME_CUTOFF = 80.0
#: Score multiplier for a free-text slot, or a name that resolved to nothing.
UNRESOLVED = 0.9
SUBSTITUTION_PENALTY = 0.12
#: What a word heard with another ending costs, and one that only sounds like a template word.
STEM_PENALTY = 0.02
SOUND_PENALTY = 0.1
#: rapidfuzz ratio of sound keys (four sounds or more) to count as "sounds like".
SOUND_CUTOFF = 86
#: Few candidates per word, and few readings in all: corrections are a last resort, kept cheap.
MAX_SOUNDS_ALIKE = 3
MAX_CORRECTIONS = 9
#: Enough readings of one utterance by one template; more only costs time.
MAX_PARSES = 64
#: Words that join a sentence rather than name something, and what each costs an unknown name.
STRUCTURE_WORDS = frozenset({"by", "from", "on", "in", "album", "albums", "song", "songs", "track", "tracks",
                             "playlist", "podcast", "record", "music", "latest", "newest",
                             "greatest", "new", "my", "some", "fifties", "sixties", "seventies",
                             "eighties", "nineties", "year"})  # fmt: skip
STRUCTURE_PENALTY = 0.9

#: (slot name, slot definition name, start word, end word) for each slot filled.
_Captures = tuple[tuple[str, str, int, int], ...]
_Edge = tuple[frozenset[str], bool, bool]
#: (id of a template node, start word) -> its (end, captures) spans, for one utterance.
_Memo = dict[tuple[int, int], list[tuple[int, _Captures]]]
#: Stand-ins in FIRST/LAST sets: "a word of one of the speakers' names here", "digits here". Slots of
#: speakers and numbers are closed sets of words, so parts that start with them prune like words do.
DEVICE, DIGITS = "\x00device", "\x00digits"
#: A word to come, any word: "could more follow these words?" is "could these and one more start one?"
ANY_WORD = "\x00any"
#: Words that may sit inside a speaker's name as said ("the kitchen speaker").
DEVICE_FILLERS = frozenset({"the", "my", "our", "speaker", "speakers"})


@dataclass
class _Walk:
    """One utterance being matched: its words, the memo of spans, where speakers' names may be."""

    words: list[str]
    memo: _Memo
    devicey: frozenset[int]

    def fits(self, edge: tuple[frozenset[str], bool, bool], pos: int) -> bool:
        """Can a part with this FIRST (or LAST) set start (or end) at ``pos``?"""
        words, open_ = edge[0], edge[2]
        if open_:
            return True
        if not 0 <= pos < len(self.words):
            return False
        word = self.words[pos]
        if word in words:
            return True
        return (DEVICE in words and pos in self.devicey) or (DIGITS in words and word.isdigit())


@dataclass
class _Compiled:
    template: Template
    #: Words every match must contain: a cheap test before walking the template.
    anchors: frozenset[str]
    specificity: int
    #: (words a match can start with, can it be empty, can it start with any word)
    first: tuple[frozenset[str], bool, bool]
    #: The same for the words a match can end with.
    last: tuple[frozenset[str], bool, bool]
    #: Its only slot is a speaker ("move it to {device}"): a name there that is no speaker is worth saying.
    device_only: bool = False


@dataclass
class _Candidate:
    compiled: _Compiled
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


class Matcher:
    def __init__(self, spec: IntentSpec, library: LibraryProvider | None = None) -> None:
        self.spec = spec
        self._first_sets: dict[int, _Edge] = {}
        self._last_sets: dict[int, _Edge] = {}
        # What a number slot's words may be (besides digits), or an enum's phrases.
        self._slot_words = {
            name: NUMBER_WORDS
            | {w for unit in slot.units for w in unit.split()}
            | (DURATION_WORDS if slot.units else frozenset())
            if slot.type == "number"
            else frozenset(s for values in slot.values.values() for s in values)
            for name, slot in spec.slots.items()
        }
        self.compiled = [self._compile(t) for t in spec.templates]
        self.vocabulary = self._vocabulary()
        self._known_words = frozenset(self.vocabulary)
        # Never "correct" a word into a number: "then" is not "ten".
        self._fuzzy_targets = [w for w in self.vocabulary if w not in NUMBER_WORDS]
        self._sound_index: dict[str, list[str]] | None = None  # sound key -> template words, on first use
        self.set_library(library or EmptyLibrary())

    # -- set up ---------------------------------------------------------------

    def set_library(self, library: LibraryProvider) -> None:
        """Use new names (the library refreshes in the background)."""
        self.library = library
        self._indexes: dict[str, NameIndex] = {}
        self._library_words: frozenset[str] | None = None
        self._device_words: dict[str, bool] = {}

    def _is_device_word(self, word: str) -> bool:
        """Could ``word`` be part of a speaker's name as said (or misheard)?"""
        if word not in self._device_words:
            vocabulary = {w for key in self.index("device").keys for w in key.split()}
            self._device_words[word] = (
                word in vocabulary or word in DEVICE_FILLERS
                or (len(word) >= 3 and process.extractOne(word, vocabulary, scorer=fuzz.ratio,
                                                          score_cutoff=75) is not None)
            )  # fmt: skip
        return self._device_words[word]

    def index(self, kind: str) -> NameIndex:
        if kind not in self._indexes:
            self._indexes[kind] = NameIndex(self.library.items(kind))
        return self._indexes[kind]

    def library_words(self) -> frozenset[str]:
        if self._library_words is None:
            words: set[str] = set()
            for kind in KINDS:
                for key in self.index(kind).keys:
                    words.update(key.split())
            self._library_words = frozenset(words)
        return self._library_words

    def _compile(self, template: Template) -> _Compiled:
        node = template.node
        slots = [ref for ref in references(node) if isinstance(ref, Slot)]
        device_only = bool(slots) and all(self.spec.slots[ref.source].type == "device" for ref in slots)
        return _Compiled(
            template,
            self._anchors(node),
            literal_words(node),
            self._first(node),
            self._last(node),
            device_only,
        )

    def _anchors(self, node: Node) -> frozenset[str]:
        if isinstance(node, Word):
            return frozenset() if node.text in OPTIONAL_WORDS else frozenset({node.text})
        if isinstance(node, Seq):
            return frozenset().union(*(self._anchors(item) for item in node.items))
        if isinstance(node, Alt):
            return frozenset.intersection(*(self._anchors(option) for option in node.options))
        if isinstance(node, RuleRef):
            return self._anchors(self.spec.rules[node.name])
        return frozenset()  # optional parts and slots promise no particular word

    def _vocabulary(self) -> list[str]:
        words: set[str] = set(NUMBER_WORDS)
        for text in [t.text for t in self.spec.templates] + [*self.spec.prefixes, *self.spec.suffixes]:
            words.update(normalize(text).split())  # normalising already splits off "{", "<", "|"...
        for slot in self.spec.slots.values():
            for synonyms in slot.values.values():
                for synonym in synonyms:
                    words.update(synonym.split())
            words.update(w for unit in slot.units for w in unit.split())
        return sorted(words)

    # -- matching ---------------------------------------------------------------

    def match(self, text: str) -> Recognition:
        words = self._drop_fillers(normalize(text).split())
        unknown: list[str] = []  # speaker names readings asked for that no speaker has
        best = self._best(words, penalty=0.0, unknown=unknown)
        stripped = self._strip_edges(words)
        if stripped != words and (best is None or best.score < 1.0):
            best = _better(best, self._best(stripped, penalty=0.0, unknown=unknown))
        if (best is None or best.score < 1.0) and any(w.isdigit() for w in stripped):
            # Numbers read the same whether written as digits ("a 12 ounce latte", as Whisper writes
            # them) or words ("twelve ounce"): digits read as words, where the templates want words.
            spelled = " ".join(number_words(w) if w.isdigit() else w for w in stripped).split()
            best = _better(best, self._best(spelled, penalty=0.0, unknown=unknown))
            stripped = spelled if best is not None and best.score >= 1.0 else stripped
        # Nothing, or only a free-text reading ("play <anything>" takes any words): perhaps a word
        # was heard as another ("water please", "the dinner jazz playlists").
        if best is None or best.score <= UNRESOLVED:
            for fixed, cost in self._corrected(stripped):
                best = _better(best, self._best(fixed, penalty=cost))
        if best is None:
            # "move it to the garage": nothing fits, so say which speaker was not found. The words
            # that could be a speaker's name were narrowed to speakers' words; widen them once.
            self._best(stripped, penalty=0.0, unknown=unknown, any_device=True)
            name = self._unknown_speaker(stripped, unknown)
            problems = [f"I can't find a speaker called {name}."] if name else []
            return Recognition(text, None, problems=problems)
        template = best.compiled.template
        score = max(0.0, min(1.0, best.score))
        if score < self.spec.threshold:
            return Recognition(text, None, score=score)
        return Recognition(text, template.intent, best.slots, score, template.text, best.problems)

    def unfinished(self, text: str) -> bool:
        """Is ``text`` the start of a command that is not finished: no template matches it whole,
        but some template's sentences begin with exactly these words ("give me a double shot",
        "put the volume at")? The listener lets such an utterance run on through a pause."""
        words = self._strip_edges(self._drop_fillers(normalize(text).split()))
        words = [w for word in words for w in (number_words(word) if word.isdigit() else word).split()]
        if not words or self.match(" ".join(words)).intent is not None:
            return False
        # What is heard mid-utterance is a rough guess ("give me *eight* double shot"): the words
        # with one of them left out may start a command too.
        readings = [words, *([*words[:i], *words[i + 1 :]] for i in range(len(words)) if len(words) > 1)]
        return any(self._starts_a_command(reading) for reading in readings)

    def continues(self, text: str) -> bool:
        """Could a command go on after ``text`` ("brew a sixteen ounce mocha" ... "with skim milk")?
        The listener gives such an utterance a short pause's grace before it ends."""
        words = self._strip_edges(self._drop_fillers(normalize(text).split()))
        words = [w for word in words for w in (number_words(word) if word.isdigit() else word).split()]
        return bool(words) and self._starts_a_command([*words, ANY_WORD])

    def _starts_a_command(self, words: list[str]) -> bool:
        devicey = frozenset(i for i, word in enumerate(words) if self._is_device_word(word))
        walk = _Walk(words, {}, devicey)
        prefixes: dict[tuple[int, int], bool] = {}
        return any(
            self._prefix(compiled.template.node, walk, 0, prefixes)
            for compiled in self.compiled
            if walk.fits(compiled.first, 0) or compiled.first[1]
        )

    def _prefix(self, node: Node, walk: _Walk, pos: int, memo: dict[tuple[int, int], bool]) -> bool:
        """Can ``node`` take all of words[pos:] and (perhaps) more after them?"""
        words = walk.words
        if pos == len(words):
            return True
        key = (id(node), pos)
        if key in memo:
            return memo[key]
        memo[key] = False  # a rule that refers to itself is no way forward
        if isinstance(node, Word):
            found = words[pos] in (node.text, ANY_WORD) and pos + 1 == len(words)
        elif isinstance(node, Seq):
            found, states = False, {pos}
            for item in node.items:
                if len(words) in states or any(self._prefix(item, walk, s, memo) for s in states):
                    found = True
                    break
                states = {end for s in states for end, _ in self._spans(item, walk, s)}
                if not states:
                    break
            else:
                found = len(words) in states
        elif isinstance(node, Alt):
            found = any(self._prefix(option, walk, pos, memo) for option in node.options)
        elif isinstance(node, Opt):
            found = self._prefix(node.item, walk, pos, memo)
        elif isinstance(node, RuleRef):
            found = self._prefix(self.spec.rules[node.name], walk, pos, memo)
        else:
            found = self._slot_prefix(node, walk, pos)
        memo[key] = found
        return found

    def _slot_prefix(self, node: Slot, walk: _Walk, pos: int) -> bool:
        """Could words[pos:] be the start of this slot's value?"""
        rest = walk.words[pos:]
        more = rest[-1] == ANY_WORD  # (from ``continues``) the value must have room for a word more
        if more:
            rest = rest[:-1]
            if not rest:
                return True
        slot = self.spec.slots[node.source]
        if slot.type == "enum":
            return any(
                phrase.split()[: len(rest)] == rest and len(phrase.split()) > len(rest) - (not more)
                for synonyms in slot.values.values()
                for phrase in synonyms
            )
        if slot.type == "number":
            return all(w.isdigit() or w in self._slot_words[node.source] for w in rest)
        if slot.type == "device":
            return all(pos + i in walk.devicey for i in range(len(rest)))
        return True  # a name, free text: any words may start one

    def _unknown_speaker(self, words: list[str], candidates: list[str]) -> str | None:
        """The speaker a real command named that is not one of the user's: a candidate name that is
        not the whole utterance ("hello" is no command naming a speaker "hello"), and with one of
        the user's speakers in its place, the rest is a command ("in the garage, next song")."""
        known = [key for key in self.index("device").keys if key]
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

    def _drop_fillers(self, words: list[str]) -> list[str]:
        fillers = set(self.spec.fillers)
        return [w for w in words if w not in fillers]

    def _strip_edges(self, words: list[str]) -> list[str]:
        """Drop wake words and politeness at either end, repeatedly."""
        changed = True
        while changed and words:
            changed = False
            for phrase in self.spec.prefixes:
                parts = phrase.split()
                if words[: len(parts)] == parts and len(words) > len(parts):
                    words, changed = words[len(parts) :], True
                    break
            for phrase in self.spec.suffixes:
                parts = phrase.split()
                if words[-len(parts) :] == parts and len(words) > len(parts):
                    words, changed = words[: -len(parts)], True
                    break
        return words

    def _corrected(self, words: list[str]) -> list[tuple[list[str], float]]:
        """Readings of ``words`` in which each word no template or name knows is replaced by a known
        word it may have been: the same word with another ending ("playlists"), one that sounds
        alike ("water" -> "louder"; several may, so a few readings), one spelt almost alike
        ("volum"). Each with what its changes cost; [] when nothing changed."""
        known, names = self._known_words, self.library_words()
        options: list[list[tuple[str, float]]] = []
        sounded = 0
        for word in words:
            if word in known or word.isdigit():
                options.append([(word, 0.0)])
                continue
            if word in names:  # part of a name, or a command word heard as one ("boys" for "pause")
                alike = self._sounds_like(word) if (sounded + 1) * 3 <= max(3, len(words)) else []
                options.append([(word, 0.0), *((target, SOUND_PENALTY) for target in alike[:1])])
                sounded += bool(alike)
                continue
            stem = next((s for s in stems(word) if s in known), None)
            if stem is not None:
                options.append([(stem, STEM_PENALTY)])
                continue
            # At most one word in three by sound: more than that is another sentence.
            alike = self._sounds_like(word) if (sounded + 1) * 3 <= max(3, len(words)) else []
            if alike:
                options.append([(target, SOUND_PENALTY) for target in alike])
                sounded += 1
                continue
            found = None
            if len(word) >= 4:  # never "correct" a word into a number: "then" is not "ten"
                found = process.extractOne(word, self._fuzzy_targets, scorer=fuzz.ratio, score_cutoff=80)
            options.append([(found[0], SUBSTITUTION_PENALTY)] if found else [(word, 0.0)])
        readings = []
        for choice in itertools.islice(itertools.product(*options), MAX_CORRECTIONS):
            cost = sum(c for _, c in choice)
            if cost:
                readings.append(([w for w, _ in choice], cost))
        return readings

    def _sounds_like(self, word: str) -> list[str]:
        """Template words that sound like ``word`` (equal sound keys, or nearly for longer ones),
        the likeliest first."""
        key = word_key(word)
        if len(key) < 2:
            return []
        if self._sound_index is None:
            index: dict[str, list[str]] = {}
            for target in self._fuzzy_targets:
                index.setdefault(word_key(target), []).append(target)
            self._sound_index = index
        same = list(self._sound_index.get(key, []))
        if not same and len(key) >= 4:
            keys = list(self._sound_index)
            found = process.extractOne(key, keys, scorer=fuzz.ratio, score_cutoff=SOUND_CUTOFF)
            same = list(self._sound_index[found[0]]) if found else []
        same.sort(key=lambda target: (-fuzz.ratio(target, word), len(target)))
        return same[:MAX_SOUNDS_ALIKE]

    def _best(
        self, words: list[str], penalty: float, unknown: list[str] | None = None, *, any_device: bool = False
    ) -> _Candidate | None:
        """The best reading of ``words``. ``any_device``: every word may be a speaker's name, and only
        templates about a speaker alone are tried (to name the speaker that was not found)."""
        if not words:
            return None
        present = frozenset(words)
        best: _Candidate | None = None
        # The memo is shared by all templates: rules like <play> are walked once per utterance.
        devicey = frozenset(
            i for i, word in enumerate(words) if any_device or self._is_device_word(word)
        )  # fmt: skip
        walk = _Walk(words, {}, devicey)
        for compiled in self.compiled:
            if not compiled.anchors <= present:
                continue
            if any_device and (compiled.template.wrapped or not compiled.device_only):
                continue
            fits = walk.fits(compiled.first, 0) and walk.fits(compiled.last, len(words) - 1)
            if not (fits or compiled.first[1]):
                continue
            # Every way the words fit, not just the first: the first fit may put
            # words in a slot that do not resolve ("play some X": is "some" part of X?).
            for captures in self._parses(compiled.template.node, walk):
                candidate = self._candidate(compiled, words, captures, 1.0 - penalty, unknown)
                if candidate is not None and (best is None or candidate.rank() > best.rank()):
                    best = candidate
        return best

    def _first(self, node: Node) -> tuple[frozenset[str], bool, bool]:
        """(words a match can start with, can it match nothing, can it start with any word)."""
        key = id(node)
        if key not in self._first_sets:
            self._first_sets[key] = self._compute_first(node)
        return self._first_sets[key]

    def _last(self, node: Node) -> tuple[frozenset[str], bool, bool]:
        """(words a match can end with, can it match nothing, can it end with any word)."""
        key = id(node)
        if key not in self._last_sets:
            self._last_sets[key] = self._compute_last(node)
        return self._last_sets[key]

    def _compute_last(self, node: Node) -> _Edge:
        if isinstance(node, Seq):
            return self._compute_first(Seq(tuple(reversed(node.items))), edge=self._last)
        if isinstance(node, Alt):
            parts = [self._last(option) for option in node.options]
            return (
                frozenset().union(*(p[0] for p in parts)),
                any(p[1] for p in parts),
                any(p[2] for p in parts),
            )
        if isinstance(node, Opt):
            last, _, open_end = self._last(node.item)
            return last, True, open_end
        if isinstance(node, RuleRef):
            return self._last(self.spec.rules[node.name])
        return self._first(node)  # a word or a slot: its first is its last

    def _compute_first(self, node: Node, edge: Callable[[Node], _Edge] | None = None) -> _Edge:
        edge = edge or self._first
        if isinstance(node, Word):
            return frozenset({node.text}), node.text in OPTIONAL_WORDS, False
        if isinstance(node, Slot):
            slot = self.spec.slots[node.source]
            if slot.type == "device":
                return frozenset({DEVICE}), False, False
            if slot.type == "number":
                return self._slot_words[node.source] | {DIGITS}, False, False
            return frozenset(), False, True
        if isinstance(node, RuleRef):
            return edge(self.spec.rules[node.name])
        if isinstance(node, Opt):
            first, _, open_start = edge(node.item)
            return first, True, open_start
        if isinstance(node, Alt):
            parts = [edge(option) for option in node.options]
            return (
                frozenset().union(*(p[0] for p in parts)),
                any(p[1] for p in parts),
                any(p[2] for p in parts),
            )
        assert isinstance(node, Seq)
        first: frozenset[str] = frozenset()
        open_start = False
        for item in node.items:
            item_first, item_nullable, item_open = edge(item)
            first, open_start = first | item_first, open_start or item_open
            if not item_nullable:
                return first, False, open_start
        return first, True, open_start

    def _parses(self, node: Node, walk: _Walk) -> list[_Captures]:
        """Every way the words fit the template: the slot captures of each complete parse."""
        complete = [caps for end, caps in self._spans(node, walk, 0) if end == len(walk.words)]
        return list(dict.fromkeys(complete))[:MAX_PARSES]

    def _spans(self, node: Node, walk: _Walk, pos: int) -> list[tuple[int, _Captures]]:
        """(end, captures) for each way ``node`` can match words[pos:end]; memoised per utterance."""
        key = (id(node), pos)
        memo, words = walk.memo, walk.words
        if key in memo:
            return memo[key]
        edge = self._first(node)
        if not walk.fits(edge, pos):
            # This part cannot start here: it can only be skipped, if optional.
            memo[key] = [(pos, ())] if edge[1] else []
            return memo[key]
        out: list[tuple[int, _Captures]] = []
        if isinstance(node, Word):
            if pos < len(words) and words[pos] == node.text:
                out.append((pos + 1, ()))
            if node.text in OPTIONAL_WORDS:
                out.append((pos, ()))
        elif isinstance(node, Seq):
            states: list[tuple[int, _Captures]] = [(pos, ())]
            for item in node.items:
                states = list(
                    dict.fromkeys(
                        (end, caps + more)
                        for start, caps in states
                        for end, more in self._spans(item, walk, start)
                    )
                )[:MAX_PARSES]
                if not states:
                    break
            out = states
        elif isinstance(node, Alt):
            for option in node.options:
                out.extend(self._spans(option, walk, pos))
        elif isinstance(node, Opt):
            out = [*self._spans(node.item, walk, pos), (pos, ())]
        elif isinstance(node, RuleRef):
            out = self._spans(self.spec.rules[node.name], walk, pos)
        else:
            slot = self.spec.slots[node.source]
            for end in range(pos + 1, len(words) + 1):
                if slot.type == "device":
                    if end - 1 not in walk.devicey:
                        break  # a speaker's name is a run of words from speakers' names
                    if words[end - 1] in ("the", "my", "our"):
                        continue  # nor does it end with "the" or "my"
                elif slot.type == "number":
                    word = words[end - 1]
                    if not (word.isdigit() or word in self._slot_words[node.source]):
                        break  # a number is a run of number words: no longer span can be one
                    if _parse_quantity(" ".join(words[pos:end]), slot.units, low=slot.min) is None:
                        continue  # "one one": number words, no number (several slots in a row explode)
                elif slot.type == "enum" and " ".join(words[pos:end]) not in self._slot_words[node.source]:
                    continue
                out.append((end, ((node.name, node.source, pos, end),)))
        memo[key] = out
        return out

    def _candidate(
        self, compiled: _Compiled, words: list[str], captures: _Captures, score: float,
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
            outcome = self._resolve_slot(name, slot, text, artist_name)
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

    def _resolve_slot(
        self, name: str, slot: SlotDef, text: str, artist: str
    ) -> tuple[Any, float, str | None] | None:
        if slot.type == "number":
            value = _parse_quantity(text, slot.units, low=slot.min)
            if value is None:
                return None
            problem = None
            if (slot.min is not None and value < slot.min) or (slot.max is not None and value > slot.max):
                problem = f"{name} must be between {slot.min} and {slot.max}"
            return value, 1.0, problem
        if slot.type == "enum":
            for canonical, synonyms in slot.values.items():
                if text in synonyms:
                    return canonical, 1.0, None
            return None
        if slot.type == "text":
            return (text, UNRESOLVED, None) if text else None
        # library or device
        index = self.index(slot.kind)
        tries = [text]
        if slot.kind in ("device", "playlist"):
            tries.append(strip_generic_suffix(text))
        for attempt in dict.fromkeys(tries):
            # With a known artist ("X by Y"), X must be one of Y's: "something by Queen"
            # is not the Beatles' "Something".
            found = index.resolve(attempt, NAME_CUTOFF, artist if slot.kind in ("album", "track") else "")
            if found is not None:
                value = NameValue(found.item.name, found.item.uri, slot.kind)
                return value, 0.8 + 0.2 * found.score / 100, None
        if slot.kind == "device":
            found = index.only_one_holding(strip_generic_suffix(text))  # "the TV" for "Den TV"
            if found is not None:
                value = NameValue(found.item.name, found.item.uri, slot.kind)
                return value, 0.8 + 0.2 * found.score / 100, None
        if slot.require_match or slot.kind == "device":
            # A speaker must be one of the user's: "put on love playlist" is no move to "love playlist".
            return None
        # An unknown name that holds the words sentences are built with was most likely cut in the
        # wrong place: "the latest album" as a song title, "2004 by imogen heap" as an artist.
        joints = sum(word in STRUCTURE_WORDS for word in text.split())
        return NameValue(text, None, slot.kind), UNRESOLVED * STRUCTURE_PENALTY**joints, None


def _better(a: _Candidate | None, b: _Candidate | None) -> _Candidate | None:
    if a is None:
        return b
    if b is None:
        return a
    return b if b.rank() > a.rank() else a


def _parse_quantity(text: str, units: dict[str, int], *, low: int | None = None) -> int | None:
    """A number, optionally with units: "thirty seconds" -> 30, "a minute" -> 60,
    "1 minute 30" -> 90 (a bare number after a unit counts in the next smaller one),
    "a minute and a half" -> 90, "two and a half minutes" -> 150, "half an hour" -> 30 (in
    minutes). A year ("nineteen ninety six") where the slot starts at 1000 or more."""
    if not units:
        number = parse_number(text)
        if number is None and low is not None and low >= 1000:
            return parse_year(text)
        return number
    return parse_duration(text, units)
