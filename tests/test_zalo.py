"""The Zalo channel in pieces: updates → events, replies → messages, the client against the
fake Zalo Bot API, refusals sorted for the courier, pictures kept, the monthly count."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.config import Config, StorageConfig, ZaloConfig
from bot.domain import messages_vi as M
from bot.domain.buttons import Skip, ToSummary
from bot.domain.dialogue import Button, Reply
from bot.domain.roles import Role
from bot.scheduler import Scheduler
from bot.services.delivery import Refused, Rejected, RetryLater
from handlers.lifecycle import stop_channels
from handlers.text_render import utf16_units
from handlers.zalo.channel import ZaloChannel
from handlers.zalo.client import ZaloClient, ZaloError, unwrap_updates
from handlers.zalo.delivery import TEXT_LIMIT, render, sorted_failure
from handlers.zalo.media import MediaStore
from handlers.zalo.updates import event_id, to_inbound
from tests.fakezalo import FakeZalo
from tests.harness import Chat, Clock, join, make_app
from tests.phones import JPEG


def update(event: str = "message.text.received", **message: Any) -> dict[str, Any]:
    base = {"message_id": "a1b2", "date": 1_765_000_000_000,
            "chat": {"id": "u1", "chat_type": "PRIVATE"},
            "from": {"id": "u1", "display_name": "Lò Thị Mai", "is_bot": False}}
    return {"event_name": event, "message": {**base, **message}}


# --- updates → events ------------------------------------------------------------------------


def test_text_command_and_code_become_events() -> None:
    event = to_inbound(update(text="12,5"))
    assert event is not None
    assert (event.channel, event.user_id, event.chat, event.text) == ("zalo", "u1", "u1", "12,5")
    assert event.display_name == "Lò Thị Mai"
    assert event.event_id == "message.text.received:a1b2"
    command = to_inbound(update(text="/start ABCD1234"))
    assert command is not None and (command.command, command.argument) == ("start", "ABCD1234")


def test_pictures_stickers_and_the_rest() -> None:
    photo = to_inbound(update("message.image.received", photo_url="https://x/p.jpg"), "media:a.jpg")
    assert photo is not None and photo.photo == "media:a.jpg"
    sticker = to_inbound(update("message.sticker.received", sticker="s1"))
    assert sticker is not None and sticker.other == "sticker" and sticker.text == ""
    voice = to_inbound(update("message.voice.received"))
    assert voice is not None and voice.other == "voice"
    unknown = to_inbound(update("message.location.received"))
    assert unknown is not None and unknown.other == "other"


def test_liberal_in_the_types_of_fields() -> None:
    person = update(text=7)
    person["message"]["from"]["is_bot"] = "false"  # a string: still a person
    event = to_inbound(person)
    assert event is not None and event.text == "7"
    bot = update(text="1")
    bot["message"]["from"]["is_bot"] = "true"
    assert to_inbound(bot) is None


def test_groups_and_bots_are_ignored() -> None:
    group = update(text="1")
    group["message"]["chat"] = {"id": "g1", "chat_type": "GROUP"}
    assert to_inbound(group) is None
    bot = update(text="1")
    bot["message"]["from"]["is_bot"] = True
    assert to_inbound(bot) is None


def test_event_id_is_the_same_for_the_same_message() -> None:
    assert event_id(update(text="1")) == event_id(update(text="1"))
    assert event_id(update(text="1")) != event_id(update("message.image.received", text="1"))
    nameless, again, other = update(text="5"), update(text="5"), update(text="6")
    for u in (nameless, again, other):
        del u["message"]["message_id"]
    assert event_id(nameless) == event_id(again)  # known by its content
    assert event_id(nameless) != event_id(other)


def test_bare_wrapped_and_listed_bodies_are_accepted() -> None:
    bare = update(text="1")
    assert unwrap_updates(bare) == [bare]
    assert unwrap_updates({"ok": True, "result": bare}) == [bare]
    assert unwrap_updates([bare, bare]) == [bare, bare]
    assert unwrap_updates({"ok": False, "error_code": 408}) == []
    assert unwrap_updates("nonsense") == []


# --- replies → messages ------------------------------------------------------------------------


def test_buttons_become_numbered_lines_and_keywords() -> None:
    choices = Reply("Chọn một:", [[Button.of("Có", Skip("q1"))], [Button.of("Không", Skip("q2"))]],
                    numbered=True)
    [call] = render(None, "u1", [choices])
    assert call == {"m": "sendMessage", "p": {"chat_id": "u1", "text": (
        "Chọn một:\n\n  1. Có\n  2. Không\n(Gõ số để chọn)")}}
    words = Reply("Kiểm tra lại rồi bấm “Gửi báo cáo”.",
                  [[Button.of("📋 Tóm tắt", ToSummary(), "tóm tắt")]])
    [call] = render(None, "u1", [words])
    assert call["p"]["text"] == "Kiểm tra lại rồi chọn “Gửi báo cáo”.\n\n(Có thể gõ: “tóm tắt”)"


def test_long_replies_are_split_on_lines_within_2000() -> None:
    lines = [f"{i}. Đoàn xã số {i} 🙏 chưa gửi báo cáo" for i in range(200)]
    calls = render(None, "u1", [Reply("\n".join(lines))])
    assert len(calls) > 1
    assert all(utf16_units(c["p"]["text"]) <= TEXT_LIMIT for c in calls)
    assert "\n".join(c["p"]["text"] for c in calls) == "\n".join(lines)  # nothing lost or cut


# --- refusals, sorted for the courier -----------------------------------------------------------


@pytest.mark.parametrize(("code", "status", "kind"), [
    (429, 429, RetryLater), (403, 403, Refused), (400, 400, Rejected), (401, 401, ZaloError),
    (500, 500, ZaloError), (-201, 400, Rejected), (-216, 200, Rejected)])
def test_refusals_are_sorted(code: int, status: int, kind: type[Exception]) -> None:
    assert isinstance(sorted_failure(ZaloError(code, "x", status)), kind)


def test_retry_after_is_read_from_the_description() -> None:
    wait = sorted_failure(ZaloError(429, "Too many requests, retry after 7", 429))
    assert isinstance(wait, RetryLater) and wait.seconds == 7


# --- the client against the fake server -------------------------------------------------------


async def test_client_polls_one_update_at_a_time_and_408_means_none() -> None:
    for idle_as_200 in (False, True):
        with FakeZalo(max_poll=0.2, idle_as_200=idle_as_200) as fake:
            client = ZaloClient(fake.token, fake.base_url)
            try:
                me = await client.call("getMe")
                assert me["id"] == fake.bot_id
                sent = await asyncio.to_thread(fake.send_text, "u9", "xin chào")
                assert await client.get_updates(1) == [sent]
                assert await client.get_updates(1) == []  # idle: 408, not an error
                with pytest.raises(ZaloError) as refused:
                    await client.call("sendMessage", {"chat_id": "u9", "text": "x" * 2001})
                assert refused.value.code == 400
            finally:
                await client.close()


async def test_a_wrong_token_is_a_zalo_error() -> None:
    with FakeZalo(max_poll=0.2) as fake:
        client = ZaloClient("1:wrong", fake.base_url)
        try:
            with pytest.raises(ZaloError) as refused:
                await client.call_retrying("getMe")
            assert refused.value.code == 401
        finally:
            await client.close()


# --- pictures --------------------------------------------------------------------------------


async def test_a_picture_is_kept_a_gone_one_is_none_an_unreachable_one_its_url(
        tmp_path: Path) -> None:
    with FakeZalo(max_poll=0.2) as fake:
        url = fake.add_image("p.jpg", JPEG)
        store = MediaStore(tmp_path / "media", httpx.AsyncClient(), attempts=1)
        try:
            kept = await store.keep(url)
            assert kept is not None and kept.startswith("media:")
            path = store.path_of(kept)
            assert path is not None and path.read_bytes() == JPEG
            assert await store.keep(url) == kept  # the same picture is kept once
            fake.expire_image("p.jpg")
            assert await store.keep(url) is None  # gone: nothing to store (asked again)
            down = "http://127.0.0.1:9/p.jpg"
            assert await store.keep(down) == down  # not now: the URL is what is left
            assert store.path_of("media:../../etc/passwd") == tmp_path / "media" / "passwd"
        finally:
            await store.close()


# --- in process: the channel, reminders, the count ---------------------------------------------


def zalo_config(app_config: Config, fake: FakeZalo, quota: int = 3000) -> Config:
    return app_config.model_copy(update={
        "zalo": ZaloConfig(base_url=fake.base_url, poll_timeout=1, monthly_quota=quota,
                           max_per_second=0, max_per_chat_per_second=0),
        "storage": StorageConfig(path=app_config.storage.path)})


async def test_a_reminder_reaches_a_zalo_officer_who_types_the_command(tmp_path: Path) -> None:
    clock = Clock(now=datetime(2026, 2, 26, 1, 0, tzinfo=UTC))  # 08:00 in Việt Nam
    app = await make_app(tmp_path, clock)
    await join(app, "z-officer", unit="LC-BX-01")
    await app.storage.db.write(lambda c: c.execute("UPDATE people SET channel='zalo'"))
    with FakeZalo(max_poll=0.5) as fake:
        channel = ZaloChannel(app, zalo_config(app.config, fake), fake.token)
        await channel.start()
        scheduler = Scheduler(app.reminders, app.channels, every=3600)
        scheduler.start()
        try:
            reminder = await asyncio.to_thread(fake.wait_for_message, "z-officer",
                                               lambda m: "Nhắc báo cáo" in m["text"])
            assert "(Có thể gõ: “/baocao”)" in reminder["text"]
            for typed, expect in (("/baocao", "1. Báo cáo quý thử nghiệm"),
                                  ("1", "Câu 1/")):
                seen = len(fake.sent_messages("z-officer"))
                await asyncio.to_thread(fake.send_text, "z-officer", typed)
                reply = await asyncio.to_thread(fake.wait_for_message, "z-officer", after=seen)
                assert expect in reply["text"]
        finally:
            await stop_channels(app, scheduler, [channel])
    counts = await app.storage.message_counts()
    assert counts == [("zalo", "2026-02", len(fake.sent_messages()))]
    await app.close()


async def test_admins_are_warned_once_at_80_percent_and_when_used_up(tmp_path: Path) -> None:
    clock = Clock(now=datetime(2026, 3, 10, 3, 0, tzinfo=UTC))
    app = await make_app(tmp_path, clock, with_test_template=False)
    await join(app, "z-admin", unit="LC", role=Role.ADMIN)
    await app.storage.db.write(lambda c: c.execute("UPDATE people SET channel='zalo'"))
    with FakeZalo(max_poll=0.5) as fake:
        channel = ZaloChannel(app, zalo_config(app.config, fake, quota=10), fake.token)
        await channel.start()
        try:
            channel.transport.sent = 7
            assert await channel.quota.count() == 7
            assert fake.sent_messages("z-admin") == []  # 70%: nothing yet
            channel.transport.sent = 8
            await channel.quota.count()
            [warning] = fake.sent_messages("z-admin")
            assert warning["text"].startswith("⚠ Bot Zalo đã dùng 80% hạn mức: 8/10 tin nhắn "
                                              "của tháng 03/2026")
            assert await channel.quota.count() == 9  # the warning itself: no second one
            assert len(fake.sent_messages("z-admin")) == 1
            channel.transport.sent += 1
            await channel.quota.count()
            assert fake.sent_messages("z-admin")[-1]["text"].startswith("⛔ Bot Zalo đã dùng hết")
        finally:
            await stop_channels(app, None, [channel])
    await app.close()


# --- one person on both channels ----------------------------------------------------------------


async def test_a_person_links_zalo_to_their_telegram_account(tmp_path: Path) -> None:
    app = await make_app(tmp_path, Clock())
    telegram = await join(app, "111", unit="LC-BX-01")
    await telegram.cmd("baocao")
    await telegram.say("1")  # opens the report; question 1 on screen
    assert "Đã lưu" in (await telegram.say("có"))[0].text
    code = re.search(r"Mã liên kết của bạn: (\w+)", (await telegram.cmd("lienket"))[0].text)
    assert code is not None
    zalo = Chat(app, "z-111", channel="zalo")
    linked = await zalo.say(code.group(1))
    assert "Đã liên kết" in linked[0].text and "Đoàn xã Bản Vược" in linked[0].text
    resumed = await zalo.cmd("baocao")  # the same person: the same draft, the next question
    assert "Câu 2/" in "\n".join(r.text for r in resumed)
    await zalo.say("8")
    people = await app.storage.all_people()
    assert [(p.channel, p.external_id) for p in people] == [("test", "111"), ("zalo", "z-111")]
    assert len({p.id for p in people}) == 1  # one person, never two
    assert (await app.storage.unit_people("LC-BX-01", Role.OFFICER))[0].channel == "test"
    again = await Chat(app, "z-222", channel="zalo").say(code.group(1))  # used once
    assert again[0].text.startswith(f"Mã mời “{code.group(1)}” không đúng")
    other = await join(app, "333", unit="LC-BX-01")
    code2 = re.search(r": (\w+) \(", (await other.cmd("lienket"))[0].text)
    assert code2 is not None
    refused = await zalo.cmd("start", code2.group(1))  # already a person: not merged
    assert refused[0].text == M.LINK_ALREADY
    await app.close()
