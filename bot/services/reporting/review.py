"""Review (Duyệt / Trả lại) of a unit's submitted report by a supervisor or admin of that unit
or one of its ancestors, for templates with `review = true`.

A review is of one submission version: a button names it, and storage records it only while
it is still the latest version and has no review yet. A return asks for the reason in chat
(the conversation holds the report and version meanwhile). The unit's officers are told at
once (a push written in the review's transaction; a notice on their next message for those no
message can reach now), and a returned report can be corrected even after the lock until it is
sent again.
"""

from __future__ import annotations

from bot.domain import messages_vi as M
from bot.domain.buttons import Approve, ReturnReport, ReviewButton, ViewSubmission
from bot.domain.conversation import Mode
from bot.domain.dialogue import Button, Reply, changed_lines, summary_text
from bot.domain.periods import Period, PeriodError
from bot.domain.reports import ReportKey, days_late
from bot.domain.roles import Role
from bot.domain.templates import Template
from bot.domain.text import fold
from bot.domain.units import Unit
from bot.services.reporting.context import Ctx, Deps
from bot.services.reporting.on_behalf import source_note
from bot.services.reporting.pushes import Push
from bot.services.reporting.watching import watches_unit
from storage.models import Review, Submission

BUTTON_WORDS = frozenset(fold(w) for w in (M.KW_APPROVE, M.KW_RETURN, M.BUTTON_APPROVE,
                                            M.BUTTON_RETURN))


class NotAllowed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def _target(deps: Deps, ctx: Ctx, unit_code: str, template_id: str, period_id: str
                  ) -> tuple[Unit, Template, Period]:
    """The unit (in a subtree the person supervises), the template and the period a button
    or the conversation names; NotAllowed otherwise."""
    tree = await deps.units.tree()
    unit = tree.units.get(unit_code)
    template = deps.templates.get(template_id)
    if unit is None or template is None:
        raise NotAllowed(M.STALE)
    if not watches_unit(ctx, unit.code, tree.units):
        raise NotAllowed(M.REVIEW_NOT_YOURS)
    try:
        period = Period.parse(period_id)
    except PeriodError:
        raise NotAllowed(M.STALE) from None
    return unit, template, period


async def _latest(deps: Deps, key: ReportKey) -> Submission | None:
    return await deps.storage.get_submission(*key)


async def view(deps: Deps, ctx: Ctx, data: ViewSubmission) -> list[Reply]:
    """A unit's latest submitted report: answers, who sent it and when, its review, and the
    review buttons while it waits for one."""
    try:
        unit, template, period = await _target(deps, ctx, data.unit, data.template, data.period)
    except NotAllowed as e:
        return [Reply(e.message)]
    key = ReportKey(unit.code, template.id, period.id)
    sub = await _latest(deps, key)
    if sub is None:
        return [Reply(M.REVIEW_NOT_SENT)]
    sent_with = await deps.template(sub.template_id, sub.template_version)
    heading = M.submission_heading(
        template.title, unit.name, period.label_vi(), sub.version,
        deps.local(sub.submitted_at), await _sender(deps, sub),
        M.lateness(days_late(sub.first_submitted_at, sub.due_at)))
    text, _ = summary_text(sent_with, sub.answers, heading)
    if sub.version > 1:
        text += "\n\n" + "\n".join(await history(deps, key, sub))
    if not template.review:
        return [Reply(text)]
    state = (await deps.storage.report_reviews([unit.code])).get(key)
    if state is not None:
        by = M.colleague(await deps.name(state.person_id))
        return [Reply(text + "\n\n" + M.review_line(state.status, state.reason, by,
                                                      deps.local(state.at)))]
    rows = [[Button.of(M.BUTTON_APPROVE, Approve(*key, sub.version), M.KW_APPROVE),
             Button.of(M.BUTTON_RETURN, ReturnReport(*key, sub.version), M.KW_RETURN)]]
    return [Reply(text + "\n\n" + M.review_line(None, None), rows, numbered=True)]


async def _reviewable(deps: Deps, ctx: Ctx, ref: ReportKey, version: int
                      ) -> tuple[Unit, Template, Period, ReportKey]:
    """The report may be reviewed now, at `version`; NotAllowed (with why) otherwise."""
    unit, template, period = await _target(deps, ctx, *ref)
    if not template.review:
        raise NotAllowed(M.STALE)
    key = ReportKey(unit.code, template.id, period.id)
    sub = await _latest(deps, key)
    if sub is None:
        raise NotAllowed(M.REVIEW_NOT_SENT)
    if sub.version != version:
        raise NotAllowed(M.REVIEW_RESUBMITTED)
    state = (await deps.storage.report_reviews([unit.code])).get(key)
    if state is not None:
        raise NotAllowed(M.already_reviewed(state.status))
    return unit, template, period, key


