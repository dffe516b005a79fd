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
