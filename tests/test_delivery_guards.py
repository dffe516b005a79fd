"""Delivery guards a mutation review of issue 10 found that no test noticed when removed: the
courier's stop, drain and settle, what it records, how a blocked chat comes back, the limits;
Telegram's error mapping and message ids; the inbox; restart recovery."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from pydantic import SecretStr
from telegram import Bot, Update
from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import ODVInput
from telegram.error import BadRequest, Forbidden, RetryAfter, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.config import Config, StorageConfig, TelegramConfig
from bot.domain.buttons import SendReport, unpack
from bot.domain.dialogue import Button, Reply
from bot.domain.units import check_import
from bot.services import delivery
from bot.services.channels import Inbound, Pressed
from bot.services.delivery import (
    REPLY,
    Courier,
    Limits,
    Parcel,
    Refused,
    Rejected,
    RetryLater,
)
from bot.services.reporting.notices import shown_with
from bot.unit_files import read_unit_rows
from handlers.telegram.app import INBOX_KEY, build_application
from handlers.telegram.delivery import EDIT, SEND, TelegramTransport
from handlers.telegram.delivery import render as tg_render
from handlers.telegram.inbox import StoringQueue, StoringRequest, replay
from handlers.telegram.runner import start_services, stop_services, stop_sweeps
from storage.models import Changes, Notice, Outgoing, Person
from storage.sqlite import SqliteStorage
from tests.harness import Chat, Clock, join, legacy_units_path, make_app
from tests.recording_request import RecordingRequest
from tests.test_colleagues import ANSWERS, REPORT, officer
from tests.test_delivery import (
    NO_LIMITS,
    Ledger,
    Phone,
    courier,
    first_number_question,
    parcel,
    render,
    rows,
)


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "backoff", lambda attempts: 0.01)


class Marks(Ledger):
    """A ledger that keeps the reply marks recorded too."""

    def __init__(self) -> None:
        super().__init__()
        self.marks: dict[str, int] = {}

    async def record(self, settled: list[tuple[int, str]], marks: dict[str, int]) -> None:
        await super().record(settled, marks)
        self.marks.update(marks)


class Numbered(Phone):
    """A messenger that numbers the messages it accepts (as Telegram does per chat)."""

    def __init__(self, first: int = 10) -> None:
        super().__init__()
        self.next_id = first

    async def deliver(self, chat_id: str, payload: Any) -> int | None:
        await super().deliver(chat_id, payload)
        self.next_id += 1
        return self.next_id - 1


async def until(condition: Any) -> None:
    """Yield to the loop until `condition()` holds (bounded: a broken wait fails)."""
    async with asyncio.timeout(5):
        while not condition():
            await asyncio.sleep(0.005)


# --- stop, drain, settle ------------------------------------------------------------------------


async def test_stop_tells_a_waiting_push_it_failed() -> None:
    """A sweep waiting for a reminder's outcome at shutdown must not wait forever."""
    phone, ledger = Phone(), Ledger()
    phone.gate = asyncio.Event()  # the messenger never answers
    c = courier(phone, ledger)
    c.start()
    person = Person(5, "test", "P5", "Cán bộ", reachable=True)
    first = asyncio.create_task(c.send(person, Reply("🔔 một")))
    queued = asyncio.create_task(c.send(person, Reply("🔔 hai")))  # behind it, same chat
    await until(lambda: len(phone.calls) == 1)
    await c.stop()
    async with asyncio.timeout(5):
        assert await queued == "failed"
        assert await first == "failed"


def breakable(ledger: Any) -> tuple[Any, list[bool]]:
    """A recorder that fails ("database is locked") while `broken[0]` is True."""
    broken = [True]

    async def record(settled: list[tuple[int, str]], marks: dict[str, int]) -> None:
        if broken[0]:
            raise RuntimeError("database is locked")
        await ledger.record(settled, marks)
    return record, broken


async def test_stop_records_what_was_delivered_before_it() -> None:
    """Delivered rows are recorded at stop (even when every write before it failed), or the
    next start would send them again."""
    phone, ledger = Phone(), Ledger()
    record, broken = breakable(ledger)
    c = Courier("test", phone, render, record=record, unreachable=ledger.mark,
                limits=NO_LIMITS)
    c.start()
    c.enqueue([parcel("A", "✓ Đã lưu", 1), parcel("A", "Câu 2", 2)])
    async with asyncio.timeout(5):
        await c.delivered_all("A")
    await c.flush()
    assert ledger.settled == []
    broken[0] = False
    await c.stop()
    assert ledger.settled == [(1, "sent"), (2, "sent")]


