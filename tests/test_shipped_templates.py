"""The report templates shipped in bot/reports/ (package data): one per source plan, all
loadable and usable."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime, timedelta

import pytest

from bot.config import SHIPPED_REPORTS
from bot.domain.periods import Period, periods_in_years
from bot.domain.templates import (
    NUMERIC_TYPES,
    QuestionType,
    Template,
    load_templates,
    parse_rule,
    rule_holds,
)

REPORTS = SHIPPED_REPORTS
TODAY = date(2026, 11, 22)
EXPECTED_IDS = {
    "kinh_te_tap_the_thanh_nien",
    "hoi_nong_dan_htx",
    "nghi_quyet_20_ktt",
    "thanh_nien_giam_ngheo",
    "ocop_thanh_nien",
}


def _load() -> dict[str, Template]:
    templates, problems = load_templates(REPORTS)
    assert problems == [], "\n".join(str(p) for p in problems)
    return templates


TEMPLATES = _load()


def has_diacritics(text: str) -> bool:
    """True when the text carries Vietnamese marks (accents, hooks, breves) or đ."""
    decomposed = unicodedata.normalize("NFD", text)
    return "đ" in text.lower() or any(unicodedata.category(ch) == "Mn" for ch in decomposed)


def test_every_file_loads_without_problems():
    templates, problems = load_templates(REPORTS)
    assert problems == []
    assert len(templates) == len(list(REPORTS.glob("*.toml")))


def test_exactly_five_templates_one_per_plan():
    assert set(TEMPLATES) == EXPECTED_IDS
    assert len(list(REPORTS.glob("*.toml"))) == 5


def test_file_name_is_template_id():
    for path in REPORTS.glob("*.toml"):
        assert path.stem in TEMPLATES, path.name


def test_every_file_names_its_source_plan_in_a_leading_comment():
    for path in REPORTS.glob("*.toml"):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("#") and "plans/0" in first, path.name


def test_every_question_type_is_used():
    used = {q.type for t in TEMPLATES.values() for q in t.questions}
    assert used == set(QuestionType)


@pytest.mark.parametrize("template_id", sorted(EXPECTED_IDS))
def test_size_and_metadata(template_id):
    t = TEMPLATES[template_id]
    assert 8 <= len(t.questions) <= 20
    assert t.source and t.description
    assert t.applies_to.levels, "say which unit level reports"
    assert any(not q.required for q in t.questions), "at least one optional question"


@pytest.mark.parametrize("template_id", sorted(EXPECTED_IDS))
def test_when_conditions_refer_to_earlier_questions(template_id):
    t = TEMPLATES[template_id]
    earlier: set[str] = set()
    for q in t.questions:
        if q.when is not None:
            assert q.when.question in earlier, f"{q.id} depends on {q.when.question}"
        earlier.add(q.id)


def test_skip_logic_in_at_least_three_templates():
    with_skips = [t.id for t in TEMPLATES.values() if any(q.when for q in t.questions)]
    assert len(with_skips) >= 3


def test_yes_no_skip_logic_asks_only_after_yes():
    t = TEMPLATES["kinh_te_tap_the_thanh_nien"]
    cond = t.question("so_tin_bai").when
    assert cond is not None
    assert cond.holds({"co_fanpage": True})
    assert not cond.holds({"co_fanpage": False})
    assert not cond.holds({})


@pytest.mark.parametrize("template_id", sorted(EXPECTED_IDS))
def test_deadline_gives_due_instants_for_current_and_next_period(template_id):
    t = TEMPLATES[template_id]
    assert t.every_schedule
    for schedule in t.every_schedule:  # two periods in a row that this schedule asks for
        asked = [p for p in periods_in_years(schedule.period, TODAY.year - 1, TODAY.year + 1)
                 if schedule.covers(p) and p.start <= TODAY]
        current = asked[-1]
        following = next(p for p in periods_in_years(schedule.period, TODAY.year,
                                                     TODAY.year + 2)
                         if schedule.covers(p) and p > current)
        rule = schedule.rule
        due_now, due_next = rule.due(current), rule.due(following)
        for period, due in ((current, due_now), (following, due_next)):
            assert isinstance(due, datetime) and due.tzinfo is not None
            # Due no earlier than the period's start and within a year after it ends.
            assert period.start <= due.date() <= period.end + timedelta(days=366)
        assert due_now < due_next


def test_plan_deadline_wording_is_kept():
    # Plan 000: "Định kỳ 06 tháng, xây dựng báo cáo gửi trước ngày 05 tháng cuối quý; Báo cáo
    # năm gửi trước ngày 15 tháng 11 năm 2020": a first-half report and a yearly one, no H2.
    t = TEMPLATES["kinh_te_tap_the_thanh_nien"]
    assert [(s.period, s.deadline, s.only) for s in t.every_schedule] == [
        ("half", "trước ngày 05 tháng cuối quý", ["H1"]), ("year", "trước ngày 15 tháng 11", None)]
    assert t.basis == "plan"
    assert (t.valid_from, t.valid_until) == (date(2020, 2, 13), date(2025, 12, 31))
    due = {p: t.schedule_for(Period.parse(p)).rule.due_date(Period.parse(p))  # type: ignore[union-attr]
           for p in ("2025-H1", "2025", "2020-H1", "2020")}
    assert due == {"2025-H1": date(2025, 6, 5), "2025": date(2025, 11, 15),
                   "2020-H1": date(2020, 6, 5), "2020": date(2020, 11, 15)}
    assert not t.asks_for(Period.parse("2025-H2"))  # the plan asks for no H2 report
    assert not t.asks_for(Period.parse("2026")) and not t.asks_for(Period.parse("2026-H1"))
    assert not t.asks_for(Period.parse("2019"))  # before the plan
    assert TEMPLATES["ocop_thanh_nien"].period == "month"
    # A template in today's format is one schedule, as before.
    assert TEMPLATES["thanh_nien_giam_ngheo"].every_schedule[0].deadline == (
        TEMPLATES["thanh_nien_giam_ngheo"].deadline)


@pytest.mark.parametrize("template_id", sorted(EXPECTED_IDS))
def test_each_template_has_labelled_targets(template_id):
    t = TEMPLATES[template_id]
    assert t.targets
    for tg in t.targets:
        assert tg.label and has_diacritics(tg.label)


def test_milestone_targets_of_the_farmers_plan():
    t = TEMPLATES["hoi_nong_dan_htx"]
    by_key = {(tg.question, tg.year): tg.value or 0.0 for tg in t.targets}
    assert by_key[("htx_luy_ke", 2025)] > 3 and by_key[("tht_luy_ke", 2025)] > 10
    assert by_key[("htx_luy_ke", 2030)] >= 10 and by_key[("tht_luy_ke", 2030)] >= 40


@pytest.mark.parametrize("template_id", sorted(EXPECTED_IDS))
def test_rules_are_numeric_and_pass_on_an_all_zero_report(template_id):
    t = TEMPLATES[template_id]
    zeros = {q.id: 0 for q in t.questions if q.type in NUMERIC_TYPES}
    for r in t.rules:
        assert has_diacritics(r.message)
        left, _, right = parse_rule(r.check)
        assert all(t.question(term).type in NUMERIC_TYPES for term in left + right)
        assert rule_holds(r.check, zeros) is True, r.check


def test_rules_catch_an_inconsistent_answer():
    t = TEMPLATES["hoi_nong_dan_htx"]
    rule = next(r for r in t.rules if r.check == "htx_moi <= htx_luy_ke")
    assert rule_holds(rule.check, {"htx_moi": 5, "htx_luy_ke": 2}) is False
    assert rule_holds(rule.check, {"htx_moi": 1, "htx_luy_ke": 4}) is True


@pytest.mark.parametrize("template_id", sorted(EXPECTED_IDS))
def test_user_facing_strings_are_vietnamese_with_diacritics(template_id):
    t = TEMPLATES[template_id]
    strings = [t.title, t.description or "", t.source or ""]
    for q in t.questions:
        strings.append(q.text)
        if q.hint:
            strings.append(q.hint)
        strings.extend(o.label for o in q.options)
    for s in strings:
        assert has_diacritics(s), s


def test_event_dates_fall_in_the_reporting_period_up_to_the_report_day():
    dates = {(t.id, q.id): q.within for t in TEMPLATES.values() for q in t.questions
             if q.type is QuestionType.DATE}
    assert dates == {("kinh_te_tap_the_thanh_nien", "ngay_dien_dan"): "period_to_today",
                     ("thanh_nien_giam_ngheo", "ngay_kiem_tra"): "period_to_today"}
