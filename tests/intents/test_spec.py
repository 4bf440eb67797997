"""intents.yaml loading: the default file, and every kind of broken file."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from maestro.intents.spec import IntentFileError, default_intents_path, load_spec, parse_spec

DESIGN_INTENTS = {
    "Resume", "Pause", "Next", "Previous", "Restart", "SeekForward", "SeekBackward", "SetVolume",
    "VolumeUp", "VolumeDown", "Mute", "Unmute", "Shuffle", "Repeat", "PlayAlbum", "PlayPlaylist",
    "PlayArtist", "PlayTrack", "PlayLiked", "PlaySearch", "Queue", "NowPlaying", "Like", "Transfer",
    "ListDevices", "SignIn", "SignOut", "Help", "Cancel",
}  # fmt: skip


ADDED_INTENTS = {
    "SleepTimer", "CancelSleepTimer", "UpNext", "Unlike", "SeekTo", "RestartAlbum", "OtherService",
    "Undo", "Confirm",
}  # fmt: skip


def test_default_file_has_every_intent_of_the_design_with_a_reply() -> None:
    spec = load_spec(default_intents_path())
    # The design's intents, and the ones people asked for since (sleep timer, what's next, unlike,
    # absolute seeking, the album from the top, another music service, "not that" after a doubtful play).
    assert set(spec.intents) == DESIGN_INTENTS | ADDED_INTENTS
    assert all(intent.reply for intent in spec.intents.values())
    assert spec.wake_phrase == "hey maestro"


def test_default_file_loads_fast() -> None:
    started = time.perf_counter()
    load_spec(default_intents_path())
    assert time.perf_counter() - started < 1.0  # the bench measures the real figure


def error_of(text: str) -> str:
    with pytest.raises(IntentFileError) as info:
        parse_spec(text, "my.yaml")
    assert info.value.exit_code == 2
    return str(info.value)


def test_yaml_syntax_error_has_line_and_column() -> None:
    assert error_of("intents:\n  Next:\n    templates: [skip\n").startswith("my.yaml:4:1:")


def test_broken_template_points_at_the_column_inside_the_file() -> None:
    text = 'intents:\n  Next:\n    templates:\n      - "skip (this|that"\n'
    message = error_of(text)
    # The text starts at file column 10; the template's end (its column 16) is file column 25.
    assert message.startswith("my.yaml:4:25:"), message
    assert "not closed" in message


def test_empty_alternative() -> None:
    message = error_of('intents:\n  Next:\n    templates: ["skip (this|)"]\n')
    assert message.startswith("my.yaml:3:") and "empty alternative" in message


def test_unknown_slot_type() -> None:
    message = error_of("slots:\n  volume: {type: percentage}\nintents:\n  X:\n    templates: [x]\n")
    assert message.startswith("my.yaml:2:") and "unknown slot type 'percentage'" in message


def test_unknown_slot_reference() -> None:
    message = error_of('intents:\n  X:\n    templates: ["set {volume}"]\n')
    assert message.startswith("my.yaml:3:") and "unknown slot {volume}" in message


def test_duplicate_intent() -> None:
    message = error_of("intents:\n  Next:\n    templates: [skip]\n  Next:\n    templates: [next]\n")
    assert message.startswith("my.yaml:4:3:") and "duplicate key 'Next'" in message


def test_rule_that_refers_to_itself() -> None:
    message = error_of('rules:\n  a: "x <b>"\n  b: "y [<a>]"\nintents:\n  X:\n    templates: ["<a>"]\n')
    assert "refers to itself" in message and "a -> b -> a" in message
    assert message.startswith("my.yaml:3:")  # where the loop closes


def test_unknown_rule() -> None:
    message = error_of('intents:\n  X:\n    templates: ["<nope>"]\n')
    assert "unknown rule <nope>" in message


def test_unknown_top_level_key() -> None:
    assert "unknown top-level key 'intent'" in error_of("intent:\n  X: {}\n")


def test_yes_and_on_stay_words() -> None:
    spec = parse_spec("prefixes: [yes, on]\nintents:\n  X:\n    templates: [x]\n")
    assert spec.prefixes == ["on", "yes"]


def test_file_that_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(IntentFileError, match=r"missing\.yaml: no such file"):
        load_spec(tmp_path / "missing.yaml")
    with pytest.raises(IntentFileError, match="a directory, not a file"):
        load_spec(tmp_path)
