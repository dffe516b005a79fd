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
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

import aiosqlite

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"


class StorageError(Exception):
    """The database cannot be opened or migrated."""


# A migration that rebuilds a table other tables point at starts with this line: SQLite's own
# procedure (https://sqlite.org/lang_altertable.html) turns foreign keys off around it (they
# cannot be turned off inside a transaction, and dropping the old table would fail them),
# then checks every reference before committing.
REBUILD_MARK = "-- rebuild: foreign keys off"


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    sql: str

    @property
    def rebuilds(self) -> bool:
        return self.sql.startswith(REBUILD_MARK)


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

    # The WAL is reset (written again from its start) only when a write begins while every
    # frame in it has been copied into the database and no reader is still using it. Under
    # constant load some commit or some read always overlaps the background checkpoint, so
    # that moment never comes and the WAL grew ~28 MB/s (1.4 GB in 90 s with 5,000 officers;
    # every commit slower as it grew). Past WAL_RESTART_BYTES the writer thread itself, between
    # two transactions, runs a RESTART checkpoint: nothing can commit meanwhile, the background
    # checkpoints have already copied almost everything, and readers are waited for at most
    # RESTART_WAIT_MS (reads are single statements; a busy restart is tried again next round).
    # journal_size_limit then cuts the file back. Measured with bench/soak.py.
    CHECKPOINT_EVERY = 0.25  # seconds between background (PASSIVE) checkpoints
    WAL_RESTART_BYTES = 16 * 2**20
    JOURNAL_SIZE_LIMIT = 16 * 2**20
    RESTART_WAIT_MS = 20
    BUSY_TIMEOUT_MS = 5000

    def __init__(self, writer: sqlite3.Connection, path: str,
                 reader: aiosqlite.Connection | None = None) -> None:
        self.writer = writer
        self.reader = reader
        self.path = path
        # One thread: transactions run one after another, in the order they were asked for.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._checkpointer: asyncio.Task[None] | None = None
        self._checkpoints: aiosqlite.Connection | None = None  # the checkpointer's connection
        self._closed = False

    @classmethod
    async def open(cls, path: str | Path, migrate: bool = True) -> Database:
        target = str(path)
        try:
            if target != ":memory:":
                Path(target).parent.mkdir(parents=True, exist_ok=True)
            writer = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
            writer.row_factory = sqlite3.Row
            writer.execute("PRAGMA journal_mode = WAL")
            writer.execute("PRAGMA synchronous = FULL")  # a committed answer survives power loss
            writer.execute("PRAGMA foreign_keys = ON")
            writer.execute(f"PRAGMA busy_timeout = {cls.BUSY_TIMEOUT_MS}")
            writer.execute(f"PRAGMA journal_size_limit = {cls.JOURNAL_SIZE_LIMIT}")
            # Checkpoints copy the WAL into the database file and fsync it; inside a commit they
            # stall every waiting answer (seen as 1 s spikes in bench/dialogue_throughput.py),
            # so the writer never runs them: a background task does, on its own connection.
            writer.execute("PRAGMA wal_autocheckpoint = 0")
        except (sqlite3.Error, OSError) as e:
            raise StorageError(f"cannot open database {target}: {e}") from e
        reader = None
        if target != ":memory:":
            reader = await aiosqlite.connect(target, isolation_level=None)
            reader.row_factory = aiosqlite.Row
            await reader.execute(f"PRAGMA busy_timeout = {cls.BUSY_TIMEOUT_MS}")
            await reader.execute("PRAGMA query_only = ON")
            await reader.execute("PRAGMA foreign_keys = ON")
        db = cls(writer, target, reader)
        if migrate:
            try:
                await db.migrate()
            except BaseException:
                # The reader's thread is not a daemon: left open, it would keep the process
                # (a `baocao` command that has printed the failure) from ever exiting.
                await db.close()
                raise
        if reader is not None:
            # Connected here, not inside the task: a close() right after open() (a short CLI
            # command) would cancel the task mid-connect and leave aiosqlite's thread to fail
            # on a closed loop, printing a traceback at exit.
            checkpoints = await aiosqlite.connect(target, isolation_level=None)
            await checkpoints.execute(f"PRAGMA busy_timeout = {cls.BUSY_TIMEOUT_MS}")
            db._checkpoints = checkpoints
            db._checkpointer = asyncio.create_task(db._checkpoint_forever(checkpoints))
        return db

    async def _checkpoint_forever(self, conn: aiosqlite.Connection) -> None:
        """Copy committed pages from the WAL into the database, without blocking anyone, and
        have the writer restart the WAL when it has grown past WAL_RESTART_BYTES.

        Often and small: a checkpoint of 10 s of answers stalled commits for up to 1 s on this
        machine's disk; every 0.25 s the stalls stay under ~100 ms (bench/dialogue_throughput)."""
        rows = await conn.execute_fetchall("PRAGMA page_size")
        page_size = int(next(iter(rows))[0])
        while True:
            await asyncio.sleep(self.CHECKPOINT_EVERY)
            try:
                rows = await conn.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")
                frames = int(next(iter(rows))[1])
                if frames * page_size >= self.WAL_RESTART_BYTES:
                    await self._on_writer_thread(self._restart_wal)
            except sqlite3.Error as e:  # busy or locked: next time
                log.debug("checkpoint skipped: %s", e)

    def _restart_wal(self) -> bool:
        """On the writer thread, between transactions: checkpoint whatever the background
        checkpoints left and wait (briefly) for readers to leave the WAL, so that the next
        commit writes the WAL from its start. True if it will."""
        conn = self.writer
        conn.execute(f"PRAGMA busy_timeout = {self.RESTART_WAIT_MS}")
        try:
            busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
        finally:
            conn.execute(f"PRAGMA busy_timeout = {self.BUSY_TIMEOUT_MS}")
        if busy:
            log.debug("WAL restart postponed: %d of %d frames copied, readers busy",
                      copied, frames)
        return not busy

    async def close(self) -> None:
        """Close every connection; closing twice does nothing."""
        if self._closed:
            return
        self._closed = True
        if self._checkpointer is not None:
            self._checkpointer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpointer
        if self._checkpoints is not None:
            await self._checkpoints.close()
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
            def run(conn: sqlite3.Connection, migration: Migration = migration) -> bool:
                # Another process (the bot restarting while an admin runs a command) may have
                # applied it since `done` was read: asked again inside the write, not run twice.
                if conn.execute("SELECT 1 FROM schema_migrations WHERE number=?",
                                (migration.number,)).fetchone():
                    return False
                for statement in split_statements(migration.sql):
                    conn.execute(statement)
                if migration.rebuilds:
                    broken = conn.execute("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise sqlite3.IntegrityError(
                            f"{len(broken)} reference(s) broken, first in {broken[0][0]}")
                conn.execute(
                    "INSERT INTO schema_migrations (number, name, applied_at) VALUES (?,?,?)",
                    (migration.number, migration.name, utcnow_iso()))
                return True

            try:
                if migration.rebuilds:
                    await self._on_writer_thread(self.writer.execute, "PRAGMA foreign_keys = OFF")
                try:
                    ran = await self.write(run)
                finally:
                    if migration.rebuilds:
                        await self._on_writer_thread(self.writer.execute,
                                                     "PRAGMA foreign_keys = ON")
            except sqlite3.Error as e:
                raise StorageError(
                    f"migration {migration.number:04d}_{migration.name} failed: {e}"
                ) from e
            if not ran:
                continue
            log.info("applied migration %04d_%s", migration.number, migration.name)
            applied.append(migration)
        return applied


ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")
# An item, the future its task awaits, and that task's event loop.
_Waiting = tuple[Any, "asyncio.Future[Any]", asyncio.AbstractEventLoop]


