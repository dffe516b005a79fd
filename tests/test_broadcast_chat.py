"""/thongbao in chat through the harness (a real app on a real SQLite file, the legacy tree
LC → LC-BX / LC-SP / LC-BH): each kind of audience, bad input, cancelling, refusals, the
preview before anything is created, the sender's list, "✅ Đã nhận" pressed and "đã nhận"
typed, and the progress hook."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.domain.broadcasts import Audience, BroadcastDraft
from bot.domain.buttons import AckBroadcast, BroadcastAction, Compose
from bot.domain.conversation import Mode
from bot.domain.roles import Role
from bot.services.delivery import BROADCAST, Courier, Limits
from bot.services.reporting.broadcast_chat import BroadcastProgress
from storage.models import Changes, Stored
from tests.harness import Chat, Clock, Messenger, _render, deliver_through, join, make_app


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    app = await make_app(tmp_path, Clock())  # 10:00 on 20/02/2026 in Vietnam
    # the harness's "test" channel renders broadcasts as its replies (text only)
    app.broadcasts._renderers = {"test": _render}
    yield app
    await app.close()


async def count_broadcasts(app: App) -> int:
    row = await app.storage.db.fetchone("SELECT COUNT(*) AS n FROM broadcasts")
    assert row is not None
    return int(row["n"])


async def state(app: App, chat: Chat) -> Mode:
    person = await app.storage.find_person("test", chat.user_id)
    assert person is not None
    stored = app.reporting._states.get(person.id)
    return stored.mode if stored is not None else Mode.IDLE


async def broadcast_rows(app: App) -> list[Stored]:
    """The announcements' rows to deliver, taken as the sender's pump takes them (claimed)
    where the storage claims them, else read back (not the replies also pending)."""
    claim = getattr(app.storage, "claim_broadcast_rows", None)
    if claim is not None:
        return list(await claim("test", 100))
    return [r for r in await app.storage.pending_outbox("test")
            if r.message.priority == BROADCAST]


def labels(chat: Chat) -> str:
    return " | ".join(b.label for r in chat.last for b in r.flat_buttons())


async def compose(admin: Chat, text: str = "Họp giao ban lúc 8h thứ Hai.") -> None:
    """From /thongbao to the preview: whole reach, the text, no options."""
    await admin.cmd("thongbao")
    await admin.press_label("Tiếp")
    await admin.say(text)
    await admin.press_label("Xem trước")


async def test_whole_reach_previewed_then_sent_only_on_gui(app: App) -> None:
    admin = await join(app, "admin", "LC", Role.ADMIN)
    for i, unit in enumerate(["LC-BX-01", "LC-BX-02", "LC-SP-01"]):
        await join(app, f"o{i}", unit)
    await admin.cmd("thongbao")
    assert "Bước 1/3" in admin.text and "Toàn bộ đơn vị trong phạm vi" in admin.text
    assert "4 người" in admin.text  # three officers and the admin
    await admin.press_label("Tiếp")
    assert "Bước 2/3" in admin.text
    await admin.say("Hạn báo cáo 6 tháng lùi đến ngày 10/6.")
    assert "Bước 3/3" in admin.text and "Hạn báo cáo 6 tháng" in admin.text
    await admin.press_label("Xem trước")
    assert "Sẽ gửi tới 4 người ở 4 đơn vị" in admin.text
    assert "Hạn báo cáo 6 tháng lùi đến ngày 10/6." in admin.text
    assert "Tỉnh đoàn Lào Cai" in admin.text  # the heading recipients read
    assert await count_broadcasts(app) == 0  # nothing before "Gửi"
    await admin.press_label("✅ Gửi")
    assert await count_broadcasts(app) == 1
    assert "Thông báo #1" in admin.text
    status = await app.broadcasts.status(1)
    assert status.recipients == 4 and status.state == "sending"
    # the preview's "Gửi" pressed again (a double tap): stale, nothing more created
    await admin.press(Compose("go").pack())
    assert "Nút này đã cũ" in admin.text
    assert await count_broadcasts(app) == 1


async def test_a_unit_picked_down_the_tree(app: App) -> None:
    admin = await join(app, "admin", "LC", Role.ADMIN)
    await join(app, "bx1", "LC-BX-01")
    await join(app, "bx2", "LC-BX-02")
    await join(app, "sp1", "LC-SP-01")
    await admin.cmd("thongbao")
    await admin.press_label("Chọn đơn vị")
    assert "✔ Huyện đoàn Bát Xát" in labels(admin)
    await admin.press(Compose("u", "LC-BX").pack())  # 📂: its communes
    assert "Đoàn xã Bản Vược" in labels(admin)
    await admin.press_label("✔ Cả Huyện đoàn Bát Xát")
    assert "Gửi tới: Huyện đoàn Bát Xát" in admin.text and "2 người" in admin.text
    await admin.press_label("Tiếp")
    await admin.say("Chỉ Bát Xát.")
    await admin.press_label("Xem trước")
    await admin.press_label("✅ Gửi")
    row = await app.broadcasts.get(1)
    assert row is not None and Audience.from_json(row.audience).units == ("LC-BX",)
    assert (await app.broadcasts.status(1)).recipients == 2


async def test_level_and_role_combined(app: App) -> None:
    admin = await join(app, "admin", "LC", Role.ADMIN)
    await join(app, "bx1", "LC-BX-01")
    await join(app, "huyen", "LC-BX", Role.SUPERVISOR)
    await join(app, "huyen-officer", "LC-SP")
    await admin.cmd("thongbao")
    await admin.press_label("Chọn cấp")
    await admin.press_label("cấp huyện")
    assert "cấp huyện" in admin.text and "2 người" in admin.text
    await admin.press_label("Chọn vai trò")
    await admin.press_label("Cán bộ theo dõi")
    assert "1 người" in admin.text
    await compose_rest(admin)
    row = await app.broadcasts.get(1)
    assert row is not None
    audience = Audience.from_json(row.audience)
    assert [lv.value for lv in audience.levels] == ["huyen"]
    assert [r.value for r in audience.roles] == ["supervisor"]
    assert (await app.broadcasts.status(1)).recipients == 1


async def compose_rest(admin: Chat) -> None:
    await admin.press_label("Tiếp")
    await admin.say("Nội dung.")
    await admin.press_label("Xem trước")
    await admin.press_label("✅ Gửi")


async def test_units_that_have_not_sent_the_chased_period(app: App) -> None:
    admin = await join(app, "admin", "LC", Role.ADMIN)
    await join(app, "bx1", "LC-BX-01")
    await join(app, "bx2", "LC-BX-02")
    await admin.cmd("thongbao")
    await admin.press_label("chưa gửi báo cáo")
    assert "Báo cáo quý thử nghiệm — Quý I/2026" in labels(admin)
    await admin.press_label("Báo cáo quý thử nghiệm — Quý I/2026")
    assert "chưa gửi" in admin.text
    await compose_rest(admin)
    row = await app.broadcasts.get(1)
    assert row is not None
    assert Audience.from_json(row.audience).missing == ("thu_nghiem", "2026-Q1")
    # both communes owe the report: their officers (the admin is at the province)
    assert (await app.broadcasts.status(1)).recipients == 2


async def test_another_period_picked(app: App) -> None:
    admin = await join(app, "admin", "LC", Role.ADMIN)
    await join(app, "bx1", "LC-BX-01")
    await admin.cmd("thongbao")
    await admin.press_label("chưa gửi báo cáo")
    await admin.press_label("Chọn kỳ khác")
    assert "Quý IV/2025" in labels(admin)
    await admin.press_label("Quý IV/2025")
    assert "Gửi tới:" in admin.text
    person = await app.storage.find_person("test", "admin")
    assert person is not None
    draft = app.reporting._states[person.id].broadcast
    assert draft is not None and draft["a"]["missing"] == ["thu_nghiem", "2025-Q4"]


async def test_bad_input_is_said_and_the_question_asked_again(app: App) -> None:
    admin = await join(app, "admin", "LC", Role.ADMIN)
    await join(app, "bx1", "LC-BX-01")
    await admin.cmd("thongbao")
    await admin.say("gửi cho mọi người")  # words on a screen of buttons
    assert "Hãy bấm một nút" in admin.text and "Bước 1/3" in admin.text
    await admin.press_label("Tiếp")
    await admin.photo("file-1")  # a photo instead of the text
    # (this channel is not Telegram: its pictures have no Telegram file id to send again)
    assert "chỉ gửi kèm được khi soạn thông báo trên Telegram" in admin.text
    assert "Bước 2/3" in admin.text
    await admin.say("   ")
    assert "Nội dung trống" in admin.text and "Bước 2/3" in admin.text
    await admin.say("Nội dung thật.")
    await admin.press_label("Hẹn giờ")
    await admin.say("25:99")
    assert "không đọc được giờ" in admin.text and "Gõ giờ gửi" in admin.text
    await admin.say("08:00 01/02")  # in the past
    assert "đã qua" in admin.text and "Gõ giờ gửi" in admin.text
    await admin.say("17:30")  # 10:00 now: today
    assert "Gửi: lúc 17:30 ngày 20/02/2026" in admin.text
    await admin.press_label("Xem trước")
    assert "Gửi lúc 17:30 ngày 20/02/2026" in admin.text
    await admin.press_label("✅ Gửi")
    assert "Đã hẹn gửi thông báo #1 lúc 17:30 ngày 20/02/2026" in admin.text
    status = await app.broadcasts.status(1)
    assert status.state == "scheduled"


async def test_cancel_at_any_step_creates_nothing(app: App) -> None:
    admin = await join(app, "admin", "LC", Role.ADMIN)
    await compose(admin)
    await admin.press_label("✖ Hủy")
    assert "Đã hủy thông báo đang soạn" in admin.text
    await admin.cmd("thongbao")
    await admin.press_label("Tiếp")
    await admin.say("hủy")  # typed on the text step
    assert "Đã hủy" in admin.text
    await admin.cmd("thongbao")
    await admin.cmd("huy")
    assert "Đã hủy" in admin.text
    assert await count_broadcasts(app) == 0
    assert await state(app, admin) is Mode.IDLE


async def test_another_command_leaves_the_draft(app: App) -> None:
    """What is typed after /trangthai is not taken for an announcement's text."""
    admin = await join(app, "admin", "LC", Role.ADMIN)
    await admin.cmd("thongbao")
    await admin.press_label("Tiếp")
    await admin.cmd("trangthai")
    assert await state(app, admin) is Mode.IDLE
    await admin.say("Nội dung")
    assert await count_broadcasts(app) == 0


