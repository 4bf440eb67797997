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
    where = str(path) if path.exists() else f"{path} (not there: defaults; maestro config init writes one)"
    for section, key in config.PATH_SETTINGS:  # relative ones as Maestro reads them: absolute
        if value := getattr(getattr(settings, section), key):
            where += f"; {section}.{key} = {value}"
    if settings.warnings:
        return Check("config", "warn", f"{where}; " + "; ".join(settings.warnings)), settings
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
    from maestro.voice.audio import _sounddevice, find_input_device, microphone_problem, wav_input

    device = settings.voice.input_device
    wav = wav_input(device)
    if wav is not None:
        found = wav.exists()
        return Check("microphone", "ok" if found else "fail", f"a WAV file: {wav}",
                     "" if found else "the file is missing")  # fmt: skip

    problem = microphone_problem(device)
    if problem is not None:
        # The problem already says what to plug in; the fix adds only what it does not say.
        fix = "or set [voice] input_device to one of the inputs `arecord -l` lists" if device else ""
        if "PortAudio" in problem:
            fix = "apt-get install libportaudio2"
        return Check("microphone", "fail", problem, fix)
    sd = _sounddevice()
    name = sd.query_devices(find_input_device(device), "input")["name"]
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
    if voice.model_path and model is not None and not model.exists():
        return Check("speech engine", "fail", f"voice.model_path is {model}, which does not exist",
                     "correct voice.model_path, or maestro models get vosk-small-en-us")  # fmt: skip
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
    grammar = "PocketSphinx (its bundled English model)"
    return neural_tier(settings, grammar)


def neural_tier(settings: config.Settings, grammar: str) -> Check:
    """The grammar path, and the Whisper tier beside it when it is installed (or why not)."""
    from maestro.voice import whisper

    model = whisper.find_model(settings.voice.whisper_model, config.models_dir())
    if settings.voice.engine == "pocketsphinx":
        return Check("speech engine", "ok", f"{grammar} alone (voice.engine = pocketsphinx)")
    if model is not None and whisper.available():
        return Check("speech engine", "ok", f"{grammar}, and Whisper ({model}) for what it is unsure of")
    missing = "faster-whisper" if model is not None else "a Whisper model"
    if settings.voice.engine == "whisper":
        return Check("speech engine", "fail", f"voice.engine is whisper but {missing} is not installed",
                     "pip install 'maestro-remote[whisper]'")  # fmt: skip
    return Check("speech engine", "ok", f"{grammar}; no Whisper tier ({missing} is not installed: "
                 "pip install 'maestro-remote[whisper]' for better accuracy)")  # fmt: skip


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


def check_tags() -> Check:
    from maestro.nfc.tags import TagStore

    store = TagStore(config.config_dir() / "tags.yaml")
    if store.problem:
        return Check("tags.yaml", "fail", store.problem, "fix the line named")
    unknown = cards_not_understood(store.mapping)
    if unknown:
        return Check("tags.yaml", "warn", f"Maestro does not understand what card {unknown[0][0]} asks: "
                     f'"{unknown[0][1]}"', "fix it in tags.yaml, or maestro tags add UID ACTION")  # fmt: skip
    return Check("tags.yaml", "ok", f"{plural(len(store.mapping), 'card')} in {store.path}")


def cards_not_understood(mapping: dict[str, str]) -> list[tuple[str, str]]:
    """Cards whose command the matcher does not understand ("sandwich please")."""
    from maestro.intents import Matcher, load_spec
    from maestro.intents.library import library_for
    from maestro.nfc.learn import check_action
    from maestro.nfc.tags import TagError

    matcher = None
    unknown = []
    for uid, value in sorted(mapping.items()):
        if value.startswith(("spotify:", "http")):
            continue
        try:
            matcher = matcher or Matcher(load_spec(), library_for(None))
        except MaestroError:  # a broken intents.yaml: its own check says so
            return []
        try:
            check_action(value, matcher)
        except TagError:
            unknown.append((uid, value))
    return unknown


def check_cards(settings: config.Settings) -> list[Check]:
    from maestro.nfc.readers import EvdevReader, NfcpyReader, make_reader

    tags = _guarded("tags.yaml", check_tags)
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
    """Can this box reach the services at all? Any HTTP answer below 500 means yes (Spotify's
    API root answers 404, its ``/me`` 401 without a sign-in); a bridge must answer ``/healthz``."""
    targets = {"Spotify Web API": settings.spotify.api_url, "Spotify accounts": settings.spotify.accounts_url}
    if settings.auth.bridge_url:
        targets["bridge"] = settings.auth.bridge_url.rstrip("/") + "/healthz"

    async def probe(name: str, url: str) -> Check:
        try:
            response = await http.get(url, timeout=5)
        except httpx.InvalidURL as exc:
            return Check(name, "fail", f"{url!r} is not a web address ({exc})", _config_fix(settings))
        except httpx.UnsupportedProtocol:
            return Check(name, "fail", f"{url!r} is not an http(s) address", _config_fix(settings))
        except httpx.HTTPError as exc:
            return Check(name, "fail", f"{url} does not answer ({type(exc).__name__})",
                         "check the network (and DNS) from this box")  # fmt: skip
        if response.status_code >= 500:
            return Check(name, "warn", f"{url} is reachable but failing (HTTP {response.status_code})",
                         "wait and try again; the service has trouble")  # fmt: skip
        if name == "bridge" and response.status_code != 200:
            return Check(name, "fail", f"{url} is not a Maestro bridge (HTTP {response.status_code})",
                         "check [auth] bridge_url")  # fmt: skip
        return Check(name, "ok", f"{url} is reachable")

    return list(await asyncio.gather(*(probe(name, url) for name, url in targets.items())))


