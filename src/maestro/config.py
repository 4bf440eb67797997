"""Settings: ``config.toml`` in the platformdirs config dir, ``MAESTRO_*`` overrides.

Precedence, lowest first: built-in defaults, the TOML file (``MAESTRO_CONFIG``
names another one), then ``MAESTRO_<SECTION>_<KEY>`` environment variables.
Every mistake (TOML syntax, unknown section or key, wrong type) is a
:class:`ConfigError` naming the file, line and key.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import SplitResult, urlsplit

import platformdirs

from maestro.errors import ConfigError
from maestro.fsutil import BadFileError, read_text

APP_NAME = "maestro"
SPOTIFY_API_URL = "https://api.spotify.com/v1"
SPOTIFY_ACCOUNTS_URL = "https://accounts.spotify.com"


def between(low: float, high: float) -> dict[str, Any]:
    """Field metadata: a number from ``low`` to ``high`` (finite: nan and inf are refused too)."""
    return {"range": (low, high)}


def one_of(*values: object) -> dict[str, Any]:
    return {"choices": values}


#: Field metadata: an http(s) address (empty allowed where the default is empty).
WEB_ADDRESS = {"url": True}
#: Field metadata: an MQTT broker's address, which may hold a password (never shown back).
BROKER_ADDRESS = {"broker": True}


@dataclass
class SpotifySettings:
    client_id: str = ""
    api_url: str = field(default=SPOTIFY_API_URL, metadata=WEB_ADDRESS)
    accounts_url: str = field(default=SPOTIFY_ACCOUNTS_URL, metadata=WEB_ADDRESS)


@dataclass
class AuthSettings:
    # Empty means "derived from spotify.accounts_url", so pointing Maestro at the
    # sandbox (or another accounts service) takes one setting, not three.
    device_authorization_url: str = field(default="", metadata=WEB_ADDRESS)
    token_url: str = field(default="", metadata=WEB_ADDRESS)
    bridge_url: str = field(default="", metadata=WEB_ADDRESS)


@dataclass
class PlayerSettings:
    default_device: str = ""
    # how often `maestro run` looks at what is playing while the screen is lit
    poll_s: float = field(default=5.0, metadata=between(0.5, 3600))
    # no volume command goes above this (a children's room: 60)
    max_volume: int = field(default=100, metadata=between(0, 100))


@dataclass
class VoiceSettings:
    # auto: PocketSphinx (or Vosk with a model) for the wake phrase and the commands it is sure of,
    # Whisper for the rest when faster-whisper and its model are installed
    engine: Literal["auto", "vosk", "pocketsphinx", "whisper"] = "auto"
    model_path: str = ""
    whisper_model: str = ""  # a faster-whisper model directory (default: found, see voice/whisper.py)
    threads: int = field(default=2, metadata=between(1, 16))  # CPU threads for the neural pass
    wake_phrase: str = ""
    # the wake phrase's second stage: how alike (0-100) what Whisper heard must be to the wake phrase
    # to wake Maestro where the grammar path missed it (music, noise, a new voice); 0: off
    wake_confirm: float = field(default=85.0, metadata=between(0, 100))
    # while listening after the wake phrase, the music plays at this percent of its volume (0: no ducking)
    duck_volume: int = field(default=30, metadata=between(0, 100))
    input_device: str = ""  # a microphone's index or part of its name; "wav:FILE" plays a file instead
    enabled: bool = True
    # keep each command's sound, to play back on the web app's Heard page (deleted with its entry)
    keep_audio: bool = False


@dataclass
class TtsSettings:
    #: auto: Piper's natural voice where it is installed, else pyttsx3 (espeak-ng).
    engine: Literal["auto", "piper", "pyttsx3", "wav", "none"] = "auto"
    voice: str = ""  # pyttsx3: an espeak-ng voice; piper: a voice's .onnx file (default: the packaged one)
    rate: int = field(default=160, metadata=between(40, 500))  # words per minute
    wav_dir: str = ""


@dataclass
class DisplaySettings:
    driver: Literal["ssd1306", "sh1106", "terminal", "png", "none"] = "none"
    i2c_port: int = field(default=1, metadata=between(0, 255))
    i2c_address: int = field(default=0x3C, metadata=between(0x03, 0x77))  # 7-bit I2C addresses
    rotate: int = field(default=0, metadata=between(0, 3))  # quarter turns
    png_dir: str = ""
    height: int = field(default=64, metadata=one_of(64, 32))  # 128x64, or 128x32 panels
    # OLEDs burn in: dim when nothing new was shown for this long (0: never)
    dim_after_s: float = field(default=60.0, metadata=between(0, 86400))


@dataclass
class BridgeSettings:
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    base_url: str = field(default="", metadata=WEB_ADDRESS)
    accounts_url: str = field(default=SPOTIFY_ACCOUNTS_URL, metadata=WEB_ADDRESS)
    db: str = ""
    mode: Literal["hosted", "local"] = "hosted"
    #: "sqlite:PATH" (one host; default bridge.sqlite3 in the state dir) or "redis://HOST:PORT/DB",
    #: "unix:///run/redis.sock" (several workers and instances)
    store: str = ""
    #: Signs the pairing form; every instance behind one address needs the same. Or a file holding
    #: it (generated when missing; default bridge-secret in the state dir).
    secret: str = field(default="", repr=False)
    secret_file: str = ""
    #: New pairings and token refreshes per client address in 10 minutes. Raise them when many
    #: boxes share one address (a school behind NAT) or a proxy hides the addresses.
    authorize_per_ip: int = field(default=20, metadata=between(1, 1_000_000))
    refresh_per_ip: int = field(default=60, metadata=between(1, 1_000_000))
    #: New pairings from all addresses together in 10 minutes: bounds what the store holds, so
    #: pairings under way keep working when someone floods the bridge with new codes.
    authorize_global: int = field(default=5000, metadata=between(1, 10_000_000))


@dataclass
class NfcSettings:
    reader: str = "none"
    second_tap: Literal["toggle", "restart", "ignore"] = "toggle"
    # a card lifted and laid down again within this is a second tap
    second_tap_window_s: float = field(default=10.0, metadata=between(0, 3600))


#: Field metadata: HOST:PORT to listen on.
LISTEN_ADDRESS = {"listen": True}


@dataclass
class WebSettings:
    #: The box's web app and JSON API, served by `maestro run`.
    enabled: bool = True
    #: HOST:PORT; 0.0.0.0 is every interface (the phones on your network), 127.0.0.1 this box only.
    listen: str = field(default="0.0.0.0:8080", metadata=LISTEN_ADDRESS)


@dataclass
class MqttSettings:
    #: mqtt://user:password@host:1883, or mqtts://... (TLS); empty: Home Assistant's MQTT is off.
    url: str = field(default="", repr=False, metadata=BROKER_ADDRESS)
    #: A file holding the broker's password (wins over one in the url).
    password_file: str = ""
    discovery_prefix: str = "homeassistant"
    #: The device's name in Home Assistant; each box on one broker needs its own.
    name: str = "Maestro"


@dataclass
class Settings:
    spotify: SpotifySettings = field(default_factory=SpotifySettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    player: PlayerSettings = field(default_factory=PlayerSettings)
    voice: VoiceSettings = field(default_factory=VoiceSettings)
    tts: TtsSettings = field(default_factory=TtsSettings)
    display: DisplaySettings = field(default_factory=DisplaySettings)
    bridge: BridgeSettings = field(default_factory=BridgeSettings)
    nfc: NfcSettings = field(default_factory=NfcSettings)
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    web: WebSettings = field(default_factory=WebSettings)
    #: Where the settings came from (None: defaults and environment only).
    source: Path | None = None
    #: Things worth telling the user that do not stop Maestro (a mistyped MAESTRO_* variable).
    warnings: list[str] = field(default_factory=list)

    @property
    def device_authorization_url(self) -> str:
        return self.auth.device_authorization_url or (
            self.spotify.accounts_url.rstrip("/") + "/oauth2/device/authorize"
        )

    @property
    def token_url(self) -> str:
        return self.auth.token_url or self.spotify.accounts_url.rstrip("/") + "/api/token"


SECTIONS: dict[str, type] = {
    name: hint for name, hint in typing.get_type_hints(Settings).items() if name not in ("source", "warnings")
}


def config_path(env: typing.Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("MAESTRO_CONFIG"):
        return Path(env["MAESTRO_CONFIG"])
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def config_dir(env: typing.Mapping[str, str] | None = None) -> Path:
    """Where the user's files live: beside config.toml (intents.yaml, tags.yaml)."""
    return config_path(env).parent


