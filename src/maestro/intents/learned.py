"""The learned parser: an intent classifier and a slot tagger trained from intents.yaml.

Where the templates find nothing, people still said something the grammar nearly covers: other
word orders, fillers, everyday words around the ones the templates know ("who is *singing* this
one", "*bump* the sound up"). Following Snips NLU, two small models are trained from sentences
the grammar generates (:mod:`~maestro.intents.examples`), so intents.yaml stays the one source
of truth:

- the **intent classifier** is a maximum-entropy model (multinomial logistic regression) over
  word, word-pair and word-piece features. CRFsuite trains it: a linear-chain CRF over a
  one-item sequence *is* that model, so one small C library serves both models;
- the **slot tagger** is a linear-chain CRF per intent over the words, with the neighbouring
  words and whether a word is part of one of the user's names (so names it was not trained on
  are found too).

Both are trained in seconds and cached by the hash of everything they are trained from.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import multiprocessing
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pycrfsuite

from maestro.fsutil import atomic_write_bytes
from maestro.intents.examples import NONE, NONE_SHARE, UNKNOWN, Example, examples, out_of_domain
from maestro.intents.grammar import deep_refs
from maestro.intents.library import KINDS, LibraryItem, LibraryProvider, StaticLibrary, match_key
from maestro.intents.numbers import TENS, UNITS
from maestro.intents.spec import IntentSpec
from maestro.intents.templates import Slot
from maestro.intents.walk import vocabulary

log = logging.getLogger(__name__)

#: Bumped when features or training change, so old cached models are not used.
VERSION = 1
#: Longest library name (in words) the name features look for.
_NAME_WORDS = 6
_CLASSIFIER = {"c1": 0.0, "c2": 0.05, "max_iterations": 80, "feature.possible_transitions": False}
# possible_states: weights for pairs never seen together too, so that a word no name holds
# learns it is unlikely inside a name ("in the kitchen *now*").
_TAGGER = {"c1": 0.05, "c2": 0.01, "max_iterations": 60,
           "feature.possible_transitions": True, "feature.possible_states": True}  # fmt: skip


@dataclass
class Reading:
    """What the learned parser makes of some words: the label (intent and fixed values), how
    likely the classifier finds it, the tagged slot texts and how likely the tagging is."""

    label: str
    confidence: float
    #: Slot name -> the words tagged as it.
    spans: dict[str, str] = field(default_factory=dict)
    tagging: float = 1.0
    #: The runner-up label and its probability: what ``parse --explain`` shows.
    runner_up: tuple[str, float] | None = None


class LearnedParser:
    """Trained models, ready to read word lists. Build with :func:`learned_parser`."""

    def __init__(self, folder: Path, spec: IntentSpec, names: NameFeatures) -> None:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        self.folder = folder
        self.vocabulary = frozenset(meta["vocabulary"])
        #: Label -> the slots every sentence of it names (a reading without one is incomplete).
        self.required: dict[str, set[str]] = {label: set(slots) for label, slots in meta["required"].items()}
        #: Intent -> slot name -> the slot definition its value is read with.
        self.sources = slot_sources(spec)
        self.names = names
        self._classifier = pycrfsuite.Tagger()
        self._classifier.open(str(folder / "intent.crfsuite"))
        self._taggers: dict[str, pycrfsuite.Tagger] = {}
        for path in sorted(folder.glob("slots-*.crfsuite")):
            tagger = pycrfsuite.Tagger()
            tagger.open(str(path))
            self._taggers[path.stem.removeprefix("slots-")] = tagger

    def read(self, words: Sequence[str]) -> Reading:
        known = [w if w in self.vocabulary else UNKNOWN for w in words]
        self._classifier.set([sentence_features(self.names.masked(words, known))])
        ranked = sorted(((self._classifier.marginal(label, 0), label) for label in self._classifier.labels()),
                        reverse=True)  # fmt: skip
        confidence, label = ranked[0]
        second = (ranked[1][1], ranked[1][0]) if len(ranked) > 1 else None
        reading = Reading(label, confidence, runner_up=second)
        intent = label.partition(" ")[0]
        tagger = self._taggers.get(intent)
        if tagger is None or label == NONE:
            return reading
        tags = tagger.tag(word_features(known, list(words), self.names))
        reading.tagging = tagger.probability(tags)
        reading.spans = spans(words, tags)
        return reading


def spans(words: Sequence[str], tags: Sequence[str]) -> dict[str, str]:
    """BIO tags -> slot name: its words (the first span of each name; an ``I-`` without a ``B-``
    starts one)."""
    out: dict[str, list[str]] = {}
    current: str | None = None
    for word, tag in zip(words, tags, strict=True):
        kind, _, name = tag.partition("-")
        if kind == "B" or (kind == "I" and name != current):
            current = name if name not in out else None
            if current is not None:
                out[current] = [word]
        elif kind == "I" and current is not None:
            out[current].append(word)
        else:
            current = None
    return {name: " ".join(ws) for name, ws in out.items()}


# -- features ---------------------------------------------------------------------


def sentence_features(words: Sequence[str]) -> dict[str, float]:
    """Words, pairs of words and the pieces of long words (so "shuffling" says "shuffl"), with
    the sentence's edges as words of their own."""
    feats: dict[str, float] = {"bias": 1.0}
    padded = ["<s>", *words, "</s>"]
    for word in words:
        feats[f"w={word}"] = 1.0
        if len(word) > 4 and word != UNKNOWN:
            feats[f"p={word[:5]}"] = 1.0
    for a, b in itertools.pairwise(padded):
        feats[f"b={a}|{b}"] = 1.0
    feats[f"n={min(len(words), 8)}"] = 1.0
    return feats


