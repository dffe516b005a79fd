"""The unit tree (Tỉnh đoàn → Đoàn xã since July 2025; Huyện đoàn in between before; any
depth), the organisation each unit belongs to, retired and merged units, and checks on
imported rows."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from bot.domain.periods import Period
from bot.domain.templates import AppliesTo, Level
from bot.domain.text import fold, nfc

LEVEL_WORDS = {
    "tinh": Level.TINH, "province": Level.TINH, "thanh pho truc thuoc trung uong": Level.TINH,
    "huyen": Level.HUYEN, "district": Level.HUYEN, "quan": Level.HUYEN, "thi xa": Level.HUYEN,
    "xa": Level.XA, "phuong": Level.XA, "thi tran": Level.XA, "commune": Level.XA,
    "ward": Level.XA, "dac khu": Level.XA, "special zone": Level.XA,
    "truc thuoc": Level.TRUC_THUOC, "truc_thuoc": Level.TRUC_THUOC,
    "don vi truc thuoc": Level.TRUC_THUOC, "co so truc thuoc": Level.TRUC_THUOC,
    "doan truc thuoc": Level.TRUC_THUOC,
}
# "thành phố": a province-level city when it has no parent (Hà Nội, Huế… since 2025), a
# district-level city inside a province in the older trees.
CITY = "thanh pho"
LEVELS_ACCEPTED = ("tinh, xa, truc_thuoc, huyen (before July 2025); also tỉnh, thành phố, xã, "
                   "phường, đặc khu, thị trấn, quận, thị xã, huyện, trực thuộc")
LEVEL_VI = {Level.TINH: "tỉnh", Level.HUYEN: "huyện", Level.XA: "xã",
            Level.TRUC_THUOC: "trực thuộc"}

# Organisations: an identifier (as `applies_to.orgs` names them), or the usual Vietnamese name.
ORG_ID = re.compile(r"[a-z][a-z0-9_]{0,39}")
ORG_WORDS = {
    "doan": "doan", "doan thanh nien": "doan", "tinh doan": "doan",
    "hoi nong dan": "hoi_nong_dan", "hnd": "hoi_nong_dan",
    "hoi phu nu": "hoi_phu_nu", "hoi lhpn": "hoi_phu_nu", "hoi lien hiep phu nu": "hoi_phu_nu",
    "mttq": "mttq", "mat tran": "mttq", "mat tran to quoc": "mttq",
    "ubnd": "ubnd", "uy ban nhan dan": "ubnd",
    "dang": "dang", "dang bo": "dang", "dang uy": "dang",
    "hoi cuu chien binh": "hoi_cuu_chien_binh", "ccb": "hoi_cuu_chien_binh",
}


@dataclass(frozen=True, slots=True)
class Unit:
    code: str
    name: str
    parent_code: str | None
    level: Level
    org: str | None = None  # its own; see `effective_org` for the inherited one
    retired_on: date | None = None  # last day it was part of the tree
    merged_into: str | None = None  # the unit that took it over

    @property
    def retired(self) -> bool:
        return self.retired_on is not None


@dataclass(frozen=True, slots=True)
class UnitRow:
    """One row as read from a file, with its line number for error messages."""

    line: int
    code: str
    name: str
    parent_code: str
    level: str
    org: str = ""


def parse_level(text: str, has_parent: bool = True) -> Level | None:
    """The level a file cell names; "thành phố" is a province without a parent (the cities
    directly under the centre) and a district-level city with one (trees before 2025)."""
    word = fold(clean_code(text))
    if word == CITY:
        return Level.HUYEN if has_parent else Level.TINH
    return LEVEL_WORDS.get(word)


def parse_org(text: str) -> str | None:
    """An organisation id from a cell: `doan`, `hoi_nong_dan`… or "Hội Nông dân" (→
    hoi_nong_dan); "" when empty (inherited); None when it is neither."""
    cell = clean_code(text)
    if not cell:
        return ""
    if ORG_ID.fullmatch(cell.lower()):  # ids are lower case; `HOI_CCB` is the same id
        return cell.lower()
    return ORG_WORDS.get(fold(cell).replace("_", " "))


def effective_org(code: str, units: Mapping[str, Unit]) -> str | None:
    """The unit's organisation, or that of its nearest ancestor that names one: computed on
    each read, so changing a province's org changes every unit under it."""
    seen: set[str] = set()
    current: str | None = code
    while current is not None and current in units and current not in seen:
        seen.add(current)
        if units[current].org:
            return units[current].org
        current = units[current].parent_code
    return None


