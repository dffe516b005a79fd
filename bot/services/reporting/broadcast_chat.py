"""/thongbao: an announcement composed in chat, on a phone, by an admin (or a supervisor where
`[broadcasts] supervisors = true`), within their subtrees; then its list, status, who has not
confirmed, a follow-up to those, and cancelling one still scheduled. Recipients confirm with
"✅ Đã nhận" (a button) or by typing "đã nhận" (Zalo).

The draft lives in the conversation (`Conversation.broadcast`, mode BROADCAST): a form of
who (whole reach, a unit of it, a level, a role, the units that have not sent a report's
period; combined as the service combines them), then the text, then options (confirmation,
urgent, now or a typed time), then a preview with the counts and the text as it will read:
nothing is created before "✅ Gửi" is pressed on that preview. Any other command or button
leaves the draft (as a return's reason is left): what is typed later is never taken for an
announcement's text by surprise.

Progress (`BroadcastProgress`, driven by the sender's per-second hook): the message whose
"Gửi" was pressed is edited with "Đang gửi 1.234/5.000 · 12 không nhận được" at most every
`PROGRESS_EVERY` seconds, and a final report is sent (stored in the outbox: a crash delays it,
never loses it). Channels without edits (Zalo) get only the start (the reply to "Gửi") and
the final report.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from bot.domain import messages_vi as M
from bot.domain.answers import Accepted, parse_answer
from bot.domain.broadcasts import (
    Attachment,
    Audience,
    BroadcastDraft,
    BroadcastRefused,
    BroadcastStatus,
    describe,
    preview_line,
)
from bot.domain.buttons import AckBroadcast, BroadcastAction, Compose
from bot.domain.conversation import Mode
from bot.domain.dialogue import Button, Reply
from bot.domain.periods import Period, PeriodError
from bot.domain.reminders import Policy, in_quiet_hours
from bot.domain.reports import schedule_windows, started_periods
from bot.domain.roles import Role
from bot.domain.send_time import SendTimeError, parse_send_time
from bot.domain.templates import Level
from bot.domain.text import fold
from bot.domain.units import LEVEL_VI, Unit, ancestors_of, subtree_codes
from bot.services.channels import Inbound, Pressed
from bot.services.delivery import REMINDER, Parcel
from bot.services.reporting import screens
from bot.services.reporting.context import Ctx, Deps
from bot.services.reporting.lookup import on_screen
from bot.services.reporting.tonghop import _chased
from storage.models import Outgoing

if TYPE_CHECKING:
    from bot.app import App
    from bot.services.broadcasts import Broadcasts

log = logging.getLogger(__name__)

# Typed on any channel (folded), a confirmation of the newest announcement awaiting one.
ACK_WORDS = frozenset({"da nhan", "da nhan a", "da nhan roi", "toi da nhan", "em da nhan",
                       "✅ da nhan"})
UNITS_PAGE = 8
WHO_PAGE = 20
LIST_LIMIT = 10
PERIODS_SHOWN = 8
MAX_TEXT = 10_000  # characters; channels split long text at their own limits
PROGRESS_EVERY = 5.0  # seconds between two edits of a progress message
# An announcement marked as confirmed in place only while the mark fits one message (an edit
# cannot be split: Telegram's 4,096, less room for its UTF-16 count of emoji); else a new one.
MARK_FITS = 4_000
TELEGRAM = "telegram"  # the channel whose photos and documents are re-sent by file id

Draft = dict[str, Any]  # the conversation's JSON: s step, a audience, t text, k ack, u urgent,
#                          at ISO time or absent (now), f the announcement followed up,
#                          fa [kind, name, Telegram file id] of the attachment


# --- entry points (routes.py) -----------------------------------------------------------------


def _service(deps: Deps) -> Broadcasts | None:
    return deps.broadcasts


async def start(deps: Deps, ctx: Ctx) -> list[Reply]:
    """/thongbao: a new draft's first screen (who), for those who may broadcast."""
    if not await _reach(deps, ctx):
        return [Reply(M.BC_NOT_ALLOWED)]
    return [await _form(deps, ctx, {})]


def cancel(ctx: Ctx) -> list[Reply]:
    ctx.conversation.clear()
    return [Reply(M.BC_CANCELLED)]


def composing(ctx: Ctx) -> bool:
    return ctx.conversation.mode is Mode.BROADCAST


async def button(deps: Deps, ctx: Ctx, data: Compose) -> list[Reply]:
    """A step of the draft on screen; a button of a draft no longer on screen is stale."""
    if not await _reach(deps, ctx):
        return [Reply(M.BC_NOT_ALLOWED)]
    d = _draft(ctx)
    if data.action == "ls":
        ctx.conversation.clear()
        return await listing(deps, ctx)
    if d is None:
        if data.action == "go":  # a double tap on "✅ Gửi": its message shows the state again
            return await _sent_again(deps, ctx) or [Reply(M.STALE)]
        return [Reply(M.STALE)]
    action = _ACTIONS.get(data.action)
    replies = [Reply(M.STALE)] if action is None else await action(deps, ctx, d, data)
    if len(replies) == 1 and replies[0].text == M.STALE:  # forged or outdated: the screen again
        replies += await _again(deps, ctx, d)
    return replies


