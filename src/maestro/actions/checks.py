"""Never say what did not happen: after a command that should change what plays or where, the
player's state read back, and what is true said.

Spotify answers ``PUT /me/player/play`` with 204 before any speaker has moved, and a speaker that
is asleep, or that hands playback to another, takes the command all the same. So Maestro reads
the state back (a few times, within the command's deadline) and compares it with what was asked:
playing, this album or song, on this speaker.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from maestro.spotify.client import remaining_s
from maestro.spotify.player import PlaybackState, Player

T = TypeVar("T")
#: How long Maestro watches for playback to start before it says it did not.
CHECK_S = 2.5
#: Between reads of the state.
POLL_S = 0.25
#: Time kept back from the command's deadline for what comes after a check (a retry, the reply).
RESERVE_S = 0.6
#: What may help when a speaker took a command and did not start.
ASLEEP = "It may be asleep: open Spotify on it once, then ask again."


@dataclass(frozen=True)
class Wanted:
    """What should hold after the command."""

    #: Playing (True) or paused (False); None: either ("next" leaves a paused player paused).
    playing: bool | None = True
    #: The context (album, playlist, artist) or track that should play; None: whatever was there.
    uri: str | None = None
    #: Any of these tracks (liked songs, started as a list of tracks).
    uris: tuple[str, ...] = ()
    #: The speaker it should play on; None: any.
    device_id: str | None = None
    #: A track that should no longer be the one playing (after "next", "previous").
    not_uri: str | None = None


@dataclass(frozen=True)
class Outcome:
    """The state read back, and whether it is what was wanted."""

    ok: bool
    state: PlaybackState | None
    wanted: Wanted

    def to_json(self) -> dict[str, Any]:
        state = self.state
        item = state.item if state else None
        return {
            "as_wanted": self.ok,
            "playing": bool(state and state.is_playing),
            "device": state.device.name if state and state.device else None,
            "device_id": state.device.id if state and state.device else None,
            "context": state.context_uri if state else None,
            "item": {"name": item.name, "uri": item.uri} if item else None,
        }


def holds(state: PlaybackState | None, wanted: Wanted) -> bool:
    if state is None:
        return wanted.playing is False
    if wanted.playing is not None and state.is_playing != wanted.playing:
        return False
    if wanted.device_id and (state.device is None or state.device.id != wanted.device_id):
        return False
    item_uri = state.item.uri if state.item else None
    if wanted.uri and wanted.uri not in (state.context_uri, item_uri):
        return False
    if wanted.uris and item_uri not in wanted.uris:
        return False
    return not (wanted.not_uri and item_uri == wanted.not_uri)


async def read_back(
    player: Player,
    wanted: Wanted,
    within_s: float = CHECK_S,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Outcome:
    """The player's state until it is as wanted, for up to ``within_s`` (less when the command's
    deadline is nearer): the last state read and whether it holds."""
    ok, state = await until(player.state, lambda state: holds(state, wanted), within_s, sleep, clock)
    return Outcome(ok, state, wanted)


async def until(
    read: Callable[[], Awaitable[T]],
    good: Callable[[T], bool],
    within_s: float = CHECK_S,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[bool, T]:
    """``read()`` every ``POLL_S`` until ``good`` says yes, for up to ``within_s`` and never past
    the command's deadline (less ``RESERVE_S``): whether it did, and the last value read."""
    left = remaining_s()
    end = clock() + (within_s if left is None else max(0.0, min(within_s, left - RESERVE_S)))
    while True:
        value = await read()
        if good(value):
            return True, value
        if clock() + POLL_S > end:
            return False, value
        await sleep(POLL_S)


def time_for_another_try() -> bool:
    """Whether a retry and its check still fit in the command's deadline."""
    left = remaining_s()
    return left is None or left > RESERVE_S + 2 * POLL_S + 1.0


def truth(outcome: Outcome, speaker: str, what: str) -> str:
    """What to say when the state is not what was asked: what did happen, and what may help.
    ``speaker``: the speaker's name ('' when the command named none); ``what``: what was asked
    for ("Abbey Road")."""
    state, wanted = outcome.state, outcome.wanted
    there = speaker or "The speaker"
    if state is None or state.device is None:
        return f"{there} didn't start. {ASLEEP}"
    if wanted.device_id and state.device.id != wanted.device_id:
        doing = "playing" if state.is_playing else "paused"
        return f"It's {doing} on {state.device.name} instead."
    if wanted.playing and not state.is_playing:
        return f"{state.device.name} didn't start. {ASLEEP}"
    if wanted.playing is False:
        return f"{state.device.name} is still playing."
    item = state.item.name if state.item else "something else"
    return f"Spotify is playing {item}, not {what}." if what else f"Spotify is still playing {item}."