async def test_edit_from_the_preview(app: App) -> None:
    admin = await join(app, "admin", "LC", Role.ADMIN)
    await compose(admin, "Bản nháp")
    await admin.press_label("✏️ Sửa")
    assert "Bước 3/3" in admin.text
    await admin.press_label("Sửa nội dung")
    await admin.say("Bản đúng")
    await admin.press_label("Yêu cầu xác nhận")
    assert "☑ Yêu cầu xác nhận" in labels(admin)
    await admin.press_label("Xem trước")
    assert "Bản đúng" in admin.text and "Bản nháp" not in admin.text
    assert "«✅ Đã nhận»" in admin.text
    await admin.press_label("✅ Gửi")
    row = await app.broadcasts.get(1)
    assert row is not None and row.text == "Bản đúng" and row.ack


async def test_officers_are_refused(app: App) -> None:
    officer = await join(app, "o", "LC-BX-01")
    await officer.cmd("thongbao")
    assert "không dành cho vai trò" in officer.text
    await officer.press(Compose("nx").pack())  # a forged button
    assert "Chỉ cán bộ quản trị" in officer.text
    assert await count_broadcasts(app) == 0


async def test_supervisors_only_where_the_config_allows(app: App) -> None:
    boss = await join(app, "boss", "LC-BX", Role.SUPERVISOR)
    await boss.cmd("thongbao")
    assert "Chỉ cán bộ quản trị" in boss.text
    app.broadcasts.supervisors = True
    await join(app, "bx1", "LC-BX-01")
    await join(app, "sp1", "LC-SP-01")
    await boss.cmd("thongbao")
    assert "Bước 1/3" in boss.text
    await boss.press_label("Chọn đơn vị")
    assert "Bản Vược" in labels(boss) and "Sa Pa" not in labels(boss)  # their subtree
    await boss.press(Compose("pu", "LC-SP").pack())  # forged: another district
    assert "Nút này đã cũ" in boss.text and "Bước 1/3" in boss.text  # the form again
    await compose_rest(boss)
    assert (await app.broadcasts.status(1)).recipients == 2  # the supervisor and bx1


