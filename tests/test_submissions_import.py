"""`baocao submissions import`: reports of communes that phoned or sent paper, from a CSV or
XLSX file. Every cell goes through the chat's parser; any problem names the row (file line)
and column and imports nothing; a unit that already reported gets a correction only with
--replace."""

from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import nullcontext
from pathlib import Path

import pytest

from bot.cli import main
from tests.harness import TEST_TEMPLATE, legacy_units_path

HEADER = ("unit,co_fanpage,so_tin,htx_tong,htx_moi,ty_le,von,hinh_thuc,kenh,ngay_hop,"
          "kho_khan\n")
GOOD_ROWS = [
    'LC-BX-01,có,12,"1.234",5,"35,5","1.234,5",Mạng xã hội,"Zalo, Họp dân",05/02/2026,Thiếu vốn',
    "LC-BX-02,khong,,20,3,40,,loa,facebook,,",
]


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


def write(site: Path, name: str, *rows: str, header: str = HEADER) -> str:
    (site / name).write_text(header + "".join(r + "\n" for r in rows), encoding="utf-8")
    return name


def run(*args: str) -> int:
    return main(["submissions", "import", *args, "--template", "thu_nghiem",
                 "--period", "2026-Q1"])


def stored(site: Path) -> list[tuple[str, int, str, str | None, str | None]]:
    with sqlite3.connect(site / "db.sqlite") as conn:
        return conn.execute("SELECT unit_code, version, source, submitted_by, entered_by FROM"
                            " submissions ORDER BY unit_code, version").fetchall()


def answers(site: Path, unit: str, version: int = 1) -> dict[str, object]:
    with sqlite3.connect(site / "db.sqlite") as conn:
        rows = conn.execute(
            "SELECT a.question_id, a.value FROM submission_answers a JOIN submissions s ON"
            " s.id = a.submission_id WHERE s.unit_code=? AND s.version=?",
            (unit, version)).fetchall()
    return {q: json.loads(v) for q, v in rows}


def err_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [ln for ln in capsys.readouterr().err.splitlines() if " INFO " not in ln]


def test_a_good_csv_is_imported_with_every_value_parsed_like_in_chat(
        site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert run(write(site, "good.csv", *GOOD_ROWS)) == 0
    assert "OK: 2 report(s) imported, 0 correction(s)" in capsys.readouterr().out
    assert stored(site) == [("LC-BX-01", 1, "import", None, None),
                            ("LC-BX-02", 1, "import", None, None)]
    assert answers(site, "LC-BX-01") == {
        "co_fanpage": True, "so_tin": 12, "htx_tong": 1234, "htx_moi": 5, "ty_le": 35.5,
        "von": 1234.5, "hinh_thuc": "mxh", "kenh": ["zalo", "hop"],
        "ngay_hop": "2026-02-05", "kho_khan": "Thiếu vốn"}
    # no diacritics, option ids, empty optional cells unanswered
    assert answers(site, "LC-BX-02") == {"co_fanpage": False, "htx_tong": 20, "htx_moi": 3,
                                         "ty_le": 40.0, "hinh_thuc": "loa",
                                         "kenh": ["facebook"]}
    with sqlite3.connect(site / "db.sqlite") as conn:
        audit = conn.execute("SELECT actor, action, entity, details FROM audit WHERE action"
                             " LIKE 'report.%' ORDER BY id").fetchall()
    assert [(a, b, c) for a, b, c, _ in audit] == [
        ("cli", "report.submit", "report:LC-BX-01/thu_nghiem/2026-Q1"),
        ("cli", "report.submit", "report:LC-BX-02/thu_nghiem/2026-Q1")]
    assert json.loads(audit[0][3])["source"] == "import"
    assert json.loads(audit[1][3])["line"] == 3


def test_a_csv_with_semicolons_bom_and_a_sep_line(site: Path) -> None:
    body = "sep=;\n" + HEADER.replace(",", ";") + \
        "LC-BX-03;Có;7;10;2;50;12,5;mxh;zalo;;\n"
    (site / "semi.csv").write_bytes(b"\xef\xbb\xbf" + body.encode())
    assert run("semi.csv") == 0
    assert answers(site, "LC-BX-03")["von"] == 12.5
    assert answers(site, "LC-BX-03")["so_tin"] == 7


def test_an_xlsx_with_typed_cells(site: Path) -> None:
    from datetime import datetime

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["unit", "co_fanpage", "so_tin", "htx_tong", "htx_moi", "ty_le", "von",
               "hinh_thuc", "kenh", "ngay_hop"])
    ws.append(["LC-SP-01", True, 3, 1234, 5, 35.5, 1.234, "Loa truyền thanh", "zalo",
               datetime(2026, 3, 1)])
    ws.append(["LC-SP-02", "không", None, 8, 0, 0, None, "mxh", "hop", None])
    wb.save(site / "units.xlsx")
    assert run("units.xlsx") == 0
    assert answers(site, "LC-SP-01") == {
        "co_fanpage": True, "so_tin": 3, "htx_tong": 1234, "htx_moi": 5, "ty_le": 35.5,
        "von": 1.234, "hinh_thuc": "loa", "kenh": ["zalo"], "ngay_hop": "2026-03-01"}
    assert answers(site, "LC-SP-02")["htx_moi"] == 0


