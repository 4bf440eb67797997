"""Ducking: the music goes quiet while Maestro listens, and always comes back.

On the wake phrase the active Spotify device's volume drops to ``voice.duck_volume``
percent of what it was, so the command that follows is heard over the song; after
the reply (or a timeout, "never mind", an error, a stop) it is put back. Decisions:

- The duck runs in the background: listening never waits for the network.
- The volume to restore is written (atomically) to the state directory *before*
  the duck is sent, so a daemon killed while ducked restores it at its next start.
- The volume is put back only if it is still the ducked one: a volume the user set
  meanwhile (in the Spotify app) stands. A volume command by voice restores first,
  so "louder" is louder than the music was, not than the duck.
- A speaker that does not let Spotify change its volume is left alone, silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from maestro.errors import MaestroError, RestrictedError
from maestro.fsutil import BadFileError, atomic_write_text, read_json
from maestro.spotify.client import deadline
from maestro.spotify.player import Player

log = logging.getLogger(__name__)
DUCK_FILE = "ducked.json"


@dataclass(frozen=True)
class Duck:
    device_id: str
    volume: int  # to put back
    ducked_to: int


class Ducker:
    def __init__(self, player: Player, state_dir: Path, percent: int) -> None:
        """``percent``: of the current volume while listening (0: never duck)."""
        self.player = player
        self.path = state_dir / DUCK_FILE
        self.percent = percent
        self._ducking: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # one duck or restore at a time

    @property
    def ducked(self) -> Duck | None:
        """The duck in force (from the state file: it outlives the process), or None."""
        try:
            data = read_json(self.path)
            return Duck(str(data["device_id"]), int(data["volume"]), int(data["ducked_to"]))
        except FileNotFoundError:
            return None
        except (BadFileError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring a damaged %s: %s", self.path.name, exc)
            self.path.unlink(missing_ok=True)
            return None

    def duck(self) -> None:
        """Lowers the music, in the background (call on the wake phrase)."""
        if self.percent <= 0 or (self._ducking is not None and not self._ducking.done()):
            return
        self._ducking = asyncio.create_task(self._duck(), name="duck")

    async def _duck(self) -> None:
        async with self._lock:
            if self.ducked is not None:
                return  # still ducked from before (a restore that has not got through yet)
            try:
                with deadline():
                    state = await self.player.state()
            except MaestroError as exc:
                log.info("not ducking: %s", exc)
                return
            device = state.device if state is not None and state.is_playing else None
            if device is None or not device.id or not device.supports_volume or not device.volume_percent:
                return  # nothing playing, or a speaker with a fixed volume
            ducked_to = device.volume_percent * self.percent // 100
            if ducked_to >= device.volume_percent:
                return
            duck = Duck(device.id, device.volume_percent, ducked_to)
            try:
                atomic_write_text(self.path, json.dumps(asdict(duck)) + "\n", private=True)
            except OSError as exc:  # unable to promise the music back: do not lower it
                log.warning("not ducking: %s", exc)
                return
            try:
                with deadline():
                    await self.player.volume(ducked_to, device.id)
            except RestrictedError:  # VOLUME_CONTROL_DISALLOW: the speaker says no; fine
                self.path.unlink(missing_ok=True)
            except MaestroError as exc:  # the restore finds out whether it happened
                log.info("duck not sent: %s", exc)

    async def restore(self) -> bool:
        """Puts the music back (after the reply, a timeout, an error, at stop and start). True when
        nothing is left to restore; False when Spotify could not be reached (tried again later)."""
        if self._ducking is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._ducking  # a duck still in flight lands first, then is undone
            self._ducking = None
        async with self._lock:
            duck = self.ducked
            if duck is None:
                return True
            try:
                with deadline():
                    await self._put_back(duck)
            except RestrictedError:
                pass  # the speaker no longer allows it (or is gone): nothing more to do
            except MaestroError as exc:
                log.info("music not restored yet: %s", exc)
                return False
            self.path.unlink(missing_ok=True)
            return True

    async def _put_back(self, duck: Duck) -> None:
        state = await self.player.state()
        device = state.device if state is not None else None
        if device is None or device.id != duck.device_id:
            found = [d for d in await self.player.devices() if d.id == duck.device_id]
            device = found[0] if found else None
        if device is None or device.volume_percent != duck.ducked_to:
            return  # the speaker is gone, or someone set another volume meanwhile: theirs stands
        await self.player.volume(duck.volume, duck.device_id)
