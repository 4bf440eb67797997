"""The voice pipeline on speech synthesised in the test (espeak-ng), through the real PocketSphinx engine."""

from __future__ import annotations

import json
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from maestro import cli
from maestro.errors import UsageError
from maestro.intents import Matcher, StaticLibrary, load_spec
from maestro.intents.spec import parse_spec
from maestro.voice.asr import PocketSphinxEngine, installed_vosk_model, make_engine
from maestro.voice.audio import RATE
from maestro.voice.events import GaveUp, Heard, Woke
from maestro.voice.listener import Listener
from maestro.voice.synth import mix, silence
from tests.paths import SHARED
from tests.voice.helpers import LIBRARY, hear, spoken


def write_wav(path: Path, pcm: bytes, rate: int = RATE, channels: int = 1) -> Path:
    samples = np.frombuffer(pcm, dtype=np.int16)
    if rate != RATE:
        import soxr

        samples = np.clip(soxr.resample(samples.astype(np.float32), RATE, rate), -32768, 32767).astype(
            np.int16
        )
    if channels == 2:
        samples = np.repeat(samples[:, None], 2, axis=1)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> PocketSphinxEngine:
    return PocketSphinxEngine(load_spec(), LIBRARY, tmp_path_factory.mktemp("speech"))


@pytest.fixture
def matcher() -> Matcher:
    return Matcher(load_spec(), LIBRARY)


def test_wake_phrase_then_command(engine: PocketSphinxEngine, matcher: Matcher) -> None:
    events = hear(Listener(engine, matcher), spoken("hey maestro", "pause the music"))
    assert isinstance(events[0], Woke)
    heard = [e for e in events if isinstance(e, Heard)]
    assert [(h.intent, h.transcript) for h in heard] == [("Pause", "pause the music")]
    assert heard[0].latency_ms > 0


def test_wake_phrase_and_command_in_one_breath(engine: PocketSphinxEngine, matcher: Matcher) -> None:
    events = hear(Listener(engine, matcher), spoken("hey maestro, play the album abbey road"))
    heard = [e for e in events if isinstance(e, Heard)]
    assert any(isinstance(e, Woke) for e in events)
    assert heard[0].intent == "PlayAlbum"
    assert heard[0].recognition.slots_json()["album"]["uri"] == "spotify:album:abbey"


def test_no_wake_phrase_no_command(engine: PocketSphinxEngine, matcher: Matcher) -> None:
    assert hear(Listener(engine, matcher), spoken("next song", "pause the music")) == []


def test_woken_but_silent_goes_back_to_sleep(engine: PocketSphinxEngine, matcher: Matcher) -> None:
    listener = Listener(engine, matcher, speech_timeout_s=2.0)
    events = hear(listener, spoken("hey maestro") + mix(silence(3.0), None, 40, 3000.0))
    assert [type(e) for e in events] == [Woke, GaveUp]
    assert not listener.awake


def test_maestro_does_not_wake_itself(engine: PocketSphinxEngine, matcher: Matcher) -> None:
    listener = Listener(engine, matcher, is_speaking=lambda: True)
    assert hear(listener, spoken("hey maestro", "next song")) == []


@pytest.mark.parametrize(
    ("said", "intent", "slots"),
    [
        ("pause the music", "Pause", {}),
        ("set the volume to forty", "SetVolume", {"volume": 40}),
        (
            "play the album abbey road",
            "PlayAlbum",
            {"album": {"name": "Abbey Road", "uri": "spotify:album:abbey"}},
        ),
        ("pause the tv", "Pause", {"device": {"name": "TV", "id": "tv-id"}}),
        ("unmute", "Unmute", {}),
    ],
)
def test_commands_without_wake(
    engine: PocketSphinxEngine, matcher: Matcher, said: str, intent: str, slots: dict[str, object]
) -> None:
    heard = [e for e in hear(Listener(engine, matcher, wake=False), spoken(said)) if isinstance(e, Heard)]
    assert [(h.intent, h.recognition.slots_json()) for h in heard] == [(intent, slots)]


