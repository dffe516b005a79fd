"""A broadcast to 10,000 officers through Telegram's limits, and the same killed and restarted.

    python -m bench.broadcast [--recipients 10000] [--blocked 0.01] [--seed 2026]

A real SQLite database gets a province, districts, one commune per recipient with its officer,
and a broadcast in state 'sending' with one outbox row per officer, as the broadcast service
writes them when a broadcast starts (bench/broadcast_rows.py, the Telegram renderer's payloads).
The bot runs in a process of its own as `baocao run` does (bench/live.py's `live_bot`:
start_services, python-telegram-bot's HTTP client, long polling) against the stand-in Bot API
(bench/standin.py) in a third process, which enforces 30 messages a second overall (a bucket of
30) and 1 a second per chat (a bucket of 3) with 429 + retry_after, answers 403 "blocked" for
about 1% of the recipients, and counts every message per chat.

Two runs, each on a fresh database: (1) to the end, then a SIGTERM; (2) SIGKILL at a random
moment, a restart, to the end. Printed: duration, rate of calls and of messages accepted against
the anchor, Telegram's 30 a second (the stand-in's own bucket, measured in the same run: no
client can do better for long), duplicates, lost, 403s marked unreachable, share of calls
answered 429, the bot's peak RSS, and for run 2 the rows 'sending' at the kill and the
messages delivered but not yet recorded then (those, and only those, may go twice).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.broadcast_rows import write_broadcast, write_people
from bench.live import template_toml, write_reports
from bench.standin import StandIn
from bot.app import system_clock
from bot.config import Config, ReportsConfig, StorageConfig
from bot.domain.templates import Level
from bot.domain.units import Unit
from storage.database import utcnow_iso
from storage.sqlite import SqliteStorage

TELEGRAM_RATE = 30.0  # the anchor: Telegram's (and the stand-in's) messages a second
FIRST_CHAT = 100_000
TEXT = ("📢 Tỉnh đoàn thông báo: hạn gửi báo cáo 6 tháng lùi đến ngày 10/6/2026. "
        "Đề nghị các đơn vị hoàn thành và gửi đúng hạn.")


async def seed(db: Path, recipients: int) -> int:
    """The tree, the officers and the started broadcast; the broadcast's id."""
    storage = await SqliteStorage.open(db)
    try:
        districts = max(1, recipients // 100)
        tree = [Unit("T", "Tỉnh", None, Level.TINH)]
        tree += [Unit(f"H{d:03d}", f"Huyện {d}", "T", Level.HUYEN) for d in range(districts)]
        tree += [Unit(f"X{i:05d}", f"Xã {i}", f"H{i % districts:03d}", Level.XA)
                 for i in range(recipients)]
        await storage.upsert_units(tree)
        people = [(i + 1, str(FIRST_CHAT + i)) for i in range(recipients)]
        stamp = utcnow_iso()

        def write(conn: sqlite3.Connection) -> int:
            write_people(conn, people)
            conn.executemany("INSERT INTO memberships (person_id, unit_code, role, created_at)"
                             " VALUES (?, ?, 'officer', ?)",
                             [(p, f"X{p - 1:05d}", stamp) for p, _ in people])
            return write_broadcast(conn, people, TEXT)
        return await storage.db.write(write)
    finally:
        await storage.close()


def states(db: Path) -> dict[str, int]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        return dict(conn.execute("SELECT state, count(*) FROM outbox WHERE broadcast_id"
                                 " IS NOT NULL GROUP BY state").fetchall())


def unreachable_people(db: Path) -> set[int]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        return {int(r[0]) for r in conn.execute(
            "SELECT external_id FROM people WHERE reachable = 0")}


def start_bot(db: Path, base_url: str, folder: Path) -> subprocess.Popen[str]:
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(root), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.Popen([sys.executable, "-m", "bench.broadcast", "--bot", str(db),
                             base_url, str(folder)], cwd=root, env=env, stdout=subprocess.PIPE,
                            text=True)


async def until_done(db: Path, patience: float) -> None:
    deadline = time.monotonic() + patience
    while True:
        left = states(db)
        if not left.get("pending") and not left.get("sending"):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"broadcast not finished after {patience:.0f} s: {left}")
        await asyncio.sleep(0.5)


def stop_bot(bot: subprocess.Popen[str]) -> dict[str, Any]:
    """SIGTERM, then the figures the bot printed on its way out."""
    bot.send_signal(signal.SIGTERM)
    out, _ = bot.communicate(timeout=60)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    figures: dict[str, Any] = json.loads(lines[-1]) if lines else {}
    return figures


