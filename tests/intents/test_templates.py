"""The template language: syntax, errors with columns, and expansions that match."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maestro.intents.grammar import _sample
from maestro.intents.matcher import Matcher
from maestro.intents.spec import parse_spec
from maestro.intents.templates import Alt, Opt, RuleRef, Seq, Slot, TemplateSyntaxError, Word, parse_template


def test_structure() -> None:
    node = parse_template("turn [the volume] (up|down) {amount} <bit>")
    assert node == Seq(
        (
            Word("turn"),
            Opt(Seq((Word("the"), Word("volume")))),
            Alt((Word("up"), Word("down"))),
            Slot("amount", "amount"),
            RuleRef("bit"),
        )
    )


def test_slot_with_list_and_name() -> None:
    assert parse_template("{known_album:album}") == Slot("known_album", "album")


def test_words_are_normalised() -> None:
    assert parse_template("What's AC/DC") == Seq((Word("what"), Word("is"), Word("ac"), Word("dc")))


@pytest.mark.parametrize(
    ("template", "message", "column"),
    [
        ("play (a|b", "'(' opened at column 6 is not closed", 10),
        ("play (a|)", "empty alternative", 8),
        ("play (|a)", "empty alternative", 7),
        ("play []", "empty alternative", 7),
        ("play {album", "'{' is not closed", 6),
        ("play {al bum}", "bad slot name", 7),
        ("play <>", "bad rule name", 7),
        ("play )", "unexpected ')'", 6),
        ("", "empty template", 1),
        ("play ?", "has no letters or digits", 6),
    ],
)
def test_errors_carry_the_column(template: str, message: str, column: int) -> None:
    with pytest.raises(TemplateSyntaxError) as info:
        parse_template(template)
    assert message in info.value.message
    assert info.value.column == column


WORDS = st.sampled_from(["play", "stop", "music", "loud", "song", "now", "blue", "red"])


def templates(depth: int = 3) -> st.SearchStrategy[str]:
    leaf = st.one_of(WORDS, st.just("{n}"))
    if depth == 0:
        return leaf

    inner = templates(depth - 1)
    seq = st.lists(inner, min_size=1, max_size=3).map(" ".join)
    return st.one_of(
        leaf,
        seq,
        st.lists(seq, min_size=2, max_size=3).map(lambda xs: "(" + "|".join(xs) + ")"),
        seq.map(lambda x: f"[{x}]"),
    )


@settings(max_examples=150, deadline=None)
@given(templates(), st.integers(min_value=0, max_value=2**32))
def test_every_expansion_of_a_template_matches_it(template: str, seed: int) -> None:
    spec = parse_spec(
        f"slots:\n  n: {{type: number, min: 0, max: 100}}\nintents:\n  Test:\n    templates: [{template!r}]\n"
    )
    matcher = Matcher(spec)
    rng = random.Random(seed)
    for _ in range(5):
        words = _sample(spec.templates[0].node, spec, matcher.library, rng, {})
        if not words:
            continue  # every part was optional and left out
        result = matcher.match(" ".join(words))
        assert result.intent == "Test", (template, words)
        assert result.score == 1.0


def test_many_number_slots_in_a_row_still_match() -> None:
    """Found by the property above: the words split in more ways than are kept, and the cut
    must not drop every split that ends where the next part starts."""
    template = "({n} {n} ({n}|{n} {n} {n}) {n} {n} {n}|play)"
    spec = parse_spec(
        f"slots:\n  n: {{type: number, min: 0, max: 100}}\nintents:\n  Test:\n    templates: [{template!r}]\n"
    )
    words = "thirty three sixty five fifty one one hundred thirty eight sixty one forty five seventy four"
    result = Matcher(spec).match(words)
    assert (result.intent, result.score) == ("Test", 1.0)
