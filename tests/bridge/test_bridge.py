"""The bridge: RFC 8628 conformance and the security points, with the live sandbox as Spotify."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.testclient import TestClient

from maestro.bridge.app import BridgeConfig, create_app
from maestro.bridge.codes import USER_CODE_ALPHABET
from maestro.bridge.sqlite_store import SQLiteStore
from tests.bridge.helpers import (
    BASE,
    CLIENT,
    GRANT,
    Clock,
    approve_through_spotify,
    confirm_page,
    poll,
    start,
)
from tests.live import LiveSandbox


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def bridge(live: LiveSandbox, clock: Clock, tmp_path) -> Iterator[TestClient]:
    config = BridgeConfig(
        client_id=CLIENT,
        base_url=BASE,
        accounts_url=live.url,
        clock=clock,
        per_ip_attempts=8,
        global_attempts=12,
    )
    app = create_app(config, SQLiteStore(tmp_path / "bridge.sqlite3"))
    with TestClient(app, base_url=BASE) as client:
        yield client


def test_metadata_and_health(bridge: TestClient) -> None:
    meta = bridge.get("/.well-known/oauth-authorization-server").json()
    assert meta["device_authorization_endpoint"] == f"{BASE}/device/authorize"
    assert meta["token_endpoint"] == f"{BASE}/token"
    assert GRANT in meta["grant_types_supported"]
    assert bridge.get("/healthz").json() == {"ok": True, "store": "sqlite"}


def test_device_authorization_response(bridge: TestClient) -> None:
    grant = start(bridge)
    assert re.fullmatch(f"[{USER_CODE_ALPHABET}]{{4}}-[{USER_CODE_ALPHABET}]{{4}}", grant["user_code"])
    assert len(grant["device_code"]) >= 43  # 256 bits, base64url
    assert grant["verification_uri"] == f"{BASE}/pair"
    link = grant["verification_uri_complete"]  # capitals: a QR code's alphanumeric mode holds it
    code = grant["user_code"].replace("-", "")
    assert re.fullmatch(rf"{BASE.upper()}/P/{code}[A-Z2-7]{{16}}", link), link  # 80 bits of its own
    assert bridge.get(urlsplit(link).path).status_code == 200  # opening it is no guess
    assert bridge.get(urlsplit(link).path.lower()).status_code == 200  # any case
    import segno

    assert segno.make(link, error="l", micro=False).version == 3  # 29 modules: two pixels each on the OLED
    assert (grant["expires_in"], grant["interval"]) == (600, 5)


def test_device_codes_are_stored_only_hashed(bridge: TestClient, tmp_path) -> None:
    grant = start(bridge)
    raw = (tmp_path / "bridge.sqlite3").read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("bridge.sqlite3-wal")
    )
    assert grant["device_code"].encode() not in raw


def test_wrong_client_and_scope(bridge: TestClient) -> None:
    assert bridge.post("/device/authorize", data={"client_id": "other"}).json()["error"] == "invalid_client"
    bad = bridge.post("/device/authorize", data={"client_id": CLIENT, "scope": "user-read-email"})
    assert bad.json()["error"] == "invalid_scope"


def test_full_grant_tokens_once_then_refresh(bridge: TestClient, live: LiveSandbox, clock: Clock) -> None:
    grant = start(bridge, device_name="Living Room")
    assert poll(bridge, grant["device_code"]).json()["error"] == "authorization_pending"
    page, _ = confirm_page(bridge, grant["user_code"].lower().replace("-", " "))  # typed sloppily
    assert "Maestro on Living Room" in page.text and "in front of you" in page.text
    assert "see what is playing and on which speaker" in page.text  # the scope, in plain words
    done = approve_through_spotify(bridge, live, grant["user_code"])
    assert "Done — you can close this page" in done.text
    clock.now += 6
    tokens = poll(bridge, grant["device_code"])
    assert tokens.status_code == 200 and tokens.headers["cache-control"] == "no-store"
    body = tokens.json()
    assert {"access_token", "refresh_token", "expires_in", "token_type"} <= set(body)
    me = httpx.get(f"{live.url}/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["id"] == "sandbox-user"
    clock.now += 6
    again = poll(bridge, grant["device_code"])
    assert again.status_code == 400 and again.json()["error"] in ("invalid_grant", "expired_token")
    refreshed = bridge.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"], "client_id": CLIENT},
    )
    assert refreshed.status_code == 200
    assert refreshed.json()["refresh_token"] != body["refresh_token"]  # the sandbox rotates; passed on


def test_slow_down_grows_the_interval(bridge: TestClient, clock: Clock) -> None:
    grant = start(bridge)
    assert poll(bridge, grant["device_code"]).json()["error"] == "authorization_pending"
    clock.now += 2
    assert poll(bridge, grant["device_code"]).json()["error"] == "slow_down"
    clock.now += 6  # enough for 5 s, not for the 10 s it is now
    assert poll(bridge, grant["device_code"]).json()["error"] == "slow_down"
    clock.now += 16
    assert poll(bridge, grant["device_code"]).json()["error"] == "authorization_pending"


def test_expired_and_denied(bridge: TestClient, live: LiveSandbox, clock: Clock) -> None:
    expiring = start(bridge)
    denied = start(bridge)
    _page, csrf = confirm_page(bridge, denied["user_code"])
    assert (
        "Cancelled"
        in bridge.post("/pair", data={"code": denied["user_code"], "csrf": csrf, "decision": "deny"}).text
    )
    assert poll(bridge, denied["device_code"]).json()["error"] == "access_denied"
    clock.now += 601
    assert poll(bridge, expiring["device_code"]).json()["error"] == "expired_token"
    assert bridge.get("/pair", params={"code": expiring["user_code"]}).status_code == 404


def test_backing_out_at_spotify_can_be_retried(bridge: TestClient, live: LiveSandbox, clock: Clock) -> None:
    grant = start(bridge)
    page = approve_through_spotify(bridge, live, grant["user_code"], decision="deny")
    assert "Spotify did not connect Maestro" in page.text and "try again" in page.text
    assert "Continue to Spotify" in page.text  # the confirm form again, in the browser that confirmed
    clock.now += 6
    assert poll(bridge, grant["device_code"]).json()["error"] == "authorization_pending"  # not ended
    done = approve_through_spotify(bridge, live, grant["user_code"])  # the same code, again
    assert "Done" in done.text
    clock.now += 6
    assert poll(bridge, grant["device_code"]).status_code == 200


def test_guessing_is_cut_off(bridge: TestClient) -> None:
    statuses = [bridge.get("/pair", params={"code": f"BCDF-GHJ{c}"}).status_code for c in "BCDFGHJKLMNP"]
    assert statuses[:8] == [404] * 8
    assert set(statuses[8:]) == {429}
    real = start(bridge)
    assert bridge.get("/pair", params={"code": real["user_code"]}).status_code == 429  # even the right one


def test_guess_odds_documented_bound() -> None:
    assert BridgeConfig(client_id="x", base_url="https://b").guess_odds() < 1e-6


def test_xss_in_code_is_escaped(bridge: TestClient) -> None:
    page = bridge.get("/pair", params={"code": '<script>alert("x")</script>'})
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;" in page.text


def test_forged_state_is_refused(bridge: TestClient, live: LiveSandbox, clock: Clock) -> None:
    grant = start(bridge)
    forged = bridge.get("/callback", params={"code": "anything", "state": "forged-state"})
    assert forged.status_code == 400 and "not valid" in forged.text
    clock.now += 6
    assert poll(bridge, grant["device_code"]).json()["error"] == "authorization_pending"


def test_state_works_once(bridge: TestClient, live: LiveSandbox) -> None:
    grant = start(bridge)
    _page, csrf = confirm_page(bridge, grant["user_code"])
    location = bridge.post(
        "/pair",
        data={"code": grant["user_code"], "csrf": csrf, "decision": "approve"},
        follow_redirects=False,
    ).headers["location"]
    state = parse_qs(urlsplit(location).query)["state"][0]
    back = httpx.get(location + "&sandbox_decision=approve", follow_redirects=False).headers["location"]
    assert "Done" in bridge.get(f"/callback?{urlsplit(back).query}").text
    again = bridge.get("/callback", params={"code": "x", "state": state})
    assert again.status_code == 200 and "Already done" in again.text  # nothing exchanged a second time
    assert bridge.get("/callback", params={"code": "x", "state": "made-up"}).status_code == 400


def test_confirm_needs_the_csrf_token(bridge: TestClient) -> None:
    grant = start(bridge)
    confirm_page(bridge, grant["user_code"])
    forged = bridge.post(
        "/pair",
        data={"code": grant["user_code"], "csrf": "0" * 64, "decision": "approve"},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    bridge.cookies.clear()
    _, csrf = confirm_page(bridge, grant["user_code"])
    bridge.cookies.clear()  # a cross-site form post carries no SameSite=Strict cookie
    no_cookie = bridge.post(
        "/pair",
        data={"code": grant["user_code"], "csrf": csrf, "decision": "approve"},
        follow_redirects=False,
    )
    assert no_cookie.status_code == 403


def test_redirect_goes_only_to_spotify(bridge: TestClient, live: LiveSandbox) -> None:
    grant = start(bridge)
    _, csrf = confirm_page(bridge, grant["user_code"])
    response = bridge.post(
        "/pair?next=https://evil.example",
        follow_redirects=False,
        data={
            "code": grant["user_code"],
            "csrf": csrf,
            "decision": "approve",
            "redirect_uri": "https://evil.example/cb",
        },
    )
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}" == live.url
    assert parse_qs(location.query)["redirect_uri"] == [f"{BASE}/callback"]


def test_security_headers(bridge: TestClient) -> None:
    headers = bridge.get("/pair").headers
    assert "script-src" not in headers["content-security-policy"]  # no script at all, inline or not
    assert "default-src 'none'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"
    assert "<script" not in bridge.get("/pair").text


def test_request_size_limit(bridge: TestClient) -> None:
    response = bridge.post(
        "/token",
        content=b"grant_type=" + b"x" * 20_000,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413


def test_unsupported_grant(bridge: TestClient) -> None:
    assert bridge.post("/token", data={"grant_type": "password"}).json()["error"] == "unsupported_grant_type"


def test_local_mode_paste_back(live: LiveSandbox, clock: Clock, tmp_path) -> None:
    config = BridgeConfig(
        client_id=CLIENT,
        base_url="http://maestro.local:8766",
        accounts_url=live.url,
        mode="local",
        local_redirect_uri=f"{BASE}/callback",
        clock=clock,
    )
    with TestClient(
        create_app(config, SQLiteStore(tmp_path / "b.db")), base_url="http://maestro.local:8766"
    ) as b:
        grant = start(b)
        page, csrf = confirm_page(b, grant["user_code"])
        assert "/pair/paste" in page.text
        location = b.post(
            "/pair",
            data={"code": grant["user_code"], "csrf": csrf, "decision": "approve"},
            follow_redirects=False,
        ).headers["location"]
        landed = httpx.get(location + "&sandbox_decision=approve", follow_redirects=False).headers["location"]
        assert landed.startswith(f"{BASE}/callback?")  # the phone cannot open this: it pastes it instead
        assert b.post("/pair/paste", data={"url": "nonsense"}).status_code == 400
        assert "Done" in b.post("/pair/paste", data={"url": landed}).text
        clock.now += 6
        assert poll(b, grant["device_code"]).status_code == 200


def test_bridge_serve_command(tmp_path) -> None:
    import os
    import subprocess
    import sys

    from tests.live import free_port, wait_for_http

    port = free_port()
    (tmp_path / "config.toml").write_text('[bridge]\nclient_id = "my-app"\n')
    env = {**os.environ, "MAESTRO_CONFIG": str(tmp_path / "config.toml"), "MAESTRO_STATE_DIR": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "maestro", "bridge", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert f"http://127.0.0.1:{port}" in banner
        wait_for_http(f"http://127.0.0.1:{port}/healthz", process=process)
        meta = httpx.get(f"http://127.0.0.1:{port}/.well-known/oauth-authorization-server").json()
        assert meta["token_endpoint"] == f"http://127.0.0.1:{port}/token"
        assert (tmp_path / "bridge.sqlite3").exists()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_bridge_serve_needs_a_client_id(tmp_path) -> None:
    import os
    import subprocess
    import sys

    (tmp_path / "config.toml").write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "maestro", "bridge", "serve"],
        capture_output=True,
        text=True,
        env={**os.environ, "MAESTRO_CONFIG": str(tmp_path / "config.toml"), "MAESTRO_BRIDGE_CLIENT_ID": ""},
    )
    assert result.returncode == 2 and "bridge.client_id" in result.stderr


def test_no_code_token_or_secret_reaches_the_logs(
    bridge: TestClient, live: LiveSandbox, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    grant = start(bridge)
    approve_through_spotify(bridge, live, grant["user_code"])
    clock.now += 6
    tokens = poll(bridge, grant["device_code"]).json()
    secrets_seen = [grant["device_code"], grant["user_code"], tokens["access_token"], tokens["refresh_token"]]
    # The bridge's own log and the server's (the test's HTTP client logs its URLs: not ours).
    ours = [r for r in caplog.records if r.name.startswith(("maestro", "uvicorn", "starlette"))]
    logged = "\n".join(record.getMessage() for record in ours)
    assert "pairing delivered" in logged  # it does log what happened...
    assert not [s for s in secrets_seen if s in logged]  # ...but never the secrets
