"""The listening pipeline as ``[voice]`` asks for it: the grammar engine, the neural pass, the Listener.

``voice.engine``:

- ``auto``: the grammar path (Vosk when a model is installed, else PocketSphinx)
  hears the wake phrase and answers the commands it is sure of; when faster-whisper
  and a Whisper model are installed, Whisper decides the rest and hears every
  "play <anything>". Without Whisper, everything works as the grammar path alone.
- ``pocketsphinx`` / ``vosk``: the grammar path alone.
- ``whisper``: the grammar path only hears the wake phrase; every command goes to
  Whisper (missing Whisper is an error that says how to install it).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from maestro import config
from maestro.config import Settings
from maestro.errors import UsageError
from maestro.intents.library import LibraryProvider
from maestro.intents.matcher import Matcher
from maestro.intents.spec import IntentSpec
from maestro.voice import whisper
from maestro.voice.asr import engine_for
from maestro.voice.candidates import Repairs
from maestro.voice.listener import Listener
from maestro.voice.rescore import AcousticScorer

MISSING_WHISPER = (
    'voice.engine is "whisper" but {what}. Install it with ./dev setup, '
    "pip install 'maestro-remote[whisper]', or: maestro models get whisper-tiny-en."
)


def neural_for(
    settings: Settings, spec: IntentSpec, library: LibraryProvider
) -> whisper.WhisperTranscriber | None:
    """The Whisper pass ``voice.engine`` asks for, or None (grammar path alone)."""
    voice = settings.voice
    if voice.engine in ("pocketsphinx", "vosk"):
        return None
    model = whisper.find_model(voice.whisper_model, config.models_dir()) if whisper.available() else None
    if model is None and voice.whisper_model == "base":
        from maestro.voice.whisper_base import MISSING as MISSING_BASE

        raise UsageError(MISSING_BASE)  # asked for by name: a quiet fallback would hide it
    if model is None:
        if voice.engine == "whisper":
            what = "faster-whisper is not installed" if not whisper.available() else "no Whisper model is"
            raise UsageError(MISSING_WHISPER.format(what=what))
        return None
    prompt = whisper.command_prompt(spec, library)
    return whisper.WhisperTranscriber(model, threads=voice.threads, prompt=prompt)


def listener_for(
    settings: Settings,
    spec: IntentSpec,
    library: LibraryProvider,
    matcher: Matcher,
    *,
    cache_dir: Path | None = None,
    wake: bool = True,
    is_speaking: Callable[[], bool] = lambda: False,
    speech_timeout_s: float | None = None,
) -> Listener:
    """A Listener with the engines ``[voice]`` asks for (the command model cached in the state dir)."""
    voice = settings.voice
    grammar = engine_for(settings, spec, library, cache_dir=cache_dir)
    extra: dict[str, Any] = {} if speech_timeout_s is None else {"speech_timeout_s": speech_timeout_s}
    neural = neural_for(settings, spec, library)
    if neural is not None:
        extra |= neural_tiers(neural, spec, library, decides=voice.engine == "whisper")
    return Listener(
        grammar, matcher, wake=wake, is_speaking=is_speaking, wake_confirm=voice.wake_confirm, **extra
    )


def neural_tiers(
    neural: whisper.WhisperTranscriber, spec: IntentSpec, library: LibraryProvider, *, decides: bool
) -> dict[str, Any]:
    """A Listener's arguments for the neural pass: the pass itself, and the grammar inside it (the
    readings that could be meant, scored against the audio). ``decides``: every command to it."""
    return {"neural": neural, "neural_decides": decides, "scorer": AcousticScorer(neural),
            "repairs": Repairs(spec, library)}  # fmt: skip
