"""`maestro doctor`: checks every part Maestro relies on, each with a fix when it fails.

Config and intents, microphone, speech out, the speech engine and its model,
the display, the card reader and tags.yaml, the Spotify sign-in (a real
``GET /me``, refreshing an expired token), and whether the configured
endpoints answer at all. Checks run independently: one failure does not hide
the others. Exit 0 when nothing failed (warnings allowed), else 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

from maestro import config
from maestro.errors import MaestroError

Status = Literal["ok", "warn", "fail", "off"]
MARKS = {"ok": "✓", "warn": "!", "fail": "✗", "off": "-"}


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail, "fix": self.fix}

    def line(self) -> str:
        text = f"{MARKS[self.status]} {self.name:<16} {self.detail}"
        return text + (f"\n  {'':<16} fix: {self.fix}" if self.fix else "")


def check_config() -> tuple[Check, config.Settings | None]:
    path = config.config_path()
    try:
        settings = config.load()
    except MaestroError as exc:
        return Check("config", "fail", str(exc), f"edit {path}"), None
    where = str(path) if path.exists() else f"{path} (not there: defaults)"
    return Check("config", "ok", where), settings


def check_intents() -> Check:
    from maestro.intents import load_spec

    try:
        spec = load_spec()
    except MaestroError as exc:
        return Check("intents", "fail", str(exc), "fix the line named, or delete your intents.yaml")
    return Check("intents", "ok", f"{len(spec.intents)} intents, wake phrase {spec.wake_phrase!r}")


def check_microphone(settings: config.Settings) -> Check:
    if not settings.voice.enabled:
        return Check("microphone", "off", "voice is off ([voice] enabled = false)")
    from maestro.voice.audio import _sounddevice, find_input_device, wav_input

    device = settings.voice.input_device
    wav = wav_input(device)
    if wav is not None:
        found = wav.exists()
        return Check("microphone", "ok" if found else "fail", f"a WAV file: {wav}",
                     "" if found else "the file is missing")  # fmt: skip

    try:
        sd = _sounddevice()
        inputs = [d["name"] for d in sd.query_devices() if d["max_input_channels"] > 0]
        if not inputs:
            return Check(
                "microphone", "fail", "no audio inputs", "plug in a USB microphone; `arecord -l` lists inputs"
            )
        index = find_input_device(device)
        name = sd.query_devices(index, "input")["name"]
    except MaestroError as exc:
        return Check(
            "microphone", "fail", str(exc), "apt-get install libportaudio2, or set [voice] input_device"
        )
    except Exception as exc:  # PortAudio's own errors
        return Check("microphone", "fail", f"PortAudio: {exc}", "check `arecord -l` and [voice] input_device")
    return Check("microphone", "ok", name)


def check_speech_out(settings: config.Settings) -> Check:
    engine = settings.tts.engine
    if engine == "none":
        return Check("speech out", "off", "[tts] engine = none")
    if shutil.which("espeak-ng") is None:
        return Check("speech out", "fail", "espeak-ng is missing", "apt-get install espeak-ng")
    if engine == "wav":
        return Check(
            "speech out", "ok", f"written to WAV files in {settings.tts.wav_dir or 'maestro-speech'}"
        )
    from maestro.voice.tts import has_sound_card

    if not has_sound_card():
        return Check("speech out", "warn", "no sound card: replies cannot be heard",
                     "plug in a speaker/DAC, or set [tts] engine = \"wav\"")  # fmt: skip
    if shutil.which("aplay") is None:
        return Check("speech out", "fail", "aplay is missing", "apt-get install alsa-utils")
    return Check("speech out", "ok", "pyttsx3 + espeak-ng through ALSA")


def check_speech_engine(settings: config.Settings) -> Check:
    from maestro.voice.asr import installed_vosk_model

    voice = settings.voice
    model = installed_vosk_model(voice.model_path, config.models_dir())
    if voice.engine in ("auto", "vosk") and model is not None and model.exists():
        try:
            import vosk  # noqa: F401
        except ImportError:
            return Check("speech engine", "fail", f"a Vosk model is at {model} but vosk is not installed",
                         "pip install 'maestro-remote[vosk]'")  # fmt: skip
        return Check("speech engine", "ok", f"Vosk, model {model.name}")
    if voice.engine == "vosk":
        return Check("speech engine", "fail", "voice.engine is vosk but no model is installed",
                     "maestro models get vosk-small-en-us")  # fmt: skip
    try:
        from pocketsphinx import get_model_path
    except ImportError:
        return Check("speech engine", "fail", "pocketsphinx is missing", "pip install pocketsphinx")
    if not Path(get_model_path(), "en-us").is_dir():
        return Check("speech engine", "fail", "PocketSphinx's English model is missing",
                     "pip install --force-reinstall pocketsphinx")  # fmt: skip
    return Check("speech engine", "ok", "PocketSphinx, its bundled English model (Vosk: maestro models get)")


def check_display(settings: config.Settings) -> Check:
    from maestro.display.devices import FrameDisplay, LumaSink, make_display

    driver = settings.display.driver
    if driver == "none":
        return Check("display", "off", "[display] driver = none")
    try:
        display = make_display(settings.display)
    except MaestroError as exc:
        return Check("display", "fail", str(exc), "check the wiring and [display] settings")
    if isinstance(display, FrameDisplay) and isinstance(display.sink, LumaSink):
        with contextlib.suppress(Exception):
            display.sink.close()
    return Check("display", "ok", f"{driver}, 128x{settings.display.height}")


def check_cards(settings: config.Settings) -> list[Check]:
    from maestro.nfc.readers import EvdevReader, NfcpyReader, make_reader
    from maestro.nfc.tags import TagStore

    store = TagStore(config.config_dir() / "tags.yaml")
    tags = (
        Check("tags.yaml", "fail", store.problem, "fix the line named")
        if store.problem
        else Check("tags.yaml", "ok", f"{len(store.mapping)} cards in {store.path}")
    )
    try:
        reader = make_reader(settings.nfc.reader)
    except MaestroError as exc:
        return [Check("card reader", "fail", str(exc), "fix [nfc] reader"), tags]
    if reader is None:
        return [Check("card reader", "off", "[nfc] reader = none"), tags]
    if isinstance(reader, NfcpyReader):
        try:
            import nfc
        except ImportError:
            return [
                Check("card reader", "fail", "nfcpy is missing", "pip install 'maestro-remote[nfc]'"),
                tags,
            ]
        try:
            nfc.ContactlessFrontend(reader.path).close()
        except OSError as exc:
            return [Check("card reader", "fail", f"no reader at {reader.path} ({exc})",
                          "plug it in; stop `maestro run` first if it is running"), tags]  # fmt: skip
    if isinstance(reader, EvdevReader) and not Path(reader.path).exists():
        return [Check("card reader", "fail", f"{reader.path} does not exist",
                      "ls /dev/input/by-id/ shows the reader's event device"), tags]  # fmt: skip
    return [Check("card reader", "ok", reader.description), tags]


async def check_endpoints(settings: config.Settings, http: httpx.AsyncClient) -> list[Check]:
    targets = {"Spotify Web API": settings.spotify.api_url, "Spotify accounts": settings.spotify.accounts_url}
    if settings.auth.bridge_url:
        targets["bridge"] = settings.auth.bridge_url.rstrip("/") + "/healthz"

    async def probe(name: str, url: str) -> Check:
        try:
            response = await http.get(url, timeout=5)
        except httpx.HTTPError as exc:
            return Check(name, "fail", f"{url} does not answer ({type(exc).__name__})",
                         "check the network (and DNS) from this box")  # fmt: skip
        return Check(name, "ok", f"{url} answers (HTTP {response.status_code})")

    return list(await asyncio.gather(*(probe(name, url) for name, url in targets.items())))


async def check_sign_in(settings: config.Settings, http: httpx.AsyncClient) -> Check:
    from maestro.session import Session

    session = Session.open(settings)
    try:
        if session.tokens.tokens is None:
            return Check("sign-in", "fail", "not signed in to Spotify", "maestro pair")
        profile = await session.player.me()
    except MaestroError as exc:
        return Check("sign-in", "fail", str(exc), "maestro pair (again)")
    finally:
        await session.aclose()
    return Check("sign-in", "ok", f"signed in as {profile.get('display_name') or profile.get('id')}")


async def run_checks() -> list[Check]:
    checks: list[Check] = []
    found, settings = check_config()
    checks.append(found)
    checks.append(check_intents())
    if settings is None:
        return checks
    local: list[Callable[[config.Settings], Check]] = [
        check_microphone, check_speech_out, check_speech_engine, check_display,
    ]  # fmt: skip
    for check in local:
        checks.append(await asyncio.to_thread(_guarded, check, settings))
    checks += await asyncio.to_thread(check_cards, settings)
    async with httpx.AsyncClient() as http:
        remote: list[Awaitable[list[Check]]] = [
            check_endpoints(settings, http),
            _one(check_sign_in(settings, http)),
        ]
        for found_checks in await asyncio.gather(*remote):
            checks += found_checks
    return checks


def _guarded(check: Callable[[config.Settings], Check], settings: config.Settings) -> Check:
    try:
        return check(settings)
    except Exception as exc:  # a check must never take the others down
        name = check.__name__.removeprefix("check_").replace("_", " ")
        return Check(name, "fail", f"the check itself failed: {exc}")


async def _one(check: Awaitable[Check]) -> list[Check]:
    return [await check]
