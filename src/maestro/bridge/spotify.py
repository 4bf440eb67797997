"""The bridge's one call to Spotify: the accounts service's token endpoint."""

from __future__ import annotations

import base64
import logging
from typing import Any

import httpx

from maestro.bridge.settings import BridgeConfig

log = logging.getLogger("maestro.bridge")


class SpotifyAccounts:
    """``POST /api/token`` with the bridge's client id (and secret, when it has one)."""

    def __init__(self, config: BridgeConfig, http: httpx.AsyncClient) -> None:
        self.config = config
        self.http = http

    async def token(self, data: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Spotify's status and JSON body; a network fault is a 502 with an OAuth error body."""
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


def oauth_body(body: dict[str, Any]) -> dict[str, Any]:
    """Only the error fields of an OAuth answer: nothing else from Spotify is passed on or logged."""
    return {k: body[k] for k in ("error", "error_description") if k in body} or {"error": "server_error"}
