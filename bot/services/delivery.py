"""Delivering what the bot says: in order per chat, within the messenger's limits, until the
messenger has it.

Replies are stored in the outbox by the transaction that stores their effects
(`bot/services/reporting/service.py`); a `Courier` per channel then delivers them. One chat's
messages go strictly one after another (an officer must see "✓ Đã lưu" before the next
question); different chats go concurrently. A 429 holds only its chat for `retry_after`, a
transient failure (network, 5xx, timeout) is retried with growing pauses, and only a permanent
refusal (the person blocked the bot) gives up. Replies to people who are answering go before
reminders and broadcasts waiting for the same limiter.

A message that was in flight when the process died is sent again after the restart: the
messenger cannot tell whether it arrived, and a repeated "✓ Đã lưu" is harmless where a
missing one makes the officer retype into the next question.

Broadcasts (announcements) are at least once too, for the same reason: their rows are claimed
a chunk at a time (pending → sending, bot/services/broadcast_pump.py) and each is recorded as
soon as the messenger accepted it (no RECORD_AFTER wait), so after a crash only a message in
flight, or accepted in the millisecond before its record, goes out twice; the rows still
'sending' go back to 'pending' at start. A repeated announcement costs a glance; an officer
who never got "hạn báo cáo lùi đến 10/6" misses a deadline. At most once would need the
messenger to tell us what arrived, and it cannot.

Replies keep their priority over a broadcast in progress at the channel's limiter too: at most
BACKGROUND_AT_LIMITER reminders or broadcast messages wait there at once, so a reply waits
behind a couple of them, not behind every worker's. The channel's limiter keeps a little below
the messenger's rate (OVERALL_MARGIN): the messenger's bucket then refills faster than it is
used and the network's jitter does not bunch calls over it (bench/broadcast.py). Its burst
stays at the messenger's 30: a burst of 3 spaced replies to 50 officers answering at once so
far apart that they retyped (tests/test_e2e_delivery.py's burst of 50 failed with it).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from aiolimiter import AsyncLimiter

from bot.domain.dialogue import Reply
from storage.models import Outgoing, Person, Stored

log = logging.getLogger(__name__)

REPLY, REMINDER, BROADCAST = 0, 1, 2  # priorities: lower goes first
# Deliveries are recorded this long after the first of them: one write for all that come
# meanwhile (a write per reply cost the one-at-a-time dialogue bench ~15%), and a crash in the
# gap only makes the next start send those replies again.
RECORD_AFTER = 0.02
BACKGROUND_AT_LIMITER = 2  # reminders and broadcast messages waiting at the channel's limiter
OVERALL_MARGIN = 0.98  # of the configured rate: the messenger's window is never overshot
OVERALL_BURST = 30  # messages at once after a pause (as the messenger allows)
SENT, UNREACHABLE, FAILED = "sent", "unreachable", "failed"  # outbox states once settled
Outcome = Literal["sent", "blocked", "failed"]  # of a push
Payload = dict[str, Any]  # one call of the channel's API, as its renderer built it


class Refused(Exception):
    """The messenger will never deliver to this chat (the person blocked the bot)."""


class Rejected(Exception):
    """This one message can never be delivered (malformed); later ones may be."""


class RetryLater(Exception):
    """The messenger asks to wait (HTTP 429 with retry_after)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds} s")
        self.seconds = seconds


class Transport(Protocol):
    """One channel's API. `deliver` returns the id of the message it created, when the channel
    numbers a chat's messages in one sequence with the person's (Telegram), else None; it
    raises Refused, Rejected or RetryLater as above; any other exception is transient."""

    async def deliver(self, chat_id: str, payload: Payload) -> int | None: ...


Render = Callable[[Any, str, list[Reply]], list[Payload]]  # (event or None, chat, replies)


@dataclass(slots=True, eq=False)
class Parcel:
    message: Outgoing
    payload: Payload
    row: int | None = None  # outbox row; None for a message not stored (a reminder, a copy)
    done: asyncio.Future[str] | None = None  # told the outcome (pushes wait for it)
    attempts: int = 0
    recovered: bool = False  # read back after a restart: perhaps delivered before it
    broadcast: bool = False  # a broadcast's row, claimed by the pump: recorded at once


@dataclass(frozen=True, slots=True)
class Limits:
    """Telegram's published limits: about 30 messages a second in all and one a second in a
    chat, with short bursts allowed. 0 turns a limit off (benchmarks of handling capacity)."""

    per_second: float = 30.0
    per_chat_per_second: float = 1.0
    chat_burst: int = 3


def backoff(attempts: int) -> float:
    """Seconds before the next try of a transient failure: 0.5, 1, 2 … at most 60."""
    return float(min(60.0, 0.5 * 2 ** (attempts - 1)))


