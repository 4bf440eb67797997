"""A meaning chosen from lists (the web app's "I meant…"): intents with their slots, and the values
typed for them read as the matcher reads words, then learned as the user's own phrasing."""

from __future__ import annotations

from pathlib import Path

import pytest

from maestro.intents import Matcher
from maestro.intents.meaning import choices, meaning
from maestro.intents.personal import PersonalPhrasings, PhrasingError
from maestro.intents.recognition import NameValue
from maestro.intents.spec import default_intents_path, load_spec
from tests.intents.helpers import catalog_library


def test_every_intent_is_offered_with_a_sample_and_its_slots() -> None:
    spec = load_spec(default_intents_path())
    offered = {choice.name: choice for choice in choices(spec)}
    assert list(offered) == list(spec.intents)
    album = offered["PlayAlbum"]
    assert (album.label, album.sample) == ("Play album", "play album …")
    assert [(s.name, s.type, s.kind) for s in album.slots] == [
        ("album", "library", "album"), ("artist", "library", "artist"), ("device", "device", "device")
    ]  # fmt: skip
    assert [s.values for s in offered["Repeat"].slots if s.name == "mode"] == [("track", "context", "off")]
    assert [(s.low, s.high) for s in offered["SetVolume"].slots if s.name == "volume"] == [(0, 100)]
    assert offered["Pause"].sample == "pause" and offered["ListDevices"].slots == ()


def test_values_are_read_as_the_matcher_reads_words() -> None:
    spec = load_spec(default_intents_path())
    names = Matcher(spec, catalog_library()).names
    album = meaning(spec, names, "PlayAlbum", {"album": "abby road", "device": ""})  # misspelt, fuzzily found
    assert album.intent == "PlayAlbum" and isinstance(album.slots["album"], NameValue)
    assert album.slots["album"].name == "Abbey Road" and album.slots["album"].uri
    assert "device" not in album.slots  # left empty: the command doesn't say it
    assert meaning(spec, names, "SetVolume", {"volume": "thirty five"}).slots == {"volume": 35}
    assert meaning(spec, names, "SetVolume", {"volume": "35"}).slots == {"volume": 35}
    assert meaning(spec, names, "SleepTimer", {"minutes": "an hour"}).slots == {"minutes": 60}
    assert meaning(spec, names, "Shuffle", {"state": "Off"}).slots == {"state": "off"}
    assert meaning(spec, names, "Repeat", {"mode": "this song"}).slots == {"mode": "track"}  # a synonym
    assert meaning(spec, names, "PlaySearch", {"query": "Rainy Day Jazz"}).slots == {
        "query": "rainy day jazz"
    }


@pytest.mark.parametrize(
    "intent, values, message",
    [
        ("Dance", {}, "no intent called “Dance”"),
        ("Pause", {"album": "abbey road"}, "Pause has no album: it takes device"),
        ("SetVolume", {"volume": "loud"}, "volume is a number from 0 to 100, not “loud”"),
        ("SetVolume", {"volume": "140"}, "volume is a number from 0 to 100"),
        ("Shuffle", {"state": "sideways"}, "state is one of: on, off"),
        ("PlayAlbum", {"album": "dish symphony"}, "couldn.t find the album “dish symphony” in your library"),
        ("Pause", {"device": "the moon"}, "couldn't find the device “the moon” in your speakers"),
    ],
)  # fmt: skip
def test_what_cannot_be_meant_is_said(intent: str, values: dict[str, str], message: str) -> None:
    spec = load_spec(default_intents_path())
    with pytest.raises(PhrasingError, match=message):
        meaning(spec, Matcher(spec, catalog_library()).names, intent, values)


def test_a_chosen_meaning_is_learned_and_generalises(tmp_path: Path) -> None:
    personal = PersonalPhrasings(default_intents_path(), tmp_path)
    matcher = Matcher(personal.spec, catalog_library())
    assert matcher.match("stick on abbey road").intent != "PlayAlbum"
    chosen = meaning(personal.spec, matcher.names, "PlayAlbum", {"album": "Abbey Road"})
    phrasing = personal.learn("stick on abbey road", chosen)
    matcher.refresh()
    assert phrasing.template == "stick on {known_album:album}"
    other = matcher.match("stick on kind of blue")
    assert (other.intent, other.slots["album"].name) == ("PlayAlbum", "Kind of Blue")
    personal.learn("crank it to eleven", meaning(personal.spec, matcher.names, "SetVolume", {"volume": "11"}))
    matcher.refresh()
    assert matcher.match("crank it to forty").slots == {"volume": 40}
