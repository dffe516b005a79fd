"""Putting a question or a summary on screen: the reply, and the conversation that goes with it."""

from __future__ import annotations

from typing import Any

from bot.domain import messages_vi as M
from bot.domain.buttons import AskCancel, PickQuestion, SendReport
from bot.domain.conversation import Mode
from bot.domain.dialogue import (
    Button,
    Reply,
    answers_version,
    first_unanswered,
    question_after,
    question_reply,
    summary_text,
    visible_questions,
)
from bot.domain.templates import QuestionType, Template
from bot.services.reporting import colleagues
from bot.services.reporting.context import Ctx, Deps, Report
from bot.services.reporting.lookup import on_screen
from storage.models import Draft


def ask(ctx: Ctx, report: Report, template: Template, answers: dict[str, Any], qid: str, *,
        note: str | None = None, to_summary: bool = False, selected: list[str] | None = None,
        replace: bool = False) -> list[Reply]:
    q = template.question(qid)
    current = answers.get(qid)
    if selected is None and q.type is QuestionType.MULTI_CHOICE and isinstance(current, list):
        selected = list(current)  # ticked as answered: one more tick adds, not replaces
    ctx.conversation.show(Mode.QUESTION, report.key, question=qid, to_summary=to_summary,
                          selected=selected)
    return [question_reply(template, answers, q, selected=selected, note=note, replace=replace,
                           previous=report.previous)]


def summary(ctx: Ctx, report: Report, template: Template, answers: dict[str, Any], *,
            correcting: bool, note: str | None = None,
            marked: frozenset[str] = frozenset()) -> Reply:
    """The draft's answers and problems. A correction's summary does not start with the button
    that sends: "1" typed twice (open, then the first button) must not send a correction.
    The send button carries the version of the answers shown, and the conversation keeps
    them: a send submits only what the officer saw (`marked`: answers changed since the
    summary before)."""
    ctx.conversation.show(Mode.SUMMARY, report.key)
    ctx.conversation.shown = dict(answers)
    heading = M.summary_heading(template.title, report.unit.name, report.period_words,
                                M.due_by(report.window.last_day))
    if note:
        heading = note + "\n\n" + heading
    text, problems = summary_text(template, answers, heading, marked)
    send = Button.of(M.BUTTON_SEND_CORRECTION if correcting else M.BUTTON_SEND,
                     SendReport(report.slot, report.template.id, report.window.period.id,
                                answers_version(answers)), M.KW_SEND)
    edit = Button.of(M.BUTTON_EDIT, report.button(PickQuestion), M.KW_EDIT)
    cancel = Button.of(M.BUTTON_DROP_CORRECTION if correcting else M.BUTTON_CANCEL,
                       report.button(AskCancel), M.KW_CANCEL)
    rows = [[edit]] if correcting or problems else []
    if not problems:
        text += "\n\n" + M.review_then_send(correcting)
        rows.append([send])
    if not correcting and not problems:
        rows.append([edit])
    rows.append([cancel])
    return Reply(text, rows, numbered=True)


def after_answer(ctx: Ctx, report: Report, template: Template, draft: Draft,
                 answers: dict[str, Any], qid: str, note: str) -> list[Reply]:
    """The next question, or the summary; from the summary, straight back to it (unless the
    change revealed a question that needs an answer)."""
    if ctx.conversation.to_summary:
        gap = first_unanswered(template, answers)
        if gap is not None:
            return ask(ctx, report, template, answers, gap.id, note=note, to_summary=True)
        return [summary(ctx, report, template, answers, correcting=_correcting(draft),
                        note=note)]
    nxt = question_after(template, answers, qid)
    if nxt is None:
        return [summary(ctx, report, template, answers, correcting=_correcting(draft),
                        note=note)]
    return ask(ctx, report, template, answers, nxt.id, note=note)


async def carry_on(ctx: Ctx, deps: Deps, report: Report, draft: Draft,
                   note: str | None = None) -> list[Reply]:
    """The first unanswered question of a draft, or its summary when all are answered; above
    it, who else worked on the draft, how far it is and when it was last changed."""
    template = await deps.template(draft.template_id, draft.template_version)
    shared = await colleagues.shared_line(deps, ctx, template, draft)
    if shared:
        note = f"{note}\n{shared}" if note else shared
    nxt = first_unanswered(template, draft.answers)
    if nxt is None:
        return [summary(ctx, report, template, draft.answers, correcting=_correcting(draft),
                        note=note)]
    return ask(ctx, report, template, draft.answers, nxt.id, note=note)


async def resume(deps: Deps, ctx: Ctx) -> list[Reply] | None:
    """Carry on with the report the conversation is on, or None if there is none."""
    found = await on_screen(deps, ctx)
    if found is None:
        return None
    report = found.report
    return await carry_on(ctx, deps, report, found.draft,
                          note=M.resuming(report.template.title, report.period_words))


def draft_summary(ctx: Ctx, report: Report, template: Template, draft: Draft,
                  note: str | None = None, marked: frozenset[str] = frozenset()) -> Reply:
    return summary(ctx, report, template, draft.answers, correcting=_correcting(draft),
                   note=note, marked=marked)


def _correcting(draft: Draft) -> bool:
    return draft.reopened_from is not None


async def ask_again(deps: Deps, ctx: Ctx, note: str | None) -> list[Reply]:
    """The question on screen once more (after a command answered in between), so what the
    person types next answers the question they see last; [] if no question is on screen."""
    conversation = ctx.conversation
    if conversation.mode is not Mode.QUESTION:
        return []
    found = await on_screen(deps, ctx)
    if found is None or conversation.question not in found.template.question_ids:
        return []
    return ask(ctx, found.report, found.template, found.draft.answers, conversation.question,
               note=note, to_summary=conversation.to_summary, selected=conversation.selected)


async def last_question(deps: Deps, ctx: Ctx) -> list[Reply]:
    """From the summary, "quay lại": the last question shown on it, then back to the summary."""
    found = await on_screen(deps, ctx)
    if found is None:
        return []
    shown = visible_questions(found.template, found.draft.answers)
    return ask(ctx, found.report, found.template, found.draft.answers, shown[-1].id,
               to_summary=True)
