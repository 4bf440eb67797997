"""The retry and error policy of the Web API client, with respx (no server)."""

from __future__ import annotations

import logging

import httpx
import pytest
import respx

from maestro.errors import (
    AuthError,
    NoActiveDeviceError,
    PremiumRequiredError,
    RateLimitedError,
    RestrictedError,
    SpotifyRequestError,
    SpotifyUnavailableError,
)
from maestro.spotify.client import RetryPolicy, SpotifyClient

API = "https://api.spotify.com/v1"
SECRET = "at-SECRET-123"


class FakeTokens:
    def __init__(self) -> None:
        self.current = SECRET
        self.refreshes = 0

    async def access_token(self) -> str:
        return self.current

    async def refresh(self, failed_token: str | None = None) -> str:
        self.refreshes += 1
        self.current = f"{SECRET}-{self.refreshes}"
        return self.current


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
async def client(sleeps: list[float]):
    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async with httpx.AsyncClient() as http:
        yield SpotifyClient(API, FakeTokens(), http, sleep=fake_sleep, jitter=lambda: 0.5)


def error(status: int, message: str = "", reason: str | None = None, **headers: str) -> httpx.Response:
    body: dict = {"status": status, "message": message}
    if reason:
        body["reason"] = reason
    return httpx.Response(status, json={"error": body}, headers=headers)


@respx.mock
async def test_success_and_204(client: SpotifyClient) -> None:
    respx.get(f"{API}/me").respond(json={"id": "me"})
    respx.put(f"{API}/me/player/pause").respond(204)
    assert await client.get("me") == {"id": "me"}
    assert await client.request("PUT", "me/player/pause") is None


@respx.mock
async def test_bearer_header_and_refresh_once_on_401(client: SpotifyClient) -> None:
    route = respx.get(f"{API}/me").mock(
        side_effect=[error(401, "The access token expired"), httpx.Response(200, json={})]
    )
    await client.get("me")
    assert route.calls[0].request.headers["authorization"] == f"Bearer {SECRET}"
    assert route.calls[1].request.headers["authorization"] == f"Bearer {SECRET}-1"
    assert client.tokens.refreshes == 1


@respx.mock
async def test_401_after_refresh_is_an_auth_error(client: SpotifyClient) -> None:
    respx.get(f"{API}/me").mock(return_value=error(401, "Invalid access token"))
    with pytest.raises(AuthError):
        await client.get("me")
    assert client.tokens.refreshes == 1


@respx.mock
async def test_429_waits_retry_after(client: SpotifyClient, sleeps: list[float]) -> None:
    respx.get(f"{API}/me").mock(
        side_effect=[error(429, **{"Retry-After": "2"}), httpx.Response(200, json={})]
    )
    assert await client.get("me") == {}
    assert sleeps == [2.0]


@respx.mock
async def test_429_too_long_is_not_waited(client: SpotifyClient, sleeps: list[float]) -> None:
    respx.get(f"{API}/me").mock(return_value=error(429, **{"Retry-After": "60"}))
    with pytest.raises(RateLimitedError) as info:
        await client.get("me")
    assert info.value.retry_after == 60 and sleeps == []
    assert "60 seconds" in str(info.value)


@respx.mock
async def test_503_twice_then_success_backs_off(client: SpotifyClient, sleeps: list[float]) -> None:
    route = respx.get(f"{API}/me").mock(side_effect=[error(503), error(503), httpx.Response(200, json={})])
    assert await client.get("me") == {}
    assert route.call_count == 3
    assert sleeps == [0.1875, 0.375]  # 0.25 * 2^n, half jittered (jitter 0.5)


@respx.mock
async def test_persistent_5xx_gives_up_within_the_budget(client: SpotifyClient, sleeps: list[float]) -> None:
    respx.get(f"{API}/me").mock(return_value=error(500))
    with pytest.raises(SpotifyUnavailableError):
        await client.get("me")
    assert sum(sleeps) <= RetryPolicy().budget_s
    assert len(sleeps) >= 3


@respx.mock
async def test_jitter_spreads_waits(sleeps: list[float]) -> None:
    respx.get(f"{API}/me").mock(side_effect=[error(502), httpx.Response(200, json={})])

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async with httpx.AsyncClient() as http:
        low = SpotifyClient(API, FakeTokens(), http, sleep=fake_sleep, jitter=lambda: 0.0)
        await low.get("me")
        respx.get(f"{API}/me").mock(side_effect=[error(502), httpx.Response(200, json={})])
        high = SpotifyClient(API, FakeTokens(), http, sleep=fake_sleep, jitter=lambda: 1.0)
        await high.get("me")
    assert sleeps == [0.125, 0.25]


@respx.mock
async def test_network_errors_retry_reads_but_not_timed_out_posts(client: SpotifyClient) -> None:
    reads = respx.get(f"{API}/me").mock(side_effect=[httpx.ReadTimeout("slow"), httpx.Response(200, json={})])
    assert await client.get("me") == {}
    assert reads.call_count == 2
    skip = respx.post(f"{API}/me/player/next").mock(
        side_effect=[httpx.ReadTimeout("slow"), httpx.Response(204)]
    )
    with pytest.raises(SpotifyUnavailableError):
        await client.request("POST", "me/player/next")
    assert skip.call_count == 1  # it may have skipped already: never skip twice
    connect = respx.post(f"{API}/me/player/previous").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(204)]
    )
    await client.request("POST", "me/player/previous")
    assert connect.call_count == 2  # never reached Spotify: safe to repeat


@pytest.mark.parametrize(
    ("response", "kind", "words"),
    [
        (
            error(403, "Player command failed: Premium required", "PREMIUM_REQUIRED"),
            PremiumRequiredError,
            "Premium",
        ),
        (error(403, "", "VOLUME_CONTROL_DISALLOW"), RestrictedError, "volume"),
        (error(403, "", "ALREADY_PAUSED"), RestrictedError, "already paused"),
        (
            error(404, "Player command failed: No active device found", "NO_ACTIVE_DEVICE"),
            NoActiveDeviceError,
            "No speaker",
        ),
        (error(404, "Not found"), SpotifyRequestError, "couldn't find"),
        (error(400, "Invalid limit"), SpotifyRequestError, "Invalid limit"),
    ],
)
@respx.mock
async def test_errors_become_ours(
    client: SpotifyClient, response: httpx.Response, kind: type, words: str
) -> None:
    respx.put(f"{API}/me/player/volume").mock(return_value=response)
    with pytest.raises(kind) as info:
        await client.request("PUT", "me/player/volume", params={"volume_percent": 10})
    assert words in str(info.value)


@respx.mock
async def test_no_token_in_logs_or_errors(client: SpotifyClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    respx.get(f"{API}/me").mock(side_effect=[httpx.ConnectError("refused")] * 10)
    with pytest.raises(SpotifyUnavailableError) as info:
        await client.get("me")
    chain = [info.value, info.value.__cause__]
    assert all(SECRET not in str(e) for e in chain)
    assert all(SECRET not in record.getMessage() for record in caplog.records)
    assert caplog.records  # it did log, just not the secret
