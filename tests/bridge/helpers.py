"""Helpers the bridge tests share."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from starlette.testclient import TestClient

from tests.live import LiveSandbox, wait_for_http

CLIENT = "my-spotify-app"  # not allowlisted for Spotify's own device flow


BASE = "http://127.0.0.1:8766"  # the sandbox's default registered redirect is BASE/callback


GRANT = "urn:ietf:params:oauth:grant-type:device_code"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def start(bridge: TestClient, **extra: str) -> dict:
    response = bridge.post(
        "/device/authorize", data={"client_id": CLIENT, "scope": "user-read-playback-state", **extra}
    )
    assert response.status_code == 200, response.text
    return response.json()


def poll(bridge: TestClient, device_code: str) -> httpx.Response:
    return bridge.post("/token", data={"grant_type": GRANT, "device_code": device_code, "client_id": CLIENT})


def confirm_page(bridge: TestClient, code: str) -> tuple[httpx.Response, str]:
    page = bridge.get("/pair", params={"code": code})
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    return page, match.group(1) if match else ""


def approve_through_spotify(
    bridge: TestClient, live: LiveSandbox, code: str, decision: str = "approve"
) -> httpx.Response:
    page, csrf = confirm_page(bridge, code)
    assert page.status_code == 200, page.text
    to_spotify = bridge.post(
        "/pair", data={"code": code, "csrf": csrf, "decision": "approve"}, follow_redirects=False
    )
    assert to_spotify.status_code == 303
    location = to_spotify.headers["location"]
    assert location.startswith(f"{live.url}/authorize?")
    back = httpx.get(location + "&" + urlencode({"sandbox_decision": decision}), follow_redirects=False)
    assert back.status_code == 302
    callback = urlsplit(back.headers["location"])
    assert f"{callback.scheme}://{callback.netloc}{callback.path}" == f"{BASE}/callback"
    return bridge.get(f"/callback?{callback.query}")


class RedisServer:
    """A redis-server of the test's own on a unix socket: no disk, no TCP port."""

    def __init__(self, directory: Path, *options: str) -> None:
        self.options = options  # e.g. "--maxmemory", "2mb"
        self.socket = directory / "redis.sock"
        self.url = f"unix://{self.socket}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip(
                "redis-server is not installed (./dev setup installs it: apt-get install redis-server)"
            )
        self.socket.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [binary, "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
             "--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction", *self.options],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not self.socket.exists():
            assert self.process.poll() is None and time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def serve(
    port: int, config_dir: Path, live: LiveSandbox, store: str, workers: int = 1
) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "MAESTRO_CONFIG": str(config_dir / "config.toml"),
        "MAESTRO_STATE_DIR": str(config_dir),  # both read the same form secret
        "MAESTRO_BRIDGE_CLIENT_ID": CLIENT,
        "MAESTRO_BRIDGE_ACCOUNTS_URL": live.url,
        "MAESTRO_BRIDGE_BASE_URL": BASE,  # the address behind the load balancer
    }
    command = [sys.executable, "-m", "maestro", "bridge", "serve", "--port", str(port), "--store", store,
               "--workers", str(workers)]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_http(f"http://127.0.0.1:{port}/healthz", process=process)
    return process
