"""/tonghop: a supervisor's (or admin's) digest of one report in chat.

One report watched with a current period: its digest over the person's unit at once; several:
a button per report. The digest fits a phone screen: completeness, every missing and late unit
(10 a page, "◀ Trước" / "Sau ▶": none is ever cut), the main figures beside the previous
period's, the targets with ✔/✘, a button per child unit (its own digest; a unit without
children: its submitted report, the review's view, with its correction history), "Kỳ
trước", "Chọn kỳ" (the latest periods), and on channels that show pictures the chart. Units
overdue by `escalate_after_days` are named near the top; drafts in progress, units with no
officer and units whose officers all blocked the bot are listed (paged with the rest); a
period not started yet says so. "Nhắc các đơn vị chưa gửi" is `nudge.py`. Every button
names the unit by code and is checked against the presser's subtrees when pressed, so a
forged or outdated one changes nothing.
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
from bot.domain.buttons import (
    ExportFile,
    NudgeMissing,
    OpenDigest,
    PickPeriod,
    ViewSubmission,
)
from bot.domain.dialogue import Button, Reply
from bot.domain.digest import Digest, DigestError, Figure
from bot.domain.periods import Period
from bot.domain.reports import Window, schedule_windows, started_periods
from bot.domain.templates import Aggregate
from bot.domain.units import Unit, subtree_codes
from bot.services import digests
from bot.services.reporting import review
from bot.services.reporting.context import Ctx, Deps
from bot.services.reporting.watching import pressed_digest, watched_roots, watches_unit

PAGE = 10  # missing/late units and child buttons per page
MAX_FIGURES = 8
NOT_MAIN = (Aggregate.DISTRIBUTION, Aggregate.NONE)


async def start(deps: Deps, ctx: Ctx) -> list[Reply]:
    """/tonghop: the digest at once when one report is watched, else the reports to pick."""
    tree = await deps.units.tree()
    offers: list[OpenDigest] = []
    for root in dict.fromkeys(watched_roots(ctx)):
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
    pressed = await pressed_digest(deps, ctx, data.unit, data.template, data.period,
                                   asked=False)
    if isinstance(pressed, Reply):
        return [pressed]
    tree, t, period = pressed.tree, pressed.template, pressed.period
    up = _up_button(ctx, tree.units, data)
    leaf = not any(u.parent_code == data.unit for u in tree.units.values())
    if leaf and t.asks_for(period):
        shown = await review.view(deps, ctx, ViewSubmission(data.unit, t.id, period.id))
        return [replace(r, buttons=[*r.buttons, *up], numbered=True) if i == len(shown) - 1
                else r for i, r in enumerate(shown)]
    try:
        d = await digests.digest(deps.storage, t, period, data.unit, ctx.now, deps.zone,
                                 deps.lock_days, units=tree.units, cache=deps.digests,
                                 settings=deps.digest_settings)
    except DigestError:
        return [Reply(M.STALE)]
    names = {code: u.name for code, u in tree.units.items()}
    text, rows = page_of(d, data.page, names, deps.local(d.now),
                         files=deps.pictures(ctx.person))
    rows += up
    photo = None
    if data.page == 0 and d.started and deps.pictures(ctx.person):
        photo = await asyncio.to_thread(render_digest_chart, chart_data(d, deps))
    return [Reply(text, rows, numbered=True, photo=photo)]


def _up_button(ctx: Ctx, units: Mapping[str, Unit], data: OpenDigest) -> list[list[Button]]:
    """Back to the parent's digest, while the parent is still in the person's subtrees."""
    parent = units[data.unit].parent_code
    if parent is None or not watches_unit(ctx, parent, units):
        return []
    return [[Button.of(M.digest_up_button(units[parent].name),
                       OpenDigest(parent, data.template, data.period))]]


def page_of(d: Digest, page: int, names: dict[str, str], local_now: datetime, *,
            actions: bool = True, files: bool = False) -> tuple[str, list[list[Button]]]:
    """The digest's text and buttons at `page` (clamped to the last page). Every list (late
    and missing units, the escalated, drafts in progress, units with no officer or none
    reachable, child units) is paged together: none is ever cut. `actions`: the buttons
    "Nhắc các đơn vị chưa gửi" (while the window is open and someone is missing) and "Chọn
    kỳ" (a digest sent on a schedule keeps them too; False leaves them out). `files`: "📊
    Excel" and "📄 Báo cáo (Word)" (for channels that send files)."""
    c = d.completeness
    many = len(d.periods) > 1

    def name(code: str, period: str) -> str:
        label = names.get(code, code)
        return f"{label} ({Period.parse(period).label_vi()})" if many else label

    lines = [M.digest_heading(d.title, d.name, d.period.label_vi(), local_now)]
    if not d.started and d.opens is not None:
        lines.append(M.digest_not_started(d.opens.astimezone(local_now.tzinfo).date()))
        rows = []
        if actions:
            rows.append([Button.of(M.BUTTON_PICK_PERIOD, PickPeriod(d.unit, d.template),
                                   M.KW_PICK_PERIOD)])
        if d.previous is not None:
            rows.append([Button.of(M.DIGEST_PREVIOUS, OpenDigest(d.unit, d.template,
                                                                 d.previous.id), "ky truoc")])
        return "\n".join(lines), rows
    entries = [M.digest_missing(name(m.unit, m.period), m.overdue_days, m.returned)
               for m in c.missing]
    entries += [M.digest_late(name(x.unit, x.period), x.days_late) for x in c.late]
    sections: list[tuple[str, list[str]]] = []
    if d.escalate_after_days is not None:
        sections.append((M.digest_escalated_heading(d.escalate_after_days),
                         [M.digest_escalated(name(m.unit, m.period), m.overdue_days)
                          for m in d.escalated]))
    sections += [
        (M.DIGEST_DRAFTING, [M.digest_drafting(name(x.unit, x.period), x.answered, x.total)
                             for x in c.in_progress]),
        (M.DIGEST_NO_OFFICER, [names.get(code, code) for code in c.no_officer]),
        (M.DIGEST_UNREACHABLE, [names.get(code, code) for code in c.unreachable])]
    longest = max([len(entries), len(d.children), *(len(items) for _, items in sections)])
    pages = max(1, -(-longest // PAGE))
    page = min(page, pages - 1)
    lines.append(M.digest_completeness(c.actual, c.expected, c.on_time))
    here = slice(page * PAGE, (page + 1) * PAGE)
    for heading, items in sections[:1]:  # the escalated near the top
        if items:
            lines.append(M.digest_section(heading, len(items), items[here],
                                          len(items) > here.stop))
    if entries:
        lines.append(M.digest_missing_heading(len(c.missing_units), len(c.late_units),
                                              page + 1, pages))
        lines += entries[here] or [M.DIGEST_LISTED_BEFORE]
    for heading, items in sections[1:]:
        if items:
            lines.append(M.digest_section(heading, len(items), items[here],
                                          len(items) > here.stop))
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
    rows = []
    if actions and may_nudge(d):
        rows.append([Button.of(M.BUTTON_NUDGE, NudgeMissing(d.unit, d.template, d.period.id),
                               M.KW_NUDGE)])
    if files and d.started:
        rows.append([Button.of(M.BUTTON_EXCEL, ExportFile(d.unit, d.template, d.period.id,
                                                          "xlsx")),
                     Button.of(M.BUTTON_WORD, ExportFile(d.unit, d.template, d.period.id,
                                                         "docx"))])
    rows += [[Button.of(M.digest_child_button(child.name, child.completeness.actual,
                                              child.completeness.expected),
                        OpenDigest(child.unit, d.template, d.period.id))]
             for child in (d.children if len(d.children) <= PAGE  # few: on every page
                           else d.children[here])]
    paging = []
    if page > 0:
        paging.append(Button.of(M.DIGEST_PAGE_BACK,
                                OpenDigest(d.unit, d.template, d.period.id, page - 1), "truoc"))
    if page + 1 < pages:
        paging.append(Button.of(M.DIGEST_PAGE_NEXT,
                                OpenDigest(d.unit, d.template, d.period.id, page + 1), "sau"))
    if paging:
        rows.append(paging)
    periods = []
    if d.previous is not None:
        periods.append(Button.of(M.DIGEST_PREVIOUS, OpenDigest(d.unit, d.template,
                                                               d.previous.id), "ky truoc"))
    if actions:
        periods.append(Button.of(M.BUTTON_PICK_PERIOD, PickPeriod(d.unit, d.template),
                                 M.KW_PICK_PERIOD))
    if periods:
        rows.append(periods)
    return "\n".join(lines), rows


def may_nudge(d: Digest) -> bool:
    """Reminders by hand: someone is missing, the report period (one) has started and is not
    locked yet."""
    return (bool(d.completeness.missing) and len(d.periods) == 1 and d.started
            and d.lock is not None and d.now < d.lock)


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


PERIODS_PAGE = 8
PERIODS_MAX = 48  # six pages of the latest periods


async def pick_period(deps: Deps, ctx: Ctx, data: PickPeriod) -> list[Reply]:
    """"Chọn kỳ": the template's latest periods that have started, 8 a page, each opening
    its digest over the same unit."""
    tree = await deps.units.tree()
    t = deps.templates.get(data.template)
    if data.unit not in tree.units or t is None:
        return [Reply(M.STALE)]
    if not watches_unit(ctx, data.unit, tree.units):
        return [Reply(M.DIGEST_NOT_YOURS)]
    periods = started_periods(t, deps.today(ctx.now), PERIODS_MAX)
    if not periods:
        return [Reply(M.DIGEST_NOTHING)]
    pages = -(-len(periods) // PERIODS_PAGE)
    page = min(data.page, pages - 1)
    shown = periods[page * PERIODS_PAGE:(page + 1) * PERIODS_PAGE]
    rows = [[Button.of(p.label_vi(), OpenDigest(data.unit, t.id, p.id))] for p in shown]
    paging = []
    if page > 0:
        paging.append(Button.of(M.PERIODS_NEWER, PickPeriod(data.unit, t.id, page - 1),
                                "moi hon"))
    if page + 1 < pages:
        paging.append(Button.of(M.PERIODS_OLDER, PickPeriod(data.unit, t.id, page + 1),
                                "cu hon"))
    if paging:
        rows.append(paging)
    return [Reply(M.pick_period(t.title, tree.units[data.unit].name, page + 1, pages), rows,
                  numbered=True)]
