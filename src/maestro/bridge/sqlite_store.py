"""The bridge's store in one SQLite file: the embedded default (one host, WAL).

The contract is :class:`maestro.bridge.grants.BridgeStore`; every racy step is one
write transaction (``BEGIN IMMEDIATE``), so processes sharing the file cannot slip
through a gap. ``maestro.bridge.redis_store.RedisStore`` keeps the same contract
for several workers and instances.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import stat
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from maestro.bridge.grants import Grant, GrantStatus, StoreFullError, StoreUnavailableError
from maestro.errors import UsageError

SCHEMA = """
CREATE TABLE IF NOT EXISTS grants (
    id TEXT PRIMARY KEY,
    user_code TEXT NOT NULL UNIQUE,
    client_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    device_name TEXT NOT NULL,
    status TEXT NOT NULL,
    expires_at REAL NOT NULL,
    interval INTEGER NOT NULL,
    last_poll REAL,
    public_key TEXT NOT NULL DEFAULT '',
    link_hash TEXT NOT NULL DEFAULT '',
    state_hash TEXT,
    code_verifier TEXT,
    sealed_tokens TEXT
);
CREATE INDEX IF NOT EXISTS grants_state ON grants(state_hash);
CREATE INDEX IF NOT EXISTS grants_expiry ON grants(expires_at);
CREATE TABLE IF NOT EXISTS hits (
    key TEXT NOT NULL,
    at REAL NOT NULL,
    ticket TEXT NOT NULL PRIMARY KEY
);
CREATE INDEX IF NOT EXISTS hits_key ON hits(key, at);
CREATE TABLE IF NOT EXISTS health (id INTEGER PRIMARY KEY, at REAL NOT NULL);
"""

COLUMNS = tuple(Grant.__dataclass_fields__)


class SQLiteStore:
    """Grants in one SQLite file (WAL; processes on one host may share it).

    The file, its WAL and shared-memory files are created 0600, and the directory
    0700 when the store creates it. Deleted rows are overwritten (``secure_delete``)
    and the WAL is truncated after each delivery, so no page image outlives it.
    """

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        self._local = threading.local()
        if self.path != ":memory:":
            _prepare(Path(self.path))
        try:
            self._db().executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise UsageError(f"{self.path}: not a bridge database Maestro can use ({exc})") from exc
        if self.path != ":memory:":
            _private(Path(self.path))

    def _db(self) -> sqlite3.Connection:
        # One connection per thread (uvicorn's loop thread, test threads).
        db = getattr(self._local, "db", None)
        if db is None:
            try:
                db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=5)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute("PRAGMA secure_delete=ON")  # deleted rows are zeroed, not left in free pages
            except sqlite3.Error as exc:
                raise UsageError(f"{self.path}: cannot open the bridge's database ({exc})") from exc
            self._local.db = db
        return db

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: what happens inside is one step for every process on the file.
        A full disk is StoreFullError, a file locked for too long StoreUnavailableError."""
        db = self._db()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            if "full" in str(exc):
                raise StoreFullError(f"SQLite: {exc}") from exc
            raise StoreUnavailableError(f"SQLite: {exc}") from exc

    @staticmethod
    def _grant(row: tuple[Any, ...] | None) -> Grant | None:
        return None if row is None else Grant(**dict(zip(COLUMNS, row, strict=True)))

    def _one(self, db: sqlite3.Connection, where: str, *args: Any) -> Grant | None:
        row = db.execute(f"SELECT {', '.join(COLUMNS)} FROM grants WHERE {where}", args).fetchone()
        return self._grant(row)

    async def add(self, grant: Grant, now: float) -> bool:
        marks = ", ".join("?" * len(COLUMNS))
        with self._write() as db:
            # A user code is free again once its grant expired, swept or not.
            db.execute("DELETE FROM grants WHERE user_code = ? AND expires_at <= ?", (grant.user_code, now))
            try:
                db.execute(f"INSERT INTO grants ({', '.join(COLUMNS)}) VALUES ({marks})",
                           tuple(getattr(grant, c) for c in COLUMNS))  # fmt: skip
            except sqlite3.IntegrityError:
                return False
        return True

    async def by_user_code(self, user_code: str, now: float) -> Grant | None:
        return self._one(self._db(), "user_code = ? AND expires_at > ?", user_code, now)

    async def by_state(self, state_hash: str, now: float) -> Grant | None:
        return self._one(self._db(), "state_hash = ? AND expires_at > ?", state_hash, now)

    async def update(self, grant: Grant) -> None:
        sets = ", ".join(f"{c} = ?" for c in COLUMNS[1:])
        values = tuple(getattr(grant, c) for c in COLUMNS[1:])
        with self._write() as db:
            db.execute(f"UPDATE grants SET {sets} WHERE id = ?", (*values, grant.id))

    async def poll(self, grant_id: str, now: float) -> tuple[Grant | None, bool]:
        with self._write() as db:
            grant = self._one(db, "id = ?", grant_id)
            if grant is None:
                return None, False
            too_fast = grant.last_poll is not None and now - grant.last_poll < grant.interval
            if too_fast and grant.status in (
                GrantStatus.PENDING,
                GrantStatus.AUTHORIZING,
                GrantStatus.EXCHANGING,
            ):
                grant.interval += 5
            db.execute(
                "UPDATE grants SET last_poll = ?, interval = ? WHERE id = ?", (now, grant.interval, grant_id)
            )
        grant.last_poll = now
        return grant, too_fast

    async def take_tokens(self, grant_id: str) -> str | None:
        with self._write() as db:
            row = db.execute(
                "SELECT sealed_tokens FROM grants WHERE id = ? AND status = 'approved' "
                "AND sealed_tokens IS NOT NULL",
                (grant_id,),
            ).fetchone()
            if row is not None:
                db.execute("UPDATE grants SET status = 'delivered', sealed_tokens = NULL, "
                           "code_verifier = NULL WHERE id = ?", (grant_id,))  # fmt: skip
        if row is not None and self.path != ":memory:":
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # no copy of the sealed tokens stays in the WAL
        return None if row is None else str(row[0])

    async def claim_state(self, state_hash: str, now: float) -> tuple[Grant | None, bool]:
        with self._write() as db:
            grant = self._one(db, "state_hash = ?", state_hash)
            if grant is None or grant.status != GrantStatus.AUTHORIZING or now >= grant.expires_at:
                return grant, False
            db.execute("UPDATE grants SET status = 'exchanging' WHERE id = ?", (grant.id,))
        grant.status = GrantStatus.EXCHANGING
        return grant, True

    async def hit(self, key: str, limit: int, window_s: float, now: float) -> str | None:
        with self._write() as db:
            db.execute("DELETE FROM hits WHERE key = ? AND at <= ?", (key, now - window_s))
            db.execute("UPDATE hits SET at = ? WHERE key = ? AND at > ?", (now, key, now))  # clock went back
            (count,) = db.execute("SELECT COUNT(*) FROM hits WHERE key = ?", (key,)).fetchone()
            if count >= limit:
                return None
            ticket = uuid.uuid4().hex
            db.execute("INSERT INTO hits (key, at, ticket) VALUES (?, ?, ?)", (key, now, ticket))
        return ticket

    async def release(self, key: str, ticket: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM hits WHERE key = ? AND ticket = ?", (key, ticket))

    async def sweep(self, now: float) -> int:
        return await asyncio.to_thread(self._sweep, now)  # a big delete: off the event loop

    def _sweep(self, now: float) -> int:
        with self._write() as db:
            gone = db.execute("DELETE FROM grants WHERE expires_at <= ?", (now,)).rowcount
            db.execute("DELETE FROM hits WHERE at < ?", (now - 86400,))
        return gone

    async def health(self) -> None:
        try:
            with self._write() as db:  # a real write: a full disk answers reads but not this
                db.execute("INSERT OR REPLACE INTO health (id, at) VALUES (1, ?)", (time.time(),))
        except sqlite3.Error as exc:
            raise StoreUnavailableError(f"SQLite: {exc}") from exc

    async def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


def _prepare(path: Path) -> None:
    """The database's directory (created 0700) and file (created 0600), before SQLite opens it."""
    directory = path.parent
    try:
        if not directory.exists():
            directory.mkdir(mode=0o700, parents=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
    except OSError as exc:
        raise UsageError(f"{path}: cannot create the bridge's database ({exc.strerror})") from exc


def _private(path: Path) -> None:
    """The file and SQLite's companions (-wal, -shm) readable by the bridge's user only."""
    for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            if stat.S_IMODE(candidate.stat().st_mode) & 0o077:
                os.chmod(candidate, 0o600)
