"""Helpers the auth tests share."""

from __future__ import annotations

import asyncio

from tests.live import LiveSandbox


class FakeTime:
    """Sleeps cost nothing; the sandbox's clock moves by the same amount."""

    def __init__(self, live: LiveSandbox | None = None) -> None:
        self.now = 0.0
        self.live = live

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        if self.live is not None:
            self.live.control("clock", {"advance_s": seconds})
        await asyncio.sleep(0)


DEVICE = "https://accounts.example/device"


TOKEN = "https://accounts.example/token"


GRANT = {
    "device_code": "dev-code-SECRET",
    "user_code": "BCDF-GHJK",
    "verification_uri": "https://example.com/pair",
    "expires_in": 600,
    "interval": 5,
}
