"""The second attack-and-fault probe of the bridge, each finding held by a test over real HTTP.

A stolen sign-in link, Spotify's transient trouble, a code stuck half-way, a store
that fills up, headers without end, and the smaller points (where a form comes from,
https-only cookies and HSTS, a clock that steps back, waiting longer than the box).
"""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.testclient import TestClient

from maestro.auth.tokens import REFRESH_TIMEOUT_S
from maestro.bridge.app import BridgeConfig, create_app
from maestro.bridge.server import MAX_HEADER_BYTES, uvicorn_options
from maestro.bridge.sqlite_store import SQLiteStore
from maestro.serving import serve_in_thread
from tests.bridge.helpers import CLIENT, GRANT
from tests.live import LiveSandbox, free_port, wait_for_http

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


@dataclass
class Served:
    base: str
    store: SQLiteStore

    def start(self, **extra: str) -> dict:
        answer = httpx.post(f"{self.base}/device/authorize", data={"client_id": CLIENT, **extra})
        assert answer.status_code == 200, answer.text
        return answer.json()

    def poll(self, device_code: str) -> httpx.Response:
        return httpx.post(
            f"{self.base}/token", data={"grant_type": GRANT, "device_code": device_code, "client_id": CLIENT}
        )


@contextlib.contextmanager
def served(
    live: LiveSandbox, tmp_path: Path, serving: dict[str, object] | None = None, **options: object
) -> Iterator[Served]:
    """The bridge on a real port, served as `maestro bridge serve` serves it (plus ``serving``)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    live.state.redirect_uris = (*live.state.redirect_uris, "http://127.0.0.1/callback")
    store = SQLiteStore(tmp_path / "bridge.sqlite3")
    config = BridgeConfig(client_id=CLIENT, base_url=base, accounts_url=live.url, interval_s=1, **options)  # type: ignore[arg-type]
    extra = {**uvicorn_options(), **(serving or {})}
    extra.pop("loop")  # the test thread's own loop
    with serve_in_thread(create_app(config, store), port, **extra):
        yield Served(base, store)


def confirm(browser: httpx.Client, link: str) -> httpx.Response:
    """Open the pairing link and press "Continue to Spotify": the 303 to Spotify's authorize page."""
    page = browser.get(link)
    assert page.status_code == 200, page.text
    code = re.search(r'name="code" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    csrf = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    parts = urlsplit(link)
    to_spotify = browser.post(
        f"{parts.scheme}://{parts.netloc}/pair".lower(),
        data={"code": code, "csrf": csrf, "decision": "approve"},
    )
    assert to_spotify.status_code == 303, to_spotify.text
    return to_spotify


def agree_at_spotify(browser: httpx.Client, authorize: str) -> str:
    """The user agrees on Spotify's page (the sandbox's): the callback address it sends them to."""
    back = browser.get(authorize + "&sandbox_decision=approve")
    assert back.status_code == 302, back.text
    return back.headers["location"]


# -- 1. a sign-in link passed to another browser ----------------------------------------------------


@pytest.mark.slow
def test_a_link_passed_to_another_browser_never_delivers_the_victims_tokens(
    live: LiveSandbox, tmp_path: Path
) -> None:
    with served(live, tmp_path) as bridge:
        grant = bridge.start(device_name="Attacker box")
        with httpx.Client() as attacker, httpx.Client() as victim:
            to_spotify = confirm(attacker, grant["verification_uri_complete"])
            authorize = to_spotify.headers["location"]
            assert parse_qs(urlsplit(authorize).query)["show_dialog"] == ["true"]  # Spotify asks every time
            # The attacker sends `authorize` to the victim, who signs in at Spotify and comes back.
            callback = agree_at_spotify(victim, authorize)
            landed = victim.get(callback)
            assert landed.status_code == 403
            assert "started in another browser" in landed.text and "in front of you" in landed.text
            assert "Continue to Spotify" in landed.text and "Done" not in landed.text
            time.sleep(1.1)
            assert bridge.poll(grant["device_code"]).json()["error"] == "authorization_pending"
            # The victim's code was never exchanged, and replaying the address in the attacker's own
            # browser (which holds the cookie) finds the state gone: the code is useless.
            replay = attacker.get(callback)
            assert replay.status_code == 400 and "Done" not in replay.text
            time.sleep(1.1)
            assert bridge.poll(grant["device_code"]).json()["error"] == "authorization_pending"
            assert "access_token" not in bridge.poll(grant["device_code"]).text


@pytest.mark.slow
def test_the_browser_that_confirmed_finishes(live: LiveSandbox, tmp_path: Path) -> None:
    with served(live, tmp_path) as bridge:
        grant = bridge.start()
        with httpx.Client() as phone:
            callback = agree_at_spotify(
                phone, confirm(phone, grant["verification_uri_complete"]).headers["location"]
            )
            assert "Done — you can close this page" in phone.get(callback).text
            assert "Already done" in phone.get(callback).text  # a reload (issue 26, item 5)
            pasted = phone.post(f"{bridge.base}/pair/paste", data={"url": callback})
            assert pasted.status_code == 200 and "Already done" in pasted.text  # the address pasted again
        time.sleep(1.1)
        assert bridge.poll(grant["device_code"]).status_code == 200


# -- 2. Spotify's trouble during the exchange -------------------------------------------------------


@pytest.mark.slow
def test_a_passing_spotify_error_is_tried_again(live: LiveSandbox, tmp_path: Path) -> None:
    with served(live, tmp_path) as bridge, httpx.Client() as phone:
        grant = bridge.start()
        callback = agree_at_spotify(
            phone, confirm(phone, grant["verification_uri_complete"]).headers["location"]
        )
        live.control("faults", {"status": 500, "count": 1, "path": "/api/token"})
        assert "Done" in phone.get(callback).text
        time.sleep(1.1)
        assert bridge.poll(grant["device_code"]).status_code == 200


@pytest.mark.slow
def test_lasting_spotify_trouble_is_said_and_the_box_keeps_waiting(live: LiveSandbox, tmp_path: Path) -> None:
    with served(live, tmp_path) as bridge, httpx.Client() as phone:
        grant = bridge.start()
        callback = agree_at_spotify(
            phone, confirm(phone, grant["verification_uri_complete"]).headers["location"]
        )
        live.control("faults", {"status": 500, "count": 3, "path": "/api/token"})
        page = phone.get(callback)
        assert page.status_code == 502 and "Spotify had trouble" in page.text and "refused" not in page.text
        time.sleep(1.1)
        assert (
            bridge.poll(grant["device_code"]).json()["error"] == "authorization_pending"
        )  # not access_denied
        # The page carries the confirm form again: the same browser retries and finishes.
        csrf = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
        again = phone.post(f"{bridge.base}/pair", data={"code": grant["user_code"], "csrf": csrf,
                                                         "decision": "approve"})  # fmt: skip
        assert "Done" in phone.get(agree_at_spotify(phone, again.headers["location"])).text
        time.sleep(1.1)
        assert bridge.poll(grant["device_code"]).status_code == 200


# -- 3. a code left at Spotify's page, or confirmed twice -------------------------------------------


@pytest.mark.slow
def test_a_code_left_at_spotify_or_confirmed_twice_still_works(live: LiveSandbox, tmp_path: Path) -> None:
    with served(live, tmp_path) as bridge, httpx.Client() as phone:
        grant = bridge.start()
        first = confirm(phone, grant["verification_uri_complete"])  # ... and Spotify's page left unanswered
        second = confirm(phone, grant["verification_uri_complete"])  # the link opened again works
        typed = phone.get(f"{bridge.base}/pair", params={"code": grant["user_code"]})
        assert typed.status_code == 200 and "Continue to Spotify" in typed.text  # so does the typed code
        csrf = CSRF.search(typed.text).group(1)  # type: ignore[union-attr]
        form = {"code": grant["user_code"], "csrf": csrf, "decision": "approve"}
        twice = [phone.post(f"{bridge.base}/pair", data=form) for _ in range(2)]  # sent twice
        assert [answer.status_code for answer in twice] == [303, 303]
        stale = phone.get(agree_at_spotify(phone, first.headers["location"]))
        assert stale.status_code == 400 and "Start again" in stale.text  # replaced by a newer confirmation
        assert second.status_code == 303
        done = phone.get(agree_at_spotify(phone, twice[-1].headers["location"]))
        assert "Done" in done.text
        time.sleep(1.1)
        assert bridge.poll(grant["device_code"]).status_code == 200


# -- 4. a store that fills up -----------------------------------------------------------------------


def test_new_codes_have_a_global_budget_and_pairings_under_way_go_on(
    live: LiveSandbox, tmp_path: Path
) -> None:
    config = BridgeConfig(client_id=CLIENT, base_url="http://bridge.test", accounts_url=live.url,
                          authorize_global=3)  # fmt: skip
    live.state.redirect_uris = (*live.state.redirect_uris, "http://bridge.test/callback")
    app = create_app(config, SQLiteStore(tmp_path / "b.db"))
    answers = []
    for n in range(5):
        with TestClient(app, base_url="http://bridge.test", client=(f"203.0.113.{n}", 4000)) as box:
            answers.append(box.post("/device/authorize", data={"client_id": CLIENT}))
    assert [a.status_code for a in answers] == [200, 200, 200, 503, 503]
    assert answers[3].json()["error"] == "temporarily_unavailable" and answers[3].headers["retry-after"]
    first = answers[0].json()
    with TestClient(app, base_url="http://bridge.test") as phone:
        page = phone.get(urlsplit(first["verification_uri_complete"]).path)
        csrf = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
        form = {"code": first["user_code"], "csrf": csrf, "decision": "approve"}
        to_spotify = phone.post("/pair", data=form, follow_redirects=False)
        back = httpx.get(to_spotify.headers["location"] + "&sandbox_decision=approve").headers["location"]
        assert "Done" in phone.get(back.removeprefix("http://bridge.test")).text
        token = phone.post("/token", data={"grant_type": GRANT, "device_code": first["device_code"],
                                           "client_id": CLIENT})  # fmt: skip
    assert token.status_code == 200  # the pairing under way was never refused


def test_a_full_redis_shows_on_healthz(tmp_path: Path) -> None:
    import redis

    from maestro.bridge.redis_store import RedisStore
    from tests.bridge.helpers import RedisServer

    server = RedisServer(tmp_path, "--maxmemory", "2mb")
    server.start()
    try:
        app = create_app(BridgeConfig(client_id=CLIENT, base_url="http://b"), RedisStore.from_url(server.url))
        with TestClient(app) as bridge:
            assert bridge.get("/healthz").json()["ok"] is True
            other = redis.Redis(unix_socket_path=str(server.socket))
            for size in (4096, 512, 64):  # someone else's keys fill it to maxmemory
                with pytest.raises(redis.exceptions.OutOfMemoryError):
                    for n in range(10_000):
                        other.set(f"junk:{size}:{n}", "x" * size)
            health = bridge.get("/healthz")
            new = bridge.post("/device/authorize", data={"client_id": CLIENT})
    finally:
        server.stop()
    assert health.status_code == 503
    assert health.json() == {"ok": False, "store": "redis", "problem": "refuses writes"}
    assert new.status_code == 503 and new.json()["error"] == "temporarily_unavailable"  # not a 500


async def test_a_grant_costs_little_in_redis(tmp_path: Path) -> None:
    from maestro.bridge import codes
    from maestro.bridge.grants import Grant
    from maestro.bridge.redis_store import PREFIX, RedisStore
    from tests.bridge.helpers import RedisServer

    server = RedisServer(tmp_path)
    server.start()
    store = RedisStore.from_url(server.url)
    try:
        device_code = codes.new_secret()
        grant = Grant(codes.digest(device_code), "BCDFGHJK", CLIENT, "user-read-playback-state", "",
                      "pending", time.time() + 600, 5, None, codes.public_key(device_code),
                      codes.digest("link"))  # fmt: skip
        await store.add(grant, time.time())
        used = sum([await store.client.memory_usage(key) for key in await store.client.keys(PREFIX + "*")])
        assert used < 760, used  # a pending grant and its user code (no empty fields: 806 with them)
    finally:
        await store.close()
        server.stop()


# -- 5. headers without end -------------------------------------------------------------------------


def raw_request(port: int, head: bytes, chunk: bytes = b"", repeat: int = 0) -> tuple[bytes, float]:
    """Send ``head``, then ``chunk`` ``repeat`` times (as long as the server takes it): the answer."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        with contextlib.suppress(OSError):
            for _ in range(repeat):
                sock.sendall(chunk)
        answer = b""
        with contextlib.suppress(OSError):
            while chunk_in := sock.recv(65536):
                answer += chunk_in
    return answer, time.monotonic() - started


def rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]


@pytest.fixture
def bridge_process(live: LiveSandbox, tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    (tmp_path / "config.toml").write_text("")
    port = free_port()
    env = {"MAESTRO_CONFIG": str(tmp_path / "config.toml"), "MAESTRO_STATE_DIR": str(tmp_path),
           "MAESTRO_BRIDGE_CLIENT_ID": CLIENT, "MAESTRO_BRIDGE_ACCOUNTS_URL": live.url,
           "PATH": "/usr/bin:/bin"}  # fmt: skip
    command = [sys.executable, "-m", "maestro", "bridge", "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_http(f"http://127.0.0.1:{port}/healthz", process=process)
    yield port, process
    process.terminate()
    process.wait(timeout=10)


def test_huge_headers_are_refused_with_431(bridge_process: tuple[int, subprocess.Popen[str]]) -> None:
    port, process = bridge_process
    before = rss_kb(process.pid)
    for _ in range(4):  # each would be 20 MB of one header
        answer, took = raw_request(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ", b"a" * 65536, 320)
        assert answer.startswith(b"HTTP/1.1 431") and took < 5
    many = (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % n for n in range(200)) + b"\r\n"
    )
    assert raw_request(port, many)[0].startswith(b"HTTP/1.1 431")
    assert rss_kb(process.pid) - before < 20_000  # was 65 -> 404 MB
    body = "grant_type=x&pad=" + "p" * (15 * 1024)  # a request just under the body limit, headers small
    headers = {"content-type": "application/x-www-form-urlencoded", "X-Fill": "f" * 4000}
    normal = httpx.post(f"http://127.0.0.1:{port}/token", content=body, headers=headers)
    assert normal.status_code == 400 and normal.json()["error"] == "unsupported_grant_type"
    assert MAX_HEADER_BYTES == 16 * 1024


@pytest.mark.slow
def test_huge_headers_are_refused_with_workers(live: LiveSandbox, tmp_path: Path) -> None:
    from tests.bridge.helpers import serve

    (tmp_path / "config.toml").write_text("")
    port = free_port()
    process = serve(port, tmp_path, live, f"sqlite:{tmp_path}/b.db", workers=2)
    try:
        answer, _ = raw_request(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ", b"a" * 65536, 64)
        assert answer.startswith(b"HTTP/1.1 431")
    finally:
        process.terminate()
        process.wait(timeout=10)


# -- 6. the smaller points --------------------------------------------------------------------------


def test_a_confirm_form_from_another_site_is_refused(live: LiveSandbox, tmp_path: Path) -> None:
    with served(live, tmp_path) as bridge, httpx.Client() as phone:
        grant = bridge.start()
        page = phone.get(grant["verification_uri_complete"])
        form = {"code": grant["user_code"], "csrf": CSRF.search(page.text).group(1), "decision": "approve"}  # type: ignore[union-attr]
        for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
                        {"Origin": "https://evil.example"}):  # fmt: skip
            refused = phone.post(f"{bridge.base}/pair", data=form, headers=headers)
            assert refused.status_code == 403 and "own page" in refused.text
            pasted = phone.post(f"{bridge.base}/pair/paste", data={"url": "x?state=y"}, headers=headers)
            assert pasted.status_code == 403
        # Our own page's post: Chromium sends Sec-Fetch-Site, and Origin "null" under no-referrer.
        own = phone.post(
            f"{bridge.base}/pair", data=form, headers={"Sec-Fetch-Site": "same-origin", "Origin": "null"}
        )
        assert own.status_code == 303


def test_behind_https_cookies_are_host_only_and_hsts_is_sent(live: LiveSandbox, tmp_path: Path) -> None:
    with served(live, tmp_path, {"proxy_headers": True, "forwarded_allow_ips": "127.0.0.1"}) as bridge:
        grant = bridge.start()
        link = grant["verification_uri_complete"]
        https = httpx.get(link, headers={"X-Forwarded-Proto": "https"})
        plain = httpx.get(link)
    cookie = https.headers["set-cookie"]
    assert cookie.startswith("__Host-maestro_csrf_") and "Secure" in cookie and "Path=/" in cookie
    assert "domain" not in cookie.lower()
    assert https.headers["strict-transport-security"].startswith("max-age=")
    assert "strict-transport-security" not in plain.headers and "__Host-" not in plain.headers["set-cookie"]


@pytest.mark.slow
def test_the_bridge_answers_before_the_box_gives_up(live: LiveSandbox, tmp_path: Path) -> None:
    assert BridgeConfig(client_id="x", base_url="https://b").spotify_budget_s < REFRESH_TIMEOUT_S
    with served(live, tmp_path, spotify_budget_s=1.0) as bridge:
        live.control("faults", {"status": 0, "count": 1, "latency_ms": 4000, "path": "/api/token"})
        started = time.monotonic()
        answer = httpx.post(f"{bridge.base}/token", data={"grant_type": "refresh_token", "refresh_token": "r",
                                                          "client_id": CLIENT}, timeout=10)  # fmt: skip
        took = time.monotonic() - started
    assert answer.status_code == 502 and answer.json()["error"] == "temporarily_unavailable" and took < 2.5
