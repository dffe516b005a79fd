"""Delivering broadcasts through python-telegram-bot against the fake Bot API, with a real
SQLite outbox: the rows' states (pending → sending → sent / unreachable / failed), a crash in
the middle of a chunk, 429 and 403, cancelled broadcasts, and replies keeping their priority."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot

from bench.broadcast_rows import Recipient, write_broadcast, write_people
from bot.domain.dialogue import Reply
from bot.services import broadcast_pump
from bot.services.broadcast_pump import BroadcastPump
from bot.services.delivery import REPLY, Courier, Limits, Parcel, Payload
from handlers.telegram.app import CHANNEL
from handlers.telegram.delivery import TelegramTransport, render
from storage.models import Changes, Outgoing
from storage.sqlite import SqliteStorage
from tests.fakebotapi import FakeBotAPI
from tests.fakebotapi import Limits as FloodLimits

FIRST_CHAT = 5000
UNLIMITED = Limits(0, 0)


def recipients(n: int) -> list[Recipient]:
    return [(i + 1, str(FIRST_CHAT + i)) for i in range(n)]


def clock() -> datetime:
    return datetime(2026, 6, 1, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(broadcast_pump, "FEED_EVERY", 0.02)
    monkeypatch.setattr(broadcast_pump, "POLL_EVERY", 0.05)


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[SqliteStorage]:
    s = await SqliteStorage.open(tmp_path / "baocao.db")
    yield s
    await s.close()


def courier(storage: SqliteStorage, bot: Bot, limits: Limits = UNLIMITED,
            transport: Any = None) -> Courier:
    async def record(settled: list[tuple[int, str]], marks: dict[str, int]) -> None:
        await storage.apply(Changes(actor=0, settled=settled))

    async def unreachable(person_id: int) -> None:
        await storage.set_reachable(person_id, False)

    return Courier(CHANNEL, transport or TelegramTransport(bot), render, record=record,
                   unreachable=unreachable, limits=limits)


async def states(storage: SqliteStorage, broadcast: int) -> dict[str, int]:
    rows = await storage.db.fetchall(
        "SELECT state, count(*) AS n FROM outbox WHERE broadcast_id=? GROUP BY state",
        (broadcast,))
    return {r["state"]: r["n"] for r in rows}


async def until(check: Callable[[], Any], what: str) -> None:
    """Poll (the condition, not a duration, is what the test asserts)."""
    for _ in range(2000):
        if await check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never: {what}")


@asynccontextmanager
async def sending(storage: SqliteStorage, c: Courier) -> AsyncIterator[BroadcastPump]:
    await storage.release_claimed_broadcast_rows()
    pump = BroadcastPump(storage, [c], clock)
    c.start()
    pump.start()
    try:
        yield pump
    finally:
        await pump.stop()
        await c.stop()


async def test_rows_go_pending_sending_then_sent_unreachable_or_failed(
        storage: SqliteStorage) -> None:
    people = recipients(6)
    await storage.db.write(lambda conn: write_people(conn, people))
    first = await storage.db.write(lambda conn: write_broadcast(conn, people, "Thông báo 1"))
    later = await storage.db.write(lambda conn: write_broadcast(
        conn, people, "Thông báo 2", state="scheduled"))
    # a broadcast's rows are not read back with the replies at start: they are claimed
    assert await storage.pending_outbox(CHANNEL) == []
    claimed = await storage.claim_broadcast_rows(CHANNEL, 4)
    assert [r.id for r in claimed] == sorted(r.id for r in claimed) and len(claimed) == 4
    assert await states(storage, first) == {"sending": 4, "pending": 2}
    assert await states(storage, later) == {"pending": 6}  # not started: not claimed
    await storage.release_claimed_broadcast_rows()
    assert await states(storage, first) == {"pending": 6}

    with FakeBotAPI() as fake:
        fake.block(FIRST_CHAT + 1)
        fake.fail_next("sendMessage", 400, "Bad Request: can't parse entities")
        async with Bot(fake.token, base_url=fake.base_url) as bot:
            c = courier(storage, bot)
            c._workers = 1  # in order: the first chat's message is the malformed one
            async with sending(storage, c):
                await until(lambda: _no_open(storage, first), "every row settled")
        counts = fake.message_counts()
    final = await states(storage, first)
    assert final == {"sent": 4, "unreachable": 1, "failed": 1}
    assert FIRST_CHAT + 1 not in counts and sorted(counts.values()) == [1, 1, 1, 1]
    # the blocked person is unreachable, and so are their rows of the other broadcast
    blocked = await storage.db.fetchone("SELECT reachable FROM people WHERE id=2")
    assert blocked is not None and blocked["reachable"] == 0
    other = await storage.db.fetchall(
        "SELECT person_id, state FROM outbox WHERE broadcast_id=? ORDER BY person_id", (later,))
    assert [(r["person_id"], r["state"]) for r in other] == [
        (1, "pending"), (2, "unreachable"), (3, "pending"), (4, "pending"), (5, "pending"),
        (6, "pending")]


async def _no_open(storage: SqliteStorage, broadcast: int) -> bool:
    s = await states(storage, broadcast)
    return not s.get("pending") and not s.get("sending")


async def test_a_cancelled_broadcasts_rows_are_not_claimed(storage: SqliteStorage) -> None:
    people = recipients(3)
    await storage.db.write(lambda conn: write_people(conn, people))
    gone = await storage.db.write(lambda conn: write_broadcast(
        conn, people, "Huỷ", state="cancelled"))
    live = await storage.db.write(lambda conn: write_broadcast(conn, people, "Gửi"))
    claimed = await storage.claim_broadcast_rows(CHANNEL, 100)
    assert len(claimed) == 3 and all(json.loads(r.message.payload)["p"]["text"] == "Gửi"
                                     for r in claimed)
    assert await states(storage, gone) == {"pending": 3}
    assert await states(storage, live) == {"sending": 3}


class Stalling:
    """Delivers `before` messages normally; the next one reaches the fake (the person gets it)
    but its answer never comes back, as when the process dies with the call in flight."""

    def __init__(self, bot: Bot, before: int) -> None:
        self.inner = TelegramTransport(bot)
        self.left = before
        self.in_flight: str | None = None

    async def deliver(self, chat_id: str, payload: Payload) -> int | None:
        if self.left == 0:
            self.in_flight = chat_id
            await self.inner.deliver(chat_id, payload)
            await asyncio.Event().wait()
        self.left -= 1
        return await self.inner.deliver(chat_id, payload)


async def test_a_crash_in_the_middle_of_a_chunk_resends_only_the_message_in_flight(
        storage: SqliteStorage) -> None:
    people = recipients(30)
    await storage.db.write(lambda conn: write_people(conn, people))
    broadcast = await storage.db.write(lambda conn: write_broadcast(conn, people, "Hạn lùi"))
    with FakeBotAPI() as fake:
        async with Bot(fake.token, base_url=fake.base_url) as bot:
            stalling = Stalling(bot, before=12)
            first = courier(storage, bot, transport=stalling)
            first._workers = 1  # one at a time: exactly one message is in flight at the crash

            async def twelve_recorded() -> bool:
                return (await states(storage, broadcast)).get("sent", 0) == 12
            async with sending(storage, first):
                await until(twelve_recorded, "12 recorded")
                await until(lambda: _true(stalling.in_flight is not None), "one in flight")
            # the stop recorded nothing more: 12 sent, the claimed rest still 'sending'
            middle = await states(storage, broadcast)
            assert middle["sent"] == 12 and middle.get("sending", 0) > 0
            second = courier(storage, bot)
            async with sending(storage, second):
                await until(lambda: _no_open(storage, broadcast), "all delivered")
        counts = fake.message_counts()
    assert await states(storage, broadcast) == {"sent": 30}
    assert stalling.in_flight is not None
    twice = {chat for chat, n in counts.items() if n > 1}
    assert twice == {int(stalling.in_flight)}  # at least once: only the one in flight
    assert len(counts) == 30 and counts[int(stalling.in_flight)] == 2


async def _true(value: bool) -> bool:
    return value


async def test_retry_after_holds_only_that_chat(storage: SqliteStorage) -> None:
    people = recipients(5)
    await storage.db.write(lambda conn: write_people(conn, people))
    broadcast = await storage.db.write(lambda conn: write_broadcast(conn, people, "Chờ"))
    with FakeBotAPI() as fake:
        fake.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
        async with Bot(fake.token, base_url=fake.base_url) as bot:
            c = courier(storage, bot)
            c._workers = 1  # the first chat is the one refused
            async with sending(storage, c):
                await until(lambda: _no_open(storage, broadcast), "all delivered")
        order = [m["chat"]["id"] for m in fake.sent_messages()]
    assert await states(storage, broadcast) == {"sent": 5}
    # the refused first chat went last, after the retry; the others did not wait for it
    assert order == [FIRST_CHAT + i for i in (1, 2, 3, 4, 0)]
    assert c.retried == 1


async def test_a_reply_overtakes_a_broadcast_in_progress(storage: SqliteStorage) -> None:
    people = recipients(200)
    await storage.db.write(lambda conn: write_people(conn, people))
    await storage.db.write(lambda conn: write_broadcast(conn, people, "Thông báo chung"))
    officer = "99"
    with FakeBotAPI() as fake:
        async with Bot(fake.token, base_url=fake.base_url) as bot:
            c = courier(storage, bot, limits=Limits(per_second=20, per_chat_per_second=0))
            async with sending(storage, c):
                await asyncio.to_thread(fake.wait_for_message, FIRST_CHAT + 40, None, 30.0)
                before = len(fake.sent_messages())
                payload = render(None, officer, [Reply("✓ Đã lưu")])[0]
                c.enqueue([Parcel(Outgoing(CHANNEL, officer, "", None, None, REPLY), payload)])
                await c.delivered_all(officer)
                order = [m["chat"]["id"] for m in fake.sent_messages()]
    position = order.index(int(officer))
    # 16 workers each hold a broadcast message; the reply waits behind at most the two at
    # the limiter and those already past it, not behind every worker's
    assert position - before <= 6, (position, before)
    assert len(order) < 200  # the broadcast was still in progress


async def test_the_limiter_stays_under_the_messengers_window(storage: SqliteStorage) -> None:
    people = recipients(90)
    await storage.db.write(lambda conn: write_people(conn, people))
    broadcast = await storage.db.write(lambda conn: write_broadcast(conn, people, "Nhịp"))
    with FakeBotAPI() as fake:
        fake.set_limits(FloodLimits())  # Telegram's: 30/s in all, 1/s per chat
        async with Bot(fake.token, base_url=fake.base_url) as bot:
            c = courier(storage, bot, limits=Limits())
            async with sending(storage, c):
                await until(lambda: _no_open(storage, broadcast), "all delivered")
        stats = fake.fault_stats()
    assert await states(storage, broadcast) == {"sent": 90}
    # both buckets start full: at most the start-up burst collides, then never again
    assert stats.limited <= 2 and stats.messages == 90
    assert c.record_lag_count == 90 and c.record_lag_max < 1.0


async def test_the_pump_runs_its_ticks_and_picks_up_rows_written_later(
        storage: SqliteStorage) -> None:
    """Rows written after the start (by `baocao broadcast create` in another process, or by a
    tick starting a due broadcast) are found by the next poll; a failing tick stops nothing."""
    people = recipients(4)
    await storage.db.write(lambda conn: write_people(conn, people))
    seen: list[datetime] = []
    started: list[int] = []

    async def failing(now: datetime) -> None:
        raise RuntimeError("a bug in another tick")

    async def start_due(now: datetime) -> None:
        seen.append(now)
        if len(seen) == 3 and not started:
            started.append(await storage.db.write(
                lambda conn: write_broadcast(conn, people, "Họp lúc 14:00")))

    with FakeBotAPI() as fake:
        async with Bot(fake.token, base_url=fake.base_url) as bot:
            c = courier(storage, bot)
            c.start()
            pump = BroadcastPump(storage, [c], clock, ticks=[failing, start_due])
            pump.start()
            await until(lambda: _true(bool(started)), "a tick started the broadcast")
            await until(lambda: _no_open(storage, started[0]), "delivered")
            await pump.stop()
            await c.stop()
        counts = fake.message_counts()
    assert seen[0] == clock() and len(seen) >= 3
    assert counts == {FIRST_CHAT + i: 1 for i in range(4)} and pump.claimed == 4
