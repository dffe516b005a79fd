"""Reading unit lists from CSV or XLSX files with columns code,name,parent_code,level and an
optional org (files without it keep loading: every unit then inherits no org). How the file
is read (separators, `sep=` lines, byte order mark, XLSX): bot/table_files.py."""

from __future__ import annotations

from pathlib import Path

from bot.domain.units import UnitRow
from bot.table_files import TableFileError, read_table
from bot.table_files import detect_delimiter as _detect

COLUMNS = ("code", "name", "parent_code", "level")
OPTIONAL = ("org",)
UnitFileError = TableFileError  # the name callers catch


def read_unit_rows(path: Path) -> list[UnitRow]:
    """Rows with their line numbers (the header is line 1)."""
    table = read_table(path, (*COLUMNS, *OPTIONAL))
    header = table.header
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise UnitFileError(f"{path}: line {table.header_line}: missing column(s) "
                            f"{', '.join(missing)} (need {','.join(COLUMNS)})")
    idx = {c: header.index(c) for c in (*COLUMNS, *OPTIONAL) if c in header}
    rows = []
    for line, cells in table.rows:

        def cell(col: str, cells: list[str] = cells) -> str:
            i = idx.get(col)
            return cells[i] if i is not None and i < len(cells) else ""

        rows.append(UnitRow(line, cell("code"), cell("name"), cell("parent_code"), cell("level"),
                            cell("org")))
    return rows


def detect_delimiter(header: str) -> str:
    """The separator of a unit list's header line (see bot.table_files.detect_delimiter)."""
    return _detect(header, (*COLUMNS, *OPTIONAL))
