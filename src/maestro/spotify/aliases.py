"""Other names for the user's speakers ("the telly" for Den TV): ``speakers.yaml`` beside
``config.toml``, one ``alias: Speaker name`` a line, written atomically. The library offers each
alias as a device name of its own, so commands, the voice model and the web app all know it."""

from __future__ import annotations

from pathlib import Path

import yaml

from maestro.errors import UsageError
from maestro.fsutil import BadFileError, atomic_write_text, read_text
from maestro.intents.normalize import normalize

ALIASES_FILE = "speakers.yaml"
MAX_ALIAS = 40
HEADER = "# Other names for your speakers: what you say -> the speaker's name in Spotify.\n"


class AliasError(UsageError):
    """An alias that cannot be (empty, too long, already a speaker's name), or a broken file."""


def read_aliases(path: Path) -> dict[str, str]:
    """``{alias: speaker name}``; {} when there is no file (AliasError when it is broken)."""
    try:
        text = read_text(path)
    except FileNotFoundError:
        return {}
    except BadFileError as exc:
        raise AliasError(str(exc)) from exc
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise AliasError(f"{path}: not valid YAML ({exc})") from exc
    pairs = data.items() if isinstance(data, dict) else []
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in pairs):
        raise AliasError(f"{path}: expected lines of 'alias: Speaker name'")
    return {normalize(k): v for k, v in data.items() if normalize(k)}


def write_aliases(path: Path, aliases: dict[str, str]) -> None:
    body = yaml.safe_dump(dict(sorted(aliases.items())), allow_unicode=True, default_flow_style=False)
    atomic_write_text(path, HEADER + (body if aliases else ""))


def checked_alias(alias: str, speakers: list[str]) -> str:
    """The alias as it is kept (normalised words), or AliasError saying why it can't be one."""
    words = normalize(alias)
    if not words:
        raise AliasError("Say the other name in words, like “the telly”.")
    if len(words) > MAX_ALIAS:
        raise AliasError(f"An alias of at most {MAX_ALIAS} characters, please.")
    if words in {normalize(name) for name in speakers}:
        raise AliasError(f"“{alias}” is already a speaker's name.")
    return words
