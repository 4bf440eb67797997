"""Spotify from the command line: ``maestro say``, ``devices`` and ``status``."""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import asdict
from typing import Any

from maestro.cli.common import print_json
from maestro.cli.parser import Commands
from maestro.errors import MaestroError, UsageError

#: A command is a sentence; anything longer is no command (and would make an address too long).
MAX_SAY_CHARS = 500


def register(commands: Commands) -> None:
    say = commands.add("say", "parse and carry out one command as if spoken", run_say)
    say.add_argument("text", nargs="+")
    say.add_argument("--json", action="store_true", help="the parse and the reply as one JSON object")
    devices = commands.add("devices", "list Spotify Connect devices", run_devices)
    devices.add_argument("--json", action="store_true", help="a JSON list of devices")
    status = commands.add(
        "status",
        "what the daemon is doing: running, signed in as, playing, last command, trouble",
        run_status,
    )
    status.add_argument("--json", action="store_true", help="the same as one JSON object")


def run_say(args: argparse.Namespace) -> int:
    from maestro.session import Session

    text = " ".join(args.text).strip()
    if not text:
        raise UsageError('Nothing to say: maestro say TEXT, for example: maestro say "pause"')
    if len(text) > MAX_SAY_CHARS:
        raise UsageError(
            f"That is {len(text):,} characters: too long for a command (a command is a sentence, "
            f"at most {MAX_SAY_CHARS} characters)."
        )

    async def run() -> int:
        async with Session.open() as session:
            recognition, reply = await session.handle(text)
        if args.json:
            print_json({**recognition.to_json(), "reply": reply.to_json()})
        else:
            print(reply.speech)
        return reply.exit_code

    return asyncio.run(run())


def run_devices(args: argparse.Namespace) -> int:
    from maestro.session import Session

    async def run() -> int:
        async with Session.open() as session:
            devices = await session.player.devices()
        if args.json:
            print_json([asdict(device) for device in devices])
            return 0
        if not devices:
            print("No Spotify Connect devices are visible. Open Spotify on a speaker to wake it.")
        for device in devices:
            volume = f"{device.volume_percent}%" if device.supports_volume else "fixed volume"
            active = "*" if device.is_active else " "
            print(f"{active} {device.name:<20} {device.type:<10} {volume:<13} {device.id}")
        return 0

    return asyncio.run(run())


def run_status(args: argparse.Namespace) -> int:
    from maestro import config

    report = asyncio.run(gather_status(config.state_dir()))
    if args.json:
        print_json(report)
    else:
        print("\n".join(status_lines(report)))
    return 0


async def gather_status(state_dir: Any) -> dict[str, Any]:
    """The daemon (from its lock and status file) and Spotify (asked now, within a deadline)."""
    from maestro.box.lock import holder
    from maestro.box.status import read_status
    from maestro.session import Session

    running = holder(state_dir)
    written = read_status(state_dir) or {}
    report: dict[str, Any] = {
        "running": running is not None,
        "pid": running.pid if running else None,
        "since": running.since if running else None,
        "inputs": written.get("inputs", []) if running else [],
        "signed_in": False,
        "account": None,
        "why_not": None,
        "device": None,
        "playing": None,
        "last_command": written.get("last_command"),
        "trouble": written.get("troubles") or {} if running else {},
        "last_trouble": written.get("last_trouble"),
    }
    try:
        async with Session.open(state_dir=state_dir) as session:
            if session.tokens.tokens is None:
                report["why_not"] = "not paired yet: run maestro pair"
                return report
            report["signed_in"] = True
            report["account"] = await session.account_name()
            state = await session.player.state()
    except MaestroError as exc:
        report["why_not"] = report["why_not"] or str(exc)
        return report
    if state is not None and state.device is not None:
        report["device"] = {"name": state.device.name, "volume": state.device.volume_percent}
    if state is not None and state.item is not None:
        report["playing"] = {
            "title": state.item.name,
            "artist": state.item.artist,
            "album": state.item.album,
            "uri": state.item.uri,
            "is_playing": state.is_playing,
        }
    return report


def status_lines(report: dict[str, Any]) -> list[str]:
    lines = []
    if report["running"]:
        since = time.strftime("%Y-%m-%d %H:%M", time.localtime(report["since"])) if report["since"] else "?"
        inputs = " and ".join(report["inputs"]) or "no inputs"
        lines.append(f"Maestro is running (pid {report['pid']}, since {since}; {inputs}).")
    else:
        lines.append("Maestro is not running (start it: maestro run, or sudo systemctl start maestro).")
    if report["signed_in"]:
        lines.append(f"Signed in to Spotify as {report['account'] or '(the name could not be fetched)'}.")
    else:
        lines.append(f"Not signed in to Spotify: {report['why_not']}")
    playing, device = report["playing"], report["device"]
    if playing:
        state = "Playing" if playing["is_playing"] else "Paused"
        where = f" on {device['name']}" if device else ""
        lines.append(f"{state}: {playing['title']}, by {playing['artist']}{where}.")
    elif report["signed_in"] and not report["why_not"]:
        lines.append("Nothing is playing." + (f" Last speaker: {device['name']}." if device else ""))
    command = report["last_command"]
    if command:
        at = time.strftime("%H:%M", time.localtime(command["at"]))
        outcome = command["intent"] or "not understood"
        lines.append(
            f'Last command ({command["source"]}, {at}): "{command["text"]}" -> {outcome}: {command["reply"]}'
        )
    troubles = report["trouble"]
    lines.append("Trouble now: " + "; ".join(troubles.values()) if troubles else "No trouble now.")
    return lines
