"""Reading unit lists from CSV or XLSX files with columns code,name,parent_code,level and an
optional org (files without it keep loading: every unit then inherits no org).

A CSV may be separated by commas, semicolons (what Excel saves in the Vietnamese locale, where
the comma is the decimal mark) or tabs (copied from a spreadsheet). The separator is decided
from the header line alone: the one that splits it into the known column names. Not
`csv.Sniffer`: it guesses from how often characters recur across sample lines, and unit names
are full of commas, spaces and repeated letters ("Đoàn xã A, huyện B"), so it picks wrong
separators or gives up on short files; the header, whose names are known, cannot mislead.
A first line `sep=;` (Excel writes one, and reads it, to name the separator) is obeyed.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from bot.domain.units import UnitRow

COLUMNS = ("code", "name", "parent_code", "level")
OPTIONAL = ("org",)
DELIMITERS = (",", ";", "\t")
# Excel's separator line: `sep=;`, `sep=,`, `sep=` and a tab (or the two characters \t).
SEP_LINE = re.compile(r"\"?sep=(,|;|\t|\\t)\"?[ \r\n]*", re.IGNORECASE)


class UnitFileError(Exception):
    """The file cannot be read as a unit list; the message names the file."""


def read_unit_rows(path: Path) -> list[UnitRow]:
    """Rows with their line numbers (the header is line 1)."""
    if not path.exists():
        raise UnitFileError(f"{path}: file not found")
    suffix = path.suffix.lower()
    header_line = 1  # 2 after a `sep=` line
    if suffix == ".csv":
        table, header_line = _read_csv(path)
    elif suffix in (".xlsx", ".xlsm"):
        table = _read_xlsx(path)
    else:
        raise UnitFileError(f"{path}: expected a .csv or .xlsx file")
    while table and not any(c.strip() for c in table[0]):  # blank lines above the header
        table = table[1:]
        header_line += 1
    if not table:
        raise UnitFileError(f"{path}: the file is empty")
    header = [h.strip().lower() for h in table[0]]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise UnitFileError(f"{path}: line {header_line}: missing column(s) "
                            f"{', '.join(missing)} (need {','.join(COLUMNS)})")
    idx = {c: header.index(c) for c in (*COLUMNS, *OPTIONAL) if c in header}
    rows = []
    for line, cells in enumerate(table[1:], start=header_line + 1):
        if not any(c.strip() for c in cells):
            continue

        def cell(col: str, cells: list[str] = cells) -> str:
            i = idx.get(col)
            return cells[i] if i is not None and i < len(cells) else ""

        rows.append(UnitRow(line, cell("code"), cell("name"), cell("parent_code"), cell("level"),
                            cell("org")))
    return rows


def _read_csv(path: Path) -> tuple[list[list[str]], int]:
    """The table, and the header's line number in the file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise UnitFileError(f"{path}: not UTF-8 text (save the CSV as UTF-8)") from e
    lines = text.splitlines(keepends=True)
    sep = SEP_LINE.fullmatch(lines[0]) if lines else None
    if sep:
        delimiter = "\t" if sep.group(1) in ("\t", "\\t") else sep.group(1)
        return [list(r) for r in csv.reader(lines[1:], delimiter=delimiter)], 2
    header = next((line for line in lines if line.strip()), "")
    return [list(r) for r in csv.reader(lines, delimiter=detect_delimiter(header))], 1


def detect_delimiter(header: str) -> str:
    """The separator that splits the header line into the most known column names; a comma
    when none does (the missing-column message then shows what was expected)."""
    def known(delimiter: str) -> int:
        cells = next(csv.reader([header], delimiter=delimiter), [])
        return sum(1 for c in cells if c.strip().lower() in (*COLUMNS, *OPTIONAL))

    return max(DELIMITERS, key=known)  # ties keep the first: a comma


def _read_xlsx(path: Path) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many kinds for a damaged file
        raise UnitFileError(f"{path}: cannot open as an Excel workbook ({e})") from e
    try:
        sheet = wb.worksheets[0]
        return [["" if v is None else str(v) for v in row]
                for row in sheet.iter_rows(values_only=True)]
    finally:
        wb.close()
