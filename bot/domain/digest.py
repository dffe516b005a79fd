"""A supervisor's digest of one template × period × subtree: completeness and timeliness, the
figures rolled up the tree beside the previous period's, and the targets. Pure: plain inputs
(the unit tree, the latest submitted version of each report, drafts, officers) in, a
`Digest` tree out, ready to render in chat or to serialise (`Digest.to_json`).

Completeness and timeliness follow DHIS2: `expected` counts the reports owed (the template
applies to the unit and the unit is active in the period: `applies_in`, `expected`), `actual`
the counted submissions, `on_time` those whose first version came before the due instant
(as `on_time` is stored: sent at the due instant itself is late). completeness =
actual / expected, timeliness = on_time / expected, both capped at 1; None when nothing is
expected. A report returned for correction (`Sent.counted` False) counts as not sent until
it is sent again; a unit that has not reported is never counted as zero in a figure.

A period longer than the template's (a quarter of a monthly report, a year of a quarterly
one) combines the reports inside it (`report_periods`): each unit owes one report per
month, and its figure over the span follows the question's `over_time` (flows sum, stocks
last; see `bot.domain.rollup`).

Targets: every target shown for the period (`targets.shows`) is evaluated over the subtree,
except `total` targets below the plan's top: the plan's total is a figure for the whole tree
(or one of `applies_to.subtrees`), not for a district of it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from fractions import Fraction
from itertools import chain
from typing import Any

from bot.domain.periods import LENGTH_ORDER, Period, PeriodError, PeriodKind
from bot.domain.reports import days_late
from bot.domain.rollup import (
    Answers,
    Rollup,
    Series,
    Span,
    roll_ups,
    unit_answers,
)
from bot.domain.targets import TargetResult, basis_of, evaluate, meets, progress, shows
from bot.domain.templates import Aggregate, Target, Template
from bot.domain.units import Unit, applies, children_map
from bot.domain.units import expected as active_in

ONE = Fraction(1)


class DigestError(ValueError):
    """The digest cannot be made: a period the template does not ask for (nor any shorter
    period of it that fits inside), or an unknown unit."""


# --- inputs ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)  # 20,000 kept by a bot's digest cache: no dict each
class Sent:
    """The latest submitted version of one unit's report for one period.

    `on_time`: the stored flag of the first version (a correction does not make a report
    late); None computes it the way it is stored, first sent strictly before `due_at`.
    `counted`: False for a report returned for correction (review): it counts as not sent."""

    unit: str
    period: str
    answers: Answers
    submitted_at: datetime
    due_at: datetime
    first_submitted_at: datetime | None = None
    on_time: bool | None = None
    submitted_by: int | None = None
    version: int = 1
    counted: bool = True

    @property
    def first_at(self) -> datetime:
        return self.first_submitted_at or self.submitted_at

    @property
    def was_on_time(self) -> bool:
        return self.on_time if self.on_time is not None else is_on_time(self.first_at,
                                                                         self.due_at)


@dataclass(frozen=True)
class InProgress:
    """A draft being filled: `answered` of `total` visible questions."""

    unit: str
    period: str
    answered: int
    total: int


@dataclass(frozen=True)
class Officer:
    person_id: int
    name: str
    reachable: bool = True


@dataclass
class DigestInput:
    """Everything the engine needs, read by the service (`bot.services.digests`).

    `submissions`: the latest version of each unit's report of the template for the periods
    in `fetch_span(template, period)` (the period's, the previous period's, and back to the
    earliest baseline year of a cumulative target), of the kind `report_periods` names.
    `due`: period id → the due instant of each report period (for missing units' overdue
    days); `officers`: unit code → its officers (a unit absent has none registered)."""

    template: Template
    period: Period
    root: str
    units: Mapping[str, Unit]
    now: datetime
    submissions: Sequence[Sent] = ()
    due: Mapping[str, datetime] = field(default_factory=dict)
    drafts: Sequence[InProgress] = ()
    officers: Mapping[str, Sequence[Officer]] = field(default_factory=dict)
    allocations: Mapping[str, float] | None = None  # default: the template's file
    memo: Memo | None = None  # keeps each child's roll-up between builds (see `Memo`)
    # when the first report period starts (local midnight) and when the last one locks: a
    # digest before `opens` lists nobody as missing; reminders by hand only before `lock`
    opens: datetime | None = None
    lock: datetime | None = None
    escalate_after_days: int | None = None  # a missing unit this many days overdue is named


class Memo:
    """Each child's figures and targets from the last builds, reused while nothing that
    feeds them changed: a deployment asks for the same digest many times a morning, mostly
    with nothing sent since, and a report sent changes one district, not the 99 others.

    An entry is reused only when its fingerprint matches: the template (the same object),
    the period, the allocations, every merge, the child's units (each `Unit` as it is) and
    its reports, each named by (unit, period, version, counted) — storage never rewrites a
    version, a correction is a new one. Completeness is always computed afresh (it moves
    with the clock, drafts and officers)."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._kept: OrderedDict[tuple[str, str, str], tuple[Template, Hashable, Any]] = \
            OrderedDict()
        self.hits = self.misses = 0  # for tests and the benchmark

    def get(self, key: tuple[str, str, str], t: Template, mark: Hashable) -> Any:
        kept = self._kept.get(key)
        if kept is not None and kept[0] is t and kept[1] == mark:
            self._kept.move_to_end(key)
            self.hits += 1
            return kept[2]
        self.misses += 1
        return None

    def put(self, key: tuple[str, str, str], t: Template, mark: Hashable, value: Any) -> None:
        self._kept[key] = (t, mark, value)
        self._kept.move_to_end(key)
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)


