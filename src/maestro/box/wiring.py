"""The box wired: the one place where the daemon's parts are made from the settings.

:func:`daemon_runtime` builds everything `maestro run` needs around a :class:`Session` (which wires
the Spotify side: tokens, client, player, library, matcher, actions): the card reader and the
cards, the display, the speaker, the status file and the :class:`Runtime` with its voice.
:func:`default_voice` makes the voice (the microphone, or ``wav:FILE``, and a listener from
:mod:`maestro.voice.pipeline`); the demo uses it too.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from maestro import config
from maestro.box.runtime import Runtime
from maestro.box.status import StatusWriter
from maestro.box.troubles import Troubles
from maestro.box.voice_loop import Names, VoiceInput
from maestro.display.devices import Display, make_display
from maestro.nfc.cards import Cards
from maestro.nfc.readers import make_reader
from maestro.nfc.tags import TagStore
from maestro.session import Session
from maestro.voice.asr import Engine, engine_for
from maestro.voice.audio import input_source
from maestro.voice.pipeline import listener_for
from maestro.voice.tts import Speaker, speaker_for
from maestro.voice.whisper import command_prompt


@dataclass
class Daemon:
    runtime: Runtime
    #: What it listens to, in words ("voice and NFC cards").
    inputs: list[str]
    #: Closed when the daemon stops.
    display: Display
    speaker: Speaker


def daemon_runtime(session: Session, state_dir: Path, print_line: Callable[[str], None]) -> Daemon:
    """The daemon's parts, as the settings ask for them."""
    settings = session.settings
    reader = make_reader(settings.nfc.reader)
    cards = Cards(
        TagStore(config.config_dir() / "tags.yaml", in_use=True),
        second_tap=settings.nfc.second_tap,
        window_s=settings.nfc.second_tap_window_s,
    )
    display = make_display(settings.display)
    speaker = speaker_for(settings.tts, print_line)  # without a sound card: said once, then silent
    inputs = [name for name, on in (("voice", settings.voice.enabled), ("NFC cards", reader)) if on]
    runtime = Runtime(
        session,
        speaker,
        display,
        voice=default_voice if settings.voice.enabled else None,
        reader=reader,
        cards=cards,
        poll_s=settings.player.poll_s,
        print_line=print_line,
        status=StatusWriter(state_dir, os.getpid(), time.time(), inputs),
    )
    return Daemon(runtime, inputs, display, speaker)


class Box(Protocol):
    """What building the voice needs of the box (the runtime)."""

    session: Session
    troubles: Troubles
    speaker: Speaker

    def names(self) -> Names: ...


def default_voice(box: Box) -> VoiceInput:
    """The configured microphone (or ``wav:FILE``) and a listener for the session's intents and names.

    Builds the command model (about a second when it is not cached), so it is
    called on a worker thread.
    """
    session, troubles = box.session, box.troubles
    settings = session.settings
    names = box.names()
    listener = listener_for(
        settings, session.spec, session.library, session.matcher, cache_dir=session.state_dir / "speech",
        is_speaking=box.speaker.speaking.is_set,
    )  # fmt: skip

    listener.keep_audio = settings.voice.keep_audio

    def build() -> Engine:
        if listener.neural is not None:  # Whisper's prompt carries the names too
            listener.neural.prompt = command_prompt(session.spec, session.library)
        return engine_for(settings, session.spec, session.library, cache_dir=session.state_dir / "speech")

    source = input_source(
        settings.voice.input_device,
        realtime=True,  # a file plays like a microphone: commands arrive over time
        on_trouble=lambda message: troubles.report(message, "microphone"),
        on_back=lambda: troubles.resolved("microphone", "The microphone is back."),
    )
    return VoiceInput(source, listener, rebuild=build, names=names)
