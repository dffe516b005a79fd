"""Report templates (one TOML file each): schedules, questions, skip logic, cross-question
rules, targets.

Structure is checked by pydantic (unknown keys are errors); meaning (references between
questions, min ≤ max, a readable deadline) by `check_template`, so every problem names its key.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from datetime import date, datetime, time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
)

from bot.domain.deadlines import DeadlineError, DeadlineRule, check_rule_for, parse_deadline
from bot.domain.periods import Period, PeriodKind


def _local(v: time) -> time:
    """A clock time in the config's time zone: one with an offset ("07:30:00+07:00", or a
    bare number, which pydantic reads as seconds in UTC) cannot be compared with the quiet
    hours and would be read in the wrong zone, so it is refused with the key's name."""
    if v.tzinfo is not None:
        raise ValueError("give a local time such as \"07:30:00\" (no time zone: the "
                         "config's `timezone` applies)")
    return v


# Every clock time of a config or template ([reminders] quiet hours and send_at, [digests]).
LocalTime = Annotated[time, AfterValidator(_local)]

class Level(StrEnum):
    """Unit levels: province (tỉnh, thành phố trực thuộc trung ương), district (before July
    2025), commune (xã, phường, đặc khu; thị trấn before 2025), and bodies directly under a
    province organisation that are not territorial (Đoàn trực thuộc: schools, agencies)."""

    TINH = "tinh"
    HUYEN = "huyen"
    XA = "xa"
    TRUC_THUOC = "truc_thuoc"


class QuestionType(StrEnum):
    INTEGER = "integer"
    DECIMAL = "decimal"
    PERCENT = "percent"
    YES_NO = "yes_no"
    CHOICE = "choice"
    MULTI_CHOICE = "multi_choice"
    TEXT = "text"
    DATE = "date"
    PHOTO = "photo"


NUMERIC_TYPES = {QuestionType.INTEGER, QuestionType.DECIMAL, QuestionType.PERCENT}


class Aggregate(StrEnum):
    """How answers roll up the unit tree."""

    SUM = "sum"
    AVERAGE = "average"
    MIN = "min"
    MAX = "max"
    RATIO = "ratio"  # Σ this question / Σ its `denominator` question, shown as a percentage
    COUNT_YES = "count_yes"  # units that answered yes
    COUNT = "count"  # units that answered at all
    DISTRIBUTION = "distribution"  # per choice option, how many units chose it
    NONE = "none"  # listed, not totalled (text, photos)


DEFAULT_AGGREGATE = {
    QuestionType.INTEGER: Aggregate.SUM,
    QuestionType.DECIMAL: Aggregate.SUM,
    QuestionType.PERCENT: Aggregate.AVERAGE,
    QuestionType.YES_NO: Aggregate.COUNT_YES,
    QuestionType.CHOICE: Aggregate.DISTRIBUTION,
    QuestionType.MULTI_CHOICE: Aggregate.DISTRIBUTION,
    QuestionType.TEXT: Aggregate.NONE,
    QuestionType.DATE: Aggregate.NONE,
    QuestionType.PHOTO: Aggregate.COUNT,
}

_ID = r"^[a-z][a-z0-9_]{0,39}$"
Scalar = bool | int | float | str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Option(_Strict):
    id: Annotated[str, Field(pattern=_ID)]
    label: Annotated[str, Field(min_length=1, max_length=60)]


class Condition(_Strict):
    """Ask only when an earlier answer matches: `{question = "co_fanpage", equals = true}`."""

    question: str
    equals: Scalar | None = None
    not_equals: Scalar | None = None
    one_of: list[Scalar] | None = None
    gt: float | None = None
    gte: float | None = None

    def holds(self, answers: dict[str, Any]) -> bool:
        """True when the condition is met; an unanswered (or skipped) question never meets it."""
        value = answers.get(self.question)
        if value is None:
            return False
        if self.equals is not None and not _same(value, self.equals):
            return False
        if self.not_equals is not None and _same(value, self.not_equals):
            return False
        if self.one_of is not None and not _matches_any(value, self.one_of):
            return False
        if self.gt is not None and not (_is_number(value) and value > self.gt):
            return False
        return self.gte is None or (_is_number(value) and value >= self.gte)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(value: Any, expected: Scalar) -> bool:
    if isinstance(value, list):
        return expected in value
    if isinstance(value, bool) or isinstance(expected, bool):
        return value is expected
    return bool(value == expected)


