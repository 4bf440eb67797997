"""The token store: file safety, refresh, rotation, single flight, revocation."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import time
from pathlib import Path

import httpx
import pytest
import respx

from maestro.auth.tokens import Tokens, TokenStore
from maestro.errors import AuthError, NotPairedError, SignInExpiredError
from tests.live import LiveSandbox

TOKEN_URL = "https://accounts.example/api/token"


def tokens(access: str = "at-1", refresh: str = "rt-1", expires_in: float = 3600) -> Tokens:
    return Tokens(access, refresh, time.time() + expires_in, "scope", TOKEN_URL, "app")


def test_saved_with_mode_0600_and_read_back(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    store.save(tokens())
    assert stat.S_IMODE((tmp_path / "tokens.json").stat().st_mode) == 0o600
    assert TokenStore(tmp_path / "tokens.json").load() == store.tokens


def test_repr_hides_secrets() -> None:
    text = repr(tokens("at-SECRET", "rt-SECRET"))
    assert "SECRET" not in text


@pytest.mark.parametrize("step", ["fchmod", "write", "fsync", "replace"])
def test_a_crash_at_any_step_of_a_write_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    path = tmp_path / "tokens.json"
    store = TokenStore(path)
    store.save(tokens("old-access", "old-refresh"))
    before = path.read_bytes()

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError(f"killed during {step}")

    if step == "write":
        real_fdopen = os.fdopen

        class Dying:
            def __init__(self, *args: object, **kwargs: object) -> None:
                self.file = real_fdopen(*args, **kwargs)  # type: ignore[call-overload]

            def __enter__(self) -> Dying:
                return self

            def __exit__(self, *exc: object) -> None:
                self.file.close()

            def write(self, data: bytes) -> int:
                self.file.write(data[: len(data) // 2])  # half of it reached the disk
                raise OSError("killed during write")

        monkeypatch.setattr(os, "fdopen", Dying)
    else:
        monkeypatch.setattr(os, step, crash)
    with pytest.raises(AuthError, match=r"could not save its sign-in .*killed"):
        store.save(tokens("new-access", "new-refresh"))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["tokens.json"]  # no half-written leftovers


def test_corrupt_file_is_moved_aside_not_deleted(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text('{"access_token": "at", "refre')
    problems: list[str] = []
    store = TokenStore(path, on_problem=problems.append, clock=lambda: 1234)
    assert store.load() is None
    (aside,) = tmp_path.glob("tokens.json.corrupt-1970*")
    assert aside.read_text() == '{"access_token": "at", "refre'
    assert not path.exists()
    assert problems and "pair again" in problems[0] and str(aside) in problems[0]


async def test_not_paired(tmp_path: Path) -> None:
    with pytest.raises(NotPairedError):
        await TokenStore(tmp_path / "tokens.json").access_token()


@respx.mock
async def test_refresh_a_minute_before_expiry_keeps_old_refresh_token_when_none_sent(tmp_path: Path) -> None:
    route = respx.post(TOKEN_URL).respond(json={"access_token": "at-2", "expires_in": 3600})
    async with httpx.AsyncClient() as http:
        store = TokenStore(tmp_path / "tokens.json", http)
        store.save(tokens(expires_in=30))  # inside the one-minute margin
        assert await store.access_token() == "at-2"
    assert route.call_count == 1
    body = dict(pair.split("=") for pair in route.calls[0].request.content.decode().split("&"))
    assert body == {"grant_type": "refresh_token", "refresh_token": "rt-1", "client_id": "app"}
    saved = json.loads((tmp_path / "tokens.json").read_text())
    assert saved["access_token"] == "at-2" and saved["refresh_token"] == "rt-1"


@respx.mock
async def test_two_concurrent_refreshes_make_one_request(tmp_path: Path) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.05)
        return httpx.Response(200, json={"access_token": "at-2", "refresh_token": "rt-2", "expires_in": 3600})

    route = respx.post(TOKEN_URL).mock(side_effect=slow)
    async with httpx.AsyncClient() as http:
        store = TokenStore(tmp_path / "tokens.json", http)
        store.save(tokens())
        results = await asyncio.gather(store.refresh("at-1"), store.refresh("at-1"))
    assert results == ["at-2", "at-2"]
    assert route.call_count == 1


@respx.mock
async def test_rotated_refresh_token_is_on_disk_before_the_new_access_token_is_used(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    respx.post(TOKEN_URL).respond(json={"access_token": "at-2", "refresh_token": "rt-2", "expires_in": 3600})
    seen_on_disk: list[str] = []

    def api(request: httpx.Request) -> httpx.Response:
        seen_on_disk.append(json.loads(path.read_text())["refresh_token"])
        return httpx.Response(200, json={})

    respx.get("https://api.example/v1/me").mock(side_effect=api)
    async with httpx.AsyncClient() as http:
        store = TokenStore(path, http)
        store.save(tokens(expires_in=10))
        token = await store.access_token()
        await http.get("https://api.example/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert seen_on_disk == ["rt-2"]


@respx.mock
async def test_revoked_refresh_token_asks_to_pair_again(tmp_path: Path) -> None:
    respx.post(TOKEN_URL).respond(
        400, json={"error": "invalid_grant", "error_description": "Refresh token revoked"}
    )
    async with httpx.AsyncClient() as http:
        store = TokenStore(tmp_path / "tokens.json", http)
        store.save(tokens(expires_in=0))
        with pytest.raises(SignInExpiredError, match="pair again"):
            await store.access_token()


async def test_refresh_with_rotation_against_the_sandbox(live: LiveSandbox, tmp_path: Path) -> None:
    first = live.pair_into(tmp_path)
    async with httpx.AsyncClient() as http:
        store = TokenStore(tmp_path / "tokens.json", http)
        new_access = await store.refresh(first.access_token)
    saved = store.load()
    assert saved is not None and saved.access_token == new_access
    assert saved.refresh_token != first.refresh_token
    old = httpx.post(
        f"{live.url}/api/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": first.refresh_token,
            "client_id": "maestro-sandbox",
        },
    )
    assert old.json()["error"] == "invalid_grant"  # rotation: the old one is dead


async def test_revoked_at_the_sandbox(live: LiveSandbox, tmp_path: Path) -> None:
    live.pair_into(tmp_path)
    live.control("tokens", {"revoke": True})
    async with httpx.AsyncClient() as http:
        store = TokenStore(tmp_path / "tokens.json", http)
        with pytest.raises(SignInExpiredError):
            await store.refresh()