def is_on_time(submitted_at: datetime, due: datetime) -> bool:
    """As the dialogue stores it: sent strictly before the due instant."""
    return submitted_at < due


# --- which periods ---------------------------------------------------------------------------


def report_periods(t: Template, period: Period) -> list[Period]:
    """The report periods the digest of `period` covers: `period` itself when the template
    asks for it, else the periods of its longest shorter schedule that fall inside (the
    months of a quarter for a monthly report). DigestError when there are none."""
    if t.asks_for(period):
        return [period]
    if period.kind is not PeriodKind.WEEK:
        shorter = sorted((s.period for s in t.every_schedule
                          if s.period is not PeriodKind.WEEK
                          and LENGTH_ORDER.index(s.period) < LENGTH_ORDER.index(period.kind)),
                         key=LENGTH_ORDER.index, reverse=True)
        for kind in shorter:
            inside = _inside(t, kind, period)
            if inside:
                return inside
    raise DigestError(f"template {t.id} asks for no report on {period.id} (nor for a shorter "
                      "period inside it)")


def _inside(t: Template, kind: PeriodKind, period: Period) -> list[Period]:
    out = []
    try:
        p = Period.containing(kind, period.start)
    except PeriodError:
        return []
    while p.end <= period.end:
        if p.start >= period.start and t.asks_for(p):
            out.append(p)
        p = p.next()
    return out


def previous_period(t: Template, period: Period) -> Period | None:
    """The previous period of the same kind the template reports on (the previous H1 for a
    template asking for H1 only; the previous year for a yearly report); None when there is
    none within 60 periods or before the plan began."""
    p = period
    for _ in range(60):
        try:
            p = p.previous()
        except PeriodError:
            return None
        try:
            report_periods(t, p)
        except DigestError:
            if t.valid_from is not None and p.end < t.valid_from:
                return None
            continue
        return p
    return None