async def one_run(server: StandIn, folder: Path, tmp: Path, recipients: int, blocked: float,
                  rng: random.Random, kill: bool) -> dict[str, Any]:
    db = tmp / f"broadcast-{'kill' if kill else 'plain'}.db"
    await seed(db, recipients)
    chats = [FIRST_CHAT + i for i in range(recipients)]
    refusing = set(rng.sample(chats, round(recipients * blocked)))
    server.flood(per_second=TELEGRAM_RATE, burst=TELEGRAM_RATE, per_chat_per_second=1.0,
                 chat_burst=3.0, blocked=sorted(refusing))
    patience = recipients / TELEGRAM_RATE * 3 + 60
    started = time.perf_counter()
    out: dict[str, Any] = {}
    bot = start_bot(db, server.base_url, folder)
    try:
        if kill:
            await asyncio.sleep(rng.uniform(0.1, 0.9) * recipients / TELEGRAM_RATE + 3)
            bot.send_signal(signal.SIGKILL)
            bot.wait(30)
            at_kill = states(db)
            counts = server.flood_stats()["counts"]
            out["sending_at_kill"] = at_kill.get("sending", 0)
            out["sent_at_kill"] = at_kill.get("sent", 0)
            out["accepted_not_recorded"] = sum(counts.values()) - at_kill.get("sent", 0)
            bot = start_bot(db, server.base_url, folder)
        await until_done(db, patience)
        out["bot"] = stop_bot(bot)
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.wait(30)
    out["wall"] = time.perf_counter() - started
    stats = server.flood_stats()
    counts = {int(c): n for c, n in stats["counts"].items()}
    final = states(db)
    reachable = [c for c in chats if c not in refusing]
    out.update(
        duration=stats["last"] - stats["first"], calls=stats["calls"],
        accepted=sum(counts.values()), too_many=stats["too_many"],
        forbidden=stats["forbidden"], blocked=len(refusing),
        duplicates=sum(n - 1 for n in counts.values() if n > 1),
        lost=sum(1 for c in reachable if counts.get(c, 0) == 0)
        + final.get("pending", 0) + final.get("sending", 0),
        marked=len(unreachable_people(db) & refusing),
        unreachable_rows=final.get("unreachable", 0), sent_rows=final.get("sent", 0),
        failed_rows=final.get("failed", 0))
    return out


def report(title: str, r: dict[str, Any], recipients: int) -> None:
    calls_rate = (r["calls"] - r["too_many"]) / r["duration"] if r["duration"] else 0.0
    sent_rate = (r["accepted"] - 1) / r["duration"] if r["duration"] else 0.0
    ideal = (recipients - r["blocked"]) / TELEGRAM_RATE
    print(f"\n== {title}: {recipients:,} recipients, {r['blocked']} answering 403 ==")
    print(f"first to last message accepted  {r['duration']:8.1f} s   (anchor: "
          f"{ideal:.1f} s at Telegram's {TELEGRAM_RATE:.0f}/s; wall {r['wall']:.1f} s "
          "with start-up)")
    print(f"calls answered (not 429)        {calls_rate:8.2f} /s  = "
          f"{100 * calls_rate / TELEGRAM_RATE:5.1f}% of {TELEGRAM_RATE:.0f}/s (goal ≥ 95%)")
    print(f"messages accepted               {sent_rate:8.2f} /s  = "
          f"{100 * sent_rate / TELEGRAM_RATE:5.1f}% of {TELEGRAM_RATE:.0f}/s")
    print(f"calls answered 429              {r['too_many']:8d}     = "
          f"{100 * r['too_many'] / max(1, r['calls']):5.2f}% of {r['calls']:,} (goal < 1%)")
    print(f"duplicates                      {r['duplicates']:8d}")
    print(f"lost                            {r['lost']:8d}     (rows: {r['sent_rows']:,} sent,"
          f" {r['unreachable_rows']} unreachable, {r['failed_rows']} failed)")
    print(f"403s marked unreachable         {r['marked']:8d} of {r['blocked']}"
          f" ({r['forbidden']} calls answered 403)")
    bot = r.get("bot") or {}
    if bot:
        print(f"accepted → recorded (bot)       mean {1000 * bot['lag_mean']:.1f} ms, max "
              f"{1000 * bot['lag_max']:.1f} ms over {bot['lag_count']:,} rows; bot peak RSS "
              f"{bot['rss_mb']:.0f} MB")
    if "sending_at_kill" in r:
        print(f"at the SIGKILL                  {r['sending_at_kill']:8d} rows 'sending', "
              f"{r['sent_at_kill']:,} recorded sent, {r['accepted_not_recorded']} accepted but"
              " not recorded")


