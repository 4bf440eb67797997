"""The OAuth 2.0 Device Authorization Grant (RFC 8628), client side.

:class:`DeviceFlow` asks for a code, lets a presenter announce it, and polls
the token endpoint: ``authorization_pending`` keeps polling at ``interval``;
``slow_down`` adds five seconds for the rest of the grant; ``expired_token``
starts over with a new code (announced again); ``access_denied`` stops with
"sign-in was declined"; network faults keep polling with backoff until the code
expires; ``unauthorized_client`` explains Spotify's allowlist and the bridge.
The flow is a small state machine and refuses impossible steps.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from maestro.auth.tokens import Tokens
from maestro.errors import AuthError, UsageError
from maestro.fsutil import loads

log = logging.getLogger(__name__)
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
#: What a playback remote needs: control and read playback, read the library
#: (for names), save a liked song. Nothing else.
SCOPES = (
    "user-read-playback-state",
    "user-modify-playback-state",
    "user-read-currently-playing",  # the queue asks for it besides user-read-playback-state
    "user-library-read",
    "user-library-modify",
    "playlist-read-private",
    "user-follow-read",
    "user-top-read",
)
MAX_NETWORK_BACKOFF_S = 60.0
#: How many times an expired code is replaced before giving up.
MAX_CODES = 5

NOT_ALLOWED = (
    "Spotify allows the device sign-in only for apps on its allowlist, and this app "
    "is not on it. Run a Maestro bridge (maestro bridge serve) with your Spotify app, "
    "then pair through it: maestro pair --bridge https://your-bridge.example."
)


class SignInDeclinedError(AuthError):
    def __init__(self) -> None:
        super().__init__("Sign-in was declined.")


class DeviceFlowNotAllowedError(AuthError):
    exit_code = 1

    def __init__(self, detail: str = "") -> None:
        super().__init__(NOT_ALLOWED + (f" (Spotify said: {detail})" if detail else ""))


@dataclass(frozen=True)
class DeviceAuthorization:
    """RFC 8628 §3.2. ``device_code`` is a secret: it is left out of repr."""

    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int
    device_code: str = field(repr=False)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> DeviceAuthorization:
        try:
            uri = str(body["verification_uri"])
            return cls(
                user_code=str(body["user_code"]),
                verification_uri=uri,
                verification_uri_complete=str(body.get("verification_uri_complete") or uri),
                expires_in=int(body.get("expires_in", 600)),
                interval=int(body.get("interval") or 5),
                device_code=str(body["device_code"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise AuthError("The sign-in service sent an answer Maestro cannot read.") from exc


class Presenter(Protocol):
    """Tells the user the code: spoken and shown (auth/pairing.py)."""

    async def show(self, authorization: DeviceAuthorization) -> None: ...

    async def stop(self) -> None: ...


class FlowState(enum.Enum):
    IDLE = "idle"
    WAITING = "waiting"  # a code is out; polling
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class Endpoints:
    device_authorization_url: str
    token_url: str
    #: The Spotify app a bridge signs in for ("" when unknown: Spotify's own endpoints, or an
    #: older bridge); the box must use the same client id.
    client_id: str = ""


async def discover(http: httpx.AsyncClient, bridge_url: str) -> Endpoints:
    """Endpoints from a bridge's RFC 8414 metadata."""
    url = bridge_url.rstrip("/") + "/.well-known/oauth-authorization-server"
    try:
        response = await http.get(url, timeout=10)
    except httpx.HTTPError as exc:
        raise AuthError(f"I can't reach the bridge at {bridge_url}.") from exc
    if response.status_code >= 500 or response.status_code == 429:
        raise AuthError(f"The bridge at {bridge_url} is having trouble (HTTP {response.status_code}). "
                        "Try again in a moment.")  # fmt: skip
    try:
        body = loads(response.content)
        return Endpoints(str(body["device_authorization_endpoint"]), str(body["token_endpoint"]),
                         str(body.get("maestro_client_id") or ""))  # fmt: skip
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{bridge_url} does not look like a Maestro bridge (no RFC 8414 metadata).") from exc


