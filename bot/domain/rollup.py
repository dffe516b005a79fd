"""How submitted answers add up: across units (by the question's aggregation), over time (by
its `over_time`), and through merged units. Pure: plain values in, plain values out.

Numbers are computed exactly (`fractions.Fraction`; a float answer is read as the decimal it
was typed as, `0.1` → 1/10) and rounded only for display. A unit that has not reported, or left
the question unanswered, is never counted as zero: it is left out.

Over time (`time_rule`): "sum" adds the flows of the periods inside the span, "last" takes the
answer of the latest period inside it. Unset, integer and decimal questions sum (the only
behaviour before `over_time` existed); every other type takes the last answer (a percentage,
a yes/no or a choice cannot be added up over months).

A rate over time: its numerator and denominator are combined each by its own rule (they should
share it), so flows give Σ numerators / Σ denominators over the periods and stocks the last
pair.

Merged units (`merged_into`: old code → new code, chains allowed, cycles refused), for one
unit over a span:
- "sum": the flows of every unit merged into it (directly or through a chain) count for it,
  as its own do (so a cumulative count from a baseline year keeps the old communes' figures);
- "last": its own latest answer in the span, plus the stock of each unit merged into it
  that still reported for that period or a later one (the two were separate then: a span
  before the merge); if it has none there and has never reported the question up to the
  span's end, the sum of what each unit merged into it gives by the same rule (their stocks
  add up); once it reports its own stock after the merge, the old units' no longer count;
- other answers (percentages, yes/no, choices, text) never carry: only the unit's own answer
  counts (two communes' percentages do not add up; ask a rate as two counts instead).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Context, Decimal, Inexact, localcontext
from fractions import Fraction
from itertools import pairwise
from operator import itemgetter
from typing import Any, Literal, cast

from bot.domain.periods import Period
from bot.domain.templates import Aggregate, Question, QuestionType

Answers = Mapping[str, Any]  # one unit's latest submitted answers for one period
Series = Sequence[tuple[Period, Answers]]  # one unit's reports, any order
TimeRule = Literal["sum", "last"]
HUNDRED = Fraction(100)


class MergeError(ValueError):
    """`merged_into` that cannot be followed: a unit merged into itself, or a cycle."""


def exact(value: Any) -> Fraction | None:
    """An answer as an exact number; None for anything that is not one (bools included)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Fraction | int):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(repr(value)) if value == value and abs(value) != float("inf") else None
    return None


# Sums of many answers, still exact but without a Fraction per answer (a digest adds up
# 10,000 communes × 30 questions): integers add natively, decimal answers as `Decimal` (the
# decimal they were typed as; any rounding would raise), other fractions as they are.
_EXACT = Context(prec=1000, traps=[Inexact])
Number = int | Decimal | Fraction


def _fast(value: Any) -> Number | None:
    """`exact`, but an int stays an int and a float becomes its Decimal."""
    kind = type(value)
    if kind is int:
        return value  # type: ignore[no-any-return]
    if kind is float:
        return Decimal(repr(value)) if math.isfinite(value) else None
    return exact(value)


def _total(values: Iterable[Number]) -> Fraction:
    values = list(values)
    kinds = set(map(type, values))
    if kinds <= {int}:  # integers only (or none): one native sum
        return Fraction(sum(values))
    if kinds == {Decimal}:  # the loop below in C: the same additions in the same context
        with localcontext(_EXACT):
            return Fraction(sum(values, Decimal(0)))
    whole, decimal, other = 0, Decimal(0), Fraction(0)
    for v in values:
        if isinstance(v, int):
            whole += v
        elif isinstance(v, Decimal):
            decimal = _EXACT.add(decimal, v)
        else:
            other += v
    if not decimal and not other:
        return Fraction(whole)
    return Fraction(whole) + Fraction(decimal) + other


def _times(a: Number, b: Number) -> Number:
    if isinstance(a, Fraction) or isinstance(b, Fraction):
        return Fraction(a) * Fraction(b)
    if isinstance(a, int) and isinstance(b, int):
        return a * b
    return _EXACT.multiply(Decimal(a), Decimal(b))


