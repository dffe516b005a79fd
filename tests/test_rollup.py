"""Roll-up rules: across units by aggregation, over time by `over_time`, through merges."""

from __future__ import annotations

from fractions import Fraction
from fractions import Fraction as F
from typing import Any

import pytest

from bot.domain.periods import Period, PeriodKind
from bot.domain.rollup import (
    MergeError,
    Series,
    Span,
    answers_by_unit,
    check_merges,
    exact,
    over_time,
    roll_up,
    shown,
    successor,
    time_rule,
    unit_value,
)
from bot.domain.templates import Aggregate, Question


def q(qid: str, qtype: str = "integer", **keys: Any) -> Question:
    return Question.model_validate({"id": qid, "text": qid, "type": qtype, **keys})


GOOD = q("to_kha", aggregate="ratio", denominator="so_to")
GROUPS = q("so_to")
RATE = q("ty_le", "percent")
WEIGHTED = q("ty_le", "percent", weight="so_to")
FLOW = q("htx_moi", over_time="sum")
STOCK = q("htx_tong", over_time="last")


def month(m: int, year: int = 2026) -> Period:
    return Period(PeriodKind.MONTH, year, m)


# --- across units ---------------------------------------------------------------------------


def test_ratio_of_sums_not_average_of_rates() -> None:
    by_unit = {"LC-BATXAT": {"to_kha": 9, "so_to": 10}, "LC-SAPA": {"to_kha": 1, "so_to": 90}}
    r = roll_up(GOOD, by_unit)
    assert r.aggregation is Aggregate.RATIO
    assert r.value == 10 and (r.numerator, r.denominator) == (F(10), F(100))
    # what averaging the two rates would have said
    plain = roll_up(RATE, {"a": {"ty_le": 90.0}, "b": {"ty_le": 1 / 90 * 100}})
    assert shown(plain.value) == "45.6"


@pytest.mark.parametrize(("by_unit", "value", "units"), [
    ({"a": {"to_kha": 3, "so_to": 4}, "b": {"so_to": 6}}, Fraction(75), ("a",)),  # b lacks a part
    ({"a": {"to_kha": 3}, "b": {"to_kha": 1, "so_to": 0}}, None, ("b",)),  # Σ denominators 0
    ({}, None, ()),
])
def test_ratio_leaves_units_missing_a_part_out_of_both_sums(
        by_unit: dict[str, dict[str, Any]], value: Fraction | None, units: tuple[str, ...]) -> None:
    r = roll_up(GOOD, by_unit)
    assert (r.value, r.units) == (value, units)


def test_weighted_average_against_plain_average() -> None:
    by_unit = {"a": {"ty_le": 50, "so_to": 30}, "b": {"ty_le": 100, "so_to": 10}}
    assert roll_up(RATE, by_unit).value == 75
    weighted = roll_up(WEIGHTED, by_unit)
    assert weighted.value == Fraction(50 * 30 + 100 * 10, 40) == Fraction(125, 2)
    assert weighted.units == ("a", "b")
    # a unit without its weight is left out; weights summing to 0 give nothing
    assert roll_up(WEIGHTED, {**by_unit, "c": {"ty_le": 0}}).value == Fraction(125, 2)
    assert roll_up(WEIGHTED, {"a": {"ty_le": 50, "so_to": 0}}).value is None


def test_only_reporting_units_are_counted() -> None:
    by_unit: dict[str, dict[str, Any]] = {"a": {"htx_moi": 4, "ty_le": 80.0, "co": True},
                                          "b": {"htx_moi": None, "co": False}, "c": {}}
    assert (roll_up(FLOW, by_unit).value, roll_up(FLOW, by_unit).units) == (F(4), ("a",))
    assert roll_up(RATE, by_unit).value == 80  # not (80 + 0 + 0) / 3
    assert roll_up(q("htx_moi", aggregate="min"), by_unit).value == 4
    yes = q("co", "yes_no")
    assert (roll_up(yes, by_unit).value, roll_up(yes, by_unit).units) == (F(1), ("a", "b"))
    assert roll_up(q("co", "yes_no", aggregate="count"), by_unit).value == 2


def test_min_max_sum_decimal_exact() -> None:
    by_unit = {"a": {"von": 0.1}, "b": {"von": 0.2}, "c": {"von": 2.5}}
    assert roll_up(q("von", "decimal"), by_unit).value == Fraction(28, 10)  # not 2.8000000000000003
    assert roll_up(q("von", "decimal", aggregate="min"), by_unit).value == Fraction(1, 10)
    assert roll_up(q("von", "decimal", aggregate="max"), by_unit).value == Fraction(5, 2)


