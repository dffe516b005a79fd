"""Storage on real SQLite files: migrations, units, template versions, all-or-nothing writes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.domain.templates import Level, Template
from bot.domain.units import Unit
from storage.database import Database, Migration, StorageError, load_migrations, split_statements
from storage.models import Draft
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

    from storage.interface import DraftChanged
    from storage.models import Changes, SaveAnswer, StartDraft, Submit

    await storage.upsert_units([Unit("X", "Xã", None, Level.XA)])
    t = shipped_templates["ocop_thanh_nien"]
    versions = await storage.sync_templates([t])
    from bot.domain.roles import Role
    from storage.models import Invite

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

    from bot.domain.roles import Role
    from storage.models import Changes, Invite, SaveAnswer, StartDraft

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

    from bot.domain.roles import Role
    from storage.models import Changes, Invite, SaveAnswer, StartDraft, Submit

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
            await storage.apply(Changes(actor, ops=[StartDraft(
                unit, t.id, version, period, reopened_from=n or None)]))
            draft = await storage.find_draft(unit, t.id, period)
            assert draft is not None
            answers = {"q": f"{unit} {period} v{n + 1}"}
            await storage.apply(Changes(actor, ops=[SaveAnswer(draft.id, "q", answers["q"])]))
            await storage.apply(Changes(actor, ops=[Submit(
                draft.id, unit, t.id, version, period, answers, now, now, True, None,
                replaces=draft.reopened_from)]))

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


async def _unit_x_draft_and_three_officers(storage: SqliteStorage, template: Template
                                           ) -> tuple[int, list[int], Draft]:
    """Units X and Y; officers a and b of X, c of Y; a has started X's draft for 2026-11.
    Returns (template version, person ids, that draft)."""
    from datetime import UTC, datetime

    from bot.domain.roles import Role
    from storage.models import Changes, Invite, StartDraft

    await storage.upsert_units([Unit("X", "Xã X", None, Level.XA), Unit("Y", "Xã Y", None,
                                                                        Level.XA)])
    version = (await storage.sync_templates([template]))[template.id]
    ids = []
    for i, unit in enumerate("XXY"):
        await storage.create_invite(Invite(f"CODE{i}", unit, Role.OFFICER, 1))
        joined = await storage.redeem_invite(f"CODE{i}", "test", str(i), "Cán bộ",
                                             datetime(2026, 11, 22, tzinfo=UTC))
        assert not isinstance(joined, str)
        ids.append(joined[0].id)
    await storage.apply(Changes(ids[0], ops=[StartDraft("X", template.id, version, "2026-11")]))
    draft = await storage.find_draft("X", template.id, "2026-11")
    assert draft is not None
    return version, ids, draft


async def test_answer_racing_a_send_in_one_batch_is_neither_lost_nor_misfiled(
        storage: SqliteStorage, shipped_templates: dict[str, Template]) -> None:
    """One batch: a answers X's draft, b sends it (not having seen that answer), c starts
    Y's draft. Answers used to be written after the batch's other writes: the send went out
    without a's answer, and Y's new draft, given the sent draft's id, received it."""
    import asyncio
    import threading
    from datetime import UTC, datetime

    from storage.interface import DraftChanged
    from storage.models import Changes, SaveAnswer, StartDraft, Submit

    t = shipped_templates["ocop_thanh_nien"]
    v, (a, b, c), d = await _unit_x_draft_and_three_officers(storage, t)
    now = datetime(2026, 11, 22, tzinfo=UTC)
    await storage.apply(Changes(a, ops=[SaveAnswer(d.id, "q1", 1)]))
    seen = {"q1": 1}

    gate = threading.Event()  # hold the writer so the three events form one batch
    storage.db._thread.submit(gate.wait)
    tasks = [
        asyncio.create_task(storage.apply(Changes(a, ops=[SaveAnswer(d.id, "q2", 2)],
                                                  event=("test", "1")))),
        asyncio.create_task(storage.apply(Changes(b, ops=[Submit(
            d.id, "X", t.id, v, "2026-11", seen, now, now, True, seen=seen)],
            event=("test", "2")))),
        asyncio.create_task(storage.apply(Changes(c, ops=[StartDraft("Y", t.id, v, "2026-11")],
                                                  event=("test", "3")))),
    ]
    await asyncio.sleep(0.05)
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert results[0] is True and isinstance(results[1], DraftChanged) and results[2] is True
    kept = await storage.find_draft("X", t.id, "2026-11")
    assert kept is not None and kept.answers == {"q1": 1, "q2": 2}  # nothing lost
    assert await storage.get_submission("X", t.id, "2026-11") is None  # not sent without it
    other = await storage.find_draft("Y", t.id, "2026-11")
    assert other is not None and other.answers == {} and other.id != d.id