async def test_drain_waits_for_what_is_queued() -> None:
    phone, ledger = Phone(), Ledger()
    phone.gate = asyncio.Event()
    c = courier(phone, ledger)
    c.start()
    c.enqueue([parcel("A", "✓ Đã lưu", 1)])
    draining = asyncio.create_task(c.drain(10))
    await until(lambda: len(phone.calls) == 1)
    assert not draining.done()  # the reply is still in flight
    phone.gate.set()
    async with asyncio.timeout(5):
        await draining
    assert phone.got == [("A", "✓ Đã lưu")]
    await c.stop()


async def test_settle_waits_at_most_its_patience_for_a_call_in_flight() -> None:
    """A Bot API call that hangs must not hang the officer's next message."""
    phone, ledger = Phone(), Ledger()
    phone.gate = asyncio.Event()
    c = courier(phone, ledger)
    c.start()
    c.enqueue([parcel("A", "Câu 2", 1)])
    await until(lambda: len(phone.calls) == 1)
    async with asyncio.timeout(5):
        assert await c.settle("A", patience=0.05) == 1
    settling = asyncio.create_task(c.settle("A", patience=60))
    await asyncio.sleep(0)  # settle now waits for the call
    phone.gate.set()
    await asyncio.wait({settling}, timeout=5)  # told as soon as the call answers, not in 60 s
    assert settling.done() and settling.result() == 0
    await c.stop()


async def test_a_cancelled_settle_is_cancelled() -> None:
    """Waiting for a call in flight must not swallow the cancellation of the handler that
    waits (a shutdown, a timeout around it)."""
    phone, ledger = Phone(), Ledger()
    phone.gate = asyncio.Event()
    c = courier(phone, ledger)
    c.start()
    c.enqueue([parcel("A", "Câu 2", 1)])
    await until(lambda: len(phone.calls) == 1)
    settling = asyncio.create_task(c.settle("A", patience=60))
    await asyncio.sleep(0.01)
    settling.cancel()
    await asyncio.wait({settling}, timeout=5)
    assert settling.cancelled()
    phone.gate.set()
    await c.stop()


async def test_a_push_for_another_channel_is_not_sent_here() -> None:
    phone, ledger = Phone(), Ledger()
    c = courier(phone, ledger)
    c.start()
    zalo = Person(5, "zalo", "Z5", "Cán bộ", reachable=True)
    async with asyncio.timeout(5):
        assert await c.send(zalo, Reply("🔔")) == "failed"
    await c.stop()
    assert phone.calls == []


async def test_a_reminder_in_parts_reports_the_outcome_of_its_last_part() -> None:
    """A push is 'sent' only when all of it is: a refusal of its last part means blocked."""
    phone, ledger = Phone(), Ledger()

    def in_two(event: Any, chat: str, replies: list[Reply]) -> list[dict[str, Any]]:
        return [{"text": f"{r.text} ({i}/2)"} for r in replies for i in (1, 2)]

    c = Courier("test", phone, in_two, record=ledger.record, unreachable=ledger.mark,
                limits=NO_LIMITS)
    c.start()
    person = Person(5, "test", "P5", "Cán bộ", reachable=True)
    real = phone.deliver

    async def deliver(chat_id: str, payload: Any) -> int | None:
        if payload["text"].endswith("(2/2)"):
            raise Refused("Forbidden: bot was blocked by the user")
        return await real(chat_id, payload)

    phone.deliver = deliver  # type: ignore[method-assign]
    async with asyncio.timeout(5):
        assert await c.send(person, Reply("🔔")) == "blocked"
    await c.stop()
    assert phone.got == [("P5", "🔔 (1/2)")]


# --- waits and marks ----------------------------------------------------------------------------


async def test_retry_after_holds_the_chat_for_the_time_asked() -> None:
    """Telegram's 429 says how long to wait; writing again sooner prolongs the flood ban."""
    phone, ledger = Phone(), Ledger()
    c = courier(phone, ledger, workers=2)
    c.start()
    phone.script = [delivery.RetryLater(30)]
    c.enqueue([parcel("A", "a1", 1), parcel("B", "b1", 2)])
    async with asyncio.timeout(5):
        await c.delivered_all("B")
    await asyncio.sleep(0.1)  # far less than the 30 s asked
    assert phone.calls.count(("A", "a1")) == 1 and c.undelivered("A") == 1
    await c.stop()
    assert ledger.settled == [(2, "sent")]  # a1 stays pending for the next start


async def test_a_reminder_does_not_move_the_mark_of_the_last_reply() -> None:
    """Only replies ask the question an answer binds to: a reminder arriving while the officer
    types must not make their answer count as written before our reply."""
    phone, ledger = Numbered(), Marks()
    c = courier(phone, ledger)
    c.start()
    c.enqueue([parcel("P5", "Câu 2")])
    async with asyncio.timeout(5):
        await c.delivered_all("P5")
        assert await c.send(Person(5, "test", "P5", "Cán bộ", reachable=True),
                            Reply("🔔 Nhắc")) == "sent"
    assert c.last_reply == {"P5": 10}
    assert not c.typed_before_last_reply("P5", 11)  # written after Câu 2, before the 🔔
    await c.stop()
    assert ledger.marks == {"P5": 10}


