"""`baocao demo`: the officer dialogue in the terminal, with no token and no setup.

It builds a throw-away database with the sample unit tree and the shipped templates, joins
the user as the officer of a commune, then reads lines from stdin (a terminal or a pipe).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import uuid
from collections.abc import Callable
from datetime import date, datetime, time
from importlib import resources
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from bot.app import build_app, system_clock
from bot.config import Config
from bot.domain import messages_vi as M
from bot.domain.roles import Role
from bot.domain.units import check_import
from bot.services.channels import Inbound, parse_command
from bot.services.invites import create_invite
from bot.unit_files import read_unit_rows
from handlers.text_render import render_text

DEMO_UNIT = "LCH-TAMDUONG"  # plan 001 runs to 2030: the demo has a live report
DEMO_USER = "demo-officer"


class DemoError(Exception):
    """The demo cannot start (a --unit the sample tree does not hold)."""


def sample_units_path() -> Path:
    return Path(str(resources.files("bot") / "sample" / "units.csv"))


def parse_line(line: str, event_id: str, user: str = DEMO_USER) -> Inbound:
    """'/start ABC' → a command; anything else → typed text."""
    text = line.strip()
    command = parse_command(text)
    if command is not None:
        return Inbound("console", user, M.DEMO_NAME, command=command.name,
                       argument=command.argument, event_id=event_id)
    return Inbound("console", user, M.DEMO_NAME, text=text, event_id=event_id)


def clock_on(day: date, zone: ZoneInfo,
             real: Callable[[], datetime] = system_clock) -> Callable[[], datetime]:
    """A clock that runs as the real one, but on `day` (local): the time of day goes on, the
    date is moved by a whole number of days (`demo --date`)."""
    now = real()
    shift = (datetime.combine(day, time(0), tzinfo=zone)
             - datetime.combine(now.astimezone(zone).date(), time(0), tzinfo=zone))
    return lambda: real() + shift


async def run_demo(config: Config, stdin: TextIO, stdout: TextIO,
                   db_path: Path | None = None, today: date | None = None,
                   unit: str = DEMO_UNIT) -> int:
    clock = system_clock if today is None else clock_on(today, config.zone)
    sample = {r.code: r for r in read_unit_rows(sample_units_path())}
    if unit not in sample:
        raise DemoError(f"unknown unit {unit!r} for the demo; the sample tree has: "
                        f"{', '.join(sorted(sample))}")
    user = DEMO_USER if unit == DEMO_UNIT else f"{DEMO_USER}-{unit}"
    with tempfile.TemporaryDirectory(prefix="baocao-demo-") as tmp:
        path = db_path or Path(tmp) / "demo.db"
        app = await build_app(config, clock=clock, db_path=path)
        try:
            existing = {u.code: u for u in await app.storage.list_units()}
            units, errors = check_import(read_unit_rows(sample_units_path()), existing)
            assert not errors, errors
            await app.storage.upsert_units(units)
            # Each unit is played by its own officer, so a kept database (--db) can hold both.
            person = await app.storage.find_person("console", user)
            if person is None:
                invite = await create_invite(app.storage, unit, Role.OFFICER, 1, 7,
                                             clock(), actor="demo")
                first = [f"/start {invite.code}", "/baocao"]
            else:
                first = ["/baocao"]
            interactive = stdin.isatty()

            def say(text: str) -> None:
                stdout.write(text + "\n")
                stdout.flush()

            say(M.demo_banner(sample[unit].name, db_path, today))
            say(M.DEMO_HOW_TO + "\n")
            # Event ids are de-duplicated by the database, which may outlive this run
            # (--db): a prefix of its own keeps a second run's lines from being taken as
            # repeats of the first's.
            run = uuid.uuid4().hex[:12]
            counter = 0

            async def send(line: str) -> None:
                nonlocal counter
                counter += 1
                inbound = parse_line(line, f"c{run}-{counter}", user)
                for reply in await app.reporting.handle(inbound):
                    say(render_text(reply))
                    say("")

            for line in first:
                say(f"> {line}")
                await send(line)
            while True:
                if interactive:
                    stdout.write("> ")
                    stdout.flush()
                line = await asyncio.to_thread(stdin.readline)
                if not line:
                    break
                if not line.strip():
                    continue
                if not interactive:
                    say(f"> {line.rstrip()}")
                await send(line)
            say(M.DEMO_GOODBYE)
            return 0
        finally:
            await app.close()


def main_demo(config: Config, db_path: Path | None = None, today: date | None = None,
              unit: str = DEMO_UNIT) -> int:
    return asyncio.run(run_demo(config, sys.stdin, sys.stdout, db_path, today, unit))
