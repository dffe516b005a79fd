"""Guards found by mutating the issue 12 code (units with orgs, retire/merge, migration 0009,
roll-ups and targets): each test here fails on a small change that the other tests let
through."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from bot.domain.periods import Period
from bot.domain.rollup import Series, Span, over_time, unit_value
from bot.domain.targets import evaluate, progress
from bot.domain.templates import AppliesTo, Level, Question, Template
from bot.domain.units import Unit, applies_in, not_in_file, parse_org
from bot.services.units import UnitDirectory
from storage.database import Database, Migration, StorageError
from storage.sqlite import SqliteStorage
from tests.harness import Clock, join, make_app

# --- organisations and the unit tree ------------------------------------------------------------


@pytest.mark.parametrize("cell", ["cong_doan", "hoi_sinh_vien", "doan_khoi_cq"])
def test_any_org_id_is_accepted_not_only_the_known_words(cell: str) -> None:
    assert parse_org(cell) == cell


def test_units_no_longer_in_a_file_leave_out_those_already_retired() -> None:
    existing = {
        "A": Unit("A", "Đoàn xã A", None, Level.XA),
        "B": Unit("B", "Đoàn xã B", None, Level.XA, retired_on=date(2026, 6, 30)),
        "C": Unit("C", "Đoàn xã C", None, Level.XA),
    }
    # B is not "still expected to report": it was retired on purpose
    assert [u.code for u in not_in_file(["A"], existing)] == ["C"]


def test_a_subtree_may_name_the_unit_itself() -> None:
    """Plan 002's template lists the wards themselves (subtrees = ["LD-BL1", …])."""
    tree = {"LD": Unit("LD", "Đảng bộ tỉnh Lâm Đồng", None, Level.TINH, "dang"),
            "LD-BL1": Unit("LD-BL1", "Đảng ủy phường 1 Bảo Lộc", "LD", Level.XA),
            "LD-BL2": Unit("LD-BL2", "Đảng ủy phường 2 Bảo Lộc", "LD", Level.XA)}
    scope = AppliesTo(orgs=["dang"], subtrees=["LD-BL1"])
    assert applies_in(scope, "LD-BL1", tree) and not applies_in(scope, "LD-BL2", tree)
    assert not applies_in(scope, "LD", tree)


def template(**applies_to: list[str]) -> Template:
    return Template.model_validate({
        "id": "mau", "title": "Mẫu", "period": "month", "deadline": "trước ngày 05 tháng sau",
        "applies_to": applies_to,
        "questions": [{"id": "so", "text": "Số", "type": "integer"}]})


async def test_the_services_tree_applies_a_template_through_the_inherited_org(
        tmp_path: Path) -> None:
    """The sample tree names the org on the province only: its communes get the province's
    templates (an org read from the unit alone would give them none)."""
    storage = await SqliteStorage.open(tmp_path / "db.sqlite")
    try:
        await storage.upsert_units([
            Unit("LC", "Tỉnh đoàn Lào Cai", None, Level.TINH, "doan"),
            Unit("LC-A", "Đoàn xã A", "LC", Level.XA),
            Unit("LCH", "Hội Nông dân tỉnh Lai Châu", None, Level.TINH, "hoi_nong_dan"),
            Unit("LCH-A", "Hội Nông dân xã A", "LCH", Level.XA),
        ])
        tree = await UnitDirectory(storage, {"mau": template(orgs=["doan"], levels=["xa"])}).tree()
        assert [u.code for u in tree.units_for("mau")] == ["LC-A"]
        assert tree.applicable["mau"] == frozenset({"LC-A"})
        q1 = Period.parse("2026-Q1")
        assert tree.owes("LC-A", "mau", q1) and not tree.owes("LCH-A", "mau", q1)
        assert not tree.owes("NOPE", "mau", q1)
    finally:
        await storage.close()


# --- storage: retire, unretire, import ----------------------------------------------------------


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[SqliteStorage]:
    s = await SqliteStorage.open(tmp_path / "db.sqlite")
    await s.upsert_units([Unit("LC", "Tỉnh đoàn Lào Cai", None, Level.TINH, "doan"),
                          Unit("LC-A", "Đoàn xã A", "LC", Level.XA),
                          Unit("LC-B", "Đoàn xã B", "LC", Level.XA)])
    yield s
    await s.close()


async def units(storage: SqliteStorage) -> dict[str, Unit]:
    return {u.code: u for u in await storage.list_units()}


