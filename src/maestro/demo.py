"""`maestro demo`: sign-in, voice and a card, with no account and no hardware.

It starts the sandbox on loopback, signs in through the real device flow (the
code is spoken and shown, then the sandbox approves it, as a phone would),
then runs a short session through the daemon's own pipeline: each spoken
command is synthesised by espeak-ng ("hey maestro" first), mixed with a little
room noise and fed to the wake phrase and speech recogniser; one album card is
laid on the scripted NFC reader. Replies are spoken (or written to WAV files
with ``--no-audio``) and every screen is drawn on the terminal twin of the
OLED. With ``--mic`` the session is the real microphone instead, until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import tempfile
from pathlib import Path

import httpx

from maestro import config
from maestro.box.runtime import Runtime
from maestro.box.voice_loop import VoiceInput
from maestro.box.wiring import default_voice
from maestro.display.devices import TerminalDisplay
from maestro.errors import MaestroError
from maestro.nfc.cards import Cards
from maestro.nfc.readers import ScriptedReader
from maestro.nfc.tags import TagStore
from maestro.sandbox.app import create_app
from maestro.sandbox.state import SandboxState
from maestro.serving import serve_in_thread
from maestro.session import Session
from maestro.voice.audio import chunks, microphone_problem
from maestro.voice.pipeline import listener_for
from maestro.voice.synth import utterance
from maestro.voice.tts import SilentSpeaker, Speaker, WavSpeaker, has_sound_card, make_speaker

KIND_OF_BLUE = "spotify:album:BuCjpnijylH0iFcAnhiEn2"  # the sandbox catalogue's

#: ("say", words after "hey maestro") or ("card", URI written on the card).
SCRIPT: list[tuple[str, str]] = [
    ("say", "play abbey road"),
    ("say", "volume up"),
    ("say", "what is playing"),
    ("say", "skip to the next song"),
    ("card", KIND_OF_BLUE),
    ("say", "pause"),
]


def _speaker(no_audio: bool, out_dir: Path) -> Speaker:
    if not no_audio and not has_sound_card():
        print(f"(no sound card here: the spoken replies go to WAV files in {out_dir})")
        no_audio = True
    if no_audio:
        return WavSpeaker(out_dir)
    try:
        return make_speaker("auto")  # Piper's natural voice where it is installed
    except MaestroError as exc:
        print(f"(no speech: {exc})")
        return SilentSpeaker()


async def _pcm_source(pcm: bytes):  # type: ignore[no-untyped-def]
    for chunk in chunks(pcm):
        yield chunk
        await asyncio.sleep(0)


async def _scripted_session(runtime: Runtime, session: Session, state_dir: Path) -> None:
    listener = await asyncio.to_thread(
        listener_for, session.settings, session.spec, session.library, session.matcher,
        cache_dir=state_dir / "speech", is_speaking=runtime.speaker.speaking.is_set,
    )  # fmt: skip
    cards = Cards(TagStore(state_dir / "tags.yaml"))
    for step, what in SCRIPT:
        if step == "say":
            print(f'\nYou say: "hey maestro ... {what}"  (synthesised, fed to the recogniser)', flush=True)
            await runtime.voice.listen(
                _pcm_source(await asyncio.to_thread(utterance, "hey maestro", what)), listener
            )
        else:
            print(f"\nYou lay a card on the reader (it carries {what})", flush=True)
            reader = ScriptedReader([f"tap 04A1B2C3 {what}", "wait 0.3", "remove"])
            stop = asyncio.Event()
            loop = asyncio.create_task(runtime.cards_loop(reader, cards, stop))
            await asyncio.to_thread(reader.finished.wait, 10)
            await asyncio.sleep(0.1)
            await runtime.settle()
            stop.set()
            await loop
        await runtime.settle()


async def _mic_session(runtime: Runtime) -> int:
    problem = await asyncio.to_thread(microphone_problem, runtime.session.settings.voice.input_device)
    if problem is not None:
        print(f"\n{problem}", flush=True)
        return 1
    print('\nListening on the microphone: say "hey maestro", then a command. Ctrl-C ends the demo.')
    voice: VoiceInput = await asyncio.to_thread(default_voice, runtime)
    listening = asyncio.create_task(runtime.voice.listen(voice.source, voice.listener))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    listening.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await listening
    return 0


async def run_demo(*, no_audio: bool = False, out_dir: Path | None = None, mic: bool = False) -> int:
    out_dir = out_dir or Path(tempfile.mkdtemp(prefix="maestro-demo-"))
    sandbox = create_app(state=SandboxState(poll_interval=1))
    with serve_in_thread(sandbox) as url, tempfile.TemporaryDirectory() as state_dir:
        env = {
            "MAESTRO_SPOTIFY_API_URL": f"{url}/v1",
            "MAESTRO_SPOTIFY_ACCOUNTS_URL": url,
            "MAESTRO_SPOTIFY_CLIENT_ID": "maestro-sandbox",
            "MAESTRO_PLAYER_DEFAULT_DEVICE": "Living Room",
            "MAESTRO_VOICE_ENGINE": "pocketsphinx",
            "MAESTRO_WEB_LISTEN": "127.0.0.1:0",  # the web app on this machine only, on a free port
        }
        settings = config.load(env)
        speaker = _speaker(no_audio, out_dir / "speech")
        display = TerminalDisplay()
        print(f"Maestro demo: a stand-in for Spotify runs at {url} (no account needed).\n")

        async def phone(code: str) -> None:
            await asyncio.sleep(1.5)  # the code has been shown, and is being read out
            async with httpx.AsyncClient() as http:
                await http.post(f"{url}/sandbox/approve", json={"user_code": code})
            print(f"(the phone approved code {code})")

        tasks: list[asyncio.Task[None]] = []

        def print_line(line: str) -> None:
            print(line, flush=True)
            if line.startswith("Code: "):
                tasks.append(asyncio.create_task(phone(line.removeprefix("Code: "))))

        code = 0
        async with Session.open(settings, state_dir=Path(state_dir)) as session:
            runtime = Runtime(session, speaker, display, print_line=print_line)
            try:
                name = await session.pair(speaker, display, print_line=print_line, repeat_s=30)
                print(f"\nSigned in as {name}.")
                await session.ensure_library()
                if mic:
                    code = await _mic_session(runtime)
                else:
                    await _scripted_session(runtime, session, Path(state_dir))
            finally:
                await display.aclose()
                await speaker.aclose()
        if isinstance(speaker, WavSpeaker):
            print(f"\nSpoken replies were written to {speaker.directory}")
    return code
