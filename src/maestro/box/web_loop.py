"""The running box as the web app (:mod:`maestro.web`) sees it: its commands through the box's own
path, corrections, cards, speakers and settings into the running parts, and the box's news into
what the pages show. Served by :mod:`maestro.box.web_server`."""

from __future__ import annotations

import io
import logging
import time
import wave
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from maestro import config
from maestro.auth.device_flow import DeviceAuthorization
from maestro.auth.pairing import short_address
from maestro.box.commands import Commands, Done
from maestro.box.state import BoxParts
from maestro.box.troubles import Troubles
from maestro.box.web_cards import CardDesk
from maestro.ducking import Ducker
from maestro.fsutil import atomic_write_bytes
from maestro.intents.meaning import IntentChoice, choices, meaning, near_names
from maestro.intents.normalize import normalize
from maestro.intents.personal import Phrasing
from maestro.intents.recognition import Recognition
from maestro.messages import Reply, Screen
from maestro.nfc.cards import Cards
from maestro.session import Session, aliases_path
from maestro.spotify.aliases import AliasError, checked_alias, write_aliases
from maestro.spotify.player import PlaybackState
from maestro.voice.audio import RATE
from maestro.web.app import Card, Saved
from maestro.web.facing import MAX_NAMES, Found
from maestro.web.live import Live
from maestro.web.settings import BY_KEY, changed_settings, shadowed, values, write_settings

log = logging.getLogger(__name__)

#: The browser's pairing code stays on the screen this long (now playing waits).
CODE_SHOWN_S = 60.0
#: Where the commands' sounds are kept (``voice.keep_audio``), in the state directory.
CLIPS_DIR = "heard"
#: How like the typed words (rapidfuzz WRatio, 0-100) a name must be to be offered: "abb" finds
#: "Abbey Road".
NAME_SEARCH_CUTOFF = 60
#: What the Now page's buttons do (play/pause toggles, as a card's second tap does).
BUTTON_INTENTS = {
    "next": "Next",
    "previous": "Previous",
    "volume_down": "VolumeDown",
    "volume_up": "VolumeUp",
}
#: The Settings page asks Spotify whose account this is at most this long (once).
ACCOUNT_WAIT_S = 2.0


class Box(Protocol):
    """What of the running box (:class:`maestro.box.runtime.Runtime`) the web app works with."""

    session: Session
    commands: Commands
    parts: BoxParts
    ducker: Ducker
    cards: Cards | None
    troubles: Troubles


