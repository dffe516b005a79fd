"""Tests written by the mutation review of issue 13: each one fails on a small, plausible
break of the code (named in its comment) that no earlier test noticed."""

from __future__ import annotations

import json
import sqlite3
import tomllib
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bot.app import App
from bot.cli import CommandError, _received_at
from bot.config import DigestsConfig, RemindersConfig
from bot.domain.buttons import NudgeMissing, PickPeriod
from bot.domain.dialogue import Reply
from bot.domain.digest import Completeness, _reaches
from bot.domain.digest_slots import DigestPolicy, DigestSlot, pick, slots_for
from bot.domain.imports import check_rows
from bot.domain.periods import Period, PeriodKind
from bot.domain.reports import window
from bot.domain.roles import Role
from bot.domain.rollup import Span, paired_parts
from bot.domain.templates import Level, Template
from bot.domain.units import Unit
from bot.services import digests
from bot.services.digest_sweep import DigestSweep, Planned
from bot.services.digests import carried_in
from bot.services.reporting.tonghop import _chased, may_nudge, page_of
from storage.models import Outgoing, Review
from tests.harness import TEST_TEMPLATE, Clock, Messenger, deliver_through, join, make_app
from tests.test_digest import UNITS
from tests.test_digest_slots import VN, kinds, local, only, win
from tests.test_digest_sweep import (
    AFTER_DUE,
    FEB,
    HEAD_LAST,
    LAST_DAY,
    close,
    digests_of,
    ledger,
    sweeper,
)
from tests.test_import_meets_draft import UNIT, P, import_file, open_report, versions
from tests.test_import_meets_draft import T as IT
from tests.test_nudge import Q1, World, due, labels, reminded
from tests.test_nudge import world as world  # the fixture `w`
from tests.test_on_behalf import fill_in
from tests.test_rollup import month, q
from tests.test_submissions_import import HEADER
from tests.test_tonghop import TEMPLATE, send


def weekly_days(slots: list[DigestSlot]) -> list[str]:
    return [s.at.strftime("%d/%m/%Y %H:%M") for s in slots if s.family == "weekly"]


def test_no_last_day_digest_at_the_due_instant_itself() -> None:
    # due at 07:30, the send time: that morning is already late (last_day needs < due)
    w = win("2026-10", local(11, 5, 7, 30))
    assert kinds(slots_for(w, only("last_day", "after_due"), VN)) == [
        ("06/11 07:30", "after_due")]


def test_no_weekly_digest_at_the_lock_instant_itself() -> None:
    # lock = due + 10 days = Sunday 15 Nov 07:30: a Sunday weekly then would be too late
    w = win("2026-10", local(11, 5, 7, 30))
    days = weekly_days(slots_for(w, only("weekly", weekly_on="sunday"), VN))
    assert days[-1] == "08/11/2026 07:30" and "15/11/2026 07:30" not in days


def test_no_last_day_digest_before_the_period_opens() -> None:
    # due at 00:00 on the period's first day: its last on-time day (31 Oct) is before it
    w = win("2026-11", local(11, 1))
    assert slots_for(w, only("last_day"), VN) == []


def test_after_due_at_the_due_instant_is_sent() -> None:
    # no quiet hours, send at 00:00: the morning after the last day is the due instant
    policy = only("last_day", "after_due", send_at=time(0), quiet_start=time(0),
                  quiet_end=time(0))
    assert kinds(slots_for(win("2026-10", local(11, 5)), policy, VN)) == [
        ("04/11 00:00", "last_day"), ("05/11 00:00", "after_due")]


def test_weekly_skips_the_after_due_day() -> None:
    # Q4 2026 due Sunday 10 Jan 2027: its after_due digest is that Sunday, no weekly then
    w = win("2026-Q4", local(1, 10, y=2027))
    slots = slots_for(w, DigestPolicy(weekly_on="sunday"), VN)
    assert "10/01/2027 07:30" not in weekly_days(slots)
    assert [s.at for s in slots if s.kind == "after_due"] == [local(1, 10, 7, 30, y=2027)]
    assert "17/01/2027 07:30" in weekly_days(slots)  # the next Sunday, before the lock


