"""The digest engine against hand-computed cases (bot/domain/digest.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from fractions import Fraction as F
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.domain.digest import (
    DigestError,
    DigestInput,
    InProgress,
    Officer,
    Sent,
    build,
    fetch_span,
    is_on_time,
    previous_period,
    report_periods,
)
from bot.domain.periods import Period
from bot.domain.reports import window
from bot.domain.templates import Level, Template
from bot.domain.units import Unit

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def template(period: str = "month", targets: list[dict[str, Any]] | None = None,
             **extra: Any) -> Template:
    t = Template.model_validate({
        "id": "t", "title": "Báo cáo", "period": period, "deadline": "trước ngày 05 tháng sau"
        if period == "month" else "trước ngày 10 tháng cuối quý",
        "applies_to": {"levels": ["xa"]},
        "questions": [
            {"id": "to_kha", "text": "Tổ khá", "type": "integer", "aggregate": "ratio",
             "denominator": "so_to"},
            {"id": "so_to", "text": "Số tổ", "type": "integer"},
            {"id": "htx_moi", "text": "HTX mới", "type": "integer", "over_time": "sum"},
            {"id": "htx_tong", "text": "HTX", "type": "integer", "over_time": "last"},
            {"id": "ty_le", "text": "Tỷ lệ", "type": "percent"},
            {"id": "co", "text": "Có?", "type": "yes_no"},
            {"id": "ghi_chu", "text": "Ghi chú", "type": "text", "required": False},
        ],
        "targets": targets or [],
        **extra,
    })
    return t


# P ─ D1 ─ A, B, M (merged into A on 31/5)
#   └ D2 ─ C, E, R (retired on 31/1)
UNITS = {u.code: u for u in [
    Unit("P", "Tỉnh", None, Level.TINH),
    Unit("D1", "Huyện 1", "P", Level.HUYEN),
    Unit("D2", "Huyện 2", "P", Level.HUYEN),
    Unit("A", "Xã A", "D1", Level.XA),
    Unit("B", "Xã B", "D1", Level.XA),
    Unit("M", "Xã M", "D1", Level.XA, retired_on=date(2026, 5, 31), merged_into="A"),
    Unit("C", "Xã C", "D2", Level.XA),
    Unit("E", "Xã E", "D2", Level.XA),
    Unit("R", "Xã R", "D2", Level.XA, retired_on=date(2026, 1, 31)),
]}
MARCH = Period.parse("2026-03")


def due(t: Template, period: Period) -> datetime:
    return window(t, period, VN, 10).due


def sent(t: Template, unit: str, period: str, at: datetime | None = None,
         counted: bool = True, **answers: Any) -> Sent:
    p = Period.parse(period)
    when = at or due(t, p) - timedelta(days=2)
    return Sent(unit, period, answers, when, due(t, p), counted=counted)


def march_input(t: Template, **extra: Any) -> DigestInput:
    d = due(t, MARCH)
    subs = [
        sent(t, "A", "2026-03", d - timedelta(seconds=1), to_kha=9, so_to=10, htx_moi=1,
             htx_tong=5, ty_le=90, co=True),
        sent(t, "B", "2026-03", d, to_kha=1, so_to=90, htx_moi=2, htx_tong=7, ty_le=10,
             co=False),
        sent(t, "M", "2026-03", htx_moi=4, htx_tong=3),
        sent(t, "C", "2026-03", counted=False, htx_moi=100, htx_tong=100),  # returned
        sent(t, "A", "2026-02", htx_moi=3, htx_tong=4, to_kha=1, so_to=4),
        sent(t, "B", "2026-02", htx_moi=1, htx_tong=6, to_kha=1, so_to=6),
    ]
    officers = {"A": [Officer(1, "An")], "B": [Officer(2, "Bình", reachable=False)],
                "C": [Officer(3, "Chi"), Officer(4, "Cúc", reachable=False)],
                "M": [Officer(5, "Mai")]}
    now = d + timedelta(days=2, hours=1)  # the third day after the due instant
    return DigestInput(t, MARCH, "P", UNITS, now, subs, {"2026-03": d},
                       [InProgress("C", "2026-03", 2, 6), InProgress("A", "2026-03", 6, 6)],
                       officers, **extra)


def test_completeness_timeliness_and_the_lists() -> None:
    t = template()
    d = build(march_input(t))
    c = d.completeness
    # expected: A, B, M, C, E (R retired in January); C was returned: not counted
    assert (c.expected, c.actual, c.on_time) == (5, 3, 2)
    assert (c.completeness, c.timeliness) == (F(3, 5), F(2, 5))
    assert c.missing_units == ("C", "E")
    assert [(m.unit, m.overdue_days, m.returned) for m in c.missing] == [("C", 3, True),
                                                                        ("E", 3, False)]
    assert c.late_units == ("B",) and c.late[0].days_late == 1  # sent at the due instant
    assert [(p.unit, p.answered, p.total) for p in c.in_progress] == [("C", 2, 6)]
    assert c.no_officer == ("E",)
    assert c.unreachable == ("B",)  # C still has a reachable officer
    assert [(k.unit, k.completeness.expected, k.completeness.actual) for k in d.children] == [
        ("D1", 3, 3), ("D2", 2, 0)]


def test_the_exact_due_instant_is_late_as_stored() -> None:
    due_at = datetime(2026, 4, 5, 0, 0, tzinfo=VN)
    assert is_on_time(due_at - timedelta(microseconds=1), due_at)
    assert not is_on_time(due_at, due_at)
    # the stored flag of the first version wins over the latest version's time
    s = Sent("A", "2026-03", {}, due_at + timedelta(days=3), due_at,
             first_submitted_at=due_at - timedelta(days=1), on_time=True, version=2)
    assert s.was_on_time and s.first_at < due_at


def test_figures_ratio_of_sums_merged_unit_returned_report_and_previous() -> None:
    d = build(march_input(template()))
    fig = {f.question: f for f in d.figures}
    assert fig["to_kha"].value == 10  # (9 + 1) / (10 + 90), not the average of 90% and 1.1%
    assert fig["ty_le"].value == 50  # a percentage asked as such: averaged
    # flows: A 1 + M 4 (merged into A, carried) + B 2; C's 100 was returned: not counted
    assert fig["htx_moi"].value == 7 and fig["htx_moi"].previous == 4
    # stocks: A 5 + M 3 (still separate in March) + B 7
    assert fig["htx_tong"].value == 15 and fig["htx_tong"].previous == 10
    assert fig["co"].value == 1 and fig["to_kha"].previous == F(2, 10) * 100
    assert "ghi_chu" not in fig  # listed, never totalled
    d2 = next(k for k in d.children if k.unit == "D2")
    assert all(f.value is None and f.units == 0 for f in d2.figures
               if f.question != "co")  # nobody counted: never zero
    assert d.previous == Period.parse("2026-02")


def test_stock_and_flow_over_the_months_of_a_quarter() -> None:
    t = template()
    subs = [sent(t, "A", f"2026-0{m}", htx_moi=m, htx_tong=t_) for m, t_ in
            ((1, 5), (2, 6), (3, 4))]
    subs.append(sent(t, "B", "2026-02", htx_moi=10, htx_tong=2))
    q1 = Period.parse("2026-Q1")
    now = datetime(2026, 4, 20, tzinfo=VN)
    dues = {p.id: due(t, p) for p in report_periods(t, q1)}
    d = build(DigestInput(t, q1, "D1", UNITS, now, subs, dues))
    fig = {f.question: f for f in d.figures}
    assert fig["htx_moi"].value == 1 + 2 + 3 + 10  # flows add up over the months
    assert fig["htx_tong"].value == 4 + 2  # stocks: each unit's last month
    # A, B and M owe three months each; A sent 3, B 1
    c = d.completeness
    assert (c.expected, c.actual) == (9, 4)
    assert c.missing_units == ("B", "M")
    assert d.previous == Period.parse("2025-Q4")


def test_targets_allocated_each_unit_and_total_only_at_the_top() -> None:
    t = template(targets=[
        {"question": "htx_moi", "scope": "allocated"},
        {"question": "htx_tong", "scope": "each_unit", "value": 7.5},
        {"question": "to_kha", "value": 20, "label": "Tổ khá ≥ 20%"},
    ])
    t.set_allocations({"A": 5, "B": 1, "C": 2})
    d = build(march_input(t))
    lines = {tl.scope: tl for tl in d.targets}
    alloc = lines["allocated"]
    # A 1 + 4 (from M) = 5 ≥ 5, B 2 ≥ 1, C not counted; whole: 7 against 5 + 1 + 2
    assert (alloc.value, alloc.goal, alloc.met) == (F(7), F(8), False)
    assert alloc.failing == () and alloc.not_reported == ("C",)
    each = lines["each_unit"]
    # A 8 meets 7.5, B 7 does not, C and E have not reported (never counted as 0)
    assert (each.value, each.goal, each.meeting, each.failing) == (F(1), F(4), 1, ("B",))
    assert each.met is False and each.not_reported == ("C", "E")
    total = lines["total"]
    assert (total.value, total.goal, total.met, total.label) == (F(10), F(20), False,
                                                                 "Tổ khá ≥ 20%")
    assert total.progress == 50
    d1 = next(k for k in d.children if k.unit == "D1")
    assert {tl.scope for tl in d1.targets} == {"allocated", "each_unit"}  # no plan total


def test_cumulative_target_reads_from_the_baseline() -> None:
    t = template(targets=[{"question": "htx_moi", "value": 10, "baseline_year": 2025}])
    assert fetch_span(t, MARCH).start == date(2025, 1, 1)
    subs = [sent(t, "A", "2025-06", htx_moi=4), sent(t, "A", "2026-03", htx_moi=1),
            sent(t, "B", "2026-03", htx_moi=2)]
    d = build(DigestInput(t, MARCH, "P", UNITS, datetime(2026, 4, 6, tzinfo=VN), subs))
    assert [(tl.value, tl.met) for tl in d.targets] == [(F(7), False)]
    assert {f.question: f.value for f in d.figures}["htx_moi"] == 3


def test_nothing_expected_is_none_not_a_division_error() -> None:
    t = template()
    units = {"D": Unit("D", "Huyện", None, Level.HUYEN),
             "R": Unit("R", "Xã R", "D", Level.XA, retired_on=date(2026, 1, 31))}
    d = build(DigestInput(t, MARCH, "D", units, datetime(2026, 4, 6, tzinfo=VN)))
    c = d.completeness
    assert (c.expected, c.completeness, c.timeliness, c.missing) == (0, None, None, ())
    j = d.to_json()
    assert j["completeness"] is None and j["children"] == []


def test_json_has_exactly_the_issue_keys() -> None:
    t = template(targets=[{"question": "to_kha", "value": 20}])
    j = build(march_input(t)).to_json()
    keys = {"template", "period", "unit", "expected", "actual", "on_time", "completeness",
            "timeliness", "missing", "late", "figures", "targets", "children"}
    assert set(j) == keys
    assert (j["template"], j["period"], j["unit"]) == ("t", "2026-03", "P")
    assert j["completeness"] == 0.6 and j["timeliness"] == 0.4
    assert j["missing"] == ["C", "E"] and j["late"] == ["B"]
    assert j["figures"]["to_kha"] == {"value": 10, "aggregation": "ratio", "previous": 20}
    assert j["figures"]["htx_moi"] == {"value": 7, "aggregation": "sum", "previous": 4}
    assert j["targets"] == [{"question": "to_kha", "target": 20, "value": 10, "met": False,
                             "label": "Tổ khá ≥ 20"}]
    for child in j["children"]:
        assert set(child) == keys - {"template", "period", "children"}


def test_a_distribution_is_an_object_of_counts() -> None:
    t = Template.model_validate({
        "id": "t", "title": "x", "period": "month", "deadline": "trước ngày 05 tháng sau",
        "questions": [{"id": "loai", "text": "Loại", "type": "choice",
                       "options": [{"id": "a", "label": "A"}, {"id": "b", "label": "B"}]}]})
    subs = [sent(t, "A", "2026-03", loai="a"), sent(t, "B", "2026-03", loai="a"),
            sent(t, "C", "2026-03", loai="b")]
    j = build(DigestInput(t, MARCH, "P", UNITS, datetime(2026, 4, 6, tzinfo=VN),
                          subs)).to_json()
    assert j["figures"]["loai"]["value"] == {"a": 2, "b": 1}


def test_periods_the_template_does_not_ask_for() -> None:
    quarterly = template("quarter")
    with pytest.raises(DigestError, match="asks for no report on 2026-03"):
        report_periods(quarterly, MARCH)
    assert [p.id for p in report_periods(quarterly, Period.parse("2026"))] == [
        "2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]
    assert previous_period(quarterly, Period.parse("2026")) == Period.parse("2025")
    yearly = template("year", deadline="trước ngày 25 tháng 11")
    assert previous_period(yearly, Period.parse("2026")) == Period.parse("2025")
    with pytest.raises(DigestError):
        build(DigestInput(quarterly, MARCH, "P", UNITS, datetime(2026, 4, 6, tzinfo=VN)))


def test_combining_the_childrens_roll_ups_equals_rolling_up_every_unit() -> None:
    from bot.domain.digest import _combine
    from bot.domain.rollup import roll_up

    t = Template.model_validate({
        "id": "t", "title": "x", "period": "month", "deadline": "trước ngày 05 tháng sau",
        "questions": [
            {"id": "n", "text": "n", "type": "integer"},
            {"id": "d", "text": "d", "type": "decimal", "aggregate": "average"},
            {"id": "w", "text": "w", "type": "percent", "weight": "n"},
            {"id": "r", "text": "r", "type": "integer", "aggregate": "ratio",
             "denominator": "n"},
            {"id": "lo", "text": "lo", "type": "decimal", "aggregate": "min"},
            {"id": "hi", "text": "hi", "type": "integer", "aggregate": "max"},
            {"id": "y", "text": "y", "type": "yes_no"},
            {"id": "c", "text": "c", "type": "photo"},
            {"id": "k", "text": "k", "type": "multi_choice",
             "options": [{"id": "a", "label": "A"}, {"id": "b", "label": "B"}]}]})
    answers = {f"u{i}": {"n": i, "d": i / 10, "w": 12.5 * (i % 4), "r": i // 2, "lo": 1.1 * i,
                         "hi": 7 - i, "y": i % 2 == 0, "c": "x" if i % 3 else None,
                         "k": ["a", "b"][: i % 3]} for i in range(9)}
    answers["u3"] = {"d": 0.3}  # a unit that answered one question only
    groups = [["u0", "u1", "u2"], ["u3"], ["u4", "u5", "u6", "u7", "u8"], []]
    for q in t.questions:
        whole = roll_up(q, answers)
        joined = _combine([roll_up(q, {u: answers[u] for u in g}) for g in groups])
        assert (joined.value, sorted(joined.units), joined.distribution) == (
            whole.value, list(whole.units), whole.distribution), q.id
        assert (joined.numerator, joined.denominator) == (whole.numerator, whole.denominator)


def test_a_unit_merged_in_from_another_district_carries_its_flows() -> None:
    """Y of district 2 merged into A of district 1 on 31/5: district 1's digest of March
    carries Y's flows into A (they are A's now), though Y sits under another district; Y is
    still district 2's in its own completeness."""
    t = template()
    units = {**UNITS, "Y": Unit("Y", "Xã Y", "D2", Level.XA, retired_on=date(2026, 5, 31),
                                merged_into="A")}
    base = march_input(t)
    subs = [*base.submissions, sent(t, "Y", "2026-03", htx_moi=20, htx_tong=2)]
    one = build(replace(base, root="D1", units=units, submissions=subs))
    fig = {f.question: f for f in one.figures}
    assert fig["htx_moi"].value == 1 + 4 + 2 + 20  # A + M (merged) + B + Y (merged in)
    assert one.completeness.expected == 3  # A, B, M: Y owes its report to district 2
    two = build(replace(base, root="D2", units=units, submissions=subs))
    assert two.completeness.expected == 3 and two.completeness.actual == 1  # C, E, Y: Y sent
    assert all(f.value is None for f in two.figures if f.question == "htx_moi")  # Y's → A


def test_the_service_reads_the_reports_of_a_unit_merged_in_from_elsewhere() -> None:
    from bot.services.digests import carried_in

    units = {**UNITS, "Y": Unit("Y", "Xã Y", "D2", Level.XA, merged_into="M")}
    assert carried_in("D1", units) == ("Y",)  # through M, merged into A
    assert carried_in("P", units) == ()  # inside already
    assert carried_in("D2", units) == ()
