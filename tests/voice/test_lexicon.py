"""Pronunciations for words CMUdict lacks, from espeak-ng."""

from __future__ import annotations

from pathlib import Path

from maestro.voice.lexicon import Lexicon, espeak_pronunciations, espeak_to_arpabet


def test_espeak_phonemes_map_to_arpabet() -> None:
    assert espeak_to_arpabet("k'oUldpleI") == "K OW L D P L EY"
    assert espeak_to_arpabet("Vnmj'u:t") == "AH N M Y UW T"
    assert espeak_to_arpabet("l'O@d") == "L AO R D"


def test_library_names_and_new_words_get_pronunciations() -> None:
    prons = espeak_pronunciations(["coldplay", "unmute", "radiohead"])
    assert prons["unmute"] == "AH N M Y UW T"  # not "mute": the grammar can tell them apart
    assert prons["coldplay"].startswith("K OW L D")
    assert set(prons) == {"coldplay", "unmute", "radiohead"}


def test_lexicon_fills_only_what_the_dictionary_lacks() -> None:
    from pocketsphinx import get_model_path

    lexicon = Lexicon(Path(get_model_path()) / "en-us" / "cmudict-en-us.dict")
    assert lexicon.missing(["play", "unmute", "coldplay"]) == ["coldplay", "unmute"]
    added = lexicon.add_missing(["play", "unmute", "coldplay", "u2"])
    assert set(added) == {"coldplay", "unmute"}  # digits need a spoken form first
    assert lexicon.knows("unmute") and not lexicon.knows("u2")
