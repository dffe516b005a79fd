"""Counting what the Zalo bot sends against its plan's monthly messages (free plan: 3,000),
and warning admins once at 80% and once when used up, on whatever channel reaches them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain import messages_vi as M
from bot.domain.dialogue import Reply
from bot.services.channels import Channels
from storage.interface import Storage

log = logging.getLogger(__name__)
WARN_AT = (0.8, 1.0)  # shares of the quota at which admins are told
WARNED_KEY = "zalo.quota_warned.{month}"  # the highest share told this month


class QuotaWatch:
    def __init__(self, storage: Storage, channels: Channels, *, channel: str, quota: int,
                 zone: ZoneInfo, clock: Callable[[], datetime], sent: Callable[[], int]) -> None:
        self.storage, self.channels = storage, channels
        self.channel, self.quota, self.zone, self.clock = channel, quota, zone, clock
        self._sent = sent  # messages accepted since start (the transport counts)
        self._counted = 0

    async def count(self, warn: bool = True) -> int | None:
        """Add what was sent since the last count to this month's; the month's total (None if
        nothing new). Admins are warned when a threshold is crossed, unless `warn` is false
        (at a stop, when nothing can be sent: the next count after the next start warns)."""
        delta = self._sent() - self._counted
        if delta <= 0:
            return None
        month = self.clock().astimezone(self.zone).strftime("%Y-%m")
        total = await self.storage.count_sent(self.channel, month, delta)
        self._counted += delta
        if warn:
            await self._warn(month, total)
        return total

    async def _warn(self, month: str, total: int) -> None:
        if not self.quota:
            return
        reached = [share for share in WARN_AT if total >= share * self.quota]
        if not reached:
            return
        key = WARNED_KEY.format(month=month)
        told = float(await self.storage.get_setting(key) or 0)
        if reached[-1] <= told:
            return
        await self.storage.set_setting(key, str(reached[-1]))
        log.warning("the Zalo bot has sent %d of its %d messages this month (%s)", total,
                    self.quota, month)
        text = M.zalo_quota(total, self.quota, month)
        for admin in await self.storage.admins():
            if self.channels.reaches(admin):
                await self.channels.send(admin, Reply(text))
