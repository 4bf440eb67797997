"""The box's side of the bridge: RFC 8628 device authorization and the token endpoint.

``POST /device/authorize`` hands out a device code (kept only hashed), a user code
and a pairing link with a secret of its own; ``POST /token`` answers polls
(``authorization_pending``, ``slow_down``, ``expired_token``, ``access_denied``, the
tokens exactly once) and proxies refreshes with the bridge's client secret.
"""

from __future__ import annotations

import json
import logging
import unicodedata
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from maestro.bridge import codes
from maestro.bridge.grants import BridgeStore, Grant, GrantStatus
from maestro.bridge.limits import Limits, address
from maestro.bridge.settings import BridgeConfig
from maestro.bridge.spotify import SpotifyAccounts, oauth_body
from maestro.bridge.tally import Tally

log = logging.getLogger("maestro.bridge")
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
#: What a token response may pass on to the box.
TOKEN_FIELDS = ("access_token", "token_type", "expires_in", "refresh_token", "scope")


class DeviceEndpoints:
    def __init__(
        self, config: BridgeConfig, store: BridgeStore, limits: Limits, spotify: SpotifyAccounts, tally: Tally
    ) -> None:
        self.config = config
        self.store = store
        self.limits = limits
        self.spotify = spotify
        self.tally = tally

    @property
    def now(self) -> float:
        return self.config.clock()

    async def authorize(self, request: Request) -> Response:
        form = await request.form()
        client_id = str(form.get("client_id", ""))
        if not codes.same(client_id, self.config.client_id):
            return oauth_error("invalid_client", "Unknown client", 401)
        requested = str(form.get("scope", "")).split() or list(self.config.allowed_scopes)
        if not set(requested) <= set(self.config.allowed_scopes):
            return oauth_error("invalid_scope", "Scope not allowed")
        if not await self.limits.allowed(f"authorize:{address(request)}", self.config.authorize_per_ip,
                                         self.now):  # fmt: skip
            return oauth_error("slow_down", "Too many new codes from this address; wait and try again", 429,
                               retry_after=self.config.attempt_window_s // 10)  # fmt: skip
        if not await self.limits.allowed("authorize:all", self.config.authorize_global, self.now):
            log.warning("the budget of new codes for everyone is spent; pairings under way go on")
            return oauth_error("temporarily_unavailable", "Too many new pairings right now; try again "
                               "in a minute", 503, retry_after=60)  # fmt: skip
        device_name = displayable_name(str(form.get("device_name", "")))
        device_code, link_secret = codes.new_secret(), codes.new_link_secret()
        for _ in range(8):  # a clash of user codes is rare; try again
            user_code = codes.new_user_code()
            grant = Grant(
                id=codes.digest(device_code),
                user_code=codes.normalise_user_code(user_code),
                client_id=client_id,
                scope=" ".join(requested),
                device_name=device_name,
                status=GrantStatus.PENDING,
                expires_at=self.now + self.config.code_ttl_s,
                interval=self.config.interval_s,
                last_poll=None,
                public_key=codes.public_key(device_code),
                link_hash=codes.digest(link_secret),
            )
            if await self.store.add(grant, self.now):
                break
        else:
            return oauth_error("temporarily_unavailable", "No free user code; try again", 503, retry_after=1)
        self.tally.note("started")
        base = self.config.base_url.rstrip("/")
        return JSONResponse(
            {
                "device_code": device_code,
                "user_code": user_code,
                "verification_uri": f"{base}/pair",
                # The link (and QR code) carries a secret of its own: opening it is not guessing.
                "verification_uri_complete": short_link(base, grant.user_code, link_secret),
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
        return oauth_error("unsupported_grant_type", "Use the device_code or refresh_token grant")

    async def _device_token(self, client_id: str, device_code: str) -> Response:
        if not codes.same(client_id, self.config.client_id):
            return oauth_error("invalid_client", "Unknown client", 401)
        grant_id = codes.digest(device_code)
        grant, too_fast = await self.store.poll(grant_id, self.now)
        if grant is None:
            # Never issued, already used, or forgotten (a Redis restart): a new code is the way on,
            # and expired_token is what tells a device to ask for one (RFC 8628 §3.5).
            return oauth_error("expired_token", "Unknown or expired device code; start again")
        if self.now >= grant.expires_at:
            if grant.status != GrantStatus.DELIVERED:
                self.tally.note("expired")
            return oauth_error("expired_token", "The code has expired; start again")
        if grant.status == GrantStatus.DENIED:
            return oauth_error("access_denied", "The user declined")
        if grant.status == GrantStatus.DELIVERED:
            return oauth_error("invalid_grant", "This device code was already used")
        if grant.status == GrantStatus.APPROVED:
            sealed = await self.store.take_tokens(grant_id)  # exactly once, whichever instance asks first
            opened = codes.open_sealed(sealed, device_code) if sealed else None
            if opened is None:
                return oauth_error("invalid_grant", "Unknown or already used device code")
            tokens = json.loads(opened)
            self.tally.note("delivered")
            return JSONResponse({k: tokens[k] for k in TOKEN_FIELDS if k in tokens}, headers=NO_STORE)
        if too_fast:  # the store already added five seconds for this and every later poll
            return oauth_error("slow_down", f"Poll at most every {grant.interval} seconds")
        return oauth_error("authorization_pending", "Waiting for the user")

    async def _refresh(self, request: Request, client_id: str, refresh_token: str) -> Response:
        if not codes.same(client_id, self.config.client_id):
            return oauth_error("invalid_client", "Unknown client", 401)
        if not refresh_token:
            return oauth_error("invalid_request", "refresh_token is missing")
        if not await self.limits.allowed(f"refresh:{address(request)}", self.config.refresh_per_ip, self.now):
            return oauth_error("slow_down", "Too many refreshes from this address", 429, retry_after=60)
        answer = await self.spotify.token({"grant_type": "refresh_token", "refresh_token": refresh_token})
        if not answer.ok:
            body = answer.body
            if answer.transient:  # a 200 with no token in it, a 5xx, no answer: Spotify's trouble
                body = {"error": "temporarily_unavailable", "error_description": "Spotify had trouble; "
                        "try again shortly"}  # fmt: skip
            status = 502 if answer.transient else 400
            return JSONResponse(oauth_body(body), status_code=status, headers=NO_STORE)
        # A new refresh token only when Spotify sent one; the box keeps its old one otherwise.
        return JSONResponse({k: answer.body[k] for k in TOKEN_FIELDS if k in answer.body}, headers=NO_STORE)


def short_link(base: str, user_code: str, link_secret: str) -> str:
    """The pairing link as short as it goes: "/p/" + code + secret, all capitals where the bridge
    sits at a host's root (scheme and host ignore case, and /P/ is served like /p/), so a QR code
    holds it in alphanumeric mode and the box draws it with two pixels a module."""
    link = f"{base}/p/{user_code}{link_secret}"
    return link.upper() if not urlsplit(base).path.strip("/") else link


def displayable_name(text: str) -> str:
    """A device name fit to show: no control or bidi-override characters (CR/LF, NUL, U+202E...)."""
    kept = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch
        for ch in text
        if unicodedata.category(ch) not in ("Cf", "Cs", "Co")  # bidi overrides, zero-width, surrogates
    )
    return " ".join(kept.split())[:40]


def oauth_error(
    error: str, description: str, status: int = 400, *, retry_after: int | None = None
) -> JSONResponse:
    headers = NO_STORE if retry_after is None else {**NO_STORE, "Retry-After": str(retry_after)}
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=headers
    )
