"""One officer scenario, every channel: `baocao run` as a subprocess against the channel's
fake server. The officer joins by typing the invite code, opens a report by its number,
answers every question by typing (numbers for choices, wrong inputs on the way, a photo),
the bot is SIGKILLed mid-report and restarted, the officer resumes at the next question and
sends with the keyword; the submission is then read straight from the SQLite file."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.domain.templates import QuestionType, load_template
from tests.chaos import BotProcess
from tests.fakebotapi import FakeBotAPI
from tests.fakezalo import FakeZalo
from tests.old_reports import OLD_REPORTS
from tests.phones import (
    Phone,
    TelegramPhone,
    ZaloPhone,
    answer,
    current_question,
    expected_value,
    site_for,
    stored_answers,
)

TEMPLATE_ID = "ocop_thanh_nien"  # integers, a multiple choice, yes/no, a choice, text, a photo


Tokens = dict[str, tuple[str, str]]  # channel → (fake server's base URL, token)


@pytest.fixture(params=["telegram", "zalo"])
def phone_and_tokens(request: pytest.FixtureRequest) -> Iterator[tuple[Phone, Tokens]]:
    if request.param == "telegram":
        with FakeBotAPI() as telegram:
            yield TelegramPhone(telegram), {"telegram": (telegram.base_url, telegram.token)}
    else:
        with FakeZalo(max_poll=1.0) as zalo:
            yield ZaloPhone(zalo), {"zalo": (zalo.base_url, zalo.token)}


def test_officer_reports_by_typing_and_survives_sigkill(
        tmp_path: Path, phone_and_tokens: tuple[Phone, Tokens]) -> None:
    phone, tokens = phone_and_tokens
    site = site_for(tmp_path, tokens)
    code = site.cli("invite", "create", "--unit", "NĐ-01", "--role", "officer").split()[0]
    template, problems = load_template(OLD_REPORTS / f"{TEMPLATE_ID}.toml")
    assert template is not None and not problems

    bot = BotProcess(site)
    bot.start()
    try:
        phone.type(code, expect="Bạn đã tham gia Đoàn xã Hải Anh")  # the code alone joins
        listing = phone.type("/baocao", expect="Các báo cáo của đơn vị bạn")
        number = re.search(rf"(\d+)\. [^\n]*{re.escape(template.title)}", listing)
        assert number, listing
        text = phone.type(number.group(1), expect="Câu 1/")
        answered: list[str] = []
        while (q := current_question(template, text)) is not None and len(answered) < 6:
            text = answer(phone, q)
            answered.append(q.id)

        bot.kill()  # mid-report, no clean shutdown
        assert set(stored_answers(site.db)) == set(answered)

        started = phone.starts()
        bot.start()
        phone.wait_for_bot(started)
        text = phone.type("/baocao", expect="Câu ")
        resumed = current_question(template, text)
        assert resumed is not None and resumed.id not in answered  # the next question
        for _ in range(len(template.questions)):  # bounded: a loop on one question fails fast
            q = current_question(template, text.rsplit("Đã lưu", 1)[-1])
            if q is None:
                break
            text = answer(phone, q)
            answered.append(q.id)
        assert "📋 Tóm tắt" in text
        receipt = phone.type("gửi", expect="✅ Đã gửi báo cáo")
        assert "Đoàn xã Hải Anh" in receipt
    finally:
        bot.stop()

    con = sqlite3.connect(site.db)
    sub = con.execute("SELECT id, version FROM submissions WHERE unit_code='NĐ-01' AND "
                      "template_id=?", (TEMPLATE_ID,)).fetchall()
    answers = {qid: json.loads(v) for qid, v in con.execute(
        "SELECT question_id, value FROM submission_answers WHERE submission_id=?", (sub[0][0],))}
    con.close()
    assert len(sub) == 1 and sub[0][1] == 1
    assert set(answers) == set(answered)
    for q in template.questions:
        if q.id in answers and expected_value(q) is not None:
            assert answers[q.id] == expected_value(q), q.id
        if q.type is QuestionType.PHOTO and q.id in answers:
            photo = answers[q.id]
            if phone.channel == "telegram":
                assert photo == "PHOTO-E2E"
            else:  # kept by baocao: Zalo's URL expires
                assert photo.startswith("media:")
                assert (site.db.parent / "media" / photo.removeprefix("media:")).stat().st_size
    assert bot.tracebacks() == 0
