"""The transaction boundary of the dialogue: one inbound event in, its replies out.

Each event of a person is handled after the previous one of that person, whatever channel it
came from (two messages at once would otherwise be judged against the same stale state). The
features decide what to say and what to write; everything one event writes (answers, the
conversation, the event id for de-duplication) is committed in one transaction before its
replies are returned.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain import messages_vi as M
from bot.domain.conversation import Conversation
from bot.domain.dialogue import Reply
from bot.domain.templates import Template
from bot.services.channels import Inbound
from bot.services.reporting import joining, routes
from bot.services.reporting.context import Ctx, Deps
from bot.services.units import UnitDirectory
from storage.interface import DraftChanged, Storage
from storage.models import Changes, Membership, Person

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
IDLE = Conversation()  # never changed: every event works on a copy


class PersonQueue:
    """One event per person at a time, in arrival order (asyncio.Lock wakes waiters FIFO)."""

    def __init__(self) -> None:
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}

    def enter(self, key: tuple[str, str]) -> asyncio.Lock:
        """The person's lock, counted as wanted; every `enter` is paired with a `leave`."""
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        return lock

    def leave(self, key: tuple[str, str]) -> None:
        lock, users = self._locks[key]
        if users == 1:  # nobody else waiting: forget the person, memory stays small
            del self._locks[key]
        else:
            self._locks[key] = (lock, users - 1)


class ReportingService:
    """Turns inbound chat events into replies; shared by every channel."""

    def __init__(self, storage: Storage, templates: dict[str, Template],
                 versions: dict[str, int], *, zone: ZoneInfo, lock_days: int,
                 clock: Clock, units: UnitDirectory | None = None) -> None:
        self.storage = storage
        self.clock = clock
        self.deps = Deps(storage, templates, versions, zone=zone, lock_days=lock_days,
                         units=units or UnitDirectory(storage, templates))
        self._queue = PersonQueue()
        # This process is the only writer of people, memberships and conversations, so what is
        # cached here stays true.
        self._people: dict[tuple[str, str], Person] = {}
        self._memberships: dict[int, list[Membership]] = {}
        self._states: dict[int, Conversation] = {}
        self._warmed = False  # after warm(), a person without a cached state has none

    async def warm(self) -> int:
        """Load every chat user's record, memberships, conversation and pending notices in four
        queries, so the first message after a start costs no database round trips; return how
        many people.

        After a restart (or a reminder) hundreds of officers write within seconds; without this
        each first message waits for three reads (bench/dialogue_throughput.py)."""
        people = await self.storage.all_people()
        memberships = await self.storage.all_memberships()
        states = await self.storage.all_conversations()
        await self.deps.notices.warm()
        for person in people:
            self._people.setdefault((person.channel, person.external_id), person)
            self.deps.names.setdefault(person.id, person.display_name)
            self._memberships.setdefault(person.id, memberships.get(person.id, []))
        for person_id, state in states.items():  # most people have none: nothing kept
            if state:
                self._states.setdefault(person_id, Conversation.from_json(state))
        self._warmed = True
        return len(people)

    async def handle(self, event: Inbound) -> list[Reply]:
        """Handle one event; a repeated `event_id` gets no replies and changes nothing."""
        key = (event.channel, event.user_id)
        lock = self._queue.enter(key)
        try:
            async with lock:
                return await self._handle(event)
        finally:
            self._queue.leave(key)

    async def _handle(self, event: Inbound) -> list[Reply]:
        now = self.clock()
        if event.command == "start" and event.argument.strip():
            return await self._join(event, event.argument, now)
        person = await self._person(event.channel, event.user_id)
        if person is None:
            if event.text and joining.looks_like_code(event.text):
                return await self._join(event, event.text, now)
            return [Reply(M.JOIN_HELP)]
        if await self.storage.is_unreachable(person.id):  # they blocked the bot, now write
            await self.storage.set_reachable(person.id, True)
        stored = await self._state(person.id)
        ctx = Ctx(person, await self._memberships_of(person.id), stored.copy(),
                  Changes(actor=person.id), now)
        if event.event_id is not None:
            ctx.changes.event = (event.channel, event.event_id)
        replies = await routes.route(self.deps, ctx, event)
        routes.remember_buttons(ctx.conversation, replies)
        if ctx.conversation != stored:
            ctx.changes.conversation = (person.id, ctx.conversation.to_json())
        try:
            applied = await self.storage.apply(ctx.changes)
        except DraftChanged as e:
            # Another officer of the unit sent, cancelled or changed this draft meanwhile.
            log.info("conflicting change for person %s: %s", person.id, e)
            # Nothing of this event was written: the cached conversation is still the stored
            # one, and only the drafts must be read again.
            self.deps.drafts.forget_all()
            return [Reply(M.CHANGED_BY_COLLEAGUE)]
        if not applied:
            log.info("duplicate event %s ignored", ctx.changes.event)
            return []
        if ctx.conversation != IDLE:
            self._states[person.id] = ctx.conversation
        else:
            self._states.pop(person.id, None)
        self.deps.drafts.after_commit(ctx.changes, ctx.now)
        self.deps.notices.after_commit(ctx.changes)
        return replies

    async def _join(self, event: Inbound, code: str, now: datetime) -> list[Reply]:
        replies, person, memberships = await joining.join(self.deps, event, code, now)
        if person is not None and memberships is not None:
            self._people[(event.channel, event.user_id)] = person
            self.deps.names[person.id] = person.display_name
            self._memberships[person.id] = memberships
        return replies

    async def _person(self, channel: str, user_id: str) -> Person | None:
        key = (channel, user_id)
        person = self._people.get(key)
        if person is None:
            person = await self.storage.find_person(channel, user_id)
            if person is not None:
                self._people[key] = person
        return person

    async def _state(self, person_id: int) -> Conversation:
        """Where the person is (kept in memory: this process alone writes conversations)."""
        cached = self._states.get(person_id)
        if cached is None:
            if self._warmed:  # every stored state was loaded
                return IDLE
            cached = Conversation.from_json(await self.storage.get_conversation(person_id))
            self._states[person_id] = cached
        return cached

    async def _memberships_of(self, person_id: int) -> list[Membership]:
        cached = self._memberships.get(person_id)
        if cached is None:
            cached = self._memberships[person_id] = await self.storage.memberships(person_id)
        return cached
