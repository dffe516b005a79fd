"""Time-driven work, whatever channels run: APScheduler wakes idempotent sweeps.

The database is the truth (what is due and not yet done), so a job only asks "what now?":
a double wake-up, a crash or a restart never sends twice, and a missed minute is caught up by
the next sweep (the first one runs a second after start).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.services.channels import Channels
from bot.services.digest_sweep import DigestSweep
from bot.services.reminders import ReminderService

log = logging.getLogger(__name__)
SWEEP_EVERY = 60.0  # seconds
PRUNE_EVERY = 3600.0  # seconds
# Handled updates, stored updates and delivered replies are kept this long: Telegram delivers
# an update again for at most 24 hours, and a week leaves room to look into a problem.
KEEP_DELIVERY = timedelta(days=7)


class Scheduler:
    def __init__(self, reminders: ReminderService, channels: Channels,
                 every: float = SWEEP_EVERY, digests: DigestSweep | None = None) -> None:
        self.reminders = reminders
        self.digests = digests
        self.channels = channels
        self.every = every
        self._scheduler: AsyncIOScheduler | None = None
        self._running: asyncio.Future[None] | None = None  # done when the sweep ends

    def start(self) -> None:
        """Start inside the running event loop (the bot's)."""
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(self.sweep, IntervalTrigger(seconds=self.every), id="reminder-sweep",
                          next_run_time=datetime.now(UTC) + timedelta(seconds=1),
                          max_instances=1, coalesce=True, misfire_grace_time=None)
        scheduler.add_job(self.prune, IntervalTrigger(seconds=PRUNE_EVERY), id="prune",
                          next_run_time=datetime.now(UTC) + timedelta(seconds=30),
                          max_instances=1, coalesce=True, misfire_grace_time=None)
        scheduler.start()
        self._scheduler = scheduler

    def shutdown(self) -> None:
        """No more wake-ups (a sweep in progress goes on: see `stop`)."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None

    async def stop(self) -> None:
        """No more wake-ups, and a sweep in progress ends after the message it is sending,
        recording what it sent and releasing the rest: call it while the channels can
        still send (before the Bot API client closes)."""
        self.shutdown()
        self.reminders.stopping = True
        if self.digests is not None:
            self.digests.stopping = True
        if self._running is not None:
            await asyncio.shield(self._running)

    async def prune(self) -> None:
        """Forget delivery records older than KEEP_DELIVERY (the tables would grow forever)."""
        try:
            pruned = await self.reminders.storage.prune_delivery(
                self.reminders.clock() - KEEP_DELIVERY)
            if any(pruned.values()):
                log.info("pruned delivery records older than %s: %s", KEEP_DELIVERY.days,
                         pruned)
        except Exception:
            log.exception("pruning delivery records failed")

    async def sweep(self) -> None:
        """One idempotent reminder sweep, then the supervisors' digests; errors are logged and
        the next wake-up tries again."""
        self._running = asyncio.get_running_loop().create_future()
        try:
            try:
                await self.reminders.sweep(self.channels)
            except Exception:
                log.exception("reminder sweep failed")
            if self.digests is not None and not self.reminders.stopping:
                try:
                    await self.digests.sweep()
                except Exception:
                    log.exception("digest sweep failed")
        finally:
            self._running.set_result(None)
            self._running = None
