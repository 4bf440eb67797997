"""Ducking benchmark: how soon the music is lowered after "hey maestro", and back after the reply.

    .venv/bin/python bench/duck_bench.py [--rounds 100] [--voices 8]

Two parts, each printed with p50/p95:

- the network: ``Ducker.duck()`` to the sandbox holding the lowered volume (one GET of the
  player, one PUT of the volume), and ``restore()`` to the volume back (GET, PUT), against
  the sandbox served on loopback;
- the listener: from the end of the wake phrase (in audio time) to the ``Woke`` event that
  starts the duck, for "hey maestro" said and then a pause (the grammar path's utterance
  must end first: 0.3 s of non-speech), natural voice where Piper is installed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.live import running_sandbox  # noqa: E402
from tests.test_matcher import catalog_library  # noqa: E402

from maestro import config  # noqa: E402
from maestro.ducking import Ducker  # noqa: E402
from maestro.intents import Matcher, load_spec  # noqa: E402
from maestro.session import Session  # noqa: E402
from maestro.voice.asr import PocketSphinxEngine  # noqa: E402
from maestro.voice.audio import RATE, chunks  # noqa: E402
from maestro.voice.events import Woke  # noqa: E402
from maestro.voice.listener import Listener  # noqa: E402
from maestro.voice.synth import VARIANTS, espeak_pcm, has_piper, mix, piper_pcm, rms, silence  # noqa: E402

LIVING_ROOM = "c7b60f3edf3318e80575d5e28c1ce24aa99a9025"
ABBEY_ROAD = "spotify:album:p20IVD9KD4N2EBDzU5oRJd"


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


async def network(rounds: int) -> tuple[list[float], list[float]]:
    ducks, restores = [], []
    with running_sandbox() as live, tempfile.TemporaryDirectory() as tmp:
        state_dir = Path(tmp)
        live.pair_into(state_dir)
        async with Session.open(config.load(live.env(state_dir)), state_dir=state_dir) as session:
            await session.player.play(
                context_uri="spotify:album:p20IVD9KD4N2EBDzU5oRJd", device_id=LIVING_ROOM
            )
            await session.player.volume(60, LIVING_ROOM)
            ducker = Ducker(session.player, state_dir, 30)
            device = live.state.user().player.devices[LIVING_ROOM]
            for _ in range(rounds):
                started = time.perf_counter()
                ducker.duck()
                while device.volume_percent != 18:
                    await asyncio.sleep(0.0005)
                ducks.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                await ducker.restore()
                assert device.volume_percent == 60
                restores.append((time.perf_counter() - started) * 1000)
    return ducks, restores


def wake_latency(voices: int) -> list[float]:
    spec, library = load_spec(), catalog_library()
    engine = PocketSphinxEngine(spec, library, Path(tempfile.mkdtemp(prefix="duck-bench-")))
    out = []
    for n in range(voices):
        wake = (
            piper_pcm("hey maestro", VARIANTS[n % len(VARIANTS)])
            if has_piper()
            else espeak_pcm("hey maestro", ("en-us", "en-gb-x-rp")[n % 2], (140, 160, 180)[n % 3])
        )
        lead = silence(1.0)
        pcm = mix(lead + wake + silence(2.0), None, 30, rms(wake), seed=n)
        end_s = (len(lead) + len(wake)) / 2 / RATE
        listener = Listener(engine, Matcher(spec, library), wake=True)
        for chunk in chunks(pcm):
            started = time.perf_counter()
            events = listener.feed(chunk)
            if any(isinstance(e, Woke) for e in events):
                woke = next(e for e in events if isinstance(e, Woke))
                out.append((woke.at_s - end_s) * 1000 + (time.perf_counter() - started) * 1000)
                break
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--voices", type=int, default=8)
    args = parser.parse_args()
    ducks, restores = asyncio.run(network(args.rounds))
    print(f"duck sent to applied (sandbox, loopback), {len(ducks)} rounds: "
          f"p50 {pct(ducks, 50):.1f} ms  p95 {pct(ducks, 95):.1f} ms")  # fmt: skip
    print(f"restore to volume back: p50 {pct(restores, 50):.1f} ms  p95 {pct(restores, 95):.1f} ms")
    woke = wake_latency(args.voices)
    voice = "natural (Piper)" if has_piper() else "espeak-ng"
    print(f"end of 'hey maestro' to Woke, {voice}, {len(woke)}/{args.voices} woke: "
          f"p50 {pct(woke, 50):.0f} ms  p95 {pct(woke, 95):.0f} ms")  # fmt: skip
    total = pct(woke, 95) + pct(ducks, 95)
    print(f"so the duck lands after the end of the wake phrase: p95 about {total:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
