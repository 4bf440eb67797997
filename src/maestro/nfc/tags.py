"""NFC cards: what a tag means, the tags.yaml mapping, and second taps.

A tag either carries an NDEF record (a ``spotify:`` URI or an
``open.spotify.com`` link, played directly; or text, a command) or only a UID,
looked up in ``tags.yaml`` (UID -> Spotify URI, link, or a command such as
"pause", "volume 30", "play on kitchen"). The file is written atomically; a
malformed file is reported with its line and the last good mapping stays in
use. A card lifted and laid down again within a few seconds is a second tap
(toggle pause, restart, or ignore); a card resting on the reader is not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from maestro.errors import UsageError
from maestro.fsutil import BadFileError, atomic_write_text, read_text

SPOTIFY_KINDS = ("album", "playlist", "track", "artist", "episode", "show")
# Spotify ids are 22 base-62 characters: "spotify:album:doesnotexist" is not one.
_SPOTIFY_URI = re.compile(
    r"^spotify:(?:user:[^:]+:)?(album|playlist|track|artist|episode|show):([A-Za-z0-9]{22})$"
)
_LINK_PATH = re.compile(r"^/(?:intl-[a-z]{2}(?:-[A-Za-z]{2})?/)?(?:embed/)?([a-z]+)/([A-Za-z0-9]{22})/?$")
#: ISO 14443 cards have 4-, 7- or 10-byte UIDs.
UID_BYTES = (4, 7, 10)


class TagError(UsageError):
    """A tag or mapping Maestro cannot use; the message says why."""


@dataclass(frozen=True)
class TagAction:
    """What a tag asks for: play a Spotify URI, or run a command as if spoken."""

    uri: str | None = None
    command: str | None = None

    def describe(self) -> str:
        return self.uri or f'"{self.command}"'


def spotify_uri(text: str) -> str | None:
    """ "https://open.spotify.com/intl-de/album/ID?si=x" -> "spotify:album:ID"; None if not Spotify."""
    text = text.strip()
    match = _SPOTIFY_URI.match(text)
    if match:
        return f"spotify:{match.group(1)}:{match.group(2)}"
    if not re.match(r"^(https?://)?open\.spotify\.com/", text):
        return None
    parts = urlsplit(text if "://" in text else "https://" + text)
    link = _LINK_PATH.match(parts.path)  # the query (?si=...) and locale prefix are ignored
    if link and link.group(1) in SPOTIFY_KINDS:
        return f"spotify:{link.group(1)}:{link.group(2)}"
    return None


def action_for(value: str) -> TagAction:
    """A mapping value or NDEF payload as an action: a Spotify URI/link, or a command."""
    value = value.strip()
    if not value:
        raise TagError("The tag's action is empty.")
    uri = spotify_uri(value)
    if uri:
        return TagAction(uri=uri)
    if value.startswith(("spotify:", "http://", "https://", "open.spotify.com")):
        raise TagError(f"{value!r} is not a Spotify album, playlist, track or artist link.")
    return TagAction(command=value)


def parse_ndef(data: bytes) -> TagAction | None:
    """The action in a tag's NDEF message (first URI or text record); None when it has none."""
    import ndef

    try:
        records = list(ndef.message_decoder(data))
    except ndef.DecodeError as exc:
        raise TagError(f"The tag's data is damaged ({exc}).") from exc
    for record in records:
        if isinstance(record, ndef.UriRecord):
            return action_for(record.iri)
        if isinstance(record, ndef.TextRecord):
            return action_for(record.text)
    return None


def normalise_uid(uid: str) -> str:
    """ "04:a1:b2:c3" -> "04A1B2C3" (separators ":", "-" and spaces dropped)."""
    cleaned = re.sub(r"[\s:-]", "", uid).upper()
    if not cleaned or len(cleaned) % 2 or not re.fullmatch(r"[0-9A-F]+", cleaned):
        raise TagError(f"{uid!r} is not a card UID (hex digits, like 04A1B2C3).")
    return cleaned


