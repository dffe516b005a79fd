"""An officer's phone on each channel, for scenarios written once and run on every channel.

A `Phone` types text, sends a photo and reads what the bot answered, against the fake server
of its channel (tests/fakebotapi.py for Telegram, tests/fakezalo.py for Zalo). Everything the
scenario does is typed, as a Zalo user must: on Telegram typed numbers and keywords work too,
so one scenario checks both dialogues, and they cannot drift apart.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bot.domain.templates import Question, QuestionType, Template
from tests.chaos import REPO, Site
from tests.fakebotapi import FakeBotAPI
from tests.fakezalo import FakeZalo
from tests.old_reports import OLD_REPORTS

QUIET = 0.4  # seconds without a new message: the bot has said all it will
# A tiny valid JPEG (what a phone would send, much smaller).
JPEG = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b0b0c"
    "1912130f141d1a1f1e1d1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e333432ffc0"
    "000b080001000101011100ffc4001f0000010501010101010100000000000000000102030405060708090a0bff"
    "c400b5100002010303020403050504040000017d01020300041105122131410613516107227114328191a10823"
    "42b1c11552d1f02433627282090a161718191a25262728292a3435363738393a434445464748494a5354555657"
    "58595a636465666768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aa"
    "b2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8"
    "f9faffda0008010100003f00fbd3ffd9")


class Phone(Protocol):
    channel: str

    def type(self, text: str, expect: str = "") -> str: ...

    def photo(self, expect: str = "") -> str: ...

    def count(self) -> int: ...

    def wait_for_bot(self, started: int) -> None: ...

    def starts(self) -> int: ...


def _settled(texts: Any, before: int, expect: str, timeout: float) -> str:
    """Wait for a message after `before` containing `expect`, then until the chat is quiet;
    all the new messages' texts, joined."""
    deadline = time.monotonic() + timeout
    seen, last_change = before, time.monotonic()
    while time.monotonic() < deadline:
        now = texts()
        if len(now) != seen:
            seen, last_change = len(now), time.monotonic()
        joined = "\n".join(now[before:])
        if len(now) > before and expect in joined and time.monotonic() - last_change >= QUIET:
            return joined
        time.sleep(0.05)
    raise AssertionError(f"no reply with {expect!r}; got: {texts()[before:]!r}")


class _Chat:
    """What both phones do alike: read the chat, type, wait for the bot to finish."""

    user: Any
    fake: Any

    def texts(self) -> list[str]:
        return [m.get("text", "") for m in self.fake.sent_messages(self.user)]

    def count(self) -> int:
        return len(self.texts())

    def type(self, text: str, expect: str = "") -> str:
        before = self.count()
        self.fake.send_text(self.user, text)
        return _settled(self.texts, before, expect, 20)

    def photo(self, expect: str = "") -> str:
        before = self.count()
        self._send_photo()
        return _settled(self.texts, before, expect, 20)

    def _send_photo(self) -> None:
        raise NotImplementedError


@dataclass
class TelegramPhone(_Chat):
    fake: FakeBotAPI
    user: int = 424242
    channel: str = "telegram"

    def _send_photo(self) -> None:
        self.fake.send_photo(self.user, "PHOTO-E2E")

    def starts(self) -> int:
        return 0

    def wait_for_bot(self, started: int) -> None:
        """Nothing to wait for: Telegram keeps what no running bot confirmed."""


@dataclass
class ZaloPhone(_Chat):
    fake: FakeZalo
    user: str = "7f3c2a9e41d05b86"
    channel: str = "zalo"

    def _send_photo(self) -> None:
        self.fake.send_image(self.user, self.fake.add_image("evidence.jpg", JPEG))

    def starts(self) -> int:
        return len(self.fake.calls("getMe"))

    def wait_for_bot(self, started: int) -> None:
        """Until the restarted bot polls. Zalo's getUpdates has no offset: a poll the killed
        bot left open would take the next message with it (README, Zalo), as it would on the
        real server; a person would type again after a while of silence."""
        deadline = time.monotonic() + 20
        while self.starts() <= started and time.monotonic() < deadline:
            time.sleep(0.05)
        polls = len(self.fake.calls("getUpdates"))
        while len(self.fake.calls("getUpdates")) <= polls and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(self.fake.max_poll)  # the killed bot's last poll has expired


