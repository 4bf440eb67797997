"""Player benchmark: commands through `maestro say`'s code path against the sandbox.

    .venv/bin/python bench/player_bench.py [--commands 400]

Starts `maestro sandbox serve` in its own process (so the server does not share
our interpreter), pairs, then runs a mix of spoken commands through
Session.handle (matcher -> actions -> client -> HTTP). A timing transport
measures the time spent in HTTP round trips, so "added by Maestro" is each
command's total minus its own round trips. For reference, the same kind of
requests are also sent with a bare httpx client.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.live import LiveSandbox, free_port, wait_for_http  # noqa: E402

from maestro import config  # noqa: E402
from maestro.intents.spec import default_intents_path  # noqa: E402
from maestro.session import Session  # noqa: E402

COMMANDS = [
    "play abbey road",
    "set the volume to 40",
    "turn it up",
    "next song",
    "what's playing",
    "pause",
    "resume",
    "shuffle on",
    "skip ahead thirty seconds",
    "previous",
]


class TimingTransport(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.spent = 0.0
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        response = await self.inner.handle_async_request(request)
        await response.aread()
        self.spent += time.perf_counter() - started
        self.requests += 1
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


async def run(live: LiveSandbox, count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        state_dir = Path(tmp)
        live.pair_into(state_dir)
        settings = config.load({**live.env(state_dir), "MAESTRO_PLAYER_DEFAULT_DEVICE": "Living Room"})
        transport = TimingTransport()
        session = Session.open(
            settings, state_dir=state_dir, transport=transport, intents=default_intents_path()
        )
        await session.ensure_library()
        token = await session.tokens.access_token()
        totals, added, requests = [], [], 0
        failures = 0
        started_all = time.perf_counter()
        for n in range(count):
            text = COMMANDS[n % len(COMMANDS)]
            transport.spent, before = 0.0, transport.requests
            started = time.perf_counter()
            _, reply = await session.handle(text)
            total = time.perf_counter() - started
            failures += not reply.ok
            requests += transport.requests - before
            totals.append(total * 1000)
            added.append((total - transport.spent) * 1000)
        elapsed = time.perf_counter() - started_all
        await session.aclose()

        raw = []
        async with httpx.AsyncClient(
            base_url=f"{live.url}/v1", headers={"Authorization": f"Bearer {token}"}
        ) as http:
            for n in range(count):
                started = time.perf_counter()
                if n % 2:
                    await http.get("/me/player")
                else:
                    await http.put("/me/player/volume", params={"volume_percent": n % 100})
                raw.append((time.perf_counter() - started) * 1000)

    per = requests / count
    print(f"{count} commands ({len(COMMANDS)} kinds, {per:.1f} HTTP requests each), {failures} failed")
    print(f"throughput through say's code path: {count / elapsed:.0f} commands/s")
    print(f"per command total:        p50 {pct(totals, 50):.2f} ms  p95 {pct(totals, 95):.2f} ms")
    print(
        f"added by Maestro:         p50 {pct(added, 50):.2f} ms  p95 {pct(added, 95):.2f} ms",
        "(target p95 < 5)",
    )
    print(f"raw HTTP round trip:      p50 {pct(raw, 50):.2f} ms  p95 {pct(raw, 95):.2f} ms", "(bare httpx)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=400)
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "maestro", "sandbox", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/sandbox/state", process=server)
        asyncio.run(run(LiveSandbox(url, state=None), args.commands))  # type: ignore[arg-type]
    finally:
        server.terminate()
        server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
