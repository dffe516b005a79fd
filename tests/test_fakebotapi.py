"""Tests proving that :mod:`tests.fakebotapi` works with real python-telegram-bot 22."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Update,
)
from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.fakebotapi import FakeBotAPI, Faults, Limits, method_family

USER = 777_001


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as server:
        yield server


def _keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Duyệt", callback_data="approve:1"),
                InlineKeyboardButton("Từ chối", callback_data="reject:1"),
            ]
        ]
    )


def _api(fake: FakeBotAPI, method: str, token: str | None = None) -> str:
    return f"{fake.base_url}{token or fake.token}/{method}"


# --------------------------------------------------------------------------- PTB Bot
@pytest.mark.asyncio
async def test_bot_get_me_send_and_edit(fake: FakeBotAPI) -> None:
    async with Bot(fake.token, base_url=fake.base_url) as bot:
        me = await bot.get_me()
        assert me.is_bot
        assert me.username == "baocao_test_bot"
        assert me.id == 123456
        assert me.can_join_groups is True

        sent = await bot.send_message(USER, "Báo cáo tuần 12", reply_markup=_keyboard())
        assert sent.text == "Báo cáo tuần 12"
        assert sent.chat.id == USER
        assert sent.chat.type == "private"
        assert sent.from_user is not None and sent.from_user.id == me.id
        assert sent.reply_markup is not None
        assert sent.reply_markup.inline_keyboard[0][1].callback_data == "reject:1"

        stored = fake.last_message(USER)
        assert stored["message_id"] == sent.message_id
        assert stored["text"] == "Báo cáo tuần 12"
        assert isinstance(stored["date"], int)
        buttons = stored["reply_markup"]["inline_keyboard"][0]
        assert [b["text"] for b in buttons] == ["Duyệt", "Từ chối"]
        assert [b["callback_data"] for b in buttons] == ["approve:1", "reject:1"]

        second = await bot.send_message(USER, "Tin thứ hai")
        assert second.message_id == sent.message_id + 1

        edited = await bot.edit_message_text(
            "Đã duyệt ✅", chat_id=USER, message_id=sent.message_id
        )
        assert not isinstance(edited, bool)
        assert edited.text == "Đã duyệt ✅"
        assert edited.edit_date is not None

        messages = fake.sent_messages(USER)
        assert [m["text"] for m in messages] == ["Đã duyệt ✅", "Tin thứ hai"]
        # editing without reply_markup removes the inline keyboard, as on Telegram
        assert "reply_markup" not in messages[0]

        edit_params = fake.wait_for_call("editMessageText", timeout=1)
        assert edit_params["chat_id"] == USER
        assert edit_params["message_id"] == sent.message_id
        assert [name for name, _ in fake.calls] == [
            "getMe",
            "getMe",
            "sendMessage",
            "sendMessage",
            "editMessageText",
        ]

        with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
            await bot.edit_message_text("Đã duyệt ✅", chat_id=USER, message_id=sent.message_id)
        with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
            await bot.edit_message_text("x", chat_id=USER, message_id=9999)

        markup_edit = await bot.edit_message_reply_markup(
            chat_id=USER, message_id=second.message_id, reply_markup=_keyboard()
        )
        assert not isinstance(markup_edit, bool)
        assert markup_edit.reply_markup == _keyboard()
        assert fake.last_message(USER)["reply_markup"]["inline_keyboard"][0][0]["text"] == "Duyệt"


@pytest.mark.asyncio
async def test_bot_documents_commands_and_misc(fake: FakeBotAPI) -> None:
    async with Bot(fake.token, base_url=fake.base_url) as bot:
        content = "Đơn vị;Số lượng\nXã A;12\n".encode()
        doc_message = await bot.send_document(
            USER,
            InputFile(content, filename='Báo cáo "tháng" 3.csv'),
            caption="Tổng hợp",
        )
        assert doc_message.document is not None
        assert doc_message.document.file_name == 'Báo cáo "tháng" 3.csv'
        assert doc_message.caption == "Tổng hợp"
        assert fake.documents == [(USER, 'Báo cáo "tháng" 3.csv', content)]
        stored = fake.last_message(USER)
        assert stored["document"]["file_id"] == doc_message.document.file_id
        assert stored["document"]["file_size"] == len(content)

        await bot.set_my_commands([("start", "Bắt đầu"), ("baocao", "Gửi báo cáo")])
        assert fake.commands == [
            {"command": "start", "description": "Bắt đầu"},
            {"command": "baocao", "description": "Gửi báo cáo"},
        ]
        assert [c.command for c in await bot.get_my_commands()] == ["start", "baocao"]
        assert await bot.delete_my_commands() is True
        assert fake.commands == []

        info = await bot.get_webhook_info()
        assert info.url == ""
        assert info.pending_update_count == 0
        assert info.has_custom_certificate is False
        assert await bot.delete_webhook() is True
        assert await bot.send_chat_action(USER, "typing") is True
        assert await bot.delete_message(USER, doc_message.message_id) is True
        assert fake.deleted_messages == [(USER, doc_message.message_id)]
        # an unknown method answers `true`
        assert await bot.do_api_request("someFutureMethod") is True

        with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
            await bot.send_message(
                USER,
                "x",
                reply_markup=InlineKeyboardMarkup(
                    [[InlineKeyboardButton("too long", callback_data="x" * 65)]]
                ),
            )


# --------------------------------------------------------------------------- Application
@pytest.mark.asyncio
async def test_application_polling_end_to_end(fake: FakeBotAPI) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("Xin chào", reply_markup=_keyboard())

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("OK")
        await query.edit_message_text(f"Bạn chọn: {query.data}")

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_message.text
        await update.effective_message.reply_text(f"Echo: {update.effective_message.text}")

    app = ApplicationBuilder().token(fake.token).base_url(fake.base_url).build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(on_button))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))

    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    try:
        fake.send_text(USER, "/start")
        greeting = await asyncio.to_thread(
            fake.wait_for_message, USER, lambda m: m.get("text") == "Xin chào", 5.0
        )
        assert greeting["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "approve:1"

        fake.send_text(USER, "Báo cáo xong")
        echoed = await asyncio.to_thread(fake.wait_for_message, USER, None, 5.0, 1)
        assert echoed["text"] == "Echo: Báo cáo xong"

        fake.press_button(USER, greeting["message_id"], "approve:1")
        edited = await asyncio.to_thread(
            fake.wait_for_message, USER, lambda m: m["text"].startswith("Bạn chọn"), 5.0
        )
        assert edited["message_id"] == greeting["message_id"]
        assert edited["text"] == "Bạn chọn: approve:1"
        answer = await asyncio.to_thread(fake.wait_for_call, "answerCallbackQuery", None, 5.0)
        assert answer["text"] == "OK"
        assert isinstance(answer["callback_query_id"], str)

        await asyncio.to_thread(fake.wait_until_delivered, 5.0)
        await asyncio.to_thread(fake.wait_until_consumed, 5.0)
        assert fake.pending_updates() == 0
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()

    delivered = fake.delivered_update_ids
    assert len(delivered) == 3
    assert len(set(delivered)) == len(delivered), "an update was delivered twice"
    assert [m["text"] for m in fake.sent_messages(USER)] == [
        "Bạn chọn: approve:1",
        "Echo: Báo cáo xong",
    ]
    offsets = [p.get("offset") for name, p in fake.calls if name == "getUpdates"]
    assert max(o for o in offsets if o is not None) == max(delivered) + 1


# --------------------------------------------------------------------------- errors
@pytest.mark.asyncio
async def test_fail_next_forbidden_and_retry_after(fake: FakeBotAPI) -> None:
    async with Bot(fake.token, base_url=fake.base_url) as bot:
        fake.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(USER, "hello")

        fake.fail_next("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)
        with pytest.raises(RetryAfter) as excinfo:
            await bot.send_message(USER, "hello")
        assert "7" in str(excinfo.value)

        # the failures were one-shot
        ok = await bot.send_message(USER, "hello")
        assert ok.text == "hello"
        assert [m["text"] for m in fake.sent_messages(USER)] == ["hello"]
        assert [name for name, _ in fake.calls].count("sendMessage") == 3


@pytest.mark.asyncio
async def test_wrong_token_is_rejected(fake: FakeBotAPI) -> None:
    bot = Bot("999:WRONG-TOKEN", base_url=fake.base_url)
    try:
        with pytest.raises(InvalidToken):
            await bot.initialize()
    finally:
        await bot.shutdown()
    assert fake.calls == []


# --------------------------------------------------------------------------- raw HTTP
def test_raw_http_encodings_and_errors(fake: FakeBotAPI) -> None:
    with httpx.Client() as client:
        r = client.post(_api(fake, "getMe", "1:bad"))
        assert r.status_code == 401
        assert r.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}

        markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
        r = client.post(
            _api(fake, "sendMessage"),
            json={"chat_id": 5, "text": "json body", "reply_markup": markup},
        )
        assert r.status_code == 200 and r.json()["ok"] is True
        assert r.json()["result"]["reply_markup"] == markup

        r = client.post(
            _api(fake, "sendMessage"),
            data={"chat_id": "5", "text": "123", "reply_markup": json.dumps(markup)},
        )
        result = r.json()["result"]
        assert result["text"] == "123"  # text stays a string even if it looks numeric
        assert result["message_id"] == 2
        method, params = fake.calls[-1]
        assert method == "sendMessage"
        assert params == {"chat_id": 5, "text": "123", "reply_markup": markup}

        r = client.post(
            _api(fake, "sendDocument"),
            data={"chat_id": "5"},
            files={"document": ("r.txt", b"raw bytes", "text/plain")},
        )
        assert r.json()["result"]["document"]["mime_type"] == "text/plain"
        assert fake.documents[-1] == (5, "r.txt", b"raw bytes")

        r = client.post(_api(fake, "someFutureMethod"), data={"x": "1"})
        assert r.json() == {"ok": True, "result": True}

        r = client.post(_api(fake, "editMessageText"), data={"chat_id": 5, "message_id": 99})
        assert r.status_code == 400

        r = client.get(f"http://127.0.0.1:{fake.port}/nope")
        assert r.status_code == 404


def test_get_updates_long_polling_offset_and_limit(fake: FakeBotAPI) -> None:
    fake.long_poll_cap = 0.3
    with httpx.Client(timeout=5) as client:
        started = time.monotonic()
        r = client.post(_api(fake, "getUpdates"), data={"timeout": "30"})
        assert r.json() == {"ok": True, "result": []}
        assert 0.25 <= time.monotonic() - started < 2, "timeout must be capped"

        fake.long_poll_cap = 3.0
        timer = threading.Timer(0.2, fake.send_text, args=(USER, "/report tuần"))
        started = time.monotonic()
        timer.start()
        r = client.post(_api(fake, "getUpdates"), data={"timeout": "30"})
        assert time.monotonic() - started < 1.5, "an injected update must wake the long poll"
        (update,) = r.json()["result"]
        message = update["message"]
        assert message["text"] == "/report tuần"
        assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": 7}]
        assert message["chat"] == {"id": USER, "type": "private", "first_name": "Cán bộ"}
        fake.wait_until_delivered(timeout=1)
        assert fake.pending_updates() == 1  # delivered but not yet confirmed

        first = update["update_id"]
        second = fake.send_photo(USER, caption="ảnh hiện trường")
        third = fake.inject_raw_update(
            {
                "message": {
                    "message_id": 50,
                    "date": 1,
                    "chat": {"id": USER, "type": "private"},
                    "text": "raw",
                }
            }
        )
        assert (second, third) == (first + 1, first + 2)

        # without offset the unconfirmed updates come back again (Telegram semantics)
        r = client.post(_api(fake, "getUpdates"), data={"limit": "2"})
        assert [u["update_id"] for u in r.json()["result"]] == [first, second]
        photo = r.json()["result"][1]["message"]
        assert photo["photo"][-1]["file_id"] == "PHOTO1"
        assert photo["caption"] == "ảnh hiện trường"

        r = client.post(_api(fake, "getUpdates"), data={"offset": str(first + 2)})
        assert [u["update_id"] for u in r.json()["result"]] == [third]
        assert fake.pending_updates() == 1
        client.post(_api(fake, "getUpdates"), data={"offset": str(third + 1)})
        fake.wait_until_consumed(timeout=1)
        assert fake.pending_updates() == 0


def test_wait_helpers_time_out_with_a_dump(fake: FakeBotAPI) -> None:
    with pytest.raises(AssertionError, match="no matching message"):
        fake.wait_for_message(USER, timeout=0.05)
    with pytest.raises(AssertionError, match="no matching sendMessage call"):
        fake.wait_for_call("sendMessage", timeout=0.05)
    with pytest.raises(AssertionError, match="never sent"):
        fake.press_button(USER, 1, "x")
    fake.send_text(USER, "hi")
    with pytest.raises(AssertionError, match="not delivered"):
        fake.wait_until_delivered(timeout=0.05)


def test_bot_in_a_subprocess(fake: FakeBotAPI) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio
        from telegram import Bot

        async def main():
            async with Bot({fake.token!r}, base_url={fake.base_url!r}) as bot:
                await bot.send_message({USER}, "từ tiến trình con")

        asyncio.run(main())
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert fake.wait_for_message(USER, timeout=1)["text"] == "từ tiến trình con"


# --------------------------------------------------------------------------- limits and chaos
def _post(fake: FakeBotAPI, method: str, client_timeout: float = 10.0,
          **params: object) -> httpx.Response:
    return httpx.post(_api(fake, method), json=params, timeout=client_timeout)


class _Clock:
    """A settable monotonic clock for the flood limits: buckets refill without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limits_and_chaos_are_off_by_default(fake: FakeBotAPI) -> None:
    for i in range(40):  # over both limits if they were on
        assert _post(fake, "sendMessage", chat_id=USER, text=f"tin {i}").status_code == 200
    assert len(fake.sent_messages(USER)) == 40
    assert fake.fault_stats().as_dict() == {
        "429": 0, "429_limited": 0, "429_injected": 0, "5xx": 0, "timeouts": 0,
        "timeouts_delivered": 0, "timeouts_lost": 0, "dropped": 0, "messages": 40}


