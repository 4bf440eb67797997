"""The settings the web app changes: a few of ``config.toml``'s, each checked as the file's own
value would be, written into the file with its comments and layout kept (tomlkit), atomically,
and then the whole file checked once more as Maestro reads it."""

from __future__ import annotations

import contextlib
import copy
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit

from maestro import config
from maestro.errors import ConfigError
from maestro.fsutil import atomic_write_text


@dataclass(frozen=True)
class Editable:
    key: str  # "section.key"
    label: str
    help: str
    #: In effect at once (else after `maestro run` starts again).
    live: bool
    choices: tuple[str, ...] = ()


EDITABLE = (
    Editable(
        "player.default_device", "Default speaker",
        "Where music plays when a command names none and nothing plays yet.", live=True,
    ),
    Editable(
        "player.max_volume", "Loudest volume",
        "No volume command goes above this (a children's room: 60).", live=True,
    ),
    Editable(
        "voice.duck_volume", "Music while listening (%)",
        "After the wake phrase the music plays at this share of its volume until the reply "
        "(0: never lowered).", live=True,
    ),
    Editable(
        "voice.wake_confirm", "Wake phrase, second chance",
        "How alike (0-100) the neural pass must hear the wake phrase where the fast path missed it: "
        "lower wakes more easily (and wrongly more often); 0 turns it off.", live=False,
    ),
    Editable(
        "voice.keep_audio", "Keep the sound of commands",
        "true: each command's sound is kept to play back on the Heard page, and deleted with its entry.",
        live=False, choices=("false", "true"),
    ),
    Editable(
        "voice.engine", "Recogniser",
        "auto: the fast grammar path, and Whisper for what it is unsure of, where Whisper is installed.",
        live=False, choices=("auto", "pocketsphinx", "vosk", "whisper"),
    ),
    Editable(
        "tts.engine", "Spoken voice", "auto: Piper's natural voice where it is installed, else espeak-ng.",
        live=False, choices=("auto", "piper", "pyttsx3", "none"),
    ),
    Editable("tts.rate", "Speaking rate", "Words per minute.", live=False),
)  # fmt: skip
BY_KEY = {item.key: item for item in EDITABLE}


def env_variable(key: str) -> str:
    return "MAESTRO_" + key.replace(".", "_").upper()


def changed_settings(settings: config.Settings, form: Mapping[str, str]) -> tuple[config.Settings, list[str]]:
    """A copy of ``settings`` with the form's values (ConfigError: one is not what it must be), and
    the keys whose value changed."""
    unknown = [key for key in form if key not in BY_KEY]
    if unknown:
        raise ConfigError(f"{unknown[0]}: not a setting the web app changes")
    new = copy.deepcopy(settings)
    changed = []
    for key in (item.key for item in EDITABLE if item.key in form):  # in the page's order
        try:
            config.set_value(new, key, str(form[key]).strip())
        except ConfigError as exc:  # said as the page names it, the file's key beside it
            reason = str(exc).removeprefix(f"{key}: ")
            raise ConfigError(f"{BY_KEY[key].label} ({key}): {reason}") from None
        if config.get_value(new, key) != config.get_value(settings, key):
            changed.append(key)
    return new, changed


def write_settings(path: Path, new: config.Settings, keys: list[str]) -> None:
    """Writes ``keys``' values of ``new`` into the config file at ``path``, comments kept; the file is
    checked as Maestro reads it before it replaces the old one (ConfigError: it was not)."""
    try:
        document = tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else tomlkit.document()
    except tomlkit.exceptions.ParseError as exc:
        raise ConfigError(
            f"{path} is not valid TOML ({exc}): fix it first, or `maestro config init`"
        ) from None
    for key in keys:
        section, _, name = key.partition(".")
        if section not in document:
            document[section] = tomlkit.table()
        document[section][name] = config.get_value(new, key)  # type: ignore[index]
    text = tomlkit.dumps(document)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, check = tempfile.mkstemp(prefix=".config-check-", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        config.load({"MAESTRO_CONFIG": check})  # as Maestro will read it (no MAESTRO_* overrides)
    except ConfigError as exc:
        raise ConfigError(str(exc).replace(check, str(path))) from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(check)
    atomic_write_text(path, text)


def shadowed(keys: list[str], env: Mapping[str, str] | None = None) -> list[str]:
    """The keys an environment variable sets for this process (it wins over the file)."""
    env = os.environ if env is None else env
    return [key for key in keys if env_variable(key) in env]


def values(settings: config.Settings) -> dict[str, Any]:
    return {item.key: config.get_value(settings, item.key) for item in EDITABLE}
