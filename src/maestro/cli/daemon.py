"""The box at work: ``maestro run`` (the daemon) and ``maestro demo``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from maestro.cli.parser import Commands


def register(commands: Commands) -> None:
    demo = commands.add(
        "demo", "sandbox + pairing + a short voice and card session, no account needed", run_demo
    )
    demo.add_argument("--mic", action="store_true", help="listen to the microphone instead of the script")
    demo.add_argument("--no-audio", action="store_true", help="write spoken replies to WAV files instead")
    demo.add_argument("--out", type=Path, metavar="DIR", help="where --no-audio writes (default: a temp dir)")
    commands.add("run", "the daemon: voice, NFC cards and the display; signs in when needed", run_daemon)


def run_daemon(args: argparse.Namespace) -> int:
    from maestro import config
    from maestro.box.lock import DaemonLock
    from maestro.box.wiring import daemon_runtime
    from maestro.fsutil import private_dir
    from maestro.session import Session

    state_dir = private_dir(config.state_dir())
    lock = DaemonLock(state_dir)
    lock.acquire()  # one daemon per state directory, for the process's whole life

    def print_line(line: str) -> None:
        print(line, flush=True)

    async def run() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        async with Session.open(state_dir=state_dir, lasting=True) as session:
            daemon = daemon_runtime(session, state_dir, print_line)
            print_line(
                f"Maestro is running: {' and '.join(daemon.inputs) or 'no inputs (maestro say still works)'}."
            )
            try:
                await daemon.runtime.run(stop)
            finally:
                await daemon.display.aclose()
                await daemon.speaker.aclose()
        print_line("Maestro stopped.")
        return 0

    try:
        code = run_abandoning_workers(run())
    finally:
        lock.release()
    exit_now_if_workers_remain(code)
    return code


def run_abandoning_workers(main: Coroutine[Any, Any, int]) -> int:
    """``asyncio.run``, without waiting for work left on worker threads (a command model being
    built, a chunk being decoded): nothing there is saved, and SIGTERM stops the daemon within two
    seconds whatever they were doing."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(main)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()  # its worker threads are told to stop, not waited for


def exit_now_if_workers_remain(code: int) -> None:
    """The interpreter would join the worker threads at exit: when one is still at work, leave
    now (what must be written was written before the loop stopped)."""
    workers = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if any(t.is_alive() for t in workers):
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def run_demo(args: argparse.Namespace) -> int:
    from maestro.demo import run_demo as demo

    return asyncio.run(demo(no_audio=args.no_audio, out_dir=args.out, mic=args.mic))
