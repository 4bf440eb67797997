"""What every group of actions shares: replies, the dispatcher, the speaker a command is for.

``Actions`` (``maestro.actions``) puts the groups together: ``transport``, ``volume``,
``playing`` and ``about``; each is a mixin of ``do_<Intent>`` handlers over this base.
A redundant command ("pause" while paused) is not a failure for the user; every error
becomes a spoken reason; each command gets ``COMMAND_DEADLINE_S`` in all.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import string
import time
from collections.abc import Awaitable, Callable
from typing import Any

from maestro.actions.checks import Outcome, Wanted, read_back, time_for_another_try, truth
from maestro.errors import (
    MaestroError,
    NoActiveDeviceError,
    NotPairedError,
    RestrictedError,
    WhichDeviceError,
)
from maestro.intents.library import match_key
from maestro.intents.matcher import Matcher
from maestro.intents.recognition import NameValue, Recognition
from maestro.intents.spec import IntentSpec
from maestro.messages import Reply, Screen
from maestro.spotify.client import COMMAND_DEADLINE_S, NOT_ANSWERING, deadline
from maestro.spotify.player import Device, Item, PlaybackState, Player, find_device

log = logging.getLogger(__name__)
VOLUME_STEP = 10
DEFAULT_SLEEP_MINUTES = 30
LIKED_LIMIT = 50
#: Development-mode apps may ask Spotify's search for at most 10 results (February 2026).
SEARCH_LIMIT = 10
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
#: How long after a doubtful play "no" puts back what played before.
UNDO_WINDOW_S = 20.0
#: What undoes a doubtful play said within the window: "no", "not that", "stop".
UNDO_INTENTS = frozenset({"Cancel", "Undo", "Pause"})
#: Commands that change something lasting: asked first when they were heard unsurely.
LASTING = frozenset({"Unlike"})
QUESTIONS = {"Unlike": "take this song out of your liked songs"}


class ActionsBase:
    def __init__(
        self, player: Player, spec: IntentSpec, matcher: Matcher | None = None, *,
        clock: Callable[[], float] = time.time, max_volume: int = 100, not_paired_speech: str = "",
    ) -> None:  # fmt: skip
        self.player = player
        #: No volume command goes above this (``player.max_volume``).
        self.max_volume = max_volume
        self.spec = spec
        #: Understands a command again once its question is answered.
        self.matcher = matcher
        self.clock = clock
        #: What to say when a command needs a sign-in that is not there ('' : the error's own words).
        #: The daemon signs in by itself and says where the code is instead of "run maestro pair".
        self.not_paired_speech = not_paired_speech
        self.handlers: dict[str, Handler] = {
            name.removeprefix("do_"): getattr(self, name) for name in dir(self) if name.startswith("do_")
        }

    async def run(self, recognition: Recognition) -> Reply:
        intent = recognition.intent
        if intent is None:
            return failure(recognition.problems[0] if recognition.problems else "Sorry, I didn't get that.",
                           exit_code=2)  # fmt: skip
        if recognition.problems:
            return failure(_problem_speech(recognition.problems[0]), exit_code=2)
        handler = self.handlers.get(intent)
        if handler is None:
            return failure(f"I don't know how to do {intent} yet.", exit_code=2)
        if intent in UNDO_INTENTS and "device" not in recognition.slots and self._undoable():
            handler = self.undo
        if intent in LASTING and (recognition.score < 1.0 or recognition.parser == "learned"):
            return self._ask_first(recognition)
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
            elif exc.reason == "DEVICE_NOT_CONTROLLABLE" and self._speaker(recognition):
                name = self._speaker(recognition)
                reply = failure(f"{name} can't be controlled from here: Spotify marks it restricted. "
                                "Use its own app or remote.")  # fmt: skip
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

    # -- a lasting change heard unsurely: asked first ------------------------------------------

    def _ask_first(self, recognition: Recognition) -> Reply:
        memory = self.player.memory
        memory.confirming, memory.confirming_at = recognition.text, self.clock()
        memory.save()
        what = QUESTIONS.get(recognition.intent or "", "do that")
        speech = f"Did you want me to {what}? Say yes to do it."
        return Reply(speech, Screen("message", "Are you sure?", (recognition.text,)), ok=False, exit_code=1,
                     intent=recognition.intent, question=True)  # fmt: skip

    async def do_Confirm(self, r: Recognition) -> Reply:
        memory = self.player.memory
        memory.reload_if_changed()
        text, asked_at = memory.confirming, memory.confirming_at
        memory.confirming, memory.confirming_at = "", 0.0
        memory.save()
        if not text or self.clock() - asked_at > QUESTION_TTL_S or self.matcher is None:
            return say("There's nothing waiting for a yes.")
        asked = self.matcher.match(text)
        if asked.intent is None:
            return say("There's nothing waiting for a yes.")
        sure = dataclasses.replace(asked, score=1.0, parser="templates")  # the user said yes to it
        return await self.run(sure)

    # -- "I found ...; say no to stop" ------------------------------------------------------

    def remember_for_undo(self, before: PlaybackState | None) -> None:
        """A doubtful play is about to start: what plays now, to put back on "no"."""
        item = before.item if before else None
        self.player.memory.undo = {
            "at": self.clock(), "was_playing": bool(before and before.is_playing),
            "context_uri": before.context_uri if before else None, "uri": item.uri if item else None,
            "name": item.name if item else "", "position_ms": before.progress_ms if before else 0,
            "device_id": before.device.id if before and before.device else None,
        }  # fmt: skip
        self.player.memory.save()

    def _undoable(self) -> bool:
        self.player.memory.reload_if_changed()  # `say no` after the daemon played it, or the other way
        undo = self.player.memory.undo
        return bool(undo) and self.clock() - float(undo.get("at", 0.0)) <= UNDO_WINDOW_S

    async def undo(self, r: Recognition) -> Reply:
        """Put back what played before the doubtful play (or stop, if nothing did)."""
        undo, self.player.memory.undo = self.player.memory.undo, {}
        self.player.memory.save()
        if not undo.get("was_playing") or not undo.get("uri"):
            with contextlib.suppress(RestrictedError):  # already paused
                await self.player.pause()
            return say("Okay, stopped.", "Stopped")
        device_id = undo.get("device_id")
        position = int(undo.get("position_ms") or 0)
        if undo.get("context_uri"):
            await self.player.play(context_uri=undo["context_uri"], offset={"uri": undo["uri"]},
                                   position_ms=position, device_id=device_id)  # fmt: skip
        else:
            await self.player.play(uris=[undo["uri"]], position_ms=position, device_id=device_id)
        name = str(undo.get("name") or "")
        return say(f"Okay, back to {name or 'what was playing'}.", "Back to", name)

    async def checked(self, start: Callable[[], Awaitable[None]], wanted: Wanted) -> Outcome:
        """``start`` (a play, a resume, a move), then the player's state read back; when it is not
        what was asked, once more with the speaker woken first (a transfer to it), if the
        command's deadline leaves time."""
        await start()
        outcome = await read_back(self.player, wanted)
        if outcome.ok or not time_for_another_try():
            return outcome
        log.info("playback not as asked; waking the speaker and trying once more")
        if wanted.device_id:
            await self.player.transfer(wanted.device_id, play=False)
        else:
            await self.player.wake()
        await start()
        return await read_back(self.player, wanted)

    @staticmethod
    def told(outcome: Outcome, reply: Reply, speaker: str, what: str = "") -> Reply:
        """``reply`` when the state read back is what was asked (the state in its data, for
        ``say --json``); else what is true instead. ``speaker``, ``what``: as the command said
        them ("Kitchen", "Abbey Road")."""
        if not outcome.ok:
            reply = failure(truth(outcome, speaker, what))
        return dataclasses.replace(reply, data={**reply.data, "checked": outcome.to_json()})

    def phrase(self, intent: str, default: str, **values: Any) -> str:
        """The reply written in intents.yaml for this intent, filled in; else ``default``."""
        template = self.spec.intents[intent].reply if intent in self.spec.intents else ""
        if not template:
            return default
        text = string.Formatter().vformat(template, (), _Blank(values)).strip()
        return text if text and "{" not in text else default

    # -- the speaker a command is for ------------------------------------------------------
    # "pause the TV", "volume up in the kitchen": any transport, volume or mode command may name
    # a speaker; Spotify's device_id parameter aims it there.

    @staticmethod
    def _speaker(r: Recognition) -> str:
        """The name of the speaker the command names ('' when it names none)."""
        value = r.slots.get("device")
        return value.name if isinstance(value, NameValue) else ""

    async def _device_for(self, r: Recognition) -> str | None:
        found = await self._named_and_playing(r)
        return found[0].id if found else None

    async def _named_device(self, r: Recognition) -> Device | None:
        """The speaker the command names (with its volume and whether it is playing), if any."""
        found = await self._named_and_playing(r)
        return found[0] if found else None

    async def _named_and_playing(self, r: Recognition) -> tuple[Device, Device | None] | None:
        """The speaker the command names as Spotify lists it now, and the one playing (None: none
        is), if it names one. A speaker back under a new id is found by its name; one Spotify
        does not list now is said to be asleep."""
        value = r.slots.get("device")
        if not isinstance(value, NameValue):
            return None
        devices = await self.player.devices()
        device = next((d for d in devices if value.uri and d.id == value.uri), None)
        device = device or find_device(devices, value.name)
        if device is None:
            if any(match_key(name) == match_key(value.name) for name in self.player.memory.speakers):
                raise SpeakerAsleepError(f"{value.name} {ASLEEP_SPEAKER}")
            raise NoActiveDeviceError(f"I can't see {value.name} right now. Is it switched on?")
        return device, next((d for d in devices if d.is_active), None)

    async def _there(self, r: Recognition) -> str | None:
        """The named speaker's id, for a command about what it plays ("in the living room, next
        song"). One that is not playing is told so, and nothing moves: taking the music from the
        bedroom to skip a song in the living room is not what anyone asked for."""
        found = await self._named_and_playing(r)
        if found is None:
            return None
        device, playing = found
        if not device.is_active:
            elsewhere = f"; the music is on {playing.name}" if playing is not None else ""
            raise NotPlayingThereError(f"{device.name} isn't playing{elsewhere}.")
        return device.id


ASLEEP_SPEAKER = (
    "isn't awake: Spotify only lists speakers that are on. "
    "Switch it on or open Spotify on it, then ask again."
)


class SpeakerAsleepError(NoActiveDeviceError):
    """A speaker of the user's that Spotify does not list now (asleep, switched off)."""


class NotTakenError(MaestroError):
    """A speaker answered a command (204) and did not do it, as read back: nothing claimed."""


class NotPlayingThereError(MaestroError):
    """A command about what a speaker plays, for a speaker that plays nothing: nothing was done."""


def _problem_speech(problem: str) -> str:
    # "volume must be between 0 and 100" -> "The volume goes from 0 to 100."
    name, _, rest = problem.partition(" must be between ")
    if rest:
        low, _, high = rest.partition(" and ")
        return f"The {name} goes from {low} to {high}."
    return problem[:1].upper() + problem[1:] + "."
