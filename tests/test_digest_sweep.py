"""The scheduled-digest sweep against a real SQLite file: who gets which digest over which
subtree, nothing owed → nothing sent, the ledger exactly once (two sweeps at once, downtime),
and a stop between the commit and the sending delivered once after the restart."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app import App, build_app
from bot.cli import main
from bot.config import Config, DigestsConfig, RemindersConfig, ReportsConfig, StorageConfig
from bot.domain import messages_vi as M
from bot.domain.periods import Period
from bot.domain.reports import window
from bot.domain.roles import Role
from bot.services.delivery import Courier, Limits
from bot.services.digest_sweep import DigestSweep
from tests.harness import Clock, Messenger, deliver_through, join, make_app
from tests.test_tonghop import TEMPLATE, send

VN = ZoneInfo("Asia/Ho_Chi_Minh")
FEB = Period.parse("2026-02")  # due 00:00 on 5 March (Vietnam), locks on 15 March
LAST_DAY = datetime(2026, 3, 4, 7, 30, tzinfo=VN)
AFTER_DUE = datetime(2026, 3, 5, 7, 30, tzinfo=VN)
HEAD_LAST = "📬 Tổng hợp sáng ngày cuối hạn (hạn chót hết ngày 04/03/2026)\n"
HEAD_AFTER = "📬 Kết quả sau hạn\n"
WATCHERS = {"tinh": ("LC", Role.SUPERVISOR), "bx": ("LC-BX", Role.SUPERVISOR),
            "sp": ("LC-SP", Role.SUPERVISOR), "qt": ("LC", Role.ADMIN)}


def folder(tmp: Path) -> Path:
    reports = tmp / "reports"
    reports.mkdir(exist_ok=True)
    (reports / "thang.toml").write_text(TEMPLATE, encoding="utf-8")
    return reports


def sweeper(app: App, clock: Clock) -> DigestSweep:
    """Only the last-day and after-due digests (weekly ones are the slot tests')."""
    return DigestSweep(app.storage, app.templates, zone=VN, lock_days=10,
                       defaults=DigestsConfig(send=["last_day", "after_due"]),
                       reminders=RemindersConfig(), clock=clock,
                       units=app.reporting.deps.units, channels=app.channels)


async def setup(tmp: Path, clock: Clock) -> tuple[App, Messenger]:
    """Province LC (7 communes in 3 districts): a province supervisor, an admin, the
    supervisors of Bát Xát and Sa Pa, an officer; Sa Pa's two communes sent February."""
    app = await make_app(tmp, clock, reports=folder(tmp))
    messenger = Messenger()
    await deliver_through(app, messenger)
    for user, (unit, role) in WATCHERS.items():
        await join(app, user, unit, role)
    await join(app, "cb", "LC-BX-01")
    person = await app.storage.find_person("test", "cb")
    assert person is not None
    due = window(app.templates["thang"], FEB, VN, 10).due
    for unit in ("LC-SP-01", "LC-SP-02"):
        await send(app, person.id, unit, FEB, due.replace(day=2), htx_moi=3, to_kha=1, so_to=2)
    return app, messenger


async def digests_of(app: App, messenger: Messenger, user: str) -> list[str]:
    courier = app.channels.courier("test")
    assert courier is not None
    await courier.delivered_all(user)
    return [t for t in messenger.texts(user) if t.startswith("📬")]


async def close(app: App) -> None:
    courier = app.channels.courier("test")
    if courier is not None:
        await courier.stop()  # records what it delivered while the database is open
    await app.close()


def ledger(db: Path) -> list[tuple[str, str, str, str]]:
    con = sqlite3.connect(db)
    try:
        return con.execute(
            "SELECT p.external_id, l.unit_code, l.kind, l.status FROM digest_ledger l"
            " JOIN people p ON p.id = l.person_id ORDER BY 1, 3").fetchall()
    finally:
        con.close()


async def test_each_supervisor_gets_their_subtree_once(tmp_path: Path) -> None:
    clock = Clock(LAST_DAY.astimezone(UTC))
    app, messenger = await setup(tmp_path, clock)
    sweep = sweeper(app, clock)
    try:
        clock.now = LAST_DAY.replace(minute=29).astimezone(UTC)
        assert (await sweep.sweep()).planned == []  # not yet
        clock.now = LAST_DAY.astimezone(UTC)
        first = await sweep.sweep()
        assert (first.sent, first.skipped) == (3, 1)  # Sa Pa owes nothing: recorded empty
        (tinh,) = await digests_of(app, messenger, "tinh")
        assert tinh.startswith(HEAD_LAST + "📊 Báo cáo tháng — Tỉnh đoàn Lào Cai\n"
                               "Tháng 2/2026 · đến 07:30 ngày 04/03/2026\n"
                               "Đã gửi 2/7 (28,6%), đúng hạn 2 (28,6%)"), tinh
        # Sa Pa sent: not missing (named only among the units with no officer registered)
        assert "• Đoàn xã Bản Vược: chưa gửi" in tinh and "• Đoàn phường Sa Pa:" not in tinh
        assert "👤 Chưa có cán bộ đăng ký" in tinh
        (qt,) = await digests_of(app, messenger, "qt")
        assert qt == tinh  # the admin watches the province too
        (bx,) = await digests_of(app, messenger, "bx")
        assert bx.startswith(HEAD_LAST + "📊 Báo cáo tháng — Huyện đoàn Bát Xát\n")
        assert "Đã gửi 0/3 (0%)" in bx and "Đoàn xã Tả Van" not in bx
        assert await digests_of(app, messenger, "sp") == []
        assert await digests_of(app, messenger, "cb") == []  # officers get reminders instead

        again = await sweep.sweep()
        assert (again.sent, again.skipped) == (0, 0)
        clock.now = AFTER_DUE.astimezone(UTC)
        after = await sweep.sweep()
        assert (after.sent, after.skipped) == (4, 0)  # the final figures go to Sa Pa too
        assert [t[:len(HEAD_AFTER)] for t in await digests_of(app, messenger, "sp")] == [
            HEAD_AFTER]
        tinh_all = await digests_of(app, messenger, "tinh")
        assert len(tinh_all) == 2 and tinh_all[1].startswith(HEAD_AFTER + "📊 Báo cáo tháng")
        assert "Đoàn xã Bản Vược: chưa gửi, quá hạn 1 ngày" in tinh_all[1]
        assert (await sweep.sweep()).planned == []
        assert ledger(tmp_path / "baocao.db") == [
            ("bx", "LC-BX", "after_due", "sent"), ("bx", "LC-BX", "last_day", "sent"),
            ("qt", "LC", "after_due", "sent"), ("qt", "LC", "last_day", "sent"),
            ("sp", "LC-SP", "after_due", "sent"), ("sp", "LC-SP", "last_day", "empty"),
            ("tinh", "LC", "after_due", "sent"), ("tinh", "LC", "last_day", "sent")]
    finally:
        await close(app)


async def test_after_downtime_only_the_newest_goes_out(tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 3, 3, 12, tzinfo=VN).astimezone(UTC))
    app, messenger = await setup(tmp_path, clock)
    try:
        clock.now = datetime(2026, 3, 6, 9, tzinfo=VN).astimezone(UTC)  # down 3 days
        result = await sweeper(app, clock).sweep()
        assert (result.sent, result.skipped) == (4, 4)  # every last_day recorded skipped
        (bx,) = await digests_of(app, messenger, "bx")
        assert bx.startswith(HEAD_AFTER)
        assert ("bx", "LC-BX", "last_day", "skipped") in ledger(tmp_path / "baocao.db")
    finally:
        await close(app)


