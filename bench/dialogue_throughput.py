"""Benchmark: 1,000 officers answer a 15-question report through the full PTB application.

Real python-telegram-bot (`Update.de_json`, the per-chat update processor, handlers, replies
encoded by PTB and PTB parsing the Bot API's answers), the real service started as `baocao run`
starts it (caches warmed), a real SQLite file (WAL, synchronous=FULL, every answer committed
before its reply). No network: a request object answers each call with a reply of the real
shape and size, pre-assembled so that its own work is not what gets measured.

Three runs:
- *handling latency*: one update at a time (nothing queued), the time PTB and baocao take to
  handle each, from the raw update to the reply sent and the answer committed;
- *steady load*: updates arrive as a Poisson stream at `--rate` per second, each from a random
  officer who is not waiting for a reply (so steps of all kinds mix); latency is measured from
  an update's arrival to its reply being sent;
- *saturation*: `--concurrency` officers type as fast as replies come back; the highest rate
  the bot can sustain on this machine (latency here is mostly queueing: in flight / rate).

The goal (≥ 1,000 updates/s with p99 ≤ 10 ms) is checked on the first two runs: handling
latency is the bot's own time per update; the steady run adds the queueing of a random
stream at that rate, so it also shows this shared machine's hiccups (its p99 varies from run
to run: 5-24 ms measured on 2026-11-23, under 10 ms in most runs; see the README).

The request object above skips python-telegram-bot's HTTP client, which costs more CPU per Bot
API call than the bot spends on an update, and no reminder sweep runs. So four more runs go
through the real client (HTTPXRequest, long polling) to a stand-in Bot API server in its own
process (bench/standin.py), the bot built as `baocao run` builds it with the minute sweep
running (its clock starts at 08:00 on a reminder day: the first sweep pushes a reminder to
every commune, 25 a second, while the officers type), beside the anchor: bare
python-telegram-bot with the same update processor, replying to each update with one
sendMessage, fed the same update stream through the same server, in the same process run:
- saturation, `--concurrency` officers typing at once: goal baocao ≥ 80% of the anchor's
  updates/s;
- steady Poisson load at `--http-rate` (300) updates/s: goal baocao's p99 ≤ 10 ms.
Latency there runs from the update being offered by the server to the reply reaching it.

    python -m bench.dialogue_throughput [--officers 1000] [--rate 1000] [--concurrency 20]
                                        [--http-rate 300] [--runs recording,http]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from telegram import Update

from bench.live import (
    UNLIMITED,
    VN,
    MovingClock,
    anchor_bot,
    live_bot,
    report_steps,
    seed,
    send_data,
    write_reports,
)
from bench.live import template_toml as live_template
from bench.standin import Result, Script, StandIn
from bot.app import App, build_app, tune_runtime
from bot.config import Config, ReportsConfig, StorageConfig
from bot.domain.buttons import OpenReport
from bot.domain.roles import Role
from bot.domain.templates import Level
from bot.domain.units import Unit
from handlers.telegram.app import APP_KEY, build_application
from handlers.telegram.runner import start_delivery
from storage.models import Invite
from tests.recording_request import RecordingRequest, button_update, text_update

QUESTIONS = 15
OPEN = OpenReport(0, "bench", "2026-Q1").pack()
SEND = send_data("bench", "2026-Q1", QUESTIONS)
FIRST_USER = 10_000
NOW = datetime(2026, 2, 20, 3, 0, tzinfo=UTC)


def template_toml() -> str:
    lines = ['id = "bench"', 'title = "Báo cáo đo tốc độ"', 'period = "quarter"',
             'deadline = "trước ngày 05 tháng cuối quý"', 'applies_to = { levels = ["xa"] }']
    for i in range(QUESTIONS):
        kind = "yes_no" if i % 5 == 0 else "integer"
        lines += ["[[questions]]", f'id = "q{i}"', f'text = "Câu hỏi số {i}"', f'type = "{kind}"']
    return "\n".join(lines) + "\n"


def steps(user: int, last: Callable[[int], dict[str, Any]]) -> list[Callable[[], dict[str, Any]]]:
    """The updates one officer sends, built lazily (a button press needs the last message)."""
    out: list[Callable[[], dict[str, Any]]] = [lambda: text_update(user, "/baocao")]
    out.append(lambda: button_update(user, OPEN, last(user)))
    for i in range(QUESTIONS):
        out.append(lambda i=i: text_update(user, "co" if i % 5 == 0 else str(i + 1)))  # type: ignore[misc]
    out.append(lambda: button_update(user, SEND, last(user)))
    return out


STEPS = QUESTIONS + 3
WAL_LARGEST = [0.0]  # MB, of the last in-process run


async def run(officers: int, drive: Callable[[Callable[[dict[str, Any]], Awaitable[None]],
                                              Callable[[int], dict[str, Any]]],
                                             Awaitable[None]]) -> tuple[list[float], float]:
    """Set up a fresh database with `officers` joined officers, then let `drive` send updates."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "reports"
        folder.mkdir()
        (folder / "bench.toml").write_text(template_toml(), encoding="utf-8")
        config = Config(storage=StorageConfig(path=Path(tmp) / "bench.db"),
                        reports=ReportsConfig(dir=folder), telegram=UNLIMITED)
        app = await build_app(config, clock=lambda: NOW)
        units = [Unit("P", "Tỉnh đoàn", None, Level.TINH)]
        units += [Unit(f"X{i:04d}", f"Đoàn xã {i}", "P", Level.XA) for i in range(officers)]
        await app.storage.upsert_units(units)
        for i in range(officers):
            await app.storage.create_invite(Invite(f"BENCH{i:05d}", f"X{i:04d}", Role.OFFICER, 1))
            joined = await app.storage.redeem_invite(f"BENCH{i:05d}", "telegram",
                                                     str(FIRST_USER + i), "Cán bộ", NOW)
            assert not isinstance(joined, str)

        request = RecordingRequest(record=False)
        application = build_application("1:BENCH", "http://127.0.0.1:9/bot", app,
                                        request=request, get_updates_request=request)
        await application.initialize()
        await app.reporting.warm()  # as `baocao run` does at start-up
        courier = start_delivery(application, app, config)  # replies through the outbox
        tune_runtime()
        processor = application.update_processor
        latencies: list[float] = []

        def last(user: int) -> dict[str, Any]:
            return request.latest[user]

        async def feed(raw: dict[str, Any]) -> None:
            # What PTB's polling loop does with each fetched update; done when the reply is
            # delivered (stored in the outbox with the answer, then sent by the courier).
            update = Update.de_json(raw, application.bot)
            await processor.process_update(update, application.process_update(update))
            assert update.effective_chat is not None
            await courier.delivered_all(str(update.effective_chat.id))

        wal, largest = Path(tmp) / "bench.db-wal", [0]

        async def watch_wal() -> None:  # under a saturated writer the WAL used to grow
            while True:
                largest[0] = max(largest[0], wal.stat().st_size if wal.exists() else 0)
                await asyncio.sleep(0.1)

        watcher = asyncio.create_task(watch_wal())
        started = time.perf_counter()
        await drive(feed, last)
        elapsed = time.perf_counter() - started
        watcher.cancel()
        WAL_LARGEST[0] = largest[0] / 1e6
        row = await app.storage.db.fetchone("SELECT COUNT(*) AS n FROM submissions")
        assert row is not None and row["n"] == officers, "not every report was sent"
        await courier.stop()
        await application.shutdown()
        await app.close()
        return latencies, elapsed