async def test_the_mark_of_the_last_reply_is_recorded_for_the_next_start() -> None:
    phone, ledger = Numbered(), Marks()
    c = courier(phone, ledger)
    c.start()
    c.enqueue([parcel("A", "✓ Đã lưu", 1), parcel("A", "Câu 3", 2)])
    async with asyncio.timeout(5):
        await c.delivered_all("A")
    await c.flush()
    assert ledger.marks == {"A": 11}
    await c.stop()


# --- limits, priorities, a chat that comes back -------------------------------------------------


async def test_the_channel_limit_holds_a_burst_to_many_chats() -> None:
    """Telegram's 30 messages a second in all (here 2, to see it): one message each to five
    chats does not all go at once."""
    phone, ledger = Phone(), Ledger()
    c = courier(phone, ledger, limits=Limits(per_second=2, per_chat_per_second=0))
    c.start()
    c.enqueue([parcel(f"C{i}", "🔔") for i in range(5)])
    await asyncio.sleep(0.2)
    assert len(phone.got) == 2  # the limiter's capacity; the rest wait for it
    await c.stop()


async def test_a_replys_second_message_keeps_the_replys_priority() -> None:
    """"✓ Đã lưu" and the next question are one reply in two messages: reminders queued
    meanwhile wait for both."""
    phone, ledger = Phone(), Ledger()
    c = courier(phone, ledger, workers=1)
    phone.gate = asyncio.Event()
    c.start()
    c.enqueue([parcel("R0", "🔔", priority=delivery.REMINDER)])
    await until(lambda: len(phone.calls) == 1)  # the one worker is busy with it
    c.enqueue([parcel("O", "✓ Đã lưu", 1), parcel("O", "Câu 3", 2)])
    c.enqueue([parcel(f"R{i}", "🔔", priority=delivery.REMINDER) for i in range(1, 4)])
    phone.gate.set()
    async with asyncio.timeout(5):
        for chat in ("O", "R1", "R2", "R3"):
            await c.delivered_all(chat)
    await c.stop()
    assert [t for _, t in phone.got][:3] == ["🔔", "✓ Đã lưu", "Câu 3"]


async def test_a_person_who_blocked_the_bot_gets_replies_again_once_they_write() -> None:
    phone, ledger = Phone(), Ledger()
    c = courier(phone, ledger)
    c.start()
    phone.script = [Refused("Forbidden: bot was blocked by the user")]
    c.enqueue([parcel("A", "Câu 2", 1, person=7)])
    await until(lambda: ledger.unreachable == [7])
    c.enqueue([parcel("A", "✓ Đã lưu", 2, person=7)])  # unblocked, wrote again
    async with asyncio.timeout(5):
        await c.delivered_all("A")
    await c.stop()
    assert phone.got == [("A", "✓ Đã lưu")]
    assert ledger.settled == [(1, "unreachable"), (2, "sent")]


# --- recording ----------------------------------------------------------------------------------


async def test_what_could_not_be_recorded_is_recorded_at_the_next_flush() -> None:
    """A failed write of delivery results (database busy) is kept and written next time: lost,
    the rows would be sent again after a restart and the mark of the last reply forgotten."""
    phone, ledger = Numbered(), Marks()
    record, broken = breakable(ledger)
    c = Courier("test", phone, render, record=record, unreachable=ledger.mark,
                limits=NO_LIMITS)
    c.start()
    c.enqueue([parcel("A", "✓ Đã lưu", 1)])
    async with asyncio.timeout(5):
        await c.delivered_all("A")
    await c.flush()  # fails
    assert ledger.settled == [] and ledger.marks == {}
    broken[0] = False
    c.enqueue([parcel("B", "Câu 1", 2)])
    async with asyncio.timeout(5):
        await c.delivered_all("B")
    await c.flush()
    assert ledger.settled == [(1, "sent"), (2, "sent")]
    assert ledger.marks == {"A": 10, "B": 11}
    await c.stop()