class WebBox:
    """The web app's :class:`maestro.web.app.Box`: the running box seen from its pages."""

    def __init__(self, runtime: Box, url: str) -> None:
        self.runtime, self.url = runtime, url
        self.live = Live()
        self.desk = CardDesk(runtime.session, runtime.cards)
        self._asking = False  # whose account: a question to Spotify under way
        parts = runtime.parts
        self.live.activity = parts.state.activity.now
        self.live.pairing = pairing_json(parts.pairing)
        parts.state.activity.watchers.append(self.live.set_activity)
        parts.playing_watchers.append(self._looked)
        parts.pairing_watchers.append(self._pairing)
        self.live.troubles = dict(runtime.troubles.current)
        runtime.troubles.watchers.append(self.live.set_troubles)
        runtime.commands.watchers.append(self._done)

    async def command(self, text: str) -> Reply:
        async def work() -> tuple[Recognition, Reply]:
            return await self.runtime.session.handle(text)

        return await self.runtime.commands.run("web", work, text, speak=False)

    async def press(self, button: str) -> Reply:
        actions = self.runtime.session.actions
        intent = BUTTON_INTENTS.get(button)

        async def work() -> Reply:
            if intent is None:
                return await actions.toggle()
            return await actions.run(Recognition(text="", intent=intent, score=1.0))

        heard = "play/pause" if button == "play_pause" else button.replace("_", " ")
        return await self.runtime.commands.run("web", work, heard, speak=False)

    async def show_code(self, code: str) -> None:
        parts = self.runtime.parts
        screen = Screen("pairing", f"{code[:3]} {code[3:]}", (self.url.removeprefix("http://"),))
        parts.state.hold_until = time.monotonic() + CODE_SHOWN_S
        parts.state.shown = screen
        await parts.display.show(screen)
        parts.print_line(f"Web code: {code}")
        spoken = ", ".join(" ".join(code[i : i + 3]) for i in range(0, len(code), 3))
        parts.background.start(parts.speaker.say(f"The code for your browser is {spoken}."))

    async def learn(self, heard: str, meant: str) -> tuple[Phrasing, Recognition]:
        return await self.runtime.session.learn(heard, meant)

    async def learn_meaning(
        self, heard: str, intent: str, slots: Mapping[str, str]
    ) -> tuple[Phrasing, Recognition]:
        session = self.runtime.session
        if session.library.stale:  # the names typed are looked up in the library
            await session.ensure_library()
        return await session.learn(heard, meaning(session.spec, session.matcher.names, intent, slots))

    def intents(self) -> list[IntentChoice]:
        return choices(self.runtime.session.spec)

    def names(self, kind: str, query: str) -> list[str]:
        library = self.runtime.session.library
        return near_names(library, kind, query, limit=MAX_NAMES, cutoff=NAME_SEARCH_CUTOFF)

    def phrasings(self) -> list[Phrasing]:
        return list(self.runtime.session.personal.phrasings)

    def phrasings_problem(self) -> str | None:
        return self.runtime.session.personal.problem

    def forget(self, index: int) -> Phrasing:
        return self.runtime.session.forget_phrasing(index)

    # -- cards: what each plays, searched in the library and on Spotify (box/web_cards.py) ---------

    def cards(self) -> list[Card]:
        return self.desk.cards()

    def cards_problem(self) -> str | None:
        return self.desk.tags.problem

    def unknown_card(self) -> str | None:
        return self.desk.unknown_card()

    async def assign_card(self, uid: str, what: str) -> Card:
        return await self.desk.assign(uid, what)

    def remove_card(self, uid: str) -> bool:
        return self.desk.tags.remove(uid)

    async def find(self, query: str) -> tuple[list[Found], str | None]:
        return await self.desk.find(query)

    # -- speakers ----------------------------------------------------------------------------------

    def aliases(self) -> dict[str, str]:
        return dict(self.runtime.session.library.aliases)

    def set_alias(self, alias: str, speaker: str | None) -> str:
        session = self.runtime.session
        aliases = dict(session.library.aliases)
        if speaker is None:
            kept = normalize(alias)
            if aliases.pop(kept, None) is None:
                raise AliasError(f"“{alias}” is no speaker's other name.")
        else:
            if speaker not in self.speakers():
                raise AliasError(f"{speaker} is not one of your speakers.")
            kept = checked_alias(alias, self.speakers())
            aliases[kept] = speaker
        write_aliases(aliases_path(session.settings), aliases)
        session.library.set_aliases(aliases)  # the matcher and the voice model learn it
        return kept

    # -- settings --------------------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        return values(self.runtime.session.settings)

    def speakers(self) -> list[str]:
        library = self.runtime.session.library
        return sorted(item.name for item in library.items("device") if item.name not in library.aliases)

    async def account(self) -> str | None:
        if self.live.account is None:  # asked once: the page never waits long on Spotify
            self.live.set_account(await self.runtime.session.account_name(ACCOUNT_WAIT_S))
        return self.live.account

    async def sign_out(self) -> Reply:
        """Forgets the Spotify sign-in (as `maestro logout`); the box then pairs again, its code on
        the page as on its screen."""

        async def work() -> Reply:
            self.runtime.session.sign_out()
            self.live.set_account(None)
            self.runtime.parts.state.poke.set()  # the Spotify loop notices now, not at its next look
            speech = "Signed out of Spotify. The code to sign in again is coming up."
            return Reply(speech, Screen("message", "Signed out", ("Pairing again…",)))

        return await self.runtime.commands.run("web", work, "sign out of Spotify", speak=False)

    def _pairing(self, authorization: DeviceAuthorization | None) -> None:
        self.live.set_pairing(pairing_json(authorization))

    def save_settings(self, form: Mapping[str, str]) -> Saved:
        session = self.runtime.session
        new, changed = changed_settings(session.settings, form)
        if changed:
            write_settings(session.settings.source or config.config_path(), new, changed)
        live = [key for key in changed if BY_KEY[key].live and not shadowed([key])]
        for key in live:  # the running box's own settings, and the parts that copied them
            section, _, name = key.partition(".")
            setattr(getattr(session.settings, section), name, config.get_value(new, key))
        session.player.preferred_device = session.settings.player.default_device
        session.actions.max_volume = session.settings.player.max_volume
        self.runtime.ducker.percent = session.settings.voice.duck_volume
        return Saved(changed, [k for k in changed if not BY_KEY[k].live], shadowed(changed))

    async def _looked(self, playing: PlaybackState | None) -> None:
        self.live.set_playing(playing_json(playing))
        if self.live.account is None and not self._asking:  # signed in (again): whose account is it?
            self._asking = True
            self.runtime.parts.background.start(self._ask_account())

    async def _ask_account(self) -> None:
        try:
            await self.account()
        finally:
            self._asking = False

    async def _done(self, done: Done) -> None:
        recognition = done.recognition
        details: dict[str, Any] = dict(done.details)
        history = self.live.history
        leaving = history[0] if len(history) == history.maxlen else None
        keep = bool(done.audio) and self.keeps_audio()
        entry = self.live.add(
            source=done.source, heard=done.heard, intent=done.reply.intent,
            slots=recognition.slots_json() if recognition else {}, reply=done.reply.speech, ok=done.reply.ok,
            recogniser=details.get("recogniser"), took_ms=details.get("took_ms"), audio=keep,
        )  # fmt: skip
        if leaving is not None and leaving.audio:  # a clip goes with its entry
            self.clip_path(leaving.id).unlink(missing_ok=True)
        if keep:
            try:
                self.clips.mkdir(mode=0o700, exist_ok=True)
                atomic_write_bytes(self.clip_path(entry.id), wav_bytes(done.audio), private=True)
            except OSError as exc:  # a full disk: the command is still listed, without its sound
                log.warning("could not keep the sound of a command: %s", exc)

    # -- sound kept (voice.keep_audio) -------------------------------------------------------------

    @property
    def clips(self) -> Path:
        return self.runtime.session.state_dir / CLIPS_DIR

    def keeps_audio(self) -> bool:
        return self.runtime.session.settings.voice.keep_audio

    def clip_path(self, entry_id: int) -> Path:
        return self.clips / f"{entry_id}.wav"

    def clip(self, entry_id: int) -> Path | None:
        path = self.clip_path(entry_id)
        return path if path.is_file() else None

    def forget_clips(self) -> None:
        """The history lives in memory: sounds kept by an earlier run belong to no entry now."""
        for path in self.clips.glob("*.wav") if self.clips.is_dir() else ():
            path.unlink(missing_ok=True)


def wav_bytes(pcm: bytes) -> bytes:
    """16 kHz mono PCM as a WAV file a browser plays."""
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(RATE)
        writer.writeframes(pcm)
    return out.getvalue()


def pairing_json(authorization: DeviceAuthorization | None) -> dict[str, Any] | None:
    if authorization is None:
        return None
    return {
        "code": authorization.user_code,
        "address": short_address(authorization.verification_uri),
        "link": authorization.verification_uri_complete or authorization.verification_uri,
    }


def playing_json(state: PlaybackState | None) -> dict[str, Any] | None:
    item = state.item if state else None
    if state is None or item is None:
        return None
    device = state.device
    return {
        "title": item.name, "artist": item.artist, "album": item.album, "uri": item.uri,
        "speaker": device.name if device else None, "volume": device.volume_percent if device else None,
        "playing": state.is_playing,
    }  # fmt: skip
