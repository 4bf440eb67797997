"""The running box with its web app on a free loopback port, against the sandbox (tests, benches)."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from maestro import config
from maestro.box.runtime import Runtime
from maestro.display.devices import NullDisplay
from maestro.intents.spec import default_intents_path
from maestro.nfc.readers import Emit, TagEvent
from maestro.session import Session
from maestro.voice.tts import SilentSpeaker
from tests.live import LiveSandbox


class HandReader:
    """A card reader the test lays cards on when it is ready (``tap``), unlike a script's fixed times."""

    description = "card reader (test)"

    def __init__(self) -> None:
        self.cards: queue.Queue[str] = queue.Queue()

    def tap(self, uid: str) -> None:
        """The card laid on the reader and lifted again."""
        self.cards.put(uid)

    def run(self, emit: Emit, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                uid = self.cards.get(timeout=0.05)
            except queue.Empty:
                continue
            emit(TagEvent("tap", uid))
            stop.wait(0.2)
            emit(TagEvent("removed", uid))


@asynccontextmanager
async def web_box(
    live: LiveSandbox,
    state: Path,
    env: dict[str, str] | None = None,
    *,
    wait: bool = True,
    signed_in: bool = True,
    **runtime: Any,
) -> AsyncIterator[tuple[Runtime, str]]:
    """The box (signed in unless ``signed_in`` is False, default speaker Kitchen) and its web app's
    address, once it listens (``wait``: False when the web app is off; the address is then "")."""
    if signed_in:
        live.pair_into(state)
    env = {**live.env(state), "MAESTRO_WEB_ENABLED": "true", "MAESTRO_WEB_LISTEN": "127.0.0.1:0",
           "MAESTRO_PLAYER_DEFAULT_DEVICE": "Kitchen", **(env or {})}  # fmt: skip
    settings = config.load(env)
    intents = default_intents_path()  # and lasting, as the daemon: the learned parser trains aside
    async with Session.open(settings, state_dir=state, intents=intents, lasting=True) as session:
        runtime.setdefault("print_line", lambda line: None)
        box = Runtime(session, SilentSpeaker(), NullDisplay(), poll_s=0.2, **runtime)
        stop = asyncio.Event()
        task = asyncio.create_task(box.run(stop))
        try:
            async with asyncio.timeout(10):
                while wait and (box.web is None or not box.web.server.started):
                    await asyncio.sleep(0.01)
            yield box, box.web.url if box.web else ""
        finally:
            stop.set()
            await asyncio.wait_for(task, 5)
