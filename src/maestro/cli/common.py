"""What several command groups share."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from maestro.intents.library import LibraryProvider


def library_for(path: str | None) -> LibraryProvider:
    """``--library FILE``; else the names Maestro last fetched from Spotify (the state dir's
    ``library.json``, the cache `say` and `run` keep); else none. One reader for both formats.
    A damaged cache is no reason to refuse: the names are a help, not a must."""
    from maestro import config
    from maestro.errors import UsageError
    from maestro.intents import StaticLibrary
    from maestro.intents.library import EmptyLibrary

    if path:
        return StaticLibrary.from_file(Path(path))
    cache = config.state_dir() / "library.json"
    if not cache.exists():
        return EmptyLibrary()
    try:
        return StaticLibrary.from_file(cache)
    except UsageError:
        import logging

        logging.getLogger(__name__).warning("%s is damaged; going on without your library's names", cache)
        return EmptyLibrary()


def print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False), flush=True)
