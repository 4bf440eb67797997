"""Card readers (scripted, nfcpy, keyboard wedge), the retrying reader service, and what a tap means."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from pathlib import Path

import ndef
import pytest

from maestro.errors import MaestroError, UsageError
from maestro.nfc.cards import UNKNOWN_CARD, CardCommand, Cards
from maestro.nfc.readers import (
    EvdevReader,
    NfcpyReader,
    ReaderLost,
    ReaderService,
    ScriptedReader,
    TagEvent,
    WedgeDecoder,
    make_reader,
)
from maestro.nfc.tags import TagStore, action_for
from tests.waiting import FakeClock

ALBUM = "spotify:album:p20IVD9KD4N2EBDzU5oRJd"


def run_script(reader: ScriptedReader) -> list[TagEvent]:
    events: list[TagEvent] = []
    stop = threading.Event()
    thread = threading.Thread(target=reader.run, args=(events.append, stop))
    thread.start()
    assert reader.finished.wait(5)
    stop.set()
    thread.join(5)
    return events


def test_scripted_reader_taps_removes_and_carries_ndef() -> None:
    events = run_script(
        ScriptedReader([f"tap 04A1B2C3 {ALBUM}", "wait 0.01", "remove", "# a comment", "tap 0455"])
    )
    assert [(e.kind, e.uid) for e in events] == [
        ("tap", "04A1B2C3"),
        ("removed", "04A1B2C3"),
        ("tap", "0455"),
    ]
    record = next(iter(ndef.message_decoder(events[0].ndef)))
    assert record.iri == ALBUM and events[2].ndef is None


def test_scripted_reader_unplug_stays_gone_until_replugged() -> None:
    clock = FakeClock()
    reader = ScriptedReader(["tap 01", "unplug 0.3", "tap 02"], clock=clock)
    events: list[TagEvent] = []
    with pytest.raises(ReaderLost, match="unplugged"):
        reader.run(events.append, threading.Event())
    clock.advance(0.29)
    with pytest.raises(ReaderLost):
        reader.run(events.append, threading.Event())  # still unplugged
    clock.advance(0.02)
    assert [e.uid for e in run_script(reader)] == ["02"] and [e.uid for e in events] == ["01"]


def test_bad_script_and_bad_setting_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="step 2"):
        ScriptedReader(["tap 01", "jump 3"])
    with pytest.raises(UsageError, match="Cannot read the NFC script"):
        make_reader(f"scripted:{tmp_path / 'missing.txt'}")
    with pytest.raises(UsageError, match="evdev:/dev/input/eventN"):
        make_reader("bluetooth:foo")
    assert make_reader("none") is None
    assert isinstance(make_reader("nfcpy:tty:S0:pn532"), NfcpyReader)
    assert isinstance(make_reader("evdev:/dev/input/event3"), EvdevReader)


async def test_service_says_once_that_the_reader_is_gone_and_when_it_is_back() -> None:
    said: list[str] = []
    reader = ScriptedReader(["tap 01", "remove", "unplug 0.5", "tap 02", "remove"])

    async def trouble(message: str) -> None:
        said.append(message)

    service = ReaderService(
        reader, on_trouble=trouble, on_back=lambda: said.append("back"), backoff_s=(0.1, 0.2)
    )
    stop = asyncio.Event()
    running = asyncio.create_task(service.run(stop))
    events = [await asyncio.wait_for(service.events.get(), 5) for _ in range(4)]
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.wait_for(running, 3)
    assert [(e.kind, e.uid) for e in events] == [
        ("tap", "01"),
        ("removed", "01"),
        ("tap", "02"),
        ("removed", "02"),
    ]
    assert said == ["The scripted reader was unplugged.", "back"]  # retried several times, said once
    assert service.attempts >= 3


async def test_service_gives_up_on_a_missing_library(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "nfc", None)
    service = ReaderService(NfcpyReader("usb"))
    with pytest.raises(MaestroError, match=r"maestro-remote\[nfc\]"):
        await asyncio.wait_for(service.run(asyncio.Event()), 3)


def test_nfcpy_without_a_reader_says_what_to_check() -> None:
    pytest.importorskip("nfc", reason="nfcpy is the [nfc] extra; ./dev setup installs it")
    with pytest.raises(ReaderLost, match=r"No NFC reader at usb:0000:0000"):
        NfcpyReader("usb:0000:0000").run(lambda e: None, threading.Event())


def test_evdev_reader_names_its_extra_or_the_missing_device(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "evdev", None)
    with pytest.raises(MaestroError, match=r"maestro-remote\[evdev\]"):
        EvdevReader("/dev/input/event99").run(lambda e: None, threading.Event())


def test_wedge_decoder_turns_typed_keys_into_uids() -> None:
    decoder = WedgeDecoder()
    typed = ["KEY_0", "KEY_4", "KEY_A", "KEY_1", "KEY_LEFTSHIFT", "KEY_B", "KEY_KP2"]
    assert [decoder.key_down(k) for k in typed] == [None] * len(typed)
    assert decoder.key_down("KEY_ENTER") == "04A1B2"
    assert decoder.key_down("KEY_KPENTER") is None  # an empty line is not a card


@pytest.fixture
def cards(tmp_path: Path) -> Cards:
    store = TagStore(tmp_path / "tags.yaml", in_use=True)  # the daemon's cards
    store.add("04D4E5F6", action_for("volume 30"))
    store.add("04990000", action_for("https://open.spotify.com/intl-de/album/p20IVD9KD4N2EBDzU5oRJd?si=abc"))
    now = [100.0]
    return Cards(store, window_s=5, clock=lambda: now[0])


def ndef_bytes(*records: ndef.Record) -> bytes:
    return b"".join(ndef.message_encoder(list(records)))


def test_what_a_tap_means(cards: Cards) -> None:
    assert cards.on_event(TagEvent("tap", "04D4E5F6")) == CardCommand("04D4E5F6", text="volume 30")
    assert cards.on_event(TagEvent("tap", "04D4E5F6")) is None  # resting on the reader
    cards.on_event(TagEvent("removed", "04D4E5F6"))
    assert cards.on_event(TagEvent("tap", "04990000")) == CardCommand("04990000", uri=ALBUM)  # link -> URI
    on_card = ndef_bytes(ndef.UriRecord("spotify:playlist:37i9dQZF1DXcBWIGoYBM5M"))
    assert cards.on_event(TagEvent("tap", "0777", on_card)).uri == "spotify:playlist:37i9dQZF1DXcBWIGoYBM5M"
    assert cards.on_event(TagEvent("tap", "0AAA")) == CardCommand("0AAA", problem=UNKNOWN_CARD)
    assert cards.last_unknown == "0AAA"
    damaged = cards.on_event(TagEvent("tap", "0BBB", b"\xd1\x01\xff"))
    assert damaged is not None and damaged.problem and "damaged" in damaged.problem


@pytest.mark.parametrize("behaviour", ["toggle", "restart", "ignore"])
def test_second_tap_within_the_window(tmp_path: Path, behaviour: str) -> None:
    now = [0.0]
    cards = Cards(TagStore(tmp_path / "tags.yaml"), second_tap=behaviour, window_s=5, clock=lambda: now[0])
    assert cards.on_event(TagEvent("tap", "01", ndef_bytes(ndef.UriRecord(ALBUM)))).uri == ALBUM
    cards.on_event(TagEvent("removed", "01"))
    now[0] = 3
    second = cards.on_event(TagEvent("tap", "01", ndef_bytes(ndef.UriRecord(ALBUM))))
    assert second == (None if behaviour == "ignore" else CardCommand("01", second_tap=behaviour))
    cards.on_event(TagEvent("removed", "01"))
    now[0] = 20  # long after: a fresh tap plays again
    assert cards.on_event(TagEvent("tap", "01", ndef_bytes(ndef.UriRecord(ALBUM)))).uri == ALBUM


def test_tags_yaml_edited_while_running(cards: Cards) -> None:
    path = cards.store.path
    path.write_text(path.read_text() + "'04CC0CCC': pause\n")
    os.utime(path, (time.time() + 5, time.time() + 5))
    assert cards.mapping_problem() is None
    assert cards.on_event(TagEvent("tap", "04CC0CCC")).text == "pause"
    path.write_text("04CC0CCC: [broken\n")
    os.utime(path, (time.time() + 10, time.time() + 10))
    problem = cards.mapping_problem()
    assert problem and "tags.yaml:" in problem and "previous card list" in problem
    assert cards.mapping_problem() is None  # said once
    cards.on_event(TagEvent("removed", "0CCC"))
    assert cards.on_event(TagEvent("tap", "04D4E5F6")).text == "volume 30"  # the last good mapping
