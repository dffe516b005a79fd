"""The shipped templates as they were before issue 12 (tests/data/old_reports/): for tests of
dialogue, reminder and storage mechanics that were written against their questions and that
run on the old sample tree (LC-BX-01 …), which the rewritten, province-scoped templates no
longer apply to."""

from __future__ import annotations

from pathlib import Path

OLD_REPORTS = Path(__file__).resolve().parent / "data" / "old_reports"