async def test_two_sweeps_at_once_send_each_digest_once(tmp_path: Path) -> None:
    clock = Clock(LAST_DAY.astimezone(UTC))
    app, messenger = await setup(tmp_path, clock)
    try:
        results = await asyncio.gather(*(sweeper(app, clock).sweep() for _ in range(3)))
        assert sum(r.sent for r in results) == 3 and sum(r.skipped for r in results) == 1
        for user in ("tinh", "qt", "bx"):
            assert len(await digests_of(app, messenger, user)) == 1
    finally:
        await close(app)


async def test_a_stop_after_the_commit_delivers_once_after_the_restart(tmp_path: Path) -> None:
    clock = Clock(LAST_DAY.astimezone(UTC))
    app, messenger = await setup(tmp_path, clock)
    messenger.gate = asyncio.Event()  # the messenger holds every call: nothing arrives
    result = await sweeper(app, clock).sweep()
    assert result.sent == 3
    await close(app)  # the process ends with the digests stored, none delivered
    assert not [t for t in messenger.texts("tinh") if t.startswith("📬")]

    config = Config(storage=StorageConfig(path=tmp_path / "baocao.db"),
                    reports=ReportsConfig(dir=tmp_path / "reports", lock_days=10))
    app = await build_app(config, clock=clock)
    again = Messenger()
    try:
        await deliver_through(app, again)  # the outbox's pending rows go out first
        assert (await sweeper(app, clock).sweep()).planned == []  # the ledger has them
        for user in ("tinh", "qt", "bx"):
            (got,) = await digests_of(app, again, user)
            assert got.startswith(HEAD_LAST)
        assert await digests_of(app, again, "sp") == []
    finally:
        await close(app)