async def on_text(deps: Deps, ctx: Ctx, typed: str, key: str) -> list[Reply]:
    """Typed text while composing: the text (or a follow-up's), or the time to send."""
    d = _draft(ctx)
    if d is None:  # cannot happen: the caller checked the mode
        return [Reply(M.STALE)]
    if key in ("huy", "/huy"):
        return cancel(ctx)
    step = d.get("s")
    if step in ("text", "follow"):
        text = typed.strip()
        if not text:
            return [Reply(M.BC_TEXT_EMPTY), _ask_text(ctx, d, step)]
        if len(text) > MAX_TEXT:
            return [Reply(M.bc_too_long(len(text), MAX_TEXT)), _ask_text(ctx, d, step)]
        d["t"] = text
        if step == "follow":
            return await _preview(deps, ctx, d)
        return [await _options(deps, ctx, d)]
    if step == "time":
        try:
            at = parse_send_time(key, deps.local(ctx.now))
        except SendTimeError as e:
            return [Reply(M.bc_bad_time(typed.strip(), str(e))), _ask_time(ctx, d)]
        d["at"] = at.astimezone(UTC).isoformat()
        return [await _options(deps, ctx, d)]
    # On a screen of buttons: say so, and show it again.
    return [Reply(M.BC_PRESS_A_BUTTON), *(await _again(deps, ctx, d))]


async def on_file(deps: Deps, ctx: Ctx, event: Inbound) -> list[Reply]:
    """A photo or a document sent at the text step, on Telegram: the announcement's
    attachment, re-sent to recipients by its Telegram file id (no bytes kept); its caption,
    if any, is the text, else the text is asked next. Anywhere else, or on another channel
    (a Zalo picture has no Telegram file id), it is refused and the screen shown again."""
    d = _draft(ctx)
    if d is None:
        return [Reply(M.STALE)]
    if event.photo is None and event.document is None:  # a sticker, a voice message
        return [Reply(M.BC_NO_FILES), *(await _again(deps, ctx, d))]
    if event.channel != TELEGRAM:
        return [Reply(M.BC_FILES_NEED_TELEGRAM), *(await _again(deps, ctx, d))]
    if d.get("s") != "text":
        return [Reply(M.BC_FILE_AT_TEXT_STEP), *(await _again(deps, ctx, d))]
    if event.photo is not None:
        d["fa"] = ["photo", "", event.photo]
    elif event.document is not None:
        d["fa"] = ["document", event.document[1], event.document[0]]
    caption = event.caption.strip()
    if caption:  # the text, as if typed after the file
        return await on_text(deps, ctx, caption, fold(caption).strip(" .!"))
    return [Reply(M.bc_file_kept(_file_line(d))), _ask_text(ctx, d)]


def _file(d: Draft) -> Attachment | None:
    """The draft's attachment (sent by its Telegram file id), if any."""
    raw = d.get("fa")
    if not (isinstance(raw, list) and len(raw) == 3 and raw[0] in ("photo", "document")):
        return None
    kind: Literal["photo", "document"] = "photo" if raw[0] == "photo" else "document"
    return Attachment(kind, str(raw[1]), b"", file_id=str(raw[2]))


def _file_line(d: Draft) -> str | None:
    """"📎 Kèm ảnh" / "📎 Kèm tệp NAME" for the screens, None without an attachment."""
    a = _file(d)
    if a is None:
        return None
    return M.BC_WITH_PHOTO if a.kind == "photo" else M.bc_with_document(a.name)


# --- the draft ------------------------------------------------------------------------------


def _draft(ctx: Ctx) -> Draft | None:
    c = ctx.conversation
    return c.broadcast if c.mode is Mode.BROADCAST and c.broadcast is not None else None


def _keep(ctx: Ctx, d: Draft, step: str) -> None:
    """Put the draft on screen at `step` (a new screen: its buttons are remembered after)."""
    d["s"] = step
    ctx.conversation.show(Mode.BROADCAST)
    ctx.conversation.broadcast = d


def _audience(d: Draft) -> Audience:
    try:
        return Audience.model_validate(d.get("a") or {})
    except ValidationError:  # a stored draft from an older shape: start from everyone
        return Audience()


def _set_audience(d: Draft, audience: Audience) -> None:
    d["a"] = audience.model_dump(mode="json", exclude_defaults=True)


def _at(d: Draft) -> datetime | None:
    raw = d.get("at")
    try:
        return datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        return None


async def _reach(deps: Deps, ctx: Ctx) -> list[str]:
    service = _service(deps)
    if service is None:
        return []
    return await service.reach(ctx.person) or []


async def _names(deps: Deps) -> dict[str, str]:
    tree = await deps.units.tree()
    return {code: u.name for code, u in tree.units.items()}


async def _describe(deps: Deps, audience: Audience) -> str:
    """The audience in words, a report by its title and period (the service's own
    description names them by id, for the command line)."""
    missing = audience.missing
    if missing is None:
        return describe(audience, await _names(deps))
    text = describe(audience.model_copy(update={"missing": None}), await _names(deps))
    t = deps.templates.get(missing[0])
    try:
        period = Period.parse(missing[1]).label_vi()
    except PeriodError:
        period = missing[1]
    return f"{text} · {M.bc_missing_part(t.title if t else missing[0], period)}"


