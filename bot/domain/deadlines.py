"""Vietnamese deadline phrases → due instants.

A *due instant* is the first moment at which a report is late, in the configured time zone:
"trước ngày 05" is due at 00:00 on the 5th; "chậm nhất ngày 20" at 00:00 on the 21st.
Phrases are read with or without diacritics, in any case; see `parse_deadline`.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

from bot.domain.periods import LENGTH_ORDER, Period, PeriodKind, periods_in_years
from bot.domain.text import fold


class DeadlineError(ValueError):
    """A deadline phrase that cannot be read; the message says what was expected."""


class MonthRef(StrEnum):
    PERIOD_LAST = "period_last"  # hằng tháng, tháng cuối kỳ, or no month given
    QUARTER_FIRST = "quarter_first"
    QUARTER_MIDDLE = "quarter_middle"
    QUARTER_LAST = "quarter_last"
    NEXT = "next"  # tháng sau
    NEXT_QUARTER_FIRST = "next_quarter_first"  # tháng đầu quý sau
    FIXED_MONTH = "fixed_month"  # tháng M: the occurrence nearest the period's end (named_day)


class Anchor(StrEnum):
    DAY_OF_MONTH = "day_of_month"
    FIXED_DATE = "fixed_date"
    AFTER_END = "after_end"
    WEEKDAY = "weekday"


@dataclass(frozen=True)
class DeadlineRule:
    """A parsed deadline phrase; `due(period, tz)` gives the due instant for any period."""

    phrase: str
    anchor: Anchor
    inclusive: bool = False  # True: the named day is still on time (due the day after)
    day: int | None = None  # None with DAY_OF_MONTH means the month's last day
    month_ref: MonthRef = MonthRef.PERIOD_LAST
    month: int | None = None
    fixed: date | None = None
    days_after: int = 0
    after: PeriodKind | None = None  # AFTER_END: whose end counts ("quý"); None: the period's
    weekday: int = 0  # Monday = 0
    week_offset: int = 0  # 1 = the week after the period's week

    @property
    def weekly_only(self) -> bool:
        return self.anchor is Anchor.WEEKDAY

    def named_day(self, period: Period) -> date:
        """The day the phrase names for this period (before the `inclusive` shift)."""
        if self.anchor is Anchor.FIXED_DATE:
            assert self.fixed is not None
            return self.fixed
        if self.anchor is Anchor.AFTER_END:
            return self._end_counted(period) + timedelta(days=self.days_after)
        if self.anchor is Anchor.WEEKDAY:
            monday = period.end - timedelta(days=period.end.weekday())
            return monday + timedelta(days=self.weekday + 7 * self.week_offset)
        if self.month_ref is MonthRef.FIXED_MONTH:
            return self._nearest_fixed_month(period)
        return _clamped(*self._month_of(period), self.day)

    def due_date(self, period: Period) -> date:
        """The local calendar day at whose 00:00 the report becomes late."""
        try:
            named = self.named_day(period)
            return named + timedelta(days=1) if self.inclusive else named
        except OverflowError:  # only periods of 9998 reach it: say so, not a traceback
            raise DeadlineError(f"{self.phrase!r}: for {period.id} the due day is past the "
                                "year 9999") from None

    def due(self, period: Period, tz: str | ZoneInfo = "Asia/Ho_Chi_Minh") -> datetime:
        """The due instant: 00:00 local time on `due_date`."""
        zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
        return datetime.combine(self.due_date(period), time(0), tzinfo=zone)

    def last_on_time_day(self, period: Period) -> date:
        return self.due_date(period) - timedelta(days=1)

    def _end_counted(self, period: Period) -> date:
        """The last day of the `after` unit holding the period's last day ("10 ngày sau khi kết
        thúc quý" on report 2026-02 counts from 31/03); a unit no longer than the period (or
        none) counts from the period's own end."""
        unit, end = self.after, period.end
        if unit is None or LENGTH_ORDER.index(unit) <= LENGTH_ORDER.index(period.kind):
            return end
        # Longer than the period, so a month or more: its last month holds its last day. (Plain
        # dates, not Period: a week of 9998 may end in 9999, past Period's range.)
        if unit is PeriodKind.NINE_MONTHS and end.month > 9:
            raise DeadlineError(f"{self.phrase!r}: the period {period.id} ends after September, "
                                "outside the nine months (January–September)")
        last_month = {PeriodKind.MONTH: end.month, PeriodKind.QUARTER: (end.month + 2) // 3 * 3,
                      PeriodKind.HALF: 6 if end.month <= 6 else 12, PeriodKind.NINE_MONTHS: 9,
                      PeriodKind.YEAR: 12}[unit]
        return _clamped(end.year, last_month, None)

    def _nearest_fixed_month(self, period: Period) -> date:
        """Day D of the occurrence of month M nearest the month holding the period's last day,
        never one named before the period starts; a tie goes to the later one. On a year report
        tháng 1–6 is the next year's, tháng 7–12 its own; on shorter periods this is month M of
        the period's year, or of the next year when that is named before the period starts."""
        assert self.month is not None
        end = period.end
        best: tuple[int, date] | None = None
        for year in range(end.year - 1, min(end.year + 1, 9999) + 1):  # ascending: ties → later
            named = _clamped(year, self.month, self.day)
            if named < period.start:
                continue
            distance = abs((year - end.year) * 12 + self.month - end.month)
            if best is None or distance <= best[0]:
                best = (distance, named)
        assert best is not None  # the next year's occurrence is always after the start
        return best[1]

    def _month_of(self, period: Period) -> tuple[int, int]:
        end = period.end
        quarter_first = (end.month - 1) // 3 * 3 + 1
        ref = self.month_ref
        if ref is MonthRef.PERIOD_LAST:
            return end.year, end.month
        if ref is MonthRef.QUARTER_FIRST:
            return end.year, quarter_first
        if ref is MonthRef.QUARTER_MIDDLE:
            return end.year, quarter_first + 1
        if ref is MonthRef.QUARTER_LAST:
            return end.year, quarter_first + 2
        if ref is MonthRef.NEXT:
            return _add_months(end.year, end.month, 1)
        assert ref is MonthRef.NEXT_QUARTER_FIRST, ref  # FIXED_MONTH: _nearest_fixed_month
        return _add_months(end.year, quarter_first, 3)


