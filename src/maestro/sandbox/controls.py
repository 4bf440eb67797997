"""Test-only controls under ``/sandbox/`` (a contract: tests and scripts use them)."""

from __future__ import annotations

import json
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from maestro.sandbox.sign_in import DEFAULT_USER, OAuthError
from maestro.sandbox.state import Fault, SandboxState


class ControlError(Exception):
    pass


def _state(request: Request) -> SandboxState:
    return request.app.state.sandbox


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise ControlError("body must be JSON") from None
    if not isinstance(body, dict):
        raise ControlError("body must be a JSON object")
    return body


def _field(body: dict[str, Any], name: str, kind: type, default: Any = ...) -> Any:
    if name not in body:
        if default is ...:
            raise ControlError(f"missing field {name!r}")
        return default
    value = body[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ControlError(f"field {name!r} must be {kind.__name__}")
    return value


def control(handler: Any) -> Any:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request, _state(request), await _body(request))
        except ControlError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        except OAuthError as exc:
            return JSONResponse(exc.to_json(), status_code=exc.status)

    return endpoint


async def _decide(request: Request, state: SandboxState, body: dict[str, Any], approve: bool) -> Response:
    grant = state.decide_grant(
        _field(body, "user_code", str),
        approve,
        _field(body, "user", str, DEFAULT_USER),
        _field(body, "product", str, None),
    )
    return JSONResponse({"user_code": grant.user_code, "status": grant.status})


@control
async def approve(request: Request, state: SandboxState, body: dict[str, Any]) -> Response:
    return await _decide(request, state, body, True)


@control
async def deny(request: Request, state: SandboxState, body: dict[str, Any]) -> Response:
    return await _decide(request, state, body, False)


@control
async def faults(request: Request, state: SandboxState, body: dict[str, Any]) -> Response:
    status = _field(body, "status", int)
    if status != 0 and not 400 <= status <= 599:
        raise ControlError("status must be 0 (latency only) or an HTTP error status")
    fault = Fault(
        status=status,
        remaining=_field(body, "count", int, 1),
        retry_after=_field(body, "retry_after", int, None),
        latency_ms=_field(body, "latency_ms", int, 0),
        path=_field(body, "path", str, ""),
    )
    if fault.remaining < 1:
        raise ControlError("count must be at least 1")
    state.faults.append(fault)
    return JSONResponse({"faults": [vars(f) for f in state.faults]})


@control
async def clock(request: Request, state: SandboxState, body: dict[str, Any]) -> Response:
    """Move sandbox time forward: playback advances, tokens and codes expire."""
    seconds = body.get("advance_s", 0)
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
        raise ControlError("advance_s must be a non-negative number")
    state.clock.advance(float(seconds))
    return JSONResponse({"now": state.now()})


@control
async def tokens(request: Request, state: SandboxState, body: dict[str, Any]) -> Response:
    """Expire every access token, or revoke refresh tokens (``{"revoke": true}``)."""
    result: dict[str, int] = {}
    if _field(body, "expire", bool, False):
        result["expired"] = state.expire_access_tokens()
    if _field(body, "revoke", bool, False):
        result["revoked"] = state.revoke_refresh_tokens(_field(body, "user", str, None))
    return JSONResponse(result)


@control
async def devices(request: Request, state: SandboxState, body: dict[str, Any]) -> Response:
    """How a speaker lets Maestro down: ``ignores_plays`` (plays it takes but never starts; -1:
    all), ``lands_on`` (the name of the speaker that plays instead), ``ignores_volume``,
    ``ignores_seek``, ``restricted`` (refuses commands: 403), ``listed`` (false: asleep, off
    Spotify's list; true again: back, under a new id)."""
    player = state.user(_field(body, "user", str, DEFAULT_USER)).player
    name = _field(body, "name", str)
    by_name = {d.name.lower(): d for d in player.devices.values()}
    device = by_name.get(name.lower())
    if device is None:
        raise ControlError(f"no device called {name!r}")
    if "ignores_plays" in body:
        device.ignores_plays = _field(body, "ignores_plays", int)
    if "lands_on" in body:
        other = _field(body, "lands_on", str, None)
        target = by_name.get(other.lower()) if other else None
        if other and target is None:
            raise ControlError(f"no device called {other!r}")
        device.lands_on = target.id if target else ""
    if "restricted" in body:
        device.is_restricted = _field(body, "restricted", bool)
    if "ignores_volume" in body:
        device.ignores_volume = _field(body, "ignores_volume", bool)
    if "ignores_seek" in body:
        device.ignores_seek = _field(body, "ignores_seek", bool)
    if "listed" in body:
        listed = _field(body, "listed", bool)
        if not listed and device.listed:
            player.unlist(device)
        elif listed and not device.listed:
            device = player.relist(device, secrets.token_hex(20))
    return JSONResponse({**device.to_json(), "listed": device.listed, "ignores_plays": device.ignores_plays})


async def get_state(request: Request) -> Response:
    return JSONResponse(_state(request).snapshot())


@control
async def reset(request: Request, state: SandboxState, body: dict[str, Any]) -> Response:
    state.reset()
    return JSONResponse({"ok": True})


routes = [
    Route("/sandbox/approve", approve, methods=["POST"]),
    Route("/sandbox/deny", deny, methods=["POST"]),
    Route("/sandbox/faults", faults, methods=["POST"]),
    Route("/sandbox/clock", clock, methods=["POST"]),
    Route("/sandbox/tokens", tokens, methods=["POST"]),
    Route("/sandbox/state", get_state, methods=["GET"]),
    Route("/sandbox/reset", reset, methods=["POST"]),
    Route("/sandbox/devices", devices, methods=["POST"]),
]
