"""Several schedules per template (`[[schedules]]`, `only`), a template's lifetime
(`valid_from`, `valid_until`), `deadline_basis`, and `baocao calendar`: the rules as tables, then
the report list, /trangthai, buttons, reminders and the command line that follow them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app import App
from bot.config import RemindersConfig
from bot.domain import messages_vi as M
from bot.domain.buttons import OpenReport
from bot.domain.periods import Period, periods_in_years
from bot.domain.reports import open_windows, windows_due_between
from bot.domain.roles import Role
from bot.domain.templates import Template, load_template
from bot.services.reminders import ReminderService
from tests.harness import Clock, join, make_app
from tests.test_reminders import FakeSender

VN = ZoneInfo("Asia/Ho_Chi_Minh")

HEAD = '''
id = "hai_lich"
title = "Báo cáo nhiều lịch"
lock_days = 10
applies_to = { levels = ["xa"] }
'''
SCHEDULES = '''
valid_from = 2025-02-13
valid_until = 2026-12-31
deadline_basis = "plan"

[[schedules]]
period = "half"
deadline = "trước ngày 05 tháng cuối quý"
only = ["H1"]

[[schedules]]
period = "nine_months"
deadline = "trước ngày 15 tháng cuối kỳ"

[[schedules]]
period = "year"
deadline = "trước ngày 15 tháng 11"
'''
QUESTIONS = '''
[[questions]]
id = "so_buoi"
text = "Số buổi sinh hoạt"
type = "integer"
unit = "buổi"
'''
TEMPLATE = HEAD + SCHEDULES + QUESTIONS


def local(y: int, m: int, d: int, h: int = 0, minute: int = 0) -> datetime:
    return datetime(y, m, d, h, minute, tzinfo=VN)


def load(tmp_path: Path, text: str) -> tuple[Template | None, list[str]]:
    path = tmp_path / "hai_lich.toml"
    path.write_text(text, encoding="utf-8")
    template, problems = load_template(path, "reports/hai_lich.toml")
    return template, [str(p) for p in problems]


@pytest.fixture
def three(tmp_path: Path) -> Template:
    template, problems = load(tmp_path, TEMPLATE)
    assert template is not None, problems
    return template


# --- which periods open --------------------------------------------------------------------------

# (now, local; the open windows, newest first: of periods starting together, the one due first)
OPEN: list[tuple[datetime, list[str]]] = [
    (local(2025, 1, 10), ["2025-H1", "2025-9M", "2025"]),  # 2024 ended before valid_from
    (local(2026, 5, 20), ["2026-H1", "2026-9M", "2026"]),
    (local(2026, 6, 14, 23, 59), ["2026-H1", "2026-9M", "2026"]),  # H1 late, not locked
    (local(2026, 6, 15), ["2026-9M", "2026"]),  # H1 locked at due + 10 days
    (local(2026, 7, 1), ["2026-9M", "2026"]),  # no H2 report: only = ["H1"]
    (local(2026, 10, 1), ["2026"]),  # the nine months locked on 25 September
    (local(2026, 11, 24, 23), ["2026"]),
    (local(2026, 11, 25), []),
    (local(2027, 1, 5), []),  # after valid_until: nothing of 2027 opens
    (local(2027, 6, 1), []),
]


@pytest.mark.parametrize(("now", "expected"), OPEN)
def test_open_windows_follow_every_schedule_and_the_lifetime(three: Template, now: datetime,
                                                             expected: list[str]) -> None:
    assert [w.period.id for w in open_windows(three, now, VN, 10)] == expected


def test_due_instants_of_each_schedule(three: Template) -> None:
    due = {w.period.id: w.due for w in windows_due_between(three, date(2026, 1, 1),
                                                           date(2026, 12, 31), VN, 10)}
    assert due == {"2026-H1": local(2026, 6, 5), "2026-9M": local(2026, 9, 15),
                   "2026": local(2026, 11, 15)}
    assert three.basis == "plan"


@pytest.mark.parametrize(("only", "asked"), [
    (None, ["2026-H1", "2026-H2"]),
    (["H1"], ["2026-H1"]),
    (["H2"], ["2026-H2"]),
    (["H2", "H1"], ["2026-H1", "2026-H2"]),
])
def test_only_keeps_those_periods_of_each_year(tmp_path: Path, only: list[str] | None,
                                               asked: list[str]) -> None:
    line = "" if only is None else f"only = {json.dumps(only)}\n"
    template, problems = load(tmp_path, HEAD + '[[schedules]]\nperiod = "half"\n'
                              'deadline = "trước ngày 15 tháng cuối kỳ"\n' + line + QUESTIONS)
    assert template is not None, problems
    assert [p for p in ("2026-H1", "2026-H2") if template.asks_for(Period.parse(p))] == asked


@pytest.mark.parametrize(("only", "asked"), [
    (["Q4"], ["2026-Q4"]),
    (["Q1", "Q3"], ["2026-Q1", "2026-Q3"]),
    (["01", "07"], ["2026-01", "2026-07"]),
    (["W01", "W53"], ["2026-W01", "2026-W53"]),
])
def test_only_names_quarters_months_and_weeks(tmp_path: Path, only: list[str],
                                              asked: list[str]) -> None:
    kind, deadline = {"Q": ("quarter", "trước ngày 05 tháng cuối quý"),
                      "W": ("week", "trước thứ Hai tuần sau")}.get(
        only[0][0], ("month", "chậm nhất ngày 20 hằng tháng"))
    template, problems = load(tmp_path, HEAD + f'[[schedules]]\nperiod = "{kind}"\n'
                              f'deadline = "{deadline}"\nonly = {json.dumps(only)}\n' + QUESTIONS)
    assert template is not None, problems
    periods = periods_in_years(template.every_schedule[0].period, 2026, 2026)
    assert [p.id for p in periods if template.asks_for(p)] == asked


# --- lifetime boundaries: the first and the last day ---------------------------------------------

# (valid_from, valid_until, is the year 2025 asked for)
LIFETIME: list[tuple[str | None, str | None, bool]] = [
    ("2025-12-31", None, True),  # the period's last day: it ends on valid_from, so it opens
    ("2026-01-01", None, False),  # it ended the day before
    (None, "2025-01-01", True),  # its first day: it starts on valid_until
    (None, "2024-12-31", False),  # it starts the day after
    ("2025-06-01", "2025-06-30", True),  # a lifetime inside the period
    ("2025-01-01", "2025-12-31", True),
    (None, None, True),
]


@pytest.mark.parametrize(("valid_from", "valid_until", "asked"), LIFETIME)
def test_lifetime_boundaries(tmp_path: Path, valid_from: str | None, valid_until: str | None,
                             asked: bool) -> None:
    keys = "".join(f"{k} = {v}\n" for k, v in (("valid_from", valid_from),
                                                ("valid_until", valid_until)) if v)
    template, problems = load(tmp_path, HEAD + keys + 'period = "year"\n'
                              'deadline = "trước ngày 15 tháng 11"\n' + QUESTIONS)
    assert template is not None, problems
    assert template.lives(Period.parse("2025")) is asked
    assert template.asks_for(Period.parse("2025")) is asked
    # Listed (open on 1 November), in the calendar, as the lifetime says.
    listed = [w.period.id for w in open_windows(template, local(2025, 11, 1), VN, 10)]
    assert ("2025" in listed) is asked
    calendar = windows_due_between(template, date(2025, 1, 1), date(2025, 12, 31), VN, 10)
    assert [w.period.id for w in calendar] == (["2025"] if asked else [])


# --- every new key, broken: one problem naming it ------------------------------------------------

BROKEN: list[tuple[str, str, str]] = [
    # (what, the template, the problem)
    ("both forms", HEAD + 'period = "year"\ndeadline = "trước ngày 15 tháng 11"\n' + SCHEDULES
     + QUESTIONS, "schedules: period and deadline are set at the top too: write either one "
     "schedule (top-level period + deadline) or [[schedules]], not both"),
    ("a top-level deadline beside [[schedules]]", HEAD + 'deadline = "trước ngày 15 tháng 11"\n'
     + SCHEDULES + QUESTIONS, "schedules: deadline is set at the top too"),
    ("no schedule", HEAD + QUESTIONS,
     "period: required: a period and a deadline, or [[schedules]]"),
    ("a period without deadline", HEAD + 'period = "year"\n' + QUESTIONS,
     "deadline: required with period"),
    ("a full date on a recurring schedule", HEAD + SCHEDULES.replace(
        '"trước ngày 15 tháng 11"', '"trước ngày 15 tháng 11 năm 2020"') + QUESTIONS,
     "schedules[2].deadline: 'trước ngày 15 tháng 11 năm 2020' names one day (15/11/2020), but "
     "a yearly report recurs"),
    ("a deadline that does not fit", HEAD + SCHEDULES.replace(
        '"trước ngày 15 tháng cuối kỳ"', '"trước thứ Sáu hằng tuần"') + QUESTIONS,
     "schedules[1].deadline: a weekday deadline ('thứ Sáu hằng tuần') only fits weekly reports"),
    ("an unreadable deadline", HEAD + SCHEDULES.replace(
        '"trước ngày 15 tháng cuối kỳ"', '"khi nào xong"') + QUESTIONS,
     "schedules[1].deadline: cannot read deadline phrase: 'khi nào xong': no day found"),
    ("an unknown kind", HEAD + SCHEDULES.replace('"nine_months"', '"9M"') + QUESTIONS,
     "schedules[1].period: Input should be 'week', 'month', 'quarter', 'half', 'nine_months' "
     "or 'year'"),
    ("a schedule without deadline", HEAD + SCHEDULES.replace(
        'deadline = "trước ngày 15 tháng cuối kỳ"\n', '') + QUESTIONS,
     "schedules[1].deadline: Field required"),
    ("an unknown key in a schedule", HEAD + SCHEDULES.replace(
        'only = ["H1"]', 'only = ["H1"]\nonly_in = ["H1"]') + QUESTIONS,
     "schedules[0].only_in: unknown key (check the spelling)"),
    ("only: not a half-year", HEAD + SCHEDULES.replace('["H1"]', '["H1", "H3"]') + QUESTIONS,
     "schedules[0].only[1]: 'H3' is not a half-year: write \"H1\" or \"H2\""),
    ("only: lower case", HEAD + SCHEDULES.replace('["H1"]', '["h1"]') + QUESTIONS,
     "schedules[0].only[0]: 'h1' is not a half-year"),
    ("only: a month in one digit", HEAD + SCHEDULES.replace(
        'period = "half"', 'period = "month"').replace('["H1"]', '["01", "7"]').replace(
        "tháng cuối quý", "hằng tháng") + QUESTIONS,
     "schedules[0].only[1]: '7' is not a month: write two digits, \"01\" to \"12\""),
    ("only: a quarter", HEAD + SCHEDULES.replace('period = "half"', 'period = "quarter"')
     + QUESTIONS, "schedules[0].only[0]: 'H1' is not a quarter: write \"Q1\", \"Q2\", \"Q3\" or "
     "\"Q4\""),
    ("only: twice", HEAD + SCHEDULES.replace('["H1"]', '["H1", "H1"]') + QUESTIONS,
     "schedules[0].only[1]: 'H1' is listed twice"),
    ("only: empty", HEAD + SCHEDULES.replace('["H1"]', '[]') + QUESTIONS,
     "schedules[0].only: empty: no period would ever open"),
    ("only: not a list", HEAD + SCHEDULES.replace('["H1"]', '"H1"') + QUESTIONS,
     "schedules[0].only: Input should be a valid list"),
    ("only on a yearly schedule", HEAD + SCHEDULES.replace(
        'deadline = "trước ngày 15 tháng 11"', 'deadline = "trước ngày 15 tháng 11"\n'
        'only = ["H1"]') + QUESTIONS,
     "schedules[2].only: a year schedule has one period a year: leave 'only' out"),
    ("two schedules for one period", HEAD + SCHEDULES + '''
[[schedules]]
period = "half"
deadline = "trước ngày 10 tháng cuối kỳ"
''' + QUESTIONS, "schedules[3].period: half periods (H1) already have a schedule (schedules[0]): "
     "one period has one report; split them with 'only'"),
    ("two yearly schedules", HEAD + SCHEDULES + '''
[[schedules]]
period = "year"
deadline = "trước ngày 10 tháng 12"
''' + QUESTIONS, "schedules[3].period: year periods (every period) already have a schedule "
     "(schedules[2])"),
    ("valid_until before valid_from", HEAD + SCHEDULES.replace(
        "valid_until = 2026-12-31", "valid_until = 2025-02-12") + QUESTIONS,
     "valid_until: 2025-02-12 is before valid_from (2025-02-13)"),
    ("valid_from: a number", HEAD + SCHEDULES.replace("2025-02-13", "2025") + QUESTIONS,
     "valid_from: Value error, not a day: 2025: write e.g. 2020-02-13"),
    ("valid_until: not a date", HEAD + SCHEDULES.replace(
        "2026-12-31", '"31/12/2026"') + QUESTIONS,
     "valid_until: Value error, not a day: '31/12/2026': write e.g. 2020-02-13"),
    ("valid_from: a time", HEAD + SCHEDULES.replace("2025-02-13", "2025-02-13T08:00:00")
     + QUESTIONS, "valid_from: Value error, a day, not a time"),
    ("deadline_basis", HEAD + SCHEDULES.replace('"plan"', '"kế hoạch"') + QUESTIONS,
     "deadline_basis: Input should be 'plan' or 'assumed'"),
]


@pytest.mark.parametrize(("what", "text", "problem"), BROKEN, ids=[b[0] for b in BROKEN])
def test_each_broken_key_is_one_problem_naming_it(tmp_path: Path, what: str, text: str,
                                                  problem: str) -> None:
    template, problems = load(tmp_path, text)
    assert template is None
    assert len(problems) == 1, problems
    assert problems[0].startswith("reports/hai_lich.toml: " + problem), problems[0]


def test_a_quoted_day_and_the_default_basis_are_read(tmp_path: Path) -> None:
    template, problems = load(tmp_path, HEAD + SCHEDULES.replace(
        "2025-02-13", '"2025-02-13"').replace('deadline_basis = "plan"\n', '') + QUESTIONS)
    assert template is not None, problems
    assert template.valid_from == date(2025, 2, 13)
    assert template.basis == "assumed" and template.deadline_basis is None


def test_todays_format_is_one_schedule_with_its_version_kept(tmp_path: Path) -> None:
    template, problems = load(tmp_path, HEAD + 'period = "quarter"\n'
                              'deadline = "trước ngày 05 tháng cuối quý"\n' + QUESTIONS)
    assert template is not None, problems
    assert [(s.period, s.deadline, s.only) for s in template.every_schedule] == [
        ("quarter", "trước ngày 05 tháng cuối quý", None)]
    dumped = template.model_dump(mode="json")
    assert dumped["schedules"] == [] and dumped["valid_from"] is None
    # The hash leaves the new keys out while unset: no new version on upgrade.
    for key in ("schedules", "valid_from", "valid_until", "deadline_basis", "review"):
        dumped.pop(key)
    for q in dumped["questions"]:
        for key in ("within", "denominator", "weight", "over_time", "prefill", "definition"):
            q.pop(key)
    dumped["applies_to"].pop("orgs")
    body = json.dumps(dumped, sort_keys=True, ensure_ascii=False)
    assert template.content_hash() == hashlib.sha256(body.encode()).hexdigest()[:16]


# --- the services: the list, buttons, /trangthai, reminders ----------------------------------


@pytest.fixture
async def app(tmp_path: Path, three: Template) -> AsyncIterator[App]:
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "hai_lich.toml").write_text(TEMPLATE, encoding="utf-8")
    clock = Clock(now=local(2026, 5, 20, 9).astimezone(UTC))
    app = await make_app(tmp_path, clock, reports=folder)
    yield app
    await app.close()


def set_now(app: App, now: datetime) -> None:
    clock = app.reporting.clock
    assert isinstance(clock, Clock)
    clock.now = now.astimezone(UTC)


async def test_the_list_shows_a_report_of_each_schedule(app: App) -> None:
    chat = await join(app, "u1")
    await chat.cmd("danhsach")
    assert chat.text.splitlines()[1:] == [
        "1. Báo cáo nhiều lịch", "   6 tháng đầu năm 2026 · hạn: hết ngày 04/06/2026 · ⚪ chưa làm",
        "2. Báo cáo nhiều lịch", "   9 tháng đầu năm 2026 · hạn: hết ngày 14/09/2026 · ⚪ chưa làm",
        "3. Báo cáo nhiều lịch", "   Năm 2026 · hạn: hết ngày 14/11/2026 · ⚪ chưa làm",
    ]
    await chat.press(OpenReport(0, "hai_lich", "2026-9M").pack())
    assert "9 tháng đầu năm 2026" in chat.text and "Câu 1/1" in chat.text
    await chat.say("4")
    await chat.press_label("Gửi báo cáo")
    assert "✅" in chat.text
    await chat.cmd("trangthai")
    assert "Báo cáo nhiều lịch — 9 tháng đầu năm 2026: đã gửi" in chat.text
    assert "Báo cáo nhiều lịch — 6 tháng đầu năm 2026: chưa làm" in chat.text
    assert "Báo cáo nhiều lịch — Năm 2026: chưa làm" in chat.text


@pytest.mark.parametrize(("now", "period_id", "refusal"), [
    (local(2026, 7, 10), "2026-H2", M.STALE),  # no schedule asks for H2
    (local(2026, 7, 10), "2026-Q3", M.STALE),  # nor for quarters
    (local(2025, 1, 10), "2024", M.STALE),  # before the lifetime (and locked)
    (local(2027, 2, 1), "2027", M.STALE),  # after it, though started and not locked
    (local(2027, 2, 1), "2027-H1", M.STALE),
    (local(2026, 7, 10), "2026-H1", "Báo cáo 6 tháng đầu năm 2026 đã khóa sổ"),
])
async def test_a_button_for_a_period_no_schedule_asks_for_is_refused(
        app: App, now: datetime, period_id: str, refusal: str) -> None:
    chat = await join(app, "u1")
    set_now(app, now)
    await chat.press(OpenReport(0, "hai_lich", period_id).pack())
    assert refusal in chat.text, chat.text
    assert "Câu 1/" not in chat.text


async def test_supervisors_see_the_current_period_of_each_schedule(app: App) -> None:
    officer = await join(app, "u1")
    await officer.press(OpenReport(0, "hai_lich", "2026").pack())
    await officer.say("2")
    await officer.press_label("Gửi báo cáo")
    watcher = await join(app, "sup", unit="LC-BX", role=Role.SUPERVISOR)
    await watcher.cmd("trangthai")
    lines = [line for line in watcher.text.splitlines() if line.startswith("•")]
    assert lines == [
        "• Báo cáo nhiều lịch — 6 tháng đầu năm 2026 (hạn: hết ngày 04/06/2026): đã gửi 0/3, "
        "đúng hạn 0",
        "• Báo cáo nhiều lịch — 9 tháng đầu năm 2026 (hạn: hết ngày 14/09/2026): đã gửi 0/3, "
        "đúng hạn 0",
        "• Báo cáo nhiều lịch — Năm 2026 (hạn: hết ngày 14/11/2026): đã gửi 1/3, đúng hạn 1",
    ]
    set_now(app, local(2027, 3, 1))  # the plan has ended: its last periods, none of 2027
    await watcher.cmd("trangthai")
    lines = [line for line in watcher.text.splitlines() if line.startswith("•")]
    assert [line.split(" (")[0] for line in lines] == [
        "• Báo cáo nhiều lịch — 6 tháng đầu năm 2026",
        "• Báo cáo nhiều lịch — 9 tháng đầu năm 2026", "• Báo cáo nhiều lịch — Năm 2026"]


async def test_reminders_follow_every_schedule_within_the_lifetime(app: App) -> None:
    await join(app, "u1")
    service = ReminderService(app.storage, app.templates, zone=VN, lock_days=10,
                              defaults=RemindersConfig(), clock=app.reporting.clock)
    planned = await service.preview(date(2026, 1, 1), date(2027, 12, 31))
    mine = {(p.window.period.id, p.slot.kind, p.slot.at.astimezone(VN).date().isoformat())
            for p in planned if p.unit.code == "LC-BX-01"}
    before = {(period, kind, day) for period, kind, day in mine if kind.startswith("before")}
    assert before == {
        ("2026-H1", "before:7", "2026-05-29"), ("2026-H1", "before:3", "2026-06-02"),
        ("2026-H1", "before:1", "2026-06-04"),
        ("2026-9M", "before:7", "2026-09-08"), ("2026-9M", "before:3", "2026-09-12"),
        ("2026-9M", "before:1", "2026-09-14"),
        ("2026", "before:7", "2026-11-08"), ("2026", "before:3", "2026-11-12"),
        ("2026", "before:1", "2026-11-14"),
    }
    assert {period for period, _, _ in mine} == {"2026-H1", "2026-9M", "2026"}  # none of 2027

    # The sweep sends them: one a schedule, at its own time.
    sender = FakeSender(app.reporting.clock)  # type: ignore[arg-type]
    sent = []
    for moment in (local(2026, 6, 4, 8), local(2026, 9, 8, 8), local(2026, 11, 8, 8),
                   local(2027, 6, 4, 8)):
        set_now(app, moment)
        result = await service.sweep(sender.channels)
        sent.append(sorted((p.window.period.id, p.slot.kind) for p in result.planned
                           if p.unit.code == "LC-BX-01"))
    assert sent == [[("2026-H1", "before:1")], [("2026-9M", "before:7")],
                    [("2026", "before:7")], []]
    assert any("9 tháng đầu năm 2026" in text for _, _, text, _ in sender.sent)


# --- baocao calendar -----------------------------------------------------------------------------

DISTRICT_ONLY = HEAD.replace('"hai_lich"', '"cap_huyen"').replace(
    'levels = ["xa"]', 'levels = ["huyen"]').replace("nhiều lịch", "cấp huyện") + (
    'period = "quarter"\ndeadline = "trước ngày 05 tháng cuối quý"\n') + QUESTIONS


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], str]:
    from bot.cli import main

    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def test_calendar_of_plan_000_over_2025_is_its_two_reports(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = cli(capsys, "calendar", "--from", "2025-01-01", "--to", "2025-12-31",
                         "--json")
    assert code == 0
    rows = [json.loads(line) for line in lines]
    plan_000 = [r for r in rows if r["template"] == "kinh_te_tap_the_thanh_nien"]
    title = "Báo cáo 6 tháng và năm: thanh niên tham gia phát triển kinh tế tập thể"
    assert plan_000 == [
        {"template": "kinh_te_tap_the_thanh_nien", "title": title, "period": "2025-H1",
         "opens": "2025-01-01", "due": "2025-06-05T00:00:00+07:00",
         "locks": "2025-06-15T00:00:00+07:00", "basis": "plan"},
        {"template": "kinh_te_tap_the_thanh_nien", "title": title, "period": "2025",
         "opens": "2025-01-01", "due": "2025-11-15T00:00:00+07:00",
         "locks": "2025-11-25T00:00:00+07:00", "basis": "plan"},
    ]
    assert [r["due"] for r in rows] == sorted(r["due"] for r in rows)
    # The plan ended with 2025: nothing of it in 2026.
    code, lines, _ = cli(capsys, "calendar", "--from", "2026-01-01", "--to", "2026-12-31",
                         "--json")
    assert code == 0 and lines
    assert not [line for line in lines if "kinh_te_tap_the_thanh_nien" in line]


def test_calendar_text_json_and_unit(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reports = workdir / "reports"
    reports.mkdir()
    (reports / "hai_lich.toml").write_text(TEMPLATE, encoding="utf-8")
    (reports / "cap_huyen.toml").write_text(DISTRICT_ONLY, encoding="utf-8")
    (workdir / "config.toml").write_text(
        f'[storage]\npath = "{workdir / "db.sqlite"}"\n[reports]\ndir = "{reports}"\n',
        encoding="utf-8")
    # Selected by the due instant: 2026-06-05 00:00 is in a range ending on 5 June, not in
    # one ending on the 4th (that is the H1 report's last on-time day).
    code, lines, err = cli(capsys, "calendar", "--from", "2026-06-01", "--to", "2026-06-05")
    assert code == 0
    assert lines == [
        "due 2026-06-05 00:00  cap_huyen  2026-Q2 (Quý II/2026)  opens 2026-04-01  "
        "locks 2026-06-15 00:00  assumed  Báo cáo cấp huyện",
        "due 2026-06-05 00:00  hai_lich  2026-H1 (6 tháng đầu năm 2026)  opens 2026-01-01  "
        "locks 2026-06-15 00:00  plan  Báo cáo nhiều lịch",
    ]
    assert err.strip().endswith("2 window(s) due from 2026-06-01 to 2026-06-05")
    code, lines, _ = cli(capsys, "calendar", "--from", "2026-06-01", "--to", "2026-06-04")
    assert (code, lines) == (0, [])

    code, lines, _ = cli(capsys, "calendar", "--from", "2026-01-01", "--to", "2027-12-31",
                         "--json")
    rows = [json.loads(line) for line in lines]
    assert [(r["template"], r["period"]) for r in rows if r["template"] == "hai_lich"] == [
        ("hai_lich", "2026-H1"), ("hai_lich", "2026-9M"), ("hai_lich", "2026")]
    assert len([r for r in rows if r["template"] == "cap_huyen"]) == 8

    # Before any import there is no database: calendar --unit says so and creates none.
    code, _, err = cli(capsys, "calendar", "--from", "2026-01-01", "--to", "2026-12-31",
                       "--unit", "LC-BX-01")
    assert code != 0 and "import units first" in err and "Traceback" not in err
    assert not (workdir / "db.sqlite").exists()
    code, _, err = cli(capsys, "units", "import", str(sample_units()))
    assert code == 0, err
    for unit, templates in (("LC-BX-01", {"hai_lich"}), ("LC-BX", {"cap_huyen"}),
                            ("LC", set())):
        code, lines, _ = cli(capsys, "calendar", "--from", "2026-01-01", "--to", "2026-12-31",
                             "--json", "--unit", unit)
        assert code == 0
        assert {json.loads(line)["template"] for line in lines} == templates, unit
    code, lines, err = cli(capsys, "calendar", "--from", "2026-01-01", "--to", "2026-12-31",
                           "--unit", "XX-99")
    assert code == 1 and lines == []
    assert err.strip().endswith("error: unknown unit XX-99 (see `baocao units list`)")
    code, _, err = cli(capsys, "calendar", "--from", "2026-02-01", "--to", "2026-01-01")
    assert code == 1 and "error: --to is before --from" in err


def test_calendar_refuses_broken_templates(workdir: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    reports = workdir / "reports"
    reports.mkdir()
    (reports / "hai_lich.toml").write_text(TEMPLATE.replace('["H1"]', '["H3"]'),
                                           encoding="utf-8")
    (workdir / "config.toml").write_text(f'[reports]\ndir = "{reports}"\n', encoding="utf-8")
    code, lines, err = cli(capsys, "calendar", "--from", "2026-01-01", "--to", "2026-12-31")
    assert code == 2 and lines == []
    assert "hai_lich.toml: schedules[0].only[0]: 'H3' is not a half-year" in err


def sample_units() -> Path:
    from tests.harness import legacy_units_path

    return legacy_units_path()
