"""Signing in and out: ``maestro pair`` and ``maestro logout``."""

from __future__ import annotations

import argparse
import asyncio
import sys

from maestro.cli.parser import Commands
from maestro.errors import UsageError


def register(commands: Commands) -> None:
    pair = commands.add("pair", "device-flow sign-in; speaks and shows the code", run_pair)
    pair.add_argument("--bridge", metavar="URL", help="use a Maestro bridge's endpoints (RFC 8414 metadata)")
    pair.add_argument(
        "--repeat", type=float, default=30.0, metavar="SECONDS", help="say the code again this often"
    )
    pair.add_argument("--yes", action="store_true", help="already signed in: sign in again without asking")
    logout = commands.add("logout", "forget the Spotify sign-in", run_logout)
    logout.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def run_pair(args: argparse.Namespace) -> int:
    from maestro.display.devices import command_display
    from maestro.session import Session
    from maestro.voice.tts import speaker_for

    def say_line(line: str) -> None:
        print(line, flush=True)

    async def run() -> int:
        async with Session.open() as session:
            if await session.signed_in() and not args.yes:  # a sign-in Spotify ended is none
                account = await session.account_name()
                question = f"Maestro is already signed in to Spotify{f' as {account}' if account else ''}."
                if not sys.stdin.isatty():
                    raise UsageError(f"{question} To sign in again: maestro pair --yes (or logout first).")
                answer = input(f"{question} Sign in again, replacing it? [y/N] ").strip().lower()
                if answer not in ("y", "yes"):
                    print("Kept the sign-in.")
                    return 0
            speaker = speaker_for(session.settings.tts, say_line)
            display = command_display(session.settings.display, terminal=sys.stderr.isatty())
            try:
                name = await session.pair(
                    speaker, display, bridge_url=args.bridge or "", print_line=say_line, repeat_s=args.repeat
                )
            finally:
                await display.aclose()
                await speaker.aclose()
        print(f"Paired: Maestro is connected to Spotify as {name}.")
        return 0

    return asyncio.run(run())


def run_logout(args: argparse.Namespace) -> int:
    from maestro import config
    from maestro.auth.tokens import TokenStore
    from maestro.session import forget_account

    path = config.state_dir() / "tokens.json"
    if not path.exists():
        forget_account(config.state_dir())
        print("Maestro is not signed in to Spotify.")
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError("logout needs confirmation: run it in a terminal, or add --yes")
        answer = input("Forget the Spotify sign-in on this box? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("Kept the sign-in.")
            return 0
    TokenStore(path).clear()
    forget_account(config.state_dir())
    print(
        "Signed out: the Spotify tokens, your library's names and the player memory are deleted "
        "(card mappings in tags.yaml stay). Run maestro pair to sign in again."
    )
    return 0