async def test_idle_chat_limiters_are_forgotten_but_not_a_busy_chats(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory stays bounded with thousands of chats: a chat's limiter goes once it is full
    again, unless the chat still has messages waiting."""
    phone, ledger = Phone(), Ledger()
    c = courier(phone, ledger, limits=Limits(per_second=0, per_chat_per_second=1000,
                                             chat_burst=3))
    c.start()
    c.enqueue([parcel(f"C{i}", "🔔") for i in range(1100)])
    async with asyncio.timeout(10):
        for i in range(1100):
            await c.delivered_all(f"C{i}")
    phone.gate = asyncio.Event()
    c.enqueue([parcel("C0", "again")])  # C0 is busy: its limiter must stay
    await until(lambda: len(phone.calls) == 1101)
    later = time.monotonic() + 100

    class Later:
        @staticmethod
        def monotonic() -> float:
            return later

    monkeypatch.setattr(delivery, "time", Later)
    c._forget_idle_limits()
    assert list(c._chat_limits) == ["C0"]
    monkeypatch.undo()
    phone.gate.set()
    await c.stop()


# --- Telegram: the calls a reply becomes, and how the Bot API's answers are sorted --------------


def pressed_event(text: str = "Đoàn xã có fanpage chưa?") -> Inbound:
    return Inbound("telegram", "5001", "Cán bộ", button="x", message_id=40,
                   pressed=Pressed("39", text, "Có"))


def test_a_press_marks_its_message_once_then_the_replies_are_sent() -> None:
    buttons = [[Button("Bỏ qua", "s|q")]]
    calls = tg_render(pressed_event(), "5001", [Reply("✓ Đã lưu: Có"), Reply("Câu 2/5", buttons)])
    assert [c["m"] for c in calls] == [EDIT, SEND, SEND]
    assert calls[0]["p"] == {"chat_id": 5001, "message_id": 39,
                             "text": "Đoàn xã có fanpage chưa?\n\n→ Có"}  # no keyboard left
    assert calls[1]["p"] == {"chat_id": 5001, "text": "✓ Đã lưu: Có"}
    assert calls[2]["p"]["reply_markup"] == {
        "inline_keyboard": [[{"text": "Bỏ qua", "callback_data": "s|q"}]]}
    # a pressed message without text is marked "…" (Telegram refuses an empty text)
    assert tg_render(pressed_event(""), "5001", [Reply("ok")])[0]["p"]["text"] == "…"


def test_a_reply_that_replaces_the_pressed_message_is_an_edit_with_its_keyboard() -> None:
    buttons = [[Button("☑ Zalo", "t|kenh|0")]]
    calls = tg_render(pressed_event(), "5001", [Reply("Các kênh đã dùng", buttons, replace=True)])
    assert calls == [{"m": EDIT, "p": {
        "chat_id": 5001, "message_id": 39, "text": "Các kênh đã dùng",
        "reply_markup": {"inline_keyboard": [[{"text": "☑ Zalo", "callback_data": "t|kenh|0"}]]}}}]


def test_a_long_reply_carries_its_keyboard_on_its_last_part_only() -> None:
    calls = tg_render(None, "5001", [Reply("dòng dài\n" * 1500, [[Button("Gửi", "send|0")]])])
    assert len(calls) >= 2 and all(c["m"] == SEND for c in calls)
    assert ["reply_markup" in c["p"] for c in calls] == [False] * (len(calls) - 1) + [True]


class Refusing:
    """A Bot whose next call fails with `error`, or answers `result`."""

    def __init__(self, error: Exception | None = None, result: Any = True) -> None:
        self.error, self.result = error, result

    async def do_api_request(self, method: str, api_kwargs: dict[str, Any]) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


def transport(error: Exception | None = None, result: Any = True) -> TelegramTransport:
    return TelegramTransport(cast(Bot, Refusing(error, result)))


SEND_CALL = {"m": SEND, "p": {"chat_id": 5001, "text": "Câu 2"}}
EDIT_CALL = {"m": EDIT, "p": {"chat_id": 5001, "message_id": 39, "text": "…"}}


async def test_the_bot_api_answers_are_sorted_for_the_courier() -> None:
    with pytest.raises(Refused):  # 403: blocked, deactivated
        await transport(Forbidden("Forbidden: bot was blocked by the user")).deliver(
            "5001", SEND_CALL)
    with pytest.raises(Refused):  # gone for good, though Telegram says 400
        await transport(BadRequest("Bad Request: chat not found")).deliver("5001", SEND_CALL)
    with pytest.raises(Rejected):  # this message only
        await transport(BadRequest("Bad Request: can't parse entities")).deliver(
            "5001", SEND_CALL)
    with pytest.raises(RetryLater) as wait:
        await transport(RetryAfter(7)).deliver("5001", SEND_CALL)
    assert wait.value.seconds == 7
    with pytest.raises(RetryLater) as wait:
        await transport(RetryAfter(timedelta(seconds=3))).deliver("5001", SEND_CALL)
    assert wait.value.seconds == 3
    with pytest.raises(TimedOut):  # transient: the courier tries again
        await transport(TimedOut()).deliver("5001", SEND_CALL)


async def test_an_edit_refused_is_moot_and_a_sent_message_gives_its_id() -> None:
    assert await transport(BadRequest("Bad Request: message is not modified")).deliver(
        "5001", EDIT_CALL) is None
    assert await transport(result={"message_id": 77, "chat": {"id": 5001}}).deliver(
        "5001", SEND_CALL) == 77
    assert await transport(result={"message_id": 78}).deliver("5001", EDIT_CALL) is None


# --- the inbox: stored before Telegram is told they arrived -------------------------------------


def update(update_id: int, text: str) -> dict[str, Any]:
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": 0, "text": text,
        "chat": {"id": 5001, "type": "private"},
        "from": {"id": 5001, "is_bot": False, "first_name": "Lan"}}}


class Answers(BaseRequest):
    """The Bot API's side: answers every call with `code` and `body`."""

    def __init__(self, code: int, body: dict[str, Any]) -> None:
        self.code, self.body = code, json.dumps(body).encode()

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: ODVInput[float] = DEFAULT_NONE,
                         write_timeout: ODVInput[float] = DEFAULT_NONE,
                         connect_timeout: ODVInput[float] = DEFAULT_NONE,
                         pool_timeout: ODVInput[float] = DEFAULT_NONE) -> tuple[int, bytes]:
        return self.code, self.body


