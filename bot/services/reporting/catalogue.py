"""What a person can see without opening a report: the greeting, the report list, the status."""

from __future__ import annotations

from bot.domain import messages_vi as M
from bot.domain.buttons import CorrectReport, OpenReport, ViewSubmission
from bot.domain.conversation import Mode
from bot.domain.dialogue import Button, Reply, progress
from bot.domain.periods import Period, PeriodError
from bot.domain.reports import (
    ReportKey,
    Status,
    Window,
    days_late,
    open_windows,
    schedule_windows,
    status_of,
)
from bot.domain.roles import Role
from bot.domain.units import Unit, subtree_codes
from bot.services.commands import help_text
from bot.services.reporting.context import Ctx, Deps
from bot.services.reporting.on_behalf import source_note
from storage.models import ReviewState

MAX_REVIEW_BUTTONS = 20  # units waiting for review offered as buttons on /trangthai


def greet(deps: Deps, ctx: Ctx) -> list[Reply]:
    hello = M.greeting(ctx.person.display_name, [(m.unit.name, m.role) for m in ctx.memberships])
    return [Reply(hello + "\n\n" + help_text(ctx.roles))]


async def reviews_of(deps: Deps, codes: list[str]) -> dict[tuple[str, str, str], ReviewState]:
    """The reviews of these units' latest reports; no query while no template is reviewed."""
    if not any(t.review for t in deps.templates.values()):
        return {}
    return await deps.storage.report_reviews(codes)


async def windows_for(deps: Deps, ctx: Ctx, include_locked: int = 0,
                      reviews: dict[tuple[str, str, str], ReviewState] | None = None
                      ) -> list[tuple[int, Unit, Window]]:
    """(slot, unit, window) of every report the person's units owe, template by template
    (a retired unit owes none of the periods after its last day), and of every report
    returned by a supervisor, open for correction past its lock."""
    tree = await deps.units.tree()
    out = []
    for slot, unit in enumerate(ctx.officer_units):
        for t in sorted(deps.templates.values(), key=lambda t: t.id):
            if unit.code not in tree.applicable.get(t.id, frozenset()):
                continue
            for w in open_windows(t, ctx.now, deps.zone, deps.lock_days, include_locked):
                if tree.owes(unit.code, t.id, w.period):
                    out.append((slot, unit, w))
    listed = {(u.code, w.template.id, w.period.id) for _, u, w in out}
    slots = {u.code: i for i, u in enumerate(ctx.officer_units)}
    for (code, template_id, period_id), state in sorted((reviews or {}).items()):
        found = deps.templates.get(template_id)
        if state.action != "return" or found is None or code not in slots \
                or (code, template_id, period_id) in listed:
            continue
        try:
            period = Period.parse(period_id)
        except PeriodError:
            continue
        if found.asks_for(period):
            out.append((slots[code], ctx.officer_units[slots[code]],
                        deps.window(found, period)))
    return out


def _status_words(st: Status, state: ReviewState | None) -> tuple[str, str]:
    """Icon and words of a report's status: a sent report's review shows instead of "đã gửi"."""
    if st is Status.SUBMITTED and state is not None:
        return M.REVIEW_ICON[state.status], M.REVIEW_VI[state.status]
    return M.STATUS_ICON[st], M.STATUS_VI[st]


async def nothing_to_do(deps: Deps, ctx: Ctx) -> str:
    """Why the list is empty: a unit that stopped reporting (merged into another), a unit no
    template applies to, or simply nothing open right now."""
    tree = await deps.units.tree()
    many = len(ctx.officer_units) > 1
    reasons, idle = [], False
    for unit in ctx.officer_units:
        known = tree.units.get(unit.code, unit)
        if known.retired_on is not None:
            into = tree.units.get(known.merged_into) if known.merged_into else None
            reasons.append(M.unit_stopped(known.name, known.retired_on,
                                          into.name if into else known.merged_into,
                                          _reporter(tree.units, into)))
        elif not any(unit.code in codes for codes in tree.applicable.values()):
            reasons.append(M.no_template_for(known.name) if many else M.NO_TEMPLATE)
        else:
            idle = True
    if idle:
        reasons.append(M.NO_REPORTS)
    return "\n".join(reasons) or M.NO_REPORTS


