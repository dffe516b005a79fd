"""A report's life: open (start, continue or view), correct, send, abandon."""

from __future__ import annotations

from dataclasses import replace

from bot.domain import messages_vi as M
from bot.domain.buttons import (
    ConfirmCancel,
    ConfirmSend,
    CorrectReport,
    KeepDraft,
    ReportNow,
    ToSummary,
)
from bot.domain.conversation import Mode
from bot.domain.dialogue import (
    Button,
    Reply,
    answers_version,
    changed_lines,
    edit_picker,
    effective_answers,
    missing_required,
    rule_violations,
    summary_text,
)
from bot.domain.reports import days_late
from bot.domain.templates import Template
from bot.services.reporting import catalogue, colleagues, on_behalf, screens
from bot.services.reporting.context import Ctx, Deps, Report
from bot.services.reporting.lookup import Refused, current, on_screen, resolve
from storage.models import (
    SOURCE_CHAT,
    SOURCE_ON_BEHALF,
    DeleteDraft,
    Draft,
    RebaseDraft,
    StartDraft,
    Submission,
    Submit,
)


async def baocao(deps: Deps, ctx: Ctx) -> list[Reply]:
    """/baocao: carry on with the report in progress, or list the reports."""
    return await screens.resume(deps, ctx) or await catalogue.report_list(deps, ctx)


async def huy(deps: Deps, ctx: Ctx) -> list[Reply]:
    """/huy: ask before abandoning the draft in progress."""
    report = await current(deps, ctx)
    if report is None:
        return [Reply(M.NOTHING_IN_PROGRESS)]
    return await ask_cancel(deps, ctx, report)


def intro(report: Report) -> str:
    return M.intro(report.template.title, report.unit.name, report.period_words,
                   M.due_by(report.window.last_day))


async def open_report(deps: Deps, ctx: Ctx, report: Report) -> list[Reply]:
    """Continue the unit's draft, show the sent report, or start a new draft."""
    draft = await deps.draft(report.key)
    if draft is not None:
        return await screens.carry_on(ctx, deps, report, draft, note=intro(report))
    sub = await deps.submission(report.key)
    if sub is not None:
        return view_submitted(deps, ctx, report, sub, await deps.template(
            sub.template_id, sub.template_version), await on_behalf.source_note(deps, sub))
    version = deps.versions[report.template.id]
    ctx.changes.ops.append(StartDraft(report.unit.code, report.template.id, version,
                                      report.window.period.id))
    first = report.template.questions[0]
    return screens.ask(ctx, report, report.template, {}, first.id, note=intro(report))


async def report_now(deps: Deps, ctx: Ctx, data: ReportNow) -> list[Reply]:
    """'Báo cáo ngay' on a reminder names the unit by code."""
    codes = [u.code for u in ctx.officer_units]
    if data.unit not in codes:
        return [Reply(M.STALE)]
    try:
        report = await resolve(deps, ctx, codes.index(data.unit), data.template, data.period)
    except Refused as e:
        return [Reply(e.message)]
    return await open_report(deps, ctx, report)


def view_submitted(deps: Deps, ctx: Ctx, report: Report, sub: Submission,
                   template: Template, source: str | None = None) -> list[Reply]:
    heading = M.submitted_heading(template.title, report.unit.name, report.period_words,
                                  sub.version, deps.local(sub.submitted_at))
    if source:
        heading += " " + source
    text, _ = summary_text(template, sub.answers, heading)
    text += "\n\n" + M.can_correct_until(deps.local(report.window.lock),
                                             deps.local(ctx.now))
    ctx.conversation.show(Mode.VIEW, report.key)
    return [Reply(text, [[Button.of(M.BUTTON_CORRECT, report.button(CorrectReport), M.KW_EDIT)]],
                  numbered=True)]


async def correct(deps: Deps, ctx: Ctx, report: Report) -> list[Reply]:
    """Reopen the sent report as a draft holding its answers."""
    draft = await deps.draft(report.key)
    if draft is not None:
        return await screens.carry_on(ctx, deps, report, draft)
    sub = await deps.submission(report.key)
    if sub is None:
        return await open_report(deps, ctx, report)
    template = await deps.template(sub.template_id, sub.template_version)
    start = StartDraft(report.unit.code, sub.template_id, sub.template_version,
                       report.window.period.id, reopened_from=sub.version,
                       answers=dict(sub.answers))
    ctx.changes.ops.append(start)
    return [screens.summary(ctx, report, template, sub.answers, correcting=True,
                            note=M.CORRECTING)]


