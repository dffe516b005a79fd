"""The SQLite connections: WAL, foreign keys, numbered migrations, and one writer.

Every write goes through one connection on one thread, a whole transaction at a time, so one
task's transaction is never interleaved with another's statements. Reads use a second
connection: in WAL mode they see the last commit and never wait for a write (or its fsync).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

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


T = TypeVar("T")


class Database:
    """Open with `await Database.open(path)`; close with `await db.close()`.

    Writes are plain synchronous functions run on one writer thread (`await db.write(fn)`):
    a whole transaction, BEGIN to COMMIT, is a single hand-over to that thread. Awaiting each
    statement instead costs one event-loop round trip per statement, and under load every round
    trip waits behind other chats' work (measured with bench/dialogue_throughput.py: 5 ms median
    for a 0.4 ms commit). Reads use a second connection through aiosqlite.
    """

    def __init__(self, writer: sqlite3.Connection, path: str,
                 reader: aiosqlite.Connection | None = None) -> None:
        self.writer = writer
        self.reader = reader
        self.path = path
        # One thread: transactions run one after another, in the order they were asked for.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._checkpointer: asyncio.Task[None] | None = None
        self._closed = False

    @classmethod
    async def open(cls, path: str | Path, migrate: bool = True) -> Database:
        target = str(path)
        if target != ":memory:":
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        try:
            writer = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
            writer.row_factory = sqlite3.Row
            writer.execute("PRAGMA journal_mode = WAL")
            writer.execute("PRAGMA synchronous = FULL")  # a committed answer survives power loss
            writer.execute("PRAGMA foreign_keys = ON")
            writer.execute("PRAGMA busy_timeout = 5000")
            # Checkpoints copy the WAL into the database file and fsync it; inside a commit they
            # stall every waiting answer (seen as 1 s spikes in bench/dialogue_throughput.py),
            # so the writer never runs them: a background task does, on its own connection.
            writer.execute("PRAGMA wal_autocheckpoint = 0")
        except sqlite3.Error as e:
            raise StorageError(f"cannot open database {target}: {e}") from e
        reader = None
        if target != ":memory:":
            reader = await aiosqlite.connect(target, isolation_level=None)
            reader.row_factory = aiosqlite.Row
            await reader.execute("PRAGMA busy_timeout = 5000")
            await reader.execute("PRAGMA query_only = ON")
            await reader.execute("PRAGMA foreign_keys = ON")
        db = cls(writer, target, reader)
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
        """Close every connection; closing twice does nothing."""
        if self._closed:
            return
        self._closed = True
        if self._checkpointer is not None:
            self._checkpointer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpointer
        if self.reader is not None:
            await self.reader.close()
        # The last connection out checkpoints and removes the WAL.
        await self._on_writer_thread(self.writer.close)
        self._thread.shutdown(wait=True)

    async def _on_writer_thread(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    async def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work(conn)` inside BEGIN IMMEDIATE … COMMIT on the writer thread; on any error
        roll back and raise it: all or nothing. `work` must not await (it runs in a thread)."""
        return await self._on_writer_thread(self._transaction, work)

    def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        conn = self.writer
        try:
            conn.execute("BEGIN IMMEDIATE")
            result = work(conn)
            conn.execute("COMMIT")  # deferred constraints may fail here too
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return result

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        """Read from the last commit; one round trip (execute, fetch and close together)."""
        if self.reader is None:  # in memory: only the writer sees the data
            return await self._on_writer_thread(
                lambda: self.writer.execute(sql, tuple(params)).fetchall())
        return list(await self.reader.execute_fetchall(sql, tuple(params)))

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Row | None:
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
        await self.write(lambda conn: conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " number INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"))
        done = {n for n, _ in await self.applied_migrations()}
        applied = []
        for migration in pending_all:
            if migration.number in done:
                continue
            def run(conn: sqlite3.Connection, migration: Migration = migration) -> None:
                for statement in split_statements(migration.sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (number, name, applied_at) VALUES (?,?,?)",
                    (migration.number, migration.name, utcnow_iso()))

            try:
                await self.write(run)
            except sqlite3.Error as e:
                raise StorageError(
                    f"migration {migration.number:04d}_{migration.name} failed: {e}"
                ) from e
            log.info("applied migration %04d_%s", migration.number, migration.name)
            applied.append(migration)
        return applied

