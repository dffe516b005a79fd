"""Reminder sweeps: what is due and not yet handled is claimed in the ledger, then sent.

A sweep is idempotent: APScheduler wakes it every minute (and once at start-up); two sweeps at
once or a clean restart never send a reminder twice, because a reminder is claimed in the
ledger (a unique key per unit, template, period and kind) before it is sent. After a crash it
is at least once, like replies and broadcasts (bot/services/delivery.py): a reminder the
messenger accepted is recorded 'sent' within RECORD_AFTER, so only the one in flight, or those
accepted in the moment before the crash, go again; the rest of the chunk, still 'sending', goes
back to the planner at start (`release_stranded_reminders`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.config import RemindersConfig
from bot.domain import messages_vi as M
from bot.domain.buttons import ButtonDataError, OpenReport, ReportNow
from bot.domain.dialogue import Button, Reply, progress
from bot.domain.reminders import Policy, Slot, in_quiet_hours, pick, reminder_text, slots_for
from bot.domain.reports import Window, open_windows, windows_between
from bot.domain.templates import Template
from bot.domain.units import Unit
from bot.services.channels import Channels
from bot.services.turns import Turns
from bot.services.units import UnitDirectory, UnitTree
from storage.interface import Storage
from storage.models import Person

log = logging.getLogger(__name__)
NOTHING: frozenset[str] = frozenset()
CHUNK = 1000  # reminders claimed at a time
# Accepted reminders are recorded this long after the first of them, as the Courier's replies
# (delivery.RECORD_AFTER): one write for all accepted meanwhile, not one per reminder.
RECORD_AFTER = 0.02


class _Recorder:
    """Records a chunk's reminders 'sent' soon after the messenger accepted them, through the
    group commit, while the chunk goes on: a crash then re-sends only what was in flight."""

    def __init__(self, storage: Storage, sweep_id: str) -> None:
        self.storage = storage
        self.sweep_id = sweep_id
        self.pending: list[tuple[str, str, str, str, int | None]] = []
        self.task: asyncio.Task[None] | None = None
        self.writing = False

    def add(self, key: tuple[str, str, str, str], recipients: int | None) -> None:
        self.pending.append((*key, recipients))
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._later())

    async def _later(self) -> None:
        await asyncio.sleep(RECORD_AFTER)
        batch, self.pending = self.pending, []
        self.writing = True
        try:
            await self.storage.settle_reminders(self.sweep_id, batch)
        except Exception:  # the end of the chunk records them (finish_reminders)
            log.exception("could not record %d sent reminders", len(batch))
        finally:
            self.writing = False

    async def close(self) -> None:
        """End of the chunk: finish_reminders records what is still pending in its own write;
        a write under way is waited for, a timer still sleeping is dropped."""
        task, self.task = self.task, None
        if task is None or task.done():
            return
        if self.writing:
            await task
        else:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

def policy_for(t: Template, defaults: RemindersConfig) -> Policy:
    own = t.reminders
    return Policy(
        days_before=tuple(sorted(set(own.days_before if own and own.days_before
                                     else defaults.days_before), reverse=True)),
        send_at=own.send_at if own and own.send_at else defaults.send_at,
        quiet_start=defaults.quiet_start,
        quiet_end=defaults.quiet_end,
        overdue_every_days=(own.overdue_every_days if own and own.overdue_every_days
                            else defaults.overdue_every_days),
    )


@dataclass(frozen=True)
class Planned:
    """A reminder the sweep decided on (or a preview line)."""

    unit: Unit
    window: Window
    slot: Slot
    recipients: list[Person]


@dataclass
class SweepResult:
    sent: int = 0  # reminders (unit × kind) sent
    messages: int = 0  # messages delivered to people
    skipped: int = 0  # stale reminders dropped after downtime
    blocked: int = 0  # people found to have blocked the bot
    failed: int = 0
    quiet: bool = False
    planned: list[Planned] = field(default_factory=list)


class ReminderService:
    def __init__(self, storage: Storage, templates: dict[str, Template], *,
                 zone: ZoneInfo, lock_days: int, defaults: RemindersConfig,
                 clock: Callable[[], datetime], units: UnitDirectory | None = None) -> None:
        self.storage = storage
        self.templates = templates
        self.zone = zone
        self.lock_days = lock_days
        self.defaults = defaults
        self.clock = clock
        self.policies = {t.id: policy_for(t, defaults) for t in templates.values()}
        self.units = units or UnitDirectory(storage, templates)
        # Set when the bot stops: a sweep in progress sends nothing more, records what it sent
        # and releases the rest, so a clean shutdown leaves nothing stranded as 'sending'.
        self.stopping = False

    async def _tree(self, turns: Turns | None = None) -> UnitTree:
        """The shared unit view (refreshed once a minute): which units owe which report."""
        return await self.units.tree(turns)

    async def plan(self, now: datetime, officers: dict[str, list[Person]] | None = None,
                   ) -> tuple[list[Planned], list[Planned]]:
        """(reminders to send now, stale ones to drop) given the ledger and submissions."""
        send, drop, _ = await self._plan(now, officers)
        return send, drop

    async def _plan(self, now: datetime, officers: dict[str, list[Person]] | None,
                    ) -> tuple[list[Planned], list[Planned], dict[str, list[Person]] | None]:
        """plan(), and the officers if it had to read them: only when something is to be
        sent. Most minutes nothing is, and reading every officer (30,000 objects at the
        largest size measured) each minute only churned memory."""
        turns = Turns()
        tree = await self._tree(turns)
        send: list[Planned] = []
        drop: list[Planned] = []
        for t in sorted(self.templates.values(), key=lambda t: t.id):
            policy = self.policies[t.id]
            for w in open_windows(t, now, self.zone, self.lock_days):
                due = [s for s in slots_for(w, policy, self.zone) if s.at <= now]
                if not due:
                    continue
                submitted = await self.storage.submitted_units(t.id, w.period.id)
                ledger = await self.storage.reminder_ledger(t.id, w.period.id)
                # Units with the same kinds already handled get the same decision.
                decided: dict[frozenset[str], tuple[Slot | None, list[Slot]]] = {}
                for unit in tree.expected_for(t.id, w.period):
                    await turns.take()
                    if unit.code in submitted:
                        continue
                    handled = ledger.get(unit.code, NOTHING)
                    if handled not in decided:
                        decided[handled] = pick([s for s in due if s.kind not in handled],
                                                now, w)
                    chosen, stale = decided[handled]
                    if chosen is None and not stale:
                        continue
                    if chosen is not None and officers is None:
                        officers = await self.storage.officers_by_unit()
                    people = officers.get(unit.code, []) if officers is not None else []
                    if chosen is not None:
                        send.append(Planned(unit, w, chosen, people))
                    drop.extend(Planned(unit, w, s, people) for s in stale)
        return send, drop, officers

    async def sweep(self, channels: Channels) -> SweepResult:
        """Send what is due and not yet handled; record everything in the ledger.

        Reminders are claimed CHUNK at a time, just before they are sent; each one the
        messenger accepted is recorded 'sent' within RECORD_AFTER (grouped), the chunk's
        corrections and releases at its end. After a crash the chunk's unsent part, left
        'sending', is planned again at start: only a reminder in flight, or accepted just before
        the crash, can go twice (at least once)."""
        now = self.clock()
        result = SweepResult()
        quiet = Policy(quiet_start=self.defaults.quiet_start, quiet_end=self.defaults.quiet_end)
        if in_quiet_hours(now.astimezone(self.zone).time(), quiet):
            result.quiet = True
            return result
        send, drop, officers = await self._plan(now, None)
        # After downtime nearly every unit has stale reminders (90,000 at 10,000 communes):
        # recorded a chunk at a time, so neither their rows nor the time to build them pile up.
        turns = Turns()
        skip_id = uuid.uuid4().hex
        for i in range(0, len(drop), CHUNK):
            claimed = await self.storage.claim_reminders(
                [_row(p, "skipped", 0) for p in drop[i:i + CHUNK]], skip_id)
            result.skipped += len(claimed)
            await turns.take()
        units_of: dict[int, list[str]] = {}  # person → their units, sorted as in /baocao
        for unit_code, people in sorted((officers or {}).items()):
            await turns.take()
            for person in people:
                units_of.setdefault(person.id, []).append(unit_code)
        progress_cache: dict[tuple[str, str], dict[str, tuple[int, int]]] = {}
        blocked: set[int] = set()
        for i in range(0, len(send), CHUNK):
            chunk = send[i:i + CHUNK]
            sweep_id = uuid.uuid4().hex
            claimed = await self.storage.claim_reminders(
                [_row(p, "sending", sum(1 for x in p.recipients if channels.reaches(x)))
                 for p in chunk], sweep_id)
            corrections: list[tuple[str, str, str, str, int]] = []
            retry: list[tuple[str, str, str, str]] = []
            recorder = _Recorder(self.storage, sweep_id)
            try:
                await self._send_chunk(chunk, claimed, channels, now, recorder, result,
                                       corrections, retry, progress_cache, units_of, blocked,
                                       turns)
                await recorder.close()
            finally:  # cancelled: as a crash, what was accepted is recorded or in flight
                if recorder.task is not None:
                    recorder.task.cancel()
            await self.storage.finish_reminders(sweep_id, corrections, retry)
            if self.stopping:
                break  # later chunks were never claimed
        if result.sent or result.skipped or result.failed:
            log.info("reminders: %d sent (%d messages), %d stale skipped, %d blocked, "
                     "%d failed", result.sent, result.messages, result.skipped, result.blocked,
                     result.failed)
        return result

    async def _send_chunk(self, chunk: list[Planned], claimed: set[tuple[str, str, str, str]],
                          channels: Channels, now: datetime, recorder: _Recorder,
                          result: SweepResult,
                          corrections: list[tuple[str, str, str, str, int]],
                          retry: list[tuple[str, str, str, str]],
                          progress_cache: dict[tuple[str, str], dict[str, tuple[int, int]]],
                          units_of: dict[int, list[str]], blocked: set[int],
                          turns: Turns) -> None:
        """Push a claimed chunk; each reminder's outcome goes to `recorder` (sent) or
        `retry` (reached nobody) as soon as its pushes return."""
        for p in chunk:
            await turns.take()
            if _key(p) not in claimed:
                continue  # another sweep has it
            if self.stopping:  # shutting down: not sent, so released for the next start
                retry.append(_key(p))
                continue
            key = (p.window.template.id, p.window.period.id)
            if key not in progress_cache:
                progress_cache[key] = await self._progress(p.window)
            text = reminder_text(p.window, p.slot, p.unit.name,
                                 progress_cache[key].get(p.unit.code), now, self.zone)
            delivered = planned = failed = 0
            for person in p.recipients:
                if self.stopping:
                    break
                # Blocked, or on a channel not running here: not a failure to retry.
                if not channels.reaches(person) or person.id in blocked:
                    continue
                planned += 1
                button = _button(p, units_of.get(person.id, []))
                outcome = await channels.send(person, Reply(text, [[button]]))
                if outcome == "sent":
                    delivered += 1
                elif outcome == "blocked":
                    blocked.add(person.id)
                    result.blocked += 1
                    await self.storage.set_reachable(person.id, False)
                else:
                    failed += 1
            result.failed += failed
            if (failed or self.stopping) and not delivered:
                retry.append(_key(p))  # nobody got it: the next sweep tries again
                continue
            if delivered != planned:
                corrections.append((*_key(p), delivered))
            recorder.add(_key(p), delivered if delivered != planned else None)
            result.sent += 1
            result.messages += delivered
            result.planned.append(p)

    async def _progress(self, w: Window) -> dict[str, tuple[int, int]]:
        """unit → (answered, total) of its draft, against the version it was started on."""
        drafts = await self.storage.draft_progress(w.template.id, w.period.id)
        versions: dict[int, Template] = {}
        out = {}
        turns = Turns()
        for unit, d in drafts.items():
            await turns.take()
            if d.template_version not in versions:
                stored = await self.storage.get_template(d.template_id, d.template_version)
                versions[d.template_version] = stored or w.template
            out[unit] = progress(versions[d.template_version], d.answers)
        return out

    async def preview(self, start: date, end: date) -> list[Planned]:
        """Every reminder that would go out from `start` to `end` (inclusive), given today's
        submissions and ledger, assuming the bot runs throughout. Sends nothing."""
        first = datetime.combine(start, time(0), tzinfo=self.zone)
        last = datetime.combine(end + timedelta(days=1), time(0), tzinfo=self.zone)
        tree = await self._tree()
        officers = await self.storage.officers_by_unit()
        out: list[Planned] = []
        for t in sorted(self.templates.values(), key=lambda t: t.id):
            policy = self.policies[t.id]
            for w in windows_between(t, start, end, self.zone, self.lock_days):
                slots = [s for s in slots_for(w, policy, self.zone) if first <= s.at < last]
                if not slots:
                    continue
                submitted = await self.storage.submitted_units(t.id, w.period.id)
                ledger = await self.storage.reminder_ledger(t.id, w.period.id)
                for unit in tree.expected_for(t.id, w.period):
                    if unit.code in submitted:
                        continue
                    people = [p for p in officers.get(unit.code, []) if p.reachable]
                    out.extend(Planned(unit, w, s, people) for s in slots
                               if s.kind not in ledger.get(unit.code, NOTHING))
        return sorted(out, key=lambda p: (p.slot.at, p.unit.code, p.window.template.id))


def _row(p: Planned, status: str, recipients: int) -> tuple[str, str, str, str, str, str, int]:
    return (p.unit.code, p.window.template.id, p.window.period.id, p.slot.kind, status,
            p.slot.at.isoformat(), recipients)


def _button(p: Planned, person_units: list[str]) -> Button:
    return report_now_button(p.unit.code, p.window.template.id, p.window.period.id,
                             person_units)


def report_now_button(unit: str, template: str, period: str, person_units: list[str]
                      ) -> Button:
    """'Báo cáo ngay': names the unit by code, so it stays right if the person joins another
    unit before pressing it (falls back to the /baocao position if the code is too long)."""
    # On channels without buttons (Zalo) the line under the text says to type /baocao: a
    # command, which works whatever the person's conversation is.
    try:
        return Button.of(M.BUTTON_REPORT_NOW, ReportNow(unit, template, period), M.KW_REPORT)
    except ButtonDataError:
        slot = person_units.index(unit) if unit in person_units else 0
        return Button.of(M.BUTTON_REPORT_NOW, OpenReport(slot, template, period), M.KW_REPORT)


def _key(p: Planned) -> tuple[str, str, str, str]:
    return (p.unit.code, p.window.template.id, p.window.period.id, p.slot.kind)

