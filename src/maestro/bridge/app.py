"""The bridge ASGI app: RFC 8628 towards the box, Authorization Code + PKCE towards Spotify.

box                          bridge                         phone browser            Spotify
POST /device/authorize  ->   grant (code hashed)
POST /token (polling)   ->   authorization_pending
                             GET /pair?code=...       <-    user types / scans code
                             POST /pair (CSRF)        ->    302 to /authorize  ->    user agrees
                             GET /callback?code&state <-    (or paste-back in local mode)
                             POST /api/token (PKCE)   ------------------------------>
POST /token             ->   tokens, exactly once
POST /token (refresh)   ->   proxied, with the client secret when configured ------>

The endpoints live in ``device`` (the box's side) and ``pages`` (the browser's side);
this module routes them, adds the metadata and health endpoints and the middleware,
and sweeps expired grants on a timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from importlib import resources

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from maestro.bridge.browser import origin
from maestro.bridge.device import DEVICE_CODE_GRANT, DeviceEndpoints, displayable_name, oauth_error
from maestro.bridge.grants import BridgeStore, StoreUnavailableError
from maestro.bridge.limits import Limits
from maestro.bridge.middleware import SecurityHeadersMiddleware
from maestro.bridge.pages import Pages
from maestro.bridge.settings import BridgeConfig
from maestro.bridge.spotify import SpotifyAccounts
from maestro.bridge.tally import Tally
from maestro.serving import BodyLimitMiddleware

__all__ = ["BridgeConfig", "create_app", "displayable_name"]

log = logging.getLogger("maestro.bridge")
SWEEP_EVERY_S = 60
RETRY_AFTER_S = 5


class Bridge:
    """One bridge: its config, its store, and the two sides that use them."""

    def __init__(self, config: BridgeConfig, store: BridgeStore, http: httpx.AsyncClient) -> None:
        self.config = config
        self.store = store
        limits, spotify = Limits(config, store), SpotifyAccounts(config, http)
        self.tally = Tally()
        self.device = DeviceEndpoints(config, store, limits, spotify, self.tally)
        self.pages = Pages(config, store, limits, spotify, self.tally)

    @property
    def store_name(self) -> str:
        return type(self.store).__name__.removesuffix("Store").lower()

    async def metadata(self, request: Request) -> Response:
        base = self.config.base_url.rstrip("/")
        return JSONResponse(
            {
                "issuer": base,
                "device_authorization_endpoint": f"{base}/device/authorize",
                "token_endpoint": f"{base}/token",
                "grant_types_supported": [DEVICE_CODE_GRANT, "refresh_token"],
                "token_endpoint_auth_methods_supported": ["none"],
                "scopes_supported": list(self.config.allowed_scopes),
                "response_types_supported": [],
                # Not RFC 8414's: the Spotify app this bridge serves, so a box can use the same id
                # (client ids are public: they travel in every authorize link).
                "maestro_client_id": self.config.client_id,
            }
        )

    async def healthz(self, request: Request) -> Response:
        try:
            await self.store.health()
        except StoreUnavailableError as exc:
            log.warning("store unavailable: %s", exc)
            return JSONResponse({"ok": False, "store": self.store_name, "problem": exc.problem},
                                status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)})  # fmt: skip
        return JSONResponse({"ok": True, "store": self.store_name})

    async def sweep_forever(self) -> None:
        """Expired grants and old rate-limit entries go on a timer, whatever the traffic."""
        while True:
            try:
                gone = await self.store.sweep(self.config.clock())
                if gone:
                    log.info("swept %d expired grants", gone)
            except StoreUnavailableError as exc:
                log.warning("sweep skipped: %s", exc)
            summary = self.tally.summary()
            if summary:
                log.info("%s", summary)
            await asyncio.sleep(SWEEP_EVERY_S)

    async def store_down(self, request: Request, exc: Exception) -> Response:
        """The store is unreachable: devices come back later; pages say so. Never a 500."""
        log.warning("store unavailable: %s", exc)
        if request.url.path in ("/token", "/device/authorize"):
            return oauth_error("temporarily_unavailable", "Try again shortly", 503, retry_after=RETRY_AFTER_S)
        response = self.pages.message(request, "Try again", "The pairing service is busy. Try again in a "
                                      "moment.", 503, error=True)  # fmt: skip
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response


def create_app(
    config: BridgeConfig, store: BridgeStore | None = None, http: httpx.AsyncClient | None = None
) -> Starlette:
    if store is None:
        from maestro.bridge.sqlite_store import SQLiteStore

        store = SQLiteStore()
    bridge = Bridge(config, store, http or httpx.AsyncClient())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        sweeping = asyncio.create_task(bridge.sweep_forever())
        try:
            yield
        finally:
            sweeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeping

    async def slash(request: Request) -> Response:
        # A relative redirect: the Host header (the client's to choose) never makes the address.
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"/pair{query}", status_code=307)

    device, pages = bridge.device, bridge.pages
    routes = [
        Route("/pair/", slash, methods=["GET"]),
        Route("/device/authorize", device.authorize, methods=["POST"]),
        Route("/token", device.token, methods=["POST"]),
        Route("/pair", pages.pair_page, methods=["GET"]),
        Route("/p/{token}", pages.link, methods=["GET"]),
        Route("/P/{token}", pages.link, methods=["GET"]),
        Route("/pair", pages.pair_decide, methods=["POST"]),
        Route("/pair/paste", pages.paste_page, methods=["GET"]),
        Route("/pair/paste", pages.paste, methods=["POST"]),
        Route("/callback", pages.callback, methods=["GET"]),
        Route("/.well-known/oauth-authorization-server", bridge.metadata, methods=["GET"]),
        Route("/healthz", bridge.healthz, methods=["GET"]),
        Mount(
            "/static", StaticFiles(directory=str(resources.files("maestro.bridge") / "static")), name="static"
        ),
    ]
    middleware = [
        Middleware(SecurityHeadersMiddleware, accounts_origin=origin(config.accounts_url)),
        Middleware(BodyLimitMiddleware, max_bytes=config.max_body_bytes),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                    exception_handlers={StoreUnavailableError: bridge.store_down})  # fmt: skip
    app.router.redirect_slashes = False  # Starlette's would build the address from the Host header
    app.state.bridge = bridge
    return app
