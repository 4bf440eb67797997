"""What the daemon is doing, for ``maestro status``: a small file it keeps up to date.

The daemon writes ``status.json`` in the state directory (atomically, 0600) when a
command is carried out and when trouble starts or ends; ``maestro status`` reads it
beside the lock (is a daemon running at all?) and asks Spotify itself who is signed
in and what plays.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from maestro.fsutil import BadFileError, atomic_write_text, read_json
from maestro.messages import Reply

log = logging.getLogger(__name__)
STATUS_FILE = "status.json"


@dataclass
class Event:
    """One thing that happened, as the status shows it."""

    at: float
    source: str  # "voice", "card", "sleep timer"; for trouble: "spotify", "microphone", "disk"...
    text: str  # what was heard, or the trouble's message
    intent: str | None = None
    reply: str = ""
    ok: bool = True


@dataclass
class DaemonStatus:
    pid: int
    since: float
    inputs: list[str]
    last_command: Event | None = None
    last_trouble: Event | None = None
    #: Troubles not yet over, by source.
    troubles: dict[str, str] = field(default_factory=dict)


class StatusWriter:
    """Kept by the daemon; every change is written at once (they are rare: a command, a trouble)."""

    def __init__(self, state_dir: Path, pid: int, since: float, inputs: list[str]) -> None:
        self.path = Path(state_dir) / STATUS_FILE
        self.status = DaemonStatus(pid, since, inputs)
        self._write()

    def command(self, source: str, heard: str, reply: Reply) -> None:
        self.status.last_command = Event(time.time(), source, heard, reply.intent, reply.speech, reply.ok)
        self._write()

    def trouble(self, source: str, message: str) -> None:
        self.status.troubles[source] = message
        self.status.last_trouble = Event(time.time(), source, message, ok=False)
        self._write()

    def resolved(self, source: str) -> None:
        if self.status.troubles.pop(source, None) is not None:
            self._write()

    def _write(self) -> None:
        try:
            atomic_write_text(self.path, json_text(asdict(self.status)), private=True)
        except OSError as exc:  # the status is a courtesy; a full disk is reported elsewhere
            log.info("could not write %s: %s", self.path, exc)


def json_text(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def read_status(state_dir: Path) -> dict[str, Any] | None:
    """What the daemon last wrote, or None (never ran here, or the file is unreadable)."""
    try:
        data = read_json(Path(state_dir) / STATUS_FILE)
    except (OSError, ValueError, BadFileError):
        return None
    return data if isinstance(data, dict) else None