async def plain_sends(server: StandIn, calls: int) -> dict[str, Any]:
    """The anchor measured in the same run: `calls` plain sendMessage calls to as many chats
    through python-telegram-bot's client, as one would write them (16 at once, aiolimiter at
    30 a second, sleep `retry_after` on a 429), against the same stand-in and limits."""
    from aiolimiter import AsyncLimiter
    from telegram import Bot
    from telegram.error import RetryAfter
    from telegram.request import HTTPXRequest

    from bench.standin import TOKEN

    server.flood(per_second=TELEGRAM_RATE, burst=TELEGRAM_RATE, per_chat_per_second=1.0,
                 chat_burst=3.0)
    limiter = AsyncLimiter(TELEGRAM_RATE, 1)
    chats = iter(range(FIRST_CHAT, FIRST_CHAT + calls))

    async def worker(bot: Bot) -> None:
        for chat in chats:
            while True:
                await limiter.acquire()
                try:
                    await bot.send_message(chat, TEXT)
                    break
                except RetryAfter as e:
                    wait = e.retry_after
                    await asyncio.sleep(wait if isinstance(wait, int | float)
                                        else wait.total_seconds())

    request = HTTPXRequest(connection_pool_size=16)
    async with Bot(TOKEN, base_url=server.base_url, request=request) as bot:
        await asyncio.gather(*(worker(bot) for _ in range(16)))
    stats = server.flood_stats()
    duration = stats["last"] - stats["first"]
    return {"calls": stats["calls"], "too_many": stats["too_many"], "duration": duration,
            "rate": (sum(stats["counts"].values()) - 1) / duration if duration else 0.0}


async def measure(recipients: int, blocked: float, seed_: int, kill: bool = True,
                  anchor: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed_)
    results = []
    with tempfile.TemporaryDirectory() as tmp, StandIn() as server:
        folder = write_reports(Path(tmp) / "reports", {"bench": template_toml("bench")})
        if anchor:
            a = await plain_sends(server, anchor)
            print(f"\n== anchor: {anchor:,} plain sendMessage calls (PTB, aiolimiter 30/s) ==")
            print(f"messages accepted {a['rate']:.2f}/s = {100 * a['rate'] / TELEGRAM_RATE:.1f}%"
                  f" of {TELEGRAM_RATE:.0f}/s; calls answered 429: {a['too_many']:,} ="
                  f" {100 * a['too_many'] / max(1, a['calls']):.2f}% of {a['calls']:,}")
        plain = await one_run(server, folder, Path(tmp), recipients, blocked, rng, kill=False)
        report("run to the end", plain, recipients)
        results.append(plain)
        if kill:
            killed = await one_run(server, folder, Path(tmp), recipients, blocked, rng,
                                   kill=True)
            report("SIGKILL at a random moment, restarted", killed, recipients)
            results.append(killed)
    return results


# --- the bot's process ---------------------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak RSS since its exec (VmHWM; getrusage's ru_maxrss would count the
    bench process this one was forked from)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def serve_bot(db: Path, base_url: str, folder: Path) -> None:
    from bench.live import live_bot  # the bot's process only
    from handlers.telegram.app import APP_KEY

    config = Config(storage=StorageConfig(path=db), reports=ReportsConfig(dir=folder))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with live_bot(config, base_url, system_clock, sweep_every=None) as application:
        await stop.wait()
        courier = application.bot_data[APP_KEY].channels.courier("telegram")
        figures = {"lag_max": courier.record_lag_max, "lag_count": courier.record_lag_count,
                   "lag_mean": courier.record_lag_total / max(1, courier.record_lag_count),
                   "rss_mb": peak_rss_mb()}
    print(json.dumps(figures), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--blocked", type=float, default=0.01, help="share answering 403")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-kill", action="store_true", help="only the run to the end")
    parser.add_argument("--anchor", type=int, default=2000, metavar="N",
                        help="plain sendMessage calls measured first (0: none)")
    parser.add_argument("--bot", nargs=3, metavar=("DB", "URL", "REPORTS"),
                        help=argparse.SUPPRESS)  # the bot's own process
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.bot:
        asyncio.run(serve_bot(Path(args.bot[0]), args.bot[1], Path(args.bot[2])))
        return
    asyncio.run(measure(args.recipients, args.blocked, args.seed, kill=not args.no_kill,
                        anchor=args.anchor))


if __name__ == "__main__":
    main()