def _matches_any(value: Any, options: list[Scalar]) -> bool:
    if isinstance(value, list):
        return any(v in options for v in value)
    return any(_same(value, o) for o in options)


class Question(_Strict):
    id: Annotated[str, Field(pattern=_ID)]
    text: Annotated[str, Field(min_length=1, max_length=500)]
    type: QuestionType
    required: bool = True
    min: float | None = None
    max: float | None = None
    unit: str | None = Field(default=None, max_length=30)  # HTX, người, lượt, triệu đồng
    hint: str | None = Field(default=None, max_length=200)
    options: list[Option] = []
    when: Condition | None = None
    aggregate: Aggregate | None = None
    max_length: int = Field(default=1000, ge=1, le=3500)
    # Dates only: inside the report's period, or from its first day to the day of reporting
    # (never past its last day).
    within: Literal["period", "period_to_today"] | None = None
    # Rates asked as two counts: on the numerator, aggregate = "ratio" and denominator = the
    # id of the count it is a part of (numerator ≤ denominator is checked as the officer types).
    denominator: str | None = None
    # A percentage averaged over units, weighted by another question's answer (e.g. the
    # number of groups a unit has); without it an average must be asked for explicitly.
    weight: str | None = None
    # How a number adds up over time: "sum" for flows (new this period), "last" for stocks
    # (lũy kế, as at the end of the period).
    over_time: Literal["sum", "last"] | None = None
    # "previous": show last period's answer and accept "giữ" / "như kỳ trước" to reuse it.
    prefill: Literal["previous"] | None = None
    # A longer explanation than the hint, shown when the officer asks ("?", "Giải thích").
    definition: str | None = Field(default=None, min_length=1, max_length=1000)
    # Text questions only: the units' answers are quoted, with their names, in the draft
    # official report (.docx), under "II. Hạn chế, nguyên nhân".
    in_report: bool = False

    @property
    def aggregation(self) -> Aggregate:
        return self.aggregate or DEFAULT_AGGREGATE[self.type]

    @property
    def bounds(self) -> tuple[float | None, float | None]:
        """Effective min/max: counts and amounts are ≥ 0 and percentages 0–100 unless set."""
        low, high = self.min, self.max
        if self.type in NUMERIC_TYPES and low is None:
            low = 0
        if self.type is QuestionType.PERCENT and high is None:
            high = 100
        return low, high


class Rule(_Strict):
    """A cross-question check such as `htx_moi <= htx_tong`, shown with `message` when it fails."""

    check: str
    message: Annotated[str, Field(min_length=1)]


class Target(_Strict):
    """A chỉ tiêu: `question`'s total (or each unit's answer) should reach `value`.

    scope: "total" (the subtree's roll-up), "each_unit" (every unit's own answer), "level"
    (every unit of `level`), "allocated" (each unit its own value, from
    `targets/<template id>.csv` in the reports folder: columns code,value).
    `baseline_year`: a cumulative target, counted from 1 January of that year.
    `basis`: "plan" when the plan states the figure (quote it in `quote`; a quote alone
    implies the plan), else "assumed". Meaning and evaluation: `bot.domain.targets`."""

    question: str
    value: float | None = None  # None only for allocated targets
    direction: Literal["at_least", "at_most", "more_than", "less_than"] = "at_least"
    scope: Literal["total", "each_unit", "level", "allocated"] = "total"
    level: Level | None = None
    year: int | None = None  # a milestone year (e.g. 2025); None means every period
    baseline_year: int | None = None
    basis: Literal["plan", "assumed"] | None = None
    quote: str | None = None
    label: str | None = None


class AppliesTo(_Strict):
    """Which units owe the report: every key given must match (a key left empty matches all)."""

    orgs: list[Annotated[str, Field(pattern=_ID)]] = []  # doan, hoi_nong_dan, dang, ubnd…
    levels: list[Level] = []
    subtrees: list[str] = []  # unit codes; the unit and everything below it


