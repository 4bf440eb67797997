"""The matcher's names from the user's Spotify library, cached on disk.

Built from the user's playlists, saved albums, followed and top artists, saved
and top tracks (plus the artists of those albums and tracks) and Connect
devices. The cache (``library.json`` in the state dir, written atomically) is
used at once at start-up, so recognition never waits for the network; it is
refreshed in the background when older than ``max_age_s``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from maestro.errors import MaestroError, UsageError
from maestro.fsutil import atomic_write_text, read_json
from maestro.intents.library import KINDS, LibraryItem, StaticLibrary
from maestro.spotify.player import Item, Player, objects, reading

log = logging.getLogger(__name__)
DEFAULT_MAX_AGE_S = 6 * 3600


class SpotifyLibrary:
    def __init__(
        self,
        player: Player,
        cache_path: Path,
        *,
        max_age_s: float = DEFAULT_MAX_AGE_S,
        clock: Callable[[], float] = time.time,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.player = player
        self.cache_path = Path(cache_path)
        self.max_age_s = max_age_s
        self.clock = clock
        #: Called after a refresh changed the names (the matcher rebuilds its indexes).
        self.on_change = on_change
        #: Counts refreshes: a reader that keeps the last it saw knows when to look at the names again.
        self.version = 0
        self.fetched_at = 0.0
        self._items: dict[str, list[LibraryItem]] = {kind: [] for kind in KINDS}
        #: Other names for speakers, alias -> speaker name (``speakers.yaml``).
        self.aliases: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None
        self.load_cache()

    def items(self, kind: str) -> Sequence[LibraryItem]:
        items = self._items.get(kind, [])
        if kind != "device" or not self.aliases:
            return items
        ids = {item.name.lower(): item.uri for item in items}  # an alias names the speaker's device
        return [*items, *(LibraryItem("device", alias, ids[name.lower()])
                          for alias, name in self.aliases.items() if name.lower() in ids)]  # fmt: skip

    def set_aliases(self, aliases: dict[str, str]) -> None:
        """Other names for speakers (``{"the telly": "Den TV"}``): names of their own from now on."""
        if aliases != self.aliases:
            self.aliases = dict(aliases)
            self._changed()

    def forget(self) -> None:
        """No names (signed out): the next account's are fetched afresh."""
        self._items = {kind: [] for kind in KINDS}
        self.fetched_at = 0.0
        self._changed()

    def _changed(self) -> None:
        """The names changed: readers that keep the last version they saw look again."""
        self.version += 1
        if self.on_change:
            self.on_change()

    @property
    def stale(self) -> bool:
        return self.clock() - self.fetched_at > self.max_age_s

    def load_cache(self) -> bool:
        try:
            data = read_json(self.cache_path)
            cached = StaticLibrary.from_dict(data, str(self.cache_path))  # the one reader of library files
            fetched_at = float(data["fetched_at"])
        except FileNotFoundError:
            return False
        except (OSError, ValueError, KeyError, TypeError, UsageError):
            log.warning("library cache %s unreadable; it will be rebuilt", self.cache_path)
            return False
        self.fetched_at = fetched_at
        self._items = {kind: list(cached.items(kind)) for kind in KINDS}
        return True

    async def refresh(self) -> None:
        player = self.player
        playlists, albums, followed, tracks, devices = await asyncio.gather(
            player.playlists(), player.saved_albums(), player.followed_artists(), player.saved_tracks(),
            player.devices(),
        )  # fmt: skip
        top_artists, top_tracks = await self._top()
        items: dict[str, list[LibraryItem]] = {kind: [] for kind in KINDS}
        seen: set[tuple[str, str]] = set()

        def add(kind: str, name: str, uri: str, artist: str = "") -> None:
            if name and uri and (kind, uri) not in seen:
                seen.add((kind, uri))
                items[kind].append(LibraryItem(kind, name, uri, artist))

        for p in playlists:
            add("playlist", p.name, p.uri)
        for a in albums:
            add("album", a.name, a.uri, a.artist)
        for t in [*tracks, *top_tracks]:
            add("track", t.name, t.uri, t.artist)
        for a in [*followed, *top_artists]:
            add("artist", a.name, a.uri)
        for d in devices:
            add("device", d.name, d.id)
        # Asleep speakers too: "play in the kitchen" then says the kitchen is asleep, not unknown.
        for name, device_id in player.memory.asleep(devices):
            add("device", name, device_id)
        self._items, self.fetched_at = items, self.clock()
        body = {
            "fetched_at": self.fetched_at,
            "items": {
                k: [{"name": i.name, "uri": i.uri, "artist": i.artist} for i in v] for k, v in items.items()
            },
        }
        try:
            atomic_write_text(self.cache_path, json.dumps(body, ensure_ascii=False) + "\n", private=True)
        except OSError as exc:  # a cache: the names are in memory and fetched again next time
            log.warning("could not keep the library's names in %s (%s)", self.cache_path, exc.strerror or exc)
        self._changed()

    async def _top(self) -> tuple[list[Item], list[Item]]:
        async def page(kind: str) -> list[Item]:
            body: dict[str, Any] = await self.player.client.get(f"me/top/{kind}", limit=50) or {}
            with reading():
                return [Item.from_json(i) for i in objects(body.get("items"))]

        try:
            artists, tracks = await asyncio.gather(page("artists"), page("tracks"))
        except MaestroError:  # optional extras: a missing scope must not cost the library
            return [], []
        return artists, tracks

    def refresh_in_background(self) -> asyncio.Task[None] | None:
        """Start a refresh when the cache is stale and none is running."""
        if not self.stale or (self._task and not self._task.done()):
            return self._task
        self._task = asyncio.create_task(self._refresh_quietly())
        return self._task

    async def _refresh_quietly(self) -> None:
        try:
            await self.refresh()
        except MaestroError as exc:
            log.warning("library refresh failed: %s", exc)
