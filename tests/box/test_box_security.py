"""The second fault probe of the box, each finding held by a test (sandbox faults or a local fake).

A refresh cut short by a command's deadline, a full disk, the gaps in the 6 s
deadline (a library fetch, `maestro devices`, an API that trickles its answer,
stopping), hostile answers, links and special files in the state directory,
and the state directory's modes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import respx

from maestro import config
from maestro.auth.tokens import Tokens, TokenStore
from maestro.box.runtime import Runtime
from maestro.display.devices import NullDisplay
from maestro.errors import AuthError, SpotifyAnswerError
from maestro.intents.spec import default_intents_path
from maestro.session import Session
from maestro.spotify.client import NOT_ANSWERING, spoken_wait
from maestro.spotify.memory import PlayerMemory
from maestro.voice.tts import SilentSpeaker
from tests.live import LiveSandbox

ENOSPC = OSError(28, "No space left on device")


def open_session(live: LiveSandbox, state_dir: Path, **env: str) -> Session:
    settings = config.load({**live.env(state_dir), "MAESTRO_PLAYER_DEFAULT_DEVICE": "Kitchen", **env})
    return Session.open(settings, state_dir=state_dir, intents=default_intents_path())


def maestro(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "maestro", *args], capture_output=True, text=True,
                          env={**os.environ, "MAESTRO_TTS_ENGINE": "none", **env}, timeout=60)  # fmt: skip


# -- 7. a refresh whose answer comes late -------------------------------------------------------------


@pytest.mark.slow
async def test_a_slow_refresh_is_never_cut_short_by_the_command(live: LiveSandbox, tmp_path: Path) -> None:
    first = live.pair_into(tmp_path)
    live.control("tokens", {"expire": True})  # the next call answers 401: refresh
    live.control("faults", {"status": 0, "count": 1, "latency_ms": 8000, "path": "/api/token"})
    session = open_session(live, tmp_path)
    started = time.monotonic()
    _, reply = await session.handle("what is playing")
    took = time.monotonic() - started
    assert not reply.ok and reply.speech == NOT_ANSWERING and took < 7.5  # told the truth on time
    await session.aclose()  # a one-shot command's process waits for the refresh, which saves first
    saved = json.loads((tmp_path / "tokens.json").read_text())
    assert saved["refresh_token"] != first.refresh_token  # Spotify rotated it, and it reached the disk
    async with open_session(live, tmp_path) as again:
        _, reply = await again.handle("what is playing")
    assert reply.ok, reply.speech  # was: "Spotify ended Maestro's sign-in"


# -- 8. a full disk ------------------------------------------------------------------------------------


@respx.mock
async def test_a_one_shot_command_does_not_refresh_onto_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from maestro.auth import token_file as tokens_module

    url = "https://accounts.example/api/token"
    route = respx.post(url).respond(json={"access_token": "at-2", "refresh_token": "rt-2"})
    store = TokenStore(tmp_path / "tokens.json", httpx.AsyncClient())
    store.save(Tokens("at-1", "rt-1", time.time() + 5, "s", url, "app"))
    full = os.statvfs_result((4096, 4096, 1000, 0, 0, 1000, 0, 0, 0, 255))
    monkeypatch.setattr(tokens_module.os, "statvfs", lambda path: full)
    with pytest.raises(AuthError, match=r"disk .* is full.*will not renew"):
        await store.access_token()
    assert not route.called  # the refresh token was not spent: nothing to lose
    assert json.loads((tmp_path / "tokens.json").read_text())["refresh_token"] == "rt-1"


def test_a_sign_in_a_one_shot_command_cannot_save_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from maestro.auth import token_file as tokens_module

    def disk_full(*args: object, **kwargs: object) -> None:
        raise ENOSPC

    monkeypatch.setattr(tokens_module, "atomic_write_text", disk_full)
    with pytest.raises(AuthError) as said:
        TokenStore(tmp_path / "tokens.json").save(Tokens("a", "r", time.time(), "s", "u", "app"))
    assert "lost when this command ends" in str(said.value) and "keeps it in memory" not in str(said.value)


async def test_the_daemon_lives_through_a_full_disk_and_saves_when_room_returns(
    live: LiveSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from maestro.spotify import memory as memory_module

    live.pair_into(tmp_path)
    real_write = memory_module.atomic_write_text
    room = threading.Event()

    def full_until_room(*args: object, **kwargs: object) -> None:
        if not room.is_set():
            raise ENOSPC
        real_write(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(memory_module, "atomic_write_text", full_until_room)
    session = open_session(live, tmp_path)
    session.player.memory.sleep_at = time.time() - 1  # the sleep timer runs out now: it saves
    speaker, lines = SilentSpeaker(), []
    runtime = Runtime(session, speaker, NullDisplay(), poll_s=0.05, print_line=lines.append)
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.run(stop))
    for _ in range(100):
        await asyncio.sleep(0.05)
        if any("disk" in line for line in lines):
            break
    assert not task.done()  # was: the timer's save raised and the daemon exited (a crash loop)
    said = [line for line in speaker.history if "disk" in line]
    assert len(said) == 1 and "full" in said[0]  # said once, not at every poll
    assert not (tmp_path / "player.json").exists()
    room.set()
    for _ in range(100):
        await asyncio.sleep(0.05)
        if (tmp_path / "player.json").exists():
            break
    stop.set()
    await asyncio.wait_for(task, 5)
    await session.aclose()
    assert json.loads((tmp_path / "player.json").read_text())["sleep_at"] == 0.0  # written once room came
    assert "My settings are saved again." in speaker.history


# -- 9. the deadline's gaps ----------------------------------------------------------------------------


@pytest.mark.slow
def test_devices_against_a_hanging_api_answers_in_seconds(live: LiveSandbox, tmp_path: Path) -> None:
    live.pair_into(tmp_path)
    live.control("faults", {"status": 0, "count": 20, "latency_ms": 30_000, "path": "/v1/me/player/devices"})
    started = time.monotonic()
    result = maestro(live.env(tmp_path), "devices")
    assert result.returncode == 1 and "isn't answering" in result.stderr + result.stdout
    assert time.monotonic() - started < 10  # was 28 s


@pytest.mark.slow
def test_say_pause_does_not_wait_for_a_hanging_library(live: LiveSandbox, tmp_path: Path) -> None:
    live.pair_into(tmp_path)  # no library.json yet: the names are fetched when a command needs them
    live.control("faults", {"status": 0, "count": 40, "latency_ms": 30_000, "path": "/v1/me/albums"})
    env = {**live.env(tmp_path), "MAESTRO_PLAYER_DEFAULT_DEVICE": "Kitchen"}
    started = time.monotonic()
    asked = maestro(env, "say", "what is playing")  # a command that needs no names
    assert asked.returncode == 0 and time.monotonic() - started < 5, asked.stdout  # was 28 s
    started = time.monotonic()
    play = maestro(env, "say", "play abbey road")  # this one needs the names: it waits, boundedly
    assert play.returncode in (0, 1) and time.monotonic() - started < 14
    assert "Traceback" not in play.stderr


@contextlib.contextmanager
def trickling_api(tmp_path: Path) -> Iterator[str]:
    """A Web API that answers every request with a status line, then one byte every half second."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n"
            )
            while not stop.is_set():
                conn.sendall(b" ")
                time.sleep(0.5)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:  # closed: the test is over
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/v1"
    finally:
        stop.set()
        server.close()