def shown(value: Fraction | None, places: int = 1) -> str:
    """A figure for display, rounded: '10', '45.6' (the chat formats it the Vietnamese way)."""
    if value is None:
        return "—"
    rounded = round(value, places)
    return str(int(rounded)) if rounded == int(rounded) else f"{float(rounded):.{places}f}"


# --- across units ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Rollup:
    """A question's figure over several units.

    `value`: the sum, average, percentage (ratio), min, max or count; None when no unit gave
    what it needs (or Σ denominators / Σ weights is 0). `units`: the units counted.
    `numerator`/`denominator`: a ratio's Σ parts, or a weighted average's Σ value×weight and
    Σ weight. `distribution`: per option id, how many units chose it."""

    aggregation: Aggregate
    value: Fraction | None
    units: tuple[str, ...]
    numerator: Fraction | None = None
    denominator: Fraction | None = None
    distribution: Mapping[str, int] | None = field(default=None)

    @property
    def number(self) -> float | None:
        return None if self.value is None else float(self.value)


def roll_up(q: Question, by_unit: Mapping[str, Answers]) -> Rollup:
    """`q`'s figure over the units that reported (`by_unit`: unit code → its answers)."""
    agg = q.aggregation
    if agg is Aggregate.RATIO:
        return _ratio(q, by_unit)
    if agg is Aggregate.AVERAGE and q.weight:
        return _weighted(q, by_unit)
    if agg in (Aggregate.COUNT_YES, Aggregate.COUNT, Aggregate.DISTRIBUTION, Aggregate.NONE):
        return _counted(q, by_unit)
    if agg in (Aggregate.SUM, Aggregate.AVERAGE):
        total, units_ = _summed(q.id, by_unit)
        if not units_:
            return Rollup(agg, None, ())
        return Rollup(agg, total if agg is Aggregate.SUM else total / len(units_), units_)
    numbers = {code: n for code, a in by_unit.items() if (n := exact(a.get(q.id))) is not None}
    units = tuple(sorted(numbers))
    if not numbers:
        return Rollup(agg, None, ())
    values = list(numbers.values())
    if agg is Aggregate.MIN:
        return Rollup(agg, min(values), units)
    return Rollup(agg, max(values), units)


def roll_ups(questions: Sequence[Question], by_unit: Mapping[str, Answers]) -> list[Rollup]:
    """`[roll_up(q, by_unit) for q in questions]`, the plain sums and averages taken a column
    at a time: each unit's answers to all of them picked in one C call, and a question every
    unit answered with an integer summed natively (the common case; any other falls back to
    `roll_up`). A digest of 10,000 communes × 30 questions otherwise takes one Python step
    per answer."""
    plain = [q for q in questions if q.aggregation is Aggregate.SUM
             or (q.aggregation is Aggregate.AVERAGE and not q.weight)]
    sums: dict[str, int] = {}
    if len(plain) > 1 and by_unit:  # (itemgetter of one key gives a value, not a tuple)
        pick = itemgetter(*(q.id for q in plain))
        try:
            rows = list(map(pick, by_unit.values()))
        except KeyError:  # a unit left one unanswered: question by question
            rows = []
        for q, column in zip(plain, zip(*rows, strict=True), strict=False):
            if set(map(type, column)) == {int}:  # no bool, float or None among them
                sums[q.id] = sum(cast(tuple[int, ...], column))
    units = tuple(sorted(by_unit)) if sums else ()
    out = []
    for q in questions:
        total = sums.get(q.id)
        if total is None:
            out.append(roll_up(q, by_unit))
        elif q.aggregation is Aggregate.SUM:
            out.append(Rollup(Aggregate.SUM, Fraction(total), units))
        else:
            out.append(Rollup(Aggregate.AVERAGE, Fraction(total, len(units)), units))
    return out


