"""/quanly through the fake Bot API: `baocao run` as a subprocess; a district admin makes an
invite in chat, a newcomer joins with its code, the admin finds them among the unit's people
and removes them (asked first), and the newcomer can no longer report."""

from __future__ import annotations

from pathlib import Path

from tests.chaos import BotProcess
from tests.fakebotapi import FakeBotAPI
from tests.phones import TelegramPhone, _settled, site_for
from tests.test_tonghop import TEMPLATE


def press(telegram: FakeBotAPI, phone: TelegramPhone, label: str, expect: str) -> str:
    """Press the newest button whose label contains `label`; the replies' text."""
    for message in reversed(telegram.sent_messages(phone.user)):
        for row in message.get("reply_markup", {}).get("inline_keyboard", []):
            for button in row:
                if label in button["text"]:
                    before = phone.count()
                    telegram.press_button(phone.user, message["message_id"],
                                          button["callback_data"])
                    return _settled(phone.texts, before, expect, 20)
    raise AssertionError(f"no button {label!r}")


def test_an_admin_invites_and_removes_a_person_in_telegram(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "thang.toml").write_text(TEMPLATE, encoding="utf-8")
    with FakeBotAPI() as telegram:
        site = site_for(tmp_path, {"telegram": (telegram.base_url, telegram.token)},
                        reports=reports)
        code = site.cli("invite", "create", "--unit", "NĐ", "--role", "admin").split()[0]
        admin = TelegramPhone(telegram, user=5001)
        newcomer = TelegramPhone(telegram, user=5002)
        bot = BotProcess(site)
        bot.start()
        try:
            admin.type(code, expect="Bạn đã tham gia Huyện đoàn Hải Hậu")
            assert "quanly" in [c["command"] for c in telegram.commands]
            admin.type("/quanly", expect="🏢 Huyện đoàn Hải Hậu")
            press(telegram, admin, "Đơn vị trực thuộc", "chọn đơn vị")
            press(telegram, admin, "Hải Anh", "🏢 Đoàn xã Hải Anh")
            press(telegram, admin, "Tạo mã mời", "vai trò nào")
            text = press(telegram, admin, "Cán bộ báo cáo", "🎟 Mã mời vào Đoàn xã Hải Anh")
            invited = text.split("cán bộ báo cáo: ", 1)[1].split("\n")[0]
            assert f"https://t.me/{telegram.bot_username}?start={invited}" in text
            newcomer.type(f"/start {invited}", expect="Bạn đã tham gia Đoàn xã Hải Anh")
            press(telegram, admin, "Về đơn vị", "🏢 Đoàn xã Hải Anh")
            text = press(telegram, admin, "Người trong đơn vị", "👥 Người trong Đoàn xã Hải Anh: 1")
            assert "— cán bộ báo cáo · Telegram · hoạt động gần nhất " in text
            press(telegram, admin, "Gỡ khỏi đơn vị:", "khỏi Đoàn xã Hải Anh?")
            press(telegram, admin, "✅ Gỡ khỏi đơn vị", "Đã gỡ")
            newcomer.type("/baocao", expect="không dành cho vai trò")
            newcomer.type(f"/start {invited}", expect="đã dùng hết số lượt")
        finally:
            bot.stop()
        assert bot.tracebacks() == 0
