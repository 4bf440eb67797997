"""Speech recognition engines behind one small interface.

An :class:`Engine` listens in two modes, one at a time:

- *wake*: feed audio, get ``True`` when the wake phrase was heard;
- *command*: feed one utterance, get the n-best transcripts in the command
  language (intents.yaml + the user's names).

plus :meth:`Engine.transcribe_open`, the open-vocabulary pass used for "play
<anything>" when the name is not one the command language knows.

- :class:`PocketSphinxEngine`: the default. Its English model ships inside the
  PyPI wheel, so Maestro hears without any download. One decoder with the
  command trigram model (which also hears the wake phrase); a second, with the
  general English model, is loaded on the first open-vocabulary pass.
- :class:`VoskEngine`: a Vosk model from ``maestro models get``; a grammar of the
  command words (plus ``[unk]``) and the model's own graph for the open pass.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from maestro import config
from maestro.config import Settings
from maestro.errors import MaestroError, UsageError
from maestro.fsutil import atomic_write_text
from maestro.intents.grammar import vosk_words
from maestro.intents.library import LibraryProvider
from maestro.intents.spec import IntentSpec
from maestro.voice.audio import RATE
from maestro.voice.language import build_command_model
from maestro.voice.lexicon import Lexicon

log = logging.getLogger(__name__)


class Engine(Protocol):
    name: str
    wake_phrase: str
    #: True: the wake phrase is heard as the first words of an utterance in the
    #: command model (``wake_feed`` is unused); False: ``wake_feed`` spots it.
    wake_in_transcript: bool

    def start_wake(self) -> None: ...

    def wake_feed(self, pcm: bytes) -> bool: ...

    def start_command(self) -> None: ...

    def command_feed(self, pcm: bytes) -> None: ...

    def command_end(self, alternatives: int) -> list[str]: ...

    def partial(self) -> str:
        """The best guess so far of the command under way ("" when there is none)."""
        ...

    def word_posteriors(self) -> list[tuple[str, float]]:
        """The best hypothesis of the last command, word by word with its posterior (0..1); [] if unknown."""
        ...

    def word_starts(self) -> list[tuple[str, float]]:
        """The best hypothesis of the last command, word by word with where it began (seconds into
        the utterance); [] if unknown."""
        ...

    def transcribe_open(self, pcm: bytes) -> str: ...


def pocketsphinx_model() -> Path:
    import pocketsphinx

    return Path(pocketsphinx.get_model_path()) / "en-us"


#: Gaussians scored per frame and codebook (the model's default is 4): more of them hear the wake
#: phrase far more often, for no loss in intents (voice_bench measures both). The second
#: (flat-lexicon) pass is off: it ran after the end of speech and was most of the latency, for
#: no accuracy the bench could tell apart.
GAUSSIANS = 8
#: The decoder's running cepstral mean (the microphone's and room's average spectrum) is kept here.
#: PocketSphinx starts from a default and needs many commands to learn it (a ~5 s window): a
#: command heard first after a start is understood about half as often with the default mean as
#: with one learned from earlier speech, so the learned one is kept across starts.
MEAN_FILE = "cepstral-mean.txt"
#: PocketSphinx's feature frames per second (its segments are counted in them).
FRAMES_PER_S = 100
#: Speech needed before one utterance's own mean is trusted (shorter: noise, a cough).
MEAN_MIN_S = 1.0
#: The mean drifts slowly once learned: it is written when learned, then at most this often. Every
#: utterance (room chatter too) would mean two fsyncs inside the command's latency, on an SD card.
MEAN_SAVE_EVERY_S = 300.0


class PocketSphinxEngine:
    """PocketSphinx with the command trigram model; the wake phrase is part of that model.

    Its keyphrase search was measured first: at the threshold where it stops
    waking on other speech (1e-40) it found "hey maestro" in 4% of clean and
    30% of 10 dB commands. Heard through the command model, after the VAD has
    cut an utterance, the phrase is both found and checked word by word, and
    only speech costs any CPU.
    """

    name = "pocketsphinx"
    wake_in_transcript = True

    def __init__(
        self,
        spec: IntentSpec,
        library: LibraryProvider,
        cache_dir: Path,
        *,
        wake_phrase: str = "",
        learn_mean: bool = True,
    ) -> None:
        """``learn_mean=False``: PocketSphinx's default cepstral mean at every start, nothing kept
        (the bench's side-by-side peer)."""
        from pocketsphinx import Decoder

        self.model = pocketsphinx_model()
        if wake_phrase and wake_phrase != spec.wake_phrase:
            spec = dataclasses.replace(spec, wake_phrase=wake_phrase)
        self.wake_phrase = spec.wake_phrase
        self.command = command = build_command_model(
            spec, library, cache_dir, lambda: Lexicon(self.model / "cmudict-en-us.dict")
        )
        if not set(self.wake_phrase.split()) <= command.words:
            raise UsageError(f"No pronunciation for the wake phrase {self.wake_phrase!r}.")
        # Only the command words are loaded: CMUdict in full would cost ~90 MB more.
        self.decoder = Decoder(
            hmm=str(self.model / "en-us"), lm=str(command.arpa), dict=str(command.dictionary),
            samprate=RATE, loglevel="FATAL", topn=GAUSSIANS, fwdflat=False,
        )  # fmt: skip
        self._open: Any = None
        self._in_utterance = False
        self._posteriors: list[tuple[str, float]] = []
        self._starts: list[tuple[str, float]] = []
        self._mean_file = cache_dir / MEAN_FILE
        self._learn = learn_mean
        self._mean_known = not learn_mean or self._restore_mean()
        self._mean_saved_at = time.monotonic() if self._mean_known else None
        self._heard = bytearray()  # the utterance, kept only while the mean is still unknown

    def start_wake(self) -> None:
        return None

    def wake_feed(self, pcm: bytes) -> bool:
        raise NotImplementedError("PocketSphinx hears the wake phrase in the command model")

    def start_command(self) -> None:
        if self._in_utterance:  # abandoned (Maestro began to speak): drop it
            self.decoder.end_utt()
        self.decoder.start_utt()
        self._in_utterance = True
        self._heard.clear()

    def command_feed(self, pcm: bytes) -> None:
        self.decoder.process_raw(pcm)
        if not self._mean_known:
            self._heard += pcm

    def partial(self) -> str:
        hypothesis = self.decoder.hyp() if self._in_utterance else None
        return _clean(hypothesis.hypstr) if hypothesis is not None and hypothesis.hypstr else ""

    def command_end(self, alternatives: int) -> list[str]:
        self.decoder.end_utt()
        self._in_utterance = False
        if not self._mean_known and len(self._heard) >= MEAN_MIN_S * RATE * 2:
            self._learn_mean(bytes(self._heard))
        self._heard.clear()
        if self._learn and self._mean_known:
            self._save_mean()
        segments = [(_clean(seg.word), seg) for seg in self.decoder.seg()]
        self._posteriors = [(word, seg.prob) for word, seg in segments if word]
        self._starts = [(word, seg.start_frame / FRAMES_PER_S) for word, seg in segments if word]
        texts: list[str] = []
        best = self.decoder.hyp()
        if best is not None and best.hypstr:
            texts.append(_clean(best.hypstr))
        for i, entry in enumerate(self.decoder.nbest()):
            if entry is None or i >= alternatives * 3 or len(texts) >= alternatives:
                break
            text = _clean(entry.hypstr or "")
            if text and text not in texts:
                texts.append(text)
        return texts

    def word_posteriors(self) -> list[tuple[str, float]]:
        return self._posteriors

    def word_starts(self) -> list[tuple[str, float]]:
        return self._starts

    def _learn_mean(self, pcm: bytes) -> None:
        """First speech since a cold start: its own mean (a whole-utterance pass), then heard again.

        Costs one more decode of this one utterance (~0.15 s here), once per box.
        """
        self.decoder.config["cmn"] = "batch"
        self.decoder.reinit_feat()
        self.decoder.start_utt()
        self.decoder.process_raw(pcm, full_utt=True)
        self.decoder.end_utt()
        mean = self.decoder.get_cmn()
        self.decoder.config["cmn"] = "live"
        self.decoder.reinit_feat()
        self.decoder.set_cmn(mean)
        self.decoder.start_utt()
        self.decoder.process_raw(pcm)
        self.decoder.end_utt()
        self._mean_known = True

    def _restore_mean(self) -> bool:
        try:
            text = self._mean_file.read_text(encoding="ascii").strip()
            values = [float(v) for v in text.split(",")]
        except (OSError, UnicodeDecodeError, ValueError):
            return False  # none yet, or damaged: learn it again from the first command
        if len(values) != len(self.decoder.get_cmn().split(",")):
            return False
        self.decoder.set_cmn(text)
        return True

    def _save_mean(self) -> None:
        now = time.monotonic()
        if self._mean_saved_at is not None and now - self._mean_saved_at < MEAN_SAVE_EVERY_S:
            return
        self._mean_saved_at = now
        try:
            atomic_write_text(self._mean_file, self.decoder.get_cmn() + "\n", private=True)
        except OSError as exc:  # a read-only state dir costs the next start its warm-up, nothing more
            log.warning("could not keep the microphone's cepstral mean: %s", exc)

    def transcribe_open(self, pcm: bytes) -> str:
        """The general English model (loaded on first use: it is most of the memory)."""
        if self._open is None:
            from pocketsphinx import Decoder

            # Narrower beams and no second pass: about 3x faster, for a name the matcher fuzzes anyway.
            self._open = Decoder(
                hmm=str(self.model / "en-us"), lm=str(self.model / "en-us.lm.bin"),
                dict=str(self.model / "cmudict-en-us.dict"), samprate=RATE, loglevel="FATAL",
                beam=1e-30, wbeam=1e-20, pbeam=1e-30, fwdflat=False, bestpath=False,
            )  # fmt: skip
        self._open.set_cmn(self.decoder.get_cmn())  # same model and front end: same cepstra
        self._open.start_utt()
        self._open.process_raw(pcm, full_utt=True)
        self._open.end_utt()
        hyp = self._open.hyp()
        return _clean(hyp.hypstr) if hyp else ""


def _clean(text: str) -> str:
    """nbest entries may carry <s>, </s>, <sil> and alternative-pronunciation marks."""
    words = [w.split("(")[0] for w in text.split()]
    return " ".join(w for w in words if w and not w.startswith("<") and not w.startswith("["))


class VoskEngine:
    name = "vosk"
    wake_in_transcript = False

    def __init__(
        self, model_path: Path, spec: IntentSpec, library: LibraryProvider, *, wake_phrase: str = ""
    ) -> None:
        vosk = _vosk()
        if not (model_path / "am").is_dir() and not (model_path / "conf").is_dir():
            raise UsageError(
                f"{model_path} is not a Vosk model. Install one with: maestro models get vosk-small-en-us"
            )
        vosk.SetLogLevel(-1)
        self._vosk = vosk
        self.model = vosk.Model(str(model_path))
        self.wake_phrase = wake_phrase or spec.wake_phrase
        self.words = json.dumps(vosk_words(spec, library))
        self._recognizer: Any = None

    def _new(self, grammar: str | None = None) -> Any:
        if grammar is None:
            return self._vosk.KaldiRecognizer(self.model, RATE)
        return self._vosk.KaldiRecognizer(self.model, RATE, grammar)

    def start_wake(self) -> None:
        self._recognizer = self._new(json.dumps([self.wake_phrase, "[unk]"]))

    def wake_feed(self, pcm: bytes) -> bool:
        if self._recognizer.AcceptWaveform(pcm):
            heard = json.loads(self._recognizer.Result()).get("text", "")
        else:
            heard = json.loads(self._recognizer.PartialResult()).get("partial", "")
        if self.wake_phrase in heard:
            self.start_wake()
            return True
        return False

    def start_command(self) -> None:
        self._recognizer = self._new(self.words)
        self._recognizer.SetMaxAlternatives(5)

    def command_feed(self, pcm: bytes) -> None:
        self._recognizer.AcceptWaveform(pcm)

    def partial(self) -> str:
        if self._recognizer is None:
            return ""
        return _clean(json.loads(self._recognizer.PartialResult()).get("partial", ""))

    def command_end(self, alternatives: int) -> list[str]:
        result = json.loads(self._recognizer.FinalResult())
        texts = [a.get("text", "") for a in result.get("alternatives", [])] or [result.get("text", "")]
        return _unique(_clean(t) for t in texts)[:alternatives]

    def word_posteriors(self) -> list[tuple[str, float]]:
        return []  # its grammar results carry no per-word confidence with alternatives on

    def word_starts(self) -> list[tuple[str, float]]:
        return []

    def transcribe_open(self, pcm: bytes) -> str:
        recognizer = self._new()
        recognizer.AcceptWaveform(pcm)
        return _clean(json.loads(recognizer.FinalResult()).get("text", ""))


def _unique(texts: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(t for t in texts if t))


def _vosk() -> Any:
    try:
        import vosk
    except ImportError as exc:
        raise MaestroError(
            "The Vosk engine needs the vosk package: pip install 'maestro-remote[vosk]'."
        ) from exc
    return vosk


def installed_vosk_model(model_path: str, models_dir: Path) -> Path | None:
    """The configured Vosk model, else the first one ``maestro models get`` installed."""
    if model_path:
        return Path(model_path).expanduser()
    if models_dir.is_dir():
        for candidate in sorted(models_dir.iterdir()):
            if candidate.is_dir() and candidate.name.startswith("vosk-model"):
                return candidate
    return None


def make_engine(
    engine: str,
    spec: IntentSpec,
    library: LibraryProvider,
    *,
    cache_dir: Path,
    models_dir: Path,
    model_path: str = "",
    wake_phrase: str = "",
) -> Engine:
    """``voice.engine``: auto (Vosk when a model is installed, else PocketSphinx), vosk, pocketsphinx."""
    if engine in ("auto", "vosk"):
        found = installed_vosk_model(model_path, models_dir)
        if found is not None and found.exists():
            return VoskEngine(found, spec, library, wake_phrase=wake_phrase)
        if engine == "vosk":
            raise UsageError(
                "voice.engine is vosk but no Vosk model is installed. "
                "Get one with: maestro models get vosk-small-en-us (or set voice.model_path)."
            )
    return PocketSphinxEngine(spec, library, cache_dir, wake_phrase=wake_phrase)


def engine_for(
    settings: Settings, spec: IntentSpec, library: LibraryProvider, *, cache_dir: Path | None = None
) -> Engine:
    """The engine ``[voice]`` asks for; the command model is cached in the state dir."""
    voice = settings.voice
    grammar = (
        "auto" if voice.engine == "whisper" else voice.engine
    )  # Whisper's wake phrase: the grammar path's
    return make_engine(
        grammar, spec, library,
        cache_dir=cache_dir or config.state_dir() / "speech", models_dir=config.models_dir(),
        model_path=voice.model_path, wake_phrase=voice.wake_phrase,
    )  # fmt: skip
