"""Findings of the user/operator review of issue 10 (replies through the outbox, the inbox of
fetched updates), each as a test through the real parts: `baocao run` as a subprocess against
the fake Bot API, and the SQLite file it writes."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.services.delivery import Refused
from tests.chaos import BotProcess, Site
from tests.fakebotapi import FakeBotAPI
from tests.test_delivery import Ledger, Phone, courier, parcel
from tests.test_e2e_webhook import REPO, SECRET, free_port, update


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as server:
        yield server


def unhandled(db: Path) -> list[str]:
    """Update ids stored in the inbox and never handled (replayed at every start)."""
    con = sqlite3.connect(db)
    try:
        return [r[0] for r in con.execute(
            "SELECT event_id FROM inbox i WHERE NOT EXISTS (SELECT 1 FROM processed_events p"
            " WHERE p.channel = i.channel AND p.event_id = i.event_id) ORDER BY rowid")]
    finally:
        con.close()


@pytest.mark.timeout(120)
def test_updates_the_bot_ignores_are_not_kept_for_replay_at_every_start(
        tmp_path: Path, fake: FakeBotAPI) -> None:
    """A group message, a command for another bot, a message from a bot: baocao ignores
    them, but they stayed 'unhandled' in the inbox and were handled again at every start
    (and nothing prunes the inbox), so a bot added to a busy group replays the group's
    whole history at each restart."""
    site = Site.create(tmp_path, fake, 1)
    bot = BotProcess(site)
    bot.start()
    try:
        group = fake.inject_raw_update({"message": {
            "message_id": 1, "date": int(time.time()), "text": "chào cả nhóm",
            "chat": {"id": -4242, "type": "group", "title": "Nhóm xã"},
            "from": {"id": 555, "is_bot": False, "first_name": "Lan"}}})
        other_bot = fake.send_text(556, "/huy@some_other_bot")
        from_bot = fake.inject_raw_update({"message": {
            "message_id": 2, "date": int(time.time()), "text": "ping",
            "chat": {"id": 557, "type": "private", "first_name": "Máy"},
            "from": {"id": 557, "is_bot": True, "first_name": "Máy"}}})
        fake.send_text(558, "xin chào")  # handled: the bot answers, so it got this far
        fake.wait_for_message(558, timeout=30)
        fake.wait_until_consumed(timeout=20)
    finally:
        bot.stop()
    assert unhandled(site.db) == [], (group, other_bot, from_bot)


def post_raw(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


@pytest.mark.timeout(120)
def test_a_webhook_body_that_is_not_json_gets_400(tmp_path: Path, fake: FakeBotAPI) -> None:
    """Issue 10 item 6: 'A webhook body that is not JSON gets 400, not 500'. It got 500
    (python-telegram-bot's handler calls json.loads unguarded): a 5xx tells a caller to retry
    and, behind a proxy, reads as the bot being down."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    (tmp_path / "config.toml").write_text(
        f'[telegram]\nbase_url = "{fake.base_url}"\nmode = "webhook"\n'
        f'webhook_url = "{url}"\nwebhook_secret = "{SECRET}"\nlisten = "127.0.0.1"\n'
        f'port = {port}\n[storage]\npath = "{tmp_path / "db.sqlite"}"\n', encoding="utf-8")
    env = {**os.environ, "BAOCAO_CONFIG": str(tmp_path / "config.toml"),
           "BAOCAO_TELEGRAM_TOKEN": fake.token, "PYTHONPATH": str(REPO)}
    with open(tmp_path / "bot.log", "w") as log:
        bot = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env, cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=log)
    try:
        fake.wait_for_call("setWebhook", timeout=20)
        deadline = time.monotonic() + 20
        status = 0
        while time.monotonic() < deadline:  # the listener starts just after setWebhook
            try:
                status = post_raw(url, json.dumps(update(1, 901, "xin chào")).encode())
                break
            except OSError:
                time.sleep(0.2)
        assert status == 200
        statuses = {body: post_raw(url, body) for body in (b"not json {", b"\xff\xfe")}
    finally:
        bot.terminate()
        bot.wait(timeout=20)
    assert statuses == {b"not json {": 400, b"\xff\xfe": 400}


# --- the courier ----------------------------------------------------------------------------


async def test_a_failure_to_mark_a_blocked_person_does_not_serve_their_chat_twice() -> None:
    """403, and marking the person unreachable fails (the database locked past its timeout):
    the worker's catch-all queued the chat again in 5 s although it had been dropped. If the
    person unblocked and wrote meanwhile, their new chat queue was then served by two
    workers at once: one reply sent twice, the next one recorded 'sent' and never sent."""
    phone, ledger = Phone(), Ledger()
    c = courier(phone, ledger, workers=4)
    c.start()
    phone.script = [Refused("Forbidden: bot was blocked by the user")]
    gate = asyncio.Event()

    async def mark(person_id: int) -> None:
        phone.gate = gate  # the next calls wait (a slow network)
        c.enqueue([parcel("A", "two", 2, person=42), parcel("A", "three", 3, person=42)])
        raise sqlite3.OperationalError("database is locked")

    c._unreachable = mark
    c.enqueue([parcel("A", "one", 1, person=42)])
    async with asyncio.timeout(20):
        while len(phone.calls) < 2:  # "two" is in flight, held by the gate
            await asyncio.sleep(0.01)
        await asyncio.sleep(5.5)  # past the catch-all's 5 s
        gate.set()
        await c.delivered_all("A")
    await c.flush()
    await c.stop()
    assert phone.got == [("A", "two"), ("A", "three")]
    assert sorted(ledger.settled) == [(1, "unreachable"), (2, "sent"), (3, "sent")]


# --- answers bound to what the officer saw ------------------------------------------------------


async def test_a_late_question_answered_twice_on_a_slow_phone_is_not_filed_under_the_next(
        tmp_path: Path) -> None:
    """A phone that receives 5-6 s late (tests/chaos-style officers who type what their
    screen shows; measured: 10 officers, 3-7 answers misfiled at a 5 s lag, 22-46 at 6 s,
    none at 3 s). The officer's screen, in order: "✓ 12 / Tỉ lệ…" arrives late, so they
    retype 12; the bot's doubt ("12 giống hệt…, gõ lại") re-asks the question on screen; the
    officer answers it (34, stored: right), then answers the same question again when the
    late doubt shows it once more (34), and again when nothing arrives for a while (34). The
    bot takes the last two as "typed twice" and files 34 under the next question too, with
    "✓ Đã lưu: 34", although every 34 was typed looking at the question 34 answers."""
    from tests.harness import Clock, join, make_app
    from tests.test_delivery import first_number_question, rows
    app = await make_app(tmp_path, Clock())
    chat = await join(app, "U1")
    await first_number_question(chat)  # "Tổng số HTX"
    await chat.say("12")  # stored; "✓ 12" and the next question arrive late
    await chat.say("12")  # retyped: the doubt, the next question asked again
    await chat.say("34")  # the answer to that question: stored, right
    asked = chat.text
    await chat.say("34")  # the late doubt showed that question again: answered again
    await chat.say("34")  # nothing new on the slow phone: typed again
    db = tmp_path / "baocao.db"
    values = [json.loads(v) for (v,) in rows(db, "SELECT value FROM draft_answers")]
    await app.close()
    assert values.count(34) == 1, (asked, values)  # 34.0 == 34: a percentage counts
