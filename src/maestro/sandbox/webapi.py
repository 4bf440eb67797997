"""The Web API subset under ``/v1``: paths, JSON shapes and errors as Spotify's."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from maestro.sandbox.catalog import Album, Artist, Playlist, Track
from maestro.sandbox.player import PlayerCommandError
from maestro.sandbox.state import SandboxState, User

API = "https://api.spotify.com/v1"
SEARCH_TYPES = ("album", "artist", "playlist", "track", "show", "episode", "audiobook")
#: Development-mode apps may ask search for at most 10 results (Spotify, 2026).
SEARCH_MAX_LIMIT = 10

Handler = Callable[[Request, SandboxState, User], Awaitable[Response]]


class BadRequest(Exception):
    pass


def api_error(status: int, message: str, reason: str | None = None) -> JSONResponse:
    error: dict[str, Any] = {"status": status, "message": message}
    if reason:
        error["reason"] = reason
    return JSONResponse({"error": error}, status_code=status)


def no_content() -> Response:
    return Response(status_code=204)


def authed(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Resolve the bearer token to a user; map domain errors to Spotify's bodies."""

    @wraps(handler)
    async def endpoint(request: Request) -> Response:
        state: SandboxState = request.app.state.sandbox
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return api_error(401, "No token provided")
        try:
            user = state.user_for_token(token.strip())
        except PermissionError as exc:
            return api_error(401, str(exc))
        request.state.scopes = state.scopes_for_token(token.strip())
        if not required_scopes(request.method, request.url.path) <= request.state.scopes:
            return api_error(403, "Insufficient client scope")
        try:
            return await handler(request, state, user)
        except PlayerCommandError as exc:
            return api_error(exc.status, exc.message, exc.reason)
        except BadRequest as exc:
            return api_error(400, str(exc))

    return endpoint


#: The scopes Spotify asks of each call (all of them), as its reference lists them; calls not here
#: need none (search, catalog objects, public playlists, the public profile).
SCOPES: list[tuple[str, str, frozenset[str]]] = [
    (method, pattern, frozenset(scopes.split()))
    for method, pattern, scopes in [
        ("GET", r"/v1/me/player(/devices)?", "user-read-playback-state"),
        ("GET", r"/v1/me/player/queue", "user-read-playback-state user-read-currently-playing"),
        ("GET", r"/v1/me/player/currently-playing", "user-read-currently-playing"),
        ("PUT", r"/v1/me/player(/[a-z]+)?", "user-modify-playback-state"),
        ("POST", r"/v1/me/player/[a-z]+", "user-modify-playback-state"),
        ("GET", r"/v1/me/playlists", "playlist-read-private"),
        ("GET", r"/v1/me/(albums|tracks)(/contains)?", "user-library-read"),
        ("PUT", r"/v1/me/(tracks|library)", "user-library-modify"),
        ("DELETE", r"/v1/me/(tracks|library)", "user-library-modify"),
        ("GET", r"/v1/me/following", "user-follow-read"),
        ("GET", r"/v1/me/top/[a-z]+", "user-top-read"),
    ]
]


def required_scopes(method: str, path: str) -> frozenset[str]:
    for wanted, pattern, scopes in SCOPES:
        if method == wanted and re.fullmatch(pattern, path):
            return scopes
    return frozenset()


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"Invalid {name}") from None
    if not low <= value <= high:
        raise BadRequest(f"Invalid {name}")
    return value


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise BadRequest("Error parsing JSON.") from None
    if not isinstance(body, dict):
        raise BadRequest("Error parsing JSON.")
    return body


def _premium(user: User) -> None:
    if user.product != "premium":
        raise PlayerCommandError(403, "Player command failed: Premium required", "PREMIUM_REQUIRED")


def _own_base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/v1"


def paging(request: Request, items: list[Any], limit: int, offset: int) -> dict[str, Any]:
    # Links point at this server (as Spotify's point at api.spotify.com), so a
    # client that follows `next` stays on the sandbox.
    base = _own_base(request) + request.url.path.removeprefix("/v1")
    return paging_at(base, dict(request.query_params), items, limit, offset)


