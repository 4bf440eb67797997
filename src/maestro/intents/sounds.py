"""How a word sounds, roughly: a key that words which sound alike share, however they are spelt.

Speech recognisers write what they heard in real words, so a misheard command
is spelt right but is another word: "water please" for "louder please", "west
song" for "last song", "cue" for "queue". :func:`sound_key` folds spelling into
classes of sounds (lips, tongue tip, back of the mouth, hisses, hums, liquids and
glides, vowels), so those pairs get equal or close keys; :func:`stem` undoes the
endings a recogniser adds or drops ("playlists", "turned"). Pure string work, no
dictionary: fast enough for every failed match.
"""

from __future__ import annotations

import functools
import re

from maestro.intents.numbers import number_words

#: Spellings of one sound, replaced before letters become classes (longest first within a rule).
_SPELLINGS = [
    (re.compile(r"^kn|^gn|^pn|^wr"), lambda m: m.group(0)[1]),
    (re.compile(r"tch|ch|sh|dg|dj"), lambda m: "j"),
    (re.compile(r"ph"), lambda m: "f"),
    (re.compile(r"gh(?=t|$)"), lambda m: ""),
    (re.compile(r"ck|qu|q"), lambda m: "k"),
    (re.compile(r"wh"), lambda m: "w"),
    (re.compile(r"th"), lambda m: "t"),
    (re.compile(r"mb$"), lambda m: "m"),
    (re.compile(r"x"), lambda m: "ks"),
    (re.compile(r"c(?=[eiy])"), lambda m: "s"),
]
_CLASSES = {
    **dict.fromkeys("bp", "P"), **dict.fromkeys("dt", "T"), **dict.fromkeys("cgkq", "K"),
    **dict.fromkeys("fv", "F"), **dict.fromkeys("sz", "S"), **dict.fromkeys("mn", "M"),
    **dict.fromkeys("lr", "L"), "j": "J", "w": "L", "y": "L",
}  # fmt: skip
_VOWELS = set("aeiouy")


@functools.lru_cache(maxsize=8192)
def word_key(word: str) -> str:
    """ "water" -> "LATA", "louder" -> "LATA", "queue" -> "KA", "cue" -> "KA"."""
    word = re.sub(r"[^a-z0-9]", "", word.lower())
    if word.isdigit():
        return "".join(word_key(w) for w in number_words(word).split())
    if len(word) > 3 and word.endswith("e") and word[-2] not in _VOWELS:
        word = word[:-1]  # a silent final e
    for pattern, replacement in _SPELLINGS:
        word = pattern.sub(replacement, word)
    out: list[str] = []
    for i, ch in enumerate(word):
        after_vowel = i > 0 and word[i - 1] in _VOWELS
        if ch in _VOWELS and not (ch == "y" and i == 0):
            cls = "A"
        elif ch in "wy" and after_vowel:
            cls = "A"  # "ow", "ay": part of the vowel
        elif ch == "r" and after_vowel and (i + 1 == len(word) or word[i + 1] not in _VOWELS):
            cls = "A"  # "er", "ar" at a syllable's end: a vowel sound
        elif ch == "h":
            continue
        else:
            cls = _CLASSES.get(ch, "")
        if cls and (not out or out[-1] != cls):
            out.append(cls)
    return "".join(out)


def sound_key(text: str) -> str:
    """The key of a phrase: its words' keys, run together (word breaks are not heard)."""
    return "".join(word_key(word) for word in text.split())


#: Endings a recogniser adds or drops, and what to try instead.
_ENDINGS = (
    ("ies", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"), ("d", ""), ("ing", ""), ("ing", "e"),
)  # fmt: skip


def stems(word: str) -> list[str]:
    """The word without an ending it may not have been said with: "playlists" -> ["playlist"]."""
    out: list[str] = []
    for ending, replacement in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            out.append(word[: -len(ending)] + replacement)
    return list(dict.fromkeys(out))
