"""What a broken network and broken files did to the box, each held by a test.

Bad bytes and shapes, an unwritable state directory, a hanging Web API, and the
smaller findings: every one a clear message, nothing lost, the daemon running.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import respx

from maestro import config
from maestro.auth.device_flow import DeviceFlow, Endpoints, discover
from maestro.auth.tokens import Tokens, TokenStore
from maestro.errors import AuthError, SpotifyAnswerError, UsageError
from maestro.intents.spec import default_intents_path, parse_spec
from maestro.nfc.tags import TagStore
from maestro.session import Session
from maestro.spotify.client import SpotifyClient
from maestro.spotify.player import Player
from tests.auth.helpers import DEVICE, GRANT, TOKEN, FakeTime
from tests.live import LiveSandbox

NOT_UTF8 = b"\xff\xfe caf\xe9 \x80\n"


def maestro(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "maestro", *args], capture_output=True, text=True,
                          env={**os.environ, "MAESTRO_TTS_ENGINE": "none", **env}, timeout=60)  # fmt: skip


# -- 5. one decoding path ----------------------------------------------------------------------------


def test_a_non_utf8_tokens_file_is_set_aside_with_a_message(tmp_path: Path) -> None:
    (tmp_path / "tokens.json").write_bytes(NOT_UTF8)
    told: list[str] = []
    store = TokenStore(tmp_path / "tokens.json", on_problem=told.append)
    assert store.tokens is None  # was UnicodeDecodeError: `maestro run` crashed and systemd looped
    assert told and "was damaged" in told[0] and "Please pair again" in told[0]
    assert next(p.name for p in tmp_path.iterdir()).startswith("tokens.json.corrupt-")


def test_two_damaged_files_in_one_second_are_both_kept(tmp_path: Path) -> None:
    for _ in range(2):
        (tmp_path / "tokens.json").write_text("{damaged")
        TokenStore(tmp_path / "tokens.json", clock=lambda: 1_800_000_000.0, on_problem=lambda m: None).load()
    assert len(list(tmp_path.glob("tokens.json.corrupt-*"))) == 2


def test_non_utf8_tags_keep_the_last_good_cards(tmp_path: Path) -> None:
    path = tmp_path / "tags.yaml"
    path.write_text("04A1B2C3: pause\n")
    store = TagStore(path)
    path.write_bytes(b"04A1B2C3: caf\xe9\n")
    store.reload()
    assert store.problem and "not UTF-8" in store.problem and f"{path}:1" in store.problem
    assert store.mapping == {"04A1B2C3": "pause"}


@pytest.mark.slow
def test_non_utf8_intents_and_config_are_clear(tmp_path: Path) -> None:
    (tmp_path / "intents.yaml").write_bytes(b'intents:\n  Pause:\n    templates: ["pause \xe9"]\n')
    (tmp_path / "config.toml").write_text("")
    env = {"MAESTRO_CONFIG": str(tmp_path / "config.toml"), "MAESTRO_STATE_DIR": str(tmp_path)}
    for args in (("parse", "pause"), ("say", "pause")):
        result = maestro(env, *args)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert "intents.yaml:3: not UTF-8 text" in result.stderr
    doctor = {c["name"]: c for c in json.loads(maestro(env, "doctor", "--json").stdout)}
    assert doctor["intents"]["status"] == "fail" and "not UTF-8" in doctor["intents"]["detail"]
    (tmp_path / "config.toml").write_bytes(b'[tts]\nvoice = "caf\xe9"\n')
    (tmp_path / "intents.yaml").unlink()
    bad_config = maestro(env, "say", "pause")
    assert bad_config.returncode == 2 and "config.toml:2: not UTF-8 text" in bad_config.stderr


@respx.mock
async def test_an_answer_of_the_wrong_shape_is_said_not_crashed() -> None:
    api = "https://api.spotify.com/v1"
    respx.get(f"{api}/me/player").respond(json=[1, 2, 3])
    respx.get(f"{api}/me/player/devices").respond(json={"devices": [{"name": 7, "volume_percent": "loud"}]})
    respx.get(f"{api}/search").respond(json={"tracks": {"items": "none"}})

    class Tokens_:
        async def access_token(self) -> str:
            return "t"

        async def refresh(self, failed_token: str | None = None) -> str:
            return "t"

    async with httpx.AsyncClient() as http:
        player = Player(SpotifyClient(api, Tokens_(), http))
        for call in (player.state(), player.devices(), player.search("x", ("track",))):
            with pytest.raises(SpotifyAnswerError, match="could not read"):
                await call


async def test_the_daemon_keeps_running_on_a_wrong_shape(live: LiveSandbox, tmp_path: Path) -> None:
    from maestro.box.runtime import Runtime
    from maestro.display.devices import NullDisplay
    from maestro.voice.tts import SilentSpeaker

    live.pair_into(tmp_path)
    settings = config.load(live.env(tmp_path))
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=["not", "an", "object"]))
    async with Session.open(
        settings, state_dir=tmp_path, intents=default_intents_path(), transport=transport
    ) as s:
        speaker = SilentSpeaker()
        runtime = Runtime(s, speaker, NullDisplay(), poll_s=0.05, print_line=lambda line: None)
        stop = asyncio.Event()
        task = asyncio.create_task(runtime.run(stop))
        await asyncio.sleep(0.4)
        assert not task.done()  # still running
        stop.set()
        await asyncio.wait_for(task, 3)
    assert speaker.history.count("Spotify sent an answer Maestro could not read.") == 1  # said once


# -- 6. an unwritable state directory ------------------------------------------------------------------


def expiring(state_dir: Path, tokens: Tokens) -> None:
    """The access token about to expire: the next command refreshes (and Spotify may rotate)."""
    soon = Tokens(tokens.access_token, tokens.refresh_token, time.time() + 5, tokens.scope, tokens.token_url,
                  tokens.client_id)  # fmt: skip
    TokenStore(state_dir / "tokens.json").save(soon)


async def test_an_unwritable_state_dir_is_named_before_the_refresh_token_is_spent(
    live: LiveSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: the refresh succeeded, saving the rotated token failed with a traceback, and the next
    run said "Spotify ended Maestro's sign-in". Tests run as root, whom no mode stops, so the
    directory's answer to os.access is what is replaced here (test below: real modes, non-root)."""
    from maestro.auth import token_file as tokens_module

    tokens = live.pair_into(tmp_path)
    expiring(tmp_path, tokens)
    real_access = os.access
    monkeypatch.setattr(
        tokens_module.os, "access", lambda path, mode: Path(path) != tmp_path and real_access(path, mode)
    )
    settings = config.load({**live.env(tmp_path), "MAESTRO_PLAYER_DEFAULT_DEVICE": "Kitchen"})
    async with Session.open(settings, state_dir=tmp_path, intents=default_intents_path()) as session:
        _, reply = await session.handle("pause")
    assert not reply.ok and f"{tmp_path} is not writable by this user (owned by" in reply.speech
    monkeypatch.setattr(tokens_module.os, "access", real_access)
    async with Session.open(settings, state_dir=tmp_path, intents=default_intents_path()) as session:
        profile = await session.player.me()  # refreshes: the refresh token was not spent, it still works
    assert profile["id"] == "sandbox-user"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere: real modes only stop other users")