def state_dir(env: typing.Mapping[str, str] | None = None) -> Path:
    """Tokens and caches live here (``MAESTRO_STATE_DIR`` overrides). A file in its place is said
    as such here, once for every command, rather than as whatever each reader makes of it."""
    env = os.environ if env is None else env
    path = (
        Path(env["MAESTRO_STATE_DIR"])
        if env.get("MAESTRO_STATE_DIR")
        else Path(platformdirs.user_state_dir(APP_NAME))
    )
    if path.exists() and not path.is_dir():
        named = " (MAESTRO_STATE_DIR)" if env.get("MAESTRO_STATE_DIR") else ""
        raise ConfigError(f"{path}{named} is a file, not a directory: Maestro keeps its state there. "
                          "Move the file, or point MAESTRO_STATE_DIR at a directory.")  # fmt: skip
    return path


def models_dir(env: typing.Mapping[str, str] | None = None) -> Path:
    """Downloaded speech models (``MAESTRO_MODELS_DIR`` overrides)."""
    env = os.environ if env is None else env
    if env.get("MAESTRO_MODELS_DIR"):
        return Path(env["MAESTRO_MODELS_DIR"])
    return Path(platformdirs.user_data_dir(APP_NAME)) / "models"


def load(env: typing.Mapping[str, str] | None = None) -> Settings:
    """Defaults, then the config file (if it exists), then the environment."""
    env = os.environ if env is None else env
    settings = Settings()
    path = config_path(env)
    if path.is_file():
        _apply_file(settings, path)
        settings.source = path
    elif env.get("MAESTRO_CONFIG"):
        raise ConfigError(f"{path}: config file not found (named by MAESTRO_CONFIG)")
    _apply_env(settings, env)
    _anchor_paths(settings, path.parent)
    return settings


