"""Reading reports to import from a CSV or XLSX file (bot/table_files.py reads the table,
bot/domain/imports.py checks it). An Excel cell holding a number, a date or a tick box is
written out the way an officer would type it, so the chat's parser reads it exactly."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.domain.imports import UNIT_COLUMN
from bot.domain.templates import Template
from bot.table_files import Table, read_table


def read_report_table(path: Path, template: Template) -> Table:
    """Raises bot.table_files.TableFileError for a file that cannot be read."""
    return read_table(path, (UNIT_COLUMN, *template.question_ids), cell=typed_cell)


def typed_cell(value: Any) -> str:
    """An Excel value as text for `parse_answer`: 1234.5 → "1234,5" (the decimal comma: a
    point would read as a thousands mark), a date → "05/03/2026", TRUE → "có"."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "có" if value else "không"
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        whole, _, fraction = format(Decimal(repr(value)), "f").partition(".")
        if len(fraction) == 3:  # "1,234" would be refused as maybe thousands: "1,2340"
            fraction += "0"
        return f"{whole},{fraction}"
    return str(value)
