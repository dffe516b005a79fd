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

from bot.domain.periods import Period, PeriodKind
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
    FIXED_MONTH = "fixed_month"  # tháng M


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
            return period.end + timedelta(days=self.days_after)
        if self.anchor is Anchor.WEEKDAY:
            monday = period.end - timedelta(days=period.end.weekday())
            return monday + timedelta(days=self.weekday + 7 * self.week_offset)
        year, month = self._month_of(period)
        named = _clamped(year, month, self.day)
        if self.month_ref is MonthRef.FIXED_MONTH and named < period.start:
            named = _clamped(year + 1, month, self.day)
        return named

    def due_date(self, period: Period) -> date:
        """The local calendar day at whose 00:00 the report becomes late."""
        named = self.named_day(period)
        return named + timedelta(days=1) if self.inclusive else named

    def due(self, period: Period, tz: str | ZoneInfo = "Asia/Ho_Chi_Minh") -> datetime:
        """The due instant: 00:00 local time on `due_date`."""
        zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
        return datetime.combine(self.due_date(period), time(0), tzinfo=zone)

    def last_on_time_day(self, period: Period) -> date:
        return self.due_date(period) - timedelta(days=1)

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
        if ref is MonthRef.NEXT_QUARTER_FIRST:
            return _add_months(end.year, quarter_first, 3)
        assert self.month is not None
        return period.year, self.month


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
    r"(?:\s+(?:ky bao cao|ky|thang|quy|6 thang|nam|tuan|dot))?$"
)
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
        return DeadlineRule(original, Anchor.AFTER_END, inclusive=True, days_after=n)

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


def check_rule_for(rule: DeadlineRule, kind: PeriodKind) -> str | None:
    """Why this rule does not fit periods of this kind, or None when it does."""
    if rule.anchor is Anchor.WEEKDAY and kind is not PeriodKind.WEEK:
        return "a weekday deadline ('thứ Sáu hằng tuần') only fits weekly reports"
    return None
