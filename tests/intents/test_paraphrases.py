"""Our own phrasings (not the dev set): a regression net for the templates.

``paraphrases.tsv``: the first set, written with the templates. ``people.tsv``: 500+ more
written as people ask (a speaker before or after any command, "put on X", service and
filler words, years, genres, podcasts, sleep timers, what's next, unlike, seeking to a
point, and things that are no command at all), every one of which must parse right.
"""

from __future__ import annotations

import csv
import json

import pytest

from maestro.intents import Matcher, load_spec
from maestro.intents.normalize import normalize
from maestro.intents.spec import default_intents_path
from tests.intents.helpers import catalog_library
from tests.paths import DATA

FILES = ("paraphrases.tsv", "people.tsv")
ROWS = [row for name in FILES for row in csv.reader((DATA / name).open(), delimiter="\t")]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_spec(default_intents_path()), catalog_library())


def simple(slots: dict) -> dict:
    out = {}
    for key, value in slots.items():
        value = value["name"] if isinstance(value, dict) else value
        out[key] = normalize(value) if isinstance(value, str) else value
    return out


@pytest.mark.parametrize(("text", "intent", "slots"), ROWS, ids=[row[0] for row in ROWS])
def test_paraphrase(matcher: Matcher, text: str, intent: str, slots: str) -> None:
    result = matcher.match(text)
    assert result.intent == (None if intent == "null" else intent)
    assert simple(result.slots_json()) == simple(json.loads(slots))
