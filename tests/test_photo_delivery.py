"""A Reply with a picture (the digest's chart) through the channel seam: stored in the outbox
with the picture, uploaded to Telegram with sendPhoto (multipart, through python-telegram-bot,
against the fake Bot API), sent again after a crash like any text, and left out on Zalo, whose
Bot API takes pictures only by URL."""

from __future__ import annotations

import json
from typing import Any

from telegram import Bot

from bot.charts import ChartData, TargetBar, UnitBar, render_digest_chart
from bot.domain.buttons import OpenReport
from bot.domain.dialogue import Button, Reply
from bot.services.channels import Channels, Inbound, Pressed
from bot.services.delivery import REPLY, Courier, Limits
from handlers.telegram import delivery as telegram
from handlers.zalo import delivery as zalo
from handlers.zalo.client import ZaloClient
from storage.models import Changes, Outgoing, Person
from storage.sqlite import SqliteStorage
from tests.fakebotapi import FakeBotAPI
from tests.fakezalo import FakeZalo

CHAT = 4242
TEXT = "📊 Tổng hợp Quý I/2026: đã gửi 7/8 đơn vị (87,5%), đúng hạn 6."
BUTTON = [[Button.of("Mở đơn vị", OpenReport(0, "thu_nghiem", "2026-Q1"))]]
# A real chart, drawn once: the bytes that must arrive unchanged.
PNG = render_digest_chart(ChartData(
    "Báo cáo quý thử nghiệm · Huyện Bát Xát", "Quý I/2026 · đến 08:00 ngày 05/03/2026",
    [UnitBar("Đoàn xã Mường Hum", 0.875, 0.75), UnitBar("Đoàn xã Ý Tý", 0.5, 0.5)],
    [TargetBar("Tỷ lệ đúng hạn", 0.9, False)]))


async def nothing(*args: object) -> None:
    """Recording delivered rows: nothing (as if the process died before recording)."""


def methods(payloads: list[dict[str, Any]]) -> list[str]:
    return [p["m"] for p in payloads]


# --- what Telegram is asked to do ---------------------------------------------------------------


def test_a_short_text_without_buttons_is_the_pictures_caption() -> None:
    (call,) = telegram.render(None, str(CHAT), [Reply(TEXT, photo=PNG)])
    assert call["m"] == telegram.PHOTO and call["p"] == {"chat_id": CHAT, "caption": TEXT}
    assert json.loads(json.dumps(call))["file"] == call["file"]  # JSON, as the outbox keeps it


def test_buttons_go_on_a_text_after_the_picture_never_on_it() -> None:
    photo, text = telegram.render(None, str(CHAT), [Reply(TEXT, BUTTON, photo=PNG)])
    assert photo["m"] == telegram.PHOTO and "caption" not in photo["p"]
    assert "reply_markup" not in photo["p"]
    assert text["m"] == telegram.SEND and text["p"]["text"] == TEXT
    assert text["p"]["reply_markup"]["inline_keyboard"][0][0]["text"] == "Mở đơn vị"


def test_a_text_too_long_for_a_caption_follows_the_picture() -> None:
    long = "Đoàn xã Mường Hum chưa gửi. " * 40  # > 1024 characters
    photo, text = telegram.render(None, str(CHAT), [Reply(long, photo=PNG)])
    assert "caption" not in photo["p"] and text["p"]["text"] == long
    (alone,) = telegram.render(None, str(CHAT), [Reply("", photo=PNG)])
    assert alone["m"] == telegram.PHOTO and "caption" not in alone["p"]


def test_a_picture_never_replaces_the_pressed_message() -> None:
    """A text message cannot become a picture: the pressed one is marked, the picture is new."""
    event = Inbound("telegram", str(CHAT), button="x",
                    pressed=Pressed("17", "Chọn kỳ báo cáo", "Quý I/2026"))
    calls = telegram.render(event, str(CHAT), [Reply(TEXT, photo=PNG, replace=True)])
    assert methods(calls) == [telegram.EDIT, telegram.PHOTO]
    assert calls[0]["p"]["text"] == "Chọn kỳ báo cáo\n\n→ Quý I/2026"
    without = telegram.render(event, str(CHAT), [Reply(TEXT, replace=True)])
    assert methods(without) == [telegram.EDIT]  # a text still replaces it


# --- through the outbox to the fake Bot API -------------------------------------------------


