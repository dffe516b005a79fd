"""Resource bounds under sustained load: the WAL file, the sweep's hold on the event loop and
on memory. Sizes, not times, are asserted."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bench.live import seed
from bot.app import build_app
from bot.config import Config, ReportsConfig, StorageConfig
from bot.domain.dialogue import Reply
from bot.services import reminders
from bot.services.channels import Channels, Outcome
from bot.services.turns import Turns
from storage.database import Database
from storage.models import Person
from storage.sqlite import _insert_rows
from tests.old_reports import OLD_REPORTS

# The templates of before issue 12 apply to any commune, as bench.live.seed's units are; the
# shipped ones are scoped to one organisation and province each.
OLD = ReportsConfig(dir=OLD_REPORTS)


async def test_wal_stays_bounded_while_reads_and_writes_never_stop(
        db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A commit always in progress and a read always in flight: the background checkpoints
    never find the moment to reset the WAL, which then grew without end. It must stay near
    its restart threshold."""
    threshold = 256 * 1024
    monkeypatch.setattr(Database, "WAL_RESTART_BYTES", threshold, raising=False)
    monkeypatch.setattr(Database, "JOURNAL_SIZE_LIMIT", threshold, raising=False)
    monkeypatch.setattr(Database, "CHECKPOINT_EVERY", 0.02, raising=False)
    db = await Database.open(db_path)
    await db.write(lambda c: c.execute("CREATE TABLE blobs (k INTEGER PRIMARY KEY, v BLOB)"))
    wal = str(db_path) + "-wal"
    stop = False

    async def read_forever() -> int:
        reads = 0
        while not stop:
            await db.fetchall("SELECT k FROM blobs WHERE k = ?", (reads % 50,))
            reads += 1
        return reads

    async def write_one(i: int) -> None:
        def work(conn: sqlite3.Connection) -> None:  # two pages or so per commit
            conn.execute("INSERT OR REPLACE INTO blobs (k, v) VALUES (?, ?)",
                         (i % 50, os.urandom(6000)))
        await db.write(work)

    readers = [asyncio.create_task(read_forever()) for _ in range(3)]
    largest = 0
    try:
        # 12 MB of frames: 48 times the threshold; batches of 8 keep the writer always busy
        for i in range(0, 1600, 8):
            await asyncio.gather(*(write_one(i + j) for j in range(8)))
            largest = max(largest, os.path.getsize(wal))
    finally:
        stop = True
        reads = sum(await asyncio.gather(*readers))
        await db.close()
    assert reads > 0
    # The threshold, plus what commits during one checkpoint interval and a postponed restart
    assert largest <= 12 * threshold, f"the WAL grew to {largest / 2**20:.1f} MiB"


def test_multi_row_statements_come_in_a_few_shapes(tmp_path: Path) -> None:
    """Each multi-row statement is compiled for its number of rows and stays in the
    connection's statement cache for the life of the process: batches of every size from 1 to
    300 must not make 300 statements (several MB of cached programs), only a few shapes."""
    conn = sqlite3.connect(tmp_path / "shapes.db", isolation_level=None)
    conn.execute("CREATE TABLE t (a INTEGER, b TEXT)")
    seen: set[str] = set()
    conn.set_trace_callback(seen.add)
    for n in range(1, 301):
        _insert_rows(conn, "INSERT INTO t (a, b) VALUES {rows}", [(i, "x") for i in range(n)])
    conn.set_trace_callback(None)
    assert conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 300 * 301 // 2
    shapes = {sql.count("),(") + 1 for sql in seen if sql.startswith("INSERT")}
    assert len(shapes) <= 9, sorted(shapes)
    conn.close()


class Quiet:
    async def send(self, person: Person, reply: Reply) -> Outcome:
        return "sent"