def test_weekly_on_the_lock_day_before_the_lock_instant() -> None:
    # due at noon on 10 Jan 2027, lock noon Wednesday 20 Jan: 07:30 that day is still open
    w = win("2026-Q4", local(1, 10, 12, y=2027))
    days = weekly_days(slots_for(w, only("weekly", weekly_on="wednesday"), VN))
    assert days[-1] == "20/01/2027 07:30"


def test_weekly_on_the_periods_first_day() -> None:
    # Q4 2026 opens Thursday 1 Oct: a Thursday weekly goes out that very morning
    w = win("2026-Q4", local(1, 10, y=2027))
    assert weekly_days(slots_for(w, only("weekly", weekly_on="thursday"), VN))[0] == (
        "01/10/2026 07:30")


def test_a_weekly_at_the_due_instant_still_goes_out_after_it() -> None:
    # due Monday 2 Nov 07:30, the weekly's time: not "before the due instant", so it is sent
    w = win("2026-10", local(11, 2, 7, 30))
    slots = slots_for(w, DigestPolicy(), VN)
    at_due = [s for s in slots if s.at == w.due]
    assert [s.kind for s in at_due] == ["weekly-2026-W45"]
    got, _ = pick(slots, local(11, 2, 8), w)
    assert got is not None and got.kind == "weekly-2026-W45"




# --- the digest sweep -------------------------------------------------------------------------


async def _sweep_world(tmp: Path, clock: Clock, template: str) -> tuple[App, Messenger]:
    """Sa Pa's supervisor `sp`, an officer `cb`; both Sa Pa communes sent February."""
    reports = tmp / "reports"
    reports.mkdir(exist_ok=True)
    (reports / "thang.toml").write_text(template, encoding="utf-8")
    app = await make_app(tmp, clock, reports=reports)
    messenger = Messenger()
    await deliver_through(app, messenger)
    await join(app, "sp", "LC-SP", Role.SUPERVISOR)
    await join(app, "cb", "LC-BX-01")
    person = await app.storage.find_person("test", "cb")
    assert person is not None
    due = window(app.templates["thang"], FEB, VN, 10).due
    for unit in ("LC-SP-01", "LC-SP-02"):
        await send(app, person.id, unit, FEB, due.replace(day=2), htx_moi=3, to_kha=1, so_to=2)
    return app, messenger


async def test_a_returned_report_makes_the_last_day_digest_worth_sending(tmp_path: Path) -> None:
    # breaks noticed: `if t.review` dropped, or the returned state misread: Sa Pa's digest
    # would be recorded "empty" (all sent) although one commune must send again
    clock = Clock(LAST_DAY.astimezone(UTC))
    app, messenger = await _sweep_world(tmp_path, clock, "review = true\n" + TEMPLATE)
    try:
        boss = await app.storage.find_person("test", "sp")
        assert boss is not None
        await app.storage.record_review(boss.id, Review("LC-SP-01", "thang", FEB.id, 1,
                                                        "return", "Sai số tổ"))
        result = await sweeper(app, clock).sweep()
        assert (result.sent, result.skipped) == (1, 0)
        (sp,) = await digests_of(app, messenger, "sp")
        assert sp.startswith(HEAD_LAST) and "Đã gửi 1/2" in sp
        assert ledger(tmp_path / "baocao.db") == [("sp", "LC-SP", "last_day", "sent")]
    finally:
        await close(app)


async def test_a_sweep_in_the_quiet_hours_sends_and_records_nothing(tmp_path: Path) -> None:
    # break noticed: the sweep's own quiet-hours check dropped (a bot started at 22:00 after
    # downtime would send the day's digest at night)
    clock = Clock(LAST_DAY.replace(hour=22).astimezone(UTC))
    app, messenger = await _sweep_world(tmp_path, clock, TEMPLATE)
    try:
        await join(app, "bx", "LC-BX", Role.SUPERVISOR)
        result = await sweeper(app, clock).sweep()
        assert result.quiet and (result.sent, result.skipped) == (0, 0)
        assert await digests_of(app, messenger, "bx") == []
        assert ledger(tmp_path / "baocao.db") == []
        clock.now = LAST_DAY.replace(day=5, hour=7, minute=0).astimezone(UTC)  # quiet ends
        assert (await sweeper(app, clock).sweep()).quiet is False
    finally:
        await close(app)


