"""Review 15 (users, chat side and delivery): problems found attacking /thongbao, the
confirmations and the sender as real users and the Bot API would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.domain.roles import Role
from bot.services.channels import Inbound, Pressed
from bot.services.delivery import RetryLater
from bot.services.reporting.broadcast_chat import BroadcastProgress
from storage.models import Stored
from tests.harness import Chat, Clock, Messenger, _render, deliver_through, join, make_app


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    app = await make_app(tmp_path, Clock())  # 10:00 on 20/02/2026 in Vietnam
    app.broadcasts._renderers = {"test": _render}
    yield app
    await app.close()


async def broadcast_rows(app: App) -> list[Stored]:
    return list(await app.storage.claim_broadcast_rows("test", 100))


async def compose(admin: Chat, text: str = "Họp giao ban lúc 8h thứ Hai.") -> None:
    await admin.cmd("thongbao")
    await admin.press_label("Tiếp")
    await admin.say(text)
    await admin.press_label("Xem trước")


async def _deliver_one(app: App, messenger: Messenger) -> None:
    """An admin's announcement to one officer, delivered (not yet closed)."""
    courier = app.channels.courier("test")
    assert courier is not None
    admin = await join(app, "admin", "LC", Role.ADMIN)
    await join(app, "o1", "LC-BX-01")
    await compose(admin)
    await admin.press_label("✅ Gửi")
    courier.enqueue(courier.stored(await broadcast_rows(app)))
    await courier.delivered_all("o1")
    await courier.flush()


async def test_final_report_survives_a_crash_between_done_and_the_report(app: App) -> None:
    """kill -9 after the service marked the announcement done and before the chat side wrote
    its final report: the restarted sender (a new BroadcastProgress) still reports it, once."""
    messenger = Messenger()
    courier = await deliver_through(app, messenger)
    await _deliver_one(app, messenger)
    now = app.reporting.clock()
    assert [s.id for s in await app.broadcasts.tick(now)] == [1]  # done, then the crash
    restarted = BroadcastProgress(app)  # nothing remembered in memory
    await restarted.tick(now + timedelta(seconds=1))
    await restarted.tick(now + timedelta(seconds=9))
    again = BroadcastProgress(app)  # a second restart: not reported twice
    await again.tick(now + timedelta(seconds=20))
    await courier.delivered_all("admin")
    assert sum("đã gửi xong: 2/2" in t for t in messenger.texts("admin")) == 1, \
        messenger.texts("admin")
    row = await app.storage.db.fetchone("SELECT reported_at FROM broadcasts WHERE id=1")
    assert row is not None and row["reported_at"] is not None


async def test_a_long_preview_opened_by_a_button_is_not_cut(app: App) -> None:
    """A 5,000-character announcement previewed by pressing «Xem trước» (Telegram edits the
    pressed message, and an edit cannot be split): the whole text and the «✅ Gửi» button
    reach the admin, not a preview cut at 4,096 characters without its end."""
    from handlers.telegram.delivery import render
    from handlers.telegram.render import TEXT_LIMIT
    from handlers.text_render import utf16_units

    admin = await join(app, "admin", "LC", Role.ADMIN)
    await join(app, "o1", "LC-BX-01")
    long_text = "Nội dung dài. " * 350 + "HẾT THÔNG BÁO"
    await compose(admin, long_text)
    replies = admin.last
    assert "HẾT THÔNG BÁO" in admin.text
    pressed = Inbound("telegram", "5", pressed=Pressed("77", "⚙️ Bước 3/3", "Xem trước"))
    calls = render(pressed, "5", replies)
    shown = "".join(str(c["p"].get("text", "")) for c in calls)
    assert "HẾT THÔNG BÁO" in shown
    assert "Chưa bấm thì chưa có gì được gửi" in shown
    assert all(utf16_units(str(c["p"].get("text", ""))) <= TEXT_LIMIT for c in calls)
    assert "reply_markup" in calls[-1]["p"]  # «✅ Gửi» on the last part