def test_a_broken_xlsx_row_names_row_and_column(site: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["unit", "co_fanpage", "htx_tong", "htx_moi", "ty_le", "hinh_thuc", "kenh"])
    ws.append(["LC-SP-01", "không", 10, 1, 20, "mxh", "zalo"])
    ws.append(["LC-SP-02", "không", "abc", 1, 20, "mxh", "zalo"])
    wb.save(site / "units.xlsx")
    capsys.readouterr()
    assert run("units.xlsx") == 1
    lines = err_lines(capsys)
    assert lines[0].startswith("units.xlsx: row 3, column htx_tong: 'abc': ")
    assert lines[-1] == "nothing imported (1 problem(s))"
    assert stored(site) == []


@pytest.mark.parametrize(("row", "expected"), [
    ("LC-BX-01,có,12,abc,5,35,,mxh,zalo,,",
     "bad.csv: row 3, column htx_tong: 'abc': Chưa đọc được số"),
    ("LC-BX-01,có,12,10,5,35,,mxh,zalo,31/13/2026,",
     "bad.csv: row 3, column ngay_hop: '31/13/2026': "),
    ("LC-BX-01,có,12,10,5,150,,mxh,zalo,,",  # a percent above 100
     "bad.csv: row 3, column ty_le: '150': "),
    ("LC-BX-01,có,12,10,5,35,,bogus,zalo,,",
     "bad.csv: row 3, column hinh_thuc: 'bogus': "),
    ("LC-BX-01,có,12,10,5.5,35,,mxh,zalo,,",
     "bad.csv: row 3, column htx_moi: '5.5': "),
    ("LC-BX-01,có,12,,5,35,,mxh,zalo,,",
     "bad.csv: row 3, column htx_tong: required, but the cell is empty"),
    ("LC-BX-01,không,12,10,5,35,,mxh,zalo,,",
     "bad.csv: row 3, column so_tin: answered, but the question is asked only when "
     "co_fanpage = có; leave the cell empty"),
    ("LC-BX-01,có,12,10,11,35,,mxh,zalo,,",
     "bad.csv: row 3: Số HTX mới không được lớn hơn tổng số HTX."),
    ("XX-99,có,12,10,5,35,,mxh,zalo,,",
     "bad.csv: row 3, column unit: unknown unit XX-99 (see `baocao units list`)"),
    ("LC-BX,có,12,10,5,35,,mxh,zalo,,",
     "bad.csv: row 3, column unit: template thu_nghiem does not apply to unit LC-BX"),
    ("LC-BX-02,có,1,10,5,35,,mxh,zalo,,",
     "bad.csv: row 3, column unit: unit LC-BX-02 is listed twice (also row 2)"),
    (",có,12,10,5,35,,mxh,zalo,,",
     "bad.csv: row 3, column unit: no unit code"),
])
def test_each_broken_row_names_row_and_column_and_nothing_is_imported(
        site: Path, capsys: pytest.CaptureFixture[str], row: str, expected: str) -> None:
    first = "LC-BX-02,có,1,10,5,35,,mxh,zalo,,"  # good: not imported either
    capsys.readouterr()
    assert run(write(site, "bad.csv", first, row)) == 1
    lines = err_lines(capsys)
    assert lines[0].startswith(expected), lines
    assert lines[-1].startswith("nothing imported")
    assert stored(site) == []


