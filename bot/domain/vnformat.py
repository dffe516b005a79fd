"""Numbers and dates printed the Vietnamese way: 1.234,5 and 05/03/2026 (via Babel's vi locale)."""

from __future__ import annotations

from datetime import date, datetime

from babel.numbers import format_decimal


def number(value: float | int, max_decimals: int = 2) -> str:
    """1234.5 → '1.234,5'; 12.0 → '12'."""
    pattern = "#,##0" + ("." + "#" * max_decimals if max_decimals else "")
    return str(format_decimal(value, format=pattern, locale="vi_VN"))


def percent(value: float | int) -> str:
    """85.5 → '85,5%'."""
    return number(value, 1) + "%"


def day(value: date | datetime) -> str:
    """A date as dd/mm/yyyy."""
    return f"{value:%d/%m/%Y}"


def moment(value: datetime) -> str:
    """A local time as 'HH:MM ngày dd/mm/yyyy'."""
    return f"{value:%H:%M} ngày {value:%d/%m/%Y}"
