"""The bot as `baocao run` builds it, polling the stand-in Bot API server (bench/standin.py).

`live_bot` runs what `baocao run` runs once connected (`handlers.telegram.runner.
start_services`: build_app, warm-up, announce, the Telegram sender, the reminder sweep every
minute, tune_runtime) and long polling through python-telegram-bot's HTTPXRequest, except that
the clock is the bench's and the process is not handed to `run_polling` (which owns the event
loop and the signals).
`anchor_bot` is the yardstick: bare python-telegram-bot with the same update processor and
the same connection pool, whose one handler answers a button press (as the Bot API requires)
and replies with one sendMessage.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from telegram import Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bench.standin import TOKEN, Step
from bot.app import App, tune_runtime
from bot.config import Config, TelegramConfig
from bot.domain.buttons import SendReport
from bot.domain.dialogue import answers_version
from bot.domain.templates import Level
from bot.domain.units import Unit
from handlers.telegram.app import POOL_SIZE, POOL_WAIT, PerChatProcessor, build_application
from handlers.telegram.runner import UPDATES, start_services, stop_services, stop_sweeps
from storage.database import utcnow_iso

VN = ZoneInfo("Asia/Ho_Chi_Minh")
QUESTIONS = 15
FIRST_USER = 10_000
AnyApplication = Application[Any, Any, Any, Any, Any, Any]


def template_toml(template_id: str, deadline: str = "trước ngày 05 tháng cuối quý") -> str:
    """A quarterly report of 15 questions (every fifth yes/no, the others numbers)."""
    lines = [f'id = "{template_id}"', f'title = "Báo cáo đo tốc độ {template_id}"',
             'period = "quarter"', f'deadline = "{deadline}"', 'applies_to = { levels = ["xa"] }']
    for i in range(QUESTIONS):
        kind = "yes_no" if i % 5 == 0 else "integer"
        lines += ["[[questions]]", f'id = "q{i}"', f'text = "Câu hỏi số {i}"', f'type = "{kind}"']
    return "\n".join(lines) + "\n"


def report_steps(template_id: str, period: str) -> list[Step]:
    """What an officer types for one report: /baocao, open it, 15 answers, send (the summary's
    button, which names the version of the answers it showed)."""
    steps: list[Step] = [("text", "/baocao"), ("button", f"o|0|{template_id}|{period}")]
    steps += [("text", "co" if i % 5 == 0 else str(i + 1)) for i in range(QUESTIONS)]
    return [*steps, ("button", send_data(template_id, period, QUESTIONS))]


def send_data(template_id: str, period: str, questions: int) -> str:
    """The summary's send button after the answers above (yes, then 2, 3, 4, 5, yes, …)."""
    answers = {f"q{i}": True if i % 5 == 0 else i + 1 for i in range(questions)}
    return SendReport(0, template_id, period, answers_version(answers)).pack()


