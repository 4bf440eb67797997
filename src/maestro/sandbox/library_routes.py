"""Search, catalogue objects and the user's library under ``/v1``: Spotify's paths, shapes and errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from maestro.sandbox.catalog import Album, Artist, Playlist, Track
from maestro.sandbox.state import SandboxState, User
from maestro.sandbox.web import (
    BadRequest,
    api_error,
    authed,
    int_param,
    iso,
    json_body,
    own_base,
    paging,
    paging_at,
)

SEARCH_TYPES = ("album", "artist", "playlist", "track", "show", "episode", "audiobook")
#: Development-mode apps may ask search for at most 10 results (Spotify, 2026).
SEARCH_MAX_LIMIT = 10


def _matches(query: str, *fields: str) -> bool:
    words = [w for w in query.lower().replace(":", " ").split() if w]
    haystack = " ".join(fields).lower()
    return all(w in haystack for w in words)


def _search_query(raw: str) -> tuple[str, dict[str, str]]:
    """Split Spotify field filters (``artist:"Miles Davis" album:x``) from free words."""
    import shlex

    try:
        parts = shlex.split(raw)
    except ValueError:
        parts = raw.split()
    filters: dict[str, str] = {}
    free: list[str] = []
    for part in parts:
        key, sep, value = part.partition(":")
        if sep and key in ("artist", "album", "track", "year", "genre"):
            filters[key] = value
        else:
            free.append(part)
    return " ".join(free), filters


def _year_range(value: str) -> tuple[int, int] | None:
    """ "1996" or "1990-1999" (Spotify's year filter), else None."""
    low, _, high = value.partition("-")
    if not low.isdigit() or (high and not high.isdigit()):
        return None
    return int(low), int(high or low)


@authed
async def search(request: Request, state: SandboxState, user: User) -> Response:
    query = request.query_params.get("q", "").strip()
    if not query:
        raise BadRequest("No search query")
    # Only filters ("year:1996") is a query too: every name matches the empty words.
    raw_types = request.query_params.get("type", "")
    types = [t.strip() for t in raw_types.split(",") if t.strip()]
    if not types or any(t not in SEARCH_TYPES for t in types):
        raise BadRequest("Missing parameter type" if not types else "Bad search type field")
    limit = int_param(request, "limit", 5, 0, SEARCH_MAX_LIMIT)
    offset = int_param(request, "offset", 0, 0, 1000)
    words, filters = _search_query(query)
    catalog = state.catalog

    years = _year_range(filters.get("year", ""))

    def keep(name: str, artist: str = "", album: str = "", year: int | None = None) -> bool:
        if years is not None and (year is None or not years[0] <= year <= years[1]):
            return False
        if "artist" in filters and not _matches(filters["artist"], artist):
            return False
        if "album" in filters and not _matches(filters["album"], album):
            return False
        if "track" in filters and not _matches(filters["track"], name):
            return False
        return _matches(words, name, artist, album)

    def rank(items: list[Any], name_of: Callable[[Any], str]) -> list[Any]:
        # Exact name first, then names starting with the query, then the rest.
        q = words.lower()
        return sorted(
            items, key=lambda i: (name_of(i).lower() != q, not name_of(i).lower().startswith(q), name_of(i))
        )

    found: dict[str, list[dict[str, Any]]] = {}
    if "album" in types:
        albums = [a for a in catalog.albums.values() if keep("", a.artist.name, a.name, a.year)]
        found["albums"] = [a.simplified() for a in rank(albums, lambda a: a.name)]
    if "artist" in types:
        plain = "album" not in filters and years is None  # artists have no album or year
        artists = [a for a in catalog.artists.values() if plain and keep("", a.name)]
        found["artists"] = [a.full() for a in rank(artists, lambda a: a.name)]
    if "playlist" in types:
        playlists = [p for p in catalog.playlists.values() if not filters and _matches(words, p.name)]
        found["playlists"] = [p.simplified() for p in rank(playlists, lambda p: p.name)]
    if "track" in types:
        tracks = [
            t for t in catalog.tracks.values() if keep(t.name, t.artist.name, t.album.name, t.album.year)
        ]
        found["tracks"] = [t.full() for t in rank(tracks, lambda t: t.name)]
    for kind in ("show", "episode", "audiobook"):  # Spotify's other kinds: none in this catalogue
        if kind in types:
            found[kind + "s"] = []
    return JSONResponse({key: paging(request, items, limit, offset) for key, items in found.items()})


@authed
async def my_playlists(request: Request, state: SandboxState, user: User) -> Response:
    limit = int_param(request, "limit", 20, 1, 50)
    offset = int_param(request, "offset", 0, 0, 100_000)
    items = [p.simplified() for p in state.catalog.playlists.values()]
    return JSONResponse(paging(request, items, limit, offset))


@authed
async def my_albums(request: Request, state: SandboxState, user: User) -> Response:
    limit = int_param(request, "limit", 20, 1, 50)
    offset = int_param(request, "offset", 0, 0, 100_000)
    items = []
    for album_id, added in user.saved_albums:
        album = state.catalog.albums[album_id]
        tracks = paging_at(f"{own_base(request)}/albums/{album.id}/tracks", {}, album.track_objects(), 50, 0)
        items.append({"added_at": iso(added), "album": album.full(tracks)})
    return JSONResponse(paging(request, items, limit, offset))


@authed
async def my_tracks(request: Request, state: SandboxState, user: User) -> Response:
    limit = int_param(request, "limit", 20, 1, 50)
    offset = int_param(request, "offset", 0, 0, 100_000)
    items = [
        {"added_at": iso(added), "track": state.catalog.tracks[track_id].full()}
        for track_id, added in user.saved_tracks
    ]
    return JSONResponse(paging(request, items, limit, offset))


def _save(state: SandboxState, user: User, track_ids: list[str]) -> None:
    saved = {track_id for track_id, _ in user.saved_tracks}
    for track_id in track_ids:
        if track_id not in state.catalog.tracks:
            raise BadRequest(f"Invalid id: {track_id}")
    for track_id in track_ids:
        if track_id not in saved:
            user.saved_tracks.insert(0, (track_id, state.now()))
            saved.add(track_id)


async def _list_param(request: Request, name: str) -> list[str]:
    if name in request.query_params:
        return [v for v in request.query_params[name].split(",") if v]
    body = await json_body(request)
    values = body.get(name)
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise BadRequest(f"Missing required field: {name}")
    return values


@authed
async def save_tracks(request: Request, state: SandboxState, user: User) -> Response:
    ids = await _list_param(request, "ids")
    if not ids or len(ids) > 50:
        raise BadRequest("Too many ids requested" if ids else "Missing required field: ids")
    _save(state, user, ids)
    return Response(status_code=200)


@authed
async def save_to_library(request: Request, state: SandboxState, user: User) -> Response:
    """``PUT /me/library`` with URIs: how development-mode apps save since 2026."""
    _save(state, user, _library_track_ids(state, await _list_param(request, "uris")))
    return Response(status_code=200)


def _library_track_ids(state: SandboxState, uris: list[str]) -> list[str]:
    if not uris or len(uris) > 40:
        raise BadRequest("Too many uris requested" if uris else "Missing required field: uris")
    track_ids = []
    for uri in uris:
        item = state.catalog.by_uri.get(uri)
        if not isinstance(item, Track):
            raise BadRequest(f"Unsupported uri: {uri}")
        track_ids.append(item.id)
    return track_ids


@authed
async def remove_from_library(request: Request, state: SandboxState, user: User) -> Response:
    """``DELETE /me/library`` with URIs: taking a like back (2026's generic library endpoint)."""
    gone = set(_library_track_ids(state, await _list_param(request, "uris")))
    user.saved_tracks = [(track_id, at) for track_id, at in user.saved_tracks if track_id not in gone]
    return Response(status_code=200)


@authed
async def remove_tracks(request: Request, state: SandboxState, user: User) -> Response:
    """``DELETE /me/tracks`` with ids (the older, now deprecated, way)."""
    ids = await _list_param(request, "ids")
    if not ids or len(ids) > 50:
        raise BadRequest("Too many ids requested" if ids else "Missing required field: ids")
    user.saved_tracks = [(track_id, at) for track_id, at in user.saved_tracks if track_id not in set(ids)]
    return Response(status_code=200)


@authed
async def playlist_items(request: Request, state: SandboxState, user: User) -> Response:
    """``GET /playlists/{id}/items`` (``/tracks`` before 2026): the playlist's tracks, paged."""
    playlist = state.catalog.playlists.get(request.path_params["id"])
    if playlist is None:
        return api_error(404, "Resource not found")
    limit = int_param(request, "limit", 20, 1, 50)
    offset = int_param(request, "offset", 0, 0, 100_000)
    # ``item`` since 2026; ``track`` still sent, deprecated
    entries = [{"added_at": iso(0), "is_local": False, "item": t.full(), "track": t.full()}
               for t in playlist.tracks]  # fmt: skip
    return JSONResponse(paging(request, entries, limit, offset))


@authed
async def tracks_contains(request: Request, state: SandboxState, user: User) -> Response:
    ids = await _list_param(request, "ids")
    saved = {track_id for track_id, _ in user.saved_tracks}
    return JSONResponse([track_id in saved for track_id in ids])


@authed
async def followed_artists(request: Request, state: SandboxState, user: User) -> Response:
    if request.query_params.get("type") != "artist":
        raise BadRequest("Invalid type")
    limit = int_param(request, "limit", 20, 1, 50)
    after = request.query_params.get("after")
    ids = user.followed_artists
    start = ids.index(after) + 1 if after in ids else 0
    chunk = ids[start : start + limit]
    more = start + limit < len(ids)
    base = f"{own_base(request)}/me/following?type=artist&limit={limit}"
    return JSONResponse(
        {
            "artists": {
                "href": base + (f"&after={after}" if after else ""),
                "items": [state.catalog.artists[a].full() for a in chunk],
                "limit": limit,
                "next": f"{base}&after={chunk[-1]}" if more and chunk else None,
                "cursors": {"after": chunk[-1] if more and chunk else None},
                "total": len(ids),
            }
        }
    )


@authed
async def top_items(request: Request, state: SandboxState, user: User) -> Response:
    """The user's top artists or tracks: here, followed artists and saved tracks by popularity."""
    kind = request.path_params["kind"]
    limit = int_param(request, "limit", 20, 1, 50)
    offset = int_param(request, "offset", 0, 0, 100_000)
    if kind == "artists":
        items = [state.catalog.artists[a].full() for a in user.followed_artists]
    elif kind == "tracks":
        items = [state.catalog.tracks[t].full() for t, _ in user.saved_tracks]
    else:
        raise BadRequest("Unsupported type")
    items.sort(key=lambda i: -i["popularity"])
    return JSONResponse(paging(request, items, limit, offset))


@authed
async def get_item(request: Request, state: SandboxState, user: User) -> Response:
    kind, item_id = request.path_params["kind"], request.path_params["id"]
    item = state.catalog.by_uri.get(f"spotify:{kind.rstrip('s')}:{item_id}")
    if item is None:
        return api_error(404, "Resource not found" if kind != "albums" else "Non existing id")
    if isinstance(item, Track):
        return JSONResponse(item.full())
    if isinstance(item, Artist):
        return JSONResponse(item.full())
    if isinstance(item, Album):
        tracks = paging_at(f"{own_base(request)}/albums/{item.id}/tracks", {}, item.track_objects(), 50, 0)
        return JSONResponse(item.full(tracks))
    assert isinstance(item, Playlist)
    return JSONResponse(item.simplified())


routes = [
    Route("/v1/search", search),
    Route("/v1/me/playlists", my_playlists),
    Route("/v1/me/albums", my_albums),
    Route("/v1/me/tracks", my_tracks, methods=["GET"]),
    Route("/v1/me/tracks", save_tracks, methods=["PUT"]),
    Route("/v1/me/tracks/contains", tracks_contains),
    Route("/v1/me/tracks", remove_tracks, methods=["DELETE"]),
    Route("/v1/me/library", save_to_library, methods=["PUT"]),
    Route("/v1/me/library", remove_from_library, methods=["DELETE"]),
    Route("/v1/playlists/{id:str}/items", playlist_items),
    Route("/v1/playlists/{id:str}/tracks", playlist_items),
    Route("/v1/me/following", followed_artists),
    Route("/v1/me/top/{kind:str}", top_items),
    Route("/v1/{kind:str}/{id:str}", get_item),
]
