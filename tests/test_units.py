"""check_import, the pure part of `baocao units import`."""

from __future__ import annotations

import unicodedata

from bot.domain.templates import Level
from bot.domain.units import Unit, UnitRow, check_import


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
