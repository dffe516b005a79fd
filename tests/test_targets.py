"""Targets: the allocation file, the target checks of `check_template`, and evaluation."""

from __future__ import annotations

from fractions import Fraction
from fractions import Fraction as F
from pathlib import Path
from typing import Any

import pytest

from bot.domain.periods import Period, PeriodKind
from bot.domain.rollup import Series
from bot.domain.targets import basis_of, evaluate, meets, parse_allocations, parse_number
from bot.domain.templates import Template, check_template, errors_only, load_templates

QUESTIONS: list[dict[str, Any]] = [
    {"id": "htx_moi", "text": "HTX mới", "type": "integer", "over_time": "sum"},
    {"id": "htx_tong", "text": "Tổng HTX", "type": "integer", "over_time": "last"},
    {"id": "to_kha", "text": "Tổ khá", "type": "integer", "aggregate": "ratio",
     "denominator": "so_to"},
    {"id": "so_to", "text": "Số tổ", "type": "integer"},
    {"id": "co_mo_hinh", "text": "Có mô hình?", "type": "yes_no"},
    {"id": "ty_le", "text": "Tỷ lệ", "type": "percent"},
]


def template(*targets: dict[str, Any]) -> Template:
    return Template.model_validate({"id": "mau", "title": "Mẫu", "period": "month",
                                    "deadline": "trước ngày 05 tháng sau",
                                    "questions": QUESTIONS, "targets": list(targets)})


def problems(*targets: dict[str, Any]) -> list[str]:
    return [str(p) for p in errors_only(check_template(template(*targets), "reports/mau.toml"))]


# --- checks ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("target", "message"), [
    ({"question": "htx_moi", "value": 5, "scope": "level"},
     'reports/mau.toml: targets[0].level: required with scope = "level" (e.g. level = "xa")'),
    ({"question": "htx_moi", "value": 5, "level": "xa"},
     "reports/mau.toml: targets[0].level: only with scope = \"level\" (this target's scope is "
     "'total')"),
    ({"question": "htx_moi", "value": 5, "scope": "allocated"},
     "reports/mau.toml: targets[0].value: an allocated target takes each unit's value from "
     "targets/<template id>.csv: leave value out"),
    ({"question": "htx_moi", "value": 5, "year": 2025, "baseline_year": 2026},
     "reports/mau.toml: targets[0].baseline_year: 2026 is after the milestone year (2025)"),
    ({"question": "htx_tong", "value": 5, "baseline_year": 2021},
     "reports/mau.toml: targets[0].baseline_year: counts flows from a baseline, but 'htx_tong' "
     'is a stock (over_time = "last"): a cumulative target needs a question with over_time = '
     '"sum"'),
    ({"question": "ty_le", "value": 5, "baseline_year": 2021},
     "reports/mau.toml: targets[0].baseline_year: counts flows from a baseline, but 'ty_le' is "
     'a percent: a cumulative target needs a question with over_time = "sum"'),
    ({"question": "htx_moi", "value": 5, "basis": "plan"},
     'reports/mau.toml: targets[0].quote: required with basis = "plan": the plan\'s own words '
     "for the figure"),
    ({"question": "htx_moi", "value": 5, "basis": "assumed", "quote": "mỗi xã 5 HTX"},
     'reports/mau.toml: targets[0].basis: "assumed" with a quote: a quoted figure is the '
     'plan\'s (write basis = "plan", or leave the quote out)'),
    ({"question": "htx_moi", "value": 5, "quote": "  "},
     "reports/mau.toml: targets[0].quote: empty: the plan's own words, or leave it out"),
    ({"question": "co_mo_hinh", "value": 1, "direction": "more_than"},
     "reports/mau.toml: targets[0].direction: more_than needs a number question, not yes_no"),
])
def test_each_target_key_has_a_pinpointed_error(target: dict[str, Any], message: str) -> None:
    assert problems(target) == [message]


def test_good_targets_pass_and_a_quote_implies_the_plan() -> None:
    good: list[dict[str, Any]] = [
        {"question": "htx_moi", "value": 100, "year": 2025, "baseline_year": 2021,
         "basis": "plan", "quote": "giai đoạn 2021–2025 thành lập mới 100 HTX"},
        {"question": "to_kha", "value": 60, "direction": "more_than", "quote": "trên 60%"},
        {"question": "htx_tong", "value": 2, "scope": "level", "level": "xa"},
        {"question": "htx_moi", "scope": "allocated"},
        {"question": "co_mo_hinh", "value": 1, "scope": "each_unit"},
        {"question": "so_to", "value": 3, "baseline_year": 2024},  # unset over_time: a flow
    ]
    assert problems(*good) == []
    t = template(*good)
    assert [basis_of(tg) for tg in t.targets] == ["plan", "plan", "assumed", "assumed",
                                                   "assumed", "assumed"]


