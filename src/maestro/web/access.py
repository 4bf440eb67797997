"""Who may use the box's web app: browsers paired with a code the box shows and speaks, scripts with
a token from `maestro web token`.

A browser asks the box for a code (the box shows it and says it); typed back within five minutes,
it buys a session cookie. A code takes five wrong tries and then is gone, and a new one can be asked
for only every ten seconds, each shown and spoken in the room: guessing one of a million codes that
way takes weeks of a box talking to itself. Only SHA-256 digests of sessions and tokens are kept
(``web.json`` in the state directory, 0600, written atomically), so the file alone lets nobody in;
"sign out all browsers" forgets every session. `maestro web token` writes the same file while the
daemon runs: it is read again when it changes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maestro.fsutil import BadFileError, atomic_write_text, read_json

log = logging.getLogger(__name__)

ACCESS_FILE = "web.json"
CODE_DIGITS = 6
CODE_TTL_S = 300.0
CODE_TRIES = 5
#: The least time between two codes: each is said aloud in the room.
CODE_EVERY_S = 10.0


class TooSoon(Exception):
    """A code was asked for again within ``CODE_EVERY_S``: the one on the screen still counts."""


@dataclass
class _Code:
    digits: str
    until: float
    tries_left: int = CODE_TRIES


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Access:
    def __init__(self, state_dir: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(state_dir) / ACCESS_FILE
        self.clock = clock
        self._code: _Code | None = None
        self._last_code_at = float("-inf")
        self._data: dict[str, dict[str, Any]] = {"sessions": {}, "tokens": {}}
        self._seen: tuple[int, int] | None = None  # (mtime_ns, size) of the file last read

    # -- browsers ------------------------------------------------------------------------------

    def new_code(self) -> str:
        """A fresh code for the screen and the speaker (the previous one no longer works)."""
        now = self.clock()
        if now - self._last_code_at < CODE_EVERY_S:
            raise TooSoon
        self._last_code_at = now
        digits = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
        self._code = _Code(digits, now + CODE_TTL_S)
        return digits

    def pair(self, typed: str, label: str = "") -> str | None:
        """A new session's secret for the code on the screen, or None (wrong, used up, expired)."""
        code, typed = self._code, "".join(ch for ch in typed if ch.isdigit())
        if code is None or self.clock() > code.until:
            self._code = None
            return None
        if not hmac.compare_digest(typed, code.digits):
            code.tries_left -= 1
            if code.tries_left <= 0:
                self._code = None
            return None
        self._code = None  # one browser per code
        secret = secrets.token_urlsafe(32)
        self._change("sessions", digest(secret), {"since": self.clock(), "label": label[:80]})
        return secret

    def code_waiting(self) -> bool:
        return self._code is not None and self.clock() <= self._code.until

    def session_ok(self, secret: str | None) -> bool:
        return bool(secret) and digest(secret or "") in self._current()["sessions"]

    def sign_out_browsers(self) -> int:
        return self._forget_all("sessions")

    # -- scripts -------------------------------------------------------------------------------

    def new_token(self, label: str = "") -> str:
        secret = "mst_" + secrets.token_urlsafe(32)
        self._change("tokens", digest(secret), {"since": self.clock(), "label": label[:80]})
        return secret

    def token_ok(self, secret: str | None) -> bool:
        return bool(secret) and digest(secret or "") in self._current()["tokens"]

    def revoke_tokens(self) -> int:
        return self._forget_all("tokens")

    # -- the file ------------------------------------------------------------------------------

    def _current(self) -> dict[str, dict[str, Any]]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return self._data
        seen = (stat.st_mtime_ns, stat.st_size)
        if seen != self._seen:
            self._seen = seen
            try:
                data = read_json(self.path)
            except (OSError, ValueError, BadFileError) as exc:
                log.warning("%s could not be read (%s): nobody is let in until it can", self.path, exc)
                self._data = {"sessions": {}, "tokens": {}}
                return self._data
            if not isinstance(data, dict):
                data = {}
            self._data = {k: v if isinstance(v := data.get(k), dict) else {} for k in ("sessions", "tokens")}
        return self._data

    def _forget_all(self, kind: str) -> int:
        data = self._current()
        self._save({**data, kind: {}})
        return len(data[kind])

    def _change(self, kind: str, key: str, value: dict[str, Any]) -> None:
        data = self._current()
        self._save({**data, kind: {**data[kind], key: value}})

    def _save(self, data: dict[str, dict[str, Any]]) -> None:
        atomic_write_text(self.path, json.dumps(data, indent=2) + "\n", private=True)
        self._data = data
        stat = self.path.stat()
        self._seen = (stat.st_mtime_ns, stat.st_size)
