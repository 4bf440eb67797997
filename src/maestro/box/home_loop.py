"""Home Assistant (:mod:`maestro.home`) wired into the running box: its commands through the box's
own path, and the box's news out to it."""

from __future__ import annotations

import json
import time
from typing import Any, Protocol

from maestro.box.commands import Commands, Done
from maestro.box.state import BoxParts
from maestro.box.troubles import Troubles
from maestro.home.discovery import node_id_for, playing_payloads
from maestro.home.mqtt_link import MqttLink, Words, broker_from
from maestro.intents.recognition import Recognition
from maestro.messages import Reply
from maestro.session import Session
from maestro.spotify.player import PlaybackState


class Box(Protocol):
    """What of the running box (:class:`maestro.box.runtime.Runtime`) Home Assistant works with."""

    session: Session
    commands: Commands
    parts: BoxParts
    troubles: Troubles


#: The event entity's type for each source of commands.
EVENT_FOR = {"voice": "voice_command", "card": "card_tap", "mqtt": "command"}
#: Buttons and the switch/selects, as the intents they run.
INTENT_FOR = {"next": "Next", "previous": "Previous"}


def home_link(runtime: Box) -> MqttLink:
    """The MQTT link for ``mqtt.*``: its commands run one at a time with voice and cards (shown,
    not spoken), what is playing and every command published."""
    settings = runtime.session.settings.mqtt
    session = runtime.session
    actions = session.actions

    async def handle(what: str, value: Any) -> None:
        async def work() -> Reply | tuple[Recognition, Reply]:
            if what == "command":
                return await session.handle(value.text)
            if what == "speaker":
                return (await session.handle(f"move the music to {value}"))[1]
            if what == "play_pause":
                return await actions.toggle()
            slots: dict[str, Any] = {}
            intent = INTENT_FOR.get(what, "")
            if what == "volume":
                intent, slots = "SetVolume", {"volume": value}
            elif what == "shuffle":
                intent, slots = "Shuffle", {"state": "on" if value else "off"}
            elif what == "repeat":
                intent, slots = "Repeat", {"mode": value}
            return await actions.run(Recognition(text="", intent=intent, slots=slots, score=1.0))

        if isinstance(value, Words):
            await runtime.commands.run("mqtt", work, value.text, speak=value.speak)
        else:
            await runtime.commands.run("mqtt", work, f"{what}: {value}", speak=False)

    link = MqttLink(
        broker_from(settings.url, settings.password_file), handle,
        name=settings.name, node_id=node_id_for(settings.name), prefix=settings.discovery_prefix,
        lost=lambda message: runtime.troubles.report(message, "mqtt"),
        back=lambda: runtime.troubles.resolved("mqtt", "Home Assistant's broker is back."),
    )  # fmt: skip

    async def command_done(done: Done) -> None:  # in the background: a slow broker holds up nothing
        runtime.parts.background.start(publish_done(done))

    async def publish_done(done: Done) -> None:
        reply = done.reply
        attributes = {"heard": done.heard, "source": done.source, "intent": reply.intent,
                      "reply": reply.speech, "ok": reply.ok, "at": time.time(), **done.details}  # fmt: skip
        if done.recognition is not None:
            attributes["slots"] = done.recognition.slots_json()
        await link.publish_state({
            link.topics.state("last_command"): done.heard[:255],
            link.topics.attributes("last_command"): json.dumps(attributes),
        })  # fmt: skip
        await link.fire(EVENT_FOR.get(done.source, "command"), **attributes)

    def activity_changed(now: str) -> None:
        runtime.parts.background.start(link.publish_state({link.topics.state("box_state"): now}))

    async def looked(playing: PlaybackState | None) -> None:
        runtime.parts.background.start(publish_playing(playing))

    async def publish_playing(playing: PlaybackState | None) -> None:
        await link.set_speakers(tuple(item.name for item in session.library.items("device")))
        await link.publish_state(playing_payloads(link.topics, playing))

    activity = runtime.parts.state.activity
    link.latest[link.topics.state("box_state")] = activity.now  # sent once connected
    activity.watchers.append(activity_changed)
    runtime.commands.watchers.append(command_done)
    runtime.parts.playing_watchers.append(looked)
    return link
