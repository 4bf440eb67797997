"""Every intent end to end: text -> matcher -> actions -> HTTP -> the sandbox.

State is checked through the sandbox's own /sandbox/state, not through our client.
"""

from __future__ import annotations

from pathlib import Path

from maestro.session import Session
from tests.conftest import DEN_TV, KITCHEN, LIVING_ROOM
from tests.e2e.helpers import open_session, playback, say
from tests.live import LiveSandbox


async def test_library_names_come_from_spotify(session: Session) -> None:
    names = {item.name for item in session.library.items("album")}
    assert {"Abbey Road", "Kind of Blue"} <= names
    assert {"Living Room", "Kitchen"} <= {item.name for item in session.library.items("device")}
    assert (session.state_dir / "library.json").is_file()


async def test_play_album_wakes_the_default_device(session: Session, live: LiveSandbox) -> None:
    reply = await say(session, "play abbey road")
    assert reply.ok, reply.speech
    state = playback(live)
    assert state["album_name"] == "Abbey Road" and state["is_playing"]
    assert state["device_name"] == "Living Room"
    assert reply.speech == "Playing Abbey Road."


async def test_play_track_by_artist_artist_playlist_liked(session: Session, live: LiveSandbox) -> None:
    await say(session, "play the song yesterday by the beatles")
    assert playback(live)["track_name"] == "Yesterday"
    await say(session, "play some miles davis")
    assert playback(live)["context_uri"].startswith("spotify:artist:")
    assert playback(live)["artist_name"] == "Miles Davis"
    await say(session, "play my dinner jazz playlist")
    assert playback(live)["context_uri"].startswith("spotify:playlist:")
    await say(session, "play my liked songs")
    assert playback(live)["track_uri"] == live.snapshot()["saved_tracks"][0]


async def test_names_outside_the_library_are_searched(session: Session, live: LiveSandbox) -> None:
    reply = await say(session, "play the song bad guy")  # a track nobody saved
    assert reply.ok and playback(live)["track_name"] == "Bad Guy"
    reply = await say(session, "play something by queen")
    assert playback(live)["artist_name"] == "Queen"
    reply = await say(session, "play nonexistent gibberish words")
    assert not reply.ok and reply.exit_code == 1 and "couldn't find" in reply.speech


async def test_play_on_a_named_device(session: Session, live: LiveSandbox) -> None:
    await say(session, "play rumours in the kitchen")
    assert playback(live)["device_name"] == "Kitchen" and playback(live)["album_name"] == "Rumours"


async def test_transport_controls_can_name_the_device(session: Session, live: LiveSandbox) -> None:
    await say(session, "play rumours in the kitchen")
    assert (await say(session, "turn on the den tv")).ok  # "turn on the TV": the music moves there
    assert playback(live)["device_name"] == "Den TV" and playback(live)["is_playing"]
    first = playback(live)["track_name"]
    assert (await say(session, "next on the den tv")).ok
    assert playback(live)["track_name"] != first
    assert (await say(session, "pause the den tv")).ok
    assert not playback(live)["is_playing"]


async def test_transport_controls(session: Session, live: LiveSandbox) -> None:
    await say(session, "play abbey road")
    assert (await say(session, "pause")).ok
    assert not playback(live)["is_playing"]
    again = await say(session, "pause")
    assert again.ok and "already paused" in again.speech.lower()  # redundant, not a failure
    await say(session, "resume")
    assert playback(live)["is_playing"]
    await say(session, "next song")
    assert playback(live)["track_name"] == "Something"
    await say(session, "skip ahead thirty seconds")
    assert playback(live)["progress_ms"] >= 30_000
    await say(session, "rewind ten seconds")
    assert 20_000 <= playback(live)["progress_ms"] < 25_000
    await say(session, "start this song over")
    assert playback(live)["progress_ms"] < 2_000
    await say(session, "previous")
    assert playback(live)["track_name"] == "Come Together"


async def test_volume(session: Session, live: LiveSandbox) -> None:
    def volume() -> int:
        return next(d for d in live.snapshot()["devices"] if d["id"] == LIVING_ROOM)["volume_percent"]

    await say(session, "play abbey road")
    await say(session, "set the volume to 35")
    assert volume() == 35
    await say(session, "turn it up")
    assert volume() == 45
    await say(session, "turn it down by 20")
    assert volume() == 25
    await say(session, "volume to 100")
    await say(session, "louder")
    assert volume() == 100  # clamped
    await say(session, "mute")
    assert volume() == 0
    await say(session, "unmute")
    assert volume() == 100  # remembered