async def test_retiring_a_retired_unit_again_keeps_its_first_day_and_merge(
        storage: SqliteStorage) -> None:
    assert await storage.retire_units(["LC-A"], date(2026, 6, 30), merged_into="LC-B") == 1
    assert await storage.retire_units(["LC-A", "LC-B"], date(2026, 9, 30)) == 1
    stored = await units(storage)
    assert (stored["LC-A"].retired_on, stored["LC-A"].merged_into) == (date(2026, 6, 30), "LC-B")
    assert stored["LC-B"].retired_on == date(2026, 9, 30)


async def test_undoing_a_merge_forgets_where_the_unit_went(storage: SqliteStorage) -> None:
    """Else its figures would still carry to the other unit while it reports itself."""
    await storage.retire_units(["LC-A"], date(2026, 6, 30), merged_into="LC-B")
    assert await storage.unretire_units(["LC-A"]) == 1
    stored = (await units(storage))["LC-A"]
    assert (stored.retired_on, stored.merged_into) == (None, None)


async def test_an_import_that_changes_only_the_org_updates_it(storage: SqliteStorage) -> None:
    added, updated = await storage.upsert_units([Unit("LC-A", "Đoàn xã A", "LC", Level.XA,
                                                      "hoi_nong_dan")])
    assert (added, updated) == (0, 1)
    assert (await units(storage))["LC-A"].org == "hoi_nong_dan"
    # and back to inheriting
    assert await storage.upsert_units([Unit("LC-A", "Đoàn xã A", "LC", Level.XA)]) == (0, 1)
    assert (await units(storage))["LC-A"].org is None


# --- the migration runner -----------------------------------------------------------------------

PARENTS = Migration(1, "parents", "CREATE TABLE p (id TEXT PRIMARY KEY);\n"
                    "CREATE TABLE c (id TEXT PRIMARY KEY, p TEXT REFERENCES p(id));\n"
                    "INSERT INTO p VALUES ('x'), ('y');\n"
                    "INSERT INTO c VALUES ('1', 'x');")


def rebuild(keep: str) -> Migration:
    """Rebuild table p keeping only the rows `keep` selects."""
    return Migration(2, "rebuild", "-- rebuild: foreign keys off\n"
                     "CREATE TABLE p_new (id TEXT PRIMARY KEY, extra TEXT);\n"
                     f"INSERT INTO p_new (id) SELECT id FROM p WHERE {keep};\n"
                     "DROP TABLE p;\n"
                     "ALTER TABLE p_new RENAME TO p;")


