"""One user's Connect devices and playback, moving with (sandbox) time.

Playback is stored as an anchor (position at an instant) and settled lazily:
every read or command first brings the state up to "now", advancing through the
context's tracks, the queue, repeat and shuffle, exactly as far as the elapsed
time reaches. Nothing ticks in the background.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Literal

from maestro.sandbox.catalog import Catalog, Track

RepeatState = Literal["off", "track", "context"]
#: A paused device goes inactive after this long, as real Connect devices do.
IDLE_TIMEOUT_S = 15 * 60


class PlayerCommandError(Exception):
    """A Web API error: status, message and Spotify's ``reason`` where it gives one."""

    def __init__(self, status: int, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason


def no_active_device() -> PlayerCommandError:
    return PlayerCommandError(404, "Player command failed: No active device found", "NO_ACTIVE_DEVICE")


def not_controllable() -> PlayerCommandError:
    """Spotify's answer for a device that takes no commands from the Web API."""
    return PlayerCommandError(403, "Player command failed: Restriction violated", "DEVICE_NOT_CONTROLLABLE")


@dataclass
class Device:
    id: str
    name: str
    type: str
    volume_percent: int = 40
    supports_volume: bool = True
    is_active: bool = False
    is_restricted: bool = False
    # How a real speaker lets Maestro down (``POST /sandbox/devices``):
    #: plays it accepts (204) but never starts; -1: every one ("asleep").
    ignores_plays: int = 0
    #: a device id where what is played on this one actually plays.
    lands_on: str = ""
    #: takes volume commands (204) and keeps its volume.
    ignores_volume: bool = False
    #: takes a seek (204) and plays on from where it was.
    ignores_seek: bool = False
    #: listed in ``/me/player/devices`` (Spotify lists only speakers that are awake).
    listed: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "is_active": self.is_active,
            "is_private_session": False,
            "is_restricted": self.is_restricted,
            "name": self.name,
            "type": self.type,
            "volume_percent": self.volume_percent if self.supports_volume else None,
            "supports_volume": self.supports_volume,
        }


# Ids match ../shared/eval/library.json, so the dev set's device names line up.
DEFAULT_DEVICES: list[tuple[str, str, str, bool]] = [
    ("c7b60f3edf3318e80575d5e28c1ce24aa99a9025", "Living Room", "AVR", True),
    ("018618c0e1e71a7995c1470d7258dd8963728818", "Kitchen", "Speaker", True),
    ("f69fecd63088c8027fb29bb73dad8e0fd4c62d22", "Bedroom", "Speaker", True),
    # A TV that lets Spotify play but keeps volume to its own remote.
    ("9a1f2c7e4b0d4e58b6b3f0e1d2c3a4b5c6d7e8f9", "Den TV", "TV", False),
]


@dataclass
class Playback:
    device_id: str
    context_uri: str | None
    order: list[Track]
    index: int
    position_ms: int
    anchor: float
    is_playing: bool
    shuffle: bool = False
    repeat: RepeatState = "off"
    #: When the current track began being the current one (for the `timestamp` field).
    changed_at: float = 0.0

    @property
    def track(self) -> Track:
        return self.order[self.index]