class NameFeatures:
    """Which words of a sentence are part of one of the user's names, by kind: lets the tagger
    find names it was never trained on."""

    def __init__(self, library: LibraryProvider, grammar_words: frozenset[str] = frozenset()) -> None:
        self.grammar_words = grammar_words
        self.keys: dict[str, set[str]] = {}
        for kind in KINDS:
            for item in library.items(kind):
                key = match_key(item.name)
                if key and len(key.split()) <= _NAME_WORDS:
                    self.keys.setdefault(key, set()).add(kind)

    def masked(self, words: Sequence[str], known: Sequence[str]) -> list[str]:
        """``known`` with each name of the user's as one placeholder of its kinds (``<album|track>``)
        and each number as ``<number>``: which name or number was said says nothing of the intent,
        so the classifier learns "play <artist>", not "play adele"."""
        out: list[str] = []
        i = 0
        while i < len(words):
            # The longest name here; a one-word name that is also a grammar word ("Something",
            # "Help!") stays a word.
            found = next(((end, kinds) for end, kinds in self._names_at(words, i)
                          if end - i > 1 or words[i] not in self.grammar_words), None)  # fmt: skip
            if found is not None:
                end, kinds = found
                out.append("<" + "|".join(sorted(kinds)) + ">")
                i = end
                continue
            if not _is_number(words[i]):
                out.append(known[i])
            elif not out or out[-1] != "<number>":
                out.append("<number>")
            i += 1
        return out

    def marks(self, words: Sequence[str]) -> list[set[str]]:
        """Per word, the kinds of name it begins (``Balbum``) or is inside (``Ialbum``)."""
        marks: list[set[str]] = [set() for _ in words]
        for start in range(len(words)):
            for end, kinds in self._names_at(words, start):
                for kind in kinds:
                    marks[start].add(f"B{kind}")
                    for i in range(start + 1, end):
                        marks[i].add(f"I{kind}")
        return marks

    def _names_at(self, words: Sequence[str], start: int) -> Iterator[tuple[int, set[str]]]:
        """The names beginning at ``start``, longest first: where each ends, and its kinds."""
        for end in range(min(len(words), start + _NAME_WORDS), start, -1):
            kinds = self.keys.get(" ".join(words[start:end]).removeprefix("the "))
            if kinds:
                yield end, kinds


def _is_number(word: str) -> bool:
    return word.isdigit() or word in UNITS or word in TENS or word == "hundred"


def word_features(known: Sequence[str], words: Sequence[str], names: NameFeatures) -> list[dict[str, float]]:
    marks = names.marks(words)
    padded = ["<s>", "<s>", *known, "</s>", "</s>"]
    out = []
    for i, word in enumerate(known):
        at = i + 2
        feats: dict[str, float] = {
            "bias": 1.0,
            f"w={word}": 1.0,
            f"w-1={padded[at - 1]}": 1.0,
            f"w+1={padded[at + 1]}": 1.0,
            f"w-2={padded[at - 2]}": 1.0,
            f"w+2={padded[at + 2]}": 1.0,
            f"w-1|w={padded[at - 1]}|{word}": 1.0,
            f"w|w+1={word}|{padded[at + 1]}": 1.0,
        }
        if _is_number(words[i]):
            feats["number"] = 1.0
        for mark in marks[i]:
            feats[f"name={mark}"] = 1.0
        if not marks[i]:
            feats["name=none"] = 1.0
        for mark in marks[i - 1] if i else ():
            feats[f"name-1={mark}"] = 1.0
        out.append(feats)
    return out


