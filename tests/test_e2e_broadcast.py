"""Issue 15's announcement end to end through the fake Bot API, in process (long polling, the
outbox courier): an admin composes in chat an announcement for the units that have not sent
February's report, sees the preview, confirms, watches the progress edits of that message and
gets the final report; each recipient gets it exactly once (those who reported, none); two
confirm with "✅ Đã nhận"; the admin sends a follow-up that reaches only the third.

The sender's pump calls the progress hook every second; here the test stops it, calls
`BroadcastProgress.tick` itself (its clock is the test's) and hands the announcement's outbox
rows to the courier in two halves, so that one progress edit in between is certain."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.app import App
from bot.config import Config, ReportsConfig, StorageConfig, TelegramConfig
from bot.domain.roles import Role
from bot.domain.units import check_import
from bot.services.delivery import BROADCAST, Parcel
from bot.services.invites import create_invite
from bot.services.reporting.broadcast_chat import BroadcastProgress
from bot.unit_files import read_unit_rows
from handlers.telegram.app import build_application
from handlers.telegram.runner import start_services, stop_services
from tests.fakebotapi import FakeBotAPI
from tests.harness import Clock
from tests.phones import TelegramPhone

VN = ZoneInfo("Asia/Ho_Chi_Minh")
TEMPLATE = """id = "thang"
title = "Báo cáo tháng"
period = "month"
deadline = "trước ngày 05 tháng sau"
applies_to = { levels = ["xa"] }

[[questions]]
id = "htx_moi"
text = "Số HTX mới"
type = "integer"
unit = "HTX"
"""
COMMUNES = [f"X{i:02d}" for i in range(1, 6)]
NAMES = {c: f"Đoàn xã Số {int(c[1:])}" for c in COMMUNES}
ADMIN = 8000
OFFICERS = {c: 8001 + i for i, c in enumerate(COMMUNES)}
TEXT = "Tỉnh đoàn nhắc: hạn báo cáo tháng 2 là hết ngày 04/03, các đồng chí gửi sớm."
FOLLOW = "Nhắc lại lần 2: đề nghị bấm «Đã nhận»."


async def to(fn: Callable[..., Any], *args: object, **kw: object) -> Any:
    """A phone's blocking call, off the event loop the bot runs on."""
    return await asyncio.to_thread(fn, *args, **kw)


def tap(fake: FakeBotAPI, user: int, label: str, expect: str) -> str:
    """Press the button whose label holds `label` on the newest message that has it, then
    wait for `expect` in that message (edited in place) or in a later one."""
    messages = fake.sent_messages(user)
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            for b in row:
                if label in b["text"]:
                    fake.press_button(user, message["message_id"], b["callback_data"])
                    found = fake.wait_for_message(
                        user, lambda m: expect in str(m.get("text", "")), timeout=20,
                        after=index)
                    return str(found.get("text", ""))
    raise AssertionError(f"no button {label!r} in chat {user}")


async def broadcast_rows(app: App) -> list[Parcel]:
    """The announcements' outbox rows still to deliver, taken as the sender takes them:
    claimed (pending → sending) where the storage claims them, else read back."""
    courier = app.channels.courier("telegram")
    assert courier is not None
    claim = getattr(app.storage, "claim_broadcast_rows", None)
    if claim is not None:
        return courier.stored(await claim("telegram", 1000))
    return [p for p in courier.stored(await app.storage.pending_outbox("telegram"))
            if p.message.priority == BROADCAST]


async def without_pump(app: App) -> None:
    """The test is the sender: a running pump (with its own clock) would deliver at once."""
    pump = getattr(app.channels, "pump", None)
    if pump is not None:
        await pump.stop()


def received(fake: FakeBotAPI, user: int, text: str) -> int:
    """How many messages to `user` hold `text`."""
    return sum(text in str(m.get("text", "")) for m in fake.sent_messages(user))


