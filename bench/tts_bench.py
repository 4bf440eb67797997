"""Speech out: how soon a reply is heard, and whether the pairing code is understood.

    .venv/bin/python bench/tts_bench.py [--replies 40] [--codes 200]

- first sound: from ``say`` to the first sentence ready to play, for short replies, with Piper
  (streamed sentence by sentence; target p95 <= 400 ms) and, side by side, pyttsx3/espeak-ng
  (which hands over a reply whole: the time to its whole WAV);
- the pairing code: ``--codes`` random codes of Spotify's alphabet, each spoken in the box's
  sentence by each voice at the default rate and heard back by Maestro's own recogniser
  (PocketSphinx, the code's grammar): codes right on the first hearing (target >= 99%), and the
  longest sentence in seconds (target <= 12).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.auth.test_pairing import (  # noqa: E402
    SPOTIFY_ALPHABET,
    authorization,
    code_grammar,
    heard_code,
    pcm16k,
)

from maestro.auth.pairing import pairing_speech  # noqa: E402
from maestro.voice.tts import PiperSpeaker, WavSpeaker, piper_installed  # noqa: E402

REPLIES = [
    "Paused.", "Skipping.", "Volume 40.", "Playing Abbey Road, by The Beatles.", "Shuffle on.",
    "This is Yesterday, by The Beatles, from Help!", "Okay.", "Louder.", "Going back.",
    "Playing Rumours, on Kitchen.", "I found Bad Guy, by Billie Eilish; say no to stop.",
]  # fmt: skip


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


async def first_sound(replies: int, directory: Path) -> None:
    piper = PiperSpeaker(to_dir=directory / "piper")
    espeak = WavSpeaker(directory / "espeak")
    whole: list[float] = []
    try:
        for n in range(replies):
            text = REPLIES[n % len(REPLIES)]
            await piper.say(text)
            started = time.monotonic()
            await espeak.say(text)
            whole.append(time.monotonic() - started)
    finally:
        await piper.aclose()
        await espeak.aclose()
    heard = [s * 1000 for s in piper.first_sound_s]
    print(f"first sound, {len(heard)} short replies: Piper (streamed) p50 {pct(heard, 50):.0f} ms "
          f"p95 {pct(heard, 95):.0f} ms (target <= 400); pyttsx3 whole reply p50 "
          f"{pct(whole, 50) * 1000:.0f} ms p95 {pct(whole, 95) * 1000:.0f} ms")  # fmt: skip


async def pairing_codes(codes: int, directory: Path) -> None:
    from pocketsphinx import Decoder

    grammar = directory / "code.gram"
    grammar.write_text(code_grammar(SPOTIFY_ALPHABET, 6, "spotify dot com slash pair"))
    decoder = Decoder(jsgf=str(grammar), samprate=16000, bestpath=False, beam=1e-80, pbeam=1e-80, wbeam=1e-60)
    voices = {"pyttsx3": WavSpeaker(directory / "espeak-codes"),
              "piper": PiperSpeaker(to_dir=directory / "piper-codes")}  # fmt: skip
    try:
        for name, speaker in voices.items():
            rng = random.Random(6)
            right, longest = 0, 0.0
            for _ in range(codes):
                code = "".join(rng.choice(SPOTIFY_ALPHABET) for _ in range(6))
                await speaker.say(pairing_speech(authorization(code.lower(), "https://spotify.com/pair")))
                pcm = pcm16k(speaker.files[-1])
                longest = max(longest, len(pcm) / 2 / 16000)
                decoder.start_utt()
                decoder.process_raw(pcm, full_utt=True)
                decoder.end_utt()
                right += heard_code(decoder.hyp().hypstr if decoder.hyp() else "") == code
            print(f"pairing code, {name:<8}: {right}/{codes} right on the first hearing "
                  f"({right / codes:.1%}; target >= 99%), the longest sentence {longest:.1f} s "
                  "(target <= 12)")  # fmt: skip
    finally:
        for speaker in voices.values():
            await speaker.aclose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=40)
    parser.add_argument("--codes", type=int, default=200)
    args = parser.parse_args()
    if not piper_installed():
        print("Piper is not installed (pip install '.[bench]')", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        asyncio.run(first_sound(args.replies, Path(scratch)))
        asyncio.run(pairing_codes(args.codes, Path(scratch)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