def test_per_chat_limit_answers_429_and_records_nothing(fake: FakeBotAPI) -> None:
    clock = _Clock()
    fake.clock = clock
    fake.set_limits(Limits(per_chat_per_second=1.0, per_chat_burst=3))
    codes = [_post(fake, "sendMessage", chat_id=USER, text=f"tin {i}").status_code
             for i in range(3)]
    assert codes == [200, 200, 200]  # the burst
    refused = _post(fake, "sendMessage", chat_id=USER, text="tin 3")
    assert refused.status_code == 429
    body = refused.json()
    assert body["ok"] is False and body["error_code"] == 429
    assert body["parameters"]["retry_after"] >= 1
    wait = body["parameters"]["retry_after"]
    assert body["description"] == f"Too Many Requests: retry after {wait}"
    assert [m["text"] for m in fake.sent_messages(USER)] == ["tin 0", "tin 1", "tin 2"]
    # an edit to the same chat is limited too; another chat is not
    assert _post(fake, "editMessageText", chat_id=USER, message_id=1, text="sửa").status_code == 429
    assert _post(fake, "sendMessage", chat_id=USER + 1, text="khác").status_code == 200
    # methods that send nothing are never limited
    for method, params in (("getMe", {}), ("getUpdates", {"timeout": 0}),
                           ("answerCallbackQuery", {"callback_query_id": "1"})):
        assert _post(fake, method, **params).status_code == 200, method
    clock.now += 1.0  # one second later: one more message
    assert _post(fake, "sendMessage", chat_id=USER, text="tin 4").status_code == 200
    assert _post(fake, "sendMessage", chat_id=USER, text="tin 5").status_code == 429
    stats = fake.fault_stats()
    assert (stats.limited, stats.too_many, stats.messages) == (3, 3, 5)