async def test_a_rebuild_that_keeps_every_reference_is_applied(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite", migrate=False)
    try:
        await db.migrate([PARENTS, rebuild("1")])
        assert [r["id"] for r in await db.fetchall("SELECT id FROM p ORDER BY id")] == ["x", "y"]
        # foreign keys are on again afterwards
        with pytest.raises(sqlite3.IntegrityError):
            await db.write(lambda conn: conn.execute("INSERT INTO c VALUES ('2', 'nope')"))
    finally:
        await db.close()


async def test_a_rebuild_that_breaks_a_reference_is_refused_and_rolled_back(
        tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite", migrate=False)
    try:
        await db.migrate([PARENTS])
        with pytest.raises(StorageError, match=r"0002_rebuild failed: 1 reference\(s\) broken, "
                                               "first in c"):
            await db.migrate([PARENTS, rebuild("id = 'y'")])
        assert [r["id"] for r in await db.fetchall("SELECT id FROM p ORDER BY id")] == ["x", "y"]
        assert await db.applied_migrations() == [(1, "parents")]
    finally:
        await db.close()


async def test_a_database_whose_migration_fails_is_closed_not_left_open(tmp_path: Path) -> None:
    """Database.open raising must not leave its connection threads behind: they are not
    daemons, so a `baocao` command that printed "migration … failed" would never exit."""
    path = tmp_path / "db.sqlite"
    await (await Database.open(path)).close()
    with sqlite3.connect(path) as conn:  # a hand edit with foreign keys off: a lost parent
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("INSERT INTO units (code, name, parent_code, level, created_at, updated_at)"
                     " VALUES ('X', 'x', 'NOPE', 'xa', 't', 't')")
        conn.execute("DELETE FROM schema_migrations WHERE number = 9")  # 0009 runs again
    conn.close()
    before = set(threading.enumerate())
    with pytest.raises(StorageError, match="0009_unit_orgs_and_retirement failed: 1 "
                                           r"reference\(s\) broken"):
        await Database.open(path)
    for thread in set(threading.enumerate()) - before:
        thread.join(timeout=10)  # a closed connection's thread ends on its own, soon
        assert not thread.is_alive(), thread.name


# --- roll-ups over time ---------------------------------------------------------------------------

FLOW = Question.model_validate({"id": "moi", "text": "Mới", "type": "integer", "over_time": "sum"})
STOCK = Question.model_validate({"id": "tong", "text": "Tổng", "type": "integer",
                                 "over_time": "last"})


def test_a_span_holds_only_the_periods_wholly_inside_it() -> None:
    q1 = Span.of(Period.parse("2026-Q1"))
    assert q1.holds(Period.parse("2026-03")) and q1.holds(Period.parse("2026-Q1"))
    for straddling in ("2026-H1", "2026", "2026-9M", "2026-W14"):  # W14: 30 March – 5 April
        assert not q1.holds(Period.parse(straddling)), straddling
    # a yearly report does not count toward the first quarter
    series: Series = [(Period.parse("2026"), {"moi": 40}), (Period.parse("2026-02"), {"moi": 3})]
    assert over_time(FLOW, series, q1) == 3


def test_periods_sharing_one_day_overlap() -> None:
    """August and the week starting on 31 August share a day: adding both would count it
    twice."""
    series: Series = [(Period.parse("2026-08"), {"moi": 1}), (Period.parse("2026-W36"), {"moi": 1})]
    with pytest.raises(ValueError, match="reports of 2026-08 and 2026-W36 overlap"):
        over_time(FLOW, series, Span.of(Period.parse("2026-Q3")))


def test_a_new_unit_that_reported_its_stock_before_gets_no_stock_from_merged_units() -> None:
    """Once NEW has reported its own stock, a span where it is silent shows nothing: not the
    stock of a unit merged into it (that would be a part passed off as the whole)."""
    reports: dict[str, Series] = {
        "NEW": [(Period.parse("2026-01"), {"tong": 50})],
        "OLD": [(Period.parse(f"2026-0{m}"), {"tong": 10}) for m in (1, 2, 3)],
    }
    merged = {"OLD": "NEW"}
    assert unit_value(STOCK, "NEW", reports, Span.of(Period.parse("2026-02")), merged) is None
    # in January OLD still reported on its own (it was separate then): its stock adds
    assert unit_value(STOCK, "NEW", reports, Span.of(Period.parse("2026-01")), merged) == 60
    # a unit that has never reported its own stock takes its merged units'
    assert unit_value(STOCK, "NEW", {"OLD": reports["OLD"]}, Span.of(Period.parse("2026-02")),
                      merged) == 10


# --- targets ----------------------------------------------------------------------------------


def target_template(**target: Any) -> Template:
    return Template.model_validate({
        "id": "mau", "title": "Mẫu", "period": "quarter",
        "deadline": "trước ngày 05 tháng cuối quý",
        "questions": [{"id": "moi", "text": "Mới", "type": "integer", "over_time": "sum"}],
        "targets": [{"question": "moi", **target}]})


@pytest.mark.parametrize("direction", ["at_most", "less_than"])
def test_a_ceiling_has_no_progress(direction: str) -> None:
    assert progress(direction, Fraction(5), Fraction(10)) is None
    t = target_template(value=10, direction=direction)
    r = evaluate(t, 0, Period.parse("2026-Q1"), {"A": "xa"},
                 {"A": [(Period.parse("2026-Q1"), {"moi": 5})]})
    assert r is not None and (r.met, r.progress) == (True, None)


def test_a_cumulative_target_is_shown_from_its_baseline_year_on() -> None:
    t = target_template(value=10, baseline_year=2026, year=2030)
    reports: dict[str, Series] = {"A": [(Period.parse("2026-Q1"), {"moi": 4})]}
    first = evaluate(t, 0, Period.parse("2026-Q1"), {"A": "xa"}, reports)
    assert first is not None and first.figure == 4
    assert evaluate(t, 0, Period.parse("2025-Q4"), {"A": "xa"}, reports) is None


@pytest.mark.parametrize("direction", ["at_least", "at_most", "less_than"])
def test_a_total_nobody_reported_is_unknown_not_zero(direction: str) -> None:
    t = target_template(value=10, direction=direction)
    r = evaluate(t, 0, Period.parse("2026-Q1"), {"A": "xa", "B": "xa"}, {})
    assert r is not None and (r.figure, r.met, r.progress) == (None, None, None)


@pytest.mark.parametrize("scope", [{"scope": "each_unit"}, {"scope": "level", "level": "xa"}])
def test_a_per_unit_target_with_no_unit_in_view_is_unknown(scope: dict[str, str]) -> None:
    t = target_template(value=1, **scope)
    r = evaluate(t, 0, Period.parse("2026-Q1"), {"P": "tinh"} if "level" in scope else {}, {})
    assert r is not None and r.units == () and (r.met, r.progress) == (None, None)


def test_an_allocated_ceiling_is_met_by_the_sum_under_it() -> None:
    t = target_template(scope="allocated", direction="at_most")
    reports: dict[str, Series] = {"A": [(Period.parse("2026-Q1"), {"moi": 2})],
                                  "B": [(Period.parse("2026-Q1"), {"moi": 3})]}
    r = evaluate(t, 0, Period.parse("2026-Q1"), {"A": "xa", "B": "xa"}, reports,
                 allocations={"A": 4, "B": 4})
    assert r is not None and (r.figure, r.goal, r.met) == (Fraction(5), Fraction(8), True)
    assert [(u.code, u.met) for u in r.units] == [("A", True), ("B", True)]


# --- reminders --------------------------------------------------------------------------------


async def test_a_sweep_reminds_no_officer_of_a_unit_retired_before_the_period(
        tmp_path: Path) -> None:
    from tests.test_reminders import FakeSender, local, reminders_of

    clock = Clock(now=local(2026, 1, 1).astimezone(UTC))
    app = await make_app(tmp_path, clock)
    try:
        for code in ("LC-BX-01", "LC-BX-02"):
            await join(app, f"u-{code}", unit=code)
        await app.storage.retire_units(["LC-BX-01"], date(2026, 3, 31))
        clock.now = local(2026, 5, 29, 9).astimezone(UTC)  # quarter 2: a week before it is due
        sender = FakeSender(clock)
        await reminders_of(app, clock).sweep(sender.channels)
        assert [who for _, who, _, _ in sender.sent] == ["u-LC-BX-02"]
        assert all("Quý II/2026" in text for _, _, text, _ in sender.sent)
    finally:
        await app.close()


async def test_a_supervisor_whose_units_are_all_retired_is_told_nothing_is_open(
        tmp_path: Path) -> None:
    from bot.domain.roles import Role

    clock = Clock()  # 20/02/2026: quarter 1 is open
    app = await make_app(tmp_path, clock)
    try:
        supervisor = await join(app, "9", "LC-BX", Role.SUPERVISOR)
        await app.storage.retire_units(["LC-BX-01", "LC-BX-02", "LC-BX-03"], date(2026, 3, 31))
        app.reporting.deps.units.forget()
        await supervisor.cmd("trangthai")
        assert "Quý I/2026" in supervisor.text and "đã gửi 0/3" in supervisor.text
        clock.now = datetime(2026, 5, 20, 3, 0, tzinfo=UTC)
        await supervisor.cmd("trangthai")
        assert "Quý II/2026" not in supervisor.text and "0/0" not in supervisor.text
        assert supervisor.text.splitlines() == [
            "Tình hình báo cáo — Huyện đoàn Bát Xát:",
            "Hiện không có kỳ báo cáo nào đang mở mà các đơn vị bạn theo dõi phải gửi."]
    finally:
        await app.close()


async def test_an_old_button_opens_no_period_after_the_units_last_day(tmp_path: Path) -> None:
    from bot.domain import messages_vi as M
    from bot.domain.buttons import OpenReport

    clock = Clock()
    app = await make_app(tmp_path, clock)
    try:
        chat = await join(app, "1", "LC-BX-01")
        await app.storage.retire_units(["LC-BX-01"], date(2026, 3, 31))
        app.reporting.deps.units.forget()
        clock.now = datetime(2026, 5, 20, 3, 0, tzinfo=UTC)
        await chat.press(OpenReport(0, "thu_nghiem", "2026-Q2").pack())
        assert chat.text == M.STALE
    finally:
        await app.close()


def test_a_cumulative_target_may_start_in_its_milestone_year() -> None:
    from bot.domain.templates import check_template

    same = target_template(value=10, baseline_year=2026, year=2026)
    assert check_template(same, "reports/mau.toml") == []
    after = target_template(value=10, baseline_year=2027, year=2026)
    assert [p.path for p in check_template(after, "reports/mau.toml")] == [
        "targets[0].baseline_year"]
