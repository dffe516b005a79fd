"""A review tells the unit's officers at once: the message is pushed to their chats through
the outbox, written in the review's own transaction. Through the service on a real SQLite
file, delivering to a fake messenger: an officer receives the return without writing, exactly
once; the same update delivered twice pushes once; a crash between the commit and the send
delivers the push after the restart; an officer no message can reach gets a notice instead."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.domain.buttons import Approve, ReturnReport
from bot.domain.roles import Role
from bot.services.channels import Inbound
from bot.services.delivery import REMINDER
from bot.services.invites import create_invite
from tests.harness import Chat, Clock, Messenger, deliver_through, join, make_app
from tests.test_review import KEY, REVIEWED_TEMPLATE, P, T, correct_report, send_report

REASON = "Số HTX chưa khớp với sổ theo dõi"
RETURNED = ("↩️ Báo cáo «Báo cáo quý có duyệt» kỳ Quý I/2026 của đơn vị bạn bị trả lại: "
            f"{REASON}. Gõ /baocao để sửa và gửi lại.")
APPROVED = "☑️ Báo cáo «Báo cáo quý có duyệt» kỳ Quý I/2026 của đơn vị bạn đã được duyệt."


@pytest.fixture
def clock() -> Clock:
    return Clock()  # 20/02/2026: Quý I/2026 is open


def reports(tmp_path: Path) -> Path:
    folder = tmp_path / "reports"
    folder.mkdir(exist_ok=True)
    (folder / "duyet_thu.toml").write_text(REVIEWED_TEMPLATE, encoding="utf-8")
    return folder


@pytest.fixture
async def app(tmp_path: Path, clock: Clock) -> AsyncIterator[App]:
    app = await make_app(tmp_path, clock, reports=reports(tmp_path))
    yield app
    for courier in app.channels.couriers():
        await courier.stop()
    await app.close()


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def pushes(db: Path) -> list[tuple[str, str, int, str]]:
    """(chat, text, priority, state) of the outbox rows that answer no event."""
    return [(chat, json.loads(payload)["text"], priority, state) for chat, payload, priority,
            state in rows(db, "SELECT chat_id, payload, priority, state FROM outbox"
                              " WHERE event_id IS NULL ORDER BY id")]


async def person_id(app: App, chat: Chat) -> int:
    person = await app.storage.find_person(chat.channel, chat.user_id)
    assert person is not None
    return person.id


async def return_report(boss: Chat) -> None:
    await boss.press(ReturnReport(*KEY, 1).pack())
    assert "Gõ lý do trả lại" in boss.text
    await boss.say(REASON)
    assert "↩️ Đã trả lại báo cáo" in boss.text, boss.text


async def test_officers_receive_the_return_without_writing_exactly_once(
        app: App, tmp_path: Path) -> None:
    messenger = Messenger()
    courier = await deliver_through(app, messenger)
    officer = await join(app, "o1")
    colleague = await join(app, "o2")
    await send_report(officer, "5")
    boss = await join(app, "s1", unit="LC-BX", role=Role.SUPERVISOR)
    await return_report(boss)
    # nobody of the unit wrote anything since: the message is in their chats
    assert (await officer.received()).count(RETURNED) == 1
    told = await colleague.received()
    assert told[-1] == RETURNED and told.count(RETURNED) == 1  # after the welcome only
    assert RETURNED not in await boss.received()
    await courier.flush()
    db = tmp_path / "baocao.db"
    assert pushes(db) == [("o1", RETURNED, REMINDER, "sent"), ("o2", RETURNED, REMINDER, "sent")]
    # told once: no notice waits for their next message as well
    assert rows(db, "SELECT count(*) FROM notices") == [(0,)]
    await colleague.cmd("trangthai")
    assert "Gõ /baocao để sửa và gửi lại." not in colleague.text
    assert "bị trả lại (lý do: Số HTX chưa khớp với sổ theo dõi)" in colleague.text
    assert (await colleague.received()).count(RETURNED) == 1
    # the approval of the resubmitted report is pushed the same way
    await correct_report(officer, "6")
    await boss.press(Approve(*KEY, 2).pack())
    assert "Đã duyệt" in boss.text
    assert (await colleague.received())[-1] == APPROVED
    assert (await officer.received()).count(APPROVED) == 1


async def test_the_same_update_delivered_twice_pushes_once(app: App, tmp_path: Path) -> None:
    messenger = Messenger()
    await deliver_through(app, messenger)
    officer = await join(app, "o1")
    await send_report(officer, "5")
    boss = await join(app, "s1", unit="LC-BX", role=Role.SUPERVISOR)
    await boss.press(ReturnReport(*KEY, 1).pack())
    reason = Inbound("test", "s1", "Sếp", text=REASON, event_id="s1-reason")
    first = await app.reporting.handle(reason)
    assert "Đã trả lại" in first[0].text
    assert await app.reporting.handle(reason) == []  # Telegram delivers the update again
    assert (await officer.received()).count(RETURNED) == 1
    assert [p[:2] for p in pushes(tmp_path / "baocao.db")] == [("o1", RETURNED)]
    assert await app.storage.review_states(T, P) == {"LC-BX-01": "returned"}


async def test_a_crash_between_commit_and_send_delivers_the_push_after_restart(
        tmp_path: Path, clock: Clock) -> None:
    folder = reports(tmp_path)
    app = await make_app(tmp_path, clock, reports=folder)
    messenger = Messenger()
    courier = await deliver_through(app, messenger)
    officer = await join(app, "o1")
    await send_report(officer, "5")
    boss = await join(app, "s1", unit="LC-BX", role=Role.SUPERVISOR)
    await boss.press(ReturnReport(*KEY, 1).pack())
    messenger.gate = asyncio.Event()  # the messenger stops answering
    boss.waits = False
    await boss.say(REASON)
    assert "Đã trả lại" in boss.text
    db = tmp_path / "baocao.db"
    assert await app.storage.review_states(T, P) == {"LC-BX-01": "returned"}
    assert pushes(db) == [("o1", RETURNED, REMINDER, "pending")]
    # the process dies: nothing more is sent or recorded (a stop records nothing undelivered)
    await courier.stop()
    await app.close()
    assert RETURNED not in messenger.texts("o1")

    app = await make_app(tmp_path, clock, reports=folder)
    again = Messenger()
    courier = await deliver_through(app, again)
    try:
        officer = Chat(app, "o1")
        assert await officer.received() == [RETURNED]  # without writing
        assert "Đã trả lại" in "\n".join(await Chat(app, "s1").received())
        await courier.flush()
        assert pushes(db) == [("o1", RETURNED, REMINDER, "sent")]
        assert rows(db, "SELECT count(*) FROM notices") == [(0,)]
    finally:
        await courier.stop()
        await app.close()


async def test_officers_no_message_can_reach_get_a_notice_instead(
        app: App, tmp_path: Path) -> None:
    messenger = Messenger()
    await deliver_through(app, messenger)
    officer = await join(app, "o1")
    blocked = await join(app, "o2")
    await app.storage.set_reachable(await person_id(app, blocked), False)
    # an officer on a channel without a courier in this process (Zalo not configured)
    invite = await create_invite(app.storage, "LC-BX-01", Role.OFFICER, 1, 7,
                                 app.reporting.clock())
    elsewhere = Chat(app, "z1", channel="zalo")
    await elsewhere.cmd("start", invite.code)
    assert "Bạn đã tham gia" in elsewhere.text
    await send_report(officer, "5")
    boss = await join(app, "s1", unit="LC-BX", role=Role.SUPERVISOR)
    await return_report(boss)
    assert (await officer.received()).count(RETURNED) == 1
    assert RETURNED not in messenger.texts("o2")
    db = tmp_path / "baocao.db"
    assert [p[0] for p in pushes(db)] == ["o1"]
    notices = rows(db, "SELECT person_id, text FROM notices ORDER BY person_id")
    assert notices == sorted([(await person_id(app, blocked), RETURNED),
                              (await person_id(app, elsewhere), RETURNED)])
    # each is told on their next message, once
    for chat in (blocked, elsewhere):
        await chat.cmd("trangthai")
        assert RETURNED in chat.text
        await chat.cmd("trangthai")
        assert RETURNED not in chat.text
    assert RETURNED not in await blocked.received()  # blocked: never pushed
