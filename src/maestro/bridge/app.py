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

import asyncio
import base64
import contextlib
import json
import logging
import secrets
import time
import unicodedata
from collections.abc import AsyncIterator, Callable
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
from maestro.bridge.store import BridgeStore, Grant, SQLiteStore, StoreUnavailableError

log = logging.getLogger("maestro.bridge")
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
SWEEP_EVERY_S = 60
RETRY_AFTER_S = 5

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
    #: Typed code lookups per client address, and wrong ones in all, in any window (RFC 8628 §5.1).
    #: Sliding windows: no interval of attempt_window_s ever holds more.
    per_ip_attempts: int = 20
    global_attempts: int = 600
    attempt_window_s: int = 600
    #: New device codes per client address, and refreshes through the bridge, per window.
    authorize_per_ip: int = 20
    refresh_per_ip: int = 60
    max_body_bytes: int = 16 * 1024
    #: Signs the confirm form's CSRF token. Shared by every instance (``bridge.secret``), so a form
    #: one instance rendered is accepted by another; a random one serves a single process.
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    clock: Callable[[], float] = field(default=time.time)

    @property
    def redirect_uri(self) -> str:
        return self.local_redirect_uri if self.mode == "local" else self.base_url.rstrip("/") + "/callback"

    def guess_odds(self) -> float:
        """Chance that guessing finds one particular code during its lifetime.

        At most ``global_attempts`` wrong typed codes are looked at in any
        ``attempt_window_s`` (a sliding window, measured in the tests), and a code
        lives ``code_ttl_s``: so at most that many windows' worth of guesses.
        Pairing links carry a 128-bit secret and are no guesses.
        """
        windows = max(1, -(-self.code_ttl_s // self.attempt_window_s))
        return self.global_attempts * windows / len(codes.USER_CODE_ALPHABET) ** codes.USER_CODE_LENGTH


class Bridge:
    def __init__(self, config: BridgeConfig, store: BridgeStore, http: httpx.AsyncClient) -> None:
        self.config = config
        self.store = store
        self.http = http
        self.templates = Jinja2Templates(directory=str(resources.files("maestro.bridge") / "templates"))

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
        if not await self._allowed(f"authorize:{_address(request)}", self.config.authorize_per_ip):
            return _oauth_error("slow_down", "Too many new codes from this address; wait and try again", 429,
                                retry_after=self.config.attempt_window_s // 10)  # fmt: skip
        device_name = displayable_name(str(form.get("device_name", ""))) or "your Maestro box"
        device_code, link_secret = codes.new_secret(), codes.new_secret()
        for _ in range(8):  # a clash of user codes is rare; try again
            user_code = codes.new_user_code()
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
                public_key=codes.public_key(device_code),
                link_hash=codes.digest(link_secret),
            )
            if await self.store.add(grant, self.now):
                break
        else:
            return _oauth_error("temporarily_unavailable", "No free user code; try again", 503, retry_after=1)
        log.info("device authorization started (expires in %ss)", self.config.code_ttl_s)
        base = self.config.base_url.rstrip("/")
        link = urlencode({"code": user_code, "k": link_secret})
        return JSONResponse(
            {
                "device_code": device_code,
                "user_code": user_code,
                "verification_uri": f"{base}/pair",
                # The link (and QR code) carries a secret of its own: opening it is not guessing.
                "verification_uri_complete": f"{base}/pair?{link}",
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
            return await self._device_token(str(form.get("client_id", "")), str(form.get("device_code", "")))
        if grant_type == "refresh_token":
            client_id, refresh_token = str(form.get("client_id", "")), str(form.get("refresh_token", ""))
            return await self._refresh(request, client_id, refresh_token)
        return _oauth_error("unsupported_grant_type", "Use the device_code or refresh_token grant")

    async def _device_token(self, client_id: str, device_code: str) -> Response:
        if not codes.same(client_id, self.config.client_id):
            return _oauth_error("invalid_client", "Unknown client", 401)
        grant_id = codes.digest(device_code)
        grant, too_fast = await self.store.poll(grant_id, self.now)
        if grant is None:
            # Never issued, already used, or forgotten (a Redis restart): a new code is the way on,
            # and expired_token is what tells a device to ask for one (RFC 8628 §3.5).
            return _oauth_error("expired_token", "Unknown or expired device code; start again")
        if self.now >= grant.expires_at:
            return _oauth_error("expired_token", "The code has expired; start again")
        if grant.status == "denied":
            return _oauth_error("access_denied", "The user declined")
        if grant.status == "approved":
            sealed = await self.store.take_tokens(grant_id)  # exactly once, whichever instance asks first
            opened = codes.open_sealed(sealed, device_code) if sealed else None
            if opened is None:
                return _oauth_error("invalid_grant", "Unknown or already used device code")
            tokens = json.loads(opened)
            log.info("tokens delivered to a device")
            keep = ("access_token", "token_type", "expires_in", "refresh_token", "scope")
            return JSONResponse({k: tokens[k] for k in keep if k in tokens}, headers=NO_STORE)
        if too_fast:  # the store already added five seconds for this and every later poll
            return _oauth_error("slow_down", f"Poll at most every {grant.interval} seconds")
        return _oauth_error("authorization_pending", "Waiting for the user")

    async def _refresh(self, request: Request, client_id: str, refresh_token: str) -> Response:
        if not codes.same(client_id, self.config.client_id):
            return _oauth_error("invalid_client", "Unknown client", 401)
        if not refresh_token:
            return _oauth_error("invalid_request", "refresh_token is missing")
        if not await self._allowed(f"refresh:{_address(request)}", self.config.refresh_per_ip):
            return _oauth_error("slow_down", "Too many refreshes from this address", 429, retry_after=60)
        status, body = await self._spotify_token(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )
        if status != 200 or "access_token" not in body:
            if status == 200:  # 200 with an answer that is no token response: Spotify's trouble, not ours
                body, status = {"error": "temporarily_unavailable", "error_description": "Spotify sent "
                                "an answer that is no token response"}, 502  # fmt: skip
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

    async def _look_up(self, request: Request, code: str, link_secret: str) -> Grant | Response | None:
        """The pending grant a code names, or None, or the 429 page when guessing is cut off.

        The pairing link (QR code) carries a secret: with it, a lookup is no guess and is
        never limited, so a user with the box in front of them always gets through. A
        typed code is a guess: each address gets ``per_ip_attempts``, and all addresses
        together ``global_attempts`` *wrong* ones, in any sliding window: a right code gives
        its slot back, so an attacker spending the budget cannot lock the right code out
        through the link, only slow down typed codes for a while.
        """
        normalised = codes.normalise_user_code(code)
        grant = (
            await self.store.by_user_code(normalised, self.now) if codes.looks_like_user_code(code) else None
        )
        if grant is not None and link_secret and codes.same(codes.digest(link_secret), grant.link_hash):
            return grant if grant.status == "pending" else None
        window = self.config.attempt_window_s
        mine = await self.store.hit(
            f"pair:{_address(request)}", self.config.per_ip_attempts, window, self.now
        )
        if mine is None:
            return self._too_many(request, everyone=False)
        everyone = await self.store.hit("pair:all-wrong", self.config.global_attempts, window, self.now)
        if everyone is None:
            return self._too_many(request, everyone=True)
        if grant is not None and grant.status == "pending" and not link_secret:
            await self.store.release(
                "pair:all-wrong", everyone
            )  # right: it did not spend the wrong-code budget
            return grant
        return None

    def _too_many(self, request: Request, *, everyone: bool) -> Response:
        message = (
            "Too many wrong codes are being tried right now. Scan the QR code on the Maestro box "
            "(or open the link it shows): that always works. Or wait a few minutes."
            if everyone
            else "Too many tries from here. Scan the QR code on the Maestro box, or wait ten minutes."
        )
        response = self.message(request, "Slow down", message, 429, error=True)
        response.headers["Retry-After"] = str(self.config.attempt_window_s // 10)
        return response

    async def _allowed(self, key: str, limit: int) -> bool:
        """One more request under ``key`` in the sliding window, if ``limit`` allows it."""
        return await self.store.hit(key, limit, self.config.attempt_window_s, self.now) is not None

    def _csrf(self, user_code: str, nonce: str) -> str:
        return codes.csrf_token(self.config.secret, codes.normalise_user_code(user_code), nonce)

    def _cookie_name(self, user_code: str) -> str:
        """One cookie per code: two tabs on two codes do not spoil each other's form."""
        tag = codes.csrf_token(self.config.secret, "cookie", codes.normalise_user_code(user_code))[:16]
        return f"maestro_csrf_{tag}"

    async def pair_page(self, request: Request) -> Response:
        code = request.query_params.get("code", "")
        if not code:
            return self.page(request, "enter_code.html", title="Connect Maestro", code="", error=None)
        found = await self._look_up(request, code, request.query_params.get("k", ""))
        if isinstance(found, Response):
            return found
        if found is None:
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
            code=_pretty(found.user_code),
            device_name=found.device_name,
            scopes=[SCOPE_WORDS.get(s, s) for s in found.scope.split()],
            csrf=self._csrf(found.user_code, nonce),
            local_mode=self.config.mode == "local",
        )
        response.set_cookie(
            self._cookie_name(found.user_code),
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
        # The CSRF token names the code, so it is checked before the code is looked up: this form
        # is no way to test codes (only a page that found the code hands out a valid token).
        nonce = request.cookies.get(self._cookie_name(code), "")
        if not nonce or not codes.same(str(form.get("csrf", "")), self._csrf(code, nonce)):
            return self.message(request, "Please try again", "This form expired. Open the link again.",
                                403, error=True, retry=True)  # fmt: skip
        grant = await self.store.by_user_code(codes.normalise_user_code(code), self.now)
        if grant is None or grant.status != "pending":
            return self.message(request, "Code not found", "That code is not right, or it has expired.",
                                404, error=True, retry=True)  # fmt: skip
        if decision != "approve":
            grant.status = "denied"
            await self.store.update(grant)
            return self.message(request, "Cancelled", "Nothing was connected. You can close this page.")
        state = codes.new_secret()
        verifier, challenge = codes.pkce_pair()
        grant.status, grant.state_hash, grant.code_verifier = "authorizing", codes.digest(state), verifier
        await self.store.update(grant)
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
        grant, claimed = (
            await self.store.claim_state(codes.digest(state), self.now) if state else (None, False)
        )
        if grant is not None and not claimed and grant.status in ("exchanging", "approved"):
            # A reload while (or after) Spotify answers: the first request is doing the work.
            return self.message(request, "Done", "Already done — you can close this page. "
                                "Maestro is connecting now.")  # fmt: skip
        if not claimed or grant is None:
            return self.message(
                request,
                "Link expired",
                "This sign-in link is not valid any more. Start again from the Maestro box.",
                400,
                error=True,
            )
        verifier = grant.code_verifier or ""
        grant.state_hash, grant.code_verifier = None, None  # a state works once
        if "error" in params or "code" not in params:
            # Backed out at Spotify: the code on the box still works, so the user can try again.
            grant.status = "pending"
            await self.store.update(grant)
            return self.message(
                request,
                "Not connected",
                "Spotify did not connect Maestro. To try again, open the link on the box again "
                "(or enter its code); otherwise you can close this page.",
                retry=True,
            )
        status, body = await self._spotify_token(
            {
                "grant_type": "authorization_code",
                "code": params["code"],
                "redirect_uri": self.config.redirect_uri,
                "code_verifier": verifier,
            }
        )
        if status != 200 or "access_token" not in body:
            grant.status = "denied"
            await self.store.update(grant)
            log.warning("code exchange failed: %s", _oauth_body(body).get("error"))
            return self.message(
                request,
                "Not connected",
                "Spotify refused the connection. Start again from the Maestro box.",
                502,
                error=True,
            )
        grant.status = "approved"
        grant.sealed_tokens = codes.seal(json.dumps(body).encode(), grant.public_key)
        await self.store.update(grant)
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
        try:
            await self.store.health()
        except StoreUnavailableError as exc:
            log.warning("store unavailable: %s", exc)
            return JSONResponse({"ok": False, "store": self.store_name}, status_code=503,
                                headers={"Retry-After": str(RETRY_AFTER_S)})  # fmt: skip
        return JSONResponse({"ok": True, "store": self.store_name})

    @property
    def store_name(self) -> str:
        return type(self.store).__name__.removesuffix("Store").lower()

    async def sweep_forever(self) -> None:
        """Expired grants and old rate-limit entries go on a timer, whatever the traffic."""
        while True:
            try:
                gone = await self.store.sweep(self.now)
                if gone:
                    log.info("swept %d expired grants", gone)
            except StoreUnavailableError as exc:
                log.warning("sweep skipped: %s", exc)
            await asyncio.sleep(SWEEP_EVERY_S)

    async def store_down(self, request: Request, exc: Exception) -> Response:
        """The store is unreachable: devices come back later; pages say so. Never a 500."""
        log.warning("store unavailable: %s", exc)
        if request.url.path in ("/token", "/device/authorize"):
            return _oauth_error(
                "temporarily_unavailable", "Try again shortly", 503, retry_after=RETRY_AFTER_S
            )
        response = self.message(request, "Try again", "The pairing service is busy. Try again in a moment.",
                                503, error=True)  # fmt: skip
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def displayable_name(text: str) -> str:
    """A device name fit to show: no control or bidi-override characters (CR/LF, NUL, U+202E...)."""
    kept = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch
        for ch in text
        if unicodedata.category(ch) not in ("Cf", "Cs", "Co")  # bidi overrides, zero-width, surrogates
    )
    return " ".join(kept.split())[:40]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _pretty(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def _oauth_error(
    error: str, description: str, status: int = 400, *, retry_after: int | None = None
) -> JSONResponse:
    headers = NO_STORE if retry_after is None else {**NO_STORE, "Retry-After": str(retry_after)}
    body = {"error": error, "error_description": description}
    return JSONResponse(body, status_code=status, headers=headers)


def _oauth_body(body: dict[str, Any]) -> dict[str, Any]:
    return {k: body[k] for k in ("error", "error_description") if k in body} or {"error": "server_error"}


def create_app(
    config: BridgeConfig, store: BridgeStore | None = None, http: httpx.AsyncClient | None = None
) -> Starlette:
    bridge = Bridge(config, store or SQLiteStore(), http or httpx.AsyncClient())

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

    routes = [
        Route("/pair/", slash, methods=["GET"]),
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
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                    exception_handlers={StoreUnavailableError: bridge.store_down})  # fmt: skip
    app.router.redirect_slashes = False  # Starlette's would build the address from the Host header
    app.state.bridge = bridge
    return app
