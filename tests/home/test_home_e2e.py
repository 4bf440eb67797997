"""Home Assistant end to end: the running box on a real broker (mosquitto), against the sandbox.
A command published to the text entity reaches Spotify and what plays comes back on the sensor;
the reply is published, not spoken; every command fires the event entity."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiomqtt
import pytest

from maestro import config
from maestro.box.runtime import Runtime
from maestro.display.devices import NullDisplay
from maestro.intents.spec import default_intents_path
from maestro.session import Session
from maestro.voice.tts import SilentSpeaker
from tests.home.broker import MOSQUITTO, Mosquitto
from tests.live import LiveSandbox

pytestmark = pytest.mark.skipif(
    MOSQUITTO is None, reason="mosquitto is not installed (./dev setup installs it)"
)

BASE = "maestro/living_room"


async def test_a_command_from_home_assistant_plays_and_comes_back(live: LiveSandbox, tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path)
    broker.start()
    live.pair_into(tmp_path)
    env = {"MAESTRO_MQTT_URL": broker.url, "MAESTRO_MQTT_NAME": "Living Room",
           "MAESTRO_PLAYER_DEFAULT_DEVICE": "Kitchen"}  # fmt: skip
    settings = config.load({**live.env(tmp_path), **env})
    try:
        async with Session.open(settings, state_dir=tmp_path, intents=default_intents_path()) as session:
            speaker = SilentSpeaker()
            runtime = Runtime(session, speaker, NullDisplay(), poll_s=0.1, print_line=lambda line: None)
            stop = asyncio.Event()
            task = asyncio.create_task(runtime.run(stop))
            seen: dict[str, str] = {}
            events: list[dict] = []
            async with aiomqtt.Client("127.0.0.1", broker.port) as home:
                await home.subscribe(f"{BASE}/#")
                await home.subscribe("homeassistant/+/living_room/+/config")
                async with asyncio.timeout(15):
                    async for message in home.messages:  # the box comes online and announces itself
                        seen[str(message.topic)] = bytes(message.payload).decode()  # type: ignore[arg-type]
                        if seen.get(f"{BASE}/availability") == "online":
                            break
                assert "homeassistant/text/living_room/command/config" in seen
                await home.publish(f"{BASE}/command/set", "play abbey road")
                async with asyncio.timeout(15):
                    async for message in home.messages:
                        topic, payload = str(message.topic), bytes(message.payload).decode()  # type: ignore[arg-type]
                        seen[topic] = payload
                        if topic == f"{BASE}/event":
                            events.append(json.loads(payload))
                        playing = json.loads(seen.get(f"{BASE}/now_playing/attributes", "{}"))
                        if playing.get("album") == "Abbey Road" and events:
                            break
            stop.set()
            await asyncio.wait_for(task, 5)
    finally:
        broker.stop()
    assert live.snapshot()["playback"]["album_name"] == "Abbey Road"
    assert seen[f"{BASE}/now_playing/state"] == "Come Together"
    assert seen[f"{BASE}/last_command/state"] == "play abbey road"
    last = json.loads(seen[f"{BASE}/last_command/attributes"])
    assert last["intent"] == "PlayAlbum" and last["reply"].startswith("Playing Abbey Road") and last["ok"]
    assert events[0]["event_type"] == "command" and events[0]["heard"] == "play abbey road"
    assert not any("Abbey Road" in said for said in speaker.history)  # shown and published, not spoken
