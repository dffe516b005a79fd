"""Issue 13 attack review: what users would do to the supervisor features."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from bot.cli import main
from tests.harness import TEST_TEMPLATE, legacy_units_path


@pytest.fixture
def site(workdir: Path) -> Path:
    reports = workdir / "reports"
    reports.mkdir()
    (reports / "thu_nghiem.toml").write_text(TEST_TEMPLATE, encoding="utf-8")
    (workdir / "config.toml").write_text(
        f'[storage]\npath = "{workdir / "db.sqlite"}"\n[reports]\ndir = "reports"\n',
        encoding="utf-8")
    shutil.copy(legacy_units_path(), workdir / "units.csv")
    assert main(["units", "import", "units.csv"]) == 0
    return workdir


def test_an_xlsx_formula_without_a_computed_value_is_named_not_read_as_empty(
        site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A workbook written by a script (openpyxl, pandas) keeps a formula with no cached result:
    read as an empty cell, an optional figure was silently dropped and a required one was
    reported "empty" although the cell holds =2+3."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["unit", "co_fanpage", "htx_tong", "htx_moi", "ty_le", "hinh_thuc", "kenh",
               "so_tin", "von"])
    ws.append(["LC-SP-01", False, 20, 1, 10, "mxh", "zalo", None, "=1.5*2"])
    wb.save(site / "formulas.xlsx")
    capsys.readouterr()
    assert main(["submissions", "import", "formulas.xlsx", "--template", "thu_nghiem",
                 "--period", "2026-Q1"]) == 1
    err = capsys.readouterr().err
    assert "row 2, column I" in err and "=1.5*2" in err and "formula" in err
    with sqlite3.connect(site / "db.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM submissions").fetchone() == (0,)