class _SeesEveryone(DigestSweep):
    """A plan made before someone blocked the bot (the race the sending loop guards)."""

    async def plan(self, now: datetime, reachable_only: bool = False) -> list[Planned]:
        return await super().plan(now, reachable_only=False)


class _StopsAfterOne(DigestSweep):
    """The bot is told to stop while the first digest is being built."""

    async def _reply(self, *args: Any, **kwargs: Any) -> Reply | None:
        reply = await super()._reply(*args, **kwargs)
        self.stopping = True
        return reply


def _like(cls: type[DigestSweep], app: App, clock: Clock) -> DigestSweep:
    base = sweeper(app, clock)
    return cls(app.storage, app.templates, zone=VN, lock_days=10, defaults=base.defaults,
               reminders=RemindersConfig(), clock=clock, units=app.reporting.deps.units,
               channels=app.channels)


async def test_someone_unreachable_by_the_sending_is_not_recorded(tmp_path: Path) -> None:
    # break noticed: the sending loop's own reachability check made a no-op (a digest built
    # for a supervisor who blocked the bot meanwhile would be recorded as sent, never seen)
    clock = Clock(LAST_DAY.astimezone(UTC))
    app, _ = await _sweep_world(tmp_path, clock, TEMPLATE)
    try:
        await join(app, "bx", "LC-BX", Role.SUPERVISOR)
        bx = await app.storage.find_person("test", "bx")
        assert bx is not None
        await app.storage.set_reachable(bx.id, False)
        result = await _like(_SeesEveryone, app, clock).sweep()
        assert result.unreachable == 1
        assert [(p.person.external_id, p.status) for p in result.planned] == [("sp", "empty")]
        assert ledger(tmp_path / "baocao.db") == [("sp", "LC-SP", "last_day", "empty")]
    finally:
        await close(app)


async def test_a_stop_in_the_middle_of_a_chunk_records_only_what_was_built(
        tmp_path: Path) -> None:
    # break noticed: the per-digest stop check dropped (only the per-chunk one left: a stop
    # would still build and record up to 200 digests)
    clock = Clock(LAST_DAY.astimezone(UTC))
    app, _ = await _sweep_world(tmp_path, clock, TEMPLATE)
    try:
        for user, unit in (("bx", "LC-BX"), ("tinh", "LC")):
            await join(app, user, unit, Role.SUPERVISOR)
        result = await _like(_StopsAfterOne, app, clock).sweep()
        assert result.sent == 1
        assert len([r for r in ledger(tmp_path / "baocao.db") if r[3] == "sent"]) == 1
        assert (await sweeper(app, clock).sweep()).sent == 1  # the other one, at the restart
    finally:
        await close(app)


async def test_a_supervisor_added_while_the_bot_runs_gets_the_digest(tmp_path: Path) -> None:
    # break noticed: the memo of units owed kept after the watched roots changed (one sweep
    # object lives as long as the bot: a supervisor joining at 08:00 would get nothing)
    clock = Clock(LAST_DAY.astimezone(UTC))
    app, messenger = await _sweep_world(tmp_path, clock, TEMPLATE)
    try:
        sweep = sweeper(app, clock)
        assert [p.status for p in (await sweep.sweep()).planned] == ["empty"]  # Sa Pa
        await join(app, "bx", "LC-BX", Role.SUPERVISOR)
        clock.now = LAST_DAY.replace(hour=8).astimezone(UTC)
        result = await sweep.sweep()
        assert [(p.person.external_id, p.status) for p in result.planned] == [("bx", "sent")]
        (bx,) = await digests_of(app, messenger, "bx")
        assert bx.startswith(HEAD_LAST) and "Đã gửi 0/3" in bx
    finally:
        await close(app)


# --- the nudge and the period picker (the world of test_nudge) --------------------------------