def test_a_read_only_state_dir_for_real(live: LiveSandbox, tmp_path: Path) -> None:
    tokens = live.pair_into(tmp_path)
    expiring(tmp_path, tokens)
    os.chmod(tmp_path, 0o555)
    try:
        result = maestro({**live.env(tmp_path)}, "say", "pause")
    finally:
        os.chmod(tmp_path, 0o755)
    assert result.returncode == 1 and "is not writable by this user" in result.stdout


@respx.mock
async def test_a_rotated_token_that_cannot_be_written_is_kept_and_written_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from maestro.auth import token_file as tokens_module

    url = "https://accounts.example/api/token"
    respx.post(url).respond(json={"access_token": "at-2", "refresh_token": "rt-2", "expires_in": 3600})
    store = TokenStore(tmp_path / "tokens.json", httpx.AsyncClient(), lasting=True)  # the daemon
    store.save(Tokens("at-1", "rt-1", time.time() + 5, "s", url, "app"))
    real_write = tokens_module.atomic_write_text

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tokens_module, "atomic_write_text", disk_full)
    assert await store.refresh() == "at-2"  # the command goes on
    assert json.loads((tmp_path / "tokens.json").read_text())["refresh_token"] == "rt-1"
    assert store.tokens is not None and store.tokens.refresh_token == "rt-2"  # kept in memory, not dropped
    monkeypatch.setattr(tokens_module, "atomic_write_text", real_write)
    await store.access_token()  # the next use writes it
    assert json.loads((tmp_path / "tokens.json").read_text())["refresh_token"] == "rt-2"


