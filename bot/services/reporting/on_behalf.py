"""Entry on behalf of a unit ("nhập hộ"): a supervisor fills the report of a unit of their
subtree that has not sent it (a commune that phoned or sent paper).

/nhapho lists the units of the supervisor's subtree that owe the current period's report and
have not sent it, a button each. Pressing one makes the supervisor act as an officer of that
unit (`Conversation.for_unit`): the same dialogue runs, with the same checks, until the
report is sent or the draft cancelled. The submission records source 'on_behalf' and the
supervisor as the one who entered it; the unit's officers are told on their next message.
"""

from __future__ import annotations

from dataclasses import replace

from bot.domain import messages_vi as M
from bot.domain.buttons import OnBehalf, OnBehalfPage
from bot.domain.dialogue import Button, Reply
from bot.domain.periods import Period
from bot.domain.reports import open_windows
from bot.domain.roles import Role
from bot.domain.units import Unit, subtree_codes
from bot.services.reporting.context import Ctx, Deps, Report
from bot.services.reporting.pushes import Push
from bot.services.reporting.watching import WATCHING, watches
from storage.models import Membership, Submission

PAGE = 20  # units a page; "◀ Trước" / "Sau ▶" for the others (typed on Zalo)


async def may_enter_for(deps: Deps, memberships: list[Membership], code: str) -> Unit | None:
    """The unit, when `code` is in the subtree of one of the person's supervisor (or admin)
    units; None otherwise."""
    tree = await deps.units.tree()
    unit = tree.units.get(code)
    if unit is None:
        return None
    for m in memberships:
        if m.role in WATCHING and code in subtree_codes(m.unit.code, tree.units.values()):
            return unit
    return None


async def acting(deps: Deps, memberships: list[Membership], code: str | None
                 ) -> tuple[list[Membership], str | None]:
    """The memberships an event is handled with: the person's own, plus an officer's place in
    the unit they enter a report for (checked again on every event: a supervisor moved away
    from the subtree loses it). The unit's code, or None when they act for no unit."""
    if code is None:
        return memberships, None
    if any(m.role is Role.OFFICER and m.unit.code == code for m in memberships):
        return memberships, None  # their own unit: an ordinary report
    unit = await may_enter_for(deps, memberships, code)
    if unit is None:
        return memberships, None
    return [*memberships, Membership(unit, Role.OFFICER)], code


async def picker(deps: Deps, ctx: Ctx, page: int = 0) -> list[Reply]:
    """/nhapho: a button per unit of the subtree that owes an open report not sent yet,
    `PAGE` a page (every one reachable)."""
    tree = await deps.units.tree()
    codes: set[str] = set()
    for m in ctx.memberships:
        if m.role in WATCHING:
            codes |= subtree_codes(m.unit.code, tree.units.values())
    sent = {(s.unit_code, s.template_id, s.period) for s in
            await deps.storage.latest_submissions(sorted(codes), with_answers=False)}
    missing: list[tuple[Unit, str, str, str]] = []  # unit, template id, title, period
    for t in sorted(deps.templates.values(), key=lambda t: t.id):
        for w in open_windows(t, ctx.now, deps.zone, deps.lock_days):
            for u in tree.expected_for(t.id, w.period):
                if u.code in codes and (u.code, t.id, w.period.id) not in sent:
                    missing.append((u, t.id, t.title, w.period.id))
    if not missing:
        return [Reply(M.ON_BEHALF_NONE)]
    pages = -(-len(missing) // PAGE)
    page = min(page, pages - 1)
    shown = missing[page * PAGE:(page + 1) * PAGE]
    labels = [M.on_behalf_button(u.name, title, Period.parse(pid).label_vi())
              for u, _, title, pid in shown]
    rows = [[Button.of(label, OnBehalf(u.code, tid, pid))]
            for label, (u, tid, _, pid) in zip(labels, shown, strict=True)]
    paging = []
    if page > 0:
        paging.append(Button.of(M.DIGEST_PAGE_BACK, OnBehalfPage(page - 1), "truoc"))
    if page + 1 < pages:
        paging.append(Button.of(M.DIGEST_PAGE_NEXT, OnBehalfPage(page + 1), "sau"))
    lines = [M.on_behalf_pick(len(missing), page + 1, pages)]
    lines += [f"{i}. {label}" for i, label in enumerate(labels, 1)]
    return [Reply("\n".join(lines), [*rows, *([paging] if paging else [])], numbered=True,
                  listed=True)]


async def start(deps: Deps, ctx: Ctx, data: OnBehalf) -> list[Reply]:
    """A unit picked: act as its officer and open its report (continue a draft, or show the
    report if someone sent it meanwhile)."""
    from bot.services.reporting.lifecycle import open_report
    from bot.services.reporting.lookup import Refused, resolve

    if not watches(ctx):
        return [Reply(M.not_for_your_role(sorted(ctx.roles)))]
    own = [m for m in ctx.memberships  # without the unit entered for until now, if any
           if not (m.role is Role.OFFICER and m.unit.code == ctx.on_behalf)]
    memberships, code = await acting(deps, own, data.unit)
    if code is None and not any(m.role is Role.OFFICER and m.unit.code == data.unit
                                for m in memberships):
        return [Reply(M.STALE)]
    ctx.conversation.clear()
    ctx.conversation.for_unit = code
    ctx.memberships = memberships
    ctx.on_behalf = code
    ctx.__dict__.pop("officer_units", None)  # cached before the unit was added
    slots = [u.code for u in ctx.officer_units]
    try:
        report = await resolve(deps, ctx, slots.index(data.unit), data.template, data.period)
    except Refused as e:
        ctx.conversation.clear()
        return [Reply(e.message)]
    replies = await open_report(deps, ctx, report)
    if code is not None and replies:
        first = replies[0]
        replies[0] = replace(first, text=M.on_behalf_intro(report.unit.name) + "\n" + first.text)
    return replies


async def source_note(deps: Deps, sub: Submission) -> str | None:
    """"(nhập hộ bởi Lan)" / "(nhập từ tệp)" for a report an officer of the unit did not send."""
    who = await deps.name(sub.entered_by) if sub.entered_by is not None else None
    return M.source_line(sub.source, who)


async def tell_officers(deps: Deps, ctx: Ctx, report: Report) -> int:
    """The report entered on behalf of the unit is being sent: each of its officers is told
    at once (a push stored with the send; a notice on their next message for one who cannot
    be reached). How many were told."""
    officers = await deps.storage.unit_people(report.unit.code, Role.OFFICER)
    for person in officers:
        ctx.pushes.append(Push(person, Reply(M.entered_on_behalf(
            report.template.title, report.period_words, report.unit.name,
            ctx.person.display_name))))
    return len(officers)
