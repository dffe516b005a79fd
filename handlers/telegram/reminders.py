"""Reminders over Telegram: a rate-limited sender and the APScheduler job that sweeps."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiolimiter import AsyncLimiter
from telegram import Bot
from telegram.error import Forbidden, RetryAfter, TelegramError
from telegram.ext import ContextTypes

from bot.domain.dialogue import Button
from bot.services.reminders import Outcome, ReminderService
from handlers.telegram.app import AnyApplication, post_message
from handlers.telegram.render import inline_keyboard
from storage.models import Person

log = logging.getLogger(__name__)
SWEEP_EVERY = 60.0  # seconds; a sweep only sends what is due and not yet in the ledger


class TelegramSender:
    """Push one reminder; Telegram allows about 30 messages a second in all, so stay under."""

    def __init__(self, bot: Bot, per_second: float = 25) -> None:
        self.bot = bot
        self.limiter = AsyncLimiter(per_second, 1)

    async def send(self, person: Person, text: str, button: Button) -> Outcome:
        if person.channel != "telegram":
            return "failed"
        markup = inline_keyboard([[(button.label, button.data)]])
        for _ in range(3):
            async with self.limiter:
                try:
                    await post_message(self.bot, int(person.external_id), text, markup)
                    return "sent"
                except Forbidden:
                    log.info("person %s blocked the bot", person.id)
                    return "blocked"
                except RetryAfter as e:
                    wait = e.retry_after
                    seconds = wait if isinstance(wait, int | float) else wait.total_seconds()
                    log.warning("Telegram asks to wait %s s", seconds)
                    await asyncio.sleep(float(seconds))
                except TelegramError as e:
                    log.warning("reminder to person %s failed: %s", person.id, e)
                    return "failed"
        return "failed"


def schedule_reminders(application: AnyApplication, service: ReminderService,
                       every: float = SWEEP_EVERY) -> None:
    """Wake a sweep now (catch-up after downtime) and then every `every` seconds."""
    sender = TelegramSender(application.bot)

    async def sweep(context: ContextTypes.DEFAULT_TYPE) -> None:
        """One idempotent sweep; errors are logged and the next wake-up tries again."""
        try:
            await service.sweep(sender)
        except Exception:
            log.exception("reminder sweep failed")

    job_queue: Any = application.job_queue
    if job_queue is None:  # pragma: no cover - the job-queue extra is a dependency
        raise RuntimeError("python-telegram-bot[job-queue] is not installed")
    job_queue.run_repeating(sweep, interval=every, first=1.0, name="reminder-sweep",
                            job_kwargs={"max_instances": 1, "coalesce": True})
