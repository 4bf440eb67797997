"""Serving the bridge: uvicorn with a deadline for reading each request.

uvicorn waits for a request's headers for as long as the client likes, so a
client that sends one byte every few seconds (slowloris) holds a connection,
and enough of them hold the bridge. :class:`DeadlineProtocol` gives each
request ``REQUEST_READ_S`` from its first byte to its last, then closes the
connection. (Behind Caddy or nginx the proxy does this too; the bridge does
not rely on it.)
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: From a request's first byte to its last (headers and the small bodies the bridge takes).
REQUEST_READ_S = 10.0


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing connections whose request takes too long to arrive."""

    read_deadline_s = REQUEST_READ_S

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._read_timer: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        if self._read_timer is None:
            self._read_timer = self.loop.call_later(self.read_deadline_s, self._too_slow)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _too_slow(self) -> None:
        self._read_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()  # the next request on a kept-alive connection gets its own deadline

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def uvicorn_options(**extra: Any) -> dict[str, Any]:
    """What every way of serving the bridge passes to uvicorn: no access log (paths carry codes and
    OAuth states), uvloop, and the request deadline."""
    return {"http": DeadlineProtocol, "loop": "uvloop", "log_level": "warning", "access_log": False,
            "timeout_keep_alive": 5, **extra}  # fmt: skip
