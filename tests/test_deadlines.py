"""Vietnamese deadline phrases → due instants, checked against the specification.

The due instant is the first moment a report is late: 00:00 local time (Asia/Ho_Chi_Minh by
default). `trước ngày D` is due at 00:00 on D; `chậm nhất/hạn/trong/đến hết ngày D` and a bare
`ngày D` are due at 00:00 on the day after D.
"""

from __future__ import annotations

import calendar
import unicodedata
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.deadlines import CHECK_YEARS, DeadlineError, check_rule_for, parse_deadline
from bot.domain.periods import Period, PeriodKind, periods_in_years

W, M, Q, H, Y = (PeriodKind.WEEK, PeriodKind.MONTH, PeriodKind.QUARTER, PeriodKind.HALF,
                 PeriodKind.YEAR)
ALL = (W, M, Q, H, Y)
MQHY = (M, Q, H, Y)
QHY = (Q, H, Y)
HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def unaccent(text: str) -> str:
    """The phrase as typed without diacritics (đ → d)."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


def iso_due(day: str, offset: str = "+07:00") -> str:
    return f"{day}T00:00:00{offset}"


# --- the examples quoted in the issue ------------------------------------------------------------

@pytest.mark.parametrize(
    ("phrase", "period_id", "expected"),
    [
        ("trước ngày 05 tháng cuối quý", "2026-Q1", "2026-03-05T00:00:00+07:00"),
        ("trước ngày 05 tháng cuối quý", "2026-H1", "2026-06-05T00:00:00+07:00"),
        ("trước ngày 15 tháng 11", "2026", "2026-11-15T00:00:00+07:00"),
        ("trước ngày 15 tháng 1", "2026", "2027-01-15T00:00:00+07:00"),
        ("chậm nhất ngày 20 hằng tháng", "2026-02", "2026-02-21T00:00:00+07:00"),
    ],
)
def test_issue_examples(phrase, period_id, expected):
    due = parse_deadline(phrase).due(Period.parse(period_id))
    assert due.isoformat() == expected
    assert due.tzinfo is not None


# --- the big table -------------------------------------------------------------------------------
# (phrase, period id, due date). `{d}` is replaced by each spelling of day 5.

DAY5 = ("05", "5", "mùng 5", "mồng 5")
INCLUSIVE = ("chậm nhất", "chậm nhất là", "hạn", "hạn chót", "trong", "đến hết")

BASE: list[tuple[str, str, str]] = [
    # trước ngày D tháng cuối quý
    ("trước ngày {d} tháng cuối quý", "2026-Q1", "2026-03-05"),
    ("trước ngày {d} tháng cuối quý", "2026-Q3", "2026-09-05"),
    ("trước ngày {d} tháng cuối quý", "2026-Q4", "2026-12-05"),
    ("trước ngày {d} tháng cuối quý", "2026-H1", "2026-06-05"),
    ("trước ngày {d} tháng cuối quý", "2026-H2", "2026-12-05"),
    ("trước ngày {d} tháng cuối quý", "2026", "2026-12-05"),
    ("trước ngày {d} tháng cuối quý", "2026-02", "2026-03-05"),
    ("trước {d} tháng cuối quý", "2026-Q2", "2026-06-05"),
    ("ngày {d} tháng cuối quý", "2026-Q1", "2026-03-06"),
    ("chậm nhất ngày 31 tháng cuối quý", "2026-Q1", "2026-04-01"),
    ("chậm nhất ngày 31 tháng cuối quý", "2026-Q2", "2026-07-01"),
    ("trước ngày 31 tháng cuối quý", "2026-Q2", "2026-06-30"),
    ("ngày 31 tháng cuối quý", "2026-Q4", "2027-01-01"),
    # hằng tháng / hàng tháng
    ("chậm nhất ngày 20 hằng tháng", "2026-02", "2026-02-21"),
    ("chậm nhất ngày 20 hàng tháng", "2026-02", "2026-02-21"),
    ("chậm nhất là ngày 20 hằng tháng", "2026-12", "2026-12-21"),
    ("chậm nhất ngày 20 hằng tháng", "2026-Q1", "2026-03-21"),
    ("chậm nhất ngày 20 hằng tháng", "2026-H2", "2026-12-21"),
    ("chậm nhất ngày 20 hằng tháng", "2026", "2026-12-21"),
    ("trước ngày {d} hằng tháng", "2026-03", "2026-03-05"),
    ("trước ngày {d} hàng tháng", "2026-12", "2026-12-05"),
    ("ngày {d} hằng tháng", "2026-03", "2026-03-06"),
    ("trong ngày {d} hằng tháng", "2026-03", "2026-03-06"),
    ("hạn chót ngày {d} hằng tháng", "2026-03", "2026-03-06"),
    ("đến hết ngày {d} hằng tháng", "2026-03", "2026-03-06"),
    ("hạn ngày {d} hằng tháng", "2026-03", "2026-03-06"),
    ("chậm nhất là ngày {d} hằng tháng", "2026-03", "2026-03-06"),
    ("ngày 30 hằng tháng", "2024-02", "2024-03-01"),
    ("ngày 30 hằng tháng", "2026-02", "2026-03-01"),
    ("trước ngày 30 hằng tháng", "2024-02", "2024-02-29"),
    ("trước ngày 29 hằng tháng", "2100-02", "2100-02-28"),
    ("chậm nhất ngày 29 hằng tháng", "2024-02", "2024-03-01"),
    ("chậm nhất ngày 31 hằng tháng", "2026-06", "2026-07-01"),
    ("trước ngày 31 hằng tháng", "2026-06", "2026-06-30"),
    ("chậm nhất ngày 31 hằng tháng", "2026-12", "2027-01-01"),
    # tháng đầu quý / tháng giữa quý
    ("trước ngày 10 tháng đầu quý", "2026-Q2", "2026-04-10"),
    ("trước ngày 10 tháng đầu quý", "2026-H1", "2026-04-10"),
    ("trước ngày 10 tháng đầu quý", "2026", "2026-10-10"),
    ("hạn chót ngày 10 tháng đầu quý", "2026-H2", "2026-10-11"),
    ("trước ngày {d} tháng đầu quý", "2026-Q1", "2026-01-05"),
    ("trước ngày 10 tháng giữa quý", "2026-Q3", "2026-08-10"),
    ("trước ngày 10 tháng giữa quý", "2026", "2026-11-10"),
    ("ngày {d} tháng giữa quý", "2026-H1", "2026-05-06"),
    ("chậm nhất ngày 31 tháng giữa quý", "2024-Q1", "2024-03-01"),
    ("chậm nhất ngày 31 tháng giữa quý", "2026-Q1", "2026-03-01"),
    ("trước ngày 31 tháng giữa quý", "2024-Q1", "2024-02-29"),
    ("trước ngày 30 tháng giữa quý", "2100-Q1", "2100-02-28"),
    # tháng cuối kỳ
    ("chậm nhất ngày 10 tháng cuối kỳ", "2026-H1", "2026-06-11"),
    ("chậm nhất ngày 10 tháng cuối kỳ", "2026", "2026-12-11"),
    ("chậm nhất ngày 10 tháng cuối kỳ", "2026-Q3", "2026-09-11"),
    ("chậm nhất ngày 10 tháng cuối kỳ", "2026-04", "2026-04-11"),
    ("trước ngày {d} tháng cuối kỳ", "2026-H2", "2026-12-05"),
    # tháng sau
    ("trước ngày {d} tháng sau", "2026-12", "2027-01-05"),
    ("trước ngày {d} tháng sau", "2026-01", "2026-02-05"),
    ("trước ngày {d} tháng sau", "2026-Q4", "2027-01-05"),
    ("trước ngày {d} tháng sau", "2026-H1", "2026-07-05"),
    ("trước ngày {d} tháng sau", "2026", "2027-01-05"),
    ("ngày {d} tháng sau", "2026-12", "2027-01-06"),
    ("chậm nhất ngày 31 tháng sau", "2024-01", "2024-03-01"),
    ("chậm nhất ngày 31 tháng sau", "2026-01", "2026-03-01"),
    ("trước ngày 30 tháng sau", "2024-01", "2024-02-29"),
    ("trước ngày 30 tháng sau", "2100-01", "2100-02-28"),
    ("chậm nhất ngày 31 tháng sau", "2026-11", "2027-01-01"),
    # tháng đầu quý sau
    ("trước ngày 10 tháng đầu quý sau", "2026-Q4", "2027-01-10"),
    ("trước ngày 10 tháng đầu quý sau", "2026-Q1", "2026-04-10"),
    ("trước ngày 10 tháng đầu quý sau", "2026-H1", "2026-07-10"),
    ("trước ngày 10 tháng đầu quý sau", "2026-H2", "2027-01-10"),
    ("trước ngày 10 tháng đầu quý sau", "2026", "2027-01-10"),
    ("trước ngày 10 tháng đầu quý sau", "2026-11", "2027-01-10"),
    ("trước ngày 10 tháng đầu quý sau", "2026-02", "2026-04-10"),
    ("ngày {d} tháng đầu quý sau", "2026-Q4", "2027-01-06"),
    ("chậm nhất ngày 31 tháng đầu quý sau", "2026-Q3", "2026-11-01"),
    # tháng M: the occurrence nearest the month holding the period's last day, never one named
    # before the period starts, a tie to the later; for periods of up to 6 months that is month M
    # of the period's year, or of the next when it would fall before the period starts, and on a
    # year report tháng 1–6 are the next year's, tháng 7–12 its own
    ("trước ngày 15 tháng 11", "2026", "2026-11-15"),
    ("trước ngày 15 tháng 11", "2026-H1", "2026-11-15"),
    ("trước ngày 15 tháng 11", "2026-H2", "2026-11-15"),
    ("trước ngày 15 tháng 11", "2026-Q4", "2026-11-15"),
    ("trước ngày 15 tháng 11", "2026-12", "2027-11-15"),
    ("ngày 15 tháng 11", "2026", "2026-11-16"),
    ("trước ngày 15 tháng 1", "2026-H2", "2027-01-15"),
    ("trước ngày 15 tháng 1", "2026-Q2", "2027-01-15"),
    ("trước ngày 15 tháng 01", "2026-H2", "2027-01-15"),
    ("chậm nhất ngày 15 tháng 1", "2026-H2", "2027-01-16"),
    ("trước ngày {d} tháng 3", "2026", "2027-03-05"),
    ("ngày 30 tháng 2", "2023", "2024-03-01"),
    ("ngày 30 tháng 2", "2026", "2027-03-01"),
    ("trước ngày 30 tháng 2", "2023", "2024-02-29"),
    ("trước ngày 30 tháng 2", "2026", "2027-02-28"),
    ("trước ngày 30 tháng 2", "2099", "2100-02-28"),
    ("trước ngày 29 tháng 2", "2023-H2", "2024-02-29"),
    ("trước ngày 29 tháng 2", "2024-H2", "2025-02-28"),
    ("chậm nhất ngày 31 tháng 6", "2026", "2027-07-01"),
    ("trước ngày 15 tháng 1", "2026", "2027-01-15"),
    ("trước ngày 15 tháng 01", "2026", "2027-01-15"),
    ("chậm nhất ngày 15 tháng 1", "2026", "2027-01-16"),
    ("trước ngày 15 tháng 6", "2026", "2027-06-15"),
    ("trước ngày 1 tháng 7", "2026", "2026-07-01"),
    ("trước ngày 15 tháng 12", "2026", "2026-12-15"),
    ("trước ngày 15 tháng 3", "2026-Q1", "2026-03-15"),
    ("trước ngày 15 tháng 3", "2026-Q2", "2027-03-15"),
    ("trước ngày 15 tháng 6", "2026-H2", "2027-06-15"),
    ("trước ngày 15 tháng 1", "2026-H1", "2026-01-15"),
    ("trước ngày 15 tháng 11", "2026-11", "2026-11-15"),
    ("ngày 30 tháng 12", "2026-W01", "2025-12-31"),
    ("ngày 30 tháng 12", "2026-W53", "2026-12-31"),
    ("chậm nhất ngày 31 tháng 6", "2026-H2", "2027-07-01"),
    # D/M
    ("trước ngày 15/11", "2026", "2026-11-15"),
    ("ngày 15/11", "2026", "2026-11-16"),
    ("trước ngày 5/1", "2026-H2", "2027-01-05"),
    ("trước ngày 05/01", "2026-H2", "2027-01-05"),
    ("chậm nhất ngày 30/2", "2023", "2024-03-01"),
    ("trước ngày 15/1", "2026", "2027-01-15"),
    ("trước ngày 15/01", "2026", "2027-01-15"),
    # a full date: a one-off deadline, whatever the period
    ("trước ngày 15 tháng 11 năm 2026", "2026", "2026-11-15"),
    ("trước ngày 15 tháng 11 năm 2026", "2026-Q1", "2026-11-15"),
    ("ngày 15 tháng 11 năm 2026", "2026-H2", "2026-11-16"),
    ("trước ngày 15/11/2026", "2026-03", "2026-11-15"),
    ("ngày 15/11/2026", "2026", "2026-11-16"),
    ("trước ngày 15-11-2026", "2026", "2026-11-15"),
    ("ngày 15-11-2026", "2026-Q4", "2026-11-16"),
    ("chậm nhất ngày 29/02/2024", "2024", "2024-03-01"),
    ("trước ngày 29-02-2024", "2024-Q1", "2024-02-29"),
    ("ngày 31/12/2026", "2026-Q1", "2027-01-01"),
    ("trước ngày 31/12/2026", "2026-W10", "2026-12-31"),
    ("ngày 30/2/2026", "2026", "2026-03-01"),
    ("trước ngày 30/2/2024", "2024", "2024-02-29"),
    ("trước ngày {d} tháng 3 năm 2027", "2026", "2027-03-05"),
    # no month words: the period's last month
    ("trước ngày {d}", "2026-03", "2026-03-05"),
    ("trước ngày {d}", "2026-Q1", "2026-03-05"),
    ("trước ngày {d}", "2026-H2", "2026-12-05"),
    ("trước ngày {d}", "2026", "2026-12-05"),
    ("ngày {d}", "2026-03", "2026-03-06"),
    ("trước {d}", "2026-03", "2026-03-05"),
    ("ngày 31", "2026-06", "2026-07-01"),
    ("trước ngày 31", "2026-06", "2026-06-30"),
    ("ngày 31", "2026-Q2", "2026-07-01"),
    ("ngày 31", "2024-02", "2024-03-01"),
    ("trước ngày 31", "2024-02", "2024-02-29"),
    ("trước ngày 29", "2100-02", "2100-02-28"),
    ("ngày 31", "2026-12", "2027-01-01"),
    ("ngày 31", "2026", "2027-01-01"),
    # N ngày sau khi kết thúc …: due the day after (end + N)
    ("10 ngày sau khi kết thúc quý", "2026-Q1", "2026-04-11"),
    ("10 ngày sau khi kết thúc quý", "2026-Q4", "2027-01-11"),
    ("trong vòng 15 ngày sau khi kết thúc năm", "2026", "2027-01-16"),
    ("15 ngày sau khi kết thúc năm", "2026", "2027-01-16"),
    ("5 ngày sau khi kết thúc tháng", "2024-02", "2024-03-06"),
    ("5 ngày sau khi kết thúc tháng", "2026-02", "2026-03-06"),
    ("trong vòng 10 ngày sau khi kết thúc tháng", "2026-12", "2027-01-11"),
    ("30 ngày sau khi kết thúc kỳ", "2026-H1", "2026-07-31"),
    ("trong vòng 20 ngày sau khi kết thúc quý", "2026-Q4", "2027-01-21"),
    ("60 ngày sau khi kết thúc năm", "2027", "2028-03-01"),
    ("60 ngày sau khi kết thúc năm", "2026", "2027-03-02"),
    ("3 ngày sau khi kết thúc kỳ", "2026-W53", "2027-01-07"),
    ("2 ngày sau khi kết thúc kỳ", "2026-W10", "2026-03-11"),
    ("05 ngày sau khi kết thúc tháng", "2026-03", "2026-04-06"),
    # … kết thúc quý/6 tháng/năm/tháng/tuần: the end of that unit holding the period's last day;
    # a unit no longer than the period (or kỳ, kỳ báo cáo, đợt, no word): the period's end
    ("10 ngày sau khi kết thúc quý", "2026-01", "2026-04-11"),
    ("10 ngày sau khi kết thúc quý", "2026-02", "2026-04-11"),
    ("10 ngày sau khi kết thúc quý", "2026-03", "2026-04-11"),
    ("10 ngày sau khi kết thúc quý", "2026-12", "2027-01-11"),
    ("trong vòng 15 ngày sau khi kết thúc năm", "2026-05", "2027-01-16"),
    ("15 ngày sau khi kết thúc năm", "2026-Q2", "2027-01-16"),
    ("15 ngày sau khi kết thúc năm", "2026-H1", "2027-01-16"),
    ("15 ngày sau khi kết thúc năm", "2026-H2", "2027-01-16"),
    ("5 ngày sau khi kết thúc 6 tháng", "2026-Q1", "2026-07-06"),
    ("5 ngày sau khi kết thúc 6 tháng", "2026-08", "2027-01-06"),
    ("5 ngày sau khi kết thúc 6 tháng", "2026-06", "2026-07-06"),  # June ends the half
    ("5 ngày sau khi kết thúc 6 tháng", "2026-Q2", "2026-07-06"),
    ("5 ngày sau khi kết thúc tháng", "2026-Q1", "2026-04-06"),
    ("5 ngày sau khi kết thúc tháng", "2026", "2027-01-06"),
    ("5 ngày sau khi kết thúc quý", "2026-H1", "2026-07-06"),
    ("5 ngày sau khi kết thúc tuần", "2026-02", "2026-03-06"),
    ("5 ngày sau khi kết thúc tuần", "2026-W10", "2026-03-14"),
    ("5 ngày sau khi kết thúc tháng", "2026-W09", "2026-04-06"),
    ("5 ngày sau khi kết thúc tháng", "2026-W08", "2026-03-06"),
    ("10 ngày sau khi kết thúc năm", "2026-W52", "2027-01-11"),
    ("10 ngày sau khi kết thúc năm", "2026-W53", "2028-01-11"),
    ("3 ngày sau khi kết thúc kỳ báo cáo", "2026-02", "2026-03-04"),
    ("3 ngày sau khi kết thúc đợt", "2026-02", "2026-03-04"),
    ("3 ngày sau khi kết thúc", "2026-02", "2026-03-04"),
    # ngày cuối tháng
    ("ngày cuối tháng", "2026-04", "2026-05-01"),
    ("ngày cuối tháng", "2024-02", "2024-03-01"),
    ("ngày cuối tháng", "2100-02", "2100-03-01"),
    ("ngày cuối tháng", "2026-12", "2027-01-01"),
    ("ngày cuối tháng", "2026-Q1", "2026-04-01"),
    ("chậm nhất ngày cuối tháng", "2026-06", "2026-07-01"),
    ("trước ngày cuối tháng", "2024-02", "2024-02-29"),
    ("trước ngày cuối tháng", "2026-02", "2026-02-28"),
    ("ngày cuối tháng sau", "2024-01", "2024-03-01"),
    ("ngày cuối tháng sau", "2026-12", "2027-02-01"),
    ("ngày cuối tháng cuối quý", "2026-H1", "2026-07-01"),
    ("ngày cuối tháng giữa quý", "2024-Q1", "2024-03-01"),
    ("ngày cuối tháng 2", "2023", "2024-03-01"),
    ("ngày cuối tháng 2", "2099", "2100-03-01"),
    ("ngày cuối tháng 6", "2026", "2027-07-01"),
    # weekdays; 2026-W10 is Mon 2026-03-02 … Sun 2026-03-08
    ("trước thứ Hai hằng tuần", "2026-W10", "2026-03-02"),
    ("thứ Hai hằng tuần", "2026-W10", "2026-03-03"),
    ("trước thứ Ba hằng tuần", "2026-W10", "2026-03-03"),
    ("thứ Ba hằng tuần", "2026-W10", "2026-03-04"),
    ("trước thứ Tư hằng tuần", "2026-W10", "2026-03-04"),
    ("thứ Tư hằng tuần", "2026-W10", "2026-03-05"),
    ("trước thứ Năm hằng tuần", "2026-W10", "2026-03-05"),
    ("thứ Năm hằng tuần", "2026-W10", "2026-03-06"),
    ("trước thứ Sáu hằng tuần", "2026-W10", "2026-03-06"),
    ("thứ Sáu hằng tuần", "2026-W10", "2026-03-07"),
    ("trước thứ Bảy hằng tuần", "2026-W10", "2026-03-07"),
    ("thứ Bảy hằng tuần", "2026-W10", "2026-03-08"),
    ("trước Chủ nhật hằng tuần", "2026-W10", "2026-03-08"),
    ("Chủ nhật hằng tuần", "2026-W10", "2026-03-09"),
    ("trước thứ 2 hằng tuần", "2026-W10", "2026-03-02"),
    ("thứ 2 hằng tuần", "2026-W10", "2026-03-03"),
    ("trước thứ 3 hằng tuần", "2026-W10", "2026-03-03"),
    ("trước thứ 4 hằng tuần", "2026-W10", "2026-03-04"),
    ("trước thứ 5 hằng tuần", "2026-W10", "2026-03-05"),
    ("trước thứ 6 hằng tuần", "2026-W10", "2026-03-06"),
    ("thứ 6 hằng tuần", "2026-W10", "2026-03-07"),
    ("trước thứ 7 hằng tuần", "2026-W10", "2026-03-07"),
    ("thứ 7 hằng tuần", "2026-W10", "2026-03-08"),
    ("trước CN hằng tuần", "2026-W10", "2026-03-08"),
    ("CN hằng tuần", "2026-W10", "2026-03-09"),
    ("thứ Sáu hàng tuần", "2026-W10", "2026-03-07"),
    ("chậm nhất thứ Sáu hằng tuần", "2026-W10", "2026-03-07"),
    ("chậm nhất là thứ Sáu hằng tuần", "2026-W10", "2026-03-07"),
    ("hạn chót thứ Sáu hằng tuần", "2026-W10", "2026-03-07"),
    ("trong thứ Sáu hằng tuần", "2026-W10", "2026-03-07"),
    ("đến hết thứ Sáu hằng tuần", "2026-W10", "2026-03-07"),
    # weeks at year ends and around 29 February
    ("trước thứ Sáu hằng tuần", "2026-W53", "2027-01-01"),
    ("Chủ nhật hằng tuần", "2026-W53", "2027-01-04"),
    ("trước thứ Hai hằng tuần", "2026-W53", "2026-12-28"),
    ("trước thứ Tư hằng tuần", "2026-W01", "2025-12-31"),
    ("thứ Tư hằng tuần", "2026-W01", "2026-01-01"),
    ("thứ 7 hằng tuần", "2020-W53", "2021-01-03"),
    ("trước thứ Năm hằng tuần", "2024-W09", "2024-02-29"),
    ("thứ Tư hằng tuần", "2024-W09", "2024-02-29"),
    ("thứ Năm hằng tuần", "2024-W09", "2024-03-01"),
    # leading filler
    ("gửi trước ngày {d} tháng cuối quý", "2026-Q1", "2026-03-05"),
    ("báo cáo gửi trước ngày {d} tháng cuối quý", "2026-H1", "2026-06-05"),
    ("nộp chậm nhất ngày 20 hằng tháng", "2026-02", "2026-02-21"),
    ("Báo cáo gửi chậm nhất ngày {d} tháng sau", "2026-12", "2027-01-06"),
    ("gửi trước thứ Sáu hằng tuần", "2026-W10", "2026-03-06"),
    ("nộp 10 ngày sau khi kết thúc quý", "2026-Q1", "2026-04-11"),
    ("gửi trong vòng 10 ngày sau khi kết thúc quý", "2026-Q1", "2026-04-11"),
]


def _variants(phrase: str) -> list[str]:
    spelled = [phrase.format(d=d) for d in DAY5] if "{d}" in phrase else [phrase]
    out: list[str] = []
    for text in spelled:
        for variant in (text, unaccent(text), text.upper(), unaccent(text).upper()):
            if variant not in out:
                out.append(variant)
    return out


TABLE = [
    pytest.param(variant, period_id, due, id=f"{unaccent(variant)}@{period_id}")
    for phrase, period_id, due in BASE
    for variant in _variants(phrase)
]


@pytest.mark.parametrize(("phrase", "period_id", "expected"), TABLE)
def test_due_table(phrase, period_id, expected):
    period = Period.parse(period_id)
    rule = parse_deadline(phrase)
    due = rule.due(period)
    assert due.isoformat() == iso_due(expected)
    assert rule.due_date(period).isoformat() == expected
    last = date.fromisoformat(expected) - timedelta(days=1)
    assert rule.last_on_time_day(period).isoformat() == last.isoformat()


@pytest.mark.parametrize("mode", INCLUSIVE)
@pytest.mark.parametrize("spelled", DAY5)
def test_inclusive_modes_are_due_the_day_after(mode, spelled):
    period = Period.parse("2026-Q1")
    inclusive = parse_deadline(f"{mode} ngày {spelled} tháng cuối quý").due(period)
    bare = parse_deadline(f"ngày {spelled} tháng cuối quý").due(period)
    before = parse_deadline(f"trước ngày {spelled} tháng cuối quý").due(period)
    assert inclusive.isoformat() == iso_due("2026-03-06")
    assert bare == inclusive
    assert before.isoformat() == iso_due("2026-03-05")


def test_decomposed_unicode_input_is_read():
    phrase = unicodedata.normalize("NFD", "Trước ngày 05 tháng cuối quý")
    assert parse_deadline(phrase).due(Period.parse("2026-Q1")).isoformat() == iso_due(
        "2026-03-05"
    )


def test_extra_white_space_and_final_full_stop_are_ignored():
    phrase = "  Chậm nhất   ngày 20\thằng tháng. "
    assert parse_deadline(phrase).due(Period.parse("2026-02")).isoformat() == iso_due(
        "2026-02-21"
    )


# --- time zones ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("tz", "expected"),
    [
        ("Asia/Ho_Chi_Minh", "2026-03-05T00:00:00+07:00"),
        ("Asia/Bangkok", "2026-03-05T00:00:00+07:00"),
        ("UTC", "2026-03-05T00:00:00+00:00"),
        ("Asia/Tokyo", "2026-03-05T00:00:00+09:00"),
        ("America/New_York", "2026-03-05T00:00:00-05:00"),
        (ZoneInfo("UTC"), "2026-03-05T00:00:00+00:00"),
        (ZoneInfo("Asia/Bangkok"), "2026-03-05T00:00:00+07:00"),
    ],
)
def test_time_zone_changes_the_offset_but_keeps_local_midnight(tz, expected):
    rule = parse_deadline("trước ngày 05 tháng cuối quý")
    period = Period.parse("2026-Q1")
    due = rule.due(period, tz)
    assert due.isoformat() == expected
    assert (due.date(), due.time()) == (date(2026, 3, 5), time(0))
    default = rule.due(period)
    assert default.isoformat() == "2026-03-05T00:00:00+07:00"
    offset, default_offset = due.utcoffset(), default.utcoffset()
    assert offset is not None and default_offset is not None
    assert due - default == default_offset - offset


def test_utc_due_instant_is_seven_hours_after_the_vietnamese_one():
    rule = parse_deadline("chậm nhất ngày 20 hằng tháng")
    period = Period.parse("2026-02")
    assert rule.due(period, "UTC") - rule.due(period) == timedelta(hours=7)


@pytest.mark.parametrize(
    ("period_id", "expected"),
    [("2026-Q1", "2026-03-31T00:00:00+02:00"), ("2026-Q4", "2026-12-31T00:00:00+01:00")],
)
def test_offset_follows_daylight_saving_on_the_due_day(period_id, expected):
    rule = parse_deadline("trước ngày 31 tháng cuối quý")
    assert rule.due(Period.parse(period_id), "Europe/Berlin").isoformat() == expected


# --- check_rule_for ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    "phrase",
    ["thứ Sáu hằng tuần", "trước thứ Ba hằng tuần", "CN hằng tuần", "trước thứ 7 hằng tuần"],
)
def test_weekday_rule_only_fits_weeks(phrase):
    rule = parse_deadline(phrase)
    assert check_rule_for(rule, W) is None
    for kind in (M, Q, H, Y):
        message = check_rule_for(rule, kind)
        assert isinstance(message, str)
        assert message


# (phrase, the kinds it fits). Every other kind is refused by the next test's table or above.
FITS: list[tuple[str, tuple[PeriodKind, ...]]] = [
    ("trước ngày 05 tháng cuối quý", MQHY),
    ("chậm nhất ngày 20 hằng tháng", MQHY),
    ("trước ngày 15 tháng 11", MQHY),
    ("trước ngày 15 tháng 1", MQHY),
    ("chậm nhất ngày 15 tháng 12", ALL),
    ("10 ngày sau khi kết thúc quý", ALL),
    ("0 ngày sau khi kết thúc năm", ALL),
    ("ngày cuối tháng", ALL),
    ("trước ngày cuối tháng", ALL),
    ("trước ngày 31", ALL),
    ("trước ngày 1 tháng sau", ALL),
    ("trước ngày 1 tháng đầu quý sau", ALL),
    ("trước ngày 10 tháng đầu quý", QHY),
    ("trước ngày 1 tháng 1", (Y,)),
    ("trước thứ Ba hằng tuần", (W,)),
    ("trước thứ Hai tuần sau", (W,)),
]


@pytest.mark.parametrize(("phrase", "kinds"), FITS)
def test_rules_fit_these_kinds(phrase, kinds):
    rule = parse_deadline(phrase)
    for kind in kinds:
        assert check_rule_for(rule, kind) is None, kind


# (a full date, the kind, the end of the message: the same day without the year when it fits)
ONE_OFF: list[tuple[str, PeriodKind, str]] = [
    ("trước ngày 15 tháng 11 năm 2020", Y, "without the year: 'trước ngày 15 tháng 11'"),
    ("chậm nhất ngày 15/11/2026", Q, "without the year: 'chậm nhất ngày 15 tháng 11'"),
    ("ngày 30/2/2026", H, "without the year: 'chậm nhất ngày 28 tháng 2'"),
    ("chậm nhất ngày 01/01/1901", M, "without the year: 'chậm nhất ngày 01 tháng 1'"),
    ("trước ngày 31/12/9998", W, "write a deadline that repeats (README: Deadline phrases)"),
    ("trước ngày 10-01-2027", W, "write a deadline that repeats (README: Deadline phrases)"),
]


@pytest.mark.parametrize(("phrase", "kind", "hint"), ONE_OFF)
def test_a_full_date_never_fits_a_recurring_report(phrase, kind, hint):
    """Every template recurs: with one fixed date, every period after it would be due before
    it starts and vanish from /baocao (review finding F6)."""
    rule = parse_deadline(phrase)
    message = check_rule_for(rule, kind)
    assert message is not None
    assert message.startswith(f"{phrase!r} names one day ({rule.fixed:%d/%m/%Y}), but a ")
    assert message.endswith(hint)
    if "without the year" in hint:  # the suggestion itself passes
        suggested = hint.split(": ", 1)[1].strip("'")
        assert check_rule_for(parse_deadline(suggested), kind) is None


# (phrase, kind, the first period of 2024–2051 due at or before its start, its due day, how
# many of the span's periods are, when it is plain). Each report here would vanish from /baocao.
REFUSED: list[tuple[str, PeriodKind, str, str, int | None]] = [
    ("trước ngày 10 tháng đầu quý", M, "2024-02", "10/01/2024 is before", 2 * 4 * 28),
    ("trước ngày 10 tháng giữa quý", M, "2024-03", "10/02/2024 is before", 4 * 28),
    ("chậm nhất ngày 20 hằng tháng", W, "2024-W04", "21/01/2024 is before", None),
    ("trước ngày 05 tháng cuối quý", W, "2024-W11", "05/03/2024 is before", None),
    ("trước ngày 1", M, "2024-01", "01/01/2024 is when", 12 * 28),
    ("trước ngày 1 tháng đầu quý", Q, "2024-Q1", "01/01/2024 is when", 4 * 28),
    ("trước ngày 1 tháng 7", H, "2024-H2", "01/07/2024 is when", 28),
    ("trước thứ Hai hằng tuần", W, "2024-W01", "01/01/2024 is when", 1461),
    # A week starting on 2 January needs 1 January on a Sunday: 2034, 2040, 2045, 2051 (none in
    # 2024–2031, the span first proposed for this check).
    ("trước ngày 2 tháng 1", W, "2034-W01", "02/01/2034 is when", 4),
]


@pytest.mark.parametrize(("phrase", "kind", "period_id", "due", "count"), REFUSED)
def test_rules_due_at_or_before_a_period_starts_are_refused(phrase, kind, period_id, due,
                                                             count):
    rule = parse_deadline(phrase)
    message = check_rule_for(rule, kind)
    assert message is not None
    period = Period.parse(period_id)
    assert period.kind is kind
    assert f"due {due} the period {period_id} starts ({period.start:%d/%m/%Y})" in message
    assert repr(phrase) in message
    late = [p for p in periods_in_years(kind, *CHECK_YEARS) if rule.due_date(p) <= p.start]
    assert late[0] == period
    assert f"true of {len(late)} of the " in message
    assert count is None or len(late) == count


def test_the_check_spans_a_whole_cycle_of_the_calendar():
    first, last = CHECK_YEARS
    assert last - first + 1 == 28  # 1901–2099: weekdays and leap years repeat every 28 years
    shapes = {(date(y, 1, 1).weekday(), calendar.isleap(y)) for y in range(first, last + 1)}
    assert len(shapes) == 14


# --- unreadable phrases ----------------------------------------------------------------------

UNREADABLE = [
    "abc",
    "hôm nay",
    "trước",
    "ngày",
    "mùng",
    "hằng tháng",
    "tháng 5",
    "thứ Tám hằng tuần",
    "trước ngày 32",
    "ngày 0",
    "trước ngày 00 tháng sau",
    "ngày 99 hằng tháng",
    "ngày 5 tháng 13",
    "ngày 5 tháng 0",
    "ngày 5/13",
    "ngày 5/0/2026",
    "trước ngày 5 tháng kia",
    "ngày 5 tháng cuối",
    "ngày 5 hằng tuần",
    "trước ngày 5 ngày 6",
    "ngày 5/6/20266",
    "sau khi kết thúc quý",
    "ngày sau khi kết thúc quý",
    "trước ngày năm tháng cuối quý",
    "deadline: 5th of the month",
    "Trước Ngày X Tháng Sau",
]


@pytest.mark.parametrize("phrase", UNREADABLE)
def test_unreadable_phrases_raise_deadline_error_naming_the_phrase(phrase):
    with pytest.raises(DeadlineError) as info:
        parse_deadline(phrase)
    assert phrase in str(info.value)


@pytest.mark.parametrize("phrase", ["", " ", "\t\n"])
def test_empty_phrases_raise_deadline_error(phrase):
    with pytest.raises(DeadlineError):
        parse_deadline(phrase)


@pytest.mark.parametrize("value", [None, 5, b"ngay 5"])
def test_non_text_raises_deadline_error(value):
    with pytest.raises(DeadlineError):
        parse_deadline(value)


def test_deadline_error_is_a_value_error():
    assert issubclass(DeadlineError, ValueError)


# --- properties ------------------------------------------------------------------------------

VOCABULARY = [
    "trước", "truoc", "chậm nhất", "cham nhat", "là", "hạn", "chót", "trong", "vòng", "đến",
    "hết", "ngày", "ngay", "mùng", "mồng", "tháng", "thang", "hằng", "hàng", "cuối", "đầu",
    "giữa", "quý", "kỳ", "sau", "năm", "thứ", "Hai", "Ba", "Tư", "Năm", "Sáu", "Bảy",
    "Chủ nhật", "CN", "tuần", "khi", "kết thúc", "gửi", "báo cáo", "nộp", "của", "cùng",
    "/", "-", ".", ",", "0", "00", "5", "05", "12", "13", "28", "29", "30", "31", "32", "99",
    "366", "367", "999", "1899", "2024", "2026", "9999",
]
WORDS = st.one_of(
    st.sampled_from(VOCABULARY),
    st.integers(min_value=0, max_value=100_000).map(str),
    st.text(max_size=3),
)
VOCAB_TEXT = st.lists(WORDS, max_size=10).map(" ".join)


def _check_parse_total(text: str) -> None:
    try:
        parse_deadline(text)
    except DeadlineError as exc:
        named = text.strip()
        message = str(exc)
        assert named in message or repr(named) in message, (text, message)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_arbitrary_text_either_parses_or_raises_deadline_error(text):
    _check_parse_total(text)


@settings(max_examples=300, deadline=None)
@given(VOCAB_TEXT)
def test_vocabulary_text_either_parses_or_raises_deadline_error(text):
    _check_parse_total(text)


# Real phrases and the period kinds whose periods they can serve as a repeating deadline.
REAL_RULES: list[tuple[str, tuple[PeriodKind, ...]]] = [
    ("trước ngày 05 tháng cuối quý", QHY),
    ("chậm nhất ngày 20 hằng tháng", MQHY),
    ("trước ngày 15 tháng 11", (Y,)),
    ("trước ngày 5 tháng 1", (Y,)),
    ("đến hết ngày 30 tháng 2", (Y,)),
    ("10 ngày sau khi kết thúc quý", ALL),
    ("trong vòng 60 ngày sau khi kết thúc năm", ALL),
    ("0 ngày sau khi kết thúc kỳ", ALL),
    ("5 ngày sau khi kết thúc 6 tháng", ALL),
    ("trong vòng 10 ngày sau khi kết thúc tháng", ALL),
    ("3 ngày sau khi kết thúc tuần", ALL),
    ("trước thứ Sáu hằng tuần", (W,)),
    ("Chủ nhật hằng tuần", (W,)),
    ("trước thứ Hai hằng tuần", (W,)),
    ("ngày cuối tháng", MQHY),
    ("trước ngày cuối tháng", MQHY),
    ("trước ngày 31", MQHY),
    ("ngày 31 tháng sau", MQHY),
    ("trước ngày mùng 1 tháng sau", MQHY),
    ("trước ngày 10 tháng đầu quý sau", QHY),
    ("hạn chót ngày 25 tháng giữa quý", QHY),
    ("trong ngày 1 tháng đầu quý", QHY),
    ("trước ngày 1 tháng đầu quý", QHY),
    ("chậm nhất là ngày 5 tháng cuối kỳ", MQHY),
    ("gửi trước ngày 05", MQHY),
]
COUNTED_UNITS = {"tuần": W, "tháng": M, "quý": Q, "6 tháng": H, "năm": Y}
PERIOD_DAYS = st.dates(min_value=date(1901, 1, 1), max_value=date(9990, 12, 31))


@st.composite
def rule_and_period(draw, rules=REAL_RULES):
    phrase, kinds = draw(st.sampled_from(rules))
    kind = draw(st.sampled_from(kinds))
    return phrase, Period.containing(kind, draw(PERIOD_DAYS))


@settings(max_examples=300, deadline=None)
@given(rule_and_period())
def test_due_is_local_midnight_and_increases_period_after_period(case):
    phrase, period = case
    rule = parse_deadline(phrase)
    due = rule.due(period)
    assert due.tzinfo is not None
    if due.year >= 1976:  # before 1975 the south of Viet Nam kept +08:00
        assert due.utcoffset() == timedelta(hours=7)
    assert due.time() == time(0)
    assert due == datetime.combine(rule.due_date(period), time(0), tzinfo=HCM)
    assert rule.last_on_time_day(period) == rule.due_date(period) - timedelta(days=1)
    following = period.next()
    # "… sau khi kết thúc quý/năm" counts from the end of the quarter/year holding the period's
    # last day, so consecutive months (or weeks…) inside one quarter share a due instant: there
    # the order is non-decreasing; everywhere else strictly increasing.
    unit = next((k for w, k in COUNTED_UNITS.items() if phrase.endswith(f"kết thúc {w}")), None)
    if unit and Period.containing(unit, period.end) == Period.containing(unit, following.end):
        assert rule.due(following) == due, (phrase, period.id, following.id)
    else:
        assert rule.due(following) > due, (phrase, period.id, following.id)
    assert rule.due(period, "UTC").time() == time(0)


@settings(max_examples=300, deadline=None)
@given(rule_and_period())
def test_spelling_does_not_change_the_due_instant(case):
    phrase, period = case
    due = parse_deadline(phrase).due(period)
    for spelled in (unaccent(phrase), phrase.upper(), phrase.lower(), unaccent(phrase).upper(),
                    f"gửi {phrase}", f"báo cáo gửi {phrase}", f"nộp {phrase}",
                    unicodedata.normalize("NFD", phrase)):
        assert parse_deadline(spelled).due(period) == due, spelled


# Day-of-month templates; with D ≤ 27 no day is clamped and no inclusive shift lands on 29 Feb.
STABLE_TEMPLATES: list[tuple[str, tuple[PeriodKind, ...]]] = [
    ("trước ngày {D} tháng cuối quý", QHY),
    ("chậm nhất ngày {D} hằng tháng", MQHY),
    ("ngày {D} tháng sau", MQHY),
    ("trước ngày {D} tháng {M}", MQHY),
    ("đến hết ngày {D}/{M}", MQHY),
    ("hạn chót ngày {D} tháng đầu quý sau", QHY),
    ("trong ngày {D} tháng giữa quý", QHY),
    ("mùng {D} tháng đầu quý", QHY),
    ("trước ngày {D}", MQHY),
    ("chậm nhất là ngày {D} tháng cuối kỳ", MQHY),
]
INDEX_TOP = {M: 12, Q: 4, H: 2, Y: 1}


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(STABLE_TEMPLATES).flatmap(
        lambda t: st.tuples(st.just(t[0]), st.sampled_from(t[1]))
    ),
    st.integers(min_value=1, max_value=27),
    st.integers(min_value=1, max_value=12),
    st.integers(min_value=1901, max_value=2500),
    st.integers(min_value=1, max_value=400),
    st.data(),
)
def test_day_of_month_due_is_stable_across_years(template_kind, day, month, year, k, data):
    template, kind = template_kind
    index = data.draw(st.integers(min_value=1, max_value=INDEX_TOP[kind]))
    rule = parse_deadline(template.format(D=day, M=month))
    first = rule.due_date(Period(kind, year, index))
    later = rule.due_date(Period(kind, year + k, index))
    assert (later.month, later.day) == (first.month, first.day)
    assert later.year - first.year == k


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["{N} ngày sau khi kết thúc kỳ", "trong vòng {N} ngày sau khi kết thúc kỳ"]),
    st.integers(min_value=0, max_value=366),
    st.sampled_from(MQHY),
    st.integers(min_value=1901, max_value=2050),
    st.integers(min_value=1, max_value=12),
    st.data(),
)
def test_days_after_end_is_stable_across_years(template, n, kind, year, k, data):
    # k is a multiple of 4 and all years lie in 1901–2099, so leap years line up.
    index = data.draw(st.integers(min_value=1, max_value=INDEX_TOP[kind]))
    rule = parse_deadline(template.format(N=n))
    first_period = Period(kind, year, index)
    later_period = Period(kind, year + 4 * k, index)
    first, later = rule.due_date(first_period), rule.due_date(later_period)
    assert first - first_period.end == timedelta(days=n + 1)
    assert later - later_period.end == timedelta(days=n + 1)
    assert (later.month, later.day) == (first.month, first.day)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=1, max_value=31),
    st.sampled_from(["", "hằng tháng", "tháng cuối quý", "tháng đầu quý", "tháng giữa quý",
                     "tháng cuối kỳ", "tháng sau", "tháng đầu quý sau", "tháng 2", "tháng 7"]),
    st.sampled_from((*INCLUSIVE, "")),
    rule_and_period(rules=[("", MQHY)]),
)
def test_truoc_is_exactly_one_day_earlier_than_the_inclusive_forms(day, words, mode, case):
    _, period = case
    before = parse_deadline(f"trước ngày {day} {words}").due(period)
    inclusive = parse_deadline(f"{mode} ngày {day} {words}".strip()).due(period)
    assert inclusive - before == timedelta(days=1)


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy",
                     "Chủ nhật", "thứ 2", "thứ 3", "thứ 4", "thứ 5", "thứ 6", "thứ 7", "CN"]),
    st.sampled_from((*INCLUSIVE, "")),
    rule_and_period(rules=[("", (W,))]),
)
def test_weekday_truoc_is_one_day_earlier_and_inside_the_week(weekday, mode, case):
    _, period = case
    before = parse_deadline(f"trước {weekday} hằng tuần").due_date(period)
    inclusive = parse_deadline(f"{mode} {weekday} hằng tuần".strip()).due_date(period)
    assert inclusive - before == timedelta(days=1)
    assert period.start <= before <= period.end
    assert before.isocalendar()[:2] == (period.year, period.index)


@settings(max_examples=100, deadline=None)
@given(rule_and_period(rules=[("", ALL)]))
def test_full_date_is_a_one_off_deadline(case):
    _, period = case
    rule = parse_deadline("chậm nhất ngày 15/11/2026")
    assert rule.due(period).isoformat() == iso_due("2026-11-16")


# --- grammar-generated phrases against an independent reading of the specification -----------

MODES = [("trước", 0), *((mode, 1) for mode in INCLUSIVE), ("", 1)]
DAY_SPELLINGS = ["{}", "ngày {}", "ngày 0{}", "mùng {}", "mồng {}", "ngày mùng {}", "ngày mồng {}"]
MONTH_WORDS = ["", "hằng tháng", "hàng tháng", "tháng cuối quý", "tháng đầu quý",
               "tháng giữa quý", "tháng cuối kỳ", "tháng sau", "tháng đầu quý sau",
               "tháng 1", "tháng 02", "tháng 6", "tháng 12", "/3", "/11"]
FILLERS = ["", "gửi ", "báo cáo gửi ", "nộp "]
CASINGS = [lambda s: s, unaccent, str.upper, lambda s: unaccent(s).upper()]


def _clamp(year: int, month: int, day: int | None) -> date:
    last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, last if day is None or day > last else day)


def expected_due_date(inclusive: int, day: int | None, words: str, period: Period) -> date:
    """The due date as the specification words it, computed independently of the engine."""
    end = period.end
    quarter_first = (end.month - 1) // 3 * 3 + 1
    if words.startswith(("tháng ", "/")) and words.split()[-1].lstrip("/").isdigit():
        # Of the days D of month M not before the period starts, the one whose month is nearest
        # the month holding the period's last day; a tie goes to the later.
        month = int(words.split()[-1].lstrip("/"))
        candidates = [_clamp(y, month, day) for y in range(end.year - 3, end.year + 4)]
        named = min((c for c in candidates if c >= period.start),
                    key=lambda c: (abs(c.year * 12 + c.month - end.year * 12 - end.month),
                                   -c.year))
        return named + timedelta(days=inclusive)
    year, month = {
        "": (end.year, end.month),
        "hằng tháng": (end.year, end.month),
        "hàng tháng": (end.year, end.month),
        "tháng cuối kỳ": (end.year, end.month),
        "tháng đầu quý": (end.year, quarter_first),
        "tháng giữa quý": (end.year, quarter_first + 1),
        "tháng cuối quý": (end.year, quarter_first + 2),
        "tháng sau": (end.year + end.month // 12, end.month % 12 + 1),
        "tháng đầu quý sau": (end.year + quarter_first // 10, (quarter_first + 2) % 12 + 1),
    }[words]
    return _clamp(year, month, day) + timedelta(days=inclusive)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(MODES),
    st.integers(min_value=1, max_value=31),
    st.sampled_from(DAY_SPELLINGS),
    st.sampled_from(MONTH_WORDS),
    st.sampled_from(FILLERS),
    st.sampled_from(CASINGS),
    rule_and_period(rules=[("", MQHY)]),
)
def test_generated_day_of_month_phrases(mode_incl, day, spelling, words, filler, casing, case):
    mode, inclusive = mode_incl
    _, period = case
    if "0{}" in spelling and day >= 10:
        spelling = spelling.replace("0{}", "{}")
    day_text = spelling.format(day)
    tail = words if words.startswith("/") else f" {words}"
    phrase = casing(" ".join(f"{filler}{mode} {day_text}{tail}".split()))
    rule = parse_deadline(phrase)
    expected = expected_due_date(inclusive, day, words, period)
    assert rule.due_date(period) == expected, phrase
    assert rule.due(period) == datetime.combine(expected, time(0), tzinfo=HCM), phrase


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(MODES),
    st.sampled_from(["ngày cuối tháng", "ngày cuối cùng của tháng", "ngày cuối tháng cuối quý",
                     "ngày cuối tháng sau", "ngày cuối tháng đầu quý sau", "ngày cuối tháng 2"]),
    st.sampled_from(CASINGS),
    rule_and_period(rules=[("", MQHY)]),
)
def test_generated_last_day_phrases(mode_incl, text, casing, case):
    mode, inclusive = mode_incl
    _, period = case
    words = {"ngày cuối tháng": "", "ngày cuối cùng của tháng": ""}.get(
        text, text.removeprefix("ngày cuối ")
    )
    rule = parse_deadline(casing(f"{mode} {text}".strip()))
    assert rule.due_date(period) == expected_due_date(inclusive, None, words, period), text


WEEKDAY_SPELLINGS = [("thứ Hai", 0), ("thứ 2", 0), ("thứ Ba", 1), ("thứ 3", 1), ("thứ Tư", 2),
                     ("thứ 4", 2), ("thứ Năm", 3), ("thứ 5", 3), ("thứ Sáu", 4), ("thứ 6", 4),
                     ("thứ Bảy", 5), ("thứ 7", 5), ("Chủ nhật", 6), ("CN", 6)]


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(MODES),
    st.sampled_from(WEEKDAY_SPELLINGS),
    st.sampled_from(["hằng tuần", "hàng tuần"]),
    st.sampled_from(FILLERS),
    st.sampled_from(CASINGS),
    rule_and_period(rules=[("", (W,))]),
)
def test_generated_weekday_phrases(mode_incl, weekday, tail, filler, casing, case):
    mode, inclusive = mode_incl
    name, offset = weekday
    _, period = case
    phrase = casing(" ".join(f"{filler}{mode} {name} {tail}".split()))
    rule = parse_deadline(phrase)
    assert rule.due_date(period) == period.start + timedelta(days=offset + inclusive), phrase


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["", "trong vòng "]),
    st.integers(min_value=0, max_value=120),
    st.sampled_from(["kỳ", "tuần", "tháng", "quý", "6 tháng", "năm"]),
    st.sampled_from(FILLERS),
    st.sampled_from(CASINGS),
    rule_and_period(rules=[("", ALL)]),
)
def test_generated_days_after_end_phrases(prefix, n, unit, filler, casing, case):
    _, period = case
    rule = parse_deadline(casing(f"{filler}{prefix}{n} ngày sau khi kết thúc {unit}"))
    assert rule.due_date(period) == counted_end(unit, period) + timedelta(days=n + 1)


def counted_end(unit: str, period: Period) -> date:
    """The day "… sau khi kết thúc UNIT" counts from: the last day of the UNIT holding the
    period's last day (for a shorter unit that is the period's own last day)."""
    end = period.end
    last_month = {"kỳ": end.month, "tuần": end.month, "tháng": end.month,
                  "quý": (end.month + 2) // 3 * 3, "6 tháng": 6 if end.month <= 6 else 12,
                  "năm": 12}[unit]
    if unit in ("kỳ", "tuần"):  # the period itself; a week is never longer than a period
        return end
    return _clamp(end.year, last_month, None)


# --- the check at load, beyond the years it looks at -------------------------------------------

OTHER_PHRASES = ["{n} ngày sau khi kết thúc {unit}", "trước thứ Hai hằng tuần",
                 "thứ Hai hằng tuần", "trước CN hằng tuần", "trước thứ Hai tuần sau"]


@st.composite
def any_phrase(draw):
    if draw(st.booleans()):
        mode, _ = draw(st.sampled_from(MODES))
        day = draw(st.integers(min_value=1, max_value=31))
        words = draw(st.sampled_from(MONTH_WORDS))
        tail = words if words.startswith("/") else f" {words}"
        return " ".join(f"{mode} ngày {day}{tail}".split())
    return draw(st.sampled_from(OTHER_PHRASES)).format(
        n=draw(st.integers(min_value=0, max_value=40)),
        unit=draw(st.sampled_from(["kỳ", "tuần", "tháng", "quý", "6 tháng", "năm"])))


@settings(max_examples=300, deadline=None)
@given(any_phrase(), st.sampled_from(ALL),
       st.dates(min_value=date(1901, 1, 1), max_value=date(2099, 12, 31)))
def test_a_rule_that_passes_the_check_is_due_after_every_period_starts(phrase, kind, day):
    # The check looks at 2024–2051 only; the 28-year cycle makes that hold for 1901–2099.
    rule = parse_deadline(phrase)
    period = Period.containing(kind, day)
    if check_rule_for(rule, kind) is None:
        assert rule.due_date(period) > period.start, (phrase, period.id)


def old_fixed_month(day: int, month: int, period: Period) -> date:
    """'tháng M' as read before: month M of the period's year, or of the next year when that
    day is before the period starts."""
    named = _clamp(period.year, month, day)
    return named if named >= period.start else _clamp(period.year + 1, month, day)


@pytest.mark.parametrize("kind", [M, Q, H, Y])
def test_nearest_month_m_changes_only_the_first_half_on_year_reports(kind):
    # Periods of up to 6 months read "tháng M" as before; a year report reads tháng 1–6 as the
    # next year's. Every period of 28 years (a whole calendar cycle), month and clamping case.
    for period in periods_in_years(kind, *CHECK_YEARS):
        for month in range(1, 13):
            for day in (1, 15, 28, 29, 30, 31):
                got = parse_deadline(f"trước ngày {day} tháng {month}").due_date(period)
                old = old_fixed_month(day, month, period)
                if kind is Y and month <= 6:
                    assert got == _clamp(period.year + 1, month, day), (period.id, month, day)
                else:
                    assert got == old, (period.id, month, day)


# --- the nine-month report ("báo cáo 9 tháng": January–September) ------------------------------

NINE = PeriodKind.NINE_MONTHS
NINE_TABLE: list[tuple[str, str]] = [
    ("trước ngày 05 tháng 9", "2026-09-05"),
    ("trước ngày 15 tháng cuối kỳ", "2026-09-15"),  # the period's last month: September
    ("trước ngày 05 tháng cuối quý", "2026-09-05"),  # the quarter holding its last day: Q3
    ("trước ngày 05 tháng đầu quý", "2026-07-05"),
    ("chậm nhất ngày 20 hằng tháng", "2026-09-21"),
    ("chậm nhất ngày 10 tháng sau", "2026-10-11"),
    ("trước ngày 1 tháng đầu quý sau", "2026-10-01"),
    ("trước ngày 15 tháng 10", "2026-10-15"),
    ("10 ngày sau khi kết thúc kỳ", "2026-10-11"),
    ("10 ngày sau khi kết thúc 9 tháng", "2026-10-11"),
    ("10 ngày sau khi kết thúc quý", "2026-10-11"),  # a quarter is shorter: the period's end
    ("10 ngày sau khi kết thúc năm", "2027-01-11"),
    # Due before the period ends, as the plans' own half-year report "trước ngày 05 tháng cuối
    # quý" is (a report made in the last month): accepted, since it is due after it opens.
    ("trước ngày 1", "2026-09-01"),
    ("trước ngày 1 tháng 1", "2027-01-01"),  # the January nearest September: the next one
]


@pytest.mark.parametrize(("phrase", "due"), NINE_TABLE)
def test_nine_month_due_table(phrase, due):
    rule = parse_deadline(phrase)
    assert rule.due(Period.parse("2026-9M")) == datetime.fromisoformat(iso_due(due))
    assert check_rule_for(rule, NINE) is None


# (phrase, kind, what the refusal says): phrases that mean nothing on these periods.
NINE_REFUSED: list[tuple[str, PeriodKind, str]] = [
    ("trước thứ Sáu hằng tuần", NINE, "only fits weekly reports"),
    ("trước ngày 15 tháng 11 năm 2020", NINE,
     "but a nine-month report recurs: every period after that day would be late before it "
     "opens and never show in /baocao; write it without the year: 'trước ngày 15 tháng 11'"),
    # The nine months hold no day of October–December: a report of those months or of the
    # fourth quarter has no "end of the nine months" to count from.
    ("10 ngày sau khi kết thúc 9 tháng", M,
     "on a monthly report: '10 ngày sau khi kết thúc 9 tháng': the period 2024-10 ends after "
     "September, outside the nine months (January–September)"),
    ("10 ngày sau khi kết thúc 9 tháng", Q, "the period 2024-Q4 ends after September"),
    ("10 ngày sau khi kết thúc 9 tháng", H, "the period 2024-H2 ends after September"),
]


@pytest.mark.parametrize(("phrase", "kind", "says"), NINE_REFUSED)
def test_nine_month_phrases_without_meaning_are_refused(phrase, kind, says):
    message = check_rule_for(parse_deadline(phrase), kind)
    assert message is not None and says in message, message


def test_after_the_nine_months_counts_from_30_september_for_shorter_periods():
    rule = parse_deadline("10 ngày sau khi kết thúc 9 tháng")
    for period_id in ("2026-02", "2026-Q2", "2026-H1", "2026-W20"):
        assert rule.due_date(Period.parse(period_id)) == date(2026, 10, 11), period_id
    assert check_rule_for(rule, Y) is None  # a year is longer: its own end
    assert rule.due_date(Period.parse("2026")) == date(2027, 1, 11)
    with pytest.raises(DeadlineError, match="2026-11 ends after September"):
        rule.due_date(Period.parse("2026-11"))