async def report_list(deps: Deps, ctx: Ctx) -> list[Reply]:
    ctx.conversation.show(Mode.LIST)
    codes = [u.code for u in ctx.officer_units]
    reviews = await reviews_of(deps, codes)
    windows = await windows_for(deps, ctx, reviews=reviews)
    if not windows:
        return [Reply(await nothing_to_do(deps, ctx))]
    submitted = {ReportKey(s.unit_code, s.template_id, s.period) for s in
                 await deps.storage.latest_submissions(codes, with_answers=False)}
    drafts = {ReportKey(d.unit_code, d.template_id, d.period): d
              for d in await deps.storage.drafts_for_units(codes)}
    lines = [M.LIST_HEADING]
    rows = []
    many_units = len(ctx.officer_units) > 1
    for i, (slot, unit, w) in enumerate(windows, 1):
        key = ReportKey(unit.code, w.template.id, w.period.id)
        draft = drafts.get(key)
        st = status_of(w, ctx.now, key in submitted, draft is not None)
        extra = ""
        if draft is not None and st is not Status.SUBMITTED:
            template = await deps.template(draft.template_id, draft.template_version)
            extra = " " + M.progress_words(*progress(template, draft.answers))
        where = f"{unit.name} · " if many_units else ""
        icon, words = _status_words(st, reviews.get(key))
        lines.append(M.report_list_line(i, w.template.title, where, w.period.label_vi(),
                                        M.due_by(w.last_day), icon, words, extra))
        label = f"{icon} {_short(w.template.title, 38)} · {w.period.label_vi()}"
        rows.append([Button.of(label, OpenReport(slot, w.template.id, w.period.id))])
    return [Reply("\n".join(lines), rows, numbered=True, listed=True)]


async def status(deps: Deps, ctx: Ctx) -> list[Reply]:
    replies = []
    if Role.OFFICER in ctx.roles:
        replies.append(await officer_status(deps, ctx))
    if ctx.roles & {Role.SUPERVISOR, Role.ADMIN}:
        replies.append(await watcher_status(deps, ctx))
    if len(replies) == 2 and all(r.buttons for r in replies):
        # one numbering for both (typing "2" on Zalo means one button, not one per message)
        own, watched = replies
        return [Reply(own.text + "\n\n" + watched.text, own.buttons + watched.buttons,
                      numbered=True)]
    return replies


async def officer_status(deps: Deps, ctx: Ctx) -> Reply:
    """The unit's reports of the current and two past periods, with corrections offered.

    A period that locked before the unit (or the template) came into baocao is not shown: a
    commune imported today never owed last year's reports here."""
    codes = [u.code for u in ctx.officer_units]
    reviews = await reviews_of(deps, codes)
    windows = await windows_for(deps, ctx, include_locked=2, reviews=reviews)
    tree = await deps.units.tree()
    first_seen = await deps.storage.templates_first_seen()
    subs = {ReportKey(s.unit_code, s.template_id, s.period): s
            for s in await deps.storage.latest_submissions(codes, with_answers=False)}
    drafts = {ReportKey(d.unit_code, d.template_id, d.period)
              for d in await deps.storage.drafts_for_units(codes)}
    lines = [M.STATUS_HEADING]
    rows = []
    for slot, unit, w in windows:
        key = ReportKey(unit.code, w.template.id, w.period.id)
        sub = subs.get(key)
        since = max(filter(None, (tree.created.get(unit.code), first_seen.get(w.template.id))),
                    default=None)
        if sub is None and ctx.now >= w.lock and since is not None and since >= w.due:
            continue  # history from before baocao knew this unit or template
        st = status_of(w, ctx.now, sub is not None, key in drafts)
        state = reviews.get(key)
        icon, _ = _status_words(st, state)
        line = f"{icon} {w.template.title} — {w.period.label_vi()}: {M.STATUS_VI[st]}"
        if sub is not None:
            late = days_late(sub.first_submitted_at, sub.due_at)
            line += M.sent_at(deps.local(sub.first_submitted_at), M.lateness(late),
                              sub.version - 1)
            source = await source_note(deps, sub)
            if source:
                line += " " + source
            returned = state is not None and state.action == "return"
            if state is not None:
                line += M.review_suffix(state.status, state.reason)
            if ctx.now < w.lock or returned:
                rows.append([Button.of(
                    M.correct_button(_short(w.template.title, 30), w.period.label_vi()),
                    CorrectReport(slot, w.template.id, w.period.id))])
        elif ctx.now >= w.lock:
            line += " " + M.LOCKED
        else:
            line += f" · {M.due_by(w.last_day)}"
        lines.append(line)
    if len(lines) == 1:
        lines.append(M.STATUS_EMPTY)
    return Reply("\n".join(lines), rows, numbered=bool(rows))


