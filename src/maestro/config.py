"""Settings: ``config.toml`` in the platformdirs config dir, ``MAESTRO_*`` overrides.

Precedence, lowest first: built-in defaults, the TOML file (``MAESTRO_CONFIG``
names another one), then ``MAESTRO_<SECTION>_<KEY>`` environment variables.
Every mistake (TOML syntax, unknown section or key, wrong type) is a
:class:`ConfigError` naming the file, line and key.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import platformdirs

from maestro.errors import ConfigError

APP_NAME = "maestro"
SPOTIFY_API_URL = "https://api.spotify.com/v1"
SPOTIFY_ACCOUNTS_URL = "https://accounts.spotify.com"


@dataclass
class SpotifySettings:
    client_id: str = ""
    api_url: str = SPOTIFY_API_URL
    accounts_url: str = SPOTIFY_ACCOUNTS_URL


@dataclass
class AuthSettings:
    # Empty means "derived from spotify.accounts_url", so pointing Maestro at the
    # sandbox (or another accounts service) takes one setting, not three.
    device_authorization_url: str = ""
    token_url: str = ""
    bridge_url: str = ""


@dataclass
class PlayerSettings:
    default_device: str = ""
    poll_s: float = 5.0  # how often `maestro run` looks at what is playing while the screen is lit


@dataclass
class VoiceSettings:
    engine: Literal["auto", "vosk", "pocketsphinx"] = "auto"
    model_path: str = ""
    wake_phrase: str = ""
    input_device: str = ""  # a microphone's index or part of its name; "wav:FILE" plays a file instead
    enabled: bool = True


@dataclass
class TtsSettings:
    engine: Literal["pyttsx3", "wav", "none"] = "pyttsx3"
    voice: str = ""
    rate: int = 160
    wav_dir: str = ""


@dataclass
class DisplaySettings:
    driver: Literal["ssd1306", "sh1106", "terminal", "png", "none"] = "none"
    i2c_port: int = 1
    i2c_address: int = 0x3C
    rotate: int = 0
    png_dir: str = ""
    height: int = 64  # 128x64, or 128x32 panels
    dim_after_s: float = 60.0  # OLEDs burn in: dim when nothing new was shown for this long (0: never)


@dataclass
class BridgeSettings:
    client_id: str = ""
    client_secret: str = ""
    base_url: str = ""
    accounts_url: str = SPOTIFY_ACCOUNTS_URL
    db: str = ""
    mode: Literal["hosted", "local"] = "hosted"


@dataclass
class NfcSettings:
    reader: str = "none"
    second_tap: Literal["toggle", "restart", "ignore"] = "toggle"
    second_tap_window_s: float = 10.0  # a card lifted and laid down again within this is a second tap


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
    #: Where the settings came from (None: defaults and environment only).
    source: Path | None = None

    @property
    def device_authorization_url(self) -> str:
        return self.auth.device_authorization_url or (
            self.spotify.accounts_url.rstrip("/") + "/oauth2/device/authorize"
        )

    @property
    def token_url(self) -> str:
        return self.auth.token_url or self.spotify.accounts_url.rstrip("/") + "/api/token"


SECTIONS: dict[str, type] = {
    name: hint for name, hint in typing.get_type_hints(Settings).items() if name != "source"
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
    """Tokens and caches live here (``MAESTRO_STATE_DIR`` overrides)."""
    env = os.environ if env is None else env
    if env.get("MAESTRO_STATE_DIR"):
        return Path(env["MAESTRO_STATE_DIR"])
    return Path(platformdirs.user_state_dir(APP_NAME))


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
    return settings


def _apply_file(settings: Settings, path: Path) -> None:
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message already ends with "(at line L, column C)".
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
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


def _apply_env(settings: Settings, env: typing.Mapping[str, str]) -> None:
    for section_name in SECTIONS:
        section = getattr(settings, section_name)
        for f in dataclasses.fields(section):
            var = f"MAESTRO_{section_name.upper()}_{f.name.upper()}"
            if var in env:
                _set(section, f.name, _from_env(env[var], _field_type(section, f.name)), var)


def _field_type(section: Any, key: str) -> Any:
    return typing.get_type_hints(type(section))[key]


def _set(section: Any, key: str, value: Any, where: str) -> None:
    names = [f.name for f in dataclasses.fields(section)]
    if key not in names:
        raise ConfigError(f"{where}: unknown key (known: {', '.join(names)})")
    expected = _field_type(section, key)
    setattr(section, key, _check(value, expected, where))


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
