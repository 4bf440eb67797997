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


#: Besides numbers and units, what a spoken duration may hold: "a minute and a half", "half an hour".
DURATION_WORDS = frozenset({"half", "quarter", "and", "a", "an", "of"})


def parse_year(text: str) -> int | None:
    """A year as people say it: "nineteen ninety six" -> 1996, "twenty twenty" -> 2020,
    "nineteen oh five" -> 1905 (whole numbers like "two thousand four" are parse_number's)."""
    words = text.split()
    for cut in range(1, len(words)):
        century, rest = parse_number(" ".join(words[:cut])), " ".join(words[cut:])
        if century is None or not 10 <= century <= 99:
            continue
        if rest.startswith("oh "):
            low = parse_number(rest[3:])
            year = None if low is None or low > 9 else century * 100 + low
        elif rest == "hundred":
            year = century * 100
        else:
            low = parse_number(rest)
            year = None if low is None or not 10 <= low <= 99 else century * 100 + low
        if year is not None:
            return year
    return None


def parse_duration(text: str, units: dict[str, int]) -> int | None:
    """A spoken length in the smallest of ``units`` (each unit maps a word to its multiple of it).

    "thirty seconds" -> 30, "a minute" -> 60, "1 minute 30" -> 90 (a bare number after a unit
    counts in the next smaller unit), "a minute and a half" -> 90, "two and a half minutes" ->
    150, "half an hour" -> 1800 (with seconds as the smallest unit); a bare number -> itself.
    None when the words are no duration.
    """
    words = text.replace("-", " ").split()
    names = sorted(units, key=lambda u: -len(u.split()))
    total = 0.0
    pending: list[str] = []  # number words not yet given a unit
    last_unit: int | None = None
    i = 0
    while i < len(words):
        unit = next((u for u in names if words[i : i + len(u.split())] == u.split()), None)
        if unit is None:
            pending.append(words[i])
            i += 1
            continue
        amount = _amount(pending)
        if amount is None:
            return None
        total += amount * units[unit]
        last_unit, pending = units[unit], []
        i += len(unit.split())
    if last_unit is None and len(pending) == 2 and all(w.isdigit() for w in pending):
        minutes, seconds = int(pending[0]), int(pending[1])  # "2:30", as a clock shows it
        in_minutes = {v for v in units.values()} >= {1, 60}
        return minutes * 60 + seconds if in_minutes and seconds < 60 and len(pending[1]) == 2 else None
    if pending:
        if pending in (["and", "a", "half"], ["and", "half"]) and last_unit is not None:
            return round(total + last_unit / 2)
        number = parse_number(" ".join(pending))
        if number is None:
            return None
        smaller = [v for v in units.values() if last_unit is not None and v < last_unit]
        total += number * (max(smaller) if smaller else 1)
    return round(total) if words else None


def _amount(words: list[str]) -> float | None:
    """The number before a unit: "two", "a", "two and a half", "half a", "a quarter of an"."""
    text = " ".join(words)
    fractions = {"half a": 0.5, "half an": 0.5, "a half": 0.5, "half": 0.5, "a quarter of a": 0.25,
                 "a quarter of an": 0.25, "quarter of an": 0.25, "a quarter": 0.25,
                 "three quarters of an": 0.75, "three quarters of a": 0.75}  # fmt: skip
    if text in fractions:
        return fractions[text]
    if text in ("a", "an", "one", ""):
        return 1.0 if text else None
    if text.endswith(" and a half"):
        whole = parse_number(text.removesuffix(" and a half"))
        return None if whole is None else whole + 0.5
    if text.startswith("and "):  # "a minute and thirty seconds": the "and" joins two parts
        text = text[4:]
    number = parse_number(text)
    return None if number is None else float(number)


def year_words(year: int) -> str:
    """How a year is said: 1996 -> "nineteen ninety six", 2004 -> "two thousand four", 2019 ->
    "twenty nineteen"."""
    century, rest = divmod(year, 100)
    if 2000 <= year < 2010:
        return f"two thousand {to_words(rest)}" if rest else "two thousand"
    if rest == 0:
        return f"{to_words(century)} hundred"
    return f"{to_words(century)} {'oh ' if rest < 10 else ''}{to_words(rest)}"


def spelled(words: list[str]) -> list[str]:
    """Words with digits said as words: ["a", "12", "ounce"] -> ["a", "twelve", "ounce"]."""
    return [w for word in words for w in (number_words(word) if word.isdigit() else word).split()]


def number_words(digits: str) -> str:
    """Digits as they are said: "5" -> "five", "1989" -> "nineteen eighty nine" (a year), "21" ->
    "twenty one". So "Take 5", as a recogniser writes it, is the album "Take Five"."""
    number = int(digits)
    if len(digits) == 4 and 1900 <= number <= 2099:
        return year_words(number)
    return to_words(min(number, 999_999))
