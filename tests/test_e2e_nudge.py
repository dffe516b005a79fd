"""The digest's "🔔 Nhắc các đơn vị chưa gửi" through the fake Bot API (`baocao run` as a
subprocess): a supervisor taps it twice fast, the commune's officer gets the reminder once,
with its "Báo cáo ngay" button, which opens the report."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from tests.chaos import BotProcess
from tests.fakebotapi import FakeBotAPI
from tests.phones import TelegramPhone, _settled, site_for
from tests.test_tonghop import TEMPLATE


def buttons(phone: TelegramPhone, label: str) -> list[tuple[int, str]]:
    """(message id, callback data) of every button whose label holds `label`, newest first."""
    return [(m["message_id"], b["callback_data"])
            for m in reversed(phone.fake.sent_messages(phone.user))
            for row in (m.get("reply_markup") or {}).get("inline_keyboard", [])
            for b in row if label in b["text"]]


def test_a_double_tap_on_the_nudge_reminds_the_officer_once(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "thang.toml").write_text(TEMPLATE, encoding="utf-8")
    with FakeBotAPI() as telegram:
        site = site_for(tmp_path, {"telegram": (telegram.base_url, telegram.token)},
                        reports=reports)
        config = tmp_path / "config.toml"  # no quiet hours: the test runs at any hour
        config.write_text(config.read_text(encoding="utf-8") + '[reminders]\nquiet_start = '
                          '"00:00"\nquiet_end = "00:00"\n', encoding="utf-8")
        boss_code = site.cli("invite", "create", "--unit", "NĐ", "--role",
                             "supervisor").split()[0]
        officer_code = site.cli("invite", "create", "--unit", "NĐ-01", "--role",
                                "officer").split()[0]
        boss = TelegramPhone(telegram, user=5001)
        officer = TelegramPhone(telegram, user=5002)
        bot = BotProcess(site)
        bot.start()
        try:
            boss.type(boss_code, expect="Bạn đã tham gia Huyện đoàn Hải Hậu")
            officer.type(officer_code, expect="Bạn đã tham gia Đoàn xã Hải Anh")
            boss.type("/tonghop", expect="Đã gửi 0/2")
            ((message, data), *_) = buttons(boss, "Nhắc các đơn vị chưa gửi")
            quiet, before = officer.count(), boss.count()
            telegram.press_button(boss.user, message, data)
            telegram.press_button(boss.user, message, data)  # a double tap
            said = _settled(boss.texts, before, "nên không nhắc lại", 20)
            assert ("🔔 Đã nhắc 1 đơn vị (1 người). 1 đơn vị chưa có cán bộ đăng ký." in said)
            assert ("🔔 Không nhắc đơn vị nào. 1 đơn vị đã được nhắc trong 24 giờ qua nên "
                    "không nhắc lại. 1 đơn vị chưa có cán bộ đăng ký.") in said
            reminder = _settled(officer.texts, quiet, "Đoàn xã Hải Anh — Tháng", 20)
            time.sleep(0.5)  # nothing more arrives
            assert officer.count() == quiet + 1, officer.texts()[quiet:]
            assert "Báo cáo tháng" in reminder
            ((message, data), *_) = buttons(officer, "Báo cáo ngay")
            before = officer.count()
            telegram.press_button(officer.user, message, data)
            assert "Số HTX mới" in _settled(officer.texts, before, "Số HTX mới", 20)
        finally:
            bot.stop()
        assert bot.tracebacks() == 0
        with sqlite3.connect(site.db) as db:
            rows = db.execute("SELECT unit_code, status, recipients FROM reminders"
                              " WHERE kind LIKE 'nudge-%'").fetchall()
        assert rows == [("NĐ-01", "sent", 1)]