async def test_nothing_owed_in_a_subtree_sends_nothing(tmp_path: Path) -> None:
    """A template that applies to no unit of the supervisor's subtree: no digest, no row."""
    clock = Clock(LAST_DAY.astimezone(UTC))
    reports = folder(tmp_path)
    (reports / "thang.toml").write_text(TEMPLATE.replace(
        'applies_to = { levels = ["xa"] }', 'applies_to = { subtrees = ["LC-BH"] }'),
        encoding="utf-8")
    app = await make_app(tmp_path, clock, reports=reports)
    messenger = Messenger()
    await deliver_through(app, messenger)
    try:
        await join(app, "bx", "LC-BX", Role.SUPERVISOR)
        await join(app, "bh", "LC-BH", Role.SUPERVISOR)
        result = await sweeper(app, clock).sweep()
        assert [(p.person.external_id, p.root) for p in result.planned] == [("bh", "LC-BH")]
        assert await digests_of(app, messenger, "bx") == []
        assert len(await digests_of(app, messenger, "bh")) == 1
    finally:
        await close(app)


async def test_preview_lists_who_gets_what_when(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    clock = Clock(LAST_DAY.astimezone(UTC))
    app, _ = await setup(tmp_path, clock)
    await close(app)
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\npath = "{tmp_path / "baocao.db"}"\n[reports]\n'
                      f'dir = "{tmp_path / "reports"}"\nlock_days = 10\n[digests]\n'
                      'send = ["last_day", "after_due"]\n', encoding="utf-8")
    capsys.readouterr()
    args = ["--config", str(config), "digests", "preview", "--from", "2026-03-04",
            "--to", "2026-03-05"]
    assert await asyncio.to_thread(main, [*args, "--json"]) == 0  # reads the closed file
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [(x["at"], x["unit"], x["kind"]) for x in lines] == [
        ("2026-03-04T07:30:00+07:00", u, "last_day") for u in ("LC", "LC-BX", "LC-SP", "LC")
    ] + [("2026-03-05T07:30:00+07:00", u, "after_due") for u in ("LC", "LC-BX", "LC-SP", "LC")]
    assert {x["template"] for x in lines} == {"thang"} and lines[0]["period"] == "2026-02"
    backwards = [*args[:-4], "--from", "2026-03-05", "--to", "2026-03-04"]
    assert await asyncio.to_thread(main, backwards) == 1


