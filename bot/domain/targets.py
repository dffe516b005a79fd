"""Targets (chỉ tiêu): allocated values from `<reports dir>/targets/<template id>.csv`, and
whether a target is met for a period.

Scopes: "total" compares the roll-up of every unit in view with `value`; "each_unit" and
"level" (the units of `level` only) check each unit's own figure against `value`;
"allocated" checks each unit against its own value from the file, and their roll-up against
the sum of their allocations (a summed question; a rate's units must each meet their own).

Milestones: a target with `year` is shown for the periods of years up to that year (the
progress toward it) and not after; `final` says the period is in the milestone year itself.
A target without `year` applies to every period.

Cumulative: with `baseline_year`, a unit's figure runs from 1 January of that year to the end
of the period (flows summed, units merged meanwhile included; see `bot.domain.rollup`); it is
not shown for periods before the baseline year.

Direction: at_least (≥), at_most (≤), more_than (>), less_than (<). Progress (figure / goal,
as a percentage) is given for at_least and more_than only: for a ceiling, closeness to it is
not progress.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from bot.domain.periods import Period
from bot.domain.rollup import (
    HUNDRED,
    Series,
    Span,
    answers_by_unit,
    exact,
    roll_up,
    successor,
)
from bot.domain.templates import Aggregate, Problem, Target, Template
from bot.domain.units import clean_code

TARGETS_FOLDER = "targets"


# --- the allocation file ---------------------------------------------------------------------

_NUMBER = re.compile(r"^[+-]?\d+(?:[.,]\d+)?$")
# One separator followed by exactly three digits after 1–3 leading digits: "1.500" is 1500 to
# a Vietnamese reader and 1.5 to an English one.
_AMBIGUOUS = re.compile(r"^[+-]?[1-9]\d{0,2}[.,]\d{3}$")


def parse_number(text: str) -> float:
    """A value cell: `12`, `1.5` or `1,5` (the Vietnamese decimal comma); no thousands
    separators. ValueError with the reason otherwise."""
    cell = text.strip().replace(" ", "")
    if _AMBIGUOUS.match(cell):
        raise ValueError(f"{text.strip()!r} is ambiguous (1.500 is 1500 in Vietnamese, 1.5 in "
                         "English): write it without a thousands separator, e.g. 1500 or 1.5")
    if not _NUMBER.match(cell):
        raise ValueError(f"{text.strip()!r} is not a number (write e.g. 12, 1.5 or 1,5; no "
                         "thousands separators)")
    return float(cell.replace(",", "."))


def parse_allocations(text: str, file: str) -> tuple[dict[str, float], list[Problem]]:
    """Read an allocation file: a header naming `code` and `value` (other columns, such as a
    unit's name, are ignored), then one unit per line. `;` separates the columns when the
    header has a `;` and no `,` (what a spreadsheet in a Vietnamese locale writes)."""
    problems: list[Problem] = []

    def bad(line: int, message: str) -> None:
        problems.append(Problem(file=file, path=f"line {line}", message=message))

    text = text.removeprefix("\ufeff")
    header_line = next((ln for ln in text.splitlines() if ln.strip()), "")
    sep = ";" if ";" in header_line and "," not in header_line else ","
    rows = csv.reader(io.StringIO(text), delimiter=sep)
    header: list[str] | None = None
    values: dict[str, float] = {}
    first_seen: dict[str, int] = {}
    for row in rows:
        line = rows.line_num
        if not any(cell.strip() for cell in row):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in row]
            missing = [c for c in ("code", "value") if c not in header]
            if missing:
                bad(line, f"missing column {', '.join(repr(c) for c in missing)} (the first line "
                    "must name the columns: code,value)")
                return {}, problems
            continue
        while len(row) > len(header) and not row[-1].strip():
            row = row[:-1]  # empty cells a spreadsheet leaves after a deleted column
        if len(row) > len(header):
            # `LC-SAPA,1,5`: the cells after the header's columns would be dropped silently,
            # allocating 1 instead of 1.5.
            bad(line, f"{len(row)} cells but the header names {len(header)} columns (a "
                "decimal comma in a comma-separated file? write 1.5, quote it as \"1,5\" or "
                "separate the columns with ;)")
            continue
        cells = {name: (row[i] if i < len(row) else "") for i, name in enumerate(header)}
        code = clean_code(cells["code"])
        if not code:
            bad(line, "empty code")
            continue
        if code in first_seen:
            bad(line, f"code {code!r} is listed twice (first on line {first_seen[code]})")
            continue
        first_seen[code] = line
        try:
            values[code] = parse_number(cells["value"])
        except ValueError as e:
            bad(line, f"value of {code!r}: {e}")
    if header is None:
        problems.append(Problem(file=file, path="", message="empty: write a header code,value "
                                "and one line per unit"))
    return values, problems


def read_allocations(path: Path, display: str) -> tuple[dict[str, float], list[Problem]]:
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as e:
        return {}, [Problem(file=display, path="", message=f"cannot read: {e.strerror}")]
    except UnicodeDecodeError:
        return {}, [Problem(file=display, path="", message="not UTF-8 text (save it as CSV "
                            "UTF-8)")]
    return parse_allocations(text, display)


def allocated_indexes(t: Template) -> list[int]:
    return [i for i, tg in enumerate(t.targets) if tg.scope == "allocated"]


def load_allocations(folder: Path, templates: Mapping[str, Template], files: Mapping[str, str],
                     display_root: Path | None = None) -> list[Problem]:
    """Read `folder/targets/<id>.csv` for every template with an allocated target and attach
    the values to it (`Template.allocations`). `files`: template id → its file as shown.
    A template with an allocated target needs its file; a file needs such a template."""
    where = folder / TARGETS_FOLDER
    problems: list[Problem] = []

    def display(path: Path) -> str:
        return str(path.relative_to(display_root)) if display_root else str(path)

    for t in templates.values():
        wanted = allocated_indexes(t)
        path = where / f"{t.id}.csv"
        if not wanted:
            continue
        if not path.is_file():
            problems.append(Problem(file=files.get(t.id, t.id), path=f"targets[{wanted[0]}].scope",
                                    message=f"allocated, but {display(path)} is missing"))
            continue
        values, found = read_allocations(path, display(path))
        problems.extend(found)
        t.set_allocations(values)
    if where.is_dir():
        for path in sorted(where.glob("*.csv")):
            t_or_none = templates.get(path.stem)
            if t_or_none is None:
                problems.append(Problem(file=display(path), path="", message=f"no template has "
                                        f"the id {path.stem!r} (the file is named after it)"))
            elif not allocated_indexes(t_or_none):
                problems.append(Problem(file=display(path), path="", message=f"template "
                                        f"{path.stem!r} has no target with scope = "
                                        "\"allocated\": the file would be unused"))
    return problems


def unknown_codes(templates: Mapping[str, Template], known: set[str]) -> list[tuple[str, str]]:
    """(template id, code) for every allocated code that is not a unit of `known`."""
    return [(t.id, code) for t in sorted(templates.values(), key=lambda t: t.id)
            for code in sorted(t.allocations) if code not in known]


# --- evaluation ------------------------------------------------------------------------------


def meets(direction: str, figure: Fraction, goal: Fraction) -> bool:
    """Whether `figure` meets `goal` in `direction` (more_than and less_than are strict)."""
    if direction == "at_most":
        return figure <= goal
    if direction == "more_than":
        return figure > goal
    if direction == "less_than":
        return figure < goal
    return figure >= goal


def progress(direction: str, figure: Fraction | None, goal: Fraction | None) -> Fraction | None:
    """figure / goal × 100 for at_least and more_than; None otherwise (or goal 0)."""
    if figure is None or not goal or direction not in ("at_least", "more_than"):
        return None
    return figure / goal * HUNDRED


@dataclass(frozen=True)
class UnitResult:
    """One unit against its goal; `figure` None: it has not reported (never counted as 0)."""

    code: str
    figure: Fraction | None
    goal: Fraction
    met: bool | None


@dataclass(frozen=True)
class TargetResult:
    """A target for a period.

    total: `figure` is the roll-up, `goal` the value. allocated: `figure` is the roll-up of the
    allocated units, `goal` the sum of their allocations (None for a question that is not
    summed, a rate say: `met` is then as for each_unit); `units` each against its own.
    each_unit / level: `units` each against the value; `figure` is how many meet it, `goal`
    how many units there are, `progress` the share meeting it.
    `met`: for total and allocated, the figure against the goal (None: no figure); for
    each_unit and level, False when a unit fails, None when none fails but some has not
    reported (or there is no unit), True when every unit meets it."""

    index: int
    target: Target
    period: Period
    span: Span
    figure: Fraction | None
    goal: Fraction | None
    met: bool | None
    progress: Fraction | None
    units: tuple[UnitResult, ...]
    final: bool  # in the milestone year (always, for a target without `year`)

    @property
    def basis(self) -> str:
        return basis_of(self.target)

    @property
    def quote(self) -> str | None:
        return self.target.quote

    @property
    def meeting(self) -> tuple[str, ...]:
        return tuple(u.code for u in self.units if u.met)

    @property
    def failing(self) -> tuple[str, ...]:
        return tuple(u.code for u in self.units if u.met is False)

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(u.code for u in self.units if u.figure is None)


def basis_of(target: Target) -> str:
    """'plan' when the plan states the figure, else 'assumed'; a quote alone implies the
    plan (its words are quoted), and `check_template` refuses a quote with basis "assumed"."""
    return target.basis or ("plan" if target.quote else "assumed")


def shows(target: Target, period: Period) -> bool:
    """Whether the target is shown for `period`: not after its milestone year, not before its
    baseline year."""
    if target.year is not None and period.year > target.year:
        return False
    return target.baseline_year is None or period.year >= target.baseline_year


def _overall(units: Sequence[UnitResult]) -> bool | None:
    if any(u.met is False for u in units):
        return False
    if not units or any(u.met is None for u in units):
        return None
    return True


def evaluate(t: Template, index: int, period: Period, units: Mapping[str, str],
             reports: Mapping[str, Series], merged_into: Mapping[str, str] | None = None,
             allocations: Mapping[str, float] | None = None,
             answers: Mapping[str, Mapping[str, Any]] | None = None) -> TargetResult | None:
    """`t.targets[index]` for `period`; None when it is not shown then (`shows`).

    `units`: code → level of the units in view that exist now (merged-away units are not
    among them: their figures reach their successor through `merged_into`). `reports`: unit
    code → its submitted reports. `allocations`: code → value (default: the template's file);
    an allocation of a unit merged away counts for its successor. `answers`: the units'
    answers over the target's span when the caller has combined them already (a digest of
    10,000 communes does it once for every target)."""
    target = t.targets[index]
    if not shows(target, period):
        return None
    q = t.question(target.question)
    span = Span.of(period, target.baseline_year)
    merges = merged_into or {}
    if answers is None:
        answers = answers_by_unit(t.questions, units, reports, span, merges)
    final = target.year is None or period.year == target.year

    goals: dict[str, Fraction]
    if target.scope == "allocated":
        goals = {}
        for code, value in (t.allocations if allocations is None else allocations).items():
            heir = successor(code, merges)
            if heir in units:
                goals[heir] = goals.get(heir, Fraction(0)) + (exact(value) or Fraction(0))
    elif target.scope == "total":
        goal = exact(target.value)
        figure = roll_up(q, answers).value
        met = None if figure is None or goal is None else meets(target.direction, figure, goal)
        return TargetResult(index, target, period, span, figure, goal, met,
                            progress(target.direction, figure, goal), (), final)
    else:
        each = exact(target.value) or Fraction(0)
        chosen = [c for c, level in units.items()
                  if target.scope == "each_unit" or level == target.level]
        goals = dict.fromkeys(chosen, each)

    results = []
    # one unit's own figure: its answer as a number, for the aggregations where that is what
    # `roll_up` over that unit alone gives (a 10,000-commune each-unit target is hot)
    plain = q.aggregation in (Aggregate.SUM, Aggregate.MIN, Aggregate.MAX) or (
        q.aggregation is Aggregate.AVERAGE and not q.weight)
    for code in sorted(goals):
        if plain:
            one = exact(answers[code].get(q.id)) if code in answers else None
        else:
            one = roll_up(q, {code: answers[code]} if code in answers else {}).value
        met = None if one is None else meets(target.direction, one, goals[code])
        results.append(UnitResult(code, one, goals[code], met))
    if target.scope == "allocated":
        figure = roll_up(q, {c: a for c, a in answers.items() if c in goals}).value
        if q.aggregation is not Aggregate.SUM:
            # Rates, averages, min/max: the units' own goals do not add up to the whole's
            # (80% and 50% is not a goal of 130%); met when every allocated unit meets its own.
            return TargetResult(index, target, period, span, figure, None,
                                _overall(results), None, tuple(results), final)
        goal = sum(goals.values(), Fraction(0))
        met = None if figure is None else meets(target.direction, figure, goal)
        return TargetResult(index, target, period, span, figure, goal, met,
                            progress(target.direction, figure, goal), tuple(results), final)
    count = Fraction(sum(1 for r in results if r.met))
    total = Fraction(len(results))
    share = count / total * HUNDRED if total else None
    return TargetResult(index, target, period, span, count, total, _overall(results), share,
                        tuple(results), final)