def _add_months(year: int, month: int, n: int) -> tuple[int, int]:
    total = year * 12 + month - 1 + n
    return total // 12, total % 12 + 1


def _clamped(year: int, month: int, day: int | None) -> date:
    """Day `day` of the month, or the month's last day when it has fewer days (or day is None)."""
    last = calendar.monthrange(year, month)[1]
    return date(year, month, last if day is None or day > last else day)


# --- the parser -------------------------------------------------------------------------------

_FILLER = re.compile(r"^(?:(?:bao cao|gui ve|gui len|gui|nop ve|nop|hoan thanh)\s+)+")
_TRAILING = re.compile(
    r"\s+(?:hang nam|hang nam|moi nam|cua nam|trong nam|hang quy|moi quy|hang ky|moi ky)$"
)
# "trước" names the first late day; every other mode names the last on-time day.
_MODE = (r"(?:(?P<mode>truoc|cham nhat la|cham nhat|han chot la|han chot|han la|han|trong"
         r"|den het|den)\s+)?")
_DAY = r"(?:ngay\s+)?(?:(?:mung|mong)\s+)?(?P<day>\d{1,2})"
_MONTH_WORDS: list[tuple[str, MonthRef]] = [
    ("hang thang", MonthRef.PERIOD_LAST),
    ("thang cuoi quy", MonthRef.QUARTER_LAST),
    ("thang dau quy sau", MonthRef.NEXT_QUARTER_FIRST),
    ("thang dau cua quy sau", MonthRef.NEXT_QUARTER_FIRST),
    ("thang dau quy", MonthRef.QUARTER_FIRST),
    ("thang giua quy", MonthRef.QUARTER_MIDDLE),
    ("thang cuoi ky bao cao", MonthRef.PERIOD_LAST),
    ("thang cuoi ky", MonthRef.PERIOD_LAST),
    ("thang sau", MonthRef.NEXT),
    ("thang ke tiep", MonthRef.NEXT),
    ("thang tiep theo", MonthRef.NEXT),
]
_MONTH_NUM = re.compile(r"^(?:thang\s+(?P<m>\d{1,2})(?:\s+nam\s+(?P<y>\d{4}))?"
                        r"|/(?P<m2>\d{1,2})(?:/(?P<y2>\d{4}))?)$")
