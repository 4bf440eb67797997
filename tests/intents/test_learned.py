"""The learned parser: its training data drawn from intents.yaml, phrasings no template lists,
doubtful readings refused, names resolved against the library, the cache, out-of-domain speech."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from maestro.intents import LibraryItem, Matcher, StaticLibrary, load_spec
from maestro.intents.examples import NONE, UNKNOWN, examples, label_of, out_of_domain, read_label
from maestro.intents.learned import Learner, learned_parser, spans
from maestro.intents.normalize import normalize
from maestro.intents.search_words import search_words
from maestro.intents.spec import default_intents_path, parse_spec
from tests.intents.helpers import catalog_library
from tests.paths import REPO

BENCH = REPO / "bench" / "data"

SMALL = """
language: en
wake_phrase: hey maestro
slots:
  amount: {type: number, min: 1, max: 100}
  state:
    type: enum
    values: {"on": ["on"], "off": ["off"]}
  known_album: {type: library, kind: album, require_match: true}
  known_device: {type: device}
  query: {type: text}
rules:
  vol: "(the volume|volume|the sound|the music|it)"
intents:
  Pause:
    reply: "Paused."
    templates:
      - "(pause|stop) [the music|it|playback]"
      - "hold the music"
  VolumeUp:
    reply: "Louder."
    templates:
      - "turn <vol> up [by {amount}]"
      - "(louder|more volume) [please]"
  VolumeDown:
    reply: "Quieter."
    templates:
      - "turn <vol> down [by {amount}]"
      - "(quieter|less volume) [please]"
  Shuffle:
    reply: "Shuffle {state}."
    data:
      - templates: ["shuffle {state}"]
      - slots: {state: "off"}
        templates: ["(stop|no more) shuffling"]
  PlayAlbum:
    reply: "Playing {album}."
    templates:
      - "play [the album] {known_album:album}"
  PlaySearch:
    reply: "Playing {query}."
    templates:
      - "play some {query}"
adjuncts:
  device:
    after: "(in|on) [the] {known_device:device}"
    intents: [Pause, VolumeUp, VolumeDown]
"""

LIBRARY = StaticLibrary(
    [
        LibraryItem("album", "Abbey Road", "spotify:album:abbey", "The Beatles"),
        LibraryItem("album", "Kind of Blue", "spotify:album:blue", "Miles Davis"),
        LibraryItem("device", "Kitchen", "dev-kitchen"),
        LibraryItem("device", "Living Room", "dev-living"),
    ]
)


LIVING_ROOM = {"name": "Living Room", "id": "dev-living"}


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    """The shipped intents.yaml and the sandbox's names, learned once for the module."""
    spec = load_spec(default_intents_path())
    return Matcher(spec, catalog_library(), Learner(spec, tmp_path_factory.mktemp("learned")))


def test_examples_are_the_grammars_sentences_with_their_slots_tagged() -> None:
    spec = parse_spec(SMALL)
    data = examples(spec, LIBRARY, per_template=30)
    labels = {ex.label for ex in data}
    assert labels == {"Pause", "VolumeUp", "VolumeDown", "Shuffle", 'Shuffle {"state": "off"}', "PlayAlbum",
                      "PlaySearch", NONE}  # fmt: skip
    for ex in data:
        assert len(ex.words) == len(ex.tags)
        tagged = spans(ex.words, ex.tags)
        if ex.label == "PlayAlbum":
            assert tagged["album"] in {"abbey road", "kind of blue"}
        if "device" in tagged:
            assert tagged["device"] in {"kitchen", "living room"}
        if "amount" in tagged:
            assert UNKNOWN not in tagged["amount"].split()  # an unknown word never splits a slot
    # The grammar's sentences, and some with a word it does not know.
    assert any(ex.words == ("hold", "the", "music") for ex in data)
    assert any(UNKNOWN in ex.words and ex.label != NONE for ex in data)
    assert {" ".join(ex.words) for ex in data if ex.label == NONE} >= set(out_of_domain())


def test_a_label_carries_the_values_its_group_fixes() -> None:
    spec = parse_spec(SMALL)
    stop = next(t for t in spec.templates if t.text.startswith("(stop|no more)"))
    assert read_label(label_of(stop)) == ("Shuffle", {"state": "off"})
    assert read_label("Pause") == ("Pause", {})


def test_bio_tags_become_slot_texts() -> None:
    words = ["play", "kind", "of", "blue", "in", "the", "kitchen"]
    tags = ["O", "B-album", "I-album", "I-album", "O", "O", "B-device"]
    assert spans(words, tags) == {"album": "kind of blue", "device": "kitchen"}
    assert spans(["a", "b"], ["I-album", "I-album"]) == {"album": "a b"}  # I- without B- starts one


