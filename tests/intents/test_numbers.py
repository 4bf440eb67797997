from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maestro.intents.numbers import parse_number, to_words


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("zero", 0), ("five", 5), ("twelve", 12), ("forty", 40), ("fifty five", 55),
        ("fifty-five", 55), ("a hundred", 100), ("one hundred", 100), ("one hundred and ten", 110),
        ("two hundred twenty two", 222), ("nine hundred ninety nine", 999), ("one thousand", 1000),
        ("45", 45), ("45%", 45), ("3rd", 3),
    ],
)  # fmt: skip
def test_parses(text: str, value: int) -> None:
    assert parse_number(text) == value


@pytest.mark.parametrize(
    "text",
    ["", "five five", "twenty thirty", "ten five", "and", "a", "hundred hundred", "loud", "fifty and five"],
)
def test_refuses_what_is_not_a_number(text: str) -> None:
    assert parse_number(text) is None


@given(st.integers(min_value=0, max_value=999_999))
def test_words_round_trip(value: int) -> None:
    assert parse_number(to_words(value)) == value