async def test_sender_list_status_unconfirmed_follow_up_and_cancel(app: App) -> None:
    admin = await join(app, "admin", "LC", Role.ADMIN)
    bx1 = await join(app, "bx1", "LC-BX-01")
    await join(app, "bx2", "LC-BX-02")
    admin_person = await app.storage.find_person("test", "admin")
    bx1_person = await app.storage.find_person("test", "bx1")
    assert admin_person is not None and bx1_person is not None
    bid = await app.broadcasts.create(BroadcastDraft(Audience(units=("LC-BX",)), "Họp",
                                                     ack=True), admin_person)
    later = await app.broadcasts.create(
        BroadcastDraft(Audience(), "Sau", send_at=app.reporting.clock() + timedelta(hours=3)),
        admin_person)
    await bx1.press(AckBroadcast(bid).pack())
    assert "Đã ghi nhận" in bx1.text
    await admin.cmd("thongbao")
    await admin.press_label("Thông báo đã gửi")
    assert f"#{later}" in labels(admin) and f"#{bid}" in labels(admin)
    await admin.press(BroadcastAction("open", bid).pack())
    assert "Đã xác nhận: 1/2" in admin.text
    await admin.press_label("Ai chưa xác nhận")
    assert "Đoàn xã Mường Hum" in admin.text and "Đoàn xã Bản Vược" not in admin.text
    await admin.press_label("Nhắc lại")
    assert "Nhắc lại 1 người" in admin.text
    await admin.press_label("Gửi lại nội dung cũ")
    assert "Sẽ gửi tới 1 người" in admin.text and "Họp" in admin.text
    await admin.press_label("✅ Gửi")
    follow = await app.broadcasts.list(admin_person, 1)
    assert follow[0].follows == bid and follow[0].recipients == 1
    # the one scheduled: cancelled from its status
    await admin.press(BroadcastAction("open", later).pack())
    await admin.press_label("Hủy thông báo đã hẹn")
    assert f"Đã hủy thông báo #{later}" in admin.text
    assert (await app.broadcasts.status(later)).state == "cancelled"
    # another person's announcement is not theirs to open
    other = await join(app, "admin2", "LC", Role.ADMIN)
    await other.press(BroadcastAction("open", bid).pack())
    assert "không phải của bạn" in other.text


