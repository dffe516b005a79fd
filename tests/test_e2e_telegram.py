"""End to end: `baocao run` as a subprocess against the fake Bot API server.

An officer joins with an invite, answers a whole shipped template (with wrong inputs on the
way), the bot is killed with SIGKILL mid-report, started again, and the officer finishes; the
stored submission is then read straight from the SQLite file.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.domain.templates import Question, QuestionType, Template, load_template
from tests.fakebotapi import FakeBotAPI
from tests.old_reports import OLD_REPORTS

REPO = Path(__file__).resolve().parents[1]
OFFICER = 424242
TEMPLATE_ID = "ocop_thanh_nien"


def baocao(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], env=env, cwd=cwd, text=True,
                          capture_output=True, timeout=60, check=True)


class BotProcess:
    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env, self.cwd = env, cwd
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=self.env,
                                     cwd=self.cwd, stdout=subprocess.DEVNULL,
                                     stderr=open(self.cwd / "bot.log", "a"), text=True)  # noqa: SIM115

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as server:
        yield server


class Officer:
    """Drives the fake server like a person with a phone."""

    def __init__(self, fake: FakeBotAPI, template: Template) -> None:
        self.fake, self.template = fake, template

    def count(self) -> int:
        return len(self.fake.sent_messages(OFFICER))

    def say(self, text: str, expect: str = "") -> dict[str, Any]:
        before = self.count()
        self.fake.send_text(OFFICER, text)
        return self.fake.wait_for_message(OFFICER, lambda m: expect in m.get("text", ""),
                                          after=before, timeout=20)

    def press(self, message: dict[str, Any], label: str, expect: str = "") -> dict[str, Any]:
        for row in message["reply_markup"]["inline_keyboard"]:
            for b in row:
                if label in b["text"]:
                    before = self.count()
                    self.fake.press_button(OFFICER, message["message_id"], b["callback_data"])
                    return self.fake.wait_for_message(
                        OFFICER, lambda m: expect in m.get("text", ""), after=before, timeout=20)
        raise AssertionError(f"no button {label!r}: {message}")

    def current_question(self, message: dict[str, Any]) -> Question | None:
        m = re.search(r"Câu \d+/\d+: (.+)", message["text"])
        if not m:
            return None
        return next(q for q in self.template.questions if q.text == m.group(1).strip())

    def answer(self, message: dict[str, Any], q: Question) -> dict[str, Any]:
        """Answer validly, after one wrong input for the types that can be typed wrong."""
        t = q.type
        if t in (QuestionType.INTEGER, QuestionType.DECIMAL):
            wrong = self.say("khoảng vài cái", expect="Chưa đọc được số")
            assert q.text in wrong["text"]  # the same question again
            return self.say("1")
        if t is QuestionType.PERCENT:
            self.say("150%", expect="nằm ngoài khoảng")
            return self.say("50,5%")
        if t is QuestionType.YES_NO:
            return self.press(message, "Có")
        if t is QuestionType.CHOICE:
            return self.press(message, q.options[0].label)
        if t is QuestionType.MULTI_CHOICE:
            return self.say("1, 2")
        if t is QuestionType.DATE:
            self.say("30/02/2026", expect="không tồn tại")
            return self.say("15/11/2026")
        if t is QuestionType.PHOTO:
            before = self.count()
            self.fake.send_photo(OFFICER, "PHOTO-E2E")
            return self.fake.wait_for_message(OFFICER, after=before, timeout=20)
        return self.say("Thiếu vốn cho thanh niên khởi nghiệp")


def test_whole_report_survives_sigkill(tmp_path: Path, fake: FakeBotAPI) -> None:
    db = tmp_path / "data" / "baocao.db"
    config = tmp_path / "config.toml"
    config.write_text(f'[telegram]\nbase_url = "{fake.base_url}"\n'
                      f'[storage]\npath = "{db}"\n[reports]\ndir = "{OLD_REPORTS}"\n',
                      encoding="utf-8")
    env = {**os.environ, "BAOCAO_CONFIG": str(config), "BAOCAO_TELEGRAM_TOKEN": fake.token,
           "PYTHONPATH": str(REPO)}
    units = tmp_path / "units.csv"
    units.write_text("code,name,parent_code,level\nNĐ,Huyện đoàn Hải Hậu,,huyen\n"
                     "NĐ-01,Đoàn xã Hải Anh,NĐ,xa\n", encoding="utf-8")
    baocao("units", "import", str(units), env=env, cwd=tmp_path)
    code = baocao("invite", "create", "--unit", "NĐ-01", "--role", "officer",
                  env=env, cwd=tmp_path).stdout.splitlines()[0]
    template, problems = load_template(OLD_REPORTS / f"{TEMPLATE_ID}.toml")
    assert template is not None and not problems
    officer = Officer(fake, template)

    bot = BotProcess(env, tmp_path)
    bot.start()
    try:
        officer.say(f"/start {code}", expect="Bạn đã tham gia Đoàn xã Hải Anh")
        listing = officer.say("/baocao", expect="Các báo cáo của đơn vị bạn")
        label = next(b["text"] for row in listing["reply_markup"]["inline_keyboard"]
                     for b in row if TEMPLATE_ID in b["callback_data"])
        message = officer.press(listing, label, expect="Câu 1/")
        answered: list[str] = []
        while (q := officer.current_question(message)) is not None and len(answered) < 6:
            message = officer.answer(message, q)
            answered.append(q.id)

        bot.kill()  # mid-report, no clean shutdown
        saved = sqlite3.connect(db)
        rows = saved.execute("SELECT question_id FROM draft_answers").fetchall()
        saved.close()
        assert {r[0] for r in rows} == set(answered)

        bot.start()
        message = officer.say("/baocao", expect="Tiếp tục báo cáo")
        resumed = officer.current_question(message)
        assert resumed is not None and resumed.id not in answered
        for _ in range(len(template.questions)):  # bounded: a loop on one question fails fast
            q = officer.current_question(message)
            if q is None:
                break
            message = officer.answer(message, q)
            answered.append(q.id)
        assert "📋 Tóm tắt" in message["text"]
        receipt = officer.press(message, "Gửi báo cáo", expect="✅ Đã gửi báo cáo")
        assert "Đoàn xã Hải Anh" in receipt["text"]
    finally:
        bot.stop()

    con = sqlite3.connect(db)
    sub = con.execute("SELECT id, version, on_time, submitted_by FROM submissions "
                      "WHERE unit_code='NĐ-01' AND template_id=?", (TEMPLATE_ID,)).fetchall()
    assert len(sub) == 1 and sub[0][1] == 1
    answers = {qid: json.loads(v) for qid, v in con.execute(
        "SELECT question_id, value FROM submission_answers WHERE submission_id=?", (sub[0][0],))}
    drafts = con.execute("SELECT COUNT(*) FROM drafts").fetchone()[0]
    con.close()
    assert set(answers) == set(answered) and drafts == 0
    for q in template.questions:
        if q.id in answers:
            expected = {QuestionType.INTEGER: 1, QuestionType.DECIMAL: 1,
                        QuestionType.PERCENT: 50.5, QuestionType.YES_NO: True,
                        QuestionType.DATE: "2026-11-15", QuestionType.PHOTO: "PHOTO-E2E"}
            if q.type in expected:
                assert answers[q.id] == expected[q.type], q.id
    assert any(m.get("text", "").startswith("Xin lỗi") for m in fake.sent_messages()) is False
