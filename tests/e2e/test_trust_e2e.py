"""Never say what did not happen: speakers that let Maestro down, end to end against the sandbox.

Each scenario sets a speaker's failing (``POST /sandbox/devices``), says a command through the
session, and checks the reply against the sandbox's own state: no reply claims playback that is
not there, and the user is told what is true within the command's deadline.
"""

from __future__ import annotations

import dataclasses
import time

import pytest

from maestro.actions.base import UNDO_WINDOW_S
from maestro.session import Session
from maestro.spotify.client import COMMAND_DEADLINE_S
from maestro.voice.decide import UNSURE_SCORE
from tests.conftest import KITCHEN
from tests.e2e.helpers import playback, say
from tests.live import LiveSandbox
from tests.waiting import FakeClock


def timed(started: float) -> float:
    return time.monotonic() - started


async def test_a_speaker_that_takes_play_but_never_starts(session: Session, live: LiveSandbox) -> None:
    live.control("devices", {"name": "Kitchen", "ignores_plays": -1})
    started = time.monotonic()
    reply = await say(session, "play rumours in the kitchen")
    assert timed(started) < COMMAND_DEADLINE_S
    assert not reply.ok and "Playing" not in reply.speech
    assert reply.speech == "Kitchen didn't start. It may be asleep: open Spotify on it once, then ask again."
    assert reply.screen.kind == "error"
    assert not playback(live)["is_playing"]
    checked = reply.data["checked"]
    assert checked == {**checked, "as_wanted": False, "playing": False, "device": "Kitchen"}


async def test_a_drowsy_speaker_starts_on_the_second_try(session: Session, live: LiveSandbox) -> None:
    live.control("devices", {"name": "Kitchen", "ignores_plays": 1})
    reply = await say(session, "play rumours in the kitchen")
    assert reply.ok and reply.speech.startswith("Playing Rumours")
    state = playback(live)
    assert state["is_playing"] and state["device_name"] == "Kitchen" and state["album_name"] == "Rumours"
    assert reply.data["checked"]["as_wanted"] is True


async def test_playback_that_lands_on_another_speaker(session: Session, live: LiveSandbox) -> None:
    live.control("devices", {"name": "Kitchen", "lands_on": "Living Room"})
    reply = await say(session, "play rumours in the kitchen")
    assert not reply.ok
    assert reply.speech == "It's playing on Living Room instead."
    assert playback(live)["device_name"] == "Living Room"


async def test_a_restricted_speaker_is_named(session: Session, live: LiveSandbox) -> None:
    live.control("devices", {"name": "Kitchen", "restricted": True})
    reply = await say(session, "play rumours in the kitchen")
    assert not reply.ok and "Playing" not in reply.speech
    assert "Kitchen" in reply.speech and "can't be controlled" in reply.speech


async def test_resume_and_move_are_checked_too(session: Session, live: LiveSandbox) -> None:
    assert (await say(session, "play abbey road")).ok
    assert (await say(session, "pause")).ok
    live.control("devices", {"name": "Living Room", "ignores_plays": -1})
    resumed = await say(session, "resume")
    assert not resumed.ok and resumed.speech.startswith("Living Room didn't start")
    live.control("devices", {"name": "Bedroom", "ignores_plays": -1})
    moved = await say(session, "move the music to the bedroom")
    assert not moved.ok and moved.speech.startswith("Bedroom didn't start")


async def test_next_says_what_is_true(session: Session, live: LiveSandbox) -> None:
    assert (await say(session, "play abbey road")).ok
    skipped = await say(session, "next song")
    assert skipped.ok and skipped.data["checked"]["item"]["name"] == "Something"


@pytest.mark.slow
async def test_answers_later_than_the_deadline(session: Session, live: LiveSandbox) -> None:
    live.control("faults", {"status": 0, "count": 5, "latency_ms": 8000, "path": "/v1/me/player/play"})
    started = time.monotonic()
    reply = await say(session, "play rumours in the kitchen")
    assert timed(started) < COMMAND_DEADLINE_S + 1.5
    assert not reply.ok and "Playing" not in reply.speech and "isn't answering" in reply.speech


async def test_a_speaker_asleep_is_said_and_found_again_under_its_new_id(
    session: Session, live: LiveSandbox
) -> None:
    assert (await say(session, "play rumours in the kitchen")).ok  # seen, and remembered
    live.control("devices", {"name": "Kitchen", "listed": False})
    await session.library.refresh()  # the names fetched again, with the kitchen asleep
    asleep = await say(session, "play abbey road in the kitchen")
    assert not asleep.ok and asleep.speech.startswith("Kitchen isn't awake")
    back = live.control("devices", {"name": "Kitchen", "listed": True})
    assert back["id"] != KITCHEN
    played = await say(session, "play abbey road in the kitchen")  # the old id, and Kitchen found by name
    assert played.ok, played.speech
    assert playback(live)["device_name"] == "Kitchen" and playback(live)["album_name"] == "Abbey Road"
    assert session.player.memory.speakers["Kitchen"]["id"] == back["id"]


