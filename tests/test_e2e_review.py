"""Review end to end through the fake Bot API: `baocao run` as a subprocess; a commune's
officer sends a report, the district supervisor opens it from /trangthai, returns it with a
reason typed in chat, the officer is told at once without writing anything and corrects it
(the report reopens), and the supervisor approves the new version while Telegram refuses every
message; the bot is killed (-9) after the approval is committed and tells the officer after
the restart, from the outbox. Read back from the SQLite file."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from tests.chaos import BotProcess
from tests.fakebotapi import FakeBotAPI, Faults
from tests.phones import TelegramPhone, _settled, site_for
from tests.test_review import REVIEWED_TEMPLATE

RETURNED = ("của đơn vị bạn bị trả lại: Số HTX phải tính cả HTX ngừng hoạt động. "
            "Gõ /baocao để sửa và gửi lại.")
APPROVED = "của đơn vị bạn đã được duyệt."  # the period is the current quarter


def poll_until(ready: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def pending_push(db: Path, chat: str, text: str) -> bool:
    """Is a push with `text` to `chat` committed to the outbox and not delivered?"""
    con = sqlite3.connect(db, timeout=30)
    try:
        found = con.execute("SELECT payload FROM outbox WHERE chat_id=? AND event_id IS NULL"
                            " AND state='pending'", (chat,)).fetchall()
    finally:
        con.close()
    return any(text in p for (p,) in found)


def press(phone: TelegramPhone, label: str, expect: str) -> str:
    """Press the button whose label holds `label`, on the last message that has it."""
    for message in reversed(phone.fake.sent_messages(phone.user)):
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            for b in row:
                if label in b["text"]:
                    before = phone.count()
                    phone.fake.press_button(phone.user, message["message_id"],
                                            b["callback_data"])
                    return _settled(phone.texts, before, expect, 20)
    raise AssertionError(f"no button {label!r}")


def test_supervisor_returns_then_approves_over_telegram(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    # a long lock: the current quarter is open whatever day the test runs
    (reports / "duyet_thu.toml").write_text(
        REVIEWED_TEMPLATE.replace("lock_days = 10", "lock_days = 120"), encoding="utf-8")
    with FakeBotAPI() as telegram:
        site = site_for(tmp_path, {"telegram": (telegram.base_url, telegram.token)},
                        reports=reports)
        officer_code = site.cli("invite", "create", "--unit", "NĐ-01",
                                "--role", "officer").split()[0]
        boss_code = site.cli("invite", "create", "--unit", "NĐ",
                             "--role", "supervisor").split()[0]
        officer = TelegramPhone(telegram, user=5001)
        boss = TelegramPhone(telegram, user=5002)
        bot = BotProcess(site)
        bot.start()
        try:
            officer.type(officer_code, expect="Bạn đã tham gia Đoàn xã Hải Anh")
            officer.type("/baocao", expect="Báo cáo quý có duyệt")
            officer.type("1", expect="Câu 1/")
            officer.type("7", expect="Câu 2/")
            officer.type("bỏ qua", expect="Tóm tắt")
            officer.type("gửi", expect="✅ Đã gửi báo cáo")

            boss.type(boss_code, expect="Bạn đã tham gia Huyện đoàn Hải Hậu")
            status = boss.type("/trangthai", expect="chờ duyệt")
            assert "Duyệt: 0 đã duyệt, 0 bị trả lại, 1 chờ duyệt" in status
            shown = press(boss, "Xem: Đoàn xã Hải Anh", expect="Trạng thái: chờ duyệt")
            assert "7 HTX" in shown and "Lần gửi 1" in shown
            press(boss, "↩️ Trả lại", expect="Gõ lý do trả lại")
            quiet = officer.count()
            done = boss.type("Số HTX phải tính cả HTX ngừng hoạt động", expect="Đã trả lại")
            assert "Đoàn xã Hải Anh" in done

            # the officer is told at once, before writing anything, and once
            told = _settled(officer.texts, quiet, "bị trả lại", 20)
            assert RETURNED in told
            status = officer.type("/trangthai", expect="bị trả lại")
            assert "· bị trả lại (lý do: Số HTX phải tính cả HTX ngừng hoạt động)" in status
            assert RETURNED not in status
            assert sum(RETURNED in t for t in officer.texts()) == 1
            press(officer, "Sửa: Báo cáo quý có duyệt", expect="Bạn đang sửa báo cáo đã gửi")
            press(officer, "Sửa câu", expect="sửa câu nào")
            press(officer, "Câu 1", expect="Tổng số HTX")
            officer.type("9", expect="Tóm tắt")
            press(officer, "Gửi bản sửa", expect="Đã gửi bản sửa")

            boss.type("/trangthai", expect="chờ duyệt")
            shown = press(boss, "Xem: Đoàn xã Hải Anh", expect="Lần gửi 2")
            assert "9 HTX" in shown
            # Telegram refuses every message meanwhile: the approval is committed with its
            # push, the bot is killed (-9) before sending it, and sends it after the restart
            broken = Faults(server_error=1.0)
            telegram.set_chaos(faults={"send": broken, "edit": broken})
            quiet = officer.count()
            message, data = next(
                (m["message_id"], b["callback_data"])
                for m in reversed(telegram.sent_messages(5002))
                for row in (m.get("reply_markup") or {}).get("inline_keyboard", [])
                for b in row if "✅ Duyệt" in b["text"])
            telegram.press_button(5002, message, data)
            assert poll_until(lambda: pending_push(site.db, "5001", "đã được duyệt"), 20)
            bot.kill()
            telegram.set_chaos()
            bot.start()
            told = _settled(officer.texts, quiet, "đã được duyệt", 30)
            assert APPROVED in told
            assert "Đã duyệt báo cáo" in _settled(boss.texts, 0, "Đã duyệt báo cáo", 20)
            status = officer.type("/trangthai", expect="đã duyệt")
            assert "· đã duyệt" in status and APPROVED not in status
            assert sum(APPROVED in t for t in officer.texts()) == 1
        finally:
            bot.stop()
        assert bot.tracebacks() == 0

    con = sqlite3.connect(site.db)
    try:
        reviews = con.execute("SELECT version, action, reason FROM reviews ORDER BY id").fetchall()
        audit = con.execute("SELECT action FROM audit WHERE action LIKE 'review.%' ORDER BY id"
                            ).fetchall()
    finally:
        con.close()
    assert reviews == [(1, "return", "Số HTX phải tính cả HTX ngừng hoạt động"),
                       (2, "approve", None)]
    assert audit == [("review.return",), ("review.approve",)]
