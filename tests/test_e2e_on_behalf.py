"""Entry on behalf through the fake Bot API: `baocao run` as a subprocess; a district
supervisor types /nhapho, picks a commune by its number, answers its report by typing and
sends it; the commune's officer is told, and the database records who entered it."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from bot.domain.templates import load_template
from tests.chaos import BotProcess
from tests.fakebotapi import FakeBotAPI
from tests.old_reports import OLD_REPORTS
from tests.phones import TelegramPhone, _settled, answer, current_question, site_for

TEMPLATE_ID = "ocop_thanh_nien"


def test_a_supervisor_enters_a_communes_report_on_telegram(tmp_path: Path) -> None:
    template, problems = load_template(OLD_REPORTS / f"{TEMPLATE_ID}.toml")
    assert template is not None and not problems
    with FakeBotAPI() as telegram:
        site = site_for(tmp_path, {"telegram": (telegram.base_url, telegram.token)})
        boss_code = site.cli("invite", "create", "--unit", "NĐ", "--role",
                             "supervisor").split()[0]
        officer_code = site.cli("invite", "create", "--unit", "NĐ-02", "--role",
                                "officer").split()[0]
        boss, officer = TelegramPhone(telegram, user=5001), TelegramPhone(telegram, user=5002)
        bot = BotProcess(site)
        bot.start()
        try:
            boss.type(boss_code, expect="Bạn đã tham gia Huyện đoàn Hải Hậu")
            officer.type(officer_code, expect="Bạn đã tham gia Đoàn xã Hải Bắc")
            listing = boss.type("/nhapho", expect="📝 Nhập hộ báo cáo")
            number = re.search(rf"(\d+)\. Đoàn xã Hải Bắc · {re.escape(template.title)}",
                               listing)
            assert number, listing
            text = boss.type(number.group(1), expect="Câu 1/")
            assert "📝 Bạn đang nhập hộ cho Đoàn xã Hải Bắc." in text
            for _ in range(len(template.questions)):
                q = current_question(template, text.rsplit("Đã lưu", 1)[-1])
                if q is None:
                    break
                text = answer(boss, q)
            assert "📋 Tóm tắt" in text
            quiet = officer.count()
            receipt = boss.type("gửi", expect="✅ Đã gửi báo cáo")
            assert "📝 Báo cáo đã được ghi là nhập hộ cho Đoàn xã Hải Bắc" in receipt
            # the officer is told at once, without writing anything
            told = _settled(officer.texts, quiet, "nhập hộ", 20)
            assert (f"📝 Báo cáo «{template.title}»" in told
                    and "của đơn vị bạn (Đoàn xã Hải Bắc) đã được" in told)
            status = officer.type("/trangthai", expect="nhập hộ bởi")
            assert "của đơn vị bạn (Đoàn xã Hải Bắc) đã được" not in status  # told once
        finally:
            bot.stop()
        assert bot.tracebacks() == 0
    con = sqlite3.connect(site.db)
    try:
        rows = con.execute(
            "SELECT s.unit_code, s.version, s.source, p.external_id FROM submissions s JOIN"
            " people p ON p.id = s.entered_by WHERE s.template_id=?", (TEMPLATE_ID,)).fetchall()
    finally:
        con.close()
    assert rows == [("NĐ-02", 1, "on_behalf", "5001")]
