"""Fault injection: the next N matching requests get an error status or latency."""

from __future__ import annotations

import asyncio
import json

from starlette.types import ASGIApp, Receive, Scope, Send

from maestro.sandbox.state import SandboxState

MESSAGES = {
    429: "API rate limit exceeded",
    500: "Server error",
    502: "Bad gateway",
    503: "Service unavailable",
}


class FaultMiddleware:
    """Pure ASGI middleware; ``/sandbox/`` controls are never faulted."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith("/sandbox/"):
            await self.app(scope, receive, send)
            return
        fault = self.state.take_fault(path)
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.latency_ms:
            await asyncio.sleep(fault.latency_ms / 1000)
        if fault.status == 0:
            await self.app(scope, receive, send)
            return
        body = json.dumps(
            {"error": {"status": fault.status, "message": MESSAGES.get(fault.status, "Error")}}
        ).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if fault.retry_after is not None:
            headers.append((b"retry-after", str(fault.retry_after).encode()))
        await send({"type": "http.response.start", "status": fault.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
