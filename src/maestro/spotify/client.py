"""The Web API transport: bearer auth, timeouts, retries, Spotify's errors as ours.

    401            refresh the token once (single flight in the store), retry
    429            wait Retry-After when it is short, retry; else RateLimitedError
    5xx, network   exponential backoff with jitter, at most ~3 s of waiting in all
                   (a timed-out POST is not repeated), then SpotifyUnavailableError
    2xx            JSON, or nothing; anything else (a captive portal's page) is SpotifyAnswerError

Every request sits inside a deadline that covers the whole answer, not each read
(an API that trickles a byte at a time is cut off too): the command's, or
``COMMAND_DEADLINE_S`` of its own when no command set one.
    403            PremiumRequiredError or RestrictedError, with a reason fit to speak
    404            NoActiveDeviceError (the player recovers) or SpotifyRequestError
    other 4xx      SpotifyRequestError

Log lines name the method, path and status only: never a header or a token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from maestro.errors import (
    AuthError,
    NoActiveDeviceError,
    PremiumRequiredError,
    RateLimitedError,
    RestrictedError,
    SpotifyAnswerError,
    SpotifyRequestError,
    SpotifyUnavailableError,
)
from maestro.fsutil import loads

log = logging.getLogger(__name__)

IDEMPOTENT = frozenset({"GET", "PUT", "DELETE", "HEAD"})
#: Timeouts on every call: a remote control that hangs is worse than one that says so.
DEFAULT_TIMEOUT = httpx.Timeout(5.0, connect=3.0)
#: A whole spoken command (every request, retry and backoff in it) gets this long.
COMMAND_DEADLINE_S = 6.0
NOT_ANSWERING = "Spotify isn't answering right now. Try again in a moment."
#: When the command under way must be done by (time.monotonic()), if it has a deadline.
_deadline: ContextVar[float | None] = ContextVar("maestro_spotify_deadline", default=None)


@contextlib.contextmanager
def deadline(seconds: float = COMMAND_DEADLINE_S) -> Iterator[None]:
    """Every Web API request inside fits in ``seconds`` in all: timeouts shrink to what is left,
    and no retry starts that could not finish (a hanging API took 28-49 s per command before)."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining_s() -> float | None:
    """Seconds left for the command under way (None: no deadline)."""
    end = _deadline.get()
    return None if end is None else end - time.monotonic()


RESTRICTION_MESSAGES = {
    "VOLUME_CONTROL_DISALLOW": "That speaker doesn't let Spotify change its volume.",
    "DEVICE_NOT_CONTROLLABLE": "That speaker can't be controlled from here.",
    "ALREADY_PAUSED": "It's already paused.",
    "NOT_PAUSED": "It's already playing.",
    "NO_PREV_TRACK": "There's no previous song.",
    "NO_NEXT_TRACK": "There's no next song.",
    "UNKNOWN": "Spotify won't allow that right now.",
}


class TokenSource(Protocol):
    async def access_token(self) -> str: ...

    async def refresh(self, failed_token: str | None = None) -> str: ...


@dataclass(frozen=True)
class RetryPolicy:
    #: Longest total wait for backoff on 5xx and network faults.
    budget_s: float = 3.0
    #: First backoff step; doubles each time, half of it jittered.
    base_s: float = 0.25
    #: A Retry-After longer than this is not waited for: the user hears why instead.
    max_rate_limit_wait_s: float = 5.0
    max_attempts: int = 6


Sleep = Callable[[float], Awaitable[None]]


@dataclass
class _Backoff:
    """Backoff so far in one request: tries waited for, and seconds, against the policy's budget."""

    tries: int = 0
    waited: float = 0.0