# -- training and the cache ----------------------------------------------------


def fingerprint(spec: IntentSpec, library: LibraryProvider) -> str:
    """Everything a model is trained from: the grammar, the names, the out-of-domain sentences
    and how it is trained."""
    grammar = repr(([(t.intent, t.node, t.fixed) for t in spec.templates], spec.rules, spec.slots))
    settings = f"{VERSION} {_CLASSIFIER} {_TAGGER} {NONE_SHARE} {out_of_domain()}"
    digest = hashlib.sha256(f"maestro-learned\n{settings}\n{grammar}".encode())
    for kind in KINDS:
        for name in sorted(match_key(item.name) for item in library.items(kind)):
            digest.update(f"{kind}\t{name}\n".encode())
    return digest.hexdigest()[:20]


def learned_parser(spec: IntentSpec, library: LibraryProvider, cache: Path) -> LearnedParser:
    """The parser trained for this intents.yaml and library: from the cache when it was trained
    before, else trained now (seconds) and cached. Older models in the cache are removed."""
    key = fingerprint(spec, library)
    folder = cache / key
    names = NameFeatures(library, frozenset(vocabulary(spec)))
    if (folder / "meta.json").is_file():
        try:
            return LearnedParser(folder, spec, names)
        except (OSError, ValueError, KeyError) as exc:  # a damaged cache is trained again
            log.warning("The learned parser's cache is damaged (%s); training it again", exc)
            _remove(folder)
    train(spec, library, names, cache, key)
    return LearnedParser(folder, spec, names)


def slot_sources(spec: IntentSpec) -> dict[str, dict[str, str]]:
    """Intent -> slot name -> its definition. Where templates fill one name from two definitions
    (``{album}``, ``{known_album:album}``), the one that keeps unknown names: the matcher checks
    that a learned reading's names are the user's itself."""
    out: dict[str, dict[str, str]] = {}
    for template in spec.templates:
        found = out.setdefault(template.intent, {})
        for ref in deep_refs(template.node, spec):
            if not isinstance(ref, Slot):
                continue
            old = found.get(ref.name)
            if old is None or (spec.slots[old].require_match and not spec.slots[ref.source].require_match):
                found[ref.name] = ref.source
    return out


def train(spec: IntentSpec, library: LibraryProvider, names: NameFeatures, cache: Path, key: str) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    data = examples(spec, library)
    vocabulary = sorted({w for ex in data for w in ex.words} - {UNKNOWN})
    # Built beside the cache and renamed into place whole: a model is either there or not.
    work = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=cache))
    _fit(((names.masked(ex.words, ex.words), ex.label) for ex in data), work / "intent.crfsuite")
    by_intent: dict[str, list[Example]] = {}
    for ex in data:
        if ex.label != NONE and any(tag != "O" for tag in ex.tags):
            by_intent.setdefault(ex.label.partition(" ")[0], []).append(ex)
    for intent, group in by_intent.items():
        _fit_tagger(group, names, work / f"slots-{intent}.crfsuite")
    required: dict[str, set[str]] = {}
    for ex in data:
        named = {tag[2:] for tag in ex.tags if tag != "O"}
        required[ex.label] = required[ex.label] & named if ex.label in required else named
    meta = {"vocabulary": vocabulary, "required": {label: sorted(n) for label, n in required.items()}}
    atomic_write_bytes(work / "meta.json", json.dumps(meta).encode())
    try:
        os.rename(work, cache / key)
    except OSError:  # another process trained the same model first: theirs is as good
        _remove(work)
    for old in cache.iterdir():
        if old.name != key and not old.name.startswith("."):
            _remove(old)


def train_elsewhere(
    spec: IntentSpec, library: LibraryProvider, cache: Path,
    started: Callable[[multiprocessing.process.BaseProcess], None] = lambda process: None,
) -> None:  # fmt: skip
    """Train into the cache in a process of its own, at low priority: the daemon's event loop and
    its voice keep the CPU and the GIL (building the features is Python). ``started`` is told of
    the process (so that it can be stopped)."""
    items = [item for kind in KINDS for item in library.items(kind)]
    process = multiprocessing.get_context("spawn").Process(
        target=_train_child, args=(spec, items, cache), name="maestro-learn", daemon=True
    )
    process.start()
    started(process)
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"training stopped (exit code {process.exitcode})")