def test_distribution_counts_each_option_and_lists_unchosen() -> None:
    options = [{"id": "tot", "label": "Tốt"}, {"id": "kha", "label": "Khá"},
               {"id": "tb", "label": "TB"}]
    one = q("xep_loai", "choice", options=options)
    r = roll_up(one, {"a": {"xep_loai": "tot"}, "b": {"xep_loai": "tot"}, "c": {}})
    assert r.distribution == {"tot": 2, "kha": 0, "tb": 0} and r.value == 2
    many = q("linh_vuc", "multi_choice", options=options)
    r = roll_up(many, {"a": {"linh_vuc": ["tot", "kha"]}, "b": {"linh_vuc": []}})
    assert r.distribution == {"tot": 1, "kha": 1, "tb": 0} and r.units == ("a",)


def test_exact_reads_numbers_only() -> None:
    assert exact(True) is None and exact("5") is None and exact(float("nan")) is None
    assert exact(0.1) == Fraction(1, 10) and exact(3) == 3


# --- over time ------------------------------------------------------------------------------

MONTHS: Series = [(month(m), {"htx_moi": m, "htx_tong": 10 + m, "to_kha": 1, "so_to": 2 * m})
                  for m in range(1, 13)]


@pytest.mark.parametrize(("period", "flow", "stock"), [
    (Period(PeriodKind.QUARTER, 2026, 1), 1 + 2 + 3, 13),
    (Period(PeriodKind.QUARTER, 2026, 4), 10 + 11 + 12, 22),
    (Period(PeriodKind.HALF, 2026, 1), 21, 16),
    (Period(PeriodKind.NINE_MONTHS, 2026), 45, 19),
    (Period(PeriodKind.YEAR, 2026), 78, 22),
    (Period(PeriodKind.YEAR, 2027), None, None),  # nothing reported: not zero
])
def test_months_to_quarter_to_year_sum_flows_and_take_last_stocks(
        period: Period, flow: int | None, stock: int | None) -> None:
    span = Span.of(period)
    assert over_time(FLOW, MONTHS, span) == flow
    assert over_time(STOCK, MONTHS, span) == stock


def test_quarters_to_year_give_the_same_as_months() -> None:
    quarters: Series = [
        (Period(PeriodKind.QUARTER, 2026, i),
         {"htx_moi": over_time(FLOW, MONTHS, Span.of(Period(PeriodKind.QUARTER, 2026, i))),
          "htx_tong": over_time(STOCK, MONTHS, Span.of(Period(PeriodKind.QUARTER, 2026, i)))})
        for i in (1, 2, 3, 4)]
    year = Span.of(Period(PeriodKind.YEAR, 2026))
    assert over_time(FLOW, quarters, year) == over_time(FLOW, MONTHS, year) == 78
    assert over_time(STOCK, quarters, year) == over_time(STOCK, MONTHS, year) == 22


def test_last_skips_unanswered_periods_and_sum_counts_only_answers() -> None:
    series: Series = [(month(1), {"htx_tong": 5, "htx_moi": 2}), (month(2), {"htx_tong": 7}),
                      (month(3), {"htx_moi": 1})]
    quarter = Span.of(Period(PeriodKind.QUARTER, 2026, 1))
    assert over_time(STOCK, series, quarter) == 7
    assert over_time(FLOW, series, quarter) == 3


def test_ratio_over_time_flows_sum_both_parts_stocks_take_last_pair() -> None:
    year = Span.of(Period(PeriodKind.YEAR, 2026))
    # flows: Σ 1 over 12 months / Σ 2m = 12 / 156
    flows = answers_by_unit([GOOD, GROUPS], ["a"], {"a": MONTHS}, year)
    assert roll_up(GOOD, flows).value == Fraction(12, 156) * 100
    stock_good = q("to_kha", aggregate="ratio", denominator="so_to", over_time="last")
    stock_groups = q("so_to", over_time="last")
    stocks = answers_by_unit([stock_good, stock_groups], ["a"], {"a": MONTHS}, year)
    assert stocks == {"a": {"to_kha": 1, "so_to": 24}}
    assert roll_up(stock_good, stocks).value == Fraction(100, 24)


