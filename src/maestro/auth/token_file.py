"""``tokens.json`` on disk: mode 0600, written atomically, never read through a link; a damaged
file moved aside (never deleted); ``tokens.json.lock`` held while a refresh spends the refresh
token, so two processes (the daemon and a `maestro say`) never spend the same one."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import stat
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from maestro.errors import AuthError
from maestro.fsutil import BadFileError, atomic_write_text, loads, owner_of, read_private

log = logging.getLogger(__name__)
#: A one-shot command refreshes only when the disk has room for the answer (and then some).
MIN_FREE_BYTES = 64 * 1024
#: How long a refresh waits for another process's refresh before going ahead alone.
LOCK_WAIT_S = 10.0


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    #: Unix time the access token stops working.
    expires_at: float
    scope: str
    #: Where to refresh: the token endpoint the tokens came from (Spotify or a bridge).
    token_url: str
    client_id: str

    def __repr__(self) -> str:  # never print secrets, even in a traceback
        return f"Tokens(expires_at={self.expires_at:.0f}, scope={self.scope!r}, token_url={self.token_url!r})"

    @classmethod
    def from_response(
        cls,
        body: dict[str, Any],
        *,
        token_url: str,
        client_id: str,
        now: float,
        previous: Tokens | None = None,
    ) -> Tokens:
        """Tokens from a token endpoint's JSON; keeps the old refresh token when none is sent."""
        try:
            access = str(body["access_token"])
            expires_in = float(body.get("expires_in", 3600))
        except (KeyError, TypeError, ValueError) as exc:
            raise AuthError("The token endpoint sent an answer Maestro cannot read.") from exc
        refresh = body.get("refresh_token") or (previous.refresh_token if previous else "")
        if not refresh:
            raise AuthError("The token endpoint sent no refresh token.")
        scope = str(body.get("scope") or (previous.scope if previous else ""))
        return cls(access, str(refresh), now + expires_in, scope, token_url, client_id)


class TokenFile:
    def __init__(self, path: Path, *, clock: Callable[[], float], on_problem: Callable[[str], None]) -> None:
        self.path = Path(path)
        self.clock = clock
        #: Told (in words fit to speak) when the file was damaged and moved aside.
        self.on_problem = on_problem

    def read(self) -> Tokens | None:
        """The saved tokens, or None (none saved, or damaged and moved aside with a message).

        A file Maestro may not read is a permission problem, not damage: it stays
        where it is and the error says whose it is. One that others may read is
        made private again (or, when that is not allowed, warned about).
        """
        try:
            self._keep_private()
            text = read_private(self.path)
        except FileNotFoundError:
            return None
        except BadFileError as exc:
            if exc.permission:
                raise AuthError(f"Maestro may not read its sign-in: {exc}. Run Maestro as that user, "
                                f"or: sudo chown $USER {self.path}") from exc  # fmt: skip
            if exc.not_a_file:  # a link or a device where the file should be: not ours to move
                raise AuthError(f"Maestro keeps its sign-in in a plain file of its own; {exc}, then "
                                "run maestro pair.") from exc  # fmt: skip
            self._set_aside("was damaged")
            return None
        try:
            data = loads(text)
            return Tokens(
                access_token=str(data["access_token"]),
                refresh_token=str(data["refresh_token"]),
                expires_at=float(data["expires_at"]),
                scope=str(data.get("scope", "")),
                token_url=str(data["token_url"]),
                client_id=str(data.get("client_id", "")),
            )
        except (ValueError, KeyError, TypeError):
            self._set_aside("was damaged")
            return None

    def write(self, tokens: Tokens) -> None:
        """Atomically, 0600; raises OSError (a full disk) with the old file untouched."""
        atomic_write_text(self.path, json.dumps(asdict(tokens), indent=2) + "\n", private=True)

    def remove(self) -> bool:
        """True when there was a file."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True

    def _keep_private(self) -> None:
        """tokens.json must be readable by Maestro alone: 0600, fixed when it is not."""
        try:
            info = self.path.lstat()  # never a link's target: chmod would follow it to another file
        except OSError:
            return  # not there (or not ours to look at): read() says so
        mode = stat.S_IMODE(info.st_mode)
        if not stat.S_ISREG(info.st_mode) or not mode & 0o077:
            return
        try:
            os.chmod(self.path, 0o600)
            log.warning("%s was readable by other users (mode %o); made private (0600)", self.path, mode)
        except OSError:
            self.on_problem(f"{self.path} can be read by other users and Maestro may not change that "
                            f"({owner_of(self.path)}): chmod 600 it.")  # fmt: skip

    def _set_aside(self, what: str) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self.clock()))
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        number = 1
        while aside.exists():  # two in the same second must not overwrite each other
            number += 1
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{number}")
        try:
            self.path.rename(aside)
            where = f"; it was moved to {aside}"
        except OSError:
            where = ""
        self.on_problem(f"The saved Spotify sign-in {what}{where}. Please pair again.")

    def check_writable(self) -> None:
        """Before anything that must be saved (a refresh that may rotate the refresh token, a
        pairing): can the state directory take a new tokens.json? Else say whose it is."""
        directory = self.path.parent
        probe = directory
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent  # the directory is created on the first save: its parent must allow it
        if not os.access(probe, os.W_OK | os.X_OK):
            raise AuthError(
                f"Maestro cannot save its sign-in: {directory} is not writable by this user "
                f"({owner_of(probe)}). Fix: sudo chown -R $USER {probe}, or set MAESTRO_STATE_DIR."
            )

    def check_room(self) -> None:
        """Before a one-shot refresh: is there room on the disk for the answer? A rotated token that
        cannot be written dies with the process, and with it the sign-in."""
        try:
            fs = os.statvfs(self.path.parent if self.path.parent.exists() else self.path.parent.parent)
        except OSError:
            return
        if fs.f_bavail * fs.f_frsize < MIN_FREE_BYTES:
            raise AuthError(f"The disk holding {self.path.parent} is full: Maestro will not renew its "
                            "Spotify sign-in until it has room to keep the renewed one (renewing now "
                            "would lose it). Free some space, then try again.")  # fmt: skip

    @contextlib.asynccontextmanager
    async def held_for_refresh(self) -> AsyncIterator[None]:
        """``tokens.json.lock``, held while refreshing: two processes never spend one refresh token."""
        try:
            lock = self.path.with_name(self.path.name + ".lock")
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError:  # no lock to be had (a read-only directory says so elsewhere): go on alone
            yield
            return
        try:
            waited = 0.0
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if waited > LOCK_WAIT_S:  # the other one hangs: better a refresh than none
                        break
                    await asyncio.sleep(0.05)
                    waited += 0.05
            yield
        finally:
            os.close(fd)
