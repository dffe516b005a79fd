"""Migration 0010 (reviews) on a database written before issue 12 (0001-0008): every
migration up to 0010 applies, every row is kept, and a kept submission can be reviewed."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.interface import ReviewRefused
from storage.models import Review
from storage.sqlite import SqliteStorage
from tests.test_migration_issue12 import copy_of_before, rows


async def test_reviews_migration_keeps_data_and_reviews_old_submissions(tmp_path: Path) -> None:
    db = copy_of_before(tmp_path)
    before = rows(db)
    storage = await SqliteStorage.open(db)
    try:
        applied = [n for n, _ in await storage.db.applied_migrations()]
        assert applied[:10] == list(range(1, 11))
        assert await storage.db.fetchall("SELECT * FROM reviews") == []
        # the old report (two versions) has no review yet
        assert await storage.review_states("thu_nghiem", "2026-Q1") == {}
        with pytest.raises(ReviewRefused, match="resubmitted"):  # version 1 is not the latest
            await storage.record_review(1, Review("LC-BX-01", "thu_nghiem", "2026-Q1", 1,
                                                  "approve"))
        await storage.record_review(1, Review("LC-BX-01", "thu_nghiem", "2026-Q1", 2,
                                              "return", "Thiếu số liệu"))
        assert await storage.review_states("thu_nghiem", "2026-Q1") == {"LC-BX-01": "returned"}
    finally:
        await storage.close()
    after = rows(db)
    audit_before = before.pop("audit")
    audit_after = after.pop("audit")
    assert after == before
    assert audit_after[:len(audit_before)] == audit_before
    assert [a[3] for a in audit_after[len(audit_before):]] == ["review.return"]
