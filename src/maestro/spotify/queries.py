"""What a spoken search becomes for Spotify's search: words, field filters, and which kinds first.

``"poker face by lady gaga"`` searches ``poker face artist:"lady gaga"``; a year
becomes ``year:1996``; ``"some hardcore hip hop"`` is a genre or a mood, which
Spotify answers best with playlists; ``"the latest album by coldplay"`` is a
description, searched as it was said. Pure functions: no network here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Words that describe music rather than name it: a search made of them is a genre or a mood.
GENRES = frozenset({
    "acoustic", "afrobeat", "afrobeats", "alternative", "ambient", "americana", "bachata",
    "baroque", "beats", "bebop", "bluegrass", "blues", "bollywood", "bossa", "nova", "breakbeat",
    "britpop", "calm", "celtic", "chill", "chillhop", "chillout", "christmas", "classic", "classical",
    "club", "country", "cumbia", "dance", "dancehall", "deep", "disco", "downtempo", "drill", "drum",
    "bass", "dub", "dubstep", "easy", "edm", "electro", "electronic", "emo", "energetic", "experimental",
    "flamenco", "focus", "folk", "funk", "fusion", "garage", "gospel", "goth", "grime", "grunge", "happy",
    "hard", "hardcore", "heavy", "hip", "hop", "hiphop", "holiday", "house", "indie", "industrial",
    "instrumental", "jazz", "jpop", "j-pop", "kids", "kpop", "k-pop", "latin", "lofi", "lo-fi", "lounge",
    "love", "mellow", "metal", "motown", "new", "wave", "opera", "orchestral", "party", "piano", "pop",
    "power", "psychedelic", "punk", "r&b", "rnb", "rap", "reggae", "reggaeton", "relaxing", "rock",
    "rockabilly", "romantic", "sad", "salsa", "samba", "sleep", "smooth", "soft", "soul", "soundtrack",
    "study", "summer", "swing", "synth", "synthwave", "techno", "trance", "trap", "tropical", "upbeat",
    "wedding", "workout", "world", "eighties", "nineties", "seventies", "sixties", "fifties", "twenties",
    "80s", "90s", "70s", "60s", "2000s", "music", "songs", "tunes", "hits", "tracks", "stuff",
})  # fmt: skip
MOOD_FILLERS = frozenset({"some", "something", "a", "bit", "of", "and"})
_DESCRIPTION = re.compile(
    r"^(the )?(latest|newest|new|last|first|best|greatest|top|most popular|old|older|early)\b"
)
_BY = re.compile(r"^(?P<title>.+?) by (?P<artist>.+)$")


@dataclass(frozen=True)
class SearchPlan:
    """One spoken search, as Spotify's search should get it."""

    #: The ``q`` parameter: free words and field filters.
    query: str
    #: Search types, the likeliest first.
    kinds: tuple[str, ...]
    #: A genre or mood ("jazz", "something relaxing"): playlists answer it best.
    mood: bool = False


def _quoted(value: str) -> str:
    return f'"{value}"' if " " in value else value


def plan(words: str = "", *, artist: str = "", year: int | None = None, kind: str = "") -> SearchPlan:
    """The search for what was said: ``words`` (may be empty), an artist, a year, a kind
    ("show" for podcasts)."""
    words = " ".join(words.split())
    title = words
    by = _BY.match(words)
    if by and not artist and not _DESCRIPTION.match(words):
        title, artist = by["title"], by["artist"]  # "poker face by lady gaga"
    filters = [f"artist:{_quoted(artist)}"] if artist else []
    filters += [f"year:{year}"] if year else []
    query = " ".join(part for part in [title, *filters] if part)
    if kind == "show":
        return SearchPlan(query, ("show", "episode"))
    words_said = title.split()
    mood = bool(words_said) and not artist and all(w in GENRES or w in MOOD_FILLERS for w in words_said)
    if mood:
        return SearchPlan(query, ("playlist", "track", "album", "artist"), mood=True)
    if not title:  # "music from 1996", "something by radiohead from 1997": songs of that year
        return SearchPlan(query, ("track", "album"))
    return SearchPlan(query, ("track", "album", "playlist", "artist"))
