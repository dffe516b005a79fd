"""Issue 13's scenario end to end through the fake Bot API, in process with a clock that the
test moves (so scheduled digests can be checked at their local times): a district supervisor
joins; three of its fourteen communes report (one on time, one returned with a reason and sent
again, one late); the supervisor gets the last-day digest at 07:30 on the last on-time day and
the after-due digest the next morning, each exactly once across restarts; opens /tonghop,
pages through the missing units, drills down to a commune and returns its report; the officer
is told why."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.app import App
from bot.config import Config, DigestsConfig, ReportsConfig, StorageConfig, TelegramConfig
from bot.domain.roles import Role
from bot.domain.units import check_import
from bot.services.invites import create_invite
from bot.unit_files import read_unit_rows
from handlers.telegram.app import build_application
from handlers.telegram.runner import start_services, stop_services
from tests.fakebotapi import FakeBotAPI
from tests.harness import Clock
from tests.phones import TelegramPhone, _settled
from tests.test_e2e_review import press

VN = ZoneInfo("Asia/Ho_Chi_Minh")
TEMPLATE = """id = "thang"
title = "Báo cáo tháng"
period = "month"
deadline = "trước ngày 05 tháng sau"
applies_to = { levels = ["xa"] }
review = true

[[questions]]
id = "htx_moi"
text = "Số HTX mới"
type = "integer"
unit = "HTX"

[[questions]]
id = "to_kha"
text = "Số tổ khá"
type = "integer"
aggregate = "ratio"
denominator = "so_to"

[[questions]]
id = "so_to"
text = "Số tổ"
type = "integer"

[[targets]]
question = "htx_moi"
value = 10
label = "HTX mới ≥ 10"
"""
COMMUNES = [f"X{i:02d}" for i in range(1, 15)]
NAMES = {c: f"Đoàn xã Số {int(c[1:])}" for c in COMMUNES}
BOSS, OFFICERS = 9000, {"X01": 9001, "X02": 9002, "X03": 9003}


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=VN).astimezone(UTC)


async def to(fn: Callable[..., str], *args: object, **kw: object) -> str:
    """A phone's blocking call, off the event loop the bot runs on."""
    return await asyncio.to_thread(fn, *args, **kw)


