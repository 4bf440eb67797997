"""The sandbox's seeded catalogue and the Spotify JSON shapes built from it.

Ids are derived from names (22 base-62 characters, like Spotify's), so they are
stable across runs and tests can compute them. Field names follow the Spotify
Web API reference (simplified vs. full objects where Spotify makes that split).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from typing import Any

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
API = "https://api.spotify.com/v1"
OPEN = "https://open.spotify.com"


def spotify_id(kind: str, *names: str) -> str:
    digest = int.from_bytes(hashlib.sha256("\x1f".join((kind, *names)).encode()).digest(), "big")
    chars = []
    for _ in range(22):
        digest, rem = divmod(digest, 62)
        chars.append(BASE62[rem])
    return "".join(chars)


@dataclass
class Artist:
    id: str
    name: str
    genres: list[str] = field(default_factory=list)

    @property
    def uri(self) -> str:
        return f"spotify:artist:{self.id}"

    def simplified(self) -> dict[str, Any]:
        return {
            "external_urls": {"spotify": f"{OPEN}/artist/{self.id}"},
            "href": f"{API}/artists/{self.id}",
            "id": self.id,
            "name": self.name,
            "type": "artist",
            "uri": self.uri,
        }

    def full(self) -> dict[str, Any]:
        return {
            **self.simplified(),
            "followers": {"href": None, "total": 1000 + int(self.id[:4], 36) % 100_000},
            "genres": self.genres,
            "images": [],
            "popularity": 50 + int(self.id[:2], 36) % 50,
        }


@dataclass
class Track:
    id: str
    name: str
    duration_ms: int
    track_number: int
    album: Album
    artist: Artist

    @property
    def uri(self) -> str:
        return f"spotify:track:{self.id}"

    def full(self) -> dict[str, Any]:
        return {
            "album": self.album.simplified(),
            "artists": [self.artist.simplified()],
            "available_markets": ["US", "GB", "DE"],
            "disc_number": 1,
            "duration_ms": self.duration_ms,
            "explicit": False,
            "external_ids": {},
            "external_urls": {"spotify": f"{OPEN}/track/{self.id}"},
            "href": f"{API}/tracks/{self.id}",
            "id": self.id,
            "is_local": False,
            "is_playable": True,
            "name": self.name,
            "popularity": 40 + int(self.id[:2], 36) % 60,
            "preview_url": None,
            "track_number": self.track_number,
            "type": "track",
            "uri": self.uri,
        }


@dataclass
class Album:
    id: str
    name: str
    artist: Artist
    year: int
    tracks: list[Track] = field(default_factory=list)

    @property
    def uri(self) -> str:
        return f"spotify:album:{self.id}"

    def simplified(self) -> dict[str, Any]:
        return {
            "album_type": "album" if len(self.tracks) > 3 else "single",
            "artists": [self.artist.simplified()],
            "available_markets": ["US", "GB", "DE"],
            "external_urls": {"spotify": f"{OPEN}/album/{self.id}"},
            "href": f"{API}/albums/{self.id}",
            "id": self.id,
            "images": [],
            "name": self.name,
            "release_date": str(self.year),
            "release_date_precision": "year",
            "total_tracks": len(self.tracks),
            "type": "album",
            "uri": self.uri,
        }

    def full(self, tracks: dict[str, Any]) -> dict[str, Any]:
        """The album object (``GET /albums/{id}``, ``/me/albums``): ``tracks`` is a paging object."""
        return {
            **self.simplified(),
            "copyrights": [{"text": f"℗ {self.year} {self.artist.name}", "type": "P"}],
            "external_ids": {"upc": str(int(hashlib.sha1(self.id.encode()).hexdigest()[:10], 16))[:12]},
            "genres": [],  # Spotify leaves album genres empty
            "label": f"{self.artist.name} Records",
            "popularity": 30 + int(self.id[:2], 36) % 70,
            "tracks": tracks,
        }

    def track_objects(self) -> list[dict[str, Any]]:
        """Its tracks as simplified track objects (no album inside)."""
        return [{k: v for k, v in t.full().items() if k not in ("album", "external_ids", "popularity")}
                for t in self.tracks]  # fmt: skip


@dataclass
class Playlist:
    id: str
    name: str
    description: str
    tracks: list[Track]
    owner: str = "spotify"

    @property
    def uri(self) -> str:
        return f"spotify:playlist:{self.id}"

    def simplified(self) -> dict[str, Any]:
        return {
            "collaborative": False,
            "description": self.description,
            "external_urls": {"spotify": f"{OPEN}/playlist/{self.id}"},
            "href": f"{API}/playlists/{self.id}",
            "id": self.id,
            "images": [],
            "name": self.name,
            "owner": {
                "display_name": "Spotify" if self.owner == "spotify" else self.owner,
                "external_urls": {"spotify": f"{OPEN}/user/{self.owner}"},
                "href": f"{API}/users/{self.owner}",
                "id": self.owner,
                "type": "user",
                "uri": f"spotify:user:{self.owner}",
            },
            "public": True,
            "snapshot_id": spotify_id("snapshot", self.id),
            "tracks": {"href": f"{API}/playlists/{self.id}/tracks", "total": len(self.tracks)},
            "type": "playlist",
            "uri": self.uri,
        }


# (name, description, genre words or artist names the playlist draws from)
PLAYLISTS: list[tuple[str, str, tuple[str, ...]]] = [
    ("Discover Weekly", "Your weekly mixtape of fresh music.", ()),
    ("Release Radar", "Catch all the latest music from artists you follow.", ()),
    (
        "Chill Vibes",
        "Kick back to the best new and recent chill hits.",
        ("Norah Jones", "Frank Ocean", "Tame Impala", "Sade", "Coldplay"),
    ),
    (
        "Morning Coffee",
        "Gentle tunes to start the day.",
        ("Norah Jones", "Paul Simon", "Fleetwood Mac", "The Beach Boys"),
    ),
    (
        "Dinner Jazz",
        "Smooth jazz for dinner.",
        ("Miles Davis", "John Coltrane", "The Dave Brubeck Quartet", "Ella Fitzgerald"),
    ),
    ("Deep Focus", "Keep calm and focus.", ("Sigur Rós", "Ludovico Einaudi", "Hans Zimmer")),
    (
        "Peaceful Piano",
        "Relax and indulge with beautiful piano pieces.",
        ("Claude Debussy", "Ludovico Einaudi", "Beethoven"),
    ),
    (
        "Workout Beats",
        "Energy for your workout.",
        ("AC/DC", "Dua Lipa", "The Weeknd", "Kendrick Lamar", "Guns N' Roses"),
    ),
    ("Road Trip", "Songs for the open road.", ("Bruce Springsteen", "Eagles", "Fleetwood Mac", "Queen")),
    (
        "Kids Party",
        "Party songs the whole family loves.",
        ("The Beatles", "Queen", "Dua Lipa", "Taylor Swift"),
    ),
    ("Sleep", "Gentle ambient music to help you sleep.", ("Sigur Rós", "Claude Debussy")),
    (
        "Rock Classics",
        "Rock legends and epic songs.",
        ("Led Zeppelin", "Pink Floyd", "AC/DC", "Nirvana", "Queen", "The Rolling Stones"),
    ),
    (
        "All Out 80s",
        "The biggest songs of the 1980s.",
        ("Michael Jackson", "Prince", "U2", "Guns N' Roses", "Bruce Springsteen"),
    ),
]


class Catalog:
    """Albums, artists, tracks and playlists, read once from ``seed.txt``."""

    def __init__(self, text: str) -> None:
        self.artists: dict[str, Artist] = {}
        self.albums: dict[str, Album] = {}
        self.tracks: dict[str, Track] = {}
        self.playlists: dict[str, Playlist] = {}
        self._parse(text)
        self._make_playlists()

    @classmethod
    def default(cls) -> Catalog:
        return cls(resources.files("maestro.sandbox").joinpath("seed.txt").read_text("utf-8"))

    def _artist(self, name: str) -> Artist:
        artist_id = spotify_id("artist", name)
        if artist_id not in self.artists:
            self.artists[artist_id] = Artist(artist_id, name)
        return self.artists[artist_id]

    def _parse(self, text: str) -> None:
        album: Album | None = None
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("@"):
                name, artist_name, year = (part.strip() for part in line[1:].split("|"))
                artist = self._artist(artist_name)
                album = Album(spotify_id("album", artist_name, name), name, artist, int(year))
                self.albums[album.id] = album
                continue
            if album is None:
                raise ValueError(f"seed.txt:{number}: track before any album")
            length, title = line.split(" ", 1)
            minutes, seconds = length.split(":")
            track = Track(
                spotify_id("track", album.artist.name, album.name, title),
                title,
                (int(minutes) * 60 + int(seconds)) * 1000,
                len(album.tracks) + 1,
                album,
                album.artist,
            )
            album.tracks.append(track)
            self.tracks[track.id] = track

    def _make_playlists(self) -> None:
        everything = sorted(self.tracks.values(), key=lambda t: t.id)
        for name, description, sources in PLAYLISTS:
            rng = random.Random(name)  # deterministic: the same playlists every run
            pool = [t for t in everything if t.artist.name in sources] if sources else everything
            tracks = rng.sample(pool, min(len(pool), 30 if not sources else 25))
            playlist = Playlist(spotify_id("playlist", name), name, description, tracks)
            self.playlists[playlist.id] = playlist

    @cached_property
    def by_uri(self) -> dict[str, Album | Artist | Track | Playlist]:
        items: dict[str, Album | Artist | Track | Playlist] = {}
        for group in (self.albums, self.artists, self.tracks, self.playlists):
            for item in group.values():
                items[item.uri] = item
        return items

    def artist_tracks(self, artist: Artist) -> list[Track]:
        """An artist context plays their tracks, most popular first (as Spotify does)."""
        tracks = [t for t in self.tracks.values() if t.artist.id == artist.id]
        return sorted(tracks, key=lambda t: (-t.full()["popularity"], t.id))

    def context_tracks(self, uri: str) -> list[Track] | None:
        item = self.by_uri.get(uri)
        if isinstance(item, Album | Playlist):
            return list(item.tracks)
        if isinstance(item, Artist):
            return self.artist_tracks(item)
        return None