async def test_an_answer_to_a_gone_draft_fails_and_never_lands_in_a_new_one(
        storage: SqliteStorage, shipped_templates: dict[str, Template]) -> None:
    """Draft ids are never reused: an answer addressed (from a cache) to a draft already sent
    fails, even when the next draft started is the newest row."""
    from datetime import UTC, datetime

    from storage.interface import DraftChanged
    from storage.models import Changes, SaveAnswer, StartDraft, Submit

    t = shipped_templates["ocop_thanh_nien"]
    v, (a, _, c), d = await _unit_x_draft_and_three_officers(storage, t)
    now = datetime(2026, 11, 22, tzinfo=UTC)
    await storage.apply(Changes(a, ops=[Submit(d.id, "X", t.id, v, "2026-11", {}, now, now,
                                               True)]))
    await storage.apply(Changes(c, ops=[StartDraft("Y", t.id, v, "2026-11")]))
    with pytest.raises(DraftChanged):
        await storage.apply(Changes(a, ops=[SaveAnswer(d.id, "late", 1)]))
    other = await storage.find_draft("Y", t.id, "2026-11")
    assert other is not None and other.id != d.id and other.answers == {}


async def test_migration_4_keeps_open_drafts_and_their_answers(db_path: Path) -> None:
    """Draft ids become AUTOINCREMENT on a database already in use: nothing is lost, the
    answers still belong to their drafts, and saving an answer still touches its draft."""
    db = await Database.open(db_path, migrate=False)
    await db.migrate([m for m in load_migrations() if m.number <= 3])

    def fill(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO units (code, name, parent_code, level, created_at,"
                     " updated_at) VALUES ('X','Xã',NULL,'xa','t','t')")
        conn.execute("INSERT INTO people (id, channel, external_id, created_at)"
                     " VALUES (1,'test','1','t')")
        conn.execute("INSERT INTO templates (id, version, content_hash, title, body, created_at)"
                     " VALUES ('t',1,'h','T','{}','t')")
        for i in (1, 2, 3):
            conn.execute("INSERT INTO drafts (id, unit_code, template_id, template_version,"
                         " period, started_by, started_at, updated_at) VALUES"
                         " (?, 'X', 't', 1, ?, 1, 't', 't')", (i, f"2026-0{i}"))
        for i, q in ((1, "a"), (1, "b"), (3, "a")):
            conn.execute("INSERT INTO draft_answers (draft_id, question_id, value, answered_by,"
                         " answered_at) VALUES (?,?,?,1,'t')", (i, q, f"{i}{q}"))
        conn.execute("DELETE FROM drafts WHERE id=3")  # the newest draft was sent
        for _ in range(4):  # and one more was started and sent: four starts in all
            conn.execute("INSERT INTO audit (at, actor, action, entity, details) VALUES"
                         " ('t', 'person:1', 'draft.start', 'report:X/t/2026', '{}')")

    await db.write(fill)
    assert [m.number for m in await db.migrate()] == [
        m.number for m in load_migrations() if m.number > 3]
    answers = await db.fetchall("SELECT draft_id, question_id, value FROM draft_answers"
                                " ORDER BY 1, 2")
    assert [tuple(r) for r in answers] == [(1, "a", "1a"), (1, "b", "1b")]
    assert [r["id"] for r in await db.fetchall("SELECT id FROM drafts ORDER BY id")] == [1, 2]

    def more(conn: sqlite3.Connection) -> tuple[tuple[int, int], list[sqlite3.Row], str]:
        new_id = conn.execute("INSERT INTO drafts (unit_code, template_id, template_version,"
                              " period, started_by, started_at, updated_at) VALUES"
                              " ('X','t',1,'2026-04',1,'t','t')").lastrowid
        conn.execute("INSERT INTO draft_answers (draft_id, question_id, value, answered_by,"
                     " answered_at) VALUES (2,'a','1',1,'later')")
        touched = conn.execute("SELECT updated_at FROM drafts WHERE id=2").fetchone()[0]
        conn.execute("DELETE FROM drafts WHERE id=1")  # answers still go with their draft
        conn.execute(f"DELETE FROM drafts WHERE id={new_id}")  # the newest row goes...
        again = conn.execute("INSERT INTO drafts (unit_code, template_id, template_version,"
                             " period, started_by, started_at, updated_at) VALUES"
                             " ('X','t',1,'2026-05',1,'t','t')").lastrowid
        ids = (int(new_id or 0), int(again or 0))
        return ids, conn.execute("PRAGMA foreign_key_check").fetchall(), touched

    ids, problems, touched = await db.write(more)
    assert ids == (5, 6)  # above the 4 ids ever handed out; then 5 went, and is not reused
    assert problems == [] and touched == "later"
    assert await db.fetchall("SELECT * FROM draft_answers WHERE draft_id=1") == []
    schema = await db.fetchone("SELECT sql FROM sqlite_master WHERE name='drafts'")
    assert schema is not None and "AUTOINCREMENT" in schema["sql"]
    await db.close()


async def test_group_commit_lets_other_writes_in_between_batches(db_path: Path) -> None:
    """A steady stream of answers must not hold off a write queued behind it (a joining
    officer, a reminder sweep): the writer takes turns, one batch at a time."""
    import asyncio
    import threading

    from storage.database import GroupCommit

    db = await Database.open(db_path)
    order: list[str] = []

    def write(conn: sqlite3.Connection, items: list[str]) -> list[str]:
        order.extend(items)
        return items

    group = GroupCommit(db, write, max_batch=1)
    gate = threading.Event()
    db._thread.submit(gate.wait)  # hold the writer while everything queues up
    answers = [asyncio.create_task(group.submit(f"answer {n}")) for n in range(3)]
    await asyncio.sleep(0)  # the drain is queued now
    other = asyncio.create_task(db.write(lambda conn: order.append("other write")))
    await asyncio.sleep(0.01)
    gate.set()
    await asyncio.gather(*answers, other)
    assert order == ["answer 0", "other write", "answer 1", "answer 2"]
    await db.close()


async def test_an_event_repeated_inside_one_batch_is_applied_once(
        storage: SqliteStorage, shipped_templates: dict[str, Template]) -> None:
    """A redelivered update can land in the same group commit as its first delivery: the
    second copy must change nothing (not answer the next question), even side by side."""
    import asyncio
    import threading

    from storage.models import Changes, SaveAnswer

    t = shipped_templates["ocop_thanh_nien"]
    _, (a, _, _), d = await _unit_x_draft_and_three_officers(storage, t)
    gate = threading.Event()  # hold the writer so both copies form one batch
    storage.db._thread.submit(gate.wait)
    first = Changes(a, ops=[SaveAnswer(d.id, "q1", 1)], event=("test", "77"),
                    conversation=(a, {"q": "q2"}))
    again = Changes(a, ops=[SaveAnswer(d.id, "q2", 1)], event=("test", "77"),
                    conversation=(a, {"q": "q3"}))
    tasks = [asyncio.create_task(storage.apply(c)) for c in (first, again)]
    await asyncio.sleep(0.05)
    gate.set()
    assert await asyncio.gather(*tasks) == [True, False]
    kept = await storage.find_draft("X", t.id, "2026-11")
    assert kept is not None and kept.answers == {"q1": 1}
    assert await storage.get_conversation(a) == {"q": "q2"}


async def test_a_second_start_of_a_draft_with_answers_changes_nothing(
        storage: SqliteStorage, shipped_templates: dict[str, Template]) -> None:
    """Two officers press "Sửa báo cáo" at once: both start the correction's draft with the
    sent answers; the second start is ignored, and its answers go nowhere (not to the row
    SQLite inserted last)."""
    from storage.models import Changes, StartDraft

    t = shipped_templates["ocop_thanh_nien"]
    v, (_, b, c), d = await _unit_x_draft_and_three_officers(storage, t)
    await storage.apply(Changes(c, ops=[StartDraft("Y", t.id, v, "2026-11")]))
    again = StartDraft("X", t.id, v, "2026-11", reopened_from=1, answers={"q1": 5})
    assert await storage.apply(Changes(b, ops=[again])) is True
    kept = await storage.find_draft("X", t.id, "2026-11")
    other = await storage.find_draft("Y", t.id, "2026-11")
    assert kept is not None and kept.id == d.id and kept.answers == {}
    assert other is not None and other.answers == {}


async def test_a_cancelled_waiter_does_not_strand_the_rest_of_its_batch(db_path: Path) -> None:
    """A handler cancelled while its answer is being committed (a shutdown, a timeout): the
    other events of that batch still get their results, or their people would wait forever
    (and, queued per person, so would everything they send next)."""
    import asyncio
    import threading

    from storage.database import GroupCommit

    db = await Database.open(db_path)
    def write(conn: sqlite3.Connection, items: list[int]) -> list[int]:
        return [v * 10 for v in items]

    group = GroupCommit(db, write, max_batch=8)
    gate = threading.Event()
    db._thread.submit(gate.wait)  # hold the writer: the three items form one batch
    tasks = [asyncio.create_task(group.submit(v)) for v in (1, 2, 3)]
    await asyncio.sleep(0)  # every task has handed its item over and waits
    tasks[1].cancel()
    gate.set()
    # bounded: a stranded waiter fails the test instead of hanging the run
    first, last = await asyncio.wait_for(asyncio.gather(tasks[0], tasks[2]), timeout=30)
    assert (first, last) == (10, 30) and tasks[1].cancelled()
    await db.close()