async def test_ack_button_once_and_stale_ones_change_nothing(app: App) -> None:
    admin = await join(app, "admin", "LC", Role.ADMIN)
    bx1 = await join(app, "bx1", "LC-BX-01")
    sp1 = await join(app, "sp1", "LC-SP-01")
    sender = await app.storage.find_person("test", "admin")
    assert sender is not None
    bid = await app.broadcasts.create(BroadcastDraft(Audience(units=("LC-BX",)), "Họp",
                                                     ack=True), sender)
    await bx1.press(AckBroadcast(bid).pack())
    assert "Đã ghi nhận: bạn đã xác nhận lúc 10:00 20/02/2026" in bx1.text
    await bx1.press(AckBroadcast(bid).pack())  # again
    assert "không cần xác nhận" in bx1.text
    await sp1.press(AckBroadcast(bid).pack())  # not a recipient
    assert "không cần xác nhận" in sp1.text
    await sp1.press(AckBroadcast(999).pack())  # no such announcement
    assert "không cần xác nhận" in sp1.text
    assert (await app.broadcasts.status(bid)).acknowledged == 1
    del admin


async def test_ack_press_keeps_the_question_on_screen(app: App) -> None:
    admin = await join(app, "admin", "LC", Role.ADMIN)
    officer = await join(app, "bx1", "LC-BX-01")
    sender = await app.storage.find_person("test", "admin")
    assert sender is not None
    bid = await app.broadcasts.create(BroadcastDraft(Audience(), "Họp", ack=True), sender)
    await officer.cmd("baocao")
    await officer.say("1")
    assert "Câu 1" in officer.text
    await officer.press(AckBroadcast(bid).pack())
    assert "Đã ghi nhận" in officer.text and "Câu 1" in officer.text
    await officer.say("1")  # still answers the question
    assert "Câu 2" in officer.text
    del admin