async def test_where_buttons_are_typed_the_digest_says_to_type_tonghop(tmp_path: Path) -> None:
    """Zalo: a typed number answers the person's last screen, so a pushed digest carries no
    numbered buttons, only the command that opens it."""
    clock = Clock(LAST_DAY.astimezone(UTC))
    app = await make_app(tmp_path, clock, reports=folder(tmp_path))
    messenger = Messenger()
    courier = Courier("test", messenger, lambda e, chat, replies: [
        {"text": r.text, "buttons": len(r.flat_buttons())} for r in replies],
        record=lambda s, m: asyncio.sleep(0), unreachable=lambda p: asyncio.sleep(0),
        limits=Limits(0, 0), buttons=False)
    app.channels.register_courier(courier)
    courier.start()
    try:
        await join(app, "bx", "LC-BX", Role.SUPERVISOR)
        assert (await sweeper(app, clock).sweep()).sent == 1
        (got,) = await digests_of(app, messenger, "bx")
        assert got.endswith("\n" + M.DIGEST_SCHEDULED_TYPE)
        assert "Gõ /tonghop" in got
    finally:
        await courier.stop()
        await app.close()


async def test_a_unit_inside_another_watched_unit_gets_no_digest_of_its_own(
        tmp_path: Path) -> None:
    clock = Clock(LAST_DAY.astimezone(UTC))
    app = await make_app(tmp_path, clock, reports=folder(tmp_path))
    messenger = Messenger()
    await deliver_through(app, messenger)
    try:
        await join(app, "boss", "LC-BX", Role.SUPERVISOR)
        person = await app.storage.find_person("test", "boss")
        assert person is not None
        await app.storage.db.write(lambda c: c.executemany(
            "INSERT INTO memberships (person_id, unit_code, role, created_at) VALUES"
            " (?, ?, ?, '2026-03-01T00:00:00+00:00')",
            [(person.id, "LC", "supervisor"), (person.id, "LC-SP", "admin")]))
        result = await sweeper(app, clock).sweep()
        assert [p.root for p in result.planned] == ["LC"]
        (got,) = await digests_of(app, messenger, "boss")
        assert "📊 Báo cáo tháng — Tỉnh đoàn Lào Cai" in got
    finally:
        await close(app)


async def test_a_supervisor_who_blocked_the_bot_gets_it_when_reachable_again(
        tmp_path: Path) -> None:
    clock = Clock(LAST_DAY.astimezone(UTC))
    app, messenger = await setup(tmp_path, clock)
    try:
        bx = await app.storage.find_person("test", "bx")
        assert bx is not None
        await app.storage.set_reachable(bx.id, False)
        first = await sweeper(app, clock).sweep()
        assert {p.person.external_id for p in first.planned} == {"tinh", "qt", "sp"}
        assert ("bx", "LC-BX", "last_day", "sent") not in ledger(tmp_path / "baocao.db")
        await app.storage.set_reachable(bx.id, True)  # they wrote to the bot again
        clock.now = LAST_DAY.replace(hour=9).astimezone(UTC)
        second = await sweeper(app, clock).sweep()
        assert [(p.person.external_id, p.slot.kind) for p in second.planned] == [
            ("bx", "last_day")]
        assert len(await digests_of(app, messenger, "bx")) == 1
    finally:
        await close(app)


async def test_a_sweep_told_to_stop_records_no_digest_it_did_not_build(tmp_path: Path) -> None:
    clock = Clock(LAST_DAY.astimezone(UTC))
    app, messenger = await setup(tmp_path, clock)
    try:
        stopping = sweeper(app, clock)
        stopping.stopping = True  # the bot is stopping: nothing more is built
        assert (await stopping.sweep()).sent == 0
        assert [row for row in ledger(tmp_path / "baocao.db") if row[3] == "sent"] == []
        assert (await sweeper(app, clock).sweep()).sent == 3  # the next start sends them
        assert len(await digests_of(app, messenger, "tinh")) == 1
    finally:
        await close(app)
