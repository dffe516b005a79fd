"""Units after the 2025 reform (issue 12): organisations and their inheritance, the new level
words, templates scoped by org, retired and merged units (`expected`), the `units retire` /
`units merge` commands, imports that never delete, and what an officer sees."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from bot.app import App
from bot.cli import main
from bot.domain import messages_vi as M
from bot.domain.periods import Period
from bot.domain.roles import Role
from bot.domain.templates import AppliesTo, Level
from bot.domain.units import (
    Unit,
    UnitRow,
    applies,
    applies_in,
    check_import,
    check_merge,
    effective_org,
    expected,
    parse_level,
    parse_org,
    render_tree,
)
from bot.unit_files import read_unit_rows
from tests.harness import Clock, join, make_app
from tests.test_colleagues import ANSWERS, REPORT

# --- level words and organisations ------------------------------------------------------------


@pytest.mark.parametrize(("word", "has_parent", "level"), [
    ("đặc khu", True, Level.XA), ("Đặc khu", True, Level.XA), ("dac khu", True, Level.XA),
    ("phường", True, Level.XA), ("xã", True, Level.XA), ("xa", True, Level.XA),
    ("thành phố", False, Level.TINH), ("Thành phố", False, Level.TINH),
    ("thành phố", True, Level.HUYEN),  # a district-level city of an old tree
    ("thanh pho truc thuoc trung uong", False, Level.TINH),
    ("trực thuộc", True, Level.TRUC_THUOC), ("truc_thuoc", True, Level.TRUC_THUOC),
    ("đơn vị trực thuộc", True, Level.TRUC_THUOC), ("cơ sở trực thuộc", True, Level.TRUC_THUOC),
    ("Đoàn trực thuộc", True, Level.TRUC_THUOC),
    ("huyện", True, Level.HUYEN), ("tỉnh", False, Level.TINH),
    ("huyện đoàn", True, None), ("thôn", True, None), ("", True, None),
])
def test_level_words(word: str, has_parent: bool, level: Level | None) -> None:
    assert parse_level(word, has_parent) is level


@pytest.mark.parametrize(("cell", "org"), [
    ("doan", "doan"), ("hoi_nong_dan", "hoi_nong_dan"), ("ubnd", "ubnd"),
    ("Đoàn", "doan"), ("Hội Nông dân", "hoi_nong_dan"), ("hội nông dân", "hoi_nong_dan"),
    ("Hội Phụ nữ", "hoi_phu_nu"), ("MTTQ", "mttq"), ("UBND", "ubnd"), ("Đảng", "dang"),
    ("HOI_CCB", "hoi_ccb"), (" Hoi_Nong_Dan ", "hoi_nong_dan"),  # ids in any case
    ("", ""), ("  ", ""),  # empty: the parent's
    ("Hội Người cao tuổi", None), ("doan-tn", None), ("1doan", None),
])
def test_org_cells(cell: str, org: str | None) -> None:
    assert parse_org(cell) == org


def rows(*cells: tuple[str, ...]) -> list[UnitRow]:
    return [UnitRow(i, *c) for i, c in enumerate(cells, start=2)]


def test_import_reads_orgs_and_names_the_line_of_an_unknown_one() -> None:
    units, errors = check_import(rows(("LC", "Tỉnh đoàn", "", "tinh", "Đoàn"),
                                      ("LC-1", "Đoàn xã", "LC", "xã", ""),
                                      ("HN", "Hà Nội", "", "thành phố", "doan"),
                                      ("PQ", "Đặc khu Phú Quý", "HN", "đặc khu", "")), {})
    assert errors == []
    assert [(u.code, u.level, u.org) for u in units] == [
        ("LC", Level.TINH, "doan"), ("LC-1", Level.XA, None), ("HN", Level.TINH, "doan"),
        ("PQ", Level.XA, None)]
    _, errors = check_import(rows(("LC", "Tỉnh đoàn", "", "tinh", "Hội Người cao tuổi")), {})
    assert errors == ["line 2: unknown org 'Hội Người cao tuổi' of 'LC' (an id such as doan, "
                      "hoi_nong_dan, hoi_phu_nu, mttq, ubnd, dang; or empty to take the "
                      "parent's)"]


TREE = {u.code: u for u in [
    Unit("LC", "Tỉnh đoàn Lào Cai", None, Level.TINH, "doan"),
    Unit("LC-BATXAT", "Đoàn xã Bát Xát", "LC", Level.XA),
    Unit("LC-CDLC", "Đoàn trường Cao đẳng", "LC", Level.TRUC_THUOC),
    Unit("LC-HND", "Hội Nông dân xã Bát Xát", "LC", Level.XA, "hoi_nong_dan"),
    Unit("LC-HND-1", "Chi hội thôn 1", "LC-HND", Level.XA),
    Unit("X", "Không tổ chức", None, Level.TINH),
    Unit("X-1", "Xã", "X", Level.XA),
]}


@pytest.mark.parametrize(("code", "org"), [
    ("LC", "doan"), ("LC-BATXAT", "doan"), ("LC-CDLC", "doan"), ("LC-HND", "hoi_nong_dan"),
    ("LC-HND-1", "hoi_nong_dan"), ("X", None), ("X-1", None), ("NOWHERE", None),
])
def test_org_is_inherited_from_the_nearest_ancestor_that_names_one(code: str,
                                                                    org: str | None) -> None:
    assert effective_org(code, TREE) == org


def test_changing_a_parents_org_changes_its_children() -> None:
    changed = dict(TREE)
    changed["LC"] = Unit("LC", "Tỉnh đoàn Lào Cai", None, Level.TINH, "dang")
    assert effective_org("LC-BATXAT", changed) == "dang"
    assert effective_org("LC-HND-1", changed) == "hoi_nong_dan"  # its own parent names one


@pytest.mark.parametrize(("orgs", "levels", "subtrees", "code", "applies_"), [
    ([], [], [], "X-1", True),
    (["doan"], [], [], "LC-BATXAT", True),
    (["doan"], [], [], "LC-HND-1", False),
    (["doan"], [], [], "X-1", False),  # no org at all
    (["doan", "hoi_nong_dan"], [], [], "LC-HND-1", True),
    (["doan"], ["xa"], [], "LC-CDLC", False),
    (["doan"], ["xa", "truc_thuoc"], [], "LC-CDLC", True),
    (["doan"], ["xa"], ["LC"], "LC-BATXAT", True),
    (["doan"], ["xa"], ["X"], "LC-BATXAT", False),
    (["hoi_nong_dan"], ["xa"], ["LC"], "LC-HND", True),
    (["hoi_nong_dan"], ["xa"], ["LC"], "LC-BATXAT", False),
])
def test_applies_with_orgs(orgs: list[str], levels: list[str], subtrees: list[str], code: str,
                           applies_: bool) -> None:
    scope = AppliesTo.model_validate({"orgs": orgs, "levels": levels, "subtrees": subtrees})
    assert applies_in(scope, code, TREE) is applies_


def test_applies_without_the_tree_takes_the_units_own_org() -> None:
    scope = AppliesTo(orgs=["doan"])
    assert applies(scope, TREE["LC"], {"LC"})
    assert not applies(scope, TREE["LC-BATXAT"], {"LC-BATXAT", "LC"})
    assert applies(scope, TREE["LC-BATXAT"], {"LC-BATXAT", "LC"}, "doan")


# --- expected(): a retired unit drops out from the next period -----------------------------------

RETIRED = Unit("A", "Đoàn xã A", None, Level.XA, retired_on=date(2026, 6, 30))


@pytest.mark.parametrize(("retired_on", "period", "owed"), [
    (None, "2030-01", True),
    (date(2026, 6, 30), "2026-Q2", True),  # the current period is still owed
    (date(2026, 6, 30), "2026-06", True),
    (date(2026, 6, 30), "2026-H1", True),
    (date(2026, 6, 30), "2026", True),  # started before it retired
    (date(2026, 6, 30), "2026-9M", True),
    (date(2026, 6, 30), "2026-07", False),
    (date(2026, 6, 30), "2026-Q3", False),
    (date(2026, 6, 30), "2026-H2", False),
    (date(2026, 6, 30), "2027", False),
    (date(2026, 7, 1), "2026-Q3", True),  # starts on its last day
    (date(2026, 7, 1), "2026-08", False),
    (date(2026, 6, 28), "2026-W26", True),  # 22–28 June
    (date(2026, 6, 28), "2026-W27", False),
])
def test_expected_around_the_last_day(retired_on: date | None, period: str, owed: bool) -> None:
    unit = Unit("A", "Đoàn xã A", None, Level.XA, retired_on=retired_on)
    assert expected(unit, Period.parse(period)) is owed


def test_merge_checks() -> None:
    tree = dict(TREE)
    tree["OLD"] = Unit("OLD", "Cũ", "LC", Level.XA, retired_on=date(2025, 6, 30))
    assert check_merge(["LC-CDLC"], "LC-BATXAT", tree) == []
    assert check_merge(["LC-CDLC"], "NOPE", tree) == [
        "unknown unit NOPE given to --into (see `baocao units list`)"]
    assert check_merge(["LC-CDLC"], "OLD", tree) == [
        "unit OLD is retired (since 2025-06-30): merge into a unit that still reports"]
    assert check_merge(["LC-BATXAT", "LC", "LC-HND-1", "NOPE", "OLD"], "LC-BATXAT", tree) == [
        "unit LC-BATXAT cannot be merged into itself",
        "unit LC is above LC-BATXAT in the tree: merge units of the same level",
        "unknown unit NOPE (see `baocao units list`)",
        "unit OLD is already retired (since 2025-06-30)"]
    assert check_merge(["LC-HND-1"], "LC-HND", tree) == [
        "unit LC-HND-1 is below LC-HND in the tree: merge units of the same level"]


def test_the_tree_marks_retired_and_merged_units() -> None:
    units = [Unit("LC", "Tỉnh đoàn", None, Level.TINH, "doan"),
             Unit("LC-1", "Xã 1", "LC", Level.XA, retired_on=date(2026, 6, 30),
                  merged_into="LC-2"),
             Unit("LC-2", "Xã 2", "LC", Level.XA),
             Unit("LC-3", "Xã 3", "LC", Level.XA, retired_on=date(2026, 7, 1))]
    assert render_tree(units) == [
        "LC  Tỉnh đoàn (tinh, doan)",
        "  LC-1  Xã 1 (xa) (retired 2026-06-30 → LC-2)",
        "  LC-2  Xã 2 (xa)",
        "  LC-3  Xã 3 (xa) (retired 2026-07-01)"]


# --- unit files ---------------------------------------------------------------------------------


def test_the_shipped_sample_is_the_post_2025_tree() -> None:
    from handlers.console import sample_units_path

    units, errors = check_import(read_unit_rows(sample_units_path()), {})
    assert errors == []
    tree = {u.code: u for u in units}
    assert not any(u.level is Level.HUYEN for u in units)
    assert tree["LD-PHUQUY"].level is Level.XA and tree["LC-CDLC"].level is Level.TRUC_THUOC
    assert {c: effective_org(c, tree) for c in ("LC-BATXAT", "LCH-TAMDUONG", "LD-BL1",
                                                "TN-TANAN", "NB-HAIHAU", "LC-CDLC")} == {
        "LC-BATXAT": "doan", "LCH-TAMDUONG": "hoi_nong_dan", "LD-BL1": "dang",
        "TN-TANAN": "doan", "NB-HAIHAU": "doan", "LC-CDLC": "doan"}


def test_files_with_and_without_the_org_column(tmp_path: Path) -> None:
    old = tmp_path / "old.csv"
    old.write_text("code;name;parent_code;level\nLC;Tỉnh đoàn;;tinh\n", encoding="utf-8")
    assert read_unit_rows(old) == [UnitRow(2, "LC", "Tỉnh đoàn", "", "tinh", "")]
    xlsx = tmp_path / "new.xlsx"
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["org", "code", "name", "parent_code", "level"])
    ws.append(["Hội Nông dân", "LCH", "Hội Nông dân tỉnh Lai Châu", None, "tỉnh"])
    ws.append([None, "LCH-1", "Hội Nông dân xã Tam Đường", "LCH", "xã"])
    wb.save(xlsx)
    units, errors = check_import(read_unit_rows(xlsx), {})
    assert errors == [] and [u.org for u in units] == ["hoi_nong_dan", None]


# --- the command line ---------------------------------------------------------------------------

CSV = """code,name,parent_code,level,org
LC,Tỉnh đoàn Lào Cai,,tinh,doan
LC-A,Đoàn xã A,LC,xa,
LC-B,Đoàn xã B,LC,xa,
LC-C,Đoàn phường C,LC,phường,
LC-D,Đoàn đặc khu D,LC,đặc khu,
"""


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def audit(workdir: Path) -> list[tuple[str, str, dict[str, object]]]:
    with sqlite3.connect(workdir / "db.sqlite") as conn:
        return [(a, e, json.loads(d)) for a, e, d in conn.execute(
            "SELECT action, entity, details FROM audit WHERE action LIKE 'unit.%' AND action"
            " != 'unit.upsert' ORDER BY id")]


@pytest.fixture
def imported(workdir: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    (workdir / "config.toml").write_text(f'[storage]\npath = "{workdir / "db.sqlite"}"\n',
                                         encoding="utf-8")
    (workdir / "units.csv").write_text(CSV, encoding="utf-8")
    assert cli(capsys, "units", "import", "units.csv")[0] == 0
    return workdir


def test_units_retire_and_undo(imported: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "units", "retire", "LC-A", "LC-B", "--on", "2026-06-30")
    assert code == 0 and err == ""
    assert out == ("OK: 2 unit(s) retired on 2026-06-30: LC-A LC-B (they owe the reports of "
                   "periods that started by then, none after)\n")
    code, out, err = cli(capsys, "units", "retire", "LC-A", "NOPE")
    assert code == 1 and out == ""
    assert err == ("error: unit LC-A is already retired (since 2026-06-30)\n"
                   "error: unknown unit NOPE (see `baocao units list`)\nnothing retired\n")
    assert cli(capsys, "units", "list")[1].splitlines()[1:3] == [
        "  LC-A  Đoàn xã A (xa) (retired 2026-06-30)",
        "  LC-B  Đoàn xã B (xa) (retired 2026-06-30)"]
    code, out, err = cli(capsys, "units", "retire", "--undo", "LC-B")
    assert code == 0 and out == "OK: 1 unit(s) report again: LC-B\n"
    code, _, err = cli(capsys, "units", "retire", "--undo", "LC-B")
    assert code == 1 and err == "error: unit LC-B is not retired\n"
    assert audit(imported) == [
        ("unit.retire", "unit:LC-A", {"retired_on": "2026-06-30", "merged_into": None}),
        ("unit.retire", "unit:LC-B", {"retired_on": "2026-06-30", "merged_into": None}),
        ("unit.unretire", "unit:LC-B", {"was_retired_on": "2026-06-30",
                                        "was_merged_into": None})]


def test_units_retire_defaults_to_today(imported: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from bot.app import system_clock
    from bot.config import Config

    today = system_clock().astimezone(Config().zone).date()
    code, out, _ = cli(capsys, "units", "retire", "LC-C")
    assert code == 0 and f"retired on {today.isoformat()}" in out


def test_units_merge(imported: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "units", "merge", "LC-A", "LC-B", "--into", "LC-C",
                         "--on", "2026-06-30")
    assert code == 0 and err == ""
    assert out == "OK: 2 unit(s) merged into LC-C (Đoàn phường C) on 2026-06-30: LC-A LC-B\n"
    assert "  LC-A  Đoàn xã A (xa) (retired 2026-06-30 → LC-C)" in cli(
        capsys, "units", "list")[1].splitlines()
    for args, message in [
        (["LC-D", "--into", "LC-A"], "error: unit LC-A is retired (since 2026-06-30): merge "
                                     "into a unit that still reports"),
        (["LC-D", "--into", "NOPE"], "error: unknown unit NOPE given to --into (see "
                                     "`baocao units list`)"),
        (["LC-D", "--into", "LC-D"], "error: unit LC-D cannot be merged into itself"),
        (["LC", "--into", "LC-D"], "error: unit LC is above LC-D in the tree: merge units "
                                   "of the same level"),
    ]:
        code, out, err = cli(capsys, "units", "merge", *args)
        assert (code, out) == (1, "") and err == f"{message}\nnothing merged\n", args
    assert [a[:2] for a in audit(imported)] == [("unit.merge", "unit:LC-A"),
                                                ("unit.merge", "unit:LC-B")]
    assert audit(imported)[0][2] == {"retired_on": "2026-06-30", "merged_into": "LC-C"}


def test_import_never_deletes_and_does_not_unretire(imported: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "units", "retire", "LC-A", "--on", "2026-06-30")[0] == 0
    fewer = "".join(line for line in CSV.splitlines(keepends=True)
                    if not line.startswith(("LC-B", "LC-C")))
    (imported / "units.csv").write_text(fewer, encoding="utf-8")
    code, out, err = cli(capsys, "units", "import", "units.csv")
    assert code == 0 and out == "OK: 3 rows, 0 added, 0 updated, 3 unchanged\n"
    assert err.splitlines() == [
        "note: LC-A is in the file but stays retired (since 2026-06-30); to make it report "
        "again: baocao units retire --undo LC-A",
        "note: 2 unit(s) no longer in the file are kept and still expected to report: LC-B, "
        "LC-C",
        "to retire them: baocao units retire LC-B LC-C [--on YYYY-MM-DD]"]
    listed = cli(capsys, "units", "list")[1]
    assert "LC-B  Đoàn xã B (xa)" in listed and "LC-C  Đoàn phường C (xa)" in listed
    assert "LC-A  Đoàn xã A (xa) (retired 2026-06-30)" in listed


def test_calendar_for_a_retired_unit_stops_after_its_last_day(
        imported: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reports = imported / "reports"
    reports.mkdir()
    (reports / "q.toml").write_text(
        'id = "q"\ntitle = "Báo cáo quý"\nperiod = "quarter"\n'
        'deadline = "trước ngày 05 tháng cuối quý"\napplies_to = { orgs = ["doan"] }\n'
        '[[questions]]\nid = "a"\ntext = "Số?"\ntype = "integer"\n', encoding="utf-8")
    with (imported / "config.toml").open("a", encoding="utf-8") as f:
        f.write(f'[reports]\ndir = "{reports}"\n')
    assert cli(capsys, "units", "retire", "LC-A", "--on", "2026-06-30")[0] == 0
    code, out, _ = cli(capsys, "calendar", "--from", "2026-01-01", "--to", "2026-12-31",
                       "--unit", "LC-A", "--json")
    assert code == 0
    assert [json.loads(line)["period"] for line in out.splitlines()] == ["2026-Q1", "2026-Q2"]
    code, out, _ = cli(capsys, "calendar", "--from", "2026-01-01", "--to", "2026-12-31",
                       "--unit", "LC-B", "--json")
    assert [json.loads(line)["period"] for line in out.splitlines()] == [
        "2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]


# --- what officers and supervisors see ----------------------------------------------------------


@pytest.fixture
def clock() -> Clock:
    return Clock()  # 03:00 UTC on 20/02/2026: quarter 1 of the test template is open


@pytest.fixture
async def app(tmp_path: Path, clock: Clock) -> AsyncIterator[App]:
    app = await make_app(tmp_path, clock)
    yield app
    await app.close()


async def retire(app: App, codes: list[str], on: date, into: str | None = None) -> None:
    await app.storage.retire_units(codes, on, merged_into=into)
    app.reporting.deps.units.forget()  # the bot would see it within a minute


async def test_a_retired_unit_owes_its_current_period_and_nothing_after(
        app: App, clock: Clock) -> None:
    chat = await join(app, "1", "LC-BX-01")
    await retire(app, ["LC-BX-01"], date(2026, 3, 31))
    await chat.cmd("danhsach")
    assert "Báo cáo quý thử nghiệm" in chat.text and "Quý I/2026" in chat.text
    await chat.press(REPORT)
    for text in ANSWERS:
        await chat.say(text)
    await chat.press_label("Gửi báo cáo")
    clock.now = datetime(2026, 4, 20, 3, 0, tzinfo=UTC)
    await chat.cmd("danhsach")
    assert chat.text == M.unit_stopped("Đoàn xã Bản Vược", date(2026, 3, 31), None)
    assert chat.text == ("Đoàn xã Bản Vược đã thôi báo cáo từ sau ngày 31/03/2026. Các báo "
                         "cáo đã gửi vẫn xem được bằng /trangthai.")
    # its history stays readable: quarter 1 is in its status
    await chat.cmd("trangthai")
    assert "Quý I/2026" in chat.text and "Quý II/2026" not in chat.text


async def test_a_merged_units_officer_is_told_where_it_went(app: App, clock: Clock) -> None:
    chat = await join(app, "1", "LC-BX-01")
    await retire(app, ["LC-BX-01"], date(2026, 3, 31), into="LC-BX-02")
    clock.now = datetime(2026, 4, 20, 3, 0, tzinfo=UTC)
    await chat.cmd("baocao")
    assert chat.text == (
        "Đoàn xã Bản Vược đã thôi báo cáo từ sau ngày 31/03/2026 do đã sáp nhập vào Đoàn xã "
        "Mường Hum; các kỳ báo cáo tiếp theo do Đoàn xã Mường Hum thực hiện. Các báo cáo đã "
        "gửi vẫn xem được bằng /trangthai.")


async def test_a_unit_no_template_applies_to_is_told_so(app: App) -> None:
    chat = await join(app, "1", "LC-BX")  # a district: the test template is for communes
    await chat.cmd("danhsach")
    assert chat.text == M.NO_TEMPLATE
    assert "Chưa có mẫu báo cáo nào áp dụng cho đơn vị của bạn" in chat.text
    assert M.NO_TEMPLATE != M.NO_REPORTS


async def test_supervisors_and_reminders_leave_retired_units_out_from_the_next_period(
        app: App, clock: Clock) -> None:
    await join(app, "1", "LC-BX-03")
    supervisor = await join(app, "9", "LC-BX", Role.SUPERVISOR)
    await retire(app, ["LC-BX-03"], date(2026, 3, 31), into="LC-BX-01")
    app.reminders.units.forget()
    await supervisor.cmd("trangthai")
    assert "đã gửi 0/3" in supervisor.text  # quarter 1: still owed
    planned = await app.reminders.preview(date(2026, 2, 20), date(2026, 3, 20))
    assert "LC-BX-03" in {p.unit.code for p in planned}
    clock.now = datetime(2026, 5, 20, 3, 0, tzinfo=UTC)
    await supervisor.cmd("trangthai")
    assert "Quý II/2026" in supervisor.text and "đã gửi 0/2" in supervisor.text
    assert "Đoàn thị trấn Bát Xát" not in supervisor.text
    planned = await app.reminders.preview(date(2026, 5, 20), date(2026, 6, 20))
    assert planned and "LC-BX-03" not in {p.unit.code for p in planned}