_AFTER_END = re.compile(
    r"^(?:trong vong\s+|trong\s+|cham nhat\s+|han\s+)?(?P<n>\d{1,3}) ngay\s+"
    r"(?:sau khi|sau|ke tu(?: ngay)?|tinh tu(?: ngay)?)\s+ket thuc"
    r"(?:\s+(?P<unit>ky bao cao|ky|thang|quy|6 thang|9 thang|nam|tuan|dot))?$"
)
# The unit whose end "N ngày sau khi kết thúc …" counts from; kỳ, đợt or no word: the period.
_AFTER_UNITS: dict[str | None, PeriodKind | None] = {
    None: None, "ky bao cao": None, "ky": None, "dot": None, "tuan": PeriodKind.WEEK,
    "thang": PeriodKind.MONTH, "quy": PeriodKind.QUARTER, "6 thang": PeriodKind.HALF,
    "9 thang": PeriodKind.NINE_MONTHS, "nam": PeriodKind.YEAR,
}
_WEEKDAYS = {"hai": 0, "2": 0, "ba": 1, "3": 1, "tu": 2, "4": 2, "nam": 3, "5": 3,
             "sau": 4, "6": 4, "bay": 5, "7": 5}
_WEEKDAY = re.compile(
    r"^" + _MODE + r"(?:ngay\s+)?(?:thu\s+(?P<wd>hai|ba|tu|nam|sau|bay|[2-7])|(?P<sun>chu nhat|cn))"
    r"(?:\s+(?P<which>hang tuan|moi tuan|trong tuan|cua tuan|tuan do|tuan sau|cua tuan sau))?$"
)
_EXAMPLES = ("'trước ngày 05 tháng cuối quý', 'chậm nhất ngày 20 hằng tháng', "
             "'trước ngày 15 tháng 11', '10 ngày sau khi kết thúc quý', 'trước thứ Sáu hằng tuần'")


def _normalise(phrase: str) -> str:
    text = fold(phrase)
    text = re.sub(r"[,;:!?()\"'“”.*]+", " ", text)
    text = re.sub(r"(\d)\s*[-/]\s*(?=\d)", r"\1/", text)  # 15-11-2026, 15 / 11 → 15/11...
    text = re.sub(r"\s+", " ", text).strip()
    text = _FILLER.sub("", text)
    return _TRAILING.sub("", text)


@lru_cache(maxsize=4096)
def parse_deadline(phrase: str) -> DeadlineRule:
    """Read a Vietnamese deadline phrase into a rule; raise DeadlineError if it is not one.

    Cached: rules are immutable and templates ask for theirs on every event."""
    if not isinstance(phrase, str) or not phrase.strip():
        raise DeadlineError("empty deadline phrase")
    text = _normalise(phrase)
    original = phrase.strip()

    m = _AFTER_END.match(text)
    if m:
        n = int(m.group("n"))
        if n > 366:
            raise DeadlineError(f"{original!r}: {n} days is more than a year")
        return DeadlineRule(original, Anchor.AFTER_END, inclusive=True, days_after=n,
                            after=_AFTER_UNITS[m.group("unit")])

    m = _WEEKDAY.match(text)
    if m:
        weekday = 6 if m.group("sun") else _WEEKDAYS[m.group("wd")]
        inclusive = m.group("mode") != "truoc"
        offset = 1 if (m.group("which") or "").endswith("tuan sau") else 0
        return DeadlineRule(original, Anchor.WEEKDAY, inclusive=inclusive, weekday=weekday,
                            week_offset=offset)

    return _parse_day_of_month(original, text)


