"""Tests written by the second mutation review of issue 15's delivery of broadcasts: each one
kills a change to the code that the earlier tests let through (named in its docstring)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bench.broadcast_rows import Recipient, write_broadcast, write_people
from bot.app import App
from bot.domain import messages_vi as M
from bot.domain.broadcasts import Audience, BroadcastDraft, BroadcastStatus
from bot.domain.buttons import AckBroadcast, BroadcastAction, Compose
from bot.domain.conversation import Mode
from bot.domain.roles import Role
from bot.domain.send_time import SendTimeError, parse_send_time
from bot.services import broadcast_pump, delivery
from bot.services.broadcast_pump import BroadcastPump
from bot.services.channels import Pressed
from bot.services.delivery import (
    REMINDER,
    REPLY,
    Courier,
    Limits,
    Parcel,
    Payload,
    RetryLater,
    backoff,
)
from bot.services.reporting.broadcast_chat import BroadcastProgress
from storage.models import Changes, Outgoing, Stored
from storage.sqlite import SqliteStorage
from tests.harness import Chat, Clock, Messenger, _render, deliver_through, join, make_app

VN = timezone(timedelta(hours=7))
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=VN)  # 10:00 on 07/12/2026 in Vietnam


# --- typed send times (bot/domain/send_time.py) -------------------------------------------------


@pytest.mark.parametrize(("typed", "expected"), [
    ("17:30", datetime(2026, 12, 7, 17, 30, tzinfo=VN)),  # later today
    ("17h30", datetime(2026, 12, 7, 17, 30, tzinfo=VN)),
    ("17g30", datetime(2026, 12, 7, 17, 30, tzinfo=VN)),
    ("7h", datetime(2026, 12, 8, 7, 0, tzinfo=VN)),  # passed today: tomorrow
    ("10:00", datetime(2026, 12, 8, 10, 0, tzinfo=VN)),  # exactly now: tomorrow, not now
    ("10:01", datetime(2026, 12, 7, 10, 1, tzinfo=VN)),  # a minute ahead: today
    ("luc 17:30", datetime(2026, 12, 7, 17, 30, tzinfo=VN)),
    ("07:30 08/12", datetime(2026, 12, 8, 7, 30, tzinfo=VN)),  # day then month
    ("07:30 ngay 08/12", datetime(2026, 12, 8, 7, 30, tzinfo=VN)),
    ("08/12/2026 07:30", datetime(2026, 12, 8, 7, 30, tzinfo=VN)),
    ("08/12 luc 7h", datetime(2026, 12, 8, 7, 0, tzinfo=VN)),
    ("07:30 05/01", datetime(2027, 1, 5, 7, 30, tzinfo=VN)),  # January typed in December
    ("10:00 05/02/2027", datetime(2027, 2, 5, 10, 0, tzinfo=VN)),  # exactly 60 days
])
def test_typed_times_name_the_right_moment(typed: str, expected: datetime) -> None:
    """Kills: day and month swapped, the minute dropped, "lúc" not removed, a time equal to
    now taken for today, next year never or always, an hour's shift."""
    got = parse_send_time(typed, NOW)
    assert got == expected and got.utcoffset() == timedelta(hours=7)


@pytest.mark.parametrize(("typed", "why"), [
    ("24:00", M.BC_TIME_UNREAD), ("17:60", M.BC_TIME_UNREAD), ("gui ngay", M.BC_TIME_UNREAD),
    ("07:30 31/02", M.BC_TIME_UNREAD), ("07:30 13/12", None),
    ("09:59 07/12", M.BC_TIME_PAST), ("10:00 07/12", M.BC_TIME_PAST),
    ("07:30 20/11", M.BC_TIME_PAST),  # a fortnight ago: this year's, past (not next year's)
    ("07:30 06/11/2026", M.BC_TIME_PAST),
    ("10:01 05/02/2027", M.BC_TIME_FAR), ("07:30 08/12/2027", M.BC_TIME_FAR),
])
def test_bad_times_are_refused_with_the_reason(typed: str, why: str | None) -> None:
    """Kills: 24:00 or :60 accepted (or crashing), the past or beyond 60 days accepted."""
    if why is None:  # a valid control next to the refusals
        assert parse_send_time(typed, NOW) == datetime(2026, 12, 13, 7, 30, tzinfo=VN)
        return
    with pytest.raises(SendTimeError) as e:
        parse_send_time(typed, NOW)
    assert str(e.value) == why


# --- claiming, releasing, pruning (storage/sqlite.py) --------------------------------------------


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[SqliteStorage]:
    s = await SqliteStorage.open(tmp_path / "baocao.db")
    yield s
    await s.close()


