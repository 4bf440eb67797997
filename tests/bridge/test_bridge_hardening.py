"""What an attack probe and a flaky network found in the bridge, each held by a test.

Tokens left on disk, a guess limit that did not hold, a reloaded callback that
threw the tokens away, and the smaller findings.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import respx
from starlette.testclient import TestClient

from maestro.bridge.app import BridgeConfig, create_app, displayable_name
from maestro.bridge.grants import Grant
from maestro.bridge.server import DeadlineProtocol
from maestro.bridge.sqlite_store import SQLiteStore
from tests.bridge.helpers import BASE, CLIENT, Clock, approve_through_spotify, confirm_page, poll, start
from tests.live import LiveSandbox, free_port, wait_for_http
from tests.paths import README


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make(live_url: str, clock: Clock, tmp_path: Path, **extra: object) -> tuple[object, SQLiteStore]:
    store = SQLiteStore(tmp_path / "state" / "bridge.sqlite3")
    config = BridgeConfig(client_id=CLIENT, base_url=BASE, accounts_url=live_url, clock=clock, **extra)  # type: ignore[arg-type]
    return create_app(config, store), store


@pytest.fixture
def bridge(live: LiveSandbox, clock: Clock, tmp_path: Path) -> Iterator[TestClient]:
    app, _ = make(live.url, clock, tmp_path, per_ip_attempts=8, global_attempts=12)
    with TestClient(app, base_url=BASE) as client:  # type: ignore[arg-type]
        yield client


def from_address(app: object, address: str) -> TestClient:
    return TestClient(app, base_url=BASE, client=(address, 40000))  # type: ignore[arg-type]


# -- 1. tokens on disk ------------------------------------------------------------------------------


def test_the_store_is_private_and_holds_no_usable_token(
    live: LiveSandbox, clock: Clock, tmp_path: Path
) -> None:
    app, _ = make(live.url, clock, tmp_path)
    with TestClient(app, base_url=BASE) as bridge:  # type: ignore[arg-type]
        waiting, collected = start(bridge), start(bridge)
        for grant in (waiting, collected):
            assert "Done" in approve_through_spotify(bridge, live, grant["user_code"]).text
        clock.now += 6
        tokens = poll(bridge, collected["device_code"]).json()
        files = [p for p in (tmp_path / "state").iterdir()]
        assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
        assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files), {
            p.name: oct(p.stat().st_mode) for p in files
        }
        on_disk = b"".join(p.read_bytes() for p in files)
        # The delivered tokens are gone, and the approved-but-uncollected ones are sealed:
        # nothing in the files refreshes or plays.
        assert (
            tokens["refresh_token"].encode() not in on_disk and tokens["access_token"].encode() not in on_disk
        )
        assert b"refresh_token" not in on_disk and b"access_token" not in on_disk
        clock.now += 6
        assert poll(bridge, waiting["device_code"]).status_code == 200  # the device code still opens its own


def test_expired_grants_are_swept_on_a_timer(live: LiveSandbox, clock: Clock, tmp_path: Path) -> None:
    from maestro.bridge import app as bridge_app

    app, store = make(live.url, clock, tmp_path)
    original = bridge_app.SWEEP_EVERY_S
    bridge_app.SWEEP_EVERY_S = 0.05
    try:
        with TestClient(app, base_url=BASE) as bridge:  # type: ignore[arg-type]
            grant = start(bridge)
            clock.now += 600 + 3601
            deadline = time.monotonic() + 5
            code = grant["user_code"].replace("-", "")
            while asyncio.run(store.by_user_code(code, clock.now - 5000)) and time.monotonic() < deadline:
                time.sleep(0.05)  # no new authorisation arrives: the timer alone sweeps
            assert asyncio.run(store.by_user_code(code, clock.now - 5000)) is None
    finally:
        bridge_app.SWEEP_EVERY_S = original


def test_the_refresh_proxy_is_limited_per_address(live: LiveSandbox, clock: Clock, tmp_path: Path) -> None:
    app, _ = make(live.url, clock, tmp_path, refresh_per_ip=3)
    with from_address(app, "198.51.100.7") as bridge:
        answers = [
            bridge.post(
                "/token", data={"grant_type": "refresh_token", "refresh_token": "stolen", "client_id": CLIENT}
            )
            for _ in range(5)
        ]
    assert [a.status_code for a in answers[:3]] == [400, 400, 400]  # asked Spotify (which said no)
    assert {a.status_code for a in answers[3:]} == {429} and "retry-after" in answers[3].headers


# -- 2. the guess limit -----------------------------------------------------------------------------


def test_one_address_gets_exactly_its_guesses(live: LiveSandbox, clock: Clock, tmp_path: Path) -> None:
    app, _ = make(live.url, clock, tmp_path, per_ip_attempts=20, global_attempts=600)
    with from_address(app, "203.0.113.9") as bridge:
        statuses = [bridge.get("/pair", params={"code": f"BCDF-{n:04d}"}).status_code for n in range(150)]
    assert statuses.count(404) == 20 and statuses.count(429) == 130  # 55-57 of 150 went through before


def test_the_window_slides(live: LiveSandbox, clock: Clock, tmp_path: Path) -> None:
    """A fixed window let 2x the limit through across a window boundary; a sliding one does not."""
    app, _ = make(live.url, clock, tmp_path, per_ip_attempts=10, global_attempts=600, attempt_window_s=600)
    evaluated = 0
    with from_address(app, "203.0.113.10") as bridge:
        for _ in range(40):  # 40 tries spread over 20 minutes
            clock.now += 30
            evaluated += bridge.get("/pair", params={"code": "BCDF-GHJK"}).status_code == 404
    assert evaluated == 20  # 10 in each 10 minutes, never more in any 10-minute span


def test_many_addresses_share_the_wrong_code_budget_but_the_link_always_works(
    live: LiveSandbox, clock: Clock, tmp_path: Path
) -> None:
    app, _ = make(live.url, clock, tmp_path, per_ip_attempts=5, global_attempts=30)
    with TestClient(app, base_url=BASE) as device:  # type: ignore[arg-type]
        grant = start(device)
        wrong = 0
        for n in range(20):  # an attacker with 20 addresses, 5 guesses each
            with from_address(app, f"192.0.2.{n}") as attacker:
                wrong += sum(
                    attacker.get("/pair", params={"code": f"ZZZZ-{i:04d}"}).status_code == 404
                    for i in range(5)
                )
        assert wrong == 30  # exactly the global budget
        with from_address(app, "198.51.100.1") as user:
            typed = user.get("/pair", params={"code": grant["user_code"]})
            assert typed.status_code == 429 and "Scan the QR code" in typed.text
            link = user.get(urlsplit(grant["verification_uri_complete"]).path)
            assert link.status_code == 200 and "Continue to Spotify" in link.text  # the right user gets in
            forged = user.get(f"/p/{grant['user_code'].replace('-', '')}{'A' * 16}")
            assert forged.status_code in (404, 429)  # a wrong link secret is just a guess


def test_a_parallel_burst_never_overshoots(live: LiveSandbox, clock: Clock, tmp_path: Path) -> None:
    """The read-then-increment race let 14 through a 12-per-window limit in the PHP proxy."""
    app, _ = make(live.url, clock, tmp_path, per_ip_attempts=12, global_attempts=600)
    barrier = threading.Barrier(16)
    results: list[int] = []

    def guess(n: int) -> None:
        with from_address(app, "203.0.113.50") as bridge:
            barrier.wait()
            for i in range(4):
                results.append(bridge.get("/pair", params={"code": f"BC{n:02d}-{i:04d}"}).status_code)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(404) == 12 and results.count(429) == 64 - 12


def test_device_authorization_is_limited_per_address(live: LiveSandbox, clock: Clock, tmp_path: Path) -> None:
    app, _ = make(live.url, clock, tmp_path, authorize_per_ip=5)
    with from_address(app, "203.0.113.77") as bridge:
        answers = [bridge.post("/device/authorize", data={"client_id": CLIENT}) for _ in range(8)]
    assert [a.status_code for a in answers] == [200] * 5 + [429] * 3
    assert answers[-1].json()["error"] == "slow_down" and "retry-after" in answers[-1].headers


def test_documented_guess_chance_matches_the_measured_limit() -> None:
    config = BridgeConfig(client_id="x", base_url="https://b")
    # Measured above: global_attempts wrong guesses in any attempt_window_s, and a code lives one window.
    assert config.code_ttl_s <= config.attempt_window_s
    assert config.guess_odds() == pytest.approx(600 / 20**8)
    readme = README.read_text()
    assert "2.3·10^-8" in readme and "sliding" in readme


# -- 3. a reloaded callback -------------------------------------------------------------------------


@pytest.mark.slow
def test_reloading_the_callback_while_spotify_is_slow_keeps_the_tokens(
    live: LiveSandbox, clock: Clock, tmp_path: Path
) -> None:
    app, _ = make(live.url, clock, tmp_path)
    with TestClient(app, base_url=BASE) as bridge:  # type: ignore[arg-type]
        grant = start(bridge)
        _page, csrf = confirm_page(bridge, grant["user_code"])
        form = {"code": grant["user_code"], "csrf": csrf, "decision": "approve"}
        location = bridge.post("/pair", data=form, follow_redirects=False).headers["location"]
        back = httpx.get(location + "&sandbox_decision=approve", follow_redirects=False).headers["location"]
        live.control("faults", {"status": 0, "count": 1, "latency_ms": 1500, "path": "/api/token"})
        pages: dict[str, str] = {}

        def open_callback(name: str) -> None:  # another tab of the same browser: the same cookies
            with TestClient(app, base_url=BASE, cookies=bridge.cookies) as tab:  # type: ignore[arg-type]
                pages[name] = tab.get(f"/callback?{urlsplit(back).query}").text

        first = threading.Thread(target=open_callback, args=("first",))
        first.start()
        time.sleep(0.5)  # Spotify is still answering the first one
        open_callback("reload")
        first.join()
    assert "Already done" in pages["reload"] and "Done" in pages["first"]
    assert "Not connected" not in pages["reload"] + pages["first"]
    clock.now += 6
    with TestClient(app, base_url=BASE) as bridge:  # type: ignore[arg-type]
        assert poll(bridge, grant["device_code"]).status_code == 200


# -- 4. the smaller findings ------------------------------------------------------------------------


def test_refresh_answered_with_non_json_is_an_error(clock: Clock, tmp_path: Path) -> None:
    app, _ = make("https://accounts.example", clock, tmp_path)
    with respx.mock(assert_all_called=True) as mock:
        mock.post("https://accounts.example/api/token").respond(200, text="<html>maintenance</html>")
        with TestClient(app, base_url=BASE) as bridge:  # type: ignore[arg-type]
            answer = bridge.post(
                "/token", data={"grant_type": "refresh_token", "refresh_token": "r", "client_id": CLIENT}
            )
    assert answer.status_code == 502 and answer.json()["error"] == "temporarily_unavailable"


async def test_a_user_code_held_by_an_expired_unswept_grant_is_reused(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "b.db")

    def grant(gid: str, expires: float) -> Grant:
        return Grant(gid, "BCDFGHJK", CLIENT, "s", "box", "pending", expires, 5, None)

    assert await store.add(grant("a", 100.0), now=50.0)
    assert not await store.add(grant("b", 200.0), now=60.0)  # still live: pick another code
    assert await store.add(grant("c", 900.0), now=150.0)  # expired, not swept: the code is free (was a 500)
    assert (await store.by_user_code("BCDFGHJK", 150.0)).id == "c"  # type: ignore[union-attr]


def test_trailing_slash_does_not_reflect_the_host(bridge: TestClient) -> None:
    answer = bridge.get("/pair/?code=BCDF-GHJK", headers={"Host": "evil.example"}, follow_redirects=False)
    assert answer.status_code == 307 and answer.headers["location"] == "/pair?code=BCDF-GHJK"


def test_a_bad_db_path_is_named(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[bridge]\nclient_id = "my-app"\n')
    (tmp_path / "not-a-db").write_text("hello, I am a text file" * 100)
    env = {**os.environ, "MAESTRO_CONFIG": str(tmp_path / "config.toml"), "MAESTRO_STATE_DIR": str(tmp_path)}
    for db in ("/proc/nope/bridge.db", str(tmp_path / "not-a-db")):
        result = subprocess.run([sys.executable, "-m", "maestro", "bridge", "serve", "--db", db],
                                capture_output=True, text=True, env=env, timeout=30)  # fmt: skip
        assert result.returncode == 2 and db in result.stderr and "Traceback" not in result.stderr


def test_errors_carry_the_security_headers_and_one_log_line(
    live: LiveSandbox, clock: Clock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app, store = make(live.url, clock, tmp_path)

    async def broken(*args: object) -> None:
        raise RuntimeError("a bug")

    store.by_user_code = broken  # type: ignore[method-assign]
    with TestClient(app, base_url=BASE, raise_server_exceptions=False) as bridge:  # type: ignore[arg-type]
        answer = bridge.get("/pair", params={"code": "BCDF-GHJK"})
    assert answer.status_code == 500
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["x-frame-options"] == "DENY"


async def test_a_client_that_leaves_mid_body_is_one_line(
    live: LiveSandbox, clock: Clock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app, _ = make(live.url, clock, tmp_path)
    caplog.set_level(logging.INFO)
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http", "method": "POST", "path": "/pair", "query_string": b"", "client": ("1.2.3.4", 1),
        "headers": [(b"content-type", b"application/x-www-form-urlencoded"), (b"content-length", b"100")],
        "server": ("bridge", 80), "scheme": "http", "root_path": "", "http_version": "1.1",
    }  # fmt: skip
    await app(scope, receive, send)  # type: ignore[operator]
    ours = [r for r in caplog.records if r.name.startswith(("maestro", "starlette", "uvicorn"))]
    assert len(ours) == 1 and "went away" in ours[0].getMessage() and not ours[0].exc_info


@pytest.mark.slow
def test_slow_headers_are_cut_off(live: LiveSandbox, clock: Clock, tmp_path: Path) -> None:
    import uvicorn

    from maestro.bridge.server import uvicorn_options

    app, _ = make(live.url, clock, tmp_path)
    port = free_port()
    DeadlineProtocol.read_deadline_s = 1.0
    server = uvicorn.Server(uvicorn.Config(app, **uvicorn_options(host="127.0.0.1", port=port)))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz")
        with socket.create_connection(("127.0.0.1", port), timeout=5) as slow:
            slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            started = time.monotonic()
            for _ in range(20):  # one header line a second, never finishing
                time.sleep(0.25)
                try:
                    slow.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    break
            closed = slow.recv(1) == b""
        assert closed and time.monotonic() - started < 3  # was held for 60 s and more
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200  # others still served
    finally:
        DeadlineProtocol.read_deadline_s = 10.0
        server.should_exit = True
        thread.join(timeout=5)


def test_two_tabs_on_two_codes_both_work(bridge: TestClient, live: LiveSandbox) -> None:
    first, second = start(bridge), start(bridge)
    _p1, csrf1 = confirm_page(bridge, first["user_code"])
    confirm_page(bridge, second["user_code"])  # the same browser, another tab
    answer = bridge.post("/pair", data={"code": first["user_code"], "csrf": csrf1, "decision": "approve"},
                         follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303, answer.text  # the second tab did not overwrite the first's cookie


def test_device_names_lose_control_and_bidi_characters(bridge: TestClient) -> None:
    assert displayable_name("Living\r\nRoom\x00\u202egnp.exe") == "Living Room gnp.exe"
    grant = start(bridge, device_name="Kids\u202e Room\n<b>")
    page, _ = confirm_page(bridge, grant["user_code"])
    assert "\u202e" not in page.text and "Kids Room &lt;b&gt;" in page.text


def test_store_failure_is_a_503_with_retry_after(live: LiveSandbox, clock: Clock, tmp_path: Path) -> None:
    from maestro.bridge.grants import StoreUnavailableError

    app, store = make(live.url, clock, tmp_path)

    async def down(*args: object) -> None:
        raise StoreUnavailableError("connection refused")

    store.poll = down  # type: ignore[method-assign]
    store.health = down  # type: ignore[method-assign]
    with TestClient(app, base_url=BASE) as bridge:  # type: ignore[arg-type]
        answer = poll(bridge, "some-device-code")
        health = bridge.get("/healthz")
    assert (
        answer.status_code == 503
        and answer.headers["retry-after"]
        and answer.json()["error"] == "temporarily_unavailable"
    )
    assert health.status_code == 503 and health.json() == {
        "ok": False,
        "store": "sqlite",
        "problem": "unreachable",
    }


def test_the_link_from_the_box_skips_typing(bridge: TestClient) -> None:
    grant = start(bridge)
    link = urlsplit(grant["verification_uri_complete"])
    assert grant["user_code"].replace("-", "") in link.path
    assert bridge.get(link.path).status_code == 200
