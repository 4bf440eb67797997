"""`maestro tags learn`: tap a card, then type (or say) what it should do.

The reader is the one in ``[nfc] reader``. While `maestro run` holds it, the
daemon remembers the last card it did not know (``last-unknown-card`` in the
state dir), and learn offers that card instead of failing.
An action is checked before it is saved: a Spotify link must be playable, a
command must be one Maestro understands. With ``--write`` (nfcpy readers) a
Spotify link is also written onto the card as an NDEF URI record, so the card
works on any Maestro without tags.yaml.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path

from maestro.config import Settings
from maestro.errors import MaestroError, UsageError
from maestro.fsutil import BadFileError, atomic_write_text, read_json
from maestro.intents import Matcher
from maestro.nfc.readers import NfcpyReader, Reader, ReaderLost, ReaderService, TagEvent
from maestro.nfc.tags import TagAction, TagError, TagStore, action_for, check_uid

LAST_UNKNOWN = "last-unknown-card.json"
LAST_UNKNOWN_FRESH_S = 600.0


def remember_unknown(state_dir: Path, uid: str, now: float | None = None) -> None:
    """The daemon notes a card it did not know, for `tags learn` to offer."""
    atomic_write_text(
        state_dir / LAST_UNKNOWN, json.dumps({"uid": uid, "at": now or time.time()}), private=True
    )


def recent_unknown(state_dir: Path, now: float | None = None) -> str | None:
    try:
        data = read_json(state_dir / LAST_UNKNOWN)
        uid, at = str(data["uid"]), float(data["at"])
    except (OSError, ValueError, KeyError, TypeError, BadFileError):
        return None
    return uid if (now or time.time()) - at <= LAST_UNKNOWN_FRESH_S else None


async def wait_for_tap(reader: Reader, timeout_s: float) -> TagEvent:
    """The first card laid on the reader; ReaderLost/MaestroError when the reader cannot be used."""
    service = ReaderService(reader, backoff_s=(timeout_s, timeout_s))
    stop = asyncio.Event()
    running = asyncio.create_task(service.run(stop))
    getting = asyncio.create_task(service.events.get())
    try:
        done, _ = await asyncio.wait(
            {running, getting}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
        if getting in done:
            return getting.result()
        if running in done and running.exception() is not None:
            raise running.exception()  # type: ignore[misc]
        if service.trouble:
            raise ReaderLost(service.trouble)
        raise UsageError(f"No card was laid on the reader within {timeout_s:.0f} seconds.")
    finally:
        stop.set()
        getting.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(running, 3)


def check_action(text: str, matcher: Matcher) -> TagAction:
    """A Spotify link, or a command Maestro understands; else a TagError saying which."""
    action = action_for(text)
    if action.command is not None:
        recognition = matcher.match(action.command)
        if recognition.intent is None:
            raise TagError(
                f'"{action.command}" is not a command Maestro understands '
                '(try "pause", "volume 30", "play on kitchen", or a Spotify link).'
            )
    return action


def _ask(ask: Callable[[str], str], question: str) -> str:
    try:
        return ask(question).strip().lower()
    except EOFError:  # input ended (a script, Ctrl-D): no is the safe answer
        return ""


def reading_of(text: str, matcher: Matcher) -> str:
    """What a command means, in words: "the album Abbey Road", "a Spotify search for mamidos"."""
    recognition = matcher.match(text)
    named = [v for v in recognition.slots.values() if hasattr(v, "kind") and v.uri]
    if named:
        return f"the {named[0].kind} {named[0].name}"
    query = recognition.slots.get("query")
    if recognition.intent in ("PlaySearch", "Queue") and query:
        return f"a Spotify search for {query!r}, not a name in your library"
    return recognition.intent or "not understood"


def ask_action(matcher: Matcher, ask: Callable[[str], str], say: Callable[[str], None]) -> TagAction:
    """Asks until the answer is a usable action (an empty answer gives up)."""
    while True:
        try:
            answer = ask('What should this card do? (a Spotify link, or a command like "pause"): ').strip()
        except EOFError:  # input ended (a script, Ctrl-D)
            raise UsageError("Nothing saved: no answer was given.") from None
        if not answer:
            raise UsageError("Nothing saved.")
        try:
            return check_action(answer, matcher)
        except TagError as exc:
            say(str(exc))


async def hear_action(settings: Settings, matcher: Matcher, state_dir: Path, timeout_s: float = 15.0) -> str:
    """One spoken command (no wake phrase), from the microphone or ``[voice] input_device``, within
    ``timeout_s`` in all (no microphone at all included)."""
    try:
        async with asyncio.timeout(timeout_s):
            return await _hear_action(settings, matcher, state_dir, timeout_s)
    except TimeoutError:
        raise UsageError(
            f"I heard no command within {timeout_s:.0f} seconds. Is a microphone connected "
            '(maestro doctor checks)? Or type it: maestro tags learn "volume 30".'
        ) from None


async def _hear_action(settings: Settings, matcher: Matcher, state_dir: Path, timeout_s: float) -> str:
    from maestro.intents import load_spec
    from maestro.voice.audio import input_source
    from maestro.voice.events import GaveUp, Heard
    from maestro.voice.listener import listen_to
    from maestro.voice.pipeline import listener_for

    device = settings.voice.input_device
    listener = await asyncio.to_thread(
        listener_for, settings, load_spec(), matcher.library, matcher, cache_dir=state_dir / "speech",
        wake=False, speech_timeout_s=timeout_s,
    )  # fmt: skip
    async for event in listen_to(input_source(device, realtime=False), listener):
        if isinstance(event, Heard):
            return event.transcript
        if isinstance(event, GaveUp):
            break
    raise UsageError('I heard no command. Try again, or type it: maestro tags learn "volume 30".')


def write_uri(reader: NfcpyReader, uri: str, timeout_s: float = 20.0) -> None:
    """Writes ``uri`` onto the card on the reader as an NDEF URI record (nfcpy only)."""
    import ndef

    try:
        import nfc
    except ImportError as exc:
        raise MaestroError("Writing cards needs nfcpy: pip install 'maestro-remote[nfc]'.") from exc
    outcome: dict[str, str] = {}
    deadline = time.monotonic() + timeout_s

    def connected(tag: object) -> bool:
        tag_ndef = getattr(tag, "ndef", None)
        if tag_ndef is None or not tag_ndef.is_writeable:
            outcome["error"] = "This card cannot hold a link (not NDEF-formatted, or locked)."
        else:
            try:
                tag_ndef.records = [ndef.UriRecord(uri)]
                outcome["ok"] = "written"
            except Exception as exc:  # nfcpy raises several kinds; the card was lifted too soon, mostly
                outcome["error"] = f"Writing failed ({exc}); keep the card still and try again."
        return False

    try:
        frontend = nfc.ContactlessFrontend(reader.path)
    except OSError as exc:
        raise ReaderLost(f"No NFC reader at {reader.path} ({exc}).") from exc
    try:
        frontend.connect(rdwr={"on-connect": connected}, terminate=lambda: time.monotonic() > deadline)
    finally:
        frontend.close()
    if "error" in outcome or "ok" not in outcome:
        raise MaestroError(outcome.get("error", "No card to write to."))


def learn(
    reader: Reader | None,
    store: TagStore,
    matcher: Matcher,
    state_dir: Path,
    *,
    action_text: str | None,
    write: bool,
    timeout_s: float,
    hear: Callable[[], str] | None = None,
    ask: Callable[[str], str] = input,
    say: Callable[[str], None] = print,
) -> tuple[str, TagAction]:
    """Waits for a card (or takes the daemon's last unknown one), asks what it does, saves it."""
    if reader is None:
        raise UsageError('No card reader is set: set [nfc] reader in config.toml (e.g. "nfcpy:usb").')
    if write and not isinstance(reader, NfcpyReader):  # said before the tap, not after it
        raise UsageError('--write needs an nfcpy reader ([nfc] reader = "nfcpy:usb").')
    say("Lay the card on the reader...")
    try:
        event = asyncio.run(wait_for_tap(reader, timeout_s))
        uid = check_uid(event.uid)
    except ReaderLost as exc:
        remembered = recent_unknown(state_dir)
        if remembered is None:
            raise MaestroError(f"{exc} If `maestro run` is using the reader, stop it while learning "
                               "(sudo systemctl stop maestro), or tap the card while it runs and "
                               "then run learn again.") from exc  # fmt: skip
        say(f"The reader is busy; using the card Maestro last saw and did not know: {remembered}.")
        uid = remembered
    existing = store.lookup(uid)
    if existing is not None:
        say(f"Card {uid} now does {existing.describe()}; it will be replaced.")
    else:
        say(f"Card {uid}.")
    if hear is not None and not action_text:
        say("Say what this card should do, for example: play abbey road.")
        heard = hear()
        action = check_action(heard, matcher)
        # Speech can be misheard ("play mamidos" for "play the beatles"): read it back, ask first.
        answer = _ask(ask, f'Heard: "{heard}" ({reading_of(heard, matcher)}). Save it for this card? [y/N] ')
        if answer not in ("y", "yes"):
            raise UsageError('Nothing saved. Try again, or type it: maestro tags learn "play abbey road".')
    else:
        action = check_action(action_text, matcher) if action_text else ask_action(matcher, ask, say)
    if write:
        if action.uri is None:
            raise UsageError("--write puts a Spotify link on the card; a command stays in tags.yaml only.")
        say("Keep the card on the reader: writing...")
        write_uri(reader, action.uri)
        say(f"Wrote {action.uri} onto the card.")
    uid = store.add(uid, action)
    with contextlib.suppress(OSError):
        (state_dir / LAST_UNKNOWN).unlink()
    return uid, action
