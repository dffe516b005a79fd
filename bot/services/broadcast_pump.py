"""Feeding broadcasts' outbox rows to the channels' couriers, a chunk at a time.

A broadcast to 10,000 people is 10,000 outbox rows written when it starts (by this process or
by `baocao broadcast create` in another one). Loading them all would hold 10,000 parcels in
memory for the five minutes the messenger's limit needs; the pump instead claims the oldest
pending rows of broadcasts in state 'sending' (pending → sending in one write) whenever a
courier has fewer than LOW_WATER seconds' worth queued, so memory stays flat and a cancelled
broadcast stops within a few seconds. It also polls every POLL_EVERY seconds for rows written
by another process, and runs the `ticks` the broadcast service gives it (start due
broadcasts, finish done ones, edit progress) at the same pace.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.services.delivery import Courier
from storage.interface import Storage

log = logging.getLogger(__name__)

POLL_EVERY = 1.0  # seconds between looks for new rows (and ticks)
FEED_EVERY = 0.2  # seconds between looks at the couriers' queues
LOW_WATER = 2.0  # seconds' worth of messages queued: below it, claim more
CHUNK = 4.0  # seconds' worth claimed at a time (at most)
UNLIMITED_RATE = 100.0  # messages a second assumed for a courier without a limit
Tick = Callable[[datetime], Awaitable[object]]


class BroadcastPump:
    """One task for every channel's courier (one sender for everything)."""

    def __init__(self, storage: Storage, couriers: list[Courier], clock: Callable[[], datetime],
                 ticks: list[Tick] | None = None) -> None:
        self.storage = storage
        self.couriers = couriers
        self.clock = clock
        self.ticks = list(ticks or [])
        self.claimed = 0  # rows claimed since start (logs, benchmarks)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="broadcast-pump")

    async def stop(self) -> None:
        """Claim nothing more; rows already claimed are the couriers' (released at the next
        start if they could not be delivered before the stop)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @staticmethod
    def _rate(courier: Courier) -> float:
        return courier.limits.per_second or UNLIMITED_RATE

    async def feed(self) -> int:
        """Top up every courier below its low-water mark; rows claimed."""
        claimed = 0
        for courier in self.couriers:
            rate = self._rate(courier)
            if courier.broadcasts_queued >= LOW_WATER * rate:
                continue
            want = max(1, int(CHUNK * rate) - courier.broadcasts_queued)
            rows = await self.storage.claim_broadcast_rows(courier.channel, want)
            if rows:
                courier.enqueue(courier.stored(rows, broadcast=True))
                claimed += len(rows)
        self.claimed += claimed
        return claimed

    async def tick(self) -> None:
        now = self.clock()
        for tick in self.ticks:
            try:
                await tick(now)
            except asyncio.CancelledError:
                raise
            except Exception:  # one failing tick must not stop delivery
                log.exception("broadcast tick %r failed", tick)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_poll = 0.0
        while True:
            try:
                if loop.time() >= next_poll:
                    next_poll = loop.time() + POLL_EVERY
                    await self.tick()
                    await self.feed()
                elif any(c.broadcasts_queued < LOW_WATER * self._rate(c)
                         and c.broadcasts_queued > 0 for c in self.couriers):
                    await self.feed()  # draining: top up before the queue runs dry
            except asyncio.CancelledError:
                raise
            except Exception:  # the database busy, a bug: try again at the next poll
                log.exception("broadcast pump failed; trying again")
            await asyncio.sleep(FEED_EVERY)
