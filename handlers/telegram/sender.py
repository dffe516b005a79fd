"""Pushing a message to one Telegram user (reminders now; digests and broadcasts later)."""

from __future__ import annotations

import asyncio
import logging

from aiolimiter import AsyncLimiter
from telegram import Bot
from telegram.error import Forbidden, RetryAfter, TelegramError

from bot.domain.dialogue import Reply
from bot.services.channels import Outcome
from handlers.telegram.app import CHANNEL, post_message
from handlers.telegram.render import chunks, keyboard
from storage.models import Person

log = logging.getLogger(__name__)


class TelegramSender:
    """Telegram allows about 30 messages a second in all: stay under it, honour retry_after,
    and tell a user who blocked the bot (403) from a failure worth retrying later."""

    def __init__(self, bot: Bot, per_second: float = 25) -> None:
        self.bot = bot
        self.limiter = AsyncLimiter(per_second, 1)

    async def send(self, person: Person, reply: Reply) -> Outcome:
        if person.channel != CHANNEL:
            return "failed"
        parts = chunks(reply)
        for i, part in enumerate(parts):
            markup = keyboard(reply) if i == len(parts) - 1 else None
            outcome = await self._post(person, part, markup)
            if outcome != "sent":
                return outcome
        return "sent"

    async def _post(self, person: Person, text: str, markup: dict[str, object] | None
                    ) -> Outcome:
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
                    log.warning("message to person %s failed: %s", person.id, e)
                    return "failed"
        return "failed"