async def test_typed_keyword_confirms_but_never_steals_a_text_answer(app: App) -> None:
    admin = await join(app, "admin", "LC", Role.ADMIN)
    officer = await join(app, "bx1", "LC-BX-01")
    sender = await app.storage.find_person("test", "admin")
    person = await app.storage.find_person("test", "bx1")
    assert sender is not None and person is not None
    bid = await app.broadcasts.create(BroadcastDraft(Audience(), "Họp", ack=True), sender)
    # on a yes/no question "đã nhận" cannot be an answer: it confirms, the question stays
    await officer.cmd("baocao")
    await officer.say("1")
    await officer.say("Đã Nhận")
    assert "Đã ghi nhận" in officer.text and "Câu 1" in officer.text
    assert (await app.broadcasts.status(bid)).acknowledged == 1
    # a second announcement, and an officer on the text question: the answer is theirs
    again = await app.broadcasts.create(BroadcastDraft(Audience(), "Họp 2", ack=True), sender)
    await officer.press_label("Có")
    for answer in ["7", "40", "4", "60", "1", "1"]:  # … "vốn", then the choice
        await officer.say(answer)
    await officer.press_label("Zalo")
    await officer.press_label("Xong")
    while "Khó khăn" not in officer.text:
        await officer.press_label("Bỏ qua")
    await officer.say("da nhan")
    assert (await app.broadcasts.status(again)).acknowledged == 0  # it answered the question
    assert "da nhan" in officer.text  # the summary shows it as the answer
    # idle: confirms
    await officer.cmd("huy")
    await officer.press_label("Có, hủy bản nháp")
    await officer.say("đã nhận")
    assert "Đã ghi nhận" in officer.text
    assert (await app.broadcasts.status(again)).acknowledged == 1
    del admin


async def test_progress_edits_at_most_every_five_seconds_and_a_final_report(
        app: App) -> None:
    messenger = Messenger()
    await deliver_through(app, messenger)
    admin = await join(app, "admin", "LC", Role.ADMIN)
    for i in range(3):
        await join(app, f"o{i}", "LC-BX-01")
    await compose(admin)
    await admin.press_label("✅ Gửi")
    progress = BroadcastProgress(app)
    now = app.reporting.clock()
    # the test is the sender: the announcement's rows are handed to the courier here
    courier = app.channels.courier("test")
    assert courier is not None
    await progress.tick(now)
    first = list(messenger.got.get("admin", []))
    await progress.tick(now + timedelta(seconds=1))  # within 5 s: no second edit
    assert messenger.got.get("admin", []) == first
    courier.enqueue(courier.stored(await broadcast_rows(app)))
    for uid in ("o0", "o1", "o2"):
        await courier.delivered_all(uid)
    await courier.flush()
    await progress.tick(now + timedelta(seconds=6))
    await courier.delivered_all("admin")
    texts = messenger.texts("admin")
    assert any("Đang gửi" in t or "đang gửi" in t for t in texts), texts
    assert any("đã gửi xong: 4/4 người nhận được" in t for t in texts), texts
    assert (await app.broadcasts.status(1)).state == "done"
    for uid in ("o0", "o1", "o2"):
        got = [t for t in messenger.texts(uid) if "Họp giao ban" in t]
        assert len(got) == 1  # once