def _summed(qid: str, by_unit: Mapping[str, Answers]) -> tuple[Fraction, tuple[str, ...]]:
    """Σ of the units' numeric answers to `qid`, and those units (sorted): one loop, integers
    added as they come (the common case, and the hot loop of a 10,000-commune digest)."""
    values = [a.get(qid) for a in by_unit.values()]
    if set(map(type, values)) == {int}:  # every unit answered with an integer (a bool's type
        # is not int): no per-unit checks
        return Fraction(sum(cast(list[int], values))), tuple(sorted(by_unit))
    whole = 0
    rest: list[Number] = []
    units: list[str] = []
    for code, a in by_unit.items():
        v = a.get(qid)
        if type(v) is int:
            whole += v
        else:
            n = _fast(v)
            if n is None:
                continue
            rest.append(n)
        units.append(code)
    total = Fraction(whole) + _total(rest) if rest else Fraction(whole)
    units.sort()
    return total, tuple(units)


PAIRED = "\x00paired:"  # + a question id: its parts taken only where both were answered


def _pairs(by_unit: Mapping[str, Answers], first: str,
           second: str) -> dict[str, tuple[Number, Number]]:
    """The units that answered both questions with numbers (the others are left out of both
    sums, so a missing part never counts as zero). Over several periods a unit's two parts
    are those of the periods where it gave both (`paired_parts`, under PAIRED + `first`)."""
    out = {}
    key = PAIRED + first
    for code, a in by_unit.items():
        if key in a:
            if a[key] is not None:
                out[code] = a[key]
            continue
        x, y = a.get(first), a.get(second)
        if type(x) is not int:  # integers (the common case) need no conversion
            x = _fast(x)
        if type(y) is not int:
            y = _fast(y)
        if x is not None and y is not None:
            out[code] = (x, y)
    return out


def _ratio(q: Question, by_unit: Mapping[str, Answers]) -> Rollup:
    """Σ numerators / Σ denominators × 100: 9/10 and 1/90 give 10/100 = 10%."""
    pairs = _pairs(by_unit, q.id, q.denominator or "")
    top = _total(n for n, _ in pairs.values())
    bottom = _total(d for _, d in pairs.values())
    value = top / bottom * HUNDRED if bottom else None
    return Rollup(Aggregate.RATIO, value, tuple(sorted(pairs)), top, bottom)


def _weighted(q: Question, by_unit: Mapping[str, Answers]) -> Rollup:
    """Σ value×weight / Σ weight over the units that gave both."""
    pairs = _pairs(by_unit, q.id, q.weight or "")
    if {type(x) for pair in pairs.values() for x in pair} <= {int, Decimal}:
        # what `_times` gives each pair, in C: an int times an int natively, any Decimal
        # product in the exact context (prices typed as decimals, weights as counts)
        decimals = cast(dict[str, tuple[Decimal, Decimal]], pairs)  # (an int as one)
        with localcontext(_EXACT):
            products = [v * w for v, w in decimals.values()]
        top = _total(products)
    else:
        top = _total(_times(v, w) for v, w in pairs.values())
    bottom = _total(w for _, w in pairs.values())
    value = top / bottom if bottom else None
    return Rollup(Aggregate.AVERAGE, value, tuple(sorted(pairs)), top, bottom)


def _answered(value: Any) -> bool:
    return value is not None and value != [] and value != ""


def _counted(q: Question, by_unit: Mapping[str, Answers]) -> Rollup:
    agg = q.aggregation
    qid = q.id
    answered = {code: v for code, a in by_unit.items()  # `_answered`, inlined: a hot loop
                if (v := a.get(qid)) is not None and v != [] and v != ""}
    units = tuple(sorted(answered))
    if not answered:  # nobody answered: unknown ("—"), not a count of 0 that looks like a fact
        return Rollup(agg, None, ())
    if agg is Aggregate.COUNT_YES:
        return Rollup(agg, Fraction(sum(1 for v in answered.values() if v is True)), units)
    if agg is Aggregate.COUNT:
        return Rollup(agg, Fraction(len(answered)), units)
    if agg is Aggregate.NONE:
        return Rollup(agg, None, units)
    counts = {o.id: 0 for o in q.options}
    for v in answered.values():
        for choice in (v if isinstance(v, list) else [v]):
            counts[str(choice)] = counts.get(str(choice), 0) + 1
    return Rollup(agg, Fraction(len(answered)), units, distribution=counts)


