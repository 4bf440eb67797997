"""NFC readers: nfcpy (USB PN53x/ACR122U, UART PN532), a keyboard-wedge reader via evdev, a script.

Every reader is blocking (nfcpy and evdev are), so each has one method,
``run(emit, stop)``, that runs on a worker thread and calls ``emit`` with a
:class:`TagEvent` for every card laid down and lifted, until ``stop`` is set.
A reader that goes away raises :class:`ReaderLost`; :class:`ReaderService`
turns that into one spoken message and retries with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from maestro.errors import MaestroError, UsageError
from maestro.fsutil import read_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TagEvent:
    kind: Literal["tap", "removed"]
    uid: str
    #: The tag's raw NDEF message, when it has one (a Spotify link written on the card).
    ndef: bytes | None = None


Emit = Callable[[TagEvent], None]


class ReaderLost(MaestroError):
    """The reader is unplugged, busy or not there; the message says which and what to do."""


class Reader(Protocol):
    description: str

    def run(self, emit: Emit, stop: threading.Event) -> None: ...


def _missing_extra(library: str, extra: str) -> MaestroError:
    return MaestroError(
        f"This NFC reader needs {library}: pip install 'maestro-remote[{extra}]' "
        '(or set [nfc] reader = "none").'
    )


class NfcpyReader:
    """PN533/ACR122U over USB (``usb``) or a PN532 on a serial port (``tty:S0:pn532``), via nfcpy."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.description = f"NFC reader {path}"

    def run(self, emit: Emit, stop: threading.Event) -> None:
        try:
            import nfc
        except ImportError as exc:
            raise _missing_extra("nfcpy", "nfc") from exc
        try:
            frontend = nfc.ContactlessFrontend(self.path)
        except OSError as exc:  # nfcpy says "no such device" with an IOError
            raise ReaderLost(
                f"No NFC reader at {self.path} ({exc}). Is it plugged in? A PN532 on a Pi's serial "
                "port needs the serial console off (raspi-config)."
            ) from exc
        present: dict[str, str] = {}

        def connected(tag: object) -> bool:
            uid = bytes(tag.identifier).hex().upper()  # type: ignore[attr-defined]
            ndef = getattr(tag, "ndef", None)
            present["uid"] = uid
            emit(TagEvent("tap", uid, bytes(ndef.octets) if ndef is not None and ndef.octets else None))
            return True  # hold the tag until it is lifted, so that we hear about the removal

        def released(tag: object) -> None:
            emit(TagEvent("removed", present.pop("uid", "")))

        try:
            while not stop.is_set():
                result = frontend.connect(
                    rdwr={"on-connect": connected, "on-release": released, "beep-on-connect": False},
                    terminate=stop.is_set,
                )
                if result is None and not stop.is_set():  # nfcpy's way of saying the device failed
                    raise ReaderLost(f"The NFC reader {self.path} stopped answering (unplugged?).")
        except OSError as exc:
            raise ReaderLost(f"The NFC reader {self.path} went away ({exc}).") from exc
        finally:
            with contextlib.suppress(Exception):
                frontend.close()


#: What keyboard-wedge readers type, by evdev key name: hex digits, then Enter.
WEDGE_KEYS = {f"KEY_{c}": c for c in "0123456789ABCDEF"} | {f"KEY_KP{d}": d for d in "0123456789"}
WEDGE_ENTER = {"KEY_ENTER", "KEY_KPENTER"}


class WedgeDecoder:
    """Key presses from a reader that types the UID ("0012345678⏎") -> UIDs."""

    def __init__(self) -> None:
        self.typed: list[str] = []

    def key_down(self, name: str) -> str | None:
        if name in WEDGE_ENTER:
            uid, self.typed = "".join(self.typed), []
            return uid or None
        char = WEDGE_KEYS.get(name)
        if char is not None:
            self.typed.append(char)
        return None