async def test_confirming_a_long_announcement_shows_the_confirmation(app: App) -> None:
    """«✅ Đã nhận» pressed on an announcement of 4,090 characters: the pressed message plus
    the mark is over Telegram's 4,096 and an edit cannot be split, so the mark was cut off
    and the recipient never saw that the confirmation was taken."""
    from bot.domain.broadcasts import Audience, BroadcastDraft
    from bot.domain.buttons import AckBroadcast
    from handlers.telegram.delivery import render

    await join(app, "admin", "LC", Role.ADMIN)
    officer = await join(app, "o1", "LC-BX-01")
    admin = await app.storage.find_person("test", "admin")
    text = "Chi tiết. " * 408 + "CUỐI"
    bid = await app.broadcasts.create(BroadcastDraft(Audience(), text, ack=True), admin)
    shown = "Thông báo\n\n" + text
    replies = await officer._send(button=AckBroadcast(bid).pack(),
                                  pressed=Pressed("9", shown, "✅ Đã nhận"))
    assert (await app.broadcasts.status(bid)).acknowledged == 1
    pressed = Inbound("telegram", "9", pressed=Pressed("9", shown, "✅ Đã nhận"))
    calls = render(pressed, "9", replies)
    texts = [str(c["p"].get("text", "")) for c in calls]
    assert any("Đã xác nhận" in t or "đã xác nhận" in t for t in texts), texts[-1][-200:]
    assert sum("CUỐI" in t for t in texts) <= 1  # the announcement is not sent again


async def test_a_double_tap_on_the_confirmation_says_it_was_taken(app: App) -> None:
    """«✅ Đã nhận» tapped twice on a slow phone: the second tap said the announcement was
    old or "not sent to you"; it says it is already confirmed."""
    from bot.domain.broadcasts import Audience, BroadcastDraft
    from bot.domain.buttons import AckBroadcast

    await join(app, "admin", "LC", Role.ADMIN)
    officer = await join(app, "o1", "LC-BX-01")
    outsider = await join(app, "sp1", "LC-SP-01")
    admin = await app.storage.find_person("test", "admin")
    bid = await app.broadcasts.create(
        BroadcastDraft(Audience(units=("LC-BX",)), "Họp", ack=True), admin)
    await officer.press(AckBroadcast(bid).pack())
    await officer.press(AckBroadcast(bid).pack())
    assert "đã xác nhận thông báo này rồi" in officer.text
    assert "không gửi cho bạn" not in officer.text
    await outsider.press(AckBroadcast(bid).pack())
    assert "không gửi cho bạn" in outsider.text
    assert (await app.broadcasts.status(bid)).acknowledged == 1


