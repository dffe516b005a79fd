"""Scheduled digests through the fake Bot API.

1. In process, with a fixed clock moved across the due date: a district supervisor gets the
   last-day digest at 07:30 local time and the after-due one the next morning, each once
   across two bot restarts, with /tonghop's buttons (a drill-down works from it).
2. `baocao run` as a subprocess, SIGKILLed after a digest is committed to the outbox but before
   Telegram accepted it: delivered once after the restart; a commune opens from its button.
3. `baocao run` with Zalo alone: the digest as text, naming /tonghop instead of buttons.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.app import App
from bot.config import (
    Config,
    DigestsConfig,
    ReportsConfig,
    StorageConfig,
    TelegramConfig,
)
from bot.domain.roles import Role
from bot.domain.units import check_import
from bot.services.channels import Inbound
from bot.services.invites import create_invite
from bot.unit_files import read_unit_rows
from handlers.telegram.app import build_application
from handlers.telegram.runner import start_services, stop_services
from tests.chaos import BotProcess
from tests.fakebotapi import FakeBotAPI, Faults
from tests.fakezalo import FakeZalo
from tests.harness import Clock, legacy_units_path
from tests.phones import TelegramPhone, ZaloPhone, site_for
from tests.test_e2e_review import poll_until, press
from tests.test_tonghop import TEMPLATE

VN = ZoneInfo("Asia/Ho_Chi_Minh")
BOSS = 5001


def digests(fake: FakeBotAPI) -> list[dict[str, object]]:
    return [m for m in fake.sent_messages(BOSS) if str(m.get("text", "")).startswith("📬")]


async def test_last_day_then_after_due_once_each_across_restarts(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "thang.toml").write_text(TEMPLATE, encoding="utf-8")
    config = Config(storage=StorageConfig(path=tmp_path / "baocao.db"),
                    reports=ReportsConfig(dir=reports, lock_days=10),
                    digests=DigestsConfig(send=["last_day", "after_due"]),
                    telegram=TelegramConfig(max_per_second=0, max_per_chat_per_second=0))
    clock = Clock(datetime(2026, 3, 3, 10, 0, tzinfo=VN).astimezone(UTC))

    async def units(app: App) -> None:
        listed, errors = check_import(read_unit_rows(legacy_units_path()),
                                      {u.code: u for u in await app.storage.list_units()})
        assert not errors
        await app.storage.upsert_units(listed)

    with FakeBotAPI() as fake:
        async def run(minutes: list[datetime], prepare: bool = False) -> None:
            """Start the bot, sweep at each moment, stop it (a restart between calls)."""
            application = build_application(fake.token, fake.base_url)
            await application.initialize()
            app = await start_services(application, config, clock=clock, sweep_every=None,
                                       prepare=units if prepare else None)
            try:
                if prepare:
                    invite = await create_invite(app.storage, "LC-BX", Role.SUPERVISOR, 1, 7,
                                                 clock())
                    await app.reporting.handle(Inbound("telegram", str(BOSS), "Sếp",
                                                       command="start", argument=invite.code,
                                                       event_id="1"))
                for moment in minutes:
                    clock.now = moment.astimezone(UTC)
                    await app.digests.sweep()
                    courier = app.channels.courier("telegram")
                    assert courier is not None
                    await courier.delivered_all(str(BOSS))
            finally:
                await stop_services(application)
                await application.shutdown()

        await run([datetime(2026, 3, 3, 7, 30, tzinfo=VN), datetime(2026, 3, 4, 7, 29,
                                                                      tzinfo=VN)], prepare=True)
        assert digests(fake) == []  # the day before the last, and a minute early
        await run([datetime(2026, 3, 4, 7, 30, tzinfo=VN), datetime(2026, 3, 4, 12, 0,
                                                                      tzinfo=VN)])
        (last_day,) = digests(fake)
        text = str(last_day["text"])
        assert text.startswith("📬 Tổng hợp sáng ngày cuối hạn (hạn chót hết ngày 04/03/2026)\n"
                               "📊 Báo cáo tháng — Huyện đoàn Bát Xát\nTháng 2/2026 · đến "
                               "07:30 ngày 04/03/2026\nĐã gửi 0/3 (0%), đúng hạn 0 (0%)"), text
        keyboard = last_day["reply_markup"]["inline_keyboard"]  # type: ignore[index]
        labels = [b["text"] for row in keyboard for b in row]
        assert any("Đoàn xã Bản Vược" in label for label in labels), labels
        # restarted, the same morning: nothing again; the next morning: the final digest
        await run([datetime(2026, 3, 4, 18, 0, tzinfo=VN), datetime(2026, 3, 5, 7, 30,
                                                                      tzinfo=VN)])
        await run([datetime(2026, 3, 5, 7, 31, tzinfo=VN), datetime(2026, 3, 6, 7, 30,
                                                                      tzinfo=VN)])
        first, after = digests(fake)
        assert first == last_day
        assert str(after["text"]).startswith("📬 Kết quả sau hạn\n📊 Báo cáo tháng — Huyện "
                                             "đoàn Bát Xát\nTháng 2/2026 · đến 07:30 ngày "
                                             "05/03/2026")


# --- SIGKILL between the commit and the sending ------------------------------------------------

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def pending_digest(db: Path) -> bool:
    con = sqlite3.connect(db, timeout=30)
    try:
        ledger = con.execute("SELECT COUNT(*) FROM digest_ledger WHERE status='sent'"
                             ).fetchone()[0]
        pending = con.execute("SELECT COUNT(*) FROM outbox WHERE state='pending' AND"
                              " payload LIKE '%📬%'").fetchone()[0]
    finally:
        con.close()
    return bool(ledger) and pending == ledger


def test_a_digest_committed_before_a_kill_is_delivered_once(tmp_path: Path) -> None:
    """Real time: the weekly digest falls on today at 00:00 with no quiet hours, so the first
    sweep after the start sends it; Telegram refuses until the bot is killed."""
    reports = tmp_path / "reports"
    reports.mkdir()
    today = WEEKDAYS[datetime.now(VN).weekday()]
    (reports / "thang.toml").write_text(
        TEMPLATE + f'\n[digests]\nsend = ["weekly"]\nweekly_on = "{today}"\n'
        'send_at = 00:00:00\n', encoding="utf-8")
    with FakeBotAPI() as telegram:
        site = site_for(tmp_path, {"telegram": (telegram.base_url, telegram.token)},
                        reports=reports)
        with open(tmp_path / "config.toml", "a", encoding="utf-8") as f:
            f.write('[reminders]\nquiet_start = "00:00"\nquiet_end = "00:00"\n')
        code = site.cli("invite", "create", "--unit", "NĐ", "--role", "supervisor").split()[0]
        boss = TelegramPhone(telegram, user=BOSS)
        bot = BotProcess(site)
        bot.start()
        try:
            boss.type(code, expect="Bạn đã tham gia Huyện đoàn Hải Hậu")
            bot.stop()  # joined; the first sweep of the next start sends the digests
            broken = Faults(server_error=1.0)
            telegram.set_chaos(faults={"send": broken, "edit": broken})
            bot.start()
            assert poll_until(lambda: pending_digest(site.db), 30)
            bot.kill()
            telegram.set_chaos()
            bot.start()
            assert poll_until(lambda: bool(digests(telegram)), 30)
            time.sleep(3)  # the restarted bot's first sweep has run: nothing more
            bot.stop()
            bot.start()
            time.sleep(3)
            # the digest's buttons are /tonghop's: a commune opens from it
            shown = press(boss, "Đoàn xã Hải Anh", expect="Đơn vị này chưa gửi báo cáo kỳ này")
            assert "📬" not in shown  # and no digest again
        finally:
            bot.stop()
        got = digests(telegram)
        # one weekly digest per open month (this one and, until its lock, the last)
        periods = [str(m["text"]).split("\n")[2].split(" · ")[0] for m in got]
        assert len(set(periods)) == len(periods) >= 1, got
        assert all("Huyện đoàn Hải Hậu" in str(m["text"]) for m in got)
        assert bot.tracebacks() == 0


def test_on_zalo_the_digest_arrives_as_text_saying_to_type_tonghop(tmp_path: Path) -> None:
    """`baocao run` with Zalo alone runs the digest sweep too; Zalo has no buttons, and a
    typed number would answer the supervisor's last screen, so the digest names the command."""
    reports = tmp_path / "reports"
    reports.mkdir()
    today = WEEKDAYS[datetime.now(VN).weekday()]
    (reports / "thang.toml").write_text(
        TEMPLATE + f'\n[digests]\nsend = ["weekly"]\nweekly_on = "{today}"\n'
        'send_at = 00:00:00\n', encoding="utf-8")
    with FakeZalo(max_poll=1.0) as fake:
        site = site_for(tmp_path, {"zalo": (fake.base_url, fake.token)},
                        settings={"zalo": "poll_timeout = 1\n"}, reports=reports)
        with open(tmp_path / "config.toml", "a", encoding="utf-8") as f:
            f.write('[reminders]\nquiet_start = "00:00"\nquiet_end = "00:00"\n')
        code = site.cli("invite", "create", "--unit", "NĐ", "--role", "supervisor").split()[0]
        boss = ZaloPhone(fake)
        bot = BotProcess(site)
        bot.start()
        try:
            boss.type(f"/start {code}", expect="Bạn đã tham gia Huyện đoàn Hải Hậu")
            bot.stop()  # joined; the first sweep of the next start sends the digests
            bot.start()
            assert poll_until(lambda: any(t.startswith("📬") for t in boss.texts()), 30)
            time.sleep(2)
        finally:
            bot.stop()
        got = [t for t in boss.texts() if t.startswith("📬 Tổng hợp hằng tuần")]
        assert got and all(t.endswith("Gõ /tonghop để xem chi tiết và mở từng đơn vị.")
                           for t in got), got
        assert all("Huyện đoàn Hải Hậu" in t and "\n1." not in t for t in got)
        assert bot.tracebacks() == 0