async def outbox_states(storage: SqliteStorage) -> list[tuple[int, str, str]]:
    rows = await storage.db.fetchall("SELECT id, channel, state FROM outbox ORDER BY id")
    return [(r["id"], r["channel"], r["state"]) for r in rows]


async def test_claims_take_the_oldest_rows_of_the_channel_asked_only(
        storage: SqliteStorage) -> None:
    """Kills: a claim that takes another channel's rows (a Zalo recipient's message sent
    through Telegram), or the newest rows first (a resumed broadcast would starve its oldest
    recipients)."""
    tg: list[Recipient] = [(i, str(100 + i)) for i in range(1, 5)]
    zl: list[Recipient] = [(i, str(200 + i)) for i in range(5, 8)]
    await storage.db.write(lambda conn: write_people(conn, tg))
    await storage.db.write(lambda conn: write_people(conn, zl, channel="zalo"))
    await storage.db.write(lambda conn: write_broadcast(conn, zl, "Zalo trước", channel="zalo"))
    await storage.db.write(lambda conn: write_broadcast(conn, tg, "Telegram"))
    before = await outbox_states(storage)
    tg_ids = [i for i, ch, _ in before if ch == "telegram"]
    zl_ids = [i for i, ch, _ in before if ch == "zalo"]
    got = await storage.claim_broadcast_rows("telegram", 2)
    assert [r.id for r in got] == tg_ids[:2]  # the two oldest of Telegram's, not Zalo's
    assert all(r.message.channel == "telegram" for r in got)
    got = await storage.claim_broadcast_rows("telegram", 10)
    assert [r.id for r in got] == tg_ids[2:]
    assert await storage.claim_broadcast_rows("telegram", 10) == []
    after = {i: st for i, _, st in await outbox_states(storage)}
    assert [after[i] for i in zl_ids] == ["pending"] * 3  # untouched
    assert [r.id for r in await storage.claim_broadcast_rows("zalo", 10)] == zl_ids


async def test_pruning_keeps_claimed_broadcast_rows(storage: SqliteStorage) -> None:
    """Kills: prune_delivery deleting 'sending' rows (claimed by a sender that then stopped:
    deleted, they would never be released and those recipients never reached)."""
    people: list[Recipient] = [(1, "101"), (2, "102"), (3, "103")]
    await storage.db.write(lambda conn: write_people(conn, people))
    await storage.db.write(lambda conn: write_broadcast(conn, people, "Họp"))
    claimed = await storage.claim_broadcast_rows("telegram", 2)
    await storage.apply(Changes(actor=0, settled=[(claimed[0].id, "sent")]))
    pruned = await storage.prune_delivery(datetime.now(UTC) + timedelta(days=1))
    assert pruned["outbox"] == 1  # the sent one only
    assert [st for _, _, st in await outbox_states(storage)] == ["sending", "pending"]
    assert await storage.release_claimed_broadcast_rows() == 1
    assert [st for _, _, st in await outbox_states(storage)] == ["pending", "pending"]


async def test_a_blocked_person_loses_only_their_broadcast_rows(storage: SqliteStorage) -> None:
    """Kills: marking a blocked person's pending replies unreachable with their broadcasts
    (replies are the courier's, settled by the 403 itself; a reply row read back after a
    restart must still be tried: the person may have unblocked the bot)."""
    people: list[Recipient] = [(1, "101"), (2, "102")]
    await storage.db.write(lambda conn: write_people(conn, people))
    await storage.db.write(lambda conn: write_broadcast(conn, people, "Họp"))
    reply = Changes(actor=1, outbox=[Outgoing("telegram", "101", "{}", 1)])
    await storage.apply(reply)
    await storage.set_reachable(1, False)
    states = {i: st for i, _, st in await outbox_states(storage)}
    assert states[reply.outbox_ids[0]] == "pending"
    assert sorted(states.values()) == ["pending", "pending", "unreachable"]
    assert [r.id for r in await storage.pending_outbox("telegram")] == reply.outbox_ids


# --- the chat side (bot/services/reporting/broadcast_chat.py, handlers/lifecycle.py) --------------


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    app = await make_app(tmp_path, Clock())  # 10:00 on 20/02/2026 in Vietnam
    app.broadcasts._renderers = {"test": _render}  # the harness's channel, text only
    yield app
    await app.close()


async def count_broadcasts(app: App) -> int:
    row = await app.storage.db.fetchone("SELECT COUNT(*) AS n FROM broadcasts")
    assert row is not None
    return int(row["n"])


