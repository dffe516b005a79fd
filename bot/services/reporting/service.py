"""The transaction boundary of the dialogue: one inbound event in, its replies out.

Each event of a person is handled after the previous one of that person, whatever channel it
came from (two messages at once would otherwise be judged against the same stale state). The
features decide what to say and what to write; everything one event writes (answers, the
conversation, the event id for de-duplication) is committed in one transaction before its
replies are returned. On a channel with a courier (Telegram), the replies are written in that
same transaction (the outbox) and handed to the courier after the commit: a crash, a 429 or a
timeout delays a reply but never loses it, and the same event delivered again gets its stored
replies again. Messages the event causes for other people (`Ctx.pushes`) go into the outbox of
the same transaction, on the recipients' own channels.

An answer is taken for the question the person was last shown: while a reply to them is still
undelivered, what they type is not stored; they are told so and shown the question again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.config import DigestsConfig, OrganizationConfig, RemindersConfig
from bot.domain import messages_vi as M
from bot.domain.conversation import Conversation, Mode
from bot.domain.dialogue import Reply
from bot.domain.templates import Template
from bot.services.channels import Channels, Inbound
from bot.services.delivery import REMINDER, REPLY, Courier, Parcel
from bot.services.reporting import joining, lifecycle, on_behalf, routes, screens
from bot.services.reporting.context import Ctx, Deps
from bot.services.reporting.notices import notice
from bot.services.units import UnitDirectory
from storage.interface import DraftChanged, NudgeRefused, ReviewRefused, Storage
from storage.models import Changes, Membership, Outgoing, Person

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
IDLE = Conversation()  # never changed: every event works on a copy


BOUND_MODES = frozenset({Mode.QUESTION, Mode.SUMMARY})  # where typed text answers what is shown


def _typed(event: Inbound) -> bool:
    """Typed text or a photo: an answer to what is on screen (a button carries its own; a
    document answers no question)."""
    return (event.command is None and event.button is None and event.other is None
            and event.document is None)


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

    # How often the roster stamp is read: `baocao people remove|role` (another process)
    # reaches a running bot within this many seconds.
    ROSTER_TTL = 15.0

    def __init__(self, storage: Storage, templates: dict[str, Template],
                 versions: dict[str, int], *, zone: ZoneInfo, lock_days: int,
                 clock: Clock, units: UnitDirectory | None = None,
                 channels: Channels | None = None,
                 digests: DigestsConfig | None = None,
                 reminders: RemindersConfig | None = None,
                 organization: OrganizationConfig | None = None) -> None:
        self.storage = storage
        self.clock = clock
        self.channels = channels or Channels()
        self.deps = Deps(storage, templates, versions, zone=zone, lock_days=lock_days,
                         units=units or UnitDirectory(storage, templates))
        self.deps.pictures = self.channels.sends_pictures
        if digests is not None:
            self.deps.digest_settings = digests
        if reminders is not None:
            self.deps.reminder_settings = reminders
        if organization is not None:
            self.deps.organization = organization
        self._queue = PersonQueue()
        # This process is the only writer of people, memberships and conversations, so what is
        # cached here stays true.
        self._people: dict[tuple[str, str], Person] = {}
        self._memberships: dict[int, list[Membership]] = {}
        self._states: dict[int, Conversation] = {}
        self._warmed = False  # after warm(), a person without a cached state has none
        self._roster_stamp: str | None = None
        self._roster_read = -self.ROSTER_TTL

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

    async def _handle(self, event: Inbound, again: bool = False) -> list[Reply]:
        now = self.clock()
        await self._roster_fresh()
        courier = self.channels.courier(event.channel)
        if event.command == "start" and event.argument.strip():
            return await self._join(event, event.argument, now, courier)
        person = await self._person(event.channel, event.user_id)
        if person is None:
            if event.text and joining.looks_like_code(event.text):
                return await self._join(event, event.text, now, courier)
            return await self._reply_only(event, None, [Reply(M.JOIN_HELP)], courier)
        if await self.storage.is_unreachable(person.id):  # they blocked the bot, now write
            await self.storage.set_reachable(person.id, True)
        stored = await self._state(person.id)
        memberships, acting_for = await on_behalf.acting(
            self.deps, await self._memberships_of(person.id), stored.for_unit)
        ctx = Ctx(person, memberships, stored.copy(), Changes(actor=person.id), now,
                  on_behalf=acting_for)
        if stored.for_unit is not None and acting_for is None:  # no longer theirs to enter
            ctx.conversation.for_unit = None
        if event.event_id is not None:
            ctx.changes.event = (event.channel, event.event_id)
        if courier is not None and _typed(event) and stored.mode in BOUND_MODES and (
                await courier.settle(event.chat)
                or courier.typed_before_last_reply(event.chat, event.message_id)):
            replies = await self._not_shown_yet(ctx, event)
        else:
            replies = await routes.route(self.deps, ctx, event)
        for changed in self.deps.roster_changed:  # /quanly removed or changed them: read again
            self._memberships.pop(changed, None)
        self.deps.roster_changed.clear()
        routes.remember_buttons(ctx.conversation, replies)
        if ctx.conversation != stored:
            ctx.changes.conversation = (person.id, ctx.conversation.to_json())
        parcels = self._outbox(courier, event, person.id, replies, ctx.changes)
        parcels += await self._pushes(ctx)
        try:
            applied = await self.storage.apply(ctx.changes)
        except DraftChanged as e:
            # Another officer of the unit sent, cancelled or changed this draft meanwhile.
            log.info("conflicting change for person %s: %s", person.id, e)
            # Nothing of this event was written: the cached conversation is still the stored
            # one, and only the drafts must be read again.
            self.deps.drafts.forget_all()
            if isinstance(e, NudgeRefused) and not again:
                # another supervisor nudged some of these units meanwhile: decided afresh
                # from the ledger as it is now (the others are nudged, those not again)
                return await self._handle(event, again=True)
            told = (M.REVIEW_CHANGED if isinstance(e, ReviewRefused)
                    else M.NUDGE_RACED if isinstance(e, NudgeRefused)
                    else M.CHANGED_BY_COLLEAGUE)
            return await self._reply_only(event, person.id, [Reply(told)], courier)
        if not applied:
            self._repeat(event)
            return []
        if ctx.conversation != IDLE:
            self._states[person.id] = ctx.conversation
        else:
            self._states.pop(person.id, None)
        self.deps.drafts.after_commit(ctx.changes, ctx.now)
        self.deps.notices.after_commit(ctx.changes)
        self._hand_over(parcels, ctx.changes)
        return replies

    async def _not_shown_yet(self, ctx: Ctx, event: Inbound) -> list[Reply]:
        """The person typed while our last reply had not reached them: they cannot have seen
        the question it asks, so nothing is stored; say so and show what is asked now."""
        note = M.not_shown_yet(event.text if event.photo is None else M.A_PHOTO)
        if ctx.conversation.mode is Mode.SUMMARY:
            return [Reply(note), *await lifecycle.to_summary(self.deps, ctx)]
        again = await screens.ask_again(self.deps, ctx, note=None)
        return [Reply(note), *again] if again else [Reply(note)]

    def _outbox(self, courier: Courier | None, event: Inbound, person_id: int | None,
                replies: list[Reply], changes: Changes) -> list[tuple[Courier, Parcel]]:
        """The replies as the channel's calls, added to the event's changes for the outbox."""
        if courier is None or not replies:
            return []
        chat = event.chat
        parcels = [Parcel(Outgoing(event.channel, chat, json.dumps(p, ensure_ascii=False),
                                   person_id, event.event_id, REPLY), p)
                   for p in courier.render(event, chat, replies)]
        changes.outbox.extend(p.message for p in parcels)
        return [(courier, p) for p in parcels]

    async def _pushes(self, ctx: Ctx) -> list[tuple[Courier, Parcel]]:
        """The event's messages to other people, added to its changes for the outbox (after
        its replies), each rendered by the courier of the recipient's own channel. Someone
        no message can reach now (blocked the bot, or their channel has no courier here) gets
        a notice on their next message instead."""
        out: list[tuple[Courier, Parcel]] = []
        for push in ctx.pushes:
            person = push.person
            courier = self.channels.courier(person.channel)
            if (courier is None or not person.reachable
                    or await self.storage.is_unreachable(person.id)):
                log.debug("person %s cannot be reached on %s now: told by a notice",
                          person.id, person.channel)
                ctx.changes.ops.append(notice(person.id, push.reply.text))
                continue
            chat = person.external_id
            for payload in courier.render(None, chat, [push.reply]):
                message = Outgoing(person.channel, chat,
                                   json.dumps(payload, ensure_ascii=False), person.id, None,
                                   REMINDER)
                out.append((courier, Parcel(message, payload)))
        ctx.changes.outbox.extend(p.message for _, p in out)
        return out

    @staticmethod
    def _hand_over(parcels: list[tuple[Courier, Parcel]], changes: Changes) -> None:
        """After the commit: the stored messages go to their channels' couriers (rows in the
        order they were added to `changes.outbox`)."""
        if not parcels:
            return
        by_courier: dict[str, tuple[Courier, list[Parcel]]] = {}
        for (courier, parcel), row in zip(parcels, changes.outbox_ids, strict=True):
            parcel.row = row
            by_courier.setdefault(courier.channel, (courier, []))[1].append(parcel)
        for courier, queued in by_courier.values():
            courier.enqueue(queued)

    async def _reply_only(self, event: Inbound, person_id: int | None, replies: list[Reply],
                          courier: Courier | None) -> list[Reply]:
        """Replies of an event that changes nothing else: stored and marked handled too, so
        the same event delivered again is answered the same, not handled twice."""
        if courier is None:
            return replies
        changes = Changes(actor=person_id or 0)
        if event.event_id is not None:
            changes.event = (event.channel, event.event_id)
        parcels = self._outbox(courier, event, person_id, replies, changes)
        if not await self.storage.apply(changes):
            self._repeat(event)
            return []
        self._hand_over(parcels, changes)
        return replies

    @staticmethod
    def _repeat(event: Inbound) -> None:
        """The same event again (Telegram delivers again what it was not told arrived): it
        changes nothing, and its replies, stored with it, are delivered (or already were)."""
        log.info("duplicate event %s/%s ignored; its stored replies stand", event.channel,
                 event.event_id)

    async def _join(self, event: Inbound, code: str, now: datetime,
                    courier: Courier | None) -> list[Reply]:
        replies, person, memberships = await joining.join(self.deps, event, code, now)
        if person is not None and memberships is not None:
            self._people[(event.channel, event.user_id)] = person
            self.deps.names[person.id] = person.display_name
            self._memberships[person.id] = memberships
        return await self._reply_only(event, person.id if person else None, replies, courier)

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

    async def _roster_fresh(self) -> None:
        """Memberships changed by another process (`baocao people …`): every cached one is
        read again (rare; the stamp is read at most every ROSTER_TTL seconds)."""
        if time.monotonic() - self._roster_read < self.ROSTER_TTL:
            return
        self._roster_read = time.monotonic()
        stamp = await self.storage.roster_stamp()
        if self._roster_stamp is not None and stamp != self._roster_stamp:
            log.info("roster changed: memberships read again")
            self._memberships.clear()
        self._roster_stamp = stamp

    async def _memberships_of(self, person_id: int) -> list[Membership]:
        cached = self._memberships.get(person_id)
        if cached is None:
            cached = self._memberships[person_id] = await self.storage.memberships(person_id)
        return cached