async def test_a_sweep_hands_the_event_loop_back_while_deciding(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Deciding a sweep over thousands of communes is plain Python; done in one go it held
    every chat's reply for 40-140 ms at 10,000 communes. Count the reminders decided between
    two turns of the event loop: a handful, not all of them."""
    monkeypatch.setattr(Turns, "SLICE", 0.0)  # yield at every chance: counts, not times
    now = datetime(2026, 12, 14, 8, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    app = await build_app(Config(storage=StorageConfig(path=tmp_path / "sweep.db"), reports=OLD),
                          clock=lambda: now)
    try:
        await seed(app, 400)
        decided = 0
        real = reminders.Planned

        def counting(*args: object) -> reminders.Planned:
            nonlocal decided
            decided += 1
            return real(*args)  # type: ignore[arg-type]

        monkeypatch.setattr(reminders, "Planned", counting)
        most, done = 0, False

        async def ticker() -> None:
            nonlocal most
            last = decided
            while not done:
                await asyncio.sleep(0)
                most, last = max(most, decided - last), decided

        task = asyncio.create_task(ticker())
        send, drop = await app.reminders.plan(now)
        done = True
        await task
    finally:
        await app.close()
    assert len(send) + len(drop) >= 400  # every commune is due something
    assert most <= 20, f"{most} reminders decided without letting the event loop run"


async def test_memberships_loaded_together_share_their_units(tmp_path: Path) -> None:
    """The warm-up keeps every membership for good: one Unit object per unit, not one per
    membership (~10 MB of duplicates at 30,000 officers)."""
    app = await build_app(Config(storage=StorageConfig(path=tmp_path / "m.db"), reports=OLD))
    try:
        await seed(app, 3, officers_per_commune=3)
        memberships = await app.storage.all_memberships()
        people = await app.storage.all_people()
    finally:
        await app.close()
    units = [m.unit for ms in memberships.values() for m in ms]
    assert len(units) == 9
    assert len({id(u) for u in units}) == 3
    assert len({id(p.channel) for p in people}) == 1


async def test_stale_reminders_after_downtime_are_recorded_a_chunk_at_a_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After downtime nearly every unit has stale reminders (90,000 at 10,000 communes); one
    claim of them all built every row at once on the event loop (a 190 ms stall, and memory
    the process kept)."""
    monkeypatch.setattr(reminders, "CHUNK", 25)
    now = datetime(2026, 12, 14, 8, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    app = await build_app(Config(storage=StorageConfig(path=tmp_path / "s.db"), reports=OLD),
                          clock=lambda: now)
    sizes: list[int] = []
    real = app.storage.claim_reminders

    async def claim(rows: list[tuple[str, str, str, str, str, str, int]],
                    sweep_id: str) -> set[tuple[str, str, str, str]]:
        sizes.append(len(rows))
        return await real(rows, sweep_id)

    quiet = Channels()
    quiet.register("telegram", Quiet())

    try:
        await seed(app, 40)
        monkeypatch.setattr(app.storage, "claim_reminders", claim)
        result = await app.reminders.sweep(quiet)
    finally:
        await app.close()
    assert result.skipped > 25 and result.sent > 0
    assert sum(sizes) >= result.skipped + result.sent
    assert max(sizes) <= 25, sizes


async def test_a_sweep_with_nothing_to_send_reads_no_officers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Most minutes nothing is due; reading every officer anyway (30,000 objects at the
    largest size measured) only churned memory and held the event loop."""
    clock = [datetime(2026, 12, 14, 8, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))]
    app = await build_app(Config(storage=StorageConfig(path=tmp_path / "n.db"), reports=OLD),
                          clock=lambda: clock[0])
    reads: list[int] = []
    real = app.storage.officers_by_unit

    async def counting() -> dict[str, list[object]]:
        reads.append(1)
        return await real()  # type: ignore[return-value]

    quiet = Channels()
    quiet.register("telegram", Quiet())

    try:
        await seed(app, 5)
        monkeypatch.setattr(app.storage, "officers_by_unit", counting)
        first = await app.reminders.sweep(quiet)
        assert first.sent > 0 and len(reads) == 1
        clock[0] = clock[0].replace(minute=1)
        again = await app.reminders.sweep(quiet)
    finally:
        await app.close()
    assert again.sent == 0 and len(reads) == 1