def _ref(data: ReviewButton) -> ReportKey:
    return ReportKey(data.unit, data.template, data.period)


async def approve(deps: Deps, ctx: Ctx, data: Approve) -> list[Reply]:
    try:
        unit, template, period, key = await _reviewable(deps, ctx, _ref(data), data.version)
    except NotAllowed as e:
        return [Reply(e.message)]
    ctx.changes.ops.append(Review(*key, data.version, "approve"))
    await _tell_officers(deps, ctx, unit, M.told_approved(template.title, period.label_vi()))
    return [Reply(M.reviewed("approved", template.title, unit.name, period.label_vi()))]


async def ask_reason(deps: Deps, ctx: Ctx, data: ReturnReport) -> list[Reply]:
    try:
        unit, template, period, key = await _reviewable(deps, ctx, _ref(data), data.version)
    except NotAllowed as e:
        return [Reply(e.message)]
    ctx.conversation.show(Mode.RETURN_REASON, key, version=data.version)
    return [Reply(M.ask_reason(template.title, unit.name, period.label_vi(), data.version))]


async def reason_typed(deps: Deps, ctx: Ctx, typed: str) -> list[Reply]:
    """The reason for the return on screen: checked, then the return is recorded (if the
    report is still at the version the button named and not reviewed meanwhile)."""
    key, version = ctx.conversation.report, ctx.conversation.version
    if key is None or version is None:
        ctx.conversation.clear()
        return [Reply(M.STALE)]
    try:
        unit, template, period, key = await _reviewable(deps, ctx, key, version)
    except NotAllowed as e:
        ctx.conversation.clear()
        return [Reply(e.message)]
    reason = " ".join(typed.split())
    ask = M.ask_reason(template.title, unit.name, period.label_vi(), version)
    if not reason:
        return [Reply(M.REASON_EMPTY + "\n" + ask)]
    if fold(reason).strip(" .!") in BUTTON_WORDS:
        # "trả lại" sent twice by a slow phone, or "duyệt" typed on a change of mind: a
        # report returned with the button's name as its reason would mislead the officers
        return [Reply(M.reason_is_button(reason))]
    if not any(c.isalpha() for c in reason):
        # "1", "…", "👍": a number typed for a button on Zalo, a slip; never sent as a reason
        return [Reply(M.REASON_NO_WORDS + "\n" + ask)]
    if len(reason) > M.MAX_REASON:
        return [Reply(M.reason_too_long(len(reason)) + "\n" + ask)]
    ctx.changes.ops.append(Review(*key, version, "return", reason))
    await _tell_officers(deps, ctx, unit, M.told_returned(template.title, period.label_vi(),
                                                          reason))
    ctx.conversation.clear()
    return [Reply(M.reviewed("returned", template.title, unit.name, period.label_vi()))]


def cancel_return(ctx: Ctx) -> list[Reply]:
    ctx.conversation.clear()
    return [Reply(M.RETURN_CANCELLED)]


async def _tell_officers(deps: Deps, ctx: Ctx, unit: Unit, text: str) -> None:
    """Every officer of the unit but the reviewer is told at once, exactly once: a push
    written with the review, in its transaction (the service leaves a notice instead for
    those it cannot reach now)."""
    for person in await deps.storage.unit_people(unit.code, Role.OFFICER):
        if person.id != ctx.person.id:
            ctx.pushes.append(Push(person, Reply(text)))


async def _sender(deps: Deps, sub: Submission) -> str:
    """Who sent the report, and who entered it when an officer of the unit did not."""
    by = M.colleague(await deps.name(sub.submitted_by)) if sub.submitted_by is not None else ""
    note = await source_note(deps, sub)
    return " ".join(part for part in (by, note) if part)


async def history(deps: Deps, key: ReportKey, latest: Submission) -> list[str]:
    """Every version of a report, oldest first: who sent it, when, and which answers each
    correction changed (old → new), read from the versions storage keeps."""
    lines = [M.HISTORY_HEADING]
    before: Submission | None = None
    for v in range(1, latest.version + 1):
        sub = latest if v == latest.version else await deps.storage.get_submission(
            *key, version=v)
        if sub is None:
            continue
        lines.append(M.history_version(v, deps.local(sub.submitted_at),
                                       await _sender(deps, sub) or "—"))
        if before is not None:
            t = await deps.template(sub.template_id, sub.template_version)
            lines += changed_lines(t, before.answers, sub.answers) or [
                M.HISTORY_NOTHING_CHANGED]
        before = sub
    return lines