async def _again(deps: Deps, ctx: Ctx, d: Draft) -> list[Reply]:
    """The draft's current screen once more."""
    step = d.get("s")
    if step in ("text", "follow"):
        return [_ask_text(ctx, d, step)]
    if step == "time":
        return [_ask_time(ctx, d)]
    if step in ("opts",):
        return [await _options(deps, ctx, d)]
    if step in ("preview", "fpreview"):
        return await _preview(deps, ctx, d)
    return [await _form(deps, ctx, d)]


# --- screens ---------------------------------------------------------------------------------


def _cancel_button() -> Button:
    return Button.of(M.BUTTON_BC_CANCEL, Compose("x"), "huy")


def _back_button() -> Button:
    return Button.of(M.BUTTON_BC_BACK, Compose("bk"), "quay lai")


async def _form(deps: Deps, ctx: Ctx, d: Draft, note: str | None = None) -> Reply:
    """Step 1: who, with the count it reaches now."""
    _keep(ctx, d, "who")
    audience = _audience(d)
    service = _service(deps)
    assert service is not None
    try:
        reach = preview_line(await service.preview(audience, ctx.person))
    except BroadcastRefused as e:
        reach = e.message
    text = M.bc_form(await _describe(deps, audience), reach)
    rows = [[Button.of(M.BUTTON_BC_UNIT, Compose("u")), Button.of(M.BUTTON_BC_LEVEL, Compose("l"))],
            [Button.of(M.BUTTON_BC_ROLE, Compose("r")),
             Button.of(M.BUTTON_BC_MISSING, Compose("m"))],
            [Button.of(M.BUTTON_BC_NEXT, Compose("nx"), "tiep")],
            [Button.of(M.BUTTON_BC_LIST, Compose("ls")), _cancel_button()]]
    return Reply(f"{note}\n\n{text}" if note else text, rows, numbered=True,
                 replace=not ctx.typed)


def _ask_text(ctx: Ctx, d: Draft, step: str = "text") -> Reply:
    _keep(ctx, d, step)
    if step == "follow":
        rows = [[Button.of(M.BUTTON_BC_RESEND_SAME, Compose("rs"), "gui lai")],
                [_cancel_button()]]
        return Reply(M.bc_ask_follow_up(int(d.get("f") or 0), int(d.get("n") or 0)), rows)
    return Reply(M.BC_ASK_TEXT, [[_back_button(), _cancel_button()]])


def _ask_time(ctx: Ctx, d: Draft) -> Reply:
    _keep(ctx, d, "time")
    return Reply(M.BC_ASK_TIME, [[_back_button(), _cancel_button()]])


async def _options(deps: Deps, ctx: Ctx, d: Draft) -> Reply:
    """Step 3: confirmation, urgency, when; then the preview."""
    _keep(ctx, d, "opts")
    ack, urgent, at = bool(d.get("k")), bool(d.get("u")), _at(d)
    local = deps.local(at) if at is not None else None
    text = M.bc_options(await _describe(deps, _audience(d)), str(d.get("t", "")), ack,
                        urgent, local)
    if (attached := _file_line(d)) is not None:
        text = f"{text}\n{attached}"
    rows = [[Button.of(M.bc_toggle(M.BC_ACK_LABEL, ack), Compose("ak"))],
            [Button.of(M.bc_toggle(M.BC_URGENT_LABEL, urgent), Compose("ug"))],
            [Button.of(M.BUTTON_BC_NOW + (" ✔" if at is None else ""), Compose("now")),
             Button.of(M.BUTTON_BC_LATER, Compose("lt"), "hen gio")],
            [Button.of(M.BUTTON_BC_PREVIEW, Compose("pv"), "xem truoc")],
            [Button.of(M.BUTTON_BC_RECIPIENTS, Compose("bk")),
             Button.of(M.BUTTON_BC_EDIT_TEXT, Compose("tx"))],
            [_cancel_button()]]
    return Reply(text, rows, numbered=True, replace=not ctx.typed)


async def _preview(deps: Deps, ctx: Ctx, d: Draft) -> list[Reply]:
    """The counts and the text as it will read; "✅ Gửi" only here."""
    follow = d.get("f")
    service = _service(deps)
    assert service is not None
    audience = Audience(follows=int(follow)) if follow else _audience(d)
    try:
        p = await service.preview(audience, ctx.person)
    except BroadcastRefused as e:
        return [Reply(e.message), *(await _form(deps, ctx, d),)] if not follow else [
            Reply(e.message)]
    _keep(ctx, d, "fpreview" if follow else "preview")
    at = _at(d)
    local = deps.local(at) if at is not None else None
    urgent = bool(d.get("u"))
    quiet = deps.reminder_settings
    when = local or deps.local(ctx.now)
    in_quiet = not urgent and in_quiet_hours(when.time(), Policy(quiet_start=quiet.quiet_start,
                                                                 quiet_end=quiet.quiet_end))
    # the text as recipients will read it, under the heading the service gives it
    sender = await service.sender_name(ctx.person)
    heading = (M.broadcast_follow_up_heading(sender) if follow else M.broadcast_heading(sender))
    text = M.bc_preview(p.people, p.units, p.unreachable,
                        await _describe(deps, audience), local,
                        bool(d.get("k")) or bool(follow), urgent,
                        f"{heading}\n\n{d.get('t', '')}", in_quiet)
    if (attached := _file_line(d)) is not None:
        text = f"{attached}\n{text}"
    short = await service.zalo_shortfall(p, str(d.get("t", "")), bool(d.get("k")) or
                                         bool(follow))
    if short is not None:
        text += "\n" + M.bc_zalo_quota(*short, service.zalo_quota)
    edit = Compose("tx") if follow else Compose("ed")
    rows = [[Button.of(M.BUTTON_BC_EDIT, edit, "sua"), _cancel_button()]]
    if p.people:
        rows.insert(0, [Button.of(M.BUTTON_BC_SEND, Compose("go"), "gui")])
    else:
        text = f"{M.BC_NOBODY}\n\n{text}"
    # An edit cannot be split: a preview longer than one message goes as new messages, whole
    # (edited in place, it was cut at Telegram's 4,096 without its end and its warning).
    return [Reply(text, rows, numbered=True, replace=not ctx.typed and len(text) <= MARK_FITS)]


