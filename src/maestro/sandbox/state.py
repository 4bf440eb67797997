"""Everything the sandbox remembers: clock, users, grants, tokens, faults.

One :class:`SandboxState` per app. Nothing here knows about HTTP; the routes in
``accounts.py``, ``webapi.py`` and ``controls.py`` translate requests into calls.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from maestro.sandbox.catalog import Catalog
from maestro.sandbox.player import UserPlayer

DEFAULT_CLIENTS = ("maestro-sandbox",)
DEFAULT_REDIRECT_URIS = ("http://127.0.0.1:8766/callback",)
DEVICE_CODE_TTL_S = 3599  # what Spotify answers
DEVICE_POLL_INTERVAL_S = 5
AUTH_CODE_TTL_S = 600
#: Spotify's codes, as seen on spotify.com/pair: six capital letters and digits.
USER_CODE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
USER_CODE_LENGTH = 6
DEFAULT_USER = "sandbox-user"


class OAuthError(Exception):
    """An RFC 6749/8628 error body: ``{"error", "error_description"}``."""

    def __init__(self, error: str, description: str = "", status: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.description = description
        self.status = status

    def to_json(self) -> dict[str, str]:
        body = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        return body


class Clock:
    """Wall-clock time plus an offset that tests move forward with /sandbox/clock."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class User:
    id: str
    display_name: str
    product: Literal["premium", "free"]
    player: UserPlayer
    saved_tracks: list[tuple[str, float]] = field(default_factory=list)  # (track id, added at)
    saved_albums: list[tuple[str, float]] = field(default_factory=list)
    followed_artists: list[str] = field(default_factory=list)

    def profile(self) -> dict[str, Any]:
        return {
            "country": "US",
            "display_name": self.display_name,
            "email": f"{self.id}@example.com",
            "explicit_content": {"filter_enabled": False, "filter_locked": False},
            "external_urls": {"spotify": f"https://open.spotify.com/user/{self.id}"},
            "followers": {"href": None, "total": 0},
            "href": f"https://api.spotify.com/v1/users/{self.id}",
            "id": self.id,
            "images": [],
            "product": self.product,
            "type": "user",
            "uri": f"spotify:user:{self.id}",
        }


@dataclass
class DeviceGrant:
    device_code: str
    user_code: str
    client_id: str
    scope: str
    expires_at: float
    interval: int = DEVICE_POLL_INTERVAL_S
    last_poll: float | None = None
    status: Literal["pending", "approved", "denied", "delivered"] = "pending"
    user_id: str | None = None


@dataclass
class AuthCode:
    client_id: str
    redirect_uri: str
    code_challenge: str
    scope: str
    user_id: str
    expires_at: float


@dataclass
class Token:
    user_id: str
    client_id: str
    scope: str
    expires_at: float | None = None  # access tokens only


@dataclass
class Fault:
    status: int
    remaining: int
    retry_after: int | None = None
    latency_ms: int = 0
    path: str = ""