async def test_out_of_range_volume_is_bad_input(session: Session) -> None:
    reply = await say(session, "set the volume to 150")
    assert not reply.ok and reply.exit_code == 2
    assert reply.speech == "The volume goes from 0 to 100."


async def test_mute_remembers_across_processes(live: LiveSandbox, session: Session, tmp_path: Path) -> None:
    await say(session, "play abbey road")
    await say(session, "volume 60")
    await say(session, "mute")
    other = open_session(live, tmp_path)
    try:
        await say(other, "unmute")
    finally:
        await other.aclose()
    assert next(d for d in live.snapshot()["devices"] if d["id"] == LIVING_ROOM)["volume_percent"] == 60


async def test_shuffle_and_repeat(session: Session, live: LiveSandbox) -> None:
    await say(session, "play kind of blue")
    await say(session, "shuffle on")
    assert playback(live)["shuffle_state"] is True
    await say(session, "stop shuffling")
    assert playback(live)["shuffle_state"] is False
    await say(session, "repeat this song")
    assert playback(live)["repeat_state"] == "track"
    await say(session, "repeat the album")
    assert playback(live)["repeat_state"] == "context"
    await say(session, "turn off repeat")
    assert playback(live)["repeat_state"] == "off"


async def test_queue(session: Session, live: LiveSandbox) -> None:
    await say(session, "play abbey road")
    reply = await say(session, "add karma police to the queue")
    assert reply.ok and "Karma Police" in reply.speech
    assert live.snapshot()["queue"] == [reply.data["uri"]]
    upcoming = await session.player.queue()
    assert upcoming[0].uri == reply.data["uri"] and upcoming[0].name == "Karma Police"


async def test_now_playing_and_like(session: Session, live: LiveSandbox) -> None:
    assert "Nothing is playing" in (await say(session, "what's playing")).speech
    await say(session, "play the song yesterday by the beatles")
    reply = await say(session, "what's this song")
    assert reply.speech == "This is Yesterday, by The Beatles, from Help!."
    await say(session, "like this song")
    assert live.snapshot()["saved_tracks"][0] == playback(live)["track_uri"]


async def test_transfer_and_list_devices(session: Session, live: LiveSandbox) -> None:
    await say(session, "play abbey road")
    reply = await say(session, "move the music to the kitchen")
    assert reply.ok and playback(live)["device_name"] == "Kitchen" and playback(live)["is_playing"]
    listed = await say(session, "which speakers are available")
    assert (
        listed.speech == "I can play on Living Room, Kitchen, Bedroom and Den TV. Kitchen is the current one."
    )
    assert listed.screen.lines[listed.screen.selected or 0] == "Kitchen"  # marked on the screen
    # A speaker that does not exist is no command (the matcher's device guard), but the reply names it.
    recognition, unknown = await session.handle("transfer playback to the garage")
    assert recognition.intent is None
    assert not unknown.ok and unknown.speech == "I can't find a speaker called garage."


async def test_volume_on_a_fixed_volume_device(session: Session, live: LiveSandbox) -> None:
    await say(session, "play abbey road")
    await session.player.transfer(DEN_TV, play=True)
    reply = await say(session, "turn it up")
    assert not reply.ok and "doesn't let Spotify change its volume" in reply.speech


async def test_help_cancel_sign_in_out_reply(session: Session) -> None:
    for text in ("help", "cancel", "sign in", "sign out"):
        reply = await say(session, text)
        assert reply.ok and reply.speech


async def test_nothing_understood(session: Session) -> None:
    recognition, reply = await session.handle("tell me a joke")
    assert recognition.intent is None
    assert not reply.ok and reply.exit_code == 2 and reply.speech == "Sorry, I didn't get that."


# -- faults ------------------------------------------------------------------------------


async def test_429_with_retry_after_is_waited_for(session: Session, live: LiveSandbox) -> None:
    live.control("faults", {"status": 429, "count": 1, "retry_after": 1, "path": "/v1/me/player/play"})
    reply = await say(session, "play abbey road")
    assert reply.ok and playback(live)["album_name"] == "Abbey Road"


async def test_long_retry_after_is_explained(session: Session, live: LiveSandbox) -> None:
    live.control("faults", {"status": 429, "count": 1, "retry_after": 120, "path": "/v1/me/player/play"})
    reply = await say(session, "play abbey road")
    assert not reply.ok and "slow down" in reply.speech and "in 2 minutes" in reply.speech


