"""An announcement with a document, then one with a photo, composed in Telegram through the fake
Bot API (long polling, the outbox courier): the admin sends the file in the chat, and each
recipient's sendDocument / sendPhoto carries the admin's Telegram file id (nothing uploaded),
exactly once per recipient."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.app import App
from bot.config import Config, ReportsConfig, StorageConfig, TelegramConfig
from bot.domain.roles import Role
from bot.domain.units import check_import
from bot.services.invites import create_invite
from bot.unit_files import read_unit_rows
from handlers.telegram.app import build_application
from handlers.telegram.runner import start_services, stop_services
from tests.fakebotapi import FakeBotAPI
from tests.harness import Clock
from tests.phones import TelegramPhone
from tests.test_e2e_broadcast import broadcast_rows, tap, to, without_pump

VN = ZoneInfo("Asia/Ho_Chi_Minh")
ADMIN = 8100
OFFICERS = [8101, 8102]
DOC_TEXT = "Kế hoạch tháng 3: đề nghị các đơn vị nghiên cứu tệp kèm theo."
PHOTO_TEXT = "Lịch họp giao ban tháng 3 (ảnh)."


async def deliver(app: App) -> None:
    """Hand the announcements' rows to the courier and wait until every one is sent."""
    courier = app.channels.courier("telegram")
    assert courier is not None
    rows = await broadcast_rows(app)
    assert rows
    courier.enqueue(rows)
    for parcel in rows:
        await courier.delivered_all(parcel.message.chat_id)
    await courier.flush()


async def test_files_sent_in_chat_reach_recipients_by_file_id(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    units_csv = tmp_path / "units.csv"
    units_csv.write_text("code,name,parent_code,level\nT,Tỉnh đoàn Thử,,tinh\n"
                         "X1,Đoàn xã Một,T,xa\nX2,Đoàn xã Hai,T,xa\n", encoding="utf-8")
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
        application = build_application(fake.token, fake.base_url)
        await application.initialize()
        app = await start_services(application, config, clock=clock, sweep_every=None,
                                   prepare=seed)
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0.0, timeout=1)
        await without_pump(app)
        try:
            for unit, user in zip(("X1", "X2"), OFFICERS, strict=True):
                invite = await create_invite(app.storage, unit, Role.OFFICER, 1, 7, clock())
                await to(TelegramPhone(fake, user=user).type, invite.code,
                         expect="Bạn đã tham gia")
            invite = await create_invite(app.storage, "T", Role.ADMIN, 1, 7, clock())
            await to(admin.type, invite.code, expect="Bạn đã tham gia Tỉnh đoàn Thử")

            # a document, then the text typed
            await to(admin.type, "/thongbao", expect="Bước 1/3")
            await to(tap, fake, ADMIN, "Tiếp", "Bước 2/3")
            fake.send_document(ADMIN, "DOC-ADMIN-1", "ke-hoach-thang-3.pdf")
            await to(fake.wait_for_message, ADMIN,
                     lambda m: "Kèm tệp ke-hoach-thang-3.pdf: đã nhận" in str(m.get("text", "")))
            await to(admin.type, DOC_TEXT, expect="Bước 3/3")
            preview = await to(tap, fake, ADMIN, "Xem trước", "Xem trước thông báo")
            assert "📎 Kèm tệp ke-hoach-thang-3.pdf" in preview
            await to(tap, fake, ADMIN, "✅ Gửi", "Thông báo #1")
            await deliver(app)

            # a photo whose caption is the text
            await to(admin.type, "/thongbao", expect="Bước 1/3")
            await to(tap, fake, ADMIN, "Tiếp", "Bước 2/3")
            fake.send_photo(ADMIN, "PHOTO-ADMIN-1", caption=PHOTO_TEXT)
            await to(fake.wait_for_message, ADMIN,
                     lambda m: "Bước 3/3" in str(m.get("text", "")))
            preview = await to(tap, fake, ADMIN, "Xem trước", "Xem trước thông báo")
            assert "📎 Kèm ảnh" in preview and PHOTO_TEXT in preview
            await to(tap, fake, ADMIN, "✅ Gửi", "Thông báo #2")
            await deliver(app)

            documents = list(fake.iter_calls("sendDocument"))
            photos = list(fake.iter_calls("sendPhoto"))
            recipients = sorted([ADMIN, *OFFICERS])
            assert sorted(int(c["chat_id"]) for c in documents) == recipients  # once each
            assert sorted(int(c["chat_id"]) for c in photos) == recipients
            assert all(c["document"] == "DOC-ADMIN-1" for c in documents)
            assert all(c["photo"] == "PHOTO-ADMIN-1" for c in photos)
            assert all(DOC_TEXT in str(c.get("caption")) for c in documents)
            assert all(PHOTO_TEXT in str(c.get("caption")) for c in photos)
            assert fake.documents == [] and fake.photos == []  # nothing uploaded
            for n in (1, 2):
                status = await app.broadcasts.status(n)
                assert (status.recipients, status.delivered) == (3, 3), status
        finally:
            await application.updater.stop()
            await application.stop()
            await stop_services(application)
            await application.shutdown()