# --- the allocation file --------------------------------------------------------------------


@pytest.mark.parametrize(("text", "values"), [
    ("code,value\nLC-BATXAT,5\nLC-SAPA,2.5\n", {"LC-BATXAT": 5, "LC-SAPA": 2.5}),
    ("\ufeffcode;value;name\nLC-BATXAT;1,5;Bát Xát\n\n", {"LC-BATXAT": 1.5}),
    ("name,code,value\nSa Pa, LC-SAPA ,0.125\n", {"LC-SAPA": 0.125}),
    ("Code,Value\nLC-SAPA,1500\n", {"LC-SAPA": 1500}),
])
def test_allocation_files_are_read(text: str, values: dict[str, float]) -> None:
    assert parse_allocations(text, "reports/targets/mau.csv") == (values, [])


@pytest.mark.parametrize(("text", "message"), [
    ("code,value\nA,1\nB,abc\n", "reports/targets/mau.csv: line 3: value of 'B': 'abc' is not "
     "a number (write e.g. 12, 1.5 or 1,5; no thousands separators)"),
    ("code,value\nA,1\n\nA,2\n", "reports/targets/mau.csv: line 4: code 'A' is listed twice "
     "(first on line 2)"),
    ("code,value\n,1\n", "reports/targets/mau.csv: line 2: empty code"),
    ("code,gia_tri\nA,1\n", "reports/targets/mau.csv: line 1: missing column 'value' (the first "
     "line must name the columns: code,value)"),
    ("code;value\nA;1.500\n", "reports/targets/mau.csv: line 2: value of 'A': '1.500' is "
     "ambiguous (1.500 is 1500 in Vietnamese, 1.5 in English): write it without a thousands "
     "separator, e.g. 1500 or 1.5"),
    ("", "reports/targets/mau.csv: empty: write a header code,value and one line per unit"),
])
def test_allocation_file_errors_name_the_line(text: str, message: str) -> None:
    assert [str(p) for p in parse_allocations(text, "reports/targets/mau.csv")[1]] == [message]


def test_numbers() -> None:
    assert parse_number(" 12 ") == 12 and parse_number("0,75") == 0.75
    assert parse_number("-3") == -3
    for bad in ("1.500.000", "1e3", "", "12,000"):
        with pytest.raises(ValueError):
            parse_number(bad)


ALLOCATED_TOML = """
id = "mau"
title = "Mẫu"
period = "year"
deadline = "trước ngày 15 tháng 12"

[[questions]]
id = "htx_moi"
text = "Số HTX thành lập mới"
type = "integer"

[[targets]]
question = "htx_moi"
value = 10

[[targets]]
question = "htx_moi"
scope = "allocated"
"""


def reports_folder(tmp_path: Path, toml: str = ALLOCATED_TOML,
                   csv: dict[str, bytes] | None = None) -> Path:
    folder = tmp_path / "reports"
    folder.mkdir(parents=True)
    (folder / "mau.toml").write_text(toml, encoding="utf-8")
    if csv is not None:
        (folder / "targets").mkdir()
        for name, body in csv.items():
            (folder / "targets" / name).write_bytes(body)
    return folder


def test_loading_templates_attaches_the_allocations(tmp_path: Path) -> None:
    folder = reports_folder(tmp_path, csv={"mau.csv": "\ufeffcode;value\nA;3\nB;4,5\n".encode()})
    templates, found = load_templates(folder, display_root=tmp_path)
    assert found == []
    assert templates["mau"].allocations == {"A": 3, "B": 4.5}


def test_allocated_target_without_its_file(tmp_path: Path) -> None:
    folder = reports_folder(tmp_path)
    _, found = load_templates(folder, display_root=tmp_path)
    assert [str(p) for p in found] == [
        "reports/mau.toml: targets[1].scope: allocated, but reports/targets/mau.csv is missing"]