async def seed(app: App, communes: int, officers_per_commune: int = 1) -> list[int]:
    """A province, districts of 100 communes, and officers already joined (written directly:
    joining 30,000 people one invite at a time would take longer than the measurement).
    Returns the officers' Telegram user ids, one commune after another."""
    districts = max(1, communes // 100)
    tree = [Unit("T", "Tỉnh", None, Level.TINH)]
    tree += [Unit(f"H{d:03d}", f"Huyện {d}", "T", Level.HUYEN) for d in range(districts)]
    tree += [Unit(f"X{i:05d}", f"Xã {i}", f"H{i % districts:03d}", Level.XA)
             for i in range(communes)]
    await app.storage.upsert_units(tree)
    stamp = utcnow_iso()
    people = [(n + 1, f"X{n // officers_per_commune:05d}", FIRST_USER + n)
              for n in range(communes * officers_per_commune)]

    def write(conn: sqlite3.Connection) -> None:
        conn.executemany(
            "INSERT INTO people (id, channel, external_id, display_name, created_at)"
            " VALUES (?, 'telegram', ?, 'Cán bộ Xã', ?)",
            [(pid, str(user), stamp) for pid, _, user in people])
        conn.executemany(
            "INSERT INTO memberships (person_id, unit_code, role, created_at)"
            " VALUES (?, ?, 'officer', ?)", [(pid, unit, stamp) for pid, unit, _ in people])

    await app.storage.db.write(write)
    return [user for _, _, user in people]


# The benches measure what the bot can handle; Telegram's own limits (30 messages a second in
# all, 1 a second per chat) would cap every run at 30 replies a second. The limiter that
# enforces them is tested in tests/test_delivery.py.
UNLIMITED = TelegramConfig(max_per_second=0, max_per_chat_per_second=0)


class MovingClock:
    """The bench's "now": `start`, then running with the real clock."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.t0 = time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.t0)


@contextlib.asynccontextmanager
async def live_bot(config: Config, base_url: str, clock: Callable[[], datetime],
                   prepare: Callable[[App], Any] | None = None,
                   sweep_every: float | None = 60.0) -> AsyncIterator[AnyApplication]:
    """Run the bot as `baocao run` does until the block ends. `prepare(app)` (awaited) runs
    right after the database is opened, before the warm-up: it seeds units and officers.
    `sweep_every=None` leaves the sweeps to the caller. The App is `bot_data[APP_KEY]`."""

    async def post_init(application: AnyApplication) -> None:
        await start_services(application, config, clock=clock, prepare=prepare,
                             sweep_every=sweep_every)

    application = build_application(TOKEN, base_url, post_init=post_init)
    await application.initialize()
    try:
        assert application.post_init is not None
        await application.post_init(application)
        assert application.updater is not None
        await application.updater.start_polling(allowed_updates=UPDATES)
        await application.start()
        try:
            yield application
        finally:
            await application.updater.stop()
            await application.stop()
            await stop_sweeps(application)  # as run_polling's post_stop does
    finally:
        await application.shutdown()
        await stop_services(application)


@contextlib.asynccontextmanager
async def anchor_bot(base_url: str) -> AsyncIterator[AnyApplication]:
    """Bare python-telegram-bot: the same update processor (concurrent, one chat in order),
    one handler for messages and button presses that replies with one sendMessage."""

    async def reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        if update.callback_query is not None:  # a button press must be answered (Bot API)
            await update.callback_query.answer()
        await context.bot.send_message(update.effective_chat.id, "Đã nhận.")

    application = (ApplicationBuilder().token(TOKEN).base_url(base_url)
                   .concurrent_updates(PerChatProcessor())
                   .connection_pool_size(POOL_SIZE).pool_timeout(POOL_WAIT).build())
    application.add_handler(MessageHandler(filters.ALL, reply))
    application.add_handler(CallbackQueryHandler(reply))
    async with application:
        tune_runtime()  # the same process settings as the bot's, so only the code differs
        assert application.updater is not None
        await application.updater.start_polling(allowed_updates=UPDATES)
        await application.start()
        try:
            yield application
        finally:
            await application.updater.stop()
            await application.stop()


def rss_mb() -> float:
    """This process's resident memory, MB (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else 0.0


class StallMeter:
    """The event loop's longest stall: a ticker that asks to wake every millisecond and
    records how late it woke."""

    def __init__(self, tick: float = 0.001) -> None:
        self.tick = tick
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.tick)
            self.worst = max(self.worst, time.perf_counter() - before - self.tick)

    def __enter__(self) -> StallMeter:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()


class GcMeter:
    """The longest garbage collection while active (a pause of the whole process)."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.generation = -1
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif (took := time.perf_counter() - self._started) > self.worst:
            self.worst, self.generation = took, info["generation"]

    def __enter__(self) -> GcMeter:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)


def write_reports(folder: Path, templates: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in templates.items():
        (folder / f"{name}.toml").write_text(text, encoding="utf-8")
    return folder