async def test_503_twice_then_success(session: Session, live: LiveSandbox) -> None:
    live.control("faults", {"status": 503, "count": 2, "path": "/v1/me/player/play"})
    reply = await say(session, "play abbey road")
    assert reply.ok and playback(live)["is_playing"]


async def test_persistent_5xx_fails_clearly_within_budget(session: Session, live: LiveSandbox) -> None:
    import time

    live.control("faults", {"status": 502, "count": 50, "path": "/v1/me/player/pause"})
    await say(session, "play abbey road")
    started = time.monotonic()
    reply = await say(session, "pause")
    assert time.monotonic() - started < 4
    assert not reply.ok and "isn't answering" in reply.speech


async def test_timeout_then_success(session: Session, live: LiveSandbox) -> None:
    # One answer slower than the client's 5 s read timeout, then normal service.
    live.control("faults", {"status": 0, "count": 1, "latency_ms": 5600, "path": "/v1/me/player/devices"})
    reply = await say(session, "which speakers are available")
    assert reply.ok and "Living Room" in reply.speech


async def test_expired_token_is_refreshed_and_rotated(session: Session, live: LiveSandbox) -> None:
    before = session.tokens.tokens
    assert before is not None
    live.control("tokens", {"expire": True})
    reply = await say(session, "which speakers are available")
    assert reply.ok
    after = session.tokens.load()  # what is on disk
    assert after is not None and after.refresh_token != before.refresh_token
    assert after.access_token != before.access_token


async def test_no_active_device_recovery_uses_last_device(live: LiveSandbox, tmp_path: Path) -> None:
    live.pair_into(tmp_path)
    async with open_session(live, tmp_path) as session:  # no default device configured
        await session.player.transfer(KITCHEN, play=False)  # the user played in the kitchen before
        await say(session, "play abbey road")
        await say(session, "pause")
        live.control("clock", {"advance_s": 3600})  # the speaker idles out
        live.pair_into(tmp_path)  # (the old token expired with the hour)
        session.tokens.load()
        assert live.snapshot()["playback"] is None
        reply = await say(session, "resume")
    assert reply.ok, reply.speech
    assert playback(live)["device_name"] == "Kitchen" and playback(live)["is_playing"]


async def test_no_device_to_wake_asks_which_and_remembers(live: LiveSandbox, tmp_path: Path) -> None:
    """A fresh box, several speakers, none active: "play abbey road" asks which one, the answer
    carries the command out there, and the next time nothing is playing that speaker is used."""
    live.pair_into(tmp_path)
    async with open_session(live, tmp_path) as session:
        await session.ensure_library()  # as `maestro say` and the daemon do: the speakers' names
        reply = await say(session, "play abbey road")
        assert not reply.ok and reply.question
        assert reply.speech == "Which speaker: Living Room, Kitchen, Bedroom or Den TV?"
        assert live.snapshot()["playback"] is None
        answer = await say(session, "the kitchen")
        assert answer.ok, answer.speech
        assert answer.speech.startswith("Okay, Kitchen;") and "Playing Abbey Road" in answer.speech
        assert playback(live)["device_name"] == "Kitchen" and playback(live)["is_playing"]
        again = await say(session, "kitchen")  # no question pending: a device alone moves the music
        assert again.ok and not again.speech.startswith("Okay")
    live.control("clock", {"advance_s": 3 * 3600})  # every speaker idles out
    async with open_session(live, tmp_path) as session:
        await say(session, "pause")
        reply = await say(session, "resume")
    assert reply.ok, reply.speech
    assert playback(live)["device_name"] == "Kitchen"


async def test_premium_required(live: LiveSandbox, tmp_path: Path) -> None:
    live.pair_into(tmp_path, user="free-user", product="free")
    async with open_session(live, tmp_path, MAESTRO_PLAYER_DEFAULT_DEVICE="Kitchen") as session:
        reply = await say(session, "play abbey road")
    assert not reply.ok and reply.speech == "Spotify only lets Premium accounts control playback."


async def test_not_paired(live: LiveSandbox, tmp_path: Path) -> None:
    async with open_session(live, tmp_path) as session:
        reply = await say(session, "skip")
    assert not reply.ok and "not connected to Spotify" in reply.speech


async def test_play_artist_reply_names_the_artist(session: Session) -> None:
    reply = await say(session, "play some miles davis")
    assert reply.speech == "Playing Miles Davis."
