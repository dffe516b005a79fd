"""A Reply with a file (the digest's Excel workbook or Word report) through the channel seam:
rendered as Telegram's sendDocument with the file in the outbox payload, uploaded (multipart,
through python-telegram-bot, against the fake Bot API) with its own name, sent again the same
after a crash, never in place of the pressed message, and left out on Zalo."""

from __future__ import annotations

import json

from telegram import Bot

from bot.domain.dialogue import Attachment, Reply
from bot.services.channels import Inbound, Pressed
from bot.services.delivery import REPLY, Courier, Limits
from handlers.telegram import delivery as telegram
from handlers.zalo import delivery as zalo
from storage.models import Changes, Outgoing
from storage.sqlite import SqliteStorage
from tests.fakebotapi import FakeBotAPI

CHAT = 4343
NAME = "bao-cao-thang-2026-02-huyen-doan-bat-xat.xlsx"
DATA = b"PK\x03\x04" + bytes(range(256)) * 40  # any bytes: they must arrive unchanged
FILE = Attachment(NAME, DATA)
TEXT = "📊 Báo cáo tháng · Tháng 2/2026 · Huyện đoàn Bát Xát"


async def nothing(*args: object) -> None:
    """Recording delivered rows: nothing (as if the process died before recording)."""


def test_a_file_is_a_document_with_the_text_as_its_caption() -> None:
    (call,) = telegram.render(None, str(CHAT), [Reply(TEXT, document=FILE)])
    assert call["m"] == telegram.DOCUMENT and call["name"] == NAME
    assert call["p"] == {"chat_id": CHAT, "caption": TEXT}
    assert json.loads(json.dumps(call)) == call  # JSON, as the outbox keeps it


def test_a_file_never_replaces_the_pressed_message() -> None:
    event = Inbound("telegram", str(CHAT), button="x",
                    pressed=Pressed("17", "📊 Báo cáo tháng", "📊 Excel"))
    calls = telegram.render(event, str(CHAT), [Reply(TEXT, document=FILE, replace=True)])
    assert [c["m"] for c in calls] == [telegram.EDIT, telegram.DOCUMENT]
    assert calls[0]["p"]["text"] == "📊 Báo cáo tháng\n\n→ 📊 Excel"


def test_zalo_leaves_the_file_out_and_sends_the_text() -> None:
    assert zalo.render(None, "z1", [Reply(TEXT, document=FILE), Reply("", document=FILE)]) == [
        {"m": zalo.SEND, "p": {"chat_id": "z1", "text": TEXT}}]


async def test_a_stored_file_is_uploaded_with_its_name_and_sent_again_after_a_crash(
        storage: SqliteStorage) -> None:
    rows = [Outgoing("telegram", str(CHAT), json.dumps(p, ensure_ascii=False), 1, "u1", REPLY)
            for p in telegram.render(None, str(CHAT), [Reply(TEXT, document=FILE)])]
    assert await storage.apply(Changes(actor=0, outbox=rows))

    async def record(settled: list[tuple[int, str]], marks: dict[str, int]) -> None:
        await storage.apply(Changes(actor=0, settled=settled))

    with FakeBotAPI() as fake:
        async with Bot(fake.token, base_url=fake.base_url) as bot:
            for recorder in (nothing, record):  # the first dies before recording it
                courier = Courier("telegram", telegram.TelegramTransport(bot),
                                  telegram.render, record=recorder, unreachable=nothing,
                                  limits=Limits(0, 0))
                courier.start()
                courier.enqueue(courier.stored(await storage.pending_outbox("telegram")))
                await courier.delivered_all(str(CHAT))
                await courier.stop()
        assert fake.documents == [(CHAT, NAME, DATA), (CHAT, NAME, DATA)]
        assert fake.last_message(CHAT)["document"]["file_name"] == NAME
        assert fake.last_message(CHAT)["caption"] == TEXT
    assert await storage.pending_outbox("telegram") == []
    # the delivered row is kept a week (as every delivery record), without its file
    kept = await storage.db.fetchall("SELECT state, payload FROM outbox")
    assert [r["state"] for r in kept] == ["sent"]
    payload = json.loads(kept[0]["payload"])
    assert "file" not in payload and payload["name"] == NAME and payload["m"] == "send_document"


async def test_a_file_telegram_finds_too_large_is_dropped_and_the_chat_goes_on(
        storage: SqliteStorage) -> None:
    """413 Request Entity Too Large fails the same every time: the file is dropped (not tried
    forever with the chat's later messages stuck behind it) and the next message is sent."""
    rows = [Outgoing("telegram", str(CHAT), json.dumps(p, ensure_ascii=False), 1, "u1", REPLY)
            for p in [*telegram.render(None, str(CHAT), [Reply(TEXT, document=FILE)]),
                      *telegram.render(None, str(CHAT), [Reply("Tiếp theo")])]]
    assert await storage.apply(Changes(actor=0, outbox=rows))

    async def record(settled: list[tuple[int, str]], marks: dict[str, int]) -> None:
        await storage.apply(Changes(actor=0, settled=settled))

    with FakeBotAPI() as fake:
        for _ in range(3):  # a too large file stays too large (3: the old retries end soon)
            fake.fail_next("sendDocument", 413, "Request Entity Too Large")
        async with Bot(fake.token, base_url=fake.base_url) as bot:
            courier = Courier("telegram", telegram.TelegramTransport(bot), telegram.render,
                              record=record, unreachable=nothing, limits=Limits(0, 0))
            courier.start()
            courier.enqueue(courier.stored(await storage.pending_outbox("telegram")))
            await courier.delivered_all(str(CHAT))
            await courier.stop()
        assert fake.documents == []
        assert fake.last_message(CHAT)["text"] == "Tiếp theo"
    assert await storage.pending_outbox("telegram") == []




def test_a_picture_and_a_file_carry_the_caption_once() -> None:
    calls = telegram.render(None, str(CHAT), [Reply(TEXT, photo=b"\x89PNG", document=FILE)])
    assert [c["m"] for c in calls] == [telegram.PHOTO, telegram.DOCUMENT]
    assert calls[0]["p"] == {"chat_id": CHAT, "caption": TEXT}
    assert calls[1]["p"] == {"chat_id": CHAT}  # the text is said once, on the picture