URL = "https://api.telegram.org/bot1:x"


async def test_fetched_updates_are_stored_before_they_are_returned() -> None:
    stored: list[list[tuple[str, str]]] = []

    async def store(rows: list[tuple[str, str]]) -> None:
        stored.append(rows)

    fetched = {"ok": True, "result": [update(8, "12"), update(9, "13")]}
    request = StoringRequest(Answers(200, fetched))
    with pytest.raises(RuntimeError):  # fetched before the inbox was ready: not confirmed
        await request.do_request(f"{URL}/getUpdates", "POST")
    request.store = store
    assert (await request.do_request(f"{URL}/getUpdates", "POST"))[0] == 200
    assert [[(i, json.loads(p)["message"]["text"]) for i, p in rows] for rows in stored] == [
        [("8", "12"), ("9", "13")]]
    await request.do_request(f"{URL}/getMe", "POST")  # other calls are not updates
    await StoringRequest(Answers(409, fetched)).do_request(f"{URL}/getUpdates", "POST")
    assert len(stored) == 1


async def test_a_webhook_update_is_stored_before_it_is_queued() -> None:
    queue = StoringQueue()
    first = Update.de_json(update(8, "12"), None)
    await queue.put(first)  # no store yet (polling mode): just queued
    stored: list[tuple[str, str]] = []

    async def store(rows: list[tuple[str, str]]) -> None:
        if json.loads(rows[0][1])["message"]["text"] == "fail":
            raise RuntimeError("database is locked")
        stored.extend(rows)

    queue.store = store
    second = Update.de_json(update(9, "13"), None)
    await queue.put(second)
    assert [i for i, _ in stored] == ["9"]
    with pytest.raises(RuntimeError):  # the webhook answers 500: Telegram sends it again
        await queue.put(Update.de_json(update(10, "fail"), None))
    assert [queue.get_nowait(), queue.get_nowait()] == [first, second] and queue.empty()


async def test_stored_updates_are_replayed_in_the_order_received() -> None:
    queue: asyncio.Queue[object] = asyncio.Queue()
    application = SimpleNamespace(bot=None, update_queue=queue)
    stored = [(str(i), json.dumps(update(i, f"t{i}"))) for i in (12, 10, 11)]
    assert await replay(cast(Any, application), stored) == 3
    got = [queue.get_nowait() for _ in range(3)]
    assert [u.update_id for u in got if isinstance(u, Update)] == [12, 10, 11]


# --- a start resumes what the last run left; a stop lets the queue go out -----------------------


async def test_a_start_resumes_what_the_last_run_left_and_a_stop_drains(tmp_path: Path) -> None:
    db = tmp_path / "baocao.db"
    storage = await SqliteStorage.open(db)
    units, errors = check_import(read_unit_rows(legacy_units_path()), {})
    assert not errors
    await storage.upsert_units(units)
    await storage.apply(Changes(
        actor=0, inbox=[("telegram", "8", json.dumps(update(8, "13")))],
        reply_marks=[("telegram", "5001", 55)],
        outbox=[Outgoing("telegram", "5001", json.dumps(
            {"m": SEND, "p": {"chat_id": 5001, "text": "✓ Đã lưu: 12 HTX"}}), None, "7")]))
    await storage.claim_reminders(
        [("LC-BX-01", "thu_nghiem", "2026-Q1", "due", "sending", "2026-03-01T00:00:00", 1)],
        "sweep-before-the-crash")
    await storage.close()
    config = Config(storage=StorageConfig(path=db), telegram=TelegramConfig(
        max_per_second=0, max_per_chat_per_second=0, chat_burst=7))
    request = RecordingRequest()
    application = build_application("123456:TEST", "http://127.0.0.1:9/bot", request=request,
                                    get_updates_request=RecordingRequest())
    await application.initialize()
    app = await start_services(application, config, sweep_every=None)
    try:
        courier = app.channels.courier("telegram")
        assert courier is not None and courier.limits == Limits(0, 0, 7)
        assert cast(StoringRequest, application.bot_data[INBOX_KEY]).store is not None
        replayed = application.update_queue.get_nowait()  # handled first
        assert isinstance(replayed, Update) and replayed.update_id == 8
        async with asyncio.timeout(5):
            await courier.delivered_all("5001")  # the reply the crash left undelivered
        assert [p["text"] for m, p in request.calls if m == "sendMessage"] == [
            "✓ Đã lưu: 12 HTX"]
        assert courier.last_reply == {"5001": 55}  # the mark read back (a copy does not move it)
        assert await app.storage.reminder_rows() == []  # back to the planner
        courier.enqueue([Parcel(Outgoing("telegram", "5002", "", None, None, REPLY),
                                {"m": SEND, "p": {"chat_id": 5002, "text": "Câu 2"}}, None)])
        await stop_sweeps(application)  # a stop right after: the queue still goes out
        assert not courier.running
        assert [p["text"] for m, p in request.calls if m == "sendMessage"][-1] == "Câu 2"
        assert await app.storage.reply_marks("telegram") == {"5001": 55, "5002": 1}
        assert await app.storage.pending_outbox("telegram") == []
    finally:
        await stop_services(application)
        await application.shutdown()