#: Settings that name files or directories (True), or may (False: "base" is a model's name, "USB
#: mic" a microphone's, "redis://..." an address). A relative path is relative to the config file's
#: directory, wherever the command was started (under systemd that is "/").
PATH_SETTINGS = {("tts", "wav_dir"): True, ("display", "png_dir"): True, ("voice", "model_path"): True,
                 ("bridge", "db"): True, ("bridge", "secret_file"): True, ("mqtt", "password_file"): True,
                 ("voice", "whisper_model"): False,
                 ("voice", "input_device"): False, ("bridge", "store"): False}  # fmt: skip


def _anchor_paths(settings: Settings, base: Path) -> None:
    for (section_name, key), always in PATH_SETTINGS.items():
        section = getattr(settings, section_name)
        setattr(section, key, anchored(getattr(section, key), base, always=always))


def anchored(value: str, base: Path, *, always: bool = True) -> str:
    """A path setting made absolute against ``base``. Unless ``always``, only what looks like a path
    is one; "wav:FILE" and "sqlite:PATH" keep their prefix."""
    prefix = next((p for p in ("wav:", "sqlite:") if value.startswith(p)), "")
    path = value[len(prefix) :]
    is_path = always or bool(prefix) or "/" in path or path.startswith(("~", "."))
    if not path or not is_path or "://" in path:
        return value
    expanded = Path(path).expanduser()
    return prefix + str(expanded if expanded.is_absolute() else (base / expanded).resolve())


