"""The sandbox's accounts service, as state: device grants (RFC 8628), authorization codes
(PKCE), access and refresh tokens. :class:`SignIn` is a part of
:class:`~maestro.sandbox.state.SandboxState`; the routes are in ``accounts.py``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Literal

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


def normalise_user_code(code: str) -> str:
    """RFC 8628 §6.1: compare ignoring case, spaces and dashes."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class SignIn(ABC):
    """Device grants, authorization codes and tokens, over the state's clock and users."""

    allowed_clients: tuple[str, ...]
    redirect_uris: tuple[str, ...]
    token_ttl: int
    poll_interval: int
    grants: dict[str, DeviceGrant]  # by device_code
    auth_codes: dict[str, AuthCode]
    access_tokens: dict[str, Token]
    refresh_tokens: dict[str, Token]

    @abstractmethod
    def now(self) -> float: ...

    @abstractmethod
    def ensure_user(self, user_id: str, product: str | None = None) -> None:
        """The user exists from now on (created on first sign-in), a free account when ``product``
        says so."""

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
            self.ensure_user(user_id, product)
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
        self.ensure_user(user_id)
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

    def user_id_for_token(self, access_token: str) -> str:
        """The token's user, or :class:`PermissionError` with Spotify's message."""
        token = self.access_tokens.get(access_token)
        if token is None:
            raise PermissionError("Invalid access token")
        assert token.expires_at is not None
        if token.expires_at <= self.now():
            raise PermissionError("The access token expired")
        return token.user_id

    def scopes_for_token(self, access_token: str) -> frozenset[str]:
        token = self.access_tokens.get(access_token)
        return frozenset(token.scope.split()) if token else frozenset()
