"""The token store: ``tokens.json`` in the state dir, mode 0600, written atomically.

It hands out a fresh access token (refreshing a minute before expiry, or when
the Web API answers 401), saves a rotated refresh token *before* the new access
token is used, collapses concurrent refreshes into one request, moves a corrupt
file aside (never deletes it), and turns ``invalid_grant`` into "pair again".

A refresh is never cut short by the command that asked for it: Spotify may
already have rotated the refresh token, so an answer thrown away is a sign-in
lost. It runs as a task of its own, shielded from the caller's deadline, and
saves first; the command can give up waiting and say "Spotify isn't answering",
and :meth:`TokenStore.settle` lets a one-shot command's process wait for it
before exiting. When the rotated token cannot be written (a full disk), the
daemon (``lasting``) keeps it in memory and writes it when space returns; a
one-shot command, whose memory ends with it, does not refresh at all when the
disk could not take the answer, and says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from maestro.auth.token_file import TokenFile, Tokens
from maestro.errors import AuthError, NotPairedError, SignInExpiredError, SpotifyUnavailableError
from maestro.fsutil import loads

log = logging.getLogger(__name__)
REFRESH_MARGIN_S = 60
#: How long the box waits for the token endpoint (Spotify or a bridge, which answers sooner).
REFRESH_TIMEOUT_S = 10.0


class TokenStore:
    def __init__(
        self,
        path: Path,
        http: httpx.AsyncClient | None = None,
        *,
        clock: Callable[[], float] = time.time,
        on_problem: Callable[[str], None] | None = None,
        lasting: bool = False,
    ) -> None:
        self.path = Path(path)
        self.http = http
        self.clock = clock
        #: The daemon: it lives on, so a rotated token it could not write is kept and written later.
        self.lasting = lasting
        self.file = TokenFile(
            self.path, clock=clock, on_problem=on_problem or (lambda message: log.warning("%s", message))
        )
        self._tokens: Tokens | None = None
        self._loaded = False
        self._unsaved = False  # rotated tokens that are only in memory (the write failed)
        self._refreshing: asyncio.Task[Tokens] | None = None

    # -- the file ---------------------------------------------------------------

    def load(self) -> Tokens | None:
        """The saved tokens, or None; a damaged file is moved aside with a message."""
        self._loaded = True
        self._tokens = self.file.read()
        return self._tokens

    def check_writable(self) -> None:
        self.file.check_writable()

    def save(self, tokens: Tokens) -> None:
        self._tokens, self._loaded = tokens, True  # in memory first: a failed write loses nothing now
        try:
            self.file.write(tokens)
        except OSError as exc:
            self._unsaved = True
            why = f"Maestro could not save its sign-in to {self.path} ({exc.strerror or exc})"
            if self.lasting:
                raise AuthError(f"{why}; it keeps it in memory and writes it as soon as it can.") from exc
            raise AuthError(f"{why}, so it is lost when this command ends. Free some space, then run "
                            "maestro pair.") from exc  # fmt: skip
        self._unsaved = False

    @property
    def unsaved(self) -> bool:
        """A rotated sign-in only in memory: the file could not be written."""
        return self._unsaved

    def retry_save(self) -> None:
        """A rotated refresh token that could not be written is written as soon as possible."""
        if self._unsaved and self._tokens is not None:
            with contextlib.suppress(AuthError):
                self.save(self._tokens)
                log.info("the sign-in kept in memory is saved now")

    def clear(self) -> bool:
        """Forget the sign-in. True when there was one."""
        self._tokens, self._loaded = None, True
        return self.file.remove()

    @property
    def tokens(self) -> Tokens | None:
        if not self._loaded:
            self.load()
        return self._tokens

    # -- handing out access tokens ------------------------------------------------

    async def access_token(self) -> str:
        """A token good for at least another minute (refreshing first if needed)."""
        tokens = self.tokens
        if tokens is None:
            raise NotPairedError()
        self.retry_save()
        if tokens.expires_at - self.clock() > REFRESH_MARGIN_S:
            return tokens.access_token
        return await self.refresh(tokens.access_token)

    async def refresh(self, failed_token: str | None = None) -> str:
        """Refresh once, however many callers ask at the same time (single flight).

        ``failed_token`` is the token the caller saw fail: when someone else has
        already replaced it, that newer token is returned without a request. The
        refresh itself runs on, shielded, when the caller is cancelled (its deadline).
        """
        if self._refreshing is None:
            tokens = self.tokens
            if tokens is None:
                raise NotPairedError()
            fresh_enough = tokens.expires_at - self.clock() > REFRESH_MARGIN_S
            if failed_token is not None and tokens.access_token != failed_token and fresh_enough:
                return tokens.access_token
            if not self._unsaved:
                self.file.check_writable()  # a refresh may rotate the refresh token: it must be savable
                if not self.lasting:
                    self.file.check_room()
            self._refreshing = asyncio.create_task(self._refresh_and_save(tokens), name="token refresh")
            self._refreshing.add_done_callback(self._refreshed)
        new = await asyncio.shield(self._refreshing)
        return new.access_token

    async def _refresh_and_save(self, tokens: Tokens) -> Tokens:
        async with self.file.held_for_refresh():
            # The daemon and a `maestro say` share tokens.json: one of them may have refreshed while
            # this one waited for the lock. Its rotated token is the one that works now.
            on_disk = tokens if self._unsaved else self._reread()
            if on_disk is None:
                raise NotPairedError()  # `maestro logout` ran meanwhile
            if on_disk.refresh_token != tokens.refresh_token:
                if on_disk.expires_at - self.clock() > REFRESH_MARGIN_S:
                    self._tokens = on_disk
                    return on_disk
                tokens = on_disk
            return await self._refresh_locked(tokens)

    def _reread(self) -> Tokens | None:
        with contextlib.suppress(AuthError):
            self.load()
        return self._tokens

    async def _refresh_locked(self, tokens: Tokens) -> Tokens:
        try:
            assert self.http is not None, "a store without an HTTP client only reads and writes the file"
            new = await request_refresh(self.http, tokens, self.clock())
        except SignInExpiredError:
            self.clear()  # a sign-in Spotify ended is no sign-in: `maestro pair` must not think otherwise
            raise
        try:
            self.save(new)  # the rotated refresh token is on disk before anyone uses `new`
        except AuthError as exc:
            if not self.lasting:
                raise  # a one-shot command says the truth: this sign-in will not outlive it
            log.warning("%s", exc)  # the daemon keeps it in memory; written again at the next chance
        return new

    def _refreshed(self, task: asyncio.Task[Tokens]) -> None:
        self._refreshing = None
        if not task.cancelled() and task.exception() is not None:
            log.info("token refresh failed: %s", task.exception())  # its callers hear the error

    async def settle(self, timeout: float | None = None) -> None:
        """Waits for a refresh under way (its own timeout bounds it, or ``timeout``): a process about
        to exit must not drop a rotated token that is still on its way."""
        if self._refreshing is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._refreshing), timeout)


async def request_refresh(http: httpx.AsyncClient, tokens: Tokens, now: float) -> Tokens:
    """One refresh_token grant at the token endpoint the tokens came from."""
    data = {
        "grant_type": "refresh_token",
        "refresh_token": tokens.refresh_token,
        "client_id": tokens.client_id,
    }
    try:
        response = await http.post(tokens.token_url, data=data, timeout=REFRESH_TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise SpotifyUnavailableError("I can't reach Spotify's sign-in service right now.") from exc
    if response.status_code == 200:
        try:
            body = loads(response.content)
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            raise AuthError("Spotify's sign-in service sent an answer Maestro cannot read.") from exc
        return Tokens.from_response(
            body,
            token_url=tokens.token_url,
            client_id=tokens.client_id,
            now=now,
            previous=tokens,
        )
    error = _oauth_error(response)
    if error in ("invalid_grant", "invalid_client", "unauthorized_client"):
        raise SignInExpiredError()
    if response.status_code >= 500 or response.status_code == 429:
        raise SpotifyUnavailableError("Spotify's sign-in service is having trouble. Try again in a moment.")
    raise AuthError(f"Spotify refused to refresh the sign-in ({error or response.status_code}).")


def _oauth_error(response: httpx.Response) -> str:
    try:
        body = loads(response.content)
    except ValueError:
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""
