"""Zalo end to end: `baocao run` as a subprocess against the fake Zalo Bot API. What Zalo does
differently from Telegram: no offsets (the same message may come twice), a webhook that must
prove it is Zalo, a poll in flight at a stop, failing polls; and both channels in one
process."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.chaos import BotProcess, Site
from tests.fakebotapi import FakeBotAPI
from tests.fakezalo import FakeZalo
from tests.phones import TelegramPhone, ZaloPhone, site_for, stored_answers

SECRET = "s3cret-webhook-token"


@pytest.fixture
def fake() -> Iterator[FakeZalo]:
    with FakeZalo(max_poll=1.0) as server:
        yield server


def zalo_site(tmp_path: Path, fake: FakeZalo, settings: str = "poll_timeout = 1\n"
              ) -> tuple[Site, str, ZaloPhone, BotProcess]:
    """A bot folder for the fake Zalo server, an officer invite for NĐ-01, the officer's
    phone and the bot (not started)."""
    site = site_for(tmp_path, {"zalo": (fake.base_url, fake.token)}, settings={"zalo": settings})
    code = site.cli("invite", "create", "--unit", "NĐ-01", "--role", "officer").split()[0]
    return site, code, ZaloPhone(fake), BotProcess(site)


def open_first_report(phone: ZaloPhone | TelegramPhone, code: str) -> str:
    phone.type(f"/start {code}", expect="Bạn đã tham gia")
    phone.type("/baocao", expect="Các báo cáo")
    return phone.type("1", expect="Câu 1/")


def answers_log(site: Site) -> list[tuple[str, str]]:
    con = sqlite3.connect(site.db)
    try:
        return con.execute("SELECT question_id, value FROM draft_answers ORDER BY question_id"
                           ).fetchall()
    finally:
        con.close()


def test_the_same_message_twice_changes_nothing(tmp_path: Path, fake: FakeZalo) -> None:
    site, code, phone, bot = zalo_site(tmp_path, fake)
    bot.start()
    try:
        open_first_report(phone, code)
        before = phone.count()
        first = fake.send_text(phone.user, "7")
        fake.wait_for_message(phone.user, lambda m: "Đã lưu" in m["text"], after=before)
        stored = answers_log(site)
        assert len(stored) == 1 and json.loads(stored[0][1]) == 7
        acks = phone.count()
        fake.redeliver(first)  # Zalo delivers the same message again
        fake.wait_until_consumed()
        time.sleep(1.0)
        assert answers_log(site) == stored  # not taken as the answer to question 2
        assert phone.count() == acks  # and not answered twice
        phone.type("8", expect="Đã lưu")  # the dialogue goes on
        assert len(answers_log(site)) == 2
    finally:
        bot.stop()
    assert bot.tracebacks() == 0


def test_webhook_needs_the_secret_and_takes_both_bodies(tmp_path: Path, fake: FakeZalo) -> None:
    with httpx.Client() as probe:
        port = _free_port()
        url = f"http://127.0.0.1:{port}/zalo-hook"
        site, code, phone, bot = zalo_site(tmp_path, fake, (
            f'mode = "webhook"\nwebhook_url = "{url}"\nwebhook_secret = "{SECRET}"\n'
            f"port = {port}\n"))
        bot.start()
        try:
            _wait(lambda: fake.webhook == (url, SECRET))  # the bot set its webhook
            open_first_report(phone, code)  # Zalo's deliveries carry the secret
            before, stored = phone.count(), answers_log(site)
            forged: dict[str, Any] = {"event_name": "message.text.received", "message": {
                "message_id": "f0f0", "date": 1_765_000_000_000,
                "chat": {"id": phone.user, "chat_type": "PRIVATE"},
                "from": {"id": phone.user, "display_name": "Kẻ giả mạo", "is_bot": False},
                "text": "999"}}
            assert fake.post_webhook(forged, secret=None) == 403
            assert fake.post_webhook(forged, secret="wrong-secret") == 403
            assert probe.post(url, content=b"not json", headers={
                "X-Bot-Api-Secret-Token": SECRET}).status_code == 400
            assert probe.post(url, content=b"", headers={
                "X-Bot-Api-Secret-Token": SECRET}).status_code == 200  # Zalo's URL check
            time.sleep(1.0)
            assert answers_log(site) == stored and phone.count() == before  # nothing handled
            genuine = {**forged, "message": {**forged["message"], "message_id": "f0f1",
                                             "text": "5"}}
            assert fake.post_webhook(genuine, secret=SECRET, wrapped=True) == 200
            fake.wait_for_message(phone.user, lambda m: "Đã lưu: 5" in m["text"], after=before)
            assert [json.loads(v) for _, v in answers_log(site)] == [5]
        finally:
            bot.stop()
    assert bot.tracebacks() == 0


def test_a_message_polled_during_a_stop_is_handled_after_the_restart(
        tmp_path: Path, fake: FakeZalo) -> None:
    site, code, phone, bot = zalo_site(tmp_path, fake, "poll_timeout = 2\n")
    bot.start()
    try:
        open_first_report(phone, code)
        polls = len(fake.calls("getUpdates"))
        _wait(lambda: len(fake.calls("getUpdates")) > polls)  # a poll is in flight
        stopping = threading.Thread(target=bot.stop)
        stopping.start()
        time.sleep(0.3)
        fake.send_text(phone.user, "42")  # reaches the poll the stopping bot still has open
        stopping.join()
        assert fake.pending_updates() == 0  # Zalo handed it over: only baocao has it now
        bot.start()
        fake.wait_for_message(phone.user, lambda m: "Đã lưu: 42" in m["text"], timeout=20)
        assert list(stored_answers(site.db).values()) == [42]
    finally:
        bot.stop()
    assert bot.tracebacks() == 0


def test_failing_polls_back_off_and_recover(tmp_path: Path, fake: FakeZalo) -> None:
    _site, code, phone, bot = zalo_site(tmp_path, fake)
    fake.fail_next("getUpdates", 3, status=502, error_code=502, description="Bad Gateway")
    fake.fail_next("getUpdates", 1, drop=True)
    bot.start()
    try:
        phone.type(code, expect="Bạn đã tham gia")
    finally:
        bot.stop()
    log = bot.log.read_text(encoding="utf-8")
    assert log.count("Zalo getUpdates failed") >= 3
    assert bot.tracebacks() == 0
    assert len(fake.calls("getUpdates")) < 15  # pauses of 1, 2, 4 s: no busy loop


def test_telegram_and_zalo_in_one_process(tmp_path: Path, fake: FakeZalo) -> None:
    with FakeBotAPI() as telegram:
        site = site_for(tmp_path, {"telegram": (telegram.base_url, telegram.token),
                                   "zalo": (fake.base_url, fake.token)},
                        settings={"zalo": "poll_timeout = 1\n"})
        codes = [site.cli("invite", "create", "--unit", unit, "--role", "officer").split()[0]
                 for unit in ("NĐ-01", "NĐ-02")]
        on_telegram, on_zalo = TelegramPhone(telegram), ZaloPhone(fake)
        bot = BotProcess(site)
        bot.start()
        try:
            for phone, code in ((on_telegram, codes[0]), (on_zalo, codes[1])):
                open_first_report(phone, code)
                phone.type("3", expect="Đã lưu: 3")
        finally:
            bot.stop()
    con = sqlite3.connect(site.db)
    people = con.execute("SELECT channel, COUNT(*) FROM people GROUP BY channel").fetchall()
    drafts = con.execute("SELECT unit_code FROM drafts ORDER BY unit_code").fetchall()
    con.close()
    assert sorted(people) == [("telegram", 1), ("zalo", 1)]
    assert drafts == [("NĐ-01",), ("NĐ-02",)]
    assert bot.log.read_text(encoding="utf-8").count("Zalo bot baocao_bot started") == 1
    assert bot.tracebacks() == 0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(ready: object, timeout: float = 20.0) -> None:
    assert callable(ready)
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)
