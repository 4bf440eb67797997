"""Sentences the grammar knows, near what the neural pass heard.

Whisper writes what it heard in real words, and one wrong sound loses a command
the matcher would understand: "a dark *rose* double shot" (roast), "an iced
*marker*" (mocha), "*home* milk" (whole), "a single shot of *maricano*"
(americano). :class:`Repairs` proposes the readings that could have been meant:
every span of one to three words may become a phrase of intents.yaml (a template
word, an enum value, a name) that sounds like it or is spelt like it, or may be
dropped; the cheapest readings by how far their sounds moved come first. Which
one was said is not decided here: the readings that parse go to the neural
model, which scores each against the audio (:mod:`maestro.voice.rescore`).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from rapidfuzz import fuzz, process

from maestro.intents.library import KINDS, LibraryProvider
from maestro.intents.normalize import normalize
from maestro.intents.numbers import NUMBER_WORDS, number_words, spelled
from maestro.intents.sounds import sound_key
from maestro.intents.spec import IntentSpec
from maestro.intents.templates import Alt, Node, Opt, RuleRef, Seq, Word

#: A span this alike (0-100, sound keys or spelling, whichever is closer) may become the phrase.
ALIKE = 62
#: Phrases tried per span, spans up to this many words, readings kept while searching and returned.
PER_SPAN = 4
MAX_SPAN = 3
BEAM = 160
READINGS = 240
#: What changing a span costs: at least CHANGE, plus its sounds' and its spelling's distance, weighed.
CHANGE = 0.1
SOUND_WEIGHT = 0.7
SPELLING_WEIGHT = 0.3
#: What dropping a word costs (a word Whisper heard that was no word said: "a single shot *of*").
DROP = 0.55
#: What adding a short word costs (one the neural pass did not write: "give me a double shot
#: espresso *with* some soy milk"); only the grammar's words of up to INSERTABLE_LETTERS letters.
INSERT = 0.45
INSERTABLE_LETTERS = 4
#: What keeping a word no template knows costs (it may be a name the grammar takes as free text,
#: but as often a sound misheard): about what a close substitute costs, so both are tried.
UNKNOWN = 0.3
#: A command's opening ("can i have", "may i have", "put on") may be heard as other words ("they
#: have"); the first MAX_OPENING words may become any opening the templates have, this alike or more.
MAX_OPENING = 4
OPENING_ALIKE = 45
MAX_OPENINGS = 400
#: Names taken into the phrases (the most a box's library has, beyond which a name is a search).
MAX_NAMES = 5000


class Repairs:
    def __init__(self, spec: IntentSpec, library: LibraryProvider) -> None:
        words, runs = grammar_words(spec)
        # Runs of template words as phrases too, so one word heard may be two said ("maia" for
        # "may i"), and two heard one said.
        phrases = words | {" ".join(run[i : i + n]) for run in runs for n in (2, 3)
                           for i in range(len(run) - n + 1)}  # fmt: skip
        self.insertable = sorted(w for w in words if len(w) <= INSERTABLE_LETTERS)
        self.openings = openings(spec)
        self._opening_keys = [sound_key(p) for p in self.openings]
        for slot in spec.slots.values():
            for synonyms in slot.values.values():
                phrases.update(synonyms)
        phrases.update(number_words(str(n)) for n in range(101))
        names = [normalize(item.name) for kind in KINDS for item in library.items(kind)][:MAX_NAMES]
        phrases.update(name for name in names if 0 < len(name.split()) <= MAX_SPAN + 1)
        self.vocabulary = frozenset(w for phrase in phrases for w in phrase.split())
        self.phrases = sorted(p for p in phrases if p)
        # "ch" is K as often as J ("mocha", "chorus"): both keys, so spelling does not decide.
        keyed = [(key, p) for p in self.phrases for key in {sound_key(p), sound_key(p.replace("ch", "k"))}]
        self.keys = [key for key, _ in keyed]
        self._keyed = [p for _, p in keyed]

    def near(self, text: str, limit: int = READINGS) -> list[tuple[str, float]]:
        """Readings of ``text`` (normalised, digits as words), cheapest first, with their cost
        (0: unchanged). The first is the text itself when every word is one the grammar knows."""
        words = spelled(normalize(text).split())
        if not words:
            return []
        options = [self._options(words, start) for start in range(len(words))]
        # A beam over positions: (cost, position, words so far), the cheapest BEAM kept per step.
        beam: list[tuple[float, int, tuple[str, ...]]] = [(0.0, 0, ())]
        done: dict[tuple[str, ...], float] = {}
        while beam:
            step: list[tuple[float, int, tuple[str, ...]]] = []
            for cost, at, said in beam:
                if at == len(words):
                    if said and said not in done:
                        done[said] = cost
                    continue
                for length, phrase, more in options[at]:
                    step.append((cost + more, at + length, (*said, *phrase.split())))
                if not said or said[-1] not in self.insertable:  # one short word at a time
                    step.extend((cost + INSERT, at, (*said, word)) for word in self.insertable)
            beam = heapq.nsmallest(BEAM, step)
        ranked = sorted(done.items(), key=lambda item: item[1])[:limit]
        return [(" ".join(said), round(cost, 3)) for said, cost in ranked]

    def _options(self, words: list[str], start: int) -> list[tuple[int, str, float]]:
        """What the span starting at ``start`` may become: (words it covers, phrase, cost)."""
        word = words[start]
        found: dict[tuple[int, str], float] = {}
        keep = 0.0 if word in self.vocabulary or word in NUMBER_WORDS else UNKNOWN
        found[(1, word)] = keep
        found[(1, "")] = DROP
        for length in range(1, MAX_SPAN + 1):
            span = " ".join(words[start : start + length])
            if start + length > len(words):
                break
            for phrase, alike in self._alike(span):
                cost = change_cost(span, phrase, alike) + 0.02 * abs(len(phrase.split()) - length)
                key = (length, phrase)
                if cost < found.get(key, 9.0):
                    found[key] = cost
        if start == 0:
            for length in range(1, min(MAX_OPENING, len(words)) + 1):
                span = " ".join(words[:length])
                for phrase, alike in self._opening(span):
                    cost = change_cost(span, phrase, alike)
                    if cost < found.get((length, phrase), 9.0):
                        found[(length, phrase)] = cost
        return [(length, phrase, cost) for (length, phrase), cost in found.items()]

    def _opening(self, span: str) -> Iterable[tuple[str, float]]:
        key = sound_key(span)
        if not key:
            return []
        found = process.extract(key, self._opening_keys, scorer=fuzz.ratio, limit=PER_SPAN,
                                score_cutoff=OPENING_ALIKE)  # fmt: skip
        return [(self.openings[index], alike) for _, alike, index in found]

    def _alike(self, span: str) -> Iterable[tuple[str, float]]:
        """Phrases that sound or are spelt like ``span``, with how alike (0-100)."""
        key = sound_key(span)
        if len(key) < 2:
            return []
        best: dict[str, float] = {}
        for _, alike, index in process.extract(key, self.keys, scorer=fuzz.ratio, limit=PER_SPAN,
                                              score_cutoff=ALIKE):  # fmt: skip
            phrase = self._keyed[index]
            best[phrase] = max(best.get(phrase, 0.0), alike)
        for phrase, alike, _ in process.extract(span, self.phrases, scorer=fuzz.ratio, limit=PER_SPAN,
                                                score_cutoff=ALIKE + 10):  # fmt: skip
            best[phrase] = max(best.get(phrase, 0.0), alike)
        return best.items()


def change_cost(span: str, phrase: str, alike: float) -> float:
    """What reading ``span`` as ``phrase`` costs: any change something, more as the sounds move
    apart (``alike``, 0-100), and some more as the spelling does (sound keys are coarse: "with"
    and "lot" share one)."""
    if span == phrase:
        return 0.0
    spelt = fuzz.ratio(span, phrase)
    return CHANGE + SOUND_WEIGHT * (100 - alike) / 100 + SPELLING_WEIGHT * (100 - spelt) / 100


def openings(spec: IntentSpec) -> list[str]:
    """The words templates can open with, up to their first slot (at most MAX_OPENING of them):
    "can i have", "may i have a", "put on"."""
    found: dict[str, None] = {}

    def starts(node: Node, depth: int = 0) -> list[tuple[tuple[str, ...], bool]]:
        """(words, whether the node ends there: its whole self is words) for each way it opens."""
        if depth > 8:
            return [((), False)]
        if isinstance(node, Word):
            return [((node.text,), True)]
        if isinstance(node, Opt):
            return [*starts(node.item, depth + 1), ((), True)]
        if isinstance(node, Alt):
            return [start for option in node.options for start in starts(option, depth + 1)]
        if isinstance(node, RuleRef):
            rule = spec.rules.get(node.name)
            return starts(rule, depth + 1) if rule is not None else [((), False)]
        if isinstance(node, Seq):
            out: list[tuple[tuple[str, ...], bool]] = [((), True)]
            for item in node.items:
                grown = []
                for words, whole in out:
                    if not whole or len(words) >= MAX_OPENING:
                        grown.append((words, False))
                        continue
                    grown += [((*words, *more), more_whole) for more, more_whole in starts(item, depth + 1)]
                out = list(dict.fromkeys(grown))[: 10 * MAX_OPENINGS]
            return out
        return [((), False)]  # a slot: the opening ends here

    for template in spec.templates:
        for words, _ in starts(template.node):
            if words and len(words) <= MAX_OPENING:
                found[normalize(" ".join(words))] = None
    # The shortest are kept: they open the most sentences.
    return sorted(found, key=lambda opening: len(opening.split()))[:MAX_OPENINGS]


def grammar_words(spec: IntentSpec) -> tuple[set[str], list[list[str]]]:
    """Every word the templates and rules can say (slots aside), and the runs of words they say
    one after another ("may i have", "with a")."""
    found: set[str] = set()
    runs: list[list[str]] = []

    def walk(node: Node) -> None:
        if isinstance(node, Word):
            found.add(node.text)
        elif isinstance(node, Seq):
            run: list[str] = []
            for item in node.items:
                walk(item)
                if isinstance(item, Word):
                    run.append(item.text)
                else:
                    runs.append(run)
                    run = []
            runs.append(run)
        elif isinstance(node, Alt):
            for option in node.options:
                walk(option)
        elif isinstance(node, Opt):
            walk(node.item)
        elif isinstance(node, RuleRef):
            pass  # rules are walked on their own below

    for template in spec.templates:
        walk(template.node)
    for rule in spec.rules.values():
        walk(rule)
    found.update(w for phrase in (*spec.prefixes, *spec.suffixes, *spec.fillers) for w in phrase.split())
    words = {w for word in found for w in normalize(word).split()}
    return words, [normalize(" ".join(run)).split() for run in runs if len(run) >= 2]
