"""The ``maestro`` command line (a contract: see docs/architecture.md).

One module per group of commands; each declares its commands' arguments right
beside their handlers, in a ``register`` function this module calls:

    understand  parse, listen            control  say, devices, status
    signin      pair, logout             daemon   run, demo
    cards       tags                     setup    config init, doctor, models, display
    servers     bridge serve, sandbox serve

Exit codes: 0 ok, 1 a failure the message explains, 2 bad usage or bad input.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from maestro import __version__
from maestro.cli import cards, control, daemon, servers, setup, signin, understand
from maestro.cli.parser import Commands, MaestroParser
from maestro.errors import MaestroError

__all__ = ["build_parser", "main"]
GROUPS = (daemon, signin, control, understand, cards, setup, servers)


def build_parser() -> argparse.ArgumentParser:
    parser = MaestroParser(prog="maestro", description="Offline voice (and NFC) remote for Spotify Connect.")
    parser.add_argument("--version", action="version", version=f"maestro {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="say more of what happens (-vv: everything)"
    )
    commands = Commands(parser)
    for group in GROUPS:
        group.register(commands)
    return parser


def setup_logging(verbosity: int) -> None:
    """Lines a person can read, on stderr (under systemd: the journal). Warnings by default."""
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(
            "maestro: %(levelname)s: %(message)s"
            if verbosity < 2
            else "%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    if verbosity < 2:  # libraries' chatter stays out unless asked for
        for noisy in ("httpx", "httpcore", "uvicorn.error", "faster_whisper"):
            logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_command(argv)
    setup_logging(args.verbose)
    from maestro import config

    for warning in config.unknown_variables(os.environ):
        print(f"maestro: warning: {warning}", file=sys.stderr)
    try:
        return args.handler(args)
    except MaestroError as exc:
        print(f"maestro: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
