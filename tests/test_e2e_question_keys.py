"""Last period's answer, a definition and a rate's check on both channels: `baocao run` as a
subprocess against each channel's fake server. On Telegram the officer presses the buttons;
on Zalo, where there are none, types the words the question shows."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.domain import messages_vi as M
from bot.domain.periods import Period, PeriodKind
from tests.chaos import BotProcess, Site
from tests.fakebotapi import FakeBotAPI
from tests.fakezalo import FakeZalo
from tests.phones import Phone, TelegramPhone, ZaloPhone, _settled, site_for

TEMPLATE = '''
id = "to_vay_von"
title = "Báo cáo tổ vay vốn hằng tháng"
period = "month"
deadline = "chậm nhất ngày 28 hằng tháng"
applies_to = { levels = ["xa"] }

[[questions]]
id = "so_to"
text = "Tổng số tổ vay vốn"
type = "integer"
unit = "tổ"
over_time = "last"
prefill = "previous"
definition = "Tổ tiết kiệm và vay vốn đang hoạt động, có danh sách tổ viên."

[[questions]]
id = "so_to_kha"
text = "Số tổ xếp loại khá"
type = "integer"
unit = "tổ"
aggregate = "ratio"
denominator = "so_to"
over_time = "last"
'''
DEFINITION = M.definition("Tổ tiết kiệm và vay vốn đang hoạt động, có danh sách tổ viên.")
Tokens = dict[str, tuple[str, str]]


@pytest.fixture(params=["telegram", "zalo"])
def phone_and_tokens(request: pytest.FixtureRequest) -> Iterator[tuple[Phone, Tokens]]:
    if request.param == "telegram":
        with FakeBotAPI() as telegram:
            yield TelegramPhone(telegram), {"telegram": (telegram.base_url, telegram.token)}
    else:
        with FakeZalo(max_poll=1.0) as zalo:
            yield ZaloPhone(zalo), {"zalo": (zalo.base_url, zalo.token)}


def with_template(site: Site) -> None:
    reports = site.root / "reports"
    reports.mkdir()
    (reports / "to_vay_von.toml").write_text(TEMPLATE, encoding="utf-8")
    config = site.root / "config.toml"
    config.write_text(config.read_text(encoding="utf-8") + f'[reports]\ndir = "{reports}"\n',
                      encoding="utf-8")


def send_last_month(site: Site, month: Period) -> None:
    """The unit's report of the month before, as sent through the bot (by the officer)."""
    con = sqlite3.connect(site.db)
    try:
        person = con.execute("SELECT MAX(id) FROM people").fetchone()[0]
        version = con.execute("SELECT MAX(version) FROM templates WHERE id='to_vay_von'"
                              ).fetchone()[0]
        cur = con.execute(
            "INSERT INTO submissions (unit_code, template_id, template_version, period, version,"
            " submitted_by, submitted_at, due_at, on_time) VALUES (?,?,?,?,1,?,?,?,1)",
            ("NĐ-01", "to_vay_von", version, month.id, person, "2020-01-01T00:00:00+00:00",
             "2020-01-02T00:00:00+00:00"))
        con.executemany("INSERT INTO submission_answers (submission_id, question_id, value)"
                        " VALUES (?,?,?)", [(cur.lastrowid, "so_to", "6"),
                                            (cur.lastrowid, "so_to_kha", "2")])
        con.commit()
    finally:
        con.close()


def press(phone: TelegramPhone, label: str, expect: str) -> str:
    """Press the button `label` of the last message that has it."""
    for message in reversed(phone.fake.sent_messages(phone.user)):
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            for b in row:
                if b["text"] == label:
                    before = phone.count()
                    phone.fake.press_button(phone.user, message["message_id"],
                                            b["callback_data"])
                    return _settled(phone.texts, before, expect, 20)
    raise AssertionError(f"no button {label!r}")


def test_last_month_definition_and_rate_on_each_channel(
        tmp_path: Path, phone_and_tokens: tuple[Phone, Tokens]) -> None:
    phone, tokens = phone_and_tokens
    site = site_for(tmp_path, tokens)
    with_template(site)
    code = site.cli("invite", "create", "--unit", "NĐ-01", "--role", "officer").split()[0]
    today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    month = Period.containing(PeriodKind.MONTH, today)
    bot = BotProcess(site)
    bot.start()
    try:
        phone.type(code, expect="Bạn đã tham gia Đoàn xã Hải Anh")
        send_last_month(site, month.previous())
        listing = phone.type("/baocao", expect="Các báo cáo của đơn vị bạn")
        number = re.search(rf"(\d+)\. [^\n]*\n\s*{re.escape(month.label_vi())} ", listing)
        assert number, listing
        text = phone.type(number.group(1), expect="Câu 1/")
        previous = f"↩️ Kỳ trước ({month.previous().label_vi()}): 6 tổ."
        assert previous in text
        if isinstance(phone, TelegramPhone):
            text = press(phone, M.BUTTON_EXPLAIN, expect=DEFINITION)
            assert "Câu 1/" in text
            text = press(phone, M.BUTTON_PREVIOUS, expect="Đã lưu")
        else:
            assert "gõ “giữ”" in text and "“giải thích”" in text  # the words to type
            text = phone.type("?", expect=DEFINITION)
            assert "Câu 1/" in text
            text = phone.type("giu", expect="Đã lưu")
        assert "✓ Đã lưu: 6 tổ (như kỳ trước)" in text and "Câu 2/" in text
        text = phone.type("9", expect="Nhập lại")
        assert "Số tổ xếp loại khá (9 tổ) không thể lớn hơn tổng số tổ vay vốn (6 tổ)" in text
        text = phone.type("4", expect="Tóm tắt")
        phone.type("gửi", expect="✅ Đã gửi báo cáo")
    finally:
        bot.stop()
    con = sqlite3.connect(site.db)
    try:
        rows = con.execute(
            "SELECT a.question_id, a.value FROM submission_answers a JOIN submissions s ON"
            " s.id = a.submission_id WHERE s.period=?", (month.id,)).fetchall()
    finally:
        con.close()
    assert {q: json.loads(v) for q, v in rows} == {"so_to": 6, "so_to_kha": 4}
    assert bot.tracebacks() == 0
