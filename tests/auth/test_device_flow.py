"""The RFC 8628 client against the live sandbox, and its timing rules with respx."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import respx

from maestro import config
from maestro.auth.device_flow import (
    DeviceFlow,
    DeviceFlowNotAllowedError,
    Endpoints,
    FlowState,
    SignInDeclinedError,
)
from maestro.auth.pairing import PairingPresenter, spell_paired
from maestro.display.devices import NullDisplay
from maestro.errors import AuthError
from maestro.intents.spec import default_intents_path
from maestro.session import Session
from maestro.voice.tts import SilentSpeaker
from tests.auth.helpers import DEVICE, GRANT, TOKEN, FakeTime
from tests.live import LiveSandbox


def sandbox_flow(live: LiveSandbox, time: FakeTime, client_id: str = "maestro-sandbox") -> DeviceFlow:
    endpoints = Endpoints(f"{live.url}/oauth2/device/authorize", f"{live.url}/api/token")
    return DeviceFlow(httpx.AsyncClient(), endpoints, client_id, sleep=time.sleep, clock=time.clock)


def presenter(on_code: Callable[[str], None]) -> tuple[PairingPresenter, SilentSpeaker, list[str]]:
    lines: list[str] = []

    def print_line(line: str) -> None:
        lines.append(line)
        if line.startswith("Code: "):
            on_code(line.removeprefix("Code: "))

    speaker = SilentSpeaker()
    return PairingPresenter(speaker, NullDisplay(), repeat_s=3600, print_line=print_line), speaker, lines


async def test_approve(live: LiveSandbox) -> None:
    time = FakeTime(live)
    flow = sandbox_flow(live, time)
    show, speaker, lines = presenter(lambda code: live.control("approve", {"user_code": code}))
    tokens = await flow.run(show)
    assert flow.state is FlowState.DONE
    assert tokens.token_url == f"{live.url}/api/token" and tokens.client_id == "maestro-sandbox"
    assert "user-modify-playback-state" in tokens.scope
    assert lines[0].startswith("Code: ") and lines[1].startswith(f"Open: {live.url}/pair?code=")
    assert speaker.history and "Go to 127 dot 0 dot 0 dot 1" in speaker.history[0]
    response = httpx.get(f"{live.url}/v1/me", headers={"Authorization": f"Bearer {tokens.access_token}"})
    assert response.json()["display_name"] == "Sandbox User"


async def test_deny_is_declined(live: LiveSandbox) -> None:
    flow = sandbox_flow(live, FakeTime(live))
    show, _, _ = presenter(lambda code: live.control("deny", {"user_code": code}))
    with pytest.raises(SignInDeclinedError, match="Sign-in was declined"):
        await flow.run(show)
    assert flow.state is FlowState.FAILED


async def test_expired_code_is_replaced_and_announced_again(live: LiveSandbox) -> None:
    codes: list[str] = []
    time = FakeTime(live)

    def on_code(code: str) -> None:
        codes.append(code)
        if len(codes) == 1:  # nobody comes for the first code: an hour passes
            time.now += 3600
            live.control("clock", {"advance_s": 3600})
        else:
            live.control("approve", {"user_code": code})

    flow = sandbox_flow(live, time)
    show, speaker, _ = presenter(on_code)
    await flow.run(show)
    assert len(codes) == 2 and codes[0] != codes[1]
    assert spell_paired(codes[0]) in speaker.history[0]
    assert spell_paired(codes[1]) in speaker.history[-1]  # the new code was announced too


async def test_unallowlisted_app_gets_the_bridge_explained(live: LiveSandbox) -> None:
    flow = sandbox_flow(live, FakeTime(live), client_id="my-own-spotify-app")
    show, _, _ = presenter(lambda code: None)
    with pytest.raises(DeviceFlowNotAllowedError) as info:
        await flow.run(show)
    message = str(info.value)
    assert "allowlist" in message and "maestro bridge serve" in message and "--bridge" in message


async def test_slow_down_against_the_sandbox(live: LiveSandbox) -> None:
    """A client whose polls reach the server too fast is told to slow down, and does."""

    class Hasty(FakeTime):
        """Our clock believes each interval passed; the server sees only 3 s go by."""

        sleeps = 0

        async def sleep(self, seconds: float) -> None:
            self.now += seconds
            self.sleeps += 1
            live.control("clock", {"advance_s": 3})
            if self.sleeps == 4:
                live.control("approve", {"user_code": code})
            await asyncio.sleep(0)

    time = Hasty(live)
    flow = sandbox_flow(live, time)
    authorization = await flow.start()
    code = authorization.user_code
    assert await flow.poll(authorization) is not None
    # 5 (pending), 5 (too fast: slow_down), then 10, 15: five more after every slow_down.
    assert flow.intervals == [5, 5, 10, 15]


# -- timing rules with a scripted server ------------------------------------------------------

TOKENS = {
    "access_token": "at",
    "refresh_token": "rt",
    "expires_in": 3600,
    "scope": "s",
    "token_type": "Bearer",
}


def pending(error: str = "authorization_pending") -> httpx.Response:
    return httpx.Response(400, json={"error": error})


@respx.mock
async def test_slow_down_adds_five_seconds_for_the_rest_of_the_grant() -> None:
    respx.post(DEVICE).respond(json=GRANT)
    respx.post(TOKEN).mock(
        side_effect=[pending(), pending("slow_down"), pending(), pending(), httpx.Response(200, json=TOKENS)]
    )
    time = FakeTime()
    flow = DeviceFlow(
        httpx.AsyncClient(), Endpoints(DEVICE, TOKEN), "app", sleep=time.sleep, clock=time.clock
    )
    authorization = await flow.start()
    tokens = await flow.poll(authorization)
    assert tokens is not None and tokens.access_token == "at"
    assert flow.intervals == [5, 5, 10, 10, 10]


@respx.mock
async def test_network_faults_keep_polling_with_backoff_until_approved() -> None:
    respx.post(DEVICE).respond(json=GRANT)
    respx.post(TOKEN).mock(
        side_effect=[
            httpx.ConnectError("down"),
            httpx.ConnectError("down"),
            pending(),
            httpx.Response(200, json=TOKENS),
        ]
    )
    time = FakeTime()
    flow = DeviceFlow(
        httpx.AsyncClient(), Endpoints(DEVICE, TOKEN), "app", sleep=time.sleep, clock=time.clock
    )
    assert await flow.poll(await flow.start()) is not None
    assert flow.intervals == [5, 10, 15, 5]  # waited longer while the network was down


@respx.mock
async def test_expiry_without_answer_returns_none() -> None:
    respx.post(DEVICE).respond(json={**GRANT, "expires_in": 12})
    respx.post(TOKEN).mock(return_value=pending())
    time = FakeTime()
    flow = DeviceFlow(
        httpx.AsyncClient(), Endpoints(DEVICE, TOKEN), "app", sleep=time.sleep, clock=time.clock
    )
    assert await flow.poll(await flow.start()) is None


@respx.mock
async def test_impossible_steps_are_refused() -> None:
    flow = DeviceFlow(httpx.AsyncClient(), Endpoints(DEVICE, TOKEN), "app")
    from maestro.auth.device_flow import DeviceAuthorization

    with pytest.raises(RuntimeError, match="cannot poll"):
        await flow.poll(DeviceAuthorization("X", "u", "u", 1, 1, "d"))


async def test_missing_client_id_is_a_usage_error() -> None:
    from maestro.errors import UsageError

    with pytest.raises(UsageError, match="client_id"):
        DeviceFlow(httpx.AsyncClient(), Endpoints(DEVICE, TOKEN), "")


@respx.mock
async def test_unreachable_service() -> None:
    respx.post(DEVICE).mock(side_effect=httpx.ConnectError("down"))
    flow = DeviceFlow(httpx.AsyncClient(), Endpoints(DEVICE, TOKEN), "app")
    with pytest.raises(AuthError, match="can't reach"):
        await flow.start()


@pytest.mark.slow
async def test_session_pair_saves_tokens_and_names_the_account(live: LiveSandbox, tmp_path: Path) -> None:
    settings = config.load({**live.env(tmp_path)})
    async with Session.open(settings, state_dir=tmp_path, intents=default_intents_path()) as session:
        speaker, display = SilentSpeaker(), NullDisplay()

        def approve(line: str) -> None:
            if line.startswith("Code: "):
                live.control("approve", {"user_code": line.removeprefix("Code: ")})

        live.state.poll_interval = 1
        try:
            name = await session.pair(speaker, display, print_line=approve)
        finally:
            live.state.poll_interval = 5
    assert name == "Sandbox User"
    assert (tmp_path / "tokens.json").stat().st_mode & 0o777 == 0o600
    assert speaker.history[-1] == "Connected to Spotify as Sandbox User."
    assert [s.kind for s in display.screens] == ["pairing", "message"]


async def test_session_pair_speaks_a_refusal(live: LiveSandbox, tmp_path: Path) -> None:
    settings = config.load({**live.env(tmp_path), "MAESTRO_SPOTIFY_CLIENT_ID": "not-allowed"})
    async with Session.open(settings, state_dir=tmp_path, intents=default_intents_path()) as session:
        speaker, display = SilentSpeaker(), NullDisplay()
        with pytest.raises(DeviceFlowNotAllowedError):
            await session.pair(speaker, display, print_line=lambda line: None)
    assert "allowlist" in speaker.history[-1]
    assert display.screens[-1].kind == "error"
    assert not (tmp_path / "tokens.json").exists()


async def test_a_busy_sign_in_service_is_said_so(live: LiveSandbox) -> None:
    """A bridge that spent its budget of new codes answers 503: busy, not "refused"."""
    live.control("faults", {"status": 503, "count": 1, "path": "/oauth2/device/authorize", "retry_after": 60})
    flow = sandbox_flow(live, FakeTime(live))
    with pytest.raises(AuthError, match="busy right now"):
        await flow.start()