async def send(deps: Deps, ctx: Ctx, report: Report) -> list[Reply]:
    """Send the draft on the summary, as the summary showed it; a correction sent by a typed
    number is confirmed first."""
    draft = await deps.draft(report.key)
    if draft is None:
        return [Reply(M.NO_DRAFT_TO_SEND), *await catalogue.report_list(deps, ctx)]
    changed = await _changed_since_seen(deps, ctx, report, draft)
    if changed:
        return changed
    if draft.reopened_from is not None and ctx.typed:
        return await _confirm_correction(deps, ctx, report)
    return await _submit(deps, ctx, report)


async def send_confirmed(deps: Deps, ctx: Ctx, report: Report) -> list[Reply]:
    draft = await deps.draft(report.key)
    if draft is not None:
        changed = await _changed_since_seen(deps, ctx, report, draft)
        if changed:
            return changed
    return await _submit(deps, ctx, report)


async def _changed_since_seen(deps: Deps, ctx: Ctx, report: Report, draft: Draft
                              ) -> list[Reply]:
    """[] when what is on screen is the draft as it is; else the summary as it is now, with
    what a colleague (or another device) changed since marked, to send again."""
    template = await deps.template(draft.template_id, draft.template_version)
    found = await colleagues.changed_since_seen(deps, ctx, template, draft)
    if found is None:
        return []
    note, marked = found
    return [screens.draft_summary(ctx, report, template, draft, note=note, marked=marked)]


async def _confirm_correction(deps: Deps, ctx: Ctx, report: Report) -> list[Reply]:
    draft = await deps.draft(report.key)
    sub = await deps.submission(report.key)
    assert draft is not None
    template = await deps.template(draft.template_id, draft.template_version)
    changes = changed_lines(template, sub.answers if sub else {},
                            effective_answers(template, draft.answers))
    if not changes:
        return await _submit(deps, ctx, report)  # nothing to confirm: says so and stops
    ctx.conversation.show(Mode.CONFIRM_SEND, report.key)
    ctx.conversation.shown = dict(draft.answers)
    confirm = ConfirmSend(report.slot, report.template.id, report.window.period.id,
                          answers_version(draft.answers))
    return [Reply(M.confirm_correction(changes),
                  [[Button.of(M.BUTTON_CONFIRM_SEND, confirm, M.KW_YES)],
                   [Button.of(M.BUTTON_REVIEW, ToSummary(), M.KW_NO)]], numbered=True)]


async def _submit(deps: Deps, ctx: Ctx, report: Report) -> list[Reply]:
    draft = await deps.draft(report.key)
    if draft is None:
        return [Reply(M.NO_DRAFT_TO_SEND), *await catalogue.report_list(deps, ctx)]
    template = await deps.template(draft.template_id, draft.template_version)
    # Checked again here, not only on the summary: an older summary's button may be pressed
    # after an edit broke a rule.
    if missing_required(template, draft.answers) or rule_violations(template, draft.answers):
        return [screens.draft_summary(ctx, report, template, draft, note=M.CANNOT_SEND_YET)]
    old = await deps.submission(report.key)
    if (old.version if old else None) != draft.reopened_from:
        return await _sent_meanwhile(deps, ctx, report, draft, old)
    answers = effective_answers(template, draft.answers)
    changed = None
    if draft.reopened_from is not None:
        before = old.answers if old else {}
        changed = {k: [before.get(k), answers.get(k)] for k in sorted(set(before) | set(answers))
                   if before.get(k) != answers.get(k)}
        if not changed and old is not None:
            # Nothing changed: no new version, and the draft goes.
            ctx.changes.ops.append(DeleteDraft(draft.id))
            ctx.conversation.clear()
            return [Reply(M.correction_unchanged(old.version))]
    due = report.window.due
    for_unit = ctx.on_behalf == report.unit.code
    ctx.changes.ops.append(Submit(
        draft.id, report.unit.code, template.id, draft.template_version,
        report.window.period.id, answers, ctx.now, due, ctx.now < due, changed,
        seen=colleagues.seen_answers(ctx, draft),
        source=SOURCE_ON_BEHALF if for_unit else SOURCE_CHAT, replaces=draft.reopened_from))
    ctx.conversation.clear()
    text = M.sent(draft.reopened_from is None, len(changed or {}),
                  M.lateness(days_late(ctx.now, due)), template.title, report.unit.name,
                  report.period_words, deps.local(ctx.now), deps.local(report.window.lock))
    if for_unit:
        told = await on_behalf.tell_officers(deps, ctx, report)
        text += "\n" + M.on_behalf_sent(report.unit.name, told)
    return [Reply(text)]


