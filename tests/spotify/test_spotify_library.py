"""The library names from Spotify: fetched, cached atomically, reloaded, refreshed when stale."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from maestro.spotify.client import SpotifyClient
from maestro.spotify.library import SpotifyLibrary
from maestro.spotify.player import Player
from tests.live import LiveSandbox


async def test_fetch_cache_reload_and_background_refresh(live: LiveSandbox, tmp_path: Path) -> None:
    from maestro.auth.tokens import TokenStore

    live.pair_into(tmp_path)
    async with httpx.AsyncClient() as http:
        player = Player(SpotifyClient(f"{live.url}/v1", TokenStore(tmp_path / "tokens.json", http), http))
        now = [1000.0]
        changes: list[int] = []
        library = SpotifyLibrary(player, tmp_path / "library.json", max_age_s=60, clock=lambda: now[0],
                                 on_change=lambda: changes.append(1))  # fmt: skip
        assert library.stale and library.items("album") == []
        await library.refresh()
        albums = {i.name: i for i in library.items("album")}
        assert albums["Abbey Road"].artist == "The Beatles" and albums["Abbey Road"].uri.startswith(
            "spotify:album:"
        )
        assert {"Discover Weekly"} <= {i.name for i in library.items("playlist")}
        assert {"Miles Davis"} <= {i.name for i in library.items("artist")}
        assert len(library.items("track")) >= 100 and len(library.items("device")) == 4
        assert changes == [1]
        cached = json.loads((tmp_path / "library.json").read_text())
        assert cached["fetched_at"] == 1000.0

        again = SpotifyLibrary(player, tmp_path / "library.json", max_age_s=60, clock=lambda: now[0])
        assert not again.stale and len(again.items("album")) == len(library.items("album"))  # from disk

        assert library.refresh_in_background() is None  # fresh: nothing to do
        now[0] += 61
        task = library.refresh_in_background()
        assert task is not None and library.refresh_in_background() is task  # one at a time
        await task
        assert library.fetched_at == now[0] and changes == [1, 1]


def test_unreadable_cache_is_rebuilt_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "library.json").write_text("{broken")
    library = SpotifyLibrary(Player(None), tmp_path / "library.json")  # type: ignore[arg-type]
    assert library.stale and library.items("album") == []