async def steady(officers: int, rate: float) -> tuple[list[float], float]:
    latencies: list[float] = []

    async def drive(feed: Callable[[dict[str, Any]], Awaitable[None]],
                    last: Callable[[int], dict[str, Any]]) -> None:
        rng = random.Random(2026)
        plans = {n: steps(FIRST_USER + n, last) for n in range(officers)}
        idle = list(plans)  # officers not waiting for a reply, with steps left
        running: set[asyncio.Task[None]] = set()

        async def one(n: int, arrival: float) -> None:
            await feed(plans[n].pop(0)())
            latencies.append(time.perf_counter() - arrival)
            if plans[n]:
                idle.append(n)

        arrival = time.perf_counter()
        for _ in range(officers * STEPS):
            arrival += rng.expovariate(rate)  # a Poisson stream of updates
            delay = arrival - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            while not idle:  # every officer is waiting for a reply: the bot fell behind
                await asyncio.sleep(0.001)
            n = idle.pop(rng.randrange(len(idle)))
            task = asyncio.create_task(one(n, arrival))
            running.add(task)
            task.add_done_callback(running.discard)
        await asyncio.gather(*running)

    _, elapsed = await run(officers, drive)
    return latencies, elapsed


async def saturate(officers: int, concurrency: int) -> tuple[list[float], float]:
    latencies: list[float] = []

    async def drive(feed: Callable[[dict[str, Any]], Awaitable[None]],
                    last: Callable[[int], dict[str, Any]]) -> None:
        gate = asyncio.Semaphore(concurrency)

        async def officer(n: int) -> None:
            async with gate:
                for make in steps(FIRST_USER + n, last):
                    start = time.perf_counter()
                    await feed(make())
                    latencies.append(time.perf_counter() - start)

        await asyncio.gather(*(officer(n) for n in range(officers)))

    _, elapsed = await run(officers, drive)
    return latencies, elapsed