def test_a_phrasing_no_template_lists(tmp_path: Path) -> None:
    spec = parse_spec(SMALL)
    templates_only = Matcher(spec, LIBRARY)
    both = Matcher(spec, LIBRARY, Learner(spec, tmp_path))
    for text, intent, slots in [
        ("volume down", "VolumeDown", {}),
        ("the volume up by ten", "VolumeUp", {"amount": 10}),
        ("turn down the volume in the living room", "VolumeDown", {"device": LIVING_ROOM}),
    ]:  # fmt: skip
        assert templates_only.match(text).intent is None, text
        result = both.match(text)
        assert (result.intent, result.slots_json(), result.parser) == (intent, slots, "learned"), text
        assert result.score <= 0.95  # a template reading without doubt always ranks above


def test_names_it_finds_are_the_users(tmp_path: Path) -> None:
    spec = parse_spec(SMALL)
    matcher = Matcher(spec, LIBRARY, Learner(spec, tmp_path))
    kitchen = matcher.match("up the volume in the kitchen")
    assert kitchen.parser == "learned"
    assert kitchen.slots_json() == {"device": {"name": "Kitchen", "id": "dev-kitchen"}}
    # A speaker that is not one of the user's is no reading at all.
    garage = matcher.match("up the volume in the garage")
    assert garage.intent is None
    assert garage.reasons.get("refused")


def test_the_shipped_grammar_learned(shipped: Matcher) -> None:
    cases = [
        ("what's the title of the tune we are hearing", "NowPlaying", {}),
        ("the speakers are far too loud", "VolumeDown", {}),
        ("can you get the bedroom quieter for me", "VolumeDown", {"device": "Bedroom"}),
        ("hmm change the speaker over to the kitchen", "Transfer", {"device": "Kitchen"}),
    ]
    for text, intent, slots in cases:
        result = shipped.match(text)
        got = {k: v["name"] if isinstance(v, dict) else v for k, v in result.slots_json().items()}
        assert (result.intent, got) == (intent, slots), (text, result.reasons)


def test_a_doubtful_reading_is_refused(tmp_path: Path) -> None:
    spec = parse_spec(SMALL)
    matcher = Matcher(spec, LIBRARY, Learner(spec, tmp_path))
    # Words of two commands at once: the classifier is torn, and Maestro does nothing.
    result = matcher.match("louder quieter")
    assert result.intent is None
    assert result.reasons["confidence"] < 0.9
    assert "not sure enough" in result.reasons["refused"]


@pytest.mark.parametrize(
    "text",
    [
        "is it going to be windy on saturday",
        "switch the hallway lights off",
        "what's the time in london",
        "remind me to water the plants",
        "how many teaspoons in a tablespoon",
        "tell me about the weather",
        "thanks maestro",
        "put the kettle on",  # "put <anything> on" fits a template: the learned parser vetoes it
    ],
)
def test_out_of_domain_stays_out(shipped: Matcher, text: str) -> None:
    assert shipped.match(text).intent is None


def test_search_text_without_lead_in_words(shipped: Matcher) -> None:
    assert shipped.match("queue something by adele").slots_json() == {"query": "adele"}
    assert shipped.match("play something upbeat").slots_json() == {"query": "upbeat"}
    assert shipped.match("play the song purple haze").slots_json() == {
        "track": {"name": "purple haze", "uri": None}
    }
    # A description is searched as it was said.
    assert shipped.match("play the newest songs by adele").slots_json() == {
        "query": "the newest songs by adele"
    }


def test_trained_once_then_read_from_the_cache(tmp_path: Path) -> None:
    spec = parse_spec(SMALL)
    learned_parser(spec, LIBRARY, tmp_path)
    [folder] = tmp_path.iterdir()
    models = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert {"intent.crfsuite", "meta.json", "slots-VolumeUp.crfsuite", "slots-PlayAlbum.crfsuite"} <= set(
        models
    )
    learned_parser(spec, LIBRARY, tmp_path)  # the same grammar and names: the cache, untouched
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == models


def test_retrained_when_the_grammar_or_the_names_change(tmp_path: Path) -> None:
    spec = parse_spec(SMALL)
    learned_parser(spec, LIBRARY, tmp_path)
    [first] = tmp_path.iterdir()
    changed = parse_spec(SMALL.replace('"hold the music"', '"hold the music" \n      - "halt"'))
    parser = learned_parser(changed, LIBRARY, tmp_path)
    [second] = tmp_path.iterdir()
    assert second != first  # the old model is gone with its grammar
    assert "halt" in parser.vocabulary
    more = StaticLibrary([*LIBRARY.items("album"), LibraryItem("album", "Revolver", "spotify:album:rev")])
    learned_parser(changed, more, tmp_path)
    [third] = tmp_path.iterdir()
    assert third not in (first, second)


