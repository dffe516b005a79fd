"""Soak: the bot as deployed, under steady load for minutes; does anything grow?

The bot is built as `baocao run` builds it (bench/live.py) and long-polls a stand-in Bot API
server in another process (bench/standin.py) through python-telegram-bot's real HTTP client;
`--officers` officers (one per commune) answer 15-question quarterly reports as a Poisson
stream of `--rate` updates/s, each report from /baocao to the send button, one report after
another. The reminder sweep runs every minute as in production; the bench's clock starts at
08:00 on a reminder day, so the first sweeps push a reminder to every commune that has not
sent the first report (25 messages a second, as to Telegram), and the later ones find
nothing new to send.

Every minute it prints the updates answered, their latency (p50, p99, max: from the update
being offered to the reply arriving at the server), the largest size of the WAL file in that
minute, the database file and the bot's resident memory; at the end the WAL's largest size
overall against the goal (≤ 64 MB) and the p99 drift (last minutes against the first).

The default rate, 100 updates/s, is half of what the bot sustains through the HTTP client on
the 2-core development machine while other work shares it (the saturation run of
bench/dialogue_throughput.py): a soak above it measures a growing backlog, not the bot.

    python -m bench.soak [--minutes 10] [--officers 5000] [--rate 100]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import tempfile
from datetime import datetime
from pathlib import Path

from bench.live import (
    UNLIMITED,
    VN,
    MovingClock,
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
from bot.config import Config, ReportsConfig, StorageConfig

START = datetime(2026, 2, 26, 8, 0, tzinfo=VN)  # 7 days before bench0's deadline, 08:00
PERIOD = "2026-Q1"
WAL_GOAL_MB = 64.0


def _size_mb(path: str) -> float:
    try:
        return os.path.getsize(path) / 1e6
    except OSError:
        return 0.0


async def soak(officers: int, minutes: float, rate: float,
               sweep_every: float = 60.0, minute: float = 60.0) -> dict[str, float]:
    """Run the soak; print one line per `minute` seconds; return the summary figures."""
    seconds = minutes * 60
    reports = max(1, math.ceil(rate * seconds / (officers * 18)) + 1)
    with tempfile.TemporaryDirectory() as tmp, StandIn() as server:
        folder = write_reports(Path(tmp) / "reports", {
            # only bench0's reminders fall due during the soak; the others are due later
            f"bench{k}": template_toml(f"bench{k}", "trước ngày 05 tháng cuối quý" if k == 0
                                       else "trước ngày 25 tháng cuối quý")
            for k in range(reports)})
        db = Path(tmp) / "soak.db"
        config = Config(storage=StorageConfig(path=db), reports=ReportsConfig(dir=folder),
                        telegram=UNLIMITED)
        users: list[int] = []

        async def prepare(app: App) -> None:
            users.extend(await seed(app, officers))

        steps = [s for k in range(reports) for s in report_steps(f"bench{k}", PERIOD)]
        wal = str(db) + "-wal"
        samples: list[tuple[float, float, float, float]] = []  # (t, wal, db, rss)
        async with live_bot(config, server.base_url, MovingClock(START), prepare,
                            sweep_every=sweep_every):
            print(f"{officers:,} officers, {len(steps)} steps each ({reports} reports), "
                  f"{rate:,.0f} updates/s offered for {minutes:g} min; reminder sweep every "
                  f"{sweep_every:g} s; SQLite WAL, synchronous=FULL", flush=True)

            async def sample() -> None:
                t0 = asyncio.get_running_loop().time()
                while True:
                    samples.append((asyncio.get_running_loop().time() - t0, _size_mb(wal),
                                    _size_mb(str(db)), rss_mb()))
                    await asyncio.sleep(0.5)

            sampler = asyncio.create_task(sample())
            with StallMeter() as stall:
                result = await server.run(Script(users, steps), rate=rate, seconds=seconds)
            sampler.cancel()
        print(f"{'minute':>6} {'updates':>8} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>8} "
              f"{'WAL max MB':>10} {'db MB':>7} {'RSS MB':>7}")
        p99s: list[float] = []
        for m in range(max(1, math.ceil(result.elapsed / minute))):
            got = [lat for lat, at in zip(result.latencies, result.done_at, strict=True)
                   if m * minute <= at < (m + 1) * minute]
            here = [s for s in samples if m * minute <= s[0] < (m + 1) * minute] or samples[-1:]
            if not got:
                continue
            p99s.append(percentile(got, 0.99))
            print(f"{m + 1:>6} {len(got):>8,} {percentile(got, 0.5) * 1000:>7.2f} "
                  f"{p99s[-1] * 1000:>7.2f} {max(got) * 1000:>8.1f} "
                  f"{max(s[1] for s in here):>10.1f} {here[-1][2]:>7.1f} {here[-1][3]:>7.1f}")
        wal_max = max((s[1] for s in samples), default=0.0)
        half = max(1, len(p99s) // 3)
        first, last = sorted(p99s[:half])[len(p99s[:half]) // 2], sorted(p99s[-half:])[
            len(p99s[-half:]) // 2]
        print(f"{len(result.latencies):,} updates answered of {result.offered:,} offered "
              f"({result.lost} lost), {result.rate:,.0f}/s; {result.reminders:,} reminders; "
              f"longest event-loop stall {stall.worst * 1000:.1f} ms; stand-in server CPU "
              f"{result.server_cpu:.1f} s for {result.requests:,} requests")
        print(f"WAL largest {wal_max:.1f} MB (goal ≤ {WAL_GOAL_MB:.0f} MB: "
              f"{'met' if wal_max <= WAL_GOAL_MB else 'NOT met'}); p99 median of the first "
              f"minutes {first * 1000:.2f} ms, of the last {last * 1000:.2f} ms "
              f"({'no upward drift' if last <= first * 1.5 + 0.002 else 'DRIFTS UP'})")
        return {"wal_max_mb": wal_max, "p99_first": first, "p99_last": last,
                "answered": float(len(result.latencies)), "lost": float(result.lost)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--officers", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=100.0, help="offered updates per second")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # "skipped: already running"
    asyncio.run(soak(args.officers, args.minutes, args.rate))
