"""Real-speech bench: people nobody here recorded, through Maestro's own listener.

    python bench/real_speech_bench.py [--clips 310] [--snr clean,24,18,12,6]
                                      [--engines pocketsphinx,tiered,whisper] [--misses]

The development half of Picovoice's speech-to-intent benchmark (../shared/eval/real-speech:
spoken coffee orders, 50+ speakers, ordinary microphones), its grammar written as an
intents.yaml (``coffee.yaml``). Each clip is heard as `maestro listen --no-wake` hears it
(one engine loaded once, a fresh listener per clip), clean and with the benchmark's kitchen
noise mixed exactly as its ``mix.py`` does (a random stretch of the noise; scaled so the
loudest 2,048-sample frames are SNR dB apart; the mix divided by twice its peak).

Printed per condition and engine: the share understood (intent and every labelled slot
exact), latency after the end of speech (p50/p95), CPU-seconds per command (this process,
all threads), and the share the grammar path answered alone. Published on the whole set
(6-24 dB, mean): Picovoice Rhino 97.6%, Microsoft LUIS 89.9%, IBM Watson 86.8%, Amazon Lex
84.5%, Google Dialogflow 77.6%. The other half of the recordings judges; nothing is tuned
on these clips.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from maestro import config
from maestro.intents import Matcher, load_spec
from maestro.intents.learned import Learner
from maestro.intents.library import EmptyLibrary
from maestro.voice.audio import chunks, read_wav
from maestro.voice.events import Heard
from maestro.voice.listener import Listener
from maestro.voice.pipeline import listener_for

REAL = Path(__file__).resolve().parents[2] / "shared" / "eval" / "real-speech"
FRAME = 2048
PUBLISHED = {"Picovoice Rhino": 97.6, "Microsoft LUIS": 89.9, "IBM Watson": 86.8, "Amazon Lex": 84.5,
             "Google Dialogflow": 77.6}  # fmt: skip


def max_frame_energy(x: np.ndarray) -> float:
    frames = len(x) // FRAME
    if frames == 0:
        return float(np.sum(x * x))
    return float(np.max(np.sum(x[: frames * FRAME].reshape(frames, FRAME) ** 2, axis=1)))


def mix(speech: np.ndarray, noise: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """The benchmark's mix.py: a random stretch of the noise, scaled by the loudest frames."""
    start = int(rng.integers(0, len(noise) - len(speech)))
    part = noise[start : start + len(speech)]
    scale = np.sqrt(max_frame_energy(speech) / (max_frame_energy(part) * 10 ** (snr_db / 10)))
    mixed = speech + scale * part
    return mixed / (2 * np.max(np.abs(mixed)))


def to_pcm(x: np.ndarray) -> bytes:
    return np.clip(np.rint(x * 32767), -32768, 32767).astype(np.int16).tobytes()


def understood(heard: Heard | None, label: dict) -> bool:
    if heard is None or heard.intent != label["intent"]:
        return False
    slots = heard.recognition.slots
    wanted = {name: value.strip() for name, value in label["slots"].items()}
    return {name: str(slots.get(name, "")).strip() for name in wanted} == wanted and set(slots) <= set(wanted)


@dataclass
class Tally:
    right: int = 0
    total: int = 0
    latencies: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    grammar_alone: int = 0
    misses: list[tuple[str, str]] = field(default_factory=list)

    def line(self, name: str) -> str:
        p50 = statistics.median(self.latencies) if self.latencies else 0.0
        p95 = float(np.percentile(self.latencies, 95)) if self.latencies else 0.0
        cpu = statistics.mean(self.cpu or [0])
        return (f"{name:<14} {100 * self.right / max(1, self.total):5.1f}%  ({self.right}/{self.total})  "
                f"latency p50 {p50:5.0f} ms p95 {p95:5.0f} ms  cpu {cpu:.2f} s/cmd  "
                f"grammar alone {100 * self.grammar_alone / max(1, self.total):4.1f}%")  # fmt: skip


def hear(listener: Listener, pcm: bytes) -> tuple[Heard | None, float]:
    started = time.process_time()
    events = [e for chunk in chunks(pcm) for e in listener.feed(chunk)] + listener.flush()
    return next((e for e in events if isinstance(e, Heard)), None), time.process_time() - started


