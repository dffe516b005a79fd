"""Scheduled digests: each supervisor (and admin) gets, for every report owed in their
subtree, the /tonghop digest on the morning of the last on-time day, the morning after the due
instant and weekly while the window is open (bot.domain.digest_slots).

Exactly once: a digest's ledger row (person, template, period, root unit, kind) and the outbox
rows carrying it are written in one transaction, then handed to the channel's courier. A crash
before the commit leaves neither (the next sweep sends it); after it, both (the outbox delivers
it on restart); two sweeps at once write it once (the key decides). After downtime only the
newest due digest of a window goes out; older ones are recorded as skipped.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.config import DigestsConfig, RemindersConfig
from bot.domain import messages_vi as M
from bot.domain.dialogue import Reply
from bot.domain.digest import Digest, DigestError, build
from bot.domain.digest_slots import (
    AFTER_DUE,
    DigestPolicy,
    DigestSlot,
    last_on_time_day,
    pick,
    slots_for,
)
from bot.domain.reminders import in_quiet_hours
from bot.domain.reports import Window, open_windows, windows_between
from bot.domain.roles import Role
from bot.domain.templates import Template
from bot.domain.units import Unit
from bot.services import digests
from bot.services.channels import Channels
from bot.services.delivery import REMINDER, Courier, Parcel
from bot.services.reporting.tonghop import page_of
from bot.services.turns import Turns
from bot.services.units import UnitDirectory, UnitTree
from storage.interface import DigestKey, DigestRecord, Storage
from storage.models import Outgoing, Person

log = logging.getLogger(__name__)
NOTHING: frozenset[str] = frozenset()
CHUNK = 200  # digests written per transaction
SENT, SKIPPED, EMPTY = "sent", "skipped", "empty"  # ledger statuses


def policy_for(t: Template, defaults: DigestsConfig, quiet: RemindersConfig) -> DigestPolicy:
    own = t.digests
    send = own.send if own is not None and own.send is not None else defaults.send
    return DigestPolicy(
        send=frozenset(send),
        send_at=own.send_at if own and own.send_at else defaults.send_at,
        weekly_on=own.weekly_on if own and own.weekly_on else defaults.weekly_on,
        quiet_start=quiet.quiet_start, quiet_end=quiet.quiet_end)


@dataclass(frozen=True)
class Planned:
    """One digest decided: `status` 'sent' (to build and send), 'skipped' (stale after
    downtime) or 'empty' (nothing still owed: recorded, not sent)."""

    person: Person
    root: str
    window: Window
    slot: DigestSlot
    status: str

    @property
    def key(self) -> DigestKey:
        return (self.person.id, self.window.template.id, self.window.period.id, self.root,
                self.slot.kind)


@dataclass
class DigestResult:
    sent: int = 0  # digests recorded with their messages
    skipped: int = 0  # stale ones recorded as skipped, or empty (nothing owed)
    unreachable: int = 0  # not sent now: blocked, or their channel does not run here
    quiet: bool = False
    planned: list[Planned] = field(default_factory=list)


class DigestSweep:
    def __init__(self, storage: Storage, templates: dict[str, Template], *, zone: ZoneInfo,
                 lock_days: int, defaults: DigestsConfig, reminders: RemindersConfig,
                 clock: Callable[[], datetime], units: UnitDirectory,
                 channels: Channels) -> None:
        self.storage = storage
        self.templates = templates
        self.zone = zone
        self.lock_days = lock_days
        self.clock = clock
        self.units = units
        self.channels = channels
        self.defaults = defaults  # [digests]: escalation's threshold in the digest's text
        self.quiet = DigestPolicy(quiet_start=reminders.quiet_start,
                                  quiet_end=reminders.quiet_end).quiet
        self.policies = {t.id: policy_for(t, defaults, reminders) for t in templates.values()}
        # (template, period) → (tree, roots, units owing grouped by their watched ancestors,
        # how many owe under each root)
        self._expected_memo: dict[tuple[str, str], tuple[
            UnitTree, frozenset[str], dict[tuple[str, ...], list[str]], dict[str, int]]] = {}
        # Set when the bot stops: a sweep in progress builds nothing more (what it has not
        # recorded is decided again at the next start).
        self.stopping = False

    # --- deciding ------------------------------------------------------------------------------

    async def _watched(self, tree: UnitTree) -> list[tuple[Person, list[str]]]:
        """Each supervisor or admin with the roots of their subtrees (a unit inside another
        root of theirs is dropped: its digest would repeat part of the larger one)."""
        by_person: dict[int, tuple[Person, list[str]]] = {}
        for person, code, role in await self.storage.watchers():
            if role in (Role.SUPERVISOR, Role.ADMIN) and code in tree.units:
                roots = by_person.setdefault(person.id, (person, []))[1]
                if code not in roots:
                    roots.append(code)
        out = []
        for person, roots in by_person.values():
            chosen = set(roots)
            kept = [r for r in roots
                    if not any(a in chosen for a in _ancestors(r, tree.units)[1:])]
            out.append((person, kept))
        return out

    async def plan(self, now: datetime, reachable_only: bool = False) -> list[Planned]:
        """The digests to handle now (send, skip as stale, record as empty), given the ledger
        and submissions; `reachable_only`: for the people a message can reach now (the
        others' digests wait, unrecorded, and must not make every minute decide again)."""
        turns = Turns()
        tree = await self.units.tree(turns)
        watched = await self._watched(tree)
        if reachable_only:
            watched = [(p, roots) for p, roots in watched if self.channels.reaches(p)
                       and self.channels.courier(p.channel) is not None]
        if not watched:
            return []
        roots = frozenset(r for _, rs in watched for r in rs)
        chains: dict[str, tuple[str, ...]] = {}
        out: list[Planned] = []
        for t in sorted(self.templates.values(), key=lambda t: t.id):
            policy = self.policies[t.id]
            if not policy.send:
                continue
            for w in open_windows(t, now, self.zone, self.lock_days):
                due = [s for s in slots_for(w, policy, self.zone) if s.at <= now]
                if not due:
                    continue
                owing, expected = self._expected(t, w, tree, roots, chains)
                if not expected:
                    continue
                ledger = await self.storage.digest_ledger(t.id, w.period.id)
                kinds = {s.kind for s in due}
                if all(kinds <= ledger.get((person.id, root), NOTHING)
                       for person, person_roots in watched for root in person_roots
                       if expected.get(root)):
                    continue  # every due digest handled: most minutes end here
                missing = await self._missing(t, w, owing)
                decided: dict[frozenset[str], tuple[DigestSlot | None, list[DigestSlot]]] = {}
                for person, person_roots in watched:
                    await turns.take()
                    for root in person_roots:
                        if not expected.get(root):
                            continue  # nothing owed in their subtree
                        handled = ledger.get((person.id, root), NOTHING)
                        if handled not in decided:
                            decided[handled] = pick([s for s in due if s.kind not in handled],
                                                    now, w)
                        chosen, stale = decided[handled]
                        out.extend(Planned(person, root, w, s, SKIPPED) for s in stale)
                        if chosen is not None:
                            # only the after-due digest is worth sending when all have sent
                            empty = chosen.family != AFTER_DUE and not missing.get(root)
                            out.append(Planned(person, root, w, chosen,
                                               EMPTY if empty else SENT))
        return out

    def _expected(self, t: Template, w: Window, tree: UnitTree, roots: frozenset[str],
                  chains: dict[str, tuple[str, ...]]
                  ) -> tuple[dict[tuple[str, ...], list[str]], dict[str, int]]:
        """The units owing the report grouped by their watched ancestors (a district's
        communes share one group), and how many owe it under each watched root; kept while
        the unit tree and the roots are the same (the sweep asks every minute, the answer
        changes when units do)."""
        key = (t.id, w.period.id)
        kept = self._expected_memo.get(key)
        if kept is not None and kept[0] is tree and kept[1] == roots:
            return kept[2], kept[3]
        owing: dict[tuple[str, ...], list[str]] = {}
        expected: dict[str, int] = {}
        for unit in tree.expected_for(t.id, w.period):
            chain = _watched_above(unit.code, tree.units, roots, chains)
            if chain:
                owing.setdefault(chain, []).append(unit.code)
        for chain, codes in owing.items():
            for a in chain:
                expected[a] = expected.get(a, 0) + len(codes)
        if len(self._expected_memo) > 64:
            self._expected_memo.clear()
        self._expected_memo[key] = (tree, roots, owing, expected)
        return owing, expected

    async def _missing(self, t: Template, w: Window, owing: dict[tuple[str, ...], list[str]]
                       ) -> dict[str, int]:
        """How many units of each watched root's subtree have not sent the report (a
        returned report counts as not sent)."""
        submitted = await self.storage.submitted_units(t.id, w.period.id)
        if t.review:
            returned = {code for code, state in
                        (await self.storage.review_states(t.id, w.period.id)).items()
                        if state == "returned"}
            submitted -= returned
        missing: dict[str, int] = {}
        for chain, codes in owing.items():
            n = sum(1 for code in codes if code not in submitted)
            if n:
                for a in chain:
                    missing[a] = missing.get(a, 0) + n
        return missing

    # --- sending -------------------------------------------------------------------------------

    async def sweep(self) -> DigestResult:
        """Handle what is due: build and store the digests with their messages, then hand
        the messages to the couriers."""
        now = self.clock()
        result = DigestResult()
        if in_quiet_hours(now.astimezone(self.zone).time(), self.quiet):
            result.quiet = True
            return result
        planned = await self.plan(now, reachable_only=True)
        if not planned:
            return result
        tree = await self.units.tree()
        names = {code: u.name for code, u in tree.units.items()}
        # Each distinct digest (report, period, root) is built once per sweep, however many
        # supervisors share it; the reads and the engine's memo live for this sweep only (a
        # few sweeps a day send anything: nothing is held in memory in between).
        built: dict[tuple[str, str, str], Digest | None] = {}
        reads = digests.Reads(size=1)
        turns = Turns()
        for i in range(0, len(planned), CHUNK):
            if self.stopping:
                break
            records: list[DigestRecord] = []
            parcels: dict[DigestKey, list[tuple[Courier, Parcel]]] = {}
            for p in planned[i:i + CHUNK]:
                await turns.take()
                messages: list[Outgoing] = []
                if p.status == SENT and self.stopping:
                    continue
                if p.status == SENT:
                    courier = self.channels.courier(p.person.channel)
                    if courier is None or not self.channels.reaches(p.person):
                        result.unreachable += 1
                        continue  # not recorded: sent when they can be reached
                    reply = await self._reply(p, now, tree, names, built, reads,
                                              courier.buttons)
                    if reply is None:
                        continue
                    chat = p.person.external_id
                    out = [Parcel(Outgoing(p.person.channel, chat,
                                           json.dumps(payload, ensure_ascii=False),
                                           p.person.id, None, REMINDER), payload)
                           for payload in courier.render(None, chat, [reply])]
                    parcels[p.key] = [(courier, x) for x in out]
                    messages = [x.message for x in out]
                records.append((p.key, p.status, p.slot.at.isoformat(), messages))
            stored = await self.storage.store_digests(records)
            for p in planned[i:i + CHUNK]:
                if p.key not in stored:
                    continue  # another sweep recorded it first, or not recorded
                result.planned.append(p)
                if p.status == SENT:
                    result.sent += 1
                    for (courier, parcel), row in zip(parcels[p.key], stored[p.key],
                                                      strict=True):
                        parcel.row = row
                        courier.enqueue([parcel])
                else:
                    result.skipped += 1
        if result.sent or result.skipped:
            log.info("digests: %d sent, %d skipped or empty, %d unreachable now", result.sent,
                     result.skipped, result.unreachable)
        return result

    async def _reply(self, p: Planned, now: datetime, tree: UnitTree, names: dict[str, str],
                     built: dict[tuple[str, str, str], Digest | None], reads: digests.Reads,
                     buttons: bool) -> Reply | None:
        """The digest's /tonghop page 1 under a heading naming the scheduled digest."""
        t, w = p.window.template, p.window
        key = (t.id, w.period.id, p.root)
        if key not in built:
            try:
                inp = await digests.gather(self.storage, t, w.period, p.root, now, self.zone,
                                           self.lock_days, units=tree.units, cache=reads,
                                           settings=self.defaults)  # escalation's threshold
                # A district's digest rolls up each of its communes (~150 ms at 100 of them):
                # in a thread, so chats are not held while 100 districts are built.
                built[key] = await asyncio.to_thread(build, inp)
            except DigestError:
                log.warning("no digest of %s %s over %s", t.id, w.period.id, p.root)
                built[key] = None
            except Exception:
                # One digest that cannot be built (a bug, odd data) must not hold back every
                # other supervisor's: it stays unrecorded and is tried again next sweep.
                log.exception("digest of %s %s over %s failed", t.id, w.period.id, p.root)
                built[key] = None
        d = built[key]
        if d is None:
            return None
        text, rows = page_of(d, 0, names, now.astimezone(self.zone), files=buttons)
        heading = M.digest_scheduled_heading(p.slot.family, last_on_time_day(w, self.zone))
        if not buttons:
            return Reply(f"{heading}\n{text}\n{M.DIGEST_SCHEDULED_TYPE}")
        return Reply(f"{heading}\n{text}", rows, numbered=True)

    # --- preview -------------------------------------------------------------------------------

    async def preview(self, start: date, end: date) -> list[Planned]:
        """Every digest that would go out from `start` to `end` (inclusive, local days) given
        today's ledger, assuming the bot runs throughout and nothing more is sent (a digest
        that would find everything sent is listed too). Sends nothing."""
        first = datetime.combine(start, time(0), tzinfo=self.zone)
        last = datetime.combine(end + timedelta(days=1), time(0), tzinfo=self.zone)
        tree = await self.units.tree()
        watched = await self._watched(tree)
        roots = frozenset(r for _, rs in watched for r in rs)
        chains: dict[str, tuple[str, ...]] = {}
        out: list[Planned] = []
        for t in sorted(self.templates.values(), key=lambda t: t.id):
            policy = self.policies[t.id]
            for w in windows_between(t, start, end, self.zone, self.lock_days):
                slots = [s for s in slots_for(w, policy, self.zone) if first <= s.at < last]
                if not slots:
                    continue
                _, expected = self._expected(t, w, tree, roots, chains)
                ledger = await self.storage.digest_ledger(t.id, w.period.id)
                for person, person_roots in watched:
                    for root in person_roots:
                        if expected.get(root):
                            handled = ledger.get((person.id, root), NOTHING)
                            out.extend(Planned(person, root, w, s, SENT) for s in slots
                                       if s.kind not in handled)
        return sorted(out, key=lambda p: (p.slot.at, p.person.id, p.root,
                                          p.window.template.id))


def _ancestors(code: str, units: dict[str, Unit]) -> list[str]:
    """The unit, its parent, … up to the top."""
    out: list[str] = []
    current: str | None = code
    while current is not None and current in units and current not in out:
        out.append(current)
        current = units[current].parent_code
    return out


def _watched_above(code: str, units: dict[str, Unit], roots: frozenset[str],
                   chains: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The watched roots among the unit and its ancestors, nearest first: one tuple shared by
    every unit with the same ones, each unit of the tree walked once (`chains` remembers)."""
    path: list[str] = []
    current: str | None = code
    while current is not None and current in units and current not in chains:
        if current in path:  # a cycle in a damaged tree: stop there
            break
        path.append(current)
        current = units[current].parent_code
    above = chains.get(current, ()) if current is not None else ()
    for c in reversed(path):
        if c in roots:
            above = (c, *above)
        chains[c] = above
    return chains.get(code, above)
