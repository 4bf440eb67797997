"""Bridge benchmark: 1,000 devices polling one bridge process concurrently, on loopback.

    .venv/bin/python bench/bridge_bench.py [--devices 1000] [--seconds 15]

Starts `maestro bridge serve` (one process, SQLite store), opens 1,000 device
grants, then drives POST /token polls for all of them at once with wrk (Debian
package `wrk`; 1,000 connections, one per device, each polling on a schedule so
that together they offer --rate polls per second). Prints polls per second,
p50/p99 latency, transport errors and 5xx answers (there should be none: every
answer is an RFC 8628 one, authorization_pending or slow_down), and the bridge
process's peak memory. wrk runs on the same 2-core machine, so it takes CPU
from the bridge: the figures are a floor.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.live import free_port, wait_for_http  # noqa: E402

GRANT = "urn:ietf:params:oauth:grant-type:device_code"
LUA = """
local codes = {}
for line in io.lines("%(codes)s") do codes[#codes + 1] = line end
local counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
request = function()
  counter = counter + 1
  local code = codes[(counter %% #codes) + 1]
  return wrk.format(nil, nil, nil, "grant_type=%(grant)s&client_id=bench-app&device_code=" .. code)
end
-- Each connection is one device polling on its own schedule (open loop), so the
-- offered load is devices x polls per second; devices are not in step (jitter).
delay = function()
  return %(delay_expr)s
end
local statuses = {}
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
done = function(summary, latency, requests)
  io.write(string.format("p50_us %%d\\np99_us %%d\\n", latency:percentile(50), latency:percentile(99)))
end
"""


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument(
        "--rate", type=int, default=2500, help="polls per second offered by all devices together"
    )
    parser.add_argument(
        "--lockstep", action="store_true", help="all devices poll in step (worst-case bursts)"
    )
    args = parser.parse_args()
    wrk = shutil.which("wrk")
    if wrk is None:
        print("needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "MAESTRO_BRIDGE_CLIENT_ID": "bench-app",
            "MAESTRO_STATE_DIR": tmp,
            "MAESTRO_CONFIG": str(Path(tmp) / "config.toml"),
        }
        (Path(tmp) / "config.toml").write_text("")
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "maestro",
                "bridge",
                "serve",
                "--port",
                str(port),
                "--db",
                os.environ.get("BENCH_DB", f"{tmp}/b.sqlite3"),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        try:
            wait_for_http(f"{base}/healthz", process=server)
            with httpx.Client(base_url=base) as http:
                codes = [
                    http.post("/device/authorize", data={"client_id": "bench-app"}).json()["device_code"]
                    for _ in range(args.devices)
                ]
            codes_file = Path(tmp) / "codes.txt"
            codes_file.write_text("\n".join(codes) + "\n")
            script = Path(tmp) / "poll.lua"
            delay_ms = round(1000 * args.devices / args.rate)
            expr = str(delay_ms) if args.lockstep else f"math.random({delay_ms // 2}, {delay_ms * 3 // 2})"
            script.write_text(LUA % {"codes": codes_file, "grant": GRANT, "delay_expr": expr})
            result = subprocess.run(
                [
                    wrk,
                    "-t1",
                    f"-c{args.devices}",
                    f"-d{args.seconds}s",
                    "--timeout",
                    "10s",
                    "-s",
                    str(script),
                    f"{base}/token",
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            out = result.stdout
            rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
            total = int(re.search(r"(\d+) requests in", out).group(1))
            p50 = int(re.search(r"p50_us (\d+)", out).group(1)) / 1000
            p99 = int(re.search(r"p99_us (\d+)", out).group(1)) / 1000
            socket = re.search(r"Socket errors: (.*)", out)
            non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
            rss = peak_rss_mb(server.pid)
            with httpx.Client(base_url=base) as http:
                probe = http.post(
                    "/token", data={"grant_type": GRANT, "client_id": "bench-app", "device_code": codes[0]}
                )
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(f"{args.devices} devices polling for {args.seconds} s through one bridge process (SQLite, WAL)")
    period = 1000 * args.devices / args.rate
    how = "in lockstep" if args.lockstep else "each on its own jittered schedule"
    print(f"offered {args.rate:,}/s ({args.devices} devices, one poll every {period:.0f} ms, {how})")
    print(f"polls: {total:,} at {rate:,.0f}/s  (target >= 2,000/s)")
    print(f"latency: p50 {p50:.1f} ms  p99 {p99:.1f} ms  (target p99 < 50 ms)")
    print(f"transport errors: {socket.group(1) if socket else 'none'}")
    answered = non2xx.group(1) if non2xx else 0
    print(f"answers that are RFC 8628 errors (400: pending/slow_down, as expected): {answered}")
    print(f"a sample answer: {probe.status_code} {probe.json()['error']}")
    print(f"bridge peak RSS: {rss:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
