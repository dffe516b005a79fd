"""Migration 0009 on a database written by baocao before it (tests/data/make_db_before_issue12.py,
run on commit 61eec37): every unit, membership, draft, submission and answer is kept as it was,
the new unit columns start empty, and the app carries on with the draft and the report."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

from bot.domain.templates import Level
from bot.domain.units import Unit
from storage.sqlite import SqliteStorage
from tests.harness import Chat, Clock, make_app

BEFORE = Path(__file__).parent / "data" / "db_before_issue12.sqlite"
KEPT = {  # table → its columns before the migration, in a stable order
    "units": "code, name, parent_code, level, created_at, updated_at",
    "people": "id, channel, external_id, display_name, reachable, created_at",
    "memberships": "person_id, unit_code, role, invite_code, created_at",
    "invites": "code, unit_code, role, max_uses, uses, expires_at, created_at, created_by",
    "drafts": "id, unit_code, template_id, template_version, period, started_by, started_at,"
              " updated_at, reopened_from",
    "draft_answers": "draft_id, question_id, value, answered_by, answered_at",
    "submissions": "id, unit_code, template_id, template_version, period, version,"
                   " submitted_by, submitted_at, due_at, on_time",
    "submission_answers": "submission_id, question_id, value",
    "templates": "id, version, content_hash, title, body, created_at",
    "audit": "id, at, actor, action, entity, details",
}


def rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(path) as conn:
        return {table: conn.execute(f"SELECT {cols} FROM {table} ORDER BY 1, 2").fetchall()
                for table, cols in KEPT.items()}


def copy_of_before(tmp_path: Path) -> Path:
    db = tmp_path / "baocao.db"
    shutil.copy(BEFORE, db)
    return db


async def test_the_fixture_is_from_before_the_migration(tmp_path: Path) -> None:
    with sqlite3.connect(BEFORE) as conn:
        assert max(n for (n,) in conn.execute("SELECT number FROM schema_migrations")) == 8
        assert "org" not in {r[1] for r in conn.execute("PRAGMA table_info(units)")}


async def test_migration_keeps_every_row_and_adds_empty_unit_columns(tmp_path: Path) -> None:
    db = copy_of_before(tmp_path)
    before = rows(db)
    assert len(before["drafts"]) == 1 and len(before["submissions"]) == 2
    assert len(before["draft_answers"]) == 3 and len(before["submission_answers"]) == 20
    storage = await SqliteStorage.open(db)
    try:
        assert 9 in [n for n, _ in await storage.db.applied_migrations()]
        units = await storage.list_units()
        assert Unit("LC-BX-01", "Đoàn xã Bản Vược", "LC-BX", Level.XA) in units
        assert all(u.org is None and u.retired_on is None and u.merged_into is None
                   for u in units)
        draft = await storage.find_draft("LC-BX-02", "thu_nghiem", "2026-Q1")
        assert draft is not None and draft.answers == {"co_fanpage": True, "so_tin": 7,
                                                       "htx_tong": 20}
        first = await storage.get_submission("LC-BX-01", "thu_nghiem", "2026-Q1", version=1)
        latest = await storage.get_submission("LC-BX-01", "thu_nghiem", "2026-Q1")
        assert first is not None and latest is not None and latest.version == 2
        assert first.answers["htx_moi"] == 2 and latest.answers["htx_moi"] == 5
        assert first.answers["htx_tong"] == latest.answers["htx_tong"] == 11
    finally:
        await storage.close()
    assert rows(db) == before  # the same values, column by column
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        indexes = {r[1] for r in conn.execute("PRAGMA index_list(units)")}
        assert "units_by_parent" in indexes
        assert conn.execute("SELECT COUNT(*) FROM units WHERE org IS NOT NULL OR retired_on IS"
                            " NOT NULL OR merged_into IS NOT NULL").fetchone() == (0,)
        # The references into units still hold: a membership of an unknown unit is refused.
        conn.execute("PRAGMA foreign_keys = ON")
        try:
            conn.execute("INSERT INTO memberships (person_id, unit_code, role, created_at)"
                         " VALUES (1, 'NOWHERE', 'officer', 'x')")
            raise AssertionError("a membership of an unknown unit was accepted")
        except sqlite3.IntegrityError:
            pass


async def test_new_levels_and_retirement_can_be_stored_after_the_migration(
        tmp_path: Path) -> None:
    storage = await SqliteStorage.open(copy_of_before(tmp_path))
    try:
        await storage.upsert_units([Unit("LC-CD", "Đoàn trường Cao đẳng", "LC", Level.TRUC_THUOC,
                                         "doan")])
        assert await storage.retire_units(["LC-BX-03"], date(2026, 6, 30),
                                          merged_into="LC-BX-01") == 1
        units = {u.code: u for u in await storage.list_units()}
        assert units["LC-CD"].level is Level.TRUC_THUOC and units["LC-CD"].org == "doan"
        assert units["LC-BX-03"].retired_on == date(2026, 6, 30)
        assert units["LC-BX-03"].merged_into == "LC-BX-01"
    finally:
        await storage.close()


async def test_the_app_continues_the_draft_and_reads_the_submission(tmp_path: Path) -> None:
    copy_of_before(tmp_path)
    clock = Clock(datetime(2026, 2, 22, 3, 0, tzinfo=UTC))
    app = await make_app(tmp_path, clock)  # opens tmp_path/baocao.db: the migrated copy
    try:
        # Event ids go on from the first run's (those are remembered as handled).
        drafter = Chat(app, "1002", counter=100)
        await drafter.cmd("baocao")
        assert "Tiếp tục báo cáo" in drafter.text and "Câu 4/11" in drafter.text, drafter.text
        for text in ("2", "90", "12", "1", "1", "xong", "bo qua", "bo qua", "bo qua"):
            await drafter.say(text)
        await drafter.press_label("Gửi báo cáo")
        sent = await app.storage.get_submission("LC-BX-02", "thu_nghiem", "2026-Q1")
        assert sent is not None and sent.answers["htx_tong"] == 20 and sent.answers["so_tin"] == 7
        sender = Chat(app, "1001", counter=100)
        await sender.cmd("trangthai")
        assert "đã gửi lúc 10:00 ngày 20/02/2026" in sender.text, sender.text
        assert "(đúng hạn), đã sửa 1 lần" in sender.text
        supervisor = Chat(app, "1003", counter=100)
        await supervisor.cmd("trangthai")
        assert "đã gửi 2/3, đúng hạn 2" in supervisor.text, supervisor.text
        assert "Chưa gửi: Đoàn thị trấn Bát Xát" in supervisor.text
    finally:
        await app.close()
