"""Reading a table (a header line of known column names, then rows) from a CSV or XLSX file:
the unit list (bot/unit_files.py) and reports imported by an admin (bot/report_files.py).

A CSV may be separated by commas, semicolons (what Excel saves in the Vietnamese locale, where
the comma is the decimal mark) or tabs (copied from a spreadsheet). The separator is decided
from the header line alone: the one that splits it into the known column names. Not
`csv.Sniffer`: it guesses from how often characters recur across sample lines, and unit names
are full of commas, spaces and repeated letters ("Đoàn xã A, huyện B"), so it picks wrong
separators or gives up on short files; the header, whose names are known, cannot mislead.
A first line `sep=;` (Excel writes one, and reads it, to name the separator) is obeyed. A
UTF-8 byte order mark (Excel's "CSV UTF-8") is dropped.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DELIMITERS = (",", ";", "\t")
# Excel's separator line: `sep=;`, `sep=,`, `sep=` and a tab (or the two characters \t).
SEP_LINE = re.compile(r"\"?sep=(,|;|\t|\\t)\"?[ \r\n]*", re.IGNORECASE)


class TableFileError(Exception):
    """The file cannot be read as a table; the message names the file."""


@dataclass(frozen=True)
class Table:
    header: list[str]  # stripped, lower case
    rows: list[tuple[int, list[str]]]  # (file line, cells), blank lines left out
    header_line: int


def read_table(path: Path, known: Collection[str],
               cell: Callable[[Any], str] | None = None) -> Table:
    """The table of a .csv (UTF-8) or .xlsx file; `known`: the column names that tell the CSV
    separator; `cell`: how an XLSX cell value becomes text (default: str, None as "")."""
    if not path.exists():
        raise TableFileError(f"{path}: file not found")
    suffix = path.suffix.lower()
    header_line = 1  # 2 after a `sep=` line
    if suffix == ".csv":
        table, header_line = _read_csv(path, known)
    elif suffix in (".xlsx", ".xlsm"):
        table = _read_xlsx(path, cell or _plain)
    else:
        raise TableFileError(f"{path}: expected a .csv or .xlsx file")
    while table and not any(c.strip() for c in table[0]):  # blank lines above the header
        table = table[1:]
        header_line += 1
    if not table:
        raise TableFileError(f"{path}: the file is empty")
    header = [h.strip().lower() for h in table[0]]
    rows = [(line, cells) for line, cells in enumerate(table[1:], start=header_line + 1)
            if any(c.strip() for c in cells)]
    return Table(header, rows, header_line)


def _plain(value: Any) -> str:
    return "" if value is None else str(value)


def _read_csv(path: Path, known: Collection[str]) -> tuple[list[list[str]], int]:
    """The table, and the header's line number in the file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise TableFileError(f"{path}: not UTF-8 text (save the CSV as UTF-8)") from e
    lines = text.splitlines(keepends=True)
    sep = SEP_LINE.fullmatch(lines[0]) if lines else None
    if sep:
        delimiter = "\t" if sep.group(1) in ("\t", "\\t") else sep.group(1)
        return _cells(path, lines[1:], delimiter, 1), 2
    header = next((line for line in lines if line.strip()), "")
    return _cells(path, lines, detect_delimiter(header, known), 0), 1


def _cells(path: Path, lines: list[str], delimiter: str, skipped: int) -> list[list[str]]:
    """Strictly: a double quote never closed (a file cut short while it was written or
    copied) swallowed the rest of the file into one cell; now it names the line."""
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    rows: list[list[str]] = []
    start = 1  # the line the row being read starts on (a quoted cell may span lines)
    try:
        for row in reader:
            rows.append(list(row))
            start = reader.line_num + 1
    except csv.Error as e:
        raise TableFileError(f"{path}: line {start + skipped}: {e} (a double quote not "
                             "closed? the file may be cut short)") from e
    return rows


def detect_delimiter(header: str, known: Collection[str]) -> str:
    """The separator that splits the header line into the most known column names; a comma
    when none does (the missing-column message then shows what was expected)."""
    def count(delimiter: str) -> int:
        cells = next(csv.reader([header], delimiter=delimiter), [])
        return sum(1 for c in cells if c.strip().lower() in known)

    return max(DELIMITERS, key=count)  # ties keep the first: a comma


def _read_xlsx(path: Path, cell: Callable[[Any], str]) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many kinds for a damaged file
        raise TableFileError(f"{path}: cannot open as an Excel workbook ({e})") from e
    try:
        sheet = wb.worksheets[0]
        values = [list(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        wb.close()
    if any(v is None for row in values for v in row):
        _refuse_uncomputed(path, values)
    return [[cell(v) for v in row] for row in values]


def _refuse_uncomputed(path: Path, values: list[list[Any]]) -> None:
    """A workbook written by a script (openpyxl, pandas) keeps formulas without their results:
    such a cell reads as empty, which would drop a figure silently. Name the first one."""
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    wb = load_workbook(path, read_only=True, data_only=False)
    try:
        rows = wb.worksheets[0].iter_rows(values_only=True)
        for line, (row, formulas) in enumerate(zip(values, rows, strict=False), start=1):
            for i, (v, f) in enumerate(zip(row, formulas, strict=False), start=1):
                if v is None and isinstance(f, str) and f.startswith("="):
                    raise TableFileError(
                        f"{path}: row {line}, column {get_column_letter(i)}: the formula {f} "
                        "has no computed value (the file was not saved by a spreadsheet "
                        "program): open and save it in Excel or LibreOffice, or type the value")
    finally:
        wb.close()
