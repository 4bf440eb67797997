"""The user's own phrasings: a correction becomes a template of the meant intent that generalises
to other names and numbers, kept in a file of its own that survives restarts and hand edits."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from maestro.intents import Matcher
from maestro.intents.personal import PERSONAL_FILE, PersonalPhrasings, PhrasingError, phrasing_for
from maestro.intents.spec import default_intents_path
from tests.intents.helpers import catalog_library


@pytest.fixture
def personal(tmp_path: Path) -> PersonalPhrasings:
    return PersonalPhrasings(default_intents_path(), tmp_path)


def learned(personal: PersonalPhrasings, heard: str, meant: str) -> Matcher:
    """A matcher on ``personal``'s spec after learning ``heard`` as ``meant``."""
    matcher = Matcher(personal.spec, catalog_library())
    before = matcher.match(heard)
    personal.learn(heard, matcher.match(meant))
    matcher.refresh()
    assert (before.intent, before.slots) != (matcher.match(meant).intent, matcher.match(meant).slots)
    return matcher


def test_a_name_becomes_its_slot_and_the_phrasing_works_for_other_names(personal: PersonalPhrasings) -> None:
    matcher = learned(personal, "stick on abbey road", "play abbey road")
    assert personal.phrasings[0].template == "stick on {known_album:album}"  # a name from the library
    assert matcher.match("stick on abbey road").slots["album"].name == "Abbey Road"
    other = matcher.match("stick on kind of blue")
    assert (other.intent, other.slots["album"].name) == ("PlayAlbum", "Kind of Blue")
    assert matcher.match("stick on the dishwasher").intent != "PlayAlbum"  # not just any words


def test_a_misheard_name_and_numbers_and_values_the_words_do_not_say(personal: PersonalPhrasings) -> None:
    heard_badly = phrasing_for("stick on abby rode", Matcher(personal.spec, catalog_library()).match(
        "play abbey road"), personal.spec)  # fmt: skip
    assert heard_badly.template == "stick on {known_album:album}"  # as the recogniser wrote the name
    matcher = learned(personal, "crank it to seventy", "set the volume to 70")
    assert personal.phrasings[-1].template == "crank it to {volume}"
    assert matcher.match("crank it to twenty five").slots == {"volume": 25}
    matcher = learned(personal, "on a loop", "repeat this song")  # an enum's value the words don't say
    assert personal.phrasings[-1].slots == {"mode": "track"} and "mode: track" in personal.path.read_text()
    matcher = learned(personal, "full whack", "max volume")
    assert (personal.phrasings[-1].template, personal.phrasings[-1].slots) == ("full whack", {"volume": 100})
    assert (matcher.match("full whack").intent, matcher.match("full whack").slots) == (
        "SetVolume",
        {"volume": 100},
    )


def test_what_cannot_be_learned_is_said(personal: PersonalPhrasings) -> None:
    matcher = Matcher(personal.spec, catalog_library())
    with pytest.raises(PhrasingError, match="couldn't find “Abbey Road”"):
        personal.learn("put that record on", matcher.match("play abbey road"))
    with pytest.raises(PhrasingError, match="isn't a command"):
        personal.learn("stick it on", matcher.match("make me a sandwich"))
    assert personal.phrasings == [] and not (personal.path).exists()


def test_kept_across_restarts_forgotten_on_request(personal: PersonalPhrasings, tmp_path: Path) -> None:
    learned(personal, "bin this tune", "next song")
    personal.learn("bin this tune", Matcher(personal.spec).match("next song"))  # the same again: not twice
    assert len(personal.phrasings) == 1 and personal.version == 1
    path = tmp_path / PERSONAL_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_text().startswith("# Your own phrasings")
    again = PersonalPhrasings(default_intents_path(), tmp_path)
    assert Matcher(again.spec, catalog_library()).match("bin this tune").intent == "Next"
    assert again.forget(0).template == "bin this tune"
    assert Matcher(again.spec, catalog_library()).match("bin this tune").intent != "Next"
    assert PersonalPhrasings(default_intents_path(), tmp_path).phrasings == []


def test_a_broken_file_is_set_aside_and_never_written_over(tmp_path: Path) -> None:
    path = tmp_path / PERSONAL_FILE
    path.write_text("phrasings:\n  - intent: Next\n    template: 'bin (this tune'\n")
    personal = PersonalPhrasings(default_intents_path(), tmp_path)
    assert personal.problem is not None and f"{PERSONAL_FILE}:3:" in personal.problem
    assert Matcher(personal.spec, catalog_library()).match("next song").intent == "Next"  # the rest works
    with pytest.raises(PhrasingError, match="not used until"):
        personal.learn("bin it", Matcher(personal.spec, catalog_library()).match("next song"))
    assert "bin (this tune" in path.read_text()
    path.write_text("phrasings:\n  - intent: Dance\n    template: 'boogie'\n")
    assert "unknown intent 'Dance'" in str(PersonalPhrasings(default_intents_path(), tmp_path).problem)
