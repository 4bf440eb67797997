"""The box on an MQTT broker, for Home Assistant: announced, kept up to date, and taking commands.

While `maestro run` runs: connect (the last will says ``offline``), announce every entity
(:mod:`maestro.home.discovery`, retained), say ``online``, publish the latest state again, and
hand each command message to ``handle``. The broker going away is said once and tried again with
a growing pause (0.5 s to 4 s: a refused connection costs nothing, and a broker back after an
update is used within seconds); when it is back, the box announces itself again. A message that
is not what its entity takes is ignored with one log line. Nothing secret is published or logged:
the broker's password stays in :class:`Broker`, out of its repr.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import aiomqtt

from maestro.config import broker_address
from maestro.errors import ConfigError
from maestro.home.discovery import OFFLINE, ONLINE, REPEAT_MODES, Topics, discovery

log = logging.getLogger(__name__)

#: Pauses between tries while the broker cannot be reached: doubling, at most the last (so the box
#: is back within a few seconds of the broker, however long it was away).
BACKOFF_S = (0.5, 1.0, 2.0, 4.0)
#: CONNACK codes for a login the broker refused: MQTT 3.1.1's 4 and 5, MQTT 5's 134 and 135.
REFUSED_LOGIN = (4, 5, 134, 135)
#: Longest text a command message may carry (Home Assistant's text entity allows 255).
MAX_TEXT = 255


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def __str__(self) -> str:  # what logs and messages may show: never the password
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def broker_from(url: str, password_file: str = "") -> Broker:
    """``mqtt://user:pass@host:1883`` or ``mqtts://...`` (TLS, port 8883 unless given); a password
    in ``password_file`` wins over one in the address."""
    parts, port = broker_address(url)
    password = unquote(parts.password) if parts.password else None
    if password_file:
        try:
            password = Path(password_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"mqtt.password_file {password_file} cannot be read: {exc.strerror}") from None
    username = unquote(parts.username) if parts.username else None
    return Broker(parts.hostname, port, parts.scheme == "mqtts", username, password)


@dataclass(frozen=True)
class Words:
    """A command as words: plain text from the text entity, or ``{"command": "...", "speak": true}``
    from an automation that wants the reply said aloud too."""

    text: str
    speak: bool = False


#: ``handle(what, value)``: "command" (:class:`Words`), a button ("play_pause", "next", "previous"),
#: "volume" (int), "speaker" (a name), "shuffle" (bool), "repeat" (a mode).
Handler = Callable[[str, Any], Awaitable[None]]


class MqttLink:
    def __init__(
        self,
        broker: Broker,
        handle: Handler,
        *,
        name: str = "Maestro",
        node_id: str = "maestro",
        prefix: str = "homeassistant",
        lost: Callable[[str], Awaitable[None]] | None = None,
        back: Callable[[], Awaitable[None]] | None = None,
        backoff_s: tuple[float, ...] = BACKOFF_S,
    ) -> None:
        self.broker, self.handle = broker, handle
        self.name, self.node_id, self.prefix = name, node_id, prefix
        self.topics = Topics(node_id)
        self.lost, self.back, self.backoff_s = lost, back, backoff_s
        self.speakers: tuple[str, ...] = ()
        #: The latest state, topic -> payload: published again after every (re)connection.
        self.latest: dict[str, str] = {}
        self.connected = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- what the box tells Home Assistant ---------------------------------------------------

    async def publish_state(self, payloads: dict[str, str]) -> None:
        """Retained state; only what changed is sent."""
        changed = {t: p for t, p in payloads.items() if self.latest.get(t) != p}
        self.latest.update(changed)
        for topic, payload in changed.items():
            await self._send(topic, payload, retain=True)

    async def set_speakers(self, speakers: tuple[str, ...]) -> None:
        """The speaker select's options; announced again when they change."""
        if speakers != self.speakers:
            self.speakers = speakers
            if self._client is not None:
                await self._announce(self._client)

    async def fire(self, event_type: str, **attributes: Any) -> None:
        """An event (a voice command, a card tap): not retained, it happened once."""
        await self._send(self.topics.event, json.dumps({"event_type": event_type, **attributes}))

    async def _send(self, topic: str, payload: str, *, retain: bool = False) -> None:
        client = self._client
        if client is None:
            return  # not connected: the latest state goes out on the next connection
        try:
            await client.publish(topic, payload, qos=1, retain=retain)
        except aiomqtt.MqttError as exc:
            log.info("could not publish to %s: %s", self.broker, exc)

    # -- the connection ------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                async with self._client_for() as client:
                    await self._online(client, was_lost=failures > 0)
                    failures = 0
                    await self._serve(client, stop)
                    await client.publish(self.topics.availability, OFFLINE, qos=1, retain=True)
            except aiomqtt.MqttError as exc:
                self._client = None
                self.connected.clear()
                if failures == 0 and self.lost is not None:
                    await self.lost(self._trouble(exc))
                pause = self.backoff_s[min(failures, len(self.backoff_s) - 1)]
                failures += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause)
            finally:
                self._client = None
                self.connected.clear()
        for task in self._tasks:
            task.cancel()

    def _trouble(self, exc: aiomqtt.MqttError) -> str:
        if isinstance(exc, aiomqtt.MqttCodeError) and exc.rc in REFUSED_LOGIN:
            return (f"Home Assistant's broker at {self.broker} refused Maestro's user name or password; "
                    "check mqtt.url and mqtt.password_file. Trying again.")  # fmt: skip
        return f"Home Assistant's broker at {self.broker} can't be reached ({exc}); trying again."

    def _client_for(self) -> aiomqtt.Client:
        broker = self.broker
        return aiomqtt.Client(
            broker.host, broker.port, username=broker.username, password=broker.password,
            identifier=f"maestro-{self.node_id}",
            will=aiomqtt.Will(self.topics.availability, OFFLINE, qos=1, retain=True),
            tls_context=ssl.create_default_context() if broker.tls else None, timeout=10,
        )  # fmt: skip

    async def _online(self, client: aiomqtt.Client, *, was_lost: bool) -> None:
        await self._announce(client)
        await client.subscribe(f"{self.topics.base}/+/set", qos=1)
        for topic, payload in self.latest.items():
            await client.publish(topic, payload, qos=1, retain=True)
        await client.publish(self.topics.availability, ONLINE, qos=1, retain=True)
        self._client = client
        self.connected.set()
        log.info("connected to %s as %s", self.broker, self.node_id)
        if was_lost and self.back is not None:
            await self.back()

    async def _announce(self, client: aiomqtt.Client) -> None:
        for topic, config in discovery(self.name, self.node_id, self.prefix, self.speakers).items():
            await client.publish(topic, json.dumps(config), qos=1, retain=True)

    async def _serve(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        """Messages handed on until ``stop`` (return) or the broker goes away (MqttError)."""

        async def receive() -> None:
            async for message in client.messages:
                self._dispatch(message)

        receiving = asyncio.ensure_future(receive())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({receiving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not receiving.done():
                receiving.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await receiving
        if not receiving.cancelled():
            receiving.result()  # the broker went away: MqttError

    def _dispatch(self, message: aiomqtt.Message) -> None:
        topic = str(message.topic)
        what = topic.removeprefix(self.topics.base + "/").removesuffix("/set")
        value = command_value(what, message.payload)
        if value is None:
            log.info("ignored a message on %s: not what %s takes", topic, what)
            return
        task = asyncio.ensure_future(self.handle(what, value))  # the next message is read meanwhile
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def command_value(what: str, payload: Any) -> Any:
    """The value a command message carries, checked against what its entity takes; None: not so."""
    if isinstance(payload, bytes | bytearray):
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if not isinstance(payload, str):
        payload = str(payload)
    text = payload.strip()
    if what == "command":
        return _words(text)
    if what in ("play_pause", "next", "previous"):
        return True if text == "PRESS" else None
    if what == "volume":
        try:
            volume = round(float(text))
        except ValueError:
            return None
        return volume if 0 <= volume <= 100 else None
    if what == "speaker":
        return text if 0 < len(text) <= MAX_TEXT else None
    if what == "shuffle":
        return {"ON": True, "OFF": False}.get(text)
    if what == "repeat":
        return text if text in REPEAT_MODES else None
    return None


def _words(text: str) -> Words | None:
    speak = False
    if text.startswith("{"):
        try:
            message = json.loads(text)
        except ValueError:
            return None
        if not isinstance(message, dict) or set(message) - {"command", "speak"}:
            return None
        text, speak = message.get("command"), message.get("speak", False)
        if not isinstance(text, str) or not isinstance(speak, bool):
            return None
        text = text.strip()
    return Words(text, speak) if 0 < len(text) <= MAX_TEXT else None
