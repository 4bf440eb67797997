"""A real sandbox server on loopback, in a thread: for end-to-end tests over HTTP."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from maestro.auth.device_flow import SCOPES
from maestro.auth.tokens import Tokens, TokenStore
from maestro.sandbox.app import create_app
from maestro.sandbox.state import SandboxState
from maestro.serving import serve_in_thread

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def sign_in(
    client: httpx.Client,
    user: str = "sandbox-user",
    product: str | None = None,
    scope: str = " ".join(SCOPES),
) -> dict[str, str]:
    """The whole device flow against a sandbox (TestClient or live); returns the token response.
    The scopes are what `maestro pair` asks for unless ``scope`` says otherwise."""
    grant = client.post(
        "/oauth2/device/authorize", data={"client_id": "maestro-sandbox", "scope": scope}
    ).json()
    body: dict[str, str] = {"user_code": grant["user_code"], "user": user}
    if product:
        body["product"] = product
    assert client.post("/sandbox/approve", json=body).status_code == 200
    response = client.post(
        "/api/token",
        data={
            "grant_type": DEVICE_GRANT,
            "device_code": grant["device_code"],
            "client_id": "maestro-sandbox",
        },
    )
    assert response.status_code == 200, response.text
    return response.json()


def wait_for_http(url: str, timeout: float = 20.0, process: object | None = None) -> None:
    """Until ``url`` answers at all (a server started in another process), or fail."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            exited = process is not None and process.poll() is not None  # type: ignore[attr-defined]
            if time.monotonic() > deadline or exited:
                raise RuntimeError(f"{url} did not answer") from None
            time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveSandbox:
    url: str
    state: SandboxState

    def env(self, state_dir: Path) -> dict[str, str]:
        """Environment for Maestro to use this sandbox (and an empty config of its own)."""
        config = state_dir / "config.toml"
        if not config.exists():
            config.write_text("")
        return {
            "MAESTRO_SPOTIFY_API_URL": f"{self.url}/v1",
            "MAESTRO_SPOTIFY_ACCOUNTS_URL": self.url,
            "MAESTRO_SPOTIFY_CLIENT_ID": "maestro-sandbox",
            "MAESTRO_STATE_DIR": str(state_dir),
            "MAESTRO_CONFIG": str(state_dir / "config.toml"),
            "MAESTRO_WEB_ENABLED": "false",  # on where a test asks (tests/web): port 8080 is not theirs
        }

    def control(self, path: str, body: dict | None = None) -> dict:
        response = httpx.post(f"{self.url}/sandbox/{path}", json=body or {})
        response.raise_for_status()
        return response.json()

    def snapshot(self) -> dict:
        return httpx.get(f"{self.url}/sandbox/state").json()

    def sign_in(self, user: str = "sandbox-user", product: str | None = None) -> dict[str, str]:
        with httpx.Client(base_url=self.url) as client:
            return sign_in(client, user, product)

    def pair_into(self, state_dir: Path, **kwargs: str) -> Tokens:
        """Sign in and leave tokens.json in ``state_dir``, as `maestro pair` would."""
        body = self.sign_in(**kwargs)
        tokens = Tokens.from_response(
            body, token_url=f"{self.url}/api/token", client_id="maestro-sandbox", now=time.time()
        )
        TokenStore(state_dir / "tokens.json").save(tokens)
        return tokens


@contextlib.contextmanager
def running_sandbox(**kwargs: object) -> Iterator[LiveSandbox]:
    state = SandboxState(**kwargs)  # type: ignore[arg-type]
    with serve_in_thread(create_app(state=state)) as url:
        yield LiveSandbox(url, state)
