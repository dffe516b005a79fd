"""Small pieces of the exports the end-to-end tests pass through without pinning down:
cells of odd answers, percentage figures, file names, the names of people no longer known."""

from __future__ import annotations

from pathlib import Path

from bot.domain import messages_vi as M
from bot.domain.templates import Aggregate, Level, Question, QuestionType
from bot.domain.units import Unit
from bot.exports.names import export_name, slug
from bot.exports.rows import _Names
from bot.exports.workbook import _percent_figure, answer_cell
from storage.sqlite import SqliteStorage
from tests.test_export import MARCH, load


def test_a_lower_case_d_with_stroke_is_a_d() -> None:
    assert slug("Hội đồng nhân dân") == "hoi-dong-nhan-dan"


def test_the_extension_is_a_slug_too(tmp_path: Path) -> None:
    t = load(tmp_path)
    unit = Unit("A", "Xã A", None, Level.XA)
    assert export_name(t, MARCH, unit, "XLSX") == "bao-cao-tong-hop-2026-03-xa-a.xlsx"
    assert export_name(t, MARCH, unit, "../") == "bao-cao-tong-hop-2026-03-xa-a.bin"


def test_yes_and_no_answers_read_as_words() -> None:
    q = Question(id="co", text="Có đại hội", type=QuestionType.YES_NO)
    assert answer_cell(q, True) == ("s", M.XLSX_YES) == ("s", "Có")
    assert answer_cell(q, False) == ("s", M.XLSX_NO) == ("s", "Không")


def test_a_number_excel_cannot_hold_is_text() -> None:
    for kind in (QuestionType.INTEGER, QuestionType.DECIMAL, QuestionType.PERCENT):
        q = Question(id="x", text="Số", type=kind)
        assert answer_cell(q, float("inf")) == ("s", "inf")
        assert answer_cell(q, float("nan")) == ("s", "nan")
    assert answer_cell(Question(id="x", text="Số", type=QuestionType.PERCENT), 40) == ("p", 0.4)


def test_a_percentage_questions_sum_is_a_percentage() -> None:
    percent = Question(id="p", text="Tỷ lệ", type=QuestionType.PERCENT)
    count = Question(id="n", text="Số", type=QuestionType.INTEGER)
    for how in (Aggregate.SUM, Aggregate.AVERAGE, Aggregate.MIN, Aggregate.MAX):
        assert _percent_figure(percent, how)
        assert not _percent_figure(count, how)
    assert _percent_figure(None, Aggregate.RATIO)


async def test_a_person_no_longer_stored_is_named_by_id(tmp_path: Path) -> None:
    storage = await SqliteStorage.open(tmp_path / "baocao.db")
    try:
        names = _Names(storage, {})
        assert await names.name(987654) == "#987654"
        assert await names.name(None) == ""
    finally:
        await storage.close()