def test_files_for_no_template_or_no_allocated_target(tmp_path: Path) -> None:
    toml = ALLOCATED_TOML.replace('scope = "allocated"', "value = 3")
    folder = reports_folder(tmp_path, toml, csv={"mau.csv": b"code,value\nA,1\n",
                                                 "khac.csv": b"code,value\nA,1\n"})
    _, found = load_templates(folder, display_root=tmp_path)
    assert [str(p) for p in found] == [
        "reports/targets/khac.csv: no template has the id 'khac' (the file is named after it)",
        "reports/targets/mau.csv: template 'mau' has no target with scope = \"allocated\": the "
        "file would be unused",
    ]


def test_bad_allocation_file_is_pinpointed_when_loading(tmp_path: Path) -> None:
    folder = reports_folder(tmp_path, csv={"mau.csv": b"code,value\nA,1\nA,2\n"})
    _, found = load_templates(folder, display_root=tmp_path)
    assert [str(p) for p in found] == [
        "reports/targets/mau.csv: line 3: code 'A' is listed twice (first on line 2)"]
    folder = reports_folder(tmp_path / "x", csv={"mau.csv": "code,value\nA,1\n".encode("utf-16")})
    _, found = load_templates(folder, display_root=tmp_path / "x")
    assert [str(p) for p in found] == [
        "reports/targets/mau.csv: not UTF-8 text (save it as CSV UTF-8)"]


# --- evaluation -----------------------------------------------------------------------------

YEAR = Period(PeriodKind.YEAR, 2026)
UNITS = {"LC-BATXAT": "xa", "LC-SAPA": "xa", "LC-TAVAN": "xa", "LC-CDLC": "truc_thuoc"}


def yearly(**by_unit: dict[str, Any]) -> dict[str, Series]:
    return {code.replace("_", "-"): [(YEAR, answers)] for code, answers in by_unit.items()}


def test_total_ratio_target_with_strict_direction() -> None:
    t = template({"question": "to_kha", "value": 10, "direction": "more_than",
                  "quote": "trên 10%"})
    reports = yearly(LC_BATXAT={"to_kha": 9, "so_to": 10}, LC_SAPA={"to_kha": 1, "so_to": 90})
    r = evaluate(t, 0, YEAR, UNITS, reports)
    assert r is not None
    assert (r.figure, r.goal, r.met, r.progress) == (F(10), F(10), False, F(100))  # not > 10%
    assert (r.basis, r.quote, r.final) == ("plan", "trên 10%", True)
    at_least = template({"question": "to_kha", "value": 10})
    assert evaluate(at_least, 0, YEAR, UNITS, reports).met is True  # type: ignore[union-attr]


@pytest.mark.parametrize(("direction", "figure", "goal", "met"), [
    ("at_least", 5, 5, True), ("more_than", 5, 5, False), ("more_than", 6, 5, True),
    ("at_most", 5, 5, True), ("less_than", 5, 5, False), ("less_than", 4, 5, True),
    ("at_most", 6, 5, False), ("at_least", 4, 5, False),
])
def test_directions(direction: str, figure: int, goal: int, met: bool) -> None:
    assert meets(direction, Fraction(figure), Fraction(goal)) is met


def test_each_unit_and_level_list_who_meets_fails_and_has_not_reported() -> None:
    reports = yearly(LC_BATXAT={"htx_tong": 3}, LC_SAPA={"htx_tong": 1}, LC_CDLC={"htx_tong": 0})
    each = evaluate(template({"question": "htx_tong", "value": 2, "scope": "each_unit"}), 0,
                    YEAR, UNITS, reports)
    assert each is not None
    assert each.meeting == ("LC-BATXAT",)
    assert each.failing == ("LC-CDLC", "LC-SAPA") and each.missing == ("LC-TAVAN",)
    assert (each.figure, each.goal, each.met, each.progress) == (F(1), F(4), False, F(25))
    level = evaluate(template({"question": "htx_tong", "value": 2, "scope": "level",
                               "level": "xa"}), 0, YEAR, UNITS, reports)
    assert level is not None
    assert [u.code for u in level.units] == ["LC-BATXAT", "LC-SAPA", "LC-TAVAN"]
    only_good = evaluate(template({"question": "htx_tong", "value": 1, "scope": "level",
                                   "level": "xa"}), 0, YEAR, UNITS, reports)
    assert only_good is not None and only_good.met is None  # none fails, LC-TAVAN is silent


