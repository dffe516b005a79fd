"""The dialogue engine through the service, on a real SQLite file: every question type, skip
logic, back, skip, edit from the summary, rule violations, resume, cancel, corrections."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import App, build_app
from bot.domain.buttons import (
    Choose,
    ConfirmCancel,
    CorrectReport,
    DoneChoosing,
    EditQuestion,
    OpenReport,
    SendReport,
    Toggle,
)
from bot.domain.reports import ReportKey
from bot.domain.roles import Role
from bot.services.channels import Inbound
from bot.services.commands import COMMANDS, allowed
from tests.harness import Chat, Clock, join, make_app

REPORT = OpenReport(0, "thu_nghiem", "2026-Q1").pack()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def app(tmp_path: Path, clock: Clock) -> AsyncIterator[App]:
    app = await make_app(tmp_path, clock)
    yield app
    await app.close()


async def test_unbound_user_gets_join_help_and_no_data(app: App) -> None:
    stranger = Chat(app, "999")
    for action in (stranger.say("xin chào"), stranger.cmd("baocao"), stranger.press(REPORT)):
        replies = await action
        assert "Bạn chưa tham gia" in replies[0].text
        assert not replies[0].buttons
    assert await app.storage.find_person("test", "999") is None


async def test_bad_invites_bind_nothing(app: App, clock: Clock) -> None:
    from bot.services.invites import create_invite

    chat = Chat(app, "1")
    await chat.cmd("start", "WRONG123")
    assert "không đúng" in chat.text
    invite = await create_invite(app.storage, "LC-BX-01", Role.OFFICER, 1, 1, clock())
    clock.now += timedelta(days=2)
    await chat.cmd("start", invite.code)
    assert "hết hạn" in chat.text
    invite = await create_invite(app.storage, "LC-BX-01", Role.OFFICER, 1, 7, clock())
    await join_with(chat, invite.code)
    other = Chat(app, "2")
    await other.cmd("start", invite.code.lower())  # case does not matter, but it is used up
    assert "hết số lượt" in other.text
    assert await app.storage.find_person("test", "2") is None


async def join_with(chat: Chat, code: str) -> None:
    await chat.cmd("start", code)
    assert "Bạn đã tham gia Đoàn xã Bản Vược với vai trò cán bộ báo cáo" in chat.text


async def test_list_shows_title_period_due_and_status(app: App) -> None:
    chat = await join(app, "1")
    await chat.cmd("baocao")
    assert "Báo cáo quý thử nghiệm" in chat.text
    assert "Quý I/2026 · hạn: hết ngày 04/03/2026 · ⚪ chưa làm" in chat.text
    assert chat.last[0].flat_buttons()[0].data == REPORT


async def answer_all(chat: Chat) -> None:
    """Walk the whole test template with valid answers, wrong inputs along the way."""
    await chat.press(REPORT)
    assert "Câu 1/11: Đoàn xã có fanpage chưa?" in chat.text
    await chat.say("có lẽ")
    assert "Vui lòng trả lời “Có” hoặc “Không”" in chat.text and "Câu 1/11" in chat.text
    await chat.press_label("Có")
    assert "✓ Đã lưu: Có" in chat.text and "Câu 2/11: Số tin bài" in chat.text
    await chat.say("12 tin")
    await chat.say("1.234")  # htx_tong
    assert "✓ Đã lưu: 1.234 HTX" in chat.text
    await chat.say("2")  # htx_moi
    await chat.say("120%")
    assert "nằm ngoài khoảng" in chat.text and "Câu 5/11" in chat.text
    await chat.say("98,5%")
    await chat.say("bỏ qua")  # von is optional
    assert "↷ Đã bỏ qua" in chat.text
    await chat.say("loa truyen thanh")
    assert "✓ Đã lưu: Loa truyền thanh" in chat.text
    await chat.press(Toggle("kenh", 0).pack())
    assert chat.last[0].replace and "☑ Zalo" in chat.last[0].flat_buttons()[0].label
    await chat.press(Toggle("kenh", 2).pack())
    await chat.press(DoneChoosing("kenh").pack())
    assert "✓ Đã lưu: Zalo, Họp dân" in chat.text
    await chat.say("31/02/2026")
    assert "không tồn tại" in chat.text
    await chat.say("15/02/2026")
    await chat.say("đây là chữ")
    assert "cần một ảnh" in chat.text
    await chat.photo("PHOTO-1")
    await chat.say("Thiếu vốn")
    assert "📋 Tóm tắt" in chat.text


async def test_whole_report_then_send(app: App, clock: Clock) -> None:
    chat = await join(app, "1")
    await answer_all(chat)
    summary = chat.text
    for line in ("→ Có", "→ 12 tin bài", "→ 1.234 HTX", "→ 98,5%", "→ — (bỏ qua)",
                 "→ Loa truyền thanh", "→ Zalo, Họp dân", "→ 15/02/2026", "→ (đã gửi ảnh)",
                 "→ Thiếu vốn"):
        assert line in summary
    await chat.press_label("Gửi báo cáo")
    assert "✅ Đã gửi báo cáo (đúng hạn)" in chat.text
    assert "Lúc 10:00 ngày 20/02/2026" in chat.text
    sub = await app.storage.get_submission("LC-BX-01", "thu_nghiem", "2026-Q1")
    assert sub is not None and sub.on_time and sub.version == 1
    assert sub.answers == {
        "co_fanpage": True, "so_tin": 12, "htx_tong": 1234, "htx_moi": 2, "ty_le": 98.5,
        "von": None, "hinh_thuc": "loa", "kenh": ["zalo", "hop"], "ngay_hop": "2026-02-15",
        "anh": "PHOTO-1", "kho_khan": "Thiếu vốn",
    }
    assert await app.storage.find_draft("LC-BX-01", "thu_nghiem", "2026-Q1") is None
    await chat.cmd("baocao")
    assert "✅ đã gửi" in chat.text


async def test_skip_logic_hides_and_drops_dependent_answer(app: App) -> None:
    chat = await join(app, "1")
    await chat.press(REPORT)
    await chat.say("co")
    await chat.say("7")
    await chat.say("quay lai")
    await chat.say("quay lai")
    assert "Câu 1/11" in chat.text and "Đã trả lời: Có" in chat.text
    await chat.say("khong")  # now so_tin is hidden
    assert "Câu 2/10: Tổng số HTX" in chat.text
    for text in ("5", "1", "50", "bo qua", "1", "1", "xong", "bo qua", "bo qua", "bo qua"):
        await chat.say(text)
    assert "📋 Tóm tắt" in chat.text and "Số tin bài" not in chat.text
    await chat.press_label("Gửi báo cáo")
    sub = await app.storage.get_submission("LC-BX-01", "thu_nghiem", "2026-Q1")
    assert sub is not None and "so_tin" not in sub.answers  # a hidden answer is not submitted


async def test_required_cannot_be_skipped_and_back_on_first(app: App) -> None:
    chat = await join(app, "1")
    await chat.press(REPORT)
    await chat.say("bo qua")
    assert "bắt buộc" in chat.text and "Câu 1/11" in chat.text
    await chat.say("quay lại")
    assert "Đây là câu đầu tiên" in chat.text


async def test_rule_violation_blocks_sending_until_fixed(app: App) -> None:
    chat = await join(app, "1")
    await chat.press(REPORT)
    for text in ("khong", "3", "5", "90", "bo qua", "1", "1, 2", "bo qua", "bo qua", "bo qua"):
        await chat.say(text)
    assert "⚠ Số HTX mới không được lớn hơn tổng số HTX." in chat.text
    assert not any("Gửi báo cáo" in b.label for b in chat.last[0].flat_buttons())
    await chat.press_label("Sửa câu")
    await chat.press_label("Câu 3")  # htx_moi
    assert "Số HTX mới" in chat.text and "Đã trả lời: 5 HTX" in chat.text
    await chat.say("2")
    assert "📋 Tóm tắt" in chat.text and "⚠" not in chat.text  # straight back to the summary
    await chat.press_label("Gửi báo cáo")
    assert "✅" in chat.text


async def test_forged_send_with_problems_is_refused(app: App) -> None:
    chat = await join(app, "1")
    await chat.press(REPORT)
    await chat.say("khong")
    await chat.press(SendReport(0, "thu_nghiem", "2026-Q1").pack())
    assert "Nút này đã cũ" in chat.text  # not on the summary: stale
    assert await app.storage.get_submission("LC-BX-01", "thu_nghiem", "2026-Q1") is None


async def test_resume_after_restart_and_days_of_silence(tmp_path: Path, clock: Clock) -> None:
    app = await make_app(tmp_path, clock)
    chat = await join(app, "1")
    await chat.press(REPORT)
    await chat.say("co")
    await chat.say("4")
    await app.close()

    clock.now += timedelta(days=6)
    app = await build_app(app.config, clock=clock)  # a restart: new service, same file
    chat = Chat(app, "1", counter=100)
    await chat.say("xin chào")  # any message resumes
    assert "Câu 3/11: Tổng số HTX" in chat.text
    await chat.cmd("baocao")
    assert "Tiếp tục báo cáo" in chat.text and "Câu 3/11" in chat.text
    await chat.cmd("danhsach")
    assert "✏ đang làm dở (2/11 câu)" in chat.text
    await app.close()


async def test_warm_start_resumes_without_reading_people_again(tmp_path: Path,
                                                                clock: Clock) -> None:
    app = await make_app(tmp_path, clock)
    chat = await join(app, "1")
    await join(app, "2", unit="LC-BX-02")
    await chat.press(REPORT)
    await chat.say("co")
    await app.close()

    app = await build_app(app.config, clock=clock)  # a restart, warmed as `baocao run` does
    assert await app.reporting.warm() == 2
    reads: list[str] = []
    real_fetchall = app.storage.db.fetchall

    async def counting(sql: str, params: Any = ()) -> Any:
        reads.append(sql)
        return await real_fetchall(sql, params)

    app.storage.db.fetchall = counting  # type: ignore[method-assign]
    chat = Chat(app, "1", counter=100)
    await chat.say("4")  # the next answer goes where the conversation was
    assert "Đã lưu: 4" in chat.text and "Câu 3/11" in chat.text
    assert not [sql for sql in reads if "people" in sql or "memberships" in sql
                or "conversations" in sql]
    await app.close()


async def test_duplicate_event_changes_nothing(app: App) -> None:
    chat = await join(app, "1")
    await chat.press(REPORT)
    await chat.say("co")
    event = Inbound("test", "1", "Cán bộ", text="5", event_id="dup-1")
    first = await app.reporting.handle(event)
    again = await app.reporting.handle(event)  # redelivered: must not answer question 3
    assert first and again == []
    draft = await app.storage.find_draft("LC-BX-01", "thu_nghiem", "2026-Q1")
    assert draft is not None and draft.answers == {"co_fanpage": True, "so_tin": 5}


async def test_cancel_needs_confirmation(app: App) -> None:
    chat = await join(app, "1")
    await chat.press(REPORT)
    await chat.say("co")
    await chat.cmd("huy")
    assert "Hủy bản nháp" in chat.text
    await chat.say("2")  # "Không, làm tiếp"
    assert "Câu 2/11" in chat.text
    await chat.cmd("huy")
    await chat.say("1")
    assert "Đã hủy bản nháp" in chat.text
    assert await app.storage.find_draft("LC-BX-01", "thu_nghiem", "2026-Q1") is None
    await chat.cmd("huy")
    assert "không có báo cáo nào đang làm" in chat.text


async def test_late_submission_and_correction_until_lock(app: App, clock: Clock) -> None:
    chat = await join(app, "1")
    clock.now = datetime(2026, 3, 6, 2, 0, tzinfo=UTC)  # due 05/03 00:00 local: late
    await chat.cmd("baocao")
    assert "⏰ trễ hạn" in chat.text
    await answer_all(chat)
    await chat.press_label("Gửi báo cáo")
    assert "trễ hạn 2 ngày" in chat.text
    await chat.cmd("trangthai")
    assert "đã gửi lúc 09:00 ngày 06/03/2026 (trễ hạn 2 ngày)" in chat.text
    await chat.press_label("Sửa:")
    assert "Bạn đang sửa báo cáo đã gửi" in chat.text
    await chat.press_label("Sửa câu")
    await chat.press_label("Câu 3")
    await chat.say("2000")
    await chat.press_label("Gửi bản sửa")
    assert "Đã gửi bản sửa (1 câu thay đổi)" in chat.text
    sub = await app.storage.get_submission("LC-BX-01", "thu_nghiem", "2026-Q1")
    assert sub is not None and sub.version == 2 and sub.answers["htx_tong"] == 2000
    assert not sub.on_time  # a correction keeps the first version's lateness
    first = await app.storage.get_submission("LC-BX-01", "thu_nghiem", "2026-Q1", version=1)
    assert first is not None and first.answers["htx_tong"] == 1234
    audit = [a for a in await app.storage.audit_log() if a["action"] == "report.correct"]
    assert audit[0]["details"]["changed"] == {"htx_tong": [1234, 2000]}
    assert audit[0]["actor"].startswith("person:")

    clock.now = datetime(2026, 3, 15, 17, 0, tzinfo=UTC)  # lock: 05/03 + 10 days, local
    await chat.press(CorrectReport(0, "thu_nghiem", "2026-Q1").pack())
    assert "đã khóa sổ" in chat.text


async def test_stale_and_forged_buttons_do_no_harm(app: App) -> None:
    chat = await join(app, "1")
    await chat.press(REPORT)
    await chat.say("co")
    forged = [Choose("co_fanpage", 1), OpenReport(7, "thu_nghiem", "2026-Q1"),
              OpenReport(0, "thu_nghiem", "2027-Q1"), OpenReport(0, "khong_co", "2026-Q1"),
              Choose("so_tin", 99), EditQuestion("htx_tong"),
              OpenReport(0, "thu_nghiem", "2026-Q2x"), ConfirmCancel(0, "thu_nghiem", "2026-Q1")]
    for data in [b.pack() for b in forged] + ["zzz", "o|x|y", "a|so_tin|-1", ""]:
        await chat.press(data)
        assert chat.text  # always a polite answer
    draft = await app.storage.find_draft("LC-BX-01", "thu_nghiem", "2026-Q1")
    assert draft is not None and draft.answers == {"co_fanpage": True}


async def test_roles_are_enforced(app: App) -> None:
    supervisor = await join(app, "s1", unit="LC-BX", role=Role.SUPERVISOR)
    await supervisor.cmd("baocao")
    assert "không dành cho vai trò của bạn" in supervisor.text
    await supervisor.press(REPORT)
    assert "không dành cho vai trò của bạn" in supervisor.text
    officer = await join(app, "1")
    await officer.press(REPORT)
    for text in ("co", "1", "5", "2", "90", "bo qua", "1", "1", "xong", "bo qua", "bo qua",
                 "bo qua"):
        await officer.say(text)
    await officer.press_label("Gửi báo cáo")
    await supervisor.cmd("trangthai")
    assert "Tình hình báo cáo — Huyện đoàn Bát Xát" in supervisor.text
    assert "đã gửi 1/3, đúng hạn 1" in supervisor.text
    assert "Chưa gửi: Đoàn xã Mường Hum, Đoàn thị trấn Bát Xát" in supervisor.text


async def test_help_lists_every_command_for_the_role(app: App) -> None:
    officer = await join(app, "1")
    await officer.cmd("giup")
    for c in COMMANDS:
        assert (f"/{c.name} —" in officer.text) == allowed(c, {Role.OFFICER})
    supervisor = await join(app, "2", unit="LC", role=Role.SUPERVISOR)
    await supervisor.cmd("giup")
    assert "/trangthai" in supervisor.text and "/baocao" not in supervisor.text
    assert "/nhapho —" in supervisor.text
    await officer.cmd("khongcolenhnay")
    assert "Không có lệnh /khongcolenhnay" in officer.text


async def test_two_officers_share_the_unit_draft(app: App) -> None:
    a = await join(app, "a")
    b = await join(app, "b")
    await a.press(REPORT)
    await a.say("khong")
    await b.press(REPORT)
    assert "Câu 2/10: Tổng số HTX" in b.text  # b continues where a stopped


async def test_numbered_choices_work_without_buttons(app: App) -> None:
    chat = await join(app, "1")
    await chat.cmd("baocao")
    await chat.say("1")  # first report in the numbered list
    assert "Câu 1/11" in chat.text
    await chat.say("2")  # "Không" on a yes/no question
    assert "✓ Đã lưu: Không" in chat.text


async def test_colleagues_answer_is_never_lost_on_send(app: App) -> None:
    a = await join(app, "a")
    b = await join(app, "b")
    await a.press(REPORT)
    for text in ("khong", "3", "1", "90", "bo qua", "1", "1", "xong", "bo qua", "bo qua",
                 "bo qua"):
        await a.say(text)
    assert "📋 Tóm tắt" in a.text
    await b.press(REPORT)  # b opens the same draft: it goes to the summary too
    await b.press_label("Sửa câu")
    await b.press_label("Câu 2")
    await b.say("9")  # b changes an answer after a reviewed the summary
    await a.press_label("Gửi báo cáo")  # not what a saw: a gets the summary as it is now
    assert await app.storage.get_submission("LC-BX-01", "thu_nghiem", "2026-Q1") is None
    await a.press_label("Gửi báo cáo")  # the unit's report goes out with b's answer in it
    sub = await app.storage.get_submission("LC-BX-01", "thu_nghiem", "2026-Q1")
    assert sub is not None and sub.answers["htx_tong"] == 9


async def test_answer_to_a_draft_a_colleague_just_sent(app: App) -> None:
    a = await join(app, "a")
    b = await join(app, "b")
    await a.press(REPORT)
    await b.press(REPORT)
    for text in ("khong", "3", "1", "90", "bo qua", "1", "1", "xong", "bo qua", "bo qua"):
        await a.say(text)
    await b.say("khong")  # b is on question 1 of the same draft, still open
    await a.say("bo qua")
    await a.press_label("Gửi báo cáo")
    assert "✅" in a.text
    await b.say("5")  # the draft is gone: b is told, nothing crashes, the report is intact
    assert "không còn bản nháp" in b.text or "cán bộ khác" in b.text
    sub = await app.storage.get_submission("LC-BX-01", "thu_nghiem", "2026-Q1")
    assert sub is not None and sub.answers["htx_tong"] == 3


async def test_a_slow_read_never_overwrites_a_newer_cached_draft(app: App) -> None:
    x = await join(app, "x")
    y = await join(app, "y")
    await x.press(REPORT)
    storage = app.storage
    real = storage.find_draft
    gate = asyncio.Event()

    async def slow_find(*key: str) -> object:
        found = await real(*key)
        task = asyncio.current_task()
        if task is not None and task.get_name() == "Y":
            await gate.wait()  # y's read returns after x's answer was committed
        return found

    storage.find_draft = slow_find  # type: ignore[method-assign,assignment]
    pressed = asyncio.create_task(y.press(REPORT), name="Y")
    await asyncio.sleep(0.05)
    await x.say("có")
    gate.set()
    await pressed
    storage.find_draft = real  # type: ignore[method-assign]
    await x.say("7")
    draft = await real("LC-BX-01", "thu_nghiem", "2026-Q1")
    assert draft is not None and draft.answers == {"co_fanpage": True, "so_tin": 7}
    cached = app.reporting.deps.drafts.cached.get(ReportKey("LC-BX-01", "thu_nghiem", "2026-Q1"))
    assert cached is None or cached.answers == draft.answers


async def test_a_read_is_still_cached_when_only_other_drafts_changed(app: App) -> None:
    """Under load some commit lands during every read; only commits to the same draft make a
    read stale, or every answer would cost a database read."""
    x = await join(app, "x")
    y = await join(app, "y", unit="LC-BX-02")
    await x.press(REPORT)
    await y.press(REPORT)
    cache = app.reporting.deps.drafts
    y_key = ReportKey("LC-BX-02", "thu_nghiem", "2026-Q1")
    cache.cached.pop(y_key, None)  # not cached (as after a restart): y's answer reads it
    storage = app.storage
    real = storage.find_draft
    gate = asyncio.Event()

    async def slow_find(*key: str) -> object:
        found = await real(*key)
        task = asyncio.current_task()
        if task is not None and task.get_name() == "Y":
            await gate.wait()  # x's answer to another unit's draft is committed meanwhile
        return found

    storage.find_draft = slow_find  # type: ignore[method-assign,assignment]
    answered = asyncio.create_task(y.say("có"), name="Y")
    await asyncio.sleep(0.05)
    await x.say("có")
    gate.set()
    await answered
    storage.find_draft = real  # type: ignore[method-assign]
    stored = await real(*y_key)
    assert stored is not None and stored.answers == {"co_fanpage": True}
    cached = cache.cached.get(y_key)
    assert cached is not None and cached.answers == stored.answers  # cached, and true
    assert not cache.touched_ids and not cache.touched_keys  # forgotten once no read is left


async def test_the_draft_cache_keeps_the_most_recent_and_stays_true(app: App) -> None:
    """Bounded: the least recently used draft goes, and an answer to it is read back from
    the database, not lost (memory at 10,000 communes: bench/memory.py)."""
    cache = app.reporting.deps.drafts
    cache.limit = 1
    x = await join(app, "x")
    y = await join(app, "y", unit="LC-BX-02")
    await x.press(REPORT)
    await y.press(REPORT)
    await x.say("có")
    await y.say("không")  # y's draft read: it pushes x's out
    assert list(cache.cached) == [ReportKey("LC-BX-02", "thu_nghiem", "2026-Q1")]
    await x.say("7")  # read back from the database
    await y.say("12")
    stored = await app.storage.find_draft("LC-BX-01", "thu_nghiem", "2026-Q1")
    assert stored is not None and stored.answers == {"co_fanpage": True, "so_tin": 7}
    other = await app.storage.find_draft("LC-BX-02", "thu_nghiem", "2026-Q1")
    assert other is not None and other.answers == {"co_fanpage": False, "htx_tong": 12}
    assert len(cache.cached) == 1 and len(cache.keys) <= 1