class GroupCommit(Generic[ItemT, ResultT]):
    """Commit items in batches: whatever arrives while one batch is being written goes into
    the next, one transaction (and one fsync) for the whole batch.

    The writer thread drives itself: it queues the next batch as soon as a commit ends, and
    the event loop only hands items over and receives results. (Driven from the event loop, each
    batch waited for the loop twice, and a busy loop made a 0.4 ms commit take 5 ms: measured
    with bench/dialogue_throughput.py.) If a batch fails, its items are retried one by one, so
    one bad item fails alone.
    """

    def __init__(self, db: Database,
                 write: Callable[[sqlite3.Connection, list[ItemT]], list[ResultT]],
                 max_batch: int = 256) -> None:
        self.db = db
        self.write = write
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._pending: list[_Waiting] = []
        self._draining = False

    async def submit(self, item: ItemT) -> ResultT:
        """Return `write`'s result for this item once its batch is committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[ResultT] = loop.create_future()
        with self._lock:
            self._pending.append((item, future, loop))
            start, self._draining = not self._draining, True
        if start:
            try:
                self.db._thread.submit(self._drain)
            except RuntimeError:  # the database is closed
                with self._lock:
                    self._pending.remove((item, future, loop))
                    self._draining = False
                raise
        return await future

    def _drain(self) -> None:
        """On the writer thread: write one batch, then queue the next one behind the other
        writes waiting for the thread (a joining officer, a reminder sweep), so a steady stream
        of answers cannot hold them off for as long as it lasts."""
        with self._lock:
            batch = self._pending[:self.max_batch]
            del self._pending[:self.max_batch]
        try:
            self._write(batch)
        except BaseException as e:  # never leave anyone waiting for a drain that ended
            self._strand(batch, e)
            raise
        with self._lock:
            if not self._pending:
                self._draining = False
                return
        try:
            self.db._thread.submit(self._drain)
        except RuntimeError as e:  # the database closed meanwhile
            self._strand([], e)

    def _strand(self, batch: list[_Waiting], error: BaseException) -> None:
        """Fail this batch and everything still pending; the next submit starts afresh."""
        with self._lock:
            stranded, self._pending, self._draining = batch + self._pending, [], False
        _settle([(w, None, error) for w in stranded])

    def _write(self, batch: list[_Waiting]) -> None:
        items = [item for item, _, _ in batch]
        try:
            results = self.db._transaction(lambda conn: self.write(conn, items))
        except Exception as e:
            if len(batch) == 1:
                _settle([(batch[0], None, e)])
            else:  # find the bad one: the others must not fail with it
                for one in batch:
                    self._write([one])
            return
        _settle([(w, r, None) for w, r in zip(batch, results, strict=True)])


def _settle(outcomes: list[tuple[_Waiting, Any, BaseException | None]]) -> None:
    """Hand results and errors to the waiting tasks, one wake-up per event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any, Any]]] = {}
    for (_, future, loop), result, error in outcomes:
        by_loop.setdefault(loop, []).append((future, result, error))
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting
            loop.call_soon_threadsafe(_set_all, settled)


def _set_all(settled: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, result, error in settled:
        if future.done():  # the waiting task was cancelled
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
