"""Presenting the pairing code: spelling, the screen, repeats, and the spoken closed loop."""

from __future__ import annotations

import asyncio
import random
import wave
from pathlib import Path

import numpy as np
import pytest
import soxr

from maestro.auth.device_flow import DeviceAuthorization
from maestro.auth.pairing import (
    DIGITS,
    PHONETIC,
    PairingPresenter,
    pairing_screen,
    pairing_speech,
    short_address,
    spell_paired,
    spoken_address,
)
from maestro.display.devices import NullDisplay
from maestro.voice.tts import PiperSpeaker, SilentSpeaker, WavSpeaker, piper_installed


def authorization(code: str, uri: str = "https://www.spotify.com/pair") -> DeviceAuthorization:
    return DeviceAuthorization(code, uri, f"{uri}?code={code}", 600, 5, "device-secret")


def test_spelling_handles_hyphens_lowercase_and_digits() -> None:
    assert spell_paired("bd-7f") == "B bravo, D delta, the number seven, F foxtrot."
    assert (
        spell_paired("A1O") == "ay alpha, the number one, oh oscar."
    )  # letters espeak would misread get their names
    assert spell_paired("BCDF-GHJK") == ("B bravo, C charlie, D delta, F foxtrot. "
                                         "G golf, H hotel, J juliet, K kilo.")  # fmt: skip
    # Spotify's six characters in halves, as a person reads them out.
    assert spell_paired("4BU4QW") == ("the number four, B bravo, you uniform. "
                                      "the number four, Q quebec, double you whiskey.")  # fmt: skip


def test_every_letter_has_a_phonetic_word() -> None:
    assert set(PHONETIC) == set("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    for alike in "BDPTVZMNFS":
        assert f"{alike} {PHONETIC[alike]}" in spell_paired(alike)


def test_addresses() -> None:
    assert short_address("https://www.spotify.com/pair") == "spotify.com/pair"
    assert spoken_address("https://spotify.com/pair") == "spotify dot com slash pair"
    assert spoken_address("http://127.0.0.1:8765/pair") == "127 dot 0 dot 0 dot 1 colon 8765 slash pair"


def test_device_code_never_shows_in_repr() -> None:
    assert "device-secret" not in repr(authorization("BCDF-GHJK"))


def test_speech_and_screen() -> None:
    auth = authorization("BCDF-GHJK")
    speech = pairing_speech(auth)
    assert speech.startswith("Go to spotify dot com slash pair and enter: B bravo, C charlie")
    screen = pairing_screen(auth)
    assert (screen.kind, screen.title, screen.lines) == ("pairing", "BCDF-GHJK", ("spotify.com/pair",))
    assert screen.qr == "https://www.spotify.com/pair?code=BCDF-GHJK"


async def test_presenter_prints_shows_and_repeats_until_stopped() -> None:
    lines: list[str] = []
    speaker, display = SilentSpeaker(), NullDisplay()
    presenter = PairingPresenter(speaker, display, repeat_s=0.02, print_line=lines.append)
    await presenter.show(authorization("BCDF-GHJK"))
    await asyncio.sleep(0.15)
    await presenter.stop()
    said = len(speaker.history)
    await asyncio.sleep(0.05)
    assert lines == [
        "Code: BCDF-GHJK",
        "Open: https://www.spotify.com/pair?code=BCDF-GHJK",
        "Waiting for approval (the code expires in 10 min)…",
    ]
    assert display.screens[0].kind == "pairing"
    assert said >= 3 and len(speaker.history) == said  # repeated, then silent
    assert all(text == pairing_speech(authorization("BCDF-GHJK")) for text in speaker.history)


async def test_a_new_code_is_announced_as_new() -> None:
    lines: list[str] = []
    speaker = SilentSpeaker()
    presenter = PairingPresenter(speaker, NullDisplay(), repeat_s=60, print_line=lines.append)
    await presenter.show(authorization("BCDF-GHJK"))
    await asyncio.sleep(0.01)
    await presenter.show(authorization("LMNP-QRST"))
    await asyncio.sleep(0.01)
    await presenter.stop()
    assert lines[3:5] == ["That code expired; here is a new one.", "Code: LMNP-QRST"]
    assert speaker.history[-1].startswith("That code expired; here is a new one. Go to spotify dot com")


# -- the closed loop: speech -> WAV (pyttsx3/espeak-ng) -> PocketSphinx -> the code -------------

RFC_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
SPOTIFY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"  # six of these, as on spotify.com/pair


def code_grammar(alphabet: str, length: int, address: str) -> str:
    """What a listener expects: the fixed sentence, then `length` characters of the code's
    alphabet, each letter with its word ("b bravo"), a digit as itself."""
    letters = [ch.lower() for ch in alphabet if ch.isalpha()]
    digits = [DIGITS[int(ch)] for ch in alphabet if ch.isdigit()]
    items = [f"{ch} {PHONETIC[ch.upper()]}" for ch in letters] + [f"the number {d}" for d in digits]
    return (
        "#JSGF V1.0;\ngrammar code;\n"
        f"public <speech> = go to {address} and enter {' '.join(['<item>'] * length)};\n"
        f"<item> = {' | '.join(items)};\n"
    )


def heard_code(hypothesis: str) -> str:
    """The code as heard ("b bravo c charlie seven ..."): the letter with its word must agree."""
    words = hypothesis.split()
    words = words[words.index("enter") + 1 :] if "enter" in words else []
    code, i = [], 0
    while i < len(words):
        word = words[i]
        if words[i : i + 2] == ["the", "number"] and i + 2 < len(words) and words[i + 2] in DIGITS:
            code.append(str(DIGITS.index(words[i + 2])))
            i += 3
        elif len(word) == 1 and word.upper() in PHONETIC:
            phonetic = PHONETIC[word.upper()].split()
            if words[i + 1 : i + 1 + len(phonetic)] != phonetic:
                return ""  # the letter and its word disagree: not what was said
            code.append(word.upper())
            i += 1 + len(phonetic)
        else:
            return ""  # not what was said
    return "".join(code)


def pcm16k(path: Path) -> bytes:
    with wave.open(str(path)) as reader:
        rate = reader.getframerate()
        samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype=np.int16).astype(np.float32)
    audio = soxr.resample(samples, rate, 16000)
    # Synthetic speech has long runs of exact zeros; a real room is never silent.
    noise = np.random.default_rng(0).normal(0, np.sqrt(np.mean(audio**2)) / 100, audio.shape)
    return np.clip(audio + noise, -32768, 32767).astype(np.int16).tobytes()


