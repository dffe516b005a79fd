"""When supervisors' scheduled digests fall due (pure: "now" is a parameter).

Three kinds per report window, all at the policy's local `send_at`:
- `last_day`: the morning of the last on-time day (the local date of due − 1 µs: a report due
  at 00:00 on the 10th is last on time on the 9th), only while before the due instant;
- `after_due`: the morning of the day after the last on-time day (final completeness);
- `weekly-YYYY-Www`: on `weekly_on` each week from the window's opening until its lock (its
  ISO week in the kind, so each week is its own ledger key), except on a day that already has
  a last_day or after_due digest.
What falls in the quiet hours waits for their end, as reminders do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.reminders import Policy, out_of_quiet_hours
from bot.domain.reports import Window

LAST_DAY, AFTER_DUE, WEEKLY = "last_day", "after_due", "weekly"
KINDS = (LAST_DAY, AFTER_DUE, WEEKLY)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class DigestPolicy:
    """The config's [digests] merged with a template's own (see services.digest_sweep)."""

    send: frozenset[str] = frozenset(KINDS)
    send_at: time = time(7, 30)
    weekly_on: str = "monday"
    quiet_start: time = time(21, 0)
    quiet_end: time = time(7, 0)

    @property
    def quiet(self) -> Policy:
        return Policy(quiet_start=self.quiet_start, quiet_end=self.quiet_end)


@dataclass(frozen=True, order=True)
class DigestSlot:
    """One scheduled digest of one window: `kind` is 'last_day', 'after_due' or
    'weekly-2026-W49'."""

    at: datetime
    kind: str

    @property
    def family(self) -> str:
        return WEEKLY if self.kind.startswith(WEEKLY) else self.kind


def last_on_time_day(w: Window, zone: ZoneInfo) -> date:
    return (w.due - timedelta(microseconds=1)).astimezone(zone).date()


def weekly_kind(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{WEEKLY}-{year}-W{week:02d}"


def slots_for(w: Window, policy: DigestPolicy, zone: ZoneInfo) -> list[DigestSlot]:
    """Every scheduled digest of one window, in time order (aware local times)."""
    opening = datetime.combine(w.period.start, time(0), tzinfo=zone)
    quiet = policy.quiet

    def at(day: date) -> datetime:
        return out_of_quiet_hours(datetime.combine(day, policy.send_at, tzinfo=zone), quiet)

    last = last_on_time_day(w, zone)
    slots: list[DigestSlot] = []
    taken: set[date] = set()  # days with a last_day / after_due digest
    if LAST_DAY in policy.send:
        moment = at(last)
        if opening <= moment < w.due and moment < w.lock:
            slots.append(DigestSlot(moment, LAST_DAY))
            taken.add(last)
    if AFTER_DUE in policy.send:
        day = last + timedelta(days=1)
        moment = at(day)
        if moment >= w.due and moment < w.lock:
            slots.append(DigestSlot(moment, AFTER_DUE))
            taken.add(day)
    if WEEKLY in policy.send:
        weekday = WEEKDAYS.index(policy.weekly_on)
        day = w.period.start + timedelta(days=(weekday - w.period.start.weekday()) % 7)
        lock_day = w.lock.astimezone(zone).date()
        while day <= lock_day:
            moment = at(day)
            if day not in taken and opening <= moment < w.lock:
                slots.append(DigestSlot(moment, weekly_kind(day)))
            day += timedelta(days=7)
    return sorted(slots)


def pick(pending: list[DigestSlot], now: datetime, w: Window
         ) -> tuple[DigestSlot | None, list[DigestSlot]]:
    """Of the slots due and not yet handled, the one to send now and the ones to record as
    skipped: only the newest goes out (no burst after downtime), and once the due instant has
    passed, nothing scheduled before it goes out late (last_day, an earlier weekly): the
    after_due digest says more."""
    due = sorted(s for s in pending if s.at <= now)
    if not due:
        return None, []
    meaningful = [s for s in due if now < w.due or s.at >= w.due]
    chosen = meaningful[-1] if meaningful else None
    return chosen, [s for s in due if s is not chosen]