def check_text(text: str, path: Path) -> Settings:
    """Settings from ``text`` as if it were the file at ``path`` (ConfigError as for the file)."""
    settings = Settings()
    _apply_text(settings, text, path)
    return settings


def _apply_file(settings: Settings, path: Path) -> None:
    try:
        text = read_text(path)
    except BadFileError as exc:
        raise ConfigError(str(exc)) from exc
    _apply_text(settings, text, path)


def _apply_text(settings: Settings, text: str, path: Path) -> None:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message ends with "(at line L, column C)"; the line itself says more.
        found = re.search(r"at line (\d+)", str(exc))
        lines = text.splitlines()
        number = int(found.group(1)) if found else 0
        shown = f": {lines[number - 1].strip()!r}" if 0 < number <= len(lines) else ""
        raise ConfigError(f"{path}:{number or 1}: not valid TOML: {exc}{shown}") from exc
    for section_name, values in data.items():
        if section_name not in SECTIONS:
            line = _find_line(text, None, section_name)
            known = ", ".join(SECTIONS)
            raise ConfigError(f"{path}:{line}: unknown section [{section_name}] (known: {known})")
        if not isinstance(values, dict):
            line = _find_line(text, None, section_name)
            raise ConfigError(f"{path}:{line}: {section_name} must be a [section] table")
        section = getattr(settings, section_name)
        for key, value in values.items():
            where = f"{path}:{_find_line(text, section_name, key)}: {section_name}.{key}"
            _set(section, key, value, where)


#: MAESTRO_* variables that are not settings.
OTHER_VARIABLES = frozenset({"MAESTRO_CONFIG", "MAESTRO_STATE_DIR", "MAESTRO_MODELS_DIR", "MAESTRO_VENV",
                             "MAESTRO_UPDATE_GOLDEN"})  # fmt: skip


def _variables() -> dict[str, tuple[str, str]]:
    """MAESTRO_<SECTION>_<KEY> -> (section, key), for every setting."""
    return {
        f"MAESTRO_{name.upper()}_{f.name.upper()}": (name, f.name)
        for name, section in SECTIONS.items()
        for f in dataclasses.fields(section)
    }


