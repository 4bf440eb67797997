"""The matcher on paraphrases, ASR-like noise, slot types and out-of-domain speech."""

from __future__ import annotations

import pytest

from maestro.intents import LibraryItem, Matcher, StaticLibrary, load_spec
from maestro.intents.spec import default_intents_path
from tests.intents.helpers import catalog_library


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_spec(default_intents_path()), catalog_library())


def parsed(matcher: Matcher, text: str) -> tuple[str | None, dict]:
    result = matcher.match(text)
    slots = {k: v["name"] if isinstance(v, dict) else v for k, v in result.slots_json().items()}
    return result.intent, slots


@pytest.mark.parametrize(
    ("text", "intent", "slots"),
    [
        ("skip", "Next", {}),
        ("next one", "Next", {}),
        ("turn it up a bit", "VolumeUp", {}),
        ("a little louder", "VolumeUp", {}),
        ("volume to 30", "SetVolume", {"volume": 30}),
        ("set the volume at forty percent", "SetVolume", {"volume": 40}),
        ("volume to fifty five", "SetVolume", {"volume": 55}),
        ("turn it down by fifteen", "VolumeDown", {"amount": 15}),
        ("shuffle on", "Shuffle", {"state": "on"}),
        ("stop shuffling", "Shuffle", {"state": "off"}),
        ("repeat this song", "Repeat", {"mode": "track"}),
        ("put on Abbey Road", "PlayAlbum", {"album": "Abbey Road"}),
        ("play some Miles Davis", "PlayArtist", {"artist": "Miles Davis"}),
        ("play my Discover Weekly playlist", "PlayPlaylist", {"playlist": "Discover Weekly"}),
        (
            "play the song Yesterday by the Beatles",
            "PlayTrack",
            {"track": "Yesterday", "artist": "The Beatles"},
        ),
        ("play it in the kitchen", "Transfer", {"device": "Kitchen"}),
        ("what's this song", "NowPlaying", {}),
        ("who sings this", "NowPlaying", {}),
        ("like this song", "Like", {}),
        ("skip ahead a minute", "SeekForward", {"seconds": 60}),
        ("rewind two minutes", "SeekBackward", {"seconds": 120}),
        ("play some relaxing jazz", "PlaySearch", {"query": "relaxing jazz"}),
        ("add karma police to the queue", "Queue", {"query": "karma police"}),
        ("play my liked songs", "PlayLiked", {}),
        ("which speakers are available", "ListDevices", {}),
    ],
)
def test_phrasings(matcher: Matcher, text: str, intent: str, slots: dict) -> None:
    assert parsed(matcher, text) == (intent, slots)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("hey maestro skip this song", "Next"),
        ("um could you uh pause the music please", "Pause"),
        ("can you turn the volume up a notch", "VolumeUp"),
        ("skipp this song", "Next"),  # misheard word, closest known one
        ("shuffel on", "Shuffle"),
        ("okay maestro what's playing right now", "NowPlaying"),
    ],
)
def test_asr_like_noise(matcher: Matcher, text: str, intent: str) -> None:
    result = matcher.match(text)
    assert result.intent == intent
    assert 0.6 <= result.score <= 1.0


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("play abby road", "Abbey Road"),
        ("play the album rumors", "Rumours"),
        ("play fleet wood mac", "Fleetwood Mac"),
        ("play some miles davies", "Miles Davis"),
        ("play the song here comes a sun", "Here Comes the Sun"),
        ("play bjork", "Björk"),
        ("play guns and roses", "Guns N' Roses"),
    ],
)
def test_names_resolve_despite_misspelling(matcher: Matcher, text: str, name: str) -> None:
    result = matcher.match(text)
    values = [v for v in result.slots.values() if hasattr(v, "uri")]
    assert values and values[0].name == name and values[0].uri


def test_library_slot_returns_name_and_uri(matcher: Matcher) -> None:
    body = matcher.match("play the album kind of blue").to_json()
    assert body["slots"]["album"]["name"] == "Kind of Blue"
    assert body["slots"]["album"]["uri"].startswith("spotify:album:")


def test_unknown_name_keeps_the_spoken_words() -> None:
    matcher = Matcher(load_spec(default_intents_path()))  # no library at all
    body = matcher.match("play the album abbey road").to_json()
    assert body["intent"] == "PlayAlbum"
    assert body["slots"] == {"album": {"name": "abbey road", "uri": None}}


def test_by_artist_narrows_the_search() -> None:
    library = StaticLibrary(
        [
            LibraryItem("track", "One", "spotify:track:u2one", "U2"),
            LibraryItem("track", "One", "spotify:track:metallica", "Metallica"),
            LibraryItem("artist", "U2", "spotify:artist:u2"),
            LibraryItem("artist", "Metallica", "spotify:artist:metallica"),
        ]
    )
    matcher = Matcher(load_spec(default_intents_path()), library)
    assert matcher.match("play one by metallica").slots["track"].uri == "spotify:track:metallica"
    assert matcher.match("play one by u2").slots["track"].uri == "spotify:track:u2one"


def test_out_of_range_number_is_reported(matcher: Matcher) -> None:
    result = matcher.match("set the volume to 150")
    assert result.intent == "SetVolume" and result.slots == {"volume": 150}
    assert result.problems == ["volume must be between 0 and 100"]


def test_device_names_tolerate_generic_words(matcher: Matcher) -> None:
    assert parsed(matcher, "switch to the bedroom speaker") == ("Transfer", {"device": "Bedroom"})


def test_play_in_order_is_not_a_device(matcher: Matcher) -> None:
    assert parsed(matcher, "play in order") == ("Shuffle", {"state": "off"})


@pytest.mark.parametrize(
    "text",
    [
        "what's the temperature outside",
        "turn off the lights",
        "set an alarm for seven",
        "send a message to anna",
        "open the garage door",
        "call my mother",
        "what time is it",
        "",
        "the",
    ],
)
def test_not_commands_give_no_intent(matcher: Matcher, text: str) -> None:
    result = matcher.match(text)
    assert result.intent is None and result.slots == {}


def test_deterministic(matcher: Matcher) -> None:
    first = [matcher.match(t).to_json() for t in ("play thriller", "play hotel california", "skip")]
    again = [matcher.match(t).to_json() for t in ("play thriller", "play hotel california", "skip")]
    assert first == again


def test_specificity_breaks_ties(matcher: Matcher) -> None:
    # "play X next" is Queue, not a search for "X next".
    assert parsed(matcher, "play superstition next") == ("Queue", {"query": "superstition"})


def test_fixed_slots_from_templates(matcher: Matcher) -> None:
    assert parsed(matcher, "play in random order") == ("Shuffle", {"state": "on"})
    assert parsed(matcher, "turn off repeat") == ("Repeat", {"mode": "off"})
