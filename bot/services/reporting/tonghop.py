"""/tonghop: a supervisor's (or admin's) digest of one report in chat.

One report watched with a current period: its digest over the person's unit at once; several:
a button per report. The digest fits a phone screen: completeness, every missing and late unit
(10 a page, "◀ Trước" / "Sau ▶": none is ever cut), the main figures beside the previous
period's, the targets with ✔/✘, a button per child unit (its own digest; a unit without
children: its submitted report, the review's view), "Kỳ trước", and on channels that show
pictures the chart. Every button names the unit by code and is checked against the presser's
subtrees when pressed, so a forged or outdated one changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from fractions import Fraction

from bot.charts import ChartData, TargetBar, UnitBar, render_digest_chart
from bot.domain import messages_vi as M
from bot.domain import vnformat
from bot.domain.buttons import OpenDigest, ViewSubmission
from bot.domain.dialogue import Button, Reply
from bot.domain.digest import Digest, DigestError, Figure
from bot.domain.periods import Period, PeriodError
from bot.domain.reports import Window, schedule_windows
from bot.domain.roles import Role
from bot.domain.templates import Aggregate
from bot.domain.units import Unit, ancestors_of, subtree_codes
from bot.services import digests
from bot.services.reporting import review
from bot.services.reporting.context import Ctx, Deps

PAGE = 10  # missing/late units and child buttons per page
MAX_FIGURES = 8
NOT_MAIN = (Aggregate.DISTRIBUTION, Aggregate.NONE)
WATCHING = (Role.SUPERVISOR, Role.ADMIN)


def _roots(ctx: Ctx) -> list[str]:
    return [m.unit.code for m in ctx.memberships if m.role in WATCHING]


async def start(deps: Deps, ctx: Ctx) -> list[Reply]:
    """/tonghop: the digest at once when one report is watched, else the reports to pick."""
    tree = await deps.units.tree()
    offers: list[OpenDigest] = []
    for root in dict.fromkeys(_roots(ctx)):
        codes = subtree_codes(root, tree.units.values())
        for t in sorted(deps.templates.values(), key=lambda t: t.id):
            if not codes & tree.applicable.get(t.id, frozenset()):
                continue
            for schedule in t.every_schedule:
                current = schedule_windows(t, schedule, ctx.now, deps.zone, deps.lock_days,
                                           include_locked=1)
                chased = _chased(current, ctx.now)
                if chased and any(u.code in codes
                                  for u in tree.expected_for(t.id, chased.period)):
                    offers.append(OpenDigest(root, t.id, chased.period.id))
    offers = list(dict.fromkeys(offers))
    if not offers:
        return [Reply(M.DIGEST_NOTHING)]
    if len(offers) == 1:
        return await show(deps, ctx, offers[0])
    rows = [[Button.of(M.digest_pick_button(deps.templates[o.template].title,
                                            Period.parse(o.period).label_vi(),
                                            tree.units[o.unit].name), o)] for o in offers]
    return [Reply(M.DIGEST_PICK, rows, numbered=True)]


def _chased(windows: list[Window], now: datetime) -> Window | None:
    """The period a supervisor is chasing: the oldest one still open (on the 4th, February's
    report due that night, not March's just begun; after the due date, February until it
    locks); else the latest locked one."""
    unlocked = [w for w in windows if now < w.lock]
    if unlocked:
        return min(unlocked, key=lambda w: w.due)
    return windows[0] if windows else None


async def show(deps: Deps, ctx: Ctx, data: OpenDigest) -> list[Reply]:
    """A digest button (or the one report of /tonghop): checked, then the digest's page, or a
    unit's submitted report for a unit without children."""
    tree = await deps.units.tree()
    t = deps.templates.get(data.template)
    if data.unit not in tree.units or t is None:
        return [Reply(M.STALE)]
    if not set(_roots(ctx)) & ancestors_of(data.unit, tree.units):
        return [Reply(M.DIGEST_NOT_YOURS)]
    try:
        period = Period.parse(data.period)
    except PeriodError:
        return [Reply(M.STALE)]
    up = _up_button(ctx, tree.units, data)
    leaf = not any(u.parent_code == data.unit for u in tree.units.values())
    if leaf and t.asks_for(period):
        shown = await review.view(deps, ctx, ViewSubmission(data.unit, t.id, period.id))
        return [replace(r, buttons=[*r.buttons, *up], numbered=True) if i == len(shown) - 1
                else r for i, r in enumerate(shown)]
    try:
        d = await digests.digest(deps.storage, t, period, data.unit, ctx.now, deps.zone,
                                 deps.lock_days, units=tree.units, cache=deps.digests)
    except DigestError:
        return [Reply(M.STALE)]
    names = {code: u.name for code, u in tree.units.items()}
    text, rows = page_of(d, data.page, names, deps.local(d.now))
    rows += up
    photo = None
    if data.page == 0 and deps.pictures(ctx.person):
        photo = await asyncio.to_thread(render_digest_chart, chart_data(d, deps))
    return [Reply(text, rows, numbered=True, photo=photo)]