class ReminderOverride(_Strict):
    """A template's own reminder schedule (unset keys take the config's [reminders]; its
    send_at is checked against the config's quiet hours by `check_template`)."""

    days_before: list[Annotated[int, Field(ge=1, le=60)]] | None = None
    send_at: LocalTime | None = None
    overdue_every_days: int | None = Field(default=None, ge=1, le=60)


class DigestOverride(_Strict):
    """A template's own supervisor digests (unset keys take the config's [digests]; `send = []`
    sends none for this report)."""

    send: list[Literal["last_day", "after_due", "weekly"]] | None = None
    send_at: LocalTime | None = None
    weekly_on: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                       "sunday"] | None = None
    escalate_after_days: int | None = Field(default=None, ge=1, le=60)


# The periods `only` may name, by kind: a period id without its year (`2026-H1` → "H1").
ONLY_CHOICES: dict[PeriodKind, tuple[str, ...]] = {
    PeriodKind.WEEK: tuple(f"W{n:02d}" for n in range(1, 54)),
    PeriodKind.MONTH: tuple(f"{n:02d}" for n in range(1, 13)),
    PeriodKind.QUARTER: ("Q1", "Q2", "Q3", "Q4"),
    PeriodKind.HALF: ("H1", "H2"),
}
_ONLY_WORDS = {PeriodKind.WEEK: 'a week: write "W01" to "W53"',
               PeriodKind.MONTH: 'a month: write two digits, "01" to "12"',
               PeriodKind.QUARTER: 'a quarter: write "Q1", "Q2", "Q3" or "Q4"',
               PeriodKind.HALF: 'a half-year: write "H1" or "H2"'}


def part_of_year(period: Period) -> str | None:
    """The period id without its year, as `only` names it ("H1", "Q4", "03", "W05"); None for
    the kinds that come once a year (year, nine months)."""
    if period.kind not in ONLY_CHOICES:
        return None
    return period.id.split("-", 1)[1]


class Schedule(_Strict):
    """One recurring report of a template: the period kind, the deadline phrase, and optionally
    only some periods of each year (`only = ["H1"]`: the first half-year's report alone)."""

    period: PeriodKind
    deadline: str
    only: list[str] | None = None

    @property
    def rule(self) -> DeadlineRule:
        return parse_deadline(self.deadline)

    def covers(self, period: Period) -> bool:
        """True when this schedule asks for a report on `period`."""
        if period.kind is not self.period:
            return False
        return self.only is None or part_of_year(period) in self.only

    def describe(self) -> str:
        """'half (H1), “trước ngày 05 tháng cuối quý”' (check-config's listing)."""
        only = f" ({', '.join(self.only)})" if self.only else ""
        return f"{self.period.value}{only}, “{self.deadline}”"


def _a_day(value: Any) -> Any:
    """`valid_from = 2020-02-13` (a TOML date) or "2020-02-13"; not a time, not a number."""
    if isinstance(value, datetime):
        raise ValueError("a day, not a time: write e.g. 2020-02-13")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"not a day: {value!r}: write e.g. 2020-02-13")


Day = Annotated[date, BeforeValidator(_a_day)]

# Question keys added after templates were in use: left out of the hash while unset, so that
# an upgrade alone gives no template a new version; the same for the template's own keys.
_LATER_KEYS = ("within", "denominator", "weight", "over_time", "prefill", "definition")
_LATER_TARGET_KEYS = ("level", "baseline_year", "basis", "quote")
_LATER_TEMPLATE_KEYS = ("schedules", "valid_from", "valid_until", "deadline_basis", "review")