# --- over time ------------------------------------------------------------------------------


def time_rule(q: Question) -> TimeRule:
    """How `q` adds up over time: its `over_time`, else "sum" for integer and decimal
    questions and "last" for the others."""
    if q.over_time is not None:
        return q.over_time
    return "sum" if q.type in (QuestionType.INTEGER, QuestionType.DECIMAL) else "last"


@dataclass(frozen=True)
class Span:
    """Days from `start` to `end` (inclusive): a period, or 1 January of a baseline year to
    the end of a period."""

    start: date
    end: date

    @classmethod
    def of(cls, period: Period, baseline_year: int | None = None) -> Span:
        start = date(baseline_year, 1, 1) if baseline_year is not None else period.start
        return cls(min(start, period.start), period.end)

    def holds(self, period: Period) -> bool:
        return self.start <= period.start and period.end <= self.end


def _inside(series: Series, span: Span) -> list[tuple[Period, Answers]]:
    """The reports of periods inside `span`, oldest first; ValueError when two overlap (a
    monthly and a quarterly report of the same months would count twice)."""
    kept = sorted(((p, a) for p, a in series if span.holds(p)), key=lambda pa: pa[0].start)
    for (before, _), (after, _) in pairwise(kept):
        if after.start <= before.end:
            raise ValueError(f"reports of {before.id} and {after.id} overlap: combine one kind "
                             "of period at a time")
    return kept


def over_time(q: Question, series: Series, span: Span) -> Any:
    """One unit's answer to `q` over `span` from its reports (no merged units): the sum of
    its flows or its latest answer; None when it answered in no period of the span."""
    kept = [(p, a[q.id]) for p, a in _inside(series, span) if _answered(a.get(q.id))]
    if not kept:
        return None
    if time_rule(q) == "last":
        value = kept[-1][1]
        number = exact(value)
        return number if number is not None else value
    numbers = [n for _, v in kept if (n := exact(v)) is not None]
    return sum(numbers, Fraction(0)) if numbers else None


def check_merges(merged_into: Mapping[str, str]) -> None:
    """Refuse a unit merged into itself and cycles (A → B → A), naming them."""
    for start in merged_into:
        chain = [start]
        code = start
        while code in merged_into:
            code = merged_into[code]
            if code in chain:
                loop = " → ".join([*chain[chain.index(code):], code])
                raise MergeError(f"merge cycle: {loop}")
            chain.append(code)


def merged_sources(code: str, merged_into: Mapping[str, str]) -> list[str]:
    """The units merged directly into `code`, sorted."""
    return sorted(old for old, new in merged_into.items() if new == code)


def successor(code: str, merged_into: Mapping[str, str]) -> str:
    """The unit `code`'s figures belong to today: itself, or the end of its merge chain."""
    check_merges(merged_into)
    while code in merged_into:
        code = merged_into[code]
    return code


def unit_value(q: Question, code: str, reports: Mapping[str, Series], span: Span,
               merged_into: Mapping[str, str] | None = None) -> Any:
    """`code`'s answer to `q` over `span`, with the figures of the units merged into it
    (see the module's rules). `reports`: unit code → its reports."""
    merges = merged_into or {}
    check_merges(merges)
    return _unit_value(q, code, reports, span, merges)