def test_the_nudge_interval_is_at_least_an_hour() -> None:
    # break noticed: the config's lower bound loosened (0 would nudge on every press)
    with pytest.raises(ValidationError):
        DigestsConfig(nudge_every_hours=0)
    assert DigestsConfig().nudge_every_hours == 24


async def test_a_nudge_after_the_due_date_says_overdue(w: World) -> None:
    # break noticed: the reminder always worded as "before the deadline"
    w.clock.now = datetime(2026, 3, 6, 3, 0, tzinfo=UTC)  # 06/03 10:00, due 05/03 00:00
    await w.district.press(NudgeMissing("LC-BX", "thu_nghiem", Q1.id).pack())
    assert w.district.text.startswith("🔔 Đã nhắc 2 đơn vị (3 người).")
    (text,) = [t for t in await w.officers["o2"].received() if "Quý I/2026" in t]
    assert text.startswith("⏰ Quá hạn báo cáo:") and "(2 ngày trước)" in text


async def test_a_nudge_the_day_before_the_period_opens_is_refused(w: World) -> None:
    # break noticed: the "not started" check off by a day
    w.clock.now = datetime(2026, 3, 31, 3, 0, tzinfo=UTC)  # 31/03 10:00; Q2 opens 01/04
    await w.district.press(NudgeMissing("LC-BX", "thu_nghiem", "2026-Q2").pack())
    assert w.district.text == ("Kỳ này chưa bắt đầu (mở từ 01/04/2026), chưa đơn vị nào phải "
                               "gửi.")
    assert await reminded(w) == dict.fromkeys(w.officers, 0)


async def test_every_page_of_the_period_picker_is_reachable(w: World) -> None:
    # breaks noticed: "Cũ hơn" missing on the second-to-last page; fewer than 48 periods
    await w.boss.press(PickPeriod("LC", "thu_nghiem").pack())
    shown: list[str] = []
    while True:
        shown += [s for s in labels(w.boss) if s.startswith("Quý")]
        if "Cũ hơn ▶" not in labels(w.boss):
            break
        await w.boss.press_label("Cũ hơn ▶")
    assert "trang 6/6" in w.boss.text
    assert len(shown) == len(set(shown)) == 48 and shown[0] == "Quý I/2026"


async def test_a_stale_picker_page_shows_the_last_one(w: World) -> None:
    # break noticed: the page not clamped (an old button past the end listed nothing)
    await w.boss.press(PickPeriod("LC", "thu_nghiem", 99).pack())
    assert "trang 6/6" in w.boss.text
    assert len([s for s in labels(w.boss) if s.startswith("Quý")]) == 8


async def test_the_picker_of_a_unit_not_watched_is_refused(w: World) -> None:
    # break noticed: the picker's subtree check dropped
    await w.district.press(PickPeriod("LC", "thu_nghiem").pack())
    assert w.district.text == "Đơn vị này không thuộc các đơn vị bạn theo dõi."
    assert not any(s.startswith("Quý") for s in labels(w.district))


# --- a file import meeting an open draft (the world of test_import_meets_draft) ---------------


async def test_an_answer_the_file_drops_leaves_an_untouched_correction_draft(
        tmp_path: Path) -> None:
    # break noticed: the three-way merge never deletes (an answer the officer left alone and
    # the file no longer gives would survive in the draft and be sent again)
    app = await make_app(tmp_path, Clock())
    try:
        officer = await join(app, "officer")
        await open_report(officer)
        await fill_in(officer)
        await officer.press_label("Gửi")
        first = versions(app)[0][2]
        assert "ty_le" in first
        await officer.cmd("trangthai")
        await officer.press_label("Sửa")
        file = {k: v for k, v in first.items() if k != "ty_le"}
        assert await import_file(app, file, replace=True) == (0, 1, 1)
        rebased = await app.storage.find_draft(UNIT, IT, P)
        assert rebased is not None and rebased.reopened_from == 2
        assert "ty_le" not in rebased.answers and rebased.answers["htx_tong"] == 10
    finally:
        await app.close()