class Template(_Strict):
    id: Annotated[str, Field(pattern=_ID)]
    title: Annotated[str, Field(min_length=1, max_length=200)]
    description: str | None = None
    source: str | None = None  # the plan it implements
    # One schedule written at the top (`period` + `deadline`), or several `[[schedules]]`.
    period: PeriodKind | None = None
    deadline: str | None = None
    schedules: list[Schedule] = []
    # The plan's lifetime: no period ending before valid_from or starting after valid_until
    # opens, is listed or is reminded.
    valid_from: Day | None = None
    valid_until: Day | None = None
    # Whether the deadlines are the plan's own words ("plan") or chosen for it ("assumed").
    deadline_basis: Literal["plan", "assumed"] | None = None
    lock_days: int | None = Field(default=None, ge=0, le=366)  # corrections allowed until
    # Supervisors approve (Duyệt) or return (Trả lại) each unit's submission.
    review: bool = False
    applies_to: AppliesTo = AppliesTo()
    reminders: ReminderOverride | None = None
    digests: DigestOverride | None = None
    questions: Annotated[list[Question], Field(min_length=1, max_length=200)]
    rules: list[Rule] = []
    targets: list[Target] = []
    # Allocated targets' values, unit code → value, from `targets/<id>.csv` in the reports
    # folder (read by `load_templates`; not part of the content hash).
    _allocations: dict[str, float] = PrivateAttr(default_factory=dict)

    @property
    def allocations(self) -> dict[str, float]:
        return dict(self._allocations)

    def set_allocations(self, values: dict[str, float]) -> None:
        self._allocations = dict(values)

    @property
    def every_schedule(self) -> tuple[Schedule, ...]:
        """The template's schedules, whichever way they are written (none only on a template
        `check_template` refuses)."""
        if self.schedules:
            return tuple(self.schedules)
        if self.period is None or self.deadline is None:
            return ()
        return (Schedule.model_construct(period=self.period, deadline=self.deadline, only=None),)

    @property
    def basis(self) -> str:
        return self.deadline_basis or "assumed"

    @property
    def deadline_rule(self) -> DeadlineRule:
        """The deadline of a template with one schedule (`schedule_for` when it has more)."""
        every = self.every_schedule
        if len(every) != 1:
            raise ValueError(f"{self.id} has {len(every)} schedules: use schedule_for")
        return every[0].rule

    def schedule_for(self, period: Period) -> Schedule | None:
        """The schedule asking for a report on `period`, if any (at most one: checked)."""
        for s in self.every_schedule:
            if s.covers(period):
                return s
        return None

    def lives(self, period: Period) -> bool:
        """False for a period that ends before valid_from or starts after valid_until."""
        if self.valid_from is not None and period.end < self.valid_from:
            return False
        return self.valid_until is None or period.start <= self.valid_until

    def asks_for(self, period: Period) -> bool:
        """True when a unit owes this template a report on `period` (schedule and lifetime)."""
        return self.schedule_for(period) is not None and self.lives(period)

    @property
    def question_ids(self) -> list[str]:
        return [q.id for q in self.questions]

    def question(self, question_id: str) -> Question:
        for q in self.questions:
            if q.id == question_id:
                return q
        raise KeyError(question_id)

    def content_hash(self) -> str:
        """A stable hash of the template's content: a new hash means a new version."""
        content = self.model_dump(mode="json")
        for key in _LATER_TEMPLATE_KEYS:
            if content.get(key) in (None, [], False):
                content.pop(key, None)
        for q in content["questions"]:
            for key in _LATER_KEYS:
                if q.get(key) is None:
                    q.pop(key, None)
        for tg in content["targets"]:
            for key in _LATER_TARGET_KEYS:
                if tg.get(key) is None:
                    tg.pop(key, None)
        if not content["applies_to"]["orgs"]:
            content["applies_to"].pop("orgs")
        body = json.dumps(content, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(body.encode()).hexdigest()[:16]


# --- rule expressions: `a + b <= c`, `x <= 100`, `tong >= moi` -----------------------------

_COMPARE = re.compile(r"^(?P<left>[^<>=!]+?)\s*(?P<op><=|>=|==|!=|<|>)\s*(?P<right>[^<>=!]+)$")
_TERM = re.compile(r"^(?:[a-z][a-z0-9_]*|\d+(?:\.\d+)?)$")


def parse_rule(check: str) -> tuple[list[str], str, list[str]]:
    """Split `a + b <= c` into (['a','b'], '<=', ['c']); raise ValueError when malformed."""
    m = _COMPARE.match(check.strip())
    if not m:
        raise ValueError("expected 'left OP right' with OP one of <= < >= > == !=")
    sides = []
    for side in (m.group("left"), m.group("right")):
        terms = [t.strip() for t in side.split("+")]
        if not all(_TERM.match(t) for t in terms):
            raise ValueError(f"cannot read {side.strip()!r}: use question ids, numbers and +")
        sides.append(terms)
    return sides[0], m.group("op"), sides[1]


def rule_holds(check: str, answers: dict[str, Any]) -> bool | None:
    """Evaluate a rule; None when a question it needs is unanswered (not checked)."""
    left, op, right = parse_rule(check)

    def total(terms: list[str]) -> float | None:
        acc = 0.0
        for t in terms:
            if t[0].isdigit():
                acc += float(t)
                continue
            v = answers.get(t)
            if not _is_number(v):
                return None
            acc += float(v)  # type: ignore[arg-type]  # _is_number checked it
        return acc

    a, b = total(left), total(right)
    if a is None or b is None:
        return None
    return {"<=": a <= b, "<": a < b, ">=": a >= b, ">": a > b, "==": a == b, "!=": a != b}[op]


# --- loading and checking ------------------------------------------------------------------


class Problem(BaseModel):
    """One configuration problem, pinpointed: `reports/ocop.toml: questions[3].max: ...`.

    A warning does not stop a template from loading (templates written before a key existed
    keep working); `baocao check-config` shows it, prefixed "warning:"."""

    file: str
    path: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}: " if self.path else f"{self.file}: "
        mark = "warning: " if self.severity == "warning" else ""
        return mark + where + self.message