async def state(app: App, chat: Chat) -> Mode:
    person = await app.storage.find_person("test", chat.user_id)
    assert person is not None
    stored = app.reporting._states.get(person.id)
    return stored.mode if stored is not None else Mode.IDLE


def labels(chat: Chat) -> str:
    return " | ".join(b.label for r in chat.last for b in r.flat_buttons())


async def compose(admin: Chat, text: str = "Họp giao ban lúc 8h thứ Hai.") -> None:
    await admin.cmd("thongbao")
    await admin.press_label("Tiếp")
    await admin.say(text)


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll (the condition, not a duration, is what the test asserts)."""
    for _ in range(2000):
        if await check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never: {what}")


async def test_the_running_sender_starts_a_scheduled_one_and_reports_the_end(
        app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    """Kills: `baocao run` (handlers/lifecycle.py) wiring the pump without the chat's ticks:
    a scheduled announcement never started, no final report to its sender."""
    from handlers.lifecycle import start_broadcasts
    monkeypatch.setattr(broadcast_pump, "FEED_EVERY", 0.02)
    monkeypatch.setattr(broadcast_pump, "POLL_EVERY", 0.05)
    messenger = Messenger()
    courier = await deliver_through(app, messenger)
    admin = await join(app, "admin", "LC", Role.ADMIN)
    await join(app, "o1", "LC-BX-01")
    await compose(admin)
    await admin.press_label("Hẹn giờ")
    await admin.say("17:30")
    await admin.press_label("Xem trước")
    await admin.press_label("✅ Gửi")
    assert "Đã hẹn gửi thông báo #1" in admin.text
    clock = app.reporting.clock
    assert isinstance(clock, Clock)
    pump = await start_broadcasts(app, clock)
    try:
        assert (await app.broadcasts.status(1)).state == "scheduled"
        assert not any("Họp giao ban" in t for t in messenger.texts("o1"))
        clock.now += timedelta(hours=8)  # 18:00 local
        await until(lambda: _done(app), "the announcement sent and closed")
        await until(lambda: _has(messenger, "admin", "đã gửi xong: 2/2"), "the final report")
    finally:
        await pump.stop()
        await courier.stop()
    assert sum("Họp giao ban" in t for t in messenger.texts("o1")) == 1
    assert sum("đã gửi xong: 2/2" in t for t in messenger.texts("admin")) == 1


async def _done(app: App) -> bool:
    return (await app.broadcasts.status(1)).state == "done"


async def _has(messenger: Messenger, chat: str, text: str) -> bool:
    return any(text in t for t in messenger.texts(chat))


# --- the courier and the pump (bot/services/delivery.py, broadcast_pump.py) ---------------------


class Flaky:
    """A messenger that answers the first `refusals` calls to each chat with 429
    (retry_after 0) or a transient failure, then accepts; what it accepted, per chat."""

    def __init__(self, refusals: int, transient: bool = False) -> None:
        self.refusals = refusals
        self.transient = transient
        self.calls: dict[str, int] = {}
        self.got: dict[str, list[str]] = {}
        self.order: list[str] = []  # chats, in the order accepted

    async def deliver(self, chat_id: str, payload: Payload) -> int | None:
        n = self.calls[chat_id] = self.calls.get(chat_id, 0) + 1
        if n <= self.refusals:
            if self.transient:
                raise ConnectionError("network down")
            raise RetryLater(0.0)
        self.got.setdefault(chat_id, []).append(str(payload))
        self.order.append(chat_id)
        return None


UNLIMITED = Limits(0, 0)


def a_courier(storage: SqliteStorage, transport: object, limits: Limits = UNLIMITED
              ) -> Courier:
    async def record(settled: list[tuple[int, str]], marks: dict[str, int]) -> None:
        await storage.apply(Changes(actor=0, settled=settled))

    async def unreachable(person_id: int) -> None:
        await storage.set_reachable(person_id, False)

    return Courier("telegram", transport, lambda e, c, r: [], record=record,  # type: ignore[arg-type]
                   unreachable=unreachable, limits=limits)


async def broadcast_states(storage: SqliteStorage) -> list[str]:
    return [st for _, _, st in await outbox_states(storage)]


async def test_a_broadcast_row_is_never_given_up_on_429s_or_transient_failures(
        storage: SqliteStorage, monkeypatch: pytest.MonkeyPatch) -> None:
    """Kills: a stored broadcast row settled 'failed' after `push_attempts` 429s or transient
    failures, as a reminder push is (its recipient would silently never get it)."""
    monkeypatch.setattr(delivery, "backoff", lambda attempts: 0.0)  # the count matters here
    people: list[Recipient] = [(1, "101"), (2, "102")]
    await storage.db.write(lambda conn: write_people(conn, people))
    await storage.db.write(lambda conn: write_broadcast(conn, people, "Họp"))
    for transport in (Flaky(6), Flaky(6, transient=True)):
        await storage.db.write(lambda conn: conn.execute("UPDATE outbox SET state='pending'"))
        c = a_courier(storage, transport)
        c._push_attempts = 2
        c.start()
        c.enqueue(c.stored(await storage.claim_broadcast_rows("telegram", 10), broadcast=True))
        await c.delivered_all("101")
        await c.delivered_all("102")
        assert c.broadcasts_queued == 0  # the pump's gauge back at zero (before the stop)
        await c.stop()
        assert await broadcast_states(storage) == ["sent", "sent"]
        assert transport.calls == {"101": 7, "102": 7}
        assert {k: len(v) for k, v in transport.got.items()} == {"101": 1, "102": 1}


def test_transient_failures_wait_longer_each_time() -> None:
    """Kills: no pause between tries of a transient failure (a messenger down would be
    hammered)."""
    assert [backoff(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff(30) == 60.0


async def test_the_pump_claims_a_few_seconds_worth_at_a_time(storage: SqliteStorage) -> None:
    """Kills: the pump claiming every row at once (10,000 parcels in memory; a cancel that
    cannot stop them), ignoring its low-water mark, or claiming one at a time."""
    people: list[Recipient] = [(i, str(100 + i)) for i in range(1, 61)]
    await storage.db.write(lambda conn: write_people(conn, people))
    await storage.db.write(lambda conn: write_broadcast(conn, people, "Họp"))
    c = a_courier(storage, Flaky(0), Limits(per_second=5, per_chat_per_second=0))
    pump = BroadcastPump(storage, [c], lambda: datetime(2026, 6, 1, tzinfo=UTC))
    # not started: nothing drains, the gauge only grows
    assert await pump.feed() == int(broadcast_pump.CHUNK * 5)
    assert c.broadcasts_queued == 20
    assert await pump.feed() == 0  # above the low-water mark (10): nothing more
    assert (await broadcast_states(storage)).count("sending") == 20
    await c.stop()  # what it held stays 'sending' (released at the next start) …
    assert c.broadcasts_queued == 0  # … and a gauge left high would starve it after
    assert await storage.release_claimed_broadcast_rows() == 20


async def test_a_broadcast_row_is_recorded_at_once(
        storage: SqliteStorage, monkeypatch: pytest.MonkeyPatch) -> None:
    """Kills: a delivered broadcast row waiting RECORD_AFTER like a reply (each wait widens
    the window in which a crash sends it twice)."""
    monkeypatch.setattr(delivery, "RECORD_AFTER", 3600.0)  # a reply's wait: never, here
    people: list[Recipient] = [(1, "101")]
    await storage.db.write(lambda conn: write_people(conn, people))
    await storage.db.write(lambda conn: write_broadcast(conn, people, "Họp"))
    c = a_courier(storage, Flaky(0))
    c.start()
    try:
        c.enqueue(c.stored(await storage.claim_broadcast_rows("telegram", 10), broadcast=True))
        await until(lambda: _states_are(storage, ["sent"]), "recorded without the wait")
    finally:
        await c.stop()


async def _states_are(storage: SqliteStorage, expected: list[str]) -> bool:
    return await broadcast_states(storage) == expected


def test_the_overall_limiter_keeps_a_little_under_the_messengers_rate() -> None:
    """Kills: the channel's limiter at 100 % (or more) of the messenger's 30/s: network jitter
    then bunches calls over Telegram's window and draws 429s (bench/broadcast.py)."""
    async def noop(*args: object) -> None:
        return None

    c = Courier("telegram", Flaky(0), lambda e, ch, r: [], record=noop, unreachable=noop,
                limits=Limits())
    limiter = c._overall
    assert limiter is not None
    rate = limiter.max_rate / limiter.time_period
    assert 0.95 * 30 <= rate < 30
    assert limiter.max_rate == 30  # the burst Telegram allows (replies to 50 at once)


