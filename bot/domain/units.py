"""The unit tree (Tỉnh đoàn → Huyện đoàn → Đoàn xã, any depth) and checks on imported rows."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bot.domain.templates import AppliesTo, Level
from bot.domain.text import fold, nfc

LEVEL_WORDS = {
    "tinh": Level.TINH, "province": Level.TINH, "thanh pho truc thuoc trung uong": Level.TINH,
    "huyen": Level.HUYEN, "district": Level.HUYEN, "quan": Level.HUYEN, "thi xa": Level.HUYEN,
    "thanh pho": Level.HUYEN,
    "xa": Level.XA, "phuong": Level.XA, "thi tran": Level.XA, "commune": Level.XA,
    "ward": Level.XA,
}
LEVEL_VI = {Level.TINH: "tỉnh", Level.HUYEN: "huyện", Level.XA: "xã",
            Level.TRUC_THUOC: "trực thuộc"}


@dataclass(frozen=True, slots=True)
class Unit:
    code: str
    name: str
    parent_code: str | None
    level: Level


@dataclass(frozen=True, slots=True)
class UnitRow:
    """One row as read from a file, with its line number for error messages."""

    line: int
    code: str
    name: str
    parent_code: str
    level: str


def parse_level(text: str) -> Level | None:
    return LEVEL_WORDS.get(fold(clean_code(text)))


def clean_code(text: str) -> str:
    """A unit code as stored, from a file cell or the command line: invisible characters
    removed (Unicode format characters: zero-width spaces and joiners, BOMs, word joiners,
    soft hyphens, which spreadsheets and copies from web pages leave behind), every kind of
    space (non-breaking, narrow, ideographic…) read as a plain space, trimmed and
    NFC-normalised. So codes that look the same are the same code."""
    kept = "".join(" " if unicodedata.category(ch) == "Zs" else ch for ch in text
                   if unicodedata.category(ch) != "Cf")
    return nfc(kept.strip())


def shown(code: str) -> str:
    """A code in a message: as is, or quoted with escapes when it holds a character that
    does not print (it would look like another code)."""
    return code if code.isprintable() else repr(code)


def check_import(rows: list[UnitRow], existing: Mapping[str, Unit]) -> tuple[list[Unit], list[str]]:
    """Turn rows into units to upsert; errors name the line (unknown parent, duplicate, cycle)
    and come in line order.

    Codes are cleaned (`clean_code`), so two codes that look the same are the same code.
    A row refused outright (no code, a duplicate, an unknown level, its own parent) produces one
    error and no more: its children are not also reported as having an unknown parent, since
    their parent is in the file and fixing that one line fixes them (nothing is imported while
    any error remains, so silence about them costs nothing)."""
    errors: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    refused: set[str] = set()
    units: list[Unit] = []
    # A code stored before codes were cleaned keeps its stored spelling.
    stored = {clean_code(c): c for c in existing}
    for row in rows:
        code, name = _code(row.code, stored), nfc(row.name.strip())
        where = f"line {row.line}"
        if not code:
            errors.append((row.line, f"{where}: empty code"))
            continue
        if code in seen:
            errors.append((row.line, f"{where}: duplicate code {code!r} (first on line "
                                     f"{seen[code]})"))
            continue
        seen[code] = row.line
        if not name:
            errors.append((row.line, f"{where}: unit {code!r} has no name"))
        level = parse_level(row.level)
        if level is None:
            errors.append((row.line, f"{where}: unknown level {row.level!r} "
                                     "(use tinh, huyen or xa)"))
            refused.add(code)
            continue
        parent = _code(row.parent_code, stored) or None
        if parent == code:
            errors.append((row.line, f"{where}: unit {code!r} is its own parent"))
            refused.add(code)
            continue
        units.append(Unit(code, name, parent, level))

    merged = dict(existing)
    merged.update({u.code: u for u in units})
    for u in units:
        if u.parent_code is not None and u.parent_code not in merged \
                and u.parent_code not in refused:
            errors.append((seen[u.code],
                           f"line {seen[u.code]}: unknown parent {u.parent_code!r} of {u.code!r}"))
    for u in units:
        cycle = _cycle_from(u.code, merged)
        if cycle:
            errors.append((seen[u.code], f"line {seen[u.code]}: cycle in parents: "
                                         f"{' → '.join(shown(c) for c in cycle)}"))
            break
    errors.sort(key=lambda e: e[0])  # stable: one line's errors keep their order
    return units, [message for _, message in errors]


def _code(text: str, stored: Mapping[str, str]) -> str:
    code = clean_code(text)
    return stored.get(code, code)


def _cycle_from(code: str, units: Mapping[str, Unit]) -> list[str] | None:
    path, current = [code], units[code].parent_code
    while current is not None and current in units:
        if current in path:
            return [*path[path.index(current):], current]
        path.append(current)
        current = units[current].parent_code
    return None


def children_map(units: Iterable[Unit]) -> dict[str | None, list[Unit]]:
    out: dict[str | None, list[Unit]] = {}
    for u in units:
        out.setdefault(u.parent_code, []).append(u)
    for kids in out.values():
        kids.sort(key=lambda u: u.code)
    return out


def render_tree(units: Iterable[Unit]) -> list[str]:
    """Indented lines, one per unit: '  LC01  Huyện đoàn Bát Xát (huyen)'."""
    all_units = list(units)
    codes = {u.code for u in all_units}
    kids = children_map(all_units)
    roots = [u for u in all_units if u.parent_code is None or u.parent_code not in codes]
    lines: list[str] = []

    def walk(u: Unit, depth: int) -> None:
        lines.append(f"{'  ' * depth}{u.code}  {u.name} ({u.level.value})")
        for child in kids.get(u.code, []):
            walk(child, depth + 1)

    for root in sorted(roots, key=lambda u: u.code):
        walk(root, 0)
    return lines


def subtree_codes(root: str, units: Iterable[Unit]) -> set[str]:
    """The unit and all its descendants."""
    kids = children_map(units)
    out, stack = set(), [root]
    while stack:
        code = stack.pop()
        out.add(code)
        stack.extend(k.code for k in kids.get(code, []))
    return out


def applies(applies_to: AppliesTo, unit: Unit, ancestors: set[str]) -> bool:
    """Does a template apply to this unit? `ancestors` includes the unit's own code."""
    if applies_to.levels and unit.level not in applies_to.levels:
        return False
    return not applies_to.subtrees or bool(ancestors & set(applies_to.subtrees))


def ancestors_of(code: str, units: Mapping[str, Unit]) -> set[str]:
    out, current = set(), code
    while current is not None and current in units and current not in out:
        out.add(current)
        current = units[current].parent_code  # type: ignore[assignment]
    return out
