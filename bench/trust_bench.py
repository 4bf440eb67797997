"""Trust bench: speakers that let Maestro down, each scenario many times, against the sandbox.

    .venv/bin/python bench/trust_bench.py [--runs 20]

For each scenario (a speaker that takes play but never starts; one that starts on the second
try; playback that lands on another speaker; a restricted speaker; a speaker asleep, then back
under a new id; answers later than the command's deadline), a fresh sandbox and session, the
failure injected, a command said, and the reply judged against the sandbox's own state:

- false claims: replies that say it plays ("Playing ...", ok) when the state shows otherwise
  (target 0);
- told in time: replies given within the command's deadline (6 s; target every run);
- recovered: runs where the retry made it play as asked, where recovery is possible.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.live import LiveSandbox, running_sandbox  # noqa: E402

from maestro import config  # noqa: E402
from maestro.intents.spec import default_intents_path  # noqa: E402
from maestro.session import Session  # noqa: E402
from maestro.spotify.client import COMMAND_DEADLINE_S  # noqa: E402


@dataclass(frozen=True)
class Scenario:
    name: str
    #: What is done to the sandbox before the command.
    inject: Callable[[LiveSandbox], None]
    command: str
    #: Whether Maestro can make it play as asked.
    recoverable: bool


KITCHEN = "Kitchen"
PLAY = "play rumours in the kitchen"


def device(**change: object) -> Callable[[LiveSandbox], None]:
    return lambda live: live.control("devices", {"name": KITCHEN, **change})


def asleep_then_back(live: LiveSandbox) -> None:
    live.control("devices", {"name": KITCHEN, "listed": False})
    live.control("devices", {"name": KITCHEN, "listed": True})


def too_late(live: LiveSandbox) -> None:
    live.control("faults", {"status": 0, "count": 5, "latency_ms": 8000, "path": "/v1/me/player/play"})


SCENARIOS = [
    Scenario("never starts", device(ignores_plays=-1), PLAY, recoverable=False),
    Scenario("starts on the second try", device(ignores_plays=1), PLAY, recoverable=True),
    Scenario("lands elsewhere", device(lands_on="Living Room"), PLAY, recoverable=False),
    Scenario("restricted", device(restricted=True), PLAY, recoverable=False),
    Scenario("asleep", device(listed=False), PLAY, recoverable=False),
    Scenario("back under a new id", asleep_then_back, PLAY, recoverable=True),
    Scenario("answers too late", too_late, PLAY, recoverable=False),
]


@dataclass
class Tally:
    runs: int = 0
    false_claims: int = 0
    in_time: int = 0
    recovered: int = 0
    seconds: list[float] = field(default_factory=list)
    said: set[str] = field(default_factory=set)


def playing_as_asked(live: LiveSandbox) -> bool:
    playback = live.snapshot().get("playback") or {}
    return (
        bool(playback.get("is_playing"))
        and playback.get("device_name") == "Kitchen"
        and (playback.get("album_name") == "Rumours")
    )


async def one_run(scenario: Scenario, live: LiveSandbox, state_dir: Path, tally: Tally) -> None:
    live.pair_into(state_dir)
    settings = config.load({**live.env(state_dir), "MAESTRO_PLAYER_DEFAULT_DEVICE": "Living Room"})
    session = Session.open(settings, state_dir=state_dir, intents=default_intents_path())
    try:
        await session.ensure_library()
        await session.player.devices()  # the speakers seen once, as a box that has run a while has
        scenario.inject(live)
        started = time.monotonic()
        _, reply = await session.handle(scenario.command)
        took = time.monotonic() - started
    finally:
        await session.aclose()
    plays = playing_as_asked(live)
    tally.runs += 1
    tally.seconds.append(took)
    tally.in_time += took <= COMMAND_DEADLINE_S + 0.5  # the reply's own few ms after the deadline
    tally.false_claims += reply.ok and reply.speech.startswith("Playing") and not plays
    tally.recovered += plays
    tally.said.add(reply.speech)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    print(f"{len(SCENARIOS)} scenarios x {args.runs} runs; deadline {COMMAND_DEADLINE_S:.0f} s")
    total_false = 0
    for scenario in SCENARIOS:
        tally = Tally()
        for _ in range(args.runs):
            with running_sandbox() as live, tempfile.TemporaryDirectory() as state:
                asyncio.run(one_run(scenario, live, Path(state), tally))
        total_false += tally.false_claims
        recovered = f"{tally.recovered}/{tally.runs}" + ("" if scenario.recoverable else " (not possible)")
        p95 = statistics.quantiles(tally.seconds, n=20)[-1] if len(tally.seconds) > 1 else tally.seconds[0]
        print(f"  {scenario.name:<26} false claims {tally.false_claims}/{tally.runs}  told in time "
              f"{tally.in_time}/{tally.runs}  recovered {recovered}  reply p95 {p95:.2f} s")  # fmt: skip
        for speech in sorted(tally.said):
            print(f"      said: {speech}")
    print(f"false claims in all: {total_false} (target 0)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