async def test_rows_claimed_by_a_run_that_died_go_out_after_the_next_start(
        app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    """Kills: `baocao run` (handlers/lifecycle.py) starting the pump without releasing the
    rows a killed run had claimed: they would stay 'sending' for ever, never delivered."""
    from handlers.lifecycle import start_broadcasts
    monkeypatch.setattr(broadcast_pump, "FEED_EVERY", 0.02)
    monkeypatch.setattr(broadcast_pump, "POLL_EVERY", 0.05)
    admin = await join(app, "admin", "LC", Role.ADMIN)
    for i in range(3):
        await join(app, f"o{i}", "LC-BX-01")
    await compose(admin)
    await admin.press_label("Xem trước")
    await admin.press_label("✅ Gửi")
    stranded = await app.storage.claim_broadcast_rows("test", 2)  # the run that died
    assert len(stranded) == 2
    messenger = Messenger()
    courier = await deliver_through(app, messenger)
    clock = app.reporting.clock
    assert isinstance(clock, Clock)
    pump = await start_broadcasts(app, clock)
    try:
        await until(lambda: _done(app), "every row delivered and the announcement closed")
    finally:
        await pump.stop()
        await courier.stop()
    for uid in ("o0", "o1", "o2", "admin"):
        assert sum("Họp giao ban" in t for t in messenger.texts(uid)) == 1, uid


async def test_progress_is_edited_when_due_and_changed_only(app: App) -> None:
    """Kills: progress edits never sent, sent at every tick (not at most every 5 s), or sent
    again with the same figures; the final figures not put in the progress message."""
    messenger = Messenger()
    courier = await deliver_through(app, messenger)
    admin = await join(app, "admin", "LC", Role.ADMIN)
    for i in range(3):
        await join(app, f"o{i}", "LC-BX-01")
    await compose(admin)
    await admin.press_label("Xem trước")
    await admin.press_label("✅ Gửi")
    progress = BroadcastProgress(app)
    now = app.reporting.clock()

    async def progress_texts() -> list[str]:
        await courier.delivered_all("admin")
        return [t for t in messenger.texts("admin") if "Thông báo #1" in t]

    async def deliver(n: int) -> None:
        rows = await app.storage.claim_broadcast_rows("test", n)
        courier.enqueue(courier.stored(rows, broadcast=True))
        for r in rows:
            await courier.delivered_all(r.message.chat_id)
        await courier.flush()

    assert (await progress_texts()) == ["⏳ Thông báo #1: đang gửi 0/4"]  # the reply to "Gửi"
    # the harness's presses carry no message id: give the pressed message one to edit
    await app.storage.db.write(lambda conn: conn.execute(
        "UPDATE broadcasts SET progress_message=77 WHERE id=1"))
    await progress.tick(now)  # the first edit (same figures as the reply)
    assert len(await progress_texts()) == 2
    await deliver(1)
    await progress.tick(now + timedelta(seconds=1))  # changed, but within 5 s: not yet
    assert len(await progress_texts()) == 2
    await progress.tick(now + timedelta(seconds=6))
    assert (await progress_texts())[2:] == ["⏳ Thông báo #1: đang gửi 1/4"]
    await progress.tick(now + timedelta(seconds=12))  # due, but nothing changed
    assert len(await progress_texts()) == 3
    await deliver(10)
    await progress.tick(now + timedelta(seconds=13))
    finals = [t for t in await progress_texts() if "đã gửi xong: 4/4" in t]
    assert len(finals) == 2  # the progress message edited, and a new message that notifies
    await progress.tick(now + timedelta(seconds=30))
    assert len([t for t in await progress_texts() if "đã gửi xong" in t]) == 2


async def test_one_final_report_failing_does_not_stop_the_others(
        app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    """Kills: an error writing one final report escaping the loop (the other announcements
    finished at the same tick never reported, and no progress edited)."""
    messenger = Messenger()
    courier = await deliver_through(app, messenger)
    admin = await join(app, "admin", "LC", Role.ADMIN)
    await join(app, "o1", "LC-BX-01")
    for text in ("Một", "Hai"):
        await compose(admin, text)
        await admin.press_label("Xem trước")
        await admin.press_label("✅ Gửi")
    progress = BroadcastProgress(app)
    original = progress._final
    tried: list[int] = []

    async def final(status: BroadcastStatus) -> None:
        tried.append(status.id)
        if status.id == 1:
            raise sqlite3.OperationalError("database is locked")
        await original(status)

    monkeypatch.setattr(progress, "_final", final)
    courier.enqueue(courier.stored(await app.storage.claim_broadcast_rows("test", 10),
                                   broadcast=True))
    await courier.delivered_all("o1")
    await courier.delivered_all("admin")
    await courier.flush()
    await progress.tick(app.reporting.clock())
    await courier.delivered_all("admin")
    assert sorted(tried) == [1, 2]
    assert any("Thông báo #2 đã gửi xong" in t for t in messenger.texts("admin"))


async def test_no_send_button_for_an_audience_of_nobody(app: App) -> None:
    """Kills: "✅ Gửi" offered on a preview that reaches nobody."""
    admin = await join(app, "admin", "LC", Role.ADMIN)
    await join(app, "o1", "LC-BX-01")
    await admin.cmd("thongbao")
    await admin.press_label("Chọn vai trò")
    await admin.press_label("Cán bộ theo dõi")  # nobody supervises here
    await admin.press_label("Tiếp")
    await admin.say("Họp.")
    await admin.press_label("Xem trước")
    assert M.BC_NOBODY in admin.text
    assert "✅ Gửi" not in labels(admin)
    await admin.say("gui")  # typed, as on Zalo: not a button here
    assert await count_broadcasts(app) == 0


async def test_the_quiet_hours_warning_follows_the_chosen_time_and_urgency(app: App) -> None:
    """Kills: the warning judged on the time now (10:00) instead of the time chosen, or shown
    for an urgent announcement (which goes in the quiet hours)."""
    admin = await join(app, "admin", "LC", Role.ADMIN)
    await join(app, "o1", "LC-BX-01")
    await compose(admin)
    await admin.press_label("Xem trước")
    assert "Đang giờ nghỉ" not in admin.text  # 10:00 now
    await admin.press_label("Sửa")
    await admin.press_label("Hẹn giờ")
    await admin.say("22:00")
    await admin.press_label("Xem trước")
    assert "Đang giờ nghỉ" in admin.text and "lúc 22:00 ngày 20/02/2026" in admin.text
    await admin.press_label("Sửa")
    await admin.press_label("Khẩn")
    await admin.press_label("Xem trước")
    assert "Đang giờ nghỉ" not in admin.text and "khẩn: gửi cả giờ nghỉ" in admin.text


async def test_a_text_too_long_is_refused_and_asked_again(app: App) -> None:
    """Kills: a text over MAX_TEXT characters taken."""
    admin = await join(app, "admin", "LC", Role.ADMIN)
    await admin.cmd("thongbao")
    await admin.press_label("Tiếp")
    await admin.say("a" * 10_001)
    assert "dài 10.001 ký tự, quá 10.000" in admin.text and "Bước 2/3" in admin.text
    await admin.say("a" * 10_000)
    assert "Bước 3/3" in admin.text


async def test_typing_da_nhan_as_the_text_of_an_announcement(app: App) -> None:
    """Kills: "đã nhận" typed by someone composing taken as a confirmation (of an
    announcement they received) instead of the text they are asked for."""
    admin = await join(app, "admin", "LC", Role.ADMIN)
    sender = await app.storage.find_person("test", "admin")
    assert sender is not None
    bid = await app.broadcasts.create(BroadcastDraft(Audience(), "Họp", ack=True), sender)
    await admin.cmd("thongbao")
    await admin.press_label("Tiếp")
    await admin.say("Đã nhận")
    assert "Bước 3/3" in admin.text and "«Đã nhận»" in admin.text
    assert (await app.broadcasts.status(bid)).acknowledged == 0


async def test_buttons_pressed_out_of_step_change_nothing(app: App) -> None:
    """Kills: "✅ Gửi" taken before the preview was shown (at the options), and a toggle of
    the options taken from the preview (the preview read would no longer be what goes)."""
    admin = await join(app, "admin", "LC", Role.ADMIN)
    await join(app, "o1", "LC-BX-01")
    await compose(admin)
    assert "Bước 3/3" in admin.text
    await admin.press(Compose("go").pack())  # an old preview's button, at the options
    assert M.STALE in admin.text and "Bước 3/3" in admin.text
    assert await count_broadcasts(app) == 0
    await admin.press_label("Xem trước")
    await admin.press(Compose("ak").pack())  # an old options screen's button, on the preview
    assert M.STALE in admin.text and "Xem trước thông báo" in admin.text
    assert "có nút «✅ Đã nhận»" not in admin.text
    await admin.press_label("✅ Gửi")
    row = await app.broadcasts.get(1)
    assert row is not None and not row.ack


async def test_urgent_and_confirmation_reach_the_announcement(app: App) -> None:
    """Kills: the options chosen in chat lost when the announcement is created."""
    admin = await join(app, "admin", "LC", Role.ADMIN)
    await join(app, "o1", "LC-BX-01")
    await compose(admin)
    await admin.press_label("Khẩn")
    await admin.press_label("Yêu cầu xác nhận")
    await admin.press_label("Xem trước")
    await admin.press_label("✅ Gửi")
    row = await app.broadcasts.get(1)
    assert row is not None and row.urgent and row.ack


async def test_a_started_announcement_is_not_said_cancelled(app: App) -> None:
    """Kills: "Đã hủy" said for an announcement already being sent (it is not cancelled)."""
    admin = await join(app, "admin", "LC", Role.ADMIN)
    await join(app, "o1", "LC-BX-01")
    await compose(admin)
    await admin.press_label("Xem trước")
    await admin.press_label("✅ Gửi")
    await admin.press(BroadcastAction("cancel", 1).pack())
    assert M.BC_CANNOT_CANCEL in admin.text
    assert (await app.broadcasts.status(1)).state == "sending"


async def test_no_follow_up_for_an_announcement_without_confirmation(app: App) -> None:
    """Kills: "send again to those who have not confirmed" taken for an announcement that
    asked nobody to confirm (everyone would count as unconfirmed and get it again)."""
    admin = await join(app, "admin", "LC", Role.ADMIN)
    await join(app, "o1", "LC-BX-01")
    await compose(admin)
    await admin.press_label("Xem trước")
    await admin.press_label("✅ Gửi")
    await admin.press(BroadcastAction("again", 1).pack())
    assert "đều đã xác nhận" in admin.text
    assert await state(app, admin) is not Mode.BROADCAST


async def test_a_former_admin_cannot_work_their_old_announcements(app: App) -> None:
    """Kills: the status buttons (cancel, follow up) left to someone no longer allowed to
    broadcast."""
    admin = await join(app, "admin", "LC", Role.ADMIN)
    await join(app, "o1", "LC-BX-01")
    await compose(admin)
    await admin.press_label("Hẹn giờ")
    await admin.say("17:30")
    await admin.press_label("Xem trước")
    await admin.press_label("✅ Gửi")
    person = await app.storage.find_person("test", "admin")
    assert person is not None
    await app.storage.set_member_role(person.id, "LC", Role.OFFICER, "test")
    await admin.press(BroadcastAction("cancel", 1).pack())
    assert M.BC_NOT_ALLOWED in admin.text
    assert (await app.broadcasts.status(1)).state == "scheduled"


async def test_units_outside_the_reach_cannot_be_browsed(app: App) -> None:
    """Kills: an admin of one subtree opening another's units by a forged button."""
    admin = await join(app, "bxadmin", "LC-BX", Role.ADMIN)
    await admin.cmd("thongbao")
    await admin.press(Compose("u", "LC-SP").pack())
    assert M.STALE in admin.text
    assert "Bước 1/3" in admin.text


async def test_without_edits_the_progress_message_is_left_alone(app: App) -> None:
    """Kills: progress edits sent on a channel without edits (Zalo: each "edit" would be a
    new message every 5 s)."""
    messenger = Messenger()

    async def record(settled: list[tuple[int, str]], marks: dict[str, int]) -> None:
        await app.storage.apply(Changes(actor=0, settled=settled))

    async def unreachable(person_id: int) -> None:
        await app.storage.set_reachable(person_id, False)

    courier = Courier("test", messenger, _render, record=record, unreachable=unreachable,
                      limits=UNLIMITED, buttons=False)
    app.channels.register_courier(courier)
    courier.start()
    admin = await join(app, "admin", "LC", Role.ADMIN)
    await join(app, "o1", "LC-BX-01")
    await compose(admin)
    await admin.say("xem truoc")
    await admin.say("gui")
    await app.storage.db.write(lambda conn: conn.execute(
        "UPDATE broadcasts SET progress_message=77 WHERE id=1"))  # a message id, as if any
    progress = BroadcastProgress(app)
    now = app.reporting.clock()
    await progress.tick(now)
    rows = await app.storage.claim_broadcast_rows("test", 1)
    courier.enqueue(courier.stored(rows, broadcast=True))
    await courier.delivered_all(rows[0].message.chat_id)
    await courier.flush()
    await progress.tick(now + timedelta(seconds=6))
    await courier.delivered_all("admin")
    await courier.stop()
    assert [t for t in messenger.texts("admin") if "Thông báo #1" in t] == [
        "⏳ Thông báo #1: đang gửi 0/2"]


async def test_the_pump_runs_every_tick_and_survives_a_failing_claim(
        storage: SqliteStorage, monkeypatch: pytest.MonkeyPatch) -> None:
    """Kills: only the first tick run; the pump's task dying on one failed claim (the
    database busy): no broadcast would go out until a restart."""
    monkeypatch.setattr(broadcast_pump, "FEED_EVERY", 0.02)
    monkeypatch.setattr(broadcast_pump, "POLL_EVERY", 0.05)
    people: list[Recipient] = [(1, "101"), (2, "102")]
    await storage.db.write(lambda conn: write_people(conn, people))
    await storage.db.write(lambda conn: write_broadcast(conn, people, "Họp"))
    ran: list[str] = []

    async def first(now: datetime) -> None:
        ran.append("first")

    async def second(now: datetime) -> None:
        ran.append("second")

    transport = Flaky(0)
    c = a_courier(storage, transport)
    pump = BroadcastPump(storage, [c], lambda: datetime(2026, 6, 1, tzinfo=UTC),
                         ticks=[first, second])
    await pump.tick()
    assert ran == ["first", "second"]
    claim = storage.claim_broadcast_rows
    failures: list[int] = []

    async def busy_once(channel: str, limit: int) -> list[Stored]:
        if not failures:
            failures.append(limit)
            raise sqlite3.OperationalError("database is locked")
        return await claim(channel, limit)

    monkeypatch.setattr(storage, "claim_broadcast_rows", busy_once)
    c.start()
    pump.start()
    try:
        await until(lambda: _states_are(storage, ["sent", "sent"]), "delivered after the error")
    finally:
        await pump.stop()
        await c.stop()
    assert failures and {k: len(v) for k, v in transport.got.items()} == {"101": 1, "102": 1}


async def test_an_old_resend_button_does_not_replace_a_typed_follow_up(app: App) -> None:
    """Kills: "Gửi lại nội dung cũ" taken from a screen already left (the follow-up's preview
    of a text the sender typed): the original text would replace it unnoticed."""
    admin = await join(app, "admin", "LC", Role.ADMIN)
    await join(app, "bx1", "LC-BX-01")
    sender = await app.storage.find_person("test", "admin")
    assert sender is not None
    bid = await app.broadcasts.create(BroadcastDraft(Audience(units=("LC-BX",)), "Họp",
                                                     ack=True), sender)
    await admin.press(BroadcastAction("again", bid).pack())
    assert "Nhắc lại 1 người" in admin.text
    await admin.say("Nhắc lần 2: xác nhận giúp.")
    assert "Nhắc lần 2" in admin.text and "Sẽ gửi tới 1 người" in admin.text
    await admin.press(Compose("rs").pack())  # the follow screen's button, pressed late
    assert M.STALE in admin.text
    await admin.press_label("✅ Gửi")
    follow = await app.broadcasts.list(sender, 1)
    assert follow[0].follows == bid and follow[0].text == "Nhắc lần 2: xác nhận giúp."


async def test_the_pressed_announcement_itself_says_it_was_confirmed(app: App) -> None:
    """Kills: "✅ Đã nhận" pressed on the announcement answered by a new message instead of
    marking the announcement (the button would stay there to be pressed again)."""
    await join(app, "admin", "LC", Role.ADMIN)
    bx1 = await join(app, "bx1", "LC-BX-01")
    sender = await app.storage.find_person("test", "admin")
    assert sender is not None
    bid = await app.broadcasts.create(BroadcastDraft(Audience(units=("LC-BX",)), "Họp",
                                                     ack=True), sender)
    shown = "📢 Thông báo từ Tỉnh đoàn Lào Cai\n\nHọp"
    await bx1._send(button=AckBroadcast(bid).pack(), pressed=Pressed("55", shown, None))
    assert bx1.last[0].replace and bx1.last[0].buttons == []
    assert bx1.last[0].text == f"{shown}\n\n✅ Đã xác nhận lúc 10:00 20/02/2026"
    await bx1._send(button=AckBroadcast(bid).pack(), pressed=Pressed("55", shown, None))
    assert "không cần xác nhận" in bx1.text and not bx1.last[0].replace


async def test_a_reply_overtakes_reminders_waiting_at_the_limiter(
        storage: SqliteStorage) -> None:
    """Kills: reminders let through to the channel's limiter without the gate of
    BACKGROUND_AT_LIMITER (every worker's reminder would wait there ahead of a reply)."""
    transport = Flaky(0)
    c = a_courier(storage, transport, Limits(per_second=20, per_chat_per_second=0))
    c.start()
    try:
        c.enqueue([Parcel(Outgoing("telegram", str(1000 + i), "", None, None, REMINDER),
                          {"text": "Nhắc"}) for i in range(150)])
        await until(lambda: _true(len(transport.order) >= 40), "the reminders under way")
        before = len(transport.order)
        c.enqueue([Parcel(Outgoing("telegram", "99", "", None, None, REPLY),
                          {"text": "✓ Đã lưu"})])
        await c.delivered_all("99")
        position = transport.order.index("99")
    finally:
        await c.stop()
    # behind the two at the limiter and those past it, not behind 16 workers' reminders
    assert position - before <= 6, (position, before)
    assert len(transport.order) < 151  # the reminders were still going


async def _true(value: bool) -> bool:
    return value