class SpotifyClient:
    def __init__(
        self,
        api_url: str,
        tokens: TokenSource,
        http: httpx.AsyncClient,
        *,
        policy: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.tokens = tokens
        self.http = http
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.jitter = jitter

    async def get(self, path: str, **params: Any) -> Any:
        return await self.request("GET", path, params=params or None)

    async def request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None
    ) -> Any:
        """The parsed JSON body, or None for 204/empty answers; our errors otherwise."""
        if _deadline.get() is None:  # `maestro devices`, the library, a poll: a deadline of their own
            with deadline():
                return await self._request(method, path, params, json)
        return await self._request(method, path, params, json)

    async def _request(self, method: str, path: str, params: dict[str, Any] | None, json: Any) -> Any:
        url = path if path.startswith("http") else f"{self.api_url}/{path.lstrip('/')}"
        params = {k: v for k, v in (params or {}).items() if v is not None}
        token = await self._within_deadline(self.tokens.access_token())
        refreshed = False
        backoff = _Backoff()
        for attempt in range(1, self.policy.max_attempts + 1):
            last = attempt == self.policy.max_attempts
            try:
                response = await self._send(method, url, params, json, token)
            except httpx.TransportError as exc:
                log.info("%s %s: %s", method, path, type(exc).__name__)
                # A POST that timed out may have happened ("next" twice skips two songs):
                # only retry what is safe to repeat, or what never reached Spotify.
                repeatable = method in IDEMPOTENT or isinstance(
                    exc, httpx.ConnectError | httpx.ConnectTimeout
                )
                if repeatable and not last and await self._back_off(backoff):
                    continue
                hung = isinstance(exc, httpx.TimeoutException)
                raise SpotifyUnavailableError(
                    NOT_ANSWERING if hung else "I can't reach Spotify right now. Check the network."
                ) from exc
            status = response.status_code
            log.debug("%s %s -> %s", method, path, status)
            if status < 300:
                return _json_or_none(response)
            if status == 401 and not refreshed:
                token, refreshed = await self._within_deadline(self.tokens.refresh(token)), True
                continue
            if status == 429:
                await self._wait_out_rate_limit(response, last)
                continue
            if status >= 500:
                if not last and await self._back_off(backoff):
                    continue
                raise SpotifyUnavailableError(
                    "Spotify isn't answering properly right now. Try again soon.", status=status
                )
            raise _error_for(response)
        raise SpotifyUnavailableError("Spotify isn't answering properly right now. Try again soon.")

    async def _send(
        self, method: str, url: str, params: dict[str, Any], json: Any, token: str
    ) -> httpx.Response:
        """One try, within what is left of the command's deadline."""
        left = remaining_s()
        if left is not None and left < MIN_ATTEMPT_S:
            raise SpotifyUnavailableError(NOT_ANSWERING)
        timeout = DEFAULT_TIMEOUT if left is None else _within(DEFAULT_TIMEOUT, left)
        try:
            # httpx's timeouts are per read; this one is for the whole answer.
            async with asyncio.timeout(left):
                return await self.http.request(
                    method, url, params=params, json=json, headers={"Authorization": f"Bearer {token}"},
                    timeout=timeout,
                )  # fmt: skip
        except TimeoutError as exc:
            log.info("%s %s: no whole answer in time", method, url)
            raise SpotifyUnavailableError(NOT_ANSWERING) from exc

    async def _back_off(self, backoff: _Backoff) -> bool:
        """Waits before the next try when the budget allows; False when it does not."""
        delay = self._delay(backoff.tries)
        if not self._can_wait(backoff.waited, delay):
            return False
        await self.sleep(delay)
        backoff.waited, backoff.tries = backoff.waited + delay, backoff.tries + 1
        return True

    async def _wait_out_rate_limit(self, response: httpx.Response, last: bool) -> None:
        """A 429: waits its Retry-After when that is short and the deadline allows, else says so."""
        wait = _retry_after(response)
        left = remaining_s()
        fits = left is None or wait + MIN_ATTEMPT_S <= left
        if wait <= self.policy.max_rate_limit_wait_s and fits and not last:
            await self.sleep(wait)
            return
        raise RateLimitedError(f"Spotify asks Maestro to slow down. Try again {spoken_wait(wait)}.",
                               retry_after=wait)  # fmt: skip

    async def _within_deadline(self, work: Awaitable[str]) -> str:
        """A token, within what is left of the deadline. A refresh that takes longer goes on by
        itself (the token store shields it) and is saved; the command says Spotify isn't answering."""
        try:
            async with asyncio.timeout(remaining_s()):
                return await work
        except TimeoutError as exc:
            raise SpotifyUnavailableError(NOT_ANSWERING) from exc

    def _can_wait(self, waited: float, delay: float) -> bool:
        """Within the backoff budget, and leaving time for another attempt before the deadline."""
        left = remaining_s()
        return waited + delay <= self.policy.budget_s and (left is None or delay + MIN_ATTEMPT_S <= left)

    def _delay(self, attempt: int) -> float:
        """Exponential backoff, half of each step jittered so clients don't retry in step."""
        step = self.policy.base_s * (2**attempt)
        return step / 2 + self.jitter() * step / 2