def test_overall_limit_is_about_30_a_second(fake: FakeBotAPI) -> None:
    clock = _Clock()
    fake.clock = clock
    fake.set_limits(Limits())
    codes = [_post(fake, "sendMessage", chat_id=USER + i, text="tin").status_code
             for i in range(31)]
    assert codes == [200] * 30 + [429]
    clock.now += 0.1  # 3 tokens
    codes = [_post(fake, "sendMessage", chat_id=USER + 100 + i, text="tin").status_code
             for i in range(4)]
    assert codes == [200, 200, 200, 429]
    assert fake.fault_stats().messages == 33


@pytest.mark.asyncio
async def test_limit_reaches_ptb_as_retry_after(fake: FakeBotAPI) -> None:
    fake.set_limits(Limits(per_chat_burst=1))
    async with Bot(fake.token, base_url=fake.base_url) as bot:
        await bot.send_message(USER, "một")
        with pytest.raises(RetryAfter) as excinfo:
            await bot.send_message(USER, "hai")
    assert int(excinfo.value.retry_after) >= 1  # type: ignore[arg-type]
    assert [m["text"] for m in fake.sent_messages(USER)] == ["một"]


def test_injected_429_and_5xx_are_seeded_and_counted(fake: FakeBotAPI) -> None:
    fake.set_chaos(seed=7, faults={"send": Faults(too_many=0.3, retry_after=(1, 2),
                                                  server_error=0.3)})
    first = [_post(fake, "sendMessage", chat_id=USER, text=f"tin {i}") for i in range(60)]
    codes = [r.status_code for r in first]
    assert set(codes) == {200, 429, 500, 502}
    for r in first:
        if r.status_code == 429:
            assert r.json()["parameters"]["retry_after"] in (1, 2)
        elif r.status_code >= 500:
            assert r.json()["ok"] is False
    stats = fake.fault_stats()
    assert stats.injected_429 == codes.count(429) and stats.limited == 0
    assert stats.server_errors == codes.count(500) + codes.count(502)
    assert stats.messages == codes.count(200) == len(fake.sent_messages(USER))
    # other families are untouched
    assert all(_post(fake, "getMe").status_code == 200 for _ in range(20))
    # the same seed, the same calls in the same order: the same answers
    fake.set_chaos(seed=7, faults={"send": Faults(too_many=0.3, retry_after=(1, 2),
                                                  server_error=0.3)})
    again = [_post(fake, "sendMessage", chat_id=USER, text=f"tin {i}").status_code
             for i in range(60)]
    assert again == codes
    fake.set_chaos()  # off
    assert all(_post(fake, "sendMessage", chat_id=USER, text="x").status_code == 200
               for _ in range(10))


