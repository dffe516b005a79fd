"""The digest's files end to end: `baocao run` as a subprocess against the fake Bot API; a
district supervisor opens /tonghop, presses "📊 Excel" and "📄 Báo cáo (Word)" and receives two
documents (sendDocument) with plain file names and the report's Vietnamese title inside."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

from docx import Document
from openpyxl import load_workbook

from tests.chaos import BotProcess
from tests.fakebotapi import FakeBotAPI
from tests.phones import TelegramPhone, site_for
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
            press(boss, "📊 Excel", expect="Bảng tổng hợp (Excel)")
            press(boss, "📄 Báo cáo (Word)", expect="Dự thảo báo cáo (Word)")
            deadline = time.monotonic() + 30
            while len(telegram.documents) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            bot.stop()
        assert bot.tracebacks() == 0
        (chat1, xlsx_name, xlsx), (chat2, docx_name, docx) = telegram.documents
    assert chat1 == chat2 == 5001
    assert re.fullmatch(r"bao-cao-thang-\d{4}-\d{2}-huyen-doan-hai-hau\.xlsx", xlsx_name)
    assert re.fullmatch(r"bao-cao-thang-\d{4}-\d{2}-huyen-doan-hai-hau\.docx", docx_name)
    book = load_workbook(io.BytesIO(xlsx))
    assert "Tổng hợp" in book.sheetnames
    assert "Báo cáo tháng" in str(book["Tổng hợp"]["A1"].value)
    text = "\n".join(p.text for p in Document(io.BytesIO(docx)).paragraphs)
    assert "BÁO CÁO" in text and "Báo cáo tháng" in text