@pytest.mark.slow
def test_an_api_that_trickles_is_cut_off_at_the_deadline(live: LiveSandbox, tmp_path: Path) -> None:
    live.pair_into(tmp_path)
    with trickling_api(tmp_path) as api:
        started = time.monotonic()
        result = maestro({**live.env(tmp_path), "MAESTRO_SPOTIFY_API_URL": api}, "devices")
    assert result.returncode == 1 and "isn't answering" in result.stderr + result.stdout
    assert time.monotonic() - started < 10  # was 208 s


@pytest.mark.slow
def test_the_daemon_stops_within_two_seconds_whatever_spotify_does(live: LiveSandbox, tmp_path: Path) -> None:
    live.pair_into(tmp_path)
    with trickling_api(tmp_path) as api:
        env = {
            **os.environ,
            **live.env(tmp_path),
            "MAESTRO_SPOTIFY_API_URL": api,
            "MAESTRO_TTS_ENGINE": "none",
            "MAESTRO_VOICE_ENABLED": "false",
            "MAESTRO_PLAYER_POLL_S": "1",
        }
        process = subprocess.Popen([sys.executable, "-m", "maestro", "run"], env=env, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        try:
            assert process.stdout is not None
            assert "Maestro is running" in process.stdout.readline()
            time.sleep(2.5)  # a look at Spotify is trickling in
            process.send_signal(signal.SIGTERM)
            started = time.monotonic()
            process.wait(timeout=30)
            took = time.monotonic() - started
        finally:
            process.kill()
    assert process.returncode == 0 and took < 2.5  # was 188 s


# -- 10. hostile answers -----------------------------------------------------------------------------


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


async def hostile_session(live: LiveSandbox, tmp_path: Path, answer: httpx.Response) -> Session:
    live.pair_into(tmp_path)
    settings = config.load({**live.env(tmp_path), "MAESTRO_PLAYER_DEFAULT_DEVICE": "Kitchen"})
    transport = httpx.MockTransport(lambda request: answer)
    return Session.open(settings, state_dir=tmp_path, intents=default_intents_path(), transport=transport)


async def test_json_nested_100000_deep_is_an_error_not_a_crash(live: LiveSandbox, tmp_path: Path) -> None:
    deep = httpx.Response(200, content=nested(100_000), headers={"content-type": "application/json"})
    async with await hostile_session(live, tmp_path, deep) as session:
        with pytest.raises(SpotifyAnswerError):
            await session.player.state()
        _, reply = await session.handle("what is playing")
    assert not reply.ok and "Nothing is playing" not in reply.speech


async def test_a_captive_portal_page_is_no_success(live: LiveSandbox, tmp_path: Path) -> None:
    portal = httpx.Response(200, text="<html><body>Please log in to the hotel wifi</body></html>",
                            headers={"content-type": "text/html"})  # fmt: skip
    async with await hostile_session(live, tmp_path, portal) as session:
        _, paused = await session.handle("pause")
        _, playing = await session.handle("what is playing")
    assert not paused.ok and paused.speech != "Paused." and "sign-in page" in paused.speech
    assert not playing.ok and "Nothing is playing" not in playing.speech


def test_the_bridge_refresh_proxy_survives_deep_json(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from maestro.bridge.app import BridgeConfig, create_app
    from maestro.bridge.sqlite_store import SQLiteStore

    app = create_app(BridgeConfig(client_id="app", base_url="http://b", accounts_url="https://accounts.example"),
                     SQLiteStore(tmp_path / "b.db"))  # fmt: skip
    with respx.mock(assert_all_called=True) as mock:
        mock.post("https://accounts.example/api/token").respond(200, content=nested(100_000))
        with TestClient(app) as bridge:
            answer = bridge.post("/token", data={"grant_type": "refresh_token", "refresh_token": "r",
                                                 "client_id": "app"})  # fmt: skip
    assert answer.status_code == 502 and answer.json()["error"] == "temporarily_unavailable"  # was a 500


# -- 11. links and special files in the state directory ---------------------------------------------


def valid_tokens(path: Path) -> None:
    TokenStore(path).save(Tokens("a", "r", time.time() + 3600, "s", "https://x/api/token", "app"))
    os.chmod(path, 0o644)


def test_a_symlinked_tokens_file_is_refused_and_its_target_left_alone(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.json"
    valid_tokens(elsewhere)
    state = tmp_path / "state"
    state.mkdir()
    (state / "tokens.json").symlink_to(elsewhere)
    with pytest.raises(AuthError, match="symbolic link"):
        TokenStore(state / "tokens.json").load()
    assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o644  # was: chmod followed the link
    assert (state / "tokens.json").is_symlink()


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_a_device_or_a_pipe_in_place_of_a_file_is_refused_at_once(tmp_path: Path, special: str) -> None:
    path = tmp_path / "tokens.json"
    if special == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to(special)
    started = time.monotonic()
    with pytest.raises(
        AuthError, match=r"not a file|symbolic link"
    ):  # was: hung, or grew to its memory limit
        TokenStore(path).load()
    memory = tmp_path / "player.json"
    os.mkfifo(memory)
    assert PlayerMemory.load(memory).last_device_id == ""  # starts afresh, does not hang
    assert time.monotonic() - started < 2


def test_a_link_where_a_cache_goes_is_replaced_never_written_through(tmp_path: Path) -> None:
    from maestro.fsutil import atomic_write_text

    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / "library.json").symlink_to(target)
    atomic_write_text(state / "library.json", "{}", private=True)
    assert target.read_text() == "keep me" and not (state / "library.json").is_symlink()


def test_a_config_file_that_is_a_link_is_written_through(tmp_path: Path) -> None:
    from maestro.fsutil import atomic_write_text

    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    (dotfiles / "tags.yaml").write_text("old: pause\n")
    (tmp_path / "tags.yaml").symlink_to(dotfiles / "tags.yaml")
    atomic_write_text(tmp_path / "tags.yaml", "new: pause\n")
    assert (tmp_path / "tags.yaml").is_symlink() and (dotfiles / "tags.yaml").read_text() == "new: pause\n"


# -- 12. modes, and a Retry-After of 11 days -----------------------------------------------------------


def test_the_state_directory_and_its_files_are_private_even_under_umask_000(
    live: LiveSandbox, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    old = os.umask(0)
    try:
        live.pair_into(state)
        result = maestro(
            {**live.env(state), "MAESTRO_PLAYER_DEFAULT_DEVICE": "Kitchen"}, "say", "play abbey road"
        )
    finally:
        os.umask(old)
    assert result.returncode == 0, result.stdout + result.stderr
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    for name in ("tokens.json", "library.json", "player.json"):
        assert stat.S_IMODE((state / name).stat().st_mode) == 0o600, name


def test_an_existing_open_state_directory_is_made_private(live: LiveSandbox, tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)
    live.pair_into(tmp_path)
    assert maestro(live.env(tmp_path), "say", "hello").returncode in (1, 2)
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o700


def test_a_long_retry_after_is_said_as_a_person_would() -> None:
    assert spoken_wait(999_999) == "in a few days"
    assert spoken_wait(30) == "in 30 seconds" and spoken_wait(600) == "in 10 minutes"
    assert spoken_wait(3 * 3600) == "in 3 hours" and spoken_wait(30 * 3600) == "tomorrow"


async def test_a_rate_limit_of_eleven_days_is_not_read_out_in_seconds(
    live: LiveSandbox, tmp_path: Path
) -> None:
    live.pair_into(tmp_path)
    live.control("faults", {"status": 429, "count": 5, "retry_after": 999_999, "path": "/v1/me/player"})
    async with open_session(live, tmp_path) as session:
        _, reply = await session.handle("pause")
    assert "999999" not in reply.speech and "in a few days" in reply.speech