def test_a_damaged_cache_is_trained_again(tmp_path: Path) -> None:
    spec = parse_spec(SMALL)
    learned_parser(spec, LIBRARY, tmp_path)
    [folder] = tmp_path.iterdir()
    (folder / "intent.crfsuite").write_bytes(b"not a model")
    parser = learned_parser(spec, LIBRARY, tmp_path)
    assert parser.read(["quieter", "please"]).label == "VolumeDown"


def test_the_daemon_trains_ahead_and_again_when_the_names_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("maestro.intents.matcher.LEARN_AFTER_S", 0.0)  # not a minute after the change
    spec = parse_spec(SMALL)
    learner = Learner(spec, tmp_path, background=True)
    matcher = Matcher(spec, LIBRARY, learner)
    learner.train_ahead(LIBRARY)
    _wait_for_training()
    assert matcher.match("volume down").parser == "learned"
    first = {p.name for p in tmp_path.iterdir()}
    matcher.set_library(StaticLibrary([*LIBRARY.items("album"), LibraryItem("device", "Den TV", "dev-tv")]))
    _wait_for_training()
    assert {p.name for p in tmp_path.iterdir()} != first
    assert matcher.match("turn down the volume on the den tv").slots_json() == {
        "device": {"name": "Den TV", "id": "dev-tv"}
    }


def _wait_for_training() -> None:
    for thread in threading.enumerate():
        if thread.name == "maestro-learn":
            thread.join(timeout=60)
            assert not thread.is_alive()


def test_parse_explain_says_which_parser_answered(tmp_path: Path) -> None:
    intents = tmp_path / "intents.yaml"
    intents.write_text(SMALL)
    library = tmp_path / "library.json"
    library.write_text(json.dumps({"albums": [{"name": "Abbey Road", "uri": "spotify:album:abbey"}]}))
    env = {"MAESTRO_STATE_DIR": str(tmp_path / "state"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "maestro", "parse", "-", "--intents", str(intents), "--library", str(library),
         "--json", "--explain"],
        input="turn it up\nvolume down\n", capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    template, learned = (json.loads(line) for line in result.stdout.splitlines())
    assert (template["intent"], template["parser"]) == ("VolumeUp", "templates")
    assert "turn <vol> up" in template["why"]
    assert (learned["intent"], learned["parser"]) == ("VolumeDown", "learned")
    assert learned["why"].startswith("learned parser: no template fits")
    assert (tmp_path / "state" / "learned").is_dir()  # cached for the next time


@pytest.mark.parametrize(
    ("said", "searched"),
    [
        ("some jazz", "jazz"),
        ("something by adele", "adele"),
        ("the song purple haze", "purple haze"),
        ("a song called river", "river"),
        ("music by the beatles", "the beatles"),
        ("something upbeat", "upbeat"),
        ("something just like this", "something just like this"),  # a title, not a mood
        ("the newest songs by adele", "the newest songs by adele"),  # a description
        ("some", "some"),  # nothing would be left
    ],
)
def test_search_words(said: str, searched: str) -> None:
    assert search_words(said) == searched


def test_free_phrasings_and_out_of_domain(shipped: Matcher) -> None:
    """The bench's held-out phrasings (written without looking at the templates, never trained on)
    stay at the issue's targets: a net under the learned parser, not a figure to tune to."""
    free = list(csv.reader((BENCH / "free_phrasings.tsv").open(encoding="utf-8"), delimiter="\t"))[1:]
    intents = full = 0
    for text, intent, slots in free:
        result = shipped.match(text)
        intents += result.intent == intent
        full += result.intent == intent and _plain(result.slots_json()) == _plain(json.loads(slots))
    assert intents / len(free) >= 0.90
    assert full / len(free) >= 0.85
    outside = [row[0] for row in csv.reader((BENCH / "out_of_domain.tsv").open(encoding="utf-8"))][1:]
    safe = (None, "OtherService", "Cancel", "Confirm", "Undo")  # none waiting, a yes or no changes nothing
    taken = [text for text in outside if shipped.match(text).intent not in safe]
    assert len(taken) <= 0.02 * len(outside), taken


def _plain(slots: dict) -> dict:
    named = {k: v["name"] if isinstance(v, dict) else v for k, v in slots.items()}
    return {k: normalize(v) if isinstance(v, str) else v for k, v in named.items()}