def _unit_value(q: Question, code: str, reports: Mapping[str, Series], span: Span,
                merges: Mapping[str, str]) -> Any:
    counts = q.type in (QuestionType.INTEGER, QuestionType.DECIMAL)
    sources = merged_sources(code, merges) if counts else []
    if not sources:
        return over_time(q, reports.get(code, ()), span)
    if time_rule(q) == "last":
        found = _stock(q, code, reports, span, merges)
        return None if found is None else found[1]
    own = over_time(q, reports.get(code, ()), span)
    carried = [_unit_value(q, old, reports, span, merges) for old in sources]
    numbers = [n for v in (own, *carried) if (n := exact(v)) is not None]
    return sum(numbers, Fraction(0)) if numbers else None


def _stock(q: Question, code: str, reports: Mapping[str, Series], span: Span,
           merges: Mapping[str, str]) -> tuple[date, Fraction] | None:
    """A count taken as the last value over `span`, with the units merged into `code`, and
    the start of the period it is as of. The unit's own latest answer holds the stocks of
    units merged into it before that period; a merged unit that still reported for that period
    (or later) was separate then, so its stock adds. With no answer of its own in the span
    and none ever before, the merged units' stocks add up."""
    kept = [(p, n) for p, a in _inside(reports.get(code, ()), span)
            if (n := exact(a.get(q.id))) is not None]
    carried = [found for old in merged_sources(code, merges)
               if (found := _stock(q, old, reports, span, merges)) is not None]
    if kept:
        since, own = kept[-1][0].start, kept[-1][1]
        return since, own + sum((v for start, v in carried if start >= since), Fraction(0))
    if _ever_answered(q, reports.get(code, ()), span.end) or not carried:
        return None
    return max(start for start, _ in carried), sum((v for _, v in carried), Fraction(0))


def _ever_answered(q: Question, series: Series, until: date) -> bool:
    return any(p.end <= until and _answered(a.get(q.id)) for p, a in series)


def unit_answers(questions: Iterable[Question], code: str, reports: Mapping[str, Series],
                 span: Span, merged_into: Mapping[str, str] | None = None) -> dict[str, Any]:
    """`code`'s answers over `span`, every question combined (what `roll_up` takes); empty
    when the unit (and the units merged into it) reported nothing in the span."""
    merges = merged_into or {}
    check_merges(merges)
    out: dict[str, Any] = {}
    listed = list(questions)
    for q in listed:
        value = _unit_value(q, code, reports, span, merges)
        if value is not None:
            out[q.id] = value
    if out and not merged_sources(code, merges):
        by_id = {q.id: q for q in listed}
        for q in listed:
            partner = by_id.get(q.denominator or q.weight or "")
            if partner is not None and q.aggregation in (Aggregate.RATIO, Aggregate.AVERAGE):
                pair = paired_parts(q, partner, reports.get(code, ()), span)
                if pair != (exact(out.get(q.id)), exact(out.get(partner.id))):
                    out[PAIRED + q.id] = pair
    return out


def paired_parts(q: Question, partner: Question, series: Series, span: Span
                 ) -> tuple[Fraction, Fraction] | None:
    """A rate's numerator and denominator (or a value and its weight) over `span`, from the
    periods where the unit gave both: a month with the numerator alone must not add to the
    top without its bottom (a quarter's 3 months of good groups over 2 months of groups would
    read over 100%). Each part by its own time rule; None when no period has both."""
    both = [(x, y) for _, a in _inside(series, span)
            if (x := exact(a.get(q.id))) is not None
            and (y := exact(a.get(partner.id))) is not None]
    if not both:
        return None
    top = both[-1][0] if time_rule(q) == "last" else sum((x for x, _ in both), Fraction(0))
    bottom = (both[-1][1] if time_rule(partner) == "last"
              else sum((y for _, y in both), Fraction(0)))
    return top, bottom


def answers_by_unit(questions: Sequence[Question], codes: Collection[str],
                    reports: Mapping[str, Series], span: Span,
                    merged_into: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """For each of `codes` (the units that exist now), its answers over `span`; units with
    nothing to show are left out, so they are never counted as zero."""
    out = {}
    for code in sorted(codes):
        answers = unit_answers(questions, code, reports, span, merged_into)
        if answers:
            out[code] = answers
    return out
