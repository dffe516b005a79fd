"""The digest's files end to end: `baocao run` as a subprocess against the fake Bot API; a
district supervisor opens /tonghop, presses "📊 Excel" and "📄 Báo cáo (Word)" and receives two
documents (sendDocument) with plain file names and the report's Vietnamese title inside."""

from __future__ import annotations

import io
import re
from pathlib import Path

from docx import Document
from openpyxl import load_workbook

from tests.chaos import BotProcess
from tests.fakebotapi import FakeBotAPI
from tests.phones import TelegramPhone, _settled, site_for
from tests.test_e2e_review import press
from tests.test_tonghop import TEMPLATE


def test_a_supervisor_gets_the_excel_and_word_files(tmp_path: Path) -> None:
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
            boss.type("/tonghop", expect="Đã gửi 0/2")
            for label, said in (("📊 Excel", "Bảng tổng hợp (Excel)"),
                                ("📄 Báo cáo (Word)", "Dự thảo báo cáo (Word)")):
                before = boss.count()
                press(boss, label, expect="")  # the pressed message is marked at once
                _settled(boss.texts, before, said, 30)  # the file, then its buttons
            captions = [m.get("text", "") for m in telegram.sent_messages(5001)
                        if str(m.get("text", "")).startswith(("Bảng tổng hợp", "Dự thảo"))]
        finally:
            bot.stop()
        assert bot.tracebacks() == 0
        (chat1, xlsx_name, xlsx), (chat2, docx_name, docx) = telegram.documents
    assert chat1 == chat2 == 5001
    assert captions[0].startswith("Bảng tổng hợp (Excel): Báo cáo tháng — Tháng ")
    assert captions[1].startswith("Dự thảo báo cáo (Word): Báo cáo tháng — Tháng ")
    assert re.fullmatch(r"bao-cao-thang-\d{4}-\d{2}-huyen-doan-hai-hau\.xlsx", xlsx_name)
    assert re.fullmatch(r"bao-cao-thang-\d{4}-\d{2}-huyen-doan-hai-hau\.docx", docx_name)
    book = load_workbook(io.BytesIO(xlsx))
    assert "Tổng hợp" in book.sheetnames
    assert "Báo cáo tháng" in str(book["Tổng hợp"]["A1"].value)
    text = "\n".join(p.text for p in Document(io.BytesIO(docx)).paragraphs)
    assert "BÁO CÁO" in text and "0/2 Đoàn cấp xã đã gửi báo cáo" in text
