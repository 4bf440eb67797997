"""Which readings of speech are sure: a name not heard as it is said is read back before it plays
and a lasting change is asked first (maestro.actions); the recogniser marks such readings."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from maestro.intents import Matcher, load_spec
from maestro.intents.spec import default_intents_path
from maestro.voice.candidates import Repairs
from maestro.voice.decide import UNSURE_SCORE, Decider
from maestro.voice.synth import silence
from maestro.voice.testing import TranscriberTwin
from tests.voice.helpers import LIBRARY, ScoresByText


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_spec(default_intents_path()), LIBRARY)


def decide(decider: Decider, alternatives: list[str], posteriors: Sequence[tuple[str, float]]) -> float:
    decision = decider.decide(
        alternatives, posteriors=lambda: posteriors, utterance=silence(1.0),
        wake_words=["hey", "maestro"], woke_here=False, open_pass=lambda pcm: "",
    )  # fmt: skip
    assert decision.recognition.intent is not None, decision
    return decision.recognition.score


def test_a_reading_mended_from_what_the_neural_pass_wrote_is_unsure(matcher: Matcher) -> None:
    """Whisper wrote "play abi road"; the grammar knows "play abbey road", near it: taken, but as a
    sounds-like reading. What it wrote itself, word for word, is not."""
    scorer = ScoresByText({"play abbey road": -1.0})
    repairs = Repairs(matcher.spec, LIBRARY)
    mended = Decider(matcher, neural=TranscriberTwin("play abi road"), scorer=scorer, repairs=repairs)
    assert decide(mended, ["play abbey road"], [("play", 0.5), ("abbey", 0.5), ("road", 0.5)]) == UNSURE_SCORE
    heard = Decider(matcher, neural=TranscriberTwin("play abbey road"), scorer=scorer, repairs=repairs)
    assert decide(heard, ["play abbey road"], [("play", 0.5), ("abbey", 0.5), ("road", 0.5)]) == 1.0


def test_without_a_neural_pass_a_name_heard_unsurely_is_unsure(matcher: Matcher) -> None:
    """The grammar path alone: what matters is how surely the name's words were heard; a lasting
    change names nothing, so every word of it counts."""
    alone = Decider(matcher)
    play, unlike = ["play abbey road"], ["unlike this song"]
    assert decide(alone, play, [("play", 0.3), ("abbey", 0.99), ("road", 0.97)]) == 1.0
    assert decide(alone, play, [("play", 0.99), ("abbey", 0.4), ("road", 0.97)]) == UNSURE_SCORE
    assert decide(alone, unlike, [("unlike", 0.6), ("this", 0.99), ("song", 0.99)]) == UNSURE_SCORE
    assert decide(alone, unlike, [("unlike", 0.95), ("this", 0.99), ("song", 0.99)]) == 1.0


def test_the_users_own_phrasing_may_sound_less_likely_to_the_neural_pass(tmp_path: Path) -> None:
    """Whisper writes "then this one" for the user's "bin this one" (learned from a correction): its
    sense of what people say is against the user's own words, so those get more room; the same
    words in no phrasing of the user's get the usual room, and a reading far behind still loses."""
    from maestro.intents.personal import PersonalPhrasings

    personal = PersonalPhrasings(default_intents_path(), tmp_path)
    learner = Matcher(personal.spec, LIBRARY)
    personal.learn("bin this one", learner.match("next song"))
    learner.refresh()
    unsure_words = [("bin", 0.4), ("this", 0.5), ("one", 0.5)]

    def heard(scores: dict[str, float], matcher: Matcher) -> str | None:
        decider = Decider(matcher, neural=TranscriberTwin("then this one"), scorer=ScoresByText(scores))
        decision = decider.decide(
            ["bin this one"], posteriors=lambda: unsure_words, utterance=silence(1.0),
            wake_words=["hey", "maestro"], woke_here=False, open_pass=lambda pcm: "",
        )  # fmt: skip
        return decision.recognition.intent

    assert heard({"bin this one": -4.5}, learner) == "Next"  # 1.5 nats a word behind: the user's words
    assert heard({"bin this one": -7.5}, learner) is None  # 2.5 behind: something else was said
    learner.spec.own = frozenset()  # the same template, as if intents.yaml had it: the usual room
    assert heard({"bin this one": -4.5}, learner) is None