def errors_only(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


def format_loc(loc: tuple[int | str, ...]) -> str:
    """('questions', 3, 'max') → 'questions[3].max'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def problems_from_validation(file: str, error: ValidationError) -> list[Problem]:
    problems = []
    for err in error.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling)"
        problems.append(Problem(file=file, path=format_loc(loc), message=msg))
    return problems


QuietHours = tuple[time, time]  # the config's [reminders] quiet_start, quiet_end


def send_at_problem(send_at: time, quiet: QuietHours) -> str | None:
    """Why reminders cannot be sent at `send_at`: inside the quiet hours, each would wait for
    their end (the next morning, one day late) and the last day's, due by then, never go."""
    from bot.domain.reminders import Policy, in_quiet_hours  # that module imports this one

    start, end = quiet
    if not in_quiet_hours(send_at, Policy(quiet_start=start, quiet_end=end)):
        return None
    return (f"{send_at:%H:%M} is inside the quiet hours ({start:%H:%M}–{end:%H:%M}, "
            "[reminders] quiet_start–quiet_end of the config), when nothing is sent: choose a "
            "time outside them")


def check_template(t: Template, file: str, quiet: QuietHours | None = None) -> list[Problem]:
    """Cross-field checks that pydantic's structure cannot express; with the config's quiet
    hours, the template's own reminder time too."""
    out: list[Problem] = []

    def bad(path: str, message: str) -> None:
        out.append(Problem(file=file, path=path, message=message))

    def warn(path: str, message: str) -> None:
        out.append(Problem(file=file, path=path, message=message, severity="warning"))

    _check_schedules(t, bad)

    seen: dict[str, Question] = {}
    for i, q in enumerate(t.questions):
        where = f"questions[{i}]"
        if q.id in seen:
            bad(f"{where}.id", f"duplicate question id {q.id!r}")
        if q.min is not None and q.max is not None and q.max < q.min:
            bad(f"{where}.max", "must be >= min")
        if (q.min is not None or q.max is not None) and q.type not in NUMERIC_TYPES:
            bad(f"{where}.min", f"min/max only apply to numbers, not {q.type.value}")
        if q.type in (QuestionType.CHOICE, QuestionType.MULTI_CHOICE):
            if len(q.options) < 2:
                bad(f"{where}.options", "a choice question needs at least 2 options")
            ids = [o.id for o in q.options]
            if len(set(ids)) != len(ids):
                bad(f"{where}.options", "option ids must be unique")
        elif q.options:
            bad(f"{where}.options", f"options only apply to choice questions, not {q.type.value}")
        if q.in_report and q.type is not QuestionType.TEXT:
            bad(f"{where}.in_report",
                f"in_report only applies to text questions, not {q.type.value}")
        if q.within is not None and q.type is not QuestionType.DATE:
            bad(f"{where}.within", f"within only applies to date questions, not {q.type.value}")
        if q.when is not None:
            ref = seen.get(q.when.question)
            if ref is None:
                bad(f"{where}.when.question",
                    f"{q.when.question!r} is not an earlier question of this template")
        agg = q.aggregation
        if agg in (Aggregate.SUM, Aggregate.AVERAGE, Aggregate.MIN, Aggregate.MAX) and (
            q.type not in NUMERIC_TYPES
        ):
            bad(f"{where}.aggregate", f"{agg.value} needs a number question, not {q.type.value}")
        if agg is Aggregate.COUNT_YES and q.type is not QuestionType.YES_NO:
            bad(f"{where}.aggregate", "count_yes needs a yes_no question")
        _check_over_time(q, where, bad, warn)
        if q.prefill is not None and q.type in (QuestionType.PHOTO, QuestionType.DATE):
            bad(f"{where}.prefill", f"a {q.type.value} answer belongs to its own period: "
                "prefill is for numbers, yes/no, choices and text")
        seen.setdefault(q.id, q)
    for i, q in enumerate(t.questions):  # references that may point forward
        _check_rate(q, f"questions[{i}]", seen, bad, warn)

    for i, r in enumerate(t.rules):
        try:
            left, _, right = parse_rule(r.check)
        except ValueError as e:
            bad(f"rules[{i}].check", str(e))
            continue
        for term in left + right:
            if term[0].isdigit():
                continue
            ref = seen.get(term)
            if ref is None:
                bad(f"rules[{i}].check", f"unknown question {term!r}")
            elif ref.type not in NUMERIC_TYPES:
                bad(f"rules[{i}].check", f"{term!r} is not a number question")

    for i, tg in enumerate(t.targets):
        ref = seen.get(tg.question)
        if ref is None:
            bad(f"targets[{i}].question", f"unknown question {tg.question!r}")
        elif ref.type not in NUMERIC_TYPES and ref.type is not QuestionType.YES_NO:
            bad(f"targets[{i}].question", f"{tg.question!r} is not a number or yes/no question")
        if tg.value is None and tg.scope != "allocated":
            bad(f"targets[{i}].value", "required (only allocated targets take their values "
                "from a file)")
        _check_target(tg, f"targets[{i}]", ref, bad)

    send_at = t.reminders.send_at if t.reminders else None
    late = send_at_problem(send_at, quiet) if send_at is not None and quiet else None
    if late:
        bad("reminders.send_at", late)
    send_at = t.digests.send_at if t.digests else None
    late = send_at_problem(send_at, quiet) if send_at is not None and quiet else None
    if late:
        bad("digests.send_at", late)
    return out


def _check_target(tg: Target, where: str, ref: Question | None, bad: Any) -> None:
    """A target's scope, milestone and baseline years, basis and quote, against its question
    (`ref`, None when unknown)."""
    if tg.scope == "level" and tg.level is None:
        bad(f"{where}.level", 'required with scope = "level" (e.g. level = "xa")')
    if tg.level is not None and tg.scope != "level":
        bad(f"{where}.level", f'only with scope = "level" (this target\'s scope is {tg.scope!r})')
    if tg.scope == "allocated" and tg.value is not None:
        bad(f"{where}.value", "an allocated target takes each unit's value from "
            "targets/<template id>.csv: leave value out")
    if tg.year is not None and tg.baseline_year is not None and tg.baseline_year > tg.year:
        bad(f"{where}.baseline_year", f"{tg.baseline_year} is after the milestone year "
            f"({tg.year})")
    if tg.baseline_year is not None and ref is not None:
        rule = ref.over_time or ("sum" if ref.type in (QuestionType.INTEGER,
                                                       QuestionType.DECIMAL) else None)
        if rule != "sum":
            what = 'a stock (over_time = "last")' if rule == "last" else f"a {ref.type.value}"
            bad(f"{where}.baseline_year", f"counts flows from a baseline, but {tg.question!r} is "
                f'{what}: a cumulative target needs a question with over_time = "sum"')
    if tg.basis == "plan" and not tg.quote:
        bad(f"{where}.quote", 'required with basis = "plan": the plan\'s own words for the '
            "figure")
    if tg.basis == "assumed" and tg.quote:
        bad(f"{where}.basis", '"assumed" with a quote: a quoted figure is the plan\'s (write '
            'basis = "plan", or leave the quote out)')
    if tg.quote is not None and not tg.quote.strip():
        bad(f"{where}.quote", "empty: the plan's own words, or leave it out")
    if tg.direction in ("more_than", "less_than") and ref is not None and (
            ref.type not in NUMERIC_TYPES):
        bad(f"{where}.direction", f"{tg.direction} needs a number question, not "
            f"{ref.type.value}")


_COUNTS = (QuestionType.INTEGER, QuestionType.DECIMAL)


def _check_over_time(q: Question, where: str, bad: Any, warn: Any) -> None:
    """over_time: only numbers add up over time (a yes/no can only be the last answer)."""
    if q.over_time is None:
        if q.type in NUMERIC_TYPES:
            warn(f"{where}.over_time", 'say how it adds up over time: over_time = "sum" for a '
                 'flow (what is new in the period), "last" for a stock (lũy kế, the figure at '
                 "the end of the period)")
        return
    if q.type is QuestionType.YES_NO and q.over_time == "last":
        return
    if q.type is QuestionType.PERCENT and q.over_time == "sum":
        bad(f"{where}.over_time", 'a percentage does not add up over time: use "last"')
    elif q.type not in NUMERIC_TYPES:
        allowed = ' (a yes_no question may take "last")' if q.type is QuestionType.YES_NO else ""
        bad(f"{where}.over_time",
            f"only numbers add up over time, not {q.type.value}{allowed}")


def _check_rate(q: Question, where: str, by_id: dict[str, Question], bad: Any,
                warn: Any) -> None:
    """ratio + denominator, weight, and a percentage averaged with nothing to weight it."""
    ratio = q.aggregation is Aggregate.RATIO
    if ratio and q.type not in _COUNTS:
        bad(f"{where}.aggregate", "ratio needs an integer or decimal question (the count of "
            f"the part), not {q.type.value}")
    if ratio and q.denominator is None:
        bad(f"{where}.denominator", 'required with aggregate = "ratio": the id of the count '
            "this one is a part of")
    if q.denominator is not None:
        if not ratio:
            bad(f"{where}.denominator", 'only with aggregate = "ratio"')
        else:
            _check_reference(q, "denominator", q.denominator, where, by_id, bad)
    if q.weight is not None:
        if q.aggregation is not Aggregate.AVERAGE:
            bad(f"{where}.weight", "only for a question aggregated by average, not "
                f"{q.aggregation.value}")
        else:
            _check_reference(q, "weight", q.weight, where, by_id, bad)
    if (q.type is QuestionType.PERCENT and q.aggregate is None and q.weight is None):
        warn(f"{where}.weight", "a percentage averaged over units: name what weights it "
             '(weight = "<question id>", e.g. the number of groups), or write aggregate = '
             '"average" for a plain average; better, ask the two counts (aggregate = "ratio" '
             "and denominator)")


def _check_reference(q: Question, key: str, ref_id: str, where: str,
                     by_id: dict[str, Question], bad: Any) -> None:
    """A denominator or weight: another integer/decimal question of the template."""
    ref = by_id.get(ref_id)
    if ref is None:
        bad(f"{where}.{key}", f"{ref_id!r} is not a question of this template")
    elif ref.id == q.id:
        bad(f"{where}.{key}", f"a question cannot be its own {key}")
    elif ref.type not in _COUNTS:
        bad(f"{where}.{key}", f"{ref_id!r} is a {ref.type.value} question: the {key} must be "
            "an integer or decimal count")
    elif key == "denominator" and ref.aggregation is Aggregate.RATIO:
        bad(f"{where}.{key}", f"{ref_id!r} is itself a rate (aggregate = \"ratio\"): name the "
            "count it is divided by")


def _check_schedules(t: Template, bad: Any) -> None:
    """The schedules (top-level or `[[schedules]]`), their deadlines, `only`, and the
    lifetime."""
    top = [key for key in ("period", "deadline") if getattr(t, key) is not None]
    if t.schedules and top:
        bad("schedules", f"{' and '.join(top)} {'are' if len(top) > 1 else 'is'} set at the "
            "top too: write either one schedule (top-level period + deadline) or "
            "[[schedules]], not both")
        return
    if not t.schedules:
        if not top:
            bad("period", "required: a period and a deadline, or [[schedules]]")
        elif t.period is None:
            bad("period", "required with deadline (week, month, quarter, half, nine_months, "
                "year)")
        elif t.deadline is None:
            bad("deadline", "required with period (e.g. 'trước ngày 05 tháng cuối quý')")
    written = [("", s) for s in t.every_schedule] if not t.schedules else [
        (f"schedules[{i}].", s) for i, s in enumerate(t.schedules)]
    covered: dict[PeriodKind, dict[str, str]] = {}  # kind → part of the year → schedule
    for where, s in written:
        try:
            why = check_rule_for(parse_deadline(s.deadline), s.period)
            if why:
                bad(f"{where}deadline", why)
        except DeadlineError as e:
            bad(f"{where}deadline", f"cannot read deadline phrase: {e}")
        parts = _check_only(s, where, bad)
        name = where.rstrip(".") or "the top-level schedule"
        taken = covered.setdefault(s.period, {})
        clash = [p for p in parts if p in taken]
        if clash:
            shown = ", ".join(clash) if ONLY_CHOICES.get(s.period) else "every period"
            bad(f"{where}period", f"{s.period.value} periods ({shown}) already have a schedule "
                f"({taken[clash[0]]}): one period has one report; split them with 'only'")
        for p in parts:
            taken.setdefault(p, name)
    if t.valid_from and t.valid_until and t.valid_until < t.valid_from:
        bad("valid_until", f"{t.valid_until.isoformat()} is before valid_from "
            f"({t.valid_from.isoformat()})")


def _check_only(s: Schedule, where: str, bad: Any) -> list[str]:
    """Check `only`; return the parts of the year the schedule covers ("" for a kind that
    comes once a year)."""
    choices = ONLY_CHOICES.get(s.period)
    if choices is None:
        if s.only is not None:
            bad(f"{where}only", f"a {s.period.value} schedule has one period a year: leave "
                "'only' out")
        return [""]
    if s.only is None:
        return list(choices)
    if not s.only:
        bad(f"{where}only", "empty: no period would ever open; leave 'only' out for every "
            "period")
    seen: set[str] = set()
    for j, part in enumerate(s.only):
        if part not in choices:
            bad(f"{where}only[{j}]", f"{part!r} is not {_ONLY_WORDS[s.period]}")
        elif part in seen:
            bad(f"{where}only[{j}]", f"{part!r} is listed twice")
        seen.add(part)
    return [p for p in choices if p in seen]


def load_template(path: Path, display: str | None = None,
                  quiet: QuietHours | None = None, *, warnings: bool = False
                  ) -> tuple[Template | None, list[Problem]]:
    """Read and check one template file; never raises for bad content. The template is
    returned when there are no errors; warnings are among the problems only if asked for."""
    name = display or str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        return None, [Problem(file=name, path="", message=f"cannot read: {e.strerror}")]
    except UnicodeDecodeError:
        return None, [Problem(file=name, path="", message="not UTF-8 text")]
    except tomllib.TOMLDecodeError as e:
        return None, [Problem(file=name, path="", message=f"TOML syntax error: {e}")]
    try:
        template = Template.model_validate(raw)
    except ValidationError as e:
        return None, problems_from_validation(name, e)
    problems = check_template(template, name, quiet)
    errors = errors_only(problems)
    return (None if errors else template), (problems if warnings else errors)


def load_templates(folder: Path, display_root: Path | None = None,
                   quiet: QuietHours | None = None, *, warnings: bool = False
                   ) -> tuple[dict[str, Template], list[Problem]]:
    """Load every `*.toml` in a folder; problems are collected, not raised (warnings only if
    asked for: they never keep a template from loading)."""
    from bot.domain.targets import load_allocations  # that module imports this one

    templates: dict[str, Template] = {}
    files: dict[str, str] = {}
    problems: list[Problem] = []
    if not folder.is_dir():
        return {}, [Problem(file=str(folder), path="", message="report folder not found")]
    for path in sorted(folder.glob("*.toml")):
        display = str(path.relative_to(display_root)) if display_root else str(path)
        template, found = load_template(path, display, quiet, warnings=warnings)
        problems.extend(found)
        if template is None:
            continue
        if template.id in templates:
            problems.append(Problem(file=display, path="id",
                                    message=f"template id {template.id!r} is used twice"))
            continue
        templates[template.id] = template
        files[template.id] = display
    problems.extend(load_allocations(folder, templates, files, display_root))
    return templates, problems
