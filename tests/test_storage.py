"""Storage on real SQLite files: migrations, units, template versions, all-or-nothing writes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.domain.templates import Level, Template
from bot.domain.units import Unit
from storage.database import Database, Migration, StorageError, load_migrations, split_statements
from storage.sqlite import SqliteStorage


async def test_fresh_database_gets_every_migration_then_none(db_path: Path) -> None:
    db = await Database.open(db_path, migrate=False)
    applied = await db.migrate()
    assert [m.number for m in applied] == [m.number for m in load_migrations()]
    assert await db.applied_migrations() == [(m.number, m.name) for m in load_migrations()]
    await db.close()

    again = await Database.open(db_path, migrate=False)
    assert await again.migrate() == []  # a second start applies nothing
    mode = await again.fetchone("PRAGMA journal_mode")
    fks = await again.fetchone("PRAGMA foreign_keys")
    assert mode is not None and mode[0] == "wal"
    assert fks is not None and fks[0] == 1
    await again.close()


async def test_failed_migration_changes_nothing(db_path: Path) -> None:
    db = await Database.open(db_path)
    before = await db.applied_migrations()
    n = len(before) + 1
    broken = [*load_migrations(), Migration(n, "broken",
                                            "CREATE TABLE good (x INTEGER);\nCREATE TABLE (;\n")]
    with pytest.raises(StorageError, match="broken"):
        await db.migrate(broken)
    assert await db.applied_migrations() == before
    tables = await db.fetchall("SELECT name FROM sqlite_master WHERE name = 'good'")
    assert tables == []  # the half-applied migration was rolled back
    await db.close()


def test_split_statements_keeps_semicolons_in_strings() -> None:
    sql = "CREATE TABLE a (x TEXT DEFAULT ';');\n-- comment\nINSERT INTO a VALUES ('1;2');\n"
    assert len(split_statements(sql)) == 2


async def test_units_upsert_is_idempotent(storage: SqliteStorage) -> None:
    units = [Unit("T", "Tỉnh đoàn", None, Level.TINH), Unit("H", "Huyện đoàn", "T", Level.HUYEN)]
    assert await storage.upsert_units(units) == (2, 0)
    assert await storage.upsert_units(units) == (0, 0)
    renamed = [Unit("H", "Huyện đoàn Bát Xát", "T", Level.HUYEN)]
    assert await storage.upsert_units(renamed) == (0, 1)
    assert [u.name for u in await storage.list_units()] == ["Huyện đoàn Bát Xát", "Tỉnh đoàn"]
    actions = [a["action"] for a in await storage.audit_log()]
    assert actions.count("unit.upsert") == 3


async def test_unit_with_missing_parent_is_refused_and_nothing_saved(
    storage: SqliteStorage,
) -> None:
    bad = [Unit("X", "Xã", "NOPE", Level.XA), Unit("Y", "Xã Y", None, Level.XA)]
    with pytest.raises(sqlite3.IntegrityError):
        await storage.upsert_units(bad)
    assert await storage.list_units() == []


async def test_template_versions(storage: SqliteStorage, shipped_templates: dict[str, Template],
                                 db_path: Path) -> None:
    versions = await storage.sync_templates(shipped_templates.values())
    assert set(versions.values()) == {1}
    assert await storage.sync_templates(shipped_templates.values()) == versions
    t = next(iter(shipped_templates.values()))
    changed = t.model_copy(update={"title": t.title + " (sửa)"})
    assert (await storage.sync_templates([changed]))[t.id] == 2
    old = await storage.get_template(t.id, 1)
    new = await storage.get_template(t.id, 2)
    assert old == t and new is not None and new.title.endswith("(sửa)")


async def test_settings_survive_reopen(db_path: Path) -> None:
    s = await SqliteStorage.open(db_path)
    await s.set_setting("bot_username", "baocao_bot")
    await s.close()
    s = await SqliteStorage.open(db_path)
    assert await s.get_setting("bot_username") == "baocao_bot"
    assert await s.get_setting("missing") is None
    await s.close()


async def test_submit_refuses_a_draft_that_changed_underneath(storage: SqliteStorage,
                                                             shipped_templates: dict[str, Template]
                                                             ) -> None:
    from datetime import UTC, datetime

    from storage.models import Changes, SaveAnswer, StartDraft, Submit
    from storage.sqlite import DraftChanged

    await storage.upsert_units([Unit("X", "Xã", None, Level.XA)])
    t = shipped_templates["ocop_thanh_nien"]
    versions = await storage.sync_templates([t])
    from storage.models import Invite, Role

    await storage.create_invite(Invite("CODE1", "X", Role.OFFICER, 2))
    now = datetime(2026, 11, 22, tzinfo=UTC)
    joined = await storage.redeem_invite("CODE1", "test", "1", "A", now)
    assert not isinstance(joined, str)
    person = joined[0]
    await storage.apply(Changes(person.id, ops=[StartDraft("X", t.id, versions[t.id], "2026-11")]))
    draft = await storage.find_draft("X", t.id, "2026-11")
    assert draft is not None
    await storage.apply(Changes(person.id, ops=[SaveAnswer(draft.id, "q", 1)]))
    stale = Submit(draft.id, "X", t.id, versions[t.id], "2026-11", {}, now, now, True, None,
                   seen={})  # built before the answer above
    with pytest.raises(DraftChanged):
        await storage.apply(Changes(person.id, ops=[stale]))
    kept = await storage.find_draft("X", t.id, "2026-11")
    assert kept is not None and kept.answers == {"q": 1}  # nothing lost
    assert await storage.get_submission("X", t.id, "2026-11") is None


async def test_group_commit_keeps_every_answer_in_arrival_order(
        storage: SqliteStorage, shipped_templates: dict[str, Template]) -> None:
    """Hundreds of events committed together (more rows than one statement takes); the same
    question answered twice in one batch keeps the later answer; a repeated event counts once."""
    import asyncio
    from datetime import UTC, datetime

    from storage.models import Changes, Invite, Role, SaveAnswer, StartDraft

    await storage.upsert_units([Unit("X", "Xã", None, Level.XA)])
    t = shipped_templates["ocop_thanh_nien"]
    versions = await storage.sync_templates([t])
    await storage.create_invite(Invite("CODE1", "X", Role.OFFICER, 1))
    joined = await storage.redeem_invite("CODE1", "test", "1", "A", datetime(2026, 11, 22,
                                                                             tzinfo=UTC))
    assert not isinstance(joined, str)
    person = joined[0]
    await storage.apply(Changes(person.id, ops=[StartDraft("X", t.id, versions[t.id], "2026-11")]))
    draft = await storage.find_draft("X", t.id, "2026-11")
    assert draft is not None

    def change(n: int, question: str, value: int) -> Changes:
        return Changes(person.id, ops=[SaveAnswer(draft.id, question, value)],
                       conversation=(person.id, {"n": n}), event=("test", f"e{n}"))

    batch = [change(n, f"q{n}", n) for n in range(700)]
    batch += [change(700, "same", 1), change(701, "same", 2), change(5, "q5", -1)]
    batch.append(Changes(person.id, ops=[SaveAnswer(draft.id, f"m{i}", i) for i in range(600)],
                         event=("test", "bulk")))
    results = await asyncio.gather(*(storage.apply(c) for c in batch))
    assert results == [True] * 702 + [False, True]  # the 703rd repeats event e5
    stored = await storage.find_draft("X", t.id, "2026-11")
    assert stored is not None
    assert stored.answers == {**{f"q{n}": n for n in range(700)}, "same": 2,
                              **{f"m{i}": i for i in range(600)}}
    assert await storage.get_conversation(person.id) == {"n": 701}


async def test_latest_submissions_carry_their_own_answers(
        storage: SqliteStorage, shipped_templates: dict[str, Template]) -> None:
    from datetime import UTC, datetime

    from storage.models import Changes, Invite, Role, SaveAnswer, StartDraft, Submit

    await storage.upsert_units([Unit("T", "Tỉnh", None, Level.TINH)] + [
        Unit(f"X{i}", f"Xã {i}", "T", Level.XA) for i in range(3)])
    t = shipped_templates["ocop_thanh_nien"]
    version = (await storage.sync_templates([t]))[t.id]
    now = datetime(2026, 11, 22, tzinfo=UTC)
    await storage.create_invite(Invite("CODE1", "X0", Role.OFFICER, 1))
    joined = await storage.redeem_invite("CODE1", "test", "1", "A", now)
    assert not isinstance(joined, str)
    actor = joined[0].id
    for i, period, times in ((0, "2026-10", 1), (0, "2026-11", 2), (1, "2026-11", 1)):
        for n in range(times):  # the second time is a correction: version 2
            unit = f"X{i}"
            await storage.apply(Changes(actor, ops=[StartDraft(unit, t.id, version, period)]))
            draft = await storage.find_draft(unit, t.id, period)
            assert draft is not None
            answers = {"q": f"{unit} {period} v{n + 1}"}
            await storage.apply(Changes(actor, ops=[SaveAnswer(draft.id, "q", answers["q"])]))
            await storage.apply(Changes(actor, ops=[Submit(
                draft.id, unit, t.id, version, period, answers, now, now, True, None)]))

    latest = await storage.latest_submissions(["X0", "X1", "X2"])
    found = {(s.unit_code, s.period): (s.version, s.answers) for s in latest}
    assert found == {("X0", "2026-10"): (1, {"q": "X0 2026-10 v1"}),
                     ("X0", "2026-11"): (2, {"q": "X0 2026-11 v2"}),
                     ("X1", "2026-11"): (1, {"q": "X1 2026-11 v1"})}
    light = await storage.latest_submissions(["X0", "X1", "X2"], with_answers=False)
    assert {(s.unit_code, s.period, s.version) for s in light} == {
        (u, p, v) for (u, p), (v, _) in found.items()}
    assert all(s.answers == {} for s in light)


async def test_group_commit_fails_a_bad_item_alone_and_survives_cancellation(
        db_path: Path) -> None:
    import asyncio

    from storage.database import GroupCommit

    db = await Database.open(db_path)
    await db.write(lambda c: c.execute("CREATE TABLE t (v INTEGER NOT NULL)"))

    def write(conn: sqlite3.Connection, items: list[int]) -> list[int]:
        for v in items:
            if v < 0:
                raise ValueError(f"bad item {v}")
            conn.execute("INSERT INTO t (v) VALUES (?)", (v,))
        return [v * 10 for v in items]

    group = GroupCommit(db, write, max_batch=4)
    tasks = [asyncio.create_task(group.submit(v)) for v in (1, 2, -3, 4, 5, 6, 7, -8, 9)]
    await asyncio.sleep(0)  # every task has handed its item over and waits
    tasks[5].cancel()  # a waiter that gives up: its item is still written, others unharmed
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert [r if not isinstance(r, BaseException) else type(r).__name__ for r in results] == [
        10, 20, "ValueError", 40, 50, "CancelledError", 70, "ValueError", 90]
    rows = await db.fetchall("SELECT v FROM t ORDER BY rowid")
    assert [r["v"] for r in rows] == [1, 2, 4, 5, 6, 7, 9]  # bad items left nothing behind
    assert await group.submit(11) == 110  # the writer went on after the failures
    await db.close()
    with pytest.raises(RuntimeError):
        await group.submit(12)  # closed: an error at once, not a wait forever
