"""Reporting periods: ids, bounds, neighbours, `containing` and Vietnamese labels."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.periods import Period, PeriodError, PeriodKind, periods_in_years

W, M, Q, H, Y = (PeriodKind.WEEK, PeriodKind.MONTH, PeriodKind.QUARTER, PeriodKind.HALF,
                 PeriodKind.YEAR)
N = PeriodKind.NINE_MONTHS
TILING = [W, M, Q, H, Y]  # every kind whose periods follow each other without a gap


# --- parse / id --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("period_id", "kind", "year", "index"),
    [
        ("2026-W10", W, 2026, 10),
        ("2026-W01", W, 2026, 1),
        ("2026-W53", W, 2026, 53),
        ("2020-W53", W, 2020, 53),
        ("2015-W53", W, 2015, 53),
        ("2032-W53", W, 2032, 53),
        ("2025-W52", W, 2025, 52),
        ("2026-01", M, 2026, 1),
        ("2026-03", M, 2026, 3),
        ("2026-12", M, 2026, 12),
        ("2024-02", M, 2024, 2),
        ("2100-02", M, 2100, 2),
        ("2026-Q1", Q, 2026, 1),
        ("2026-Q4", Q, 2026, 4),
        ("2026-H1", H, 2026, 1),
        ("2026-H2", H, 2026, 2),
        ("2026", Y, 2026, 1),
        ("2000", Y, 2000, 1),
        ("2026-9M", N, 2026, 1),
        ("1900-9M", N, 1900, 1),
    ],
)
def test_parse_and_id_round_trip(period_id, kind, year, index):
    period = Period.parse(period_id)
    assert period == Period(kind, year, index)
    assert (period.kind, period.year, period.index) == (kind, year, index)
    assert period.id == period_id
    assert str(period) == period_id
    assert Period.parse(period.id) == period


def test_parse_ignores_surrounding_white_space():
    assert Period.parse("  2026-Q1 \n") == Period(Q, 2026, 1)
    assert Period.parse(" 2026-9m ") == Period(N, 2026)


@pytest.mark.parametrize(
    "period_id",
    [
        "2026-13", "2026-00", "2026-Q5", "2026-Q0", "2026-H3", "2026-H0",
        "2025-W53", "2024-W53", "2021-W53", "2026-W54", "2026-W00",
        "abc", "", "   ", "2026-", "2026-Q", "2026-W", "26-03", "2026/03", "Q1-2026",
        "2026-9", "2026-8M", "2026-09M", "2026-M9", "9M-2026", "2026-9M1",
    ],
)
def test_invalid_ids_raise_period_error(period_id):
    with pytest.raises(PeriodError):
        Period.parse(period_id)


def test_period_error_is_a_value_error():
    assert issubclass(PeriodError, ValueError)
    with pytest.raises(ValueError):
        Period.parse("2026-13")


@pytest.mark.parametrize(
    ("kind", "year", "index"),
    [(M, 2026, 13), (M, 2026, 0), (Q, 2026, 5), (H, 2026, 3), (W, 2025, 53), (W, 2026, 54),
     (N, 2026, 2), (N, 2026, 0)],
)
def test_invalid_constructor_arguments_raise_period_error(kind, year, index):
    with pytest.raises(PeriodError):
        Period(kind, year, index)


# --- start / end ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("period_id", "start", "end"),
    [
        # months, including leap years (2024, 2000) and a century non-leap year (2100)
        ("2026-01", "2026-01-01", "2026-01-31"),
        ("2026-02", "2026-02-01", "2026-02-28"),
        ("2024-02", "2024-02-01", "2024-02-29"),
        ("2000-02", "2000-02-01", "2000-02-29"),
        ("2100-02", "2100-02-01", "2100-02-28"),
        ("2023-02", "2023-02-01", "2023-02-28"),
        ("2026-03", "2026-03-01", "2026-03-31"),
        ("2026-04", "2026-04-01", "2026-04-30"),
        ("2026-06", "2026-06-01", "2026-06-30"),
        ("2026-09", "2026-09-01", "2026-09-30"),
        ("2026-11", "2026-11-01", "2026-11-30"),
        ("2026-12", "2026-12-01", "2026-12-31"),
        # quarters
        ("2026-Q1", "2026-01-01", "2026-03-31"),
        ("2026-Q2", "2026-04-01", "2026-06-30"),
        ("2026-Q3", "2026-07-01", "2026-09-30"),
        ("2026-Q4", "2026-10-01", "2026-12-31"),
        ("2024-Q1", "2024-01-01", "2024-03-31"),
        # halves
        ("2026-H1", "2026-01-01", "2026-06-30"),
        ("2026-H2", "2026-07-01", "2026-12-31"),
        ("2024-H1", "2024-01-01", "2024-06-30"),
        # nine months: January to September
        ("2026-9M", "2026-01-01", "2026-09-30"),
        ("2024-9M", "2024-01-01", "2024-09-30"),
        # years
        ("2026", "2026-01-01", "2026-12-31"),
        ("2024", "2024-01-01", "2024-12-31"),
        ("2100", "2100-01-01", "2100-12-31"),
        # ISO weeks
        ("2026-W10", "2026-03-02", "2026-03-08"),
        ("2024-W09", "2024-02-26", "2024-03-03"),
        # week 53 in 2020 and 2026, spilling into January
        ("2020-W53", "2020-12-28", "2021-01-03"),
        ("2026-W53", "2026-12-28", "2027-01-03"),
        ("2015-W53", "2015-12-28", "2016-01-03"),
        # week 1 starting in the previous December
        ("2026-W01", "2025-12-29", "2026-01-04"),
        ("2025-W01", "2024-12-30", "2025-01-05"),
        ("2020-W01", "2019-12-30", "2020-01-05"),
        ("2019-W01", "2018-12-31", "2019-01-06"),
        # week 1 starting in January
        ("2024-W01", "2024-01-01", "2024-01-07"),
        ("2021-W01", "2021-01-04", "2021-01-10"),
        ("2025-W52", "2025-12-22", "2025-12-28"),
    ],
)
def test_start_and_inclusive_end(period_id, start, end):
    period = Period.parse(period_id)
    assert period.start == date.fromisoformat(start)
    assert period.end == date.fromisoformat(end)


@pytest.mark.parametrize(("year", "weeks"), [(2015, 53), (2020, 53), (2026, 53), (2032, 53),
                                             (2021, 52), (2024, 52), (2025, 52), (2027, 52)])
def test_number_of_iso_weeks(year, weeks):
    last = Period(W, year, weeks)
    assert last.end.isocalendar().week == weeks
    with pytest.raises(PeriodError):
        Period(W, year, weeks + 1)


# --- next / previous ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("period_id", "following"),
    [
        ("2026-03", "2026-04"),
        ("2026-12", "2027-01"),
        ("2024-02", "2024-03"),
        ("2026-Q1", "2026-Q2"),
        ("2026-Q4", "2027-Q1"),
        ("2026-H1", "2026-H2"),
        ("2026-H2", "2027-H1"),
        ("2026", "2027"),
        ("2026-W10", "2026-W11"),
        ("2026-W52", "2026-W53"),
        ("2026-W53", "2027-W01"),
        ("2020-W53", "2021-W01"),
        ("2025-W52", "2026-W01"),
        ("2024-W52", "2025-W01"),
    ],
)
def test_next_and_previous(period_id, following):
    period = Period.parse(period_id)
    after = Period.parse(following)
    assert period.next() == after
    assert after.previous() == period
    assert after.start == period.end + timedelta(days=1)


def test_nine_months_follow_each_other_a_year_apart_with_a_gap():
    period = Period.parse("2026-9M")
    assert period.next() == Period.parse("2027-9M")
    assert period.previous() == Period.parse("2025-9M")
    assert period.next().start == date(2027, 1, 1)  # October–December belong to no 9M period
    assert period.months == 9


# --- containing --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("kind", "day", "period_id"),
    [
        (W, "2026-03-04", "2026-W10"),
        (W, "2027-01-01", "2026-W53"),
        (W, "2027-01-03", "2026-W53"),
        (W, "2027-01-04", "2027-W01"),
        (W, "2025-12-29", "2026-W01"),
        (W, "2025-12-28", "2025-W52"),
        (W, "2021-01-03", "2020-W53"),
        (W, "2023-01-01", "2022-W52"),
        (W, "2024-12-30", "2025-W01"),
        (M, "2024-02-29", "2024-02"),
        (M, "2026-12-31", "2026-12"),
        (M, "2026-01-01", "2026-01"),
        (Q, "2026-03-31", "2026-Q1"),
        (Q, "2026-04-01", "2026-Q2"),
        (Q, "2026-06-30", "2026-Q2"),
        (Q, "2026-07-01", "2026-Q3"),
        (Q, "2026-12-31", "2026-Q4"),
        (H, "2026-06-30", "2026-H1"),
        (H, "2026-07-01", "2026-H2"),
        (H, "2026-01-01", "2026-H1"),
        (Y, "2026-12-31", "2026"),
        (Y, "2024-02-29", "2024"),
    ],
)
def test_containing(kind, day, period_id):
    assert Period.containing(kind, date.fromisoformat(day)) == Period.parse(period_id)
    assert Period.latest(kind, date.fromisoformat(day)) == Period.parse(period_id)


@pytest.mark.parametrize(("day", "containing", "latest"), [
    ("2026-01-01", "2026-9M", "2026-9M"),
    ("2026-09-30", "2026-9M", "2026-9M"),
    ("2026-10-01", None, "2026-9M"),
    ("2026-12-31", None, "2026-9M"),
])
def test_nine_months_contain_january_to_september_only(day, containing, latest):
    d = date.fromisoformat(day)
    if containing is None:
        with pytest.raises(PeriodError, match="January to September"):
            Period.containing(N, d)
    else:
        assert Period.containing(N, d) == Period.parse(containing)
    assert Period.latest(N, d) == Period.parse(latest)


# --- labels ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("period_id", "label"),
    [
        ("2026-Q1", "Quý I/2026"),
        ("2026-Q2", "Quý II/2026"),
        ("2026-Q3", "Quý III/2026"),
        ("2026-Q4", "Quý IV/2026"),
        ("2026-H1", "6 tháng đầu năm 2026"),
        ("2026-H2", "6 tháng cuối năm 2026"),
        ("2026-03", "Tháng 3/2026"),
        ("2026-12", "Tháng 12/2026"),
        ("2026", "Năm 2026"),
        ("2026-9M", "9 tháng đầu năm 2026"),
    ],
)
def test_label_vi(period_id, label):
    assert Period.parse(period_id).label_vi() == label


def test_week_label_names_the_week():
    assert Period.parse("2026-W10").label_vi().startswith("Tuần 10/2026")


# --- properties ----------------------------------------------------------------------------------

DAYS = st.dates(min_value=date(1901, 1, 1), max_value=date(9990, 12, 31))
KINDS = st.sampled_from(TILING)


@settings(max_examples=300, deadline=None)
@given(KINDS, DAYS)
def test_containing_period_properties(kind, day):
    period = Period.containing(kind, day)
    assert period.kind is kind
    assert period.start <= day <= period.end
    assert Period.parse(period.id) == period
    assert period.next().start == period.end + timedelta(days=1)
    assert period.previous().end == period.start - timedelta(days=1)
    assert period.next().previous() == period
    assert period.previous().next() == period
    assert period.next() > period > period.previous()
    length = (period.end - period.start).days + 1
    if kind is W:
        assert length == 7
        assert period.start.weekday() == 0
    elif kind is M:
        assert length == calendar.monthrange(period.year, period.index)[1]
    elif kind is Y:
        assert length == (366 if calendar.isleap(period.year) else 365)
    else:
        assert period.start.day == 1
        assert (period.end + timedelta(days=1)).day == 1


@pytest.mark.parametrize(("kind", "count"), [(W, 28 * 52 + 5), (M, 28 * 12), (Q, 28 * 4),
                                             (H, 28 * 2), (N, 28), (Y, 28)])
def test_periods_in_years_are_consecutive(kind, count):
    # 2024–2051 holds five ISO years of 53 weeks: 2026, 2032, 2037, 2043, 2048.
    periods = periods_in_years(kind, 2024, 2051)
    assert len(periods) == count
    assert periods[0] == Period.containing(kind, date.fromisocalendar(2024, 1, 1)
                                           if kind is W else date(2024, 1, 1))
    assert periods[-1].year == 2051
    assert all(b == a.next() for a, b in pairwise(periods))
    assert periods_in_years(kind, 2026, 2025) == []


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(list(PeriodKind)), DAYS)
def test_latest_is_the_last_period_started_by_the_day(kind, day):
    period = Period.latest(kind, day)
    assert period.kind is kind
    assert period.start <= day < period.next().start
    if kind is not N or day.month <= 9:
        assert period == Period.containing(kind, day)
