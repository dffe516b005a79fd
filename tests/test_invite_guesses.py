"""Invite codes tried from one chat are limited: typos pass, guessing does not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.domain.guesses import GuessLimit
from bot.domain.roles import Role
from bot.services.invites import create_invite
from tests.harness import Chat, Clock, make_app

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def test_five_wrong_codes_an_hour_and_ten_a_day() -> None:
    limit, chat = GuessLimit(), ("telegram", "1")
    for i in range(5):
        assert limit.blocked_until(chat, T0 + timedelta(minutes=i)) is None
        limit.failed(chat, T0 + timedelta(minutes=i))
    assert limit.blocked_until(chat, T0 + timedelta(minutes=10)) == T0 + timedelta(hours=1)
    assert limit.blocked_until(("telegram", "2"), T0) is None  # other chats are not held
    later = T0 + timedelta(hours=2)
    for i in range(5):
        assert limit.blocked_until(chat, later + timedelta(minutes=i)) is None
        limit.failed(chat, later + timedelta(minutes=i))
    # ten in a day: free again a day after the first of them
    assert limit.blocked_until(chat, T0 + timedelta(hours=5)) == T0 + timedelta(days=1)
    assert limit.blocked_until(chat, T0 + timedelta(days=1, minutes=1)) is None
    limit.succeeded(chat)
    assert limit.blocked_until(chat, T0 + timedelta(hours=5)) is None


async def test_a_chat_guessing_codes_is_stopped_and_logged(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock(T0)
    app = await make_app(tmp_path, clock)
    invite = await create_invite(app.storage, "LC-BX-01", Role.OFFICER, 1, 7, clock())
    chat = Chat(app, "666")
    for i in range(5):
        await chat.cmd("start", f"WRONG{i:03d}")
        assert "không đúng" in chat.text
    await chat.cmd("start", invite.code)  # even the right code waits now
    assert "nhập sai mã mời nhiều lần" in chat.text and "10:00 ngày 01/03/2026" in chat.text
    assert await app.storage.find_person("test", "666") is None
    assert sum("wrong invite code from test/666" in r.message for r in caplog.records) == 5
    clock.now = T0 + timedelta(hours=1, minutes=1)
    await chat.cmd("start", invite.code)
    assert "Bạn đã tham gia" in chat.text
    await app.close()