@dataclass
class UserPlayer:
    """Devices, playback and queue for one user; every method takes ``now`` (seconds)."""

    catalog: Catalog
    devices: dict[str, Device] = field(default_factory=dict)
    playback: Playback | None = None
    #: Playback of a device that idled out: a transfer wakes it where it was.
    dormant: Playback | None = None
    queue: list[Track] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(8628))

    @classmethod
    def with_default_devices(cls, catalog: Catalog) -> UserPlayer:
        devices = {
            dev_id: Device(dev_id, name, kind, supports_volume=volume)
            for dev_id, name, kind, volume in DEFAULT_DEVICES
        }
        return cls(catalog, devices)

    # -- time ---------------------------------------------------------------

    def settle(self, now: float) -> None:
        """Advance playback to ``now``: position, track changes, queue, idling out."""
        pb = self.playback
        if pb is None:
            return
        if not pb.is_playing:
            if now - pb.anchor > IDLE_TIMEOUT_S:
                self._deactivate()
            return
        position = pb.position_ms + int((now - pb.anchor) * 1000)
        instant = pb.anchor
        while position >= pb.track.duration_ms:
            position -= pb.track.duration_ms
            instant = now - position / 1000
            if not self._advance(instant, by_user=False):
                pb.is_playing = False
                position = 0
                break
        pb.position_ms, pb.anchor = position, now

    def _advance(self, now: float, *, by_user: bool) -> bool:
        """Move to the next track; False when the context ends (repeat off)."""
        pb = self.playback
        assert pb is not None
        if self.queue:
            queued = self.queue.pop(0)
            pb.order.insert(pb.index + 1, queued)
            pb.index += 1
        elif pb.repeat == "track" and not by_user:
            pass
        elif pb.index + 1 < len(pb.order):
            pb.index += 1
        elif pb.repeat != "off":
            pb.index = 0
        else:
            return False
        pb.position_ms, pb.anchor, pb.changed_at = 0, now, now
        return True

    def _deactivate(self) -> None:
        for device in self.devices.values():
            device.is_active = False
        self.dormant, self.playback = self.playback, None

    # -- commands -------------------------------------------------------------

    def device(self, device_id: str) -> Device:
        device = self.devices.get(device_id)
        if device is None or not device.listed:
            raise PlayerCommandError(404, "Device not found")
        return device

    def listed(self) -> list[Device]:
        return [d for d in self.devices.values() if d.listed]

    def unlist(self, device: Device) -> None:
        """The device goes to sleep: off Spotify's list, its playback with it."""
        device.listed = False
        if self.playback is not None and self.playback.device_id == device.id:
            self._deactivate()
        device.is_active = False

    def relist(self, device: Device, new_id: str) -> Device:
        """The device wakes up again, under a new id (as real speakers do after a restart)."""
        del self.devices[device.id]
        device.id, device.listed = new_id, True
        self.devices[new_id] = device
        if self.dormant is not None and self.dormant.device_id not in self.devices:
            self.dormant = None
        return device

    def _lands(self, device: Device) -> Device:
        """Where playback asked of ``device`` actually goes."""
        other = self.devices.get(device.lands_on) if device.lands_on else None
        return other if other is not None and other.listed else device

    @staticmethod
    def _starts(device: Device) -> bool:
        """Whether the device starts playing when told to (a sleepy one takes the command and doesn't)."""
        if device.ignores_plays == 0:
            return True
        if device.ignores_plays > 0:
            device.ignores_plays -= 1
        return False

    def _target(self, device_id: str | None) -> Device:
        """The device a command acts on: the one named, else the active one."""
        if device_id:
            return self.device(device_id)
        if self.playback is None:
            raise no_active_device()
        return self.devices[self.playback.device_id]

    def _activate(self, device: Device) -> None:
        for other in self.devices.values():
            other.is_active = other.id == device.id
        if device.is_restricted:
            raise not_controllable()

    def transfer(self, now: float, device_ids: list[str], play: bool | None) -> None:
        if len(device_ids) != 1:
            raise PlayerCommandError(400, "Only one device_id is supported")
        device = self._lands(self.device(device_ids[0]))
        self.settle(now)
        self._activate(device)
        if self.playback is None and self.dormant is not None:
            self.playback, self.dormant = self.dormant, None
            self.playback.anchor = now
        pb = self.playback
        if pb is None:
            return  # the device is active but has nothing to play yet
        pb.device_id = device.id
        if play is True and not pb.is_playing and self._starts(device):
            pb.is_playing, pb.anchor = True, now

    def play(
        self,
        now: float,
        device_id: str | None,
        context_uri: str | None = None,
        uris: list[str] | None = None,
        offset: dict[str, Any] | None = None,
        position_ms: int | None = None,
    ) -> None:
        self.settle(now)
        device = self._lands(self._target(device_id))
        if context_uri is None and uris is None:
            if self.playback is None:
                raise no_active_device()
            self._activate(device)
            self.playback.device_id = device.id
            if position_ms is not None:
                self.playback.position_ms = position_ms
            self.playback.is_playing, self.playback.anchor = self._starts(device), now
            return
        order, index = tracks_to_play(self.catalog, context_uri, uris, offset)
        self._activate(device)
        previous = self.playback
        self.playback = Playback(
            device_id=device.id,
            context_uri=context_uri,
            order=order,
            index=index,
            position_ms=position_ms or 0,
            anchor=now,
            is_playing=self._starts(device),
            shuffle=previous.shuffle if previous else False,
            repeat=previous.repeat if previous else "off",
            changed_at=now,
        )
        if self.playback.shuffle:
            self._shuffle_upcoming()

    def _active(self, now: float, device_id: str | None) -> Playback:
        self.settle(now)
        target = self.device(device_id) if device_id else None
        if target is None and self.playback is not None:
            target = self.devices[self.playback.device_id]
        if target is not None and target.is_restricted:
            raise not_controllable()
        if self.playback is None or (device_id and self.playback.device_id != device_id):
            raise no_active_device()
        return self.playback

    def pause(self, now: float, device_id: str | None) -> None:
        pb = self._active(now, device_id)
        if not pb.is_playing:
            raise PlayerCommandError(403, "Player command failed: Restriction violated", "ALREADY_PAUSED")
        pb.is_playing, pb.anchor = False, now

    def next(self, now: float, device_id: str | None) -> None:
        pb = self._active(now, device_id)
        if not self._advance(now, by_user=True):
            # Past the last track with repeat off: Spotify stops at the start of it.
            pb.position_ms, pb.anchor, pb.is_playing = 0, now, False

    def previous(self, now: float, device_id: str | None) -> None:
        pb = self._active(now, device_id)
        # Like the apps: past the first three seconds "previous" restarts the track.
        if pb.position_ms < 3000 and pb.index > 0:
            pb.index -= 1
            pb.changed_at = now
        pb.position_ms, pb.anchor = 0, now

    def seek(self, now: float, device_id: str | None, position_ms: int) -> None:
        pb = self._active(now, device_id)
        if position_ms < 0:
            raise PlayerCommandError(400, "position_ms must be non-negative")
        if position_ms >= pb.track.duration_ms:
            self.next(now, device_id)
            return
        if not self.devices[pb.device_id].ignores_seek:
            pb.position_ms, pb.anchor = position_ms, now

    def set_repeat(self, now: float, device_id: str | None, state: str) -> None:
        if state not in ("off", "track", "context"):
            raise PlayerCommandError(400, "Invalid repeat state")
        self._active(now, device_id).repeat = state  # type: ignore[assignment]

    def set_shuffle(self, now: float, device_id: str | None, state: bool) -> None:
        pb = self._active(now, device_id)
        if state and not pb.shuffle:
            pb.shuffle = True
            self._shuffle_upcoming()
        pb.shuffle = state

    def _shuffle_upcoming(self) -> None:
        pb = self.playback
        assert pb is not None
        upcoming = pb.order[pb.index + 1 :]
        self.rng.shuffle(upcoming)
        pb.order[pb.index + 1 :] = upcoming

    def set_volume(self, now: float, device_id: str | None, volume: int) -> None:
        if not 0 <= volume <= 100:
            raise PlayerCommandError(400, "Invalid volume value")
        self.settle(now)
        device = self._target(device_id)
        if not device.supports_volume:
            raise PlayerCommandError(
                403, "Player command failed: Cannot control device volume", "VOLUME_CONTROL_DISALLOW"
            )
        if not device.ignores_volume:
            device.volume_percent = volume

    def add_to_queue(self, now: float, device_id: str | None, uri: str) -> None:
        self._active(now, device_id)
        track = self.catalog.by_uri.get(uri)
        if not isinstance(track, Track):
            raise PlayerCommandError(400, "Invalid track uri: " + uri)
        self.queue.append(track)


