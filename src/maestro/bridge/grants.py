"""A pairing as the bridge remembers it, and the store contract every backend keeps.

A grant moves through :class:`GrantStatus`::

    pending --confirm--> authorizing --callback--> exchanging --Spotify's tokens--> approved
       ^                   |  ^   |                     |                              |
       +-- backed out -----+  +---+ confirmed again     |            device polls once v
       +----------------- Spotify trouble --------------+                          delivered
    pending --cancel--> denied

A grant lives exactly as long as its user code (RFC 8628 ``expires_in``): after that a
poll hears ``expired_token`` whether or not the store still holds it. A delivered
grant keeps its OAuth state until then, so a reloaded callback says "Already done".

Every operation that two requests (or two bridge processes) could race on is
one atomic step of the store, so no instance can slip through a gap:

- ``poll``: read the grant and stamp the poll (``slow_down`` grows the interval);
- ``take_tokens``: an approved grant's tokens, handed out once: they are gone (and the
  grant "delivered") in the same step, so a second poll, here or elsewhere, finds nothing;
- ``claim_state``: the OAuth ``state`` moves its grant from "authorizing" to
  "exchanging" before the code exchange starts, so a reloaded callback cannot
  exchange (and spoil) it a second time;
- ``hit``: a sliding-window rate limit that reserves a slot or refuses, with no
  read-then-increment window; ``release`` gives a slot back.

Device codes, OAuth states and link secrets are stored only as SHA-256 hashes.
Tokens wait only sealed to a key that only the device code opens
(:func:`maestro.bridge.codes.seal`); after delivery they are gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from maestro.errors import MaestroError


class GrantStatus(StrEnum):
    PENDING = "pending"  # waiting for someone to open the link or type the code
    AUTHORIZING = "authorizing"  # confirmed; the browser is at Spotify's authorize page
    EXCHANGING = "exchanging"  # Spotify sent the browser back; the code is being exchanged
    APPROVED = "approved"  # tokens sealed, waiting for the device's next poll
    DELIVERED = "delivered"  # the device has its tokens; nothing of them is left here
    DENIED = "denied"  # the user cancelled on the confirm page


#: A code in these states opens the confirm page: a user who left Spotify's page without
#: answering, or sent the form twice, can go on from the same link.
CONFIRMABLE = (GrantStatus.PENDING, GrantStatus.AUTHORIZING)
#: The browser's part is over: a reloaded callback or a second paste says "Already done".
FINISHED = (GrantStatus.EXCHANGING, GrantStatus.APPROVED, GrantStatus.DELIVERED)


@dataclass
class Grant:
    id: str  # the device code's hash
    user_code: str  # normalised, no dash
    client_id: str
    scope: str
    device_name: str
    status: str  # a GrantStatus value
    expires_at: float
    interval: int
    last_poll: float | None
    #: The public half of the key the device code derives: tokens are sealed to it.
    public_key: str = ""
    #: Hash of the secret in the pairing link (the QR code): that link is not guessing.
    link_hash: str = ""
    state_hash: str | None = None
    code_verifier: str | None = None
    #: The token response, sealed to ``public_key`` (only the device code opens it).
    sealed_tokens: str | None = None


class StoreUnavailableError(MaestroError):
    """The store cannot be reached (Redis down): devices are told to come back later, never a 500."""

    problem = "unreachable"


class StoreFullError(StoreUnavailableError):
    """The store answers but refuses writes (Redis at ``maxmemory``, a full disk)."""

    problem = "refuses writes"


class BridgeStore(Protocol):
    async def add(self, grant: Grant, now: float) -> bool:
        """Stores a new grant; False when its user code belongs to a live grant (pick another)."""

    async def by_user_code(self, user_code: str, now: float) -> Grant | None: ...

    async def update(self, grant: Grant) -> None: ...

    async def poll(self, grant_id: str, now: float) -> tuple[Grant | None, bool]:
        """The grant, and whether this poll came sooner than its interval allows (which then
        grows by five seconds, RFC 8628 §3.5)."""

    async def by_state(self, state_hash: str, now: float) -> Grant | None:
        """The live grant an OAuth state belongs to (read only: the callback checks the browser
        before anything is claimed)."""

    async def take_tokens(self, grant_id: str) -> str | None:
        """An approved grant's sealed tokens, exactly once: the grant is "delivered" afterwards,
        its tokens gone."""

    async def claim_state(self, state_hash: str, now: float) -> tuple[Grant | None, bool]:
        """The grant of an OAuth state, and whether this call moved it from "authorizing" to
        "exchanging" (only that caller may exchange the code)."""

    async def hit(self, key: str, limit: int, window_s: float, now: float) -> str | None:
        """Reserves one of ``limit`` slots in the ``window_s`` before ``now``: a ticket, or None
        when they are all taken. Slots stamped later than ``now`` (the clock stepped back) count
        as taken ``now``: still counted, and free a window later, not a window after the future."""

    async def release(self, key: str, ticket: str) -> None:
        """Gives a slot back (a right code does not spend the budget for wrong ones)."""

    async def sweep(self, now: float) -> int:
        """Forgets expired grants and old rate-limit entries; returns how many grants went."""

    async def health(self) -> None:
        """Raises StoreUnavailableError when the store cannot serve, StoreFullError when it
        answers but refuses to write (a real write is made to find out)."""

    async def close(self) -> None: ...