def test_speech_that_is_not_a_command_gives_no_intent(engine: PocketSphinxEngine, matcher: Matcher) -> None:
    accepted = []
    for said in ["what is the weather like in new york", "set a timer for ten minutes", "call my mother"]:
        for event in hear(Listener(engine, matcher, wake=False), spoken(said)):
            if isinstance(event, Heard) and event.intent is not None:
                accepted.append((said, event.transcript, event.intent))
    assert accepted == []


def test_grammar_comes_from_a_custom_intents_file(tmp_path: Path) -> None:
    spec = parse_spec(
        "wake_phrase: hello computer\n"
        "intents:\n"
        "  Pause:\n"
        "    templates: ['freeze the (music|tunes)']\n"
        "  Next:\n"
        "    templates: ['another tune']\n"
    )
    engine = PocketSphinxEngine(spec, LIBRARY, tmp_path)
    matcher = Matcher(spec, LIBRARY)
    events = hear(Listener(engine, matcher), spoken("hello computer", "freeze the music"))
    assert [e.intent for e in events if isinstance(e, Heard)] == ["Pause"]
    assert engine.decoder.lookup_word("freeze") == "F R IY Z"
    assert engine.decoder.lookup_word("beatles") is None  # only this grammar's words are loaded


@pytest.mark.slow
def test_wake_phrase_from_config_overrides_intents_file(tmp_path: Path, matcher: Matcher) -> None:
    engine = PocketSphinxEngine(load_spec(), LIBRARY, tmp_path, wake_phrase="hello computer")
    events = hear(Listener(engine, matcher), spoken("hello computer", "set the volume to forty"))
    assert any(isinstance(e, Woke) for e in events)
    assert [e.intent for e in events if isinstance(e, Heard)] == ["SetVolume"]


