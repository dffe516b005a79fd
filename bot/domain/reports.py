"""Which reports a unit owes, and their status: open periods, due and lock instants.

A template asks for a report on every period of each of its schedules (`only` keeps some of a
year's) within its lifetime (`valid_from`, `valid_until`); a period id says its kind, so the
periods of two schedules never share an id.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple
from zoneinfo import ZoneInfo

from bot.domain.periods import Period, PeriodError
from bot.domain.templates import Schedule, Template


class ReportKey(NamedTuple):
    """One report of one unit: unit code, template id, period id."""

    unit: str
    template: str
    period: str


class Status(StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    LATE = "late"  # not submitted and past the due instant



@dataclass(frozen=True)
class Window:
    """One report a unit owes: the period, when it is due and when it locks."""

    template: Template
    period: Period
    due: datetime
    lock: datetime

    @property
    def last_day(self) -> date:
        """The last on-time day: the report is due at the start of the next."""
        return (self.due - timedelta(days=1)).date()


def lock_days_of(t: Template, default: int) -> int:
    return t.lock_days if t.lock_days is not None else default


def window(t: Template, period: Period, zone: ZoneInfo, default_lock_days: int) -> Window:
    """The window of `period`, due by the schedule that asks for it (ValueError if none)."""
    schedule = t.schedule_for(period)
    if schedule is None:
        raise ValueError(f"template {t.id} asks for no report on {period.id}")
    due = schedule.rule.due(period, zone)
    return Window(t, period, due, due + timedelta(days=lock_days_of(t, default_lock_days)))


def newest_first(windows: list[Window]) -> list[Window]:
    """Latest-starting period first; of two starting together, the one due first (a
    half-year before its year)."""
    return sorted(windows, key=lambda w: (-w.period.start.toordinal(), w.due, w.period.id))


def _started_by(t: Template, s: Schedule, day: date) -> Iterator[Period]:
    """The periods of schedule `s` that have started by `day`, latest first, within the
    template's lifetime."""
    if t.valid_until is not None and day > t.valid_until:
        day = t.valid_until
    try:
        period = Period.latest(s.period, day)
        while t.valid_from is None or period.end >= t.valid_from:
            if s.covers(period):
                yield period
            period = period.previous()
    except PeriodError:  # before 1900: nothing older
        return


def started_periods(t: Template, day: date, count: int) -> list[Period]:
    """The `count` latest periods the template asks for (any schedule) that have started by
    `day`, newest first (of two starting together, the shorter first)."""
    found: set[Period] = set()
    for s in t.every_schedule:
        for n, period in enumerate(_started_by(t, s, day)):
            if n == count:
                break
            found.add(period)
    return sorted(found, key=lambda p: (-p.start.toordinal(), p.end, p.id))[:count]


def schedule_windows(t: Template, s: Schedule, now: datetime, zone: ZoneInfo,
                     default_lock_days: int, include_locked: int = 0) -> list[Window]:
    """Periods of one schedule that have started and are not locked yet, newest first;
    `include_locked` also returns that many of the most recent locked ones."""
    out: list[Window] = []
    locked = 0
    for count, period in enumerate(_started_by(t, s, now.astimezone(zone).date())):
        if count == 60:  # a template never has more than a handful open at once
            break
        w = window(t, period, zone, default_lock_days)
        if now < w.lock:
            out.append(w)
        elif locked < include_locked:
            out.append(w)
            locked += 1
        else:
            break
    return out


def open_windows(t: Template, now: datetime, zone: ZoneInfo, default_lock_days: int,
                 include_locked: int = 0) -> list[Window]:
    """Periods that have started and are not locked yet, of every schedule, newest first.

    `include_locked` also returns that many of the most recent locked periods of each schedule
    (for status views).
    """
    return newest_first([w for s in t.every_schedule
                         for w in schedule_windows(t, s, now, zone, default_lock_days,
                                                   include_locked)])


def windows_between(t: Template, first: date, last: date, zone: ZoneInfo,
                    default_lock_days: int) -> list[Window]:
    """Every window of the template, any schedule, whose period starts by `last` and that locks
    after `first` began (local days), in period order per schedule: those whose reminders can
    fall in those days (they start with the period and end at the lock)."""
    start = datetime.combine(first, datetime.min.time(), tzinfo=zone)
    out: list[Window] = []
    for s in t.every_schedule:
        try:
            # 1200 days back (a period may lock long after it starts), never before 1900
            back = max(first.toordinal() - 1200, date(1900, 1, 1).toordinal())
            period = Period.latest(s.period, date.fromordinal(back))
            while period.start <= last:
                if t.valid_until is not None and period.start > t.valid_until:
                    break
                if t.asks_for(period):
                    w = window(t, period, zone, default_lock_days)
                    if w.lock > start:
                        out.append(w)
                period = period.next()
        except PeriodError:  # past 9998
            pass
    return out


def windows_due_between(t: Template, first: date, last: date, zone: ZoneInfo,
                        default_lock_days: int) -> list[Window]:
    """Every window of the template whose due instant falls from `first` 00:00 to the end of
    `last` (local days), by due instant."""
    return sorted((w for w in windows_between(t, first, last, zone, default_lock_days)
                   if first <= w.due.astimezone(zone).date() <= last),
                  key=lambda w: (w.due, w.period.id))


def status_of(w: Window, now: datetime, submitted: bool, has_draft: bool) -> Status:
    if submitted:
        return Status.SUBMITTED
    if now >= w.due:
        return Status.LATE
    return Status.IN_PROGRESS if has_draft else Status.NOT_STARTED


def days_late(submitted_at: datetime, due: datetime) -> int:
    """0 when sent before the due instant, else 1 on the first late day, 2 on the next…"""
    if submitted_at < due:
        return 0
    return (submitted_at - due).days + 1
