"""The templates compiled for the recognisers, so they only hear what the matcher understands.

- :func:`to_jsgf`: a JSGF grammar for PocketSphinx, with library and device names;
- :func:`vosk_words`: the word list for a Vosk grammar (plus ``[unk]``);
- :func:`sample_sentences`: random sentences the grammar accepts, with the intent
  they came from (tests check each one parses back to that intent).

Templates with a free-text slot (``PlaySearch``, ``Queue``) are left out of the
grammar: an open-vocabulary pass hears those.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator

from maestro.intents.library import LibraryProvider, match_key
from maestro.intents.numbers import to_words, year_words
from maestro.intents.spec import IntentSpec, SlotDef, Template
from maestro.intents.templates import OPTIONAL_WORDS, Alt, Node, Opt, RuleRef, Seq, Slot, Word, references

_JSGF_NAME = re.compile(r"[^A-Za-z0-9_]")


def in_grammar(template: Template, spec: IntentSpec) -> bool:
    """Whether the grammar path hears ``template``: not when it has a free-text slot, nor when its
    intent says ``grammar: false``."""
    intent = spec.intents.get(template.intent)
    if intent is not None and not intent.grammar:
        return False
    return not any(
        isinstance(ref, Slot) and spec.slots[ref.source].type == "text"
        for ref in deep_refs(template.node, spec)
    )


def deep_refs(node: Node, spec: IntentSpec) -> Iterator[Slot | RuleRef]:
    """The slots and rules ``node`` refers to, through the rules it uses."""
    for ref in references(node):
        yield ref
        if isinstance(ref, RuleRef):
            yield from deep_refs(spec.rules[ref.name], spec)


def slot_phrases(slot: SlotDef, library: LibraryProvider) -> list[str]:
    """Every phrase a slot can be spoken as, in grammar words."""
    if slot.type == "enum":
        return sorted({s for values in slot.values.values() for s in values})
    if slot.type == "number":
        if slot.min is not None and slot.min >= 1000:  # years, as people say them
            years = range(max(slot.min, 1950), min(slot.max or 2030, 2030) + 1)
            return sorted({year_words(year) for year in years})
        low = slot.min if slot.min is not None else 0
        high = min(slot.max if slot.max is not None else 100, 100)
        numbers = [to_words(n) for n in range(low, high + 1)]
        if not slot.units:
            return numbers
        # Durations: "thirty seconds", "two minutes", "a minute".
        phrases = list(numbers)
        for unit, factor in slot.units.items():
            if factor == 1:
                phrases += [f"{n} {unit}" for n in numbers]
            else:
                phrases += [f"{to_words(n)} {unit}" for n in range(1, 11)] + [f"a {unit}"]
        return sorted(set(phrases))
    if slot.type in ("library", "device"):
        names = {match_key(item.name) for item in library.items(slot.kind)}
        return sorted(n for n in names if n)
    return []


def to_jsgf(spec: IntentSpec, library: LibraryProvider, name: str = "maestro") -> str:
    lines = ["#JSGF V1.0;", "", f"grammar {name};", ""]
    intents = []
    used_rules: set[str] = set()
    used_slots: set[str] = set()
    for intent in spec.intents.values():
        bodies = [t for t in intent.templates if in_grammar(t, spec)]
        if not bodies:
            continue
        intents.append(intent.name)
        alternatives = " | ".join(_jsgf(t.node, used_rules, used_slots) for t in bodies)
        lines.append(f"<{_rule_name('intent', intent.name)}> = {alternatives};")
    pending = list(used_rules)
    while pending:  # rules may use rules
        rule = pending.pop()
        before = set(used_rules)
        body = _jsgf(spec.rules[rule], used_rules, used_slots)
        pending += list(used_rules - before)
        lines.append(f"<{_rule_name('rule', rule)}> = {body};")
    for slot_name in sorted(used_slots):
        phrases = slot_phrases(spec.slots[slot_name], library) or ["<VOID>"]
        lines.append(f"<{_rule_name('slot', slot_name)}> = {' | '.join(phrases)};")
    public = " | ".join(f"<{_rule_name('intent', n)}>" for n in intents)
    lines.insert(4, f"public <command> = {public};")
    return "\n".join(lines) + "\n"


def _rule_name(kind: str, name: str) -> str:
    return f"{kind}_{_JSGF_NAME.sub('_', name)}"


def _jsgf(node: Node, rules: set[str], slots: set[str]) -> str:
    if isinstance(node, Word):
        return f"[{node.text}]" if node.text in OPTIONAL_WORDS else node.text
    if isinstance(node, Seq):
        return " ".join(_jsgf(item, rules, slots) for item in node.items)
    if isinstance(node, Alt):
        return "(" + " | ".join(_jsgf(option, rules, slots) for option in node.options) + ")"
    if isinstance(node, Opt):
        return "[" + _jsgf(node.item, rules, slots) + "]"
    if isinstance(node, RuleRef):
        rules.add(node.name)
        return f"<{_rule_name('rule', node.name)}>"
    slots.add(node.source)
    return f"<{_rule_name('slot', node.source)}>"


def vosk_words(spec: IntentSpec, library: LibraryProvider) -> list[str]:
    """Every word the grammar can produce, plus ``[unk]`` for everything else."""
    words: set[str] = set()
    seen: dict[str, frozenset[str]] = {}  # rules and slots recur in many templates: each is read once
    for template in spec.templates:
        if in_grammar(template, spec):
            words.update(_words(template.node, spec, library, seen))
    return [*sorted(words), "[unk]"]


def _words(
    node: Node, spec: IntentSpec, library: LibraryProvider, seen: dict[str, frozenset[str]]
) -> set[str]:
    if isinstance(node, Word):
        return {node.text}
    if isinstance(node, Seq | Alt):
        children = node.items if isinstance(node, Seq) else node.options
        return set().union(*(_words(child, spec, library, seen) for child in children))
    if isinstance(node, Opt):
        return _words(node.item, spec, library, seen)
    key = f"<{node.name}>" if isinstance(node, RuleRef) else f"{{{node.source}}}"
    if key not in seen:
        if isinstance(node, RuleRef):
            seen[key] = frozenset(_words(spec.rules[node.name], spec, library, seen))
        else:
            phrases = slot_phrases(spec.slots[node.source], library)
            seen[key] = frozenset(w for phrase in phrases for w in phrase.split())
    return set(seen[key])


def sample_sentences(
    spec: IntentSpec, library: LibraryProvider, per_template: int = 3, seed: int = 8628
) -> list[tuple[str, str]]:
    """(sentence, intent) pairs drawn at random from the grammar."""
    rng = random.Random(seed)
    cache: dict[str, list[str]] = {}
    out = []
    for template in spec.templates:
        if not in_grammar(template, spec):
            continue
        for _ in range(per_template):
            words = _sample(template.node, spec, library, rng, cache)
            if words:
                out.append((" ".join(words), template.intent))
    return out


def _sample(
    node: Node, spec: IntentSpec, library: LibraryProvider, rng: random.Random, cache: dict[str, list[str]]
) -> list[str]:
    if isinstance(node, Word):
        return [node.text]
    if isinstance(node, Seq):
        return [w for item in node.items for w in _sample(item, spec, library, rng, cache)]
    if isinstance(node, Alt):
        return _sample(rng.choice(node.options), spec, library, rng, cache)
    if isinstance(node, Opt):
        return _sample(node.item, spec, library, rng, cache) if rng.random() < 0.5 else []
    if isinstance(node, RuleRef):
        return _sample(spec.rules[node.name], spec, library, rng, cache)
    if node.source not in cache:
        cache[node.source] = slot_phrases(spec.slots[node.source], library)
    phrases = cache[node.source]
    return rng.choice(phrases).split() if phrases else []
