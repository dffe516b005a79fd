"""Migration 0011 on a database written before it (tests/data/db_before_issue12.sqlite): every
submission and answer is kept with its id, each reads as typed in chat by its sender, and a
sender may now be missing (an import)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from storage.sqlite import SqliteStorage
from tests.test_migration_issue12 import BEFORE, rows


async def test_every_submission_is_kept_and_reads_as_sent_in_chat(tmp_path: Path) -> None:
    db = tmp_path / "baocao.db"
    shutil.copy(BEFORE, db)
    before = rows(db)
    storage = await SqliteStorage.open(db)
    try:
        assert 11 in [n for n, _ in await storage.db.applied_migrations()]
        latest = await storage.get_submission("LC-BX-01", "thu_nghiem", "2026-Q1")
        assert latest is not None and latest.version == 2
        assert latest.source == "chat" and latest.entered_by == latest.submitted_by
        assert latest.answers["htx_moi"] == 5
    finally:
        await storage.close()
    assert rows(db) == before  # every table, column by column, ids included
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT DISTINCT source FROM submissions").fetchall() == [("chat",)]
        assert conn.execute("SELECT COUNT(*) FROM submissions WHERE entered_by IS NULL"
                            " OR entered_by != submitted_by").fetchone() == (0,)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert "submissions_by_period" in {r[1] for r in conn.execute(
            "PRAGMA index_list(submissions)")}
        notnull = {r[1]: r[3] for r in conn.execute("PRAGMA table_info(submissions)")}
        assert notnull["submitted_by"] == 0 and notnull["source"] == 1
