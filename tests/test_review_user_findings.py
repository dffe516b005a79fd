"""Regression tests for what a user-side review of issue 9 found by driving baocao as officers
and admins would (each failed before its fix). Numbers (F1, F2…) refer to the review report."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.app import App
from bot.cli import main
from bot.domain.answers import Rejected, parse_answer
from bot.domain.buttons import OpenReport
from bot.domain.dialogue import Reply
from bot.domain.periods import Period
from bot.domain.templates import Question, QuestionType, load_template
from handlers.telegram.render import chunks
from tests.harness import TEST_TEMPLATE, Chat, Clock, join, make_app

REPORT = OpenReport(0, "thu_nghiem", "2026-Q1").pack()
KEY = ("LC-BX-01", "thu_nghiem", "2026-Q1")
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
'''


@pytest.fixture
def clock() -> Clock:
    return Clock()  # 20/02/2026


@pytest.fixture
async def app(tmp_path: Path, clock: Clock) -> AsyncIterator[App]:
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "thu_nghiem.toml").write_text(TEST_TEMPLATE, encoding="utf-8")
    (folder / "ngay_trong_ky.toml").write_text(DATED, encoding="utf-8")
    app = await make_app(tmp_path, clock, reports=folder)
    yield app
    await app.close()


async def to_kho_khan(chat: Chat) -> None:
    """Open the test report and answer up to its last question (optional free text)."""
    await chat.press(REPORT)
    for text in ("co", "7", "5", "2", "90", "bỏ qua", "1", "1", "xong", "bỏ qua", "bỏ qua"):
        await chat.say(text)
    assert "Câu 11/11: Khó khăn, đề xuất" in chat.text, chat.text


async def back_to_kho_khan(chat: Chat) -> None:
    """From the summary: "sửa", then question 11."""
    await chat.say("sửa")
    await chat.say("11")
    assert "Câu 11/11" in chat.text and "Đã trả lời" in chat.text, chat.text


async def stored(app: App, qid: str) -> object:
    draft = await app.storage.find_draft(*KEY)
    assert draft is not None
    return draft.answers.get(qid, "<unanswered>")


# --- F1: navigation words typed on a free-text question are saved as the answer -------------


async def test_polite_skip_on_a_text_question_skips(app: App) -> None:
    chat = await join(app, "1")
    await to_kho_khan(chat)
    await chat.say("bỏ qua ạ")  # the officer means "skip", politely
    assert await stored(app, "kho_khan") is None, chat.text


@pytest.mark.parametrize("typed", ["Giữ nguyên ➡", "giữ nguyên ạ"])
async def test_typed_keep_label_keeps_a_text_answer(app: App, typed: str) -> None:
    chat = await join(app, "1")
    await to_kho_khan(chat)
    await chat.say("Thiếu vốn")  # the last question: the summary follows
    await back_to_kho_khan(chat)
    await chat.say(typed)
    assert await stored(app, "kho_khan") == "Thiếu vốn", chat.text


async def test_clear_word_after_help_does_not_become_the_answer(app: App) -> None:
    chat = await join(app, "1")
    await to_kho_khan(chat)
    await chat.say("Thiếu vốn")
    await back_to_kho_khan(chat)
    await chat.say("xóa")  # works here: clears
    assert await stored(app, "kho_khan") is None
    await back_to_kho_khan(chat)
    await chat.say("Thiếu vốn")
    await back_to_kho_khan(chat)
    await chat.cmd("giup")  # the question stays on screen, its keywords are forgotten
    await chat.say("xóa")
    assert await stored(app, "kho_khan") != "xóa", chat.text


# --- F3: a typed answer after /trangthai opens a correction of another report ---------------


async def test_typed_answer_after_status_answers_the_question(app: App) -> None:
    chat = await join(app, "1")
    await chat.press(OpenReport(0, "ngay_trong_ky", "2026-Q1").pack())
    await chat.say("15/02/2026")
    await chat.press_label("Gửi báo cáo")
    assert "✅ Đã gửi báo cáo" in chat.text
    await chat.press(REPORT)
    await chat.say("co")
    await chat.say("7")
    assert "Tổng số HTX" in chat.text  # the question on screen, counted in HTX
    await chat.cmd("trangthai")
    await chat.say("1")  # the answer: 1 HTX
    assert "✓ Đã lưu: 1 HTX" in chat.text, chat.text


# --- F4: "giữ nguyên"/"tiếp" moves past an unanswered required question ------------------


async def test_keep_word_does_not_skip_a_required_question(app: App) -> None:
    chat = await join(app, "1")
    await chat.press(REPORT)
    assert "Câu 1/" in chat.text
    await chat.say("tiếp")
    assert "Câu 1/" in chat.text and "Giữ nguyên câu trả lời" not in chat.text, chat.text


# --- F5: period_to_today accepts dates after the period has ended ------------------------


def test_period_to_today_never_goes_past_the_period() -> None:
    q = Question(id="ngay", text="Ngày tổ chức diễn đàn", type=QuestionType.DATE,
                 within="period_to_today")
    h1 = Period.parse("2026-H1")  # 01/01–30/06/2026, reported on 03/07/2026
    result = parse_answer(q, "02/07/2026", today=date(2026, 7, 3), period=h1)
    assert isinstance(result, Rejected), result


# --- F6: a one-off deadline on a recurring template passes check-config -------------------


def test_one_off_deadline_on_a_recurring_template_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bc.toml"
    path.write_text('id = "bc"\ntitle = "Báo cáo năm"\nperiod = "year"\n'
                    'deadline = "trước ngày 15 tháng 11 năm 2020"\n'
                    '[[questions]]\nid = "q"\ntext = "Số HTX"\ntype = "integer"\n',
                    encoding="utf-8")
    _, problems = load_template(path, "reports/bc.toml")
    assert [p for p in problems if p.path == "deadline"], problems


# --- F7: a summary longer than Telegram's limit in UTF-16 units is never delivered ----------


def test_every_telegram_chunk_fits_in_utf16_units() -> None:
    text = "📋 Tóm tắt\n" + "\n".join(f"{i}. Câu hỏi {i}\n   → " + "🙏" * 150
                                      for i in range(1, 20))
    for chunk in chunks(Reply(text)):
        assert len(chunk.encode("utf-16-le")) // 2 <= 4096


# --- F8: admin CLI crashes on large numbers --------------------------------------------------


def test_invite_with_absurd_expiry_is_refused(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BAOCAO_CONFIG", raising=False)
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[storage]\npath = "{tmp_path / "db.sqlite"}"\n', encoding="utf-8")
    units = tmp_path / "u.csv"
    units.write_text("code,name,parent_code,level\nX,Xã,,xa\n", encoding="utf-8")
    assert main(["--config", str(cfg), "units", "import", str(units)]) == 0
    assert main(["--config", str(cfg), "invite", "create", "--unit", "X", "--role",
                 "officer", "--expires-days", "100000000"]) == 1


def test_check_config_refuses_an_unusable_database_path(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BAOCAO_CONFIG", raising=False)
    (tmp_path / "a_folder").mkdir()
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[storage]\npath = "{tmp_path / "a_folder"}"\n', encoding="utf-8")
    assert main(["--config", str(cfg), "check-config"]) == 2


# --- F10: answers stored differently from what was typed ---------------------------------


MONEY = Question(id="von", text="Vốn ủy thác", type=QuestionType.DECIMAL, unit="triệu đồng")
PERCENT = Question(id="ty_le", text="Tỷ lệ", type=QuestionType.PERCENT, unit="%")


@pytest.mark.parametrize(("q", "typed"), [(MONEY, "12 $"), (MONEY, "12 €"), (PERCENT, "85 ‰")])
def test_foreign_currency_and_permille_signs_are_refused(q: Question, typed: str) -> None:
    assert isinstance(parse_answer(q, typed), Rejected)


# --- F12: everyday answers naming what the question itself counts are refused (new in 9) ---


def shipped(template: str, qid: str) -> Question:
    from bot.config import SHIPPED_REPORTS

    t, _ = load_template(SHIPPED_REPORTS / f"{template}.toml")
    assert t is not None
    return t.question(qid)


@pytest.mark.parametrize(("template", "qid", "typed", "value"), [
    # "Số lượt đoàn viên, thanh niên được tuyên truyền …" (unit: lượt)
    ("ocop_thanh_nien", "luot_dvtn_tuyen_truyen", "80 đoàn viên", 80),
    # "Số lớp tập huấn, hội nghị, diễn đàn tuyên truyền …" (unit: lớp, hội nghị)
    ("hoi_nong_dan_htx", "so_lop_tuyen_truyen", "3 diễn đàn", 3),
    # "Số gương thanh niên làm kinh tế giỏi được tôn vinh …" (unit: người)
    ("ocop_thanh_nien", "guong_tn_kinh_te_gioi", "2 gương", 2),
])
def test_words_of_the_question_itself_are_accepted(template: str, qid: str, typed: str,
                                                    value: int) -> None:
    result = parse_answer(shipped(template, qid), typed)
    assert not isinstance(result, Rejected), result.message
    assert result.value == value


# --- F11: wording ------------------------------------------------------------------------------


def test_percent_range_message_has_one_percent_sign() -> None:
    result = parse_answer(PERCENT, "150")
    assert isinstance(result, Rejected) and "% %" not in result.message, result


def test_findings_fixture_clock_is_the_harness_one() -> None:
    """Guard for the tests above: they assume the harness clock (20/02/2026, Q1 open)."""
    assert Clock().now == datetime(2026, 2, 20, 3, 0, tzinfo=UTC)
