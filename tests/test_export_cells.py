"""Small pieces of the exports the end-to-end tests pass through without pinning down:
cells of odd answers, percentage figures, file names, the names of people no longer known."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from bot.domain import messages_vi as M
from bot.domain.digest import Figure, Officer, TargetLine
from bot.domain.templates import Aggregate, Level, Option, Question, QuestionType
from bot.domain.units import Unit
from bot.exports.docx_report import Note, figure_sentence, labelled, notes_of
from bot.exports.names import export_name, slug
from bot.exports.rows import ABSENT, Chase, Correction, _Names
from bot.exports.workbook import (
    BLANK,
    _percent_figure,
    _target_cells,
    answer_cell,
    history_sheet,
    missing_sheet,
    summary_sheet,
)
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


def test_a_multiple_choice_answer_reads_as_its_labels() -> None:
    q = Question(id="m", text="Loại", type=QuestionType.MULTI_CHOICE,
                 options=[Option(id="a", label="Hợp tác xã"), Option(id="b", label="Tổ hợp tác")])
    assert answer_cell(q, ["a", "b", "zz"]) == ("s", "Hợp tác xã; Tổ hợp tác; zz")


def _target(scope: str) -> TargetLine:
    return TargetLine(0, "p", "≥ 80%", scope, "at_least", Fraction(3), Fraction(5), False,
                      Fraction(60), "plan", None, True)


def test_a_units_target_counts_units_even_on_a_percentage() -> None:
    """each_unit: how many units reach the goal (3 of 5), not a percentage of the goal."""
    assert _target_cells(_target("each_unit"), True)[1:4] == [("n", 5.0), ("n", 3.0),
                                                              ("p", 0.6)]
    assert _target_cells(_target("total"), True)[1:3] == [("p", 0.05), ("p", 0.03)]


def _sheet_data(**fields: Any) -> Any:
    return SimpleNamespace(many_periods=False, **fields)


def test_one_reachable_officer_is_enough() -> None:
    unit = Unit("A", "Xã A", None, Level.XA)
    both = (Officer(1, "An", reachable=False), Officer(2, "Ba"))
    chase = [Chase(unit, "", MARCH, "missing", 2, None, both),
             Chase(unit, "", MARCH, "late", 1, None, (Officer(1, "An", reachable=False),)),
             Chase(unit, "", MARCH, "returned", 0, None, ())]
    _, rows = missing_sheet(_sheet_data(chase=chase))
    assert [r[-1] for r in rows] == [("s", M.XLSX_YES), ("s", M.XLSX_NO),
                                     ("s", M.XLSX_NO_OFFICER)]


def test_the_history_sheet_names_unasked_answers_and_says_when_empty() -> None:
    _, rows = history_sheet(_sheet_data(corrections=[]))
    assert rows == [[("s", M.XLSX_NO_CORRECTIONS)]]
    q = Question(id="n", text="Số", type=QuestionType.INTEGER)
    unit = Unit("A", "Xã A", None, Level.XA)
    at = datetime(2026, 4, 2, 3, tzinfo=UTC)
    data = _sheet_data(corrections=[Correction(unit, MARCH, 2, "An", at, q, ABSENT, 3),
                                    Correction(unit, MARCH, 3, "An", at, q, 3, ABSENT)],
                       local=lambda t: t.replace(tzinfo=None))
    _, rows = history_sheet(data)
    assert [r[-2:] for r in rows] == [[("s", M.NOT_ANSWERED), ("n", 3)],
                                      [("n", 3), ("s", M.NO_LONGER_ASKED)]]
    assert M.NOT_ANSWERED != M.NO_LONGER_ASKED


def test_only_marked_non_blank_text_answers_go_into_the_report(tmp_path: Path) -> None:
    t = load(tmp_path)  # its text question "ghi_chu" is not marked in_report
    marked = t.model_copy(update={"questions": [
        q.model_copy(update={"in_report": q.id == "ghi_chu"}) for q in t.questions]})
    units = {"A": Unit("A", "Xã A", None, Level.XA), "B": Unit("B", "Xã B", None, Level.XA)}
    sent = [SimpleNamespace(counted=True, period=MARCH.id, unit="A",
                            answers={"ghi_chu": "  thiếu   vốn "}),
            SimpleNamespace(counted=True, period=MARCH.id, unit="B", answers={"ghi_chu": " \n "})]
    assert notes_of(t, sent, {MARCH.id}, {"A", "B"}, units) == []
    assert notes_of(marked, sent, {MARCH.id}, {"A", "B"}, units) == [
        Note("A", "Xã A", "Ghi chú", "thiếu vốn")]


def test_notes_leave_out_returned_reports_and_follow_unit_names(tmp_path: Path) -> None:
    t = load(tmp_path)
    marked = t.model_copy(update={"questions": [
        q.model_copy(update={"in_report": q.id == "ghi_chu"}) for q in t.questions]})
    units = {"A": Unit("A", "Xã Yên", None, Level.XA), "B": Unit("B", "Xã An", None, Level.XA),
             "C": Unit("C", "Xã Bình", None, Level.XA)}

    def sent(unit: str, counted: bool = True) -> Any:
        return SimpleNamespace(counted=counted, period=MARCH.id, unit=unit,
                               answers={"ghi_chu": f"ý kiến {unit}"})

    notes = notes_of(marked, [sent("A"), sent("C", counted=False), sent("B")], {MARCH.id},
                     {"A", "B", "C"}, units)
    assert [(n.unit, n.name) for n in notes] == [("B", "Xã An"), ("A", "Xã Yên")]


def test_a_units_target_without_a_goal_yet_is_not_a_count() -> None:
    f = Figure("htx", "Số HTX mới", "HTX", Aggregate.SUM, Fraction(5), 2)
    tl = TargetLine(0, "htx", "mỗi xã ≥ 2", "each_unit", "at_least", None, None, None, None,
                    "plan", None, False)
    text = figure_sentence(cast(Any, SimpleNamespace(previous=None)), f, [tl])
    assert text == "Số HTX mới: 5 HTX; chỉ tiêu (mỗi xã ≥ 2) chưa đủ số liệu để đánh giá."


@dataclass(frozen=True)
class _Figures:
    figures: tuple[Figure, ...]


def test_a_percentage_figure_keeps_its_own_unit(tmp_path: Path) -> None:
    t = load(tmp_path)  # ty_le: a percentage question
    own = Figure("ty_le", "Tỷ lệ", "điểm", Aggregate.AVERAGE, Fraction(40), 2)
    bare = Figure("ty_le", "Tỷ lệ", None, Aggregate.AVERAGE, Fraction(40), 2)
    d = labelled(cast(Any, _Figures((own, bare))), t)
    assert [f.unit for f in d.figures] == ["điểm", "%"]


def test_a_target_on_a_question_not_totalled_is_in_plain_numbers(tmp_path: Path) -> None:
    t = load(tmp_path)
    tl = TargetLine(0, "htx_moi", "HTX mới ≥ 10", "total", "at_least", Fraction(3),
                    Fraction(10), False, Fraction(30), "plan", None, True)
    done = SimpleNamespace(expected=2, actual=1, completeness=Fraction(1, 2), on_time=1,
                           timeliness=Fraction(1), missing_units=["B"], late_units=[])
    digest = SimpleNamespace(completeness=done, period=MARCH, previous=None, figures=(),
                             targets=(tl,))
    _, values, _, rows = summary_sheet(cast(Any, SimpleNamespace(digest=digest, template=t)))
    assert values[2] == ("p", 0.5)
    assert rows == [[("s", "HTX mới"), *[BLANK] * 5, ("s", "HTX mới ≥ 10"), ("n", 10.0),
                     ("n", 3.0), ("p", 0.3), ("s", M.XLSX_MET_WORDS[False]),
                     ("s", M.XLSX_BASIS_WORDS.get("plan", "plan"))]]
