"""Serving the bridge: uvicorn with a deadline for reading each request and a bound on its headers.

uvicorn waits for a request's headers for as long as the client likes, so a
client that sends one byte every few seconds (slowloris) holds a connection,
and enough of them hold the bridge. :class:`DeadlineProtocol` gives each
request ``REQUEST_READ_S`` from its first byte to its last, then closes the
connection. httptools also gathers headers of any size (20 MB answered 200;
four clients took the process from 65 to 404 MB): the protocol answers 431 and
closes once a request's headers pass ``MAX_HEADER_BYTES`` or ``MAX_HEADERS``.
(Behind Caddy or nginx the proxy does both too; the bridge does not rely on it:
local mode listens on the LAN with nothing in front.)
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from maestro.errors import UsageError

#: From a request's first byte to its last (headers and the small bodies the bridge takes).
REQUEST_READ_S = 10.0
#: An idle connection between two requests (a device polls every 5 s or more).
KEEP_ALIVE_S = 20
#: A request's line and headers together, and how many headers (browsers send 10-20, ~2 KB).
MAX_HEADER_BYTES = 16 * 1024
MAX_HEADERS = 100
_TOO_LARGE_TEXT = b"request headers too large"
TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_TOO_LARGE_TEXT), _TOO_LARGE_TEXT)
)


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing connections whose request takes too long to arrive
    or whose headers are too large."""

    read_deadline_s = REQUEST_READ_S

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._read_timer: asyncio.TimerHandle | None = None
        self._header_bytes: int | None = 0  # None once a request's headers are complete
        self._header_count = 0
        self._refusing = False
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._refusing:
            return
        if self._header_bytes is not None:
            self._header_bytes += len(data)
        super().data_received(data)
        # Counted per chunk (at most one chunk more than the limit is ever held), judged after the
        # parser had it: a chunk that ends the headers and carries the body is no offence.
        too_big = self._header_bytes is not None and self._header_bytes > MAX_HEADER_BYTES
        if (too_big or self._refusing) and not self.transport.is_closing():
            self._refusing = True
            self.transport.write(TOO_LARGE)
            self.transport.close()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > MAX_HEADERS:
            self._refusing = True  # answered 431 once the parser returns; never handed to the app
        if not self._refusing:
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._header_bytes = None
        if not self._refusing:
            super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refusing:
            super().on_body(body)

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
        if self._refusing:
            return
        self._header_bytes, self._header_count = 0, 0  # the next request on this connection
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def uvicorn_options(**extra: Any) -> dict[str, Any]:
    """What every way of serving the bridge passes to uvicorn: no access log (paths carry codes and
    OAuth states), uvloop, and the request deadline."""
    # keep-alive outlasts RFC 8628's 5 s poll interval: a device keeps its connection between polls
    return {"http": DeadlineProtocol, "loop": "uvloop", "log_level": "warning", "access_log": False,
            "timeout_keep_alive": KEEP_ALIVE_S, **extra}  # fmt: skip


# -- from settings to a running app ------------------------------------------------------------

#: Environment of uvicorn's worker processes: where to listen and which store (no secrets).
SERVE_ENV = "MAESTRO_BRIDGE_SERVE"
SECRET_FILE = "bridge-secret"
MIN_SECRET_CHARS = 32


def build_app(settings: Any, host: str, port: int, store: str = "") -> tuple[Any, str, str]:
    """The bridge app as ``settings`` describe it, its public address and its redirect URI."""
    from maestro import config
    from maestro.bridge.app import BridgeConfig, create_app
    from maestro.bridge.stores import open_store

    bridge = settings.bridge
    if not bridge.client_id:
        raise UsageError("Set bridge.client_id (your Spotify app's client id) in config.toml or "
                         "MAESTRO_BRIDGE_CLIENT_ID.")  # fmt: skip
    shown_host = f"[{host}]" if ":" in host else host
    base_url = bridge.base_url or f"http://{shown_host}:{port}"
    bridge_config = BridgeConfig(
        client_id=bridge.client_id, client_secret=bridge.client_secret, base_url=base_url,
        accounts_url=bridge.accounts_url, mode=bridge.mode,
        local_redirect_uri=f"http://127.0.0.1:{port}/callback", secret=form_secret(settings.bridge)[0],
        authorize_per_ip=bridge.authorize_per_ip, refresh_per_ip=bridge.refresh_per_ip,
        authorize_global=bridge.authorize_global,
    )  # fmt: skip
    spec = store or bridge.store or bridge.db
    app = create_app(bridge_config, open_store(spec, config.state_dir() / "bridge.sqlite3"))
    return app, base_url, bridge_config.redirect_uri


def app_from_environment() -> Any:
    """uvicorn's factory in each worker process (``--workers N``)."""
    from maestro import config

    options = json.loads(os.environ[SERVE_ENV])
    return build_app(config.load(), options["host"], int(options["port"]), options.get("store", ""))[0]


def form_secret(bridge: Any) -> tuple[bytes, str]:
    """The key that signs the pairing form, shared by every worker and instance, and a message
    when it was just made. ``bridge.secret`` wins; else the file ``bridge.secret_file`` (default
    ``bridge-secret`` in the state dir), created once (0600) when missing: two instances starting
    together end up with the same one, whichever wrote it first."""
    from maestro import config

    if bridge.secret:
        if len(bridge.secret) < MIN_SECRET_CHARS:
            raise UsageError(f"bridge.secret is too short: use at least {MIN_SECRET_CHARS} random characters "
                             "(python3 -c 'import secrets; print(secrets.token_urlsafe(48))').")  # fmt: skip
        return bridge.secret.encode(), ""
    path = Path(bridge.secret_file).expanduser() if bridge.secret_file else config.state_dir() / SECRET_FILE
    made = ""
    if not path.exists():
        made = _create_secret(path)
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the bridge's form secret ({exc.strerror})") from exc
    if len(text) < MIN_SECRET_CHARS:
        raise UsageError(
            f"{path}: the bridge's form secret is too short (at least {MIN_SECRET_CHARS} characters)"
        )
    return text.encode(), made


def _create_secret(path: Path) -> str:
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=".secret-", delete=False) as tmp:
            os.chmod(tmp.name, 0o600)
            tmp.write(secrets.token_urlsafe(48) + "\n")
            tmp.flush()
            os.fsync(tmp.fileno())
        try:
            os.link(tmp.name, path)  # atomic, and never over a secret another instance just made
        except FileExistsError:
            return ""
        finally:
            os.unlink(tmp.name)
    except OSError as exc:
        raise UsageError(f"{path}: cannot create the bridge's form secret ({exc.strerror})") from exc
    return (f"Made a new form secret for the bridge in {path}. Every instance behind this address needs "
            "the same one: copy that file (bridge.secret_file) or set bridge.secret.")  # fmt: skip