async def _sent_meanwhile(deps: Deps, ctx: Ctx, report: Report, draft: Draft,
                          old: Submission | None) -> list[Reply]:
    """The report was stored another way while this draft was open (a file import): nothing is
    sent; the draft, read again, becomes a correction of what is stored, shown with why."""
    deps.drafts.forget_all()  # another process wrote: what this one holds may be stale
    fresh = await deps.draft(report.key)
    if fresh is None or old is None:  # sent and gone, or the stored report vanished
        return [Reply(M.CHANGED_BY_COLLEAGUE)]
    if fresh.reopened_from != old.version:
        ctx.changes.ops.append(RebaseDraft(fresh.id, old.version))
        fresh = replace(fresh, reopened_from=old.version)
    template = await deps.template(fresh.template_id, fresh.template_version)
    who = await deps.name(old.entered_by or old.submitted_by or 0) if (
        old.entered_by or old.submitted_by) else None
    note = M.sent_meanwhile(old.version, old.source, who, deps.local(old.submitted_at))
    return [screens.draft_summary(ctx, report, template, fresh, note=note)]


async def pick_question(deps: Deps, ctx: Ctx, report: Report) -> list[Reply]:
    draft = await deps.draft(report.key)
    if draft is None:
        return [Reply(M.STALE)]
    template = await deps.template(draft.template_id, draft.template_version)
    ctx.conversation.show(Mode.EDIT, report.key)
    return [edit_picker(template, draft.answers)]


async def ask_cancel(deps: Deps, ctx: Ctx, report: Report) -> list[Reply]:
    """Abandon the draft? The answer 'no' returns to where the person was. Colleagues whose
    answers would go are named (and told, if it is abandoned)."""
    draft = await deps.draft(report.key)
    theirs = await colleagues.in_draft(deps, ctx, draft) if draft is not None else []
    back = ctx.conversation.copy()
    ctx.conversation.show(Mode.CONFIRM_CANCEL, report.key, back=back)
    return [Reply(M.confirm_cancel(report.template.title, report.period_words, theirs),
                  [[Button.of(M.BUTTON_CONFIRM_CANCEL, report.button(ConfirmCancel), M.KW_YES),
                    Button.of(M.BUTTON_KEEP_DRAFT, report.button(KeepDraft), M.KW_NO)]],
                  numbered=True)]


async def cancel(deps: Deps, ctx: Ctx, report: Report) -> list[Reply]:
    draft = await deps.draft(report.key)
    ctx.conversation.clear()
    if draft is None:
        return [Reply(M.NO_DRAFT_TO_CANCEL)]
    ctx.changes.ops.append(DeleteDraft(draft.id))
    colleagues.tell_dropped(ctx, report, draft)
    if draft.reopened_from is not None:
        return [Reply(M.CORRECTION_DROPPED)]
    return [Reply(M.DRAFT_CANCELLED)]


async def keep_draft(deps: Deps, ctx: Ctx, report: Report) -> list[Reply]:
    """Back to where the person was before the cancel question."""
    back = ctx.conversation.back
    if back is not None:
        ctx.conversation.show(back.mode, back.report, question=back.question,
                              to_summary=back.to_summary, selected=back.selected)
        if back.mode is Mode.QUESTION:
            again = await screens.ask_again(deps, ctx, note=None)
            if again:
                return again
        found = await on_screen(deps, ctx)
        if back.mode is Mode.SUMMARY and found is not None:
            return [screens.draft_summary(ctx, found.report, found.template, found.draft)]
    return await screens.resume(deps, ctx) or [Reply(M.CONTINUE_HINT)]


async def to_summary(deps: Deps, ctx: Ctx) -> list[Reply]:
    found = await on_screen(deps, ctx)
    if found is None:
        return [Reply(M.STALE)]
    return [screens.draft_summary(ctx, found.report, found.template, found.draft)]