# -- what was chosen is said; "no" undoes a doubtful play ------------------------------------------


async def test_a_doubtful_play_is_read_back_and_no_puts_back_what_played(
    session: Session, live: LiveSandbox
) -> None:
    assert (await say(session, "play abbey road")).ok
    before = playback(live)
    found = await say(session, "play the song bad guy")  # no name of the user's: a search chose it
    assert found.ok and found.speech.startswith("I found Bad Guy")
    assert found.speech.endswith("say no to stop.")
    assert playback(live)["track_name"] == "Bad Guy"
    back = await say(session, "no")
    assert back.ok and back.speech == f"Okay, back to {before['track_name']}."
    state = playback(live)
    assert state["track_name"] == before["track_name"] and state["context_uri"] == before["context_uri"]
    assert state["is_playing"]
    again = await say(session, "no")  # once undone, "no" is just "no"
    assert again.speech == "Okay."


async def test_no_after_a_doubtful_play_from_silence_stops_it(session: Session, live: LiveSandbox) -> None:
    assert (await say(session, "play the song bad guy")).ok
    assert (await say(session, "wrong song")).speech == "Okay, stopped."
    assert not playback(live)["is_playing"]


async def test_no_later_than_the_window_is_only_no(session: Session, live: LiveSandbox) -> None:
    clock = FakeClock(time.time())
    session.actions.clock = clock
    assert (await say(session, "play the song bad guy")).ok
    clock.advance(UNDO_WINDOW_S + 1)
    assert (await say(session, "no")).speech == "Okay."
    assert playback(live)["track_name"] == "Bad Guy" and playback(live)["is_playing"]


async def test_a_sure_play_names_the_speaker(session: Session, live: LiveSandbox) -> None:
    reply = await say(session, "play rumours in the kitchen")
    assert reply.speech == "Playing Rumours, on Kitchen."


async def test_a_library_name_heard_unsurely_is_read_back(session: Session, live: LiveSandbox) -> None:
    """The words say a name of the user's, but the recogniser was not sure of them (a sounds-like
    reading): what was chosen is said, and "no" puts it back."""
    await session.ensure_library()
    heard = dataclasses.replace(session.matcher.match("play abbey road"), score=UNSURE_SCORE)
    reply = await session.actions.run(heard)
    assert reply.ok and reply.speech == "I found Abbey Road, by The Beatles; say no to stop."
    assert playback(live)["album_name"] == "Abbey Road"
    assert (await say(session, "no")).speech == "Okay, stopped."


async def test_a_lasting_change_heard_unsurely_is_asked_first(session: Session, live: LiveSandbox) -> None:
    assert (await say(session, "play my liked songs")).ok
    liked = list(live.snapshot()["saved_tracks"])
    unsure = dataclasses.replace(session.matcher.match("unlike this song"), score=0.8)  # as a mishearing is
    asked = await session.actions.run(unsure)
    assert asked.question and asked.speech.startswith("Did you want me to take this song out of your liked")
    assert live.snapshot()["saved_tracks"] == liked  # nothing changed yet
    done = await say(session, "yes")
    assert done.ok and done.speech.startswith("Removed")
    assert len(live.snapshot()["saved_tracks"]) == len(liked) - 1
    assert (await say(session, "yes")).speech == "There's nothing waiting for a yes."
    # "no" drops the question; a sure "unlike" acts at once.
    await session.actions.run(dataclasses.replace(session.matcher.match("unlike this song"), score=0.8))
    assert (await say(session, "no")).speech == "Okay."
    assert (await say(session, "yes")).speech == "There's nothing waiting for a yes."
    assert (await say(session, "unlike this song")).speech.startswith("Removed")


async def test_a_volume_the_speaker_did_not_take_is_said(session: Session, live: LiveSandbox) -> None:
    live.control("devices", {"name": "Kitchen", "ignores_volume": True})
    reply = await say(session, "set the volume to 30 in the kitchen")
    assert not reply.ok and reply.speech.startswith("Kitchen didn't change its volume")
    assert (await say(session, "set the volume to 30 in the bedroom")).speech == "Volume 30."


async def test_a_seek_the_speaker_did_not_take_is_said(session: Session, live: LiveSandbox) -> None:
    """A position moves on while it is read back: the check is a window, not an equality."""
    assert (await say(session, "play abbey road in the kitchen")).ok
    went = await say(session, "go to 2 minutes")
    assert went.ok and went.speech == "Going to 2:00."
    assert 120_000 <= playback(live)["progress_ms"] <= 125_000
    live.control("devices", {"name": "Kitchen", "ignores_seek": True})
    stuck = await say(session, "skip ahead 30 seconds")
    assert not stuck.ok and stuck.speech.startswith("Kitchen didn't move: it's still at 2:0")
    assert playback(live)["progress_ms"] < 140_000