async def test_a_correction_draft_rebased_by_an_import_is_read_again_at_the_send(
        tmp_path: Path) -> None:
    # break noticed: the bot's cached draft not dropped when the send finds the report stored
    # meanwhile (it would show and send the answers the import has since replaced)
    app = await make_app(tmp_path, Clock())
    try:
        officer = await join(app, "officer")
        await open_report(officer)
        await fill_in(officer)
        await officer.press_label("Gửi")
        first = versions(app)[0][2]
        await officer.cmd("trangthai")
        await officer.press_label("Sửa")  # a correction draft
        await officer.cmd("baocao")  # its summary again: the bot now holds the draft
        await import_file(app, {**first, "htx_moi": 3}, replace=True)  # version 2
        await officer.press_label("Gửi")
        assert "⚠ Chưa gửi" in officer.text and "(lần gửi 2)" in officer.text, officer.text
        assert "→ 3 HTX" in officer.text and "→ 2 HTX" not in officer.text, officer.text
        await officer.press_label("Gửi")
        # the draft is now the file's version with nothing of the officer's: nothing to send
        assert officer.text == ("Bản sửa không thay đổi câu nào so với bản đã gửi, nên không "
                                "gửi lại. Báo cáo vẫn giữ lần gửi 2."), officer.text
        assert [(v, a["htx_moi"]) for v, _, a in versions(app)] == [(1, 2), (2, 3)]
    finally:
        await app.close()


# --- `baocao submissions import`: codes in another case, --received ----------------------------


def test_a_code_matching_two_units_in_another_case_names_neither() -> None:
    # break noticed: "only when one unit matches" loosened (a typed "lc-bx-01" would go to
    # whichever of "LC-BX-01" / "lc-BX-01" came first)
    t = Template.model_validate(tomllib.loads(TEST_TEMPLATE))
    units = {c: Unit(c, f"Đoàn xã {c}", "LC-BX", Level.XA) for c in ("LC-BX-01", "lc-BX-01")}
    one = {"LC-BX-01": units["LC-BX-01"]}
    row = [(2, ["Lc-Bx-01", "không", "", "20", "3", "40", "", "loa", "facebook", "", ""])]
    header = HEADER.strip().split(",")
    reports, errors = check_rows(header, row, t, Q1, units, set(units), "f.csv")
    assert reports == [] and errors == [
        "f.csv: row 2, column unit: unknown unit Lc-Bx-01 (see `baocao units list`)"]
    reports, errors = check_rows(header, row, t, Q1, one, set(one), "f.csv")
    assert errors == [] and [r.unit_code for r in reports] == ["LC-BX-01"]


DUE_MIDNIGHT = datetime(2026, 3, 5, tzinfo=VN)  # "trước ngày 05": 00:00 on the 5th


def test_received_on_the_due_day_of_a_midnight_deadline_is_noon() -> None:
    # break noticed: the "give the time too" refusal for every due day (00:00 is unambiguous)
    at = _received_at((date(2026, 3, 5), None), VN, DUE_MIDNIGHT.astimezone(UTC))
    assert at == datetime(2026, 3, 5, 12, tzinfo=VN) and at > DUE_MIDNIGHT


def test_received_on_the_due_day_of_a_midday_deadline_needs_the_time() -> None:
    # break noticed: the refusal dropped (noon on a day due at 17:00 would be judged on time
    # whatever the commune's real hour)
    due = datetime(2026, 3, 5, 17, tzinfo=VN)
    with pytest.raises(CommandError, match="due at 17:00 that day; give the time too"):
        _received_at((date(2026, 3, 5), None), VN, due.astimezone(UTC))
    assert _received_at((date(2026, 3, 5), time(16, 59)), VN, due) < due


def test_received_compares_the_due_day_in_local_time() -> None:
    # break noticed: the due day taken in UTC (00:00 in Vietnam is 17:00 the day before there)
    at = _received_at((date(2026, 3, 4), None), VN, DUE_MIDNIGHT.astimezone(UTC))
    assert at == datetime(2026, 3, 4, 12, tzinfo=VN)


# --- roll-ups over merges and over time --------------------------------------------------------