@pytest.fixture
def listen_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("MAESTRO_STATE_DIR", str(tmp_path / "state"))
    (tmp_path / "config.toml").write_text("")
    monkeypatch.setenv("MAESTRO_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("MAESTRO_MODELS_DIR", str(tmp_path / "models"))
    library = tmp_path / "library.json"
    library.write_text(json.dumps({"albums": [{"name": "Abbey Road", "uri": "spotify:album:abbey"}],
                                   "devices": [{"name": "Kitchen", "id": "kitchen-id"}]}))  # fmt: skip
    yield library


@pytest.mark.slow
@pytest.mark.parametrize(("rate", "channels"), [(44_100, 2), (48_000, 2), (RATE, 1)])
def test_listen_json_contract_on_any_wav(
    tmp_path: Path, listen_env: Path, capsys: pytest.CaptureFixture[str], rate: int, channels: int
) -> None:
    wav = write_wav(
        tmp_path / "command.wav", spoken("hey maestro", "play the album abbey road"), rate, channels
    )
    assert cli.main(["listen", "--wav", str(wav), "--json", "--library", str(listen_env)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"transcript", "wake", "intent", "slots", "score", "latency_ms"}
    assert result["wake"] is True
    assert (result["intent"], result["slots"]) == (
        "PlayAlbum",
        {"album": {"name": "Abbey Road", "uri": "spotify:album:abbey"}},
    )
    assert result["transcript"].startswith("play the album abbey road") and result["score"] > 0.8
    assert 0 < result["latency_ms"] < 5000


@pytest.mark.slow
def test_listen_without_wake_and_with_no_command(
    tmp_path: Path, listen_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wav = write_wav(tmp_path / "c.wav", spoken("pause the kitchen"))
    assert cli.main(["listen", "--wav", str(wav), "--no-wake", "--json", "--library", str(listen_env)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["wake"], result["intent"]) == (None, "Pause")
    assert result["slots"] == {"device": {"name": "Kitchen", "id": "kitchen-id"}}
    # Nothing understood is a failure (exit 1), and the message says what to do.
    assert cli.main(["listen", "--wav", str(wav), "--library", str(listen_env)]) == 1
    assert "no wake phrase: say 'hey maestro' first, or use --no-wake" in capsys.readouterr().out


@pytest.mark.slow
def test_listen_many_files_one_line_each_in_order(
    tmp_path: Path, listen_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [write_wav(tmp_path / f"{n}.wav", spoken(text)) for n, text in
             enumerate(["pause the kitchen", "next song", "what is the weather like"])]  # fmt: skip
    code = cli.main(
        ["listen", "--wav", *map(str, files), "--no-wake", "--json", "--library", str(listen_env)]
    )
    results = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["intent"] for r in results] == ["Pause", "Next", None]
    assert all(set(r) == {"transcript", "wake", "intent", "slots", "score", "latency_ms"} for r in results)
    assert code == 1  # one of them was not understood


@pytest.mark.slow
def test_vosk_without_a_model_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="maestro models get vosk-small-en-us"):
        make_engine("vosk", load_spec(), LIBRARY, cache_dir=tmp_path, models_dir=tmp_path / "none")
    assert installed_vosk_model("", tmp_path / "none") is None
    engine = make_engine("auto", load_spec(), LIBRARY, cache_dir=tmp_path, models_dir=tmp_path / "none")
    assert engine.name == "pocketsphinx"  # auto falls back to the model inside the wheel


def _vosk_model() -> Path | None:
    from maestro import config

    return installed_vosk_model("", config.models_dir())


@pytest.mark.skipif(
    _vosk_model() is None, reason="no Vosk model installed (maestro models get vosk-small-en-us)"
)
def test_vosk_engine_hears_wake_and_command() -> None:
    from maestro.voice.asr import VoskEngine

    model = _vosk_model()
    assert model is not None
    engine = VoskEngine(model, load_spec(), LIBRARY)
    events = hear(Listener(engine, Matcher(load_spec(), LIBRARY)), spoken("hey maestro", "pause the music"))
    assert any(isinstance(e, Woke) for e in events)
    assert [e.intent for e in events if isinstance(e, Heard)] == ["Pause"]


EVAL_WAV = SHARED / "eval" / "wav"


@pytest.mark.skipif(
    not (EVAL_WAV / "MANIFEST.tsv").exists(), reason="../shared/eval/wav is not beside this checkout"
)
@pytest.mark.slow
def test_recorded_speech(tmp_path: Path) -> None:
    """Real recordings: media commands are heard as commands, other speech gives no intent."""
    import csv

    from maestro.voice.audio import read_wav

    names = json.loads((EVAL_WAV.parent / "library.json").read_text(encoding="utf-8"))
    names["devices"].append({"name": "TV", "id": "tv-id"})  # the recordings talk to a TV
    library = StaticLibrary.from_dict(names)
    spec = load_spec()
    engine, matcher = PocketSphinxEngine(spec, library, tmp_path), Matcher(spec, library)
    with (EVAL_WAV / "MANIFEST.tsv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    media, other = [], []
    for row in rows:
        events = hear(Listener(engine, matcher, wake=False), read_wav(EVAL_WAV.parent / row["local_file"]))
        understood = [e.transcript for e in events if isinstance(e, Heard) and e.intent is not None]
        (media if row["media_command"] == "yes" else other).append((row["transcript"], understood))
    recognised = [said for said, understood in media if understood]
    accepted = [(said, understood) for said, understood in other if understood]
    assert len(other) >= 30 and len(accepted) <= len(other) / 10, accepted
    # Measured 11 of 13 ("pause the TV" and "skip this song" are missed), 3 of 38 other clips
    # accepted ("too loud", and two heard as "play ..." searches). The decoder's running
    # normalisation carries from clip to clip, so a change to how one clip is heard nudges
    # the later ones.
    assert len(recognised) >= 11, [said for said, understood in media if not understood]
