"""The profile and the player under ``/v1/me``: Spotify's paths, shapes and errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from maestro.sandbox.player_views import queue_json, state_json
from maestro.sandbox.state import SandboxState, User
from maestro.sandbox.web import BadRequest, authed, int_param, json_body, no_content, premium


@authed
async def me(request: Request, state: SandboxState, user: User) -> Response:
    # the public profile for any token; e-mail and account details only with their scopes
    granted = request.state.scopes
    private = {"country", "explicit_content", "product"} if "user-read-private" not in granted else set()
    email = {"email"} if "user-read-email" not in granted else set()
    return JSONResponse({k: v for k, v in user.profile().items() if k not in private | email})


@authed
async def player_state(request: Request, state: SandboxState, user: User) -> Response:
    body = state_json(user.player, state.now())
    return no_content() if body is None else JSONResponse(body)


@authed
async def currently_playing(request: Request, state: SandboxState, user: User) -> Response:
    body = state_json(user.player, state.now(), with_device=False)
    return no_content() if body is None else JSONResponse(body)


@authed
async def devices(request: Request, state: SandboxState, user: User) -> Response:
    user.player.settle(state.now())
    return JSONResponse({"devices": [d.to_json() for d in user.player.listed()]})


@authed
async def transfer(request: Request, state: SandboxState, user: User) -> Response:
    body = await json_body(request)
    device_ids = body.get("device_ids")
    if not isinstance(device_ids, list) or not all(isinstance(d, str) for d in device_ids):
        raise BadRequest("Required parameter device_ids missing")
    play = body.get("play")
    if play is not None and not isinstance(play, bool):
        raise BadRequest("Invalid play value")
    premium(user)
    user.player.transfer(state.now(), device_ids, play)
    return no_content()


@authed
async def play(request: Request, state: SandboxState, user: User) -> Response:
    body = await json_body(request)
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
    premium(user)
    user.player.play(
        state.now(), request.query_params.get("device_id"), context_uri, uris, offset, position_ms
    )
    return no_content()


def _command(action: Callable[[Request, SandboxState, User, str | None], None]) -> Any:
    """A player command: premium only, optional ``device_id``, 204 on success."""

    @authed
    async def endpoint(request: Request, state: SandboxState, user: User) -> Response:
        premium(user)
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
    u.player.seek(s.now(), device, int_param(r, "position_ms", 0, 0, 2**31))


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
    return JSONResponse(queue_json(user.player, state.now()))


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
]
