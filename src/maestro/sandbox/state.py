"""Everything the sandbox remembers: clock, users, grants and tokens (:mod:`~maestro.sandbox.sign_in`),
faults.

One :class:`SandboxState` per app. Nothing here knows about HTTP; the routes in
``accounts.py``, ``webapi.py`` and ``controls.py`` translate requests into calls.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

from maestro.sandbox.catalog import Catalog
from maestro.sandbox.player import UserPlayer
from maestro.sandbox.player_views import snapshot
from maestro.sandbox.sign_in import (
    DEFAULT_USER,
    DEVICE_POLL_INTERVAL_S,
    AuthCode,
    DeviceGrant,
    SignIn,
    Token,
)

DEFAULT_CLIENTS = ("maestro-sandbox",)
DEFAULT_REDIRECT_URIS = ("http://127.0.0.1:8766/callback",)


class Clock:
    """Wall-clock time plus an offset that tests move forward with /sandbox/clock."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class User:
    id: str
    display_name: str
    product: Literal["premium", "free"]
    player: UserPlayer
    saved_tracks: list[tuple[str, float]] = field(default_factory=list)  # (track id, added at)
    saved_albums: list[tuple[str, float]] = field(default_factory=list)
    followed_artists: list[str] = field(default_factory=list)

    def profile(self) -> dict[str, Any]:
        return {
            "country": "US",
            "display_name": self.display_name,
            "email": f"{self.id}@example.com",
            "explicit_content": {"filter_enabled": False, "filter_locked": False},
            "external_urls": {"spotify": f"https://open.spotify.com/user/{self.id}"},
            "followers": {"href": None, "total": 0},
            "href": f"https://api.spotify.com/v1/users/{self.id}",
            "id": self.id,
            "images": [],
            "product": self.product,
            "type": "user",
            "uri": f"spotify:user:{self.id}",
        }


@dataclass
class Fault:
    status: int
    remaining: int
    retry_after: int | None = None
    latency_ms: int = 0
    path: str = ""


class SandboxState(SignIn):
    def __init__(
        self,
        *,
        allowed_clients: tuple[str, ...] = DEFAULT_CLIENTS,
        redirect_uris: tuple[str, ...] = DEFAULT_REDIRECT_URIS,
        token_ttl: int = 3600,
        poll_interval: int = DEVICE_POLL_INTERVAL_S,
        catalog: Catalog | None = None,
    ) -> None:
        self.allowed_clients = tuple(allowed_clients)
        self.redirect_uris = tuple(redirect_uris)
        self.token_ttl = token_ttl
        self.poll_interval = poll_interval
        self.catalog = catalog or Catalog.default()
        self.clock = Clock()
        self.reset()

    def reset(self) -> None:
        self.users: dict[str, User] = {}
        self.grants: dict[str, DeviceGrant] = {}  # by device_code
        self.auth_codes: dict[str, AuthCode] = {}
        self.access_tokens: dict[str, Token] = {}
        self.refresh_tokens: dict[str, Token] = {}
        self.faults: list[Fault] = []
        self.user()  # the default user always exists, so state reads never create one

    def now(self) -> float:
        return self.clock.now()

    # -- users ----------------------------------------------------------------

    def user(self, user_id: str = DEFAULT_USER, product: str | None = None) -> User:
        """The user with that id, created on first use with a small saved library."""
        if user_id not in self.users:
            display = "Sandbox User" if user_id == DEFAULT_USER else user_id
            user = User(
                user_id,
                display,
                "free" if product == "free" else "premium",
                UserPlayer.with_default_devices(self.catalog),
            )
            self._seed_library(user)
            self.users[user_id] = user
        elif product in ("free", "premium"):
            self.users[user_id].product = product  # type: ignore[assignment]
        return self.users[user_id]

    def _seed_library(self, user: User) -> None:
        start = self.now() - 86_400 * 365
        albums = sorted(self.catalog.albums.values(), key=lambda a: a.name)
        full_albums = [a for a in albums if len(a.tracks) >= 5]
        user.saved_albums = [(a.id, start + i * 3600) for i, a in enumerate(full_albums)]
        artists = sorted(self.catalog.artists.values(), key=lambda a: a.name)
        user.followed_artists = [a.id for a in artists]
        for i, album in enumerate(full_albums[:40]):
            for track in album.tracks[:3]:
                user.saved_tracks.append((track.id, start + i * 7200 + track.track_number))
        user.saved_tracks.sort(key=lambda item: -item[1])  # most recently saved first

    def ensure_user(self, user_id: str, product: str | None = None) -> None:
        self.user(user_id, product)

    def user_for_token(self, access_token: str) -> User:
        """The token's user, or :class:`PermissionError` with Spotify's message."""
        return self.user(self.user_id_for_token(access_token))

    # -- faults -----------------------------------------------------------------

    def take_fault(self, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.remaining > 0 and path.startswith(fault.path):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self.faults.remove(fault)
                return fault
        return None

    # -- the test-control view ----------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        now = self.now()
        users = {}
        for user_id, user in self.users.items():
            view = snapshot(user.player, now)
            view["saved_tracks"] = [self.catalog.tracks[track_id].uri for track_id, _ in user.saved_tracks]
            view["product"] = user.product
            users[user_id] = view
        default = users[DEFAULT_USER]
        return {
            "now": now,
            # The default user's view at the top level: what most tests look at.
            "devices": default["devices"],
            "playback": default["playback"],
            "queue": default["queue"],
            "saved_tracks": default["saved_tracks"],
            "users": users,
            "pending_grants": [
                {
                    "user_code": g.user_code,
                    "client_id": g.client_id,
                    "scope": g.scope,
                    "status": g.status,
                    "interval": g.interval,
                    "expires_in": max(0, int(g.expires_at - now)),
                }
                for g in self.grants.values()
                if g.status in ("pending", "approved") and g.expires_at > now
            ],
            "faults": [vars(f) for f in self.faults],
        }
