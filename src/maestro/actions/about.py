"""About what plays, and the rest: now playing, like/unlike, speakers, sign-in, help, cancel."""

from __future__ import annotations

import dataclasses

from maestro.actions.base import HELP, QUESTION_TTL_S, ActionsBase, describe, failure, say, spoken_list
from maestro.actions.checks import Wanted
from maestro.intents.recognition import NameValue, Recognition
from maestro.messages import Reply, Screen, now_playing_screen
from maestro.spotify.player import find_device


class AboutActions(ActionsBase):
    # -- about what's playing -----------------------------------------------------------

    async def do_NowPlaying(self, r: Recognition) -> Reply:
        named = await self._named_device(r)
        state = await self.player.state()
        if (
            state is None
            or state.item is None
            or (named and (not state.device or state.device.id != named.id))
        ):
            where = f" on {named.name}" if named else ""
            return say(f"Nothing is playing{where} right now.")
        item = state.item
        return Reply(f"This is {describe(item)}.", now_playing_screen(state), data={"uri": item.uri})

    async def do_Like(self, r: Recognition) -> Reply:
        state = await self.player.state()
        if state is None or state.item is None:
            return failure("Nothing is playing, so there's nothing to like.")
        await self.player.save_tracks([state.item.uri])
        return say(f"Saved {state.item.name} to your liked songs.", "Liked", state.item.name)

    async def do_Unlike(self, r: Recognition) -> Reply:
        state = await self.player.state()
        if state is None or state.item is None:
            return failure("Nothing is playing, so there's nothing to take out of your liked songs.")
        await self.player.remove_tracks([state.item.uri])
        return say(f"Removed {state.item.name} from your liked songs.", "Not liked", state.item.name)

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
        outcome = await self.checked(
            lambda: self.player.transfer(device.id, play=True), Wanted(device_id=device.id)
        )
        reply = say(
            self.phrase("Transfer", f"Playing in the {device.name}.", device=device.name), device.name
        )
        return self.told(outcome, reply, device.name)

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
        if self.player.memory.confirming:  # "no" to "Did you want me to ...?"
            self.player.memory.confirming, self.player.memory.confirming_at = "", 0.0
            self.player.memory.save()
        return say(self.phrase("Cancel", "Okay."))

    async def do_Undo(self, r: Recognition) -> Reply:
        # Within the window after a doubtful play the dispatcher puts it back (``undo``).
        return say("There's nothing to undo.")
