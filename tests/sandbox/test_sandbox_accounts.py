"""Contract tests: the sandbox's accounts service answers as Spotify's does."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from urllib.parse import parse_qs, urlsplit

from starlette.testclient import TestClient

from tests.conftest import DEVICE_GRANT, bearer, sign_in

REDIRECT = "http://127.0.0.1:8766/callback"


def device_authorize(client: TestClient, client_id: str = "maestro-sandbox") -> dict:
    response = client.post(
        "/oauth2/device/authorize", data={"client_id": client_id, "scope": "user-read-playback-state"}
    )
    return {"status": response.status_code, **response.json()}


def poll(client: TestClient, device_code: str, client_id: str = "maestro-sandbox"):
    return client.post(
        "/api/token",
        data={"grant_type": DEVICE_GRANT, "device_code": device_code, "client_id": client_id},
    )


def test_device_authorization_shape(sandbox: TestClient) -> None:
    grant = device_authorize(sandbox)
    assert grant["status"] == 200
    assert set(grant) - {"status"} == {
        "device_code",
        "user_code",
        "verification_uri",
        "verification_uri_complete",
        "expires_in",
        "interval",
    }
    assert re.fullmatch(r"[A-Z0-9]{6}", grant["user_code"])  # Spotify's format
    assert grant["verification_uri"] == "http://127.0.0.1:8765/pair"
    assert grant["verification_uri_complete"] == f"http://127.0.0.1:8765/pair?code={grant['user_code']}"
    assert 3590 <= grant["expires_in"] <= 3599
    assert grant["interval"] == 5
    assert len(grant["device_code"]) >= 40


def test_unallowlisted_client_is_refused_as_spotify_does(sandbox: TestClient) -> None:
    response = sandbox.post("/oauth2/device/authorize", data={"client_id": "my-own-app", "scope": ""})
    assert response.status_code == 400
    assert response.json() == {"error": "unauthorized_client", "error_description": "Client not allowed"}


def test_device_flow_pending_slow_down_approve_and_one_time_delivery(sandbox: TestClient) -> None:
    grant = device_authorize(sandbox)
    first = poll(sandbox, grant["device_code"])
    assert (first.status_code, first.json()["error"]) == (400, "authorization_pending")
    assert first.headers["cache-control"] == "no-store"
    too_fast = poll(sandbox, grant["device_code"])
    assert too_fast.json()["error"] == "slow_down"
    pending = sandbox.get("/sandbox/state").json()["pending_grants"]
    assert pending[0]["interval"] == 10  # slow_down added five seconds, for good

    # Approval compares codes ignoring case and dashes.
    code = grant["user_code"].lower()
    assert sandbox.post("/sandbox/approve", json={"user_code": f"{code[:3]}-{code[3:]}"}).status_code == 200
    sandbox.post("/sandbox/clock", json={"advance_s": 11})
    tokens = poll(sandbox, grant["device_code"])
    assert tokens.status_code == 200
    body = tokens.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["scope"] == "user-read-playback-state"
    assert {"access_token", "refresh_token"} <= set(body)
    again = poll(sandbox, grant["device_code"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_device_flow_denied_and_expired(sandbox: TestClient) -> None:
    denied = device_authorize(sandbox)
    sandbox.post("/sandbox/deny", json={"user_code": denied["user_code"]})
    assert poll(sandbox, denied["device_code"]).json()["error"] == "access_denied"

    expiring = device_authorize(sandbox)
    sandbox.post("/sandbox/clock", json={"advance_s": 3600})
    assert poll(sandbox, expiring["device_code"]).json()["error"] == "expired_token"
    late = sandbox.post("/sandbox/approve", json={"user_code": expiring["user_code"]})
    assert late.status_code == 404


def test_device_code_is_bound_to_its_client(sandbox: TestClient) -> None:
    grant = device_authorize(sandbox)
    assert poll(sandbox, grant["device_code"], client_id="someone-else").json()["error"] == "invalid_grant"


def test_pair_page_approves_with_typed_code(sandbox: TestClient) -> None:
    grant = device_authorize(sandbox)
    form = sandbox.get("/pair", params={"code": grant["user_code"].lower()})
    assert form.status_code == 200 and grant["user_code"] in form.text
    done = sandbox.post("/pair", data={"code": grant["user_code"], "decision": "approve"})
    assert "Device connected" in done.text
    assert poll(sandbox, grant["device_code"]).status_code == 200


def test_pair_page_escapes_what_it_echoes(sandbox: TestClient) -> None:
    page = sandbox.get("/pair", params={"code": '"><script>alert(1)</script>'})
    assert "<script>alert(1)" not in page.text
    assert "&lt;script&gt;" in page.text


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize(sandbox: TestClient, challenge: str, decision: str = "approve", redirect: str = REDIRECT):
    return sandbox.get(
        "/authorize",
        params={
            "client_id": "any-registered-app",
            "response_type": "code",
            "redirect_uri": redirect,
            "state": "xyz",
            "scope": "user-read-playback-state",
            "code_challenge_method": "S256",
            "code_challenge": challenge,
            "sandbox_decision": decision,
        },
        follow_redirects=False,
    )


def exchange(sandbox: TestClient, code: str, verifier: str, redirect: str = REDIRECT):
    return sandbox.post(
        "/api/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect,
            "client_id": "any-registered-app",
            "code_verifier": verifier,
        },
    )


def test_authorization_code_with_pkce(sandbox: TestClient) -> None:
    verifier, challenge = pkce_pair()
    redirect = authorize(sandbox, challenge)
    assert redirect.status_code == 302
    target = urlsplit(redirect.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == REDIRECT
    query = parse_qs(target.query)
    assert query["state"] == ["xyz"]
    tokens = exchange(sandbox, query["code"][0], verifier)
    assert tokens.status_code == 200
    me = sandbox.get("/v1/me", headers=bearer(tokens.json()))
    assert me.json()["display_name"] == "Sandbox User"
    # Codes are single use.
    assert exchange(sandbox, query["code"][0], verifier).json()["error"] == "invalid_grant"


def test_pkce_failure(sandbox: TestClient) -> None:
    _, challenge = pkce_pair()
    code = parse_qs(urlsplit(authorize(sandbox, challenge).headers["location"]).query)["code"][0]
    wrong = exchange(sandbox, code, secrets.token_urlsafe(48))
    assert wrong.status_code == 400
    assert wrong.json() == {"error": "invalid_grant", "error_description": "code_verifier was incorrect"}


def test_authorize_denied_and_bad_redirect(sandbox: TestClient) -> None:
    _, challenge = pkce_pair()
    denied = authorize(sandbox, challenge, decision="deny")
    assert parse_qs(urlsplit(denied.headers["location"]).query) == {
        "error": ["access_denied"],
        "state": ["xyz"],
    }
    evil = authorize(sandbox, challenge, redirect="https://evil.example/steal")
    assert evil.status_code == 400 and "location" not in evil.headers
    assert "Invalid redirect URI" in evil.text


def test_authorize_shows_a_consent_page_without_decision(sandbox: TestClient) -> None:
    page = sandbox.get(
        "/authorize",
        params={
            "client_id": "app",
            "response_type": "code",
            "redirect_uri": REDIRECT,
            "scope": "user-read-playback-state streaming",
        },
    )
    assert page.status_code == 200
    assert "user-read-playback-state" in page.text and 'value="approve"' in page.text


def test_refresh_rotates_and_old_refresh_token_dies(sandbox: TestClient) -> None:
    first = sign_in(sandbox)

    def refresh(token: str):
        return sandbox.post(
            "/api/token",
            data={"grant_type": "refresh_token", "refresh_token": token, "client_id": "maestro-sandbox"},
        )

    second = refresh(first["refresh_token"])
    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    assert refresh(first["refresh_token"]).json()["error"] == "invalid_grant"
    assert sandbox.get("/v1/me", headers=bearer(second.json())).status_code == 200


def test_access_tokens_expire(sandbox: TestClient) -> None:
    tokens = sign_in(sandbox)
    sandbox.post("/sandbox/clock", json={"advance_s": 3601})
    response = sandbox.get("/v1/me", headers=bearer(tokens))
    assert response.status_code == 401
    assert response.json() == {"error": {"status": 401, "message": "The access token expired"}}


def test_short_token_ttl_and_custom_allowlist() -> None:
    from maestro.sandbox.app import create_app

    with TestClient(create_app(allowed_clients=("abc",), token_ttl=60)) as client:
        assert (
            client.post("/oauth2/device/authorize", data={"client_id": "maestro-sandbox"}).status_code == 400
        )
        grant = client.post("/oauth2/device/authorize", data={"client_id": "abc"}).json()
        client.post("/sandbox/approve", json={"user_code": grant["user_code"]})
        tokens = poll(client, grant["device_code"], client_id="abc").json()
        assert tokens["expires_in"] == 60


def test_unsupported_grant_type(sandbox: TestClient) -> None:
    response = sandbox.post("/api/token", data={"grant_type": "password", "client_id": "maestro-sandbox"})
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"


def test_loopback_redirect_registered_without_port_accepts_any_port() -> None:
    from maestro.sandbox.state import SandboxState

    state = SandboxState(redirect_uris=("http://127.0.0.1/callback",))
    assert state.redirect_uri_allowed("http://127.0.0.1:51234/callback")
    assert not state.redirect_uri_allowed("http://localhost:51234/callback")
    assert not state.redirect_uri_allowed("http://127.0.0.1:51234/other")