class Throttled(Messenger):
    """The Bot API answering 429 to every edit of the admin's progress message (the chat is
    held for retry_after: the test ends long before)."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = 0
        self.armed = False

    async def deliver(self, chat_id: str, payload: dict[str, object]) -> int | None:
        if self.armed and chat_id == "admin" and "đang gửi" in str(payload["text"]):
            self.refused += 1
            raise RetryLater(600)
        return await super().deliver(chat_id, payload)


async def test_progress_edits_do_not_pile_up_behind_a_429(app: App) -> None:
    """editMessageText of the progress message answered 429 (retry after 10 minutes): one edit
    waits, with the latest figures; the later ones are not queued behind it (each would hold
    the admin's chat a second more, their own replies behind them)."""
    messenger = Throttled()
    courier = await deliver_through(app, messenger)
    admin = await join(app, "admin", "LC", Role.ADMIN)
    officers = [f"o{i}" for i in range(4)]
    for uid in officers:
        await join(app, uid, "LC-BX-01")
    await compose(admin)
    send = next(b for r in admin.last for b in r.flat_buttons() if "Gửi" in b.label)
    await admin._send(button=send.data, pressed=Pressed("12", admin.text, send.label))
    messenger.armed = True
    progress = BroadcastProgress(app)
    now = app.reporting.clock()
    rows = await broadcast_rows(app)
    for i, uid in enumerate(officers):
        courier.enqueue(courier.stored([r for r in rows if r.message.chat_id == uid]))
        await courier.delivered_all(uid)
        await courier.flush()
        await progress.tick(now + timedelta(seconds=6 * i))
    assert messenger.refused >= 1
    assert courier.undelivered("admin") <= 1, courier.undelivered("admin")
    waiting = progress._edits[("test", "admin", 12)]
    assert "đang gửi 4/5" in str(waiting.payload["text"])  # the latest figures will show


async def test_the_preview_warns_when_zalo_recipients_exceed_the_month_quota(app: App) -> None:
    """A broadcast to Zalo users when the Zalo bot's month is nearly used up: the preview says
    so (Zalo refuses beyond the plan's quota, and officers' replies on Zalo with it); within
    the quota it says nothing."""
    from bot.services.invites import create_invite
    from handlers.zalo.delivery import render as zalo_render

    app.broadcasts._renderers = {"test": _render, "zalo": zalo_render}
    app.broadcasts.zalo_quota = 100
    admin = await join(app, "admin", "LC", Role.ADMIN)
    for i in range(3):
        invite = await create_invite(app.storage, "LC-BX-01", Role.OFFICER, 1, 7,
                                     app.reporting.clock())
        await Chat(app, f"z{i}", channel="zalo").cmd("start", invite.code)
    await compose(admin)
    assert "Hạn mức Zalo" not in admin.text
    await app.storage.count_sent("zalo", "2026-02", 98)
    await admin.press_label("Sửa")
    await admin.press_label("Xem trước")
    assert "Hạn mức Zalo" in admin.text and "còn 2/100" in admin.text, admin.text
    assert "✅ Gửi" in " ".join(b.label for r in admin.last for b in r.flat_buttons())


async def test_a_broadcast_whose_audience_emptied_says_nobody_was_left(app: App) -> None:
    """Scheduled for the people of a unit who all left before it started: the final report
    said "đã gửi xong: 0/0 người nhận được"; it says nobody was left to send to."""
    from bot.domain.broadcasts import Audience, BroadcastDraft

    messenger = Messenger()
    courier = await deliver_through(app, messenger)
    await join(app, "admin", "LC", Role.ADMIN)
    admin = await app.storage.find_person("test", "admin")
    assert admin is not None
    now = app.reporting.clock()
    bid = await app.broadcasts.create(
        BroadcastDraft(Audience(units=("LC-BX-01",)), "Họp chi đoàn",
                       send_at=now + timedelta(hours=1)),
        admin, progress=("test", "admin", 5))
    progress = BroadcastProgress(app)
    await progress.tick(now + timedelta(hours=1))
    await progress.tick(now + timedelta(hours=1, seconds=1))
    await courier.delivered_all("admin")
    status = await app.broadcasts.status(bid)
    assert status.state == "done" and status.recipients == 0
    texts = messenger.texts("admin")
    assert any("không có ai để gửi" in t for t in texts), texts
    assert not any("0/0" in t for t in texts), texts


@pytest.mark.parametrize(("typed", "expected"), [
    ("mai 7h30", "21/02 07:30"), ("7h30 mai", "21/02 07:30"), ("7h30 sáng mai", "21/02 07:30"),
    ("ngày mai 7h", "21/02 07:00"), ("5h chiều mai", "21/02 17:00"),
    ("17:00 hôm nay", "20/02 17:00"), ("7h", "21/02 07:00"), ("17h30", "20/02 17:30"),
])
def test_times_typed_with_a_named_day(typed: str, expected: str) -> None:
    """"mai 7h30" (tomorrow) is how people write it: it was "không đọc được giờ"."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from bot.domain.send_time import parse_send_time
    from bot.domain.text import fold

    now = datetime(2026, 2, 20, 10, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    assert f"{parse_send_time(fold(typed), now):%d/%m %H:%M}" == expected


@pytest.mark.parametrize("typed", ["8h hôm nay", "25:00", "08/12", "mai", "7h61 mai"])
def test_times_refused(typed: str) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from bot.domain.send_time import SendTimeError, parse_send_time
    from bot.domain.text import fold

    now = datetime(2026, 2, 20, 10, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    with pytest.raises(SendTimeError):
        parse_send_time(fold(typed), now)


async def test_a_double_tap_on_gui_keeps_the_progress_message(app: App) -> None:
    """«✅ Gửi» tapped twice on a slow phone: both presses carry the preview's text (the edit
    had not reached the phone). The second used to mark the pressed message with the old
    preview and «→ ✅ Gửi» and say the button was stale, over the progress message: the
    admin read "Chưa bấm thì chưa có gì được gửi" and could compose it again. Now the second
    press shows the announcement's state again, in place; one announcement."""
    await join(app, "admin", "LC", Role.ADMIN)
    admin = Chat(app, "admin", counter=50)
    await join(app, "o1", "LC-BX-01")
    await compose(admin)
    preview = admin.text
    send = next(b for r in admin.last for b in r.flat_buttons() if "Gửi" in b.label)
    first = await admin._send(button=send.data, pressed=Pressed("12", preview, send.label))
    second = await admin._send(button=send.data, pressed=Pressed("12", preview, send.label))
    assert "đang gửi" in first[0].text
    assert second and second[0].replace, [r.text for r in second]
    assert "Thông báo #1" in second[0].text and "Chưa bấm" not in second[0].text
    row = await app.storage.db.fetchone("SELECT COUNT(*) AS n FROM broadcasts")
    assert row is not None and row["n"] == 1


