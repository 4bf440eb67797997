"""How people ask, carried out end to end in the sandbox: a speaker on any command, searches with
artists, years, genres and podcasts, the playlist from a song, the sleep timer, what's next,
unlike, seeking to a point, the album from the top, another service, the volume cap."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from maestro.box.runtime import Runtime
from maestro.display.devices import NullDisplay
from maestro.session import Session
from maestro.voice.tts import SilentSpeaker
from tests.conftest import KITCHEN, LIVING_ROOM
from tests.e2e.helpers import open_session, playback, say
from tests.live import LiveSandbox


def volume_of(live: LiveSandbox, device_id: str) -> int:
    return next(d for d in live.snapshot()["devices"] if d["id"] == device_id)["volume_percent"]


async def test_a_speaker_on_any_command(session: Session, live: LiveSandbox) -> None:
    await say(session, "play abbey road in the living room")
    first = playback(live)["track_name"]
    elsewhere = await say(session, "skip to the next song on the tv")  # not playing there: said, not moved
    assert not elsewhere.ok and elsewhere.speech == "Den TV isn't playing; the music is on Living Room."
    assert playback(live)["device_name"] == "Living Room" and playback(live)["track_name"] == first
    assert (await say(session, "in the living room, next song")).ok  # the one that plays: skipped
    assert playback(live)["device_name"] == "Living Room" and playback(live)["track_name"] != first
    assert (await say(session, "play abbey road on the tv")).ok  # "play ... on X" moves the music there
    assert playback(live)["device_name"] == "Den TV"
    assert (await say(session, "in the kitchen, pause")).speech == "Kitchen isn't playing."  # not a failure
    assert playback(live)["is_playing"]
    assert (await say(session, "tv pause")).ok and not playback(live)["is_playing"]
    assert (await say(session, "resume music in the living room")).ok
    assert playback(live)["device_name"] == "Living Room" and playback(live)["is_playing"]
    before = volume_of(live, KITCHEN)
    assert (await say(session, "volume up in the kitchen")).ok  # another speaker's volume, not the active one
    assert volume_of(live, KITCHEN) == min(100, before + 10)
    assert (await say(session, "set the volume to 35 in the living room")).ok
    assert volume_of(live, LIVING_ROOM) == 35
    mute = await say(session, "mute the tv")
    assert not mute.ok and "doesn't let Spotify change its volume" in mute.speech  # a fixed-volume TV
    assert (await say(session, "shuffle on in the living room")).ok and playback(live)["shuffle_state"]
    nothing = await say(session, "what's playing in the kitchen")
    assert nothing.speech == "Nothing is playing on Kitchen right now."
    assert (await say(session, "what's playing in the living room")).speech.startswith("This is ")


async def test_searches_carry_artists_years_genres_and_podcasts(session: Session, live: LiveSandbox) -> None:
    await say(session, "play some jazz")  # a genre: a playlist, not the album Jazz by Queen
    assert playback(live)["context_uri"].startswith("spotify:playlist:")
    await say(session, "play the album jazz")
    assert playback(live)["album_name"] == "Jazz"
    reply = await say(session, "stream bad guy by billie eilish")
    assert reply.ok and playback(live)["track_name"] == "Bad Guy"
    await say(session, "play music from 1969")
    assert playback(live)["album_name"] in ("Abbey Road", "Let It Be")  # the catalogue's 1969 albums
    podcast = await say(session, "play the podcast serial")
    assert not podcast.ok and podcast.speech == "I couldn't find a podcast called serial."
    other = await say(session, "play thriller on youtube")
    assert other.speech == "I can only play from Spotify."


async def test_the_playlist_from_a_song(session: Session, live: LiveSandbox) -> None:
    reply = await say(session, "play wish you were here from my rock classics playlist")
    assert reply.ok, reply.speech
    state = playback(live)
    assert (
        state["context_uri"].startswith("spotify:playlist:") and state["track_name"] == "Wish You Were Here"
    )
    missing = await say(session, "play yesterday from my rock classics playlist")
    assert not missing.ok and "isn't on the playlist Rock Classics" in missing.speech


async def test_up_next_unlike_seek_to_and_the_album_from_the_top(session: Session, live: LiveSandbox) -> None:
    await say(session, "play abbey road")
    assert (await say(session, "what's next")).speech.startswith("Next up: Something, by The Beatles")
    await say(session, "add let it be to the queue")
    assert (await say(session, "what's up next")).speech.startswith("Next up: Let It Be, by The Beatles")
    await say(session, "like this song")
    assert playback(live)["track_uri"] in live.snapshot()["saved_tracks"]
    assert (await say(session, "i don't like this song")).ok
    assert playback(live)["track_uri"] not in live.snapshot()["saved_tracks"]
    assert (await say(session, "go to 1 minute 30")).speech == "Going to 1:30."
    assert 90_000 <= playback(live)["progress_ms"] < 92_000
    assert (await say(session, "seek to the middle")).ok
    assert 125_000 <= playback(live)["progress_ms"] < 135_000  # Come Together is 4:19
    await say(session, "next song")
    await say(session, "next song")
    assert (await say(session, "play it from the beginning of the album")).ok
    assert playback(live)["track_name"] == "Come Together"


async def test_max_volume_caps_every_volume_command(live: LiveSandbox, tmp_path: Path) -> None:
    live.pair_into(tmp_path)
    async with open_session(live, tmp_path, MAESTRO_PLAYER_DEFAULT_DEVICE="Living Room",
                            MAESTRO_PLAYER_MAX_VOLUME="60") as session:  # fmt: skip
        await say(session, "play abbey road")
        reply = await say(session, "max volume")
        assert reply.speech == "Volume 60: the most this box allows (its maximum is set to 60)."
        assert volume_of(live, LIVING_ROOM) == 60
        up = await say(session, "volume up")
        assert volume_of(live, LIVING_ROOM) == 60 and "no louder" in up.speech
        httpx.put(
            f"{live.url}/v1/me/player/volume",
            params={"volume_percent": 80, "device_id": LIVING_ROOM},
            headers={"Authorization": f"Bearer {session.tokens.tokens.access_token}"},
        )  # type: ignore[union-attr]
        up = await say(session, "volume up")  # set louder from the Spotify app: "up" does not lower it
        assert volume_of(live, LIVING_ROOM) == 80 and "It's at 80 already" in up.speech
        await say(session, "volume 40")
        assert volume_of(live, LIVING_ROOM) == 40


async def test_the_sleep_timer_pauses_once_and_says_so(session: Session, live: LiveSandbox) -> None:
    await say(session, "play abbey road")
    reply = await say(session, "stop the music in 20 minutes")
    assert reply.speech == "Okay, I'll stop the music in 20 minutes."
    speaker = SilentSpeaker()
    runtime = Runtime(session, speaker, NullDisplay(), poll_s=0.05, print_line=lambda line: None)
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.run(stop))
    await asyncio.sleep(0.3)
    assert playback(live)["is_playing"]  # not yet
    session.actions.clock = lambda: time.time() + 20 * 60 + 1  # twenty minutes later
    for _ in range(40):
        await asyncio.sleep(0.05)
        if not playback(live)["is_playing"]:
            break
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.wait_for(task, 3)
    assert not playback(live)["is_playing"]
    assert speaker.history.count("Sleep timer: the music is paused. Good night.") == 1
    assert session.player.memory.sleep_at == 0.0
    assert (await say(session, "cancel the sleep timer")).speech == "There's no sleep timer."


async def test_a_sleep_timer_set_by_another_process_is_kept(live: LiveSandbox, tmp_path: Path) -> None:
    """`maestro say "sleep timer 1 minute"` while `maestro run` plays: the daemon sees it."""
    live.pair_into(tmp_path)
    async with open_session(live, tmp_path, MAESTRO_PLAYER_DEFAULT_DEVICE="Kitchen") as daemon:
        await say(daemon, "play abbey road")
        async with open_session(live, tmp_path, MAESTRO_PLAYER_DEFAULT_DEVICE="Kitchen") as other:
            await say(other, "sleep timer 1 minute")
        runtime = Runtime(daemon, SilentSpeaker(), NullDisplay(), poll_s=0.05, print_line=lambda line: None)
        left = await runtime.spotify.sleep_timer()
        assert left is not None and 55 < left <= 60
