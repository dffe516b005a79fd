"""Guards of the dialogue that a second mutation review (issue 9) found no test noticing when
they were removed or changed: which screen a button is valid on, forged indexes, typed numbers
and keywords, states stored by older versions, the instants where a period opens, locks and
becomes late, a colleague's answer racing a send, and the draft cache. Each test fails with its
guard removed (the review's table names the mutant)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import App, build_app
from bot.domain.buttons import (
    AskCancel,
    Back,
    Choose,
    ClearAnswer,
    DoneChoosing,
    EditQuestion,
    Keep,
    OpenReport,
    PickQuestion,
    ReportNow,
    Skip,
    Toggle,
)
from bot.domain.conversation import Mode
from bot.domain.periods import Period
from bot.domain.reports import Window, window
from tests.harness import TEST_TEMPLATE, Chat, Clock, join, make_app
from tests.test_dialogue_fixes import (
    DATED,
    KEY,
    REPORT,
    SA_PA_ONLY,
    answer_rest,
    sent_report,
    stored_conversation,
    to_question_6,
)

DATED_REPORT = OpenReport(0, "ngay_trong_ky", "2026-Q1").pack()
# Answers to the whole test report with "no fanpage" (so_tin hidden) and von = 12 triệu đồng.
WITHOUT_FANPAGE = ("khong", "5", "2", "90", "12", "1", "1", "xong", "bo qua", "bo qua",
                   "bo qua")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def app(tmp_path: Path, clock: Clock) -> AsyncIterator[App]:
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "thu_nghiem.toml").write_text(TEST_TEMPLATE, encoding="utf-8")
    (folder / "chi_sa_pa.toml").write_text(SA_PA_ONLY, encoding="utf-8")
    (folder / "ngay_trong_ky.toml").write_text(DATED, encoding="utf-8")
    app = await make_app(tmp_path, clock, reports=folder)
    yield app
    await app.close()


def q1_window(app: App) -> Window:
    return window(app.templates["thu_nghiem"], Period.parse("2026-Q1"), app.config.zone,
                  app.config.reports.lock_days)


def number_of(chat: Chat, label_part: str) -> str:
    """What to type for the numbered button whose label contains `label_part`."""
    labels = [b.label for b in chat.last[-1].flat_buttons()]
    return str(next(i for i, label in enumerate(labels, 1) if label_part in label))


async def answers(app: App) -> dict[str, Any] | None:
    draft = await app.storage.find_draft(*KEY)
    return None if draft is None else draft.answers


async def press_changes_nothing(app: App, chat: Chat, data: str) -> None:
    """Press `data`: a polite reply, and the draft, the submission and the screen as before."""
    before, where = await answers(app), await stored_conversation(app, chat)
    await chat.press(data)
    assert chat.text, data
    assert await answers(app) == before, data
    assert await app.storage.get_submission(*KEY) is None, data
    now = await stored_conversation(app, chat)
    assert (now.mode, now.report, now.question, now.selected) == (
        where.mode, where.report, where.question, where.selected), data


async def set_state(app: App, chat: Chat, state: dict[str, Any]) -> None:
    """Store a conversation as an older version (or a bug) left it, before the person's next
    message (the service reads it then: nothing of it is cached yet)."""
    person = await app.storage.find_person("test", chat.user_id)
    assert person is not None
    await app.storage.db.write(lambda c: c.execute(
        "INSERT INTO conversations (person_id, state, updated_at) VALUES (?,?,?)"
        " ON CONFLICT(person_id) DO UPDATE SET state=excluded.state",
        (person.id, json.dumps(state), "2026-01-01T00:00:00+00:00")))


# --- buttons valid on one screen only ----------------------------------------------------------


async def test_forged_report_buttons_on_a_question_change_nothing(app: App) -> None:
    chat = await join(app, "1")
    await chat.press(REPORT)
    await chat.say("co")
    for data in [
        PickQuestion(0, "thu_nghiem", "2026-Q1").pack(),  # valid on the summary only
        AskCancel(0, "ngay_trong_ky", "2026-Q1").pack(),  # a report not on screen
        OpenReport(1, "thu_nghiem", "2026-Q1").pack(),  # one past the last unit
        OpenReport(0, "thu_nghiem", "2026-02").pack(),  # a month of a quarterly report
        OpenReport(0, "thu_nghiem", "2026").pack(),
        ReportNow("LC-SP-01", "thu_nghiem", "2026-Q1").pack(),  # another commune's
    ]:
        await press_changes_nothing(app, chat, data)
    for period in ("2026-02", "2026"):
        assert await app.storage.find_draft("LC-BX-01", "thu_nghiem", period) is None
    assert await app.storage.find_draft("LC-SP-01", "thu_nghiem", "2026-Q1") is None


async def test_forged_answers_to_the_question_on_screen_change_nothing(app: App) -> None:
    chat = await join(app, "1")
    await chat.press(REPORT)  # question 1: yes/no
    for index in (2, 5):
        await press_changes_nothing(app, chat, Choose("co_fanpage", index).pack())
    for text in ("khong", "5", "2", "90", "bo qua"):
        await chat.say(text)
    assert "Hình thức chính" in chat.text  # a choice of two
    for index in (2, 3):
        await press_changes_nothing(app, chat, Choose("hinh_thuc", index).pack())
    await chat.say("1")
    assert "Các kênh đã dùng" in chat.text  # three options to tick
    for index in (3, 9):
        await press_changes_nothing(app, chat, Toggle("kenh", index).pack())


async def test_buttons_of_an_older_question_on_the_summary_change_nothing(app: App) -> None:
    chat = await join(app, "1")
    await chat.press(REPORT)
    for text in WITHOUT_FANPAGE:
        await chat.say(text)
    assert "📋 Tóm tắt" in chat.text
    assert (await answers(app) or {})["von"] == 12
    for data in [ClearAnswer("von"), Choose("hinh_thuc", 1), Skip("ngay_hop"), Keep("von"),
                 Toggle("kenh", 2), DoneChoosing("kenh"), Back("kho_khan"),
                 EditQuestion("so_tin")]:  # hidden: "no fanpage"
        await press_changes_nothing(app, chat, data.pack())


async def test_an_older_confirmation_never_cancels_another_reports_draft(app: App) -> None:
    chat = await join(app, "1")
    await chat.press(REPORT)
    await chat.say("co")
    await chat.cmd("huy")
    old_yes = next(b.data for b in chat.last[0].flat_buttons() if "Có, hủy" in b.label)
    await chat.press_label("Không, làm tiếp")
    await chat.press(DATED_REPORT)  # another report, then asked to abandon that one
    await chat.cmd("huy")
    assert "Báo cáo có ngày trong kỳ" in chat.text
    await chat.press(old_yes)  # the first report's "yes": not what is asked now
    assert "Nút này đã cũ" in chat.text
    assert await answers(app) == {"co_fanpage": True}


async def test_an_older_send_confirmation_does_not_send(app: App) -> None:
    chat = await sent_report(app)
    await chat.cmd("trangthai")
    await chat.press_label("Sửa:")
    await chat.press_label("Sửa câu")
    await chat.press_label("Câu 3")
    await chat.say("9")
    await chat.say(number_of(chat, "Gửi bản sửa"))
    assert "Gửi bản sửa với 1 câu thay đổi?" in chat.text
    old_yes = next(b.data for b in chat.last[0].flat_buttons() if "Có, gửi" in b.label)
    await chat.press_label("Chưa, xem lại")
    assert "📋 Tóm tắt" in chat.text
    await chat.press(old_yes)  # back on the summary: the question it answered is gone
    assert "Nút này đã cũ" in chat.text
    sub = await app.storage.get_submission(*KEY)
    assert sub is not None and sub.version == 1


async def test_the_pickers_buttons_still_work_from_the_summary(app: App) -> None:
    chat = await join(app, "1")
    await to_question_6(chat)
    await chat.say("bỏ qua")
    await answer_rest(chat)
    await chat.press_label("Sửa câu")
    third = next(b.data for b in chat.last[0].flat_buttons() if b.label == "Câu 3")
    await chat.press_label("Về bản tóm tắt")
    assert "📋 Tóm tắt" in chat.text
    await chat.press(third)  # the picker message is still above the summary
    assert "Tổng số HTX" in chat.text and "Đã trả lời: 5 HTX" in chat.text


async def test_the_list_offers_only_templates_that_apply_to_the_unit(app: App) -> None:
    chat = await join(app, "1")  # Bản Vược, in Bát Xát
    await chat.cmd("baocao")
    assert "Báo cáo quý thử nghiệm" in chat.text and "Sa Pa" not in chat.text
    sa_pa = await join(app, "2", unit="LC-SP-01")
    await sa_pa.cmd("baocao")
    assert "Báo cáo riêng của Sa Pa" in sa_pa.text


async def test_a_new_draft_starts_on_the_current_template_version(app: App,
                                                                   clock: Clock) -> None:
    chat = await join(app, "1")
    template = Path(app.config.reports.folder) / "thu_nghiem.toml"
    template.write_text(TEST_TEMPLATE.replace("Tổng số HTX", "Tổng số hợp tác xã"),
                        encoding="utf-8")
    changed = await build_app(app.config, clock=clock)  # a restart after the edit
    try:
        assert changed.versions["thu_nghiem"] == 2
        chat = Chat(changed, chat.user_id, counter=100)
        await chat.press(REPORT)
        draft = await changed.storage.find_draft(*KEY)
        assert draft is not None and draft.template_version == 2
    finally:
        await changed.close()


# --- typed numbers and keywords ------------------------------------------------------------------


async def test_typing_zero_presses_no_button(app: App) -> None:
    chat = await join(app, "1")
    await chat.press(REPORT)  # "1. Có  2. Không"
    await chat.say("0")
    assert "Câu 1/11" in chat.text
    assert await answers(app) == {}  # not "Không", the last button


async def test_typed_keywords_answer_a_confirmation(app: App) -> None:
    """Channels without buttons (the terminal, Zalo) answer "Hủy bản nháp?" by typing."""
    chat = await join(app, "1")
    await chat.press(REPORT)
    await chat.say("co")
    await chat.cmd("huy")
    await chat.say("không")
    assert "Câu 2/11" in chat.text and await answers(app) == {"co_fanpage": True}
    await chat.cmd("huy")
    await chat.say("có")
    assert "Đã hủy bản nháp" in chat.text and await answers(app) is None


async def test_a_first_report_sent_by_a_typed_number_is_sent_at_once(app: App) -> None:
    chat = await join(app, "1")
    await to_question_6(chat)
    await chat.say("bỏ qua")
    await answer_rest(chat)
    await chat.say(number_of(chat, "Gửi báo cáo"))
    assert "✅ Đã gửi báo cáo (đúng hạn)" in chat.text  # only corrections ask again


async def test_a_typed_correction_that_changes_nothing_is_not_asked_about(app: App) -> None:
    chat = await sent_report(app)
    await chat.cmd("trangthai")
    await chat.press_label("Sửa:")
    await chat.say(number_of(chat, "Gửi bản sửa"))
    assert "không thay đổi câu nào" in chat.text and "Gửi bản sửa với" not in chat.text
    sub = await app.storage.get_submission(*KEY)
    assert sub is not None and sub.version == 1


async def test_the_confirmation_lists_every_change_that_will_be_sent(app: App) -> None:
    """Answering "no fanpage" drops the number of posts from the report: the question asking
    to confirm the correction must count it, as the sent version does."""
    chat = await sent_report(app)  # fanpage: yes, 7 posts
    await chat.cmd("trangthai")
    await chat.press_label("Sửa:")
    await chat.press_label("Sửa câu")
    await chat.press_label("Câu 1")
    await chat.say("khong")
    await chat.say(number_of(chat, "Gửi bản sửa"))
    asked = chat.text
    await chat.say("có")
    assert "Đã gửi bản sửa (2 câu thay đổi)" in chat.text
    assert "Gửi bản sửa với 2 câu thay đổi?" in asked and "Số tin bài" in asked


# --- what the question screen accepts ------------------------------------------------------------


async def test_done_before_ticking_anything_saves_nothing(app: App) -> None:
    chat = await join(app, "1")
    await chat.press(REPORT)
    for text in ("khong", "5", "2", "90", "bo qua", "1"):
        await chat.say(text)
    assert "Các kênh đã dùng" in chat.text
    await chat.press(DoneChoosing("kenh").pack())
    assert "Vui lòng chọn ít nhất một mục" in chat.text
    assert "kenh" not in (await answers(app) or {})


async def test_a_done_word_on_a_text_question_moves_on(app: App) -> None:
    chat = await join(app, "1")
    await to_question_6(chat)
    for text in ("bo qua", "1", "1", "xong", "bo qua", "bo qua"):
        await chat.say(text)
    assert "Khó khăn, đề xuất" in chat.text
    await chat.say("xong")  # "done": nothing to add (the user review found it saved as text)
    assert "📋 Tóm tắt" in chat.text and (await answers(app) or {})["kho_khan"] is None


async def test_a_photo_on_the_summary_changes_nothing(app: App) -> None:
    chat = await join(app, "1")
    await chat.press(REPORT)
    for text in WITHOUT_FANPAGE:
        await chat.say(text)
    before = await answers(app)
    await chat.photo("PHOTO-9")
    assert "Bạn chưa ở câu hỏi cần ảnh" in chat.text
    assert await answers(app) == before
    assert (await stored_conversation(app, chat)).mode is Mode.SUMMARY


async def test_keep_draft_returns_to_the_question_on_screen_before_huy(app: App) -> None:
    chat = await join(app, "1")
    await chat.press(REPORT)
    for text in ("co", "7", "5", "2", "quay lại", "quay lại"):
        await chat.say(text)
    assert "Câu 3/11: Tổng số HTX" in chat.text  # gone back to check an answer
    await chat.cmd("huy")
    await chat.press_label("Không, làm tiếp")
    assert "Câu 3/11: Tổng số HTX" in chat.text  # not question 5, the first unanswered


async def test_a_keep_word_does_not_pass_an_unanswered_required_question(app: App) -> None:
    chat = await join(app, "1")
    await chat.press(REPORT)
    await chat.say("co")
    await chat.say("7")
    assert "Câu 3/11: Tổng số HTX" in chat.text
    await chat.say("tiếp")  # "go on": there is nothing to keep, and the question is required
    assert "Câu 3/11" in chat.text and "Giữ nguyên câu trả lời" not in chat.text


# --- states stored by older versions -------------------------------------------------------------


async def test_a_state_naming_a_unit_the_person_left_loads_as_nowhere(app: App) -> None:
    chat = await join(app, "1")  # an officer of LC-BX-01 only
    await set_state(app, chat, {"mode": "question", "r": ["LC-SP-01", "thu_nghiem", "2026-Q1"],
                                "q": "htx_tong"})
    await chat.say("12")
    assert chat.text
    assert await app.storage.find_draft("LC-SP-01", "thu_nghiem", "2026-Q1") is None


async def test_a_state_naming_a_question_the_template_dropped_carries_on(app: App) -> None:
    colleague = await join(app, "2")
    await colleague.press(REPORT)
    await colleague.say("co")
    chat = await join(app, "1")
    await set_state(app, chat, {"mode": "question", "r": list(KEY), "q": "da_bo"})
    await chat.say("12")  # not an answer to a question that no longer exists
    assert "Câu 2/11" in chat.text
    assert await answers(app) == {"co_fanpage": True}
    await set_state(app, chat, {"mode": "question", "r": list(KEY), "q": "da_bo"})
    app.reporting._states.clear()  # the state above was read and cached: read it again
    await chat.photo("PHOTO-1")
    assert "Câu 2/11" in chat.text and await answers(app) == {"co_fanpage": True}


# --- instants: a period opens, becomes late, locks ------------------------------------------------


async def test_a_period_can_be_opened_on_the_day_it_starts(app: App, clock: Clock) -> None:
    chat = await join(app, "1")
    clock.now = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)  # 08:00 on 1 April in Việt Nam
    await chat.press(OpenReport(0, "thu_nghiem", "2026-Q2").pack())
    assert "Câu 1/11" in chat.text


async def test_a_report_locks_at_the_lock_instant(app: App, clock: Clock) -> None:
    chat = await join(app, "1")
    lock = q1_window(app).lock
    clock.now = lock - timedelta(microseconds=1)
    await chat.press(REPORT)
    assert "Câu 1/11" in chat.text
    clock.now = lock
    await chat.press(REPORT)
    assert "đã khóa sổ" in chat.text


async def test_a_report_sent_at_the_due_instant_is_late(app: App, clock: Clock) -> None:
    chat = await join(app, "1")
    await to_question_6(chat)
    await chat.say("bỏ qua")
    await answer_rest(chat)
    clock.now = q1_window(app).due
    await chat.press_label("Gửi báo cáo")
    assert "trễ hạn" in chat.text
    sub = await app.storage.get_submission(*KEY)
    assert sub is not None and not sub.on_time


async def test_status_keeps_a_period_still_open_when_the_unit_came_after_its_due(
        app: App, clock: Clock) -> None:
    """A commune imported after a report was due may still send it until the lock: /trangthai
    shows it, as /baocao does. Once locked, and unsent, it is history that never happened."""
    chat = await join(app, "1")
    due = q1_window(app).due
    await app.storage.db.write(lambda c: c.execute(
        "UPDATE units SET created_at = ?", ((due + timedelta(days=2)).isoformat(),)))
    await app.storage.db.write(lambda c: c.execute(
        "UPDATE templates SET created_at = '2025-01-01T00:00:00+00:00'"))
    app.reporting.deps.units.forget()
    clock.now = due + timedelta(days=3)
    await chat.cmd("trangthai")
    assert "Quý I/2026: trễ hạn" in chat.text and "Quý IV/2025" not in chat.text


async def test_status_hides_a_period_due_the_instant_the_unit_came(app: App,
                                                                    clock: Clock) -> None:
    chat = await join(app, "1")
    due = q1_window(app).due
    await app.storage.db.write(lambda c: c.execute("UPDATE units SET created_at = ?",
                                                   (due.astimezone(UTC).isoformat(),)))
    await app.storage.db.write(lambda c: c.execute(
        "UPDATE templates SET created_at = '2025-01-01T00:00:00+00:00'"))
    app.reporting.deps.units.forget()
    clock.now = datetime(2026, 4, 20, 3, 0, tzinfo=UTC)  # Quý I locked on 15/03
    await chat.cmd("trangthai")
    assert "Quý II/2026" in chat.text and "Quý I/2026" not in chat.text


async def test_a_locked_report_offers_no_correction(app: App, clock: Clock) -> None:
    chat = await sent_report(app)
    await chat.cmd("trangthai")
    assert any("Sửa:" in b.label for b in chat.last[0].flat_buttons())
    clock.now = q1_window(app).lock
    await chat.cmd("trangthai")
    assert "Quý I/2026: đã gửi" in chat.text
    assert not any("Sửa:" in b.label for b in chat.last[0].flat_buttons())


# --- a colleague's answer racing a send ----------------------------------------------------------


async def until(condition: Callable[[], bool], patience: float = 30.0) -> None:
    """Let the loop run until `condition` holds (a read may hop through a thread first, so a
    fixed number of turns is not enough on a loaded machine); give up after `patience`."""
    deadline = time.monotonic() + patience
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.001)


async def test_an_answer_committed_with_a_send_is_never_lost(app: App) -> None:
    """b's answer and a's send reach the database in one batch, both decided before either was
    written: the send, checked against what a saw, is refused, and b's answer stays."""
    a = await join(app, "a")
    b = await join(app, "b")
    await a.press(REPORT)
    for text in WITHOUT_FANPAGE:
        await a.say(text)
    await b.press(REPORT)  # the same draft: b is on the summary too
    await b.press_label("Sửa câu")
    await b.press_label("Câu 2")  # htx_tong = 5
    pending = app.storage._group._pending
    gate = threading.Event()  # hold the writer until both events wait for it
    app.storage.db._thread.submit(gate.wait)
    try:
        answer = asyncio.create_task(b.say("9"))
        await until(lambda: len(pending) == 1)
        send = asyncio.create_task(a.press_label("Gửi báo cáo"))
        await until(lambda: len(pending) == 2)
        assert len(pending) == 2
    finally:
        gate.set()
    await asyncio.gather(answer, send)
    assert "Đã lưu: 9 HTX" in b.text
    assert "cán bộ khác" in a.text
    sub = await app.storage.get_submission(*KEY)
    assert sub is None or sub.answers["htx_tong"] == 9
    assert sub is not None or (await answers(app) or {})["htx_tong"] == 9


