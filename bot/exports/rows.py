"""What an export shows, read from storage: the digest (totals, completeness, targets), one
row per report owed in the subtree, the missing and late units with their officers, and every
correction (old → new). The writers (workbook.py) only lay these out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain import messages_vi as M
from bot.domain.digest import Digest, Officer, Sent, applicable_units, build
from bot.domain.periods import Period
from bot.domain.templates import Question, Template
from bot.domain.units import Unit, subtree_codes
from bot.domain.units import expected as active_in
from bot.services.digests import Reads, carried_in, gather, wanted_periods
from storage.interface import Storage
from storage.models import SOURCE_IMPORT, SOURCE_ON_BEHALF, Submission

ABSENT: Any = object()  # an answer a version did not have (not asked, or no longer asked)


@dataclass(frozen=True)
class UnitRow:
    """One report owed: its unit, its state and the latest version's answers."""

    unit: Unit
    parent: str
    period: Period
    status: str  # a key of M.XLSX_STATUS_WORDS
    first_at: datetime | None
    on_time: bool | None
    sender: str
    version: int | None
    review: str | None  # 'approved' | 'returned' | None
    answers: Mapping[str, Any]
    counted: bool


@dataclass(frozen=True)
class Chase:
    """A missing, returned or late report, with the unit's officers."""

    unit: Unit
    parent: str
    period: Period
    status: str
    days: int  # overdue (missing) or late
    draft: tuple[int, int] | None  # answered, total
    officers: tuple[Officer, ...]


@dataclass(frozen=True)
class Correction:
    """One answer changed by a correction."""

    unit: Unit
    period: Period
    version: int
    by: str
    at: datetime
    question: Question
    old: Any
    new: Any


@dataclass(frozen=True)
class ExportData:
    template: Template
    digest: Digest
    zone: ZoneInfo
    rows: list[UnitRow] = field(default_factory=list)
    chase: list[Chase] = field(default_factory=list)
    corrections: list[Correction] = field(default_factory=list)

    @property
    def many_periods(self) -> bool:
        return len(self.digest.periods) > 1

    def local(self, at: datetime) -> datetime:
        """A naive local time (Excel has no time zones)."""
        return at.astimezone(self.zone).replace(tzinfo=None)


async def collect(storage: Storage, t: Template, period: Period, root: str, now: datetime,
                  zone: ZoneInfo, lock_days: int,
                  units: Mapping[str, Unit] | None = None) -> ExportData:
    """Everything an export shows; DigestError as `digest` raises it."""
    tree = units if units is not None else {u.code: u for u in await storage.list_units()}
    reads = Reads()  # the digest's own read of the reports, kept: read once for both
    inp = await gather(storage, t, period, root, now, zone, lock_days, tree, cache=reads)
    d = build(inp)
    subs = await reads.read(storage, t.id, root, wanted_periods(t, period),
                            carried_in(root, tree))
    ids = {p.id for p in d.periods}
    subtree = subtree_codes(root, tree.values())
    owing = sorted(applicable_units(t, subtree, tree))
    current: dict[tuple[str, str], Sent] = {(s.unit, s.period): s for s in inp.submissions
                                            if s.period in ids and s.unit in subtree}
    stored = {(s.unit_code, s.period): s for s in subs if s.period in ids}
    reviews = {p.id: await storage.review_states(t.id, p.id) for p in d.periods}
    drafts = {(x.unit, x.period): (x.answered, x.total) for x in inp.drafts}
    names = _Names(storage, inp.officers)

    def parent(u: Unit) -> str:
        up = tree.get(u.parent_code) if u.parent_code else None
        return up.name if up is not None else ""

    rows: list[UnitRow] = []
    for code in owing:
        u = tree[code]
        for p in d.periods:
            if not active_in(u, p):
                continue
            s = current.get((code, p.id))
            if s is None:
                status = "drafting" if (code, p.id) in drafts else "missing"
                rows.append(UnitRow(u, parent(u), p, status, None, None, "", None,
                                    None, {}, False))
                continue
            status = ("returned" if not s.counted else "sent" if s.was_on_time else "late")
            rows.append(UnitRow(u, parent(u), p, status, s.first_at, s.was_on_time,
                                await names.sender(stored.get((code, p.id)), s.submitted_by),
                                s.version, reviews[p.id].get(code), s.answers, s.counted))
    periods = {p.id: p for p in d.periods}
    chase = [Chase(tree[m.unit], parent(tree[m.unit]), periods[m.period],
                   "returned" if m.returned else "missing", m.overdue_days,
                   drafts.get((m.unit, m.period)), tuple(inp.officers.get(m.unit, ())))
             for m in d.completeness.missing]
    chase += [Chase(tree[x.unit], parent(tree[x.unit]), periods[x.period], "late",
                    x.days_late, None, tuple(inp.officers.get(x.unit, ())))
              for x in d.completeness.late]
    chase.sort(key=lambda c: (c.unit.code, c.period.start))
    corrections = []
    for key in sorted(stored):
        sub = stored[key]
        if sub.version > 1 and sub.unit_code in subtree:
            corrections += await _history(storage, t, tree[sub.unit_code], periods[sub.period],
                                          sub, names)
    return ExportData(t, d, zone, rows, chase, corrections)


class _Names:
    """Person id → display name: the officers already read, anyone else looked up once."""

    def __init__(self, storage: Storage, officers: Mapping[str, Any]) -> None:
        self.storage = storage
        self.known: dict[int, str] = {o.person_id: o.name for people in officers.values()
                                      for o in people}

    async def name(self, person: int | None) -> str:
        if person is None:
            return ""
        if person not in self.known:
            found = await self.storage.get_person(person)
            self.known[person] = found.display_name if found is not None else f"#{person}"
        return self.known[person]

    async def sender(self, sub: Submission | None, person: int | None) -> str:
        if sub is not None and sub.source == SOURCE_IMPORT:
            return M.XLSX_IMPORTED
        if sub is not None and sub.source == SOURCE_ON_BEHALF:
            return M.xlsx_on_behalf(await self.name(sub.entered_by or person))
        return await self.name(person)


async def _history(storage: Storage, t: Template, unit: Unit, period: Period,
                   latest: Submission, names: _Names) -> list[Correction]:
    """Each correction's changed answers, oldest first (as the review's history shows them)."""
    out = []
    before: Submission | None = None
    shapes: dict[int, Template] = {}
    for v in range(1, latest.version + 1):
        sub = latest if v == latest.version else await storage.get_submission(
            unit.code, t.id, period.id, version=v)
        if sub is None:
            continue
        if before is not None:
            shape = shapes.get(sub.template_version)
            if shape is None:
                shape = await storage.get_template(t.id, sub.template_version) or t
                shapes[sub.template_version] = shape
            by = await names.sender(sub, sub.submitted_by)
            for q in shape.questions:
                old = before.answers.get(q.id, ABSENT)
                new = sub.answers.get(q.id, ABSENT)
                if old != new:  # (ABSENT on both sides is the same object)
                    out.append(Correction(unit, period, v, by, sub.submitted_at, q, old, new))
        before = sub
    return out
