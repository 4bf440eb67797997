"""What Home Assistant is told about the box: MQTT discovery messages, topics, and state payloads.

One device ("Maestro", or ``mqtt.name``) with its entities, each announced on
``<prefix>/<component>/<node_id>/<object_id>/config`` (retained, so a restarted Home Assistant
sees the box at once), all unavailable when the box's last will says ``offline``. Pure: no
network here (:mod:`maestro.home.mqtt_link` sends them).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from maestro import __version__
from maestro.spotify.player import PlaybackState

ONLINE, OFFLINE = "online", "offline"
#: The box's states, as the state sensor reports them.
BOX_STATES = ("idle", "listening", "thinking", "speaking", "pairing", "trouble")
#: The buttons (what each runs: :mod:`maestro.box.home_loop`).
BUTTONS = ("play_pause", "next", "previous")
REPEAT_MODES = ("off", "track", "context")
#: The speaker select before any speaker is known (Home Assistant wants one option at least).
NO_SPEAKER = "(none)"
#: What fires the event entity.
EVENT_TYPES = ("voice_command", "card_tap", "command")


def node_id_for(name: str) -> str:
    """ "Maestro (Kids' room)" -> "maestro_kids_room": topics and unique ids."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "maestro"


@dataclass(frozen=True)
class Topics:
    """The box's own topics, under ``maestro/<node_id>``."""

    node_id: str

    @property
    def base(self) -> str:
        return f"maestro/{self.node_id}"

    @property
    def availability(self) -> str:
        return f"{self.base}/availability"

    def state(self, what: str) -> str:
        return f"{self.base}/{what}/state"

    def attributes(self, what: str) -> str:
        return f"{self.base}/{what}/attributes"

    def command(self, what: str) -> str:
        return f"{self.base}/{what}/set"

    @property
    def event(self) -> str:
        return f"{self.base}/event"


def discovery(
    name: str, node_id: str, prefix: str = "homeassistant", speakers: tuple[str, ...] = ()
) -> dict[str, dict[str, Any]]:
    """Config topic -> discovery payload, for every entity of the box. ``speakers``: the options of
    the speaker select (announced again when they change)."""
    topics = Topics(node_id)
    device = {
        "identifiers": [f"maestro_{node_id}"],
        "name": name,
        "manufacturer": "Maestro",
        "model": "Voice remote for Spotify Connect",
        "sw_version": __version__,
    }
    entities: list[tuple[str, str, dict[str, Any]]] = [
        ("sensor", "now_playing", {
            "name": "Now playing", "icon": "mdi:music",
            "state_topic": topics.state("now_playing"),
            "json_attributes_topic": topics.attributes("now_playing"),
        }),
        ("sensor", "box_state", {
            "name": "State", "icon": "mdi:microphone-message",
            "device_class": "enum", "options": list(BOX_STATES),
            "state_topic": topics.state("box_state"),
        }),
        ("sensor", "last_command", {
            "name": "Last command", "icon": "mdi:account-voice",
            "state_topic": topics.state("last_command"),
            "json_attributes_topic": topics.attributes("last_command"),
        }),
        ("text", "command", {
            "name": "Command", "icon": "mdi:keyboard",
            "command_topic": topics.command("command"), "max": 255,
        }),
        *[("button", button, {
            "name": button.replace("_", "/").title().replace("Play/Pause", "Play/pause"),
            "command_topic": topics.command(button), "payload_press": "PRESS",
        }) for button in BUTTONS],
        ("number", "volume", {
            "name": "Volume", "icon": "mdi:volume-high", "min": 0, "max": 100, "step": 1,
            "mode": "slider", "unit_of_measurement": "%",
            "state_topic": topics.state("volume"), "command_topic": topics.command("volume"),
        }),
        ("select", "speaker", {
            "name": "Speaker", "icon": "mdi:speaker",
            "options": list(speakers) or [NO_SPEAKER],
            "state_topic": topics.state("speaker"), "command_topic": topics.command("speaker"),
        }),
        ("switch", "shuffle", {
            "name": "Shuffle", "icon": "mdi:shuffle", "payload_on": "ON", "payload_off": "OFF",
            "state_topic": topics.state("shuffle"), "command_topic": topics.command("shuffle"),
        }),
        ("select", "repeat", {
            "name": "Repeat", "icon": "mdi:repeat", "options": list(REPEAT_MODES),
            "state_topic": topics.state("repeat"), "command_topic": topics.command("repeat"),
        }),
        ("event", "activity", {
            "name": "Activity", "icon": "mdi:gesture-tap",
            "event_types": list(EVENT_TYPES), "state_topic": topics.event,
        }),
    ]  # fmt: skip
    payloads = {}
    for component, object_id, config in entities:
        payloads[f"{prefix}/{component}/{node_id}/{object_id}/config"] = {
            **config,
            "unique_id": f"{node_id}_{object_id}",
            # the entity id Home Assistant gives it (2025.10 on; "object_id" ends in 2026.4)
            "default_entity_id": f"{component}.{node_id}_{object_id}",
            "device": device,
            "availability_topic": topics.availability,
            "payload_available": ONLINE,
            "payload_not_available": OFFLINE,
        }
    return payloads


def playing_payloads(topics: Topics, state: PlaybackState | None) -> dict[str, str]:
    """Topic -> payload for what is playing (retained: a restarted Home Assistant sees it at once)."""
    item = state.item if state else None
    device = state.device if state else None
    attributes = {
        "title": item.name if item else None,
        "artist": item.artist if item else None,
        "album": item.album if item else None,
        "uri": item.uri if item else None,
        "speaker": device.name if device else None,
        "playing": bool(state and state.is_playing),
    }
    out = {
        topics.state("now_playing"): (item.name if item else "Nothing playing")[:255],
        topics.attributes("now_playing"): json.dumps(attributes),
        topics.state("shuffle"): "ON" if state and state.shuffle else "OFF",
        topics.state("repeat"): state.repeat if state and state.repeat in REPEAT_MODES else "off",
    }
    if device is not None:
        out[topics.state("speaker")] = device.name
        if device.volume_percent is not None:
            out[topics.state("volume")] = str(device.volume_percent)
    return out
