"""The microphone's cepstral mean: learned from the first command after a start, kept across starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from maestro.intents import Matcher, StaticLibrary, load_spec
from maestro.intents.library import LibraryItem
from maestro.voice import asr
from maestro.voice.asr import MEAN_FILE, PocketSphinxEngine
from maestro.voice.audio import chunks
from maestro.voice.events import Heard
from maestro.voice.listener import Listener
from maestro.voice.synth import espeak_pcm, mix, rms, silence

LIBRARY = StaticLibrary([LibraryItem("device", "Kitchen", "kitchen-id")])


@pytest.fixture(scope="module")
def speech_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state dir with the command model already built (each test then starts engines in it)."""
    path = tmp_path_factory.mktemp("speech")
    PocketSphinxEngine(load_spec(), LIBRARY, path, learn_mean=False)
    return path


def fresh_engine(speech_dir: Path, learn_mean: bool = True) -> PocketSphinxEngine:
    (speech_dir / MEAN_FILE).unlink(missing_ok=True)
    return PocketSphinxEngine(load_spec(), LIBRARY, speech_dir, learn_mean=learn_mean)


def hear(engine: PocketSphinxEngine, text: str, voice: str = "en-us") -> list[tuple[str, str | None]]:
    speech = espeak_pcm(text, voice, 150)
    audio = mix(silence(0.5) + speech + silence(1.2), None, 40, rms(speech))
    listener = Listener(engine, Matcher(load_spec(), LIBRARY), wake=False)
    events = [e for chunk in chunks(audio) for e in listener.feed(chunk)] + listener.flush()
    return [(e.transcript, e.intent) for e in events if isinstance(e, Heard)]


def mean(engine: PocketSphinxEngine) -> list[float]:
    return [float(v) for v in engine.decoder.get_cmn().split(",")]


@pytest.mark.parametrize(
    "command,intent", [("skip to the next song", "Next"), ("turn the volume up", "VolumeUp")]
)
@pytest.mark.slow
def test_first_command_after_a_fresh_start_is_heard(speech_dir: Path, command: str, intent: str) -> None:
    """PocketSphinx's default mean garbles these; one learned from the command itself does not."""
    assert [i for _, i in hear(fresh_engine(speech_dir, learn_mean=False), command)] == [None]
    assert [i for _, i in hear(fresh_engine(speech_dir), command)] == [intent]


@pytest.mark.slow
def test_learned_mean_is_kept_for_the_next_start(speech_dir: Path) -> None:
    first = fresh_engine(speech_dir)
    default = mean(first)
    hear(first, "pause the music in the kitchen")
    saved = [float(v) for v in (speech_dir / MEAN_FILE).read_text().split(",")]
    assert saved != default and len(saved) == len(default)
    again = PocketSphinxEngine(load_spec(), LIBRARY, speech_dir)
    assert mean(again) == pytest.approx(saved, abs=1e-3)
    assert hear(again, "what is playing") == [("what is playing", "NowPlaying")]


def test_a_short_sound_teaches_nothing(speech_dir: Path) -> None:
    engine = fresh_engine(speech_dir)
    hear(engine, "yes")  # under a second: a cough or one word says little about the microphone
    assert not (speech_dir / MEAN_FILE).exists()
    hear(engine, "pause the music in the kitchen")
    assert (speech_dir / MEAN_FILE).exists()


@pytest.mark.parametrize("damage", ["", "not numbers", "1,2,3", "\x00\xff"])
def test_a_damaged_mean_file_is_learned_again(speech_dir: Path, damage: str) -> None:
    (speech_dir / MEAN_FILE).write_text(damage, encoding="latin-1")
    engine = PocketSphinxEngine(load_spec(), LIBRARY, speech_dir)
    assert [i for _, i in hear(engine, "skip to the next song")] == ["Next"]
    assert len((speech_dir / MEAN_FILE).read_text().split(",")) == len(mean(engine))


def test_without_learning_nothing_is_written(speech_dir: Path) -> None:
    engine = fresh_engine(speech_dir, learn_mean=False)
    hear(engine, "pause the music in the kitchen")
    assert not (speech_dir / MEAN_FILE).exists()


@pytest.mark.slow
def test_the_kept_mean_is_rewritten_at_most_every_few_minutes(
    speech_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written when learned; later commands refresh it only after MEAN_SAVE_EVERY_S (no fsync each)."""
    engine = fresh_engine(speech_dir)
    hear(engine, "pause the music in the kitchen")
    learned = (speech_dir / MEAN_FILE).read_text()
    hear(engine, "skip to the next song")
    assert (speech_dir / MEAN_FILE).read_text() == learned
    monkeypatch.setattr(asr, "MEAN_SAVE_EVERY_S", 0.0)
    hear(engine, "turn the volume up")
    assert (speech_dir / MEAN_FILE).read_text() != learned