async def test_typed_only_as_on_zalo(app: App) -> None:
    """Numbers and keywords stand for the buttons (Zalo has none): the whole dialogue typed."""
    admin = await join(app, "admin", "LC", Role.ADMIN)
    await join(app, "bx1", "LC-BX-01")
    await admin.cmd("thongbao")
    await admin.say("3")  # 👤 Chọn vai trò
    assert "Gửi cho ai" in admin.text
    await admin.say("1")  # Cán bộ báo cáo
    assert "cán bộ báo cáo" in admin.text and "1 người" in admin.text
    await admin.say("tiếp")
    await admin.say("1")  # a text that is a number: the announcement's text, not a button
    assert "Bước 3/3" in admin.text and "«1»" in admin.text
    await admin.say("hen gio")
    await admin.say("17h30")
    assert "lúc 17:30 ngày 20/02/2026" in admin.text
    await admin.say("xem trước")
    assert "Sẽ gửi tới 1 người ở 1 đơn vị" in admin.text
    await admin.say("gửi")
    assert "Đã hẹn gửi thông báo #1" in admin.text
    row = await app.broadcasts.get(1)
    assert row is not None and row.text == "1" and row.state == "scheduled"


async def test_a_draft_survives_a_restart(tmp_path: Path) -> None:
    clock = Clock()
    first = await make_app(tmp_path, clock)
    admin = await join(first, "admin", "LC", Role.ADMIN)
    await admin.cmd("thongbao")
    await admin.press_label("Tiếp")
    await first.close()
    second = await make_app(tmp_path, clock)
    try:
        await second.reporting.warm()
        again = Chat(second, "admin", counter=100)
        await again.say("Sau khi khởi động lại.")
        assert "Bước 3/3" in again.text and "Sau khi khởi động lại." in again.text
    finally:
        await second.close()


async def test_without_edits_only_the_start_and_the_final_report(app: App) -> None:
    """A channel without message edits (Zalo): no progress messages in between."""
    messenger = Messenger()

    async def record(settled: list[tuple[int, str]], marks: dict[str, int]) -> None:
        await app.storage.apply(Changes(actor=0, settled=settled))

    async def unreachable(person_id: int) -> None:
        await app.storage.set_reachable(person_id, False)

    courier = Courier("test", messenger, _render, record=record, unreachable=unreachable,
                      limits=Limits(0, 0), buttons=False)
    app.channels.register_courier(courier)
    courier.start()
    admin = await join(app, "admin", "LC", Role.ADMIN)
    await join(app, "o1", "LC-BX-01")
    await compose(admin)
    await admin.say("gui")  # typed, as on Zalo
    assert "đang gửi 0/2" in admin.text
    progress = BroadcastProgress(app)
    now = app.reporting.clock()
    await progress.tick(now)
    courier.enqueue(courier.stored(await broadcast_rows(app)))
    await courier.delivered_all("o1")
    await courier.delivered_all("admin")
    await courier.flush()
    await progress.tick(now + timedelta(seconds=6))
    await courier.delivered_all("admin")
    texts = messenger.texts("admin")
    assert sum("đang gửi" in t for t in texts) == 1  # the reply to "gửi" only
    assert sum("đã gửi xong: 2/2" in t for t in texts) == 1
    await courier.stop()


async def test_final_report_once_even_if_the_service_tick_is_also_called(app: App) -> None:
    """Wired twice (the service's own tick called elsewhere first): the report still comes,
    once."""
    messenger = Messenger()
    courier = await deliver_through(app, messenger)
    admin = await join(app, "admin", "LC", Role.ADMIN)
    await join(app, "o1", "LC-BX-01")
    await compose(admin)
    await admin.press_label("✅ Gửi")
    progress = BroadcastProgress(app)
    now = app.reporting.clock()
    await progress.tick(now)  # sees it sending
    courier.enqueue(courier.stored(await broadcast_rows(app)))
    await courier.delivered_all("o1")
    await courier.delivered_all("admin")
    await courier.flush()
    assert [s.id for s in await app.broadcasts.tick(now)] == [1]  # the other caller
    await progress.tick(now + timedelta(seconds=1))
    await progress.tick(now + timedelta(seconds=9))
    await courier.delivered_all("admin")
    assert sum("đã gửi xong: 2/2" in t for t in messenger.texts("admin")) == 1
