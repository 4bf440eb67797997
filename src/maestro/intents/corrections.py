"""Words no template or name knows, read as words that are known: what ASR mishears.

The matcher's last resort, kept cheap: a word with another ending ("playlists"), one that sounds
alike ("water" -> "louder"; several may, so a few readings), one spelt almost alike ("volum").
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from rapidfuzz import fuzz, process

from maestro.intents.numbers import NUMBER_WORDS
from maestro.intents.sounds import stems, word_key

#: What a word spelt almost alike costs, one heard with another ending, one that only sounds alike.
SUBSTITUTION_PENALTY = 0.12
STEM_PENALTY = 0.02
SOUND_PENALTY = 0.1
#: rapidfuzz ratio of sound keys (four sounds or more) to count as "sounds like".
SOUND_CUTOFF = 86
#: Few candidates per word, and few readings in all.
MAX_SOUNDS_ALIKE = 3
MAX_CORRECTIONS = 9


class Corrections:
    """Corrections into the words of one grammar (its templates, slot values and units)."""

    def __init__(self, vocabulary: Iterable[str]) -> None:
        self.known = frozenset(vocabulary)
        # Never "correct" a word into a number: "then" is not "ten".
        self._targets = sorted(w for w in self.known if w not in NUMBER_WORDS)
        self._sound_index: dict[str, list[str]] | None = None  # sound key -> template words, on first use

    def readings(self, words: list[str], names: frozenset[str]) -> list[tuple[list[str], float]]:
        """Readings of ``words`` in which each word no template knows is replaced by a known word it
        may have been, each with what its changes cost; [] when nothing changed. ``names``: the
        words of the user's names, kept as they are unless they sound like a command word."""
        options: list[list[tuple[str, float]]] = []
        sounded = 0
        for word in words:
            # At most one word in three by sound: more than that is another sentence.
            may_sound = (sounded + 1) * 3 <= max(3, len(words))
            if word in self.known or word.isdigit():
                options.append([(word, 0.0)])
                continue
            if word in names:  # part of a name, or a command word heard as one ("boys" for "pause")
                alike = self.sounds_like(word) if may_sound else []
                options.append([(word, 0.0), *((target, SOUND_PENALTY) for target in alike[:1])])
                sounded += bool(alike)
                continue
            stem = next((s for s in stems(word) if s in self.known), None)
            if stem is not None:
                options.append([(stem, STEM_PENALTY)])
                continue
            alike = self.sounds_like(word) if may_sound else []
            if alike:
                options.append([(target, SOUND_PENALTY) for target in alike])
                sounded += 1
                continue
            found = None
            if len(word) >= 4:
                found = process.extractOne(word, self._targets, scorer=fuzz.ratio, score_cutoff=80)
            options.append([(found[0], SUBSTITUTION_PENALTY)] if found else [(word, 0.0)])
        readings = []
        for choice in itertools.islice(itertools.product(*options), MAX_CORRECTIONS):
            cost = sum(c for _, c in choice)
            if cost:
                readings.append(([w for w, _ in choice], cost))
        return readings

    def sounds_like(self, word: str) -> list[str]:
        """Known words that sound like ``word`` (equal sound keys, or nearly for longer ones), the
        likeliest first."""
        key = word_key(word)
        if len(key) < 2:
            return []
        if self._sound_index is None:
            index: dict[str, list[str]] = {}
            for target in self._targets:
                index.setdefault(word_key(target), []).append(target)
            self._sound_index = index
        same = list(self._sound_index.get(key, []))
        if not same and len(key) >= 4:
            keys = list(self._sound_index)
            found = process.extractOne(key, keys, scorer=fuzz.ratio, score_cutoff=SOUND_CUTOFF)
            same = list(self._sound_index[found[0]]) if found else []
        same.sort(key=lambda target: (-fuzz.ratio(target, word), len(target)))
        return same[:MAX_SOUNDS_ALIKE]
