"""Helpers the e2e tests share."""

from __future__ import annotations

from pathlib import Path

from maestro import config
from maestro.intents.spec import default_intents_path
from maestro.messages import Reply
from maestro.session import Session
from tests.live import LiveSandbox


def open_session(live: LiveSandbox, state_dir: Path, **env: str) -> Session:
    settings = config.load({**live.env(state_dir), **env})
    return Session.open(settings, state_dir=state_dir, intents=default_intents_path())


async def say(session: Session, text: str) -> Reply:
    recognition, reply = await session.handle(text)
    assert recognition.intent is not None, text
    return reply


def playback(live: LiveSandbox) -> dict:
    return live.snapshot()["playback"]
