"""Presenting the pairing code: spoken (slowly, then with phonetic words) and shown.

RFC 8628 §5.7 allows speaking a code where the listeners are the people near
the device: that is exactly a box in a living room. The code is read once, in
groups of four, each letter with its NATO word ("B bravo, C charlie"): the word
is what tells B from D and M from N, and saying it beside the letter (rather
than reading the code twice) halves the time, about 11 s for an 8-letter code
and a long address. Repeated every ``repeat_s`` seconds until the sign-in ends.
The screen shows the code large, the short address and a QR code of the
complete link; the terminal gets ``Code:`` and ``Open:`` lines for scripts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from urllib.parse import urlsplit

from maestro.auth.device_flow import DeviceAuthorization
from maestro.display.devices import Display
from maestro.messages import Screen
from maestro.voice.tts import Speaker

log = logging.getLogger(__name__)

#: Every letter is said with its NATO word ("B bravo"): the ones that sound alike
#: (B/D/P/T/V/Z, M/N, F/S) need it most, and with a word on every letter no letter
#: can be heard as part of its neighbour.
PHONETIC = {
    "A": "alpha", "B": "bravo", "C": "charlie", "D": "delta", "E": "echo", "F": "foxtrot",
    "G": "golf", "H": "hotel", "I": "india", "J": "juliet", "K": "kilo", "L": "lima",
    "M": "mike", "N": "november", "O": "oscar", "P": "papa", "Q": "quebec", "R": "romeo",
    "S": "sierra", "T": "tango", "U": "uniform", "V": "victor", "W": "whiskey", "X": "x ray",
    "Y": "yankee", "Z": "zulu",
}  # fmt: skip
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
#: How espeak-ng says each letter clearly on its own (some single letters it
#: would otherwise read as words, like "A" as "uh").
LETTER_NAMES = {"A": "ay", "I": "eye", "O": "oh", "U": "you", "Y": "why", "W": "double you"}


def characters(code: str) -> list[str]:
    """The characters a user types: letters and digits, uppercased; separators dropped."""
    return [ch.upper() for ch in code if ch.isalnum()]


def _say_char(ch: str) -> str:
    if ch.isdigit():
        return DIGITS[int(ch)]
    return LETTER_NAMES.get(ch, ch)


def short_address(uri: str) -> str:
    """ "https://www.spotify.com/pair" -> "spotify.com/pair" (what to type on a phone)."""
    parts = urlsplit(uri)
    host = (parts.hostname or "").removeprefix("www.")
    if parts.port:
        host = f"{host}:{parts.port}"
    return host + parts.path.rstrip("/")


def spoken_address(uri: str) -> str:
    """ "https://spotify.com/pair" -> "spotify dot com slash pair"."""
    text = short_address(uri)
    text = re.sub(r"\.", " dot ", text)
    text = text.replace("/", " slash ").replace(":", " colon ")
    return re.sub(r"\s+", " ", text).strip()


def spell_paired(code: str) -> str:
    """ "BCDF-GH7K" -> "B bravo, C charlie, D delta, F foxtrot. G golf, H hotel, the number seven, K kilo."
    A digit alone was misheard ("one" for "seven"); "the number" announces it. A code of six or
    more is said in two halves, a pause between them (Spotify's six as three and three: in fours,
    the last two ran into each other more often, 3 of 400 misheard against 1 in pyttsx3's voice)."""
    said = [f"the number {DIGITS[int(ch)]}" if ch.isdigit() else f"{_say_char(ch)} {PHONETIC[ch]}"
            for ch in characters(code)]  # fmt: skip
    half = (len(said) + 1) // 2 if len(said) >= 6 else len(said)
    groups = [", ".join(said[i : i + half]) for i in range(0, len(said), max(1, half))]
    return ". ".join(groups) + "."


def pairing_speech(authorization: DeviceAuthorization) -> str:
    return (
        f"Go to {spoken_address(authorization.verification_uri)} and enter: "
        f"{spell_paired(authorization.user_code)}"
    )


def pairing_screen(authorization: DeviceAuthorization) -> Screen:
    return Screen(
        "pairing",
        authorization.user_code,
        (short_address(authorization.verification_uri),),
        qr=authorization.verification_uri_complete,
    )


class PairingPresenter:
    """Speaks and shows the code until :meth:`stop`; says it again every ``repeat_s``."""

    def __init__(
        self,
        speaker: Speaker,
        display: Display,
        *,
        repeat_s: float = 30.0,
        print_line: Callable[[str], None] = print,
        on_code: Callable[[DeviceAuthorization | None], None] | None = None,
    ) -> None:
        self.speaker = speaker
        self.display = display
        self.repeat_s = repeat_s
        self.print_line = print_line
        #: Told of each code and of the end (None): the box's web page shows the code and the link.
        self.on_code = on_code
        self._task: asyncio.Task[None] | None = None
        self.announcements = 0
        self.codes = 0

    async def show(self, authorization: DeviceAuthorization) -> None:
        await self._quiet()  # a new code replaces the old one
        self.codes += 1
        renewed = "That code expired; here is a new one." if self.codes > 1 else ""
        if renewed:
            self.print_line(renewed)
        self.print_line(f"Code: {authorization.user_code}")
        self.print_line(f"Open: {authorization.verification_uri_complete or authorization.verification_uri}")
        minutes = max(1, round(authorization.expires_in / 60))
        self.print_line(f"Waiting for approval (the code expires in {minutes} min)…")
        await self.display.show(pairing_screen(authorization))
        if self.on_code is not None:
            self.on_code(authorization)
        self._task = asyncio.create_task(self._announce(authorization, renewed))

    async def _announce(self, authorization: DeviceAuthorization, before: str = "") -> None:
        speech = f"{before} {pairing_speech(authorization)}".strip()
        while True:
            self.announcements += 1
            try:
                await self.speaker.say(speech)
            except Exception as exc:  # the screen and the printed code still work
                log.warning("could not speak the code: %s", exc)
            await asyncio.sleep(self.repeat_s)

    async def stop(self) -> None:
        await self._quiet()
        if self.on_code is not None:
            self.on_code(None)

    async def _quiet(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
