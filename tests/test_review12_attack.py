"""Review of issue 12 (units after 2025, targets, roll-up) by attacking it as its users would:
an admin's allocation file, merges in an order or at a time that breaks the chain, stocks of
a unit that absorbed another, and what an officer of a merged unit is told."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from fractions import Fraction
from pathlib import Path

import pytest

from bot.app import App
from bot.cli import main
from bot.domain.periods import Period, PeriodKind
from bot.domain.rollup import Series, Span, answers_by_unit, roll_up, unit_value
from bot.domain.targets import evaluate, parse_allocations
from bot.domain.templates import Level, Question, Template
from bot.domain.units import Unit, check_merge, check_retire
from storage.database import Database, load_migrations
from storage.sqlite import SqliteStorage
from tests.harness import Clock, join, make_app

# --- the allocation file -----------------------------------------------------------------------


def test_a_decimal_comma_in_a_comma_separated_allocation_file_is_an_error_not_a_cut() -> None:
    """`LC-SAPA,1,5` splits into three cells; taking the second alone allocated 1, not 1.5."""
    values, problems = parse_allocations("code,value\nLC-SAPA,1,5\nLC-TAVAN,2\n", "t.csv")
    assert values == {"LC-TAVAN": 2.0}
    assert [(p.path, p.message) for p in problems] == [
        ("line 2", "3 cells but the header names 2 columns (a decimal comma in a "
                   "comma-separated file? write 1.5, quote it as \"1,5\" or separate the "
                   "columns with ;)")]
    # quoted, or with `;` separators, it is what it says
    assert parse_allocations('code,value\nLC-SAPA,"1,5"\n', "t.csv") == ({"LC-SAPA": 1.5}, [])
    assert parse_allocations("code;value\nLC-SAPA;1,5\n", "t.csv") == ({"LC-SAPA": 1.5}, [])
    # a trailing empty cell (what a spreadsheet leaves after a deleted column) is harmless
    assert parse_allocations("code,value\nLC-SAPA,3,\n", "t.csv") == ({"LC-SAPA": 3.0}, [])


# --- merges that break the chain -----------------------------------------------------------------

TREE = {u.code: u for u in [
    Unit("LC", "Tỉnh đoàn", None, Level.TINH, "doan"),
    Unit("A", "Xã A", "LC", Level.XA, retired_on=date(2026, 6, 30), merged_into="B"),
    Unit("B", "Xã B", "LC", Level.XA),
    Unit("C", "Xã C", "LC", Level.XA),
]}


def test_a_unit_cannot_retire_before_the_last_day_of_a_unit_merged_into_it() -> None:
    """A merges into B on 30 June; B merging into C on 31 March would leave A reporting into
    a unit that no longer exists for three months."""
    assert check_merge(["B"], "C", TREE, date(2026, 3, 31)) == [
        "unit B takes over A from 2026-07-01: its last day cannot be before 2026-06-30"]
    assert check_retire(["B"], TREE, date(2026, 3, 31)) == [
        "unit B takes over A from 2026-07-01: its last day cannot be before 2026-06-30"]
    assert check_merge(["B"], "C", TREE, date(2026, 6, 30)) == []
    assert check_retire(["B"], TREE, date(2026, 12, 31)) == []


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[SqliteStorage]:
    s = await SqliteStorage.open(tmp_path / "db.sqlite")
    yield s
    await s.close()


async def test_two_admins_merging_each_into_the_other_cannot_make_a_cycle(
        storage: SqliteStorage) -> None:
    """Both checked the tree before either wrote: the second write must see the first."""
    await storage.upsert_units([Unit("LC", "Tỉnh đoàn", None, Level.TINH, "doan"),
                                Unit("X", "Xã X", "LC", Level.XA),
                                Unit("Y", "Xã Y", "LC", Level.XA)])
    on = date(2026, 6, 30)
    first, second = await asyncio.gather(
        storage.retire_units(["X"], on, merged_into="Y"),
        storage.retire_units(["Y"], on, merged_into="X"), return_exceptions=True)
    assert first == 1
    assert isinstance(second, ValueError) and str(second) == (
        "unit X is retired (since 2026-06-30): merge into a unit that still reports")
    units = {u.code: u for u in await storage.list_units()}
    assert (units["X"].merged_into, units["Y"].retired_on) == ("Y", None)


def test_the_merge_command_says_what_another_admin_did_meanwhile(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "config.toml").write_text(f'[storage]\npath = "{workdir / "db.sqlite"}"\n',
                                         encoding="utf-8")
    (workdir / "u.csv").write_text("code,name,parent_code,level,org\nLC,Tỉnh đoàn,,tinh,doan\n"
                                   "X,Xã X,LC,xã,\nY,Xã Y,LC,xã,\n", encoding="utf-8")
    assert main(["units", "import", "u.csv"]) == 0

    async def other_admin() -> None:
        s = await SqliteStorage.open(workdir / "db.sqlite")
        try:
            await s.retire_units(["Y"], date(2026, 1, 31))
        finally:
            await s.close()

    asyncio.run(other_admin())
    capsys.readouterr()
    assert main(["units", "merge", "X", "--into", "Y", "--on", "2026-06-30"]) == 1
    assert capsys.readouterr().err == ("error: unit Y is retired (since 2026-01-31): merge into "
                                       "a unit that still reports\nnothing merged\n")


# --- stocks of a unit that absorbed another -------------------------------------------------


def q(qid: str, **keys: object) -> Question:
    return Question.model_validate({"id": qid, "text": qid, "type": "integer", **keys})


STOCK = q("htx_tong", over_time="last")
GROUPS = q("so_to", over_time="last")
GOOD = q("to_kha", aggregate="ratio", denominator="so_to", over_time="last")


def quarter(n: int) -> Period:
    return Period(PeriodKind.QUARTER, 2026, n)


# Commune A (10 cooperatives) merges into commune B (20) on 30 June 2026; from Q3 B reports
# the whole: 31.
REPORTS: dict[str, Series] = {
    "A": [(quarter(1), {"htx_tong": 10}), (quarter(2), {"htx_tong": 10})],
    "B": [(quarter(1), {"htx_tong": 20}), (quarter(2), {"htx_tong": 20}),
          (quarter(3), {"htx_tong": 31}), (quarter(4), {"htx_tong": 32})],
}
MERGED = {"A": "B"}


def test_an_absorbing_units_stock_before_the_merge_adds_the_absorbed_units() -> None:
    """Over H1 (before the merge) A and B were two communes: 10 + 20, not B's 20 alone, or
    the province lost A's cooperatives from its half-year figure once A was merged."""
    h1 = Span.of(Period(PeriodKind.HALF, 2026, 1))
    assert unit_value(STOCK, "B", REPORTS, h1, MERGED) == 30
    assert answers_by_unit([STOCK], ["B"], REPORTS, h1, MERGED) == {"B": {"htx_tong": 30}}
    # after the merge B's own figure holds A's: never added twice
    assert unit_value(STOCK, "B", REPORTS, Span.of(quarter(3)), MERGED) == 31
    assert unit_value(STOCK, "B", REPORTS, Span.of(Period(PeriodKind.YEAR, 2026)), MERGED) == 32
    # A reported nothing in Q2 (it missed it): its Q1 stock is older than B's last, not added
    missed = {"A": REPORTS["A"][:1], "B": REPORTS["B"]}
    assert unit_value(STOCK, "B", missed, h1, MERGED) == 20


