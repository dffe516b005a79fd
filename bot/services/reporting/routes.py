"""Routing, readable in one screen (the way python-telegram-bot's ConversationHandler maps
states to callbacks): which command, button or typed text goes to which feature, and on which
screen a button is still valid. A button pressed on an older message, or forged, gets
"Nút này đã cũ" and changes nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from bot.domain import messages_vi as M
from bot.domain.buttons import (
    AckBroadcast,
    Approve,
    AskCancel,
    Back,
    BroadcastAction,
    Choose,
    ClearAnswer,
    Compose,
    ConfirmCancel,
    ConfirmSend,
    CorrectReport,
    DoneChoosing,
    EditQuestion,
    Explain,
    ExportFile,
    Keep,
    KeepDraft,
    NudgeMissing,
    OnBehalf,
    OnBehalfPage,
    OpenDigest,
    OpenReport,
    PickPeriod,
    PickQuestion,
    QuestionButton,
    ReportButton,
    ReportNow,
    ReturnReport,
    SaveRepeat,
    SendReport,
    Skip,
    Toggle,
    ToSummary,
    UsePrevious,
    ViewSubmission,
    unpack,
)
from bot.domain.conversation import Conversation, Mode
from bot.domain.dialogue import Reply, navigation
from bot.domain.roles import Role
from bot.domain.roster_buttons import ROSTER_BUTTONS
from bot.domain.text import fold
from bot.services.channels import Inbound
from bot.services.commands import BY_NAME, allowed
from bot.services.reporting import (
    broadcast_chat,
    catalogue,
    export_files,
    joining,
    lifecycle,
    notices,
    nudge,
    on_behalf,
    questions,
    review,
    roster,
    screens,
    tonghop,
)
from bot.services.reporting.context import Ctx, Deps, Report
from bot.services.reporting.lookup import OnScreen, Refused, on_screen, resolve
from bot.services.reporting.watching import watches
from storage.models import DropNotices

CommandAction = Callable[[Deps, Ctx], Awaitable[list[Reply]]]
ReportAction = Callable[[Deps, Ctx, Report], Awaitable[list[Reply]]]
QuestionAction = Callable[[Deps, Ctx, Any, OnScreen], Awaitable[list[Reply]]]
ANYWHERE = None  # the report need not be on screen (it is named by the button)
SAME_REPORT: tuple[Mode, ...] = ()  # the report must be on screen, any mode


async def _greet(deps: Deps, ctx: Ctx) -> list[Reply]:
    return catalogue.greet(deps, ctx)


COMMANDS: dict[str, CommandAction] = {
    "start": _greet,
    "giup": _greet,
    "baocao": lifecycle.baocao,
    "danhsach": catalogue.report_list,
    "trangthai": catalogue.status,
    "huy": lifecycle.huy,
    "lienket": joining.link_code,
    "nhapho": on_behalf.picker,
    "tonghop": tonghop.start,
    "quanly": roster.start,
    "thongbao": broadcast_chat.start,
}

# Commands that leave the question on screen behind their answer: it is asked again after it,
# so a number typed next answers the question, not a button of the command's answer.
ASK_AGAIN_AFTER = {"start", "giup", "trangthai", "lienket"}

# button kind → (what it does, the screens on which it is valid)
REPORT_BUTTONS: dict[type[ReportButton], tuple[ReportAction, tuple[Mode, ...] | None]] = {
    OpenReport: (lifecycle.open_report, ANYWHERE),
    CorrectReport: (lifecycle.correct, ANYWHERE),
    SendReport: (lifecycle.send, (Mode.SUMMARY,)),
    ConfirmSend: (lifecycle.send_confirmed, (Mode.CONFIRM_SEND,)),
    PickQuestion: (lifecycle.pick_question, (Mode.SUMMARY, Mode.VIEW)),
    AskCancel: (lifecycle.ask_cancel, SAME_REPORT),
    ConfirmCancel: (lifecycle.cancel, (Mode.CONFIRM_CANCEL,)),
    KeepDraft: (lifecycle.keep_draft, (Mode.CONFIRM_CANCEL,)),
}
QUESTION_BUTTONS: dict[type[QuestionButton], tuple[QuestionAction, tuple[Mode, ...]]] = {
    Choose: (questions.choose, (Mode.QUESTION,)),
    Toggle: (questions.toggle, (Mode.QUESTION,)),
    DoneChoosing: (questions.done, (Mode.QUESTION,)),
    Skip: (questions.skip, (Mode.QUESTION,)),
    Back: (questions.back, (Mode.QUESTION,)),
    Keep: (questions.keep, (Mode.QUESTION,)),
    SaveRepeat: (questions.save_repeat, (Mode.QUESTION,)),
    ClearAnswer: (questions.clear, (Mode.QUESTION,)),
    UsePrevious: (questions.use_previous, (Mode.QUESTION,)),
    Explain: (questions.explain, (Mode.QUESTION,)),
    EditQuestion: (questions.edit_question, (Mode.EDIT, Mode.SUMMARY)),
}


async def route(deps: Deps, ctx: Ctx, event: Inbound) -> list[Reply]:
    """The replies to one event, with the person's pending notices above them (deleted in
    this event's transaction: told once)."""
    replies = await _route(deps, ctx, event)
    pending = await deps.notices.pending(ctx.person.id)
    if not pending:
        return replies
    ctx.changes.ops.append(DropNotices(tuple(n.key for n in pending)))
    return notices.shown_with(replies, pending)