def _config_fix(settings: config.Settings) -> str:
    return f"edit {settings.source or config.config_path()}"


async def check_sign_in(settings: config.Settings, http: httpx.AsyncClient) -> Check:
    """A real ``GET /me`` (refreshing an expired token). Needs neither intents.yaml nor the library."""
    from maestro.auth.tokens import TokenStore
    from maestro.errors import AuthError, SpotifyUnavailableError
    from maestro.session import missing_client_id
    from maestro.spotify.client import SpotifyClient
    from maestro.spotify.player import Player

    tokens = TokenStore(config.state_dir() / "tokens.json", http)
    if tokens.tokens is None:
        if not settings.spotify.client_id:
            return Check("sign-in", "fail", "not signed in to Spotify, and no client id set",
                         missing_client_id(settings))  # fmt: skip
        return Check("sign-in", "fail", "not signed in to Spotify", "maestro pair")
    try:
        profile = await Player(SpotifyClient(settings.spotify.api_url, tokens, http)).me()
    except SpotifyUnavailableError as exc:
        return Check("sign-in", "warn", f"signed in, but could not check it: {exc}",
                     "check the network (the sign-in itself may be fine)")  # fmt: skip
    except AuthError as exc:
        return Check("sign-in", "fail", str(exc), "maestro pair")
    except MaestroError as exc:
        return Check("sign-in", "warn", f"signed in, but Spotify said: {exc}")
    return Check("sign-in", "ok", f"signed in as {profile.get('display_name') or profile.get('id')}")


def check_library() -> Check:
    """The names `say` and `run` fetched, read the way `listen`, `parse` and `tags learn` read them."""
    import time

    from maestro.intents import StaticLibrary

    path = config.state_dir() / "library.json"
    if not path.exists():
        return Check(
            "library names",
            "off",
            f"none fetched yet ({path})",
            'they arrive with the first command once signed in (maestro say "what\'s playing")',
        )
    try:
        library = StaticLibrary.from_file(path)
    except MaestroError as exc:
        return Check("library names", "warn", str(exc), "delete it: Maestro fetches the names again")
    counts = {kind: len(library.items(kind)) for kind in ("album", "artist", "playlist", "track", "device")}
    age_h = (time.time() - path.stat().st_mtime) / 3600
    summary = ", ".join(plural(n, kind) for kind, n in counts.items())
    return Check("library names", "ok", f"{summary} (fetched {age_h:.0f} h ago)")


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


NEEDS_CONFIG = "not checked: config.toml is broken (see config above)"


async def run_checks() -> list[Check]:
    """Every check, each on its own: a broken file is reported where it is needed, never a crash."""
    found, settings = check_config()
    checks = [found, await asyncio.to_thread(_guarded, "intents", check_intents)]
    local: list[tuple[str, Callable[[config.Settings], Check]]] = [
        ("microphone", check_microphone), ("speech out", check_speech_out),
        ("speech engine", check_speech_engine), ("display", check_display),
    ]  # fmt: skip
    for name, check in local:
        if settings is None:
            checks.append(Check(name, "warn", NEEDS_CONFIG))
        else:
            checks.append(await asyncio.to_thread(_guarded, name, check, settings))
    if settings is None:
        checks.append(Check("card reader", "warn", NEEDS_CONFIG))
        checks.append(await asyncio.to_thread(_guarded, "tags.yaml", check_tags))
    else:
        checks += await asyncio.to_thread(check_cards, settings)
    checks.append(await asyncio.to_thread(_guarded, "library names", check_library))
    if settings is None:
        checks.append(Check("sign-in", "warn", NEEDS_CONFIG))
        return checks
    async with httpx.AsyncClient() as http:
        endpoints, sign_in = await asyncio.gather(
            check_endpoints(settings, http), _guarded_async("sign-in", check_sign_in(settings, http))
        )
    return [*checks, *endpoints, sign_in]


def _guarded(name: str, check: Callable[..., Check], *args: object) -> Check:
    try:
        return check(*args)
    except Exception as exc:  # a check must never take the others down
        return Check(name, "fail", f"the check itself failed: {type(exc).__name__}: {exc}")


async def _guarded_async(name: str, check: Awaitable[Check]) -> Check:
    try:
        return await check
    except Exception as exc:
        return Check(name, "fail", f"the check itself failed: {type(exc).__name__}: {exc}")


def summary(checks: list[Check]) -> str:
    failed = sum(check.status == "fail" for check in checks)
    warned = sum(check.status == "warn" for check in checks)
    if not failed and not warned:
        return "All good."
    parts = [plural(failed, "problem")] if failed else []
    parts += [plural(warned, "warning")] if warned else []
    return " and ".join(parts) + " found."
