"""Typed Player API operations, library reads, and the NO_ACTIVE_DEVICE recovery.

Connect devices go inactive when idle; a command then gets 404
NO_ACTIVE_DEVICE. :class:`Player` wakes the preferred device (the configured
``player.default_device``, else the last one used, else the only one), moves
playback there and retries once.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz, process

from maestro.errors import (
    NoActiveDeviceError,
    RestrictedError,
    SpotifyAnswerError,
    SpotifyRequestError,
    WhichDeviceError,
)
from maestro.intents.library import match_key
from maestro.spotify.client import SpotifyClient
from maestro.spotify.memory import PlayerMemory

log = logging.getLogger(__name__)
PAGE = 50


@dataclass(frozen=True)
class Device:
    id: str
    name: str
    type: str
    is_active: bool
    volume_percent: int | None
    supports_volume: bool

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Device:
        return cls(
            id=str(body.get("id") or ""),
            name=str(body.get("name", "")),
            type=str(body.get("type", "")),
            is_active=bool(body.get("is_active")),
            volume_percent=None if body.get("volume_percent") is None else int(body["volume_percent"]),
            supports_volume=bool(body.get("supports_volume", True)),
        )


@dataclass(frozen=True)
class Item:
    """A track, album, artist or playlist, as much as replies and plays need."""

    kind: str
    name: str
    uri: str
    artist: str = ""
    album: str = ""
    duration_ms: int = 0

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Item:
        kind = str(body.get("type", ""))
        artists = body.get("artists") or []
        artist = str(artists[0].get("name", "")) if artists else ""
        if kind == "playlist":
            artist = str((body.get("owner") or {}).get("display_name") or "")
        return cls(
            kind=kind,
            name=str(body.get("name", "")),
            uri=str(body.get("uri", "")),
            artist=artist,
            album=str((body.get("album") or {}).get("name", "")),
            duration_ms=int(body.get("duration_ms") or 0),
        )


@dataclass(frozen=True)
class PlaybackState:
    device: Device | None
    is_playing: bool
    progress_ms: int
    item: Item | None
    context_uri: str | None
    shuffle: bool
    repeat: str

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> PlaybackState:
        item = body.get("item")
        return cls(
            device=Device.from_json(body["device"]) if body.get("device") else None,
            is_playing=bool(body.get("is_playing")),
            progress_ms=int(body.get("progress_ms") or 0),
            item=Item.from_json(item) if isinstance(item, dict) else None,
            context_uri=(body.get("context") or {}).get("uri"),
            shuffle=bool(body.get("shuffle_state")),
            repeat=str(body.get("repeat_state", "off")),
        )


class Player:
    def __init__(
        self, client: SpotifyClient, *, preferred_device: str = "", memory: PlayerMemory | None = None
    ):
        self.client = client
        self.preferred_device = preferred_device
        self.memory = memory or PlayerMemory()

    # -- reads ---------------------------------------------------------------------

    async def state(self) -> PlaybackState | None:
        body = await self.client.get("me/player")
        if not body:
            return None
        with reading():
            state = PlaybackState.from_json(body)
        if state.device and state.device.id and state.device.id != self.memory.last_device_id:
            self.memory.last_device_id = state.device.id
            self.memory.save()
        return state

    async def devices(self) -> list[Device]:
        body = await self.client.get("me/player/devices") or {}
        with reading():
            devices = [Device.from_json(d) for d in objects(body.get("devices"))]
        self.memory.remember(devices)
        return devices

    async def queue(self) -> list[Item]:
        body = await self.client.get("me/player/queue") or {}
        with reading():
            return [Item.from_json(t) for t in objects(body.get("queue"))]

    async def me(self) -> dict[str, Any]:
        return await self.client.get("me") or {}

    async def search(self, query: str, kinds: tuple[str, ...], limit: int = 5) -> dict[str, list[Item]]:
        body = await self.client.get("search", q=query, type=",".join(kinds), limit=limit) or {}
        with reading():
            return {kind: [Item.from_json(i) for i in objects((body.get(kind + "s") or {}).get("items"))]
                    for kind in kinds}  # fmt: skip

    async def _all_pages(self, path: str, key: str | None = None, page: int = PAGE) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        offset = 0
        while True:
            body = await self.client.get(path, limit=page, offset=offset) or {}
            with reading():
                found = objects(body.get("items"))
                items += objects([entry.get(key) for entry in found]) if key else found
                total = int(body.get("total") or 0)
            offset += page
            if offset >= total or not found:
                return items

    async def playlists(self) -> list[Item]:
        with reading():
            return [Item.from_json(p) for p in await self._all_pages("me/playlists")]

    async def saved_albums(self) -> list[Item]:
        with reading():
            return [Item.from_json(a) for a in await self._all_pages("me/albums", "album")]

    async def saved_tracks(self) -> list[Item]:
        with reading():
            return [Item.from_json(t) for t in await self._all_pages("me/tracks", "track")]

    async def followed_artists(self) -> list[Item]:
        artists: list[Item] = []
        after = None
        while True:
            body = await self.client.get("me/following", type="artist", limit=PAGE, after=after) or {}
            with reading():
                page = body.get("artists") or {}
                found = objects(page.get("items"))
                artists += [Item.from_json(a) for a in found]
                after = (page.get("cursors") or {}).get("after")
            if not after or not found:
                return artists

    # -- commands -------------------------------------------------------------------

    async def command(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None
    ) -> Any:
        """A player command; on NO_ACTIVE_DEVICE wake the preferred device and retry once."""
        try:
            return await self.client.request(method, path, params=params, json=json)
        except NoActiveDeviceError:
            if params and params.get("device_id"):
                raise
            device = await self.wake()
            return await self.client.request(
                method, path, params={**(params or {}), "device_id": device.id}, json=json
            )

    async def wake(self) -> Device:
        """Make the preferred device the active one (paused where it was)."""
        devices = await self.devices()
        device = self.pick_device(devices)
        if device is None:
            if not devices:
                raise NoActiveDeviceError(
                    "I can't see any Spotify speakers. Open Spotify on one, or switch it on, to wake it up."
                )
            raise WhichDeviceError([d.name for d in devices])
        log.info("waking %s", device.name)
        await self.transfer(device.id, play=False)
        return device

    def pick_device(self, devices: list[Device]) -> Device | None:
        if self.preferred_device:
            found = find_device(devices, self.preferred_device)
            if found:
                return found
        for device in devices:
            if device.id and device.id == self.memory.last_device_id:
                return device
        return devices[0] if len(devices) == 1 else None

    async def transfer(self, device_id: str, play: bool | None = None) -> None:
        body: dict[str, Any] = {"device_ids": [device_id]}
        if play is not None:
            body["play"] = play
        await self.client.request("PUT", "me/player", json=body)
        self.memory.last_device_id = device_id
        self.memory.save()

    async def play(
        self,
        *,
        context_uri: str | None = None,
        uris: list[str] | None = None,
        offset: dict[str, Any] | None = None,
        position_ms: int | None = None,
        device_id: str | None = None,
    ) -> None:
        body: dict[str, Any] = {}
        if context_uri:
            body["context_uri"] = context_uri
        if uris:
            body["uris"] = uris
        if offset:
            body["offset"] = offset
        if position_ms is not None:
            body["position_ms"] = position_ms
        await self.command("PUT", "me/player/play", params={"device_id": device_id}, json=body or None)

    async def pause(self, device_id: str | None = None) -> None:
        await self.command("PUT", "me/player/pause", params=_on(device_id))

    async def next(self, device_id: str | None = None) -> None:
        await self.command("POST", "me/player/next", params=_on(device_id))

    async def previous(self, device_id: str | None = None) -> None:
        await self.command("POST", "me/player/previous", params=_on(device_id))

    async def seek(self, position_ms: int, device_id: str | None = None) -> None:
        params = {"position_ms": max(0, int(position_ms)), **(_on(device_id) or {})}
        await self.command("PUT", "me/player/seek", params=params)

    async def repeat(self, mode: str, device_id: str | None = None) -> None:
        await self.command("PUT", "me/player/repeat", params={"state": mode, **(_on(device_id) or {})})

    async def shuffle(self, on: bool, device_id: str | None = None) -> None:
        state = "true" if on else "false"
        await self.command("PUT", "me/player/shuffle", params={"state": state, **(_on(device_id) or {})})

    async def volume(self, percent: int, device_id: str | None = None) -> None:
        percent = max(0, min(100, int(percent)))
        await self.command(
            "PUT", "me/player/volume", params={"volume_percent": percent, "device_id": device_id}
        )

    async def add_to_queue(self, uri: str) -> None:
        await self.command("POST", "me/player/queue", params={"uri": uri})

    async def save_tracks(self, uris: list[str]) -> None:
        """Save to Liked Songs with ``PUT /me/library`` (URIs; the only way for development-mode apps
        since February 2026), else the older ``PUT /me/tracks`` (ids)."""
        await self._library("PUT", uris)

    async def remove_tracks(self, uris: list[str]) -> None:
        """Take songs out of Liked Songs: ``DELETE /me/library``, else ``DELETE /me/tracks``."""
        await self._library("DELETE", uris)

    async def _library(self, method: str, uris: list[str]) -> None:
        try:
            await self.client.request(method, "me/library", params={"uris": ",".join(uris)})
        except (RestrictedError, SpotifyRequestError):
            ids = [uri.rsplit(":", 1)[-1] for uri in uris]
            await self.client.request(method, "me/tracks", params={"ids": ",".join(ids)})

    async def playlist_tracks(self, playlist_uri: str) -> list[Item]:
        """A playlist's tracks (``GET /playlists/{id}/items``, the 2026 name of ``/tracks``)."""
        playlist_id = playlist_uri.rsplit(":", 1)[-1]
        entries = await self._all_pages(f"playlists/{playlist_id}/items")
        with reading():
            # each entry's ``item`` (2026), or ``track`` as before it was renamed
            return [
                Item.from_json(entry) for entry in objects([e.get("item") or e.get("track") for e in entries])
            ]


@contextlib.contextmanager
def reading() -> Iterator[None]:
    """Where Spotify's answers are taken apart: a shape Maestro cannot read (a list for an object,
    a name that is a number...) becomes SpotifyAnswerError, spoken like any other trouble."""
    try:
        yield
    except (AttributeError, KeyError, TypeError, ValueError, IndexError) as exc:
        raise SpotifyAnswerError() from exc


def objects(value: object) -> list[dict[str, Any]]:
    """The JSON objects of a list (Spotify puts null in place of unavailable items)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise SpotifyAnswerError()
    return [entry for entry in value if isinstance(entry, dict)]


def find_device(devices: list[Device], wanted: str) -> Device | None:
    """A device by id, or by a name as people say it ("the kitchen speaker")."""
    for device in devices:
        if wanted == device.id:
            return device
    keys = [match_key(d.name) for d in devices]
    spoken = match_key(wanted)
    for attempt in (spoken, spoken.removesuffix(" speaker").removesuffix(" speakers")):
        found = process.extractOne(attempt, keys, scorer=fuzz.ratio, score_cutoff=75)
        if found:
            return devices[found[2]]
    return None


def _on(device_id: str | None) -> dict[str, Any] | None:
    return {"device_id": device_id} if device_id else None
