"""Replies are delivered, not just sent: the outbox (written with the answer), the courier
(order per chat, retry_after, back-off, permanent refusals, priorities, restarts), and answers
bound to the question the officer was last shown."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.domain.dialogue import Reply
from bot.services import delivery
from bot.services.channels import Inbound
from bot.services.delivery import (
    REMINDER,
    REPLY,
    Courier,
    Limits,
    Parcel,
    Payload,
    Refused,
    Rejected,
    RetryLater,
)
from storage.interface import DraftChanged
from storage.models import Changes, Outgoing, Person, Stored
from storage.sqlite import SqliteStorage
from tests.harness import Chat, Clock, join, make_app

NO_LIMITS = Limits(0, 0)


def render(event: Any, chat: str, replies: list[Reply]) -> list[Payload]:
    """A channel without edits: one payload per reply."""
    return [{"text": r.text, "buttons": [[b.label for b in row] for row in r.buttons]}
            for r in replies]


class Phone:
    """A transport whose messenger can be told to fail, per call, in order."""

    def __init__(self) -> None:
        self.got: list[tuple[str, str]] = []  # (chat, text) accepted
        self.calls: list[tuple[str, str]] = []  # every attempt
        self.script: list[BaseException] = []  # failures for the next calls, in order
        self.gate: asyncio.Event | None = None  # when set to an unset event: calls wait

    async def deliver(self, chat_id: str, payload: Payload) -> int | None:
        self.calls.append((chat_id, payload["text"]))
        if self.gate is not None:
            await self.gate.wait()
        if self.script:
            raise self.script.pop(0)
        self.got.append((chat_id, payload["text"]))
        return None


class Ledger:
    def __init__(self) -> None:
        self.settled: list[tuple[int, str]] = []
        self.unreachable: list[int] = []

    async def record(self, settled: list[tuple[int, str]], marks: dict[str, int]) -> None:
        self.settled += settled

    async def mark(self, person_id: int) -> None:
        self.unreachable.append(person_id)


def courier(phone: Phone, ledger: Ledger, **kw: Any) -> Courier:
    return Courier("test", phone, render, record=ledger.record, unreachable=ledger.mark,
                   **{"limits": NO_LIMITS, **kw})


def parcel(chat: str, text: str, row: int | None = None, priority: int = REPLY,
           person: int | None = None) -> Parcel:
    return Parcel(Outgoing("test", chat, "", person, None, priority), {"text": text}, row)


async def settle(c: Courier, *chats: str) -> None:
    async with asyncio.timeout(10):
        for chat in chats:
            await c.delivered_all(chat)
        await c.flush()


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "backoff", lambda attempts: 0.01)


async def test_messages_of_one_chat_go_in_order_and_others_are_not_held_up() -> None:
    phone, ledger = Phone(), Ledger()
    c = courier(phone, ledger, workers=4)
    c.start()
    phone.script = [RetryLater(0.2)]  # the first call (chat A's first message) must wait
    c.enqueue([parcel("A", "a1", 1), parcel("A", "a2", 2), parcel("B", "b1", 3),
               parcel("A", "a3", 4), parcel("B", "b2", 5)])
    await settle(c, "A", "B")
    await c.stop()
    assert [t for chat, t in phone.got if chat == "A"] == ["a1", "a2", "a3"]
    assert [t for chat, t in phone.got if chat == "B"] == ["b1", "b2"]
    # B was not held up by A's wait: both of B's went before A's first
    assert phone.got.index(("B", "b2")) < phone.got.index(("A", "a1"))
    assert sorted(ledger.settled) == [(i, "sent") for i in range(1, 6)]
    assert phone.calls.count(("A", "a1")) == 2  # refused once, then delivered


async def test_transient_failures_are_retried_until_the_messenger_takes_the_reply() -> None:
    phone, ledger = Phone(), Ledger()
    c = courier(phone, ledger)
    c.start()
    phone.script = [OSError("connection reset"), TimeoutError(), RuntimeError("502")] * 3
    c.enqueue([parcel("A", "✓ Đã lưu", 7), parcel("A", "Câu 2/5", 8)])
    await settle(c, "A")
    await c.stop()
    assert phone.got == [("A", "✓ Đã lưu"), ("A", "Câu 2/5")]
    assert ledger.settled == [(7, "sent"), (8, "sent")]
    assert c.retried == 9


async def test_a_permanent_refusal_drops_the_chat_and_marks_the_person() -> None:
    phone, ledger = Phone(), Ledger()
    c = courier(phone, ledger)
    c.start()
    phone.script = [Refused("Forbidden: bot was blocked by the user")]
    c.enqueue([parcel("A", "one", 1, person=42), parcel("A", "two", 2, person=42),
               parcel("B", "other", 3)])
    await settle(c, "A", "B")
    await c.stop()
    assert phone.got == [("B", "other")]
    assert sorted(ledger.settled) == [(1, "unreachable"), (2, "unreachable"), (3, "sent")]
    assert ledger.unreachable == [42]


async def test_a_malformed_message_is_dropped_and_the_next_still_goes() -> None:
    phone, ledger = Phone(), Ledger()
    c = courier(phone, ledger)
    c.start()
    phone.script = [Rejected("Bad Request: can't parse entities")]
    c.enqueue([parcel("A", "bad", 1), parcel("A", "good", 2)])
    await settle(c, "A")
    await c.stop()
    assert phone.got == [("A", "good")]
    assert ledger.settled == [(1, "failed"), (2, "sent")]


async def test_replies_go_before_reminders_waiting_for_the_same_sender() -> None:
    phone, ledger = Phone(), Ledger()
    c = courier(phone, ledger, workers=1)
    phone.gate = asyncio.Event()
    c.start()
    c.enqueue([parcel("R0", "first reminder", priority=REMINDER)])
    await asyncio.sleep(0.05)  # the one worker is now busy with it
    c.enqueue([parcel(f"R{i}", "reminder", priority=REMINDER) for i in range(1, 4)])
    c.enqueue([parcel("O", "reply to an officer", 9, priority=REPLY)])
    phone.gate.set()
    await settle(c, "O", "R1", "R2", "R3")
    await c.stop()
    assert [chat for chat, _ in phone.got][:2] == ["R0", "O"]


async def test_a_push_reports_its_outcome_and_gives_up_after_a_few_transient_failures(
) -> None:
    phone, ledger = Phone(), Ledger()
    c = courier(phone, ledger, push_attempts=3)
    c.start()
    person = Person(5, "test", "P5", "Cán bộ", reachable=True)
    assert await c.send(person, Reply("🔔 Nhắc báo cáo")) == "sent"
    phone.script = [OSError("down")] * 3
    assert await c.send(person, Reply("🔔 lần 2")) == "failed"
    phone.script = [Refused("Forbidden")]
    assert await c.send(person, Reply("🔔 lần 3")) == "blocked"
    await c.stop()
    assert phone.got == [("P5", "🔔 Nhắc báo cáo")]
    assert ledger.unreachable == [5]


async def test_stop_leaves_undelivered_rows_pending_and_a_new_courier_delivers_them_once(
        storage: SqliteStorage) -> None:
    rows = [Outgoing("test", "A", json.dumps({"text": f"m{i}", "buttons": []}), None, f"e{i}")
            for i in range(3)]
    changes = Changes(actor=0, outbox=rows)
    assert await storage.apply(changes)
    assert len(changes.outbox_ids) == 3
    phone, ledger = Phone(), Ledger()
    phone.script = [OSError("network down")] * 100  # nothing gets through before the stop

    async def record(settled: list[tuple[int, str]], marks: dict[str, int]) -> None:
        await storage.apply(Changes(actor=0, settled=settled))
        await ledger.record(settled, marks)

    first = Courier("test", phone, render, record=record, unreachable=ledger.mark,
                    limits=NO_LIMITS)
    first.start()
    first.enqueue(first.stored(await storage.pending_outbox("test")))
    await asyncio.sleep(0.1)
    await first.stop()
    assert phone.got == [] and ledger.settled == []
    assert len(await storage.pending_outbox("test")) == 3

    phone.script = []  # after the restart the network is back
    second = Courier("test", phone, render, record=record, unreachable=ledger.mark,
                     limits=NO_LIMITS)
    second.start()
    second.enqueue(second.stored(await storage.pending_outbox("test")))
    await settle(second, "A")
    await second.stop()
    assert phone.got == [("A", "m0"), ("A", "m1"), ("A", "m2")]
    assert await storage.pending_outbox("test") == []
    third = Courier("test", phone, render, record=record, unreachable=ledger.mark)
    assert third.stored(await storage.pending_outbox("test")) == []  # nothing sent twice


async def test_the_chat_limit_spaces_a_burst_out() -> None:
    """Telegram's one message a second per chat, after a burst of three: five messages to one
    chat need at least two seconds of limiter time (counted by the limiter, not a clock)."""
    phone, ledger = Phone(), Ledger()
    c = courier(phone, ledger, limits=Limits(per_second=30, per_chat_per_second=1,
                                             chat_burst=3))
    c.start()
    c.enqueue([parcel("A", f"m{i}") for i in range(5)])
    await asyncio.sleep(0.2)
    assert len(phone.got) == 3  # the burst went, the rest wait for the chat's limit
    await settle(c, "A")
    await c.stop()
    assert [t for _, t in phone.got] == [f"m{i}" for i in range(5)]


# --- the dialogue through the outbox ------------------------------------------------------------


async def outboxed(tmp_path: Path) -> tuple[Any, Phone, Courier]:
    app = await make_app(tmp_path, Clock())
    phone = Phone()

    async def record(settled: list[tuple[int, str]], marks: dict[str, int]) -> None:
        await app.storage.apply(Changes(actor=0, settled=settled))

    async def unreachable(person_id: int) -> None:
        await app.storage.set_reachable(person_id, False)

    c = Courier("test", phone, render, record=record, unreachable=unreachable,
                limits=NO_LIMITS)
    app.channels.register_courier(c)
    c.start()
    return app, phone, c


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


async def first_number_question(chat: Chat) -> None:
    await chat.cmd("baocao")
    await chat.press_label("Báo cáo quý thử nghiệm")
    await chat.press_label("Không")  # no fanpage: straight to "Tổng số HTX"
    assert "Tổng số HTX" in chat.text


async def test_a_reply_is_stored_with_the_answer_it_acknowledges(tmp_path: Path) -> None:
    app, phone, c = await outboxed(tmp_path)
    chat = await join(app, "U1")
    await first_number_question(chat)
    phone.gate = asyncio.Event()  # the messenger stops answering
    chat.waits = False
    await chat.say("12")
    db = tmp_path / "baocao.db"
    assert rows(db, "SELECT value FROM draft_answers WHERE question_id='htx_tong'") == [("12",)]
    await c.flush()  # what was delivered before is recorded
    pending = rows(db, "SELECT payload, state FROM outbox WHERE chat_id='U1' AND"
                       " state='pending'")
    assert len(pending) == 1 and "✓ Đã lưu: 12 HTX" in json.loads(pending[0][0])["text"]
    phone.gate.set()
    await settle(c, "U1")
    assert rows(db, "SELECT state FROM outbox WHERE state='pending'") == []
    await c.stop()
    await app.close()


async def test_typing_while_the_reply_is_undelivered_stores_nothing_and_asks_again(
        tmp_path: Path) -> None:
    """The red-team case: "12" acknowledged but the reply stuck (429, timeouts); the officer
    types 12 again. It must not become the answer to the next question."""
    app, phone, c = await outboxed(tmp_path)
    chat = await join(app, "U1")
    await first_number_question(chat)
    phone.script = [RetryLater(0.3)]  # the next reply waits for the messenger
    chat.waits = False  # and the officer types again without having seen it
    await chat.say("12")
    assert "Câu 3/" in chat.text and "Số HTX mới" in chat.text  # what was queued
    replies = await chat.say("12")  # typed again: the officer has not seen question 4
    assert "chưa được lưu" in replies[0].text and "“12”" in replies[0].text
    assert "Số HTX mới" in replies[1].text  # the question it is on, asked again
    db = tmp_path / "baocao.db"
    assert rows(db, "SELECT question_id, value FROM draft_answers ORDER BY question_id") == [
        ("co_fanpage", "false"), ("htx_tong", "12")]  # htx_moi untouched
    await settle(c, "U1")
    chat.waits = True
    texts = [t for chat_id, t in phone.got if chat_id == "U1"]
    assert "✓ Đã lưu: 12 HTX" in texts[-3] and "chưa được lưu" in texts[-2]
    assert "Số HTX mới" in texts[-1]
    await chat.say("3")  # now seen: an answer again
    assert "✓ Đã lưu: 3 HTX" in chat.text
    assert rows(db, "SELECT value FROM draft_answers WHERE question_id='htx_moi'") == [("3",)]
    await c.stop()
    await app.close()


async def test_the_same_event_twice_is_handled_and_answered_once(tmp_path: Path) -> None:
    app, phone, c = await outboxed(tmp_path)
    chat = await join(app, "U1")
    await first_number_question(chat)
    event = Inbound("test", "U1", "Cán bộ", text="12", event_id="same")
    await app.reporting.handle(event)
    await settle(c, "U1")
    assert await app.reporting.handle(event) == []
    await settle(c, "U1")
    db = tmp_path / "baocao.db"
    assert rows(db, "SELECT COUNT(*) FROM outbox WHERE event_id='same'") == [(1,)]
    assert sum("✓ Đã lưu: 12" in t for _, t in phone.got) == 1
    await c.stop()
    await app.close()


async def test_a_reply_that_could_not_be_stored_is_not_sent(tmp_path: Path) -> None:
    """A failed commit sends nothing: no "✓ Đã lưu" for an answer that is not stored."""
    app, phone, c = await outboxed(tmp_path)
    chat = await join(app, "U1")
    await first_number_question(chat)
    before = len(phone.calls)
    with sqlite3.connect(tmp_path / "baocao.db", timeout=10) as locker:
        locker.execute("CREATE TRIGGER refuse BEFORE INSERT ON outbox BEGIN"
                       " SELECT RAISE(ABORT, 'disk full'); END")
    with pytest.raises(DraftChanged):  # how storage reports a refused write
        await chat.say("12")
    await settle(c, "U1")
    assert len(phone.calls) == before
    assert rows(tmp_path / "baocao.db",
                "SELECT COUNT(*) FROM draft_answers WHERE question_id='htx_tong'") == [(0,)]
    await c.stop()
    await app.close()


# --- housekeeping -------------------------------------------------------------------------------


async def test_old_delivery_records_are_pruned_but_pending_messages_stay(
        storage: SqliteStorage) -> None:
    await storage.apply(Changes(actor=0, event=("test", "old"), inbox=[("test", "old", "{}")],
                                outbox=[Outgoing("test", "A", "{}"), Outgoing("test", "A", "{}")]))
    done = Changes(actor=0, outbox=[Outgoing("test", "A", "{}")])
    await storage.apply(done)
    await storage.apply(Changes(actor=0, settled=[(done.outbox_ids[0], "sent")]))
    pruned = await storage.prune_delivery(datetime.now(UTC) + timedelta(days=1))
    assert pruned == {"processed_events": 1, "inbox": 1, "outbox": 1}
    assert len(await storage.pending_outbox("test")) == 2
    assert await storage.prune_delivery(datetime.now(UTC) - timedelta(days=1)) == {
        "processed_events": 0, "inbox": 0, "outbox": 0}


async def test_the_inbox_keeps_what_was_not_handled_in_order(storage: SqliteStorage) -> None:
    await storage.apply(Changes(actor=0, inbox=[("telegram", str(i), f'{{"n": {i}}}')
                                                for i in (5, 3, 9)]))
    await storage.apply(Changes(actor=1, event=("telegram", "3")))
    assert await storage.unhandled_inbox("telegram") == [("5", '{"n": 5}'), ("9", '{"n": 9}')]
    assert await storage.unhandled_inbox("zalo") == []


# --- answers bound to what the person saw ---------------------------------------------------------


async def test_a_figure_repeating_the_answer_just_given_is_stored_only_when_confirmed(
        tmp_path: Path) -> None:
    """A retype, or an answer to a late copy of the previous question, must not fill the next
    question silently with the previous figure."""
    app = await make_app(tmp_path, Clock())
    chat = await join(app, "U1")
    await first_number_question(chat)
    await chat.say("12")
    assert "Số HTX mới" in chat.text
    replies = await chat.say("12")
    assert "giống hệt câu trả lời bạn vừa gửi cho câu “Tổng số HTX”" in replies[0].text
    assert "Số HTX mới" in chat.text  # asked again
    db = tmp_path / "baocao.db"
    assert rows(db, "SELECT COUNT(*) FROM draft_answers WHERE question_id='htx_moi'") == [(0,)]
    await chat.say("12")  # typed again: what a retype looks like, so not taken either
    assert "giống hệt" in chat.text
    assert rows(db, "SELECT COUNT(*) FROM draft_answers WHERE question_id='htx_moi'") == [(0,)]
    await chat.press_label("✓ Lưu 12 HTX cho câu này")  # meant: confirmed for this question
    assert "✓ Đã lưu: 12 HTX" in chat.text
    assert rows(db, "SELECT value FROM draft_answers WHERE question_id='htx_moi'") == [("12",)]
    await app.close()


async def test_a_different_figure_or_a_zero_is_stored_at_once(tmp_path: Path) -> None:
    app = await make_app(tmp_path, Clock())
    chat = await join(app, "U1")
    await first_number_question(chat)
    await chat.say("0")
    await chat.say("0")  # zeros repeat too often in these reports to ask each time
    assert "✓ Đã lưu: 0 HTX" in chat.text and "Tỉ lệ" in chat.text
    db = tmp_path / "baocao.db"
    assert rows(db, "SELECT value FROM draft_answers WHERE question_id='htx_moi'") == [("0",)]
    await app.close()


async def test_a_message_written_before_the_latest_reply_arrived_does_not_answer_it() -> None:
    ids = iter(range(10, 100))

    class Numbered(Phone):
        async def deliver(self, chat_id: str, payload: Payload) -> int | None:
            await super().deliver(chat_id, payload)
            return next(ids)

    phone, ledger = Numbered(), Ledger()
    c = courier(phone, ledger)
    c.start()
    c.enqueue([parcel("A", "Câu 2")])
    await settle(c, "A")
    assert c.last_reply == {"A": 10}
    assert c.typed_before_last_reply("A", 9)  # written while Câu 2 was on its way
    assert not c.typed_before_last_reply("A", 11)
    assert not c.typed_before_last_reply("A", None)  # channels without one sequence
    assert not c.typed_before_last_reply("B", 1)
    # A reply sent again after a restart may be a copy the person saw: the mark stays.
    c.enqueue(c.stored([Stored(5, Outgoing("test", "A", json.dumps({"text": "Câu 2"})))]))
    await settle(c, "A")
    assert c.last_reply == {"A": 10}
    await c.stop()
