"""Which reports a unit owes, and their status: open periods, due and lock instants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple
from zoneinfo import ZoneInfo

from bot.domain.periods import Period
from bot.domain.templates import Template


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
    due = t.deadline_rule.due(period, zone)
    return Window(t, period, due, due + timedelta(days=lock_days_of(t, default_lock_days)))


def open_windows(t: Template, now: datetime, zone: ZoneInfo, default_lock_days: int,
                 include_locked: int = 0) -> list[Window]:
    """Periods that have started and are not locked yet, newest first.

    `include_locked` also returns that many of the most recent locked periods (for status views).
    """
    today = now.astimezone(zone).date()
    period = Period.containing(t.period, today)
    out: list[Window] = []
    locked = 0
    for _ in range(60):  # a template never has more than a handful open at once
        w = window(t, period, zone, default_lock_days)
        if now < w.lock:
            out.append(w)
        elif locked < include_locked:
            out.append(w)
            locked += 1
        else:
            break
        period = period.previous()
    return out


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
