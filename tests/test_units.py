"""check_import, the pure part of `baocao units import`."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from bot.domain.templates import Level
from bot.domain.units import LEVELS_ACCEPTED, Unit, UnitRow, check_import, clean_code
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
                      f"(use {LEVELS_ACCEPTED})", "line 6: unknown parent 'C' of 'C-1'"]


# Invisible characters a spreadsheet or a copy from a web page leaves in a cell: zero-width
# space, non-joiner, joiner, BOM, word joiner, soft hyphen; and spaces that are not U+0020.
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\ufeff", "\u2060", "\u00ad"]
SPACES = ["\u00a0", "\u202f", "\u2007", "\u3000"]


@pytest.mark.parametrize("char", INVISIBLE + SPACES)
def test_look_alike_codes_with_invisible_characters_are_one_code(char: str) -> None:
    """'T12' with a zero-width space after it was a unit of its own, and its children, whose
    parent was typed 'T12', got "unknown parent 'T12'" (review: admin side)."""
    units, errors = check_import(rows((f"T12{char}", "Tỉnh 12", "", "tinh"),
                                      ("T12-1", "Xã", "T12", "xa"),
                                      ("T12-2", "Xã", f"{char}T12", f"xa{char}")), {})
    assert not errors
    assert [(u.code, u.parent_code) for u in units] == [
        ("T12", None), ("T12-1", "T12"), ("T12-2", "T12")]


@pytest.mark.parametrize(("typed", "code"), [
    ("T\u200b12", "T12"), ("\ufeffLC-BX", "LC-BX"), ("LC\u00a0BX", "LC BX"),
    (unicodedata.normalize("NFD", "HỒ\u2060"), "HỒ"), ("\u200b\u00a0", ""),
])
def test_clean_code(typed: str, code: str) -> None:
    assert clean_code(typed) == code


def test_a_code_that_still_does_not_print_is_shown_escaped() -> None:
    """A control character survives cleaning (it is not one a copy leaves): every error naming
    the code shows it, so 'A\\x07' is not mistaken for 'A'."""
    _, errors = check_import(rows(("A\x07", "Xã A", "B", "xa"), ("B", "Xã B", "A\x07", "xa"),
                                  ("A\x07", "Xã A lần nữa", "", "xa")), {})
    assert errors == ["line 2: cycle in parents: 'A\\x07' → B → 'A\\x07'",
                      "line 4: duplicate code 'A\\x07' (first on line 2)"]


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


def test_blank_lines_before_the_header_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "units.csv"
    path.write_text("\n\ncode;name;parent_code;level\nA;Tỉnh đoàn A, B;;tinh\n", encoding="utf-8")
    assert read_unit_rows(path) == [UnitRow(4, "A", "Tỉnh đoàn A, B", "", "tinh")]
