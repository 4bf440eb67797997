"""`maestro demo`: the whole sign-in and a short session, with no account and no hardware.

It starts the sandbox on loopback, signs in through the real device flow (the
code is spoken and shown, then the sandbox approves it, as a phone would), and
carries out a short scripted session through the same code path as `maestro
say`, speaking each reply (or writing it to WAV files with ``--no-audio``) and
drawing each screen on the terminal.

Voice input and NFC cards join the demo with the voice and daemon issues: for
now the commands are typed by the script.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

import httpx

from maestro import config
from maestro.display.devices import TerminalDisplay
from maestro.errors import MaestroError
from maestro.sandbox.app import create_app
from maestro.sandbox.state import SandboxState
from maestro.serving import serve_in_thread
from maestro.session import Session
from maestro.voice.tts import SilentSpeaker, Speaker, WavSpeaker, make_speaker

SCRIPT = [
    "play abbey road in the living room",
    "turn it up a bit",
    "what's playing",
    "skip this song",
    "shuffle on",
    "play some miles davis in the kitchen",
    "who sings this",
    "pause",
]


def _has_sound_card() -> bool:
    if not sys.platform.startswith("linux"):
        return True  # let the speech engine find out
    try:
        cards = Path("/proc/asound/cards").read_text()
    except OSError:
        return False  # no ALSA at all (a container, a VM)
    return "no soundcards" not in cards and bool(cards.strip())


def _speaker(no_audio: bool, out_dir: Path) -> Speaker:
    if not no_audio and not _has_sound_card():
        print(f"(no sound card here: the spoken replies go to WAV files in {out_dir})")
        no_audio = True
    if no_audio:
        return WavSpeaker(out_dir)
    try:
        return make_speaker("pyttsx3")
    except MaestroError as exc:
        print(f"(no speech: {exc})")
        return SilentSpeaker()


async def run_demo(*, no_audio: bool = False, out_dir: Path | None = None) -> int:
    out_dir = out_dir or Path(tempfile.mkdtemp(prefix="maestro-demo-"))
    sandbox = create_app(state=SandboxState(poll_interval=1))
    with serve_in_thread(sandbox) as url, tempfile.TemporaryDirectory() as state_dir:
        env = {
            "MAESTRO_SPOTIFY_API_URL": f"{url}/v1",
            "MAESTRO_SPOTIFY_ACCOUNTS_URL": url,
            "MAESTRO_SPOTIFY_CLIENT_ID": "maestro-sandbox",
            "MAESTRO_PLAYER_DEFAULT_DEVICE": "Living Room",
        }
        settings = config.load(env)
        speaker = _speaker(no_audio, out_dir / "speech")
        display = TerminalDisplay()
        print(f"Maestro demo: a stand-in for Spotify runs at {url} (no account needed).\n")
        approved = asyncio.Event()

        async def phone(code: str) -> None:
            await asyncio.sleep(1.5)  # the code has been shown, and is being read out
            async with httpx.AsyncClient() as http:
                await http.post(f"{url}/sandbox/approve", json={"user_code": code})
            print(f"(the phone approved code {code})")
            approved.set()

        tasks: list[asyncio.Task[None]] = []

        def print_line(line: str) -> None:
            print(line, flush=True)
            if line.startswith("Code: "):
                tasks.append(asyncio.create_task(phone(line.removeprefix("Code: "))))

        async with Session.open(settings, state_dir=Path(state_dir)) as session:
            try:
                name = await session.pair(speaker, display, print_line=print_line, repeat_s=30)
                print(f"\nSigned in as {name}. Now a few commands (typed for now; voice comes next):\n")
                await session.ensure_library()
                for text in SCRIPT:
                    print(f"> {text}")
                    _, reply = await session.handle(text)
                    await display.show(reply.screen)
                    print(f"  {reply.speech}\n", flush=True)
                    await speaker.say(reply.speech)
            finally:
                await display.aclose()
                await speaker.aclose()
        if isinstance(speaker, WavSpeaker):
            print(f"Spoken replies were written to {speaker.directory}")
    return 0
