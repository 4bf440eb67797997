"""One normalisation for templates, utterances and names, so they compare equal.

Lowercase; apostrophes dropped ("what's" -> "whats", as ASR spells it either
way); "&" -> "and", "%" -> "percent"; units abbreviated after a number spelt
out ("8oz" -> "8 ounce", "30 mins" -> "30 minutes"); other punctuation becomes a space; accents
folded ("Björk" -> "bjork"); whitespace collapsed.
"""

from __future__ import annotations

import re
import unicodedata

_APOSTROPHES = re.compile(r"[’'`´]")
_DIGIT_PERCENT = re.compile(r"(\d)\s*%")
#: Units as transcribers abbreviate them after a number ("an 8oz latte", "30 mins").
_UNITS = {"oz": "ounce", "min": "minutes", "mins": "minutes", "sec": "seconds", "secs": "seconds",
          "hr": "hours", "hrs": "hours"}  # fmt: skip
_DIGIT_UNIT = re.compile(r"(\d)\s*(" + "|".join(_UNITS) + r")\b")
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def fold(text: str) -> str:
    """Lowercase and strip accents (NFKD, combining marks removed)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalize(text: str) -> str:
    text = fold(text)
    text = _APOSTROPHES.sub("", text)
    text = _DIGIT_PERCENT.sub(r"\1 percent", text)
    text = _DIGIT_UNIT.sub(lambda m: f"{m.group(1)} {_UNITS[m.group(2)]}", text)
    text = text.replace("&", " and ").replace("+", " and ")
    return " ".join(CONTRACTIONS.get(word, word) for word in _NOT_WORD.sub(" ", text).split())


#: Contractions spelled out, so "what's", "whats" and "what is" are one phrase.
#: ("its" stays: it is as often a possessive.)
CONTRACTIONS = {
    "whats": "what is", "whos": "who is", "thats": "that is", "wheres": "where is",
    "hows": "how is", "theres": "there is", "dont": "do not", "doesnt": "does not",
    "didnt": "did not", "cant": "can not", "cannot": "can not", "wont": "will not",
    "isnt": "is not", "arent": "are not", "im": "i am", "id": "i would", "ive": "i have",
    "ill": "i will", "youre": "you are", "lets": "let us", "wanna": "want to",
    "gonna": "going to", "gimme": "give me", "whatre": "what are",
}  # fmt: skip


def words(text: str) -> list[str]:
    return normalize(text).split()
