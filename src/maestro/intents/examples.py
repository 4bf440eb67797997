"""Labelled sentences for the learned parser, drawn from the same grammar the templates are.

Each :class:`Example` is a sentence, one BIO tag per word (``B-album``, ``I-album``, ``O``) and
a label: the template group it came from, so values a group fixes ("stop shuffling" ->
``state: off``) come back with the intent. Out-of-domain sentences (``out_of_domain.txt``,
written for Maestro) are the ``none`` label. intents.yaml stays the one source of truth: change
it, or the library, and the examples (and so the learned parser) follow.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from importlib import resources
from typing import Any

from maestro.intents.grammar import slot_phrases
from maestro.intents.library import KINDS, LibraryProvider, match_key
from maestro.intents.normalize import normalize
from maestro.intents.spec import IntentSpec, Template
from maestro.intents.templates import Alt, Node, Opt, RuleRef, Seq, Slot, Word

NONE = "none"
#: Stands for a word the parser never saw: examples carry some, so unforeseen words
#: ("*bump* the sound up") weigh as little as they should.
UNKNOWN = "<unk>"
#: Words a free-text slot is trained on besides the library's names: what people search for.
SEARCHES = (
    "jazz", "rock", "blues", "classical music", "relaxing music", "country", "hip hop", "reggae",
    "disco", "techno", "lo fi", "christmas songs", "workout music", "sleep sounds", "rain sounds",
    "eighties pop", "indie", "folk music", "soul", "funk", "metal", "punk", "opera", "bossa nova",
    "kids songs", "lullabies", "white noise", "piano music", "chill music", "party music",
    "the daily", "serial", "radiolab", "audiobooks", "happy songs", "sad songs", "love songs",
)  # fmt: skip


#: Out-of-domain sentences given against the grammar's: about this share of them (and as many
#: again with an unknown word).
NONE_SHARE = 0.06


@dataclass(frozen=True)
class Example:
    words: tuple[str, ...]
    tags: tuple[str, ...]
    label: str


def label_of(template: Template) -> str:
    """The template's intent, with the values its group fixes: ``Shuffle {"state": "off"}``."""
    if not template.fixed:
        return template.intent
    return f"{template.intent} {json.dumps(template.fixed, sort_keys=True)}"


def read_label(label: str) -> tuple[str, dict[str, Any]]:
    intent, _, fixed = label.partition(" ")
    return intent, json.loads(fixed) if fixed else {}


def out_of_domain() -> list[str]:
    text = resources.files("maestro.intents").joinpath("out_of_domain.txt").read_text(encoding="utf-8")
    return [normalize(line) for line in text.splitlines() if line.strip() and not line.startswith("#")]


def examples(
    spec: IntentSpec, library: LibraryProvider, per_template: int = 40, seed: int = 29
) -> list[Example]:
    """Every template sampled ``per_template`` times (duplicates dropped), with some sentences
    given an unknown word at a slot's edge or the sentence's, and the out-of-domain sentences."""
    sampler = _Sampler(spec, library, random.Random(seed))
    seen: set[tuple[str, ...]] = set()
    out: list[Example] = []
    for template in spec.templates:
        label = label_of(template)
        for _ in range(per_template):
            pairs = sampler.sample(template.node)
            words = tuple(w for w, _ in pairs)
            if not words or words in seen:
                continue
            seen.add(words)
            out.append(Example(words, tuple(t for _, t in pairs), label))
            if sampler.rng.random() < 0.3:
                out.append(_with_unknown(out[-1], sampler.rng))
    # A few hundred sentences against thousands: each is given several times, as written and with
    # an unknown word, so that "none" weighs about as much against the grammar whatever its size.
    sentences = out_of_domain()
    copies = max(1, round(NONE_SHARE * len(out) / len(sentences)))
    for sentence in sentences:
        words = tuple(sentence.split())
        none = Example(words, ("O",) * len(words), NONE)
        out += [none] * copies + [_with_unknown(none, sampler.rng) for _ in range(copies)]
    return out


def _with_unknown(example: Example, rng: random.Random) -> Example:
    """The example with :data:`UNKNOWN` where a word may stand outside any slot."""
    tags = example.tags
    places = [i for i in range(len(tags) + 1) if i == len(tags) or not tags[i].startswith("I-")]
    at = rng.choice(places)
    return Example(
        (*example.words[:at], UNKNOWN, *example.words[at:]), (*tags[:at], "O", *tags[at:]), example.label
    )


class _Sampler:
    def __init__(self, spec: IntentSpec, library: LibraryProvider, rng: random.Random) -> None:
        self.spec = spec
        self.library = library
        self.rng = rng
        self._phrases: dict[str, list[str]] = {}

    def sample(self, node: Node) -> list[tuple[str, str]]:
        if isinstance(node, Word):
            return [(node.text, "O")]
        if isinstance(node, Seq):
            return [pair for item in node.items for pair in self.sample(item)]
        if isinstance(node, Alt):
            return self.sample(self.rng.choice(node.options))
        if isinstance(node, Opt):
            return self.sample(node.item) if self.rng.random() < 0.5 else []
        if isinstance(node, RuleRef):
            return self.sample(self.spec.rules[node.name])
        return self._slot(node)

    def _slot(self, slot: Slot) -> list[tuple[str, str]]:
        phrases = self.phrases(slot.source)
        if not phrases:
            return []
        words = self.rng.choice(phrases).split()
        return [(w, f"{'B' if i == 0 else 'I'}-{slot.name}") for i, w in enumerate(words)]

    def phrases(self, source: str) -> list[str]:
        if source not in self._phrases:
            definition = self.spec.slots[source]
            if definition.type == "text":
                names = {match_key(item.name) for kind in KINDS for item in self.library.items(kind)}
                found = sorted(n for n in names | set(SEARCHES) if n)
            else:
                found = slot_phrases(definition, self.library)
            self._phrases[source] = found
        return self._phrases[source]
