"""The sandbox player as Spotify shows it (``/me/player``, its queue) and as the test controls do."""

from __future__ import annotations

from typing import Any

from maestro.sandbox.player import UserPlayer


def state_json(player: UserPlayer, now: float, *, with_device: bool = True) -> dict[str, Any] | None:
    """``GET /me/player`` (and, without the device, ``/currently-playing``); None: nothing playing."""
    player.settle(now)
    pb = player.playback
    if pb is None:
        return None
    context = None
    if pb.context_uri:
        _, kind, item_id = pb.context_uri.split(":", 2)
        context = {
            "type": kind,
            "href": f"https://api.spotify.com/v1/{kind}s/{item_id}",
            "external_urls": {"spotify": f"https://open.spotify.com/{kind}/{item_id}"},
            "uri": pb.context_uri,
        }
    state: dict[str, Any] = {
        "timestamp": int(pb.changed_at * 1000),
        "context": context,
        "progress_ms": pb.position_ms,
        "is_playing": pb.is_playing,
        "item": pb.track.full(),
        "currently_playing_type": "track",
        "actions": {"disallows": {"resuming": True} if pb.is_playing else {"pausing": True}},
    }
    if with_device:
        state = {
            "device": player.devices[pb.device_id].to_json(),
            "repeat_state": pb.repeat,
            "shuffle_state": pb.shuffle,
            **state,
        }
    return state


def queue_json(player: UserPlayer, now: float) -> dict[str, Any]:
    """``GET /me/player/queue``."""
    player.settle(now)
    pb = player.playback
    upcoming = list(player.queue)
    if pb is not None:
        upcoming += pb.order[pb.index + 1 :]
    return {
        "currently_playing": pb.track.full() if pb else None,
        "queue": [t.full() for t in upcoming[:20]],
    }


def snapshot(player: UserPlayer, now: float) -> dict[str, Any]:
    """The test-control view: everything, in plain names and URIs."""
    player.settle(now)
    pb = player.playback
    return {
        "devices": [d.to_json() for d in player.listed()],
        "playback": None
        if pb is None
        else {
            "device_id": pb.device_id,
            "device_name": player.devices[pb.device_id].name,
            "context_uri": pb.context_uri,
            "track_uri": pb.track.uri,
            "track_name": pb.track.name,
            "artist_name": pb.track.artist.name,
            "album_name": pb.track.album.name,
            "progress_ms": pb.position_ms,
            "is_playing": pb.is_playing,
            "shuffle_state": pb.shuffle,
            "repeat_state": pb.repeat,
        },
        "queue": [t.uri for t in player.queue],
    }