def site_for(root: Path, tokens: dict[str, tuple[str, str]],
             settings: dict[str, str] | None = None, reports: Path = OLD_REPORTS) -> Site:
    """A bot folder with the templates of before issue 12 (tests/data/old_reports: they apply
    to any commune; the shipped ones are scoped to provinces), two units, and a config naming
    each channel's fake server; `tokens`: channel → (base_url, token); `settings`: channel →
    more TOML lines for its section; `reports`: another templates folder."""
    db = root / "data" / "baocao.db"
    config = root / "config.toml"
    sections = "".join(f'[{ch}]\nbase_url = "{url}"\n{(settings or {}).get(ch, "")}'
                       for ch, (url, _) in tokens.items())
    config.write_text(f'{sections}[storage]\npath = "{db}"\n[reports]\ndir = "{reports}"\n',
                      encoding="utf-8")
    env = {k: v for k, v in os.environ.items()
           if k not in ("BAOCAO_TELEGRAM_TOKEN", "BAOCAO_ZALO_TOKEN")}
    env.update({"BAOCAO_CONFIG": str(config), "PYTHONPATH": str(REPO)})
    for channel, (_, token) in tokens.items():
        env[f"BAOCAO_{channel.upper()}_TOKEN"] = token
    site = Site(root, db, env, 0)
    units = root / "units.csv"
    units.write_text("code,name,parent_code,level\nNĐ,Huyện đoàn Hải Hậu,,huyen\n"
                     "NĐ-01,Đoàn xã Hải Anh,NĐ,xa\nNĐ-02,Đoàn xã Hải Bắc,NĐ,xa\n",
                     encoding="utf-8")
    site.cli("units", "import", str(units))
    return site


QUESTION = re.compile(r"Câu \d+/\d+: (.+)")


def current_question(template: Template, text: str) -> Question | None:
    """The question the last 'Câu k/N: …' line of the bot's messages asks."""
    found = QUESTION.findall(text)
    if not found:
        return None
    return next(q for q in template.questions if q.text == found[-1].strip())


def answer(phone: Phone, q: Question) -> str:
    """Answer `q` by typing (after one wrong input where one can be typed wrong), as on Zalo."""
    t = q.type
    if t in (QuestionType.INTEGER, QuestionType.DECIMAL):
        wrong = phone.type("khoảng vài cái", expect="Chưa đọc được số")
        assert q.text in wrong  # the same question again
        return phone.type("1", expect="Đã lưu")
    if t is QuestionType.PERCENT:
        phone.type("150%", expect="nằm ngoài khoảng")
        return phone.type("50,5%", expect="Đã lưu")
    if t is QuestionType.YES_NO:
        return phone.type("có", expect="Đã lưu")
    if t is QuestionType.CHOICE:
        return phone.type("1", expect="Đã lưu")
    if t is QuestionType.MULTI_CHOICE:
        return phone.type("1, 2", expect="Đã lưu")
    if t is QuestionType.DATE:
        phone.type("30/02/2026", expect="không tồn tại")
        return phone.type("15/11/2026", expect="Đã lưu")
    if t is QuestionType.PHOTO:
        return phone.photo(expect="Đã lưu")
    return phone.type("Thiếu vốn cho thanh niên khởi nghiệp", expect="Đã lưu")


def expected_value(q: Question) -> Any:
    return {QuestionType.INTEGER: 1, QuestionType.DECIMAL: 1, QuestionType.PERCENT: 50.5,
            QuestionType.YES_NO: True, QuestionType.DATE: "2026-11-15"}.get(q.type)


def stored_answers(db: Path) -> dict[str, Any]:
    """The draft's answers as stored, decoded."""
    con = sqlite3.connect(db)
    try:
        return {qid: json.loads(v) for qid, v in
                con.execute("SELECT question_id, value FROM draft_answers")}
    finally:
        con.close()
