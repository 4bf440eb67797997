"""What Maestro remembers between commands and processes (``player.json`` in the state dir):
the last speaker, the user's speakers as last seen, volume before mute, the sleep timer, a
question waiting for its answer, and what a "no" puts back. Nothing precious: a damaged file
starts afresh; written atomically, and kept in memory while the disk refuses."""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

from maestro.fsutil import BadFileError, atomic_write_text, read_json


class Device(Protocol):
    """What is remembered of a speaker Spotify lists (``player.Device`` is one)."""

    id: str
    name: str
    type: str
    supports_volume: bool


log = logging.getLogger(__name__)


@dataclass
class PlayerMemory:
    """What Maestro remembers between commands: last device, volume before mute."""

    path: Path | None = None
    last_device_id: str = ""
    muted_volume: dict[str, int] = field(default_factory=dict)
    #: A command waiting for the answer to "Which speaker?" (its words), and when it was asked.
    pending: str = ""
    pending_at: float = 0.0
    #: The sleep timer: when to pause (Unix time; 0: none) and on which speaker ("": the active one).
    sleep_at: float = 0.0
    sleep_device: str = ""
    #: The user's speakers as last seen, by name: Spotify lists only those that are awake, and a
    #: speaker often comes back under a new id. Name -> {"id", "type", "supports_volume"}.
    speakers: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: What played before a doubtful play ("I found ...; say no to stop"), to put back on "no":
    #: {"at", "context_uri", "uri", "name", "position_ms", "device_id", "was_playing"}; {}: nothing.
    undo: dict[str, Any] = field(default_factory=dict)
    #: A lasting change heard unsurely, waiting for "yes" (its words), and when it was asked.
    confirming: str = ""
    confirming_at: float = 0.0
    #: The file's modification time when last read or written: another process (`maestro say`
    #: setting a sleep timer while `maestro run` plays) is noticed by a changed time.
    _seen: float = field(default=0.0, repr=False)
    #: The last save failed (a full disk): memory is ahead of the file until a save works.
    unsaved: bool = field(default=False, repr=False)

    @classmethod
    def load(cls, path: Path) -> PlayerMemory:
        memory = cls(path)
        memory.reload()
        return memory

    def reload(self) -> None:
        """Reads the file (nothing precious in it: a damaged one starts afresh)."""
        if self.path is None:
            return
        try:
            self._seen = self.path.stat().st_mtime
            data = read_json(self.path)
            self.last_device_id = str(data.get("last_device_id", ""))
            self.muted_volume = {str(k): int(v) for k, v in dict(data.get("muted_volume", {})).items()}
            self.pending, self.pending_at = str(data.get("pending", "")), float(data.get("pending_at", 0.0))
            self.sleep_at = float(data.get("sleep_at", 0.0))
            self.sleep_device = str(data.get("sleep_device", ""))
            self.speakers = {str(name): {"id": str(seen.get("id", "")), "type": str(seen.get("type", "")),
                                         "supports_volume": bool(seen.get("supports_volume", True))}
                             for name, seen in dict(data.get("speakers", {})).items()}  # fmt: skip
            self.undo = dict(data.get("undo", {}))
            self.confirming = str(data.get("confirming", ""))
            self.confirming_at = float(data.get("confirming_at", 0.0))
        except (OSError, ValueError, AttributeError, TypeError, BadFileError):
            pass

    def forget(self) -> None:
        """Back to nothing remembered (signed out; the file is gone or going)."""
        fresh = PlayerMemory(self.path)
        for name in (f.name for f in fields(self)):
            setattr(self, name, getattr(fresh, name))

    def reload_if_changed(self) -> None:
        if self.path is None or self.unsaved:  # what is in memory is newer than the file
            return
        try:
            changed = self.path.stat().st_mtime != self._seen
        except OSError:
            return
        if changed:
            self.reload()

    def save(self) -> None:
        if self.path is None:
            return
        body = {"last_device_id": self.last_device_id, "muted_volume": self.muted_volume,
                "pending": self.pending, "pending_at": self.pending_at,
                "sleep_at": self.sleep_at, "sleep_device": self.sleep_device,
                "speakers": self.speakers, "undo": self.undo,
                "confirming": self.confirming, "confirming_at": self.confirming_at}  # fmt: skip
        try:
            atomic_write_text(self.path, json.dumps(body, indent=2) + "\n", private=True)
        except OSError as exc:  # a full disk: kept in memory, written at the next save that works
            if not self.unsaved:
                log.warning("could not save %s (%s); kept in memory", self.path, exc.strerror or exc)
            self.unsaved = True
            return
        self.unsaved = False
        with contextlib.suppress(OSError):
            self._seen = self.path.stat().st_mtime

    def remember(self, devices: list[Device]) -> None:
        """The speakers Spotify lists now, kept (saved when one is new or has a new id)."""
        seen = {d.name: {"id": d.id, "type": d.type, "supports_volume": d.supports_volume}
                for d in devices if d.name and d.id}  # fmt: skip
        if any(self.speakers.get(name) != entry for name, entry in seen.items()):
            self.speakers.update(seen)
            self.save()

    def asleep(self, devices: list[Device]) -> list[tuple[str, str]]:
        """The user's speakers Maestro has seen that Spotify does not list now: (name, last id)."""
        listed = {d.name for d in devices}
        return [(name, str(entry["id"])) for name, entry in self.speakers.items() if name not in listed]

    def ask(self, text: str, now: float) -> None:
        self.pending, self.pending_at = text, now
        self.save()

    def take_pending(self, now: float, within_s: float) -> str:
        """The command waiting for an answer (asked at most ``within_s`` ago), forgotten once taken."""
        text = self.pending if now - self.pending_at <= within_s else ""
        if self.pending:
            self.pending, self.pending_at = "", 0.0
            self.save()
        return text
