"""Names the matcher resolves slots against: the user's library and Connect devices.

A :class:`LibraryProvider` gives :class:`LibraryItem` s per kind (``album``,
``artist``, ``playlist``, ``track``, ``device``). :class:`StaticLibrary` reads
them from a JSON or YAML file (tests, ``maestro parse --library``); the
Spotify-backed provider lives in ``maestro.spotify.library``.
:class:`NameIndex` does the fuzzy lookup with rapidfuzz.
"""

from __future__ import annotations

import bisect
import json
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import yaml
from rapidfuzz import fuzz, process

from maestro import config
from maestro.errors import UsageError
from maestro.fsutil import read_text
from maestro.intents.normalize import normalize
from maestro.intents.numbers import spelled

log = logging.getLogger(__name__)
KINDS = ("album", "artist", "playlist", "track", "device")
#: Words that say what a name is rather than which one ("the bedroom speaker").
GENERIC_SUFFIXES = ("speaker", "speakers", "device", "playlist", "album", "record", "song", "track")


@dataclass(frozen=True)
class LibraryItem:
    kind: str
    name: str
    #: Spotify URI (``spotify:album:...``), or the Connect device id for devices.
    uri: str
    #: The artist of an album or track, when known (filters "X by Y").
    artist: str = ""


class LibraryProvider(Protocol):
    def items(self, kind: str) -> Sequence[LibraryItem]: ...


class EmptyLibrary:
    def items(self, kind: str) -> Sequence[LibraryItem]:
        return ()


class StaticLibrary:
    """Items from a dict shaped like ../shared/eval/library.json."""

    def __init__(self, items: Iterable[LibraryItem]) -> None:
        self._by_kind: dict[str, list[LibraryItem]] = {kind: [] for kind in KINDS}
        for item in items:
            self._by_kind.setdefault(item.kind, []).append(item)

    def items(self, kind: str) -> Sequence[LibraryItem]:
        return self._by_kind.get(kind, ())

    @classmethod
    def from_dict(cls, data: object, source: str = "library") -> StaticLibrary:
        """Either shape: ``{"albums": [...], ...}`` (eval/library.json, examples/library.json) or
        Maestro's own cache, ``{"fetched_at": T, "items": {"album": [...], ...}}`` (state/library.json)."""
        if not isinstance(data, dict):
            raise UsageError(f"{source}: expected a mapping of albums, artists, playlists, tracks, devices")
        if isinstance(data.get("items"), dict) and set(data) <= {"items", "fetched_at"}:
            data = data["items"]
        items = []
        for key, entries in data.items():
            kind = key.rstrip("s")
            if kind not in KINDS:
                raise UsageError(f"{source}: unknown section {key!r} (known: albums, artists, ...)")
            if not isinstance(entries, list):
                raise UsageError(f"{source}: {key} must be a list")
            for number, entry in enumerate(entries, start=1):
                if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                    raise UsageError(f"{source}: {key} entry {number} needs a name")
                uri = entry.get("uri") or entry.get("id") or ""
                items.append(LibraryItem(kind, entry["name"], str(uri), str(entry.get("artist") or "")))
        return cls(items)

    @classmethod
    def from_file(cls, path: Path) -> StaticLibrary:
        try:
            text = read_text(Path(path))
        except FileNotFoundError as exc:
            raise UsageError(f"{path}: no such library file") from exc
        try:
            data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise UsageError(f"{path}: not valid JSON/YAML: {exc}") from exc
        return cls.from_dict(data, str(path))


def match_key(name: str) -> str:
    """How names compare: normalised, digits as words ("Take 5" ~ "take five"), without a leading
    "the" ("The Beatles" ~ "beatles")."""
    key = " ".join(spelled(normalize(name).split()))
    return key[4:] if key.startswith("the ") else key


@dataclass(frozen=True)
class Resolved:
    item: LibraryItem
    #: rapidfuzz similarity, 0..100.
    score: float


