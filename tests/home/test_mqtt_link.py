"""The box on a real broker (mosquitto): announced, commands handed on, bad messages ignored, the
broker going away and coming back, and no password anywhere it could be seen."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from maestro.errors import ConfigError
from maestro.home.mqtt_link import Broker, MqttLink, Words, broker_from
from tests.home.broker import MOSQUITTO, Mosquitto

pytestmark = pytest.mark.skipif(
    MOSQUITTO is None, reason="mosquitto is not installed (./dev setup installs it: apt-get mosquitto)"
)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.said: list[str] = []

    async def handle(self, what: str, value: Any) -> None:
        self.calls.append((what, value))

    async def lost(self, message: str) -> None:
        self.said.append(message)

    async def back(self) -> None:
        self.said.append("back")


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[Mosquitto]:
    mosquitto = Mosquitto(tmp_path)
    mosquitto.start()
    yield mosquitto
    mosquitto.stop()


async def collect(port: int, topic: str, until: Any, timeout: float = 5.0) -> dict[str, str]:
    """Messages on ``topic`` (retained ones first) until ``until(seen)`` holds."""
    seen: dict[str, str] = {}
    async with aiomqtt.Client("127.0.0.1", port) as client:
        await client.subscribe(topic)
        async with asyncio.timeout(timeout):
            async for message in client.messages:
                payload = message.payload
                seen[str(message.topic)] = payload.decode() if isinstance(payload, bytes) else ""
                if until(seen):
                    return seen
    return seen


async def wait_for(condition: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def test_announced_then_commands_handed_on(broker: Mosquitto, caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()
    link = MqttLink(broker_from(broker.url), recorder.handle, lost=recorder.lost, back=recorder.back)
    stop = asyncio.Event()
    running = asyncio.create_task(link.run(stop))
    await asyncio.wait_for(link.connected.wait(), 5)
    await link.publish_state({"maestro/maestro/now_playing/state": "Come Together"})
    seen = await collect(broker.port, "#", lambda s: "maestro/maestro/now_playing/state" in s
                         and len([t for t in s if t.startswith("homeassistant/")]) >= 12)  # fmt: skip
    configs = {t: json.loads(p) for t, p in seen.items() if t.startswith("homeassistant/")}
    assert "homeassistant/text/maestro/command/config" in configs
    assert seen["maestro/maestro/availability"] == "online"
    assert seen["maestro/maestro/now_playing/state"] == "Come Together"

    async with aiomqtt.Client("127.0.0.1", broker.port) as home:
        await home.publish("maestro/maestro/command/set", "play abbey road")
        await home.publish("maestro/maestro/volume/set", "35")
        await home.publish("maestro/maestro/next/set", "PRESS")
        with caplog.at_level(logging.INFO, logger="maestro.home.mqtt_link"):
            await home.publish("maestro/maestro/volume/set", "loud")  # not a number
            await home.publish("maestro/maestro/shuffle/set", "maybe")
            await home.publish("maestro/maestro/command/set", b"\xff\xfe")  # not text
            await home.publish("maestro/maestro/command/set", '{"command": "pause", "speak": "yes"}')
            await home.publish("maestro/maestro/command/set", '{"command": "pause", "speak": true}')
            await home.publish("maestro/maestro/repeat/set", "track")
            await wait_for(lambda: ("repeat", "track") in recorder.calls)
    assert recorder.calls == [
        ("command", Words("play abbey road")), ("volume", 35), ("next", True),
        ("command", Words("pause", speak=True)), ("repeat", "track"),
    ]  # fmt: skip
    assert len([r for r in caplog.records if "ignored a message" in r.getMessage()]) == 4

    stop.set()
    await asyncio.wait_for(running, 5)
    after = await collect(broker.port, "maestro/maestro/availability", lambda s: True)
    assert after["maestro/maestro/availability"] == "offline"
    assert recorder.said == []


async def test_the_broker_going_away_is_said_once_and_the_box_comes_back(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path)
    broker.start()
    recorder = Recorder()
    link = MqttLink(broker_from(broker.url), recorder.handle, lost=recorder.lost, back=recorder.back,
                    backoff_s=(0.2, 0.5, 1.0))  # fmt: skip
    stop = asyncio.Event()
    running = asyncio.create_task(link.run(stop))
    try:
        await asyncio.wait_for(link.connected.wait(), 5)
        broker.stop()
        await wait_for(lambda: not link.connected.is_set())
        await asyncio.sleep(2.0)  # several tries while it is away: said once
        assert len(recorder.said) == 1 and "can't be reached" in recorder.said[0]
        loop = asyncio.get_running_loop()
        back_at = loop.time()
        broker.start()
        await asyncio.wait_for(link.connected.wait(), 5)
        assert loop.time() - back_at < 5  # available again within 5 s of the broker
        seen = await collect(broker.port, "#", lambda s: "maestro/maestro/availability" in s
                             and "homeassistant/text/maestro/command/config" in s)  # fmt: skip
        assert seen["maestro/maestro/availability"] == "online"  # announced again to a fresh broker
        assert recorder.said[-1] == "back"
    finally:
        stop.set()
        await asyncio.wait_for(running, 5)
        broker.stop()


def test_broker_addresses_and_passwords(tmp_path: Path) -> None:
    broker = broker_from("mqtt://home:s3cret%21@ha.local")
    assert (broker.host, broker.port, broker.tls, broker.username) == ("ha.local", 1883, False, "home")
    assert broker.password == "s3cret!"
    assert "s3cret" not in repr(broker) and "s3cret" not in str(broker)
    assert broker_from("mqtts://ha.local").port == 8883 and broker_from("mqtts://ha.local").tls
    secret = tmp_path / "mqtt-password"
    secret.write_text("from-a-file\n")
    assert broker_from("mqtt://home@ha.local:1884", str(secret)).password == "from-a-file"
    for bad in ("http://ha.local", "mqtt://", "mqtt://ha.local:99999"):
        with pytest.raises(ConfigError) as info:
            broker_from(bad)
        assert "mqtt" in str(info.value)
    assert Broker("h", 1, password="x").password == "x"


async def test_a_broker_with_a_password_and_the_password_nowhere(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A real broker that wants a password: the right one (from a file) is let in, a wrong one is
    said as trouble; neither password is in any log line (paho's own included) or message."""
    right, wrong = "Right-Pa55-7781", "Wrong-Pa55-9902"
    broker = Mosquitto(tmp_path, users={"maestro": right})
    broker.start()
    secret = tmp_path / "mqtt-password"
    secret.write_text(right + "\n")
    recorder = Recorder()
    try:
        with caplog.at_level(logging.DEBUG):
            with pytest.raises(aiomqtt.MqttError):  # the broker is really closed to strangers
                async with aiomqtt.Client("127.0.0.1", broker.port):
                    pass
            allowed = MqttLink(broker_from(f"mqtt://maestro@127.0.0.1:{broker.port}", str(secret)),
                               recorder.handle)  # fmt: skip
            stop = asyncio.Event()
            running = asyncio.create_task(allowed.run(stop))
            await asyncio.wait_for(allowed.connected.wait(), 5)
            stop.set()
            await asyncio.wait_for(running, 5)

            refused = MqttLink(broker_from(f"mqtt://maestro:{wrong}@127.0.0.1:{broker.port}"),
                               recorder.handle, lost=recorder.lost, backoff_s=(0.1,))  # fmt: skip
            stop = asyncio.Event()
            running = asyncio.create_task(refused.run(stop))
            await wait_for(lambda: bool(recorder.said))
            stop.set()
            await asyncio.wait_for(running, 5)
    finally:
        broker.stop()
    assert not refused.connected.is_set() and "refused Maestro's user name or password" in recorder.said[0]
    assert "127.0.0.1" in recorder.said[0]  # says which broker
    shown = [caplog.text, *recorder.said, repr(allowed.broker), str(refused.broker)]
    assert not any(password in text for text in shown for password in (right, wrong))