def test_a_ratio_of_stocks_across_a_merge_keeps_its_parts_together() -> None:
    """Numerator and denominator of B over H1 come from the same units (A and B)."""
    reports: dict[str, Series] = {
        "A": [(quarter(2), {"to_kha": 1, "so_to": 10})],
        "B": [(quarter(2), {"to_kha": 9, "so_to": 10})],
    }
    h1 = Span.of(Period(PeriodKind.HALF, 2026, 1))
    got = answers_by_unit([GOOD, GROUPS], ["B"], reports, h1, MERGED)
    assert got == {"B": {"to_kha": 10, "so_to": 20}}
    assert roll_up(GOOD, got).value == 50


# --- what an officer of a merged unit is told ----------------------------------------------


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def app(tmp_path: Path, clock: Clock) -> AsyncIterator[App]:
    app = await make_app(tmp_path, clock)
    yield app
    await app.close()


async def test_an_officer_of_a_unit_merged_twice_is_sent_to_the_unit_that_reports_now(
        app: App, clock: Clock) -> None:
    chat = await join(app, "1", "LC-BX-01")
    await app.storage.retire_units(["LC-BX-01"], date(2026, 1, 31), merged_into="LC-BX-02")
    await app.storage.retire_units(["LC-BX-02"], date(2026, 1, 31), merged_into="LC-BX-03")
    app.reporting.deps.units.forget()
    clock.now = datetime(2026, 4, 20, 3, 0, tzinfo=UTC)
    await chat.cmd("baocao")
    assert chat.text == (
        "Đoàn xã Bản Vược đã thôi báo cáo từ sau ngày 31/01/2026 do đã sáp nhập vào Đoàn xã "
        "Mường Hum; các kỳ báo cáo tiếp theo do Đoàn thị trấn Bát Xát thực hiện. Các báo cáo "
        "đã gửi vẫn xem được bằng /trangthai.")


