"""Volume: set, up, down, mute, unmute; on the speaker named or the active one; never above
``player.max_volume``."""

from __future__ import annotations

from maestro.actions.base import VOLUME_STEP, ActionsBase, failure, say
from maestro.actions.checks import until
from maestro.intents.recognition import Recognition
from maestro.messages import Reply
from maestro.spotify.player import Device


class VolumeActions(ActionsBase):
    # -- volume ---------------------------------------------------------------------

    async def _volume_device(self, r: Recognition) -> Device:
        device = await self._named_device(r)
        if device is not None:
            return device
        state = await self.player.state()
        if state is None or state.device is None:
            return await self.player.wake()
        return state.device

    async def _set_volume(self, device: Device, volume: int) -> Reply:
        wanted = max(0, min(100, volume))
        volume = min(wanted, self.max_volume)
        if not device.supports_volume:
            return failure(f"{device.name} doesn't let Spotify change its volume.")
        await self.player.volume(volume, device_id=device.id or None)
        if not await self._volume_is(device, volume):
            return failure(f"{device.name} didn't change its volume. It may be asleep or busy; try again.")
        speech = self.phrase("SetVolume", f"Volume {volume}.", volume=volume)
        if volume < wanted:  # a children's room box: player.max_volume, a setting, not the speaker
            speech = f"Volume {volume}: the most this box allows (its maximum is set to {self.max_volume})."
        return say(speech, "Volume", kind="volume", value=volume)

    async def _volume_is(self, device: Device, volume: int) -> bool:
        """The speaker's volume read back: Spotify says 204 before the speaker has moved. One that
        no longer lists itself or reports no volume cannot be held to one."""

        async def now() -> Device | None:
            return next((d for d in await self.player.devices() if d.id == device.id), None)

        ok, _ = await until(now, lambda d: d is None or d.volume_percent in (None, volume))
        return ok

    async def do_SetVolume(self, r: Recognition) -> Reply:
        return await self._set_volume(await self._volume_device(r), int(r.slots["volume"]))

    async def _nudge(self, r: Recognition, sign: int) -> Reply:
        device = await self._volume_device(r)
        step = int(r.slots.get("amount", VOLUME_STEP))
        current = device.volume_percent if device.volume_percent is not None else 50
        if sign > 0 and current >= self.max_volume:  # "up" never turns it down to the cap
            return say(f"It's at {current} already; this box goes no louder (its maximum is set to "
                       f"{self.max_volume}).", "Volume", kind="volume", value=current)  # fmt: skip
        return await self._set_volume(device, current + sign * step)

    async def do_VolumeUp(self, r: Recognition) -> Reply:
        return await self._nudge(r, +1)

    async def do_VolumeDown(self, r: Recognition) -> Reply:
        return await self._nudge(r, -1)

    async def do_Mute(self, r: Recognition) -> Reply:
        device = await self._volume_device(r)
        if device.volume_percent:
            self.player.memory.muted_volume[device.id] = device.volume_percent
            self.player.memory.save()
        reply = await self._set_volume(device, 0)
        return say(self.phrase("Mute", "Muted."), "Muted", kind="volume", value=0) if reply.ok else reply

    async def do_Unmute(self, r: Recognition) -> Reply:
        device = await self._volume_device(r)
        previous = self.player.memory.muted_volume.pop(device.id, None)
        self.player.memory.save()
        volume = min(previous if previous else max(device.volume_percent or 0, 30), self.max_volume)
        reply = await self._set_volume(device, volume)
        return (
            say(self.phrase("Unmute", "Sound back on."), "Volume", kind="volume", value=volume)
            if reply.ok
            else reply
        )
