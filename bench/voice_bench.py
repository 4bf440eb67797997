"""Voice pipeline bench: wake phrase + command through the real Listener, per voice, rate and noise.

    python bench/voice_bench.py [--sentences 50] [--false-wake-minutes 30]

The dev sentences of ../shared/eval/intents-dev.tsv are spoken by espeak-ng
("hey maestro", a short pause, the command) in 4 English voices and 3 rates,
and played to one continuous Listener per condition, as a microphone would.
Conditions: clean (a 50 dB white floor: synthetic speech has runs of exact
zeros no microphone gives), white noise and babble (other synthesised speech,
four voices at once) at 20, 10 and 5 dB SNR. Noisy conditions use the middle
rate. Printed per condition: intent accuracy, exact-slot accuracy, wake recall,
latency from the last audio frame of the command to the intent (p50/p95), and
real-time factor. White noise at 10 dB is also run side by side without the
noise handling (PocketSphinx's plain VAD endpointer), and the first command
after a start with and without learning the cepstral mean from it. The ceiling
of the acoustic model: the same voices decoded against a grammar of exactly the
dev sentences (the answer known to be one of them). Then false
wakes per hour of non-wake speech, the CPU share of one core while
idle-listening, and the peak RSS of `maestro listen`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np

from intents_bench import read_dev, slot_names
from maestro.intents import Matcher, StaticLibrary, load_spec
from maestro.intents.grammar import sample_sentences
from maestro.voice.asr import GAUSSIANS, MEAN_FILE, PocketSphinxEngine
from maestro.voice.audio import RATE, chunks
from maestro.voice.lexicon import Lexicon
from maestro.voice.listener import GaveUp, Heard, Listener, Woke
from maestro.voice.synth import espeak_pcm, mix, rms, silence

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
VOICES = ["en-us", "en-gb-x-rp", "en-gb-scotland", "en-029"]
RATES = [130, 160, 190]
NOISY = [("white", 20), ("white", 10), ("white", 5), ("babble", 20), ("babble", 10), ("babble", 5)]
CLEAN_FLOOR_DB = 50


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


class Bench:
    def __init__(self, sentences: int, seed: int) -> None:
        self.spec = load_spec()
        self.library = StaticLibrary.from_file(EVAL / "library.json")
        self.matcher = Matcher(self.spec, self.library)
        started = time.perf_counter()
        self.cache = Path(tempfile.mkdtemp(prefix="maestro-voice-bench-"))
        self.engine = PocketSphinxEngine(self.spec, self.library, self.cache)
        self.load_s = time.perf_counter() - started
        dev = read_dev(EVAL / "intents-dev.tsv")
        self.rows = random.Random(seed).sample(dev, min(sentences, len(dev)))
        self.wake = {(v, r): espeak_pcm(self.spec.wake_phrase, v, r) for v in VOICES for r in RATES}
        babble_lines = [text for text, _, _ in dev[::7]][:24]
        parts = [
            np.frombuffer(espeak_pcm(t, VOICES[i % 4], 160), dtype=np.int16)
            for i, t in enumerate(babble_lines)
        ]
        streams = [np.concatenate(parts[i::4]).astype(np.float64) for i in range(4)]
        length = min(len(s) for s in streams)
        self.babble = sum(s[:length] for s in streams)

    def run(
        self, voices: list[str], rates: list[int], noise: str, snr: float, noise_handling: bool = True
    ) -> dict[str, Any]:
        listener = Listener(self.engine, self.matcher, wake=True, noise_handling=noise_handling)
        right = slots = woke = total = 0
        latencies: list[float] = []
        audio_s = busy_s = 0.0
        misses = []
        for index, (voice, rate) in enumerate((v, r) for v in voices for r in rates):
            for n, (text, intent, expected) in enumerate(self.rows):
                command = espeak_pcm(text, voice, rate)
                speech = silence(0.7) + self.wake[(voice, rate)] + silence(0.25) + command + silence(1.2)
                level = rms(command)
                source = None if noise in ("white", "clean") else self.babble
                audio = mix(speech, source, snr, level, seed=index * 1000 + n)
                events = []
                started = time.perf_counter()
                for chunk in chunks(audio):
                    events += listener.feed(chunk)
                busy_s += time.perf_counter() - started
                audio_s += len(audio) / 2 / RATE
                heard = [e for e in events if isinstance(e, Heard)]
                total += 1
                woke += any(isinstance(e, Woke) for e in events)
                got = heard[-1] if heard else None
                got_intent = got.intent if got else None
                ok = got_intent == intent
                right += ok
                slots += ok and slot_names(got.recognition.slots_json() if got else {}) == slot_names(
                    expected
                )
                if got:
                    latencies.append(got.latency_ms)
                if not ok:
                    misses.append(
                        f"{voice}/{rate}: {text!r} -> {got.transcript if got else '-'!r} ({got_intent})"
                    )
                if listener.awake and not any(isinstance(e, GaveUp) for e in events):
                    listener.feed(silence(0.1))  # never carry one command into the next
        return {
            "intent": right / total, "slots": slots / total, "wake": woke / total, "n": total,
            "p50": pct(latencies, 50), "p95": pct(latencies, 95), "rtf": busy_s / audio_s, "misses": misses,
        }  # fmt: skip

    def false_wakes(self, minutes: float) -> tuple[int, float, float]:
        """(false wakes, hours of speech, CPU share) over non-wake speech: commands and chatter."""
        rng = random.Random(30)
        sentences = [s for s, _ in sample_sentences(self.spec, self.library, per_template=20, seed=30)]
        sentences += [text for text, _, _ in read_dev(EVAL / "intents-dev.tsv")]
        listener = Listener(self.engine, self.matcher, wake=True)
        wakes, audio_s, cpu_s = 0, 0.0, 0.0
        while audio_s < minutes * 60:
            text = " ".join(rng.choice(sentences) for _ in range(3))
            speech = espeak_pcm(text, rng.choice(VOICES), rng.choice(RATES)) + silence(0.5)
            audio = mix(speech, None, 30, rms(speech), seed=int(audio_s))
            started = time.process_time()
            for chunk in chunks(audio):
                events = listener.feed(chunk)
                wakes += any(isinstance(e, Woke) for e in events)
            cpu_s += time.process_time() - started
            audio_s += len(audio) / 2 / RATE
            while listener.awake:  # woken by mistake: let it give up, as it would
                listener.feed(silence(0.5))
        return wakes, audio_s / 3600, cpu_s / audio_s

    def first_commands(self, learn_mean: bool) -> float:
        """Intent accuracy of each command heard first after a start (a new engine, no saved
        mean), as every `maestro listen --wav` on a new box and the daemon after a fresh install."""
        right = total = 0
        for voice in VOICES:
            for n, (text, intent, _) in enumerate(self.rows):
                (self.cache / MEAN_FILE).unlink(missing_ok=True)
                engine = PocketSphinxEngine(self.spec, self.library, self.cache, learn_mean=learn_mean)
                listener = Listener(engine, self.matcher, wake=False)
                command = silence(0.5) + espeak_pcm(text, voice, 160) + silence(1.2)
                audio = mix(command, None, CLEAN_FLOOR_DB, rms(command), seed=n)
                events = [e for chunk in chunks(audio) for e in listener.feed(chunk)] + listener.flush()
                heard = [e for e in events if isinstance(e, Heard)]
                right += bool(heard) and heard[-1].intent == intent
                total += 1
        (self.cache / MEAN_FILE).unlink(missing_ok=True)
        return right / total

    def closed_set_ceiling(self, snr: float, count: int = 40) -> float:
        """Intent accuracy when the decoder is told the answer is one of the dev sentences.

        A grammar of exactly those sentences (those with digits aside), each utterance decoded
        whole, 160 wpm, the engine's learned mean: no language model can do better with this
        acoustic model, so this bounds what any change above it can reach.
        """
        from pocketsphinx import Decoder

        intents: dict[str, str | None] = {}
        for text, intent, _ in read_dev(EVAL / "intents-dev.tsv"):
            words = re.sub(r"[^a-z ]", " ", text.lower()).split()
            if words and not re.search(r"\d", text):
                intents.setdefault(" ".join(words), intent)
        lexicon = Lexicon(self.engine.model / "cmudict-en-us.dict")
        lexicon.add_missing({w for sentence in intents for w in sentence.split()})
        sentences = sorted(s for s in intents if all(lexicon.knows(w) for w in s.split()))
        words = sorted({w for sentence in sentences for w in sentence.split()})
        (self.cache / "closed.dict").write_text("".join(f"{w} {lexicon.pronounce(w)}\n" for w in words))
        rule = " | ".join(f"( {sentence} )" for sentence in sentences)
        (self.cache / "closed.jsgf").write_text(f"#JSGF V1.0;\ngrammar dev;\npublic <s> = {rule} ;\n")
        decoder = Decoder(
            hmm=str(self.engine.model / "en-us"), jsgf=str(self.cache / "closed.jsgf"),
            dict=str(self.cache / "closed.dict"), samprate=RATE, loglevel="FATAL", topn=GAUSSIANS,
        )  # fmt: skip
        decoder.set_cmn(self.engine.decoder.get_cmn())
        right = total = 0
        for voice in VOICES:
            for n, sentence in enumerate(random.Random(3).sample(sentences, min(count, len(sentences)))):
                speech = espeak_pcm(sentence, voice, 160)
                audio = mix(silence(0.3) + speech + silence(0.4), None, snr, rms(speech), seed=n)
                decoder.start_utt()
                decoder.process_raw(audio, full_utt=True)
                decoder.end_utt()
                hyp = decoder.hyp()
                heard = " ".join(w.split("(")[0] for w in hyp.hypstr.split()) if hyp else ""
                right += heard in intents and intents[heard] == intents[sentence]
                total += 1
        return right / total

    def idle_cpu(self, seconds: float = 60) -> float:
        """CPU share of one core listening for the wake phrase in a quiet room (40 dB floor)."""
        listener = Listener(self.engine, self.matcher, wake=True)
        audio = mix(silence(seconds), None, 40, 3000.0)
        started = time.process_time()
        for chunk in chunks(audio):
            listener.feed(chunk)
        return (time.process_time() - started) / seconds


#: Runs the maestro CLI and reports its own peak RSS on stderr. VmHWM, not getrusage: Linux
#: carries ru_maxrss across exec, so a child of this (large) bench would report the bench's peak.
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


def listen_rss() -> tuple[float, float]:
    """Peak RSS (MB) of `maestro listen` hearing a search (so the open-vocabulary pass runs too):
    first run (builds the command model), second run (model cached), each its own process."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "command.wav"
        pcm = silence(0.5) + espeak_pcm("hey maestro", "en-us", 160) + silence(0.3)
        pcm += espeak_pcm("play some relaxing piano music", "en-us", 160) + silence(1.0)  # open pass too
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RATE)
            out.writeframes(mix(pcm, None, 40, 3000.0))
        cmd = [sys.executable, "-c", RSS_WRAPPER, "listen", "--wav", str(path), "--json",
               "--library", str(EVAL / "library.json")]  # fmt: skip
        env = {**os.environ, "MAESTRO_STATE_DIR": tmp}
        peaks = []
        for _ in range(2):
            result = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
            print(f"  maestro listen -> {result.stdout.strip() or result.stderr.strip()}")
            reports = [ln.split()[1] for ln in result.stderr.splitlines() if ln.startswith("PEAK_RSS_KB")]
            peaks.append(int(reports[-1]) / 1024)
    return peaks[0], peaks[1]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sentences", type=int, default=50, help="dev sentences per voice and rate")
    parser.add_argument("--false-wake-minutes", type=float, default=30)
    parser.add_argument("--misses", action="store_true", help="print every miss")
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args()

    bench = Bench(args.sentences, args.seed)
    print(f"engine pocketsphinx: load (command model built, cold) {bench.load_s:.2f} s; "
          f"{len(bench.rows)} dev sentences x voices {', '.join(VOICES)}")  # fmt: skip
    conditions = [("clean", CLEAN_FLOOR_DB, RATES)] + [(noise, snr, [160]) for noise, snr in NOISY]
    print(
        f"{'condition':<14}{'n':>5}{'intent':>8}{'slots':>8}{'wake':>8}{'p50 ms':>8}{'p95 ms':>8}{'RTF':>7}"
    )
    results = {}
    for noise, snr, rates in conditions:
        result = bench.run(VOICES, rates, noise, snr)
        name = "clean" if noise == "clean" else f"{noise} {snr:g} dB"
        results[name] = result
        print(f"{name:<14}{result['n']:>5}{result['intent']:>8.1%}{result['slots']:>8.1%}{result['wake']:>8.1%}"
              f"{result['p50']:>8.0f}{result['p95']:>8.0f}{result['rtf']:>7.3f}", flush=True)  # fmt: skip
        if args.misses:
            for miss in result["misses"]:
                print("   ", miss)
    ours = results["white 10 dB"]
    plain = bench.run(VOICES, [160], "white", 10, noise_handling=False)
    print(f"white 10 dB side by side: noise suppression + gated endpointer {ours['intent']:.1%} intent, "
          f"{ours['wake']:.1%} wake; PocketSphinx's plain VAD endpointer {plain['intent']:.1%}, "
          f"{plain['wake']:.1%} (x{ours['intent'] / max(plain['intent'], 1e-9):.1f} intents)")  # fmt: skip
    clean_bound, noisy_bound = bench.closed_set_ceiling(CLEAN_FLOOR_DB), bench.closed_set_ceiling(10)
    print(f"ceiling, decoder told the answer is one of the dev sentences (closed grammar, 160 wpm): "
          f"clean {clean_bound:.1%}, white 10 dB {noisy_bound:.1%} intent")  # fmt: skip
    learned, default = bench.first_commands(True), bench.first_commands(False)
    print(f"first command after a start (clean, 160 wpm): cepstral mean learned from it {learned:.1%} "
          f"intent; PocketSphinx's default mean {default:.1%}")  # fmt: skip
    wakes, hours, speech_cpu = bench.false_wakes(args.false_wake_minutes)
    print(f"false wakes: {wakes} in {hours * 60:.1f} min of non-wake speech = {wakes / hours:.2f} per hour "
          f"(CPU while hearing speech: {speech_cpu:.1%} of one core)")  # fmt: skip
    print(f"idle listening (quiet room): {bench.idle_cpu():.1%} of one core")
    cold, warm = listen_rss()
    print(f"peak RSS, maestro listen (PocketSphinx, open pass included): {cold:.0f} MB building the "
          f"command model, {warm:.0f} MB with it cached (every later start)")  # fmt: skip
    print(
        json.dumps({k: {m: round(v, 4) for m, v in r.items() if m != "misses"} for k, r in results.items()})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
