"""The sandbox ASGI app: Spotify's accounts service and Web API on loopback."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse

from maestro.sandbox import accounts, controls, webapi
from maestro.sandbox.faults import FaultMiddleware
from maestro.sandbox.state import DEFAULT_CLIENTS, DEFAULT_REDIRECT_URIS, SandboxState


async def not_found(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"error": {"status": 404, "message": "Service not found"}}, status_code=404)


async def not_allowed(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"error": {"status": 405, "message": "Method not allowed"}}, status_code=405)


def create_app(
    *,
    allowed_clients: tuple[str, ...] = DEFAULT_CLIENTS,
    redirect_uris: tuple[str, ...] = DEFAULT_REDIRECT_URIS,
    token_ttl: int = 3600,
    poll_interval: int = 5,
    state: SandboxState | None = None,
) -> Starlette:
    state = state or SandboxState(
        allowed_clients=allowed_clients,
        redirect_uris=redirect_uris,
        token_ttl=token_ttl,
        poll_interval=poll_interval,
    )
    app = Starlette(
        routes=[*accounts.routes, *controls.routes, *webapi.routes],
        middleware=[Middleware(FaultMiddleware, state=state)],
        exception_handlers={404: not_found, 405: not_allowed},
    )
    app.state.sandbox = state
    return app
