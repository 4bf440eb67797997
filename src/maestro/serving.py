"""Serve an ASGI app on loopback in a thread of this process (the demo, and tests)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from maestro.errors import MaestroError


@contextlib.contextmanager
def serve_in_thread(app: ASGIApp, port: int = 0, *, timeout: float = 15.0, **options: Any) -> Iterator[str]:
    """Run ``app`` on 127.0.0.1 (``port`` 0: any free one); yields its base URL, stops on exit.
    ``options`` go to uvicorn (the bridge's own protocol and proxy headers, in its tests)."""
    settings = {"log_level": "warning", "lifespan": "off", **options}
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **settings))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise MaestroError("The local server did not start.")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
