"""Replies in a natural voice: Piper where it is installed, pyttsx3 (espeak-ng) otherwise."""

from __future__ import annotations

import sys
import wave
from pathlib import Path

import pytest

from maestro import config
from maestro.voice.tts import PiperSpeaker, Pyttsx3Speaker, SilentSpeaker, make_speaker, piper_installed

needs_piper = pytest.mark.skipif(
    not piper_installed(), reason="Piper is not installed here (./dev installs it: pip install '.[dev]')"
)


@needs_piper
async def test_piper_says_a_reply_sentence_by_sentence(tmp_path: Path) -> None:
    speaker = PiperSpeaker(to_dir=tmp_path)
    try:
        await speaker.say("Playing Abbey Road, by The Beatles. On the Kitchen.")
        await speaker.chime()
    finally:
        await speaker.aclose()
    reply, chime = speaker.files
    with wave.open(str(reply)) as reader:
        seconds = reader.getnframes() / reader.getframerate()
        assert reader.getframerate() == 22050 and reader.getnchannels() == 1
    assert 1.5 < seconds < 8.0
    assert chime.name.endswith("-chime.wav")
    assert len(speaker.first_sound_s) == 1  # when its first sentence was ready (the bench's figure)
    assert speaker.history == ["Playing Abbey Road, by The Beatles. On the Kitchen.", "<chime>"]


@needs_piper
async def test_auto_prefers_piper() -> None:
    speaker = make_speaker("auto")
    try:
        assert isinstance(speaker, PiperSpeaker)
    finally:
        await speaker.aclose()


async def test_without_piper_auto_and_piper_fall_back_to_pyttsx3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "piper", None)  # as on a box where piper-tts was never installed
    assert not piper_installed()
    for engine in ("auto", "piper"):
        speaker = make_speaker(engine)
        try:
            assert isinstance(speaker, Pyttsx3Speaker), engine
        finally:
            await speaker.aclose()


def test_the_engine_is_a_setting() -> None:
    assert config.load({}).tts.engine == "auto"
    assert config.load({"MAESTRO_TTS_ENGINE": "piper"}).tts.engine == "piper"
    with pytest.raises(config.ConfigError):
        config.load({"MAESTRO_TTS_ENGINE": "festival"})
    assert isinstance(make_speaker("none"), SilentSpeaker)
