"""Home Assistant end to end: the running box on a real broker (mosquitto), against the sandbox.
A command published to the text entity reaches Spotify and what plays comes back on the sensor;
the reply is published, not spoken; every command fires the event entity, a card's with its uid;
the box-state sensor follows a voice command from the microphone (a WAV file) to the reply."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from maestro import config
from maestro.box.runtime import Runtime
from maestro.box.wiring import default_voice
from maestro.display.devices import NullDisplay
from maestro.intents.spec import default_intents_path
from maestro.nfc.cards import Cards
from maestro.nfc.readers import ScriptedReader
from maestro.nfc.tags import TagStore
from maestro.session import Session
from maestro.voice.tts import SilentSpeaker
from tests.box.test_daemon import voice_wav
from tests.home.broker import MOSQUITTO, running_broker
from tests.live import LiveSandbox

pytestmark = pytest.mark.skipif(
    MOSQUITTO is None, reason="mosquitto is not installed (./dev setup installs it)"
)

BASE = "maestro/living_room"
ALBUM = "spotify:album:p20IVD9KD4N2EBDzU5oRJd"


class Home:
    """Home Assistant's side: every message on the box's topics, the events and box states in order."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.seen: dict[str, str] = {}
        self.events: list[dict[str, Any]] = []
        self.box_states: list[str] = []

    async def until(self, done: Callable[[], bool], timeout: float = 15) -> None:
        async with asyncio.timeout(timeout):
            while not done():
                message = await anext(aiter(self.client.messages))
                topic, payload = str(message.topic), bytes(message.payload).decode()  # type: ignore[arg-type]
                self.seen[topic] = payload
                if topic == f"{BASE}/event":
                    self.events.append(json.loads(payload))
                if topic == f"{BASE}/box_state/state":
                    self.box_states.append(payload)


@asynccontextmanager
async def box_at_home(
    live: LiveSandbox, tmp_path: Path, env: dict[str, str] | None = None, **runtime: Any
) -> AsyncIterator[tuple[Runtime, Home]]:
    """The box running against the sandbox and a fresh broker, seen from Home Assistant's side once
    it is online."""
    live.pair_into(tmp_path)
    with running_broker(tmp_path) as broker:
        env = {**live.env(tmp_path), "MAESTRO_MQTT_URL": broker.url, "MAESTRO_MQTT_NAME": "Living Room",
               "MAESTRO_PLAYER_DEFAULT_DEVICE": "Kitchen", **(env or {})}  # fmt: skip
        settings = config.load(env)
        async with Session.open(settings, state_dir=tmp_path, intents=default_intents_path()) as session:
            box = Runtime(session, SilentSpeaker(), NullDisplay(), poll_s=0.1, print_line=lambda line: None,
                          **runtime)  # fmt: skip
            stop = asyncio.Event()
            async with aiomqtt.Client("127.0.0.1", broker.port) as client:
                await client.subscribe(f"{BASE}/#")
                await client.subscribe("homeassistant/+/living_room/+/config")
                task = asyncio.create_task(box.run(stop))
                home = Home(client)
                await home.until(lambda: home.seen.get(f"{BASE}/availability") == "online")
                try:
                    yield box, home
                finally:
                    stop.set()
                    await asyncio.wait_for(task, 5)


async def test_a_command_from_home_assistant_plays_and_comes_back(live: LiveSandbox, tmp_path: Path) -> None:
    async with box_at_home(live, tmp_path) as (box, home):
        assert "homeassistant/text/living_room/command/config" in home.seen
        await home.client.publish(f"{BASE}/command/set", "play abbey road")

        def album() -> str | None:
            return json.loads(home.seen.get(f"{BASE}/now_playing/attributes", "{}")).get("album")

        await home.until(lambda: album() == "Abbey Road" and bool(home.events))
        said_before = list(box.speaker.history)  # type: ignore[attr-defined]
        await home.client.publish(f"{BASE}/command/set", '{"command": "pause", "speak": true}')  # asked aloud
        await home.until(lambda: len(home.events) >= 2)
    assert live.snapshot()["playback"]["album_name"] == "Abbey Road"
    assert home.seen[f"{BASE}/now_playing/state"] == "Come Together"
    assert home.seen[f"{BASE}/last_command/state"] == "pause"
    assert json.loads(home.seen[f"{BASE}/last_command/attributes"])["intent"] == "Pause"
    assert home.events[0]["intent"] == "PlayAlbum"
    assert home.events[0]["reply"].startswith("Playing Abbey Road")
    assert home.events[0]["event_type"] == "command" and home.events[0]["heard"] == "play abbey road"
    assert not any("Abbey Road" in said for said in said_before)  # shown and published, not spoken
    assert box.speaker.history[len(said_before) :] == [home.events[1]["reply"]]  # type: ignore[attr-defined]
    assert home.events[1]["intent"] == "Pause"


async def test_a_card_tap_fires_the_event_with_its_uid(live: LiveSandbox, tmp_path: Path) -> None:
    reader = ScriptedReader(["wait 0.5", f"tap 04A1B2C3 {ALBUM}", "wait 0.3", "remove", "tap 0455"])
    cards = Cards(TagStore(tmp_path / "tags.yaml"))
    async with box_at_home(live, tmp_path, reader=reader, cards=cards) as (_, home):
        await home.until(lambda: len(home.events) >= 2)
    played, unknown = home.events
    assert (played["event_type"], played["uid"], played["action"], played["ok"]) == (
        "card_tap", "04A1B2C3", "play", True,
    )  # fmt: skip
    assert (unknown["event_type"], unknown["uid"], unknown["action"], unknown["ok"]) == (
        "card_tap", "0455", "unknown", False,
    )  # fmt: skip
    assert live.snapshot()["playback"]["context_uri"] == ALBUM


@pytest.mark.slow
async def test_a_voice_command_moves_the_box_state_and_fires_the_event(
    live: LiveSandbox, tmp_path: Path
) -> None:
    wav = voice_wav(tmp_path / "voice.wav", 3.0, "next song")
    env = {"MAESTRO_VOICE_ENGINE": "pocketsphinx", "MAESTRO_VOICE_INPUT_DEVICE": f"wav:{wav}"}
    async with box_at_home(live, tmp_path, env, voice=default_voice) as (_, home):
        await home.until(lambda: bool(home.events) and home.box_states[-1:] == ["idle"], timeout=60)
    assert home.events[0]["event_type"] == "voice_command" and home.events[0]["intent"] == "Next"
    assert home.box_states[0] == "idle"  # retained from the start
    woke = home.box_states.index("listening")
    assert home.box_states[woke:] == ["listening", "thinking", "speaking", "idle"]
