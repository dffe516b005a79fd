"""Benchmark: one reminder sweep over 10,000 communes × the 5 shipped templates.

A real SQLite file with 10,000 communes (each with an officer) under 100 districts. Prints the
time of a sweep when nothing is due (what almost every minute's sweep does), and of a sweep
at a moment when reminders are due for every commune (claimed in the ledger, then "sent" to a
sender that only counts).

    python -m bench.reminder_sweep [--units 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.app import build_app
from bot.config import Config, StorageConfig
from bot.domain.dialogue import Reply
from bot.domain.templates import Level
from bot.domain.units import Unit
from bot.services.channels import Channels, Outcome
from storage.database import utcnow_iso
from storage.models import Person

VN = ZoneInfo("Asia/Ho_Chi_Minh")


class CountingSender:
    def __init__(self) -> None:
        self.count = 0

    async def send(self, person: Person, reply: Reply) -> Outcome:
        self.count += 1
        return "sent"


async def main(units: int) -> None:
    now = datetime(2026, 12, 1, 3, 0, tzinfo=VN)
    clock_value = [now]
    with tempfile.TemporaryDirectory() as tmp:
        config = Config(storage=StorageConfig(path=Path(tmp) / "bench.db"))
        app = await build_app(config, clock=lambda: clock_value[0])
        # Under LCH (Hội Nông dân): the shipped templates now apply to one subtree and
        # organisation each, and hoi_nong_dan_htx is the one with a period open in 2026.
        tree = [Unit("LCH", "Tỉnh", None, Level.TINH, "hoi_nong_dan")]
        districts = max(1, units // 100)
        tree += [Unit(f"LCH-H{d:03d}", f"Huyện {d}", "LCH", Level.HUYEN)
                 for d in range(districts)]
        tree += [Unit(f"LCH-X{i:05d}", f"Xã {i}", f"LCH-H{i % districts:03d}", Level.XA)
                 for i in range(units)]
        await app.storage.upsert_units(tree)
        stamp = utcnow_iso()

        def people(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO people (id, channel, external_id, display_name, created_at)"
                " VALUES (?, 'telegram', ?, 'Cán bộ', ?)",
                [(i + 1, str(100_000 + i), stamp) for i in range(units)])
            conn.executemany(
                "INSERT INTO memberships (person_id, unit_code, role, created_at)"
                " VALUES (?, ?, 'officer', ?)",
                [(i + 1, f"LCH-X{i:05d}", stamp) for i in range(units)])

        await app.storage.db.write(people)
        print(f"{units:,} communes × {len(app.templates)} templates "
              f"({', '.join(sorted(app.templates))})")

        sender = CountingSender()
        channels = Channels()
        channels.register("telegram", sender)
        for label, moment in (
            ("first start: catch up, the latest reminder only",
             datetime(2026, 12, 1, 12, 0, tzinfo=VN)),
            ("a minute later: nothing due", datetime(2026, 12, 1, 12, 1, tzinfo=VN)),
            ("catch up to just before 08:00", datetime(2026, 12, 14, 7, 59, tzinfo=VN)),
            ("08:00: reminders due for every commune", datetime(2026, 12, 14, 8, 0, tzinfo=VN)),
            ("same minute again (all already in the ledger)",
             datetime(2026, 12, 14, 8, 1, tzinfo=VN)),
        ):
            clock_value[0] = moment.astimezone(UTC)
            before = sender.count
            started = time.perf_counter()
            await app.reminders.plan(clock_value[0])
            planned = time.perf_counter() - started
            started = time.perf_counter()
            result = await app.reminders.sweep(channels)
            elapsed = time.perf_counter() - started
            print(f"{moment:%d/%m/%Y %H:%M} ({label}): deciding {planned:.3f} s; whole sweep "
                  f"{elapsed:.3f} s = {result.sent:,} reminders claimed and handed to the "
                  f"sender ({sender.count - before:,} messages), {result.skipped:,} stale "
                  f"skipped")
        await app.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--units", type=int, default=10_000)
    asyncio.run(main(parser.parse_args().units))
