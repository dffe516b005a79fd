"""check_import, the pure part of `baocao units import`."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from bot.domain.templates import Level
from bot.domain.units import Unit, UnitRow, check_import
from bot.unit_files import detect_delimiter, read_unit_rows


def rows(*lines: tuple[str, str, str, str]) -> list[UnitRow]:
    return [UnitRow(i, *line) for i, line in enumerate(lines, start=2)]


def test_codes_are_stripped_and_nfc() -> None:
    nfd = unicodedata.normalize("NFD", "Hồ")
    units, errors = check_import(rows((f" {nfd} ", "Huyện đoàn Hồ", "", "huyen"),
                                      ("Hồ-01", "Đoàn xã", f"{nfd} ", "xa")), {})
    assert not errors
    assert [(u.code, u.parent_code) for u in units] == [("Hồ", None), ("Hồ-01", "Hồ")]
    assert all(unicodedata.is_normalized("NFC", u.code) for u in units)


def test_a_code_stored_before_normalisation_keeps_its_spelling() -> None:
    """Re-importing the same file must update that unit, not add a look-alike beside it."""
    stored = unicodedata.normalize("NFD", "Hồ")
    existing = {stored: Unit(stored, "Huyện đoàn Hồ", None, Level.HUYEN)}
    units, errors = check_import(rows(("Hồ", "Huyện đoàn Hồ mới", "", "huyen"),
                                      ("Hồ-01", "Đoàn xã", "Hồ", "xa")), existing)
    assert not errors
    assert [(u.code, u.parent_code) for u in units] == [(stored, None), ("Hồ-01", stored)]


def test_children_of_a_refused_row_get_no_follow_on_error() -> None:
    _, errors = check_import(rows(("A-1", "Xã", "A", "xa"), ("A", "Tỉnh", "A", "tinh"),
                                  ("B", "Xã", "", "bang"), ("B-1", "Xã", "B", "xa"),
                                  ("C-1", "Xã", "C", "xa")), {})
    assert errors == ["line 3: unit 'A' is its own parent", "line 4: unknown level 'bang' "
                      "(use tinh, huyen or xa)", "line 6: unknown parent 'C' of 'C-1'"]


def test_names_are_nfc_too() -> None:
    units, errors = check_import(rows(("H", unicodedata.normalize("NFD", "Huyện đoàn Hồ"), "",
                                       "huyen")), {})
    assert not errors and units[0].name == unicodedata.normalize("NFC", "Huyện đoàn Hồ")


def test_a_cycle_is_reported_once() -> None:
    _, errors = check_import(rows(("A", "Một", "C", "huyen"), ("B", "Hai", "A", "huyen"),
                                  ("C", "Ba", "B", "huyen")), {})
    assert errors == ["line 2: cycle in parents: A → C → B → A"]


@pytest.mark.parametrize(("header", "expected"), [
    ("code;name;parent_code;level", ";"), ("Code ; Name ; Parent_Code ; Level", ";"),
    ("LEVEL\tCODE\tNAME\tPARENT_CODE", "\t"), ("code,name,parent_code,level", ","),
    ("mã;tên", ","),  # nothing known: a comma, so the message names the expected columns
])
def test_the_separator_is_the_one_that_splits_the_header_into_known_names(
        header: str, expected: str) -> None:
    assert detect_delimiter(header) == expected


@pytest.mark.xfail(strict=True, reason="real bug found by the mutation review: the separator "
                   "is read from the first non-blank line, but the header is taken from the "
                   "first line, blank or not ('line 1: missing column(s)')")
def test_blank_lines_before_the_header_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "units.csv"
    path.write_text("\n\ncode;name;parent_code;level\nA;Tỉnh đoàn A, B;;tinh\n", encoding="utf-8")
    assert read_unit_rows(path) == [UnitRow(4, "A", "Tỉnh đoàn A, B", "", "tinh")]
