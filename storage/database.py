"""The SQLite connections: WAL, foreign keys, numbered migrations, and one writer.

Every write goes through one aiosqlite connection guarded by a lock, so a transaction started by
one task is never interleaved with another task's statements. Reads use a second connection:
in WAL mode they see the last commit and never wait for a write (or its fsync) to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"


class StorageError(Exception):
    """The database cannot be opened or migrated."""


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    sql: str


def load_migrations(folder: Path = MIGRATIONS) -> list[Migration]:
    """Migrations are files `NNNN_name.sql`, applied in number order."""
    found = []
    for path in sorted(folder.glob("*.sql")):
        number, _, name = path.stem.partition("_")
        found.append(Migration(int(number), name, path.read_text(encoding="utf-8")))
    numbers = [m.number for m in found]
    if numbers != list(range(1, len(found) + 1)):
        raise StorageError(f"migrations must be numbered 1..n without gaps, found {numbers}")
    return found


def split_statements(sql: str) -> list[str]:
    """Split a script into statements (executescript would commit our transaction)."""
    statements, current = [], ""
    for line in sql.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip() and not all(
        ln.strip().startswith("--") or not ln.strip() for ln in current.splitlines()
    ):
        raise StorageError(f"incomplete SQL statement: {current.strip()[:80]!r}")
    return statements


def utcnow_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Database:
    """One connection, opened with `await Database.open(path)`; close with `await db.close()`."""

    def __init__(self, conn: aiosqlite.Connection, path: str,
                 reader: aiosqlite.Connection | None = None) -> None:
        self.conn = conn
        self.reader = reader or conn
        self.path = path
        self._lock = asyncio.Lock()
        self._checkpointer: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, path: str | Path, migrate: bool = True) -> Database:
        target = str(path)
        if target != ":memory:":
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = await aiosqlite.connect(target, isolation_level=None)
        except sqlite3.Error as e:
            raise StorageError(f"cannot open database {target}: {e}") from e
        conn.row_factory = aiosqlite.Row
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("PRAGMA synchronous = FULL")  # a committed answer survives power loss
        await conn.execute("PRAGMA foreign_keys = ON")
        await conn.execute("PRAGMA busy_timeout = 5000")
        # Checkpoints copy the WAL into the database file and fsync it; inside a commit they
        # stall every waiting answer (seen as 1 s spikes in bench/dialogue_throughput.py), so
        # the writer never runs them: a background task does, on its own connection.
        await conn.execute("PRAGMA wal_autocheckpoint = 0")
        reader = None
        if target != ":memory:":
            reader = await aiosqlite.connect(target, isolation_level=None)
            reader.row_factory = aiosqlite.Row
            await reader.execute("PRAGMA busy_timeout = 5000")
            await reader.execute("PRAGMA query_only = ON")
            await reader.execute("PRAGMA foreign_keys = ON")
        db = cls(conn, target, reader)
        if migrate:
            await db.migrate()
        if reader is not None:
            db._checkpointer = asyncio.create_task(db._checkpoint_forever(target))
        return db

    async def _checkpoint_forever(self, target: str, every: float = 0.25) -> None:
        """Copy committed pages from the WAL into the database, without blocking anyone.

        Often and small: a checkpoint of 10 s of answers stalled commits for up to 1 s on this
        machine's disk; every 0.25 s the stalls stay under ~100 ms (bench/dialogue_throughput)."""
        conn = await aiosqlite.connect(target, isolation_level=None)
        try:
            await conn.execute("PRAGMA busy_timeout = 5000")
            while True:
                await asyncio.sleep(every)
                try:
                    await conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error as e:  # busy or locked: next time
                    log.debug("checkpoint skipped: %s", e)
        finally:
            await conn.close()

    async def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpointer
        if self.reader is not self.conn:
            await self.reader.close()
        await self.conn.close()  # the last connection out checkpoints and removes the WAL

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any error: all or nothing."""
        async with self._lock:
            try:  # BEGIN inside: a task cancelled during it must still roll back
                await self.conn.execute("BEGIN IMMEDIATE")
                yield self.conn
                await self.conn.execute("COMMIT")  # deferred constraints may fail here too
            except BaseException:
                if self.conn.in_transaction:
                    await self.conn.execute("ROLLBACK")
                raise

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        """Read from the last commit; one round trip (execute, fetch and close together)."""
        if self.reader is self.conn:
            async with self._lock:
                return list(await self.conn.execute_fetchall(sql, tuple(params)))
        return list(await self.reader.execute_fetchall(sql, tuple(params)))

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def applied_migrations(self) -> list[tuple[int, str]]:
        rows = await self.fetchall(
            "SELECT number, name FROM schema_migrations ORDER BY number"
        )
        return [(r["number"], r["name"]) for r in rows]

    async def migrate(self, migrations: list[Migration] | None = None) -> list[Migration]:
        """Apply the migrations not yet recorded, each in its own transaction; return them."""
        pending_all = migrations if migrations is not None else load_migrations()
        async with self.transaction() as conn:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " number INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
        done = {n for n, _ in await self.applied_migrations()}
        applied = []
        for migration in pending_all:
            if migration.number in done:
                continue
            try:
                async with self.transaction() as conn:
                    for statement in split_statements(migration.sql):
                        await conn.execute(statement)
                    await conn.execute(
                        "INSERT INTO schema_migrations (number, name, applied_at) VALUES (?,?,?)",
                        (migration.number, migration.name, utcnow_iso()),
                    )
            except sqlite3.Error as e:
                raise StorageError(
                    f"migration {migration.number:04d}_{migration.name} failed: {e}"
                ) from e
            log.info("applied migration %04d_%s", migration.number, migration.name)
            applied.append(migration)
        return applied