def expected(unit: Unit, period: Period) -> bool:
    """Does the unit owe this period's report? A retired unit owes the periods that started
    on or before its last day (the current one is still owed), none after."""
    return unit.retired_on is None or period.start <= unit.retired_on


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
        parent = _code(row.parent_code, stored) or None
        level = parse_level(row.level, has_parent=parent is not None)
        if level is None:
            errors.append((row.line, f"{where}: unknown level {row.level!r} "
                                     f"(use {LEVELS_ACCEPTED})"))
            refused.add(code)
            continue
        org = parse_org(row.org)
        if org is None:
            errors.append((row.line, f"{where}: unknown org {row.org!r} of {code!r} (an id "
                                     "such as doan, hoi_nong_dan, hoi_phu_nu, mttq, ubnd, dang; "
                                     "or empty to take the parent's)"))
        if parent == code:
            errors.append((row.line, f"{where}: unit {code!r} is its own parent"))
            refused.add(code)
            continue
        old = existing.get(code)
        # Retirement is not the file's business: `units retire` / `units merge` set it.
        units.append(Unit(code, name, parent, level, org or None,
                          old.retired_on if old else None, old.merged_into if old else None))

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
        org = f", {u.org}" if u.org else ""
        retired = ""
        if u.retired_on is not None:
            into = f" → {u.merged_into}" if u.merged_into else ""
            retired = f" (retired {u.retired_on.isoformat()}{into})"
        lines.append(f"{'  ' * depth}{u.code}  {u.name} ({u.level.value}{org}){retired}")
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


def applies(applies_to: AppliesTo, unit: Unit, ancestors: set[str],
            org: str | None = None) -> bool:
    """Does a template apply to this unit? `ancestors` includes the unit's own code; `org` is
    its effective organisation (`effective_org`), the unit's own when not given. Every key
    given must match; an empty key matches all."""
    if applies_to.levels and unit.level not in applies_to.levels:
        return False
    if applies_to.orgs and (org or unit.org) not in applies_to.orgs:
        return False
    return not applies_to.subtrees or bool(ancestors & set(applies_to.subtrees))


def applies_in(applies_to: AppliesTo, code: str, units: Mapping[str, Unit]) -> bool:
    """`applies` for a unit of a tree: its ancestors and inherited org read from the tree."""
    return applies(applies_to, units[code], ancestors_of(code, units),
                   effective_org(code, units))


def ancestors_of(code: str, units: Mapping[str, Unit]) -> set[str]:
    out, current = set(), code
    while current is not None and current in units and current not in out:
        out.add(current)
        current = units[current].parent_code  # type: ignore[assignment]
    return out


def not_in_file(codes: Iterable[str], existing: Mapping[str, Unit]) -> list[Unit]:
    """Active stored units a file no longer lists (an import never deletes them: the admin
    retires them, `units retire`)."""
    listed = set(codes)
    return sorted((u for c, u in existing.items() if c not in listed and u.retired_on is None),
                  key=lambda u: u.code)


class UnitConflict(ValueError):
    """A retirement or merge that the tree, as it is when it is written, refuses (another
    admin changed it since it was checked)."""


def retired_target(code: str, retired_on: date) -> str:
    return (f"unit {shown(code)} is retired (since {retired_on.isoformat()}): merge into a unit "
            "that still reports")


def check_retire(codes: list[str], units: Mapping[str, Unit],
                 on: date | None = None) -> list[str]:
    """Why these units cannot be retired on `on` (unknown, already retired, or taking over a
    unit merged into it later than that: the merged unit would report into a unit that no
    longer exists), one line each."""
    errors = []
    for code in codes:
        unit = units.get(code)
        if unit is None:
            errors.append(f"unknown unit {shown(code)} (see `baocao units list`)")
        elif unit.retired_on is not None:
            errors.append(f"unit {shown(code)} is already retired "
                          f"(since {unit.retired_on.isoformat()})")
        elif on is not None:
            for merged in sorted(units.values(), key=lambda u: u.code):
                if merged.merged_into == code and merged.retired_on is not None \
                        and merged.retired_on > on:
                    errors.append(
                        f"unit {shown(code)} takes over {shown(merged.code)} from "
                        f"{(merged.retired_on + timedelta(days=1)).isoformat()}: its last day "
                        f"cannot be before {merged.retired_on.isoformat()}")
    return errors


def check_merge(old: list[str], new: str, units: Mapping[str, Unit],
                on: date | None = None) -> list[str]:
    """Why OLD… cannot be merged into NEW on `on`: NEW unknown or retired, an OLD unknown,
    retired, NEW itself, or above or below NEW in the tree (its reports would count twice),
    or an OLD that units merged into it still need after `on` (`check_retire`)."""
    target = units.get(new)
    if target is None:
        return [f"unknown unit {shown(new)} given to --into (see `baocao units list`)"]
    if target.retired_on is not None:
        return [retired_target(new, target.retired_on)]
    errors = []
    above = ancestors_of(new, units)
    for code in old:
        if code == new:
            errors.append(f"unit {shown(code)} cannot be merged into itself")
        elif code in units and code in above:
            errors.append(f"unit {shown(code)} is above {shown(new)} in the tree: "
                          "merge units of the same level")
        elif code in units and new in ancestors_of(code, units):
            errors.append(f"unit {shown(code)} is below {shown(new)} in the tree: "
                          "merge units of the same level")
    errors.extend(e for e in check_retire([c for c in old if c != new], units, on))
    return errors