# --- the steps ---------------------------------------------------------------------------------

Action = Callable[[Deps, Ctx, Draft, Compose], Awaitable[list[Reply]]]


async def _pick_unit_screen(deps: Deps, ctx: Ctx, d: Draft, data: Compose) -> list[Reply]:
    """A unit of the reach, browsed down the tree: "✔ name" chooses, "📂" opens its units."""
    reach = await _reach(deps, ctx)
    tree = (await deps.units.tree()).units
    node = data.value if data.value in tree else None
    if node is not None and not ancestors_of(node, tree) & set(reach):
        return [Reply(M.STALE)]
    if node is None and len(reach) == 1:
        node = reach[0]
    children = _children(tree, node) if node is not None else [tree[c] for c in reach
                                                               if c in tree]
    pages = max(1, -(-len(children) // UNITS_PAGE))
    page = min(data.page, pages - 1)
    _keep(ctx, d, "unit")
    rows: list[list[Button]] = []
    if node is not None:
        rows.append([Button.of(M.bc_choose_unit(tree[node].name), Compose("pu", node))])
    for child in children[page * UNITS_PAGE:(page + 1) * UNITS_PAGE]:
        row = [Button.of("✔ " + child.name, Compose("pu", child.code))]
        if _children(tree, child.code):
            row.append(Button.of(M.BUTTON_BC_OPEN_UNIT, Compose("u", child.code)))
        rows.append(row)
    paging = []
    if page > 0:
        paging.append(Button.of(M.DIGEST_PAGE_BACK, Compose("u", node or "-", page - 1),
                                "truoc"))
    if page + 1 < pages:
        paging.append(Button.of(M.DIGEST_PAGE_NEXT, Compose("u", node or "-", page + 1), "sau"))
    if paging:
        rows.append(paging)
    up = tree[node].parent_code if node is not None else None
    if node is not None and up is not None and ancestors_of(up, tree) & set(reach):
        rows.append([Button.of("⬆ " + tree[up].name, Compose("u", up))])
    rows.append([_back_button()])
    title = tree[node].name if node is not None else M.BROADCAST_WHOLE_REACH
    return [Reply(M.bc_pick_unit(title, page + 1, pages), rows, numbered=True,
                  replace=not ctx.typed)]


def _children(tree: dict[str, Unit], code: str) -> list[Unit]:
    return sorted((u for u in tree.values() if u.parent_code == code and not u.retired),
                  key=lambda u: (u.name, u.code))


async def _choose_unit(deps: Deps, ctx: Ctx, d: Draft, data: Compose) -> list[Reply]:
    tree = (await deps.units.tree()).units
    if data.value not in tree or not ancestors_of(data.value, tree) & set(
            await _reach(deps, ctx)):
        return [Reply(M.STALE)]
    _set_audience(d, _audience(d).model_copy(update={"units": (data.value,)}))
    return [await _form(deps, ctx, d)]


async def _pick_level_screen(deps: Deps, ctx: Ctx, d: Draft, data: Compose) -> list[Reply]:
    tree = (await deps.units.tree()).units
    codes: set[str] = set()
    for root in await _reach(deps, ctx):
        codes |= subtree_codes(root, tree.values())
    present = {tree[c].level for c in codes if c in tree and not tree[c].retired}
    _keep(ctx, d, "level")
    rows = [[Button.of(M.bc_level_button(LEVEL_VI[level]), Compose("pl", level.value))]
            for level in Level if level in present]
    rows.append([Button.of(M.BUTTON_BC_ALL_LEVELS, Compose("pl", "-"))])
    rows.append([_back_button()])
    return [Reply(M.BC_PICK_LEVEL, rows, numbered=True, replace=not ctx.typed)]


async def _choose_level(deps: Deps, ctx: Ctx, d: Draft, data: Compose) -> list[Reply]:
    try:
        levels = () if data.value == "-" else (Level(data.value),)
    except ValueError:
        return [Reply(M.STALE)]
    _set_audience(d, _audience(d).model_copy(update={"levels": levels}))
    return [await _form(deps, ctx, d)]


async def _pick_role_screen(deps: Deps, ctx: Ctx, d: Draft, data: Compose) -> list[Reply]:
    _keep(ctx, d, "role")
    rows = [[Button.of(label, Compose("pr", role.value))]
            for role, label in M.BC_ROLE_BUTTON.items()]
    rows.append([Button.of(M.BUTTON_BC_ALL_ROLES, Compose("pr", "-"))])
    rows.append([_back_button()])
    return [Reply(M.BC_PICK_ROLE, rows, numbered=True, replace=not ctx.typed)]


async def _choose_role(deps: Deps, ctx: Ctx, d: Draft, data: Compose) -> list[Reply]:
    try:
        roles = () if data.value == "-" else (Role(data.value),)
    except ValueError:
        return [Reply(M.STALE)]
    _set_audience(d, _audience(d).model_copy(update={"roles": roles}))
    return [await _form(deps, ctx, d)]


async def _pick_report_screen(deps: Deps, ctx: Ctx, d: Draft, data: Compose) -> list[Reply]:
    """The reports of the reach, each with the period being chased (as /tonghop picks it);
    "Chọn kỳ khác" lists the latest periods."""
    tree = await deps.units.tree()
    codes: set[str] = set()
    for root in await _reach(deps, ctx):
        codes |= subtree_codes(root, tree.units.values())
    rows: list[list[Button]] = []
    for t in sorted(deps.templates.values(), key=lambda t: t.id):
        if not codes & tree.applicable.get(t.id, frozenset()):
            continue
        for schedule in t.every_schedule:
            chased = _chased(schedule_windows(t, schedule, ctx.now, deps.zone, deps.lock_days,
                                              include_locked=1), ctx.now)
            if chased is not None:
                value = f"{t.id}:{chased.period.id}"
                rows.append([Button.of(M.bc_missing_button(t.title, chased.period.label_vi()),
                                       Compose("pm", value))])
        rows.append([Button.of(f"{M.BUTTON_BC_OTHER_PERIOD} ({t.title})", Compose("mp", t.id))])
    if not rows:
        return [Reply(M.BC_NO_TEMPLATE), await _form(deps, ctx, d)]
    _keep(ctx, d, "tpl")
    if _audience(d).missing is not None:
        rows.append([Button.of(M.BUTTON_BC_NO_MISSING, Compose("pm", "-"))])
    rows.append([_back_button()])
    return [Reply(M.BC_PICK_TEMPLATE, rows, numbered=True, replace=not ctx.typed)]


async def _pick_period_screen(deps: Deps, ctx: Ctx, d: Draft, data: Compose) -> list[Reply]:
    t = deps.templates.get(data.value)
    if t is None:
        return [Reply(M.STALE)]
    periods = started_periods(t, deps.today(ctx.now), PERIODS_SHOWN)
    if not periods:
        return [Reply(M.BC_TEMPLATE_NO_PERIOD), await _form(deps, ctx, d)]
    _keep(ctx, d, "period")
    rows = [[Button.of(p.label_vi(), Compose("pm", f"{t.id}:{p.id}"))] for p in periods]
    rows.append([_back_button()])
    return [Reply(M.bc_pick_period(t.title), rows, numbered=True, replace=not ctx.typed)]


async def _choose_report(deps: Deps, ctx: Ctx, d: Draft, data: Compose) -> list[Reply]:
    missing: tuple[str, str] | None = None
    if data.value != "-":
        template, _, period = data.value.partition(":")
        t = deps.templates.get(template)
        try:
            ok = t is not None and t.asks_for(Period.parse(period))
        except PeriodError:
            ok = False
        if not ok:
            return [Reply(M.STALE)]
        missing = (template, period)
    _set_audience(d, _audience(d).model_copy(update={"missing": missing}))
    return [await _form(deps, ctx, d)]


async def _next(deps: Deps, ctx: Ctx, d: Draft, data: Compose) -> list[Reply]:
    if d.get("t"):
        return [await _options(deps, ctx, d)]
    return [_ask_text(ctx, d)]


async def _back(deps: Deps, ctx: Ctx, d: Draft, data: Compose) -> list[Reply]:
    """From a picker: the form; from the text: the form; from the time: the options."""
    if d.get("s") == "time":
        return [await _options(deps, ctx, d)]
    return [await _form(deps, ctx, d)]


async def _edit_text(deps: Deps, ctx: Ctx, d: Draft, data: Compose) -> list[Reply]:
    return [_ask_text(ctx, d, "follow" if d.get("f") else "text")]


async def _to_options(deps: Deps, ctx: Ctx, d: Draft, data: Compose) -> list[Reply]:
    if not d.get("t"):
        return [_ask_text(ctx, d)]
    return [await _options(deps, ctx, d)]


async def _toggle(deps: Deps, ctx: Ctx, d: Draft, data: Compose) -> list[Reply]:
    if d.get("s") != "opts":
        return [Reply(M.STALE), *(await _again(deps, ctx, d))]
    key = "k" if data.action == "ak" else "u"
    d[key] = not d.get(key)
    return [await _options(deps, ctx, d)]


async def _now(deps: Deps, ctx: Ctx, d: Draft, data: Compose) -> list[Reply]:
    d.pop("at", None)
    return [await _options(deps, ctx, d)]


async def _later(deps: Deps, ctx: Ctx, d: Draft, data: Compose) -> list[Reply]:
    return [_ask_time(ctx, d)]


async def _show_preview(deps: Deps, ctx: Ctx, d: Draft, data: Compose) -> list[Reply]:
    if not d.get("t"):
        return [_ask_text(ctx, d)]
    return await _preview(deps, ctx, d)


async def _resend_same(deps: Deps, ctx: Ctx, d: Draft, data: Compose) -> list[Reply]:
    service = _service(deps)
    assert service is not None
    row = await service.get(int(d.get("f") or 0))
    if row is None or d.get("s") != "follow":
        return [Reply(M.STALE)]
    d["t"] = row.text
    return await _preview(deps, ctx, d)


async def _send(deps: Deps, ctx: Ctx, d: Draft, data: Compose) -> list[Reply]:
    """"✅ Gửi" on the preview: created (and started when due), the draft gone; the preview
    becomes the progress message."""
    if d.get("s") not in ("preview", "fpreview"):
        return [Reply(M.STALE), *(await _again(deps, ctx, d))]
    service = _service(deps)
    assert service is not None
    at = _at(d)
    progress = _progress_target(ctx)
    try:
        if d.get("f"):
            bid = await service.follow_up(int(d["f"]), str(d.get("t", "")), ctx.person,
                                          progress=progress)
        else:
            bid = await service.create(
                BroadcastDraft(_audience(d), str(d.get("t", "")), ack=bool(d.get("k")),
                               urgent=bool(d.get("u")), send_at=at, attachment=_file(d)),
                ctx.person,
                progress=progress)
    except BroadcastRefused as e:
        again = await _again(deps, ctx, {**d, "s": "opts"}) if not d.get("f") else []
        return [Reply(e.message), *again]
    ctx.conversation.clear()
    return [await _sent(deps, ctx, bid)]


async def _sent(deps: Deps, ctx: Ctx, bid: int) -> Reply:
    """What the pressed "✅ Gửi" message becomes: the announcement's state."""
    service = _service(deps)
    assert service is not None
    status = await service.status(bid)
    if status.state == "scheduled":
        text = M.bc_scheduled(bid, deps.local(status.send_at))
    else:
        text = M.bc_progress(bid, status.delivered, status.recipients, status.unreachable,
                             status.failed)
    return Reply(text, [[Button.of(M.BUTTON_BC_OPEN_STATUS, BroadcastAction("open", bid))]],
                 replace=not ctx.typed)


async def _sent_again(deps: Deps, ctx: Ctx) -> list[Reply]:
    """"✅ Gửi" pressed again on the message that sent an announcement (both taps carry the
    preview, the first one's edit not yet on the phone): that message shows the
    announcement's state again, instead of the old preview marked as pressed."""
    service = _service(deps)
    target = _progress_target(ctx)
    if service is None or target is None or not target[2]:
        return []
    for status in await service.list(ctx.person, 3):
        row = await service.get(status.id)
        if row is not None and row.progress == target:
            return [await _sent(deps, ctx, row.id)]
    return []


def _progress_target(ctx: Ctx) -> tuple[str, str, int] | None:
    """Where progress is shown: the pressed message (0 where there is none to edit)."""
    if ctx.origin is None:
        return None
    channel, chat, message = ctx.origin
    return channel, chat, int(message) if message and message.isdigit() else 0


async def _cancel(deps: Deps, ctx: Ctx, d: Draft, data: Compose) -> list[Reply]:
    return cancel(ctx)


async def _edit(deps: Deps, ctx: Ctx, d: Draft, data: Compose) -> list[Reply]:
    return [await _options(deps, ctx, d)]


_ACTIONS: dict[str, Action] = {
    "u": _pick_unit_screen, "pu": _choose_unit, "l": _pick_level_screen, "pl": _choose_level,
    "r": _pick_role_screen, "pr": _choose_role, "m": _pick_report_screen,
    "mp": _pick_period_screen, "pm": _choose_report, "nx": _next, "bk": _back,
    "tx": _edit_text, "op": _to_options, "ak": _toggle, "ug": _toggle, "now": _now,
    "lt": _later, "pv": _show_preview, "rs": _resend_same, "go": _send, "x": _cancel,
    "ed": _edit,
}


# --- the sender's announcements ------------------------------------------------------------


async def listing(deps: Deps, ctx: Ctx) -> list[Reply]:
    service = _service(deps)
    assert service is not None
    found = await service.list(ctx.person, LIST_LIMIT)
    if not found:
        return [Reply(M.BC_LIST_EMPTY)]
    rows = [[Button.of(M.bc_list_button(s.id, s.state, s.delivered, s.recipients, s.text),
                       BroadcastAction("open", s.id))] for s in found]
    return [Reply(M.bc_list_heading(len(found)), rows, numbered=True)]


async def action(deps: Deps, ctx: Ctx, data: BroadcastAction) -> list[Reply]:
    """A button of the sender's list or of an announcement's status."""
    if not await _reach(deps, ctx):
        return [Reply(M.BC_NOT_ALLOWED)]
    if composing(ctx):  # a list's button while composing: the draft is left
        ctx.conversation.clear()
    if data.action == "list":
        return await listing(deps, ctx)
    service = _service(deps)
    assert service is not None
    row = await service.get(data.broadcast)
    if row is None or row.created_by != ctx.person.id:
        return [Reply(M.BC_NOT_YOURS)]
    status = await service.status(row.id)
    if data.action == "open":
        return [await _status(deps, status, row.audience)]
    if data.action == "who":
        return await _unconfirmed(deps, status, data.page)
    if data.action == "cancel":
        try:
            done = await service.cancel(row.id, ctx.person)
        except BroadcastRefused as e:
            return [Reply(e.message)]
        if not done:
            return [Reply(M.BC_CANNOT_CANCEL), await _status(deps, status, row.audience)]
        return [Reply(M.bc_cancelled_scheduled(row.id))]
    if data.action == "again":
        waiting = await service.unconfirmed(row.id) if status.ack else []
        if not waiting:
            return [Reply(M.bc_unconfirmed(row.id, [], 0, 1, 1))]
        d: Draft = {"f": row.id, "n": len(waiting)}
        return [_ask_text(ctx, d, "follow")]
    return [Reply(M.STALE)]


async def _status(deps: Deps, s: BroadcastStatus, audience_json: str) -> Reply:
    try:
        audience = Audience.from_json(audience_json)
    except ValidationError:
        audience = Audience()
    text = M.bc_status(s.id, s.state, deps.local(s.send_at), await _describe(deps, audience),
                       s.text, s.recipients, s.delivered, s.unreachable,
                       s.failed, s.pending, s.ack, s.acknowledged)
    rows: list[list[Button]] = []
    if s.ack and s.state in ("sending", "done"):
        rows.append([Button.of(M.BUTTON_BC_WHO, BroadcastAction("who", s.id))])
        if s.acknowledged < s.recipients:
            rows.append([Button.of(M.BUTTON_BC_AGAIN, BroadcastAction("again", s.id))])
    if s.state == "scheduled":
        rows.append([Button.of(M.BUTTON_BC_CANCEL_SCHEDULED, BroadcastAction("cancel", s.id))])
    rows.append([Button.of(M.BUTTON_BC_TO_LIST, BroadcastAction("list"))])
    return Reply(text, rows, numbered=True)


async def _unconfirmed(deps: Deps, s: BroadcastStatus, page: int) -> list[Reply]:
    service = _service(deps)
    assert service is not None
    people = await service.unconfirmed(s.id)
    names = await _names(deps)
    pages = max(1, -(-len(people) // WHO_PAGE))
    page = min(page, pages - 1)
    shown = [f"{p.display_name or p.external_id} — {names.get(unit, unit)}"
             for p, unit in people[page * WHO_PAGE:(page + 1) * WHO_PAGE]]
    rows: list[list[Button]] = []
    paging = []
    if page > 0:
        paging.append(Button.of(M.DIGEST_PAGE_BACK, BroadcastAction("who", s.id, page - 1),
                                "truoc"))
    if page + 1 < pages:
        paging.append(Button.of(M.DIGEST_PAGE_NEXT, BroadcastAction("who", s.id, page + 1),
                                "sau"))
    if paging:
        rows.append(paging)
    if people:
        rows.append([Button.of(M.BUTTON_BC_AGAIN, BroadcastAction("again", s.id))])
    rows.append([Button.of(M.BUTTON_BC_OPEN_STATUS, BroadcastAction("open", s.id))])
    return [Reply(M.bc_unconfirmed(s.id, shown, len(people), page + 1, pages), rows,
                  numbered=True)]


# --- confirmations ---------------------------------------------------------------------------


async def acknowledge(deps: Deps, ctx: Ctx, data: AckBroadcast) -> list[Reply]:
    """"✅ Đã nhận" pressed: recorded once; an old, cancelled or someone else's announcement
    changes nothing and says so. A question on screen is asked again below."""
    service = _service(deps)
    ok = service is not None and await service.acknowledge(data.broadcast_id, ctx.person.id)
    again = await screens.ask_again(deps, ctx, note=None)
    marked = f"{ctx.pressed_text}\n\n{M.bc_acked_mark(deps.local(ctx.now))}"
    if ok and ctx.pressed_text and len(marked) <= MARK_FITS:
        # the announcement itself says it was confirmed, and when
        return [Reply(marked, replace=True), *again]
    if ok:
        text = M.bc_acked(deps.local(ctx.now))
    elif service is not None and ctx.person.id in await service.store.acked(data.broadcast_id):
        text = M.BC_ACK_ALREADY  # a double tap: not "not sent to you"
    else:
        text = M.BC_ACK_STALE
    return [Reply(text), *again]


async def typed_ack(deps: Deps, ctx: Ctx, key: str, typed: str = "") -> list[Reply] | None:
    """"đã nhận" typed (Zalo has no buttons): confirms the newest announcement awaiting the
    person's confirmation. Never taken from someone composing an announcement, nor from an
    officer on a question it answers (a text, a choice labelled "Đã nhận": there it is that
    question's answer); on any other question it cannot be an answer, so it confirms and the
    question is asked again. None: not a confirmation (the caller goes on as usual)."""
    if key not in ACK_WORDS or composing(ctx):
        return None
    service = _service(deps)
    if service is None:
        return None
    if ctx.conversation.mode is Mode.QUESTION:
        found = await on_screen(deps, ctx)
        question = ctx.conversation.question
        if found is not None and question in found.template.question_ids and \
                isinstance(parse_answer(found.template.question(question), typed or key),
                           Accepted):
            return None  # a text, or an option labelled "Đã nhận": the question's answer
    waiting = await service.awaiting_ack(ctx.person.id)
    if waiting is not None and await service.acknowledge(waiting, ctx.person.id):
        text = M.bc_acked(deps.local(ctx.now))
    elif waiting is None and await service.store.ever_acked(ctx.person.id):
        text = M.BC_ACK_ALREADY  # typed twice (Zalo): not the idle help
    else:
        return None
    return [Reply(text), *(await screens.ask_again(deps, ctx, note=None))]


# --- progress ------------------------------------------------------------------------------------


class BroadcastProgress:
    """The sender's per-second hook for the chat side: `tick(now)` starts what is due and
    closes what is done (the service's `tick`), edits the progress messages of announcements
    being sent (at most every PROGRESS_EVERY seconds, only when the figures changed), and
    sends each finished one's final report to its creator, once: which are reported is kept
    in the database (`broadcasts.reported_at`), not in memory, so a restart or the service's
    `tick` called elsewhere first changes nothing."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._shown: dict[int, tuple[datetime, str]] = {}
        self._edits: dict[tuple[str, str, int], Parcel] = {}  # the last edit of each message

    async def tick(self, now: datetime) -> None:
        service = self.app.broadcasts
        for status in await service.tick(now):
            self._shown.pop(status.id, None)
        sending = await self._sending()
        # Every announcement done and not yet reported, read from the database (marked in the
        # report's own transaction): a crash between its close and its report, or the service's
        # tick called elsewhere first, still gets its report, once.
        channels = [c.channel for c in self.app.channels.couriers()]
        for bid in await service.store.unreported(channels):
            self._shown.pop(bid, None)
            try:
                await self._final(await service.status(bid))
            except Exception:  # one report that cannot be written must not stop the pump
                log.exception("final report of broadcast %s failed", bid)
        for bid, target in sending:
            last = self._shown.get(bid)
            if last is not None and (now - last[0]).total_seconds() < PROGRESS_EVERY:
                continue
            s = await service.status(bid)
            text = M.bc_progress(bid, s.delivered, s.recipients, s.unreachable, s.failed)
            if last is not None and last[1] == text:
                continue
            if self._edit(target, text):
                self._shown[bid] = (now, text)

    async def _sending(self) -> list[tuple[int, tuple[str, str, int]]]:
        """Announcements being sent that were created in chat (their creator's message)."""
        rows = await self.app.storage.db.fetchall(
            "SELECT id, progress_channel, progress_chat, progress_message FROM broadcasts"
            " WHERE state='sending' AND progress_channel IS NOT NULL")
        return [(int(r[0]), (str(r[1]), str(r[2]), int(r[3] or 0))) for r in rows]

    def _edit(self, target: tuple[str, str, int], text: str, *, always: bool = False) -> bool:
        """Edit the progress message (not stored: a lost edit is overtaken by the next, and
        the final report is stored); channels without edits are left alone. An earlier edit
        still waiting in the creator's chat (a 429 holding it) takes the new text instead of
        a new edit queued behind it: edits would pile up there, each holding the creator's
        own replies a second more. True if the text will be shown."""
        channel, chat, message = target
        courier = self.app.channels.courier(channel)
        if courier is None or not courier.buttons or not message:
            return False
        event = Inbound(channel, chat, pressed=Pressed(str(message), "", None))
        payloads = courier.render(event, chat, [Reply(text, replace=True)])
        waiting = self._edits.get(target)
        if not always and waiting is not None and len(payloads) == 1 and \
                waiting.done is not None and not waiting.done.done():
            waiting.payload = payloads[0]  # read when its turn comes (after the limiter)
            return True
        parcels = [Parcel(Outgoing(channel, chat, json.dumps(p, ensure_ascii=False), None,
                                  None, REMINDER), p) for p in payloads]
        if parcels:
            parcels[-1].done = asyncio.get_running_loop().create_future()
            self._edits[target] = parcels[-1]
        courier.enqueue(parcels)
        return True

    async def _final(self, s: BroadcastStatus) -> None:
        """The final figures: the progress message edited, and a new message that notifies
        the creator, written to the outbox with the mark that it was (one transaction: a
        crash delays the report, never loses it, never doubles it)."""
        now = self.app.broadcasts.clock()
        row = await self.app.broadcasts.get(s.id)
        if row is None or row.progress is None:  # nowhere to report: never asked again
            await self.app.broadcasts.store.report(s.id, [], now)
            return
        channel, chat, _ = row.progress
        courier = self.app.channels.courier(channel)
        if courier is None:  # another process runs that channel: its own pump reports
            return
        text = M.bc_final(s.id, s.delivered, s.recipients, s.unreachable, s.failed, s.ack,
                          s.acknowledged)
        reply = Reply(text, [[Button.of(M.BUTTON_BC_OPEN_STATUS, BroadcastAction("open", s.id))]])
        payloads = courier.render(None, chat, [reply])
        outbox = [Outgoing(channel, chat, json.dumps(p, ensure_ascii=False), s.created_by, None,
                           REMINDER) for p in payloads]
        ids = await self.app.broadcasts.store.report(s.id, outbox, now)
        if ids is None:  # reported already
            return
        self._edit(row.progress, text, always=True)
        self._edits.pop(row.progress, None)
        courier.enqueue([Parcel(m, p, row_id) for m, p, row_id
                         in zip(outbox, payloads, ids, strict=True)])
