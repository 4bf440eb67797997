"""The box at work: ``maestro run`` (the daemon) and ``maestro demo``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import threading
import time
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
    from maestro.box.runtime import Runtime
    from maestro.box.status import StatusWriter
    from maestro.box.voice_loop import default_voice
    from maestro.display.devices import make_display
    from maestro.fsutil import private_dir
    from maestro.nfc.cards import Cards
    from maestro.nfc.readers import make_reader
    from maestro.nfc.tags import TagStore
    from maestro.session import Session
    from maestro.voice.tts import make_speaker

    state_dir = private_dir(config.state_dir())
    lock = DaemonLock(state_dir)
    lock.acquire()  # one daemon per state directory, for the process's whole life

    async def run() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        async with Session.open(state_dir=state_dir, lasting=True) as session:
            settings = session.settings
            reader = make_reader(settings.nfc.reader)
            cards = Cards(
                TagStore(config.config_dir() / "tags.yaml", in_use=True),
                second_tap=settings.nfc.second_tap,
                window_s=settings.nfc.second_tap_window_s,
            )
            display = make_display(settings.display)
            tts = settings.tts
            speaker = make_speaker(tts.engine, voice=tts.voice, rate=tts.rate, wav_dir=tts.wav_dir)
            inputs = [name for name, on in (("voice", settings.voice.enabled), ("NFC cards", reader)) if on]
            print(
                f"Maestro is running: {' and '.join(inputs) or 'no inputs (maestro say still works)'}.",
                flush=True,
            )
            status = StatusWriter(state_dir, os.getpid(), time.time(), inputs)
            runtime = Runtime(
                session,
                speaker,
                display,
                voice=default_voice if settings.voice.enabled else None,
                reader=reader,
                cards=cards,
                poll_s=settings.player.poll_s,
                print_line=lambda line: print(line, flush=True),
                status=status,
            )
            try:
                await runtime.run(stop)
            finally:
                await display.aclose()
                await speaker.aclose()
        print("Maestro stopped.", flush=True)
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