GOAL_RATE, GOAL_P99 = 1000.0, 0.010  # updates/s and seconds, from issue 3


def report(title: str, latencies: list[float], elapsed: float) -> tuple[float, float]:
    """Print one run's figures; return (updates/s, p99 latency in seconds)."""
    ordered = sorted(latencies)
    n = len(ordered)
    rate, p99 = n / elapsed, ordered[int(n * 0.99)]
    print(f"{title}: {n:,} updates in {elapsed:.2f} s = {rate:,.0f} updates/s; "
          f"latency p50 {ordered[n // 2] * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms"
          f", max {ordered[-1] * 1000:.2f} ms")
    return rate, p99


HTTP_START = datetime(2026, 2, 26, 8, 0, tzinfo=VN)  # bench's first reminder falls due
GOAL_SHARE, GOAL_HTTP_RATE = 0.80, 300.0


async def http_run(server: StandIn, officers: int, baocao: bool, *, rate: float | None = None,
                   concurrency: int | None = None) -> Result:
    """One run through the real HTTP client: baocao as deployed (fresh database, the minute
    sweep on), or the anchor; every officer takes a whole report."""
    script = Script([FIRST_USER + n for n in range(officers)], report_steps("bench", "2026-Q1"))
    if not baocao:
        async with anchor_bot(server.base_url):
            return await server.run(script, rate=rate, concurrency=concurrency)
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_reports(Path(tmp) / "reports", {"bench": live_template("bench")})
        config = Config(storage=StorageConfig(path=Path(tmp) / "bench.db"),
                        reports=ReportsConfig(dir=folder), telegram=UNLIMITED)

        async def prepare(app: App) -> None:
            assert [FIRST_USER + n for n in range(officers)] == await seed(app, officers)

        async with live_bot(config, server.base_url, MovingClock(HTTP_START), prepare) as bot:
            result = await server.run(script, rate=rate, concurrency=concurrency)
            app: App = bot.bot_data[APP_KEY]
            row = await app.storage.db.fetchone("SELECT COUNT(*) AS n FROM submissions")
            assert row is not None
            # An update lost to overload (no reply in 30 s) can leave its report unsent; so can
            # a stand-in officer who types on after the first message of a two-message reply:
            # overloaded, the bot refuses an answer typed before its question was delivered.
            if row["n"] != officers and not result.lost:
                print(f"    ({officers - row['n']:,} reports unsent: answers typed before the "
                      "question they answer was delivered were refused)", flush=True)
            result.extra["reports"] = row["n"]
        return result