def test_an_unknown_column_is_named(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    name = write(site, "cols.csv", "LC-BX-01,có,12", header="unit,co_fanpage,so_htx\n")
    assert run(name) == 1
    lines = err_lines(capsys)
    assert lines[0].startswith("cols.csv: column so_htx: no such question in template "
                               "thu_nghiem")
    assert stored(site) == []


def test_a_period_the_template_does_not_ask_for(site: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["submissions", "import", write(site, "good.csv", *GOOD_ROWS), "--template",
                 "thu_nghiem", "--period", "2026-03"]) == 1
    assert "error: template thu_nghiem asks for no report on 2026-03" in capsys.readouterr().err
    assert stored(site) == []


def test_a_unit_that_reported_needs_replace_which_makes_a_correction(
        site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = write(site, "good.csv", *GOOD_ROWS)
    assert run(name) == 0
    changed = write(site, "again.csv", GOOD_ROWS[0].replace(",12,", ",15,"))
    capsys.readouterr()
    assert run(changed) == 1
    lines = err_lines(capsys)
    assert lines[0] == ("again.csv: row 2, column unit: unit LC-BX-01 already has a report "
                        "for 2026-Q1 (version 1); to correct it with this file's values, add "
                        "--replace")
    assert len(stored(site)) == 2
    assert run(changed, "--dry-run") == 1  # a dry run finds the same problem
    capsys.readouterr()
    assert run(changed, "--replace", "--dry-run") == 0
    assert "would import 0 report(s) and 1 correction(s)" in capsys.readouterr().out
    assert len(stored(site)) == 2
    assert run(changed, "--replace") == 0
    assert "OK: 0 report(s) imported, 1 correction(s)" in capsys.readouterr().out
    assert stored(site)[:2] == [("LC-BX-01", 1, "import", None, None),
                                ("LC-BX-01", 2, "import", None, None)]
    assert answers(site, "LC-BX-01", 2)["so_tin"] == 15


def test_lowercase_unit_codes_name_their_unit(site: Path) -> None:
    assert run(write(site, "lower.csv", GOOD_ROWS[0].replace("LC-BX-01", "lc-bx-01"))) == 0
    assert [r[0] for r in stored(site)] == ["LC-BX-01"]


def received_at(site: Path, unit: str) -> tuple[str, int]:
    with sqlite3.connect(site / "db.sqlite") as conn:
        at, on_time = conn.execute("SELECT submitted_at, on_time FROM submissions WHERE"
                                   " unit_code=?", (unit,)).fetchone()
    return str(at), int(on_time)


def test_received_dates_the_reports_and_judges_timeliness_by_it(
        site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Q1 is due before 05/03/2026 (00:00, Asia/Ho_Chi_Minh): a commune that phoned on the
    4th is on time even if the file is imported weeks later; one that phoned on the 5th is
    late."""
    name = write(site, "phoned.csv", GOOD_ROWS[0])
    assert run(name, "--received", "2026-03-04") == 0
    assert received_at(site, "LC-BX-01") == ("2026-03-04T05:00:00+00:00", 1)  # noon local
    name = write(site, "phoned2.csv", GOOD_ROWS[1])
    assert run(name, "--received", "2026-03-05 07:15") == 0
    assert received_at(site, "LC-BX-02") == ("2026-03-05T00:15:00+00:00", 0)
    capsys.readouterr()
    for bad, says in (("2099-01-01", "in the future"), ("2025-12-31", "before period"),
                      ("2026-03-04 25:00", "not a time")):
        with pytest.raises(SystemExit) if says == "not a time" else nullcontext():
            code = run(write(site, "x.csv", GOOD_ROWS[1].replace("LC-BX-02", "LC-BX-03")),
                       "--received", bad)
            assert code != 0
        assert says in capsys.readouterr().err
    assert [r[0] for r in stored(site)] == ["LC-BX-01", "LC-BX-02"]  # nothing more imported