def normalise_user_code(code: str) -> str:
    """RFC 8628 §6.1: compare ignoring case, spaces and dashes."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class SandboxState:
    def __init__(
        self,
        *,
        allowed_clients: tuple[str, ...] = DEFAULT_CLIENTS,
        redirect_uris: tuple[str, ...] = DEFAULT_REDIRECT_URIS,
        token_ttl: int = 3600,
        poll_interval: int = DEVICE_POLL_INTERVAL_S,
        catalog: Catalog | None = None,
    ) -> None:
        self.allowed_clients = tuple(allowed_clients)
        self.redirect_uris = tuple(redirect_uris)
        self.token_ttl = token_ttl
        self.poll_interval = poll_interval
        self.catalog = catalog or Catalog.default()
        self.clock = Clock()
        self.reset()

    def reset(self) -> None:
        self.users: dict[str, User] = {}
        self.grants: dict[str, DeviceGrant] = {}  # by device_code
        self.auth_codes: dict[str, AuthCode] = {}
        self.access_tokens: dict[str, Token] = {}
        self.refresh_tokens: dict[str, Token] = {}
        self.faults: list[Fault] = []
        self.user()  # the default user always exists, so state reads never create one

    def now(self) -> float:
        return self.clock.now()

    # -- users ----------------------------------------------------------------

    def user(self, user_id: str = DEFAULT_USER, product: str | None = None) -> User:
        """The user with that id, created on first use with a small saved library."""
        if user_id not in self.users:
            display = "Sandbox User" if user_id == DEFAULT_USER else user_id
            user = User(
                user_id,
                display,
                "free" if product == "free" else "premium",
                UserPlayer.with_default_devices(self.catalog),
            )
            self._seed_library(user)
            self.users[user_id] = user
        elif product in ("free", "premium"):
            self.users[user_id].product = product  # type: ignore[assignment]
        return self.users[user_id]

    def _seed_library(self, user: User) -> None:
        start = self.now() - 86_400 * 365
        albums = sorted(self.catalog.albums.values(), key=lambda a: a.name)
        full_albums = [a for a in albums if len(a.tracks) >= 5]
        user.saved_albums = [(a.id, start + i * 3600) for i, a in enumerate(full_albums)]
        artists = sorted(self.catalog.artists.values(), key=lambda a: a.name)
        user.followed_artists = [a.id for a in artists]
        for i, album in enumerate(full_albums[:40]):
            for track in album.tracks[:3]:
                user.saved_tracks.append((track.id, start + i * 7200 + track.track_number))
        user.saved_tracks.sort(key=lambda item: -item[1])  # most recently saved first

    # -- device authorization (RFC 8628) --------------------------------------

    def start_device_grant(self, client_id: str, scope: str) -> DeviceGrant:
        if client_id not in self.allowed_clients:
            raise OAuthError("unauthorized_client", "Client not allowed")
        user_code = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))
        grant = DeviceGrant(
            device_code=secrets.token_urlsafe(32),
            user_code=user_code,
            client_id=client_id,
            scope=scope,
            expires_at=self.now() + DEVICE_CODE_TTL_S,
            interval=self.poll_interval,
        )
        self.grants[grant.device_code] = grant
        return grant

    def find_grant(self, user_code: str) -> DeviceGrant | None:
        wanted = normalise_user_code(user_code)
        for grant in self.grants.values():
            if grant.status == "pending" and hmac.compare_digest(
                normalise_user_code(grant.user_code), wanted
            ):
                return grant if grant.expires_at > self.now() else None
        return None

    def decide_grant(
        self, user_code: str, approve: bool, user_id: str = DEFAULT_USER, product: str | None = None
    ) -> DeviceGrant:
        grant = self.find_grant(user_code)
        if grant is None:
            raise OAuthError("invalid_request", "Unknown or expired user code", status=404)
        if approve:
            self.user(user_id, product)
            grant.status, grant.user_id = "approved", user_id
        else:
            grant.status = "denied"
        return grant

    def poll_device_grant(self, device_code: str, client_id: str) -> dict[str, Any]:
        grant = self.grants.get(device_code)
        if grant is None or grant.client_id != client_id or grant.status == "delivered":
            raise OAuthError("invalid_grant", "Invalid device code")
        now = self.now()
        if now >= grant.expires_at:
            raise OAuthError("expired_token", "The device code has expired")
        if grant.status == "denied":
            raise OAuthError("access_denied", "The user denied the request")
        too_fast = grant.last_poll is not None and now - grant.last_poll < grant.interval
        grant.last_poll = now
        if grant.status == "pending":
            if too_fast:
                grant.interval += 5  # RFC 8628 §3.5: and for every later poll
                raise OAuthError("slow_down", "Polling too frequently")
            raise OAuthError("authorization_pending", "The user has not yet approved")
        grant.status = "delivered"  # tokens go out exactly once
        assert grant.user_id is not None
        return self.issue_tokens(grant.user_id, client_id, grant.scope)

    # -- authorization code with PKCE ------------------------------------------

    def redirect_uri_allowed(self, uri: str) -> bool:
        from urllib.parse import urlsplit

        if uri in self.redirect_uris:
            return True
        asked = urlsplit(uri)
        for registered in map(urlsplit, self.redirect_uris):
            # A loopback URI registered without a port accepts any port (RFC 8252 §7.3).
            if (
                registered.hostname in ("127.0.0.1", "::1")
                and registered.port is None
                and (asked.scheme, asked.hostname, asked.path)
                == (registered.scheme, registered.hostname, registered.path)
            ):
                return True
        return False

    def issue_auth_code(
        self, client_id: str, redirect_uri: str, code_challenge: str, scope: str, user_id: str
    ) -> str:
        self.user(user_id)
        code = secrets.token_urlsafe(48)
        self.auth_codes[code] = AuthCode(
            client_id, redirect_uri, code_challenge, scope, user_id, self.now() + AUTH_CODE_TTL_S
        )
        return code

    def redeem_auth_code(
        self, code: str, client_id: str, redirect_uri: str, code_verifier: str
    ) -> dict[str, Any]:
        grant = self.auth_codes.pop(code, None)  # single use, whatever the outcome
        if grant is None or grant.expires_at <= self.now():
            raise OAuthError("invalid_grant", "Invalid authorization code")
        if grant.client_id != client_id:
            raise OAuthError("invalid_client", "Invalid client")
        if grant.redirect_uri != redirect_uri:
            raise OAuthError("invalid_grant", "Invalid redirect URI")
        if not 43 <= len(code_verifier) <= 128 or not hmac.compare_digest(
            pkce_challenge(code_verifier), grant.code_challenge
        ):
            raise OAuthError("invalid_grant", "code_verifier was incorrect")
        return self.issue_tokens(grant.user_id, client_id, grant.scope)

    # -- tokens -----------------------------------------------------------------

    def issue_tokens(self, user_id: str, client_id: str, scope: str) -> dict[str, Any]:
        access = "sbx-at-" + secrets.token_urlsafe(32)
        refresh = "sbx-rt-" + secrets.token_urlsafe(32)
        self.access_tokens[access] = Token(user_id, client_id, scope, self.now() + self.token_ttl)
        self.refresh_tokens[refresh] = Token(user_id, client_id, scope)
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.token_ttl,
            "refresh_token": refresh,
            "scope": scope,
        }

    def refresh(self, refresh_token: str, client_id: str) -> dict[str, Any]:
        token = self.refresh_tokens.get(refresh_token)
        if token is None:
            raise OAuthError("invalid_grant", "Invalid refresh token")
        if token.client_id != client_id:
            raise OAuthError("invalid_client", "Invalid client")
        del self.refresh_tokens[refresh_token]  # rotation: the old one stops working
        return self.issue_tokens(token.user_id, client_id, token.scope)

    def revoke_refresh_tokens(self, user_id: str | None = None) -> int:
        doomed = [t for t, v in self.refresh_tokens.items() if user_id in (None, v.user_id)]
        for token in doomed:
            del self.refresh_tokens[token]
        return len(doomed)

    def expire_access_tokens(self) -> int:
        for token in self.access_tokens.values():
            token.expires_at = self.now() - 1
        return len(self.access_tokens)

    def user_for_token(self, access_token: str) -> User:
        """The token's user, or :class:`PermissionError` with Spotify's message."""
        token = self.access_tokens.get(access_token)
        if token is None:
            raise PermissionError("Invalid access token")
        assert token.expires_at is not None
        if token.expires_at <= self.now():
            raise PermissionError("The access token expired")
        return self.user(token.user_id)

    def scopes_for_token(self, access_token: str) -> frozenset[str]:
        token = self.access_tokens.get(access_token)
        return frozenset(token.scope.split()) if token else frozenset()

    # -- faults -----------------------------------------------------------------

    def take_fault(self, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.remaining > 0 and path.startswith(fault.path):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self.faults.remove(fault)
                return fault
        return None

    # -- the test-control view ----------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        now = self.now()
        users = {}
        for user_id, user in self.users.items():
            view = user.player.snapshot(now)
            view["saved_tracks"] = [self.catalog.tracks[track_id].uri for track_id, _ in user.saved_tracks]
            view["product"] = user.product
            users[user_id] = view
        default = users[DEFAULT_USER]
        return {
            "now": now,
            # The default user's view at the top level: what most tests look at.
            "devices": default["devices"],
            "playback": default["playback"],
            "queue": default["queue"],
            "saved_tracks": default["saved_tracks"],
            "users": users,
            "pending_grants": [
                {
                    "user_code": g.user_code,
                    "client_id": g.client_id,
                    "scope": g.scope,
                    "status": g.status,
                    "interval": g.interval,
                    "expires_in": max(0, int(g.expires_at - now)),
                }
                for g in self.grants.values()
                if g.status in ("pending", "approved") and g.expires_at > now
            ],
            "faults": [vars(f) for f in self.faults],
        }
