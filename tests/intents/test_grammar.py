"""Grammar export: JSGF and Vosk word lists from the same templates."""

from __future__ import annotations

import re

import pytest

from maestro.intents import LibraryItem, Matcher, StaticLibrary, load_spec
from maestro.intents.grammar import sample_sentences, to_jsgf, vosk_words
from maestro.intents.spec import IntentFileError, default_intents_path, parse_spec

# Names that belong to one kind only, so every sampled sentence has one right answer; one artist,
# so "<album> by <artist>" is always true (the sampler picks names at random).
LIBRARY = StaticLibrary(
    [
        LibraryItem("album", "Abbey Road", "spotify:album:1", "The Beatles"),
        LibraryItem("album", "Kind of Blue", "spotify:album:2", "The Beatles"),
        LibraryItem("artist", "The Beatles", "spotify:artist:1"),
        LibraryItem("track", "Yesterday", "spotify:track:1", "The Beatles"),
        LibraryItem("track", "So What", "spotify:track:2", "The Beatles"),
        LibraryItem("playlist", "Dinner Jazz", "spotify:playlist:1"),
        LibraryItem("playlist", "Morning Coffee", "spotify:playlist:2"),
        LibraryItem("device", "Kitchen", "dev1"),
        LibraryItem("device", "Living Room", "dev2"),
    ]
)


def test_jsgf_has_every_intent_but_free_text_ones() -> None:
    spec = load_spec(default_intents_path())
    jsgf = to_jsgf(spec, LIBRARY)
    assert jsgf.startswith("#JSGF V1.0;")
    public = re.search(r"public <command> = (.*);", jsgf).group(1)
    assert "<intent_Next>" in public and "<intent_PlayAlbum>" in public
    assert "<intent_Queue>" not in public  # free text: the open-vocabulary pass
    assert "slot_query" not in jsgf  # "play music from 1996" is in; "play <anything>" is not
    assert "abbey road" in jsgf and "living room" in jsgf
    # Every rule referenced is defined.
    defined = set(re.findall(r"^<([A-Za-z0-9_]+)> =", jsgf, re.M))
    used = set(re.findall(r"<([A-Za-z0-9_]+)>", jsgf)) - {"command"}
    assert used <= defined, used - defined


def test_vosk_words_cover_templates_and_names() -> None:
    words = vosk_words(load_spec(default_intents_path()), LIBRARY)
    assert words[-1] == "[unk]"
    assert {"skip", "louder", "abbey", "kitchen", "forty"} <= set(words)


def test_every_sentence_the_grammar_accepts_parses_to_its_intent() -> None:
    spec = load_spec(default_intents_path())
    matcher = Matcher(spec, LIBRARY)
    sentences = sample_sentences(spec, LIBRARY, per_template=4)
    assert len(sentences) > 500
    wrong = [(s, i, matcher.match(s).intent) for s, i in sentences if matcher.match(s).intent != i]
    assert wrong == []


def test_an_intent_may_stay_out_of_the_grammar_path() -> None:
    spec = load_spec(default_intents_path())
    assert not spec.intents["Confirm"].grammar  # "yes": heard by the neural pass alone
    sentences = {text for text, _ in sample_sentences(spec, StaticLibrary([]), per_template=20)}
    assert "yes" not in sentences and "go ahead" not in sentences
    assert "yes" not in to_jsgf(spec, StaticLibrary([])).split("public <command>")[1].split(";")[0]
    assert Matcher(spec).match("yes").intent == "Confirm"  # typed, and the neural pass's transcript
    with pytest.raises(IntentFileError, match="grammar must be true or false"):
        parse_spec("intents:\n  Pause:\n    reply: x\n    grammar: maybe\n    templates: [pause]\n")
