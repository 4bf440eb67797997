"""Intent -> Player API calls -> :class:`Reply` (speech and a screen), success or failure.

One handler per intent of design.md. Names the matcher resolved in the library
are played by URI; others are looked up with Spotify search, best match by
type (and by artist when one was said). A redundant command ("pause" while
paused) is not a failure for the user. Every error becomes a spoken reason.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import string
import time
from collections.abc import Awaitable, Callable
from typing import Any

from rapidfuzz import fuzz

from maestro.errors import MaestroError, NotPairedError, RestrictedError, WhichDeviceError
from maestro.intents.library import match_key
from maestro.intents.matcher import Matcher, NameValue, Recognition
from maestro.intents.spec import IntentSpec
from maestro.messages import Reply, Screen, now_playing_screen
from maestro.spotify.client import COMMAND_DEADLINE_S, NOT_ANSWERING, deadline
from maestro.spotify.player import Device, Item, Player, find_device

log = logging.getLogger(__name__)
VOLUME_STEP = 10
LIKED_LIMIT = 50
HELP = (
    "You can say things like: play Abbey Road, play some jazz, skip, turn it up, "
    "shuffle on, or what's playing."
)
Handler = Callable[[Recognition], Awaitable[Reply]]


def say(speech: str, title: str = "", *lines: str, kind: str = "message", value: int | None = None) -> Reply:
    return Reply(speech, Screen(kind, title or speech, tuple(lines), value))


def failure(speech: str, exit_code: int = 1) -> Reply:
    return Reply(speech, Screen("error", "Sorry", (speech,)), ok=False, exit_code=exit_code)


def spoken_list(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def describe(item: Item) -> str:
    """ "Yesterday, by The Beatles, from Help!" """
    parts = [item.name]
    if item.artist:
        parts.append(f"by {item.artist}")
    if item.album and item.kind == "track":
        parts.append(f"from {item.album}")
    return ", ".join(parts)


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


#: How long "Which speaker?" waits for its answer.
QUESTION_TTL_S = 120.0


class Actions:
    def __init__(
        self, player: Player, spec: IntentSpec, matcher: Matcher | None = None, *,
        clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        self.player = player
        self.spec = spec
        #: Understands a command again once its question is answered.
        self.matcher = matcher
        self.clock = clock
        #: What to say when a command needs a sign-in that is not there ('' : the error's own words).
        #: The daemon signs in by itself and says where the code is instead of "run maestro pair".
        self.not_paired_speech = ""
        self.handlers: dict[str, Handler] = {
            name.removeprefix("do_"): getattr(self, name) for name in dir(self) if name.startswith("do_")
        }

    async def run(self, recognition: Recognition) -> Reply:
        intent = recognition.intent
        if intent is None:
            return failure("Sorry, I didn't get that.", exit_code=2)
        if recognition.problems:
            return failure(_problem_speech(recognition.problems[0]), exit_code=2)
        handler = self.handlers.get(intent)
        if handler is None:
            return failure(f"I don't know how to do {intent} yet.", exit_code=2)
        try:
            with deadline(COMMAND_DEADLINE_S):  # every request fits; a hanging Spotify is said in ~6 s
                async with asyncio.timeout(COMMAND_DEADLINE_S + 1):  # and nothing else hangs it either
                    reply = await handler(recognition)
        except TimeoutError:
            log.info("%s ran out of time", intent)
            reply = failure(NOT_ANSWERING)
        except WhichDeviceError as exc:
            # "play abbey road" on a fresh box with several speakers: ask, then carry it out there.
            self.player.memory.ask(recognition.text, self.clock())
            screen = Screen("devices", "Which speaker?", tuple(exc.names))
            reply = Reply(str(exc), screen, ok=False, exit_code=1, question=True)
        except RestrictedError as exc:
            if exc.reason in ("ALREADY_PAUSED", "NOT_PAUSED"):
                reply = say(str(exc))  # the user got what they wanted
            else:
                reply = failure(str(exc))
        except NotPairedError as exc:
            reply = failure(self.not_paired_speech or str(exc))
        except MaestroError as exc:
            log.info("%s failed: %s", intent, exc)
            reply = failure(str(exc), exit_code=exc.exit_code)
        return dataclasses.replace(reply, intent=intent)

    async def play_uri(self, uri: str) -> Reply:
        """An NFC card's Spotify URI: play it, then say what started (cards carry no names)."""
        kind = uri.split(":")[1]
        try:
            with deadline(COMMAND_DEADLINE_S):
                if kind in ("track", "episode"):
                    await self.player.play(uris=[uri])
                else:
                    await self.player.play(context_uri=uri)
                state = await self.player.state()
        except MaestroError as exc:
            log.info("card %s failed: %s", uri, exc)
            return Reply(str(exc), Screen("error", "Sorry", (str(exc),)), ok=False, exit_code=exc.exit_code,
                         intent="PlayCard")  # fmt: skip
        item = state.item if state else None
        if item is None:
            return say("Playing.", "Playing")
        if kind == "album" and item.album:
            speech = f"Playing {item.album}" + (f", by {item.artist}." if item.artist else ".")
        elif kind == "artist" and item.artist:
            speech = f"Playing {item.artist}."
        else:
            speech = f"Playing {describe(item)}."
        screen = Screen("now_playing", item.name, (item.artist, item.album))
        return Reply(speech, screen, intent="PlayCard", data={"uri": uri})

    async def toggle(self) -> Reply:
        """A second tap of the same card: pause when playing, else resume."""
        try:
            state = await self.player.state()
        except MaestroError as exc:
            return failure(str(exc))
        intent = "Pause" if state is not None and state.is_playing else "Resume"
        return await self.run(Recognition(text="", intent=intent, score=1.0))

    def phrase(self, intent: str, default: str, **values: Any) -> str:
        """The reply written in intents.yaml for this intent, filled in; else ``default``."""
        template = self.spec.intents[intent].reply if intent in self.spec.intents else ""
        if not template:
            return default
        text = string.Formatter().vformat(template, (), _Blank(values)).strip()
        return text if text and "{" not in text else default

    # -- transport ---------------------------------------------------------------

    # "pause the TV", "next on the kitchen": a transport command may name the device.

    async def do_Resume(self, r: Recognition) -> Reply:
        device_id = await self._device_for(r)
        if device_id:
            await self.player.transfer(device_id, play=True)
        else:
            await self.player.play()
        return say(self.phrase("Resume", "Resuming."))

    async def do_Pause(self, r: Recognition) -> Reply:
        await self.player.pause(await self._device_for(r))
        return say(self.phrase("Pause", "Paused."))

    async def do_Next(self, r: Recognition) -> Reply:
        await self.player.next(await self._device_for(r))
        return say(self.phrase("Next", "Skipping."))

    async def do_Previous(self, r: Recognition) -> Reply:
        await self.player.previous(await self._device_for(r))
        return say(self.phrase("Previous", "Going back."))

    async def do_Restart(self, r: Recognition) -> Reply:
        await self.player.seek(0)
        return say(self.phrase("Restart", "From the top."))

    async def _seek_by(self, delta_ms: int) -> int:
        state = await self.player.state()
        if state is None or state.item is None:
            await self.player.wake()
            state = await self.player.state()
        progress = state.progress_ms if state else 0
        duration = state.item.duration_ms if state and state.item else 0
        target = max(0, progress + delta_ms)
        if duration:
            target = min(target, max(0, duration - 1000))
        await self.player.seek(target)
        return target

    async def do_SeekForward(self, r: Recognition) -> Reply:
        seconds = int(r.slots.get("seconds", 10))
        await self._seek_by(seconds * 1000)
        return say(self.phrase("SeekForward", f"Skipping ahead {seconds} seconds.", seconds=seconds))

    async def do_SeekBackward(self, r: Recognition) -> Reply:
        seconds = int(r.slots.get("seconds", 10))
        await self._seek_by(-seconds * 1000)
        return say(self.phrase("SeekBackward", f"Going back {seconds} seconds.", seconds=seconds))

    # -- volume ---------------------------------------------------------------------

    async def _current_device(self) -> Device:
        state = await self.player.state()
        if state is None or state.device is None:
            return await self.player.wake()
        return state.device

    async def _set_volume(self, device: Device, volume: int) -> Reply:
        volume = max(0, min(100, volume))
        if not device.supports_volume:
            return failure(f"{device.name} doesn't let Spotify change its volume.")
        await self.player.volume(volume, device_id=device.id or None)
        return say(
            self.phrase("SetVolume", f"Volume {volume}.", volume=volume),
            "Volume",
            kind="volume",
            value=volume,
        )

    async def do_SetVolume(self, r: Recognition) -> Reply:
        return await self._set_volume(await self._current_device(), int(r.slots["volume"]))

    async def _nudge(self, r: Recognition, sign: int) -> Reply:
        device = await self._current_device()
        step = int(r.slots.get("amount", VOLUME_STEP))
        current = device.volume_percent if device.volume_percent is not None else 50
        return await self._set_volume(device, current + sign * step)

    async def do_VolumeUp(self, r: Recognition) -> Reply:
        return await self._nudge(r, +1)

    async def do_VolumeDown(self, r: Recognition) -> Reply:
        return await self._nudge(r, -1)

    async def do_Mute(self, r: Recognition) -> Reply:
        device = await self._current_device()
        if device.volume_percent:
            self.player.memory.muted_volume[device.id] = device.volume_percent
            self.player.memory.save()
        reply = await self._set_volume(device, 0)
        return say(self.phrase("Mute", "Muted."), "Muted", kind="volume", value=0) if reply.ok else reply

    async def do_Unmute(self, r: Recognition) -> Reply:
        device = await self._current_device()
        previous = self.player.memory.muted_volume.pop(device.id, None)
        self.player.memory.save()
        volume = previous if previous else max(device.volume_percent or 0, 30)
        reply = await self._set_volume(device, volume)
        return (
            say(self.phrase("Unmute", "Sound back on."), "Volume", kind="volume", value=volume)
            if reply.ok
            else reply
        )

    # -- modes ------------------------------------------------------------------------

    async def do_Shuffle(self, r: Recognition) -> Reply:
        state = str(r.slots.get("state", "on"))
        await self.player.shuffle(state == "on")
        return say(self.phrase("Shuffle", f"Shuffle {state}.", state=state))

    async def do_Repeat(self, r: Recognition) -> Reply:
        mode = str(r.slots.get("mode", "context"))
        await self.player.repeat(mode)
        spoken = {"track": "Repeating this song.", "context": "Repeating everything.", "off": "Repeat off."}[
            mode
        ]
        return say(spoken)

    # -- playing things ---------------------------------------------------------------

    async def _device_for(self, r: Recognition) -> str | None:
        value = r.slots.get("device")
        if isinstance(value, NameValue):
            if value.uri:
                return value.uri
            device = find_device(await self.player.devices(), value.name)
            return device.id if device else None
        return None

    async def _find(self, kind: str, value: Any, artist: Any = None) -> Item | None:
        """The item a slot names: its URI when the matcher resolved it, else the best search hit."""
        name = value.name if isinstance(value, NameValue) else str(value)
        artist_name = artist.name if isinstance(artist, NameValue) else (str(artist) if artist else "")
        if isinstance(value, NameValue) and value.uri:
            return Item(kind, value.name, value.uri, artist_name)
        query = f"{name} {artist_name}".strip()
        hits = (await self.player.search(query, (kind,), limit=10)).get(kind, [])
        if artist_name and kind in ("track", "album"):
            by_artist = [h for h in hits if fuzz.ratio(match_key(h.artist), match_key(artist_name)) >= 80]
            hits = by_artist or hits
        if not hits:
            return None
        # Best match by name; Spotify's own order breaks ties.
        return max(hits, key=lambda h: (fuzz.ratio(match_key(h.name), match_key(name)), -hits.index(h)))

    async def _play_item(self, r: Recognition, item: Item) -> None:
        device_id = await self._device_for(r)
        if item.kind == "track":
            await self.player.play(uris=[item.uri], device_id=device_id)
        else:
            await self.player.play(context_uri=item.uri, device_id=device_id)

    async def _play_named(self, r: Recognition, kind: str, slot: str, what: str) -> Reply:
        value = r.slots.get(slot)
        item = await self._find(kind, value, r.slots.get("artist") if kind in ("album", "track") else None)
        if item is None:
            spoken = value.name if isinstance(value, NameValue) else str(value)
            return failure(f"I couldn't find the {what} {spoken}.")
        await self._play_item(r, item)
        values = {
            "artist": item.artist,
            slot: item.name,
        }  # the slot's own name wins ("artist" for PlayArtist)
        default = f"Playing {describe(item)}." if kind != "playlist" else f"Playing the playlist {item.name}."
        speech = self.phrase(r.intent or "", default, **values)
        subtitle = tuple(line for line in (item.artist if kind != "artist" else kind.title(),) if line)
        return Reply(speech, Screen("now_playing", item.name, subtitle), data={"uri": item.uri})

    async def do_PlayAlbum(self, r: Recognition) -> Reply:
        return await self._play_named(r, "album", "album", "album")

    async def do_PlayPlaylist(self, r: Recognition) -> Reply:
        return await self._play_named(r, "playlist", "playlist", "playlist")

    async def do_PlayArtist(self, r: Recognition) -> Reply:
        return await self._play_named(r, "artist", "artist", "artist")

    async def do_PlayTrack(self, r: Recognition) -> Reply:
        return await self._play_named(r, "track", "track", "song")

    async def do_PlayLiked(self, r: Recognition) -> Reply:
        tracks = await self.player.saved_tracks()
        if not tracks:
            return failure("You have no liked songs yet.")
        await self.player.play(
            uris=[t.uri for t in tracks[:LIKED_LIMIT]], device_id=await self._device_for(r)
        )
        return say(self.phrase("PlayLiked", "Playing your liked songs."), "Liked Songs", kind="now_playing")

    async def _best_search_hit(self, query: str) -> Item | None:
        hits = await self.player.search(query, ("track", "album", "playlist", "artist"), limit=5)
        # A name that matches the words wins, whatever its kind; then Spotify's first track.
        scored = [
            (fuzz.ratio(match_key(item.name), match_key(query)), -rank, item)
            for kind in ("playlist", "album", "artist", "track")
            for rank, item in enumerate(hits.get(kind, []))
        ]
        best = max(scored, default=None, key=lambda s: (s[0], s[1]))
        if best and best[0] >= 80:
            return best[2]
        for kind in ("track", "playlist", "album", "artist"):
            if hits.get(kind):
                return hits[kind][0]
        return None

    async def do_PlaySearch(self, r: Recognition) -> Reply:
        query = str(r.slots.get("query", ""))
        item = await self._best_search_hit(query)
        if item is None:
            return failure(f"I couldn't find anything for {query}.")
        await self._play_item(r, item)
        return Reply(
            f"Playing {describe(item)}.",
            Screen("now_playing", item.name, (item.artist,)),
            data={"uri": item.uri},
        )

    async def do_Queue(self, r: Recognition) -> Reply:
        query = str(r.slots.get("query", ""))
        hits = (await self.player.search(query, ("track",), limit=5)).get("track", [])
        if not hits:
            return failure(f"I couldn't find the song {query}.")
        track = max(
            hits, key=lambda h: (fuzz.partial_ratio(match_key(h.name), match_key(query)), -hits.index(h))
        )
        await self.player.add_to_queue(track.uri)
        speech = f"Added {describe(track)} to the queue."
        return Reply(speech, Screen("message", "Queued", (track.name, track.artist)), data={"uri": track.uri})

    # -- about what's playing -----------------------------------------------------------

    async def do_NowPlaying(self, r: Recognition) -> Reply:
        state = await self.player.state()
        if state is None or state.item is None:
            return say("Nothing is playing right now.")
        item = state.item
        return Reply(f"This is {describe(item)}.", now_playing_screen(state), data={"uri": item.uri})

    async def do_Like(self, r: Recognition) -> Reply:
        state = await self.player.state()
        if state is None or state.item is None:
            return failure("Nothing is playing, so there's nothing to like.")
        await self.player.save_tracks([state.item.uri])
        return say(f"Saved {state.item.name} to your liked songs.", "Liked", state.item.name)

    # -- devices -------------------------------------------------------------------------

    async def do_Transfer(self, r: Recognition) -> Reply:
        value = r.slots.get("device")
        waiting = self.player.memory.take_pending(self.clock(), QUESTION_TTL_S)
        if waiting and self.matcher is not None and isinstance(value, NameValue) and value.uri:
            # The answer to "Which speaker?": wake it, remember it, then do what was asked.
            await self.player.transfer(value.uri, play=False)
            reply = await self.run(self.matcher.match(waiting))
            speech = f"Okay, {value.name}; I'll use it when nothing is playing. {reply.speech}"
            return dataclasses.replace(reply, speech=speech)
        devices = await self.player.devices()
        wanted = value.uri if isinstance(value, NameValue) and value.uri else None
        device = next((d for d in devices if d.id == wanted), None) if wanted else None
        if device is None and value is not None:
            device = find_device(devices, value.name if isinstance(value, NameValue) else str(value))
        if device is None:
            names = spoken_list([d.name for d in devices])
            spoken = value.name if isinstance(value, NameValue) else str(value or "")
            return failure(f"I can't find a speaker called {spoken}. I can play on {names}.")
        await self.player.transfer(device.id, play=True)
        return say(self.phrase("Transfer", f"Playing in the {device.name}.", device=device.name), device.name)

    async def do_ListDevices(self, r: Recognition) -> Reply:
        devices = await self.player.devices()
        if not devices:
            return say("I can't see any Spotify speakers. Open Spotify on one to wake it up.")
        names = [d.name for d in devices]
        active = next((i for i, d in enumerate(devices) if d.is_active), None)
        playing = f" {devices[active].name} is the current one." if active is not None else ""
        screen = Screen("devices", "Speakers", tuple(names), selected=active)
        return Reply(f"I can play on {spoken_list(names)}.{playing}", screen)

    # -- the rest -----------------------------------------------------------------------

    async def do_SignIn(self, r: Recognition) -> Reply:
        profile = await self.player.me()  # not signed in: NotPairedError says how
        name = str(profile.get("display_name") or profile.get("id") or "")
        return say(f"You're already signed in to Spotify{f' as {name}' if name else ''}.", "Signed in", name)

    async def do_SignOut(self, r: Recognition) -> Reply:
        return say("To disconnect Spotify, run maestro logout.", "Sign out")

    async def do_Help(self, r: Recognition) -> Reply:
        return say(self.phrase("Help", HELP), "Try saying", "play Abbey Road", "skip", "turn it up")

    async def do_Cancel(self, r: Recognition) -> Reply:
        return say(self.phrase("Cancel", "Okay."))


def _problem_speech(problem: str) -> str:
    # "volume must be between 0 and 100" -> "The volume goes from 0 to 100."
    name, _, rest = problem.partition(" must be between ")
    if rest:
        low, _, high = rest.partition(" and ")
        return f"The {name} goes from {low} to {high}."
    return problem[:1].upper() + problem[1:] + "."
