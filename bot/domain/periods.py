"""Reporting periods: `2026-W10`, `2026-03`, `2026-Q1`, `2026-H1` (half-year), `2026-9M` (the
nine months January–September, "báo cáo 9 tháng") and `2026`.

Every kind but the nine-month one tiles the calendar; a nine-month period is followed by the
next year's, and October–December belong to none (see `Period.latest`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import cached_property, lru_cache

from dateutil.relativedelta import relativedelta

ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}


class PeriodKind(StrEnum):
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    HALF = "half"
    NINE_MONTHS = "nine_months"  # January–September of a year
    YEAR = "year"


class PeriodError(ValueError):
    """A period id that does not exist (e.g. `2026-13`, `2026-W54`)."""


_PATTERNS: list[tuple[PeriodKind, re.Pattern[str]]] = [
    (PeriodKind.WEEK, re.compile(r"^(\d{4})-W(\d{1,2})$")),
    (PeriodKind.MONTH, re.compile(r"^(\d{4})-(\d{2})$")),
    (PeriodKind.QUARTER, re.compile(r"^(\d{4})-Q(\d)$")),
    (PeriodKind.HALF, re.compile(r"^(\d{4})-H(\d)$")),
    (PeriodKind.NINE_MONTHS, re.compile(r"^(\d{4})-9M$")),
    (PeriodKind.YEAR, re.compile(r"^(\d{4})$")),
]
_MAX_INDEX = {PeriodKind.MONTH: 12, PeriodKind.QUARTER: 4, PeriodKind.HALF: 2,
              PeriodKind.NINE_MONTHS: 1, PeriodKind.YEAR: 1}
_ONE_A_YEAR = (PeriodKind.NINE_MONTHS, PeriodKind.YEAR)


def _iso_weeks(year: int) -> int:
    return date(year, 12, 28).isocalendar().week


@dataclass(frozen=True, order=True)
class Period:
    """One reporting period; `index` is the week, month, quarter or half number (1 for a year
    and for the nine months)."""

    kind: PeriodKind
    year: int
    index: int = 1

    def __post_init__(self) -> None:
        if not 1900 <= self.year <= 9998:
            raise PeriodError(f"year out of range: {self.year}")
        top = _iso_weeks(self.year) if self.kind is PeriodKind.WEEK else _MAX_INDEX[self.kind]
        if not 1 <= self.index <= top:
            raise PeriodError(f"no {self.kind.value} {self.index} in {self.year}")

    @classmethod
    def parse(cls, period_id: str) -> Period:
        """Parse an id such as `2026-Q1`; raise PeriodError when it is not one."""
        return _parse(period_id)

    @classmethod
    def _parse(cls, period_id: str) -> Period:
        text = period_id.strip().upper()
        for kind, pattern in _PATTERNS:
            m = pattern.match(text)
            if m:
                index = int(m.group(2)) if kind not in _ONE_A_YEAR else 1
                return cls(kind, int(m.group(1)), index)
        raise PeriodError(
            f"not a period id: {period_id!r} (expected e.g. 2026-W10, 2026-03, 2026-Q1, "
            "2026-H1, 2026-9M or 2026)"
        )

    @classmethod
    def containing(cls, kind: PeriodKind, day: date) -> Period:
        """The period of this kind that contains `day`; PeriodError for a day of October to
        December and the nine-month kind, which has no period then."""
        if kind is PeriodKind.NINE_MONTHS and day.month > 9:
            raise PeriodError(f"no nine-month period contains {day.isoformat()} "
                              "(it runs from January to September)")
        if kind is PeriodKind.WEEK:
            iso = day.isocalendar()
            return cls(kind, iso.year, iso.week)
        if kind is PeriodKind.MONTH:
            return cls(kind, day.year, day.month)
        if kind is PeriodKind.QUARTER:
            return cls(kind, day.year, (day.month - 1) // 3 + 1)
        if kind is PeriodKind.HALF:
            return cls(kind, day.year, 1 if day.month <= 6 else 2)
        return cls(kind, day.year)

    @classmethod
    def latest(cls, kind: PeriodKind, day: date) -> Period:
        """The last period of this kind that has started on or before `day`: the one containing
        it, or for nine months in October–December that year's (ended on 30 September)."""
        if kind is PeriodKind.NINE_MONTHS:
            return cls(kind, day.year)
        return cls.containing(kind, day)

    @cached_property
    def id(self) -> str:
        if self.kind is PeriodKind.WEEK:
            return f"{self.year}-W{self.index:02d}"
        if self.kind is PeriodKind.MONTH:
            return f"{self.year}-{self.index:02d}"
        if self.kind is PeriodKind.QUARTER:
            return f"{self.year}-Q{self.index}"
        if self.kind is PeriodKind.HALF:
            return f"{self.year}-H{self.index}"
        if self.kind is PeriodKind.NINE_MONTHS:
            return f"{self.year}-9M"
        return f"{self.year}"

    def __str__(self) -> str:
        return self.id

    @property
    def months(self) -> int:
        """Length in months (0 for a week)."""
        return {PeriodKind.WEEK: 0, PeriodKind.MONTH: 1, PeriodKind.QUARTER: 3,
                PeriodKind.HALF: 6, PeriodKind.NINE_MONTHS: 9, PeriodKind.YEAR: 12}[self.kind]

    @cached_property
    def start(self) -> date:
        if self.kind is PeriodKind.WEEK:
            return date.fromisocalendar(self.year, self.index, 1)
        return date(self.year, (self.index - 1) * self.months + 1, 1)

    @cached_property
    def end(self) -> date:
        """The period's last day (inclusive)."""
        if self.kind is PeriodKind.WEEK:
            return self.start + timedelta(days=6)
        return self.start + relativedelta(months=self.months) - timedelta(days=1)

    def next(self) -> Period:
        if self.kind is PeriodKind.NINE_MONTHS:
            return Period(self.kind, self.year + 1)
        return Period.containing(self.kind, self.end + timedelta(days=1))

    def previous(self) -> Period:
        if self.kind is PeriodKind.NINE_MONTHS:
            return Period(self.kind, self.year - 1)
        return Period.containing(self.kind, self.start - timedelta(days=1))

    def label_vi(self) -> str:
        """The period in words, as officials write it: 'Quý I/2026', '6 tháng đầu năm 2026'."""
        if self.kind is PeriodKind.WEEK:
            return (f"Tuần {self.index}/{self.year} "
                    f"({self.start:%d/%m}–{self.end:%d/%m/%Y})")
        if self.kind is PeriodKind.MONTH:
            return f"Tháng {self.index}/{self.year}"
        if self.kind is PeriodKind.QUARTER:
            return f"Quý {ROMAN[self.index]}/{self.year}"
        if self.kind is PeriodKind.HALF:
            return f"6 tháng {'đầu' if self.index == 1 else 'cuối'} năm {self.year}"
        if self.kind is PeriodKind.NINE_MONTHS:
            return f"9 tháng đầu năm {self.year}"
        return f"Năm {self.year}"


# Shortest first: `LENGTH_ORDER.index(kind)` compares kinds by length (a week is the shortest).
LENGTH_ORDER = (PeriodKind.WEEK, PeriodKind.MONTH, PeriodKind.QUARTER, PeriodKind.HALF,
                PeriodKind.NINE_MONTHS, PeriodKind.YEAR)


def periods_in_years(kind: PeriodKind, first_year: int, last_year: int) -> list[Period]:
    """Every period of `kind` numbered in years first_year…last_year, in order (ISO years for
    weeks), so consecutive items are `p` and `p.next()`."""
    out: list[Period] = []
    for year in range(first_year, last_year + 1):
        top = _iso_weeks(year) if kind is PeriodKind.WEEK else _MAX_INDEX[kind]
        out.extend(Period(kind, year, index) for index in range(1, top + 1))
    return out




@lru_cache(maxsize=1024)  # every button and every answer names its period: parse each once
def _parse(period_id: str) -> Period:
    return Period._parse(period_id)