def test_ratio_over_time_pairs_the_parts_period_by_period() -> None:
    """A unit that gave the good groups every month of a quarter but the number of groups only
    in two (March's skipped): its quarter is 2+3 over 10+10, not 2+3+4 over 20 (45%, where
    the whole quarter's top over a partial bottom read 45% here and over 100% in worse
    cases); a unit with no month of both is left out, as in one period. The denominator's
    own figure still sums every month it was given."""
    quarter = Span.of(Period(PeriodKind.QUARTER, 2026, 1))
    reports = {"a": [(month(1), {"to_kha": 2, "so_to": 10}), (month(2), {"to_kha": 3, "so_to": 10}),
                     (month(3), {"to_kha": 4})],
               "b": [(month(1), {"to_kha": 5}), (month(2), {"so_to": 8})],
               "c": [(month(1), {"to_kha": 1, "so_to": 4}), (month(2), {"to_kha": 1, "so_to": 4})]}
    by_unit = answers_by_unit([GOOD, GROUPS], ["a", "b", "c"], reports, quarter)
    assert roll_up(GROUPS, by_unit).value == 10 + 10 + 8 + 4 + 4
    ratio = roll_up(GOOD, by_unit)
    assert ratio.units == ("a", "c")  # b never gave both in one month
    assert ratio.value == Fraction(2 + 3 + 1 + 1, 10 + 10 + 4 + 4) * 100
    # stocks: the last month with both
    stock_good = q("to_kha", aggregate="ratio", denominator="so_to", over_time="last")
    stock_groups = q("so_to", over_time="last")
    stocks = answers_by_unit([stock_good, stock_groups], ["a"], reports, quarter)
    assert roll_up(stock_good, stocks).value == Fraction(3, 10) * 100
    assert roll_up(stock_groups, stocks).value == 10
    # weighted average: a price without its weight that month does not count
    price = q("gia", "decimal", aggregate="average", weight="san_luong")
    volume = q("san_luong")
    sold = {"a": [(month(1), {"gia": 10.0, "san_luong": 1}),
                  (month(2), {"gia": 40.0})]}
    weighted = answers_by_unit([price, volume], ["a"], sold, quarter)
    assert roll_up(price, weighted).value == 10


def test_default_time_rules() -> None:
    assert time_rule(q("x")) == "sum" and time_rule(q("x", "decimal")) == "sum"
    assert time_rule(q("x", "percent")) == "last" and time_rule(q("x", "yes_no")) == "last"
    assert time_rule(q("x", over_time="last")) == "last"


def test_overlapping_periods_are_refused() -> None:
    series: Series = [(month(1), {"htx_moi": 1}), (Period(PeriodKind.QUARTER, 2026, 1),
                                                   {"htx_moi": 3})]
    with pytest.raises(ValueError, match="2026-01 and 2026-Q1 overlap"):
        over_time(FLOW, series, Span.of(Period(PeriodKind.YEAR, 2026)))


# --- merged units ---------------------------------------------------------------------------

# Two old communes report until June 2025, then merge into a new one that reports from July.
MERGED = {"OLD-A": "NEW", "OLD-B": "NEW"}
REPORTS: dict[str, Series] = {
    "OLD-A": [(month(m, 2025), {"htx_moi": 1, "htx_tong": 20 + m}) for m in range(1, 7)],
    "OLD-B": [(month(m, 2025), {"htx_moi": 2, "htx_tong": 30 + m}) for m in range(1, 7)],
    "NEW": [(month(m, 2025), {"htx_moi": 5, "htx_tong": 60 + m}) for m in range(8, 13)],
}
YEAR_2025 = Span.of(Period(PeriodKind.YEAR, 2025))


def test_merge_carries_flows_into_the_new_unit() -> None:
    assert unit_value(FLOW, "NEW", REPORTS, YEAR_2025) == 25  # without the merge, its own
    assert unit_value(FLOW, "NEW", REPORTS, YEAR_2025, MERGED) == 6 * 1 + 6 * 2 + 25
    # cumulative from a baseline year, into the following year
    span = Span.of(Period(PeriodKind.QUARTER, 2026, 1), baseline_year=2025)
    assert unit_value(FLOW, "NEW", REPORTS, span, MERGED) == 43


def test_merge_carries_stocks_only_until_the_new_unit_reports_its_own() -> None:
    h1 = Span.of(Period(PeriodKind.HALF, 2025, 1))
    assert unit_value(STOCK, "NEW", REPORTS, h1, MERGED) == 26 + 36  # the old units' last
    july = Span.of(month(7, 2025))  # nobody reported in July
    assert unit_value(STOCK, "NEW", REPORTS, july, MERGED) is None
    assert unit_value(STOCK, "NEW", REPORTS, YEAR_2025, MERGED) == 72  # its own, not + 62
    q3 = Span.of(Period(PeriodKind.QUARTER, 2025, 3))
    assert unit_value(STOCK, "NEW", REPORTS, q3, MERGED) == 69
    # once it has reported its own stock, a later span without a report shows nothing
    assert unit_value(STOCK, "NEW", REPORTS, Span.of(month(1, 2026)), MERGED) is None


def test_merge_chains_are_followed_and_percentages_never_carry() -> None:
    chain = {"OLD-A": "MID", "MID": "NEW"}
    reports: dict[str, Series] = {"OLD-A": [(month(1), {"htx_moi": 4, "ty_le": 50.0})],
                                  "MID": [(month(2), {"htx_moi": 1})],
                                  "NEW": [(month(3), {"htx_moi": 2})]}
    quarter = Span.of(Period(PeriodKind.QUARTER, 2026, 1))
    assert unit_value(FLOW, "NEW", reports, quarter, chain) == 7
    assert successor("OLD-A", chain) == "NEW" and successor("X", chain) == "X"
    assert unit_value(RATE, "NEW", reports, quarter, chain) is None