# --- answers bound to the reply they follow ------------------------------------------------------


async def numbered_app(tmp_path: Path) -> tuple[Any, Numbered, Courier]:
    app = await make_app(tmp_path, Clock())
    phone = Numbered()

    async def record(settled: list[tuple[int, str]], marks: dict[str, int]) -> None:
        await app.storage.apply(Changes(actor=0, settled=settled, reply_marks=[
            ("test", chat, m) for chat, m in marks.items()]))

    c = Courier("test", phone, render, record=record, unreachable=lambda _: asyncio.sleep(0),
                limits=NO_LIMITS)
    app.channels.register_courier(c)
    c.start()
    return app, phone, c


async def test_text_written_before_the_latest_reply_arrived_is_not_stored(
        tmp_path: Path) -> None:
    """Telegram numbers a chat's messages in one sequence: an answer numbered below our latest
    reply was typed before that reply (the question it asks) reached the officer."""
    app, _, c = await numbered_app(tmp_path)
    chat = await join(app, "U1")
    await first_number_question(chat)
    asked = c.last_reply["U1"]  # "Tổng số HTX" reached the officer as this message
    late = Inbound("test", "U1", "Cán bộ", text="12", event_id="late", message_id=asked - 1)
    replies = await app.reporting.handle(late)
    assert "chưa được lưu" in replies[0].text and "Tổng số HTX" in replies[-1].text
    db = tmp_path / "baocao.db"
    assert rows(db, "SELECT COUNT(*) FROM draft_answers WHERE question_id='htx_tong'") == [(0,)]
    await c.delivered_all("U1")
    seen = Inbound("test", "U1", "Cán bộ", text="12", event_id="seen",
                   message_id=c.last_reply["U1"] + 1)
    assert "✓ Đã lưu: 12 HTX" in (await app.reporting.handle(seen))[0].text
    assert rows(db, "SELECT DISTINCT priority FROM outbox") == [(REPLY,)]  # replies go first
    await c.stop()
    await app.close()


async def test_a_button_press_is_taken_while_a_reply_waits(tmp_path: Path) -> None:
    """A button carries the question it answers: it is never refused as unseen."""
    app, phone, c = await numbered_app(tmp_path)
    chat = await join(app, "U1")
    await chat.cmd("baocao")
    await chat.press_label("Báo cáo quý thử nghiệm")
    fanpage = chat.last
    phone.script = [RetryLater(30)]  # a reminder (or anything) waits for the chat
    c.enqueue([parcel("U1", "🔔 Nhắc", priority=delivery.REMINDER)])
    chat.waits = False
    chat.last = fanpage
    replies = await chat.press_label("Không")
    assert "chưa được lưu" not in replies[0].text and "Tổng số HTX" in chat.text
    db = tmp_path / "baocao.db"
    assert rows(db, "SELECT value FROM draft_answers WHERE question_id='co_fanpage'") == [
        ("false",)]
    await c.stop()
    await app.close()


async def test_a_strangers_message_delivered_twice_is_answered_once(tmp_path: Path) -> None:
    """Replies of events that change nothing else (join help, a join) are stored with the
    event's id too: delivered again, the event is not handled twice."""
    app, _, c = await numbered_app(tmp_path)
    hello = Inbound("test", "U9", "Lan", text="xin chào", event_id="u9-1")
    assert await app.reporting.handle(hello)
    assert await app.reporting.handle(hello) == []
    await c.stop()
    assert rows(tmp_path / "baocao.db", "SELECT COUNT(*) FROM outbox WHERE chat_id='U9'") == [
        (1,)]
    await app.close()


