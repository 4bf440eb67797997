"""The bridge's stores: one contract, SQLite and Redis alike, and the bridge on several processes.

The Redis tests start their own redis-server on a unix socket (no persistence, nothing on the
network); `./dev setup` installs Debian's redis-server.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from starlette.testclient import TestClient

from maestro.bridge.app import BridgeConfig, create_app
from maestro.bridge.grants import BridgeStore, Grant, StoreUnavailableError
from maestro.bridge.redis_store import PREFIX, RedisStore
from maestro.bridge.sqlite_store import SQLiteStore
from tests.bridge.helpers import BASE, CLIENT, GRANT, Clock, RedisServer, serve
from tests.live import LiveSandbox, free_port

NOW = 1_800_000_000.0


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with tempfile.TemporaryDirectory(prefix="maestro-redis-") as directory:
        server = RedisServer(Path(directory))
        server.start()
        yield server
        server.stop()


@pytest.fixture(params=["sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BridgeStore]:
    if request.param == "sqlite":
        found: BridgeStore = SQLiteStore(tmp_path / "bridge.sqlite3")
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        found = RedisStore.from_url(server.url)
        await found.client.flushdb()  # type: ignore[attr-defined]
    yield found
    await found.close()


def grant(gid: str = "g1", code: str = "BCDFGHJK", expires: float = NOW + 600, **extra: object) -> Grant:
    fields = {"status": "pending", "interval": 5, "last_poll": None, **extra}
    return Grant(gid, code, CLIENT, "user-read-playback-state", "Kitchen box", expires_at=expires, **fields)  # type: ignore[arg-type]


# -- the contract, both stores ------------------------------------------------------------------


async def test_a_user_code_is_one_live_grant_at_a_time(store: BridgeStore) -> None:
    assert await store.add(grant("a", expires=NOW + 100), NOW)
    assert not await store.add(grant("b"), NOW + 10)  # live: pick another code
    found = await store.by_user_code("BCDFGHJK", NOW + 10)
    assert found is not None and found.id == "a" and found.device_name == "Kitchen box"
    assert await store.by_user_code("BCDFGHJK", NOW + 100) is None  # expired: not found by its code
    assert await store.add(grant("c", expires=NOW + 900), NOW + 150)  # and the code is free again
    assert (await store.by_user_code("BCDFGHJK", NOW + 150)).id == "c"  # type: ignore[union-attr]


async def test_polling_too_fast_slows_the_device_down(store: BridgeStore) -> None:
    await store.add(grant(), NOW)
    first, too_fast = await store.poll("g1", NOW)
    assert first is not None and not too_fast and first.interval == 5
    second, too_fast = await store.poll("g1", NOW + 1)
    assert too_fast and second.interval == 10  # type: ignore[union-attr]
    third, too_fast = await store.poll("g1", NOW + 12)
    assert not too_fast and third.interval == 10 and third.last_poll == NOW + 12  # type: ignore[union-attr]
    assert await store.poll("unknown", NOW) == (None, False)


async def test_tokens_are_handed_out_once_to_many_pollers_at_once(store: BridgeStore) -> None:
    await store.add(grant(), NOW)
    approved = await store.by_user_code("BCDFGHJK", NOW)
    assert approved is not None
    approved.status, approved.sealed_tokens, approved.state_hash = "approved", "sealed-box", "state-hash"
    await store.update(approved)
    taken = await asyncio.gather(*(store.take_tokens("g1") for _ in range(30)))
    assert taken.count("sealed-box") == 1 and taken.count(None) == 29
    delivered, _ = await store.poll("g1", NOW)  # the tokens are gone with their delivery
    assert delivered is not None and delivered.status == "delivered" and delivered.sealed_tokens is None
    assert (await store.by_state("state-hash", NOW)).status == "delivered"  # type: ignore[union-attr]


async def test_an_oauth_state_is_claimed_once(store: BridgeStore) -> None:
    await store.add(grant(), NOW)
    authorizing = await store.by_user_code("BCDFGHJK", NOW)
    assert authorizing is not None
    authorizing.status, authorizing.state_hash = "authorizing", "state-hash"
    await store.update(authorizing)
    claims = await asyncio.gather(*(store.claim_state("state-hash", NOW + 1) for _ in range(30)))
    assert [claimed for _, claimed in claims].count(True) == 1
    assert all(found is not None and found.id == "g1" for found, _ in claims)
    assert (await store.by_user_code("BCDFGHJK", NOW + 1)).status == "exchanging"  # type: ignore[union-attr]
    assert await store.claim_state("another", NOW) == (None, False)


async def test_a_burst_of_hits_never_overshoots_the_limit(store: BridgeStore) -> None:
    tickets = await asyncio.gather(*(store.hit("pair:198.51.100.7", 12, 600, NOW) for _ in range(60)))
    taken = [t for t in tickets if t]
    assert len(taken) == 12  # not 13: no read-then-increment window
    assert await store.hit("pair:198.51.100.7", 12, 600, NOW + 1) is None
    await store.release("pair:198.51.100.7", taken[0])
    assert await store.hit("pair:198.51.100.7", 12, 600, NOW + 1)  # a slot given back
    assert await store.hit("pair:198.51.100.7", 12, 600, NOW + 600.5)  # the window slid on
    assert await store.hit("pair:elsewhere", 12, 600, NOW)  # other keys count apart


async def test_after_the_clock_steps_back_limits_free_up_a_window_later(store: BridgeStore) -> None:
    assert await store.hit("pair:a", 2, 600, NOW) and await store.hit("pair:a", 2, 600, NOW)
    back = NOW - 3600  # NTP stepped the clock back an hour
    assert await store.hit("pair:a", 2, 600, back) is None  # still counted: no free guesses
    assert await store.hit("pair:a", 2, 600, back + 601)  # free a window later, not after 70 minutes


async def test_an_expired_grant_still_answers_a_late_poll(store: BridgeStore) -> None:
    await store.add(grant(expires=NOW + 600), NOW)
    late, _ = await store.poll("g1", NOW + 700)
    assert late is not None and late.expires_at == NOW + 600  # the bridge says expired_token


# -- Redis: what expires by itself, and what happens when it is gone ------------------------------


async def test_redis_keys_expire_by_themselves_and_delivery_leaves_nothing(redis_server: RedisServer) -> None:
    store = RedisStore.from_url(redis_server.url)
    try:
        await store.client.flushdb()
        await store.add(grant(expires=NOW + 600), NOW)
        await store.hit("authorize:203.0.113.9", 20, 600, NOW)
        ttl = {key: await store.client.pttl(key) for key in await store.client.keys(PREFIX + "*")}
        assert 599_000 < ttl[f"{PREFIX}u:BCDFGHJK"] <= 600_000
        assert 599_000 < ttl[f"{PREFIX}g:g1"] <= 600_000  # a grant lives as long as its code, no longer
        assert 0 < ttl[f"{PREFIX}h:authorize:203.0.113.9"] <= 600_000
        approved = await store.by_user_code("BCDFGHJK", NOW)
        approved.status, approved.sealed_tokens, approved.state_hash = "approved", "sealed", "st"  # type: ignore[union-attr]
        await store.update(approved)  # type: ignore[arg-type]
        assert 0 < await store.client.pttl(f"{PREFIX}s:st") <= ttl[f"{PREFIX}g:g1"]
        assert await store.take_tokens("g1") == "sealed"
        kept = await store.client.get(f"{PREFIX}g:g1")
        assert '"delivered"' in kept and "sealed" not in kept  # no token remains, only the outcome
        assert await store.client.pttl(f"{PREFIX}g:g1") <= ttl[f"{PREFIX}g:g1"]  # gone with the code
    finally:
        await store.close()


async def test_an_unreachable_redis_is_store_unavailable_not_a_crash(tmp_path: Path) -> None:
    store = RedisStore.from_url(f"unix://{tmp_path}/no-such.sock")
    try:
        for call in (
            store.health(),
            store.poll("g1", NOW),
            store.hit("k", 1, 60, NOW),
            store.add(grant(), NOW),
        ):
            with pytest.raises(StoreUnavailableError, match="Redis at unix://"):
                await call
    finally:
        await store.close()


def test_a_store_maestro_cannot_use_is_named(tmp_path: Path) -> None:
    from maestro.bridge.stores import open_store
    from maestro.errors import UsageError

    for spec in ("mysql://db/bridge", "redis://bridge:s3cret@host:notaport/0"):
        with pytest.raises(UsageError, match=r"bridge\.store") as refused:
            open_store(spec, tmp_path / "b.db")
        assert "s3cret" not in str(refused.value)
    assert not list(tmp_path.iterdir())  # nothing made on the way


def test_redis_passwords_stay_out_of_messages() -> None:
    store = RedisStore.from_url("redis://bridge:s3cret-pass@redis.internal:6380/2")
    assert "s3cret-pass" not in store.url and store.url == "redis://bridge:***@redis.internal:6380/2"


def test_redis_down_means_503_and_retry_after_to_devices(live: LiveSandbox, tmp_path: Path) -> None:
    config = BridgeConfig(client_id=CLIENT, base_url=BASE, accounts_url=live.url, clock=Clock())
    app = create_app(config, RedisStore.from_url(f"unix://{tmp_path}/no-such.sock"))
    with TestClient(app, base_url=BASE) as bridge:
        poll = bridge.post("/token", data={"grant_type": GRANT, "device_code": "x" * 43, "client_id": CLIENT})
        start = bridge.post("/device/authorize", data={"client_id": CLIENT})
        health = bridge.get("/healthz")
        page = bridge.get("/pair", params={"code": "BCDF-GHJK"})
    for answer in (poll, start):
        assert answer.status_code == 503 and answer.headers["retry-after"]
        assert answer.json()["error"] == "temporarily_unavailable"
    assert health.status_code == 503 and health.json() == {
        "ok": False,
        "store": "redis",
        "problem": "unreachable",
    }
    assert page.status_code == 503 and "Try again" in page.text


# -- two bridge processes on one Redis ------------------------------------------------------------


@pytest.fixture
def two_bridges(live: LiveSandbox, redis_server: RedisServer, tmp_path: Path) -> Iterator[tuple[str, str]]:
    (tmp_path / "config.toml").write_text("")
    ports = free_port(), free_port()
    processes = [serve(port, tmp_path, live, redis_server.url) for port in ports]
    try:
        yield f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}"
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)


def poll_at(url: str, device_code: str) -> httpx.Response:
    return httpx.post(
        f"{url}/token", data={"grant_type": GRANT, "device_code": device_code, "client_id": CLIENT}
    )


def test_a_pairing_alternating_between_two_instances_delivers_once(
    two_bridges: tuple[str, str], live: LiveSandbox
) -> None:
    a, b = two_bridges
    started = httpx.post(f"{a}/device/authorize", data={"client_id": CLIENT}).json()
    assert poll_at(b, started["device_code"]).json()["error"] == "authorization_pending"
    browser = httpx.Client()  # one phone: its cookies go to either instance (one host)
    page = browser.get(f"{b}/pair", params={"code": started["user_code"]})  # rendered by B
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert page.status_code == 200 and csrf, page.text
    to_spotify = browser.post(f"{a}/pair", data={"code": started["user_code"], "csrf": csrf.group(1),
                              "decision": "approve"})  # fmt: skip
    assert to_spotify.status_code == 303, to_spotify.text  # A accepts B's form: one shared secret
    back = httpx.get(to_spotify.headers["location"] + "&" + urlencode({"sandbox_decision": "approve"}))
    callback = urlsplit(back.headers["location"])
    done = browser.get(f"{b}/callback?{callback.query}")  # the callback lands on B
    assert done.status_code == 200 and "Done" in done.text
    again = browser.get(f"{a}/callback?{callback.query}")  # a reload on A exchanges nothing twice
    assert again.status_code == 200 and "Already done" in again.text
    time.sleep(0.1)
    answers = [poll_at(url, started["device_code"]) for url in (a, b, a, b)]
    delivered = [answer for answer in answers if answer.status_code == 200]
    assert len(delivered) == 1 and delivered[0].json()["access_token"]
    assert all(answer.json()["error"] == "invalid_grant" for answer in answers if answer.status_code != 200)


def test_parallel_polls_on_two_instances_deliver_exactly_once(
    two_bridges: tuple[str, str], live: LiveSandbox
) -> None:
    a, b = two_bridges
    started = httpx.post(f"{a}/device/authorize", data={"client_id": CLIENT}).json()
    browser = httpx.Client()
    page = browser.get(f"{a}/pair", params={"code": started["user_code"]})
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)  # type: ignore[union-attr]
    to_spotify = browser.post(f"{a}/pair", data={"code": started["user_code"], "csrf": csrf,
                              "decision": "approve"})  # fmt: skip
    back = httpx.get(to_spotify.headers["location"] + "&" + urlencode({"sandbox_decision": "approve"}))
    assert browser.get(f"{b}/callback?{urlsplit(back.headers['location']).query}").status_code == 200

    async def race() -> list[int]:
        async with httpx.AsyncClient() as http:
            answers = await asyncio.gather(*(
                http.post(f"{url}/token", data={"grant_type": GRANT, "device_code": started["device_code"],
                                               "client_id": CLIENT})
                for url in [a, b] * 10
            ))  # fmt: skip
        return [answer.status_code for answer in answers]

    statuses = asyncio.run(race())
    assert statuses.count(200) == 1 and statuses.count(400) == 19


def test_a_redis_restart_mid_pairing_tells_the_device_to_start_again(
    live: LiveSandbox, tmp_path: Path
) -> None:
    server = RedisServer(tmp_path)
    server.start()
    (tmp_path / "config.toml").write_text("")
    port = free_port()
    bridge = serve(port, tmp_path, live, server.url)
    url = f"http://127.0.0.1:{port}"
    try:
        started = httpx.post(f"{url}/device/authorize", data={"client_id": CLIENT}).json()
        server.stop()
        down = poll_at(url, started["device_code"])
        assert down.status_code == 503 and down.headers["retry-after"]  # come back later, nothing lost yet
        assert httpx.get(f"{url}/healthz").status_code == 503
        server.start()  # no persistence: the pairing is forgotten
        after = poll_at(url, started["device_code"])
        assert after.status_code == 400 and after.json()["error"] == "expired_token"  # the box asks anew
        again = httpx.post(f"{url}/device/authorize", data={"client_id": CLIENT})
        assert again.status_code == 200 and httpx.get(f"{url}/healthz").json() == {
            "ok": True,
            "store": "redis",
        }
    finally:
        bridge.terminate()
        bridge.wait(timeout=10)
        server.stop()


@pytest.mark.slow
def test_workers_share_one_redis(live: LiveSandbox, redis_server: RedisServer, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("")
    port = free_port()
    bridge = serve(port, tmp_path, live, redis_server.url, workers=2)
    try:
        url = f"http://127.0.0.1:{port}"
        codes = [httpx.post(f"{url}/device/authorize", data={"client_id": CLIENT}).json() for _ in range(6)]
        answers = {poll_at(url, c["device_code"]).json()["error"] for c in codes}
        assert answers == {"authorization_pending"}  # whichever worker answered knew every code
    finally:
        bridge.terminate()
        out, err = bridge.communicate(timeout=20)
    assert "2 workers" in out and "Traceback" not in err


def test_a_short_secret_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[bridge]\nclient_id = "my-app"\nsecret = "short"\n')
    env = {**os.environ, "MAESTRO_CONFIG": str(tmp_path / "config.toml"), "MAESTRO_STATE_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "maestro", "bridge", "serve"], capture_output=True,
                            text=True, env=env, timeout=30)  # fmt: skip
    assert result.returncode == 2 and "bridge.secret is too short" in result.stderr
    assert "short" not in result.stderr.replace("too short", "")  # the secret itself is never echoed


def test_the_form_secret_is_made_once_and_private(tmp_path: Path) -> None:
    from maestro.bridge.server import form_secret
    from maestro.config import BridgeSettings

    settings = BridgeSettings(secret_file=str(tmp_path / "secret"))
    first, made = form_secret(settings)
    second, again = form_secret(settings)
    assert first == second and len(first) >= 32 and "Every instance" in made and again == ""
    assert (tmp_path / "secret").stat().st_mode & 0o077 == 0
    assert [p.name for p in tmp_path.iterdir()] == ["secret"]  # no temporary file left behind
