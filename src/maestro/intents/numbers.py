"""English number words <-> integers, as people say them to a speaker.

``parse_number("one hundred and ten") == 110``, ``parse_number("fifty five") == 55``,
``parse_number("a hundred") == 100``, ``parse_number("45") == 45``; anything else
is ``None``. ``to_words(45) == "forty five"`` is the inverse for grammars.
"""

from __future__ import annotations

UNITS = {
    "zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19,
}  # fmt: skip
TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
NUMBER_WORDS = frozenset(UNITS) | frozenset(TENS) | {"hundred", "thousand", "and", "a", "an"}


def parse_number(text: str) -> int | None:
    """The integer that ``text`` names, or None when it is not a number."""
    words = text.replace("-", " ").split()
    if not words:
        return None
    if len(words) == 1:
        word = words[0].removesuffix("%")
        if word.isdigit():
            return int(word)
        if word.endswith(("st", "nd", "rd", "th")) and word[:-2].isdigit():
            return int(word[:-2])
    total = 0  # completed thousands
    current: int | None = None  # the group being built (below a thousand)
    last = ""  # what the previous word was, to refuse "five five" or "twenty thirty"
    for word in words:
        if word in ("a", "an") and last == "" and current is None:
            last = "a"
            continue
        if word == "and":
            if last not in ("hundred", "thousand"):
                return None
            last = "and"
            continue
        if word.isdigit():
            if last not in ("", "a"):
                return None
            current, last = int(word), "digits"
        elif word in UNITS:
            value = UNITS[word]
            if last in ("unit", "digits", "teen") or (last == "tens" and value >= 10):
                return None
            if last == "tens" and value == 0:
                return None
            current = (current or 0) + value
            last = "teen" if value >= 10 else "unit"
        elif word in TENS:
            if last in ("unit", "tens", "teen", "digits"):
                return None
            current, last = (current or 0) + TENS[word], "tens"
        elif word == "hundred":
            if last == "hundred" or (current is not None and current >= 100):
                return None
            current, last = (1 if current is None else current) * 100, "hundred"
        elif word == "thousand":
            if last == "thousand":
                return None
            total += (1 if current is None else current) * 1000
            current, last = None, "thousand"
        else:
            return None
    if last in ("and", "a"):
        return None
    return total + (current or 0)


def to_words(value: int) -> str:
    """``45 -> "forty five"``; ``110 -> "one hundred ten"`` (0 <= value < 1,000,000)."""
    if value < 0 or value >= 1_000_000:
        raise ValueError("to_words covers 0..999999")
    if value < 20:
        return next(word for word, number in UNITS.items() if number == value and word != "oh")
    if value < 100:
        tens = next(word for word, number in TENS.items() if number == value // 10 * 10)
        return tens if value % 10 == 0 else f"{tens} {to_words(value % 10)}"
    if value < 1000:
        head = f"{to_words(value // 100)} hundred"
        return head if value % 100 == 0 else f"{head} {to_words(value % 100)}"
    head = f"{to_words(value // 1000)} thousand"
    return head if value % 1000 == 0 else f"{head} {to_words(value % 1000)}"
