"""Checking a table of reports an admin imports (`baocao submissions import`): a `unit` column
with unit codes, then one column per question id, one row per unit.

Every cell goes through the chat's own answer parser (`parse_answer`, with the period for date
questions), and every report through the chat's own checks before sending (skip logic,
required questions, the template's rules, parts not above their totals), so an imported
report is one an officer could have sent. Errors name the file, the row (its line in the
file) and the column; the caller imports nothing when there is any.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.domain.answers import Rejected, parse_answer
from bot.domain.dialogue import missing_required, rule_violations, visible_questions
from bot.domain.periods import Period
from bot.domain.templates import Condition, QuestionType, Template
from bot.domain.units import Unit, clean_code, expected, shown

UNIT_COLUMN = "unit"
NOT_IMPORTABLE = frozenset({QuestionType.PHOTO})  # a photo is sent in chat, not typed


@dataclass(frozen=True)
class ReadReport:
    line: int
    unit_code: str
    answers: dict[str, Any]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def check_header(header: list[str], template: Template, name: str) -> list[str]:
    """Problems with the columns: no `unit` column, a column that is no question of the
    template, a column twice, a question that cannot be imported."""
    errors = []
    if UNIT_COLUMN not in header:
        errors.append(f"{name}: the header has no column {UNIT_COLUMN!r} (the unit codes)")
    ids = set(template.question_ids)
    seen: set[str] = set()
    for i, col in enumerate(header, start=1):
        if not col:
            errors.append(f"{name}: column {i} has no name in the header")
        elif col in seen:
            errors.append(f"{name}: column {col} appears twice")
        elif col != UNIT_COLUMN and col not in ids:
            errors.append(f"{name}: column {col}: no such question in template {template.id} "
                          f"(its questions: {', '.join(template.question_ids)})")
        elif col in ids and template.question(col).type in NOT_IMPORTABLE:
            errors.append(f"{name}: column {col}: a photo question cannot be imported from a "
                          "file (leave the column out)")
        seen.add(col)
    return errors


def check_rows(header: list[str], rows: list[tuple[int, list[str]]], template: Template,
               period: Period, units: Mapping[str, Unit], applicable: Collection[str],
               name: str, today: date | None = None) -> tuple[list[ReadReport], list[str]]:
    """The reports of a table whose header passed `check_header`, and the problems of its
    rows (file line order). `applicable`: the units the template applies to."""
    reports: list[ReadReport] = []
    errors: list[str] = []
    unit_at = header.index(UNIT_COLUMN)
    columns = [(i, template.question(col)) for i, col in enumerate(header) if col != UNIT_COLUMN]
    first_line: dict[str, int] = {}
    # Codes typed in another case ("lc-bx-01") name the unit when only one unit matches.
    folded: dict[str, list[str]] = {}
    for c in units:
        folded.setdefault(c.casefold(), []).append(c)
    for line, cells in rows:
        where = f"{name}: row {line}"
        beyond = [c for c in cells[len(header):] if c.strip()]
        if beyond:
            # A comma typed in an unquoted cell splits it: the cells after it shift one column
            # and the last ones were dropped unseen.
            used = max(i for i, c in enumerate(cells) if c.strip()) + 1
            errors.append(f"{where}: {used} cells but the header has "
                          f"{len(header)} columns ({beyond[0].strip()!r} has no column): a "
                          "comma inside a cell? put that cell in double quotes")
            continue
        code = clean_code(cells[unit_at]) if unit_at < len(cells) else ""
        if code not in units and len(folded.get(code.casefold(), [])) == 1:
            code = folded[code.casefold()][0]
        problems = _unit_problems(code, units, applicable, period, template, first_line, line)
        if problems:
            errors.extend(f"{where}, column {UNIT_COLUMN}: {p}" for p in problems)
            continue
        first_line[code] = line
        answers: dict[str, Any] = {}
        unread = []
        for i, q in columns:
            text = cells[i].strip() if i < len(cells) else ""
            if not text:
                continue  # unanswered
            parsed = parse_answer(q, text, today, period)
            if isinstance(parsed, Rejected):
                unread.append(f"{where}, column {q.id}: {text!r}: {_one_line(parsed.message)}")
            else:
                answers[q.id] = parsed.value
        # A cell not read is not also "required, but empty": the report is judged once its
        # cells are all read.
        row_errors = unread or _report_problems(template, answers, where)
        errors.extend(row_errors)
        if not row_errors:
            reports.append(ReadReport(line, code, answers))
    return reports, errors


def _unit_problems(code: str, units: Mapping[str, Unit], applicable: Collection[str],
                   period: Period, template: Template, first_line: dict[str, int],
                   line: int) -> list[str]:
    if not code:
        return ["no unit code"]
    unit = units.get(code)
    if unit is None:
        return [f"unknown unit {shown(code)} (see `baocao units list`)"]
    if code not in applicable:
        return [f"template {template.id} does not apply to unit {shown(code)} ({unit.name})"]
    if not expected(unit, period):
        return [f"unit {shown(code)} ({unit.name}) retired on {unit.retired_on}: it owes no "
                f"report for {period.id}"]
    if code in first_line:
        return [f"unit {shown(code)} is listed twice (also row {first_line[code]})"]
    return []


def _report_problems(template: Template, answers: dict[str, Any], where: str) -> list[str]:
    """What the chat would refuse to send: an answer to a question its skip logic hides, a
    required question unanswered, a broken rule."""
    visible = {q.id for q in visible_questions(template, answers)}
    out = []
    for q in template.questions:
        if q.id in answers and q.id not in visible:
            assert q.when is not None  # only conditional questions are ever hidden
            out.append(f"{where}, column {q.id}: answered, but the question is asked only "
                       f"when {q.when.question} {_condition(q.when)}; leave the cell empty")
    if out:
        return out  # required and rules are judged on what the officer would be asked
    out += [f"{where}, column {q.id}: required, but the cell is empty"
            for q in missing_required(template, answers)]
    out += [f"{where}: {_one_line(message)}" for message in rule_violations(template, answers)]
    return out


def _condition(when: Condition) -> str:
    parts = []
    if when.equals is not None:
        parts.append(f"= {_scalar(when.equals)}")
    if when.not_equals is not None:
        parts.append(f"≠ {_scalar(when.not_equals)}")
    if when.one_of is not None:
        parts.append("is one of " + ", ".join(_scalar(v) for v in when.one_of))
    if when.gt is not None:
        parts.append(f"> {when.gt:g}")
    if when.gte is not None:
        parts.append(f"≥ {when.gte:g}")
    return " and ".join(parts) or "is answered"


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "có" if value else "không"
    return str(value)