def fetch_span(t: Template, period: Period) -> Span:
    """The days whose reports the engine reads: the previous period's start (or the earliest
    baseline year of a target shown) to the period's end."""
    start = period.start
    previous = previous_period(t, period)
    if previous is not None:
        start = min(start, previous.start)
    for target in t.targets:
        if target.baseline_year is not None and shows(target, period):
            start = min(start, date(target.baseline_year, 1, 1))
    return Span(start, period.end)


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Missing:
    """An expected report not counted: `overdue_days` 0 before the due instant, 1 on the
    first day after it, … (for escalation); `returned` when one was sent and sent back."""

    unit: str
    period: str
    overdue_days: int
    returned: bool = False


@dataclass(frozen=True)
class Late:
    unit: str
    period: str
    days_late: int
    submitted_at: datetime


@dataclass(frozen=True)
class Completeness:
    expected: int
    actual: int
    on_time: int
    missing: tuple[Missing, ...] = ()
    late: tuple[Late, ...] = ()
    in_progress: tuple[InProgress, ...] = ()
    no_officer: tuple[str, ...] = ()  # expected units nobody is registered for
    unreachable: tuple[str, ...] = ()  # expected units whose officers all blocked the bot

    @property
    def completeness(self) -> Fraction | None:
        return min(ONE, Fraction(self.actual, self.expected)) if self.expected else None

    @property
    def timeliness(self) -> Fraction | None:
        return min(ONE, Fraction(self.on_time, self.expected)) if self.expected else None

    @property
    def missing_units(self) -> tuple[str, ...]:
        return tuple(sorted({m.unit for m in self.missing}))

    @property
    def late_units(self) -> tuple[str, ...]:
        return tuple(sorted({x.unit for x in self.late}))


@dataclass(frozen=True)
class Figure:
    """One question rolled up: `value` the sum, percentage (ratio), average, min, max or
    count; `distribution` option → units for a choice; `units` how many units count."""

    question: str
    text: str
    unit: str | None
    aggregation: Aggregate
    value: Fraction | None
    units: int
    distribution: Mapping[str, int] | None = None
    previous: Fraction | None = None
    previous_distribution: Mapping[str, int] | None = None

    def shown_value(self) -> Any:
        return _plain_value(self.value, self.distribution)

    def shown_previous(self) -> Any:
        return _plain_value(self.previous, self.previous_distribution)


@dataclass(frozen=True)
class TargetLine:
    """A target for the period. total/allocated: `value` the figure, `goal` the target;
    each_unit/level: `value` how many units meet it, `goal` how many there are, `failing`
    those that do not. `met` None: not known yet (no figure, or some unit has not reported)."""

    index: int
    question: str
    label: str
    scope: str
    direction: str
    value: Fraction | None
    goal: Fraction | None
    met: bool | None
    progress: Fraction | None
    basis: str
    quote: str | None
    final: bool
    meeting: int = 0
    failing: tuple[str, ...] = ()
    not_reported: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChildDigest:
    unit: str
    name: str
    completeness: Completeness
    figures: tuple[Figure, ...]
    targets: tuple[TargetLine, ...]

    def to_json(self) -> dict[str, Any]:
        return _json(self.unit, self.completeness, self.figures, self.targets)


@dataclass(frozen=True)
class Digest:
    template: str
    title: str
    period: Period
    periods: tuple[Period, ...]  # the report periods it covers
    previous: Period | None
    unit: str
    name: str
    now: datetime
    completeness: Completeness
    figures: tuple[Figure, ...]
    targets: tuple[TargetLine, ...]
    children: tuple[ChildDigest, ...]
    opens: datetime | None = None  # as DigestInput
    lock: datetime | None = None
    escalate_after_days: int | None = None

    @property
    def started(self) -> bool:
        return self.opens is None or self.now >= self.opens

    @property
    def escalated(self) -> tuple[Missing, ...]:
        """The missing reports overdue by at least `escalate_after_days` (the due instant
        itself is day 1, as `days_late` counts), most overdue first."""
        n = self.escalate_after_days
        if n is None:
            return ()
        return tuple(sorted((m for m in self.completeness.missing if m.overdue_days >= n),
                            key=lambda m: (-m.overdue_days, m.unit, m.period)))

    def to_json(self) -> dict[str, Any]:
        """The object `baocao digest --json` prints (keys named in issue 13)."""
        out = {"template": self.template, "period": self.period.id,
               **_json(self.unit, self.completeness, self.figures, self.targets)}
        out["children"] = [c.to_json() for c in self.children]
        return out


