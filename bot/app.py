"""Assembly: config → templates → storage → services. Every entry point starts here."""

from __future__ import annotations

import gc
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.config import Config, ConfigError, load_configured_templates
from bot.domain.reminders import Policy
from bot.domain.templates import Template
from bot.services.broadcasts import Broadcasts
from bot.services.channels import Channels
from bot.services.digest_sweep import DigestSweep
from bot.services.reminders import ReminderService
from bot.services.reporting import Clock, ReportingService
from bot.services.units import UnitDirectory
from storage.broadcasts import SqliteBroadcasts
from storage.sqlite import SqliteStorage

BOT_USERNAME_KEY = "telegram.bot_username"
ZALO_BOT_ID_KEY, ZALO_BOT_NAME_KEY = "zalo.bot_id", "zalo.bot_name"  # from getMe at start


def tune_runtime() -> None:
    """Process settings for a long-running bot (measured with bench/dialogue_throughput.py).

    SQLite work runs on other threads; with CPython's default 5 ms switch interval a finished
    commit can wait that long for the event loop thread to let go of the GIL. Objects alive
    after start-up (templates, PTB internals, warmed caches) are frozen out of the garbage
    collector's sweeps, and the collector runs less often: each update allocates hundreds of
    short-lived PTB objects, and with the default thresholds collections of the growing caches
    stalled every chat for up to 13 ms (p99 at 1,000 updates/s: 6-9 ms instead of 7-18 ms).
    """
    sys.setswitchinterval(0.0005)
    gc.set_threshold(10_000, 50, 100)
    gc.freeze()


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class App:
    config: Config
    storage: SqliteStorage
    templates: dict[str, Template]
    versions: dict[str, int]
    reporting: ReportingService
    reminders: ReminderService
    channels: Channels  # each running channel registers its sender here
    digests: DigestSweep  # supervisors' scheduled digests
    broadcasts: Broadcasts  # announcements (started and closed by the sender's pump: `tick`)

    async def close(self) -> None:
        await self.storage.close()


def load_checked_templates(config: Config) -> dict[str, Template]:
    templates, problems = load_configured_templates(config)
    if problems:
        raise ConfigError(problems)
    return templates


async def build_app(config: Config, clock: Clock = system_clock,
                    db_path: Path | None = None) -> App:
    """Open the database (migrating it), record template versions, wire the services."""
    templates = load_checked_templates(config)
    storage = await SqliteStorage.open(db_path or config.storage.path)
    versions = await storage.sync_templates(templates.values())
    units = UnitDirectory(storage, templates)
    channels = Channels()
    reporting = ReportingService(storage, templates, versions, zone=config.zone,
                                 lock_days=config.reports.lock_days, clock=clock, units=units,
                                 channels=channels, digests=config.digests,
                                 reminders=config.reminders,
                                 organization=config.organization)
    reminders = ReminderService(storage, templates, zone=config.zone,
                                lock_days=config.reports.lock_days,
                                defaults=config.reminders, clock=clock, units=units)
    digest_sweep = DigestSweep(storage, templates, zone=config.zone,
                               lock_days=config.reports.lock_days, defaults=config.digests,
                               reminders=config.reminders, clock=clock, units=units,
                               channels=channels)
    broadcasts = Broadcasts(storage, SqliteBroadcasts(storage.db), templates, units,
                            zone=config.zone,
                            lock_days=config.reports.lock_days,
                            quiet=Policy(quiet_start=config.reminders.quiet_start,
                                         quiet_end=config.reminders.quiet_end),
                            organization=config.organization.name,
                            supervisors=config.broadcasts.supervisors, clock=clock,
                            channels=channels)
    broadcasts.zalo_quota = config.zalo.monthly_quota if config.zalo_token() else 0
    reporting.deps.broadcasts = broadcasts  # /thongbao and "✅ Đã nhận" in chat
    return App(config, storage, templates, versions, reporting, reminders, channels,
               digest_sweep, broadcasts)
