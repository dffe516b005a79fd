"""The officer's side of the report model's question keys, through the service on a real
SQLite file: rates typed as two counts (part ≤ total, either order, edits, the summary),
last period's answer (prefill = "previous"), and definitions ("?", "Giải thích")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import App
from bot.domain import messages_vi as M
from bot.domain.answers import Accepted, Rejected, check_value
from bot.domain.buttons import EditQuestion, Explain, OpenReport, UsePrevious
from bot.domain.templates import Question
from tests.harness import Chat, Clock, join, make_app

TEMPLATE = '''
id = "to_vay_von"
title = "Báo cáo tổ vay vốn"
period = "quarter"
deadline = "trước ngày 05 tháng cuối quý"
lock_days = 10
applies_to = { levels = ["xa"] }

[[questions]]  # a part asked before its total
id = "hv_dat"
text = "Số hội viên đạt chuẩn"
type = "integer"
unit = "người"
aggregate = "ratio"
denominator = "hv_tong"
over_time = "last"

[[questions]]
id = "hv_tong"
text = "Tổng số hội viên"
type = "integer"
unit = "người"
over_time = "last"
prefill = "previous"
definition = "Hội viên có tên trong danh sách của chi hội đến ngày cuối kỳ báo cáo."

[[questions]]
id = "co_to"
text = "Xã có tổ vay vốn không?"
type = "yes_no"
prefill = "previous"

[[questions]]  # a total asked before its part
id = "so_to"
text = "Tổng số tổ vay vốn"
type = "integer"
unit = "tổ"
when = { question = "co_to", equals = true }
over_time = "last"
prefill = "previous"

[[questions]]
id = "so_to_kha"
text = "Số tổ xếp loại khá"
type = "integer"
unit = "tổ"
aggregate = "ratio"
denominator = "so_to"
over_time = "last"

[[questions]]
id = "hinh_thuc"
text = "Hình thức sinh hoạt chính"
type = "choice"
options = [{ id = "hop", label = "Họp tổ" }, { id = "zalo", label = "Nhóm Zalo" }]
prefill = "previous"

[[questions]]
id = "ghi_chu"
text = "Ghi chú"
type = "text"
hint = "Khó khăn, đề xuất nếu có"
required = false
prefill = "previous"
'''

Q1 = OpenReport(0, "to_vay_von", "2026-Q1").pack()
Q4 = OpenReport(0, "to_vay_von", "2025-Q4").pack()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def app(tmp_path: Path, clock: Clock) -> AsyncIterator[App]:
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "to_vay_von.toml").write_text(TEMPLATE, encoding="utf-8")
    app = await make_app(tmp_path, clock, reports=folder)
    yield app
    await app.close()


async def draft_answers(app: App, period: str = "2026-Q1") -> dict[str, object]:
    draft = await app.storage.find_draft("LC-BX-01", "to_vay_von", period)
    assert draft is not None
    return draft.answers


async def answer_all(chat: Chat, *typed: str) -> None:
    for text in typed:
        await chat.say(text)
        assert "Đã lưu" in chat.text, (text, chat.text)


# --- rates: part ≤ total -----------------------------------------------------------------------


async def test_a_part_typed_before_its_total_refuses_a_smaller_total(app: App) -> None:
    chat = await join(app, "1")
    await chat.press(Q1)
    await answer_all(chat, "7")
    await chat.say("5")
    assert ("Tổng số hội viên (5 người) không thể nhỏ hơn số hội viên đạt chuẩn (7 người) đã "
            "trả lời ở câu 1. Nhập lại:") in chat.text
    assert "Câu 2/" in chat.text and "Đã lưu" not in chat.text
    assert "hv_tong" not in await draft_answers(app)
    await answer_all(chat, "10")
    assert (await draft_answers(app))["hv_tong"] == 10


async def test_a_total_typed_before_its_part_refuses_a_larger_part_and_0_of_0_is_fine(
        app: App) -> None:
    chat = await join(app, "1")
    await chat.press(Q1)
    await answer_all(chat, "7", "10", "có", "5")
    await chat.say("7")
    assert ("Số tổ xếp loại khá (7 tổ) không thể lớn hơn tổng số tổ vay vốn (5 tổ) đã trả lời "
            "ở câu 4. Nhập lại:") in chat.text
    assert "Câu 5/" in chat.text
    assert "so_to_kha" not in await draft_answers(app)
    await chat.say("5")  # equal is fine (confirmed: it repeats the answer just given)
    await answer_all(chat, "lưu")
    # 0 of 0: through the edit picker, total then part
    await answer_all(chat, "1")  # hình thức
    await chat.say("bỏ qua")
    assert "Tóm tắt" in chat.text
    await chat.press(EditQuestion("so_to_kha").pack())
    await answer_all(chat, "0")
    await chat.press(EditQuestion("so_to").pack())
    await answer_all(chat, "0")
    answers = await draft_answers(app)
    assert answers["so_to"] == 0 and answers["so_to_kha"] == 0
    assert M.FIX_BEFORE_SENDING not in chat.text


async def test_editing_either_side_from_the_summary_is_checked(app: App) -> None:
    chat = await join(app, "1")
    await chat.press(Q1)
    await answer_all(chat, "7", "10", "có", "5", "3", "1")
    await chat.say("bỏ qua")
    await chat.press(EditQuestion("so_to").pack())
    await chat.say("2")
    assert "Tổng số tổ vay vốn (2 tổ) không thể nhỏ hơn số tổ xếp loại khá (3 tổ)" in chat.text
    assert "Câu 4/" in chat.text
    await chat.say("giữ nguyên")  # back to the summary, nothing changed
    await chat.press(EditQuestion("hv_dat").pack())
    await chat.say("11")
    assert ("Số hội viên đạt chuẩn (11 người) không thể lớn hơn tổng số hội viên (10 người) "
            "đã trả lời ở câu 2") in chat.text
    answers = await draft_answers(app)
    assert answers["so_to"] == 5 and answers["hv_dat"] == 7


async def test_the_summary_refuses_a_part_larger_than_its_total_whatever_the_path(
        app: App) -> None:
    """The total hidden by a condition while the part is typed, then shown again: the
    summary names the pair and sending is refused."""
    chat = await join(app, "1")
    await chat.press(Q1)
    await answer_all(chat, "7", "10", "có", "5", "3", "1")
    await chat.say("bỏ qua")
    await chat.press(EditQuestion("co_to").pack())
    await answer_all(chat, "không")
    await chat.press(EditQuestion("so_to_kha").pack())
    await answer_all(chat, "8")  # no total asked: nothing to compare with
    await chat.press(EditQuestion("co_to").pack())
    await answer_all(chat, "có")  # the total of 5 counts again
    problem = "⚠ Số tổ xếp loại khá (8 tổ) không thể lớn hơn tổng số tổ vay vốn (5 tổ)."
    assert problem in chat.text and M.FIX_BEFORE_SENDING in chat.text
    assert not [b for r in chat.last for b in r.flat_buttons() if b.label == M.BUTTON_SEND]
    await chat.say("gửi")
    assert "Đã gửi" not in chat.text
    assert await app.storage.get_submission("LC-BX-01", "to_vay_von", "2026-Q1") is None


# --- last period's answer ------------------------------------------------------------------


async def send_last_quarter(app: App, clock: Clock, chat: Chat) -> None:
    clock.now = datetime(2025, 12, 1, 3, 0, tzinfo=UTC)
    await chat.press(Q4)
    await answer_all(chat, "30", "40", "có", "6", "4", "2", "Thiếu vốn")
    await chat.say("gửi")
    assert "Đã gửi" in chat.text, chat.text
    clock.now = datetime(2026, 2, 20, 3, 0, tzinfo=UTC)


async def test_without_a_previous_report_giu_says_so_and_asks_again(app: App) -> None:
    chat = await join(app, "1")
    await chat.press(Q1)
    await answer_all(chat, "7")
    assert "Kỳ trước" not in chat.text
    assert not [b for r in chat.last for b in r.flat_buttons() if b.label == M.BUTTON_PREVIOUS]
    for typed in ("giữ", "Như kỳ trước", "nhu cu"):
        await chat.say(typed)
        assert M.NO_PREVIOUS in chat.text and "Câu 2/" in chat.text
    assert "hv_tong" not in await draft_answers(app)


async def test_last_periods_answer_is_shown_and_reused_by_button_or_words(
        app: App, clock: Clock) -> None:
    chat = await join(app, "1")
    await send_last_quarter(app, clock, chat)
    await chat.press(Q1)
    assert "Kỳ trước" not in chat.text  # hv_dat has no prefill
    await answer_all(chat, "35")
    assert "↩️ Kỳ trước (Quý IV/2025): 40 người." in chat.text
    await chat.press_label(M.BUTTON_PREVIOUS)
    assert "✓ Đã lưu: 40 người (như kỳ trước)" in chat.text
    assert "↩️ Kỳ trước (Quý IV/2025): Có." in chat.text
    await chat.say("GIU")  # no diacritics, capitals
    assert "✓ Đã lưu: Có (như kỳ trước)" in chat.text
    await chat.say("như kỳ trước")
    assert "✓ Đã lưu: 6 tổ (như kỳ trước)" in chat.text
    await answer_all(chat, "4")
    assert "Kỳ trước (Quý IV/2025): Nhóm Zalo" in chat.text
    await chat.say("nhu ky truoc a")
    assert "✓ Đã lưu: Nhóm Zalo (như kỳ trước)" in chat.text
    await chat.say("như cũ")
    assert "✓ Đã lưu: Thiếu vốn (như kỳ trước)" in chat.text
    answers = await draft_answers(app)
    assert answers == {"hv_dat": 35, "hv_tong": 40, "co_to": True, "so_to": 6, "so_to_kha": 4,
                       "hinh_thuc": "zalo", "ghi_chu": "Thiếu vốn"}


async def test_last_periods_answer_goes_through_the_rate_check(app: App, clock: Clock) -> None:
    chat = await join(app, "1")
    await send_last_quarter(app, clock, chat)
    await chat.press(Q1)
    await answer_all(chat, "45")  # more than last quarter's 40 members
    await chat.say("giữ")
    assert "Tổng số hội viên (40 người) không thể nhỏ hơn số hội viên đạt chuẩn (45 người)" \
        in chat.text
    assert "Câu 2/" in chat.text and "hv_tong" not in await draft_answers(app)


async def test_once_answered_giu_keeps_the_answer_and_the_button_offers_last_periods(
        app: App, clock: Clock) -> None:
    chat = await join(app, "1")
    await send_last_quarter(app, clock, chat)
    await chat.press(Q1)
    await answer_all(chat, "35", "50")
    await chat.say("quay lại")
    assert "Đã trả lời: 50 người" in chat.text and "gõ “như kỳ trước”" in chat.text
    await chat.say("giữ")
    assert "Câu 3/" in chat.text and (await draft_answers(app))["hv_tong"] == 50
    await chat.say("quay lại")
    await chat.press(UsePrevious("hv_tong").pack())
    assert (await draft_answers(app))["hv_tong"] == 40


async def test_a_stale_previous_button_changes_nothing(app: App, clock: Clock) -> None:
    chat = await join(app, "1")
    await send_last_quarter(app, clock, chat)
    await chat.press(Q1)
    await answer_all(chat, "35")
    await chat.press(UsePrevious("so_to").pack())  # not the question on screen
    assert M.STALE in chat.text
    assert await draft_answers(app) == {"hv_dat": 35}


def test_a_stored_value_is_checked_like_a_typed_one() -> None:
    q = Question.model_validate({"id": "so_to", "text": "Số tổ", "type": "integer", "max": 50})
    assert check_value(q, 60) == Rejected(M.out_of_range("60", "0", "50", None))
    assert check_value(q, 12) == Accepted(12)
    assert isinstance(check_value(q, "12"), Rejected)
    choice = Question.model_validate({"id": "ht", "text": "Hình thức", "type": "choice",
                                      "options": [{"id": "a", "label": "A"},
                                                  {"id": "b", "label": "B"}]})
    assert check_value(choice, "a") == Accepted("a")
    assert check_value(choice, "gone") == Rejected(M.PREVIOUS_DOES_NOT_FIT)


# --- definitions -----------------------------------------------------------------------------


async def test_a_definition_typed_or_pressed_then_the_same_question(app: App) -> None:
    chat = await join(app, "1")
    await chat.press(Q1)
    await answer_all(chat, "7")
    assert [b for r in chat.last for b in r.flat_buttons() if b.label == M.BUTTON_EXPLAIN]
    definition = M.definition("Hội viên có tên trong danh sách của chi hội đến ngày cuối kỳ "
                              "báo cáo.")
    for typed in ("?", "Giải thích", "giai thich a"):
        await chat.say(typed)
        assert definition in chat.text and "Câu 2/" in chat.text, typed
    await chat.press_label(M.BUTTON_EXPLAIN)
    assert definition in chat.text and "Câu 2/" in chat.text
    assert await draft_answers(app) == {"hv_dat": 7}
    await answer_all(chat, "10")  # the question still takes its answer
    assert not [b for r in chat.last for b in r.flat_buttons() if b.label == M.BUTTON_EXPLAIN]


async def test_a_question_mark_without_a_definition_is_help_not_an_answer(app: App) -> None:
    chat = await join(app, "1")
    await chat.press(Q1)
    await answer_all(chat, "7", "10", "có", "5", "3", "1")
    assert "Câu 7/" in chat.text
    await chat.say("?")  # a text question: "?" is not a note worth saving
    assert M.NO_DEFINITION in chat.text and "💡 Khó khăn, đề xuất nếu có" in chat.text
    assert "Câu 7/" in chat.text and "ghi_chu" not in await draft_answers(app)
    await chat.press(Explain("hv_tong").pack())  # an older question's button
    assert M.STALE in chat.text and M.definition("Hội viên") not in chat.text
