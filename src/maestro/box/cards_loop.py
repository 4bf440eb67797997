"""The daemon's card loop: reader events -> :class:`~maestro.nfc.cards.Cards` -> play a card, run its
command, or toggle on a second tap; a lost reader is retried, a broken one reported."""

from __future__ import annotations

import asyncio
import contextlib

from maestro.box.commands import Commands
from maestro.box.troubles import Troubles
from maestro.errors import MaestroError
from maestro.intents import Recognition
from maestro.messages import Reply, Screen
from maestro.nfc.cards import UNKNOWN_CARD, CardCommand, Cards
from maestro.nfc.learn import remember_unknown
from maestro.nfc.readers import Reader, ReaderService
from maestro.session import Session


async def cards_loop(
    reader: Reader, cards: Cards, stop: asyncio.Event, *, session: Session, commands: Commands,
    troubles: Troubles,
) -> None:  # fmt: skip
    """Reader events -> card commands, until ``stop``."""
    service = ReaderService(
        reader,
        on_trouble=lambda message: troubles.report(message, "nfc"),
        on_back=lambda: troubles.resolved("nfc", "The card reader is back."),
    )
    running = asyncio.create_task(service.run(stop))
    try:
        while True:
            getting = asyncio.create_task(service.events.get())
            done, _ = await asyncio.wait({getting, running}, return_when=asyncio.FIRST_COMPLETED)
            if running in done:
                getting.cancel()
                if running.exception() is not None:  # a missing library, a bad setting
                    await troubles.report(f"Cards are off: {running.exception()}", "nfc")
                return
            problem = cards.mapping_problem()
            if problem:
                await troubles.report(problem, "tags")
            card = cards.on_event(getting.result())
            if card is not None:
                await commands.run(
                    "card", lambda card=card: card_reply(session, card), f"card {card.uid}",  # type: ignore[misc]
                    details={"uid": card.uid, "action": card_action(card)},
                )  # fmt: skip
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError, MaestroError):
            await running


def card_action(card: CardCommand) -> str:
    """What a tap does, in one word (Home Assistant's event): play, command, toggle, restart,
    unknown (a card not yet assigned) or unreadable."""
    if card.problem:
        return "unknown" if card.problem == UNKNOWN_CARD else "unreadable"
    if card.second_tap:
        return card.second_tap
    return "play" if card.uri else "command"


async def card_reply(session: Session, card: CardCommand) -> Reply:
    """What one tap does: its URI played, its command run, a second tap's toggle or restart."""
    actions = session.actions
    if card.problem:
        if card.problem == UNKNOWN_CARD:  # `maestro tags learn` offers it while the daemon holds the reader
            with contextlib.suppress(OSError):
                remember_unknown(session.state_dir, card.uid)
        return Reply(card.problem, Screen("message", "Card", (card.problem,)), ok=False, intent=None)
    if card.second_tap == "toggle":
        return await actions.toggle()
    if card.second_tap == "restart":
        return await actions.run(Recognition(text="", intent="Restart", score=1.0))
    if card.uri:
        return await actions.play_uri(card.uri)
    return await actions.run(session.matcher.match(card.text or ""))
