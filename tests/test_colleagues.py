"""Two officers of one unit on one draft (issue 10, items 4 and 5), through the service on a
real SQLite file: a send submits only the answers its officer saw; each answer records who
gave it; an officer whose answer a colleague replaced, or whose draft a colleague cancelled,
is told once; an officer continuing a colleague's draft sees whose it is and how far it is.

Every test here fails on the code before these items (checked against the commit before)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.domain.buttons import OpenReport
from bot.domain.roles import Role
from bot.services.invites import create_invite
from tests.harness import Chat, Clock, make_app

REPORT = OpenReport(0, "thu_nghiem", "2026-Q1").pack()
KEY = ("LC-BX-01", "thu_nghiem", "2026-Q1")
# The whole test report, no fanpage (so_tin hidden: 10 questions), question 2 htx_tong = 11.
ANSWERS = ("khong", "11", "2", "90", "12", "1", "1", "xong", "bo qua", "bo qua", "bo qua")


@pytest.fixture
def clock() -> Clock:
    return Clock()  # 03:00 UTC on 20/02/2026 = 10:00 in Việt Nam


@pytest.fixture
async def app(tmp_path: Path, clock: Clock) -> AsyncIterator[App]:
    app = await make_app(tmp_path, clock)
    yield app
    await app.close()


async def officer(app: App, user_id: str, name: str) -> Chat:
    invite = await create_invite(app.storage, "LC-BX-01", Role.OFFICER, 1, 7,
                                 app.reporting.clock())
    chat = Chat(app, user_id, name)
    await chat.cmd("start", invite.code)
    assert "Bạn đã tham gia" in chat.text, chat.text
    return chat


async def person_id(app: App, chat: Chat) -> int:
    person = await app.storage.find_person("test", chat.user_id)
    assert person is not None
    return person.id


async def summary_then_colleague_changes_question_2(app: App) -> tuple[Chat, Chat, str]:
    """Lan fills the report and looks at the summary; Minh then changes question 2 (11 →
    999). Returns both and the send button of the summary Lan saw."""
    lan = await officer(app, "lan", "Lan")
    minh = await officer(app, "minh", "Minh")
    await lan.press(REPORT)
    for text in ANSWERS:
        await lan.say(text)
    assert "📋 Tóm tắt" in lan.text and "11 HTX" in lan.text
    seen = next(b.data for b in lan.last[0].flat_buttons() if "Gửi báo cáo" in b.label)
    await minh.press(REPORT)  # the same draft: Minh is on its summary too
    await minh.press_label("Sửa câu")
    await minh.press_label("Câu 2")
    await minh.say("999")
    assert "✓ Đã lưu: 999 HTX" in minh.text
    return lan, minh, seen


# --- 4. send means what was seen -------------------------------------------------------------


async def test_the_older_summarys_send_button_submits_nothing_and_shows_the_change(
        app: App) -> None:
    lan, _, seen = await summary_then_colleague_changes_question_2(app)
    await lan.press(seen)
    assert await app.storage.get_submission(*KEY) is None  # 999 was never seen by Lan
    assert "✅" not in lan.text
    assert "Chưa gửi được: báo cáo đã thay đổi từ khi bạn xem bản tóm tắt" in lan.text
    assert "• Câu 2. Tổng số HTX: 11 HTX → 999 HTX (đ/c Minh)" in lan.text
    assert "→ 999 HTX  ✎ vừa thay đổi" in lan.text  # marked on the summary itself
    await lan.press_label("Gửi báo cáo")  # the new summary's button: what Lan now saw
    assert "✅ Đã gửi báo cáo" in lan.text
    sub = await app.storage.get_submission(*KEY)
    assert sub is not None and sub.answers["htx_tong"] == 999


async def test_typed_send_on_the_summary_is_checked_the_same_way(app: App) -> None:
    lan, _, _ = await summary_then_colleague_changes_question_2(app)
    await lan.say("gửi")
    assert await app.storage.get_submission(*KEY) is None
    assert "• Câu 2. Tổng số HTX: 11 HTX → 999 HTX (đ/c Minh)" in lan.text
    await lan.say("gui")
    assert "✅ Đã gửi báo cáo" in lan.text
    sub = await app.storage.get_submission(*KEY)
    assert sub is not None and sub.answers["htx_tong"] == 999


async def test_a_send_button_from_before_versions_shows_the_summary_again(app: App) -> None:
    """Messages already in officers' chats carry `send|slot|template|period` with no version:
    what they showed is unknown, so nothing is sent until the officer sends again."""
    lan = await officer(app, "lan", "Lan")
    await lan.press(REPORT)
    for text in ANSWERS:
        await lan.say(text)
    await lan.press("send|0|thu_nghiem|2026-Q1")
    assert await app.storage.get_submission(*KEY) is None
    assert "bản tóm tắt có nút bạn vừa bấm đã cũ" in lan.text and "📋 Tóm tắt" in lan.text
    await lan.press_label("Gửi báo cáo")
    assert "✅ Đã gửi báo cáo" in lan.text


async def test_a_correction_confirmed_after_a_colleagues_change_is_not_sent(app: App) -> None:
    """A correction sent by typing is confirmed first; Minh changes it between the question
    and Lan's "có": Lan's confirmation was of other answers, so it is shown again."""
    lan = await officer(app, "lan", "Lan")
    minh = await officer(app, "minh", "Minh")
    await lan.press(REPORT)
    for text in ANSWERS:
        await lan.say(text)
    await lan.press_label("Gửi báo cáo")
    await lan.cmd("trangthai")
    await lan.press_label("Sửa:")
    await lan.press_label("Sửa câu")
    await lan.press_label("Câu 3")
    await lan.say("3")  # htx_moi 2 → 3
    await lan.say("gửi")
    assert "Gửi bản sửa với 1 câu thay đổi?" in lan.text
    await minh.press(REPORT)  # the correction in progress
    await minh.press_label("Sửa câu")
    await minh.press_label("Câu 2")
    await minh.say("40")
    await lan.say("có")
    sub = await app.storage.get_submission(*KEY)
    assert sub is not None and sub.version == 1  # the correction was not sent
    assert "• Câu 2. Tổng số HTX: 11 HTX → 40 HTX (đ/c Minh)" in lan.text


# --- 5. colleagues of one unit -----------------------------------------------------------------


async def test_each_answer_and_the_audit_of_the_send_record_who_gave_it(app: App) -> None:
    lan = await officer(app, "lan", "Lan")
    minh = await officer(app, "minh", "Minh")
    await lan.press(REPORT)
    for text in ANSWERS[:3]:
        await lan.say(text)
    await minh.press(REPORT)
    for text in ANSWERS[3:]:
        await minh.say(text)
    lan_id, minh_id = await person_id(app, lan), await person_id(app, minh)
    draft = await app.storage.find_draft(*KEY)
    assert draft is not None and draft.started_by == lan_id
    by: dict[str, Any] = dict(draft.answered_by)
    assert by == {"co_fanpage": lan_id, "htx_tong": lan_id, "htx_moi": lan_id,
                  "ty_le": minh_id, "von": minh_id, "hinh_thuc": minh_id, "kenh": minh_id,
                  "ngay_hop": minh_id, "anh": minh_id, "kho_khan": minh_id}
    await minh.press_label("Gửi báo cáo")
    assert "✅" in minh.text
    sent = next(e for e in await app.storage.audit_log() if e["action"] == "report.submit")
    assert sent["details"]["answered_by"] == {q: by[q] for q in by}


async def test_the_officer_whose_answer_a_colleague_replaced_is_told_once(
        tmp_path: Path, clock: Clock) -> None:
    first = await make_app(tmp_path, clock)
    lan, minh, _ = await summary_then_colleague_changes_question_2(first)
    assert "ℹ" not in minh.text  # Minh replaced it: nothing to tell Minh
    await minh.say("999")  # Minh's own answer now, unchanged: nobody is told again
    await first.close()
    # Told on Lan's next message, after a restart too (the notice is stored, then warmed).
    app = await make_app(tmp_path, clock)
    try:
        await app.reporting.warm()
        lan.app = minh.app = app
        await lan.cmd("trangthai")
        assert lan.last[0].text.startswith(
            "ℹ Đ/c Minh đã sửa câu 2 (Tổng số HTX) của báo cáo “Báo cáo quý thử nghiệm” — "
            "Quý I/2026: 11 HTX → 999 HTX.")
        assert "Tình hình báo cáo" in lan.text  # the reply to the message itself follows
        await lan.cmd("trangthai")
        assert "ℹ" not in lan.text  # once
        await minh.cmd("trangthai")
        assert "ℹ" not in minh.text
        assert await app.storage.db.fetchall("SELECT * FROM notices") == []
    finally:
        await app.close()


async def test_only_a_different_value_from_another_officer_is_told(app: App) -> None:
    lan = await officer(app, "lan", "Lan")
    minh = await officer(app, "minh", "Minh")
    await lan.press(REPORT)
    for text in ANSWERS:
        await lan.say(text)
    await minh.press(REPORT)
    await minh.press_label("Sửa câu")
    await minh.press_label("Câu 2")
    await minh.say("11")  # the same value: nothing replaced
    await lan.press_label("Sửa câu")
    await lan.press_label("Câu 3")
    await lan.say("3")  # Lan's own answer
    await lan.cmd("trangthai")
    await minh.cmd("trangthai")
    assert "ℹ" not in lan.text and "ℹ" not in minh.text
    await minh.press(REPORT)
    await minh.press_label("Sửa câu")
    await minh.press_label("Câu 3")
    await minh.say("1")  # Lan's 3 → 1: Lan is told, and only this
    await lan.cmd("trangthai")
    assert lan.text.count("ℹ") == 1 and "câu 3 (Số HTX mới)" in lan.text
    assert "3 HTX → 1 HTX" in lan.text


async def test_a_colleagues_draft_says_whose_it_is_how_far_and_when(
        app: App, clock: Clock) -> None:
    lan = await officer(app, "lan", "Lan")
    minh = await officer(app, "minh", "Minh")
    await lan.press(REPORT)
    assert "👥" not in lan.text  # Lan's own new draft
    await lan.say(ANSWERS[0])
    await lan.say(ANSWERS[1])
    clock.now += timedelta(minutes=5)
    await lan.say(ANSWERS[2])
    await minh.press(REPORT)
    assert ("👥 Bản nháp này do đ/c Lan bắt đầu: đã trả lời 3/10 câu, cập nhật lần cuối lúc "
            "10:05 ngày 20/02/2026.") in minh.text
    assert "Câu 4/10: Tỉ lệ tổ vay vốn khá trở lên" in minh.text  # the line sits above it
    await minh.say("90")  # and Minh continues: no confirmation step in between
    assert "✓ Đã lưu: 90%" in minh.text
    await lan.cmd("baocao")  # Lan comes back: Minh has answered in Lan's draft
    assert "👥 Đ/c Minh cũng đã trả lời bản nháp này: đã trả lời 4/10 câu" in lan.text


async def test_cancelling_names_the_colleagues_and_tells_them(app: App) -> None:
    lan = await officer(app, "lan", "Lan")
    minh = await officer(app, "minh", "Minh")
    await lan.press(REPORT)
    for text in ANSWERS[:2]:
        await lan.say(text)
    await minh.press(REPORT)
    await minh.say(ANSWERS[2])
    await minh.cmd("huy")
    assert "kể cả 2 câu của đ/c Lan" in minh.text
    await minh.press_label("Có, hủy")
    assert await app.storage.find_draft(*KEY) is None
    await lan.say("90")  # Lan was on question 4 of the draft that is gone
    assert lan.last[0].text.startswith(
        "ℹ Đ/c Minh đã hủy bản nháp báo cáo “Báo cáo quý thử nghiệm” — Quý I/2026, gồm 2 câu "
        "bạn đã trả lời.")
    assert "không còn bản nháp" in lan.text
    await lan.cmd("trangthai")
    assert "ℹ" not in lan.text
    await lan.press(REPORT)  # a draft of Lan's alone: nobody to name
    await lan.say(ANSWERS[0])
    await lan.cmd("huy")
    assert "Các câu trả lời đã nhập sẽ bị xóa." in lan.text and "đ/c" not in lan.text


async def test_notices_cost_an_answer_no_database_read(app: App) -> None:
    """Warmed as `baocao run` warms: pending notices are known in memory, so answering reads
    nothing to learn there is nothing to tell, and a notice is shown without a read either."""
    await app.reporting.warm()
    lan = await officer(app, "lan", "Lan")
    minh = await officer(app, "minh", "Minh")
    await lan.press(REPORT)
    await lan.say(ANSWERS[0])
    await lan.say(ANSWERS[1])
    reads: list[str] = []
    real_fetchall = app.storage.db.fetchall

    async def counting(sql: str, params: Any = ()) -> Any:
        reads.append(sql)
        return await real_fetchall(sql, params)

    app.storage.db.fetchall = counting  # type: ignore[method-assign]
    for text in ANSWERS[2:5]:
        await lan.say(text)
    assert reads == []  # the draft is cached, and so are the notices
    await minh.press(REPORT)  # question 6
    await minh.press_label("Quay lại")
    await minh.say("50")  # Lan's 12 triệu đồng → 50
    reads.clear()
    await lan.say("1")
    assert lan.last[0].text.startswith("ℹ Đ/c Minh đã sửa câu 5 (Vốn ủy thác)")
    assert not [sql for sql in reads if "notices" in sql]