class EvdevReader:
    """A USB reader that acts as a keyboard, read through evdev (grabbed, so the console sees nothing).

    Such readers only report a tap, never a removal, so each read counts as a
    tap followed at once by a removal: tapping the same card again is a second tap.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.description = f"keyboard-wedge reader {path}"

    def run(self, emit: Emit, stop: threading.Event) -> None:
        try:
            import evdev
        except ImportError as exc:
            raise _missing_extra("evdev", "evdev") from exc
        try:
            device = evdev.InputDevice(self.path)
            device.grab()
        except OSError as exc:
            raise ReaderLost(
                f"Cannot open {self.path} ({exc}). Is the reader plugged in, and is Maestro's user in "
                "the 'input' group?"
            ) from exc
        decoder = WedgeDecoder()
        try:
            while not stop.is_set():
                if not _readable(device.fd, 0.2):
                    continue
                for event in device.read():
                    if event.type != evdev.ecodes.EV_KEY or event.value != 1:  # key down only
                        continue
                    uid = decoder.key_down(str(evdev.ecodes.KEY.get(event.code, "")))
                    if uid:
                        emit(TagEvent("tap", uid))
                        emit(TagEvent("removed", uid))
        except OSError as exc:
            raise ReaderLost(f"The reader {self.path} went away ({exc}).") from exc
        finally:
            with contextlib.suppress(OSError):
                device.close()


def _readable(fd: int, timeout: float) -> bool:
    import select

    return bool(select.select([fd], [], [], timeout)[0])


class ScriptedReader:
    """A reader that follows a script (tests, the demo): one step per line.

    ``wait 1.5`` · ``tap 04A1B2C3`` · ``tap 04A1B2C3 spotify:album:...`` (the card
    carries that NDEF URI) · ``remove`` · ``unplug 2`` (the reader is gone for 2 s).
    """

    STEP = re.compile(r"^(wait|tap|remove|unplug)\b\s*(.*)$")

    def __init__(
        self,
        steps: Iterable[str],
        *,
        speed: float = 1.0,
        description: str = "scripted reader",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.steps = [line.strip() for line in steps if line.strip() and not line.strip().startswith("#")]
        for number, line in enumerate(self.steps, 1):
            if not self.STEP.match(line):
                raise UsageError(f"{description}: step {number} {line!r}: expected wait/tap/remove/unplug")
        self.speed = speed
        self.description = description
        self.clock = clock  # when an unplugged reader is back
        self.position = 0
        self._back_at = 0.0
        self.finished = threading.Event()

    @classmethod
    def from_file(cls, path: Path) -> ScriptedReader:
        try:
            lines = read_text(Path(path)).splitlines()
        except FileNotFoundError as exc:
            raise UsageError(f"Cannot read the NFC script {path}: no such file.") from exc
        return cls(lines, description="scripted card reader")

    def run(self, emit: Emit, stop: threading.Event) -> None:
        if self.clock() < self._back_at:
            raise ReaderLost(f"The {self.description} is unplugged.")
        present: str | None = None
        while self.position < len(self.steps) and not stop.is_set():
            verb, rest = self.STEP.match(self.steps[self.position]).groups()  # type: ignore[union-attr]
            self.position += 1
            if verb == "wait":
                stop.wait(float(rest or 0) / self.speed)
            elif verb == "tap":
                uid, _, uri = rest.partition(" ")
                present = uid
                emit(TagEvent("tap", uid, _ndef_uri(uri.strip()) if uri.strip() else None))
            elif verb == "remove" and present is not None:
                emit(TagEvent("removed", present))
                present = None
            elif verb == "unplug":
                self._back_at = self.clock() + float(rest or 1) / self.speed
                raise ReaderLost(f"The {self.description} was unplugged.")
        self.finished.set()
        stop.wait()


def _ndef_uri(uri: str) -> bytes:
    import ndef

    return b"".join(ndef.message_encoder([ndef.UriRecord(uri)]))


def make_reader(spec: str) -> Reader | None:
    """``[nfc] reader``: none | nfcpy:usb | nfcpy:tty:S0:pn532 | evdev:/dev/input/eventN | scripted:FILE."""
    kind, _, where = spec.partition(":")
    if kind in ("", "none"):
        return None
    if kind == "nfcpy":
        return NfcpyReader(where or "usb")
    if kind == "evdev" and where:
        return EvdevReader(where)
    if kind == "scripted" and where:
        return ScriptedReader.from_file(Path(where).expanduser())
    raise UsageError(
        f"[nfc] reader = {spec!r}: expected none, nfcpy:usb, nfcpy:tty:S0:pn532, "
        "evdev:/dev/input/eventN or scripted:FILE"
    )


class ReaderService:
    """Runs a reader on a thread and hands its events to the event loop; a lost reader is retried.

    ``on_trouble(message)`` is called once when the reader goes away (not at
    every retry) and ``on_back()`` when it works again.
    """

    def __init__(
        self,
        reader: Reader,
        *,
        on_trouble: Callable[[str], object] | None = None,
        on_back: Callable[[], object] | None = None,
        backoff_s: tuple[float, float] = (1.0, 30.0),
    ) -> None:
        self.reader = reader
        self.on_trouble = on_trouble
        self.on_back = on_back
        self.backoff_s = backoff_s
        self.events: asyncio.Queue[TagEvent] = asyncio.Queue()
        self.trouble: str | None = None
        self.attempts = 0

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        halt = threading.Event()
        delay = self.backoff_s[0]
        saw_event = False

        def emit(event: TagEvent) -> None:
            nonlocal saw_event
            saw_event = True
            loop.call_soon_threadsafe(self.events.put_nowait, event)

        stopping = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                self.attempts += 1
                worker = asyncio.create_task(asyncio.to_thread(self.reader.run, emit, halt))
                if self.trouble is not None:
                    await asyncio.sleep(0.2)  # it opened (no error at once): the reader is back
                    if not worker.done():
                        await self._back()
                done, _ = await asyncio.wait({worker, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if stopping in done:
                    halt.set()
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(worker, 2.0)
                    return
                error = worker.exception()
                if error is None:
                    continue  # a reader that finished its work (a script) and was told to stop
                if not isinstance(error, MaestroError):
                    error = ReaderLost(f"The {self.reader.description} failed ({error}).")
                if not isinstance(error, ReaderLost):
                    raise error  # a missing library or a bad setting: retrying will not help
                if saw_event and self.trouble is None:
                    delay = self.backoff_s[0]  # it had been working: retry quickly first
                await self._trouble(str(error))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                delay = min(delay * 2, self.backoff_s[1])
        finally:
            halt.set()
            stopping.cancel()

    async def _trouble(self, message: str) -> None:
        if self.trouble is None:
            log.warning("%s", message)
            self.trouble = message
            if self.on_trouble is not None:
                result = self.on_trouble(message)
                if asyncio.iscoroutine(result):
                    await result

    async def _back(self) -> None:
        self.trouble = None
        log.info("%s is back", self.reader.description)
        if self.on_back is not None:
            result = self.on_back()
            if asyncio.iscoroutine(result):
                await result
