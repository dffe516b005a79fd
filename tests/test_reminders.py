"""Reminders: a simulated quarter on a three-level unit tree, two sweeps at once, downtime,
blocked users, quiet hours, and the pure schedule."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app import App, build_app
from bot.config import RemindersConfig
from bot.domain.buttons import OpenReport, ReportNow
from bot.domain.dialogue import Button, Reply
from bot.domain.periods import Period
from bot.domain.reminders import Policy, in_quiet_hours, out_of_quiet_hours, pick, slots_for
from bot.domain.reports import window
from bot.services.channels import Channels, Outcome
from bot.services.reminders import ReminderService
from storage.models import Person
from tests.harness import Chat, Clock, join, make_app

VN = ZoneInfo("Asia/Ho_Chi_Minh")
COMMUNES = ["LC-BX-01", "LC-BX-02", "LC-BX-03", "LC-SP-01", "LC-SP-02", "LC-BH-01", "LC-BH-02"]


def local(y: int, m: int, d: int, h: int = 0, minute: int = 0) -> datetime:
    return datetime(y, m, d, h, minute, tzinfo=VN)


@dataclass
class FakeSender:
    clock: Clock
    blocked: set[str] = field(default_factory=set)
    sent: list[tuple[datetime, str, str, Button]] = field(default_factory=list)

    async def send(self, person: Person, reply: Reply) -> Outcome:
        if person.external_id in self.blocked:
            return "blocked"
        button = reply.flat_buttons()[0]
        self.sent.append((self.clock().astimezone(VN), person.external_id, reply.text, button))
        return "sent"

    @property
    def channels(self) -> Channels:
        """A registry where this sender serves the test channel the officers joined with."""
        channels = Channels()
        channels.register("test", self)
        return channels


def reminders_of(app: App, clock: Clock) -> ReminderService:
    return ReminderService(app.storage, app.templates, zone=VN, lock_days=10,
                           defaults=RemindersConfig(), clock=clock)


@pytest.fixture
def clock() -> Clock:
    return Clock(now=local(2026, 1, 1).astimezone(UTC))


@pytest.fixture
async def app(tmp_path: Path, clock: Clock) -> AsyncIterator[App]:
    app = await make_app(tmp_path, clock)
    yield app
    await app.close()


async def officers(app: App) -> dict[str, Chat]:
    return {code: await join(app, f"u-{code}", unit=code) for code in COMMUNES}


def test_schedule_of_a_quarter(tmp_path: Path) -> None:
    from bot.domain.templates import load_template
    from tests.harness import TEST_TEMPLATE

    path = tmp_path / "thu_nghiem.toml"
    path.write_text(TEST_TEMPLATE, encoding="utf-8")
    t, problems = load_template(path)
    assert t is not None and not problems
    w = window(t, Period.parse("2026-Q1"), VN, 10)
    slots = slots_for(w, Policy(), VN)
    assert [(s.kind, s.at) for s in slots] == [
        ("before:7", local(2026, 2, 26, 8)), ("before:3", local(2026, 3, 2, 8)),
        ("before:1", local(2026, 3, 4, 8)), ("overdue:0", local(2026, 3, 5, 8)),
        ("overdue:1", local(2026, 3, 8, 8)), ("overdue:2", local(2026, 3, 11, 8)),
        ("overdue:3", local(2026, 3, 14, 8)),
    ]
    late = Policy(send_at=time(22, 30))
    first_late = slots_for(w, late, VN)[0]
    assert first_late.at == local(2026, 2, 27, 7)  # 22:30 is in quiet hours: wait for 07:00
    chosen, stale = pick(slots, local(2026, 3, 9, 9), w)
    assert chosen is not None and chosen.kind == "overdue:1"
    assert {s.kind for s in stale} == {"before:7", "before:3", "before:1", "overdue:0"}


def test_quiet_hours() -> None:
    p = Policy()
    assert in_quiet_hours(time(21, 0), p) and in_quiet_hours(time(3, 0), p)
    assert not in_quiet_hours(time(7, 0), p) and not in_quiet_hours(time(20, 59), p)
    assert out_of_quiet_hours(local(2026, 3, 1, 23), p) == local(2026, 3, 2, 7)
    assert out_of_quiet_hours(local(2026, 3, 1, 5), p) == local(2026, 3, 1, 7)
    assert out_of_quiet_hours(local(2026, 3, 1, 12), p) == local(2026, 3, 1, 12)


async def test_simulated_quarter(app: App, clock: Clock) -> None:
    chats = await officers(app)
    second = await join(app, "u-LC-BX-01-b", unit="LC-BX-01")  # two officers in one commune
    sender = FakeSender(clock, blocked={"u-LC-BH-02"})
    service = reminders_of(app, clock)

    # LC-SP-01 starts its report early: reminders must say how far it got.
    clock.now = local(2026, 2, 10, 9).astimezone(UTC)
    await chats["LC-SP-01"].press(OpenReport(0, "thu_nghiem", "2026-Q1").pack())
    await chats["LC-SP-01"].say("khong")
    await chats["LC-SP-01"].say("4")

    step = timedelta(hours=1)
    t = local(2026, 1, 1)
    while t < local(2026, 4, 1):
        clock.now = t.astimezone(UTC)
        if t == local(2026, 3, 1, 12):  # LC-BX-02 submits between the first two reminders
            chat = chats["LC-BX-02"]
            await chat.press(OpenReport(0, "thu_nghiem", "2026-Q1").pack())
            for answer in ("khong", "3", "1", "90", "bo qua", "1", "1", "xong", "bo qua",
                           "bo qua", "bo qua"):
                await chat.say(answer)
            await chat.press_label("Gửi báo cáo")
            assert "✅" in chat.text
        if t == local(2026, 3, 3):  # a restart: new service objects, same database file
            await app.close()
            app = await build_app(app.config, clock=clock)
            service = reminders_of(app, clock)
        await service.sweep(sender.channels)
        t += step
    await app.close()

    got: dict[str, list[datetime]] = {}
    for at, who, _text, _button in sender.sent:
        got.setdefault(who, []).append(at)
    full = [local(2026, 2, 26, 8), local(2026, 3, 2, 8), local(2026, 3, 4, 8),
            local(2026, 3, 5, 8), local(2026, 3, 8, 8), local(2026, 3, 11, 8),
            local(2026, 3, 14, 8)]
    for code in ("LC-BX-01", "LC-BX-03", "LC-SP-01", "LC-SP-02", "LC-BH-01"):
        assert got[f"u-{code}"] == full, code
    assert got["u-LC-BX-01-b"] == full  # every officer of the unit
    assert got["u-LC-BX-02"] == [local(2026, 2, 26, 8)]  # submitted: nothing more
    assert "u-LC-BH-02" not in got  # blocked the bot
    assert all(not in_quiet_hours(at.time(), Policy()) for at, *_ in sender.sent)

    texts = {(who, at): text for at, who, text, _ in sender.sent}
    first = texts[("u-LC-BX-01", local(2026, 2, 26, 8))]
    assert "🔔 Nhắc báo cáo: Báo cáo quý thử nghiệm" in first
    assert "Hạn: hết ngày 04/03/2026 (còn 7 ngày)." in first
    assert "Đơn vị chưa bắt đầu báo cáo này." in first
    assert "hôm nay là ngày cuối" in texts[("u-LC-BX-01", local(2026, 3, 4, 8))]
    assert "Đơn vị đã trả lời 2/10 câu." in texts[("u-LC-SP-01", local(2026, 2, 26, 8))]
    overdue = texts[("u-LC-BX-01", local(2026, 3, 8, 8))]
    assert "⏰ Quá hạn báo cáo" in overdue and "(4 ngày trước)" in overdue
    button = next(b for _, who, _, b in sender.sent if who == "u-LC-BX-01")
    assert button.label == "📝 Báo cáo ngay" and button.data == ReportNow(
        "LC-BX-01", "thu_nghiem", "2026-Q1").pack()
    del second


async def test_reminder_button_opens_the_report(app: App, clock: Clock) -> None:
    chats = await officers(app)
    sender = FakeSender(clock)
    clock.now = local(2026, 2, 26, 8).astimezone(UTC)
    await reminders_of(app, clock).sweep(sender.channels)
    button = next(s[3] for s in sender.sent if s[1] == "u-LC-SP-02")
    await chats["LC-SP-02"].press(button.data)
    assert "Câu 1/11: Đoàn xã có fanpage chưa?" in chats["LC-SP-02"].text


async def test_two_sweeps_at_once_send_once(app: App, clock: Clock) -> None:
    await officers(app)
    sender = FakeSender(clock)
    clock.now = local(2026, 2, 26, 8).astimezone(UTC)
    service = reminders_of(app, clock)
    results = await asyncio.gather(service.sweep(sender.channels), service.sweep(sender.channels),
                                   reminders_of(app, clock).sweep(sender.channels))
    assert sum(r.sent for r in results) == len(COMMUNES)
    assert sorted(who for _, who, _, _ in sender.sent) == sorted(f"u-{c}" for c in COMMUNES)
    again = await service.sweep(sender.channels)
    assert again.sent == 0 and len(sender.sent) == len(COMMUNES)


async def test_downtime_sends_only_the_latest_meaningful(app: App, clock: Clock) -> None:
    await officers(app)
    sender = FakeSender(clock)
    service = reminders_of(app, clock)
    clock.now = local(2026, 3, 4, 10).astimezone(UTC)  # down since January
    result = await service.sweep(sender.channels)
    assert result.sent == len(COMMUNES) and result.skipped == 2 * len(COMMUNES)
    assert {text.splitlines()[2] for _, _, text, _ in sender.sent} == {
        "Hạn: hết ngày 04/03/2026 (hôm nay là ngày cuối)."}
    sender.sent.clear()
    clock.now = local(2026, 3, 9, 9).astimezone(UTC)  # down again over the due instant
    result = await service.sweep(sender.channels)
    assert result.sent == len(COMMUNES) and result.skipped == len(COMMUNES)  # overdue:0
    assert all("Quá hạn" in text for _, _, text, _ in sender.sent)
    rows = await app.storage.reminder_rows()
    kinds = {(r["kind"], r["status"]) for r in rows if r["unit_code"] == "LC-BX-01"}
    assert kinds == {("before:7", "skipped"), ("before:3", "skipped"), ("before:1", "sent"),
                     ("overdue:0", "skipped"), ("overdue:1", "sent")}


async def test_no_late_before_reminders_and_quiet_sweeps(app: App, clock: Clock) -> None:
    await officers(app)
    sender = FakeSender(clock)
    service = reminders_of(app, clock)
    clock.now = local(2026, 3, 4, 22).astimezone(UTC)  # in quiet hours
    result = await service.sweep(sender.channels)
    assert result.quiet and sender.sent == []
    clock.now = local(2026, 3, 5, 7).astimezone(UTC)  # after the due instant, before 08:00
    await service.sweep(sender.channels)
    assert sender.sent == []  # before:1 is not sent late; overdue:0 is due at 08:00
    clock.now = local(2026, 3, 5, 8).astimezone(UTC)
    await service.sweep(sender.channels)
    assert len(sender.sent) == len(COMMUNES) and all("Quá hạn" in s[2] for s in sender.sent)


async def test_blocked_person_is_marked_unreachable(app: App, clock: Clock) -> None:
    await officers(app)
    sender = FakeSender(clock, blocked={"u-LC-BX-03"})
    clock.now = local(2026, 2, 26, 8).astimezone(UTC)
    result = await reminders_of(app, clock).sweep(sender.channels)
    assert result.blocked == 1
    person = await app.storage.find_person("test", "u-LC-BX-03")
    assert person is not None and not person.reachable
    rows = {r["unit_code"]: r for r in await app.storage.reminder_rows()}
    assert rows["LC-BX-03"]["recipients"] == 0 and rows["LC-BX-01"]["recipients"] == 1


async def test_preview_lists_without_sending(app: App, clock: Clock) -> None:
    await officers(app)
    clock.now = local(2026, 2, 20, 9).astimezone(UTC)
    service = reminders_of(app, clock)
    rows = await service.preview(local(2026, 2, 20).date(), local(2026, 3, 6).date())
    assert [(p.slot.at, p.slot.kind) for p in rows[:: len(COMMUNES)]] == [
        (local(2026, 2, 26, 8), "before:7"), (local(2026, 3, 2, 8), "before:3"),
        (local(2026, 3, 4, 8), "before:1"), (local(2026, 3, 5, 8), "overdue:0")]
    assert all(len(p.recipients) == 1 for p in rows)
    assert await app.storage.reminder_rows() == []


async def test_reminder_button_keeps_its_unit_after_joining_another(app: App,
                                                                     clock: Clock) -> None:
    chat = await join(app, "u-x", unit="LC-BX-03")
    sender = FakeSender(clock)
    clock.now = local(2026, 2, 26, 8).astimezone(UTC)
    await reminders_of(app, clock).sweep(sender.channels)
    button = next(b for _, who, _, b in sender.sent if who == "u-x")
    from bot.domain.roles import Role
    from bot.services.invites import create_invite

    invite = await create_invite(app.storage, "LC-BX-01", Role.OFFICER, 1, 7, clock())
    await chat.cmd("start", invite.code)  # LC-BX-01 sorts before LC-BX-03
    await chat.press(button.data)
    assert "Đoàn thị trấn Bát Xát — Quý I/2026" in chat.text


async def test_failed_sends_are_retried_and_blocked_people_come_back(app: App,
                                                                     clock: Clock) -> None:
    chats = await officers(app)

    class Flaky(FakeSender):
        failing: bool = True

        async def send(self, person: Person, reply: Reply) -> Outcome:
            if self.failing and person.external_id == "u-LC-SP-01":
                return "failed"
            return await super().send(person, reply)

    sender = Flaky(clock, blocked={"u-LC-BH-02"})
    service = reminders_of(app, clock)
    clock.now = local(2026, 2, 26, 8).astimezone(UTC)
    first = await service.sweep(sender.channels)
    assert first.failed == 1 and "u-LC-SP-01" not in [w for _, w, _, _ in sender.sent]
    sender.failing = False
    clock.now = local(2026, 2, 26, 8, 1).astimezone(UTC)
    await service.sweep(sender.channels)  # the failed one goes out on the next sweep, only that one
    assert [w for _, w, _, _ in sender.sent].count("u-LC-SP-01") == 1
    assert len(sender.sent) == len(COMMUNES) - 1  # all but the blocked person, once each

    person = await app.storage.find_person("test", "u-LC-BH-02")
    assert person is not None and not person.reachable
    await chats["LC-BH-02"].say("xin chào")  # they unblocked the bot and write again
    person = await app.storage.find_person("test", "u-LC-BH-02")
    assert person is not None and person.reachable


async def test_officers_on_a_channel_not_running_are_not_retried_forever(app: App,
                                                                         clock: Clock) -> None:
    """The officers joined on a channel this process does not run (say Zalo, not configured):
    the reminder reaches nobody, which is not a failure to retry every minute."""
    await officers(app)
    telegram_only = FakeSender(clock)
    channels = Channels()
    channels.register("telegram", telegram_only)
    service = reminders_of(app, clock)
    clock.now = local(2026, 2, 26, 8).astimezone(UTC)
    first = await service.sweep(channels)
    assert first.failed == 0 and first.sent == len(COMMUNES) and first.messages == 0
    clock.now = local(2026, 2, 26, 8, 1).astimezone(UTC)
    again = await service.sweep(channels)
    assert again.sent == 0 and again.failed == 0 and telegram_only.sent == []
    rows = await app.storage.reminder_rows()
    assert {r["status"] for r in rows} == {"sent"} and sum(r["recipients"] for r in rows) == 0


async def test_a_sweep_stopped_at_shutdown_leaves_nothing_stranded(app: App,
                                                                   clock: Clock) -> None:
    """Stopping the bot mid-sweep: what went out is recorded as sent, what did not is
    released (not left 'sending'), and the next start sends exactly the rest."""
    from bot.scheduler import Scheduler

    await officers(app)
    started = asyncio.Event()

    class Slow(FakeSender):
        async def send(self, person: Person, reply: Reply) -> Outcome:
            outcome = await super().send(person, reply)
            if len(self.sent) == 2:
                started.set()
            await asyncio.sleep(0.01)
            return outcome

    sender = Slow(clock)
    service = reminders_of(app, clock)
    scheduler = Scheduler(service, sender.channels)
    clock.now = local(2026, 2, 26, 8).astimezone(UTC)
    sweeping = asyncio.create_task(scheduler.sweep())
    await started.wait()
    await asyncio.wait_for(scheduler.stop(), 5)
    await sweeping
    rows = await app.storage.reminder_rows()
    assert {r["status"] for r in rows} == {"sent"}
    assert len(rows) == len(sender.sent) < len(COMMUNES)  # the rest was released
    after_restart = reminders_of(app, clock)
    clock.now = local(2026, 2, 26, 8, 5).astimezone(UTC)
    await after_restart.sweep(sender.channels)
    assert sorted(who for _, who, _, _ in sender.sent) == sorted(f"u-{c}" for c in COMMUNES)


@dataclass
class CountingSender(FakeSender):
    """Records every attempt, and fails for the people in `failing`."""

    failing: set[str] = field(default_factory=set)
    attempts: list[str] = field(default_factory=list)

    async def send(self, person: Person, reply: Reply) -> Outcome:
        self.attempts.append(person.external_id)
        if person.external_id in self.failing:
            return "failed"
        return await super().send(person, reply)


async def test_a_reminder_one_officer_got_is_not_sent_again(app: App, clock: Clock) -> None:
    """Two officers of one commune; sending to one fails. The other got the reminder: the
    next sweep must not send it to them a second time."""
    await join(app, "u-a", unit="LC-BX-01")
    await join(app, "u-b", unit="LC-BX-01")
    sender = CountingSender(clock, failing={"u-b"})
    service = reminders_of(app, clock)
    clock.now = local(2026, 2, 26, 8).astimezone(UTC)
    first = await service.sweep(sender.channels)
    assert first.messages == 1 and first.failed == 1
    sender.failing.clear()
    clock.now = local(2026, 2, 26, 8, 1).astimezone(UTC)
    again = await service.sweep(sender.channels)
    assert again.sent == 0 and again.messages == 0
    assert [who for _, who, _, _ in sender.sent] == ["u-a"]
    rows = [r for r in await app.storage.reminder_rows() if r["unit_code"] == "LC-BX-01"]
    assert [(r["kind"], r["status"], r["recipients"]) for r in rows] == [("before:7", "sent", 1)]


async def test_a_person_who_blocked_the_bot_is_tried_once_per_sweep_then_not_at_all(
        app: App, clock: Clock) -> None:
    from bot.domain.roles import Role
    from bot.services.invites import create_invite

    chat = await join(app, "u-x", unit="LC-BX-01")  # one officer of two communes
    invite = await create_invite(app.storage, "LC-BX-02", Role.OFFICER, 1, 7, clock())
    await chat.cmd("start", invite.code)
    assert "Bạn đã tham gia" in chat.text
    sender = CountingSender(clock, blocked={"u-x"})
    service = reminders_of(app, clock)
    clock.now = local(2026, 2, 26, 8).astimezone(UTC)
    first = await service.sweep(sender.channels)
    assert sender.attempts == ["u-x"] and first.blocked == 1  # not again for the 2nd commune
    clock.now = local(2026, 3, 2, 8).astimezone(UTC)  # the next reminder is due
    await service.sweep(sender.channels)
    assert sender.attempts == ["u-x"]  # known to have blocked the bot: not tried


def test_the_fallback_button_points_at_the_reminded_unit(tmp_path: Path) -> None:
    """A unit code too long for 'Báo cáo ngay' by code: the button names the unit's place in
    the person's list (as /baocao sorts it), not the first unit."""
    from bot.domain.buttons import unpack
    from bot.domain.templates import Level, load_template
    from bot.domain.units import Unit
    from bot.services.reminders import Planned, _button
    from tests.harness import TEST_TEMPLATE

    path = tmp_path / "thu_nghiem.toml"
    path.write_text(TEST_TEMPLATE, encoding="utf-8")
    template, problems = load_template(path)
    assert template is not None and not problems
    code = "LC-" + "X" * 60
    w = window(template, Period.parse("2026-Q1"), VN, 10)
    planned = Planned(Unit(code, "Xã dài", None, Level.XA), w,
                      slots_for(w, Policy(), VN)[0], [])
    button = _button(planned, ["LC-AAA", code])
    assert unpack(button.data) == OpenReport(1, "thu_nghiem", "2026-Q1")


async def test_a_failing_sweep_is_logged_and_the_runner_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    from bot.scheduler import Scheduler

    class Broken:
        async def sweep(self, channels: Channels) -> None:
            raise RuntimeError("database is locked")

    runner = Scheduler(Broken(), Channels())  # type: ignore[arg-type]
    await runner.sweep()  # does not raise: the next wake-up tries again
    assert "reminder sweep failed" in caplog.text and "database is locked" in caplog.text