class Courier:
    """Delivers one channel's messages; also the channel's `Sender` for pushes."""

    def __init__(self, channel: str, transport: Transport, render: Render, *,
                 record: Callable[[list[tuple[int, str]], dict[str, int]], Awaitable[object]],
                 unreachable: Callable[[int], Awaitable[object]],
                 limits: Limits = Limits(), workers: int = 16, push_attempts: int = 4,
                 pictures: bool = False, buttons: bool = True) -> None:
        self.channel = channel
        # Are a Reply's buttons pressed (Telegram), or typed as numbers that answer the
        # person's last screen (Zalo)? A pushed message's numbers would answer the wrong one.
        self.buttons = buttons
        # Can the channel show a Reply's picture? Where not, the renderer drops it and the
        # text goes alone; callers ask first so as not to draw a picture for nothing.
        self.pictures = pictures
        self.transport = transport
        self.render = render
        self._record = record  # settles outbox rows (id, state), in batches
        self._unreachable = unreachable  # person id → marked unreachable
        self.limits = limits
        burst = max(1, min(OVERALL_BURST, int(limits.per_second)))
        self._overall = (AsyncLimiter(burst, burst / (limits.per_second * OVERALL_MARGIN))
                         if limits.per_second else None)
        self._background = asyncio.Semaphore(BACKGROUND_AT_LIMITER)
        self._chat_limits: dict[str, tuple[AsyncLimiter, float]] = {}
        self._chats: dict[str, deque[Parcel]] = {}
        self._busy: set[str] = set()  # chats queued, being served, or waiting to retry
        self._attempt: dict[str, asyncio.Future[None]] = {}  # chat → its call in flight
        self._idle: dict[str, list[asyncio.Future[None]]] = {}  # chat → waiting for empty
        # chat → id of the last reply delivered there (recorded, so it survives a restart)
        self.last_reply: dict[str, int] = {}
        self._new_marks: dict[str, int] = {}
        self._ready: asyncio.PriorityQueue[tuple[int, int, str]] = asyncio.PriorityQueue()
        self._order = itertools.count()
        self._settled: list[tuple[int, str]] = []
        self._settled_broadcasts: list[float] = []  # when each settled broadcast row was
        self._tasks: list[asyncio.Task[None]] = []
        self._timers: set[asyncio.TimerHandle] = set()
        self._workers = workers
        self._push_attempts = push_attempts
        self._to_record = asyncio.Event()  # set when something was settled
        self._record_now = False  # a broadcast row was settled: no RECORD_AFTER wait
        self.broadcasts_queued = 0  # broadcast parcels not settled yet (the pump's gauge)
        # accepted by the messenger → recorded, for broadcast rows (seconds)
        self.record_lag_max = self.record_lag_total = 0.0
        self.record_lag_count = 0
        self._flushing = asyncio.Lock()
        self.delivered = 0  # counters for logs and benchmarks
        self.retried = 0

    # --- life ------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    def start(self) -> None:
        if self._tasks:
            return
        self._tasks = [asyncio.create_task(self._work(), name=f"courier-{self.channel}-{i}")
                       for i in range(self._workers)]
        self._tasks.append(asyncio.create_task(self._flush_forever(),
                                               name=f"courier-{self.channel}-flush"))

    async def stop(self) -> None:
        """Stop sending; what was not delivered stays pending in the outbox for the next
        start, and pushes waiting for an outcome are told 'failed'."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for queue in self._chats.values():
            for parcel in queue:
                if parcel.done is not None and not parcel.done.done():
                    parcel.done.set_result(FAILED)
        self._chats.clear()
        self.broadcasts_queued = 0
        self._busy.clear()
        for chat in list(self._idle):
            self._wake_idle(chat)
        await self.flush()

    async def drain(self, patience: float) -> None:
        """Wait until nothing is left to deliver, at most `patience` seconds."""
        deadline = time.monotonic() + patience
        while self._chats and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    # --- what the services call ---------------------------------------------------------------

    def enqueue(self, parcels: list[Parcel]) -> None:
        """Queue messages behind what their chat already has (order kept per chat)."""
        for parcel in parcels:
            chat = parcel.message.chat_id
            queue = self._chats.get(chat)
            if queue is None:
                queue = self._chats[chat] = deque()
            queue.append(parcel)
            self.broadcasts_queued += parcel.broadcast
            if chat not in self._busy:
                self._busy.add(chat)
                self._ready.put_nowait((parcel.message.priority, next(self._order), chat))

    async def delivered_all(self, chat_id: str) -> None:
        """Return once nothing is left to deliver to this chat (benchmarks, tests)."""
        if not self._chats.get(chat_id):
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._idle.setdefault(chat_id, []).append(waiter)
        await waiter

    def _wake_idle(self, chat: str) -> None:
        for waiter in self._idle.pop(chat, []):
            if not waiter.done():
                waiter.set_result(None)

    def stored(self, rows: list[Stored], broadcast: bool = False) -> list[Parcel]:
        """Parcels for outbox rows read back from the database (or claimed broadcast rows)."""
        return [Parcel(r.message, json.loads(r.message.payload), r.id, recovered=True,
                       broadcast=broadcast) for r in rows]

    def typed_before_last_reply(self, chat_id: str, message_id: int | None) -> bool:
        """Was the person's message written before our latest reply reached them? (Telegram
        numbers the messages of a chat in one sequence, theirs and ours.) Then they had not
        seen what that reply asks."""
        return message_id is not None and message_id < self.last_reply.get(chat_id, 0)

    def undelivered(self, chat_id: str) -> int:
        """Messages for this chat that the messenger has not accepted yet."""
        queue = self._chats.get(chat_id)
        return len(queue) if queue else 0

    async def settle(self, chat_id: str, patience: float = 5.0) -> int:
        """Wait while a message to this chat is in flight (its answer decides whether it was
        delivered), at most `patience` seconds; then how many are still undelivered. A
        message waiting for a retry or for the limiter is not waited for."""
        deadline = time.monotonic() + patience
        while (attempt := self._attempt.get(chat_id)) is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            with contextlib.suppress(asyncio.TimeoutError):  # a cancel is the caller's
                await asyncio.wait_for(asyncio.shield(attempt), left)
            await asyncio.sleep(0)  # let the worker take the next message of the chat
        return self.undelivered(chat_id)

    async def send(self, person: Person, reply: Reply, priority: int = REMINDER) -> Outcome:
        """Push a message (a reminder) and wait for the outcome: 'sent', 'blocked' or
        'failed' (a transient failure tried `push_attempts` times; the caller retries later)."""
        if person.channel != self.channel:
            return "failed"
        chat = person.external_id
        loop = asyncio.get_running_loop()
        payloads = self.render(None, chat, [reply])
        parcels = [Parcel(Outgoing(self.channel, chat, "", person.id, None, priority), p)
                   for p in payloads]
        done: asyncio.Future[str] = loop.create_future()
        parcels[-1].done = done
        self.enqueue(parcels)
        outcome = await done
        return "sent" if outcome == SENT else "blocked" if outcome == UNREACHABLE else "failed"

    # --- the work -----------------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            _, _, chat = await self._ready.get()
            try:
                await self._serve(chat)
            except asyncio.CancelledError:
                raise
            except Exception:  # never lose a worker; the chat is tried again later
                log.exception("delivery to chat %s failed unexpectedly", chat)
                self._later(chat, 5.0)

    async def _serve(self, chat: str) -> None:
        queue = self._chats.get(chat)
        if not queue:
            self._busy.discard(chat)
            return
        parcel = queue[0]
        attempt: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._attempt[chat] = attempt
        try:
            await self._limit(chat, parcel.message.priority)
            message_id = await self.transport.deliver(chat, parcel.payload)
        except RetryLater as e:
            self.retried += 1
            parcel.attempts += 1
            if parcel.row is None and parcel.attempts >= self._push_attempts:
                # a push (a reminder) does not hold the sweep: it is tried again next time
                log.info("%s keeps refusing chat %s (retry after %.1f s): push given up",
                         self.channel, chat, e.seconds)
                self._settle(chat, FAILED)
                self._next(chat)
                return
            log.info("%s asks to wait %.1f s before writing to chat %s", self.channel,
                     e.seconds, chat)
            self._later(chat, e.seconds)
            return
        except Refused:
            log.info("chat %s refuses messages (blocked the bot)", chat)
            self._drop_chat(chat, UNREACHABLE)
            if parcel.message.person_id is not None:
                # The chat is dropped: a failure here must not reach the catch-all in _work,
                # which would queue the chat again although a new queue may be served by now.
                try:
                    await self._unreachable(parcel.message.person_id)
                except Exception:
                    log.exception("could not mark person %s unreachable",
                                  parcel.message.person_id)
            return
        except Rejected as e:
            log.error("message to chat %s rejected, dropped: %s", chat, e)
            self._settle(chat, FAILED)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            parcel.attempts += 1
            self.retried += 1
            if parcel.row is None and parcel.attempts >= self._push_attempts:
                log.warning("message to chat %s failed %d times, given up: %s", chat,
                            parcel.attempts, e)
                self._settle(chat, FAILED)
            else:
                log.warning("message to chat %s failed (%s), try %d again in %.1f s", chat, e,
                            parcel.attempts, backoff(parcel.attempts))
                self._later(chat, backoff(parcel.attempts))
                return
        else:
            self.delivered += 1
            # A reply sent again after a restart may be a copy of one the person already saw
            # (delivered, then the process died before recording it): it does not move the
            # mark, or their answer to it would be refused as unseen.
            if (message_id is not None and parcel.message.priority == REPLY
                    and not parcel.recovered and message_id > self.last_reply.get(chat, 0)):
                self.last_reply[chat] = self._new_marks[chat] = message_id
            self._settle(chat, SENT)
        finally:
            self._attempt.pop(chat, None)
            if not attempt.done():
                attempt.set_result(None)
        self._next(chat)

    async def _limit(self, chat: str, priority: int) -> None:
        """Wait for the chat's own limit, then for the channel's (where a reply waits behind
        at most BACKGROUND_AT_LIMITER others)."""
        if self.limits.per_chat_per_second:
            limiter, _ = self._chat_limits.get(chat) or (None, 0.0)
            if limiter is None:
                burst = max(1, self.limits.chat_burst)
                limiter = AsyncLimiter(burst, burst / self.limits.per_chat_per_second)
            self._chat_limits[chat] = (limiter, time.monotonic())
            await limiter.acquire()
        if self._overall is None:
            return
        if priority == REPLY:
            await self._overall.acquire()
        else:
            async with self._background:
                await self._overall.acquire()

    def _settle(self, chat: str, state: str) -> None:
        """The head message of the chat is done (delivered or given up)."""
        parcel = self._chats[chat].popleft()
        self._settled_one(parcel, state)
        if parcel.done is not None and not parcel.done.done():
            parcel.done.set_result(state)

    def _drop_chat(self, chat: str, state: str) -> None:
        queue = self._chats.pop(chat, deque())
        for parcel in queue:
            self._settled_one(parcel, state)
            if parcel.done is not None and not parcel.done.done():
                parcel.done.set_result(state)
        self._busy.discard(chat)
        self._wake_idle(chat)

    def _settled_one(self, parcel: Parcel, state: str) -> None:
        if parcel.row is None:
            return
        self._settled.append((parcel.row, state))
        if parcel.broadcast:
            self.broadcasts_queued -= 1
            self._settled_broadcasts.append(time.monotonic())
            self._record_now = True
        self._to_record.set()

    def _next(self, chat: str) -> None:
        queue = self._chats.get(chat)
        if queue:
            self._ready.put_nowait((queue[0].message.priority, next(self._order), chat))
        else:
            self._chats.pop(chat, None)
            self._busy.discard(chat)
            self._wake_idle(chat)

    def _later(self, chat: str, seconds: float) -> None:
        """Hold the chat (still busy: nothing of it overtakes) and queue it again later."""
        loop = asyncio.get_running_loop()

        def again() -> None:
            self._timers.discard(handle)
            self._next(chat)
        handle = loop.call_later(max(0.0, seconds), again)
        self._timers.add(handle)

    # --- recording ------------------------------------------------------------------------------

    async def flush(self) -> None:
        """Record the settled outbox rows and the chats' latest reply ids (one
        group-committed write for many); one flush at a time, so a caller's flush returns
        after what was settled before it is written."""
        async with self._flushing:
            if not self._settled and not self._new_marks:
                return
            settled, self._settled = self._settled, []
            marks, self._new_marks = self._new_marks, {}
            times, self._settled_broadcasts = self._settled_broadcasts, []
            try:
                await self._record(settled, marks)
            except BaseException as e:  # recorded next time (recording twice is harmless)
                self._settled[:0] = settled
                self._new_marks = {**marks, **self._new_marks}
                self._settled_broadcasts[:0] = times
                if not isinstance(e, Exception):
                    raise  # cancelled: stop() flushes once more
                log.exception("could not record %d delivered messages", len(settled))
            else:
                now = time.monotonic()
                for at in times:
                    self.record_lag_max = max(self.record_lag_max, now - at)
                    self.record_lag_total += now - at
                self.record_lag_count += len(times)

    async def _flush_forever(self) -> None:
        """Record soon after something is settled (RECORD_AFTER); what settles meanwhile or
        during a write goes in the same or the next one (the write joins the group commit).
        The sooner a delivery is recorded, the fewer replies a crash makes the next start
        send again."""
        while True:
            await self._to_record.wait()
            if not self._record_now:  # a broadcast's row is recorded at once (see top)
                await asyncio.sleep(RECORD_AFTER)
            self._record_now = False
            self._to_record.clear()
            await self.flush()
            self._forget_idle_limits()

    def _forget_idle_limits(self) -> None:
        """A chat's limiter is full again after burst / rate seconds: then it can go."""
        if len(self._chat_limits) < 1024:
            return
        rate = self.limits.per_chat_per_second or 1.0
        idle = time.monotonic() - max(1, self.limits.chat_burst) / rate - 1
        for chat in [c for c, (_, used) in self._chat_limits.items()
                     if used < idle and c not in self._busy]:
            del self._chat_limits[chat]
