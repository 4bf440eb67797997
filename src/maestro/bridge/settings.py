"""What one bridge is: its Spotify app, its address, its lifetimes and its limits."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from maestro.bridge import codes

#: What each scope lets Maestro do, in the words the pair page uses.
SCOPE_WORDS = {
    "user-read-playback-state": "see what is playing and on which speaker",
    "user-modify-playback-state": "play, pause, skip and change the volume",
    "user-read-currently-playing": "see the song that is playing",
    "user-library-read": "read your saved songs and albums (to know their names)",
    "user-library-modify": "save a song to your Liked Songs when you ask",
    "playlist-read-private": "read your playlists (to know their names)",
    "user-follow-read": "see the artists you follow",
    "user-top-read": "see your most played artists and songs",
}


@dataclass
class BridgeConfig:
    client_id: str
    #: Public address of the bridge (what the box and the phone use).
    base_url: str
    accounts_url: str = "https://accounts.spotify.com"
    client_secret: str = ""
    #: "hosted" (HTTPS, redirect to <base_url>/callback) or "local" (loopback redirect, paste-back).
    mode: str = "hosted"
    #: Local mode: the loopback redirect URI registered in the Spotify dashboard.
    local_redirect_uri: str = "http://127.0.0.1:8766/callback"
    allowed_scopes: tuple[str, ...] = tuple(SCOPE_WORDS)
    code_ttl_s: int = 600
    interval_s: int = 5
    #: Typed code lookups per client address, and wrong ones in all, in any window (RFC 8628 §5.1).
    #: Sliding windows: no interval of attempt_window_s ever holds more.
    per_ip_attempts: int = 20
    global_attempts: int = 600
    attempt_window_s: int = 600
    #: New device codes per client address, and refreshes through the bridge, per window.
    authorize_per_ip: int = 20
    refresh_per_ip: int = 60
    #: New device codes from all addresses together, per window: every live grant was one of
    #: them, so this bounds the store (a flood spends it; pairings under way go on).
    authorize_global: int = 5000
    #: How long the bridge waits for Spotify's token endpoint in all (tries included): less than
    #: the box waits for the bridge (10 s), so the box hears the bridge's answer, not a timeout.
    spotify_budget_s: float = 8.0
    max_body_bytes: int = 16 * 1024
    #: Signs the confirm form's CSRF token. Shared by every instance (``bridge.secret``), so a form
    #: one instance rendered is accepted by another; a random one serves a single process.
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    clock: Callable[[], float] = field(default=time.time)

    @property
    def redirect_uri(self) -> str:
        return self.local_redirect_uri if self.mode == "local" else self.base_url.rstrip("/") + "/callback"

    def guess_odds(self) -> float:
        """Chance that guessing finds one particular code during its lifetime.

        At most ``global_attempts`` wrong typed codes are looked at in any
        ``attempt_window_s`` (a sliding window, measured in the tests), and a code
        lives ``code_ttl_s``: so at most that many windows' worth of guesses.
        Pairing links carry a 128-bit secret and are no guesses.
        """
        windows = max(1, -(-self.code_ttl_s // self.attempt_window_s))
        return self.global_attempts * windows / len(codes.USER_CODE_ALPHABET) ** codes.USER_CODE_LENGTH
