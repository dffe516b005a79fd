"""Review of several schedules per template, the lifetime, `baocao calendar` and
`demo --date`: odd templates an admin may write, out-of-range days, and an officer working on
two schedules of one template at once."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app import App
from bot.config import RemindersConfig
from bot.domain.reports import windows_due_between
from bot.services.reminders import ReminderService
from tests.harness import Clock, join, make_app
from tests.old_reports import OLD_REPORTS
from tests.test_schedules import HEAD, QUESTIONS, cli, load, local

REPO = Path(__file__).resolve().parents[1]
VN = ZoneInfo("Asia/Ho_Chi_Minh")

# Plan 000's shape: an H1 report before 05 June and a yearly one before 15 November.
TWO = HEAD + '''
[[schedules]]
period = "half"
deadline = "trước ngày 05 tháng 6"
only = ["H1"]

[[schedules]]
period = "year"
deadline = "trước ngày 15 tháng 11"
''' + QUESTIONS


# --- templates an admin may get wrong: each problem names the file and the key --------------

@pytest.mark.parametrize(("schedules", "expected"), [
    # the same kind twice
    ('[[schedules]]\nperiod = "half"\ndeadline = "trước ngày 05 tháng cuối quý"\n'
     '[[schedules]]\nperiod = "half"\ndeadline = "trước ngày 15 tháng cuối quý"\n',
     "reports/hai_lich.toml: schedules[1].period: half periods (H1, H2) already have a "
     "schedule (schedules[0])"),
    # overlapping `only`
    ('[[schedules]]\nperiod = "quarter"\ndeadline = "trước ngày 05 tháng cuối quý"\n'
     'only = ["Q1", "Q2"]\n'
     '[[schedules]]\nperiod = "quarter"\ndeadline = "trước ngày 15 tháng cuối quý"\n'
     'only = ["Q2", "Q3"]\n',
     "reports/hai_lich.toml: schedules[1].period: quarter periods (Q2) already have a schedule"),
    ('[[schedules]]\nperiod = "half"\ndeadline = "trước ngày 05 tháng cuối quý"\n'
     'only = ["h1"]\n', "reports/hai_lich.toml: schedules[0].only[0]: 'h1' is not a half-year"),
    ('[[schedules]]\nperiod = "month"\ndeadline = "trước ngày 05 tháng sau"\nonly = ["1"]\n',
     "reports/hai_lich.toml: schedules[0].only[0]: '1' is not a month: write two digits"),
    ('[[schedules]]\nperiod = "nine_months"\ndeadline = "trước thứ Sáu hằng tuần"\n',
     "reports/hai_lich.toml: schedules[0].deadline: a weekday deadline"),
    ('[[schedules]]\nperiod = "nine_months"\ndeadline = "trước ngày 05 tháng 9 năm 2026"\n',
     "reports/hai_lich.toml: schedules[0].deadline: 'trước ngày 05 tháng 9 năm 2026' names "
     "one day"),
    ('[[schedules]]\nperiod = "year"\ndeadline = "trước ngày 15 tháng 11"\nonly = ["2026"]\n',
     "reports/hai_lich.toml: schedules[0].only: a year schedule has one period a year"),
    ('period = "year"\ndeadline = "trước ngày 15 tháng 11"\n'
     '[[schedules]]\nperiod = "half"\ndeadline = "trước ngày 05 tháng cuối quý"\n',
     "reports/hai_lich.toml: schedules: period and deadline are set at the top too"),
])
def test_odd_schedules_are_one_problem_naming_file_and_key(
        tmp_path: Path, schedules: str, expected: str) -> None:
    template, problems = load(tmp_path, HEAD + schedules + QUESTIONS)
    assert template is None
    assert [p for p in problems if p.startswith(expected)] == problems, problems


def test_valid_until_on_a_periods_last_day_and_valid_from_inside_one(tmp_path: Path) -> None:
    text = TWO.replace("[[schedules]]", "valid_from = 2025-03-10\nvalid_until = 2026-06-30\n"
                       "[[schedules]]", 1)
    template, problems = load(tmp_path, text)
    assert template is not None, problems
    windows = windows_due_between(template, date(2024, 1, 1), date(2028, 12, 31), VN, 10)
    # 2025-H1 holds valid_from; 2026-H1 ends on valid_until; 2026 starts before it ends.
    assert [w.period.id for w in windows] == ["2025-H1", "2025", "2026-H1", "2026"]


# --- baocao calendar and demo --date at the edges of the calendar -----------------------------

def test_calendar_from_the_first_years_ad_is_no_traceback(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Was: OverflowError (the look-back of 1200 days went before year 1). The monthly template
    # of before issue 12 had no lifetime, so it has periods in 1900 (the shipped one starts 2022).
    (workdir / "config.toml").write_text(f'[reports]\ndir = "{OLD_REPORTS}"\n', encoding="utf-8")
    code, lines, _ = cli(capsys, "calendar", "--from", "0001-01-01", "--to", "1900-01-31",
                         "--json")
    assert code == 0
    assert any('"period": "1900-01"' in line for line in lines)


def test_calendar_over_two_centuries_is_quick_and_whole(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, err = cli(capsys, "calendar", "--from", "1900-01-01", "--to", "2100-12-31")
    assert code == 0
    assert len([line for line in lines if "kinh_te_tap_the_thanh_nien" in line]) == 2 * 6
    assert "window(s) due from 1900-01-01 to 2100-12-31" in err


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1899-12-31"])
def test_demo_date_outside_the_calendar_is_refused_not_a_traceback(
        tmp_path: Path, day: str) -> None:
    # Was: OverflowError from the invite's expiry on 9999-12-31; "ngày 01/01/1" on year 1.
    result = subprocess.run([sys.executable, "-m", "bot", "demo", "--date", day],
                            input="", capture_output=True, text=True, cwd=tmp_path, timeout=120,
                            env={"PATH": "", "PYTHONPATH": str(REPO)})
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"argument --date: {day} is outside 1900-01-01 to 9998-12-31" in result.stderr


# --- an officer on two schedules of one template at once ------------------------------------

@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "hai_lich.toml").write_text(TWO, encoding="utf-8")
    app = await make_app(tmp_path, Clock(now=local(2026, 5, 20, 9).astimezone(UTC)),
                         reports=folder)
    yield app
    await app.close()


async def test_an_officer_sends_both_open_reports_of_one_template(app: App) -> None:
    chat = await join(app, "u1")
    service = ReminderService(app.storage, app.templates, zone=VN, lock_days=10,
                              defaults=RemindersConfig(), clock=app.reporting.clock)
    planned = await service.preview(date(2026, 5, 20), date(2026, 11, 30))
    assert {p.window.period.id for p in planned if p.unit.code == "LC-BX-01"} == {
        "2026-H1", "2026"}

    await chat.cmd("danhsach")
    assert chat.text.splitlines()[1:] == [
        "1. Báo cáo nhiều lịch", "   6 tháng đầu năm 2026 · hạn: hết ngày 04/06/2026 · ⚪ chưa làm",
        "2. Báo cáo nhiều lịch", "   Năm 2026 · hạn: hết ngày 14/11/2026 · ⚪ chưa làm",
    ]
    for number, answer, label in (("2", "7", "Năm 2026"), ("1", "3", "6 tháng đầu năm 2026")):
        await chat.cmd("danhsach")
        await chat.say(number)
        assert label in chat.text and "Câu 1/1" in chat.text, chat.text
        await chat.say(answer)
        await chat.press_label("Gửi báo cáo")
        assert "✅" in chat.text, chat.text
    await chat.cmd("trangthai")
    assert "Báo cáo nhiều lịch — 6 tháng đầu năm 2026: đã gửi" in chat.text
    assert "Báo cáo nhiều lịch — Năm 2026: đã gửi" in chat.text
    for period, value in (("2026-H1", 3), ("2026", 7)):
        subs = await app.storage.latest_submissions(["LC-BX-01"])
        assert [s.answers for s in subs if s.period == period] == [{"so_buoi": value}]
    # Both sent: no reminder of either is left.
    planned = await service.preview(date(2026, 5, 20), date(2026, 11, 30))
    assert [p for p in planned if p.unit.code == "LC-BX-01"] == []