def test_dropped_connection_has_no_effect(fake: FakeBotAPI) -> None:
    fake.set_chaos(faults={"send": Faults(dropped=1.0), "updates": Faults(dropped=1.0)})
    fake.send_text(USER, "xin chào")
    with pytest.raises(httpx.TransportError):
        _post(fake, "sendMessage", chat_id=USER, text="mất")
    with pytest.raises(httpx.TransportError):
        _post(fake, "getUpdates")
    assert fake.sent_messages(USER) == [] and fake.delivered_update_ids == []
    assert fake.fault_stats().dropped == 2


def test_slow_answer_times_out_and_is_delivered_or_not(fake: FakeBotAPI) -> None:
    fake.set_chaos(faults={"send": Faults(slow_delivered=1.0, slow_seconds=0.5)})
    with pytest.raises(httpx.ReadTimeout):
        _post(fake, "sendMessage", client_timeout=0.1, chat_id=USER, text="đến muộn")
    fake.wait_for_stats(lambda s: s.slow_delivered == 1)
    assert [m["text"] for m in fake.sent_messages(USER)] == ["đến muộn"]

    fake.set_chaos(faults={"send": Faults(slow_lost=1.0, slow_seconds=0.5)})
    with pytest.raises(httpx.ReadTimeout):
        _post(fake, "sendMessage", client_timeout=0.1, chat_id=USER, text="mất hẳn")
    stats = fake.wait_for_stats(lambda s: s.slow_lost == 1)
    assert [m["text"] for m in fake.sent_messages(USER)] == ["đến muộn"]
    assert (stats.timeouts, stats.messages) == (2, 1)