def test_zalo_an_announcement_arrives_as_text_and_the_keyword_confirms(tmp_path: Path) -> None:
    """On Zalo, end to end (`baocao run` against the fake Zalo Bot API): an announcement with
    confirmation arrives once as text with the keyword to type; an officer on a question
    answers it with a number (the number is the answer, nothing else); "đã nhận" typed
    confirms, the question is asked again; `broadcast status` counts it."""
    import json as _json

    from tests.chaos import BotProcess
    from tests.fakezalo import FakeZalo
    from tests.phones import ZaloPhone, site_for

    with FakeZalo(max_poll=1.0) as fake:
        site = site_for(tmp_path, {"zalo": (fake.base_url, fake.token)},
                        settings={"zalo": "poll_timeout = 1\n"})
        code = site.cli("invite", "create", "--unit", "NĐ-01", "--role", "officer").split()[0]
        phone, bot = ZaloPhone(fake), BotProcess(site)
        bot.start()
        try:
            phone.type(f"/start {code}", expect="Bạn đã tham gia")
            phone.type("/baocao", expect="Các báo cáo")
            phone.type("1", expect="Câu 1/")
            out = site.cli("broadcast", "create", "--unit", "NĐ-01", "--text",
                           "Họp giao ban sáng thứ Hai", "--ack", "--urgent", "--yes")
            bid = out.split()[0]
            got = fake.wait_for_message(phone.user, lambda m: "Họp giao ban" in m["text"])
            assert "ĐÃ NHẬN" in got["text"] and "1." not in got["text"]
            phone.type("7", expect="Đã lưu")  # a number answers the question
            phone.type("đã nhận", expect="Đã ghi nhận")
            status = _json.loads(site.cli("broadcast", "status", bid, "--json"))
            assert status["acknowledged"] == 1 and status["delivered"] == 1, status
            assert sum("Họp giao ban" in m["text"] for m in fake.sent_messages(phone.user)
                       ) == 1
        finally:
            bot.stop()
        assert bot.tracebacks() == 0


async def test_dat_nhan_typed_twice_says_it_was_already_confirmed(app: App) -> None:
    """On Zalo people send "đã nhận" twice: the second got "Gõ /baocao để làm báo cáo"; it
    says the announcement is already confirmed (and a question on screen is asked again)."""
    from bot.domain.broadcasts import Audience, BroadcastDraft

    await join(app, "admin", "LC", Role.ADMIN)
    officer = await join(app, "o1", "LC-BX-01")
    admin = await app.storage.find_person("test", "admin")
    await app.broadcasts.create(BroadcastDraft(Audience(), "Họp", ack=True), admin)
    await officer.say("đã nhận")
    assert "Đã ghi nhận" in officer.text
    await officer.say("Đã nhận ạ")
    assert "đã xác nhận thông báo này rồi" in officer.text, officer.text
    await officer.cmd("baocao")
    await officer.say("1")
    await officer.say("đã nhận")  # on a yes/no question: not an answer
    assert "đã xác nhận thông báo này rồi" in officer.text and "Câu 1" in officer.text


CHOICE_TEMPLATE = '''
id = "tai_lieu"
title = "Báo cáo nhận tài liệu"
period = "quarter"
deadline = "trước ngày 05 tháng cuối quý"
lock_days = 10
applies_to = { levels = ["xa"] }

[[questions]]
id = "tinh_trang"
text = "Tài liệu hội nghị"
type = "choice"
options = [{ id = "roi", label = "Đã nhận" }, { id = "chua", label = "Chưa nhận" }]

[[questions]]
id = "so_ban"
text = "Số bản"
type = "integer"
'''


async def test_dat_nhan_that_is_an_option_answers_the_question(tmp_path: Path) -> None:
    """A choice question whose option is «Đã nhận» while an announcement awaits confirmation:
    the officer typing "đã nhận" answers the question (an officer's answer is never taken as
    anything else); before, it confirmed the announcement and the question stayed."""
    from bot.domain.broadcasts import Audience, BroadcastDraft

    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "tai_lieu.toml").write_text(CHOICE_TEMPLATE, encoding="utf-8")
    app = await make_app(tmp_path, Clock(), reports=folder)
    try:
        app.broadcasts._renderers = {"test": _render}
        await join(app, "admin", "LC", Role.ADMIN)
        officer = await join(app, "o1", "LC-BX-01")
        admin = await app.storage.find_person("test", "admin")
        bid = await app.broadcasts.create(BroadcastDraft(Audience(), "Họp", ack=True), admin)
        await officer.cmd("baocao")
        await officer.say("1")
        assert "Tài liệu hội nghị" in officer.text
        await officer.say("đã nhận")
        assert "Số bản" in officer.text, officer.text
        assert (await app.broadcasts.status(bid)).acknowledged == 0
        rows = await app.storage.db.fetchall("SELECT value FROM draft_answers")
        assert [r["value"] for r in rows] == ['"roi"']
    finally:
        await app.close()
