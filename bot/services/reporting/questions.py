"""The question on screen: answers typed, chosen or sent as photos; skip, back, keep, clear."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from bot.domain import messages_vi as M
from bot.domain.answers import (
    Accepted,
    Rejected,
    accept_photo,
    check_value,
    format_answer,
    parse_answer,
)
from bot.domain.buttons import (
    Back,
    Choose,
    ClearAnswer,
    DoneChoosing,
    EditQuestion,
    Explain,
    Keep,
    SaveRepeat,
    Skip,
    Toggle,
    UsePrevious,
)
from bot.domain.conversation import Mode
from bot.domain.dialogue import (
    Button,
    Reply,
    help_request,
    navigation,
    question_before,
    rate_conflict,
    visible_questions,
)
from bot.domain.templates import Question, QuestionType
from bot.services.reporting import catalogue, colleagues, screens
from bot.services.reporting.context import Ctx, Deps
from bot.services.reporting.lookup import OnScreen, on_screen
from storage.models import SaveAnswer


async def on_text(deps: Deps, ctx: Ctx, text: str, key: str) -> list[Reply]:
    """Typed text while a question is on screen: a navigation word, or the answer."""
    found = await on_screen(deps, ctx)
    qid = ctx.conversation.question or ""
    if found is None:
        return await _no_draft(deps, ctx)
    if qid not in found.template.question_ids:  # a state from an older template: start over
        return await screens.carry_on(ctx, deps, found.report, found.draft)
    q = found.template.question(qid)
    wants = help_request(key, qid in found.draft.answers)
    if wants == "explain":
        return await explain(deps, ctx, Explain(qid), found)
    if wants == "previous" and q.prefill:
        return await use_previous(deps, ctx, UsePrevious(qid), found)
    move = navigation(key)
    if move == "done" and ctx.conversation.selected is not None:
        return await done(deps, ctx, DoneChoosing(qid), found)
    if move in ("keep", "done"):  # "xong" elsewhere: finished with this question
        return await keep(deps, ctx, Keep(qid), found)
    if move == "skip":
        return await skip(deps, ctx, Skip(qid), found)
    if move == "back":
        return await back(deps, ctx, Back(qid), found)
    if move == "clear":
        return await clear(deps, ctx, ClearAnswer(qid), found)
    return await _answer(deps, ctx, found, text=text)


async def on_photo(deps: Deps, ctx: Ctx, file_id: str) -> list[Reply]:
    if ctx.conversation.mode is not Mode.QUESTION:
        return [Reply(M.NOT_A_PHOTO_QUESTION)]
    found = await on_screen(deps, ctx)
    if found is None:
        return await _no_draft(deps, ctx)
    if (ctx.conversation.question or "") not in found.template.question_ids:
        return await screens.carry_on(ctx, deps, found.report, found.draft)
    return await _answer(deps, ctx, found, photo=file_id)


async def _no_draft(deps: Deps, ctx: Ctx) -> list[Reply]:
    ref = ctx.conversation.report
    ctx.conversation.clear()
    if ref is not None and ref.unit not in {u.code for u in ctx.officer_units}:
        # taken out of the unit (or made supervisor) while answering: the draft is there
        unit = (await deps.units.tree()).units.get(ref.unit)
        note = M.no_longer_officer(unit.name if unit is not None else ref.unit)
        return [Reply(note), *await catalogue.report_list(deps, ctx)]
    return [Reply(M.NO_DRAFT), *await catalogue.report_list(deps, ctx)]


def _again(ctx: Ctx, found: OnScreen, note: str) -> list[Reply]:
    """The same question once more, with a note on what was wrong."""
    qid = ctx.conversation.question or ""
    return screens.ask(ctx, found.report, found.template, found.draft.answers, qid, note=note,
                       to_summary=ctx.conversation.to_summary,
                       selected=ctx.conversation.selected)


async def _answer(deps: Deps, ctx: Ctx, found: OnScreen, *, text: str | None = None,
                  photo: str | None = None) -> list[Reply]:
    q = found.template.question(ctx.conversation.question or "")
    if photo is not None:
        parsed = accept_photo(q, photo)
    else:
        parsed = parse_answer(q, text or "", today=deps.today(ctx.now),
                              period=found.report.window.period)
    if isinstance(parsed, Rejected):
        return _again(ctx, found, f"⚠ {parsed.message}")
    assert isinstance(parsed, Accepted)
    conflict = rate_conflict(found.template, found.draft.answers, q.id, parsed.value)
    if conflict is not None:
        return _again(ctx, found, conflict)
    earlier = _repeats_earlier(ctx, found, parsed.value) if text is not None else None
    if earlier is not None:
        shown = format_answer(q, parsed.value)
        *before, last = _again(ctx, found, M.same_as_earlier(shown, earlier.text))
        # Confirmed by the button (or its word, where there are no buttons) only: typing it
        # again is what a retype looks like.
        confirm = [Button.of(M.save_repeat_label(shown), SaveRepeat(q.id), M.KW_SAVE)]
        ctx.conversation.doubted = [q.id, parsed.value]
        return [*before, replace(last, buttons=[confirm, *last.buttons])]
    return _save(ctx, found, parsed.value, parsed.note)


async def save_repeat(deps: Deps, ctx: Ctx, data: SaveRepeat, found: OnScreen
                      ) -> list[Reply]:
    """The officer confirms the repeated figure for the question it was typed on."""
    doubted = ctx.conversation.doubted
    if doubted is None or doubted[0] != data.question:
        return _again(ctx, found, M.STALE)
    return _save(ctx, found, doubted[1])


RETYPE_WINDOW = timedelta(minutes=5)


def _repeats_earlier(ctx: Ctx, found: OnScreen, value: Any) -> Question | None:
    """The earlier question this person answered with this same value minutes ago, if the
    question on screen is still unanswered.

    A person who did not see our reply types their answer again, or answers a late copy of an
    older question (a reply Telegram accepted after a timeout comes after newer ones): stored
    as is, it would fill the next question with the previous one's figure. So such a repeat is
    taken only when confirmed with the button under the question. Zero and yes/no repeat too
    often to ask."""
    qid = ctx.conversation.question or ""
    draft = found.draft
    if value in (None, 0, True, False) or draft.answers.get(qid) is not None:
        return None
    if ctx.now - draft.updated_at > RETYPE_WINDOW:
        return None
    order = found.template.question_ids
    for earlier in order[:order.index(qid)]:
        if draft.answers.get(earlier) == value and draft.answered_by.get(earlier) == ctx.person.id:
            return found.template.question(earlier)
    return None


def _save(ctx: Ctx, found: OnScreen, value: Any, note: str | None = None) -> list[Reply]:
    """Save the answer; the note says how the typed text was read ("2,5 tỷ đồng = 2.500
    triệu đồng"), so a conversion is never silent."""
    qid = ctx.conversation.question or ""
    q = found.template.question(qid)
    conflict = rate_conflict(found.template, found.draft.answers, qid, value)
    if conflict is not None:  # every way in: typed, confirmed, last period's
        return _again(ctx, found, conflict)
    ctx.changes.ops.append(SaveAnswer(found.draft.id, qid, value))
    colleagues.replaced(ctx, found, qid, value)
    answers = {**found.draft.answers, qid: value}
    return screens.after_answer(ctx, found.report, found.template, found.draft, answers, qid,
                                M.saved(format_answer(q, value), note))


# --- buttons of the question on screen (the router checked it is this question) ------------


async def use_previous(deps: Deps, ctx: Ctx, data: UsePrevious, found: OnScreen
                       ) -> list[Reply]:
    """Answer with last period's answer, checked as if typed (bounds, options, a rate's
    part ≤ its total)."""
    q = found.template.question(data.question)
    previous = found.report.previous
    value = previous.answer(q) if previous is not None else None
    if value is None:
        return _again(ctx, found, M.NO_PREVIOUS)
    checked = check_value(q, value)
    if isinstance(checked, Rejected):
        return _again(ctx, found, M.previous_refused(format_answer(q, value), checked.message))
    assert isinstance(checked, Accepted)
    return _save(ctx, found, checked.value, M.FROM_PREVIOUS)


async def explain(deps: Deps, ctx: Ctx, data: Explain, found: OnScreen) -> list[Reply]:
    """The question's definition (or, without one, a word that there is none: its hint is
    under the question), then the same question; nothing is saved."""
    q = found.template.question(data.question)
    return _again(ctx, found, M.definition(q.definition) if q.definition else M.NO_DEFINITION)


async def choose(deps: Deps, ctx: Ctx, data: Choose, found: OnScreen) -> list[Reply]:
    q = found.template.question(data.question)
    if q.type is QuestionType.YES_NO and data.index in (0, 1):
        return _save(ctx, found, bool(data.index))
    if q.type is QuestionType.CHOICE and 0 <= data.index < len(q.options):
        return _save(ctx, found, q.options[data.index].id)
    return [Reply(M.STALE)]


async def toggle(deps: Deps, ctx: Ctx, data: Toggle, found: OnScreen) -> list[Reply]:
    q = found.template.question(data.question)
    if q.type is not QuestionType.MULTI_CHOICE or not 0 <= data.index < len(q.options):
        return [Reply(M.STALE)]
    option = q.options[data.index].id
    selected = list(ctx.conversation.selected or [])
    if option in selected:
        selected.remove(option)
    else:
        selected.append(option)
    return screens.ask(ctx, found.report, found.template, found.draft.answers, q.id,
                       to_summary=ctx.conversation.to_summary, selected=selected, replace=True)


async def done(deps: Deps, ctx: Ctx, data: DoneChoosing, found: OnScreen) -> list[Reply]:
    q = found.template.question(data.question)
    chosen = [o.id for o in q.options if o.id in (ctx.conversation.selected or [])]
    if not chosen:
        return screens.ask(ctx, found.report, found.template, found.draft.answers, q.id,
                           to_summary=ctx.conversation.to_summary, selected=[],
                           note=M.PICK_AT_LEAST_ONE)
    return _save(ctx, found, chosen)


async def skip(deps: Deps, ctx: Ctx, data: Skip, found: OnScreen) -> list[Reply]:
    """Move on. An answer given earlier stays (clearing it is `clear`); an unanswered optional
    question is recorded as skipped; an unanswered required one cannot be skipped."""
    q = found.template.question(data.question)
    answers = found.draft.answers
    if q.id in answers:
        note = (M.skipped_keeping(format_answer(q, answers[q.id])) if answers[q.id] is not None
                else M.SKIPPED)
        return screens.after_answer(ctx, found.report, found.template, found.draft, answers,
                                    q.id, note)
    if q.required:
        return _again(ctx, found, M.REQUIRED_NO_SKIP)
    ctx.changes.ops.append(SaveAnswer(found.draft.id, q.id, None))
    return screens.after_answer(ctx, found.report, found.template, found.draft,
                                {**answers, q.id: None}, q.id, M.SKIPPED)


async def keep(deps: Deps, ctx: Ctx, data: Keep, found: OnScreen) -> list[Reply]:
    """Move on keeping the answer; with no answer yet, it is a skip (refused if required)."""
    if data.question not in found.draft.answers:
        return await skip(deps, ctx, Skip(data.question), found)
    return screens.after_answer(ctx, found.report, found.template, found.draft,
                                found.draft.answers, data.question, M.KEPT)


async def clear(deps: Deps, ctx: Ctx, data: ClearAnswer, found: OnScreen) -> list[Reply]:
    """Remove an optional question's answer (it counts as skipped), then move on."""
    q = found.template.question(data.question)
    if q.required:
        return _again(ctx, found, M.REQUIRED_NO_CLEAR)
    ctx.changes.ops.append(SaveAnswer(found.draft.id, q.id, None))
    colleagues.replaced(ctx, found, q.id, None)
    return screens.after_answer(ctx, found.report, found.template, found.draft,
                                {**found.draft.answers, q.id: None}, q.id, M.CLEARED)


async def back(deps: Deps, ctx: Ctx, data: Back, found: OnScreen) -> list[Reply]:
    prev = question_before(found.template, found.draft.answers, data.question)
    if prev is None:
        return _again(ctx, found, M.FIRST_QUESTION)
    return screens.ask(ctx, found.report, found.template, found.draft.answers, prev.id,
                       to_summary=ctx.conversation.to_summary)


async def edit_question(deps: Deps, ctx: Ctx, data: EditQuestion, found: OnScreen
                        ) -> list[Reply]:
    """From the picker or the summary: change one answer, then come back to the summary."""
    answers = found.draft.answers
    if data.question not in [q.id for q in visible_questions(found.template, answers)]:
        return [Reply(M.STALE)]
    q = found.template.question(data.question)
    current = answers.get(q.id) if q.type is QuestionType.MULTI_CHOICE else None
    return screens.ask(ctx, found.report, found.template, answers, q.id, to_summary=True,
                       selected=list(current) if isinstance(current, list) else None)