def _train_child(spec: IntentSpec, items: list[LibraryItem], cache: Path) -> None:
    with contextlib.suppress(OSError):
        os.nice(10)
    learned_parser(spec, StaticLibrary(items), cache)


def _fit(rows: Iterable[tuple[Sequence[str], str]], path: Path) -> None:
    trainer = pycrfsuite.Trainer(verbose=False)
    for words, label in rows:
        trainer.append([sentence_features(words)], [label])
    trainer.set_params(_CLASSIFIER)
    trainer.train(str(path))


def _fit_tagger(group: list[Example], names: NameFeatures, path: Path) -> None:
    trainer = pycrfsuite.Trainer(verbose=False)
    for ex in group:
        trainer.append(word_features(ex.words, ex.words, names), list(ex.tags))
    trainer.set_params(_TAGGER)
    trainer.train(str(path))


def _remove(folder: Path) -> None:
    for child in folder.iterdir():
        child.unlink()
    folder.rmdir()


def describe(reading: Reading) -> dict[str, Any]:
    """What ``parse --explain`` shows of a reading."""
    body: dict[str, Any] = {"label": reading.label, "confidence": round(reading.confidence, 3)}
    if reading.spans:
        body["spans"] = reading.spans
        body["tagging"] = round(reading.tagging, 3)
    if reading.runner_up:
        body["runner_up"] = {"label": reading.runner_up[0], "confidence": round(reading.runner_up[1], 3)}
    return body


class Learner:
    """The learned parser for one grammar, kept in step with the library's names: trained when
    first needed (a one-shot command that the templates understand never waits for it), or, for
    the daemon (``background``), in a thread, while the parser trained before answers."""

    def __init__(self, spec: IntentSpec, cache: Path, *, background: bool = False) -> None:
        self.spec = spec
        self.cache = cache
        self.background = background
        self._parser: LearnedParser | None = None
        self._wanted = 0  # bumped when the names change
        self._trained = -1
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self._stopping = False

    def forget(self) -> None:
        """The names changed: the next :meth:`parser` trains again (in the background, the one
        trained before answers until then)."""
        self._wanted += 1

    @property
    def up_to_date(self) -> bool:
        """The parser answering is the one for the names and phrasings in use now."""
        return self._trained == self._wanted

    def stop(self) -> None:
        """No more training (the process is going): none that has not started, and one under way
        stopped and waited for, so no thread is still in the model's C++ code when Python exits."""
        self._stopping = True
        if self._timer is not None:
            self._timer.cancel()
        if self._process is not None and self._process.is_alive():
            self._process.terminate()
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.join(timeout=5)

    def _started(self, process: multiprocessing.process.BaseProcess) -> None:
        self._process = process
        if self._stopping:  # stopped while it started
            process.terminate()

    def parser(self, library: LibraryProvider) -> LearnedParser | None:
        if self._trained != self._wanted:
            if self.background:
                self.train_ahead(library)
            else:
                self._train(library)
        return self._parser

    def train_ahead(self, library: LibraryProvider, delay_s: float = 0.0) -> None:
        """Train in a thread (which waits on a process, :func:`train_elsewhere`), unless one is at
        it; after ``delay_s``, so that a box starting up (loading its speech models, fetching the
        library, whose names change the model again) is not slowed by it. A later call replaces
        a wait not yet over."""
        if self._timer is not None:
            self._timer.cancel()
        if self._lock.locked() or self._stopping:
            return
        self._timer = threading.Timer(delay_s, self._train, args=(library,))
        self._timer.name = "maestro-learn"
        self._timer.daemon = True
        self._timer.start()

    def _train(self, library: LibraryProvider) -> None:
        if not self._lock.acquire(blocking=not self.background):
            return
        try:
            wanted = self._wanted
            if self._trained == wanted:
                return
            started = time.monotonic()
            try:
                if self.background:
                    train_elsewhere(self.spec, library, self.cache, started=self._started)
                if self._stopping:
                    return
                self._parser = learned_parser(self.spec, library, self.cache)
            except (OSError, RuntimeError, ValueError) as exc:
                if self._stopping:
                    return  # stopped on purpose: nothing to say
                # The templates still answer: the learned parser is a help, not a must.
                log.warning("The learned parser is off: %s", exc)
            else:
                log.info("Learned parser ready in %.1f s", time.monotonic() - started)
            self._trained = wanted
        finally:
            self._lock.release()