def _parse_day_of_month(original: str, text: str) -> DeadlineRule:
    head = re.match(r"^" + _MODE, text)
    mode = head.group("mode") if head and head.group("mode") else None
    rest = text[head.end():] if head else text
    inclusive = mode != "truoc"

    last = re.match(r"^ngay cuoi(?: cung)?(?: cua)?\s*", rest)
    day: int | None
    if last:
        day = None
        rest = rest[last.end():]
        if rest == "thang":
            rest = ""
        elif rest.startswith("thang ") and not any(
            rest.startswith(w) for w, _ in _MONTH_WORDS
        ) and not _MONTH_NUM.match(rest):
            rest = rest[len("thang "):]
    else:
        m = re.match(r"^" + _DAY + r"(?=\s|/|$)\s*", rest)
        if not m:
            raise DeadlineError(f"{original!r}: no day found; write e.g. {_EXAMPLES}")
        day = int(m.group("day"))
        if not 1 <= day <= 31:
            raise DeadlineError(f"{original!r}: day {day} does not exist (1–31)")
        rest = rest[m.end():]
    rest = re.sub(r"^cua\s+", "", rest).strip()

    if not rest:
        return DeadlineRule(original, Anchor.DAY_OF_MONTH, inclusive=inclusive, day=day)
    for words, ref in _MONTH_WORDS:
        if rest == words:
            return DeadlineRule(original, Anchor.DAY_OF_MONTH, inclusive=inclusive, day=day,
                                month_ref=ref)
    m = _MONTH_NUM.match(rest)
    if m:
        month = int(m.group("m") or m.group("m2"))
        year_text = m.group("y") or m.group("y2")
        if not 1 <= month <= 12:
            raise DeadlineError(f"{original!r}: month {month} does not exist (1–12)")
        if year_text:
            year = int(year_text)
            if not 1900 <= year <= 9998:
                raise DeadlineError(f"{original!r}: year {year} is out of range")
            return DeadlineRule(original, Anchor.FIXED_DATE, inclusive=inclusive,
                                fixed=_clamped(year, month, day))
        return DeadlineRule(original, Anchor.DAY_OF_MONTH, inclusive=inclusive, day=day,
                            month_ref=MonthRef.FIXED_MONTH, month=month)
    raise DeadlineError(
        f"{original!r}: cannot read the month part {rest!r}; write e.g. {_EXAMPLES}"
    )


# From 1901 to 2099 the calendar repeats every 28 years, so these years hold every alignment of
# weekdays, month lengths and leap years (and every sequence of them) that periods can have.
CHECK_YEARS = (2024, 2051)
_KIND_WORD = {PeriodKind.WEEK: "weekly", PeriodKind.MONTH: "monthly",
              PeriodKind.QUARTER: "quarterly", PeriodKind.HALF: "half-yearly",
              PeriodKind.NINE_MONTHS: "nine-month", PeriodKind.YEAR: "yearly"}


@lru_cache(maxsize=len(PeriodKind))
def _check_periods(kind: PeriodKind) -> tuple[Period, ...]:
    return tuple(periods_in_years(kind, *CHECK_YEARS))  # Periods cache their start and end


@lru_cache(maxsize=1024)  # every config load checks every template: compute each pair once
def check_rule_for(rule: DeadlineRule, kind: PeriodKind) -> str | None:
    """Why this rule does not fit periods of this kind, or None when it does.

    A rule fits when every period of the kind in CHECK_YEARS is due after it starts: a report
    due at or before its period starts is late before it opens, and never shows in /baocao.
    A full date ("… năm 2026") never fits: every template recurs, and each period after that
    date would be due before it starts."""
    if rule.anchor is Anchor.WEEKDAY and kind is not PeriodKind.WEEK:
        return "a weekday deadline ('thứ Sáu hằng tuần') only fits weekly reports"
    if rule.anchor is Anchor.FIXED_DATE:
        return _one_off_refused(rule, kind)
    periods = _check_periods(kind)
    for p in periods:
        try:
            rule.due_date(p)
        except DeadlineError as e:  # e.g. "sau khi kết thúc 9 tháng" on a report of November
            return f"on a {_KIND_WORD[kind]} report: {e}"
    late = [(p, due) for p in periods if (due := rule.due_date(p)) <= p.start]
    if not late:
        return None
    period, due = late[0]
    when = "before" if due < period.start else "when"
    return (f"{rule.phrase!r} on a {_KIND_WORD[kind]} report: due {due:%d/%m/%Y} is {when} the "
            f"period {period.id} starts ({period.start:%d/%m/%Y}), so the report is late before "
            f"it opens (true of {len(late)} of the {len(periods)} periods of "
            f"{CHECK_YEARS[0]}–{CHECK_YEARS[1]})")


def _one_off_refused(rule: DeadlineRule, kind: PeriodKind) -> str:
    assert rule.fixed is not None
    day = rule.fixed
    mode = "chậm nhất ngày" if rule.inclusive else "trước ngày"
    yearly = f"{mode} {day.day:02d} tháng {day.month}"  # the same day, every year
    hint = (f"write it without the year: {yearly!r}" if check_rule_for(parse_deadline(yearly), kind)
            is None else "write a deadline that repeats (README: Deadline phrases)")
    return (f"{rule.phrase!r} names one day ({day:%d/%m/%Y}), but a {_KIND_WORD[kind]} report "
            f"recurs: every period after that day would be late before it opens and never show "
            f"in /baocao; {hint}")
