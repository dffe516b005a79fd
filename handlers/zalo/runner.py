"""`baocao run` with Zalo alone (no Telegram token): the same services, one scheduler, until
SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from bot import logs
from bot.app import build_app, system_clock, tune_runtime
from bot.config import Config
from bot.scheduler import Scheduler
from handlers.lifecycle import Receiver, start_broadcasts, start_zalo, stop_channels
from handlers.zalo.channel import StartError

log = logging.getLogger(__name__)


def run_zalo_only(config: Config) -> int:
    """Run until stopped; 1 if Zalo refused to start the bot (one line on stderr)."""
    try:
        return asyncio.run(_serve(config))
    except StartError as e:
        print(logs.REDACTOR(f"error: {e}"), file=sys.stderr)
        return 1


async def _serve(config: Config) -> int:
    app = await build_app(config)
    scheduler: Scheduler | None = None
    receivers: list[Receiver] = []
    try:
        people = await app.reporting.warm()
        stranded = await app.storage.release_stranded_reminders()
        if stranded:
            log.info("%d reminders interrupted by a stop go back to the planner", stranded)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        zalo = await start_zalo(app, config)
        assert zalo is not None  # run_problems: a token is there
        receivers.append(zalo)
        await start_broadcasts(app, system_clock)
        scheduler = Scheduler(app.reminders, app.channels, digests=app.digests)
        scheduler.start()
        tune_runtime()
        log.info("baocao started on Zalo (%d templates, %d people)", len(app.templates), people)
        await stop.wait()
        log.info("stopping")
        return 0
    finally:
        await stop_channels(app, scheduler, receivers)
        await app.close()