class NameIndex:
    """Fuzzy lookup of spoken names in one kind of item.

    Two views of each name are compared: word by word, and with the spaces
    removed, because ASR splits and joins words freely ("fleet wood mac").
    """

    def __init__(self, items: Sequence[LibraryItem]) -> None:
        self.items = list(items)
        self.keys = [match_key(item.name) for item in self.items]
        self.compact = [key.replace(" ", "") for key in self.keys]
        self.exact: dict[str, int] = {}
        self.by_artist: dict[str, list[int]] = {}
        for position, (key, item) in enumerate(zip(self.keys, self.items, strict=True)):
            self.exact.setdefault(key, position)
            if item.artist:
                self.by_artist.setdefault(match_key(item.artist), []).append(position)
        self.artist_keys = list(self.by_artist)
        self.words_view = _LengthSorted(self.keys)
        self.compact_view = _LengthSorted(self.compact)
        self.resolve = lru_cache(maxsize=4096)(self._resolve)

    def _resolve(self, text: str, cutoff: float, artist: str = "") -> Resolved | None:
        key = match_key(text)
        if not key:
            return None
        candidates: Sequence[int] = range(len(self.items))
        if artist:
            artists = process.extract(
                match_key(artist), self.artist_keys, scorer=fuzz.ratio, score_cutoff=80, limit=None
            )
            candidates = sorted(i for _, _, at in artists for i in self.by_artist[self.artist_keys[at]])
            if not candidates:
                return None
            exact = [i for i in candidates if self.keys[i] == key]
            if exact:
                return Resolved(self.items[exact[0]], 100.0)
        elif key in self.exact:
            return Resolved(self.items[self.exact[key]], 100.0)
        if artist:
            keys = [self.keys[i] for i in candidates]
        else:
            candidates, keys = self.words_view.window(len(key), cutoff)
        # Word view: similar overall, and every content word has a partner, so
        # "christmas music" does not become "Christmas Hits".
        for _, score, at in process.extract(key, keys, scorer=fuzz.ratio, score_cutoff=cutoff, limit=5):
            if words_correspond(key, keys[at]):
                return Resolved(self.items[candidates[at]], score)
        # Compact view: the same letters, split differently ("fleet wood mac").
        squeezed, compact_cutoff = key.replace(" ", ""), max(cutoff, 90)
        if artist:
            compact = [self.compact[i] for i in candidates]
        else:
            candidates, compact = self.compact_view.window(len(squeezed), compact_cutoff)
        found = process.extractOne(squeezed, compact, scorer=fuzz.ratio, score_cutoff=compact_cutoff)
        if found is not None:
            return Resolved(self.items[candidates[found[2]]], found[1])
        return None

    def only_one_holding(self, text: str) -> Resolved | None:
        """The one name that holds every word said ("tv" -> "Den TV", "kitchen" -> "Kitchen Speaker");
        None when no name or several do. For the few names of speakers."""
        spoken = [w for w in match_key(text).split() if w not in STOPWORDS]
        if not spoken:
            return None
        holding = [i for i, key in enumerate(self.keys) if set(spoken) <= set(key.split())]
        return Resolved(self.items[holding[0]], 85.0) if len(holding) == 1 else None


class _LengthSorted:
    """Strings sorted by length, to hand rapidfuzz only those that can reach a cut-off.

    A ratio of at least R needs the shorter string to be at least R/(200-R) of the
    longer one, so only a window of lengths can qualify.
    """

    def __init__(self, strings: list[str]) -> None:
        self.order = sorted(range(len(strings)), key=lambda i: len(strings[i]))
        self.strings = [strings[i] for i in self.order]
        self.lengths = [len(s) for s in self.strings]

    def window(self, length: int, cutoff: float) -> tuple[list[int], list[str]]:
        share = cutoff / (200 - cutoff)
        low = bisect.bisect_left(self.lengths, math.ceil(length * share))
        high = bisect.bisect_right(self.lengths, math.floor(length / share))
        return self.order[low:high], self.strings[low:high]


STOPWORDS = frozenset({"a", "an", "the", "of", "and", "to", "in", "on", "my", "for", "by", "at"})


def words_correspond(spoken: str, name: str, cutoff: float = 70) -> bool:
    """Each content word on either side has a similar word on the other side."""
    left = [w for w in spoken.split() if w not in STOPWORDS] or spoken.split()
    right = [w for w in name.split() if w not in STOPWORDS] or name.split()

    def covered(words: list[str], others: list[str]) -> bool:
        return all(process.extractOne(w, others, scorer=fuzz.ratio, score_cutoff=cutoff) for w in words)

    return covered(left, right) and covered(right, left)


def strip_generic_suffix(text: str) -> str:
    """ "the bedroom speaker" -> "the bedroom": a second try for device and playlist names."""
    words = text.split()
    if len(words) > 1 and words[-1] in GENERIC_SUFFIXES:
        return " ".join(words[:-1])
    return text


def library_for(path: str | None) -> LibraryProvider:
    """``--library FILE``; else the names Maestro last fetched from Spotify (the state dir's
    ``library.json``, the cache `say` and `run` keep); else none. One reader for both formats.
    A damaged cache is no reason to refuse: the names are a help, not a must."""
    if path:
        return StaticLibrary.from_file(Path(path))
    cache = config.state_dir() / "library.json"
    if not cache.exists():
        return EmptyLibrary()
    try:
        return StaticLibrary.from_file(cache)
    except UsageError:
        log.warning("%s is damaged; going on without your library's names", cache)
        return EmptyLibrary()
