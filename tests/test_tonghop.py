"""/tonghop in chat through the harness: the digest's text, paging through every missing unit,
drill-down to a district and a commune's report and back, the previous period, officers
refused."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.app import App
from bot.domain.buttons import OpenDigest
from bot.domain.periods import Period
from bot.domain.reports import window
from bot.domain.roles import Role
from bot.domain.templates import Level
from bot.domain.units import Unit
from storage.models import Changes, StartDraft, Submit
from tests.harness import Chat, Clock, join, make_app

TEMPLATE = """id = "thang"
title = "Báo cáo tháng"
period = "month"
deadline = "trước ngày 05 tháng sau"
applies_to = { levels = ["xa"] }

[[questions]]
id = "htx_moi"
text = "Số HTX mới"
type = "integer"
unit = "HTX"

[[questions]]
id = "to_kha"
text = "Tổ khá"
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
FEB, JAN = Period.parse("2026-02"), Period.parse("2026-01")
MK = [Unit(f"LC-MK-{i:02}", f"Đoàn xã Mường Khương {i:02}", "LC-MK", Level.XA)
      for i in range(1, 26)]


async def send(app: App, person: int, unit: str, period: Period, at: datetime,
               **answers: Any) -> None:
    """A report sent through the storage API, as the dialogue sends it."""
    t = app.reporting.deps.templates["thang"]
    version = app.reporting.deps.versions["thang"]
    await app.storage.apply(Changes(actor=person, ops=[StartDraft(unit, t.id, version,
                                                                  period.id)]))
    draft = await app.storage.find_draft(unit, t.id, period.id)
    assert draft is not None
    due = window(t, period, app.reporting.deps.zone, 10).due
    await app.storage.apply(Changes(actor=person, ops=[Submit(
        draft.id, unit, t.id, version, period.id, answers, at, due, at < due)]))


async def setup(tmp: Path) -> tuple[App, Chat, Chat]:
    """32 communes (7 of the legacy tree, 25 in a new district); for February two sent on
    time, one late; January one sent. The clock: 12:00 on 7 March 2026 (Vietnam)."""
    folder = tmp / "reports"
    folder.mkdir()
    (folder / "thang.toml").write_text(TEMPLATE, encoding="utf-8")
    app = await make_app(tmp, Clock(datetime(2026, 3, 7, 5, 0, tzinfo=UTC)), reports=folder)
    await app.storage.upsert_units([Unit("LC-MK", "Huyện đoàn Mường Khương", "LC",
                                         Level.HUYEN), *MK])
    boss = await join(app, "boss", "LC", Role.SUPERVISOR)
    officer = await join(app, "officer", "LC-BX-01")
    person = await app.storage.find_person("test", "officer")
    assert person is not None
    due = window(app.reporting.deps.templates["thang"], FEB, app.reporting.deps.zone, 10).due
    await send(app, person.id, "LC-BX-01", JAN, due - timedelta(days=30), htx_moi=1, to_kha=1,
               so_to=2)
    await send(app, person.id, "LC-BX-01", FEB, due - timedelta(days=2), htx_moi=4, to_kha=3,
               so_to=4)
    await send(app, person.id, "LC-BX-02", FEB, due - timedelta(days=1), htx_moi=2, to_kha=1,
               so_to=4)
    await send(app, person.id, "LC-SP-01", FEB, due + timedelta(days=1), htx_moi=2, to_kha=0,
               so_to=2)
    return app, boss, officer


def buttons(chat: Chat) -> list[str]:
    return [b.label for r in chat.last for b in r.flat_buttons()]


