"""``bridge.store`` -> the store it names."""

from __future__ import annotations

from pathlib import Path

from maestro.bridge.grants import BridgeStore
from maestro.errors import UsageError


def open_store(spec: str, default_path: Path) -> BridgeStore:
    """The store ``bridge.store`` names: ``sqlite:PATH``, a bare path, ``redis://``, ``rediss://``
    or ``unix://`` (a Redis socket); empty means SQLite at ``default_path``."""
    if spec.startswith(("redis://", "rediss://", "unix://")):
        from maestro.bridge.redis_store import RedisStore

        try:
            return RedisStore.from_url(spec)
        except ValueError as exc:  # "port could not be cast...": said without the URL's password
            raise UsageError(f"bridge.store: not a Redis address Maestro can use ({exc})") from None
    if "://" in spec:
        raise UsageError("bridge.store: use sqlite:PATH, redis://HOST:PORT/DB or unix:///path/to/redis.sock")
    from maestro.bridge.sqlite_store import SQLiteStore

    path = spec.removeprefix("sqlite:") or str(default_path)
    return SQLiteStore(Path(path).expanduser())