async def test_an_announcement_to_the_units_that_have_not_reported(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "thang.toml").write_text(TEMPLATE, encoding="utf-8")
    units_csv = tmp_path / "units.csv"
    units_csv.write_text("code,name,parent_code,level\nT,Tỉnh đoàn Thử,,tinh\n"
                         "H,Huyện đoàn Thử,T,huyen\n"
                         + "".join(f"{c},{NAMES[c]},H,xa\n" for c in COMMUNES),
                         encoding="utf-8")
    config = Config(storage=StorageConfig(path=tmp_path / "baocao.db"),
                    reports=ReportsConfig(dir=reports, lock_days=10),
                    telegram=TelegramConfig(max_per_second=0, max_per_chat_per_second=0))
    clock = Clock(datetime(2026, 3, 3, 10, 0, tzinfo=VN).astimezone(UTC))

    async def seed(app: App) -> None:
        listed, errors = check_import(read_unit_rows(units_csv), {})
        assert not errors
        await app.storage.upsert_units(listed)

    with FakeBotAPI() as fake:
        admin = TelegramPhone(fake, user=ADMIN)
        officers = {c: TelegramPhone(fake, user=u) for c, u in OFFICERS.items()}
        application = build_application(fake.token, fake.base_url)
        await application.initialize()
        app = await start_services(application, config, clock=clock, sweep_every=None,
                                   prepare=seed)
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0.0, timeout=1)
        courier = app.channels.courier("telegram")
        assert courier is not None
        progress = BroadcastProgress(app)
        await without_pump(app)
        try:
            for code, phone in officers.items():
                invite = await create_invite(app.storage, code, Role.OFFICER, 1, 7, clock())
                await to(phone.type, invite.code, expect=f"Bạn đã tham gia {NAMES[code]}")
            invite = await create_invite(app.storage, "T", Role.ADMIN, 1, 7, clock())
            await to(admin.type, invite.code, expect="Bạn đã tham gia Tỉnh đoàn Thử")
            for code in ("X01", "X02"):  # these two have reported February
                phone = officers[code]
                listed = await to(phone.type, "/baocao", expect="Tháng 2/2026")
                lines = listed.splitlines()
                number = next(line.split(".")[0] for i, line in enumerate(lines)
                              if line[:1].isdigit() and "Tháng 2/2026" in lines[i + 1])
                await to(phone.type, number, expect="Câu 1/")
                await to(phone.type, "3", expect="Tóm tắt")
                await to(phone.type, "gửi", expect="✅ Đã gửi")

            # composing: the units that have not sent February's report
            await to(admin.type, "/thongbao", expect="Bước 1/3")
            await to(tap, fake, ADMIN, "chưa gửi báo cáo", "Các đơn vị chưa gửi")
            form = await to(tap, fake, ADMIN, "Báo cáo tháng — Tháng 2/2026", "Hiện có: 3 người")
            assert "đơn vị chưa gửi Báo cáo tháng — Tháng 2/2026" in form, form
            await to(tap, fake, ADMIN, "Tiếp", "Bước 2/3")
            await to(admin.type, TEXT, expect="Bước 3/3")
            await to(tap, fake, ADMIN, "Yêu cầu xác nhận", "Yêu cầu xác nhận: có")
            preview = await to(tap, fake, ADMIN, "Xem trước", "Xem trước thông báo")
            assert "Sẽ gửi tới 3 người ở 3 đơn vị" in preview, preview
            assert TEXT in preview
            assert all(received(fake, u, TEXT) == 0 for u in OFFICERS.values())
            preview_id = fake.sent_messages(ADMIN)[-1]["message_id"]
            await to(tap, fake, ADMIN, "✅ Gửi", "đang gửi 0/3")

            # the sender: half the rows, a progress edit, the rest, the final report
            edits_before = sum(1 for c in fake.iter_calls("editMessageText")
                               if c.get("message_id") == preview_id)
            await progress.tick(clock())
            rows = await broadcast_rows(app)
            assert len(rows) == 3
            courier.enqueue(rows[:2])
            for parcel in rows[:2]:
                await courier.delivered_all(parcel.message.chat_id)
            await courier.flush()
            clock.now += timedelta(seconds=6)
            await progress.tick(clock())
            await courier.delivered_all(str(ADMIN))
            shown = await to(fake.wait_for_message, ADMIN,
                             lambda m: "đang gửi 2/3" in str(m.get("text", "")))
            assert shown["message_id"] == preview_id
            courier.enqueue(rows[2:])
            await courier.delivered_all(rows[2].message.chat_id)
            await courier.flush()
            clock.now += timedelta(seconds=1)  # finished: reported at once, not after 5 s
            await progress.tick(clock())
            await courier.delivered_all(str(ADMIN))
            final = await to(fake.wait_for_message, ADMIN,
                             lambda m: "đã gửi xong: 3/3 người nhận được" in str(m.get("text", ""))
                             and m["message_id"] != preview_id)
            assert "Đã xác nhận: 0" in str(final["text"])
            edits = [c for c in fake.iter_calls("editMessageText")
                     if c.get("message_id") == preview_id]
            assert len(edits) - edits_before >= 2  # "2/3", then the final figures
            await progress.tick(clock() + timedelta(seconds=10))  # nothing more
            assert received(fake, ADMIN, "đã gửi xong") == 2  # the edit and the report

            # exactly once each, to those who have not reported only
            for code, user in OFFICERS.items():
                assert received(fake, user, TEXT) == (0 if code in ("X01", "X02") else 1), code

            # two confirm
            for code in ("X03", "X04"):
                marked = await to(tap, fake, OFFICERS[code], "Đã nhận", "Đã xác nhận lúc")
                assert marked.startswith("📢 Thông báo từ Tỉnh đoàn Thử") and TEXT in marked
                assert "✅ Đã xác nhận lúc 10:00 03/03/2026" in marked
                message = fake.sent_messages(OFFICERS[code])[-1]
                assert TEXT in message["text"] and not message.get("reply_markup")
            status = await app.broadcasts.status(1)
            assert status.acknowledged == 2

            # the admin follows up: only the third
            await to(admin.type, "/thongbao", expect="Bước 1/3")
            await to(tap, fake, ADMIN, "Thông báo đã gửi", "Thông báo bạn đã gửi")
            shown_status = await to(tap, fake, ADMIN, "#1", "Đã xác nhận: 2/3")
            assert "Người nhận: 3" in shown_status
            who = await to(tap, fake, ADMIN, "Ai chưa xác nhận", "Chưa xác nhận thông báo #1")
            assert NAMES["X05"] in who and NAMES["X03"] not in who
            await to(tap, fake, ADMIN, "Nhắc lại người chưa xác nhận", "Nhắc lại 1 người")
            again = await to(admin.type, FOLLOW, expect="Xem trước thông báo")
            assert "Sẽ gửi tới 1 người ở 1 đơn vị" in again
            await to(tap, fake, ADMIN, "✅ Gửi", "Thông báo #2")
            rows = await broadcast_rows(app)
            assert len(rows) == 1
            courier.enqueue(rows)
            for parcel in rows:
                await courier.delivered_all(parcel.message.chat_id)
            await courier.flush()
            await progress.tick(clock() + timedelta(seconds=20))
            await courier.delivered_all(str(ADMIN))
            await to(fake.wait_for_message, ADMIN,
                     lambda m: "#2 đã gửi xong: 1/1" in str(m.get("text", "")))
            for code, user in OFFICERS.items():
                assert received(fake, user, FOLLOW) == (1 if code == "X05" else 0), code
                assert received(fake, user, TEXT) == (0 if code in ("X01", "X02") else 1), code
        finally:
            await application.updater.stop()
            await application.stop()
            await stop_services(application)
            await application.shutdown()
