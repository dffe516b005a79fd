"""What officers hit (issue 9) and the guards a mutation review found unguarded: each test
here failed on the code before the fix, or fails when its guard is removed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import App
from bot.domain.buttons import ClearAnswer, OpenReport
from bot.domain.conversation import Conversation, Mode
from tests.harness import TEST_TEMPLATE, Chat, Clock, join, make_app

REPORT = OpenReport(0, "thu_nghiem", "2026-Q1").pack()
KEY = ("LC-BX-01", "thu_nghiem", "2026-Q1")
SA_PA_ONLY = '''
id = "chi_sa_pa"
title = "Báo cáo riêng của Sa Pa"
period = "quarter"
deadline = "trước ngày 05 tháng cuối quý"
applies_to = { subtrees = ["LC-SP"] }

[[questions]]
id = "so"
text = "Một con số"
type = "integer"
'''

DATED = '''
id = "ngay_trong_ky"
title = "Báo cáo có ngày trong kỳ"
period = "quarter"
deadline = "trước ngày 05 tháng cuối quý"
applies_to = { levels = ["xa"] }

[[questions]]
id = "ngay"
text = "Ngày tổ chức diễn đàn"
type = "date"
within = "period_to_today"
'''


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


async def to_question_6(chat: Chat) -> None:
    """Open the test report and answer up to `von` (question 6, optional, triệu đồng)."""
    await chat.press(REPORT)
    for text in ("co", "7", "5", "2", "90"):
        await chat.say(text)
    assert "Câu 6/11: Vốn ủy thác" in chat.text


async def answer_rest(chat: Chat) -> None:
    for text in ("1", "1", "xong", "bo qua", "bo qua", "bo qua"):
        await chat.say(text)
    assert "📋 Tóm tắt" in chat.text


async def stored_conversation(app: App, chat: Chat) -> Conversation:
    person = await app.storage.find_person("test", chat.user_id)
    assert person is not None
    return Conversation.from_json(await app.storage.get_conversation(person.id))


# --- skip keeps what was answered; clearing is its own action ------------------------------


async def test_skip_on_an_answered_question_keeps_the_answer(app: App) -> None:
    chat = await join(app, "1")
    await to_question_6(chat)
    await chat.say("12")
    assert "✓ Đã lưu: 12 triệu đồng" in chat.text
    await chat.say("quay lại")
    assert "Câu 6/11" in chat.text and "Đã trả lời: 12 triệu đồng" in chat.text
    await chat.say("bỏ qua")  # "move on", not "throw my answer away"
    assert "Câu 7/11" in chat.text and "giữ câu trả lời đã có: 12 triệu đồng" in chat.text
    draft = await app.storage.find_draft(*KEY)
    assert draft is not None and draft.answers["von"] == 12


async def test_clearing_an_optional_answer_is_explicit(app: App) -> None:
    chat = await join(app, "1")
    await to_question_6(chat)
    await chat.say("12")
    await chat.say("quay lại")
    labels = [b.label for b in chat.last[0].flat_buttons()]
    assert "🧹 Xóa câu trả lời" in labels and "Bỏ qua" not in labels
    await chat.press(ClearAnswer("von").pack())
    assert "Đã xóa câu trả lời" in chat.text and "Câu 7/11" in chat.text
    draft = await app.storage.find_draft(*KEY)
    assert draft is not None and draft.answers["von"] is None


async def test_a_required_question_offers_no_clearing(app: App) -> None:
    chat = await join(app, "1")
    await to_question_6(chat)
    await chat.say("quay lại")  # question 5, required, answered
    assert "Câu 5/11" in chat.text
    assert not any("Xóa" in b.label for b in chat.last[0].flat_buttons())
    await chat.press(ClearAnswer("ty_le").pack())  # forged: refused, nothing changed
    draft = await app.storage.find_draft(*KEY)
    assert draft is not None and draft.answers["ty_le"] == 90


# --- corrections -----------------------------------------------------------------------------


async def sent_report(app: App) -> Chat:
    chat = await join(app, "1")
    await to_question_6(chat)
    await chat.say("bỏ qua")
    await answer_rest(chat)
    await chat.press_label("Gửi báo cáo")
    assert "✅ Đã gửi báo cáo" in chat.text
    return chat


async def test_a_correction_that_changes_nothing_is_not_a_new_version(app: App) -> None:
    chat = await sent_report(app)
    await chat.cmd("trangthai")
    await chat.press_label("Sửa:")
    await chat.press_label("Gửi bản sửa")
    assert "không thay đổi câu nào" in chat.text and "lần gửi 1" in chat.text
    sub = await app.storage.get_submission(*KEY)
    assert sub is not None and sub.version == 1
    assert await app.storage.find_draft(*KEY) is None
    assert not [a for a in await app.storage.audit_log() if a["action"] == "report.correct"]


async def test_a_corrections_summary_does_not_start_with_send(app: App) -> None:
    chat = await sent_report(app)
    await chat.cmd("baocao")
    labels = [b.label for b in chat.last[0].flat_buttons()]
    number = next(i for i, label in enumerate(labels, 1) if "thử nghiệm" in label)
    await chat.say(str(number))  # the sent report in the list: its sent version is shown
    assert "✅ Đã gửi" in chat.text
    await chat.say("1")  # "✏ Sửa báo cáo"
    assert "Bạn đang sửa báo cáo đã gửi" in chat.text
    assert chat.last[0].flat_buttons()[0].label == "✏ Sửa câu…"
    await chat.say("1")  # the same number once more: the picker, nothing sent
    assert "Bạn muốn sửa câu nào" in chat.text
    sub = await app.storage.get_submission(*KEY)
    assert sub is not None and sub.version == 1


async def test_a_correction_sent_by_a_typed_number_is_confirmed_first(app: App) -> None:
    chat = await sent_report(app)
    await chat.cmd("trangthai")
    await chat.press_label("Sửa:")
    await chat.press_label("Sửa câu")
    await chat.press_label("Câu 3")  # htx_tong
    await chat.say("9")
    assert "📋 Tóm tắt" in chat.text
    numbers = [b.label for b in chat.last[0].flat_buttons()]
    await chat.say(str(numbers.index("📤 Gửi bản sửa") + 1))
    assert "Gửi bản sửa với 1 câu thay đổi?" in chat.text
    assert "Tổng số HTX: 5 HTX → 9 HTX" in chat.text
    sub = await app.storage.get_submission(*KEY)
    assert sub is not None and sub.version == 1  # not yet
    await chat.say("1")  # "✅ Có, gửi bản sửa"
    assert "Đã gửi bản sửa (1 câu thay đổi)" in chat.text
    sub = await app.storage.get_submission(*KEY)
    assert sub is not None and sub.version == 2 and sub.answers["htx_tong"] == 9


async def test_a_correction_pressed_is_sent_at_once(app: App) -> None:
    chat = await sent_report(app)
    await chat.cmd("trangthai")
    await chat.press_label("Sửa:")
    await chat.press_label("Sửa câu")
    await chat.press_label("Câu 3")
    await chat.say("9")
    await chat.press_label("Gửi bản sửa")  # a press is deliberate: no second question
    assert "Đã gửi bản sửa (1 câu thay đổi)" in chat.text


# --- history that never happened -------------------------------------------------------------


async def test_status_shows_no_period_from_before_the_unit_came(app: App, clock: Clock) -> None:
    chat = await join(app, "1")
    await app.storage.db.write(lambda c: c.execute(
        "UPDATE units SET created_at = '2026-10-01T00:00:00+00:00'"))
    await app.storage.db.write(lambda c: c.execute(
        "UPDATE templates SET created_at = '2025-01-01T00:00:00+00:00'"))
    app.reporting.deps.units.forget()
    clock.now = datetime(2027, 1, 20, 3, 0, tzinfo=UTC)
    await chat.cmd("trangthai")
    assert "Quý I/2027" in chat.text  # open now
    assert "Quý IV/2026: trễ hạn (đã khóa sổ)" in chat.text  # due 05/12/2026, unit existed
    assert "Quý III/2026" not in chat.text  # due 05/09/2026, before the unit came


async def test_status_shows_no_period_from_before_the_template_came(app: App,
                                                                     clock: Clock) -> None:
    chat = await join(app, "1")
    await app.storage.db.write(lambda c: c.execute(
        "UPDATE units SET created_at = '2025-01-01T00:00:00+00:00'"))
    await app.storage.db.write(lambda c: c.execute(
        "UPDATE templates SET created_at = '2026-10-01T00:00:00+00:00'"))
    app.reporting.deps.units.forget()
    clock.now = datetime(2027, 1, 20, 3, 0, tzinfo=UTC)
    await chat.cmd("trangthai")
    assert "Quý IV/2026" in chat.text and "Quý III/2026" not in chat.text


# --- guards that no test noticed when removed ------------------------------------------------


async def test_a_future_period_cannot_be_opened(app: App) -> None:
    chat = await join(app, "1")
    await chat.press(OpenReport(0, "thu_nghiem", "2026-Q2").pack())
    assert "chưa bắt đầu" in chat.text
    assert await app.storage.find_draft("LC-BX-01", "thu_nghiem", "2026-Q2") is None


async def test_a_template_that_does_not_apply_cannot_be_opened(app: App) -> None:
    chat = await join(app, "1")  # Bản Vược is in Bát Xát, not Sa Pa
    await chat.press(OpenReport(0, "chi_sa_pa", "2026-Q1").pack())
    assert "Nút này đã cũ" in chat.text
    assert await app.storage.find_draft("LC-BX-01", "chi_sa_pa", "2026-Q1") is None
    sa_pa = await join(app, "2", unit="LC-SP-01")
    await sa_pa.press(OpenReport(0, "chi_sa_pa", "2026-Q1").pack())
    assert "Câu 1/1" in sa_pa.text


async def test_an_older_summarys_send_is_checked_again(app: App) -> None:
    """The summary showed no problem; an edit then broke a rule; the older summary's button
    is pressed: the send is refused, not submitted with the broken rule."""
    chat = await join(app, "1")
    await to_question_6(chat)
    await chat.say("bỏ qua")
    await answer_rest(chat)
    old_send = next(b.data for b in chat.last[0].flat_buttons() if "Gửi báo cáo" in b.label)
    await chat.press_label("Sửa câu")
    await chat.press_label("Câu 4")  # htx_moi
    await chat.say("50")  # more new cooperatives than cooperatives in all
    assert "⚠ Số HTX mới không được lớn hơn tổng số HTX." in chat.text
    await chat.press(old_send)
    assert "Chưa gửi được" in chat.text
    assert await app.storage.get_submission(*KEY) is None


async def test_required_answers_are_checked_again_at_send(app: App) -> None:
    chat = await join(app, "1")
    await to_question_6(chat)
    await chat.say("bỏ qua")
    await answer_rest(chat)
    old_send = next(b.data for b in chat.last[0].flat_buttons() if "Gửi báo cáo" in b.label)
    # A colleague's draft of the same unit loses a required answer under the summary.
    draft = await app.storage.find_draft(*KEY)
    assert draft is not None
    await app.storage.db.write(lambda c: c.execute(
        "DELETE FROM draft_answers WHERE draft_id=? AND question_id='htx_tong'", (draft.id,)))
    app.reporting.deps.drafts.forget_all()
    await chat.press(old_send)
    assert "Chưa gửi được" in chat.text and "bắt buộc" in chat.text
    assert await app.storage.get_submission(*KEY) is None


async def test_stale_and_forged_buttons_change_nothing(app: App) -> None:
    chat = await join(app, "1")
    await chat.press(REPORT)
    await chat.say("co")
    before = await app.storage.find_draft(*KEY)
    where = await stored_conversation(app, chat)
    assert where.mode is Mode.QUESTION and where.question == "so_tin"
    forged = [OpenReport(7, "thu_nghiem", "2026-Q1").pack(), "zzz", "a|co_fanpage|1",
              "a|so_tin|99", "cy|0|thu_nghiem|2026-Q1", "send|0|thu_nghiem|2026-Q1",
              "e|htx_tong", "o|0|thu_nghiem|2026-Q2x", "x|so_tin", "t|so_tin|0"]
    for data in forged:
        await chat.press(data)
        assert chat.text
        after = await app.storage.find_draft(*KEY)
        assert after is not None and before is not None
        assert (after.id, after.answers) == (before.id, before.answers), data
        assert await app.storage.get_submission(*KEY) is None, data
        now = await stored_conversation(app, chat)
        assert (now.mode, now.report, now.question) == (where.mode, where.report,
                                                         where.question), data


async def test_two_messages_of_one_person_at_once_are_handled_in_turn(app: App) -> None:
    """Without per-person ordering both would be judged against question 1: 'co' answers it,
    and '7' is refused as an answer to a yes/no question, or worse."""
    chat = await join(app, "1")
    await chat.press(REPORT)
    first, second = await asyncio.gather(chat.say("co"), chat.say("7"))
    assert "Câu 2/11" in first[0].text and "Câu 3/11" in second[0].text
    draft = await app.storage.find_draft(*KEY)
    assert draft is not None and draft.answers == {"co_fanpage": True, "so_tin": 7}


# --- answers read the way they were meant, and said back -------------------------------------


async def test_a_money_answer_is_converted_and_the_conversion_said(app: App) -> None:
    chat = await join(app, "1")
    await to_question_6(chat)  # von, counted in triệu đồng
    await chat.say("2,5 tỷ")
    assert "✓ Đã lưu: 2.500 triệu đồng (2,5 tỷ đồng = 2.500 triệu đồng)" in chat.text
    draft = await app.storage.find_draft(*KEY)
    assert draft is not None and draft.answers["von"] == 2500


async def test_a_magnitude_word_on_a_count_is_refused_in_chat(app: App) -> None:
    chat = await join(app, "1")
    await chat.press(REPORT)
    await chat.say("co")
    await chat.say("2 nghìn")  # so_tin, counted in tin bài
    assert "⚠" in chat.text and "Câu 2/11" in chat.text
    draft = await app.storage.find_draft(*KEY)
    assert draft is not None and "so_tin" not in draft.answers


async def test_a_date_outside_the_period_is_refused_in_chat(app: App) -> None:
    chat = await join(app, "1")  # today is 20/02/2026, in Quý I/2026
    await chat.press(OpenReport(0, "ngay_trong_ky", "2026-Q1").pack())
    await chat.say("28/12/2025")
    assert "nằm ngoài kỳ báo cáo" in chat.text and "Câu 1/1" in chat.text
    await chat.say("15/01")  # no year: the most recent 15/01, this year
    assert "✓ Đã lưu: 15/01/2026" in chat.text


# --- found by the user-side review ---------------------------------------------------------


async def test_back_from_the_summary_goes_to_the_last_question(app: App) -> None:
    chat = await join(app, "1")
    await to_question_6(chat)
    await chat.say("bỏ qua")
    await answer_rest(chat)
    await chat.say("quay lại")
    assert "Câu 11/11: Khó khăn, đề xuất" in chat.text
    await chat.say("Thiếu vốn")
    assert "📋 Tóm tắt" in chat.text  # straight back to the summary


async def test_a_multi_choice_answer_comes_back_ticked(app: App) -> None:
    """Going back to an answered multi-choice question, one more tick adds to the answer
    instead of replacing it with that tick alone."""
    chat = await join(app, "1")
    await to_question_6(chat)
    await chat.say("bỏ qua")
    await chat.say("1")  # hinh_thuc
    await chat.say("1, 2")  # kenh: Zalo, Facebook
    await chat.say("quay lại")
    labels = [b.label for b in chat.last[0].flat_buttons()]
    assert "Câu 8/11" in chat.text and labels[:3] == ["☑ Zalo", "☑ Facebook", "☐ Họp dân"]
    await chat.say("3")  # tick "Họp dân" as well
    await chat.say("xong")
    draft = await app.storage.find_draft(*KEY)
    assert draft is not None and draft.answers["kenh"] == ["zalo", "facebook", "hop"]


async def test_clearing_a_required_answer_is_refused(app: App) -> None:
    chat = await join(app, "1")
    await to_question_6(chat)
    await chat.say("quay lại")  # ty_le, required
    await chat.say("xóa câu trả lời")
    assert "bắt buộc, không xóa được" in chat.text and "Câu 5/11" in chat.text
    draft = await app.storage.find_draft(*KEY)
    assert draft is not None and draft.answers["ty_le"] == 90


async def test_done_on_a_free_text_question_is_not_its_answer(app: App) -> None:
    chat = await join(app, "1")
    await to_question_6(chat)
    await chat.say("bỏ qua")
    for text in ("1", "1", "xong", "bo qua", "bo qua"):
        await chat.say(text)
    assert "Câu 11/11" in chat.text
    await chat.say("Xong ạ")  # nothing to add
    draft = await app.storage.find_draft(*KEY)
    assert draft is not None and draft.answers["kho_khan"] is None
