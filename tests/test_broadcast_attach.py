"""/thongbao with a photo or a document sent in chat (through the harness, a real app on a real
SQLite file): on Telegram the file is the announcement's attachment, stored and re-sent by its
Telegram file id (the outbox rows hold the id, never bytes); a photo's caption is the text;
on another channel (Zalo) it is refused; a document during a report question is answered with
a message, the question asked again."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from telegram import Update

from bot.app import App
from bot.domain.conversation import Mode
from bot.domain.roles import Role
from bot.services.invites import create_invite
from handlers.telegram.app import to_inbound
from handlers.telegram.delivery import render as telegram_render
from tests.harness import Chat, Clock, _render, join, make_app
from tests.recording_request import photo_update


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    app = await make_app(tmp_path, Clock())  # 10:00 on 20/02/2026 in Vietnam
    # "test" recipients read the text-only rendering; Telegram ones Telegram's own calls
    app.broadcasts._renderers = {"test": _render, "telegram": telegram_render}
    yield app
    await app.close()


async def join_on(app: App, channel: str, user_id: str, unit: str, role: Role) -> Chat:
    invite = await create_invite(app.storage, unit, role, 1, 7, app.reporting.clock())
    chat = Chat(app, user_id, channel=channel)
    await chat.cmd("start", invite.code)
    assert "Bạn đã tham gia" in chat.text, chat.text
    return chat


async def payloads(app: App, channel: str) -> list[dict[str, Any]]:
    """The announcements' outbox payloads for one channel."""
    rows = await app.storage.db.fetchall(
        "SELECT payload FROM outbox WHERE broadcast_id IS NOT NULL AND channel=? ORDER BY id",
        (channel,))
    return [json.loads(r[0]) for r in rows]


async def stored_attachment(app: App) -> dict[str, Any]:
    row = await app.storage.db.fetchone("SELECT attachment FROM broadcasts WHERE id=1")
    assert row is not None and row[0]
    data: dict[str, Any] = json.loads(row[0])
    return data


async def test_a_photo_with_its_caption_is_the_announcement(app: App) -> None:
    admin = await join_on(app, "telegram", "900", "LC", Role.ADMIN)
    await join_on(app, "telegram", "901", "LC-BX-01", Role.OFFICER)
    await join(app, "o2", "LC-SP-01")  # on the text-only channel
    await admin.cmd("thongbao")
    await admin.press_label("Tiếp")
    assert "gửi kèm một ảnh hoặc một tệp" in admin.text
    await admin.photo("PHOTO-FILE-ID", caption="  Lịch họp tháng 3 kèm theo.  ")
    assert "Bước 3/3" in admin.text and "Lịch họp tháng 3 kèm theo." in admin.text
    assert "📎 Kèm ảnh" in admin.text
    await admin.press_label("Xem trước")
    assert "📎 Kèm ảnh" in admin.text and "Sẽ gửi tới 3 người" in admin.text
    await admin.press_label("✅ Gửi")
    assert (await app.broadcasts.status(1)).recipients == 3
    assert await stored_attachment(app) == {"kind": "photo", "name": "",
                                            "file_id": "PHOTO-FILE-ID"}
    sent = await payloads(app, "telegram")
    photos = [p for p in sent if p["m"] == "send_photo"]
    assert sorted(p["p"]["chat_id"] for p in photos) == [900, 901]  # once each
    for p in photos:
        assert p["p"]["photo"] == "PHOTO-FILE-ID" and "file" not in p
        assert "Lịch họp tháng 3 kèm theo." in p["p"]["caption"]
    # the text-only recipient reads the text and that a photo went with it elsewhere
    (other,) = await payloads(app, "test")
    assert "Lịch họp tháng 3" in json.dumps(other, ensure_ascii=False)
    assert "Thông báo có kèm ảnh" in json.dumps(other, ensure_ascii=False)


