"""/tonghop through the fake Bot API: `baocao run` as a subprocess; a district supervisor
types /tonghop and gets the digest's chart as a picture (sendPhoto) with its text."""

from __future__ import annotations

import time
from pathlib import Path

from tests.chaos import BotProcess
from tests.fakebotapi import FakeBotAPI
from tests.phones import TelegramPhone, site_for
from tests.test_tonghop import TEMPLATE


def test_a_supervisor_gets_the_digest_with_its_chart_on_telegram(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "thang.toml").write_text(TEMPLATE, encoding="utf-8")
    with FakeBotAPI() as telegram:
        site = site_for(tmp_path, {"telegram": (telegram.base_url, telegram.token)},
                        reports=reports)
        code = site.cli("invite", "create", "--unit", "NĐ", "--role", "supervisor").split()[0]
        boss = TelegramPhone(telegram, user=5001)
        bot = BotProcess(site)
        bot.start()
        try:
            boss.type(code, expect="Bạn đã tham gia Huyện đoàn Hải Hậu")
            text = boss.type("/tonghop", expect="Đã gửi 0/2 (0%), đúng hạn 0 (0%)")
            assert "📊 Báo cáo tháng — Huyện đoàn Hải Hậu" in text
            assert "• Đoàn xã Hải Anh: chưa gửi" in text and "• Đoàn xã Hải Bắc: chưa gửi" in text
            deadline = time.monotonic() + 20
            while not telegram.photos and time.monotonic() < deadline:
                time.sleep(0.05)
            ((chat, png, _),) = telegram.photos
            assert chat == 5001 and png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
        finally:
            bot.stop()
        assert bot.tracebacks() == 0
