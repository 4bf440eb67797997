"""Home Assistant (MQTT) bench: the running box on a real broker (mosquitto), against the sandbox.

    .venv/bin/python bench/mqtt_bench.py [--commands 60] [--idle-s 20] [--outages 1,3,10,30]

Three parts, each against its target:

- **command -> sensor**: "play <album>" published to the text entity, until the now-playing
  sensor's attributes name that album (the command carried out, Spotify looked at, the state
  published, Home Assistant's side receiving it); every album of the library in turn; p50/p95
  [target p95 <= 300 ms];
- **idle CPU**: the box running with nothing to do (no microphone: its CPU would drown the
  difference), MQTT on and off side by side, windows alternating, process CPU time over wall
  time [target: MQTT adds < 1% of a core];
- **back after the broker**: the broker stopped for each outage and started again; the time from
  the broker listening again to the box's availability "online" there [target <= 5 s].
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiomqtt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.home.broker import MOSQUITTO, Mosquitto  # noqa: E402
from tests.live import LiveSandbox, running_sandbox  # noqa: E402

from maestro import config  # noqa: E402
from maestro.box.runtime import Runtime  # noqa: E402
from maestro.display.devices import NullDisplay  # noqa: E402
from maestro.intents.spec import default_intents_path  # noqa: E402
from maestro.session import Session  # noqa: E402
from maestro.voice.tts import SilentSpeaker  # noqa: E402

BASE = "maestro/maestro"


@asynccontextmanager
async def running_box(live: LiveSandbox, state: Path, broker: Mosquitto | None) -> AsyncIterator[Runtime]:
    env = {**live.env(state), "MAESTRO_PLAYER_DEFAULT_DEVICE": "Kitchen"}
    if broker is not None:
        env["MAESTRO_MQTT_URL"] = broker.url
    async with Session.open(config.load(env), state_dir=state, intents=default_intents_path()) as session:
        await session.ensure_library()
        box = Runtime(session, SilentSpeaker(), NullDisplay(), print_line=lambda line: None)
        stop = asyncio.Event()
        task = asyncio.create_task(box.run(stop))
        try:
            yield box
        finally:
            stop.set()
            await asyncio.wait_for(task, 5)


async def wait_online(port: int, timeout: float) -> float:
    """Seconds until the box's availability reads "online" on the broker at ``port``."""
    started = time.monotonic()
    async with asyncio.timeout(timeout):
        while True:
            try:
                async with aiomqtt.Client("127.0.0.1", port) as client:
                    await client.subscribe(f"{BASE}/availability")
                    async with asyncio.timeout(0.2):
                        async for message in client.messages:  # the retained value, if any
                            if bytes(message.payload) == b"online":  # type: ignore[arg-type]
                                return time.monotonic() - started
            except (aiomqtt.MqttError, TimeoutError):
                pass
            await asyncio.sleep(0.02)


async def round_trips(live: LiveSandbox, state: Path, broker: Mosquitto, count: int) -> list[float]:
    seconds: list[float] = []
    async with running_box(live, state, broker) as box:
        await wait_online(broker.port, 15)
        albums = [item.name for item in box.session.library.items("album")]
        async with aiomqtt.Client("127.0.0.1", broker.port) as home:
            await home.subscribe(f"{BASE}/now_playing/attributes")
            messages = aiter(home.messages)
            for n in range(count):
                album = albums[n % len(albums)]
                started = time.monotonic()
                await home.publish(f"{BASE}/command/set", f"play {album}")
                async with asyncio.timeout(10):
                    while json.loads(bytes((await anext(messages)).payload)).get("album") != album:  # type: ignore[arg-type]
                        pass
                seconds.append(time.monotonic() - started)
    return seconds


async def idle_cpu(live: LiveSandbox, state: Path, broker: Mosquitto, window_s: float) -> dict[str, float]:
    """Share of a core over ``window_s``, for MQTT off and on (each twice, alternating)."""
    shares: dict[str, list[float]] = {"off": [], "on": []}
    for mqtt in ("off", "on", "off", "on"):
        async with running_box(live, state, broker if mqtt == "on" else None):
            await asyncio.sleep(3)  # started: signed in, announced, the first look at Spotify
            cpu, wall = time.process_time(), time.monotonic()
            await asyncio.sleep(window_s)
            shares[mqtt].append((time.process_time() - cpu) / (time.monotonic() - wall))
    return {mqtt: statistics.mean(values) for mqtt, values in shares.items()}


async def outages(live: LiveSandbox, state: Path, broker: Mosquitto, pauses: list[float]) -> list[float]:
    back: list[float] = []
    async with running_box(live, state, broker):
        await wait_online(broker.port, 15)
        for pause in pauses:
            broker.stop()
            await asyncio.sleep(pause)
            broker.start()  # returns once it listens
            back.append(await wait_online(broker.port, 60))
    return back


def quantile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=60)
    parser.add_argument("--idle-s", type=float, default=20.0)
    parser.add_argument("--outages", default="1,3,10,30", help="seconds the broker is away, each in turn")
    args = parser.parse_args()
    if MOSQUITTO is None:
        print("mosquitto is not installed (./dev setup installs it)")
        return 1
    with running_sandbox() as live, tempfile.TemporaryDirectory() as directory:
        state = Path(directory)
        live.pair_into(state)
        broker = Mosquitto(state)
        broker.start()
        try:
            trips = asyncio.run(round_trips(live, state, broker, args.commands))
            p50, p95 = quantile(trips, 50) * 1000, quantile(trips, 95) * 1000
            print(f"command -> sensor: {len(trips)} commands  p50 {p50:.0f} ms  p95 {p95:.0f} ms  "
                  f"max {max(trips) * 1000:.0f} ms  (target p95 <= 300 ms)")  # fmt: skip
            cpu = asyncio.run(idle_cpu(live, state, broker, args.idle_s))
            print(f"idle CPU: MQTT off {cpu['off'] * 100:.2f}% of a core, on {cpu['on'] * 100:.2f}%  "
                  f"-> MQTT adds {(cpu['on'] - cpu['off']) * 100:+.2f}% (target < 1%)")  # fmt: skip
            pauses = [float(p) for p in args.outages.split(",")]
            back = asyncio.run(outages(live, state, broker, pauses))
            for pause, took in zip(pauses, back, strict=True):
                print(f"broker away {pause:g} s: the box online again {took:.2f} s after it (target <= 5 s)")
        finally:
            broker.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
