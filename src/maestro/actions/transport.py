"""Transport and modes: resume, pause, skip, back, restart, seek, shuffle, repeat, the sleep timer."""

from __future__ import annotations

from maestro.actions.base import DEFAULT_SLEEP_MINUTES, ActionsBase, NotTakenError, say
from maestro.actions.checks import Wanted, read_back, until
from maestro.errors import NoActiveDeviceError
from maestro.intents.recognition import Recognition
from maestro.messages import Reply, clock_time
from maestro.spotify.player import PlaybackState

#: How far from where a seek asked the position read back may be: it moves on while it is read
#: (up to ``checks.CHECK_S``), and speakers report it in steps.
SEEK_SLACK_MS = 3000


class TransportActions(ActionsBase):
    # -- transport ---------------------------------------------------------------

    async def do_Resume(self, r: Recognition) -> Reply:
        device_id = await self._device_for(r)

        async def start() -> None:
            if device_id:
                await self.player.transfer(device_id, play=True)
            else:
                await self.player.play()

        outcome = await self.checked(start, Wanted(device_id=device_id))
        return self.told(outcome, say(self.phrase("Resume", "Resuming.")), self._speaker(r))

    async def do_Pause(self, r: Recognition) -> Reply:
        device = await self._named_device(r)
        if device is not None and not device.is_active:
            return say(f"{device.name} isn't playing.")  # what the user wanted already holds
        await self.player.pause(device.id if device else None)
        return say(self.phrase("Pause", "Paused."))

    async def do_Next(self, r: Recognition) -> Reply:
        device_id = await self._there(r)
        before = await self.player.state()
        await self.player.next(device_id)
        skipped = before.item.uri if before and before.item else None
        outcome = await read_back(self.player, Wanted(playing=None, device_id=device_id, not_uri=skipped))
        after = outcome.state
        if not outcome.ok and after and after.item and after.item.uri == skipped and not after.is_playing:
            return say("That was the last song.")  # Spotify stops at the start of it, repeat off
        return self.told(outcome, say(self.phrase("Next", "Skipping.")), self._speaker(r))

    async def do_Previous(self, r: Recognition) -> Reply:
        device_id = await self._there(r)
        await self.player.previous(device_id)
        outcome = await read_back(self.player, Wanted(playing=None, device_id=device_id))
        return self.told(outcome, say(self.phrase("Previous", "Going back.")), self._speaker(r))

    async def do_Restart(self, r: Recognition) -> Reply:
        await self.player.seek(0, await self._there(r))
        return say(self.phrase("Restart", "From the top."))

    async def do_RestartAlbum(self, r: Recognition) -> Reply:
        device_id = await self._there(r)
        state = await self.player.state()
        if state is None or not state.context_uri:
            await self.player.seek(0, device_id)  # a lone song: its own beginning
            return say("Starting this song again.")
        await self.player.play(context_uri=state.context_uri, offset={"position": 0}, device_id=device_id)
        return say(self.phrase("RestartAlbum", "Playing it from the beginning."))

    async def _playing(self, device_id: str | None) -> PlaybackState:
        state = await self.player.state()
        if state is None or state.item is None:
            await self.player.wake()
            state = await self.player.state()
        if state is None or state.item is None:
            raise NoActiveDeviceError("Nothing is playing right now.")
        return state

    async def _seek_to(self, device_id: str | None, target_ms: int) -> int:
        """Go to ``target_ms`` (kept inside the song) and read back that the speaker went there:
        the position it reached, or :class:`NotTakenError` saying where it still is."""
        state = await self._playing(device_id)
        duration = state.item.duration_ms if state.item else 0
        target = max(0, target_ms)
        if duration:
            target = min(target, max(0, duration - 1000))
        await self.player.seek(target, device_id)
        song = state.item.uri if state.item else None

        def there(now: PlaybackState | None) -> bool:
            if now is None or now.item is None:
                return False
            if now.item.uri != song:  # a seek to the last seconds may already have ended the song
                return duration - target <= SEEK_SLACK_MS
            return abs(now.progress_ms - target) <= SEEK_SLACK_MS

        ok, now = await until(self.player.state, there)
        if not ok:
            where = clock_time(now.progress_ms) if now is not None else "where it was"
            speaker = now.device.name if now is not None and now.device else "The speaker"
            raise NotTakenError(f"{speaker} didn't move: it's still at {where}. Try again.")
        return target

    async def _seek_by(self, r: Recognition, delta_ms: int) -> int:
        device_id = await self._there(r)
        state = await self._playing(device_id)
        return await self._seek_to(device_id, state.progress_ms + delta_ms)

    async def do_SeekForward(self, r: Recognition) -> Reply:
        seconds = int(r.slots.get("seconds", 10))
        await self._seek_by(r, seconds * 1000)
        return say(self.phrase("SeekForward", f"Skipping ahead {seconds} seconds.", seconds=seconds))

    async def do_SeekBackward(self, r: Recognition) -> Reply:
        seconds = int(r.slots.get("seconds", 10))
        await self._seek_by(r, -seconds * 1000)
        return say(self.phrase("SeekBackward", f"Going back {seconds} seconds.", seconds=seconds))

    async def do_SeekTo(self, r: Recognition) -> Reply:
        device_id = await self._there(r)
        if "percent" in r.slots:
            state = await self._playing(device_id)
            duration = state.item.duration_ms if state.item else 0
            target = await self._seek_to(device_id, duration * int(r.slots["percent"]) // 100)
        else:
            target = await self._seek_to(device_id, int(r.slots.get("position", 0)) * 1000)
        return say(f"Going to {clock_time(target)}.")

    # -- modes ------------------------------------------------------------------------

    async def do_Shuffle(self, r: Recognition) -> Reply:
        state = str(r.slots.get("state", "on"))
        await self.player.shuffle(state == "on", await self._there(r))
        return say(self.phrase("Shuffle", f"Shuffle {state}.", state=state))

    async def do_Repeat(self, r: Recognition) -> Reply:
        mode = str(r.slots.get("mode", "context"))
        await self.player.repeat(mode, await self._there(r))
        spoken = {"track": "Repeating this song.", "context": "Repeating everything.", "off": "Repeat off."}[
            mode
        ]
        return say(spoken)

    # -- the sleep timer ---------------------------------------------------------------
    # Kept in player.json, so `maestro say` can set it and `maestro run` keeps it (the daemon
    # pauses when it runs out: app.Runtime).

    async def do_SleepTimer(self, r: Recognition) -> Reply:
        minutes = int(r.slots.get("minutes", DEFAULT_SLEEP_MINUTES))
        device_id = await self._device_for(r) or ""
        memory = self.player.memory
        memory.sleep_at, memory.sleep_device = self.clock() + minutes * 60, device_id
        memory.save()
        spoken = "an hour" if minutes == 60 else f"{minutes} minutes" if minutes != 1 else "a minute"
        return say(f"Okay, I'll stop the music in {spoken}.", "Sleep timer", f"{minutes} min")

    async def do_CancelSleepTimer(self, r: Recognition) -> Reply:
        memory = self.player.memory
        if not memory.sleep_at:
            return say("There's no sleep timer.")
        memory.sleep_at, memory.sleep_device = 0.0, ""
        memory.save()
        return say(self.phrase("CancelSleepTimer", "The sleep timer is off."))