def engine_settings(engine: str) -> config.Settings:
    """``tiered``, ``whisper``, ``pocketsphinx``; ``+base`` for Whisper base instead of tiny.en;
    ``@10``: the encoder's window in seconds; ``:templates``: the templates alone, without the
    learned parser."""
    name, _, model = engine.partition(":")[0].partition("@")[0].partition("+")
    env = {"MAESTRO_VOICE_ENGINE": {"tiered": "auto"}.get(name, name)}
    if model:
        env["MAESTRO_VOICE_WHISPER_MODEL"] = model
    return config.load(env)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=int, default=310, help="how many clips (every Nth, spread out)")
    parser.add_argument("--snr", default="clean,24,18,12,6")
    parser.add_argument(
        "--engines",
        default="pocketsphinx,tiered,whisper,tiered+base",
        help="pocketsphinx, tiered, whisper; +base: Whisper base instead of tiny.en; @30: a 30 s window; "
        ":templates: without the learned parser (as `listen` has it)",
    )
    parser.add_argument("--misses", action="store_true", help="print what each engine got wrong")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not REAL.is_dir():
        print(f"no real-speech set at {REAL}", file=sys.stderr)
        return 2
    labels = json.loads((REAL / "labels.json").read_text())
    names = sorted(labels)
    step = max(1, len(names) // args.clips)
    names = names[::step][: args.clips]
    spec = load_spec(REAL / "coffee.yaml")
    library = EmptyLibrary()
    noise = (
        np.frombuffer(read_wav(REAL / "noise" / "kitchen.flac"), dtype=np.int16).astype(np.float64) / 32768
    )
    clean = {n: np.frombuffer(read_wav(REAL / "clean" / n), dtype=np.int16).astype(np.float64) / 32768
             for n in names}  # fmt: skip
    conditions = args.snr.split(",")
    learned_cache = Path(tempfile.mkdtemp(prefix="maestro-bench-learned-"))
    print(f"{len(names)} clips of real speech; conditions {', '.join(conditions)}")
    results: dict[tuple[str, str], Tally] = {}
    for engine in args.engines.split(","):
        learner = None if engine.endswith(":templates") else Learner(spec, learned_cache)
        matcher = Matcher(spec, library, learner)
        loaded = listener_for(engine_settings(engine), spec, library, matcher, wake=False)
        if "@" in engine and loaded.neural is not None:
            loaded.neural.chunk_length = int(engine.partition("@")[2].partition(":")[0])
        for condition in conditions:
            rng = np.random.default_rng(args.seed)
            tally = results.setdefault((condition, engine), Tally())
            for name in names:
                audio = (
                    clean[name] if condition == "clean" else mix(clean[name], noise, float(condition), rng)
                )
                heard, cpu = hear(loaded.fresh(), to_pcm(audio))
                tally.total += 1
                tally.cpu.append(cpu)
                if heard is not None:
                    tally.latencies.append(heard.latency_ms)
                    tally.grammar_alone += not heard.neural
                if understood(heard, labels[name]):
                    tally.right += 1
                else:
                    tally.misses.append((name, heard.transcript if heard else "(nothing heard)"))
            print(f"[{condition:>5}] {tally.line(engine)}", flush=True)
    print("\nsummary (understood: intent and every slot exact)")
    for engine in args.engines.split(","):
        row = [
            f"{100 * results[(c, engine)].right / max(1, results[(c, engine)].total):5.1f}%"
            for c in conditions
        ]
        noisy = [results[(c, engine)] for c in conditions if c != "clean"]
        mean = statistics.mean(100 * t.right / max(1, t.total) for t in noisy) if noisy else float("nan")
        print(f"  {engine:<14} " + "  ".join(f"{c}: {v}" for c, v in zip(conditions, row, strict=True))
              + f"   mean over noise: {mean:.1f}%")  # fmt: skip
    print("  published, mean 6-24 dB: " + ", ".join(f"{k} {v}%" for k, v in PUBLISHED.items()))
    if args.misses:
        for (condition, engine), tally in results.items():
            print(f"\n-- misses, {engine}, {condition}")
            for name, transcript in tally.misses:
                print(f"{name}  {labels[name]['slots']}  heard: {transcript!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
