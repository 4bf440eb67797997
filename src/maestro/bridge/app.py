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
"""

from __future__ import annotations

import base64
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from maestro.bridge import codes
from maestro.bridge.middleware import BodyLimitMiddleware, SecurityHeadersMiddleware
from maestro.bridge.store import BridgeStore, Grant, SQLiteStore

log = logging.getLogger("maestro.bridge")
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

#: What each scope lets Maestro do, in the words the pair page uses.
SCOPE_WORDS = {
    "user-read-playback-state": "see what is playing and on which speaker",
    "user-modify-playback-state": "play, pause, skip and change the volume",
    "user-read-currently-playing": "see the song that is playing",
    "user-library-read": "read your saved songs and albums (to know their names)",
    "user-library-modify": "save a song to your Liked Songs when you ask",
    "playlist-read-private": "read your playlists (to know their names)",
    "user-follow-read": "see the artists you follow",
    "user-top-read": "see your most played artists and songs",
}


@dataclass
class BridgeConfig:
    client_id: str
    #: Public address of the bridge (what the box and the phone use).
    base_url: str
    accounts_url: str = "https://accounts.spotify.com"
    client_secret: str = ""
    #: "hosted" (HTTPS, redirect to <base_url>/callback) or "local" (loopback redirect, paste-back).
    mode: str = "hosted"
    #: Local mode: the loopback redirect URI registered in the Spotify dashboard.
    local_redirect_uri: str = "http://127.0.0.1:8766/callback"
    allowed_scopes: tuple[str, ...] = tuple(SCOPE_WORDS)
    code_ttl_s: int = 600
    interval_s: int = 5
    #: Code lookups per client address, and in all, per window (RFC 8628 §5.1).
    per_ip_attempts: int = 20
    global_attempts: int = 600
    attempt_window_s: int = 600
    max_body_bytes: int = 16 * 1024
    clock: Callable[[], float] = field(default=time.time)

    @property
    def redirect_uri(self) -> str:
        return self.local_redirect_uri if self.mode == "local" else self.base_url.rstrip("/") + "/callback"

    def guess_odds(self) -> float:
        """Chance that guessing finds one particular code during its lifetime."""
        windows = max(1, -(-self.code_ttl_s // self.attempt_window_s))
        return self.global_attempts * windows / len(codes.USER_CODE_ALPHABET) ** codes.USER_CODE_LENGTH


class Bridge:
    def __init__(self, config: BridgeConfig, store: BridgeStore, http: httpx.AsyncClient) -> None:
        self.config = config
        self.store = store
        self.http = http
        self.templates = Jinja2Templates(directory=str(resources.files("maestro.bridge") / "templates"))
        self.csrf_key = secrets.token_bytes(32)
        self.last_sweep = 0.0

    @property
    def now(self) -> float:
        return self.config.clock()

    def page(self, request: Request, template: str, status: int = 200, **context: Any) -> Response:
        return self.templates.TemplateResponse(request, template, context, status_code=status)

    def message(
        self, request: Request, title: str, message: str, status: int = 200, **extra: Any
    ) -> Response:
        return self.page(request, "message.html", status, title=title, message=message, **extra)

    # -- device side ------------------------------------------------------------------

    async def device_authorize(self, request: Request) -> Response:
        form = await request.form()
        client_id = str(form.get("client_id", ""))
        if not codes.same(client_id, self.config.client_id):
            return _oauth_error("invalid_client", "Unknown client", 401)
        requested = str(form.get("scope", "")).split() or list(self.config.allowed_scopes)
        if not set(requested) <= set(self.config.allowed_scopes):
            return _oauth_error("invalid_scope", "Scope not allowed")
        device_name = str(form.get("device_name", "")).strip()[:40] or "your Maestro box"
        self._sweep()
        device_code = codes.new_secret()
        for _ in range(5):  # a clash of user codes is rare; try again
            user_code = codes.new_user_code()
            if self.store.by_user_code(codes.normalise_user_code(user_code), self.now) is None:
                break
        grant = Grant(
            id=codes.digest(device_code),
            user_code=codes.normalise_user_code(user_code),
            client_id=client_id,
            scope=" ".join(requested),
            device_name=device_name,
            status="pending",
            expires_at=self.now + self.config.code_ttl_s,
            interval=self.config.interval_s,
            last_poll=None,
        )
        self.store.add(grant)
        log.info("device authorization started (expires in %ss)", self.config.code_ttl_s)
        base = self.config.base_url.rstrip("/")
        return JSONResponse(
            {
                "device_code": device_code,
                "user_code": user_code,
                "verification_uri": f"{base}/pair",
                "verification_uri_complete": f"{base}/pair?{urlencode({'code': user_code})}",
                "expires_in": self.config.code_ttl_s,
                "interval": self.config.interval_s,
            },
            headers=NO_STORE,
        )

    async def token(self, request: Request) -> Response:
        # The hot path (every device polls here): a plain urlencoded body, parsed directly.
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        grant_type = str(form.get("grant_type", ""))
        if grant_type == DEVICE_CODE_GRANT:
            return self._device_token(str(form.get("client_id", "")), str(form.get("device_code", "")))
        if grant_type == "refresh_token":
            return await self._refresh(str(form.get("client_id", "")), str(form.get("refresh_token", "")))
        return _oauth_error("unsupported_grant_type", "Use the device_code or refresh_token grant")

    def _device_token(self, client_id: str, device_code: str) -> Response:
        if not codes.same(client_id, self.config.client_id):
            return _oauth_error("invalid_client", "Unknown client", 401)
        grant, too_fast = self.store.poll(device_code, self.now)
        if grant is None or grant.status == "delivered":
            return _oauth_error("invalid_grant", "Unknown or already used device code")
        if self.now >= grant.expires_at:
            return _oauth_error("expired_token", "The code has expired; start again")
        if grant.status == "denied":
            return _oauth_error("access_denied", "The user declined")
        if grant.status == "approved" and grant.tokens:
            tokens = grant.tokens
            grant.status, grant.tokens = "delivered", None  # exactly once
            self.store.update(grant)
            log.info("tokens delivered to a device")
            body = {
                k: tokens[k]
                for k in ("access_token", "token_type", "expires_in", "refresh_token", "scope")
                if k in tokens
            }
            return JSONResponse(body, headers=NO_STORE)
        if too_fast:  # the store already added five seconds for this and every later poll
            return _oauth_error("slow_down", f"Poll at most every {grant.interval} seconds")
        return _oauth_error("authorization_pending", "Waiting for the user")

    async def _refresh(self, client_id: str, refresh_token: str) -> Response:
        if not codes.same(client_id, self.config.client_id):
            return _oauth_error("invalid_client", "Unknown client", 401)
        if not refresh_token:
            return _oauth_error("invalid_request", "refresh_token is missing")
        status, body = await self._spotify_token(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )
        if status != 200:
            return JSONResponse(_oauth_body(body), status_code=400 if status < 500 else 502, headers=NO_STORE)
        # A new refresh token only when Spotify sent one; the box keeps its old one otherwise.
        keep = ("access_token", "token_type", "expires_in", "refresh_token", "scope")
        return JSONResponse({k: body[k] for k in keep if k in body}, headers=NO_STORE)

    async def _spotify_token(self, data: dict[str, str]) -> tuple[int, dict[str, Any]]:
        headers = {}
        data = {**data, "client_id": self.config.client_id}
        if self.config.client_secret:
            pair = f"{self.config.client_id}:{self.config.client_secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        try:
            response = await self.http.post(
                self.config.accounts_url.rstrip("/") + "/api/token", data=data, headers=headers, timeout=15
            )
        except httpx.HTTPError as exc:
            log.warning("Spotify token endpoint unreachable: %s", type(exc).__name__)
            return 502, {
                "error": "temporarily_unavailable",
                "error_description": "Spotify could not be reached",
            }
        try:
            body = response.json()
        except ValueError:
            body = {}
        return response.status_code, body if isinstance(body, dict) else {}

    # -- browser side ---------------------------------------------------------------------

    def _limited(self, request: Request) -> bool:
        """Count one code lookup; True when this address, or everyone together, asked too often."""
        window = self.now - self.now % self.config.attempt_window_s
        address = request.client.host if request.client else "unknown"
        mine = self.store.count_attempt(f"ip:{address}", window)
        everyone = self.store.count_attempt("all", window)
        return mine > self.config.per_ip_attempts or everyone > self.config.global_attempts

    def _too_many(self, request: Request) -> Response:
        return self.message(
            request, "Slow down", "Too many tries. Wait ten minutes and try again.", 429, error=True
        )

    def _lookup(self, code: str) -> Grant | None:
        grant = self.store.by_user_code(codes.normalise_user_code(code), self.now)
        return grant if grant is not None and grant.status == "pending" else None

    async def pair_page(self, request: Request) -> Response:
        code = request.query_params.get("code", "")
        if not code:
            return self.page(request, "enter_code.html", title="Connect Maestro", code="", error=None)
        if self._limited(request):
            return self._too_many(request)
        grant = self._lookup(code) if codes.looks_like_user_code(code) else None
        if grant is None:
            return self.page(
                request,
                "enter_code.html",
                404,
                title="Connect Maestro",
                code=code[:12],
                error="That code is not right, or it has expired. Check the code on the box.",
            )
        nonce = secrets.token_urlsafe(16)
        response = self.page(
            request,
            "confirm.html",
            title="Connect Maestro",
            code=_pretty(grant.user_code),
            device_name=grant.device_name,
            scopes=[SCOPE_WORDS.get(s, s) for s in grant.scope.split()],
            csrf=codes.csrf_token(self.csrf_key, grant.id, nonce),
            local_mode=self.config.mode == "local",
        )
        response.set_cookie(
            "maestro_csrf",
            nonce,
            max_age=self.config.code_ttl_s,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    async def pair_decide(self, request: Request) -> Response:
        form = await request.form()
        code, decision = str(form.get("code", "")), str(form.get("decision", ""))
        if self._limited(request):
            return self._too_many(request)
        grant = self._lookup(code) if codes.looks_like_user_code(code) else None
        if grant is None:
            return self.message(
                request,
                "Code not found",
                "That code is not right, or it has expired.",
                404,
                error=True,
                retry=True,
            )
        nonce = request.cookies.get("maestro_csrf", "")
        expected = codes.csrf_token(self.csrf_key, grant.id, nonce)
        if not nonce or not codes.same(str(form.get("csrf", "")), expected):
            return self.message(
                request,
                "Please try again",
                "This form expired. Open the link again.",
                403,
                error=True,
                retry=True,
            )
        if decision != "approve":
            grant.status = "denied"
            self.store.update(grant)
            return self.message(request, "Cancelled", "Nothing was connected. You can close this page.")
        state = codes.new_secret()
        verifier, challenge = codes.pkce_pair()
        grant.status, grant.state_hash, grant.code_verifier = "authorizing", codes.digest(state), verifier
        self.store.update(grant)
        query = urlencode(
            {
                "client_id": self.config.client_id,
                "response_type": "code",
                "redirect_uri": self.config.redirect_uri,
                "state": state,
                "scope": grant.scope,
                "code_challenge_method": "S256",
                "code_challenge": challenge,
            }
        )
        # Always and only to Spotify's authorize page: nothing from the request picks the target.
        return RedirectResponse(f"{self.config.accounts_url.rstrip('/')}/authorize?{query}", status_code=303)

    async def callback(self, request: Request) -> Response:
        return await self._finish(request, dict(request.query_params))

    async def paste_page(self, request: Request) -> Response:
        return self.page(request, "paste.html", title="Finish connecting", error=None)

    async def paste(self, request: Request) -> Response:
        form = await request.form()
        query = parse_qs(urlsplit(str(form.get("url", ""))).query)
        params = {k: v[0] for k, v in query.items() if v}
        if "state" not in params:
            return self.page(
                request,
                "paste.html",
                400,
                title="Finish connecting",
                error="That address has no answer from Spotify in it. Copy the whole address.",
            )
        return await self._finish(request, params)

    async def _finish(self, request: Request, params: dict[str, str]) -> Response:
        state = params.get("state", "")
        grant = self.store.by_state(state) if state else None
        if grant is None or grant.status != "authorizing" or self.now >= grant.expires_at:
            return self.message(
                request,
                "Link expired",
                "This sign-in link is not valid any more. Start again from the Maestro box.",
                400,
                error=True,
            )
        grant.state_hash = None  # a state works once
        if "error" in params or "code" not in params:
            grant.status, grant.code_verifier = "denied", None
            self.store.update(grant)
            return self.message(
                request,
                "Not connected",
                "Spotify did not connect Maestro. You can close this page, or start again from the box.",
            )
        status, body = await self._spotify_token(
            {
                "grant_type": "authorization_code",
                "code": params["code"],
                "redirect_uri": self.config.redirect_uri,
                "code_verifier": grant.code_verifier or "",
            }
        )
        grant.code_verifier = None
        if status != 200 or "access_token" not in body:
            grant.status = "denied"
            self.store.update(grant)
            log.warning("code exchange failed: %s", _oauth_body(body).get("error"))
            return self.message(
                request,
                "Not connected",
                "Spotify refused the connection. Start again from the Maestro box.",
                502,
                error=True,
            )
        grant.status, grant.tokens = "approved", body
        self.store.update(grant)
        log.info("a grant was approved")
        return self.message(request, "Done", "Done — you can close this page. Maestro is connecting now.")

    # -- metadata ---------------------------------------------------------------------------

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
            }
        )

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"ok": True})

    def _sweep(self) -> None:
        if self.now - self.last_sweep > 60:
            self.last_sweep = self.now
            self.store.sweep(self.now)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _pretty(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def _oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=NO_STORE
    )


def _oauth_body(body: dict[str, Any]) -> dict[str, Any]:
    return {k: body[k] for k in ("error", "error_description") if k in body} or {"error": "server_error"}


def create_app(
    config: BridgeConfig, store: BridgeStore | None = None, http: httpx.AsyncClient | None = None
) -> Starlette:
    bridge = Bridge(config, store or SQLiteStore(), http or httpx.AsyncClient())
    routes = [
        Route("/device/authorize", bridge.device_authorize, methods=["POST"]),
        Route("/token", bridge.token, methods=["POST"]),
        Route("/pair", bridge.pair_page, methods=["GET"]),
        Route("/pair", bridge.pair_decide, methods=["POST"]),
        Route("/pair/paste", bridge.paste_page, methods=["GET"]),
        Route("/pair/paste", bridge.paste, methods=["POST"]),
        Route("/callback", bridge.callback, methods=["GET"]),
        Route("/.well-known/oauth-authorization-server", bridge.metadata, methods=["GET"]),
        Route("/healthz", bridge.healthz, methods=["GET"]),
        Mount(
            "/static", StaticFiles(directory=str(resources.files("maestro.bridge") / "static")), name="static"
        ),
    ]
    middleware = [
        Middleware(SecurityHeadersMiddleware, accounts_origin=_origin(config.accounts_url)),
        Middleware(BodyLimitMiddleware, max_bytes=config.max_body_bytes),
    ]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.bridge = bridge
    return app