async def _route(deps: Deps, ctx: Ctx, event: Inbound) -> list[Reply]:
    ctx.origin = (event.channel, event.chat,
                  event.pressed.message_id if event.pressed is not None else None)
    ctx.pressed_text = event.pressed.text if event.pressed is not None else ""
    if broadcast_chat.composing(ctx) and (event.photo is not None or event.other is not None
                                          or event.document is not None):
        return await broadcast_chat.on_file(deps, ctx, event)  # an attachment, or refused
    if event.command is not None:
        return await command(deps, ctx, event.command)
    if event.button is not None:
        return await button(deps, ctx, event.button)
    if event.photo is not None:
        return await questions.on_photo(deps, ctx, event.photo)
    other = "document" if event.document is not None else event.other
    if other is not None:  # a sticker, a voice message, a file: say what is read, ask again
        again = await screens.ask_again(deps, ctx, note=None)
        return [Reply(M.cannot_read(other)), *again] if again else [
            Reply(M.cannot_read(other) + "\n" + M.CONTINUE_HINT)]
    return await text(deps, ctx, event.text)


async def command(deps: Deps, ctx: Ctx, name: str) -> list[Reply]:
    if ctx.conversation.mode is Mode.RETURN_REASON:  # any command leaves the reason unasked
        if name == "huy":
            return review.cancel_return(ctx)
        ctx.conversation.clear()
    if broadcast_chat.composing(ctx):  # any command leaves the announcement being composed
        if name == "huy":
            return broadcast_chat.cancel(ctx)
        ctx.conversation.clear()
    known = BY_NAME.get(name)
    action = COMMANDS.get(name)
    if known is None or action is None:
        return [Reply(M.unknown_command(name))]
    if not allowed(known, ctx.roles):
        return [_refused(ctx)]
    replies = await action(deps, ctx)
    if name in ASK_AGAIN_AFTER:
        replies += await screens.ask_again(deps, ctx, M.STILL_ON_QUESTION)
    return replies


async def button(deps: Deps, ctx: Ctx, raw: str) -> list[Reply]:
    data = unpack(raw)
    if isinstance(data, AckBroadcast):  # any recipient; the screen they are on stays
        ctx.pressed = data
        return await broadcast_chat.acknowledge(deps, ctx, data)
    if isinstance(data, Compose | BroadcastAction):  # announcements (checked there)
        ctx.pressed = data
        if isinstance(data, Compose):
            return await broadcast_chat.button(deps, ctx, data)
        return await broadcast_chat.action(deps, ctx, data)
    if broadcast_chat.composing(ctx):  # any other button leaves the announcement
        ctx.conversation.clear()
    if ctx.conversation.mode is Mode.RETURN_REASON:
        # Any other button is a change of mind (as a command is): the reason is no longer
        # asked, or the next thing typed, however much later, would return the report.
        ctx.conversation.clear()
    if isinstance(data, ViewSubmission | Approve | ReturnReport):
        return await _review_button(deps, ctx, data)
    if isinstance(data, OpenDigest):  # a supervisor's or admin's digest
        if not watches(ctx):
            return [_refused(ctx)]
        ctx.pressed = data
        return await tonghop.show(deps, ctx, data)
    if isinstance(data, NudgeMissing | PickPeriod | OnBehalfPage | ExportFile):
        if not watches(ctx):  # supervisors' and admins'
            return [_refused(ctx)]
        ctx.pressed = data
        if isinstance(data, NudgeMissing):
            return await nudge.nudge(deps, ctx, data)
        if isinstance(data, ExportFile):
            return await export_files.send_file(deps, ctx, data)
        if isinstance(data, PickPeriod):
            return await tonghop.pick_period(deps, ctx, data)
        return await on_behalf.picker(deps, ctx, data.page)
    if isinstance(data, ROSTER_BUTTONS):  # /quanly: admins', checked again in bot.services.roster
        ctx.pressed = data
        return await roster.press(deps, ctx, data)
    if isinstance(data, OnBehalf):  # a supervisor's, before they act as the unit's officer
        ctx.pressed = data
        return await on_behalf.start(deps, ctx, data)
    if Role.OFFICER not in ctx.roles:
        return [_refused(ctx)]
    ctx.pressed = data
    if isinstance(data, ReportNow):
        return await lifecycle.report_now(deps, ctx, data)
    if isinstance(data, ReportButton):
        return await _report_button(deps, ctx, data)
    if isinstance(data, QuestionButton):
        return await _question_button(deps, ctx, data)
    if isinstance(data, ToSummary):
        return await lifecycle.to_summary(deps, ctx)
    return [Reply(M.STALE)]