def test_allocated_each_unit_against_its_own_value_and_the_sum() -> None:
    t = template({"question": "htx_moi", "scope": "allocated"})
    allocations = {"LC-BATXAT": 4, "LC-SAPA": 2.5, "LC-TAVAN": 1, "TN-TANAN": 9}  # TN: not here
    reports = yearly(LC_BATXAT={"htx_moi": 5}, LC_SAPA={"htx_moi": 2}, LC_CDLC={"htx_moi": 7})
    r = evaluate(t, 0, YEAR, UNITS, reports, allocations=allocations)
    assert r is not None
    assert [(u.code, u.figure, u.goal, u.met) for u in r.units] == [
        ("LC-BATXAT", 5, 4, True), ("LC-SAPA", 2, Fraction(5, 2), False),
        ("LC-TAVAN", None, 1, None)]
    assert (r.figure, r.goal, r.met) == (F(7), F(15, 2), False)  # LC-CDLC has no allocation
    assert r.progress == Fraction(7, 1) / Fraction(15, 2) * 100


def test_allocation_of_a_merged_unit_counts_for_its_successor() -> None:
    t = template({"question": "htx_moi", "scope": "allocated"})
    reports = yearly(LC_SAPA={"htx_moi": 3})
    reports["LC-OLD"] = [(Period(PeriodKind.YEAR, 2026), {"htx_moi": 2})]
    r = evaluate(t, 0, YEAR, {"LC-SAPA": "xa"}, reports, merged_into={"LC-OLD": "LC-SAPA"},
                 allocations={"LC-SAPA": 2, "LC-OLD": 3})
    assert r is not None and [(u.code, u.figure, u.goal, u.met) for u in r.units] == [
        ("LC-SAPA", F(5), F(5), True)]


def test_milestone_is_shown_up_to_its_year_and_final_in_it() -> None:
    t = template({"question": "htx_tong", "value": 10, "year": 2025})
    reports = {"LC-SAPA": [(Period(PeriodKind.YEAR, y), {"htx_tong": 2 * (y - 2020)})
                           for y in range(2021, 2027)]}
    units = {"LC-SAPA": "xa"}
    shown = {y: evaluate(t, 0, Period(PeriodKind.YEAR, y), units, reports)
             for y in (2023, 2025, 2026)}
    assert shown[2026] is None
    r23, r25 = shown[2023], shown[2025]
    assert r23 is not None and r25 is not None
    assert (r23.figure, r23.met, r23.progress, r23.final) == (F(6), False, F(60), False)
    assert (r25.figure, r25.met, r25.progress, r25.final) == (F(10), True, F(100), True)


def test_cumulative_target_counts_from_the_baseline_with_merged_units() -> None:
    t = template({"question": "htx_moi", "value": 20, "year": 2025, "baseline_year": 2021})
    months = [Period(PeriodKind.MONTH, y, m) for y in (2020, 2021, 2022) for m in (3, 9)]
    reports: dict[str, Series] = {"OLD": [(p, {"htx_moi": 1}) for p in months],
                                  "NEW": [(Period(PeriodKind.MONTH, 2025, 9), {"htx_moi": 4})]}
    merged = {"OLD": "NEW"}
    q3 = Period(PeriodKind.QUARTER, 2025, 3)
    r = evaluate(t, 0, q3, {"NEW": "xa"}, reports, merged_into=merged)
    assert r is not None
    assert (r.span.start.isoformat(), r.span.end.isoformat()) == ("2021-01-01", "2025-09-30")
    assert (r.figure, r.met, r.progress) == (F(4 + 4), False, F(40))  # 2020's flows are before it
    assert evaluate(t, 0, Period(PeriodKind.YEAR, 2020), {"NEW": "xa"}, reports) is None
    without = evaluate(t, 0, q3, {"NEW": "xa"}, reports)
    assert without is not None and without.figure == 4


def test_yes_no_each_unit_target() -> None:
    t = template({"question": "co_mo_hinh", "value": 1, "scope": "each_unit"})
    reports = yearly(LC_BATXAT={"co_mo_hinh": True}, LC_SAPA={"co_mo_hinh": False})
    r = evaluate(t, 0, YEAR, {"LC-BATXAT": "xa", "LC-SAPA": "xa"}, reports)
    assert r is not None and (r.meeting, r.failing) == (("LC-BATXAT",), ("LC-SAPA",))