#: An attempt with less time than this left is not started.
MIN_ATTEMPT_S = 0.3


def _within(timeout: httpx.Timeout, left: float) -> httpx.Timeout:
    """The request's timeouts cut to the time left for the command."""
    read = min(timeout.read or left, left)
    return httpx.Timeout(read, connect=min(timeout.connect or left, left), write=read, pool=read)


def _json_or_none(response: httpx.Response) -> dict[str, Any] | None:
    """Every Web API answer Maestro reads is a JSON object; player commands may answer with nothing.
    Anything else (a captive portal's login page, a proxy's error page, JSON nested 100,000 deep)
    is no success: "Paused." must not be said for a page that paused nothing."""
    if response.status_code == 204 or not response.content.strip():
        return None
    try:
        body = loads(response.content)
    except ValueError as exc:
        raise SpotifyAnswerError(NOT_SPOTIFY) from exc
    if not isinstance(body, dict):
        raise SpotifyAnswerError()
    return body


NOT_SPOTIFY = (
    "Something other than Spotify answered: maybe the network wants a sign-in page first. "
    "Check the box's network."
)


def spoken_wait(seconds: float) -> str:
    """A Retry-After as a person would say it: "in 30 seconds", "in 5 minutes", "tomorrow"."""
    if seconds < 90:
        return f"in {max(1, round(seconds))} seconds"
    if seconds < 90 * 60:
        return f"in {round(seconds / 60)} minutes"
    if seconds < 20 * 3600:
        hours = round(seconds / 3600)
        return "in an hour" if hours == 1 else f"in {hours} hours"
    return "tomorrow" if seconds < 36 * 3600 else "in a few days"


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("retry-after", "1")))
    except ValueError:
        return 1.0


def _error_body(response: httpx.Response) -> tuple[str, str | None]:
    try:
        error = loads(response.content).get("error", {})
    except (ValueError, AttributeError):
        return "", None
    if not isinstance(error, dict):
        return str(error), None
    return str(error.get("message", "")), error.get("reason")


def _error_for(response: httpx.Response) -> Exception:
    status = response.status_code
    message, reason = _error_body(response)
    if status == 401:
        return AuthError("Spotify refused Maestro's sign-in. Please pair again.")
    if status == 403:
        if reason == "PREMIUM_REQUIRED":
            return PremiumRequiredError(
                "Spotify only lets Premium accounts control playback.", status=status, reason=reason
            )
        text = RESTRICTION_MESSAGES.get(reason or "", "Spotify won't allow that on this speaker.")
        return RestrictedError(text, status=status, reason=reason)
    if status == 404 and reason == "NO_ACTIVE_DEVICE":
        return NoActiveDeviceError("No speaker is playing Spotify right now.", status=status, reason=reason)
    if status == 404:
        return SpotifyRequestError("Spotify couldn't find that.", status=status, reason=reason)
    detail = f": {message}" if message else ""
    return SpotifyRequestError(f"Spotify refused the request{detail}.", status=status, reason=reason)
