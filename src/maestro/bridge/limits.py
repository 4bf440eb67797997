"""Rate limits: sliding windows in the store, per client address and for everyone together."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from maestro.bridge import codes
from maestro.bridge.grants import CONFIRMABLE, BridgeStore, Grant
from maestro.bridge.settings import BridgeConfig


@dataclass(frozen=True)
class TooMany:
    """Guessing is cut off: for this address, or (``everyone``) for all addresses together."""

    everyone: bool


def address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class Limits:
    def __init__(self, config: BridgeConfig, store: BridgeStore) -> None:
        self.config = config
        self.store = store

    async def allowed(self, key: str, limit: int, now: float) -> bool:
        """One more request under ``key`` in the sliding window, if ``limit`` allows it."""
        return await self.store.hit(key, limit, self.config.attempt_window_s, now) is not None

    async def look_up(
        self, request: Request, code: str, link_secret: str, now: float
    ) -> Grant | TooMany | None:
        """The grant a code names, if it can be confirmed; or None; or TooMany when guessing is cut off.

        The pairing link (QR code) carries a secret: with it, a lookup is no guess and is
        never limited, so a user with the box in front of them always gets through. A
        typed code is a guess: each address gets ``per_ip_attempts``, and all addresses
        together ``global_attempts`` *wrong* ones, in any sliding window: a right code gives
        its slot back, so an attacker spending the budget cannot lock the right code out
        through the link, only slow down typed codes for a while.
        """
        normalised = codes.normalise_user_code(code)
        grant = await self.store.by_user_code(normalised, now) if codes.looks_like_user_code(code) else None
        if (
            grant is not None
            and link_secret
            and codes.same(codes.digest(link_secret.upper()), grant.link_hash)
        ):
            return grant if grant.status in CONFIRMABLE else None
        window = self.config.attempt_window_s
        mine = await self.store.hit(f"pair:{address(request)}", self.config.per_ip_attempts, window, now)
        if mine is None:
            return TooMany(everyone=False)
        everyone = await self.store.hit("pair:all-wrong", self.config.global_attempts, window, now)
        if everyone is None:
            return TooMany(everyone=True)
        if grant is not None and grant.status in CONFIRMABLE and not link_secret:
            await self.store.release("pair:all-wrong", everyone)  # right: it did not spend the wrong budget
            return grant
        return None