def speaker_of(voice: str, directory: Path) -> WavSpeaker | PiperSpeaker:
    """The pairing code's voice, writing WAV files: espeak-ng (pyttsx3) or Piper."""
    if voice == "piper":
        if not piper_installed():
            pytest.skip("Piper is not installed here (./dev installs it: pip install '.[dev]')")
        return PiperSpeaker(rate=160, to_dir=directory)
    return WavSpeaker(directory, rate=160)


@pytest.mark.slow
@pytest.mark.parametrize("voice", ["pyttsx3", "piper"])
@pytest.mark.parametrize(("alphabet", "length", "count"), [(RFC_ALPHABET, 8, 50), (SPOTIFY_ALPHABET, 6, 20)])
async def test_spoken_code_is_heard_back_exactly(
    tmp_path: Path, alphabet: str, length: int, count: int, voice: str
) -> None:
    from pocketsphinx import Decoder

    grammar = tmp_path / "code.gram"
    grammar.write_text(code_grammar(alphabet, length, "spotify dot com slash pair"))
    decoder = Decoder(jsgf=str(grammar), samprate=16000, bestpath=False, beam=1e-80, pbeam=1e-80, wbeam=1e-60)
    speaker = speaker_of(voice, tmp_path / "speech")
    rng = random.Random(length)
    wrong, again = [], []

    async def heard(code: str) -> str:
        shown = f"{code[:4]}-{code[4:]}" if length == 8 else code.lower()  # dashes, lowercase
        await speaker.say(pairing_speech(authorization(shown, "https://spotify.com/pair")))
        pcm = pcm16k(speaker.files[-1])
        assert len(pcm) / 2 / 16000 <= 12.0  # the whole sentence, code and all, in 12 s at most
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        return decoder.hyp().hypstr if decoder.hyp() else ""

    try:
        for _ in range(count):
            code = "".join(rng.choice(alphabet) for _ in range(length))
            hypothesis = await heard(code)
            if heard_code(hypothesis) != code:
                # pyttsx3's espeak driver does not say a text the same way twice (its WAVs differ
                # from one synthesis to the next), and this listener is stricter than a person; the
                # box says the code again every 30 s, so a code gets a second hearing.
                again.append((code, hypothesis))
                if heard_code(hypothesis := await heard(code)) != code:
                    wrong.append((code, hypothesis))
    finally:
        await speaker.aclose()
    assert wrong == [], wrong  # never wrong twice
    assert len(again) <= count // 4, again  # and not often once (alone, none is: 0 of 70)
