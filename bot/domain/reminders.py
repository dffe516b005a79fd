"""When reminders and overdue notices fall due, and what they say (pure: "now" is a parameter).

Reminders go out a number of local calendar days before the due instant at a local hour;
overdue notices the morning after it, then every few days until the report locks. Nothing is
sent in quiet hours: what falls inside waits for their end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from bot.domain import messages_vi as M
from bot.domain.reports import Window


class Policy(BaseModel):
    """Reminder policy: config defaults, optionally overridden per template."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days_before: tuple[int, ...] = (7, 3, 1)
    send_at: time = time(8, 0)
    quiet_start: time = time(21, 0)
    quiet_end: time = time(7, 0)
    overdue_every_days: int = Field(default=3, ge=1, le=60)


@dataclass(frozen=True, order=True)
class Slot:
    """One reminder for one report window: `kind` is 'before:3' or 'overdue:0', 'overdue:1'…"""

    at: datetime
    kind: str

    @property
    def overdue(self) -> bool:
        return self.kind.startswith("overdue")


def in_quiet_hours(moment: time, policy: Policy) -> bool:
    start, end = policy.quiet_start, policy.quiet_end
    if start == end:
        return False
    if start < end:
        return start <= moment < end
    return moment >= start or moment < end  # the usual case: 21:00 → 07:00 overnight


def out_of_quiet_hours(at: datetime, policy: Policy) -> datetime:
    """`at`, or the end of the quiet hours it falls in."""
    if not in_quiet_hours(at.timetz().replace(tzinfo=None), policy):
        return at
    end = at.replace(hour=policy.quiet_end.hour, minute=policy.quiet_end.minute, second=0,
                     microsecond=0)
    return end if end > at else end + timedelta(days=1)


def slots_for(w: Window, policy: Policy, zone: ZoneInfo) -> list[Slot]:
    """Every reminder of one report window, in time order (local times, aware)."""
    due_day: date = w.due.astimezone(zone).date()
    start = datetime.combine(w.period.start, time(0), tzinfo=zone)
    slots: list[Slot] = []
    for days in policy.days_before:
        at = out_of_quiet_hours(
            datetime.combine(due_day - timedelta(days=days), policy.send_at, tzinfo=zone), policy)
        if start <= at < w.due:  # a reminder before the period began would confuse
            slots.append(Slot(at, f"before:{days}"))
    n = 0
    at = out_of_quiet_hours(datetime.combine(due_day, policy.send_at, tzinfo=zone), policy)
    while at < w.lock:
        slots.append(Slot(at, f"overdue:{n}"))
        n += 1
        at = out_of_quiet_hours(datetime.combine(
            due_day + timedelta(days=n * policy.overdue_every_days), policy.send_at,
            tzinfo=zone), policy)
    return sorted(slots)


def pick(pending: list[Slot], now: datetime, w: Window) -> tuple[Slot | None, list[Slot]]:
    """Of the slots due and not yet handled, the one to send now and the ones to drop.

    Only the most recent still meaningful goes out (no burst after downtime); a reminder whose
    due instant has passed is never sent late: only overdue notices are.
    """
    due = sorted(s for s in pending if s.at <= now)
    if not due:
        return None, []
    meaningful = [s for s in due if s.overdue or now < w.due]
    chosen = meaningful[-1] if meaningful else None
    return chosen, [s for s in due if s is not chosen]


def reminder_text(w: Window, slot: Slot, unit_name: str, progress: tuple[int, int] | None,
                  now: datetime, zone: ZoneInfo) -> str:
    """The message an officer gets (wording in messages_vi)."""
    last_day = (w.due - timedelta(days=1)).astimezone(zone).date()
    title, deadline = _reminder_lines(w.template.title, last_day, w.lock.astimezone(zone),
                                      slot.overdue, now.astimezone(zone).date())
    return (f"{title}\n{unit_name} — {w.period.label_vi()}\n{deadline}\n"
            f"{M.reminder_progress(progress)}")


# The lines every unit's copy shares: a sweep writes thousands of them.
_reminder_lines = lru_cache(maxsize=256)(M.reminder_lines)
