"""The bridge's memory: grants and attempt counters behind a small interface.

:class:`SQLiteStore` (WAL, so several bridge processes on one host can share a
file) is the default; anything implementing :class:`BridgeStore` can replace
it. Device codes and OAuth states are stored only as hashes; tokens wait here
only until the device collects them, once.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from maestro.bridge.codes import digest


@dataclass
class Grant:
    id: str  # the device code's hash
    user_code: str  # normalised, no dash
    client_id: str
    scope: str
    device_name: str
    status: str  # pending | authorizing | approved | denied | delivered
    expires_at: float
    interval: int
    last_poll: float | None
    state_hash: str | None = None
    code_verifier: str | None = None
    tokens: dict[str, Any] | None = None


class BridgeStore(Protocol):
    def add(self, grant: Grant) -> None: ...

    def by_user_code(self, user_code: str, now: float) -> Grant | None: ...

    def by_state(self, state: str) -> Grant | None: ...

    def update(self, grant: Grant) -> None: ...

    def poll(self, device_code: str, now: float) -> tuple[Grant | None, bool]: ...

    def count_attempt(self, key: str, window_start: float) -> int: ...

    def sweep(self, now: float) -> int: ...


SCHEMA = """
CREATE TABLE IF NOT EXISTS grants (
    id TEXT PRIMARY KEY,
    user_code TEXT NOT NULL,
    client_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    device_name TEXT NOT NULL,
    status TEXT NOT NULL,
    expires_at REAL NOT NULL,
    interval INTEGER NOT NULL,
    last_poll REAL,
    state_hash TEXT,
    code_verifier TEXT,
    tokens TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS grants_user_code ON grants(user_code);
CREATE INDEX IF NOT EXISTS grants_state ON grants(state_hash);
CREATE TABLE IF NOT EXISTS attempts (
    key TEXT NOT NULL,
    window_start REAL NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (key, window_start)
);
"""

COLUMNS = (
    "id",
    "user_code",
    "client_id",
    "scope",
    "device_name",
    "status",
    "expires_at",
    "interval",
    "last_poll",
    "state_hash",
    "code_verifier",
    "tokens",
)


class SQLiteStore:
    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        self._local = threading.local()
        self._db().executescript(SCHEMA)

    def _db(self) -> sqlite3.Connection:
        # One connection per thread (uvicorn's loop thread, test threads).
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=5)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    @staticmethod
    def _grant(row: tuple[Any, ...] | None) -> Grant | None:
        if row is None:
            return None
        values = dict(zip(COLUMNS, row, strict=True))
        values["tokens"] = json.loads(values["tokens"]) if values["tokens"] else None
        return Grant(**values)

    @staticmethod
    def _row(grant: Grant) -> tuple[Any, ...]:
        values = {**grant.__dict__, "tokens": json.dumps(grant.tokens) if grant.tokens else None}
        return tuple(values[c] for c in COLUMNS)

    def add(self, grant: Grant) -> None:
        marks = ", ".join("?" * len(COLUMNS))
        self._db().execute(f"INSERT INTO grants ({', '.join(COLUMNS)}) VALUES ({marks})", self._row(grant))

    def _one(self, where: str, *args: Any) -> Grant | None:
        row = self._db().execute(f"SELECT {', '.join(COLUMNS)} FROM grants WHERE {where}", args).fetchone()
        return self._grant(row)

    def by_user_code(self, user_code: str, now: float) -> Grant | None:
        return self._one("user_code = ? AND expires_at > ?", user_code, now)

    def by_state(self, state: str) -> Grant | None:
        return self._one("state_hash = ?", digest(state))

    def update(self, grant: Grant) -> None:
        sets = ", ".join(f"{c} = ?" for c in COLUMNS[1:])
        self._db().execute(f"UPDATE grants SET {sets} WHERE id = ?", (*self._row(grant)[1:], grant.id))

    def poll(self, device_code: str, now: float) -> tuple[Grant | None, bool]:
        """The grant, and whether this poll came sooner than its interval allows.

        A poll that is too soon while the user has not decided yet makes the
        interval five seconds longer (RFC 8628 §3.5). Read and write happen in
        one write transaction, so processes sharing the file cannot both slip
        under the interval.
        """
        db = self._db()
        key = digest(device_code)
        db.execute("BEGIN IMMEDIATE")
        try:
            grant = self._one("id = ?", key)
            if grant is None:
                return None, False
            too_fast = grant.last_poll is not None and now - grant.last_poll < grant.interval
            if too_fast and grant.status in ("pending", "authorizing"):
                grant.interval += 5
            db.execute(
                "UPDATE grants SET last_poll = ?, interval = ? WHERE id = ?", (now, grant.interval, key)
            )
        finally:
            db.execute("COMMIT")
        grant.last_poll = now
        return grant, too_fast

    def count_attempt(self, key: str, window_start: float) -> int:
        row = (
            self._db()
            .execute(
                "INSERT INTO attempts (key, window_start, count) VALUES (?, ?, 1) "
                "ON CONFLICT (key, window_start) DO UPDATE SET count = count + 1 RETURNING count",
                (key, window_start),
            )
            .fetchone()
        )
        return int(row[0])

    def sweep(self, now: float) -> int:
        """Forget grants that expired (an hour's grace for late polls) and old counters."""
        db = self._db()
        gone = db.execute("DELETE FROM grants WHERE expires_at < ?", (now - 3600,)).rowcount
        db.execute("DELETE FROM attempts WHERE window_start < ?", (now - 86400,))
        return gone
