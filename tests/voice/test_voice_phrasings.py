"""A phrasing learned from a correction is heard by voice from then on: the grammar path's language
model is built with it (`maestro listen`, as the daemon's rebuilt model does)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maestro import cli
from maestro.intents import Matcher
from maestro.intents.personal import PersonalPhrasings
from maestro.intents.spec import default_intents_path
from maestro.voice.audio import RATE
from tests.voice.helpers import LIBRARY, spoken
from tests.voice.test_voice import write_wav


@pytest.mark.slow
def test_listen_hears_a_learned_phrasing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("MAESTRO_STATE_DIR", str(state))
    (tmp_path / "config.toml").write_text("")
    monkeypatch.setenv("MAESTRO_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("MAESTRO_VOICE_ENGINE", "pocketsphinx")
    library = tmp_path / "library.json"
    library.write_text(json.dumps({"devices": [{"name": "Kitchen", "id": "kitchen-id"}]}))
    wav = write_wav(tmp_path / "bin.wav", spoken("hey maestro", "bin this tune"), RATE, 1)

    def heard() -> dict:
        cli.main(["listen", "--wav", str(wav), "--json", "--library", str(library)])
        return json.loads(capsys.readouterr().out)

    assert heard()["intent"] != "Next"
    personal = PersonalPhrasings(default_intents_path(), state)
    personal.learn("bin this tune", Matcher(personal.spec, LIBRARY).match("next song"))
    after = heard()
    assert (after["transcript"], after["intent"]) == ("bin this tune", "Next")


def test_a_short_phrasing_of_ones_own_is_heard_only_whole(tmp_path: Path) -> None:
    """ "a keeper" taught: heard, "keeper" alone (a word in passing, the article left out as the
    templates allow) is no command; typed, it still is. Longer phrasings keep the templates' slack."""
    from maestro.voice.decide import Decider

    personal = PersonalPhrasings(default_intents_path(), tmp_path)
    matcher = Matcher(personal.spec, LIBRARY)
    for heard, meant in (("a keeper", "like this song"), ("stick on the kitchen", "play on the kitchen")):
        personal.learn(heard, matcher.match(meant))
    matcher.refresh()
    decider = Decider(matcher)
    assert decider.match("a keeper").intent == "Like"
    assert decider.match("keeper").intent is None
    assert matcher.match("keeper").intent == "Like"  # typed: the user's own word, on purpose
    assert decider.match("stick on kitchen").intent == "Transfer"  # a longer one: "the" may go
