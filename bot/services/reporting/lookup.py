"""Which report a button or the conversation means, checked before anything is shown or saved."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain import messages_vi as M
from bot.domain.dialogue import Previous
from bot.domain.periods import Period, PeriodError
from bot.domain.templates import Template
from bot.services.reporting.context import Ctx, Deps, Report
from storage.models import Draft


class Refused(Exception):
    """The report cannot be worked on; `message` tells the person why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def resolve(deps: Deps, ctx: Ctx, slot: int, template_id: str, period_id: str) -> Report:
    """The person's unit at `slot`, a template that applies to it, a period that has started
    and is not locked; raise Refused otherwise (a forged or stale button)."""
    units = ctx.officer_units
    if not 0 <= slot < len(units):
        raise Refused(M.STALE)
    unit = units[slot]
    template = deps.templates.get(template_id)
    if template is None:
        raise Refused(M.STALE)
    tree = await deps.units.tree()
    if unit.code not in tree.applicable.get(template.id, frozenset()):
        raise Refused(M.STALE)
    try:
        period = Period.parse(period_id)
    except PeriodError:
        raise Refused(M.STALE) from None
    if not template.asks_for(period):  # no schedule of it, or outside the plan's lifetime
        raise Refused(M.STALE)
    if not tree.owes(unit.code, template.id, period):  # after the unit's last day
        raise Refused(M.STALE)
    w = deps.window(template, period)
    if period.start > deps.today(ctx.now):
        raise Refused(M.NOT_STARTED_YET)
    if ctx.now >= w.lock and not await returned(deps, unit.code, template.id, period.id):
        raise Refused(M.locked_since(period.label_vi(), deps.local(w.lock)))
    return Report(slot, unit, template, w, await previous_answers(deps, unit.code, template,
                                                                  period))


async def returned(deps: Deps, unit_code: str, template_id: str, period_id: str) -> bool:
    """A report returned by its supervisor reopens for correction, even after the lock, until
    it is sent again (asked only past the lock: no cost on the way to an answer)."""
    state = (await deps.storage.report_reviews([unit_code])).get(
        (unit_code, template_id, period_id))
    return state is not None and state.action == "return"


async def previous_answers(deps: Deps, unit_code: str, template: Template, period: Period
                           ) -> Previous | None:
    """For a template with `prefill = "previous"` questions: the unit's answers in its latest
    report sent for the most recent period that ended before this one starts (of any of the
    template's schedules; at equal ends, one of the same kind, then the shortest)."""
    if not any(q.prefill for q in template.questions):
        return None
    earlier = []
    for pid in await deps.storage.submitted_periods(unit_code, template.id):
        try:
            p = Period.parse(pid)
        except PeriodError:
            continue
        if p.end < period.start:
            earlier.append(p)
    if not earlier:
        return None
    best = max(earlier, key=lambda p: (p.end, p.kind is period.kind, p.start))
    sent = await deps.storage.get_submission(unit_code, template.id, best.id)
    if sent is None:
        return None
    return Previous(best.label_vi(), dict(sent.answers))


async def current(deps: Deps, ctx: Ctx) -> Report | None:
    """The report the conversation is on, if the person may still work on it."""
    ref = ctx.conversation.report
    if ref is None:
        return None
    codes = [u.code for u in ctx.officer_units]
    if ref.unit not in codes:
        return None
    try:
        return await resolve(deps, ctx, codes.index(ref.unit), ref.template, ref.period)
    except Refused:
        return None


@dataclass(frozen=True)
class OnScreen:
    """The report on screen, its draft, and the template version the draft was started on."""

    report: Report
    template: Template
    draft: Draft


async def on_screen(deps: Deps, ctx: Ctx) -> OnScreen | None:
    report = await current(deps, ctx)
    if report is None:
        return None
    draft = await deps.draft(report.key)
    if draft is None:
        return None
    return OnScreen(report, await deps.template(draft.template_id, draft.template_version), draft)