async def test_the_digest_pages_drills_down_and_goes_back(tmp_path: Path) -> None:
    app, boss, _ = await setup(tmp_path)
    try:
        # the one report watched: at once, the period being chased (February, due on the
        # 5th and open until the 15th), not March just begun
        await boss.cmd("tonghop")
        text = boss.text
        assert text.startswith("📊 Báo cáo tháng — Tỉnh đoàn Lào Cai\nTháng 2/2026 · đến "
                               "12:00 ngày 07/03/2026"), text
        assert "\nĐã gửi 3/32 (9,4%), đúng hạn 2 (6,2%)\n" in text
        # 4 pages: the 31 units without an officer are listed too (10 a page)
        assert "Đơn vị chưa gửi 29, gửi muộn 1 — trang 1/4:" in text
        assert "• Số HTX mới: 8 HTX (kỳ trước: 1 HTX)" in text
        assert "• Tổ khá: 40%" in text
        assert "✘ HTX mới ≥ 10: 8/10 — đạt 80% chỉ tiêu" in text
        # every missing or late unit of the province, page by page: none lost
        seen = set(re.findall(r"• (Đoàn [^:]+): (?:chưa gửi|gửi muộn)", text))
        pages = []
        for page in (2, 3, 4):
            await boss.press_label("Sau ▶")
            assert f"trang {page}/4" in boss.text
            pages.append(boss.text)
            seen |= set(re.findall(r"• (Đoàn [^:]+): (?:chưa gửi|gửi muộn)", boss.text))
        assert "Sau ▶" not in buttons(boss) and "◀ Trước" in buttons(boss)
        assert len(seen) == 30 and "Đoàn phường Sa Pa" in seen
        assert "• Đoàn phường Sa Pa: gửi muộn 2 ngày" in text + "".join(pages)
        await boss.press_label("◀ Trước")
        assert "trang 3/4" in boss.text

        # drill down: a district with 25 missing communes, every one reachable
        await boss.press_label("Huyện đoàn Mường Khương")
        assert "📊 Báo cáo tháng — Huyện đoàn Mường Khương" in boss.text
        assert "Đã gửi 0/25 (0%), đúng hạn 0 (0%)" in boss.text
        names: list[str] = []
        while True:
            names += re.findall(r"• (Đoàn xã Mường Khương \d\d): chưa gửi", boss.text)
            if "Sau ▶" not in buttons(boss):
                break
            await boss.press_label("Sau ▶")
        assert sorted(names) == sorted(u.name for u in MK)
        await boss.press_label("⬆ Về Tỉnh đoàn Lào Cai")
        assert "📊 Báo cáo tháng — Tỉnh đoàn Lào Cai" in boss.text

        # down to a commune: its submitted answers, who sent them and when; then back up
        await boss.press_label("Huyện đoàn Bát Xát")
        assert "Đã gửi 2/3 (66,7%), đúng hạn 2 (66,7%)" in boss.text
        await boss.press_label("Đoàn xã Bản Vược")
        assert "Đoàn xã Bản Vược" in boss.text and "Số HTX mới" in boss.text
        assert "Cán bộ" in boss.text  # who sent it
        await boss.press_label("⬆ Về Huyện đoàn Bát Xát")
        assert "📊 Báo cáo tháng — Huyện đoàn Bát Xát" in boss.text
        await boss.press_label("Đoàn thị trấn Bát Xát")
        assert "chưa gửi báo cáo kỳ này" in boss.text

        # the period before February
        await boss.press_label("⬆ Về Huyện đoàn Bát Xát")
        await boss.press_label("⬆ Về Tỉnh đoàn Lào Cai")
        await boss.press_label("Kỳ trước")
        assert "Tháng 1/2026" in boss.text and "Đã gửi 1/32" in boss.text
    finally:
        await app.close()


async def test_officers_are_refused_and_foreign_units_too(tmp_path: Path) -> None:
    app, boss, officer = await setup(tmp_path)
    try:
        await officer.cmd("tonghop")
        assert "Báo cáo tháng" not in officer.text and officer.last
        refusal = officer.text
        await officer.press(OpenDigest("LC", "thang", FEB.id).pack())
        assert officer.text == refusal and "📊" not in officer.text
        district = await join(app, "district", "LC-SP", Role.SUPERVISOR)
        await district.press(OpenDigest("LC-BX", "thang", FEB.id).pack())
        assert district.text == "Đơn vị này không thuộc các đơn vị bạn theo dõi."
        await district.press(OpenDigest("LC-SP", "nope", FEB.id).pack())
        assert district.text == "Nút này đã cũ, không còn dùng được."
        await district.cmd("tonghop")  # one report watched: the digest at once, no chart here
        assert "Huyện đoàn Sa Pa" in district.text or "Thị đoàn Sa Pa" in district.text
        assert "Tháng 2/2026" in district.text
        assert "Đã gửi 1/2 (50%), đúng hạn 0 (0%)" in district.text
        assert all(r.photo is None for r in district.last)
        await boss.cmd("giup")
        assert "/tonghop" in boss.text
        await officer.cmd("giup")
        assert "/tonghop" not in officer.text
    finally:
        await app.close()


async def test_a_file_button_pressed_twice_makes_the_file_once(tmp_path: Path) -> None:
    """A double tap on "📊 Excel" (both presses reach the bot before the keyboard is gone)
    sends one workbook and says so for the second; a minute later it is made afresh, and the
    other file (Word) is not held back by it."""
    app, boss, _ = await setup(tmp_path)
    try:
        app.reporting.deps.pictures = lambda person: True  # a channel that sends files
        await boss.cmd("tonghop")
        excel = next(b.data for r in boss.last for b in r.flat_buttons() if "Excel" in b.label)
        first = await boss.press(excel)
        assert [r.document.name for r in first if r.document is not None] == [
            "bao-cao-thang-2026-02-tinh-doan-lao-cai.xlsx"]
        again = await boss.press(excel)
        assert [r.document for r in again] == [None]
        assert again[0].text == "Tệp này vừa được gửi ở tin nhắn phía trên, vui lòng xem lại."
        word = await boss.press_label("Word")
        assert any(r.document is not None and r.document.name.endswith(".docx") for r in word)
        clock = app.reporting.clock
        assert isinstance(clock, Clock)
        clock.now += timedelta(minutes=2)
        later = await boss.press(excel)
        assert any(r.document is not None for r in later)
    finally:
        await app.close()