def _up_button(ctx: Ctx, units: Mapping[str, Unit], data: OpenDigest) -> list[list[Button]]:
    """Back to the parent's digest, while the parent is still in the person's subtrees."""
    parent = units[data.unit].parent_code
    if parent is None or not set(_roots(ctx)) & ancestors_of(parent, units):
        return []
    return [[Button.of(M.digest_up_button(units[parent].name),
                       OpenDigest(parent, data.template, data.period))]]


def page_of(d: Digest, page: int, names: dict[str, str], local_now: datetime
            ) -> tuple[str, list[list[Button]]]:
    """The digest's text and buttons at `page` (clamped to the last page)."""
    c = d.completeness
    many = len(d.periods) > 1

    def name(code: str, period: str) -> str:
        label = names.get(code, code)
        return f"{label} ({Period.parse(period).label_vi()})" if many else label

    entries = [M.digest_missing(name(m.unit, m.period), m.overdue_days, m.returned)
               for m in c.missing]
    entries += [M.digest_late(name(x.unit, x.period), x.days_late) for x in c.late]
    pages = max(1, -(-max(len(entries), len(d.children)) // PAGE))
    page = min(page, pages - 1)
    lines = [M.digest_heading(d.title, d.name, d.period.label_vi(), local_now),
             M.digest_completeness(c.actual, c.expected, c.on_time)]
    if entries:
        lines.append(M.digest_missing_heading(len(c.missing_units), len(c.late_units),
                                              page + 1, pages))
        lines += entries[page * PAGE:(page + 1) * PAGE]
    figures = [f for f in d.figures if f.aggregation not in NOT_MAIN][:MAX_FIGURES]
    if figures:
        lines.append(M.DIGEST_FIGURES)
        lines += [M.digest_figure(f.text, figure_value(f, f.value),
                                  figure_value(f, f.previous) if d.previous else None)
                  for f in figures]
    if d.targets:
        lines.append(M.DIGEST_TARGETS)
        lines += [M.digest_target(tl.met, tl.label, _number(tl.value), _number(tl.goal),
                                  float(tl.progress) if tl.progress is not None else None)
                  for tl in d.targets]
    rows = [[Button.of(M.digest_child_button(child.name, child.completeness.actual,
                                             child.completeness.expected),
                       OpenDigest(child.unit, d.template, d.period.id))]
            for child in (d.children if len(d.children) <= PAGE  # few: on every page
                          else d.children[page * PAGE:(page + 1) * PAGE])]
    paging = []
    if page > 0:
        paging.append(Button.of(M.DIGEST_PAGE_BACK,
                                OpenDigest(d.unit, d.template, d.period.id, page - 1), "truoc"))
    if page + 1 < pages:
        paging.append(Button.of(M.DIGEST_PAGE_NEXT,
                                OpenDigest(d.unit, d.template, d.period.id, page + 1), "sau"))
    if paging:
        rows.append(paging)
    if d.previous is not None:
        rows.append([Button.of(M.DIGEST_PREVIOUS, OpenDigest(d.unit, d.template,
                                                             d.previous.id), "ky truoc")])
    return "\n".join(lines), rows


def _number(value: Fraction | None) -> str:
    return "—" if value is None else vnformat.number(float(value), 2)


def figure_value(f: Figure, value: Fraction | None) -> str:
    """'12 HTX', '45,5%', '3 đơn vị' (count of yes); '—' without a figure."""
    if value is None:
        return "—"
    if f.aggregation is Aggregate.RATIO:
        return vnformat.percent(float(value))
    if f.aggregation in (Aggregate.COUNT_YES, Aggregate.COUNT):
        return f"{vnformat.number(float(value))} đơn vị"
    unit = f" {f.unit}" if f.unit else ""
    return vnformat.number(float(value), 2) + unit


def chart_data(d: Digest, deps: Deps) -> ChartData:
    def share(x: Fraction | None) -> float | None:
        return None if x is None else float(x)

    rows = [UnitBar(c.name, share(c.completeness.completeness),
                    share(c.completeness.timeliness)) for c in d.children]
    targets = [TargetBar(tl.label, None if tl.progress is None else float(tl.progress) / 100,
                         tl.met) for tl in d.targets]
    return ChartData(f"{d.title} · {d.name}",
                     f"{d.period.label_vi()} · đến {vnformat.moment(deps.local(d.now))}",
                     rows, targets)
