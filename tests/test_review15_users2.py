"""Review 15 (users, chat side and delivery): problems found attacking /thongbao, the
confirmations and the sender as real users and the Bot API would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.domain.roles import Role
from bot.services.reporting.broadcast_chat import BroadcastProgress
from storage.models import Stored
from tests.harness import Chat, Clock, Messenger, _render, deliver_through, join, make_app


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    app = await make_app(tmp_path, Clock())  # 10:00 on 20/02/2026 in Vietnam
    app.broadcasts._renderers = {"test": _render}
    yield app
    await app.close()


async def broadcast_rows(app: App) -> list[Stored]:
    return list(await app.storage.claim_broadcast_rows("test", 100))


async def compose(admin: Chat, text: str = "Họp giao ban lúc 8h thứ Hai.") -> None:
    await admin.cmd("thongbao")
    await admin.press_label("Tiếp")
    await admin.say(text)
    await admin.press_label("Xem trước")


async def _deliver_one(app: App, messenger: Messenger) -> None:
    """An admin's announcement to one officer, delivered (not yet closed)."""
    courier = app.channels.courier("test")
    assert courier is not None
    admin = await join(app, "admin", "LC", Role.ADMIN)
    await join(app, "o1", "LC-BX-01")
    await compose(admin)
    await admin.press_label("✅ Gửi")
    courier.enqueue(courier.stored(await broadcast_rows(app)))
    await courier.delivered_all("o1")
    await courier.flush()


async def test_final_report_survives_a_crash_between_done_and_the_report(app: App) -> None:
    """kill -9 after the service marked the announcement done and before the chat side wrote
    its final report: the restarted sender (a new BroadcastProgress) still reports it, once."""
    messenger = Messenger()
    courier = await deliver_through(app, messenger)
    await _deliver_one(app, messenger)
    now = app.reporting.clock()
    assert [s.id for s in await app.broadcasts.tick(now)] == [1]  # done, then the crash
    restarted = BroadcastProgress(app)  # nothing remembered in memory
    await restarted.tick(now + timedelta(seconds=1))
    await restarted.tick(now + timedelta(seconds=9))
    again = BroadcastProgress(app)  # a second restart: not reported twice
    await again.tick(now + timedelta(seconds=20))
    await courier.delivered_all("admin")
    assert sum("đã gửi xong: 2/2" in t for t in messenger.texts("admin")) == 1, \
        messenger.texts("admin")
    row = await app.storage.db.fetchone("SELECT reported_at FROM broadcasts WHERE id=1")
    assert row is not None and row["reported_at"] is not None
