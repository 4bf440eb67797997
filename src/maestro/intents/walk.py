"""The templates of ``intents.yaml`` compiled for walking: every way an utterance's words fit one.

Templates are walked as trees, listing every way the words fit; the words a template must contain
(its anchors) and the words each part can start or end with (FIRST/LAST sets) prune the walk, and
rules such as <play> are walked once per utterance, not once per template (the memo of spans is
shared). The same walk answers "could these words be the start of a command?" for the listener.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from maestro.intents.normalize import normalize
from maestro.intents.numbers import DURATION_WORDS, NUMBER_WORDS
from maestro.intents.slots import parse_quantity
from maestro.intents.spec import IntentSpec, Template
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

#: Enough readings of one utterance by one template; more only costs time.
MAX_PARSES = 64
#: Stand-ins in FIRST/LAST sets: "a word of one of the speakers' names here", "digits here". Slots of
#: speakers and numbers are closed sets of words, so parts that start with them prune like words do.
DEVICE, DIGITS = "\x00device", "\x00digits"
#: A word to come, any word: "could more follow these words?" is "could these and one more start one?"
ANY_WORD = "\x00any"

#: (slot name, slot definition name, start word, end word) for each slot filled.
Captures = tuple[tuple[str, str, int, int], ...]
#: (words a part can start (or end) with, can it be empty, can it start (or end) with any word)
Edge = tuple[frozenset[str], bool, bool]
#: (id of a template node, start word) -> its (end, captures) spans, for one utterance.
_Memo = dict[tuple[int, int], list[tuple[int, Captures]]]


@dataclass
class Walk:
    """One utterance being matched: its words, the memo of spans, where speakers' names may be."""

    words: list[str]
    devicey: frozenset[int]
    memo: _Memo

    def fits(self, edge: Edge, pos: int) -> bool:
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
class CompiledTemplate:
    template: Template
    #: Words every match must contain: a cheap test before walking the template.
    anchors: frozenset[str]
    specificity: int
    first: Edge
    last: Edge
    #: Its only slot is a speaker ("move it to {device}"): a name there that is no speaker is worth saying.
    device_only: bool = False


def vocabulary(spec: IntentSpec) -> list[str]:
    """Every word the templates, prefixes, suffixes, slot values and units hold, and numbers."""
    words: set[str] = set(NUMBER_WORDS)
    for text in [t.text for t in spec.templates] + [*spec.prefixes, *spec.suffixes]:
        words.update(normalize(text).split())  # normalising already splits off "{", "<", "|"...
    for slot in spec.slots.values():
        for synonyms in slot.values.values():
            for synonym in synonyms:
                words.update(synonym.split())
        words.update(w for unit in slot.units for w in unit.split())
    return sorted(words)


class Walker:
    def __init__(self, spec: IntentSpec) -> None:
        self.spec = spec
        # What a number slot's words may be (besides digits), or an enum's phrases.
        self.slot_words = {
            name: NUMBER_WORDS
            | {w for unit in slot.units for w in unit.split()}
            | (DURATION_WORDS if slot.units else frozenset())
            if slot.type == "number"
            else frozenset(s for values in slot.values.values() for s in values)
            for name, slot in spec.slots.items()
        }
        self.edges = _Edges(spec, self.slot_words)
        self.templates = [self._compile(t) for t in spec.templates]

    def vocabulary(self) -> list[str]:
        return vocabulary(self.spec)

    # -- compiling ---------------------------------------------------------------

    def _compile(self, template: Template) -> CompiledTemplate:
        node = template.node
        slots = [ref for ref in references(node) if isinstance(ref, Slot)]
        device_only = bool(slots) and all(self.spec.slots[ref.source].type == "device" for ref in slots)
        first, last = self.edges.first(node), self.edges.last(node)
        return CompiledTemplate(template, self._anchors(node), literal_words(node), first, last, device_only)

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

    # -- walking ---------------------------------------------------------------

    def parses(self, compiled: CompiledTemplate, walk: Walk) -> list[Captures]:
        """Every way the words fit the template: the slot captures of each complete parse."""
        spans = self._spans(compiled.template.node, walk, 0)
        complete = [caps for end, caps in spans if end == len(walk.words)]
        return list(dict.fromkeys(complete))[:MAX_PARSES]

    def _spans(self, node: Node, walk: Walk, pos: int) -> list[tuple[int, Captures]]:
        """(end, captures) for each way ``node`` can match words[pos:end]; memoised per utterance."""
        key = (id(node), pos)
        memo, words = walk.memo, walk.words
        if key in memo:
            return memo[key]
        edge = self.edges.first(node)
        if not walk.fits(edge, pos):
            # This part cannot start here: it can only be skipped, if optional.
            memo[key] = [(pos, ())] if edge[1] else []
            return memo[key]
        out: list[tuple[int, Captures]] = []
        if isinstance(node, Word):
            if pos < len(words) and words[pos] == node.text:
                out.append((pos + 1, ()))
            if node.text in OPTIONAL_WORDS:
                out.append((pos, ()))
        elif isinstance(node, Seq):
            states: list[tuple[int, Captures]] = [(pos, ())]
            for item in node.items:
                states = _bounded(
                    dict.fromkeys(
                        (end, caps + more)
                        for start, caps in states
                        for end, more in self._spans(item, walk, start)
                    )
                )
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
            out = self._slot_spans(node, walk, pos)
        memo[key] = out
        return out

    def _slot_spans(self, node: Slot, walk: Walk, pos: int) -> list[tuple[int, Captures]]:
        words = walk.words
        slot = self.spec.slots[node.source]
        out: list[tuple[int, Captures]] = []
        for end in range(pos + 1, len(words) + 1):
            if slot.type == "device":
                if end - 1 not in walk.devicey:
                    break  # a speaker's name is a run of words from speakers' names
                if words[end - 1] in ("the", "my", "our"):
                    continue  # nor does it end with "the" or "my"
            elif slot.type == "number":
                word = words[end - 1]
                if not (word.isdigit() or word in self.slot_words[node.source]):
                    break  # a number is a run of number words: no longer span can be one
                if parse_quantity(" ".join(words[pos:end]), slot.units, low=slot.min) is None:
                    continue  # "one one": number words, no number (several slots in a row explode)
            elif slot.type == "enum" and " ".join(words[pos:end]) not in self.slot_words[node.source]:
                continue
            out.append((end, ((node.name, node.source, pos, end),)))
        return out

    # -- the start of a command ------------------------------------------------------

    def starts_a_command(self, walk: Walk) -> bool:
        """Could the words be the start of a sentence of some template (all of them used, perhaps
        more to come; a last word ``ANY_WORD`` asks that one more must fit)?"""
        prefixes: dict[tuple[int, int], bool] = {}
        return any(
            self._prefix(compiled.template.node, walk, 0, prefixes)
            for compiled in self.templates
            if walk.fits(compiled.first, 0) or compiled.first[1]
        )

    def _prefix(self, node: Node, walk: Walk, pos: int, memo: dict[tuple[int, int], bool]) -> bool:
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

    def _slot_prefix(self, node: Slot, walk: Walk, pos: int) -> bool:
        """Could words[pos:] be the start of this slot's value?"""
        rest = walk.words[pos:]
        more = rest[-1] == ANY_WORD  # the value must have room for a word more
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
            return all(w.isdigit() or w in self.slot_words[node.source] for w in rest)
        if slot.type == "device":
            return all(pos + i in walk.devicey for i in range(len(rest)))
        return True  # a name, free text: any words may start one