async def watcher_status(deps: Deps, ctx: Ctx) -> Reply:
    """For supervisors and admins: the current period of each template over their subtree."""
    tree = await deps.units.tree()
    roots = [m.unit for m in ctx.memberships if m.role in (Role.SUPERVISOR, Role.ADMIN)]
    lines = []
    rows: list[list[Button]] = []
    offered: set[tuple[str, str, str]] = set()  # a unit under two roots: one button
    for root in roots:
        codes = subtree_codes(root.code, tree.units.values())
        subs = {ReportKey(s.unit_code, s.template_id, s.period): s for s in
                await deps.storage.latest_submissions(sorted(codes), with_answers=False)}
        lines.append(M.watch_heading(root.name))
        shown_before = len(lines)
        for t in sorted(deps.templates.values(), key=lambda t: t.id):
            applicable = tree.applicable.get(t.id, frozenset())
            if not codes & applicable:
                continue
            for schedule in t.every_schedule:  # the current period of each schedule
                current = schedule_windows(t, schedule, ctx.now, deps.zone, deps.lock_days,
                                           include_locked=1)
                if not current:  # outside the plan's lifetime
                    continue
                w = current[0]
                expected = [u for u in tree.expected_for(t.id, w.period) if u.code in codes]
                if not expected:
                    continue
                done = [u for u in expected if (u.code, t.id, w.period.id) in subs]
                on_time = [u for u in done if subs[ReportKey(u.code, t.id, w.period.id)].on_time]
                missing = [u.name for u in expected if u not in done]
                lines.append(M.watch_line(t.title, w.period.label_vi(), M.due_by(w.last_day),
                                          len(done), len(expected), len(on_time)))
                if missing:
                    lines.append(M.not_sent(missing))
                if t.review and done:
                    lines.extend(await _review_lines(deps, t.id, t.title, w.period.id, done,
                                                     rows, offered))
        if len(lines) == shown_before:  # every unit retired, or every plan ended
            lines.append(M.NOTHING_OPEN_TO_WATCH)
    if not lines:
        return Reply(M.NOTHING_TO_WATCH)
    return Reply("\n".join(lines), rows, numbered=bool(rows))


async def _review_lines(deps: Deps, template_id: str, title: str, period_id: str,
                        done: list[Unit], rows: list[list[Button]],
                        offered: set[tuple[str, str, str]]) -> list[str]:
    """A template with review: how many sent reports are approved, returned and waiting, and
    a button to open each waiting one (the first MAX_REVIEW_BUTTONS over every template)."""
    states = await deps.storage.review_states(template_id, period_id, [u.code for u in done])
    waiting = [u for u in done if u.code not in states]
    approved = sum(1 for v in states.values() if v == "approved")
    out = [M.review_counts(approved, len(states) - approved, len(waiting))]
    left = 0
    for u in waiting:
        key = (u.code, template_id, period_id)
        if key in offered:
            continue
        if len(offered) >= MAX_REVIEW_BUTTONS:
            left += 1
            continue
        offered.add(key)
        rows.append([Button.of(M.view_button(u.name, _short(title, 24)),
                               ViewSubmission(*key))])
    if left:
        out.append(M.more_waiting(left))
    return out


def _reporter(units: dict[str, Unit], into: Unit | None) -> str | None:
    """The unit that reports for a merged one now: the end of its merge chain (A → B → C:
    C), when that is not the unit it merged into."""
    seen, current = set(), into
    while current is not None and current.merged_into and current.code not in seen:
        seen.add(current.code)
        current = units.get(current.merged_into)
    return None if current is None or current is into else current.name


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