def test_a_world_readable_tokens_file_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    TokenStore(path).save(Tokens("a", "r", time.time() + 3600, "s", "https://x/api/token", "app"))
    os.chmod(path, 0o644)
    assert TokenStore(path).tokens is not None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_tokens_file_maestro_may_not_read_is_not_damage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tokens.json"
    TokenStore(path).save(Tokens("a", "r", time.time() + 3600, "s", "https://x/api/token", "app"))
    import maestro.fsutil

    real_open = os.open

    def denied(name: object, *args: object, **kwargs: object) -> int:  # root reads anything: pretend
        if Path(str(name)) == path:
            raise PermissionError(13, "Permission denied")
        return real_open(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(maestro.fsutil.os, "open", denied)
    with pytest.raises(AuthError, match=r"may not read its sign-in.*owned by"):
        TokenStore(path).load()
    assert path.exists() and not list(tmp_path.glob("*.corrupt-*"))  # not moved aside as "damaged"


# -- 7. a hanging Web API -----------------------------------------------------------------------------


@pytest.mark.slow
async def test_a_hanging_api_is_said_within_about_six_seconds(live: LiveSandbox, tmp_path: Path) -> None:
    live.pair_into(tmp_path)
    settings = config.load({**live.env(tmp_path), "MAESTRO_PLAYER_DEFAULT_DEVICE": "Kitchen"})
    async with Session.open(settings, state_dir=tmp_path, intents=default_intents_path()) as session:
        live.control("faults", {"status": 0, "count": 20, "latency_ms": 30_000, "path": "/v1/me/player"})
        started = time.monotonic()
        _, reply = await session.handle("pause")
        took = time.monotonic() - started
    assert not reply.ok and reply.speech == "Spotify isn't answering right now. Try again in a moment."
    assert took < 8, took  # was 28-49 s


# -- 9. the smaller findings -------------------------------------------------------------------------


@respx.mock
async def test_a_sign_in_service_that_keeps_failing_is_named_as_such() -> None:
    respx.post(DEVICE).respond(json={**GRANT, "expires_in": 30})
    respx.post(TOKEN).respond(500, text="oops")
    time_ = FakeTime()
    flow = DeviceFlow(
        httpx.AsyncClient(), Endpoints(DEVICE, TOKEN), "app", sleep=time_.sleep, clock=time_.clock
    )

    class Quiet:
        async def show(self, authorization: object) -> None: ...

        async def stop(self) -> None: ...

    with pytest.raises(AuthError, match=r"kept failing \(HTTP 500\)"):
        await flow.run(Quiet())


@respx.mock
async def test_an_html_answer_to_a_poll_is_waited_out() -> None:
    respx.post(DEVICE).respond(json=GRANT)
    tokens = {"access_token": "a", "refresh_token": "r", "expires_in": 3600}
    respx.post(TOKEN).mock(side_effect=[httpx.Response(200, text="<html>captive portal</html>"),
                                        httpx.Response(200, json=tokens)])  # fmt: skip
    time_ = FakeTime()
    flow = DeviceFlow(
        httpx.AsyncClient(), Endpoints(DEVICE, TOKEN), "app", sleep=time_.sleep, clock=time_.clock
    )
    assert await flow.poll(await flow.start()) is not None  # was: pairing aborted


@respx.mock
async def test_a_failing_bridge_is_not_called_no_bridge() -> None:
    respx.get("https://bridge.example/.well-known/oauth-authorization-server").respond(500)
    with pytest.raises(AuthError, match=r"having trouble \(HTTP 500\)"):
        await discover(httpx.AsyncClient(), "https://bridge.example")
    respx.get("https://other.example/.well-known/oauth-authorization-server").respond(404, text="nope")
    with pytest.raises(UsageError, match="does not look like a Maestro bridge"):
        await discover(httpx.AsyncClient(), "https://other.example")


@pytest.mark.slow
async def test_pairing_succeeds_though_the_web_api_is_down_right_after(
    live: LiveSandbox, tmp_path: Path
) -> None:
    from maestro.display.devices import NullDisplay
    from maestro.voice.tts import SilentSpeaker

    live.state.poll_interval = 1
    settings = config.load(live.env(tmp_path))
    async with Session.open(settings, state_dir=tmp_path, intents=default_intents_path()) as session:

        def on_line(line: str) -> None:
            if line.startswith("Code: "):
                live.control("approve", {"user_code": line.removeprefix("Code: ")})
                live.control("faults", {"status": 503, "count": 30, "path": "/v1/me"})

        try:
            name = await session.pair(SilentSpeaker(), NullDisplay(), print_line=on_line)
        finally:
            live.state.poll_interval = 5
    assert name == "your account" and (tmp_path / "tokens.json").exists()


def test_replies_and_ranges_in_intents_yaml_are_checked() -> None:
    with pytest.raises(UsageError, match=r"the reply names \{level\}"):
        parse_spec('intents:\n  SetVolume:\n    reply: "Volume {level}."\n    templates: ["loud"]\n')
    with pytest.raises(UsageError, match=r"min \(90\) is more than max \(10\)"):
        parse_spec(
            'slots:\n  v: {type: number, min: 90, max: 10}\nintents:\n  A:\n    templates: ["x {v}"]\n'
        )


def test_config_ranges_and_addresses_are_config_errors(tmp_path: Path) -> None:
    from maestro.errors import ConfigError

    for text, where in [
        ("[player]\npoll_s = 0\n", ":2: player.poll_s: must be from 0.5"),
        ("[player]\npoll_s = nan\n", ":2: player.poll_s: must be from 0.5"),
        ("[display]\nheight = 7\n", ":2: display.height: must be 64 or 32"),
        ("[display]\ni2c_address = 99999\n", ":2: display.i2c_address: must be from 3 to 119"),
        ('[spotify]\naccounts_url = "notaurl"\n', ":2: spotify.accounts_url: must be an http(s) address"),
        ('[spotify]\naccounts_url = "ftp://x"\n', ":2: spotify.accounts_url: must be an http(s) address"),
        ('[mqtt]\nurl = "http://ha:s3cret@x"\n', ":2: mqtt.url: must look like mqtt://user:password@host"),
        ('[mqtt]\nurl = "mqtt://ha:s3cret@x:99999"\n', ":2: mqtt.url: must look like mqtt://"),
        ('[web]\nlisten = "8080"\n', ":2: web.listen: must be HOST:PORT like 0.0.0.0:8080"),
        ('[web]\nlisten = "box:http"\n', ":2: web.listen: must be HOST:PORT"),
    ]:
        (tmp_path / "config.toml").write_text(text)
        with pytest.raises(ConfigError, match=where.replace("(", r"\(").replace(")", r"\)")) as info:
            config.load({"MAESTRO_CONFIG": str(tmp_path / "config.toml")})
        assert "s3cret" not in str(info.value)  # a broker address may hold a password: never shown
