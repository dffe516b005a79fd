"""Answer parsing: Vietnamese and English number styles, yes/no, choices, dates; never raises."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.answers import (
    Accepted,
    Rejected,
    accept_photo,
    format_answer,
    parse_answer,
    parse_date,
    parse_number,
    parse_yes_no,
)
from bot.domain.periods import Period
from bot.domain.templates import Option, Question, QuestionType

OPTIONS = [Option(id="mxh", label="Mạng xã hội"), Option(id="loa", label="Loa truyền thanh"),
           Option(id="hoi_nghi", label="Hội nghị")]


def q(kind: str, **kw: object) -> Question:
    if kind in ("choice", "multi_choice"):
        kw.setdefault("options", OPTIONS)
    return Question(id="q", text="Câu hỏi", type=QuestionType(kind), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "expected"), [
    ("12", 12), ("1.234", 1234), ("12,5", 12.5), ("12.5", 12.5), ("1.234,5", 1234.5),
    ("1,234.5", 1234.5), ("1.234.567", 1234567), ("1,234,567", 1234567), ("12 HTX", 12),
    ("khoảng 30", 30), ("0", 0), ("không có", 0), ("khong", 0), ("0,5", 0.5), ("0.123", 0.123),
    ("  7  người ", 7), ("-3", -3), ("12.", 12), ("chưa có", 0),
])
def test_numbers_both_styles(text: str, expected: float) -> None:
    assert parse_number(text) == expected


@pytest.mark.parametrize("text", ["abc", "12 và 5", "1.23.4", "1,2,3", "", "..."])
def test_unreadable_numbers_explain_in_vietnamese(text: str) -> None:
    result = parse_number(text)
    assert isinstance(result, Rejected)
    assert "Vui lòng" in result.message or "số" in result.message


def test_integer_question_rules() -> None:
    assert parse_answer(q("integer"), "12 HTX") == Accepted(12)
    assert parse_answer(q("integer"), "1.234") == Accepted(1234)
    rejected = parse_answer(q("integer"), "12,5")
    assert isinstance(rejected, Rejected) and "số nguyên" in rejected.message
    thousand = parse_answer(q("integer"), "1,234")
    assert isinstance(thousand, Rejected) and "1.234" in thousand.message
    negative = parse_answer(q("integer", unit="HTX"), "-3")
    assert isinstance(negative, Rejected) and "không nhỏ hơn 0 HTX" in negative.message


def test_range_is_checked_and_formatted_the_vietnamese_way() -> None:
    question = q("decimal", min=0, max=1500.5, unit="triệu đồng")
    assert parse_answer(question, "1.500,5") == Accepted(1500.5)
    result = parse_answer(question, "2000")
    assert isinstance(result, Rejected)
    assert "từ 0 đến 1.500,5 triệu đồng" in result.message


@pytest.mark.parametrize(("text", "expected"), [
    ("85", 85), ("85%", 85), ("85,5 %", 85.5), ("85.5%", 85.5), ("100", 100), ("0", 0),
])
def test_percent(text: str, expected: float) -> None:
    assert parse_answer(q("percent"), text) == Accepted(expected)


def test_percent_over_100_is_refused() -> None:
    result = parse_answer(q("percent"), "120%")
    assert isinstance(result, Rejected) and "0% đến 100%" in result.message


@pytest.mark.parametrize("text", ["có", "co", "C", "Có ạ", "dạ có", "rồi", "roi", "yes", "ok",
                                  "đúng", "1"])
def test_yes(text: str) -> None:
    assert parse_yes_no(text) is True
    assert parse_answer(q("yes_no"), text) == Accepted(True)


@pytest.mark.parametrize("text", ["không", "khong", "k", "ko", "KHÔNG", "chưa", "chua", "no",
                                  "không có", "chưa ạ", "2"])
def test_no(text: str) -> None:
    assert parse_yes_no(text) is False


def test_yes_no_unclear() -> None:
    result = parse_answer(q("yes_no"), "có lẽ vậy")
    assert isinstance(result, Rejected) and "Có" in result.message and "Không" in result.message


@pytest.mark.parametrize(("text", "expected"), [
    ("1", "mxh"), ("2", "loa"), ("loa", "loa"), ("Loa truyền thanh", "loa"),
    ("loa truyen thanh", "loa"), ("HOI NGHI", "hoi_nghi"), ("hội", "hoi_nghi"), ("3.", "hoi_nghi"),
])
def test_choice_by_number_or_text(text: str, expected: str) -> None:
    assert parse_answer(q("choice"), text) == Accepted(expected)


@pytest.mark.parametrize("text", ["4", "0", "tivi", "h"])
def test_choice_unknown_lists_the_options(text: str) -> None:
    result = parse_answer(q("choice"), text)
    assert isinstance(result, Rejected) and "1. Mạng xã hội" in result.message


@pytest.mark.parametrize(("text", "expected"), [
    ("1,3", ["mxh", "hoi_nghi"]), ("3 1", ["mxh", "hoi_nghi"]), ("1 và 2", ["mxh", "loa"]),
    ("mạng xã hội, hội nghị", ["mxh", "hoi_nghi"]), ("loa", ["loa"]), ("2, 2", ["loa"]),
])
def test_multi_choice(text: str, expected: list[str]) -> None:
    assert parse_answer(q("multi_choice"), text) == Accepted(expected)


def test_multi_choice_unknown_piece() -> None:
    result = parse_answer(q("multi_choice"), "1, 9")
    assert isinstance(result, Rejected) and "“9”" in result.message


@pytest.mark.parametrize(("text", "expected"), [
    ("15/11/2026", date(2026, 11, 15)), ("15-11-2026", date(2026, 11, 15)),
    ("15 tháng 11 năm 2026", date(2026, 11, 15)), ("ngày 5 tháng 3 năm 2026", date(2026, 3, 5)),
    ("15.11.2026", date(2026, 11, 15)), ("2026-11-15", date(2026, 11, 15)),
    ("29/02/2024", date(2024, 2, 29)),
])
def test_dates(text: str, expected: date) -> None:
    assert parse_date(text) == expected
    assert parse_answer(q("date"), text) == Accepted(expected.isoformat())


def test_date_without_year_uses_today_when_known() -> None:
    assert parse_date("15/11", today=date(2026, 11, 22)) == date(2026, 11, 15)
    assert isinstance(parse_date("15/11"), Rejected)
    assert parse_date("hôm nay", today=date(2026, 11, 22)) == date(2026, 11, 22)


@pytest.mark.parametrize("text", ["31/02/2026", "29/02/2026", "32/1/2026", "hôm qua", "15/13/2026"])
def test_bad_dates(text: str) -> None:
    result = parse_answer(q("date"), text)
    assert isinstance(result, Rejected) and "15/11/2026" in result.message


def test_text_and_photo() -> None:
    assert parse_answer(q("text"), "  Thiếu vốn  ") == Accepted("Thiếu vốn")
    assert isinstance(parse_answer(q("text", max_length=5), "quá dài rồi"), Rejected)
    assert isinstance(parse_answer(q("photo"), "ảnh đây"), Rejected)
    assert accept_photo(q("photo"), "FILE1") == Accepted("FILE1")
    assert isinstance(accept_photo(q("integer"), "FILE1"), Rejected)
    assert isinstance(parse_answer(q("text"), "   "), Rejected)


def test_format_answer_the_vietnamese_way() -> None:
    assert format_answer(q("integer", unit="HTX"), 1234) == "1.234 HTX"
    assert format_answer(q("decimal"), 1234.5) == "1.234,5"
    assert format_answer(q("percent"), 85.5) == "85,5%"
    assert format_answer(q("yes_no"), True) == "Có"
    assert format_answer(q("choice"), "loa") == "Loa truyền thanh"
    assert format_answer(q("multi_choice"), ["mxh", "loa"]) == "Mạng xã hội, Loa truyền thanh"
    assert format_answer(q("date"), "2026-03-05") == "05/03/2026"
    assert format_answer(q("text"), None) == "— (bỏ qua)"


ALL_TYPES = [t.value for t in QuestionType]
VOCAB = st.sampled_from(["có", "không", "12", "1.234", "12,5", "%", "HTX", "ngày", "tháng",
                         "năm", "/", "-", ",", ".", "và", "1", "3", " ", "loa", "2026", "31",
                         "tỷ", "triệu", "tr", "k", "nghìn", "trăm", "rưỡi", "đồng", "hơn", "+",
                         "~", "khoảng", "đến", "hộ", ",5", "1,500", "hôm nay", "28/12"])
UNITS = st.sampled_from([None, "hộ", "HTX", "tin bài", "triệu đồng", "đồng", "%"])
PERIODS = st.sampled_from([None, Period.parse("2026-H2"), Period.parse("2026-11")])


def q_any(kind: str, unit: str | None) -> Question:
    """A question of any type; a unit and a period range where they apply."""
    extra: dict[str, object] = {}
    if kind in ("integer", "decimal", "percent"):
        extra["unit"] = unit
    if kind == "date":
        extra["within"] = "period_to_today"
    return q(kind, **extra)


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(ALL_TYPES), text=st.text(max_size=60), unit=UNITS, period=PERIODS)
def test_parsers_never_raise_on_arbitrary_text(kind: str, text: str, unit: str | None,
                                               period: Period | None) -> None:
    result = parse_answer(q_any(kind, unit), text, today=date(2026, 11, 22), period=period)
    assert isinstance(result, Accepted | Rejected)
    if isinstance(result, Rejected):
        assert result.message


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(ALL_TYPES), words=st.lists(VOCAB, max_size=8), unit=UNITS,
       period=PERIODS, today=st.sampled_from([None, date(2026, 11, 22), date(2027, 1, 3)]))
def test_parsers_never_raise_on_plausible_text(kind: str, words: list[str], unit: str | None,
                                               period: Period | None,
                                               today: date | None) -> None:
    question = q_any(kind, unit)
    result = parse_answer(question, " ".join(words), today=today, period=period)
    assert isinstance(result, Accepted | Rejected)
    if isinstance(result, Accepted) and kind != "text":
        format_answer(question, result.value)  # whatever is accepted can be shown back


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10**12))
def test_vietnamese_grouping_round_trips(n: int) -> None:
    written = f"{n:,}".replace(",", ".")
    assert parse_number(written) == n


def test_numbers_print_the_vietnamese_way_and_never_minus_zero() -> None:
    from bot.domain.vnformat import number, percent

    assert [number(1234.5), number(1234567), number(12.0), number(0.125)] == [
        "1.234,5", "1.234.567", "12", "0,12"]
    assert percent(85.5) == "85,5%"
    # -0.0 and 0.0 share a cache key, and Babel keeps the sign of what rounds to zero.
    assert [number(-0.0), number(0.0), number(-0.001), number(-0.4, 0)] == ["0"] * 4
    assert number(-1234.5) == "-1.234,5"


# --- review of issue 9: yes/no as officers type it, percent ranges, multi-choice labels ------

@pytest.mark.parametrize(("text", "expected"), [
    ("có nhé", True), ("có nha", True), ("có ạ", True), ("có tổ chức", True),
    ("có rồi nha", True), ("dạ vâng", True), ("có đấy anh", True), ("có, có", True),
    ("không tham gia", False), ("chưa tổ chức ạ", False), ("không nhé", False),
    ("chưa, không có", False), ("vâng, không ạ", False),
    # Telex and VNI left undone by the keyboard, chat spellings
    ("cos", True), ("co1", True), ("cos aj", True), ("roif", True), ("ddungs", True),
    ("khoong", False), ("kho6ng", False), ("chuwa", False), ("hok", False), ("khum", False),
])
def test_yes_no_as_officers_type_it(text: str, expected: bool) -> None:
    assert parse_yes_no(text) is expected
    assert parse_answer(q("yes_no"), text) == Accepted(expected)


@pytest.mark.parametrize("text", ["không biết", "chưa rõ", "k bt", "không nhớ", "chưa chắc",
                                  "có thể", "có lẽ", "có hay không", "có tổ chức không",
                                  "không, có", "không có số liệu", "không hiểu"])
def test_doubt_is_asked_again_not_read_as_yes_or_no(text: str) -> None:
    assert parse_yes_no(text) is None
    result = parse_answer(q("yes_no"), text)
    assert isinstance(result, Rejected)
    assert "chưa phải câu trả lời có hay không" in result.message
    assert "“Có” hoặc “Không”" in result.message


@pytest.mark.parametrize("text", ["có 2", "1 cái", "2 lần", "có, 2", "coso", "ok 3",
                                  "có tổ chức hai hội nghị và một lớp tập huấn"])
def test_numbers_and_long_replies_are_not_yes_or_no(text: str) -> None:
    assert parse_yes_no(text) is None
    assert isinstance(parse_answer(q("yes_no"), text), Rejected)


@pytest.mark.parametrize(("question", "typed", "expected"), [
    (q("percent"), "150", "150% nằm ngoài khoảng cho phép. Vui lòng nhập số từ 0% đến 100%."),
    (q("percent", min=10), "5%", "5% nằm ngoài khoảng cho phép. Vui lòng nhập số từ 10% đến "
     "100%."),
    (q("decimal", unit="%", max=100), "120", "120% nằm ngoài khoảng cho phép. Vui lòng nhập "
     "số từ 0% đến 100%."),
    (q("integer", unit="hộ", max=50), "60", "60 nằm ngoài khoảng cho phép. Vui lòng nhập số "
     "từ 0 đến 50 hộ."),
])
def test_out_of_range_says_each_unit_once(question: Question, typed: str, expected: str) -> None:
    assert parse_answer(question, typed) == Rejected(expected)


def test_multi_choice_labels_with_commas_stay_apart() -> None:
    options = [Option(id="hoi_nghi", label="Hội nghị, tọa đàm, diễn đàn"),
               Option(id="loa", label="Loa truyền thanh"), Option(id="mxh", label="Mạng xã hội")]
    question = q("multi_choice", options=options)
    assert format_answer(question, ["hoi_nghi", "loa"]) == \
        "Hội nghị, tọa đàm, diễn đàn; Loa truyền thanh"
    assert format_answer(question, ["loa", "mxh"]) == "Loa truyền thanh; Mạng xã hội"


def test_a_figure_too_large_for_babel_is_still_printed_the_vietnamese_way() -> None:
    """A total of 10^26 or more (a sum of huge imported figures, a percentage change from
    almost nothing) printed in a digest or the Word report must not raise."""
    from bot.domain import vnformat

    assert vnformat.number(1e26) == "100.000.000.000.000.004.764.729.344"
    assert vnformat.number(10**30) == "1.000.000.000.000.000.000.000.000.000.000"
    assert vnformat.number(1e300, 2).startswith("1.000.000.000.000.000.")
    assert vnformat.percent(-1e27).startswith("-1.000.000.000.000.000.")
