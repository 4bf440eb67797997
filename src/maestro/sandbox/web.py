"""What every ``/v1`` route of the sandbox shares: the bearer token to a user, the scopes each call
needs, Spotify's error bodies, parameters, paging objects."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from maestro.sandbox.player import PlayerCommandError
from maestro.sandbox.state import SandboxState, User

API = "https://api.spotify.com/v1"

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


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
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


async def json_body(request: Request) -> dict[str, Any]:
    try:
        raw = await request.body()
    except ClientDisconnect:  # the client gave up waiting (a latency fault): nothing to answer
        raise BadRequest("Client went away.") from None
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise BadRequest("Error parsing JSON.") from None
    if not isinstance(body, dict):
        raise BadRequest("Error parsing JSON.")
    return body


def premium(user: User) -> None:
    if user.product != "premium":
        raise PlayerCommandError(403, "Player command failed: Premium required", "PREMIUM_REQUIRED")


def own_base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/v1"


def paging(request: Request, items: list[Any], limit: int, offset: int) -> dict[str, Any]:
    # Links point at this server (as Spotify's point at api.spotify.com), so a
    # client that follows `next` stays on the sandbox.
    base = own_base(request) + request.url.path.removeprefix("/v1")
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


def iso(ts: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
