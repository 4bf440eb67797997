"""What the web app works with: the running box as its pages and API see it (:class:`Box`, made
by :mod:`maestro.box.web_loop`), and what both sides share."""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from maestro.intents.meaning import IntentChoice
from maestro.intents.personal import Phrasing, PhrasingError
from maestro.intents.recognition import Recognition
from maestro.messages import Reply
from maestro.web.access import Access
from maestro.web.guard import Guard
from maestro.web.live import Live

#: The Now page's buttons, a row each: the transport, then the volume.
BUTTON_ROWS = (("previous", "play_pause", "next"), ("volume_down", "volume_up"))
BUTTONS = tuple(button for row in BUTTON_ROWS for button in row)
#: The buttons' icons (SVG paths in a 24-unit box): drawn by the page, no font needed.
ICONS = {
    "previous": "M6 5h2v14H6zM20 5v14L9 12z",
    "play_pause": "M3 5v14l9-7zM14 5h3v14h-3zM19 5h3v14h-3z",
    "next": "M16 5h2v14h-2zM4 5v14l11-7z",
    "volume_down": "M3 9v6h4l5 5V4L7 9zM15 11h7v2h-7z",
    "volume_up": "M3 9v6h4l5 5V4L7 9zM17.5 8.5h2V11H22v2h-2.5v2.5h-2V13H15v-2h2.5z",
}
#: What a screen reader says for each.
LABELS = {"previous": "Previous", "play_pause": "Play or pause", "next": "Next",
          "volume_down": "Volume down", "volume_up": "Volume up"}  # fmt: skip
#: Longest command accepted (the MQTT text entity's limit too).
MAX_COMMAND = 255
#: Most slot values a chosen meaning may carry (an intent has at most a handful).
MAX_SLOTS = 8
#: The library's names a search offers at once.
MAX_NAMES = 12


@dataclass(frozen=True)
class Card:
    uid: str
    #: As tags.yaml keeps it: a Spotify URI, or a command.
    action: str
    #: What it plays, as a person says it ("Abbey Road (album)", “volume 30”).
    name: str


@dataclass(frozen=True)
class Found:
    """Something a card can play, found by name: in the user's library or on Spotify."""

    name: str
    kind: str  # album, playlist, artist, track
    uri: str
    artist: str = ""
    #: "library" or "spotify".
    source: str = "library"


@dataclass(frozen=True)
class Saved:
    changed: list[str]
    #: Of those, the ones in effect after `maestro run` starts again.
    after_restart: list[str]
    #: Of those, the ones a MAESTRO_* variable sets for the running box (it wins over the file).
    shadowed: list[str]


class Box(Protocol):
    """What of the running box the web app works with (:mod:`maestro.box.web_loop`)."""

    live: Live

    async def command(self, text: str) -> Reply:
        """Runs words as a command, one at a time with voice and cards; shown, not spoken."""

    async def press(self, button: str) -> Reply:
        """One of :data:`BUTTONS`."""

    async def show_code(self, code: str) -> None:
        """Shows and says a browser's pairing code."""

    async def learn(self, heard: str, meant: str) -> tuple[Phrasing, Recognition]:
        """Learns ``heard`` as a way of saying ``meant`` (PhrasingError: it can't be); returns the
        phrasing and what ``heard`` means now."""

    async def learn_meaning(
        self, heard: str, intent: str, slots: Mapping[str, str]
    ) -> tuple[Phrasing, Recognition]:
        """Learns ``heard`` as a way of asking for ``intent`` with these slots' values (as typed: a
        name is found in the library); PhrasingError: it can't be."""

    def intents(self) -> list[IntentChoice]:
        """What a correction can choose: every intent, its sample and its slots."""

    def names(self, kind: str, query: str) -> list[str]:
        """The library's names of a kind (album, artist, playlist, track, device) most like
        ``query`` (the first ones when it is empty)."""

    def phrasings(self) -> list[Phrasing]: ...

    def keeps_audio(self) -> bool:
        """``voice.keep_audio``: each command's sound is kept with its entry."""

    def clip(self, entry_id: int) -> Path | None:
        """The WAV file of a command's sound, or None."""

    def phrasings_problem(self) -> str | None:
        """Why the user's phrasings file is not used (a hand edit gone wrong), or None."""

    def forget(self, index: int) -> Phrasing:
        """IndexError: no such phrasing."""

    def cards(self) -> list[Card]: ...

    def cards_problem(self) -> str | None:
        """Why tags.yaml can't be used as it is (the last good list is), or None."""

    def unknown_card(self) -> str | None:
        """The UID of a card tapped lately that does nothing yet."""

    async def assign_card(self, uid: str, what: str) -> Card:
        """TagError: not a card's UID, or nothing Maestro could do."""

    def remove_card(self, uid: str) -> bool: ...

    async def find(self, query: str) -> tuple[list[Found], str | None]:
        """What a card could play, by name: the library's best matches, then Spotify's; and why
        Spotify could not be asked (None: it was)."""

    def settings(self) -> dict[str, Any]:
        """The values of :data:`maestro.web.settings.EDITABLE`, as they are in effect."""

    def speakers(self) -> list[str]:
        """The user's speakers by their names in Spotify (not the aliases)."""

    def aliases(self) -> dict[str, str]:
        """Other names for speakers: alias -> speaker name."""

    def set_alias(self, alias: str, speaker: str | None) -> str:
        """Gives ``speaker`` the other name ``alias`` (None: forgets the alias); returns the alias as
        kept (AliasError: it can't be one)."""

    async def account(self) -> str | None:
        """Whom the box is signed in to Spotify as, or None (not signed in, or Spotify can't say)."""

    async def sign_out(self) -> Reply:
        """Forgets the Spotify sign-in; the box pairs again (``live.pairing`` holds its code)."""

    def save_settings(self, form: Mapping[str, str]) -> Saved:
        """Checked, written to config.toml, and in effect where that needs no restart (ConfigError:
        a value is not what it must be)."""


def pairing_qr(link: str) -> bytes:
    """The sign-in link as a QR code (SVG), for a phone to scan off a computer's screen."""
    import segno  # the box's own screen draws its QR code with it too

    out = io.BytesIO()
    code = segno.make(link, error="l", micro=False, boost_error=True)
    code.save(out, kind="svg", scale=6, border=2, dark="#000", light="#fff", xmldecl=False, title=link)
    return out.getvalue()


class Door:
    """What the pages and the API share: the box, who may come in, learning a correction."""

    def __init__(self, box: Box, access: Access) -> None:
        self.box, self.access = box, access
        self.guard = Guard(access)

    async def learn(self, heard: str, meant: str) -> tuple[Phrasing, Recognition]:
        if not 0 < len(heard) <= MAX_COMMAND or not 0 < len(meant) <= MAX_COMMAND:
            raise PhrasingError(f"Both what was heard and what you meant: 1 to {MAX_COMMAND} characters.")
        return await self.box.learn(heard, meant)

    async def learn_meaning(
        self, heard: str, intent: str, slots: Mapping[str, str]
    ) -> tuple[Phrasing, Recognition]:
        if not 0 < len(heard) <= MAX_COMMAND:
            raise PhrasingError(f"What was heard: 1 to {MAX_COMMAND} characters.")
        if len(slots) > MAX_SLOTS or any(len(value) > MAX_COMMAND for value in slots.values()):
            raise PhrasingError(f"At most {MAX_SLOTS} values, each of up to {MAX_COMMAND} characters.")
        return await self.box.learn_meaning(heard, intent, slots)
