"""A slot's words -> its value: numbers, enum values, free text, and names from the user's library
and speakers (rapidfuzz), each with how sure the reading is.

:class:`SlotValues` also answers the questions the walk asks of names: could this word be part of a
speaker's name, which words do library names hold.
"""

from __future__ import annotations

from typing import Any

from rapidfuzz import fuzz, process

from maestro.intents.library import KINDS, EmptyLibrary, LibraryProvider, NameIndex, strip_generic_suffix
from maestro.intents.numbers import parse_duration, parse_number, parse_year
from maestro.intents.recognition import NameValue
from maestro.intents.search_words import search_words
from maestro.intents.spec import SlotDef

#: rapidfuzz cut-off (0..100) for a name to count as that library item or device.
NAME_CUTOFF = 80.0
#: Score multiplier for a free-text slot, or a name that resolved to nothing.
UNRESOLVED = 0.9
#: Words that join a sentence rather than name something, and what each costs an unknown name.
STRUCTURE_WORDS = frozenset({"by", "from", "on", "in", "album", "albums", "song", "songs", "track", "tracks",
                             "playlist", "podcast", "record", "music", "latest", "newest",
                             "greatest", "new", "my", "some", "fifties", "sixties", "seventies",
                             "eighties", "nineties", "year"})  # fmt: skip
STRUCTURE_PENALTY = 0.9
#: Words that may sit inside a speaker's name as said ("the kitchen speaker").
DEVICE_FILLERS = frozenset({"the", "my", "our", "speaker", "speakers"})

#: A slot's value, how sure the reading is (0..1), and what is wrong with it ("volume must be ...").
Outcome = tuple[Any, float, str | None]


class SlotValues:
    """Resolves slots against the library in use; lookups are cached until the library changes."""

    def __init__(self, library: LibraryProvider | None = None) -> None:
        self.use(library or EmptyLibrary())

    def use(self, library: LibraryProvider) -> None:
        """Resolve against new names (the library refreshes in the background)."""
        self.library = library
        self._indexes: dict[str, NameIndex] = {}
        self._library_words: frozenset[str] | None = None
        self._device_words: dict[str, bool] = {}

    def index(self, kind: str) -> NameIndex:
        if kind not in self._indexes:
            self._indexes[kind] = NameIndex(self.library.items(kind))
        return self._indexes[kind]

    def forget_lookups(self) -> None:
        """Drop the cached name lookups (benchmarks pay for every one)."""
        for index in self._indexes.values():
            index.resolve.cache_clear()

    def library_words(self) -> frozenset[str]:
        if self._library_words is None:
            words: set[str] = set()
            for kind in KINDS:
                for key in self.index(kind).keys:
                    words.update(key.split())
            self._library_words = frozenset(words)
        return self._library_words

    def is_device_word(self, word: str) -> bool:
        """Could ``word`` be part of a speaker's name as said (or misheard)?"""
        if word not in self._device_words:
            vocabulary = {w for key in self.index("device").keys for w in key.split()}
            self._device_words[word] = (
                word in vocabulary or word in DEVICE_FILLERS
                or (len(word) >= 3 and process.extractOne(word, vocabulary, scorer=fuzz.ratio,
                                                          score_cutoff=75) is not None)
            )  # fmt: skip
        return self._device_words[word]

    def resolve(self, name: str, slot: SlotDef, text: str, artist: str) -> Outcome | None:
        """``text`` as slot ``name``'s value; None when it cannot be one (a number that is none, a
        speaker the user does not have). ``artist``: the artist the same sentence named, if any."""
        if slot.type == "number":
            value = parse_quantity(text, slot.units, low=slot.min)
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
            return (search_words(text), UNRESOLVED, None) if text else None
        return self._name(slot, text, artist)

    def _name(self, slot: SlotDef, text: str, artist: str) -> Outcome | None:
        index = self.index(slot.kind)
        tries = [text]
        if slot.kind in ("device", "playlist"):
            tries.append(strip_generic_suffix(text))
        for attempt in dict.fromkeys(tries):
            # With a known artist ("X by Y"), X must be one of Y's: "something by Queen"
            # is not the Beatles' "Something".
            found = index.resolve(attempt, NAME_CUTOFF, artist if slot.kind in ("album", "track") else "")
            if found is not None:
                value = NameValue(found.item.name, found.item.uri, slot.kind, found.item.artist)
                return value, 0.8 + 0.2 * found.score / 100, None
        if slot.kind == "device":
            found = index.only_one_holding(strip_generic_suffix(text))  # "the TV" for "Den TV"
            if found is not None:
                value = NameValue(found.item.name, found.item.uri, slot.kind, found.item.artist)
                return value, 0.8 + 0.2 * found.score / 100, None
        if slot.require_match or slot.kind == "device":
            # A speaker must be one of the user's: "put on love playlist" is no move to "love playlist".
            return None
        # An unknown name that holds the words sentences are built with was most likely cut in the
        # wrong place: "the latest album" as a song title, "2004 by imogen heap" as an artist.
        joints = sum(word in STRUCTURE_WORDS for word in text.split())
        return NameValue(search_words(text), None, slot.kind), UNRESOLVED * STRUCTURE_PENALTY**joints, None


def parse_quantity(text: str, units: dict[str, int], *, low: int | None = None) -> int | None:
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