def http_report(title: str, result: Result) -> tuple[float, float]:
    line = report(title, result.latencies, result.elapsed)
    sent = f", {result.extra['reports']:,} reports sent" if "reports" in result.extra else ""
    print(f"    ({result.lost} lost{sent}, {result.reminders:,} reminders pushed meanwhile; "
          f"stand-in server CPU {result.server_cpu / max(1, result.requests) * 1e6:.0f} µs "
          f"per request, {result.requests:,} requests)")
    return line


async def http_runs(officers: int, concurrency: int, rate: float) -> None:
    print("through python-telegram-bot's HTTP client to the stand-in Bot API server (long "
          "polling); baocao with the minute reminder sweep; the anchor is bare PTB replying "
          "with one sendMessage")
    with StandIn() as server:
        anchor_sat = http_report(f"anchor (bare PTB), saturation, {concurrency} officers at once",
                                 await http_run(server, officers, False, concurrency=concurrency))
        ours_sat = http_report(f"baocao, saturation, {concurrency} officers at once",
                               await http_run(server, officers, True, concurrency=concurrency))
        anchor_steady = http_report(f"anchor (bare PTB), steady load at {rate:,.0f}/s offered",
                                    await http_run(server, officers, False, rate=rate))
        ours_steady = http_report(f"baocao, steady load at {rate:,.0f}/s offered",
                                  await http_run(server, officers, True, rate=rate))
    share = ours_sat[0] / anchor_sat[0]
    print(f"baocao/anchor at saturation: {share:.0%} of the anchor's updates/s (goal ≥ "
          f"{GOAL_SHARE:.0%}: {'met' if share >= GOAL_SHARE else 'NOT met'}); p99 at "
          f"{rate:,.0f}/s: baocao {ours_steady[1] * 1000:.2f} ms, anchor "
          f"{anchor_steady[1] * 1000:.2f} ms (goal baocao ≤ {GOAL_P99 * 1000:.0f} ms: "
          f"{'met' if ours_steady[1] <= GOAL_P99 else 'NOT met'})")


async def main(officers: int, rate: float, concurrency: int, http_rate: float = GOAL_HTTP_RATE,
               runs: tuple[str, ...] = ("recording", "http")) -> None:
    print(f"{officers:,} officers × ({QUESTIONS} answers + /baocao, open, send) = "
          f"{officers * STEPS:,} updates; SQLite WAL, synchronous=FULL")
    if "recording" in runs:
        await recording_runs(officers, rate, concurrency)
    if "http" in runs:
        await http_runs(officers, concurrency, http_rate)


async def recording_runs(officers: int, rate: float, concurrency: int) -> None:
    print("through a request object that answers in-process (no HTTP), no reminder sweep")
    handled = report("handling latency, one update at a time", *await saturate(officers, 1))
    print(f"    (WAL largest {WAL_LARGEST[0]:.1f} MB)")
    steady_load = report(f"steady load at {rate:,.0f}/s offered", *await steady(officers, rate))
    print(f"    (WAL largest {WAL_LARGEST[0]:.1f} MB)")
    report(f"saturation, {concurrency} officers typing at once",
           *await saturate(officers, concurrency))
    print(f"    (WAL largest {WAL_LARGEST[0]:.1f} MB)")
    for name, (got_rate, got_p99) in (("handling, one at a time", handled),
                                      ("steady load (queueing included)", steady_load)):
        met = got_rate >= GOAL_RATE * 0.99 and got_p99 <= GOAL_P99  # 1%: the Poisson draw
        print(f"goal ≥ {GOAL_RATE:,.0f} updates/s with p99 ≤ {GOAL_P99 * 1000:.0f} ms, {name}: "
              f"{'met' if met else 'NOT met'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--officers", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=1000.0, help="offered updates per second")
    parser.add_argument("--concurrency", type=int, default=20,
                        help="officers typing at once in the saturation run")
    parser.add_argument("--http-rate", type=float, default=GOAL_HTTP_RATE,
                        help="offered updates per second in the steady run through HTTP")
    parser.add_argument("--runs", default="recording,http",
                        help="recording (in-process request object), http (real client), or both")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # "skipped: already running"
    asyncio.run(main(args.officers, args.rate, args.concurrency, args.http_rate,
                     tuple(args.runs.split(","))))