class _Edges:
    """The FIRST and LAST sets of template parts, computed once per part."""

    def __init__(self, spec: IntentSpec, slot_words: dict[str, frozenset[str]]) -> None:
        self.spec = spec
        self.slot_words = slot_words
        self._first_sets: dict[int, Edge] = {}
        self._last_sets: dict[int, Edge] = {}

    def first(self, node: Node) -> Edge:
        key = id(node)
        if key not in self._first_sets:
            self._first_sets[key] = self._compute_first(node)
        return self._first_sets[key]

    def last(self, node: Node) -> Edge:
        key = id(node)
        if key not in self._last_sets:
            self._last_sets[key] = self._compute_last(node)
        return self._last_sets[key]

    def _compute_last(self, node: Node) -> Edge:
        if isinstance(node, Seq):
            return self._compute_first(Seq(tuple(reversed(node.items))), edge=self.last)
        if isinstance(node, Alt):
            return _union([self.last(option) for option in node.options])
        if isinstance(node, Opt):
            last, _, open_end = self.last(node.item)
            return last, True, open_end
        if isinstance(node, RuleRef):
            return self.last(self.spec.rules[node.name])
        return self.first(node)  # a word or a slot: its first is its last

    def _compute_first(self, node: Node, edge: Callable[[Node], Edge] | None = None) -> Edge:
        edge = edge or self.first
        if isinstance(node, Word):
            return frozenset({node.text}), node.text in OPTIONAL_WORDS, False
        if isinstance(node, Slot):
            slot = self.spec.slots[node.source]
            if slot.type == "device":
                return frozenset({DEVICE}), False, False
            if slot.type == "number":
                return self.slot_words[node.source] | {DIGITS}, False, False
            return frozenset(), False, True
        if isinstance(node, RuleRef):
            return edge(self.spec.rules[node.name])
        if isinstance(node, Opt):
            first, _, open_start = edge(node.item)
            return first, True, open_start
        if isinstance(node, Alt):
            return _union([edge(option) for option in node.options])
        assert isinstance(node, Seq)
        first: frozenset[str] = frozenset()
        open_start = False
        for item in node.items:
            item_first, item_nullable, item_open = edge(item)
            first, open_start = first | item_first, open_start or item_open
            if not item_nullable:
                return first, False, open_start
        return first, True, open_start


def _union(parts: list[Edge]) -> Edge:
    return frozenset().union(*(p[0] for p in parts)), any(p[1] for p in parts), any(p[2] for p in parts)


def _bounded(states: Iterable[tuple[int, Captures]]) -> list[tuple[int, Captures]]:
    """At most MAX_PARSES partial parses, in order, keeping one for every position some reach.

    Slots in a row ("{n} {n} {n}" over a run of number words) split the words in more ways than
    can be kept; a plain cut could drop every split that ends where the next part must start.
    """
    states = list(states)
    if len(states) <= MAX_PARSES:
        return states
    first_at: dict[int, int] = {}
    for index, (end, _) in enumerate(states):
        first_at.setdefault(end, index)
    keep = set(first_at.values())
    for index in range(len(states)):
        if len(keep) >= MAX_PARSES:
            break
        keep.add(index)
    return [state for index, state in enumerate(states) if index in keep]
