"""Memory of a large deployment: 10,000 communes, 30,000 officers, sweeps and 50,000 updates.

The bot is built as `baocao run` builds it (bench/live.py) and long-polls the stand-in Bot API
server (bench/standin.py). It prints the bot process's resident memory (RSS)
- after the warm-up (every officer loaded, as at start-up),
- after a reminder sweep at a moment when every commune is due reminders (08:00 on a
  reminder day of the shipped templates), with the longest event-loop stall during it,
- after `--updates` updates (the first officer of every commune opens a report and answers;
  through python-telegram-bot's real HTTP client),
- after more sweeps (a minute later, nothing new due),
- after a full garbage collection,
and with `--trace` the allocation sites that grew most since the warm-up (tracemalloc; slower,
and its own bookkeeping inflates RSS). The sweep's messages go to a sender that counts them
and yields to the event loop as a real send does: 90,000 messages through HTTP at Telegram's
25 a second would take an hour; `--sweep-http` sends them through the real client instead.

    python -m bench.memory [--communes 10000] [--officers-per-commune 3] [--updates 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import re
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from bench.live import (
    UNLIMITED,
    VN,
    AnyApplication,
    GcMeter,
    StallMeter,
    live_bot,
    percentile,
    report_steps,
    rss_mb,
    seed,
    template_toml,
    write_reports,
)
from bench.standin import Script, StandIn
from bot.app import App
from bot.config import SHIPPED_REPORTS, Config, ReportsConfig, StorageConfig
from bot.domain.dialogue import Reply
from bot.services.channels import Channels, Outcome
from handlers.telegram.app import APP_KEY, CHANNEL
from storage.models import Person

SCOPE_LINES = re.compile(r"^(orgs|subtrees|valid_from|valid_until) = .*\n", re.MULTILINE)
SWEEP_AT = datetime(2026, 12, 14, 8, 0, tzinfo=VN)  # the shipped templates' reminders fall due
RSS_GOAL_MB = 150.0


class CountingSender:
    """Counts messages and yields to the event loop once per message, as an HTTP send does."""

    def __init__(self) -> None:
        self.count = 0

    async def send(self, person: Person, reply: Reply) -> Outcome:
        self.count += 1
        await asyncio.sleep(0)
        return "sent"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def unscoped(template: str) -> str:
    """A shipped template made to apply to every seeded commune at the sweep: its organisation,
    province and lifetime lines dropped (the seeded tree has neither orgs nor provinces)."""
    return SCOPE_LINES.sub("", template)


def top_sites(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, n: int = 12) -> None:
    print(f"allocation sites that grew most since the warm-up (top {n}):")
    for stat in after.compare_to(before, "lineno")[:n]:
        frame = stat.traceback[0]
        print(f"  {stat.size_diff / 1e6:+8.2f} MB {stat.count_diff:+9,} blocks  "
              f"{frame.filename.split('site-packages/')[-1]}:{frame.lineno}")


async def measure(communes: int, per_commune: int, updates: int, concurrency: int = 20,
                  trace: bool = False, sweep_http: bool = False,
                  inspect: Callable[[AnyApplication], None] | None = None) -> dict[str, float]:
    """Run the scenario; print and return the RSS figures (MB) and the sweep's stall (s).
    `inspect(application)` runs at the end, before the bot stops (for experiments)."""
    figures: dict[str, float] = {}
    clock = Clock(SWEEP_AT)

    def settle(label: str) -> None:
        figures[label] = rss_mb()
        print(f"RSS {label}: {figures[label]:.0f} MB", flush=True)

    with tempfile.TemporaryDirectory() as tmp, StandIn() as server:
        folder = write_reports(Path(tmp) / "reports", {
            path.stem: unscoped(path.read_text(encoding="utf-8"))
            for path in sorted(SHIPPED_REPORTS.glob("*.toml"))})
        (folder / "bench.toml").write_text(template_toml("bench", "trước ngày 25 tháng cuối quý"),
                                           encoding="utf-8")
        config = Config(storage=StorageConfig(path=Path(tmp) / "memory.db"),
                        reports=ReportsConfig(dir=folder), telegram=UNLIMITED)
        users: list[int] = []

        async def prepare(app: App) -> None:
            users.extend(await seed(app, communes, per_commune))

        async with live_bot(config, server.base_url, clock, prepare,
                            sweep_every=None) as application:
            app: App = application.bot_data[APP_KEY]
            print(f"{communes:,} communes, {len(users):,} officers, "
                  f"{len(app.templates)} templates", flush=True)
            gc.collect()
            settle("after warm-up")
            snapshot = tracemalloc.take_snapshot() if trace else None
            channels = Channels()  # the bot's courier (HTTP, no limits), or one that counts
            courier = app.channels.courier(CHANNEL)
            assert courier is not None
            channels.register(CHANNEL, courier if sweep_http else CountingSender())

            async def sweep(label: str) -> None:
                started = time.perf_counter()
                with StallMeter() as stall, GcMeter() as collections:
                    result = await app.reminders.sweep(channels)
                figures[f"stall {label}"] = stall.worst
                print(f"sweep {label}: {time.perf_counter() - started:.2f} s, "
                      f"{result.sent:,} reminders ({result.messages:,} messages), "
                      f"{result.skipped:,} stale skipped; longest event-loop stall "
                      f"{stall.worst * 1000:.1f} ms (longest garbage collection "
                      f"{collections.worst * 1000:.1f} ms, generation {collections.generation})",
                      flush=True)

            await sweep("at 08:00, every commune due")
            settle("after the sweep")
            officers = users[::per_commune]  # the first officer of every commune
            per_officer = max(1, -(-updates // len(officers)))
            steps = report_steps("bench", "2026-Q4")[:per_officer]
            result = await server.run(Script(officers, steps), concurrency=concurrency)
            print(f"{len(result.latencies):,} updates in {result.elapsed:.1f} s "
                  f"({result.rate:,.0f}/s, p99 {percentile(result.latencies, 0.99) * 1000:.1f} "
                  f"ms, {result.lost} lost)", flush=True)
            settle(f"after {len(result.latencies):,} updates")
            for minute in (1, 2):
                clock.now = SWEEP_AT.replace(minute=minute)
                await sweep(f"at 08:0{minute}, nothing new due")
            settle("after sweeps and updates")
            gc.collect()
            settle("after gc.collect()")
            if snapshot is not None:
                top_sites(snapshot, tracemalloc.take_snapshot())
            if inspect is not None:
                inspect(application)
    final = figures["after gc.collect()"]
    worst = max(v for k, v in figures.items() if not k.startswith(("stall", "after warm")))
    print(f"goal RSS ≤ {RSS_GOAL_MB:.0f} MB after sweeps and updates: "
          f"{'met' if worst <= RSS_GOAL_MB else 'NOT met'} (largest {worst:.0f} MB, "
          f"after collection {final:.0f} MB)")
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--communes", type=int, default=10_000)
    parser.add_argument("--officers-per-commune", type=int, default=3)
    parser.add_argument("--updates", type=int, default=50_000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--trace", action="store_true", help="tracemalloc: top growing sites")
    parser.add_argument("--sweep-http", action="store_true",
                        help="send the sweep's messages through the real HTTP client")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.trace:
        tracemalloc.start()
    asyncio.run(measure(args.communes, args.officers_per_commune, args.updates,
                        args.concurrency, args.trace, args.sweep_http))
