""""🔔 Nhắc các đơn vị chưa gửi" on a digest: a reminder now to the officers of every unit of
the subtree that has not sent the report, while its window is open.

Exactly once: the reminders are pushes (written to the outbox in the press's own transaction,
delivered after the commit, again after a crash) and the ledger rows (kind "nudge-<UTC
time>", so the sweep's own reminders are not taken for them) are written in that same
transaction, where each unit is checked once more (`storage.models.Nudge`): a unit nudged by
anyone within `[digests] nudge_every_hours` is not nudged again, a double tap sends once, and
of two supervisors pressing at once the second is refused whole.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain import messages_vi as M
from bot.domain.buttons import NudgeMissing, OpenDigest
from bot.domain.dialogue import Button, Reply
from bot.domain.digest import DigestError
from bot.domain.reminders import Policy, Slot, in_quiet_hours, reminder_text
from bot.services import digests
from bot.services.reminders import report_now_button
from bot.services.reporting.context import Ctx, Deps
from bot.services.reporting.pushes import Push
from bot.services.reporting.watching import pressed_digest
from storage.models import Nudge

PREFIX = "nudge-"


def kind_at(moment: datetime) -> str:
    """The ledger kind of a nudge at `moment`: sorts as time does."""
    return PREFIX + moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


async def nudge(deps: Deps, ctx: Ctx, data: NudgeMissing) -> list[Reply]:
    pressed = await pressed_digest(deps, ctx, data.unit, data.template, data.period)
    if isinstance(pressed, Reply):
        return [pressed]
    tree, t, period = pressed.tree, pressed.template, pressed.period
    w = deps.window(t, period)
    back = [[Button.of(M.BACK_TO_DIGEST, OpenDigest(data.unit, t.id, period.id))]]
    if deps.today(ctx.now) < period.start:
        return [Reply(M.digest_not_started(period.start), back)]
    if ctx.now >= w.lock:
        return [Reply(M.NUDGE_CLOSED, back)]
    quiet = deps.reminder_settings
    if in_quiet_hours(deps.local(ctx.now).time(), Policy(quiet_start=quiet.quiet_start,
                                                          quiet_end=quiet.quiet_end)):
        # officers are never messaged in the quiet hours, by a sweep or by hand
        return [Reply(M.nudge_quiet(quiet.quiet_start, quiet.quiet_end), back)]
    try:
        d = await digests.digest(deps.storage, t, period, data.unit, ctx.now, deps.zone,
                                 deps.lock_days, units=tree.units, cache=deps.digests,
                                 settings=deps.digest_settings)
    except DigestError:
        return [Reply(M.STALE)]
    missing = sorted({m.unit for m in d.completeness.missing if m.period == period.id})
    returned = {m.unit for m in d.completeness.missing if m.period == period.id and m.returned}
    if not missing:
        return [Reply(M.NUDGE_NONE_MISSING, back)]
    hours = deps.digest_settings.nudge_every_hours
    since = kind_at(ctx.now - timedelta(hours=hours))
    ledger = await deps.storage.reminder_ledger(t.id, period.id)
    officers = await deps.storage.officers_by_unit()
    units_of: dict[int, list[str]] = {}  # for the button's fallback (as the sweep does)
    for code, people in sorted(officers.items()):
        for person in people:
            units_of.setdefault(person.id, []).append(code)
    progress = {x.unit: (x.answered, x.total) for x in d.completeness.in_progress
                if x.period == period.id}
    slot = Slot(ctx.now, "overdue" if ctx.now >= w.due else "before")
    recent = no_officer = unreachable = 0
    reached: set[int] = set()  # people (one officer of two units counts once)
    told: list[tuple[str, int]] = []
    for code in missing:
        if any(k.startswith(PREFIX) and k > since for k in ledger.get(code, ())):
            recent += 1
            continue
        people = officers.get(code, [])
        others = [p for p in people if p.id != ctx.person.id]
        if people and not others:
            continue  # the presser is its only officer: they know
        reachable = [p for p in others if p.reachable]
        people = others
        if not people:
            no_officer += 1
            continue
        if not reachable:
            unreachable += 1
            continue
        text = reminder_text(w, slot, tree.units[code].name, progress.get(code), ctx.now,
                             deps.zone)
        if code in returned:  # sent, then returned for correction: "not sent" would puzzle
            text = f"{M.NUDGE_RETURNED}\n{text}"
        for person in reachable:
            button = report_now_button(code, t.id, period.id, units_of.get(person.id, []))
            ctx.pushes.append(Push(person, Reply(text, [[button]])))
        told.append((code, len(reachable)))
        reached.update(p.id for p in reachable)
    if told:
        ctx.changes.ops.append(Nudge(t.id, period.id, kind_at(ctx.now), since, tuple(told)))
    return [Reply(M.nudge_summary(len(told), len(reached), recent, hours, no_officer,
                                  unreachable), back)]
