"""Helpers the intents tests share."""

from __future__ import annotations

from maestro.intents import LibraryItem, StaticLibrary
from maestro.sandbox.catalog import Catalog
from maestro.sandbox.player import DEFAULT_DEVICES


def catalog_library() -> StaticLibrary:
    catalog = Catalog.default()
    items = [LibraryItem("album", a.name, a.uri, a.artist.name) for a in catalog.albums.values()]
    items += [LibraryItem("artist", a.name, a.uri) for a in catalog.artists.values()]
    items += [LibraryItem("track", t.name, t.uri, t.artist.name) for t in catalog.tracks.values()]
    items += [LibraryItem("playlist", p.name, p.uri) for p in catalog.playlists.values()]
    items += [LibraryItem("device", name, dev_id) for dev_id, name, _, _ in DEFAULT_DEVICES]
    return StaticLibrary(items)