async def test_a_person_who_blocked_the_bot_and_writes_again_is_reachable(
        tmp_path: Path) -> None:
    app, _, c = await numbered_app(tmp_path)
    chat = await join(app, "U1")
    person = await app.storage.find_person("test", "U1")
    assert person is not None
    await app.storage.set_reachable(person.id, False)  # their reminders were refused
    await chat.cmd("baocao")
    assert not await app.storage.is_unreachable(person.id)
    await c.stop()
    await app.close()


async def test_a_reply_refused_for_good_marks_its_person_unreachable(tmp_path: Path) -> None:
    app, phone, c = await numbered_app(tmp_path)
    c._unreachable = lambda person_id: app.storage.set_reachable(person_id, False)
    chat = await join(app, "U1")
    person = await app.storage.find_person("test", "U1")
    assert person is not None
    phone.script = [Refused("Forbidden: bot was blocked by the user")]
    await chat.cmd("baocao")
    await c.flush()
    assert await app.storage.is_unreachable(person.id)
    await c.stop()
    await app.close()


# --- a figure repeating the previous answer: which repeats are doubted ---------------------------


async def at_new_htx(tmp_path: Path, clock: Clock | None = None) -> tuple[Any, Chat]:
    app = await make_app(tmp_path, clock or Clock())
    chat = await join(app, "U1")
    await first_number_question(chat)
    await chat.say("12")
    assert "Số HTX mới" in chat.text
    return app, chat


def stored(tmp_path: Path, question: str) -> list[tuple[Any, ...]]:
    return rows(tmp_path / "baocao.db",
                f"SELECT value FROM draft_answers WHERE question_id='{question}'")


async def test_a_repeat_minutes_later_is_stored_at_once(tmp_path: Path) -> None:
    """The doubt is for a retype right after a reply went missing, not for a figure that
    happens to be the same after a pause."""
    clock = Clock()
    app, chat = await at_new_htx(tmp_path, clock)
    clock.now += timedelta(minutes=10)
    await chat.say("12")
    assert "✓ Đã lưu: 12 HTX" in chat.text and stored(tmp_path, "htx_moi") == [("12",)]
    await app.close()


async def test_changing_an_answered_question_to_an_earlier_figure_is_not_doubted(
        tmp_path: Path) -> None:
    app, chat = await at_new_htx(tmp_path)
    await chat.say("3")
    await chat.say("quay lại")  # back to "Số HTX mới", answered 3
    assert "Số HTX mới" in chat.text
    await chat.say("12")
    assert "✓ Đã lưu: 12 HTX" in chat.text and stored(tmp_path, "htx_moi") == [("12",)]
    await app.close()


async def test_a_figure_a_colleague_gave_earlier_is_not_doubted(tmp_path: Path) -> None:
    """Only this officer's own previous answer can be a retype of it."""
    app = await make_app(tmp_path, Clock())
    lan = await join(app, "U1")
    await first_number_question(lan)
    await lan.say("12")
    minh = await join(app, "U2")
    await minh.cmd("baocao")
    await minh.press_label("Báo cáo quý thử nghiệm")  # Lan's draft, at its next question
    assert "Số HTX mới" in minh.text, minh.text
    await minh.say("12")
    assert "✓ Đã lưu: 12 HTX" in minh.text and stored(tmp_path, "htx_moi") == [("12",)]
    await app.close()


async def test_a_second_doubt_is_its_own(tmp_path: Path) -> None:
    """A different repeat after a doubt is doubted in turn; only the button confirms."""
    app, chat = await at_new_htx(tmp_path)
    await chat.say("3")  # "Tỉ lệ" now; answers so far: 12, 3
    await chat.say("12")
    assert "giống hệt" in chat.text and stored(tmp_path, "ty_le") == []
    await chat.say("3")
    assert "giống hệt" in chat.text and stored(tmp_path, "ty_le") == []
    await chat.say("3")  # typed again: still a doubt (a retype looks the same)
    assert "giống hệt" in chat.text and stored(tmp_path, "ty_le") == []
    await chat.press_label("✓ Lưu")
    assert stored(tmp_path, "ty_le") == [("3.0",)]
    await app.close()


# --- storage of delivery ------------------------------------------------------------------------


async def test_an_update_fetched_again_keeps_its_place_in_the_inbox(
        storage: SqliteStorage) -> None:
    """getUpdates returns what was not confirmed again: the copy changes nothing."""
    await storage.apply(Changes(actor=0, inbox=[("telegram", "5", '{"n": 5}'),
                                                ("telegram", "3", '{"n": 3}')]))
    await storage.apply(Changes(actor=0, inbox=[("telegram", "5", '{"n": 5, "again": 1}')]))
    assert await storage.unhandled_inbox("telegram") == [("5", '{"n": 5}'), ("3", '{"n": 3}')]