def test_a_merge_chain_through_another_outside_unit_is_carried_in() -> None:
    # breaks noticed: only the first hop of a merge chain followed (X merged into Z, Z later
    # merged into A of district 1: X's reports count in district 1 too)
    units = {**UNITS, "Z": Unit("Z", "Xã Z", "D2", Level.XA, merged_into="A"),
             "X": Unit("X", "Xã X", "D2", Level.XA, merged_into="Z")}
    assert carried_in("D1", units) == ("X", "Z")
    assert carried_in("D2", units) == ()
    merges = {"X": "Z", "Z": "A"}
    assert _reaches("X", merges, {"A", "B", "D1"})
    assert not _reaches("X", merges, {"C", "E", "D2"})
    assert not _reaches("X", {"X": "Z", "Z": "X"}, {"A"})  # a cycle ends


def test_a_flow_over_a_stock_pairs_each_part_by_its_own_time_rule() -> None:
    # break noticed: the denominator summed or taken last by the numerator's rule
    good = q("to_kha", aggregate="ratio", denominator="so_to")  # new good groups: a flow
    groups = q("so_to", over_time="last")  # groups: a stock
    quarter = Span.of(Period(PeriodKind.QUARTER, 2026, 1))
    series = [(month(1), {"to_kha": 2, "so_to": 10}), (month(2), {"to_kha": 3, "so_to": 12})]
    assert paired_parts(good, groups, series, quarter) == (Fraction(5), Fraction(12))
    assert paired_parts(groups, good, series, quarter) == (Fraction(12), Fraction(5))


# --- the digest's pages and the period it chases ----------------------------------------------


def test_the_period_chased_at_its_lock_instant_is_the_next_one() -> None:
    # break noticed: a window counted open at its lock instant (February chased one moment
    # too long)
    feb, mar = win("2026-02", local(3, 5)), win("2026-03", local(4, 5))
    assert _chased([mar, feb], feb.lock - timedelta(microseconds=1)) is feb
    assert _chased([mar, feb], feb.lock) is mar


async def test_the_digests_lists_past_one_page(w: World) -> None:
    # breaks noticed: "more on the next page" said of a list that fits this page exactly;
    # exactly 10 child units shown only on the first page; a page past the end not clamped
    deps = w.app.reporting.deps
    t = deps.templates["thu_nghiem"]
    d = await digests.digest(w.app.storage, t, Q1, "LC", due() + timedelta(days=4), deps.zone,
                             10)
    assert d.escalated and d.children
    names = {code: u.name for code, u in (await deps.units.tree()).units.items()}

    def times(n: int) -> Completeness:
        return replace(d.completeness, missing=d.escalated[:1] * n)

    ten = replace(d, completeness=times(10))
    text, _ = page_of(ten, 0, names, deps.local(d.now))
    (line,) = [x for x in text.splitlines() if x.startswith("⚠ Quá hạn")]
    assert "(10 đơn vị)" in line and "xem trang sau" not in line
    eleven = replace(d, completeness=times(11), children=d.children[:1] * 10)
    text, _ = page_of(eleven, 0, names, deps.local(d.now))
    assert "xem trang sau" in text
    child = d.children[0].name
    for page in (0, 1):
        text, rows = page_of(eleven, page, names, deps.local(d.now))
        assert sum(child in b.label for r in rows for b in r) == 10, page
    last, _ = page_of(eleven, 1, names, deps.local(d.now))
    assert page_of(eleven, 99, names, deps.local(d.now))[0] == last


async def test_a_digest_over_several_periods_offers_no_nudge(w: World) -> None:
    # break noticed: the nudge offered on a year's digest (which period would it chase?)
    deps = w.app.reporting.deps
    t = deps.templates["thu_nghiem"]
    now = datetime(2026, 4, 10, 3, 0, tzinfo=UTC)  # Q2 open, Q1 locked
    d = await digests.digest(w.app.storage, t, Period.parse("2026"), "LC", now, deps.zone, 10)
    assert len(d.periods) == 4 and d.completeness.missing and d.lock is not None
    assert d.now < d.lock and not may_nudge(d)
    one = await digests.digest(w.app.storage, t, Period.parse("2026-Q2"), "LC", now,
                               deps.zone, 10)
    assert may_nudge(one)