async def _review_button(deps: Deps, ctx: Ctx,
                         data: ViewSubmission | Approve | ReturnReport) -> list[Reply]:
    """Supervisors' and admins' buttons on a unit's submitted report (officers never)."""
    if not watches(ctx):
        return [_refused(ctx)]
    ctx.pressed = data
    if ctx.conversation.mode is Mode.RETURN_REASON:  # another report opened: reason unasked
        ctx.conversation.clear()
    if isinstance(data, ViewSubmission):
        return await review.view(deps, ctx, data)
    if isinstance(data, Approve):
        return await review.approve(deps, ctx, data)
    return await review.ask_reason(deps, ctx, data)


async def _report_button(deps: Deps, ctx: Ctx, data: ReportButton) -> list[Reply]:
    action, screens_ok = REPORT_BUTTONS[type(data)]
    try:
        report = await resolve(deps, ctx, data.slot, data.template, data.period)
    except Refused as e:
        return [Reply(e.message)]
    if screens_ok is not ANYWHERE and not _shows(ctx.conversation, report, screens_ok):
        return [Reply(M.STALE), *(await screens.resume(deps, ctx)
                                  or await catalogue.report_list(deps, ctx))]
    return await action(deps, ctx, report)


def _shows(conversation: Conversation, report: Report, modes: tuple[Mode, ...]) -> bool:
    return conversation.report == report.key and (not modes or conversation.mode in modes)


async def _question_button(deps: Deps, ctx: Ctx, data: QuestionButton) -> list[Reply]:
    action, modes = QUESTION_BUTTONS[type(data)]
    found = await on_screen(deps, ctx)
    conversation = ctx.conversation
    on_this = conversation.mode is not Mode.QUESTION or conversation.question == data.question
    if found is None or conversation.mode not in modes or not on_this:
        return [Reply(M.STALE), *(await screens.resume(deps, ctx) or [])]
    return await action(deps, ctx, data, found)


async def text(deps: Deps, ctx: Ctx, typed: str) -> list[Reply]:
    key = fold(typed).strip(" .!")
    if ctx.conversation.mode is Mode.RETURN_REASON:
        if key in ("huy", "/huy"):
            return review.cancel_return(ctx)
        return await review.reason_typed(deps, ctx, typed)
    pressed = typed_button(ctx.conversation, key)
    if pressed is not None:
        ctx.typed = True
        return await button(deps, ctx, pressed)
    if broadcast_chat.composing(ctx):
        return await broadcast_chat.on_text(deps, ctx, typed, key)
    confirmed = await broadcast_chat.typed_ack(deps, ctx, key, typed)  # "đã nhận" (Zalo)
    if confirmed is not None:
        return confirmed
    if key in ("huy", "/huy"):
        return await command(deps, ctx, "huy")
    if ctx.conversation.mode is Mode.QUESTION:
        return await questions.on_text(deps, ctx, typed, key)
    if ctx.conversation.mode is Mode.SUMMARY and navigation(key) == "back":
        return await screens.last_question(deps, ctx) or await catalogue.report_list(deps, ctx)
    if ctx.conversation.mode is Mode.LIST and ctx.conversation.numbered:
        # A number that is not on the list, or words: the list again, so that the number
        # typed next still means what the list says (a hint would forget it).
        listing = await catalogue.report_list(deps, ctx)
        count = len(listing[0].flat_buttons()) if listing else 0
        if count:
            note = M.not_on_list(typed, count)
            listing[0] = replace(listing[0], text=f"{note}\n\n{listing[0].text}")
        return listing
    if Role.OFFICER in ctx.roles:
        return await screens.resume(deps, ctx) or [Reply(M.HINT_OFFICER)]
    return [Reply(M.HINT_WATCHER)]


def _refused(ctx: Ctx) -> Reply:
    return Reply(M.not_for_your_role(sorted(ctx.roles)))


# --- what typing means on channels without buttons ------------------------------------------


def remember_buttons(conversation: Conversation, replies: list[Reply]) -> None:
    """Keep what typing a number or a keyword means for the last reply with buttons."""
    conversation.numbered, conversation.keywords = [], {}
    for reply in reversed(replies):
        buttons = reply.flat_buttons()
        if not buttons:
            continue
        if reply.numbered:
            conversation.numbered = [b.data for b in buttons]
        conversation.keywords = {fold(b.keyword): b.data for b in buttons if b.keyword}
        break


def typed_button(conversation: Conversation, key: str) -> str | None:
    """A typed number or keyword that stands for a button of the last reply."""
    if key in conversation.keywords:
        return conversation.keywords[key]
    numbered = conversation.numbered
    if key.isascii() and key.isdigit() and numbered and 1 <= int(key) <= len(numbered):
        return numbered[int(key) - 1]
    return None