async def test_outcomes_and_reply_marks_are_recorded_as_they_are(
        storage: SqliteStorage, db_path: Path) -> None:
    sent = Changes(actor=0, outbox=[Outgoing("telegram", "A", "{}") for _ in range(3)])
    await storage.apply(sent)
    a, b, c = sent.outbox_ids
    await storage.apply(Changes(actor=0, settled=[(a, "sent"), (b, "unreachable"), (c, "failed")],
                                reply_marks=[("telegram", "A", 55)]))
    await storage.apply(Changes(actor=0, reply_marks=[("telegram", "A", 40)]))  # a late write
    assert rows(db_path, "SELECT id, state FROM outbox ORDER BY id") == [
        (a, "sent"), (b, "unreachable"), (c, "failed")]
    assert await storage.reply_marks("telegram") == {"A": 55}


# --- colleagues of one unit ---------------------------------------------------------------------


async def test_a_colleague_retyping_the_same_figure_tells_nobody_and_takes_the_answer(
        tmp_path: Path) -> None:
    """The same value again replaces nothing: no notice. A different one is recorded as the
    colleague's answer, so the next replacement tells the right officer."""
    app = await make_app(tmp_path, Clock())
    lan = await officer(app, "lan", "Lan")
    minh = await officer(app, "minh", "Minh")
    await lan.press(REPORT)
    for text in ANSWERS:
        await lan.say(text)
    await minh.press(REPORT)
    await minh.press_label("Sửa câu")
    await minh.press_label("Câu 2")
    await minh.say("11")  # Lan's 11, typed again
    await lan.cmd("trangthai")
    assert "ℹ" not in lan.text
    await minh.press_label("Sửa câu")
    await minh.press_label("Câu 2")
    await minh.say("20")  # now Minh's
    assert rows(tmp_path / "baocao.db", "SELECT p.display_name FROM draft_answers a JOIN"
                " people p ON p.id = a.answered_by WHERE a.question_id='htx_tong'") == [("Minh",)]
    await lan.press(REPORT)
    await lan.press_label("Sửa câu")
    await lan.press_label("Câu 2")
    await lan.say("30")  # replaces Minh's 20: Minh is told, not Lan
    await minh.cmd("trangthai")
    assert "20 HTX → 30 HTX" in minh.text
    await app.close()


def test_a_notice_above_an_edited_message_is_a_message_of_its_own() -> None:
    """An edited message is not read again: the notice would go unseen inside it."""
    told = Notice("k", 1, "ℹ Đ/c Minh đã sửa câu 2")
    toggled = Reply("Các kênh đã dùng", replace=True)
    assert shown_with([toggled], [told]) == [Reply("ℹ Đ/c Minh đã sửa câu 2"), toggled]
    assert shown_with([Reply("Câu 3")], [told]) == [Reply("ℹ Đ/c Minh đã sửa câu 2\n\nCâu 3")]


def test_a_send_button_missing_a_field_it_needs_is_not_ours() -> None:
    assert unpack("send|0|thu_nghiem|2026-Q1") == SendReport(0, "thu_nghiem", "2026-Q1")
    assert unpack("send|0|thu_nghiem") is None  # no period: forged or damaged


async def test_in_webhook_mode_an_update_is_stored_before_the_webhook_answers(
        tmp_path: Path) -> None:
    config = Config(storage=StorageConfig(path=tmp_path / "baocao.db"), telegram=TelegramConfig(
        mode="webhook", webhook_url="https://bot.example.vn/telegram",
        webhook_secret=SecretStr("s3cret-s3cret")))
    application = build_application("123456:TEST", "http://127.0.0.1:9/bot",
                                    request=RecordingRequest(),
                                    get_updates_request=RecordingRequest())
    await application.initialize()
    app = await start_services(application, config, sweep_every=None)
    try:
        queue = application.update_queue
        assert isinstance(queue, StoringQueue) and queue.store is not None
        await queue.put(Update.de_json(update(8, "12"), None))
        assert await app.storage.unhandled_inbox("telegram") == [
            ("8", Update.de_json(update(8, "12"), None).to_json())]
    finally:
        await stop_services(application)
        await application.shutdown()


async def test_typing_on_the_summary_while_a_message_waits_shows_the_summary_again(
        tmp_path: Path) -> None:
    app, phone, c = await numbered_app(tmp_path)
    lan = await officer(app, "lan", "Lan")
    await lan.press(REPORT)
    for text in ANSWERS:
        await lan.say(text)
    assert "📋 Tóm tắt" in lan.text
    phone.script = [RetryLater(30)]
    c.enqueue([parcel("lan", "🔔 Nhắc", priority=delivery.REMINDER)])  # not delivered yet
    lan.waits = False
    replies = await lan.say("gửi")
    assert "chưa được lưu" in replies[0].text and "📋 Tóm tắt" in replies[1].text
    assert rows(tmp_path / "baocao.db", "SELECT COUNT(*) FROM submissions") == [(0,)]
    await c.stop()
    await app.close()
