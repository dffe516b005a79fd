"""The reporting dialogue service: one inbound chat event in, the replies to show out.

It reads what it needs from storage, lets the pure domain decide, and writes every change of
one event (answer, conversation state, de-duplication mark) in a single transaction.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain import vnformat
from bot.domain.answers import Accepted, Rejected, accept_photo, format_answer, parse_answer
from bot.domain.dialogue import (
    BACK_WORDS,
    DONE_WORDS,
    KEEP_WORDS,
    SKIP_WORDS,
    Button,
    Reply,
    edit_picker,
    effective_answers,
    first_unanswered,
    missing_required,
    progress,
    question_after,
    question_before,
    question_reply,
    rule_violations,
    summary_text,
    visible_questions,
)
from bot.domain.periods import Period, PeriodError
from bot.domain.reports import (
    STATUS_ICON,
    STATUS_VI,
    Status,
    Window,
    lateness_words,
    open_windows,
    status_of,
    window,
)
from bot.domain.templates import QuestionType, Template
from bot.domain.text import fold
from bot.domain.units import Unit, ancestors_of, applies, subtree_codes
from bot.services.commands import BY_NAME, allowed, help_text
from storage.models import (
    ROLE_VI,
    Changes,
    DeleteDraft,
    Draft,
    DropAnswers,
    Membership,
    Person,
    Role,
    SaveAnswer,
    StartDraft,
    Submission,
    Submit,
)
from storage.sqlite import DraftChanged, SqliteStorage

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]

JOIN_HELP = ("Xin chào! Đây là trợ lý báo cáo định kỳ baocao.\n"
             "Bạn chưa tham gia đơn vị nào. Hãy xin cán bộ quản trị một mã mời, rồi gõ:\n"
             "/start MÃ_MỜI   (ví dụ: /start AB12CD34)")
STALE = "Nút này đã cũ, không còn dùng được."


@dataclass(frozen=True)
class Inbound:
    """One thing a chat user did, channel-neutral."""

    channel: str
    user_id: str
    display_name: str = ""
    text: str = ""
    command: str | None = None  # without the slash: "baocao"
    argument: str = ""
    button: str | None = None  # the pressed button's data
    photo: str | None = None  # file id
    event_id: str | None = None  # for de-duplication (Telegram's update_id)


@dataclass
class _Ctx:
    person: Person
    memberships: list[Membership]
    state: dict[str, Any]
    changes: Changes
    now: datetime

    @property
    def roles(self) -> set[Role]:
        return {m.role for m in self.memberships}

    @property
    def officer_units(self) -> list[Unit]:
        units = {m.unit.code: m.unit for m in self.memberships if m.role is Role.OFFICER}
        return [units[c] for c in sorted(units)]


@dataclass(frozen=True)
class _Report:
    """A resolved report key: unit, template (current version) and window."""

    ui: int
    unit: Unit
    template: Template
    window: Window

    @property
    def key(self) -> str:
        return f"{self.ui}|{self.template.id}|{self.window.period.id}"

    @property
    def ref(self) -> list[str]:
        return [self.unit.code, self.template.id, self.window.period.id]


@dataclass
class _Caches:
    units: dict[str, Unit] = field(default_factory=dict)
    units_loaded: float = 0.0
    templates: dict[tuple[str, int], Template] = field(default_factory=dict)
    memberships: dict[int, list[Membership]] = field(default_factory=dict)
    # This process is the only writer of people and conversations, so these stay true.
    people: dict[tuple[str, str], Person] = field(default_factory=dict)
    states: dict[int, dict[str, Any]] = field(default_factory=dict)
    drafts: dict[tuple[str, str, str], Draft | None] = field(default_factory=dict)
    applies: dict[tuple[str, str], bool] = field(default_factory=dict)
    windows: dict[tuple[str, str], Window] = field(default_factory=dict)
    draft_keys: dict[int, tuple[str, str, str]] = field(default_factory=dict)
    # Commits counted, and the drafts (by id and by report) touched by the latest commit that
    # touched them, while draft reads are in flight: a read that a commit to its own draft
    # overtook may be stale and is not cached. Only that draft, and only commits since the
    # read began: under load some commit always lands during a read, and some read is always
    # in flight, so anything coarser meant a database read per answer.
    commits: int = 0
    reads: int = 0
    touched_ids: dict[int, int] = field(default_factory=dict)
    touched_keys: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def after_commit(self, changes: Changes) -> None:
        """Keep cached drafts true: apply saved answers, forget drafts that changed shape."""
        self.commits += 1
        if self.reads:
            for op in changes.ops:
                if isinstance(op, StartDraft | Submit):
                    self.touched_keys[(op.unit_code, op.template_id, op.period)] = self.commits
                if isinstance(op, SaveAnswer | DropAnswers | DeleteDraft | Submit):
                    self.touched_ids[op.draft_id] = self.commits
        for op in changes.ops:
            if isinstance(op, SaveAnswer):
                key = self.draft_keys.get(op.draft_id)
                draft = self.drafts.get(key) if key else None
                if key and draft is not None:
                    self.drafts[key] = replace(draft, answers={**draft.answers,
                                                               op.question_id: op.value})
            elif isinstance(op, StartDraft | Submit):
                self.drafts.pop((op.unit_code, op.template_id, op.period), None)
                if isinstance(op, Submit):
                    self.draft_keys.pop(op.draft_id, None)
            elif isinstance(op, DeleteDraft | DropAnswers):
                key = self.draft_keys.pop(op.draft_id, None)
                if key:
                    self.drafts.pop(key, None)


class ReportingService:
    """Turns inbound chat events into replies; safe to share between channels."""

    UNITS_TTL = 60.0  # seconds: units change by CLI import, rarely

    def __init__(self, storage: SqliteStorage, templates: dict[str, Template],
                 versions: dict[str, int], *, zone: ZoneInfo, lock_days: int,
                 clock: Clock, bot_username: str | None = None) -> None:
        self.storage = storage
        self.templates = templates
        self.versions = versions
        self.zone = zone
        self.lock_days = lock_days
        self.clock = clock
        self.bot_username = bot_username
        self._cache = _Caches()
        for t in templates.values():
            self._cache.templates[(t.id, versions[t.id])] = t

    # --- entry point ---------------------------------------------------------------------------

    async def warm(self) -> int:
        """Load every chat user's record, memberships and conversation in three queries, so the
        first message after a start costs no database round trips; return how many people.

        After a restart (or a reminder) hundreds of officers write within seconds; without this
        each first message waits for three reads (bench/dialogue_throughput.py)."""
        people = await self.storage.all_people()
        memberships = await self.storage.all_memberships()
        states = await self.storage.all_conversations()
        for person in people:
            self._cache.people.setdefault((person.channel, person.external_id), person)
            self._cache.memberships.setdefault(person.id, memberships.get(person.id, []))
            self._cache.states.setdefault(person.id, states.get(person.id, {}))
        return len(people)

    async def handle(self, event: Inbound) -> list[Reply]:
        """Handle one event; a repeated `event_id` gets no replies and changes nothing."""
        now = self.clock()
        if event.command == "start" and event.argument.strip():
            return await self._join(event, event.argument, now)
        person = await self._person(event.channel, event.user_id)
        if person is None:
            if event.text and _looks_like_code(event.text):
                return await self._join(event, event.text, now)
            return [Reply(JOIN_HELP)]
        if await self.storage.is_unreachable(person.id):  # they blocked the bot, now write
            await self.storage.set_reachable(person.id, True)
        memberships = await self._memberships(person.id)
        state = await self._state(person.id)
        before = dict(state)
        ctx = _Ctx(person, memberships, state, Changes(actor=person.id), now)
        if event.event_id is not None:
            ctx.changes.event = (event.channel, event.event_id)
        replies = await self._dispatch(ctx, event)
        _remember_buttons(ctx.state, replies)
        if ctx.state != before:
            ctx.changes.conversation = (person.id, ctx.state)
        try:
            applied = await self.storage.apply(ctx.changes)
        except (DraftChanged, sqlite3.IntegrityError) as e:
            # Another officer of the unit sent, cancelled or changed this draft meanwhile.
            log.info("conflicting change for person %s: %s", person.id, e)
            self._cache.drafts.clear()
            self._cache.states.pop(person.id, None)
            return [Reply("Báo cáo này vừa được cán bộ khác của đơn vị cập nhật (gửi, hủy "
                          "hoặc trả lời thêm). Gõ /baocao để xem lại rồi làm tiếp.")]
        if not applied:
            log.info("duplicate event %s ignored", ctx.changes.event)
            return []
        self._cache.states[person.id] = dict(ctx.state)
        self._cache.after_commit(ctx.changes)
        return replies

    async def _dispatch(self, ctx: _Ctx, event: Inbound) -> list[Reply]:
        if event.command is not None:
            return await self._command(ctx, event.command)
        if event.button is not None:
            return await self._button(ctx, event.button)
        if event.photo is not None:
            return await self._photo(ctx, event.photo)
        return await self._text(ctx, event.text)

    # --- joining -------------------------------------------------------------------------------

    async def _join(self, event: Inbound, code_text: str, now: datetime) -> list[Reply]:
        code = code_text.strip().upper()
        result = await self.storage.redeem_invite(code, event.channel, event.user_id,
                                                  event.display_name or "", now)
        if isinstance(result, str):
            person = await self.storage.find_person(event.channel, event.user_id)
            message = {
                "unknown": f"Mã mời “{code_text.strip()}” không đúng. Vui lòng kiểm tra lại "
                           "(chữ và số, không có dấu cách) hoặc xin mã mới từ cán bộ quản trị.",
                "expired": "Mã mời này đã hết hạn. Vui lòng xin mã mới từ cán bộ quản trị.",
                "used_up": "Mã mời này đã dùng hết số lượt. Vui lòng xin mã mới từ cán bộ "
                           "quản trị.",
                "already": "Bạn đã tham gia với mã mời này rồi. Gõ /giup để xem các lệnh.",
            }[result]
            if person is None:
                message += "\n\n" + JOIN_HELP.split("\n", 1)[1]
            return [Reply(message)]
        person, invite = result
        self._cache.memberships.pop(person.id, None)
        self._cache.people[(event.channel, event.user_id)] = person
        unit = (await self._units()).get(invite.unit_code)
        unit_name = unit.name if unit else invite.unit_code
        name = f" {person.display_name}" if person.display_name else ""
        roles = {m.role for m in await self._memberships(person.id)}
        text = (f"Chào{name}! Bạn đã tham gia {unit_name} với vai trò "
                f"{ROLE_VI[invite.role]}.\n\n{help_text(roles)}")
        return [Reply(text)]

    # --- commands ------------------------------------------------------------------------------

    async def _command(self, ctx: _Ctx, name: str) -> list[Reply]:
        command = BY_NAME.get(name)
        if command is None:
            return [Reply(f"Không có lệnh /{name}. Gõ /giup để xem các lệnh.")]
        if not allowed(command, ctx.roles):
            return [self._refused(ctx)]
        if name in ("start", "giup"):
            return [Reply(self._greeting(ctx) + "\n\n" + help_text(ctx.roles))]
        if name == "baocao":
            resumed = await self._resume(ctx)
            return resumed or await self._list(ctx)
        if name == "danhsach":
            return await self._list(ctx)
        if name == "trangthai":
            return await self._status(ctx)
        if name == "huy":
            report = await self._current(ctx)
            if report is None:
                return [Reply("Bạn không có báo cáo nào đang làm. Gõ /baocao để xem danh sách.")]
            return self._confirm_cancel(ctx, report)
        return [Reply("Gõ /giup để xem các lệnh.")]  # pragma: no cover - registry is complete

    def _greeting(self, ctx: _Ctx) -> str:
        name = f" {ctx.person.display_name}" if ctx.person.display_name else ""
        parts = [f"{m.unit.name} ({ROLE_VI[m.role]})" for m in ctx.memberships]
        return f"Chào{name}! Bạn đang tham gia: " + "; ".join(parts) + "."

    def _refused(self, ctx: _Ctx) -> Reply:
        roles = ", ".join(sorted(ROLE_VI[r] for r in ctx.roles)) or "chưa có"
        return Reply(f"Lệnh này không dành cho vai trò của bạn ({roles}). "
                     "Gõ /giup để xem các lệnh bạn có thể dùng.")

    # --- report list and status ------------------------------------------------------------------

    async def _windows_for(self, ctx: _Ctx, include_locked: int = 0) -> list[tuple[int, Unit,
                                                                                  Window]]:
        units = await self._units()
        out = []
        for ui, unit in enumerate(ctx.officer_units):
            ancestors = ancestors_of(unit.code, units)
            for t in sorted(self.templates.values(), key=lambda t: t.id):
                if not applies(t.applies_to, unit, ancestors):
                    continue
                for w in open_windows(t, ctx.now, self.zone, self.lock_days, include_locked):
                    out.append((ui, unit, w))
        return out

    async def _list(self, ctx: _Ctx) -> list[Reply]:
        ctx.state.clear()
        ctx.state["mode"] = "list"
        windows = await self._windows_for(ctx)
        if not windows:
            return [Reply("Hiện đơn vị bạn không có báo cáo nào cần làm.")]
        codes = [u.code for u in ctx.officer_units]
        submitted = {(s.unit_code, s.template_id, s.period) for s in
                     await self.storage.latest_submissions(codes, with_answers=False)}
        drafts = {(d.unit_code, d.template_id, d.period): d
                  for d in await self.storage.drafts_for_units(codes)}
        lines = ["Các báo cáo của đơn vị bạn (chọn một để làm):"]
        rows = []
        many_units = len(ctx.officer_units) > 1
        for i, (ui, unit, w) in enumerate(windows, 1):
            key = (unit.code, w.template.id, w.period.id)
            draft = drafts.get(key)
            st = status_of(w, ctx.now, key in submitted, draft is not None)
            extra = ""
            if draft is not None and st is not Status.SUBMITTED:
                template = await self._template(draft.template_id, draft.template_version)
                done, total = progress(template, draft.answers)
                extra = f" ({done}/{total} câu)"
            where = f"{unit.name} · " if many_units else ""
            lines.append(f"{i}. {w.template.title}\n   {where}{w.period.label_vi()} · "
                         f"{w.due_words()} · {STATUS_ICON[st]} {STATUS_VI[st]}{extra}")
            label = f"{STATUS_ICON[st]} {_short(w.template.title, 38)} · {w.period.label_vi()}"
            rows.append([Button(label, f"o|{ui}|{w.template.id}|{w.period.id}")])
        return [Reply("\n".join(lines), rows, numbered=True, listed=True)]

    async def _status(self, ctx: _Ctx) -> list[Reply]:
        replies = []
        if Role.OFFICER in ctx.roles:
            replies.append(await self._officer_status(ctx))
        if ctx.roles & {Role.SUPERVISOR, Role.ADMIN}:
            replies.append(await self._supervisor_status(ctx))
        return replies

    async def _officer_status(self, ctx: _Ctx) -> Reply:
        windows = await self._windows_for(ctx, include_locked=2)
        codes = [u.code for u in ctx.officer_units]
        subs = {(s.unit_code, s.template_id, s.period): s
                for s in await self.storage.latest_submissions(codes, with_answers=False)}
        drafts = {(d.unit_code, d.template_id, d.period)
                  for d in await self.storage.drafts_for_units(codes)}
        lines = ["Tình hình báo cáo của đơn vị:"]
        rows = []
        for ui, unit, w in windows:
            key = (unit.code, w.template.id, w.period.id)
            sub = subs.get(key)
            st = status_of(w, ctx.now, sub is not None, key in drafts)
            line = (f"{STATUS_ICON[st]} {w.template.title} — {w.period.label_vi()}: "
                    f"{STATUS_VI[st]}")
            if sub is not None:
                local = sub.first_submitted_at.astimezone(self.zone)
                line += (f" lúc {vnformat.moment(local)} "
                         f"({lateness_words(sub.first_submitted_at, sub.due_at)})")
                if sub.version > 1:
                    line += f", đã sửa {sub.version - 1} lần"
                if ctx.now < w.lock:
                    rows.append([Button(f"Sửa: {_short(w.template.title, 30)} · "
                                        f"{w.period.label_vi()}",
                                        f"r|{ui}|{w.template.id}|{w.period.id}")])
            elif ctx.now >= w.lock:
                line += " (đã khóa sổ)"
            else:
                line += f" · {w.due_words()}"
            lines.append(line)
        if len(lines) == 1:
            lines.append("Chưa có báo cáo nào.")
        return Reply("\n".join(lines), rows, numbered=bool(rows))

    async def _supervisor_status(self, ctx: _Ctx) -> Reply:
        units = await self._units()
        roots = [m.unit for m in ctx.memberships if m.role in (Role.SUPERVISOR, Role.ADMIN)]
        lines = []
        for root in roots:
            codes = subtree_codes(root.code, units.values())
            subs = {(s.unit_code, s.template_id, s.period): s for s in
                    await self.storage.latest_submissions(sorted(codes), with_answers=False)}
            lines.append(f"Tình hình báo cáo — {root.name}:")
            for t in sorted(self.templates.values(), key=lambda t: t.id):
                expected = [units[c] for c in sorted(codes)
                            if applies(t.applies_to, units[c], ancestors_of(c, units))]
                if not expected:
                    continue
                w = open_windows(t, ctx.now, self.zone, self.lock_days, include_locked=1)[0]
                done = [u for u in expected if (u.code, t.id, w.period.id) in subs]
                on_time = [u for u in done if subs[(u.code, t.id, w.period.id)].on_time]
                missing = [u.name for u in expected if u not in done]
                lines.append(f"• {t.title} — {w.period.label_vi()} ({w.due_words()}): "
                             f"đã gửi {len(done)}/{len(expected)}, đúng hạn {len(on_time)}")
                if missing:
                    shown = ", ".join(missing[:10]) + (" …" if len(missing) > 10 else "")
                    lines.append(f"  Chưa gửi: {shown}")
        return Reply("\n".join(lines) if lines else "Chưa có đơn vị nào để theo dõi.")

    # --- opening, resuming, reopening -----------------------------------------------------------

    async def _resolve(self, ctx: _Ctx, ui_text: str, template_id: str,
                       period_id: str) -> _Report | str:
        """Check a report key from a button: the person's unit, an applicable template, a
        period that is open. Returns a Vietnamese refusal otherwise."""
        units = ctx.officer_units
        if not (ui_text.isascii() and ui_text.isdigit()) or int(ui_text) >= len(units):
            return STALE
        unit = units[int(ui_text)]
        template = self.templates.get(template_id)
        if template is None or not await self._applies(template, unit):
            return STALE
        try:
            period = Period.parse(period_id)
        except PeriodError:
            return STALE
        if period.kind is not template.period:
            return STALE
        w = self._window(template, period)
        if period.start > ctx.now.astimezone(self.zone).date():
            return "Kỳ báo cáo này chưa bắt đầu."
        if ctx.now >= w.lock:
            return (f"Báo cáo {period.label_vi()} đã khóa sổ từ "
                    f"{vnformat.moment(w.lock.astimezone(self.zone))}.")
        return _Report(int(ui_text), unit, template, w)

    async def _current(self, ctx: _Ctx) -> _Report | None:
        """The report the conversation is on, if it still has a draft."""
        ref = ctx.state.get("r")
        if not ref:
            return None
        units = ctx.officer_units
        codes = [u.code for u in units]
        if ref[0] not in codes:
            return None
        found = await self._resolve(ctx, str(codes.index(ref[0])), ref[1], ref[2])
        return found if isinstance(found, _Report) else None

    async def _draft(self, report: _Report) -> Draft | None:
        key = (report.unit.code, report.template.id, report.window.period.id)
        if key in self._cache.drafts:
            return self._cache.drafts[key]
        cache = self._cache
        began = cache.commits
        cache.reads += 1
        try:
            draft = await self.storage.find_draft(*key)
        finally:
            cache.reads -= 1
        stale = cache.touched_keys.get(key, 0) > began or (
            draft is not None and cache.touched_ids.get(draft.id, 0) > began)
        if not cache.reads:
            cache.touched_keys.clear()
            cache.touched_ids.clear()
        if not stale:  # nothing committed to this draft meanwhile: cache it
            cache.drafts[key] = draft
            if draft is not None:
                cache.draft_keys[draft.id] = key
        return draft

    async def _submission(self, report: _Report) -> Submission | None:
        return await self.storage.get_submission(report.unit.code, report.template.id,
                                                 report.window.period.id)

    async def _resume(self, ctx: _Ctx) -> list[Reply] | None:
        found = await self._question_context(ctx)
        if found is None:
            return None
        report, _, draft = found
        return await self._continue(ctx, report, draft, note=(
            f"Tiếp tục báo cáo “{report.template.title}” — {report.window.period.label_vi()}. "
            "(Muốn làm báo cáo khác: gõ /danhsach)"))

    async def _open(self, ctx: _Ctx, report: _Report) -> list[Reply]:
        draft = await self._draft(report)
        if draft is not None:
            return await self._continue(ctx, report, draft, note=self._intro(report))
        sub = await self._submission(report)
        if sub is not None:
            return await self._view_submitted(ctx, report, sub)
        version = self.versions[report.template.id]
        ctx.changes.ops.append(StartDraft(report.unit.code, report.template.id, version,
                                          report.window.period.id))
        first = report.template.questions[0]
        return self._ask(ctx, report, report.template, {}, first.id, note=self._intro(report))

    def _intro(self, report: _Report) -> str:
        return (f"📝 {report.template.title}\n{report.unit.name} — "
                f"{report.window.period.label_vi()} ({report.window.due_words()})\n"
                "Mỗi câu trả lời được lưu ngay. Gõ /huy để hủy, /giup để xem hướng dẫn.")

    async def _continue(self, ctx: _Ctx, report: _Report, draft: Draft,
                        note: str | None = None) -> list[Reply]:
        template = await self._template(draft.template_id, draft.template_version)
        nxt = first_unanswered(template, draft.answers)
        if nxt is None:
            return [self._summary(ctx, report, template, draft.answers, note=note)]
        return self._ask(ctx, report, template, draft.answers, nxt.id, note=note)

    async def _view_submitted(self, ctx: _Ctx, report: _Report, sub: Submission) -> list[Reply]:
        template = await self._template(sub.template_id, sub.template_version)
        local = sub.submitted_at.astimezone(self.zone)
        heading = (f"✅ Đã gửi: {template.title}\n{report.unit.name} — "
                   f"{report.window.period.label_vi()}, lần gửi {sub.version} lúc "
                   f"{vnformat.moment(local)}")
        text, _ = summary_text(template, sub.answers, heading)
        lock = report.window.lock.astimezone(self.zone)
        text += f"\n\nCó thể sửa đến {vnformat.moment(lock)}."
        ctx.state.clear()
        ctx.state.update(mode="view", r=report.ref)
        return [Reply(text, [[Button("✏ Sửa báo cáo", f"r|{report.key}", "sửa")]],
                      numbered=True)]

    async def _reopen(self, ctx: _Ctx, report: _Report) -> list[Reply]:
        draft = await self._draft(report)
        if draft is not None:
            return await self._continue(ctx, report, draft)
        sub = await self._submission(report)
        if sub is None:
            return await self._open(ctx, report)
        template = await self._template(sub.template_id, sub.template_version)
        ctx.changes.ops.append(StartDraft(report.unit.code, sub.template_id,
                                          sub.template_version, report.window.period.id,
                                          reopened_from=sub.version, answers=dict(sub.answers)))
        return [self._summary(ctx, report, template, sub.answers, note=(
            "Bạn đang sửa báo cáo đã gửi. Chọn “Sửa câu…” để thay câu trả lời, rồi "
            "“Gửi báo cáo” để gửi bản sửa. Gõ /huy để bỏ bản sửa (báo cáo đã gửi giữ nguyên)."))]

    # --- asking and answering ------------------------------------------------------------------

    def _ask(self, ctx: _Ctx, report: _Report, template: Template, answers: dict[str, Any],
             qid: str, note: str | None = None, back_to_summary: bool = False,
             selected: list[str] | None = None, replace: bool = False) -> list[Reply]:
        q = template.question(qid)
        ctx.state.clear()
        ctx.state.update(mode="question", r=report.ref, q=qid)
        if back_to_summary:
            ctx.state["sum"] = True
        if selected is not None:
            ctx.state["sel"] = selected
        return [question_reply(template, answers, q, selected=selected, note=note,
                               replace=replace)]

    def _summary(self, ctx: _Ctx, report: _Report, template: Template, answers: dict[str, Any],
                 note: str | None = None) -> Reply:
        ctx.state.clear()
        ctx.state.update(mode="summary", r=report.ref)
        heading = (f"📋 Tóm tắt — {template.title}\n{report.unit.name} — "
                   f"{report.window.period.label_vi()} ({report.window.due_words()})")
        if note:
            heading = note + "\n\n" + heading
        text, problems = summary_text(template, answers, heading)
        rows = []
        if not problems:
            text += "\n\nKiểm tra lại rồi bấm “Gửi báo cáo”."
            rows.append([Button("📤 Gửi báo cáo", f"send|{report.key}", "gửi")])
        rows.append([Button("✏ Sửa câu…", f"edit|{report.key}", "sửa")])
        rows.append([Button("🗑 Hủy bản nháp", f"cancel|{report.key}", "hủy")])
        return Reply(text, rows, numbered=True)

    async def _question_context(self, ctx: _Ctx) -> tuple[_Report, Template, Draft] | None:
        report = await self._current(ctx)
        if report is None:
            return None
        draft = await self._draft(report)
        if draft is None:
            return None
        template = await self._template(draft.template_id, draft.template_version)
        return report, template, draft

    async def _after_answer(self, ctx: _Ctx, report: _Report, template: Template,
                            answers: dict[str, Any], qid: str, note: str) -> list[Reply]:
        if ctx.state.get("sum"):
            gap = first_unanswered(template, answers)
            if gap is not None:  # the change revealed a question that needs an answer
                return self._ask(ctx, report, template, answers, gap.id, note=note,
                                 back_to_summary=True)
            return [self._summary(ctx, report, template, answers, note=note)]
        nxt = question_after(template, answers, qid)
        if nxt is None:
            return [self._summary(ctx, report, template, answers, note=note)]
        return self._ask(ctx, report, template, answers, nxt.id, note=note)

    async def _answer(self, ctx: _Ctx, value_text: str | None, *, photo: str | None = None,
                      value: Any = None, given: bool = False) -> list[Reply]:
        found = await self._question_context(ctx)
        if found is None:
            ctx.state.clear()
            return [Reply("Báo cáo này không còn bản nháp (có thể đã được gửi hoặc hủy)."),
                    *await self._list(ctx)]
        report, template, draft = found
        q = template.question(ctx.state["q"])
        if not given:
            if photo is not None:
                parsed = accept_photo(q, photo)
            else:
                parsed = parse_answer(q, value_text or "",
                                      today=ctx.now.astimezone(self.zone).date())
            if isinstance(parsed, Rejected):
                return self._ask(ctx, report, template, draft.answers, q.id,
                                 note=f"⚠ {parsed.message}",
                                 back_to_summary=bool(ctx.state.get("sum")),
                                 selected=ctx.state.get("sel"))
            assert isinstance(parsed, Accepted)
            value = parsed.value
        ctx.changes.ops.append(SaveAnswer(draft.id, q.id, value))
        answers = {**draft.answers, q.id: value}
        note = f"✓ Đã lưu: {format_answer(q, value)}"
        return await self._after_answer(ctx, report, template, answers, q.id, note)

    async def _navigate(self, ctx: _Ctx, action: str, qid: str) -> list[Reply]:
        found = await self._question_context(ctx)
        if found is None or ctx.state.get("mode") != "question" or ctx.state.get("q") != qid:
            return [Reply(STALE), *(await self._resume(ctx) or [])]
        report, template, draft = found
        q = template.question(qid)
        back = bool(ctx.state.get("sum"))
        if action == "skip":
            if q.required:
                return self._ask(ctx, report, template, draft.answers, qid, back_to_summary=back,
                                 note="⚠ Câu này bắt buộc, không bỏ qua được.")
            ctx.changes.ops.append(SaveAnswer(draft.id, qid, None))
            answers = {**draft.answers, qid: None}
            return await self._after_answer(ctx, report, template, answers, qid, "↷ Đã bỏ qua.")
        if action == "keep":
            return await self._after_answer(ctx, report, template, draft.answers, qid,
                                            "✓ Giữ nguyên câu trả lời.")
        prev = question_before(template, draft.answers, qid)
        if prev is None:
            return self._ask(ctx, report, template, draft.answers, qid, back_to_summary=back,
                             note="Đây là câu đầu tiên.")
        return self._ask(ctx, report, template, draft.answers, prev.id, back_to_summary=back)

    # --- sending, editing, cancelling ------------------------------------------------------------

    async def _send(self, ctx: _Ctx, report: _Report) -> list[Reply]:
        draft = await self._draft(report)
        if draft is None:
            return [Reply("Báo cáo này không còn bản nháp (có thể đã được gửi)."),
                    *await self._list(ctx)]
        template = await self._template(draft.template_id, draft.template_version)
        if missing_required(template, draft.answers) or rule_violations(template, draft.answers):
            return [self._summary(ctx, report, template, draft.answers,
                                  note="Chưa gửi được: còn câu cần sửa.")]
        answers = effective_answers(template, draft.answers)
        changed = None
        if draft.reopened_from is not None:
            old = await self._submission(report)
            before = old.answers if old else {}
            changed = {k: [before.get(k), answers.get(k)]
                       for k in sorted(set(before) | set(answers))
                       if before.get(k) != answers.get(k)}
        due = report.window.due
        on_time = ctx.now < due
        ctx.changes.ops.append(Submit(
            draft.id, report.unit.code, template.id, draft.template_version,
            report.window.period.id, answers, ctx.now, due, on_time, changed,
            seen=dict(draft.answers)))
        ctx.state.clear()
        local = ctx.now.astimezone(self.zone)
        if draft.reopened_from is not None:
            what = f"Đã gửi bản sửa ({len(changed or {})} câu thay đổi)"
        else:
            what = f"Đã gửi báo cáo ({lateness_words(ctx.now, due)})"
        lock = report.window.lock.astimezone(self.zone)
        text = (f"✅ {what}\n{template.title}\n{report.unit.name} — "
                f"{report.window.period.label_vi()}\nLúc {vnformat.moment(local)}.\n"
                f"Có thể sửa đến {vnformat.moment(lock)}: gõ /trangthai.\nCảm ơn bạn!")
        return [Reply(text)]

    def _confirm_cancel(self, ctx: _Ctx, report: _Report) -> list[Reply]:
        previous = dict(ctx.state)
        ctx.state.clear()
        ctx.state.update(mode="confirm_cancel", r=report.ref, back=previous)
        return [Reply(f"Hủy bản nháp “{report.template.title}” — "
                      f"{report.window.period.label_vi()}? Các câu trả lời đã nhập sẽ bị xóa.",
                      [[Button("🗑 Có, hủy bản nháp", f"cy|{report.key}", "có"),
                        Button("↩ Không, làm tiếp", f"cn|{report.key}", "không")]],
                      numbered=True)]

    async def _cancel(self, ctx: _Ctx, report: _Report) -> list[Reply]:
        draft = await self._draft(report)
        ctx.state.clear()
        if draft is None:
            return [Reply("Không có bản nháp nào để hủy.")]
        ctx.changes.ops.append(DeleteDraft(draft.id))
        if draft.reopened_from is not None:
            return [Reply("Đã bỏ bản sửa. Báo cáo đã gửi vẫn giữ nguyên.")]
        return [Reply("Đã hủy bản nháp. Gõ /baocao khi muốn làm lại.")]

    # --- buttons, typed text and photos ----------------------------------------------------------

    async def _button(self, ctx: _Ctx, data: str) -> list[Reply]:
        if Role.OFFICER not in ctx.roles:
            return [self._refused(ctx)]
        parts = data.split("|")
        head = parts[0]
        if head == "n" and len(parts) == 4:  # "report now" from a reminder: unit by code
            codes = [u.code for u in ctx.officer_units]
            if parts[1] not in codes:
                return [Reply(STALE)]
            parts = ["o", str(codes.index(parts[1])), parts[2], parts[3]]
            head = "o"
        if head in ("o", "r", "send", "edit", "cancel", "cy", "cn") and len(parts) == 4:
            report = await self._resolve(ctx, parts[1], parts[2], parts[3])
            if isinstance(report, str):
                return [Reply(report)]
            if head == "o":
                return await self._open(ctx, report)
            if head == "r":
                return await self._reopen(ctx, report)
            needs = {"send": ("summary",), "edit": ("summary", "view"),
                     "cy": ("confirm_cancel",), "cn": ("confirm_cancel",)}.get(head)
            if ctx.state.get("r") != report.ref or (needs and ctx.state.get("mode") not in needs):
                return [Reply(STALE), *(await self._resume(ctx) or await self._list(ctx))]
            if head == "send":
                return await self._send(ctx, report)
            if head == "edit":
                return await self._edit_picker(ctx, report)
            if head == "cancel":
                return self._confirm_cancel(ctx, report)
            if head == "cy":
                return await self._cancel(ctx, report)
            ctx.state.update(ctx.state.get("back") or {})
            return await self._resume(ctx) or [Reply("Gõ /baocao để tiếp tục.")]
        if head in ("a", "t", "d", "s", "b", "k", "e") and len(parts) >= 2:
            return await self._question_button(ctx, head, parts)
        if head == "sum":
            found = await self._question_context(ctx)
            if found is None:
                return [Reply(STALE)]
            report, template, draft = found
            return [self._summary(ctx, report, template, draft.answers)]
        return [Reply(STALE)]

    async def _edit_picker(self, ctx: _Ctx, report: _Report) -> list[Reply]:
        draft = await self._draft(report)
        if draft is None:
            return [Reply(STALE)]
        template = await self._template(draft.template_id, draft.template_version)
        ctx.state.clear()
        ctx.state.update(mode="edit", r=report.ref)
        return [edit_picker(template, draft.answers)]

    async def _question_button(self, ctx: _Ctx, head: str, parts: list[str]) -> list[Reply]:
        qid = parts[1]
        if head == "e":
            found = await self._question_context(ctx)
            if found is None or ctx.state.get("mode") not in ("edit", "summary"):
                return [Reply(STALE)]
            report, template, draft = found
            if qid not in [q.id for q in visible_questions(template, draft.answers)]:
                return [Reply(STALE)]
            q = template.question(qid)
            selected = draft.answers.get(qid) if q.type is QuestionType.MULTI_CHOICE else None
            return self._ask(ctx, report, template, draft.answers, qid, back_to_summary=True,
                             selected=list(selected) if isinstance(selected, list) else None)
        if head in ("s", "b", "k"):
            return await self._navigate(ctx, {"s": "skip", "b": "back", "k": "keep"}[head], qid)
        found = await self._question_context(ctx)
        if found is None or ctx.state.get("mode") != "question" or ctx.state.get("q") != qid:
            return [Reply(STALE), *(await self._resume(ctx) or [])]
        report, template, draft = found
        q = template.question(qid)
        if head == "d":
            chosen = [o.id for o in q.options if o.id in (ctx.state.get("sel") or [])]
            if not chosen:
                return self._ask(ctx, report, template, draft.answers, qid,
                                 back_to_summary=bool(ctx.state.get("sum")), selected=[],
                                 note="⚠ Vui lòng chọn ít nhất một mục rồi bấm “Xong”.")
            return await self._answer(ctx, None, value=chosen, given=True)
        digits = len(parts) == 3 and parts[2].isascii() and parts[2].isdigit()
        index = int(parts[2]) if digits else -1
        if q.type is QuestionType.YES_NO and index in (0, 1):
            return await self._answer(ctx, None, value=bool(index), given=True)
        if not 0 <= index < len(q.options):
            return [Reply(STALE)]
        option = q.options[index].id
        if head == "t" and q.type is QuestionType.MULTI_CHOICE:
            selected = list(ctx.state.get("sel") or [])
            if option in selected:
                selected.remove(option)
            else:
                selected.append(option)
            return self._ask(ctx, report, template, draft.answers, qid,
                             back_to_summary=bool(ctx.state.get("sum")), selected=selected,
                             replace=True)
        if head == "a" and q.type is QuestionType.CHOICE:
            return await self._answer(ctx, None, value=option, given=True)
        return [Reply(STALE)]

    async def _text(self, ctx: _Ctx, text: str) -> list[Reply]:
        key = fold(text).strip(" .!")
        pressed = _typed_button(ctx.state, key)
        if pressed is not None:
            return await self._button(ctx, pressed)
        if key in ("huy", "/huy"):
            return await self._command(ctx, "huy")
        mode = ctx.state.get("mode")
        if mode == "question":
            qid = str(ctx.state.get("q"))
            if key in SKIP_WORDS:
                return await self._navigate(ctx, "skip", qid)
            if key in BACK_WORDS:
                return await self._navigate(ctx, "back", qid)
            if key in KEEP_WORDS:
                return await self._navigate(ctx, "keep", qid)
            if key in DONE_WORDS and ctx.state.get("sel") is not None:
                return await self._button(ctx, f"d|{qid}")
            return await self._answer(ctx, text)
        if Role.OFFICER in ctx.roles:
            resumed = await self._resume(ctx)
            if resumed:
                return resumed
            return [Reply("Gõ /baocao để làm báo cáo, /giup để xem hướng dẫn.")]
        return [Reply("Gõ /trangthai để xem tình hình báo cáo, /giup để xem hướng dẫn.")]

    async def _photo(self, ctx: _Ctx, file_id: str) -> list[Reply]:
        if ctx.state.get("mode") == "question":
            return await self._answer(ctx, None, photo=file_id)
        return [Reply("Bạn chưa ở câu hỏi cần ảnh. Gõ /baocao để tiếp tục báo cáo.")]

    # --- caches --------------------------------------------------------------------------------

    async def _units(self) -> dict[str, Unit]:
        if time.monotonic() - self._cache.units_loaded > self.UNITS_TTL:
            self._cache.units = {u.code: u for u in await self.storage.list_units()}
            self._cache.units_loaded = time.monotonic()
            self._cache.applies.clear()
        return self._cache.units

    async def _applies(self, template: Template, unit: Unit) -> bool:
        units = await self._units()
        key = (template.id, unit.code)
        if key not in self._cache.applies:
            self._cache.applies[key] = applies(template.applies_to, unit,
                                               ancestors_of(unit.code, units))
        return self._cache.applies[key]

    def _window(self, template: Template, period: Period) -> Window:
        key = (template.id, period.id)
        w = self._cache.windows.get(key)
        if w is None:
            w = self._cache.windows[key] = window(template, period, self.zone, self.lock_days)
        return w

    async def _person(self, channel: str, user_id: str) -> Person | None:
        key = (channel, user_id)
        person = self._cache.people.get(key)
        if person is None:
            person = await self.storage.find_person(channel, user_id)
            if person is not None:
                self._cache.people[key] = person
        return person

    async def _state(self, person_id: int) -> dict[str, Any]:
        cached = self._cache.states.get(person_id)
        if cached is None:
            cached = await self.storage.get_conversation(person_id)
            self._cache.states[person_id] = cached
        return dict(cached)

    async def _memberships(self, person_id: int) -> list[Membership]:
        cached = self._cache.memberships.get(person_id)
        if cached is None:
            cached = await self.storage.memberships(person_id)
            self._cache.memberships[person_id] = cached
        return cached

    async def _template(self, template_id: str, version: int) -> Template:
        key = (template_id, version)
        if key not in self._cache.templates:
            found = await self.storage.get_template(template_id, version)
            if found is None:
                raise LookupError(f"template {template_id} v{version} is not stored")
            self._cache.templates[key] = found
        return self._cache.templates[key]


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _looks_like_code(text: str) -> bool:
    t = text.strip()
    return 6 <= len(t) <= 16 and t.isalnum() and t.isascii()


def _remember_buttons(state: dict[str, Any], replies: list[Reply]) -> None:
    """Keep what typing a number or a keyword means for the last reply with buttons."""
    state.pop("btn", None)
    state.pop("kw", None)
    for reply in reversed(replies):
        buttons = reply.flat_buttons()
        if not buttons:
            continue
        if reply.numbered:
            state["btn"] = [b.data for b in buttons]
        keywords = {fold(b.keyword): b.data for b in buttons if b.keyword}
        if keywords:
            state["kw"] = keywords
        break


def _typed_button(state: dict[str, Any], key: str) -> str | None:
    """A typed number or keyword that stands for a button of the last reply."""
    keywords = state.get("kw") or {}
    if key in keywords:
        return str(keywords[key])
    numbered = state.get("btn") or []
    if key.isascii() and key.isdigit() and numbered and 1 <= int(key) <= len(numbered):
        return str(numbered[int(key) - 1])
    return None