def check_uid(uid: str) -> str:
    """A UID as a new mapping needs it: hex, and 4, 7 or 10 bytes long, as cards have."""
    cleaned = normalise_uid(uid)
    if len(cleaned) // 2 not in UID_BYTES:
        raise TagError(
            f"{uid!r} is not a card UID: cards have 4, 7 or 10 bytes (8, 14 or 20 hex digits, like 04A1B2C3)."
        )
    return cleaned


class _TagsLoader(yaml.BaseLoader):
    """Every value a string (a UID 0411 stays "0411", not the octal number 265), and a card listed
    twice is a mistake to point at, not a silent last-one-wins."""


def _unique_mapping(loader: _TagsLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"card {key} is listed twice", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


_TagsLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


class TagStore:
    """``tags.yaml``: UID -> action. The daemon (``in_use``) keeps the last good mapping when the
    file breaks, and says so; a one-off command just says what is wrong."""

    def __init__(self, path: Path, *, in_use: bool = False) -> None:
        self.path = Path(path)
        self.in_use = in_use
        self.mapping: dict[str, str] = {}
        self.problem: str | None = None
        self.reload()

    def reload(self) -> dict[str, str]:
        """Read the file; on a mistake keep the last good mapping and set ``problem``."""
        try:
            text = read_text(self.path)
        except FileNotFoundError:
            self.mapping, self.problem = {}, None
            return self.mapping
        except BadFileError as exc:
            return self._broken(f"{exc}.")
        try:
            data = yaml.load(text, Loader=_TagsLoader) or {}
            if not isinstance(data, dict):
                raise TagError(f"{self.path}: expected 'UID: action' lines")
            mapping = {}
            for uid, value in data.items():
                if not isinstance(value, str):
                    raise TagError(f"card {uid}: the action must be one line of text or a link.")
                try:
                    action_for(value)  # every action must make sense, and every UID be a card's
                    mapping[check_uid(str(uid))] = value
                except TagError as exc:
                    raise TagError(f"card {uid}: {exc}") from exc
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            line = f":{mark.line + 1}" if mark else ""
            return self._broken(f"{self.path}{line}: {exc.problem}.")
        except TagError as exc:
            return self._broken(f"{self.path}: {exc}")
        self.mapping, self.problem = mapping, None
        return self.mapping

    def _broken(self, problem: str) -> dict[str, str]:
        self.problem = f"{problem} Still using the previous card list." if self.in_use else problem
        return self.mapping

    def lookup(self, uid: str) -> TagAction | None:
        value = self.mapping.get(normalise_uid(uid))
        return action_for(value) if value is not None else None

    def add(self, uid: str, action: TagAction) -> str:
        """Maps a card (its UID checked) to a checked action; returns the UID as stored."""
        cleaned = check_uid(uid)
        self.mapping[cleaned] = action.uri or (action.command or "").strip()
        self._save()
        return cleaned

    def remove(self, uid: str) -> bool:
        gone = self.mapping.pop(normalise_uid(uid), None) is not None
        if gone:
            self._save()
        return gone

    def _save(self) -> None:
        header = '# Maestro\'s NFC cards: tag UID -> Spotify link/URI or a command ("pause", "volume 30").\n'
        body = yaml.safe_dump(
            dict(sorted(self.mapping.items())), allow_unicode=True, default_flow_style=False
        )
        atomic_write_text(self.path, header + body)


class TapTracker:
    """Tells a new tap from a second tap of the same card (and ignores a resting card)."""

    def __init__(self, window_s: float = 10.0) -> None:
        self.window_s = window_s
        self.present: str | None = None
        self.last_uid: str | None = None
        self.removed_at: float | None = None

    def arrived(self, uid: str, now: float) -> str:
        """ "first", "second" (same card back within the window) or "resting" (never left)."""
        if self.present == uid:
            return "resting"
        again = (
            uid == self.last_uid and self.removed_at is not None and now - self.removed_at <= self.window_s
        )
        self.present, self.last_uid = uid, uid
        return "second" if again else "first"

    def removed(self, uid: str, now: float) -> None:
        if self.present == uid:
            self.present, self.removed_at = None, now
