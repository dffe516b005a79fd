"""Numbers and dates printed the Vietnamese way: 1.234,5 and 05/03/2026 (via Babel's vi locale)."""

from __future__ import annotations

import decimal
from datetime import date, datetime
from functools import lru_cache

from babel import Locale
from babel.numbers import NumberPattern, parse_pattern

VI = Locale.parse("vi_VN")


@lru_cache(maxsize=8)
def _pattern(max_decimals: int) -> NumberPattern:
    return parse_pattern("#,##0" + ("." + "#" * max_decimals if max_decimals else ""))


@lru_cache(maxsize=4096, typed=True)  # Babel formats slowly; the same figures recur
def number(value: float | int, max_decimals: int = 2) -> str:
    """1234.5 → '1.234,5'; 12.0 → '12'; -0.001 → '0' (never '-0')."""
    try:
        text = str(_pattern(max_decimals).apply(value, VI))
    except decimal.InvalidOperation:  # 10^26 and up: beyond Babel's 28 digits of rounding
        grouped = (f"{value:,}" if isinstance(value, int)
                   else f"{value:,.{max_decimals}f}".rstrip("0").rstrip(".") if max_decimals
                   else f"{value:,.0f}")
        text = grouped.translate(str.maketrans(",.", ".,"))
    # Babel keeps the sign of what rounds to zero; the cache also takes -0.0 and 0.0 for one
    # key, so they must print alike.
    return "0" if text == "-0" else text


def percent(value: float | int) -> str:
    """85.5 → '85,5%'."""
    return number(value, 1) + "%"


def day(value: date | datetime) -> str:
    """A date as dd/mm/yyyy."""
    return f"{value:%d/%m/%Y}"


def moment(value: datetime) -> str:
    """A local time as 'HH:MM ngày dd/mm/yyyy'."""
    return f"{value:%H:%M} ngày {value:%d/%m/%Y}"