async def test_a_document_then_the_typed_text(app: App) -> None:
    admin = await join_on(app, "telegram", "900", "LC", Role.ADMIN)
    await join_on(app, "telegram", "901", "LC-BX-01", Role.OFFICER)
    await admin.cmd("thongbao")
    await admin.press_label("Tiếp")
    await admin.document("DOC-FILE-ID", "ke-hoach.pdf")
    assert "📎 Kèm tệp ke-hoach.pdf: đã nhận" in admin.text and "Bước 2/3" in admin.text
    await admin.say("Kế hoạch tháng 3, đề nghị các đơn vị nghiên cứu.")
    assert "Bước 3/3" in admin.text and "📎 Kèm tệp ke-hoach.pdf" in admin.text
    await admin.press_label("Xem trước")
    assert "📎 Kèm tệp ke-hoach.pdf" in admin.text
    await admin.press_label("✅ Gửi")
    assert await stored_attachment(app) == {"kind": "document", "name": "ke-hoach.pdf",
                                            "file_id": "DOC-FILE-ID"}
    docs = [p for p in await payloads(app, "telegram") if p["m"] == "send_document"]
    assert sorted(p["p"]["chat_id"] for p in docs) == [900, 901]
    assert all(p["p"]["document"] == "DOC-FILE-ID" and "file" not in p for p in docs)


async def test_a_file_elsewhere_than_the_text_step_is_refused(app: App) -> None:
    admin = await join_on(app, "telegram", "900", "LC", Role.ADMIN)
    await admin.cmd("thongbao")
    await admin.document("DOC-FILE-ID", "ke-hoach.pdf")  # still on "who"
    assert "ở bước gõ nội dung" in admin.text and "Bước 1/3" in admin.text
    person = await app.storage.find_person("telegram", "900")
    assert person is not None
    draft = app.reporting._states[person.id].broadcast
    assert draft is not None and "fa" not in draft


async def test_on_zalo_attachments_need_telegram(app: App) -> None:
    admin = await join_on(app, "zalo", "z-admin", "LC", Role.ADMIN)
    await admin.cmd("thongbao")
    await admin.press_label("Tiếp")
    await admin.photo("/var/lib/baocao/zalo/pic.jpg", caption="Chú thích")
    assert "chỉ gửi kèm được khi soạn thông báo trên Telegram" in admin.text
    assert "Bước 2/3" in admin.text
    person = await app.storage.find_person("zalo", "z-admin")
    assert person is not None
    state = app.reporting._states[person.id]
    assert state.mode is Mode.BROADCAST and state.broadcast is not None
    assert "fa" not in state.broadcast and "t" not in state.broadcast  # nothing taken


async def test_a_document_during_a_report_question(app: App) -> None:
    officer = await join_on(app, "telegram", "901", "LC-BX-01", Role.OFFICER)
    await officer.cmd("baocao")
    await officer.press(officer.last[0].flat_buttons()[0].data)
    assert "Câu 1/11" in officer.text
    await officer.document("DOC-FILE-ID", "bao-cao.xlsx", caption="có")
    assert "chưa đọc được tệp đính kèm" in officer.text and "Câu 1/11" in officer.text
    # nothing answered: the caption is not taken for the answer
    await officer.press_label("Có")
    assert "Câu 2/11" in officer.text


def test_telegram_keeps_a_photos_caption_and_reads_a_document() -> None:
    photo = photo_update(5001, "BIG")
    photo["message"]["caption"] = "Lịch họp"
    event = to_inbound(Update.de_json(photo, None))
    assert event is not None and event.photo == "BIG" and event.caption == "Lịch họp"
    assert event.text == ""  # a caption is never typed text (an invite code, an answer)
    doc = photo_update(5001, "X")
    del doc["message"]["photo"]
    doc["message"]["document"] = {"file_id": "DOC", "file_unique_id": "u",
                                  "file_name": "ke-hoach.pdf"}
    event = to_inbound(Update.de_json(doc, None))
    assert event is not None and event.document == ("DOC", "ke-hoach.pdf")
    assert event.other is None and event.caption == ""