def paging_at(base: str, params: dict[str, str], items: list[Any], limit: int, offset: int) -> dict[str, Any]:
    """A paging object over ``items`` whose links are ``base`` with ``params``, offset and limit."""

    def link(new_offset: int) -> str:
        return f"{base}?{urlencode({**params, 'offset': new_offset, 'limit': limit})}"

    return {
        "href": link(offset),
        "items": items[offset : offset + limit],
        "limit": limit,
        "next": link(offset + limit) if offset + limit < len(items) else None,
        "offset": offset,
        "previous": link(max(0, offset - limit)) if offset > 0 else None,
        "total": len(items),
    }


def _iso(ts: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- profile and player ---------------------------------------------------------


@authed
async def me(request: Request, state: SandboxState, user: User) -> Response:
    # the public profile for any token; e-mail and account details only with their scopes
    granted = request.state.scopes
    private = {"country", "explicit_content", "product"} if "user-read-private" not in granted else set()
    email = {"email"} if "user-read-email" not in granted else set()
    return JSONResponse({k: v for k, v in user.profile().items() if k not in private | email})


@authed
async def player_state(request: Request, state: SandboxState, user: User) -> Response:
    body = user.player.state_json(state.now())
    return no_content() if body is None else JSONResponse(body)


@authed
async def currently_playing(request: Request, state: SandboxState, user: User) -> Response:
    body = user.player.state_json(state.now(), with_device=False)
    return no_content() if body is None else JSONResponse(body)


@authed
async def devices(request: Request, state: SandboxState, user: User) -> Response:
    user.player.settle(state.now())
    return JSONResponse({"devices": [d.to_json() for d in user.player.devices.values()]})


@authed
async def transfer(request: Request, state: SandboxState, user: User) -> Response:
    body = await _json_body(request)
    device_ids = body.get("device_ids")
    if not isinstance(device_ids, list) or not all(isinstance(d, str) for d in device_ids):
        raise BadRequest("Required parameter device_ids missing")
    play = body.get("play")
    if play is not None and not isinstance(play, bool):
        raise BadRequest("Invalid play value")
    _premium(user)
    user.player.transfer(state.now(), device_ids, play)
    return no_content()


@authed
async def play(request: Request, state: SandboxState, user: User) -> Response:
    body = await _json_body(request)
    context_uri, uris = body.get("context_uri"), body.get("uris")
    offset, position_ms = body.get("offset"), body.get("position_ms")
    if context_uri is not None and not isinstance(context_uri, str):
        raise BadRequest("Invalid context uri")
    if uris is not None and (not isinstance(uris, list) or not all(isinstance(u, str) for u in uris)):
        raise BadRequest("Invalid uris")
    if offset is not None and not isinstance(offset, dict):
        raise BadRequest("Invalid offset")
    if position_ms is not None and (not isinstance(position_ms, int) or position_ms < 0):
        raise BadRequest("Invalid position_ms")
    _premium(user)
    user.player.play(
        state.now(), request.query_params.get("device_id"), context_uri, uris, offset, position_ms
    )
    return no_content()


def _command(action: Callable[[Request, SandboxState, User, str | None], None]) -> Any:
    """A player command: premium only, optional ``device_id``, 204 on success."""

    @authed
    async def endpoint(request: Request, state: SandboxState, user: User) -> Response:
        _premium(user)
        action(request, state, user, request.query_params.get("device_id"))
        return no_content()

    return endpoint


def _pause(r: Request, s: SandboxState, u: User, device: str | None) -> None:
    u.player.pause(s.now(), device)


def _next(r: Request, s: SandboxState, u: User, device: str | None) -> None:
    u.player.next(s.now(), device)


def _previous(r: Request, s: SandboxState, u: User, device: str | None) -> None:
    u.player.previous(s.now(), device)


def _seek(r: Request, s: SandboxState, u: User, device: str | None) -> None:
    if "position_ms" not in r.query_params:
        raise BadRequest("Required parameter position_ms missing")
    u.player.seek(s.now(), device, _int_param(r, "position_ms", 0, 0, 2**31))


def _repeat(r: Request, s: SandboxState, u: User, device: str | None) -> None:
    if "state" not in r.query_params:
        raise BadRequest("Required parameter state missing")
    u.player.set_repeat(s.now(), device, r.query_params["state"])


def _shuffle(r: Request, s: SandboxState, u: User, device: str | None) -> None:
    value = r.query_params.get("state")
    if value not in ("true", "false"):
        raise BadRequest("Required parameter state missing" if value is None else "Invalid state")
    u.player.set_shuffle(s.now(), device, value == "true")


def _volume(r: Request, s: SandboxState, u: User, device: str | None) -> None:
    if "volume_percent" not in r.query_params:
        raise BadRequest("Required parameter volume_percent missing")
    try:
        volume = int(r.query_params["volume_percent"])
    except ValueError:
        raise BadRequest("Invalid volume value") from None
    u.player.set_volume(s.now(), device, volume)


def _queue_add(r: Request, s: SandboxState, u: User, device: str | None) -> None:
    uri = r.query_params.get("uri")
    if not uri:
        raise BadRequest("Required parameter uri missing")
    u.player.add_to_queue(s.now(), device, uri)


@authed
async def queue_get(request: Request, state: SandboxState, user: User) -> Response:
    return JSONResponse(user.player.queue_json(state.now()))


# -- search and the user's library -------------------------------------------------


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
    limit = _int_param(request, "limit", 5, 0, SEARCH_MAX_LIMIT)
    offset = _int_param(request, "offset", 0, 0, 1000)
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
    limit = _int_param(request, "limit", 20, 1, 50)
    offset = _int_param(request, "offset", 0, 0, 100_000)
    items = [p.simplified() for p in state.catalog.playlists.values()]
    return JSONResponse(paging(request, items, limit, offset))


@authed
async def my_albums(request: Request, state: SandboxState, user: User) -> Response:
    limit = _int_param(request, "limit", 20, 1, 50)
    offset = _int_param(request, "offset", 0, 0, 100_000)
    items = []
    for album_id, added in user.saved_albums:
        album = state.catalog.albums[album_id]
        tracks = paging_at(f"{_own_base(request)}/albums/{album.id}/tracks", {}, album.track_objects(), 50, 0)
        items.append({"added_at": _iso(added), "album": album.full(tracks)})
    return JSONResponse(paging(request, items, limit, offset))


@authed
async def my_tracks(request: Request, state: SandboxState, user: User) -> Response:
    limit = _int_param(request, "limit", 20, 1, 50)
    offset = _int_param(request, "offset", 0, 0, 100_000)
    items = [
        {"added_at": _iso(added), "track": state.catalog.tracks[track_id].full()}
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
    body = await _json_body(request)
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
    limit = _int_param(request, "limit", 20, 1, 50)
    offset = _int_param(request, "offset", 0, 0, 100_000)
    # ``item`` since 2026; ``track`` still sent, deprecated
    entries = [{"added_at": _iso(0), "is_local": False, "item": t.full(), "track": t.full()}
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
    limit = _int_param(request, "limit", 20, 1, 50)
    after = request.query_params.get("after")
    ids = user.followed_artists
    start = ids.index(after) + 1 if after in ids else 0
    chunk = ids[start : start + limit]
    more = start + limit < len(ids)
    base = f"{_own_base(request)}/me/following?type=artist&limit={limit}"
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
    limit = _int_param(request, "limit", 20, 1, 50)
    offset = _int_param(request, "offset", 0, 0, 100_000)
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
        tracks = paging_at(f"{_own_base(request)}/albums/{item.id}/tracks", {}, item.track_objects(), 50, 0)
        return JSONResponse(item.full(tracks))
    assert isinstance(item, Playlist)
    return JSONResponse(item.simplified())


routes = [
    Route("/v1/me", me),
    Route("/v1/me/player", player_state, methods=["GET"]),
    Route("/v1/me/player", transfer, methods=["PUT"]),
    Route("/v1/me/player/devices", devices),
    Route("/v1/me/player/currently-playing", currently_playing),
    Route("/v1/me/player/play", play, methods=["PUT"]),
    Route("/v1/me/player/pause", _command(_pause), methods=["PUT"]),
    Route("/v1/me/player/next", _command(_next), methods=["POST"]),
    Route("/v1/me/player/previous", _command(_previous), methods=["POST"]),
    Route("/v1/me/player/seek", _command(_seek), methods=["PUT"]),
    Route("/v1/me/player/repeat", _command(_repeat), methods=["PUT"]),
    Route("/v1/me/player/shuffle", _command(_shuffle), methods=["PUT"]),
    Route("/v1/me/player/volume", _command(_volume), methods=["PUT"]),
    Route("/v1/me/player/queue", _command(_queue_add), methods=["POST"]),
    Route("/v1/me/player/queue", queue_get, methods=["GET"]),
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