@pytest.mark.parametrize(("merges", "message"), [
    ({"A": "A"}, "merge cycle: A → A"),
    ({"A": "B", "B": "C", "C": "A"}, "merge cycle: A → B → C → A"),
])
def test_merge_cycles_are_refused(merges: dict[str, str], message: str) -> None:
    with pytest.raises(MergeError, match=message):
        check_merges(merges)
    with pytest.raises(MergeError):
        unit_value(FLOW, "A", {}, YEAR_2025, merges)


def test_answers_by_unit_leaves_silent_units_out() -> None:
    got = answers_by_unit([FLOW, STOCK], ["NEW", "SILENT"], REPORTS, YEAR_2025, MERGED)
    assert got == {"NEW": {"htx_moi": 43, "htx_tong": 72}}
    assert roll_up(FLOW, got).value == 43


@pytest.mark.parametrize("question", [
    {"id": "co", "text": "Có?", "type": "yes_no"},
    {"id": "co", "text": "Có?", "type": "yes_no", "aggregate": "count"},
    {"id": "co", "text": "Chọn", "type": "choice",
     "options": [{"id": "a", "label": "A"}, {"id": "b", "label": "B"}]},
])
def test_a_count_nobody_answered_is_unknown_not_zero(question: dict[str, Any]) -> None:
    """No unit answered (none reported, or the question was hidden for all): the figure is
    unknown, shown as "—", not a 0 that reads like "no commune has a fanpage"."""
    q = Question.model_validate(question)
    for by_unit in ({}, {"x": {"khac": 1}}, {"x": {"co": None}}):
        r = roll_up(q, by_unit)
        assert (r.value, r.units, r.distribution) == (None, (), None)
    answered = roll_up(q, {"x": {"co": "a" if q.type == "choice" else False}})
    assert answered.value is not None and answered.units == ("x",)


def _random_answers(rng: Any, qids: list[str]) -> dict[str, dict[str, Any]]:
    """Units' answers of every shape a roll-up may meet: integers (huge ones too), decimals,
    fractions, yes/no, text, nothing, a question left out."""
    shapes = [lambda: rng.randint(-5, 50), lambda: rng.randint(-5, 50), lambda: 10 ** 30,
              lambda: rng.choice([0.1, 2.25, 1.5, -0.3]), lambda: F(1, 3), lambda: True,
              lambda: None, lambda: "7", lambda: []]
    out = {}
    for i in range(rng.randint(0, 12)):
        only_ints = rng.random() < 0.5  # the common case: every answer an integer
        a = {qid: (rng.randint(0, 99) if only_ints else rng.choice(shapes)()) for qid in qids}
        if not only_ints and rng.random() < 0.3:
            del a[rng.choice(qids)]
        out[f"X{rng.randint(0, 99):02d}{i}"] = a
    return out


def test_roll_ups_a_column_at_a_time_equal_roll_up_question_by_question() -> None:
    import random

    from bot.domain.rollup import roll_ups

    questions = [q("a"), q("b"), q("c", "decimal"), q("m", aggregate="average"),
                 q("lo", aggregate="min"), q("r", aggregate="ratio", denominator="a"),
                 q("w", "decimal", aggregate="average", weight="b"), q("y", "yes_no"),
                 q("t", "text", required=False)]
    ids = [x.id for x in questions]
    for seed in range(300):
        rng = random.Random(seed)
        by_unit = _random_answers(rng, ids)
        chosen = rng.sample(questions, rng.randint(1, len(questions)))
        assert roll_ups(chosen, by_unit) == [roll_up(x, by_unit) for x in chosen], seed


def test_a_weighted_average_of_decimals_is_exact() -> None:
    # decimal answers × integer weights (multiplied in C): the same as with fractions
    import random

    for seed in range(100):
        rng = random.Random(seed)
        by_unit = {f"X{i}": {"ty_le": rng.choice([0.1, 2.25, 33.3, 7, F(1, 3)]),
                             "so_to": rng.choice([0, 3, 10, 1.5])}
                   for i in range(rng.randint(1, 20))}
        r = roll_up(WEIGHTED, by_unit)
        pairs = [(exact(a["ty_le"]), exact(a["so_to"])) for a in by_unit.values()]
        top = sum((v * w for v, w in pairs if v is not None and w is not None), F(0))
        bottom = sum((w for _, w in pairs if w is not None), F(0))
        assert (r.numerator, r.denominator) == (top, bottom)
        assert r.value == (top / bottom if bottom else None)