# --- the draft cache -----------------------------------------------------------------------------


async def test_a_cancelled_draft_is_not_reopened_from_the_cache(app: App) -> None:
    chat = await join(app, "1")
    await chat.press(REPORT)
    await chat.say("co")
    await chat.cmd("huy")
    await chat.press_label("Có, hủy")
    await chat.press(REPORT)
    assert "Câu 1/11" in chat.text and "Đã trả lời" not in chat.text
    await chat.say("khong")
    assert await answers(app) == {"co_fanpage": False}


async def test_a_slow_read_of_no_draft_never_hides_the_one_started_meanwhile(app: App) -> None:
    """y's read finds no draft (x has just cancelled it) and returns late, after x started a
    new one and answered it (the start is one commit during the read; x's own read of the new
    draft ends while y's is still in flight). Cached, that "no draft" would tell x that the
    draft x is filling in is gone."""
    x = await join(app, "x")
    y = await join(app, "y")
    await x.press(REPORT)
    await x.say("co")
    await y.press(REPORT)  # y continues the same draft: question 2
    await x.cmd("huy")
    await x.press_label("Có, hủy")
    storage = app.storage
    real = storage.find_draft
    read, gate = asyncio.Event(), asyncio.Event()

    async def slow_find(*key: str) -> object:
        found = await real(*key)
        task = asyncio.current_task()
        if task is not None and task.get_name() == "Y":
            read.set()
            await gate.wait()
        return found

    storage.find_draft = slow_find  # type: ignore[method-assign,assignment]
    try:
        answered = asyncio.create_task(y.say("7"), name="Y")
        await read.wait()  # y has read "no draft" and is held
        await x.press(REPORT)  # a new draft
        await x.say("co")
        gate.set()
        await answered
    finally:
        storage.find_draft = real  # type: ignore[method-assign]
    assert "không còn bản nháp" in y.text
    await x.say("7")
    assert "Đã lưu: 7 tin bài" in x.text
    assert await answers(app) == {"co_fanpage": True, "so_tin": 7}

