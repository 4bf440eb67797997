"""Pronunciations for the recogniser: CMUdict, and espeak-ng for words it lacks.

PocketSphinx only hears words its dictionary can pronounce; names in a music
library (Coldplay, Radiohead, Lorde) and words like "unmute" are missing, and
"unmute" would be heard as "mute". espeak-ng, already here for speech out,
knows how to say them: its phonemes (``espeak-ng -x``) are mapped to the
ARPAbet phones of the acoustic model.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)

#: espeak-ng (en-us) phoneme mnemonics -> ARPAbet; longest symbols are matched first.
ESPEAK_TO_ARPABET = {
    "aI@": "AY ER", "aU@": "AW ER", "i@": "IY AH", "e@": "EH R", "I@": "IH R", "U@": "UH R",
    "A@": "AA R", "O@": "AO R", "o@": "AO R", "3:": "ER", "i:": "IY", "u:": "UW", "A:": "AA",
    "O:": "AO", "aI": "AY", "aU": "AW", "eI": "EY", "oU": "OW", "OI": "OY", "tS": "CH", "dZ": "JH",
    "I2": "IH", "I#": "IH", "@2": "AH", "@5": "AH", "@L": "AH L", "a#": "AH", "e#": "EH",
    "r-": "R", "l/": "L", "n-": "N", "t#": "T", "d#": "D", "z#": "Z",
    "a": "AE", "A": "AA", "@": "AH", "3": "ER", "E": "EH", "e": "EH", "I": "IH", "i": "IY",
    "0": "AA", "O": "AO", "o": "OW", "U": "UH", "u": "UW", "V": "AH",
    "p": "P", "b": "B", "t": "T", "d": "D", "k": "K", "g": "G", "f": "F", "v": "V", "s": "S",
    "z": "Z", "h": "HH", "m": "M", "n": "N", "l": "L", "r": "R", "w": "W", "j": "Y", "x": "HH",
    "C": "HH", "T": "TH", "D": "DH", "S": "SH", "Z": "ZH", "N": "NG", "R": "R",
}  # fmt: skip
_SYMBOLS = sorted(ESPEAK_TO_ARPABET, key=len, reverse=True)
_MARKS = re.compile(r"[',%=_;\-!|]")


def espeak_to_arpabet(phonemes: str) -> str:
    """ "k'oUldpleI" -> "K OW L D P L EY" (stress and syllable marks dropped)."""
    text = _MARKS.sub("", phonemes)
    out: list[str] = []
    i = 0
    while i < len(text):
        for symbol in _SYMBOLS:
            if text.startswith(symbol, i):
                out.append(ESPEAK_TO_ARPABET[symbol])
                i += len(symbol)
                break
        else:
            i += 1  # a mark we do not map (glottal stop, tone): skip it
    return " ".join(out)


@functools.lru_cache(maxsize=1)
def cmudict(path: str) -> dict[str, str]:
    prons: dict[str, str] = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            parts = line.split()
            if parts and "(" not in parts[0]:
                prons.setdefault(parts[0], " ".join(parts[1:]))
    return prons


def espeak_pronunciations(words: Iterable[str], voice: str = "en-us") -> dict[str, str]:
    """ARPAbet for each word (one espeak-ng call for all of them); {} without espeak-ng."""
    words = [w for w in words if w.isalpha()]
    binary = shutil.which("espeak-ng") or shutil.which("espeak")
    if not words or binary is None:
        if words:
            log.warning("espeak-ng not found: %d words cannot be recognised", len(words))
        return {}
    try:
        result = subprocess.run(
            [binary, "-q", "-x", "-v", voice],
            input=" ".join(f"{w}." for w in words),
            capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("espeak-ng failed (%s): %d words cannot be recognised", exc, len(words))
        return {}
    phonemes = result.stdout.split()
    if len(phonemes) != len(words):  # espeak split or joined something: one word at a time
        phonemes = [_single(binary, w, voice) for w in words]
    return {w: espeak_to_arpabet(p) for w, p in zip(words, phonemes, strict=True)}


def _single(binary: str, word: str, voice: str) -> str:
    result = subprocess.run(
        [binary, "-q", "-x", "-v", voice, word], capture_output=True, text=True, timeout=10
    )
    return result.stdout.strip().replace(" ", "")


class Lexicon:
    """Knows how to pronounce words: the model's dictionary first, espeak-ng second."""

    def __init__(self, dictionary: Path) -> None:
        self.dictionary = cmudict(os.fspath(dictionary))
        self.extra: dict[str, str] = {}

    def missing(self, words: Iterable[str]) -> list[str]:
        return sorted({w for w in words if w not in self.dictionary and w not in self.extra})

    def add_missing(self, words: Iterable[str]) -> dict[str, str]:
        """Find pronunciations for the words the dictionary lacks; returns what it added."""
        added = {w: p for w, p in espeak_pronunciations(self.missing(words)).items() if p}
        self.extra.update(added)
        return added

    def knows(self, word: str) -> bool:
        return word in self.dictionary or word in self.extra

    def pronounce(self, word: str) -> str:
        return self.dictionary.get(word) or self.extra[word]
