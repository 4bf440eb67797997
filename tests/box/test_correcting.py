""" "No, I meant ..." right after a voice command: learned as the user's phrasing, and done."""

from __future__ import annotations

from pathlib import Path

from maestro import config
from maestro.box.correcting import WINDOW_S, Corrector, meant_in
from maestro.intents.spec import default_intents_path
from maestro.session import Session
from tests.live import LiveSandbox
from tests.waiting import FakeClock


def test_what_a_correction_says() -> None:
    assert meant_in("no, I meant play abbey road") == "play abbey road"
    assert meant_in("sorry i meant next song") == "next song"
    assert meant_in("i meant pause") == "pause"
    assert meant_in("play i meant to buy") is None and meant_in("no") is None


async def test_a_correction_is_learned_and_done(live: LiveSandbox, tmp_path: Path) -> None:
    live.pair_into(tmp_path)
    settings = config.load({**live.env(tmp_path), "MAESTRO_PLAYER_DEFAULT_DEVICE": "Kitchen"})
    clock = FakeClock()
    async with Session.open(settings, state_dir=tmp_path, intents=default_intents_path()) as session:
        corrector = Corrector(session, clock=clock)
        assert await corrector.reply("no i meant play abbey road") is None  # nothing before it
        corrector.note("stick on abbey road")
        assert await corrector.reply("play abbey road") is None  # no correction: and the moment passed
        corrector.note("stick on abbey road")
        recognition, reply = await corrector.reply("no i meant play abbey road")  # type: ignore[misc]
        assert recognition.intent == "PlayAlbum" and reply.ok
        assert reply.speech.startswith(
            "Got it: “stick on abbey road” means that from now on. Playing Abbey Road"
        )
        assert session.matcher.match("stick on kind of blue").intent == "PlayAlbum"  # and others like it
        corrector.note("whatever that was")
        clock.advance(WINDOW_S + 1)
        assert await corrector.reply("no i meant pause") is None  # too long after
        corrector.note("put that on")
        recognition, reply = await corrector.reply("i meant play rumours")  # type: ignore[misc]
        assert reply.speech.startswith("I couldn't learn that: I couldn't find “Rumours”")
        assert recognition.intent == "PlayAlbum"  # what was meant is still done
    assert live.snapshot()["playback"]["album_name"] == "Rumours"
    assert [p.template for p in session.personal.phrasings] == ["stick on {known_album:album}"]