def tracks_to_play(
    catalog: Catalog, context_uri: str | None, uris: list[str] | None, offset: dict[str, Any] | None
) -> tuple[list[Track], int]:
    """What ``PUT /me/player/play`` asks for: the tracks, and the index to start at."""
    if context_uri is not None and uris is not None:
        raise PlayerCommandError(400, "Can't have both context_uri and uris")
    if context_uri is not None:
        tracks = catalog.context_tracks(context_uri)
        if tracks is None:
            raise PlayerCommandError(400, "Invalid context uri")
    else:
        tracks = []
        for uri in uris or []:
            track = catalog.by_uri.get(uri)
            if not isinstance(track, Track):
                raise PlayerCommandError(400, "Invalid track uri: " + uri)
            tracks.append(track)
        if not tracks:
            raise PlayerCommandError(400, "No tracks to play")
    index = 0
    if offset:
        if "position" in offset:
            position = offset["position"]
            if not isinstance(position, int) or not 0 <= position < len(tracks):
                raise PlayerCommandError(400, "Invalid offset")
            index = position
        elif "uri" in offset:
            matches = [i for i, t in enumerate(tracks) if t.uri == offset["uri"]]
            if not matches:
                raise PlayerCommandError(400, "Invalid offset")
            index = matches[0]
        else:
            raise PlayerCommandError(400, "Invalid offset")
    return tracks, index