# --- two processes upgrading an old database at once -----------------------------------------


async def test_two_processes_migrating_an_old_database_at_once_both_open_it(
        tmp_path: Path) -> None:
    """The bot restarting after an upgrade while an admin runs `baocao units list`: both saw
    0009 pending; the second to write ran it again and failed on its record (the command or
    the bot stopped with "migration 0009 failed")."""
    path = tmp_path / "old.sqlite"
    shutil.copy(Path(__file__).parent / "data" / "db_before_issue12.sqlite", path)
    first = await Database.open(path, migrate=False)
    second = await Database.open(path, migrate=False)
    try:
        done = await asyncio.gather(first.migrate(), second.migrate())
        every = len(load_migrations())  # the fixture has 1..8: each later one runs once
        assert sorted(n.number for applied in done for n in applied) == list(range(9, every + 1))
        assert [n for n, _ in await first.applied_migrations()] == list(range(1, every + 1))
        rows = await first.fetchall("SELECT code FROM units ORDER BY code")
        assert len(rows) > 0
    finally:
        await first.close()
        await second.close()


# --- allocated targets of a rate -----------------------------------------------------------


def test_an_allocated_rate_has_no_summed_goal() -> None:
    """Each commune its own rate (80%, 50%): the province's goal is not 130%. Overall, the
    target is met when every allocated unit meets its own; the figure is the true rate."""
    t = Template.model_validate({
        "id": "mau", "title": "Mẫu", "period": "year", "deadline": "trước ngày 15 tháng 11",
        "questions": [{"id": "to_kha", "text": "Tổ khá", "type": "integer",
                       "aggregate": "ratio", "denominator": "so_to"},
                      {"id": "so_to", "text": "Số tổ", "type": "integer"}],
        "targets": [{"question": "to_kha", "scope": "allocated"}]})
    year = Period(PeriodKind.YEAR, 2026)
    reports: dict[str, Series] = {"A": [(year, {"to_kha": 9, "so_to": 10})],
                                  "B": [(year, {"to_kha": 1, "so_to": 90})]}
    r = evaluate(t, 0, year, {"A": "xa", "B": "xa"}, reports,
                 allocations={"A": 80, "B": 50})
    assert r is not None
    assert [(u.code, u.goal, u.met) for u in r.units] == [("A", Fraction(80), True),
                                                          ("B", Fraction(50), False)]
    assert (r.figure, r.goal, r.met, r.progress) == (Fraction(10), None, False, None)
    both = evaluate(t, 0, year, {"A": "xa", "B": "xa"}, reports, allocations={"A": 80, "B": 1})
    assert both is not None and (both.goal, both.met) == (None, True)


# --- check-config against the tree ---------------------------------------------------------


def test_check_config_warns_of_a_scope_that_reaches_no_unit(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A subtree code with a typo, or units imported before they had an org (an upgraded
    database, while the template names orgs): the template silently applied to nobody."""
    from tests.test_check_config_verbose import setup

    folder = setup(workdir, allocations=None)
    toml = (folder / "mau.toml").read_text(encoding="utf-8")
    toml = toml.replace('subtrees = ["LC"]', 'subtrees = ["LC", "LC-SAPPA"]')
    toml = toml[:toml.index('\n[[targets]]\nquestion = "htx_moi"\nscope = "allocated"')]
    (folder / "mau.toml").write_text(toml + "\n", encoding="utf-8")
    (workdir / "units.csv").write_text("code,name,parent_code,level\nLC,Tỉnh đoàn Lào Cai,,tinh\n"
                                       "LC-SAPA,Đoàn phường Sa Pa,LC,xa\n", encoding="utf-8")
    assert main(["units", "import", "units.csv"]) == 0
    capsys.readouterr()
    assert main(["check-config"]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "warning: template mau: applies_to.subtrees: unit 'LC-SAPPA' is not in the database "
        f"({workdir / 'db.sqlite'})",
        "warning: template mau: applies to no unit of the database (orgs doan; subtrees LC, "
        "LC-SAPPA): no officer will be asked for it (units without an org? add an org column "
        "to the unit file and import it again)"]
    (workdir / "units.csv").write_text("code,name,parent_code,level,org\n"
                                       "LC,Tỉnh đoàn Lào Cai,,tinh,doan\n"
                                       "LC-SAPA,Đoàn phường Sa Pa,LC,xa,\n", encoding="utf-8")
    assert main(["units", "import", "units.csv"]) == 0
    capsys.readouterr()
    assert main(["check-config"]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "warning: template mau: applies_to.subtrees: unit 'LC-SAPPA' is not in the database "
        f"({workdir / 'db.sqlite'})"]