def _number(value: Fraction | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value.denominator == 1 else float(value)


def _plain_value(value: Fraction | None, distribution: Mapping[str, int] | None) -> Any:
    return dict(distribution) if distribution is not None else _number(value)


def _json(unit: str, c: Completeness, figures: Iterable[Figure],
          targets: Iterable[TargetLine]) -> dict[str, Any]:
    return {
        "unit": unit, "expected": c.expected, "actual": c.actual, "on_time": c.on_time,
        "completeness": _number(c.completeness), "timeliness": _number(c.timeliness),
        "missing": list(c.missing_units), "late": list(c.late_units),
        "figures": {f.question: {"value": f.shown_value(), "aggregation": f.aggregation.value,
                                 "previous": f.shown_previous()} for f in figures},
        "targets": [{"question": tl.question, "target": _number(tl.goal),
                     "value": _number(tl.value), "met": tl.met, "label": tl.label}
                    for tl in targets],
    }


# --- the engine ------------------------------------------------------------------------------


def applicable_units(t: Template, codes: Iterable[str], units: Mapping[str, Unit]) -> set[str]:
    """The units of `codes` the template applies to (`applies_in`, ancestors and inherited
    org read once per unit of the tree rather than once per question)."""
    a = t.applies_to
    if not (a.orgs or a.subtrees):  # levels alone (or nothing): no walk up the tree
        return {c for c in codes if not a.levels or units[c].level in a.levels}
    chains: dict[str, tuple[set[str], str | None]] = {}

    def walk(code: str) -> tuple[set[str], str | None]:
        found = chains.get(code)
        if found is None:
            u = units[code]
            parent = u.parent_code if u.parent_code in units and u.parent_code != code else None
            above, org = walk(parent) if parent else (set(), None)
            found = ({*above, code}, u.org or org)
            chains[code] = found
        return found

    out = set()
    for code in codes:
        ancestors, org = walk(code)
        if applies(a, units[code], ancestors, org):
            out.add(code)
    return out


def build(inp: DigestInput) -> Digest:
    """The digest of `inp.template` × `inp.period` over the subtree of `inp.root`."""
    t, units = inp.template, inp.units
    if inp.root not in units:
        raise DigestError(f"unknown unit {inp.root}")
    periods = report_periods(t, inp.period)
    kind = periods[0].kind
    previous = previous_period(t, inp.period)
    before_periods = report_periods(t, previous) if previous is not None else []
    kids = children_map(units.values())
    subtree = _subtree(inp.root, kids)
    applicable = applicable_units(t, subtree, units)
    merges = {u.code: u.merged_into for u in units.values() if u.merged_into}
    # units from elsewhere merged into one here: their flows count here too
    carried = {c for c in merges if c not in subtree and _reaches(c, merges, subtree)}
    memo = inp.memo
    tops = sorted(kids.get(inp.root, []), key=lambda u: u.code)
    below_of = {kid.code: _subtree(kid.code, kids) for kid in tops}

    # the reports of the kind the digest combines, by unit (merged units' too); with a memo,
    # each report's name under the child of the root it belongs to (the memo's fingerprints)
    reports: dict[str, list[tuple[Period, Answers]]] = {}
    current: dict[tuple[str, str], Sent] = {}
    wanted = {p.id for p in periods}
    parsed: dict[str, Period | None] = {}
    under = {c: k for k, below in below_of.items() for c in below} if memo is not None else {}
    names: dict[str, list[tuple[str, str, int, bool]]] = {}
    # a period's own answers by unit, the last of each unit's that has any (what `_answers`
    # reads for a one-period digest), shared by the period ids naming the same period
    own: dict[Period, dict[str, Answers]] = {}
    slots: dict[str, dict[str, Answers]] = {}
    for s in inp.submissions:
        if s.period not in parsed:
            try:
                parsed[s.period] = Period.parse(s.period)
            except PeriodError:
                parsed[s.period] = None
            found = parsed[s.period]
            if found is not None:
                slots[s.period] = own.setdefault(found, {})
        p = parsed[s.period]
        if p is None or p.kind is not kind or (s.unit not in subtree and s.unit not in carried):
            continue
        if s.period in wanted:
            current[(s.unit, s.period)] = s
        if s.counted:
            reports.setdefault(s.unit, []).append((p, s.answers))
            if s.answers:
                slots[s.period][s.unit] = s.answers
        if memo is not None:
            # a merged-away unit's reports may count for a unit under another child
            owner = "" if s.unit in merges else under.get(s.unit, inp.root)
            names.setdefault(owner, []).append((s.unit, s.period, s.version, s.counted))

    figure_units = {c for c in subtree if not units[c].merged_into}
    span = Span.of(inp.period)

    owe: set[str] | None = None  # decided once per unit, when a memo misses

    def owing(view: set[str]) -> set[str]:
        # a target looks at the units that owe the report (not the districts above them)
        nonlocal owe
        if owe is None:
            owe = {c for c in applicable if any(active_in(units[c], p) for p in periods)}
        return view & owe

    def rolled(view: set[str]) -> tuple[list[tuple[Rollup, Rollup]], dict[str, Answers]]:
        now = _answers(t, view, reports, span, merges, periods, own)
        before = {} if previous is None else _answers(t, view, reports, Span.of(previous),
                                                      merges, before_periods, own)
        return _rollups(t, now, before), now

    shared: Hashable = None
    if memo is not None:
        chosen = t.allocations if inp.allocations is None else inp.allocations
        shared = (inp.period.id, frozenset(merges.items()), frozenset(chosen.items()),
                  frozenset(names.get("", ())))

    def mark(code: str, below: set[str]) -> Hashable:
        """What a child's (or the root's own) figures and targets are made of."""
        return (shared, frozenset(names.get(code, ())), frozenset(units[c] for c in below),
                frozenset(below & applicable))

    # each child's figures, then the whole subtree's from them (one pass over the answers)
    relevant = applicable | figure_units
    children, parts = [], []
    child_targets: list[dict[int, TargetResult]] = []
    marks: list[Hashable] = []
    counts: list[Completeness] = []
    for kid in tops:
        below = below_of[kid.code]
        if below.isdisjoint(relevant):
            continue
        view = below & figure_units
        key = (t.id, inp.period.id, kid.code)
        made = mark(kid.code, below) if memo is not None else None
        marks.append(made)
        kept = memo.get(key, t, made) if memo is not None else None
        if kept is None:
            rolls, now_view = rolled(view)
            results = _targets(t, inp, owing(view), False, reports, merges, now_view)
            if memo is not None:
                memo.put(key, t, made, (rolls, results))
        else:
            rolls, results = kept
        parts.append(rolls)
        c = _completeness(inp, below & applicable, periods, current)
        counts.append(c)
        figs = _figures(t, rolls)
        child_targets.append(results)
        if c.expected or any(f.units for f in figs):
            children.append(ChildDigest(kid.code, kid.name, c, figs, _lines(t, results)))
    top = units[inp.root].parent_code is None or inp.root in t.applies_to.subtrees
    key = (t.id, inp.period.id, f"{inp.root}\x00all")
    made = (tuple(marks), mark(inp.root, {inp.root}), top) if memo is not None else None
    kept = memo.get(key, t, made) if memo is not None else None
    if kept is None:
        parts.append(rolled({inp.root} & figure_units)[0])
        whole = [(_combine([p[i][0] for p in parts]), _combine([p[i][1] for p in parts]))
                 for i in range(len(parts[0]))]
        everyone = owing(subtree & figure_units)
        joinable = inp.root not in everyone  # every unit checked is in some child's subtree
        all_now = _answers(t, figure_units, reports, span, merges, periods, own)
        overall = _targets(t, inp, everyone, top, reports, merges, all_now,
                           child_targets if joinable else None)
        if memo is not None:
            memo.put(key, t, made, (whole, overall))
    else:
        whole, overall = kept
    # the whole's from the children's (and the root's own): every unit is under one of them
    counts.append(_completeness(inp, {inp.root} & applicable, periods, current))
    completeness = _joined_completeness(counts)
    return Digest(t.id, t.title, inp.period, tuple(periods), previous, inp.root,
                  units[inp.root].name, inp.now, completeness, _figures(t, whole),
                  _lines(t, overall), tuple(children), inp.opens, inp.lock,
                  inp.escalate_after_days)


def _only(answers: Mapping[str, Answers], codes: set[str]) -> dict[str, Answers]:
    """The answers of `codes` (walking the smaller of the two)."""
    if len(codes) < len(answers):
        return {c: answers[c] for c in codes if c in answers}
    return {c: a for c, a in answers.items() if c in codes}


def _reaches(code: str, merges: Mapping[str, str], subtree: set[str]) -> bool:
    """Does `code`'s merge chain lead into `subtree`?"""
    seen = {code}
    while code in merges:
        code = merges[code]
        if code in subtree:
            return True
        if code in seen:
            return False
        seen.add(code)
    return False


def _subtree(root: str, kids: Mapping[str | None, list[Unit]]) -> set[str]:
    out, stack = set(), [root]
    while stack:
        code = stack.pop()
        out.add(code)
        stack.extend(k.code for k in kids.get(code, []))
    return out


def _answers(t: Template, codes: set[str], reports: Mapping[str, Series], span: Span,
             merges: Mapping[str, str], periods: Sequence[Period],
             own: Mapping[Period, Mapping[str, Answers]]) -> dict[str, Answers]:
    """Each unit's answers over `span` (what `roll_up` takes). One report period and no unit
    merged into it: the report's own answers (`own`: the last non-empty answers of each
    unit's counted reports of that period, what `unit_answers` gives then, without walking
    every question of every unit); otherwise `unit_answers` combines them."""
    out: dict[str, Answers] = {}
    single = own.get(periods[0], {}) if len(periods) == 1 else None
    heirs = set(merges.values())
    for code in sorted(codes):  # sorted: the roll-ups list their units sorted
        if single is not None and code not in heirs:
            found = single.get(code)
            if found is not None:
                out[code] = found
            continue
        answers = unit_answers(t.questions, code, reports, span, merges)
        if answers:
            out[code] = answers
    return out


def _completeness(inp: DigestInput, codes: set[str], periods: Sequence[Period],
                  current: Mapping[tuple[str, str], Sent]) -> Completeness:
    units = inp.units
    expected = actual = on_time = 0
    missing: list[Missing] = []
    late: list[Late] = []
    owing: set[str] = set()
    for p in periods:
        due = inp.due.get(p.id)
        for code in sorted(codes):
            if not active_in(units[code], p):
                continue
            expected += 1
            owing.add(code)
            s = current.get((code, p.id))
            if s is None or not s.counted:
                overdue = days_late(inp.now, due) if due is not None and inp.now >= due else 0
                missing.append(Missing(code, p.id, overdue, s is not None))
                continue
            actual += 1
            if s.was_on_time:
                on_time += 1
            else:
                late.append(Late(code, p.id, days_late(s.first_at, s.due_at), s.first_at))
    open_ = {(m.unit, m.period) for m in missing}
    drafting = tuple(sorted((d for d in inp.drafts if (d.unit, d.period) in open_),
                            key=lambda d: (d.unit, d.period)))
    no_officer = tuple(sorted(c for c in owing if not inp.officers.get(c)))
    unreachable = tuple(sorted(c for c in owing if inp.officers.get(c)
                               and not any(o.reachable for o in inp.officers[c])))
    missing.sort(key=lambda m: (m.unit, m.period))
    late.sort(key=lambda x: (x.unit, x.period))
    return Completeness(expected, actual, on_time, tuple(missing), tuple(late), drafting,
                        no_officer, unreachable)


def _joined_completeness(parts: Sequence[Completeness]) -> Completeness:
    """The completeness over the units of several disjoint parts, as `_completeness` over all
    of them gives it (counts add; the lists are joined and sorted the same way)."""
    def joined(field: str) -> list[Any]:
        return list(chain.from_iterable(getattr(p, field) for p in parts))

    def by_unit_period(x: Any) -> tuple[str, str]:
        return x.unit, x.period

    return Completeness(
        sum(p.expected for p in parts), sum(p.actual for p in parts),
        sum(p.on_time for p in parts), tuple(sorted(joined("missing"), key=by_unit_period)),
        tuple(sorted(joined("late"), key=by_unit_period)),
        tuple(sorted(joined("in_progress"), key=by_unit_period)),
        tuple(sorted(joined("no_officer"))), tuple(sorted(joined("unreachable"))))


def _rollups(t: Template, now: Mapping[str, Answers],
             before: Mapping[str, Answers]) -> list[tuple[Rollup, Rollup]]:
    """Each totalled question's roll-up over `now` and over `before`, in template order."""
    totalled = [q for q in t.questions if q.aggregation is not Aggregate.NONE]
    return list(zip(roll_ups(totalled, now), roll_ups(totalled, before), strict=True))


def _combine(parts: Sequence[Rollup]) -> Rollup:
    """The roll-up over the units of several disjoint roll-ups of one question, exactly as
    `roll_up` over all of them would give (Σ parts of a ratio, Σ value × units of a plain
    average, …); `units` in the parts' order."""
    first = parts[0]
    agg = first.aggregation
    units = tuple(chain.from_iterable(p.units for p in parts))
    values = [p.value for p in parts if p.value is not None]
    if first.numerator is not None or agg is Aggregate.RATIO:  # a ratio, a weighted average
        top = sum((p.numerator or Fraction(0) for p in parts), Fraction(0))
        bottom = sum((p.denominator or Fraction(0) for p in parts), Fraction(0))
        value = (top / bottom * (100 if agg is Aggregate.RATIO else 1)) if bottom else None
        return Rollup(agg, value, units, top, bottom)
    if agg is Aggregate.AVERAGE:
        count = sum(len(p.units) for p in parts if p.value is not None)
        total = sum((p.value * len(p.units) for p in parts if p.value is not None), Fraction(0))
        return Rollup(agg, total / count if count else None, units)
    if agg in (Aggregate.MIN, Aggregate.MAX):
        pick = min if agg is Aggregate.MIN else max
        return Rollup(agg, pick(values) if values else None, units)
    if agg is Aggregate.NONE:
        return Rollup(agg, None, units)
    value = sum(values, Fraction(0)) if values else None  # sum, count, count of yes
    if value is None:  # nobody answered in any part: unknown, as `roll_up` gives it
        return Rollup(agg, None, units)
    if agg is Aggregate.DISTRIBUTION:
        counts: dict[str, int] = {}
        for p in parts:
            for option, n in (p.distribution or {}).items():
                counts[option] = counts.get(option, 0) + n
        return Rollup(agg, value, units, distribution=counts)
    return Rollup(agg, value, units)


def _figures(t: Template, rolls: Sequence[tuple[Rollup, Rollup]]) -> tuple[Figure, ...]:
    questions = [q for q in t.questions if q.aggregation is not Aggregate.NONE]
    return tuple(Figure(q.id, q.text, q.unit, r.aggregation, r.value, len(r.units),
                        r.distribution, b.value, b.distribution)
                 for q, (r, b) in zip(questions, rolls, strict=True))


def _targets(t: Template, inp: DigestInput, view: set[str], top: bool,
             reports: Mapping[str, Series], merges: Mapping[str, str],
             answers: Mapping[str, Answers],
             below: Sequence[Mapping[int, TargetResult]] | None = None) -> dict[int, TargetResult]:
    """Target index → its result over the units of `view`. `below`: the children's results
    when they hold every unit of `view` between them: a target checked unit by unit is then
    joined from them instead of checking 10,000 communes again."""
    levels = {c: inp.units[c].level.value for c in view}
    out = {}
    for i, target in enumerate(t.targets):
        if target.scope == "total" and not top:
            continue
        if below is not None and target.scope != "total":
            joined = _joined(t, i, inp.period, [b[i] for b in below if i in b])
            if joined is not None:
                out[i] = joined
                continue
        # the answers over the period are already combined; a cumulative target needs its own
        given = _only(answers, view)
        r = evaluate(t, i, inp.period, levels, reports, merges, inp.allocations,
                     answers=None if target.baseline_year is not None else given)
        if r is not None:
            out[i] = r
    return out


def _joined(t: Template, index: int, period: Period,
            parts: Sequence[TargetResult]) -> TargetResult | None:
    """A unit-by-unit target over the units of `parts` together, as `evaluate` gives it; None
    when it must be evaluated afresh (an allocated rate: its figure is not a sum)."""
    target = t.targets[index]
    if not parts or not shows(target, period):
        return None
    units = tuple(sorted((u for p in parts for u in p.units), key=lambda u: u.code))
    first = parts[0]
    if target.scope == "allocated":
        if t.question(target.question).aggregation is not Aggregate.SUM:
            return None
        figures = [u.figure for u in units if u.figure is not None]
        figure = sum(figures, Fraction(0)) if figures else None
        goal = sum((u.goal for u in units), Fraction(0))
        met = None if figure is None else meets(target.direction, figure, goal)
        return TargetResult(index, target, period, first.span, figure, goal, met,
                            progress(target.direction, figure, goal), units, first.final)
    count = Fraction(sum(1 for u in units if u.met))
    total = Fraction(len(units))
    share = count / total * 100 if total else None
    met_all: bool | None = False if any(u.met is False for u in units) else (
        None if not units or any(u.met is None for u in units) else True)
    return TargetResult(index, target, period, first.span, count, total, met_all, share,
                        units, first.final)


def _lines(t: Template, results: Mapping[int, TargetResult]) -> tuple[TargetLine, ...]:
    return tuple(_line(t, t.targets[i], r) for i, r in sorted(results.items()))


def _line(t: Template, target: Target, r: TargetResult) -> TargetLine:
    return TargetLine(r.index, target.question, target_label(t, target), target.scope,
                      target.direction, r.figure, r.goal, r.met, r.progress, basis_of(target),
                      target.quote, r.final, len(r.meeting), r.failing, r.missing)


_SIGNS = {"at_least": "≥", "at_most": "≤", "more_than": ">", "less_than": "<"}


def target_label(t: Template, target: Target) -> str:
    """The target's own label, else its question and goal ('Số HTX thành lập mới ≥ 5')."""
    if target.label:
        return target.label
    q = t.question(target.question)
    goal = "" if target.value is None else f" {_number(Fraction(repr(target.value)))}"
    suffix = f" ({target.year})" if target.year is not None else ""
    return f"{q.text} {_SIGNS[target.direction]}{goal}{suffix}"