async def test_a_supervisors_reporting_round(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "thang.toml").write_text(TEMPLATE, encoding="utf-8")
    units_csv = tmp_path / "units.csv"
    units_csv.write_text("code,name,parent_code,level\nT,Tỉnh đoàn Thử,,tinh\n"
                         "H,Huyện đoàn Thử,T,huyen\n"
                         + "".join(f"{c},{NAMES[c]},H,xa\n" for c in COMMUNES),
                         encoding="utf-8")
    config = Config(storage=StorageConfig(path=tmp_path / "baocao.db"),
                    reports=ReportsConfig(dir=reports, lock_days=10),
                    digests=DigestsConfig(send=["last_day", "after_due"]),
                    telegram=TelegramConfig(max_per_second=0, max_per_chat_per_second=0))
    clock = Clock(at(2, 10))

    async def seed(app: App) -> None:
        listed, errors = check_import(read_unit_rows(units_csv), {})
        assert not errors
        await app.storage.upsert_units(listed)

    with FakeBotAPI() as fake:
        boss = TelegramPhone(fake, user=BOSS)
        officers = {c: TelegramPhone(fake, user=u) for c, u in OFFICERS.items()}

        @asynccontextmanager
        async def bot(first: bool = False) -> AsyncIterator[App]:
            """`baocao run` in process: the services, the outbox courier, long polling."""
            application = build_application(fake.token, fake.base_url)
            await application.initialize()
            app = await start_services(application, config, clock=clock, sweep_every=None,
                                       prepare=seed if first else None)
            await application.start()
            assert application.updater is not None
            await application.updater.start_polling(poll_interval=0.0, timeout=1)
            try:
                yield app
            finally:
                await application.updater.stop()
                await application.stop()
                await stop_services(application)
                await application.shutdown()

        async def sweep(app: App, moment: datetime) -> None:
            clock.now = moment
            await app.digests.sweep()
            courier = app.channels.courier("telegram")
            assert courier is not None
            await courier.delivered_all(str(BOSS))

        def digests() -> list[str]:
            """Every digest sent to the supervisor, as sent (a button pressed on one later
            edits that message in place)."""
            return [str(c.get("text")) for c in fake.iter_calls("sendMessage")
                    if str(c.get("chat_id")) == str(BOSS)
                    and str(c.get("text", "")).startswith("📬")]

        async def report(phone: TelegramPhone, *figures: str) -> str:
            listed = await to(phone.type, "/baocao", expect="Tháng 2/2026")
            number = next(line.split(".")[0] for line in listed.splitlines()
                          if line[:1].isdigit() and "Tháng 2/2026" in listed.split(line, 1)[1]
                          .splitlines()[1])
            await to(phone.type, number, expect="Câu 1/")
            await to(phone.type, figures[0], expect="Câu 2/")
            await to(phone.type, figures[1], expect="Câu 3/")
            await to(phone.type, figures[2], expect="Tóm tắt")
            return await to(phone.type, "gửi", expect="✅ Đã gửi")

        async with bot(first=True) as app:
            for code, phone in officers.items():
                invite = await create_invite(app.storage, code, Role.OFFICER, 1, 7, clock())
                await to(phone.type, invite.code, expect=f"Bạn đã tham gia {NAMES[code]}")
            invite = await create_invite(app.storage, "H", Role.SUPERVISOR, 1, 7, clock())
            await to(boss.type, invite.code, expect="Bạn đã tham gia Huyện đoàn Thử")
            sent = await report(officers["X01"], "3", "4", "10")
            assert "Đã gửi báo cáo (đúng hạn)" in sent and "Tháng 2/2026" in sent
            await sweep(app, at(3, 7, 30))  # the day before the last on-time day: nothing
            await sweep(app, at(4, 7, 29))  # a minute early
            assert digests() == []
            await sweep(app, at(4, 7, 30))
            (last_day,) = digests()
            assert last_day.startswith(
                "📬 Tổng hợp sáng ngày cuối hạn (hạn chót hết ngày 04/03/2026)\n"
                "📊 Báo cáo tháng — Huyện đoàn Thử\nTháng 2/2026 · đến 07:30 ngày 04/03/2026\n"
                "Đã gửi 1/14 (7,1%), đúng hạn 1 (7,1%)"), last_day
            assert "• Đoàn xã Số 2: chưa gửi" in last_day
            clock.now = at(4, 10)
            sent = await report(officers["X02"], "5", "9", "10")
            assert "đúng hạn" in sent

        async with bot() as app:  # restarted the same day: no second last-day digest
            await sweep(app, at(4, 12))
            assert digests() == [last_day]
            # /tonghop opens the report being chased: February, due tonight
            page = await to(boss.type, "/tonghop", expect="Tháng 2/2026")
            assert "Đã gửi 2/14 (14,3%), đúng hạn 2 (14,3%)" in page, page
            assert "trang 1/2" in page and "Đoàn xã Số 14" not in page
            page = await to(press, boss, "Sau ▶", expect="trang 2/2")
            assert "• Đoàn xã Số 14: chưa gửi" in page
            shown = await to(press, boss, "Đoàn xã Số 2", expect="Lần gửi 1")
            assert "5 HTX" in shown
            await to(press, boss, "Trả lại", expect="Gõ lý do trả lại")
            before = officers["X02"].count()
            done = await to(boss.type, "Số tổ khá phải tính cả tổ mới thành lập",
                            expect="Đã trả lại")
            assert "Đoàn xã Số 2" in done
            told = await to(_settled, officers["X02"].texts, before, "bị trả lại", 20)
            assert "Số tổ khá phải tính cả tổ mới thành lập" in told
            status = await to(officers["X02"].type, "/trangthai", expect="bị trả lại")
            assert "bị trả lại (lý do: Số tổ khá phải tính cả tổ mới thành lập)" in status
            await to(press, officers["X02"], "Sửa: Báo cáo tháng",
                     expect="Bạn đang sửa báo cáo đã gửi")
            await to(press, officers["X02"], "Sửa câu", expect="sửa câu nào")
            await to(press, officers["X02"], "Câu 2", expect="Số tổ khá")
            await to(officers["X02"].type, "7", expect="Tóm tắt")
            await to(press, officers["X02"], "Gửi bản sửa", expect="Đã gửi bản sửa")

        async with bot() as app:
            await sweep(app, at(5, 7, 29))
            assert digests() == [last_day]
            await sweep(app, at(5, 7, 30))
        async with bot() as app:  # restarted after it was sent: not again
            await sweep(app, at(5, 7, 31))
            await sweep(app, at(6, 7, 30))
            first, after = digests()
            assert first == last_day
            assert after.startswith("📬 Kết quả sau hạn\n📊 Báo cáo tháng — Huyện đoàn Thử\n"
                                    "Tháng 2/2026 · đến 07:30 ngày 05/03/2026\n"
                                    "Đã gửi 2/14 (14,3%), đúng hạn 2 (14,3%)"), after
            clock.now = at(6, 9)
            sent = await report(officers["X03"], "1", "2", "4")
            assert "trễ hạn" in sent
            page = await to(boss.type, "/tonghop", expect="Tháng 2/2026")
            assert "Đã gửi 3/14 (21,4%), đúng hạn 2 (14,3%)" in page, page
            assert "Đơn vị chưa gửi 11, gửi muộn 1 — trang 1/2" in page
            assert "• Đoàn xã Số 4: chưa gửi, quá hạn 2 ngày" in page
            # the returned report counts again once sent again, with its corrected figure:
            # 3 + 5 + 1 new HTX; (4 + 7 + 2) / (10 + 10 + 4) good groups, a ratio of sums
            assert "• Số HTX mới: 9 HTX" in page and "• Số tổ khá: 54,2%" in page, page
            page = await to(press, boss, "Sau ▶", expect="trang 2/2")
            assert "• Đoàn xã Số 3: gửi muộn" in page, page

    with sqlite3.connect(tmp_path / "baocao.db") as conn:
        ledger = conn.execute("SELECT period, unit_code, kind, status FROM digest_ledger"
                              " WHERE status='sent' ORDER BY scheduled_at").fetchall()
        returns = conn.execute("SELECT unit_code, version, action FROM reviews").fetchall()
    assert ledger == [("2026-02", "H", "last_day", "sent"), ("2026-02", "H", "after_due", "sent")]
    assert returns == [("X02", 1, "return")]