def test_fault_probabilities_are_checked() -> None:
    with pytest.raises(ValueError, match="at most 1"):
        Faults(too_many=0.6, server_error=0.6)
    with pytest.raises(ValueError, match="at least 1"):
        Faults(retry_after=(0, 2))
    with FakeBotAPI() as server, pytest.raises(ValueError, match="unknown method families"):
        server.set_chaos(faults={"sendMessage": Faults()})
    assert method_family("sendMessage") == "send"
    assert method_family("editMessageText") == "edit"
    assert method_family("getUpdates") == "updates"
    assert method_family("answerCallbackQuery") == "callback"
    assert method_family("getMe") == "other"


def test_send_text_if_quiet_and_pending_ids(fake: FakeBotAPI) -> None:
    first = fake.send_text(USER, "một")
    assert fake.pending_update_ids() == [first]
    assert fake.message_count(USER) == 0
    second = fake.send_text_if_quiet(USER, "hai", seen=0)
    assert second is not None and fake.pending_update_ids() == [first, second]
    _post(fake, "sendMessage", chat_id=USER, text="trả lời")
    assert fake.send_text_if_quiet(USER, "ba", seen=0) is None  # a new message arrived
    assert fake.pending_update_ids() == [first, second]
    third = fake.send_text_if_quiet(USER, "ba", seen=1)
    assert third is not None
    # the user's message comes after the bot's on screen (the chat's message ids are shared)
    update = _post(fake, "getUpdates").json()["result"][-1]
    assert update["message"]["message_id"] > fake.last_message(USER)["message_id"]