def unknown_variables(env: typing.Mapping[str, str]) -> list[str]:
    """A warning for each MAESTRO_* variable that is no setting (a typo is otherwise silently ignored)."""
    known = sorted({*_variables(), *OTHER_VARIABLES})
    warnings = []
    for var in sorted(v for v in env if v.startswith("MAESTRO_") and v not in known):
        close = difflib.get_close_matches(var, known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        warnings.append(f"{var} matches no setting and is ignored{hint}")
    return warnings


def _apply_env(settings: Settings, env: typing.Mapping[str, str]) -> None:
    for var, (section_name, key) in _variables().items():
        if var in env:
            section = getattr(settings, section_name)
            _set(section, key, _from_env(env[var], _field_type(section, key)), var)
    settings.warnings += unknown_variables(env)


def get_value(settings: Settings, key: str) -> Any:
    """``settings``' value of ``"section.key"``."""
    section_name, _, name = key.partition(".")
    return getattr(getattr(settings, section_name), name)


def set_value(settings: Settings, key: str, text: str) -> None:
    """Sets ``"section.key"`` from text (a form field), checked as the file's value would be;
    ConfigError names the key and says what it must be."""
    section_name, _, name = key.partition(".")
    if section_name not in SECTIONS:
        raise ConfigError(f"{key}: unknown section")
    section = getattr(settings, section_name)
    _set(section, name, _from_env(text, _field_type(section, name)), key)


def _field_type(section: Any, key: str) -> Any:
    return typing.get_type_hints(type(section))[key]


def _set(section: Any, key: str, value: Any, where: str) -> None:
    fields = {f.name: f for f in dataclasses.fields(section)}
    if key not in fields:
        raise ConfigError(f"{where}: unknown key (known: {', '.join(fields)})")
    value = _check(value, _field_type(section, key), where)
    _check_meaning(value, fields[key].metadata, where)
    setattr(section, key, value)


def broker_address(url: str, where: str = "mqtt.url") -> tuple[SplitResult, int]:
    """An MQTT broker's address, split, and its port (1883, 8883 for mqtts://, unless given);
    ConfigError names ``where`` and not the value itself, which may carry the broker's password."""
    parts = urlsplit(url)
    try:
        given = parts.port
    except ValueError:  # not a number, or past 65535
        given = 0
    port = (8883 if parts.scheme == "mqtts" else 1883) if given is None else given
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname or not port:
        raise ConfigError(f"{where}: must look like mqtt://user:password@host:1883 (mqtts:// for TLS)")
    return parts, port


def listen_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::]:8080`` for IPv6) as (host, port); ValueError when it is not one."""
    host, sep, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(text)
    return host, int(port)


def _check_meaning(value: Any, rules: typing.Mapping[str, Any], where: str) -> None:
    """What the type alone does not say: ranges, a fixed set of values, web addresses."""
    if "range" in rules:
        low, high = rules["range"]
        if not math.isfinite(value) or not low <= value <= high:
            raise ConfigError(f"{where}: must be from {low:g} to {high:g}, got {value!r}")
    if "choices" in rules and value not in rules["choices"]:
        choices = " or ".join(map(repr, rules["choices"]))
        raise ConfigError(f"{where}: must be {choices}, got {value!r}")
    if rules.get("url") and value:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{where}: must be an http(s) address like https://example.com, got {value!r}")
    if rules.get("listen"):
        try:
            listen_address(value)
        except ValueError:
            raise ConfigError(f"{where}: must be HOST:PORT like 0.0.0.0:8080, got {value!r}") from None
    if rules.get("broker") and value:
        broker_address(value, where)


def _check(value: Any, expected: Any, where: str) -> Any:
    if typing.get_origin(expected) is Literal:
        choices = typing.get_args(expected)
        if value not in choices:
            raise ConfigError(f"{where}: must be one of {', '.join(map(repr, choices))}, got {value!r}")
        return value
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(expected, type) and (
        not isinstance(value, expected) or (expected is int and isinstance(value, bool))
    ):
        raise ConfigError(f"{where}: must be {_type_name(expected)}, got {_type_name(type(value))} {value!r}")
    return value


def _from_env(raw: str, expected: Any) -> Any:
    """Environment variables are strings; convert the ones that should not be."""
    try:
        if expected is int:
            return int(raw, 0)
        if expected is float:
            return float(raw)
        if expected is bool and raw.strip().lower() in ("true", "false", "1", "0", "yes", "no", "on", "off"):
            return raw.strip().lower() in ("true", "1", "yes", "on")
    except ValueError:
        return raw  # _check reports it with the variable's name
    return raw


def _type_name(t: Any) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(
        t, getattr(t, "__name__", str(t))
    )


def _find_line(text: str, section: str | None, key: str) -> int:
    """Best-effort line number of ``key`` (in ``[section]``) or of ``[key]``.

    tomllib reports no positions for valid documents, so a misplaced key is found
    by scanning; the first plausible line wins, and 1 when nothing matches.
    """
    current: str | None = None
    header = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]")
    for number, line in enumerate(text.splitlines(), start=1):
        match = header.match(line)
        if match:
            current = match.group(1).strip().strip('"')
            if section is None and current == key:
                return number
            continue
        if section is not None and current == section and re.match(rf"^\s*\"?{re.escape(key)}\"?\s*=", line):
            return number
    return 1
