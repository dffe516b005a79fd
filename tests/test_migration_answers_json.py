"""Migration 0012 on a database written before issue 12 (tests/data/db_before_issue12.sqlite):
each submission's answers are copied into `answers_json`, the digest's read gives the same
answers from it as from the rows (and still reads the rows where the column is empty), and a
report stored afterwards writes both."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from storage.models import ImportedReport
from storage.sqlite import SqliteStorage
from tests.test_migration_issue12 import copy_of_before, rows


async def test_answers_json_holds_each_submissions_answers(tmp_path: Path) -> None:
    db = copy_of_before(tmp_path)
    before = rows(db)
    storage = await SqliteStorage.open(db)
    try:
        assert 12 in [n for n, _ in await storage.db.applied_migrations()]
        first = await storage.get_submission("LC-BX-01", "thu_nghiem", "2026-Q1", version=1)
        latest = await storage.get_submission("LC-BX-01", "thu_nghiem", "2026-Q1")
        assert first is not None and latest is not None and latest.version == 2
        with sqlite3.connect(db) as conn:
            stored = {i: json.loads(text) for i, text in conn.execute(
                "SELECT id, answers_json FROM submissions")}
        assert stored == {first.id: first.answers, latest.id: latest.answers}
        assert latest.answers["htx_moi"] == 5

        read = await storage.subtree_submissions("thu_nghiem", "LC", ["2026-Q1"])
        assert [(s.id, s.answers) for s in read] == [(latest.id, latest.answers)]
        with sqlite3.connect(db) as conn:  # a row without the column: read from the rows
            conn.execute("UPDATE submissions SET answers_json = NULL")
        again = await storage.subtree_submissions("thu_nghiem", "LC", ["2026-Q1"])
        assert [(s.id, s.answers) for s in again] == [(latest.id, latest.answers)]

        answers = {"htx_moi": 7, "ghi_chu": "Đã họp \"đủ\" tổ", "ty_le": 12.5}
        await storage.import_submissions(
            [ImportedReport("LC-BX-02", "thu_nghiem", latest.template_version, "2026-Q1",
                            answers, datetime(2026, 4, 10, tzinfo=UTC), 2)],
            datetime(2026, 4, 2, tzinfo=UTC), replace=False)
        with sqlite3.connect(db) as conn:
            (text,) = conn.execute("SELECT answers_json FROM submissions WHERE"
                                   " unit_code = 'LC-BX-02'").fetchone()
        assert json.loads(text) == answers
        read = await storage.subtree_submissions("thu_nghiem", "LC-BX", ["2026-Q1"])
        assert {s.unit_code: s.answers for s in read}["LC-BX-02"] == answers
    finally:
        await storage.close()
    kept = rows(db)
    assert kept["submission_answers"][:len(before["submission_answers"])] == \
        before["submission_answers"]  # the rows stay the record


async def test_a_report_sent_in_chat_writes_its_answers_json(tmp_path: Path) -> None:
    from tests.test_digest_service import load, seed

    db = tmp_path / "baocao.db"
    await seed(db, load(tmp_path))  # reports and a correction through Submit
    with sqlite3.connect(db) as conn:
        stored = {i: json.loads(text) for i, text in conn.execute(
            "SELECT id, answers_json FROM submissions")}
        from_rows: dict[int, dict[str, object]] = {}
        for i, q, v in conn.execute("SELECT submission_id, question_id, value"
                                    " FROM submission_answers"):
            from_rows.setdefault(i, {})[q] = json.loads(v)
    assert len(stored) == 4 and stored == from_rows