class DeviceFlow:
    def __init__(
        self,
        http: httpx.AsyncClient,
        endpoints: Endpoints,
        client_id: str,
        *,
        scope: str = " ".join(SCOPES),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if not client_id:
            raise UsageError("A device sign-in needs a client id (spotify.client_id).")
        self.http = http
        self.endpoints = endpoints
        self.client_id = client_id
        self.scope = scope
        self.sleep = sleep
        self.clock = clock
        self.wall_clock = wall_clock
        self.state = FlowState.IDLE
        #: Seconds between polls as the grant went (for tests and diagnostics).
        self.intervals: list[float] = []
        #: What the last poll's trouble was ("HTTP 500"), when the service rather than the user held
        #: things up: said if the code runs out that way, instead of "nobody approved".
        self.server_trouble = ""

    async def start(self) -> DeviceAuthorization:
        if self.state is FlowState.DONE:
            raise RuntimeError("this sign-in already finished")
        data = {"client_id": self.client_id, "scope": self.scope}
        try:
            response = await self.http.post(self.endpoints.device_authorization_url, data=data, timeout=10)
        except httpx.HTTPError as exc:
            self.state = FlowState.FAILED
            raise AuthError("I can't reach Spotify's sign-in service. Check the network.") from exc
        body = _json(response)
        if response.status_code != 200:
            self.state = FlowState.FAILED
            error = str(body.get("error", ""))
            if error in ("unauthorized_client", "invalid_client"):
                raise DeviceFlowNotAllowedError(str(body.get("error_description", "")))
            if response.status_code in (429, 503) or error in ("slow_down", "temporarily_unavailable"):
                raise AuthError("The sign-in service is busy right now. Try again in a minute.")
            raise AuthError(f"Spotify's sign-in service refused to start ({error or response.status_code}).")
        self.state = FlowState.WAITING
        return DeviceAuthorization.from_json(body)

    async def run(self, presenter: Presenter) -> Tokens:
        """Announce a code and wait for the user; new codes when one expires."""
        try:
            for _ in range(MAX_CODES):
                authorization = await self.start()
                await presenter.show(authorization)
                tokens = await self.poll(authorization)
                if tokens is not None:
                    return tokens
                log.info("the code expired; asking for a new one")
            self.state = FlowState.FAILED
            if self.server_trouble:
                raise AuthError(f"The sign-in service kept failing ({self.server_trouble}) until the code "
                                "expired. Try again later with maestro pair.")  # fmt: skip
            raise AuthError("Nobody approved the sign-in in time. Run maestro pair to try again.")
        finally:
            await presenter.stop()

    async def poll(self, authorization: DeviceAuthorization) -> Tokens | None:
        """Tokens once approved; None when the code expired (start over)."""
        if self.state is not FlowState.WAITING:
            raise RuntimeError(f"cannot poll in state {self.state.value}")
        interval = float(max(1, authorization.interval))
        deadline = self.clock() + authorization.expires_in
        backoff = 0.0
        last = self.clock()
        while True:
            await self.sleep(interval + backoff)
            now = self.clock()
            self.intervals.append(now - last)
            last = now
            if now >= deadline:
                return None
            response = await self._ask(authorization)
            if response is None:  # RFC 8628 §3.5: on connection trouble, back off further and keep going
                backoff = min(MAX_NETWORK_BACKOFF_S, max(interval, backoff * 2))
                continue
            body = _json(response)
            error = str(body.get("error", ""))
            if _is_hiccup(response, body, error):
                # A server hiccup: keep waiting for the user, a little more patiently.
                self.server_trouble = f"HTTP {response.status_code}"
                backoff = min(MAX_NETWORK_BACKOFF_S, interval)
                continue
            backoff, self.server_trouble = 0.0, ""
            if response.status_code == 200:
                self.state = FlowState.DONE
                return Tokens.from_response(
                    body, token_url=self.endpoints.token_url, client_id=self.client_id, now=self.wall_clock()
                )
            if error == "authorization_pending":
                continue
            if error == "slow_down":
                interval += 5  # for this and every later poll
                continue
            if error == "expired_token":
                return None
            self.state = FlowState.FAILED
            if error == "access_denied":
                raise SignInDeclinedError()
            if error in ("unauthorized_client", "invalid_client"):
                raise DeviceFlowNotAllowedError(str(body.get("error_description", "")))
            raise AuthError(f"The sign-in failed ({error or response.status_code}).")

    async def _ask(self, authorization: DeviceAuthorization) -> httpx.Response | None:
        """One poll of the token endpoint; None when it could not be reached."""
        try:
            return await self.http.post(
                self.endpoints.token_url,
                data={
                    "grant_type": DEVICE_CODE_GRANT,
                    "device_code": authorization.device_code,
                    "client_id": self.client_id,
                },
                timeout=10,
            )
        except httpx.HTTPError as exc:
            self.server_trouble = "it could not be reached"
            log.info("token poll failed (%s); waiting longer", type(exc).__name__)
            return None


def _is_hiccup(response: httpx.Response, body: dict[str, Any], error: str) -> bool:
    """A 5xx, a 429, or no OAuth answer at all (a proxy's HTML page): waited out, not an answer."""
    if response.status_code >= 500 or response.status_code == 429:
        return True
    return not error and not (response.status_code == 200 and "access_token" in body)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = loads(response.content)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