async def test_a_stored_picture_is_uploaded_and_sent_again_after_a_crash(
        storage: SqliteStorage) -> None:
    replies = [Reply(TEXT, photo=PNG), Reply("Xem chi tiết từng đơn vị:", BUTTON)]
    rows = [Outgoing("telegram", str(CHAT), json.dumps(p, ensure_ascii=False), 1, "u1", REPLY)
            for p in telegram.render(None, str(CHAT), replies)]
    assert await storage.apply(Changes(actor=0, outbox=rows))

    async def record(settled: list[tuple[int, str]], marks: dict[str, int]) -> None:
        await storage.apply(Changes(actor=0, settled=settled))

    with FakeBotAPI() as fake:
        async with Bot(fake.token, base_url=fake.base_url) as bot:
            # delivered, then the process dies before recording it ...
            first = Courier("telegram", telegram.TelegramTransport(bot), telegram.render,
                            record=nothing, unreachable=nothing, limits=Limits(0, 0))
            first.start()
            first.enqueue(first.stored(await storage.pending_outbox("telegram")))
            await first.delivered_all(str(CHAT))
            await first.stop()
            assert len(await storage.pending_outbox("telegram")) == 2
            # ... so the next start sends both again, the same picture, and records them
            second = Courier("telegram", telegram.TelegramTransport(bot), telegram.render,
                             record=record, unreachable=nothing, limits=Limits(0, 0))
            second.start()
            second.enqueue(second.stored(await storage.pending_outbox("telegram")))
            await second.delivered_all(str(CHAT))
            await second.stop()
        assert fake.photos == [(CHAT, PNG, TEXT), (CHAT, PNG, TEXT)]
        (upload, _) = [p for m, p in fake.calls if m.lower() == "sendphoto"]
        assert upload["photo"]["filename"] == telegram.PHOTO_NAME
        assert upload["photo"]["mime_type"] == "image/png"
        messages = fake.sent_messages(CHAT)
        assert [m.get("caption") or m.get("text") for m in messages] == [
            TEXT, "Xem chi tiết từng đơn vị:"] * 2
        width = int.from_bytes(PNG[16:20], "big")
        assert messages[0]["photo"][0]["width"] == width == 1080
    assert await storage.pending_outbox("telegram") == []


async def test_a_pushed_picture_is_sent_and_a_broken_one_refused_alone() -> None:
    """A scheduled digest is a push (Courier.send): the same upload; a picture Telegram
    cannot read is dropped as malformed, and the next message still goes."""
    person = Person(1, "telegram", str(CHAT), "Giám sát")
    with FakeBotAPI() as fake:
        async with Bot(fake.token, base_url=fake.base_url) as bot:
            courier = Courier("telegram", telegram.TelegramTransport(bot), telegram.render,
                              record=nothing, unreachable=nothing, limits=Limits(0, 0),
                              pictures=telegram.PICTURES)
            courier.start()
            assert await courier.send(person, Reply(TEXT, photo=PNG)) == "sent"
            assert await courier.send(person, Reply("hỏng", photo=b"not a picture")) == "failed"
            assert await courier.send(person, Reply("sau đó")) == "sent"
            await courier.stop()
        assert fake.photos == [(CHAT, PNG, TEXT)]
        assert fake.last_message(CHAT)["text"] == "sau đó"


# --- Zalo: the text alone -----------------------------------------------------------------


async def test_zalo_sends_the_text_only_and_says_it_cannot_show_pictures() -> None:
    assert zalo.render(None, "z1", [Reply(TEXT, photo=PNG), Reply("", photo=PNG)]) == [
        {"m": zalo.SEND, "p": {"chat_id": "z1", "text": TEXT}}]  # a picture alone: nothing
    with FakeZalo(max_poll=0.2) as fake:
        client = ZaloClient(fake.token, fake.base_url)
        courier = Courier("zalo", zalo.ZaloTransport(client), zalo.render, record=nothing,
                          unreachable=nothing, limits=Limits(0, 0), pictures=zalo.PICTURES)
        courier.start()
        zalo_person = Person(2, "zalo", "z1", "Giám sát")
        assert await courier.send(zalo_person, Reply(TEXT, photo=PNG)) == "sent"
        await courier.stop()
        await client.close()
        assert [(m["method"], m["text"]) for m in fake.sent_messages("z1")] == [
            ("sendMessage", TEXT)]
    channels = Channels()
    channels.register_courier(courier)
    telegram_courier = Courier("telegram", telegram.TelegramTransport(Bot("1:x")),
                               telegram.render, record=nothing, unreachable=nothing,
                               pictures=telegram.PICTURES)
    channels.register_courier(telegram_courier)
    assert telegram.PICTURES and not zalo.PICTURES
    assert not channels.sends_pictures(zalo_person)
    assert channels.sends_pictures(Person(1, "telegram", str(CHAT), "Giám sát"))
    assert not channels.sends_pictures(Person(3, "test", "t", "Giám sát"))