async def test_the_preview_leaves_out_what_the_ledger_has(tmp_path: Path) -> None:
    # break noticed: the preview listing digests already sent
    clock = Clock(LAST_DAY.astimezone(UTC))
    app, _ = await _sweep_world(tmp_path, clock, TEMPLATE)
    try:
        await join(app, "bx", "LC-BX", Role.SUPERVISOR)
        sweep = sweeper(app, clock)
        assert (await sweep.sweep()).sent == 1
        ahead = await sweep.preview(LAST_DAY.date(), AFTER_DUE.date())
        assert [(p.person.external_id, p.slot.kind) for p in ahead] == [
            ("sp", "after_due"), ("bx", "after_due")] or [
            (p.person.external_id, p.slot.kind) for p in ahead] == [
            ("bx", "after_due"), ("sp", "after_due")]
    finally:
        await close(app)


async def test_a_nudge_that_reaches_nobody_writes_nothing(w: World) -> None:
    # break noticed: the ledger op written even when no unit was nudged (an audit line
    # "nudged" for a press that sent nothing)
    data = NudgeMissing("LC-BX", "thu_nghiem", Q1.id).pack()
    await w.district.press(data)
    w.clock.now += timedelta(hours=1)
    await w.district.press(data)
    assert w.district.text.startswith("🔔 Không nhắc đơn vị nào.")
    with sqlite3.connect(w.app.config.storage.path) as conn:
        (n,) = conn.execute("SELECT COUNT(*) FROM audit WHERE action='reminder.nudge'"
                            ).fetchone()
    assert n == 1


async def test_the_escalated_are_listed_most_overdue_first(w: World) -> None:
    # break noticed: the escalated sorted least overdue first (the worst cut to page 2)
    deps = w.app.reporting.deps
    d = await digests.digest(w.app.storage, deps.templates["thu_nghiem"], Q1, "LC",
                             due() + timedelta(days=4), deps.zone, 10)
    m = d.completeness.missing[0]
    late = (replace(m, unit="LC-BX-01", overdue_days=4), replace(m, unit="LC-BX-02",
                                                                  overdue_days=9),
            replace(m, unit="LC-SP-01", overdue_days=2))
    d = replace(d, completeness=replace(d.completeness, missing=late))
    assert [(x.unit, x.overdue_days) for x in d.escalated] == [("LC-BX-02", 9), ("LC-BX-01", 4)]


async def test_a_digest_of_several_messages_gets_their_outbox_rows_in_order(
        tmp_path: Path) -> None:
    # break noticed: the outbox ids returned out of order (a long digest's parts would be
    # marked delivered against each other's rows, and resent wrongly after a crash)
    clock = Clock(LAST_DAY.astimezone(UTC))
    app, _ = await _sweep_world(tmp_path, clock, TEMPLATE)
    try:
        sp = await app.storage.find_person("test", "sp")
        assert sp is not None
        key = (sp.id, "thang", FEB.id, "LC-SP", "last_day")
        parts = [Outgoing("test", "sp", json.dumps({"text": f"phần {i}"}), sp.id, None, 1)
                 for i in (1, 2, 3)]
        stored = await app.storage.store_digests([(key, "sent", LAST_DAY.isoformat(), parts)])
        ids = stored[key]
        with sqlite3.connect(app.config.storage.path) as conn:
            payloads = [conn.execute("SELECT payload FROM outbox WHERE id=?", (i,)).fetchone()[0]
                        for i in ids]
        assert [json.loads(p)["text"] for p in payloads] == ["phần 1", "phần 2", "phần 3"]
        assert await app.storage.store_digests([(key, "sent", "", parts)]) == {}  # once
    finally:
        await close(app)


def test_a_merge_cycle_outside_the_subtree_ends() -> None:
    # break noticed: the merge chain's cycle guard dropped (a damaged tree, X → Z → X, would
    # hang every digest of district 1: a mutant here never returns)
    units = {**UNITS, "Z": Unit("Z", "Xã Z", "D2", Level.XA, merged_into="X"),
             "X": Unit("X", "Xã X", "D2", Level.XA, merged_into="Z")}
    assert carried_in("D1", units) == ()
