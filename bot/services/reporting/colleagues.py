"""Colleagues of one unit working on one draft: who started it and who answered, what a
colleague changed since an officer saw the summary, and the notices told to an officer whose
answers a colleague replaced or cancelled."""

from __future__ import annotations

from typing import Any

from bot.domain import messages_vi as M
from bot.domain.answers import format_answer
from bot.domain.buttons import ConfirmSend, SendReport
from bot.domain.dialogue import (
    answers_version,
    changed_lines,
    changed_questions,
    progress,
    visible_questions,
)
from bot.domain.templates import Template
from bot.services.reporting.context import Ctx, Deps, Report
from bot.services.reporting.lookup import OnScreen
from bot.services.reporting.notices import notice
from storage.models import Draft


def replaced(ctx: Ctx, found: OnScreen, qid: str, value: Any) -> None:
    """The officer answers `qid`: if that replaces another officer's different answer, that
    officer is told on their next message (written with the answer, in its transaction)."""
    draft = found.draft
    by = draft.answered_by.get(qid)
    if by is None or by == ctx.person.id or qid not in draft.answers \
            or draft.answers[qid] == value:
        return
    q = found.template.question(qid)
    shown = [x.id for x in visible_questions(found.template, draft.answers)]
    number = shown.index(qid) + 1 if qid in shown else None
    report = found.report
    ctx.changes.ops.append(notice(by, M.answer_replaced(
        M.colleague(ctx.person.display_name), number, q.text, report.template.title,
        report.period_words, format_answer(q, draft.answers[qid]), format_answer(q, value))))


def _others(ctx: Ctx, draft: Draft) -> dict[int, int]:
    """Colleagues who gave answers in the draft → how many (in order of first answer)."""
    counts: dict[int, int] = {}
    for person_id in draft.answered_by.values():
        if person_id != ctx.person.id:
            counts[person_id] = counts.get(person_id, 0) + 1
    return counts


async def shared_line(deps: Deps, ctx: Ctx, template: Template, draft: Draft) -> str | None:
    """'👥 Bản nháp này do đ/c Lan bắt đầu: đã trả lời 3/10 câu, cập nhật lần cuối lúc …',
    above the question or summary of a draft a colleague started or answered in; None for a
    draft that is this officer's alone."""
    others = _others(ctx, draft)
    mine = draft.started_by in (0, ctx.person.id)
    if mine and not others:
        return None
    starter = None if mine else M.colleague(await deps.name(draft.started_by))
    names = [M.colleague(await deps.name(p)) for p in others if p != draft.started_by]
    done, total = progress(template, draft.answers)
    return M.shared_draft(starter, names, done, total, deps.local(draft.updated_at))


async def in_draft(deps: Deps, ctx: Ctx, draft: Draft) -> list[tuple[str, int]]:
    """('đ/c Lan', 3) for every colleague whose answers the draft holds."""
    return [(M.colleague(await deps.name(p)), n) for p, n in _others(ctx, draft).items()]


def tell_dropped(ctx: Ctx, report: Report, draft: Draft) -> None:
    """The draft is cancelled: every colleague whose answers it held is told."""
    for person_id, count in _others(ctx, draft).items():
        ctx.changes.ops.append(notice(person_id, M.draft_dropped(
            M.colleague(ctx.person.display_name), report.template.title, report.period_words,
            count, draft.reopened_from is not None)))


async def changed_since_seen(deps: Deps, ctx: Ctx, template: Template, draft: Draft
                             ) -> tuple[str, frozenset[str]] | None:
    """None when the send button (or typed "gửi") belongs to a summary that showed the
    draft's answers as they are now; otherwise the note to put above the summary as it is now
    and the questions to mark as changed, for the officer to check and send again. A button
    from before summaries carried a version reads as an unknown version."""
    pressed = ctx.pressed
    version = pressed.version if isinstance(pressed, SendReport | ConfirmSend) else ""
    if version and version == answers_version(draft.answers):
        return None
    shown = ctx.conversation.shown
    if not version:
        return M.SUMMARY_OUTDATED, frozenset()
    if shown is None or answers_version(shown) != version:  # an older message's button
        return M.changed_since_seen([]), frozenset()
    who = {q: M.colleague(await deps.name(p)) for q, p in draft.answered_by.items()
           if p != ctx.person.id}
    return (M.changed_since_seen(changed_lines(template, shown, draft.answers, who)),
            frozenset(q.id for q in changed_questions(template, shown, draft.answers)))


def seen_answers(ctx: Ctx, draft: Draft) -> dict[str, Any]:
    """What the officer saw of the draft they send (checked again by storage, in the
    transaction): the summary's answers; the draft's own when they are the same version."""
    shown = ctx.conversation.shown
    if shown is not None and answers_version(shown) == answers_version(draft.answers):
        return dict(shown)
    return dict(draft.answers)
