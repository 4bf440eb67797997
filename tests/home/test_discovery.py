"""Home Assistant's MQTT discovery rules, checked for every entity Maestro announces."""

from __future__ import annotations

import json

from maestro.home.discovery import Topics, discovery, node_id_for, playing_payloads
from maestro.spotify.player import Device, Item, PlaybackState

#: What Home Assistant's MQTT platforms require of a discovery payload (beyond the common keys).
REQUIRED = {
    "sensor": {"state_topic"},
    "text": {"command_topic"},
    "button": {"command_topic"},
    "number": {"command_topic", "state_topic", "min", "max"},
    "select": {"command_topic", "state_topic", "options"},
    "switch": {"command_topic", "state_topic"},
    "event": {"state_topic", "event_types"},
}


def test_every_entity_follows_the_discovery_rules() -> None:
    payloads = discovery("Maestro", "maestro", speakers=("Kitchen", "Den TV"))
    seen_ids = set()
    components = set()
    for topic, config in payloads.items():
        prefix, component, node, _, last = topic.split("/")
        assert (prefix, node, last) == ("homeassistant", "maestro", "config")
        components.add(component)
        assert REQUIRED[component] <= set(config), (topic, REQUIRED[component] - set(config))
        assert config["unique_id"] not in seen_ids
        assert config["default_entity_id"] == f"{component}.{config['unique_id']}"  # domain.object
        assert "object_id" not in config  # deprecated by Home Assistant 2025.10, gone in 2026.4
        seen_ids.add(config["unique_id"])
        assert config["device"]["identifiers"] == ["maestro_maestro"]
        assert config["device"]["name"] == "Maestro"
        assert config["availability_topic"] == "maestro/maestro/availability"
        for key, value in config.items():
            if key.endswith("_topic"):
                assert "#" not in value and "+" not in value  # topics to publish to, not filters
        if component in ("select", "event"):
            assert config.get("options") or config.get("event_types")
        if component == "number":
            assert config["min"] < config["max"]
        json.dumps(config)  # every payload is JSON
    assert components == set(REQUIRED)
    speaker = next(c for t, c in payloads.items() if "/select/" in t and t.endswith("speaker/config"))
    assert speaker["options"] == ["Kitchen", "Den TV"]


def test_names_make_topics() -> None:
    assert node_id_for("Maestro (Kids' room)") == "maestro_kids_room"
    assert node_id_for("!!!") == "maestro"


def test_what_is_playing_as_state() -> None:
    topics = Topics("maestro")
    state = PlaybackState(
        device=Device("k", "Kitchen", "Speaker", True, 40, True), is_playing=True, progress_ms=0,
        item=Item("track", "Come Together", "spotify:track:1", "The Beatles", "Abbey Road"),
        context_uri=None, shuffle=True, repeat="context",
    )  # fmt: skip
    out = playing_payloads(topics, state)
    assert out["maestro/maestro/now_playing/state"] == "Come Together"
    attributes = json.loads(out["maestro/maestro/now_playing/attributes"])
    assert attributes["artist"] == "The Beatles" and attributes["speaker"] == "Kitchen"
    assert out["maestro/maestro/volume/state"] == "40" and out["maestro/maestro/shuffle/state"] == "ON"
    assert playing_payloads(topics, None)["maestro/maestro/now_playing/state"] == "Nothing playing"
