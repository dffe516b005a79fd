"""Telegram handlers through python-telegram-bot itself: `Application.process_update` with a
request object that records the outgoing Bot API calls."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from telegram import Update
from telegram.ext import CommandHandler

from bot.app import App
from bot.domain.buttons import (
    AskCancel,
    ConfirmCancel,
    ConfirmSend,
    CorrectReport,
    OpenReport,
    SendReport,
)
from bot.domain.dialogue import Button, Reply, question_reply
from bot.domain.messages_vi import APOLOGY
from bot.domain.roles import Role
from bot.domain.templates import Template
from bot.services.invites import create_invite
from handlers.telegram.app import (
    AnyApplication,
    PerChatProcessor,
    build_application,
    send_replies,
)
from handlers.telegram.render import DATA_LIMIT
from tests.harness import Clock, make_app
from tests.recording_request import (
    RecordingRequest,
    button_update,
    photo_update,
    text_update,
)

TOKEN = "123456:TEST"
USER = 5001
REPORT = OpenReport(0, "thu_nghiem", "2026-Q1").pack()


class Bot:
    """The PTB application plus helpers to play one user."""

    def __init__(self, application: AnyApplication, request: RecordingRequest, app: App):
        self.application = application
        self.request = request
        self.app = app

    async def feed(self, raw: dict[str, Any]) -> list[dict[str, Any]]:
        before = len(self.request.calls)
        await self.application.process_update(Update.de_json(raw, self.application.bot))
        return [{"method": m, **p} for m, p in self.request.calls[before:]]

    async def text(self, text: str, user_id: int = USER) -> list[dict[str, Any]]:
        return await self.feed(text_update(user_id, text))

    def last_message(self, chat_id: int = USER) -> dict[str, Any]:
        sent = [m for (c, _), m in sorted(self.request.messages.items()) if c == chat_id]
        return sent[-1]

    async def press(self, label_part: str, user_id: int = USER) -> list[dict[str, Any]]:
        message = self.last_message(user_id)
        for row in message.get("reply_markup", {}).get("inline_keyboard", []):
            for b in row:
                if label_part in b["text"]:
                    return await self.feed(button_update(user_id, b["callback_data"], message))
        raise AssertionError(f"no button {label_part!r} in {message}")


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    app = await make_app(tmp_path, Clock())
    request = RecordingRequest()
    application = build_application(TOKEN, "http://127.0.0.1:9/bot", app, request=request,
                                    get_updates_request=RecordingRequest())
    await application.initialize()
    yield Bot(application, request, app)
    await application.shutdown()
    await app.close()


async def joined(bot: Bot, user_id: int = USER, role: Role = Role.OFFICER,
                 unit: str = "LC-BX-01") -> None:
    invite = await create_invite(bot.app.storage, unit, role, 1, 7, bot.app.reporting.clock())
    calls = await bot.text(f"/start {invite.code}", user_id)
    assert "Bạn đã tham gia" in calls[-1]["text"]


def texts(calls: list[dict[str, Any]]) -> list[str]:
    return [c["text"] for c in calls if c["method"] == "sendMessage"]


async def test_stranger_gets_join_instructions(bot: Bot) -> None:
    calls = await bot.text("chào bạn")
    assert [c["method"] for c in calls] == ["sendMessage"]
    assert "Bạn chưa tham gia" in calls[0]["text"] and int(calls[0]["chat_id"]) == USER


async def test_report_through_buttons_and_text(bot: Bot) -> None:
    await joined(bot)
    calls = await bot.text("/baocao")
    keyboard = calls[-1]["reply_markup"]["inline_keyboard"]
    assert keyboard[0][0]["callback_data"] == REPORT
    calls = await bot.press("Báo cáo quý thử nghiệm")
    methods = [c["method"] for c in calls]
    assert methods == ["answerCallbackQuery", "editMessageText", "sendMessage"]
    assert calls[1]["text"].endswith("→ ⚪ Báo cáo quý thử nghiệm · Quý I/2026")
    assert "reply_markup" not in calls[1]  # the used keyboard is gone
    assert "Câu 1/11: Đoàn xã có fanpage chưa?" in calls[2]["text"]
    assert [b["text"] for b in calls[2]["reply_markup"]["inline_keyboard"][0]] == ["Có", "Không"]
    calls = await bot.press("Có")
    assert "✓ Đã lưu: Có" in texts(calls)[0]
    calls = await bot.text("mười hai")
    assert "Chưa đọc được số" in texts(calls)[0] and "Câu 2/11" in texts(calls)[0]
    await bot.text("12")
    draft = await bot.app.storage.find_draft("LC-BX-01", "thu_nghiem", "2026-Q1")
    assert draft is not None and draft.answers == {"co_fanpage": True, "so_tin": 12}


async def test_multi_choice_toggles_edit_the_same_message(bot: Bot) -> None:
    await joined(bot)
    await bot.text("/baocao")
    await bot.press("Báo cáo quý")
    for answer in ("khong", "3", "1", "90", "bo qua", "1"):
        await bot.text(answer)
    calls = await bot.press("Facebook")
    assert [c["method"] for c in calls] == ["answerCallbackQuery", "editMessageText"]
    labels = [row[0]["text"] for row in calls[1]["reply_markup"]["inline_keyboard"][:3]]
    assert labels == ["☐ Zalo", "☑ Facebook", "☐ Họp dân"]
    calls = await bot.press("Xong")
    assert "✓ Đã lưu: Facebook" in texts(calls)[0]


async def test_photo_answer_keeps_the_largest_size(bot: Bot) -> None:
    await joined(bot)
    await bot.text("/baocao")
    await bot.press("Báo cáo quý")
    for answer in ("khong", "3", "1", "90", "bo qua", "1", "1,2", "bo qua"):
        await bot.text(answer)
    assert "Ảnh hoạt động" in bot.last_message()["text"]
    calls = await bot.feed(photo_update(USER, "BIG-PHOTO"))
    assert "✓ Đã lưu: (đã gửi ảnh)" in texts(calls)[0]
    draft = await bot.app.storage.find_draft("LC-BX-01", "thu_nghiem", "2026-Q1")
    assert draft is not None and draft.answers["anh"] == "BIG-PHOTO"


async def test_duplicate_update_id_changes_nothing(bot: Bot) -> None:
    await joined(bot)
    await bot.text("/baocao")
    await bot.press("Báo cáo quý")
    await bot.text("co")
    raw = text_update(USER, "7", update_id=990001)
    first = await bot.feed(raw)
    second = await bot.feed(raw)
    assert texts(first) and second == []
    draft = await bot.app.storage.find_draft("LC-BX-01", "thu_nghiem", "2026-Q1")
    assert draft is not None and draft.answers == {"co_fanpage": True, "so_tin": 7}


async def test_every_registered_command_is_in_help(bot: Bot) -> None:
    registered = {name for handlers in bot.application.handlers.values() for h in handlers
                  if isinstance(h, CommandHandler) for name in h.commands}
    assert registered >= {"baocao", "trangthai", "huy", "giup", "start", "danhsach"}
    await joined(bot)
    await joined(bot, role=Role.SUPERVISOR, unit="LC-BX")  # same person, every role
    await joined(bot, role=Role.ADMIN, unit="LC")  # /quanly is admins' only
    help_text = texts(await bot.text("/giup"))[0]
    for name in registered:
        assert f"/{name} " in help_text


async def test_role_refusal_through_telegram(bot: Bot) -> None:
    await joined(bot, role=Role.SUPERVISOR, unit="LC")
    calls = await bot.text("/baocao")
    assert "không dành cho vai trò của bạn" in texts(calls)[0]
    forged = {"message_id": 1, "date": 0, "chat": {"id": USER, "type": "private"},
              "text": "x"}
    calls = await bot.feed(button_update(USER, REPORT, forged))
    assert "không dành cho vai trò của bạn" in texts(calls)[0]


async def test_errors_get_an_apology_not_a_trace(bot: Bot, monkeypatch: pytest.MonkeyPatch,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    async def broken(event: object) -> list[Reply]:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(bot.app.reporting, "handle", broken)
    calls = await bot.text("12")
    assert texts(calls) == [APOLOGY]
    assert "database on fire" in caplog.text and "5001" in caplog.text


async def test_long_replies_are_split_with_keyboard_last(bot: Bot) -> None:
    update = Update.de_json(text_update(USER, "x"), bot.application.bot)
    reply = Reply("dòng dài\n" * 1000, [[Button.of("Gửi", SendReport(0, "x", "2026-Q1"))]])
    before = len(bot.request.calls)
    await send_replies(update, [reply])
    sent = bot.request.sent()[-(len(bot.request.calls) - before):]
    assert len(sent) == 3 and all(len(s["text"]) <= 4096 for s in sent)
    assert "reply_markup" not in sent[0] and sent[-1]["reply_markup"]["inline_keyboard"]
    assert "\n".join(s["text"] for s in sent).strip() == ("dòng dài\n" * 1000).strip()


def test_button_data_fits_telegram_for_every_shipped_question(
    shipped_templates: dict[str, Template],
) -> None:
    for t in shipped_templates.values():
        for q in t.questions:
            reply = question_reply(t, {q.id: None}, q)
            for b in reply.flat_buttons():
                assert len(b.data.encode()) <= DATA_LIMIT, (t.id, q.id, b.data)
        for kind in (SendReport, ConfirmSend, AskCancel, ConfirmCancel, CorrectReport):
            assert len(kind(99, t.id, "2026-W53").pack().encode()) <= DATA_LIMIT


async def test_per_chat_order_kept_while_chats_run_concurrently() -> None:
    processor = PerChatProcessor(64)
    log: list[tuple[int, int, str]] = []
    rng = random.Random(7)

    async def work(chat: int, n: int) -> None:
        log.append((chat, n, "start"))
        await asyncio.sleep(rng.random() / 200)
        log.append((chat, n, "end"))

    def update(chat: int) -> Update:
        return Update.de_json(text_update(chat, "x"), None)

    tasks = [asyncio.create_task(processor.process_update(update(c), work(c, n)))
             for n in range(10) for c in (1, 2, 3)]
    await asyncio.gather(*tasks)
    for chat in (1, 2, 3):
        events = [(n, kind) for c, n, kind in log if c == chat]
        assert events == [(n, k) for n in range(10) for k in ("start", "end")]
    first_end = next(i for i, e in enumerate(log) if e[2] == "end")
    assert {c for c, _, k in log[:first_end] if k == "start"} == {1, 2, 3}  # concurrency
    assert processor._locks == {}  # idle chats are forgotten
