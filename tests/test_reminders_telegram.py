"""Reminders through python-telegram-bot against the fake Bot API: the button, blocked users,
and the channel-free scheduler waking a sweep at start."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from telegram import Bot

from bot.domain.buttons import OpenReport
from bot.domain.dialogue import Button, Reply
from bot.scheduler import Scheduler
from bot.services.delivery import Courier, Limits
from handlers.telegram.app import CHANNEL, build_application
from handlers.telegram.delivery import TelegramTransport, render
from storage.models import Person
from tests.fakebotapi import FakeBotAPI
from tests.harness import Clock, join, make_app

VN = ZoneInfo("Asia/Ho_Chi_Minh")


async def nothing(*args: object) -> None:
    """Recording outbox rows: none here (pushes are not stored)."""


def courier(bot: Bot) -> Courier:
    return Courier(CHANNEL, TelegramTransport(bot), render, record=nothing,
                   unreachable=nothing, limits=Limits(0, 0))


async def test_sender_posts_a_button_and_detects_blocking() -> None:
    with FakeBotAPI() as fake:
        async with Bot(fake.token, base_url=fake.base_url) as bot:
            sender = courier(bot)
            sender.start()
            person = Person(1, "telegram", "555", "Cán bộ")
            data = OpenReport(0, "thu_nghiem", "2026-Q1")
            button = [[Button.of("📝 Báo cáo ngay", data)]]
            assert await sender.send(person, Reply("🔔 Nhắc báo cáo", button)) == "sent"
            message = fake.last_message(555)
            assert message["text"] == "🔔 Nhắc báo cáo"
            assert message["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == (
                data.pack())
            fake.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
            assert await sender.send(person, Reply("x", button)) == "blocked"
            fake.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
            assert await sender.send(person, Reply("sau khi chờ", button)) == "sent"
            assert fake.last_message(555)["text"] == "sau khi chờ"
            fake.fail_next("sendMessage", 502, "Bad Gateway")
            assert await sender.send(person, Reply("sau lỗi mạng", button)) == "sent"
            assert fake.last_message(555)["text"] == "sau lỗi mạng"
            await sender.stop()


async def test_runner_job_sweeps_on_start(tmp_path: Path) -> None:
    clock = Clock(now=datetime(2026, 2, 26, 8, 0, tzinfo=VN).astimezone(UTC))
    app = await make_app(tmp_path, clock)
    await join(app, "777", unit="LC-BX-01")
    with FakeBotAPI() as fake:
        # the officer joined through the test channel; make them a Telegram user
        await app.storage.db.write(lambda c: c.execute("UPDATE people SET channel='telegram'"))
        application = build_application(fake.token, fake.base_url, app)
        await application.initialize()
        await application.start()
        sender = courier(application.bot)
        sender.start()
        app.channels.register(CHANNEL, sender)
        scheduler = Scheduler(app.reminders, app.channels, every=3600)
        scheduler.start()
        message = await asyncio.to_thread(fake.wait_for_message, 777, None, 10.0)
        assert message["text"].startswith("🔔 Nhắc báo cáo: Báo cáo quý thử nghiệm")
        scheduler.shutdown()
        await sender.stop()
        await application.stop()
        await application.shutdown()
    rows = {r["unit_code"]: r for r in await app.storage.reminder_rows()}
    assert len(rows) == 7 and {r["kind"] for r in rows.values()} == {"before:7"}
    assert rows["LC-BX-01"]["recipients"] == 1  # the other communes have no officer yet
    assert sum(r["recipients"] for r in rows.values()) == 1
    await app.close()
