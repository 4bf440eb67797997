"""One daemon per state directory.

Two ``maestro run`` on one config (a systemd service and a manual run over SSH)
would both carry out every command and share ``tokens.json``, whose refresh
token rotates. ``maestro.pid`` in the state directory is locked (``flock``) for
the daemon's whole life and names it: a second daemon refuses, naming the
first; the lock goes with the process, even after ``kill -9``, so there is no
stale file to clean up.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from maestro.errors import MaestroError
from maestro.fsutil import read_json

PID_FILE = "maestro.pid"
TRIES = 4


@dataclass(frozen=True)
class Holder:
    """The daemon holding the lock."""

    pid: int
    since: float


class AlreadyRunningError(MaestroError):
    def __init__(self, holder: Holder | None) -> None:
        who = (
            f" (pid {holder.pid}, since {time.strftime('%H:%M', time.localtime(holder.since))})"
            if holder
            else ""
        )
        super().__init__(f"Maestro is already running{who}. Stop it first (sudo systemctl stop maestro, or "
                         "Ctrl-C where it runs); maestro status says what it is doing.")  # fmt: skip
        self.holder = holder


class DaemonLock:
    """Held from :meth:`acquire` until the process ends (or :meth:`release`)."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / PID_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        for attempt in range(TRIES):  # `maestro status` looks with a shared lock for a moment
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt == TRIES - 1:
                    os.close(fd)
                    raise AlreadyRunningError(holder(self.path.parent)) from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "since": time.time()}).encode())
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock
            self._fd = None

    def __enter__(self) -> DaemonLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def holder(state_dir: Path) -> Holder | None:
    """The daemon running on ``state_dir``, or None when none holds the lock."""
    path = Path(state_dir) / PID_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:  # held: a daemon runs; the file says which
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                data = read_json(path)
                return Holder(int(data["pid"]), float(data["since"]))
            return Holder(0, 0.0)
        return None  # we got it: nobody holds it (a stale file from a daemon that ended)
    finally:
        os.close(fd)
