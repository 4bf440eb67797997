"""The web app (:mod:`maestro.web`) served in the daemon's own event loop: on a socket bound
first (a port in use is reported as trouble, not uvicorn's exit), announced by mDNS, with the box
as its pages see it (:class:`~maestro.box.web_loop.WebBox`)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn

from maestro.box.web_loop import Box, WebBox
from maestro.config import listen_address
from maestro.web.access import Access
from maestro.web.advertise import advertised
from maestro.web.app import create_app


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the daemon owns SIGTERM and SIGINT
        yield


def bound_socket(listen: str) -> socket.socket:
    """The listening socket, bound here so a port in use is an OSError to report, not uvicorn's exit."""
    host, port = listen_address(listen)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and without
    # it every small answer waited 40 ms for the browser's delayed ACK (measured: 44 ms -> 1 ms)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(64)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def page_url(sock: socket.socket) -> str:
    """What a phone on the network types: this box's name (mDNS) when it listens everywhere."""
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        host = f"{socket.gethostname()}.local"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


class WebServer:
    """The web app on its socket, in the daemon's own event loop."""

    def __init__(self, runtime: Box, sock: socket.socket) -> None:
        self.sock = sock
        self.url = page_url(sock)
        #: The name phones' service browsers show (``mqtt.name``: one name for the box everywhere).
        self.name = runtime.session.settings.mqtt.name
        self.box = WebBox(runtime, self.url)
        self.box.forget_clips()
        self.access = Access(runtime.session.state_dir)
        app = create_app(self.box, self.access)
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False,
                                timeout_graceful_shutdown=1)  # fmt: skip
        self.server = _Server(config)

    async def run(self, stop: asyncio.Event) -> None:
        serving = asyncio.create_task(self.server.serve(sockets=[self.sock]))
        host, port = self.sock.getsockname()[:2]
        try:
            async with advertised(self.name, host, port):
                await stop.wait()
        finally:
            self.server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await serving
            self.sock.close()
