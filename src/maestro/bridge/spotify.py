"""The bridge's one call to Spotify: the accounts service's token endpoint."""

from __future__ import annotations

import asyncio
import base64
import logging
from dataclasses import dataclass, field
from typing import Any

import httpx

from maestro.bridge.settings import BridgeConfig
from maestro.fsutil import loads

log = logging.getLogger("maestro.bridge")
#: Pauses between tries of a code exchange that met a transient error.
BACKOFF_S = (0.5, 1.5)


@dataclass(frozen=True)
class TokenAnswer:
    status: int
    body: dict[str, Any] = field(repr=False)

    @property
    def ok(self) -> bool:
        return self.status == 200 and "access_token" in self.body

    @property
    def transient(self) -> bool:
        """Spotify's trouble, not a refusal: a 5xx, a 429, no answer, or a 200 that is no token
        response (a proxy's page). Worth trying again; never told to the box as a refusal."""
        return not self.ok and (self.status >= 500 or self.status == 429 or self.status == 200)

    @property
    def error(self) -> str:
        return str(self.body.get("error", "")) or f"HTTP {self.status}"


NO_ANSWER = TokenAnswer(
    502, {"error": "temporarily_unavailable", "error_description": "Spotify did not answer"}
)


class SpotifyAccounts:
    """``POST /api/token`` with the bridge's client id (and secret, when it has one)."""

    def __init__(self, config: BridgeConfig, http: httpx.AsyncClient) -> None:
        self.config = config
        self.http = http

    async def token(self, data: dict[str, str], *, tries: int = 1) -> TokenAnswer:
        """Spotify's answer, within ``spotify_budget_s`` in all; a transient one is tried again up
        to ``tries`` times. A refresh is tried once: Spotify may already have rotated the token."""
        answer = NO_ANSWER
        try:
            async with asyncio.timeout(self.config.spotify_budget_s):
                for attempt in range(tries):
                    if attempt:
                        await asyncio.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S)) - 1])
                    answer = await self._once(data)
                    if not answer.transient:
                        break
                    log.warning(
                        "Spotify's token endpoint: %s (try %d of %d)", answer.error, attempt + 1, tries
                    )
        except TimeoutError:
            log.warning("Spotify's token endpoint did not answer within %ss", self.config.spotify_budget_s)
        return answer

    async def _once(self, data: dict[str, str]) -> TokenAnswer:
        headers = {}
        data = {**data, "client_id": self.config.client_id}
        if self.config.client_secret:
            pair = f"{self.config.client_id}:{self.config.client_secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        try:
            response = await self.http.post(
                self.config.accounts_url.rstrip("/") + "/api/token", data=data, headers=headers
            )
        except httpx.HTTPError as exc:
            log.warning("Spotify token endpoint unreachable: %s", type(exc).__name__)
            return NO_ANSWER
        try:
            body = loads(response.content)
        except ValueError:  # a page, or JSON nested too deep to parse: no token response either way
            body = {}
        return TokenAnswer(response.status_code, body if isinstance(body, dict) else {})


def oauth_body(body: dict[str, Any]) -> dict[str, Any]:
    """Only the error fields of an OAuth answer: nothing else from Spotify is passed on or logged."""
    return {k: body[k] for k in ("error", "error_description") if k in body} or {"error": "server_error"}
