"""The command language model: what PocketSphinx expects to hear, built from intents.yaml.

A JSGF grammar with every library name is exact but slow (a library-sized
finite-state grammar took 1.4–1.9 s per command here). Instead Maestro samples
sentences from the templates (names drawn from the library, with the spoken
prefixes and fillers the matcher tolerates) and trains a small trigram model
on them with PocketSphinx's own ARPA builder. Decoding is fast, the vocabulary
is still only the words the matcher knows, and a sentence the templates do not
produce comes out as word salad the matcher then refuses.

The model and its dictionary are cached under a hash of their inputs, so a
restart with the same intents and library loads in milliseconds.
"""

from __future__ import annotations

import hashlib
import io
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pocketsphinx.lm import ArpaBoLM

from maestro.fsutil import atomic_write_text
from maestro.intents.grammar import sample_sentences
from maestro.intents.library import KINDS, LibraryProvider
from maestro.intents.spec import IntentSpec
from maestro.voice.lexicon import Lexicon

log = logging.getLogger(__name__)
VERSION = 3  # bump when the corpus recipe changes: old caches are ignored
PER_TEMPLATE = 200
#: how often a sampled sentence gets a spoken prefix or a filler word
PREFIX_SHARE = 0.15
#: how often it starts with the wake phrase (the wake phrase is heard through this model)
WAKE_SHARE = 0.15
#: probability mass held back for unseen word sequences. Smaller values understand a few more
#: noisy commands, but on real recordings let several times as many non-commands through as
#: commands: rejecting what is not a command matters more (voice_bench's "other accepted").
DISCOUNT_MASS = 0.5


@dataclass(frozen=True)
class CommandModel:
    arpa: Path
    dictionary: Path
    pronunciations: dict[str, str]  # every word of the model, ARPAbet

    @property
    def words(self) -> frozenset[str]:
        return frozenset(self.pronunciations)


def corpus(spec: IntentSpec, library: LibraryProvider, seed: int = 8628) -> list[str]:
    """Training sentences: sampled from every template, some with "hey maestro", "please", "um"."""
    rng = random.Random(seed)
    sentences = [s for s, _ in sample_sentences(spec, library, per_template=PER_TEMPLATE, seed=seed)]
    prefixes = list(spec.prefixes)
    decorated = [wake_phrase] * (len(sentences) // 10) if (wake_phrase := spec.wake_phrase) else []
    for sentence in sentences:
        if wake_phrase and rng.random() < WAKE_SHARE:
            sentence = f"{wake_phrase} {sentence}"
        roll = rng.random()
        if roll < PREFIX_SHARE and prefixes:
            sentence = f"{rng.choice(prefixes)} {sentence}"
        elif roll < 2 * PREFIX_SHARE and spec.suffixes:
            sentence = f"{sentence} {rng.choice(spec.suffixes)}"
        elif roll < 2.5 * PREFIX_SHARE and spec.fillers:
            sentence = f"{rng.choice(spec.fillers)} {sentence}"
        decorated.append(sentence)
    return decorated


def build_command_model(
    spec: IntentSpec, library: LibraryProvider, cache_dir: Path, lexicon: Callable[[], Lexicon]
) -> CommandModel:
    """The cached model for these intents and names, else a new one (``lexicon`` is only made then).

    The cache key is the inputs (the parsed intents and the names), so a restart
    does not sample the corpus again just to find its model.
    """
    names = sorted((kind, item.name) for kind in KINDS for item in library.items(kind))
    key = hashlib.sha256(f"{VERSION}\n{spec!r}\n{names!r}".encode()).hexdigest()[:16]
    arpa, dictionary = cache_dir / f"commands-{key}.arpa", cache_dir / f"commands-{key}.dict"
    if arpa.exists() and dictionary.exists():
        rows = (line.split(maxsplit=1) for line in dictionary.read_text().splitlines())
        return CommandModel(arpa, dictionary, {row[0]: row[1] for row in rows if len(row) == 2})

    sentences = corpus(spec, library)
    words = {w for s in sentences for w in s.split()}
    pronouncer = lexicon()
    pronouncer.add_missing(words)
    unsayable = {w for w in words if not pronouncer.knows(w)}
    if unsayable:  # "1989", "u2": names the recogniser cannot pronounce are left out, not guessed
        log.info("no pronunciation for %d words, e.g. %s", len(unsayable), sorted(unsayable)[:5])
        sentences = [s for s in sentences if not unsayable.intersection(s.split())]
        words -= unsayable
    builder = ArpaBoLM(text="\n".join(sentences), add_start=True, discount_mass=DISCOUNT_MASS)
    builder.compute()
    text = io.StringIO()
    builder.write(text)
    cache_dir.mkdir(parents=True, exist_ok=True)
    for old in cache_dir.glob("commands-*"):
        old.unlink(missing_ok=True)
    pronunciations = {w: pronouncer.pronounce(w) for w in sorted(words)}
    atomic_write_text(dictionary, "".join(f"{w} {p}\n" for w, p in pronunciations.items()), private=True)
    atomic_write_text(arpa, text.getvalue(), private=True)
    return CommandModel(arpa, dictionary, pronunciations)
