"""The /sandbox/ test controls, and the served sandbox end to end."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from starlette.testclient import TestClient

from tests.conftest import DEVICE_GRANT
from tests.live import free_port, wait_for_http


def test_faults_hit_the_next_n_matching_requests(sandbox: TestClient, auth: dict) -> None:
    assert (
        sandbox.post(
            "/sandbox/faults", json={"status": 429, "count": 2, "retry_after": 3, "path": "/v1/me/player"}
        ).status_code
        == 200
    )
    assert sandbox.get("/v1/me", headers=auth).status_code == 200  # other path: untouched
    for _ in range(2):
        limited = sandbox.get("/v1/me/player/devices", headers=auth)
        assert limited.status_code == 429 and limited.headers["retry-after"] == "3"
        assert limited.json() == {"error": {"status": 429, "message": "API rate limit exceeded"}}
    assert sandbox.get("/v1/me/player/devices", headers=auth).status_code == 200


def test_server_error_and_latency_faults(sandbox: TestClient, auth: dict) -> None:
    sandbox.post("/sandbox/faults", json={"status": 503, "count": 1})
    assert sandbox.get("/v1/me", headers=auth).status_code == 503
    sandbox.post("/sandbox/faults", json={"status": 0, "count": 1, "latency_ms": 200})
    started = time.monotonic()
    assert sandbox.get("/v1/me", headers=auth).status_code == 200
    assert time.monotonic() - started >= 0.2


def test_bad_control_bodies_are_400(sandbox: TestClient) -> None:
    assert sandbox.post("/sandbox/faults", json={"count": 1}).status_code == 400
    assert sandbox.post("/sandbox/faults", json={"status": 200}).status_code == 400
    assert sandbox.post("/sandbox/faults", content=b"not json").status_code == 400
    assert sandbox.post("/sandbox/approve", json={}).status_code == 400
    assert sandbox.post("/sandbox/approve", json={"user_code": "BCDF-GHJK"}).status_code == 404


def test_reset_forgets_everything(sandbox: TestClient, auth: dict) -> None:
    sandbox.post("/sandbox/faults", json={"status": 500, "count": 5})
    assert sandbox.post("/sandbox/reset").status_code == 200
    snapshot = sandbox.get("/sandbox/state").json()
    assert snapshot["faults"] == [] and snapshot["pending_grants"] == []
    assert sandbox.get("/v1/me", headers=auth).status_code == 401  # tokens gone too


def test_token_controls(sandbox: TestClient) -> None:
    from tests.conftest import bearer, sign_in

    tokens = sign_in(sandbox)
    assert sandbox.post("/sandbox/tokens", json={"expire": True}).json()["expired"] >= 1
    assert sandbox.get("/v1/me", headers=bearer(tokens)).status_code == 401
    sandbox.post("/sandbox/tokens", json={"revoke": True})
    refreshed = sandbox.post(
        "/api/token",
        data={
            "grant_type": "refresh_token",
            "client_id": "maestro-sandbox",
            "refresh_token": tokens["refresh_token"],
        },
    )
    assert refreshed.json()["error"] == "invalid_grant"


@pytest.fixture
def served_sandbox() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "maestro", "sandbox", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(base + "/sandbox/state", process=process)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_served_sandbox_full_device_flow_round_trip(served_sandbox: str) -> None:
    """What the README's curl walk-through does: authorize, approve, token, devices."""
    with httpx.Client(base_url=served_sandbox) as http:
        grant = http.post(
            "/oauth2/device/authorize",
            data={"client_id": "maestro-sandbox", "scope": "user-read-playback-state"},
        ).json()
        assert grant["verification_uri"] == f"{served_sandbox}/pair"
        assert http.post("/sandbox/approve", json={"user_code": grant["user_code"]}).status_code == 200
        tokens = http.post(
            "/api/token",
            data={
                "grant_type": DEVICE_GRANT,
                "device_code": grant["device_code"],
                "client_id": "maestro-sandbox",
            },
        ).json()
        devices = http.get(
            "/v1/me/player/devices", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        ).json()
        assert [d["name"] for d in devices["devices"]][:3] == ["Living Room", "Kitchen", "Bedroom"]
