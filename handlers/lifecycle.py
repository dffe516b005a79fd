"""What every `baocao run` does around its channels, whichever run: Zalo beside Telegram, or
Zalo alone (handlers/telegram/runner.py and handlers/zalo/runner.py call these)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from bot.app import App
from bot.config import Config
from bot.scheduler import Scheduler
from bot.services.broadcast_pump import BroadcastPump, Tick
from bot.services.reporting.broadcast_chat import BroadcastProgress

log = logging.getLogger(__name__)
DRAIN_SECONDS = 5.0


class Receiver(Protocol):
    """A channel that fetches its own updates (Zalo); Telegram's are python-telegram-bot's."""

    async def stop_receiving(self) -> None: ...

    async def close(self) -> None: ...


async def start_zalo(app: App, config: Config) -> Receiver | None:
    """The Zalo channel, started, when it has a token (raises StartError when Zalo refuses)."""
    token = config.zalo_token()
    if not token:
        return None
    from handlers.zalo.channel import ZaloChannel  # only a run with Zalo loads it

    channel = ZaloChannel(app, config, token)
    try:
        await channel.start()
    except BaseException:
        await channel.close()
        raise
    return channel


async def start_broadcasts(app: App, clock: Callable[[], datetime],
                           ticks: list[Tick] | None = None) -> BroadcastPump:
    """Once every channel's courier is registered: rows a stopped run had claimed go back to
    'pending', and the pump feeds broadcasts to the couriers (one sender for everything)."""
    released = await app.storage.release_claimed_broadcast_rows()
    if released:
        log.info("%d broadcast messages claimed before a stop go out again", released)
    if ticks is None:  # start what is due, close what is done, show progress and reports
        ticks = [BroadcastProgress(app).tick]
    pump = BroadcastPump(app.storage, app.channels.couriers(), clock, ticks)
    app.channels.pump = pump
    pump.start()
    return pump


async def stop_channels(app: App | None, scheduler: Scheduler | None,
                        receivers: list[Receiver]) -> None:
    """In order: no more reminder sweeps and no more updates; replies still queued get a few
    seconds to go out (the rest go after the next start); a sweep in progress ends, recording
    what it sent and releasing the rest; then the channels' clients close."""
    if app is not None and app.channels.pump is not None:
        await app.channels.pump.stop()  # claims nothing more; what it claimed may drain
    if scheduler is not None:
        scheduler.shutdown()
        scheduler.reminders.stopping = True  # the sweep sends nothing more
    for receiver in receivers:
        await receiver.stop_receiving()
    couriers = app.channels.couriers() if app is not None else []
    await asyncio.gather(*(c.drain(DRAIN_SECONDS) for c in couriers))
    for courier in couriers:
        await courier.stop()  # a reminder still waiting is told 'failed': retried next start
    if scheduler is not None:
        await scheduler.stop()
    for receiver in receivers:
        await receiver.close()
