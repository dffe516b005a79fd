"""Entry on behalf of a unit (nhập hộ): a supervisor fills, in chat, the report of a commune of
their subtree that phoned or sent paper; the same dialogue and checks run, the submission
records source 'on_behalf' and who entered it, and the unit's officers are told."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import App
from bot.domain.buttons import OnBehalf, OpenReport
from bot.domain.roles import Role
from bot.services.invites import create_invite
from tests.harness import Chat, Clock, Messenger, deliver_through, join, make_app


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    app = await make_app(tmp_path, Clock())
    yield app
    await app.close()


async def fill_in(chat: Chat) -> None:
    """The test template's questions, answered the short way (no fanpage: one less)."""
    await chat.press_label("Không")  # co_fanpage
    for typed in ("10", "2", "50", "bỏ qua", "mxh"):
        await chat.say(typed)
    await chat.say("1")  # kenh: tick Zalo
    await chat.press_label("Xong")
    for _ in range(3):  # ngay_hop, anh, kho_khan: optional
        await chat.say("bỏ qua")
    assert "📋 Tóm tắt" in chat.text, chat.text


async def test_a_supervisor_enters_a_report_for_a_commune(app: App, tmp_path: Path) -> None:
    officer = await join(app, "officer", "LC-BX-02")
    boss = await join(app, "boss", "LC-BX", Role.SUPERVISOR)
    await boss.cmd("nhapho")
    assert "📝 Nhập hộ báo cáo: 3 đơn vị chưa gửi" in boss.text
    labels = [b.label for b in boss.last[0].flat_buttons()]
    assert labels[1] == "Đoàn xã Mường Hum · Báo cáo quý thử nghiệm · Quý I/2026"
    await boss.press_label("Mường Hum")
    assert "📝 Bạn đang nhập hộ cho Đoàn xã Mường Hum." in boss.text
    assert "Câu 1/" in boss.text
    await boss.say("abc")  # the same checks as for the officer: asked again
    assert "Câu 1/" in boss.text
    await fill_in(boss)
    await boss.press_label("Gửi báo cáo")
    assert "✅ Đã gửi báo cáo" in boss.text
    assert ("📝 Báo cáo đã được ghi là nhập hộ cho Đoàn xã Mường Hum. Đã báo cho 1 cán bộ của "
            "đơn vị.") in boss.text
    sub = await app.storage.get_submission("LC-BX-02", "thu_nghiem", "2026-Q1")
    assert sub is not None and sub.source == "on_behalf"
    person = await app.storage.find_person("test", "boss")
    assert person is not None and sub.entered_by == sub.submitted_by == person.id
    assert sub.answers["htx_tong"] == 10 and sub.answers["co_fanpage"] is False
    with sqlite3.connect(tmp_path / "baocao.db") as conn:
        (details,) = conn.execute("SELECT details FROM audit WHERE action='report.submit'"
                                  " AND actor=?", (f"person:{person.id}",)).fetchone()
    assert '"source": "on_behalf"' in details
    # back to a supervisor: no report of the unit's to work on, the commune no longer listed
    await boss.cmd("baocao")
    assert "Lệnh này không dành cho vai trò của bạn" in boss.text
    await boss.cmd("nhapho")
    assert "2 đơn vị chưa gửi" in boss.text and "Mường Hum" not in boss.text
    # no delivery running here: the officer is told on their next message instead, and sees
    # who entered it
    await officer.cmd("trangthai")
    assert ("📝 Báo cáo «Báo cáo quý thử nghiệm» kỳ Quý I/2026 của đơn vị bạn (Đoàn xã Mường "
            "Hum) đã được Cán bộ nhập hộ.") in officer.text
    assert "(nhập hộ bởi Cán bộ)" in officer.text  # on the status line
    await officer.press(OpenReport(0, "thu_nghiem", "2026-Q1").pack())
    assert "lần gửi 1 lúc 10:00 ngày 20/02/2026 (nhập hộ bởi Cán bộ)" in officer.text


async def test_only_units_of_the_subtree_and_only_supervisors(app: App) -> None:
    boss = await join(app, "boss", "LC-BX", Role.SUPERVISOR)
    await boss.press(OnBehalf("LC-SP-01", "thu_nghiem", "2026-Q1").pack())  # another district
    assert "Nút này đã cũ" in boss.text
    sub = await app.storage.get_submission("LC-SP-01", "thu_nghiem", "2026-Q1")
    assert sub is None
    officer = await join(app, "officer", "LC-BX-01")
    await officer.cmd("nhapho")
    assert "Nhập hộ" not in officer.text
    await officer.press(OnBehalf("LC-BX-02", "thu_nghiem", "2026-Q1").pack())
    assert "Bạn đang nhập hộ" not in officer.text


async def test_cancelling_ends_the_entry_on_behalf(app: App) -> None:
    boss = await join(app, "boss", "LC-BX", Role.SUPERVISOR)
    await boss.press(OnBehalf("LC-BX-03", "thu_nghiem", "2026-Q1").pack())
    assert "Câu 1/" in boss.text
    await boss.cmd("huy")
    await boss.press_label("Có, hủy bản nháp")
    await boss.cmd("baocao")  # an officer's command: no longer theirs
    assert "Lệnh này không dành cho vai trò của bạn" in boss.text
    assert await app.storage.find_draft("LC-BX-03", "thu_nghiem", "2026-Q1") is None


async def test_a_supervisor_who_is_also_an_officer_keeps_their_own_buttons(app: App) -> None:
    """The unit entered for comes after the person's own units: an older button of their
    own report list still opens their own unit's report, never the commune's."""
    boss = await join(app, "boss", "LC-BX", Role.SUPERVISOR)
    invite = await create_invite(app.storage, "LC-BX-03", Role.OFFICER, 1, 7,
                                 app.reporting.clock())
    await boss.cmd("start", invite.code)
    own = OpenReport(0, "thu_nghiem", "2026-Q1").pack()  # LC-BX-03, their own
    await boss.press(OnBehalf("LC-BX-01", "thu_nghiem", "2026-Q1").pack())  # sorts first
    assert "📝 Bạn đang nhập hộ cho Đoàn xã Bản Vược." in boss.text
    await boss.press(own)
    assert "Đoàn thị trấn Bát Xát" in boss.text and "Bản Vược" not in boss.text
    assert await app.storage.find_draft("LC-BX-03", "thu_nghiem", "2026-Q1") is not None


async def test_the_units_officers_are_told_at_once(tmp_path: Path) -> None:
    """With delivery running, the officer of the commune receives the news in their chat
    without writing anything, exactly once (a push stored with the send)."""
    app = await make_app(tmp_path, Clock())
    try:
        courier = await deliver_through(app, Messenger())
        officer = await join(app, "officer", "LC-BX-02")
        boss = await join(app, "boss", "LC-BX", Role.SUPERVISOR)
        await boss.press(OnBehalf("LC-BX-02", "thu_nghiem", "2026-Q1").pack())
        await fill_in(boss)
        await boss.press_label("Gửi báo cáo")
        told = [t for t in await officer.received() if "nhập hộ" in t]
        assert told == ["📝 Báo cáo «Báo cáo quý thử nghiệm» kỳ Quý I/2026 của đơn vị bạn (Đoàn "
                        "xã Mường Hum) đã được Cán bộ nhập hộ. Gõ /trangthai để xem; nếu có "
                        "chỗ chưa đúng, bạn có thể sửa."]
        await officer.cmd("trangthai")  # not told again on their next message
        assert "nhập hộ. Gõ /trangthai" not in officer.text
        await courier.stop()
    finally:
        await app.close()
