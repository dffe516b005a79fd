"""The supervisor's digest (issue 13): "🔔 Nhắc các đơn vị chưa gửi" (exactly once, the ledger,
the interval, a double tap, two supervisors at once, stale buttons), escalation at exactly N
days, drafts / no officer / unreachable officers listed, a period not started yet, the period
picker, a commune's correction history, and /nhapho paged past 40 units. Real SQLite, the
harness, delivery through the outbox to a fake messenger."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.domain.buttons import NudgeMissing, OpenDigest, ViewSubmission
from bot.domain.periods import Period
from bot.domain.reports import window
from bot.domain.roles import Role
from bot.domain.templates import DigestOverride, Level
from bot.domain.units import Unit
from bot.services import digests
from bot.services.reporting.tonghop import page_of
from storage.interface import NudgeRefused
from storage.models import Changes, Nudge, Outgoing, StartDraft, Submit
from tests.harness import Chat, Clock, Messenger, deliver_through, join, make_app

Q1 = Period.parse("2026-Q1")
NUDGE = "Nhắc các đơn vị chưa gửi"
ANSWERS = {"co_fanpage": False, "htx_tong": 10, "htx_moi": 2, "ty_le": 50,
           "hinh_thuc": "mxh", "kenh": ["zalo"]}


async def send(app: App, person: int, unit: str, at: datetime, **answers: Any) -> None:
    """A report (or a correction of it) sent through the storage API, as the dialogue does."""
    t = app.reporting.deps.templates["thu_nghiem"]
    version = app.reporting.deps.versions["thu_nghiem"]
    latest = await app.storage.get_submission(unit, t.id, Q1.id)
    await app.storage.apply(Changes(actor=person, ops=[StartDraft(
        unit, t.id, version, Q1.id, latest.version if latest else None)]))
    draft = await app.storage.find_draft(unit, t.id, Q1.id)
    assert draft is not None
    due = window(t, Q1, app.reporting.deps.zone, 10).due
    await app.storage.apply(Changes(actor=person, ops=[Submit(
        draft.id, unit, t.id, version, Q1.id, {**ANSWERS, **answers}, at, due, at < due,
        replaces=latest.version if latest else None)]))


def due() -> datetime:  # 05/03/2026 00:00 in Vietnam
    return datetime(2026, 3, 4, 17, 0, tzinfo=UTC)


@dataclass
class World:
    app: App
    clock: Clock
    messenger: Messenger
    boss: Chat  # the province's supervisor
    district: Chat  # Bát Xát's supervisor
    officers: dict[str, Chat]  # chat id → chat


@pytest.fixture(name="w")
async def world(tmp_path: Path) -> AsyncIterator[World]:
    """Quarter I/2026 of the test template, 20/02/2026 10:00 (open, due 05/03). Bản Vược has two
    officers, Mường Hum one, Bát Xát (town) sent its report, Sa Pa's officer blocked the bot,
    Tả Van's is filling a draft, Bắc Hà's two communes have nobody."""
    clock = Clock()
    app = await make_app(tmp_path, clock)
    messenger = Messenger()
    courier = await deliver_through(app, messenger)
    officers = {}
    for chat_id, unit in (("o1a", "LC-BX-01"), ("o1b", "LC-BX-01"), ("o2", "LC-BX-02"),
                          ("o3", "LC-BX-03"), ("o4", "LC-SP-01"), ("o5", "LC-SP-02")):
        officers[chat_id] = await join(app, chat_id, unit)
    o3 = await app.storage.find_person("test", "o3")
    o4 = await app.storage.find_person("test", "o4")
    assert o3 is not None and o4 is not None
    await send(app, o3.id, "LC-BX-03", clock.now)
    await app.storage.set_reachable(o4.id, False)
    await officers["o5"].cmd("baocao")
    await officers["o5"].press_label("Báo cáo quý")
    await officers["o5"].press_label("Không")  # co_fanpage
    await officers["o5"].say("10")  # htx_tong
    boss = await join(app, "boss", "LC", Role.SUPERVISOR)
    district = await join(app, "district", "LC-BX", Role.SUPERVISOR)
    for chat in officers.values():  # what joining said is not what is tested
        messenger.got.pop(chat.user_id, None)
    yield World(app, clock, messenger, boss, district, officers)
    await courier.stop()
    await app.close()


async def reminded(w: World) -> dict[str, int]:
    """Reminders received so far, per officer's chat."""
    out = {}
    for chat_id, chat in w.officers.items():
        got = [t for t in await chat.received() if "Quý I/2026" in t]
        out[chat_id] = len(got)
    return out


def labels(chat: Chat) -> list[str]:
    return [b.label for r in chat.last for b in r.flat_buttons()]


async def test_the_nudge_reaches_each_missing_units_reachable_officers_once(w: World) -> None:
    await w.boss.cmd("tonghop")
    assert "🔔 Nhắc các đơn vị chưa gửi" in labels(w.boss)
    await w.boss.press_label(NUDGE)
    assert w.boss.text == ("🔔 Đã nhắc 3 đơn vị (4 người). 2 đơn vị chưa có cán bộ đăng ký. "
                           "1 đơn vị có cán bộ nhưng đều không nhận được tin nhắn (đã chặn bot).")
    assert await reminded(w) == {"o1a": 1, "o1b": 1, "o2": 1, "o3": 0, "o4": 0, "o5": 1}
    (text,) = [t for t in await w.officers["o1a"].received() if "Quý I/2026" in t]
    assert "Đoàn xã Bản Vược — Quý I/2026" in text
    (draft,) = [t for t in await w.officers["o5"].received() if "Quý I/2026" in t]
    assert "Đoàn xã Tả Van" in draft and "2/" in draft  # its draft's progress, as reminders say
    rows = [r for r in await w.app.storage.reminder_rows() if r["kind"].startswith("nudge-")]
    assert sorted((r["unit_code"], r["kind"], r["status"], r["recipients"]) for r in rows) == [
        ("LC-BX-01", "nudge-20260220T030000Z", "sent", 2),
        ("LC-BX-02", "nudge-20260220T030000Z", "sent", 1),
        ("LC-SP-02", "nudge-20260220T030000Z", "sent", 1)]

    # pressed again an hour later (typed on Zalo: "nhac"): nobody, and it says why
    w.clock.now += timedelta(hours=1)
    await w.boss.cmd("tonghop")
    await w.boss.say("nhac")
    assert w.boss.text.startswith("🔔 Không nhắc đơn vị nào. 3 đơn vị đã được nhắc trong 24 "
                                  "giờ qua nên không nhắc lại. 2 đơn vị chưa có cán bộ")
    # the district's supervisor too: the interval is per unit, whoever nudged it
    await w.district.press(NudgeMissing("LC-BX", "thu_nghiem", Q1.id).pack())
    assert w.district.text.startswith("🔔 Không nhắc đơn vị nào. 2 đơn vị đã được nhắc")
    assert await reminded(w) == {"o1a": 1, "o1b": 1, "o2": 1, "o3": 0, "o4": 0, "o5": 1}

    # the reminder sweep's own reminders are not blocked by the nudges
    send_now, _ = await w.app.reminders.plan(datetime(2026, 2, 26, 1, 0, tzinfo=UTC))
    assert {p.unit.code for p in send_now} >= {"LC-BX-01", "LC-BX-02", "LC-SP-02"}

    # after the interval: again, once
    w.clock.now += timedelta(hours=23)
    await w.boss.press(NudgeMissing("LC", "thu_nghiem", Q1.id).pack())
    assert w.boss.text.startswith("🔔 Đã nhắc 3 đơn vị (4 người).")
    assert await reminded(w) == {"o1a": 2, "o1b": 2, "o2": 2, "o3": 0, "o4": 0, "o5": 2}


async def test_a_double_tap_and_two_supervisors_at_once_send_once(w: World) -> None:
    data = NudgeMissing("LC-BX", "thu_nghiem", Q1.id).pack()
    await asyncio.gather(w.district.press(data), w.district.press(data))
    assert await reminded(w) == {"o1a": 1, "o1b": 1, "o2": 1, "o3": 0, "o4": 0, "o5": 0}
    w.clock.now += timedelta(days=1, minutes=1)
    replies = await asyncio.gather(w.boss.press(NudgeMissing("LC", "thu_nghiem", Q1.id).pack()),
                                   w.district.press(data))
    texts = sorted(r[0].text for r in replies)
    # the one that lost the race in the transaction is decided again from the ledger: it
    # nudges the unit the other did not, and says the others were nudged
    assert texts == ["🔔 Đã nhắc 1 đơn vị (1 người). 2 đơn vị đã được nhắc trong 24 giờ qua "
                     "nên không nhắc lại. 2 đơn vị chưa có cán bộ đăng ký. 1 đơn vị có cán bộ "
                     "nhưng đều không nhận được tin nhắn (đã chặn bot).",
                     "🔔 Đã nhắc 2 đơn vị (3 người)."] or \
        texts == ["🔔 Đã nhắc 3 đơn vị (4 người). 2 đơn vị chưa có cán bộ đăng ký. 1 đơn vị "
                  "có cán bộ nhưng đều không nhận được tin nhắn (đã chặn bot).",
                  "🔔 Không nhắc đơn vị nào. 2 đơn vị đã được nhắc trong 24 giờ qua nên không "
                  "nhắc lại."], texts
    assert await reminded(w) == {"o1a": 2, "o1b": 2, "o2": 2, "o3": 0, "o4": 0, "o5": 1}
    kinds = [r for r in await w.app.storage.reminder_rows() if r["kind"].startswith("nudge-")]
    assert len(kinds) == len({(r["unit_code"], r["kind"]) for r in kinds})
    assert sum(r["unit_code"] == "LC-BX-01" for r in kinds) == 2


async def test_stale_nudge_buttons_are_answered(w: World) -> None:
    await w.district.press(NudgeMissing("LC-SP", "thu_nghiem", Q1.id).pack())
    assert w.district.text == "Đơn vị này không thuộc các đơn vị bạn theo dõi."
    await w.district.press(NudgeMissing("LC-BX", "nope", Q1.id).pack())
    assert w.district.text == "Nút này đã cũ, không còn dùng được."
    await w.officers["o1a"].press(NudgeMissing("LC-BX-01", "thu_nghiem", Q1.id).pack())
    assert "Đã nhắc" not in w.officers["o1a"].text
    await w.district.press(NudgeMissing("LC-BX", "thu_nghiem", "2026-Q2").pack())
    assert w.district.text == ("Kỳ này chưa bắt đầu (mở từ 01/04/2026), chưa đơn vị nào phải "
                               "gửi.")
    w.clock.now = datetime(2026, 2, 20, 15, 30, tzinfo=UTC)  # 22:30 in Vietnam
    await w.district.press(NudgeMissing("LC-BX", "thu_nghiem", Q1.id).pack())
    assert w.district.text == ("Bây giờ là giờ yên lặng (21:00–07:00): bot không nhắn tin cho "
                               "cán bộ lúc này. Hãy bấm lại sau 07:00.")
    w.clock.now = due() + timedelta(days=10)  # locked
    await w.district.press(NudgeMissing("LC-BX", "thu_nghiem", Q1.id).pack())
    assert w.district.text == "Kỳ báo cáo này đã khóa sổ, không nhắc các đơn vị được nữa."
    await w.district.press(OpenDigest("LC-BX", "thu_nghiem", Q1.id).pack())
    assert "Đã gửi 1/3" in w.district.text and NUDGE not in " ".join(labels(w.district))
    assert await reminded(w) == dict.fromkeys(w.officers, 0)


async def test_escalation_at_exactly_n_days_not_before(w: World) -> None:
    # the due instant is day 1 of lateness; 3 days (the default) from due + 2 days exactly
    w.clock.now = due() + timedelta(days=2) - timedelta(seconds=1)
    await w.district.press(OpenDigest("LC-BX", "thu_nghiem", Q1.id).pack())
    assert "⚠" not in w.district.text and "quá hạn 2 ngày" in w.district.text
    w.clock.now = due() + timedelta(days=2)
    await w.district.press(OpenDigest("LC-BX", "thu_nghiem", Q1.id).pack())
    lines = w.district.text.split("\n")
    assert lines[3] == ("⚠ Quá hạn từ 3 ngày trở lên (2 đơn vị): Đoàn xã Bản Vược (3 ngày), "
                        "Đoàn xã Mường Hum (3 ngày)"), lines
    # a template's own [digests] escalate_after_days wins over the config's
    deps = w.app.reporting.deps
    t = deps.templates["thu_nghiem"].model_copy(
        update={"digests": DigestOverride(escalate_after_days=5)})
    d = await digests.digest(w.app.storage, t, Q1, "LC-BX", due() + timedelta(days=3),
                             deps.zone, 10)
    assert d.escalate_after_days == 5 and d.escalated == ()
    d = await digests.digest(w.app.storage, t, Q1, "LC-BX", due() + timedelta(days=4),
                             deps.zone, 10)
    assert [(m.unit, m.overdue_days) for m in d.escalated] == [("LC-BX-01", 5),
                                                                ("LC-BX-02", 5)]
    text, rows = page_of(d, 0, {"LC-BX-01": "A", "LC-BX-02": "B"}, deps.local(d.now))
    assert "⚠ Quá hạn từ 5 ngày trở lên (2 đơn vị): A (5 ngày), B (5 ngày)" in text
    assert any(NUDGE in b.label for r in rows for b in r)  # on the scheduled path too


async def test_drafts_officers_missing_and_unreachable_are_listed(w: World) -> None:
    await w.boss.cmd("tonghop")
    text = w.boss.text
    assert re.search(r"\n✏️ Đang nhập dở \(1 đơn vị\): Đoàn xã Tả Van đang nhập 2/\d+ câu\n",
                     text), text
    assert ("\n👤 Chưa có cán bộ đăng ký (2 đơn vị): Đoàn xã Bản Phố, Đoàn thị trấn Bắc Hà\n"
            in text)
    assert ("\n📵 Cán bộ đều không nhận được tin nhắn (đã chặn bot) (1 đơn vị): Đoàn phường "
            "Sa Pa\n" in text)


async def test_many_units_without_officers_are_paged_not_cut(tmp_path: Path) -> None:
    clock = Clock()
    app = await make_app(tmp_path, clock)
    try:
        many = [Unit(f"LC-MK-{i:02}", f"Xã MK {i:02}", "LC-MK", Level.XA) for i in range(1, 26)]
        await app.storage.upsert_units([Unit("LC-MK", "Huyện đoàn MK", "LC", Level.HUYEN),
                                        *many])
        boss = await join(app, "boss", "LC-MK", Role.SUPERVISOR)
        await boss.cmd("tonghop")
        seen: list[str] = []
        while True:
            line = next(x for x in boss.text.split("\n") if x.startswith("👤"))
            assert line.startswith("👤 Chưa có cán bộ đăng ký (25 đơn vị): ")
            seen += re.findall(r"Xã MK \d\d", line)
            if not any("Sau ▶" in b for b in labels(boss)):
                break
            await boss.press_label("Sau ▶")
        assert seen == [u.name for u in many]
    finally:
        await app.close()


async def test_a_period_not_started_lists_nobody_as_missing(w: World) -> None:
    await w.boss.press(OpenDigest("LC", "thu_nghiem", "2026-Q2").pack())
    text = w.boss.text
    assert "Kỳ này chưa bắt đầu (mở từ 01/04/2026), chưa đơn vị nào phải gửi." in text
    assert "chưa gửi" not in text.replace("chưa đơn vị", "") and "Đã gửi" not in text
    assert NUDGE not in " ".join(labels(w.boss))
    await w.boss.press_label("Kỳ trước")
    assert "Quý I/2026" in w.boss.text and "Đã gửi 1/7" in w.boss.text


async def test_the_period_picker_opens_an_older_period(w: World) -> None:
    o3 = await w.app.storage.find_person("test", "o3")
    assert o3 is not None
    await w.boss.cmd("tonghop")
    await w.boss.press_label("Chọn kỳ")
    assert w.boss.text.startswith("📅 Chọn kỳ của «Báo cáo quý thử nghiệm» — Tỉnh đoàn Lào Cai")
    shown = labels(w.boss)
    assert shown[:3] == ["Quý I/2026", "Quý IV/2025", "Quý III/2025"]
    assert len([s for s in shown if s.startswith("Quý")]) == 8 and "Cũ hơn ▶" in shown
    await w.boss.press_label("Cũ hơn ▶")
    assert labels(w.boss)[0] == "Quý I/2024" and "◀ Mới hơn" in labels(w.boss)
    await w.boss.press_label("◀ Mới hơn")
    await w.boss.say("3")  # typed, as on Zalo: the third period
    assert "Quý III/2025" in w.boss.text and "Đã gửi 0/7" in w.boss.text
    await w.district.press(OpenDigest("LC", "thu_nghiem", Q1.id).pack())
    assert w.district.text == "Đơn vị này không thuộc các đơn vị bạn theo dõi."


async def test_a_communes_correction_history(w: World) -> None:
    o1a = await w.app.storage.find_person("test", "o1a")
    assert o1a is not None
    await send(w.app, o1a.id, "LC-BX-01", datetime(2026, 2, 21, 2, 0, tzinfo=UTC))
    await send(w.app, o1a.id, "LC-BX-01", datetime(2026, 2, 22, 2, 0, tzinfo=UTC),
               htx_tong=12, htx_moi=3)
    await send(w.app, o1a.id, "LC-BX-01", datetime(2026, 2, 23, 2, 0, tzinfo=UTC),
               htx_tong=12, htx_moi=3)
    await w.district.press(OpenDigest("LC-BX-01", "thu_nghiem", Q1.id).pack())
    text = w.district.text
    history = text[text.index("🕘 Lịch sử gửi và sửa:"):].split("\n")
    assert history == [
        "🕘 Lịch sử gửi và sửa:",
        "Gửi lần đầu — đ/c Cán bộ, lúc 09:00 ngày 21/02/2026",
        "Lần sửa 1 (lần gửi 2) — đ/c Cán bộ, lúc 09:00 ngày 22/02/2026",
        "• Câu 2. Tổng số HTX: 10 HTX → 12 HTX",
        "• Câu 3. Số HTX mới: 2 HTX → 3 HTX",
        "Lần sửa 2 (lần gửi 3) — đ/c Cán bộ, lúc 09:00 ngày 23/02/2026",
        "• (không đổi câu trả lời nào)"], history
    await w.district.press(ViewSubmission("LC-BX-03", "thu_nghiem", Q1.id).pack())
    assert "Lịch sử" not in w.district.text  # one version: nothing to tell


async def test_nhapho_pages_past_forty_units(tmp_path: Path) -> None:
    app = await make_app(tmp_path, Clock())
    try:
        many = [Unit(f"LC-MK-{i:02}", f"Xã MK {i:02}", "LC-MK", Level.XA) for i in range(1, 46)]
        await app.storage.upsert_units([Unit("LC-MK", "Huyện đoàn MK", "LC", Level.HUYEN),
                                        *many])
        boss = await join(app, "boss", "LC", Role.SUPERVISOR)
        await boss.cmd("nhapho")
        assert boss.text.startswith("📝 Nhập hộ báo cáo: 52 đơn vị chưa gửi (trang 1/3).")
        units: list[str] = []
        for page in (1, 2, 3):
            assert f"(trang {page}/3)" in boss.text
            units += [b for b in labels(boss) if "·" in b]
            if page < 3:
                await boss.say("sau")  # typed, as on Zalo
        assert len(units) == 52 == len(set(units))
        assert {u.name for u in many} <= {u.split(" · ")[0] for u in units}
        await boss.press_label("◀ Trước")
        assert "(trang 2/3)" in boss.text
        await boss.press_label("Sau ▶")
        await boss.press_label("Xã MK 40")
        assert "Xã MK 40" in boss.text  # the unit's report opens, as before
    finally:
        await app.close()


async def test_storage_refuses_a_nudge_of_a_unit_nudged_meanwhile(w: World) -> None:
    """Two supervisors read the ledger before either commits: the second transaction is
    refused whole, its pushes (outbox rows) with it."""
    first = Nudge("thu_nghiem", Q1.id, "nudge-20260220T030000Z", "nudge-20260219T030000Z",
                  (("LC-BX-01", 2),))
    assert await w.app.storage.apply(Changes(actor=1, ops=[first]))
    def outbox_rows() -> int:  # every row, delivered or not (the courier runs meanwhile)
        with sqlite3.connect(w.app.config.storage.path) as db:
            return int(db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    before = outbox_rows()
    second = Changes(actor=2, ops=[Nudge("thu_nghiem", Q1.id, "nudge-20260220T030001Z",
                                         "nudge-20260219T030001Z",
                                         (("LC-BX-02", 1), ("LC-BX-01", 2)))],
                     outbox=[Outgoing("test", "o2", '{"text": "x"}', None, None, 1)])
    with pytest.raises(NudgeRefused):
        await w.app.storage.apply(second)
    assert outbox_rows() == before
    rows = [(r["unit_code"], r["kind"]) for r in await w.app.storage.reminder_rows()]
    assert rows == [("LC-BX-01", "nudge-20260220T030000Z")]
    # past the interval the same unit may be nudged again
    assert await w.app.storage.apply(Changes(actor=2, ops=[Nudge(
        "thu_nghiem", Q1.id, "nudge-20260221T030000Z", "nudge-20260220T030000Z",
        (("LC-BX-01", 2),))]))


async def test_a_crash_after_the_press_delivers_the_nudge_once_after_restart(
        tmp_path: Path) -> None:
    clock = Clock()
    app = await make_app(tmp_path, clock)
    messenger = Messenger()
    courier = await deliver_through(app, messenger)
    await join(app, "o1", "LC-BX-01")
    boss = await join(app, "boss", "LC-BX", Role.SUPERVISOR)
    messenger.gate = asyncio.Event()  # the messenger stops answering
    boss.waits = False
    await boss.press(NudgeMissing("LC-BX", "thu_nghiem", Q1.id).pack())
    assert boss.text.startswith("🔔 Đã nhắc 1 đơn vị (1 người).")
    await courier.stop()  # the process dies before the reminder is sent
    await app.close()
    assert not [t for t in messenger.texts("o1") if "Quý I/2026" in t]

    app = await make_app(tmp_path, clock)
    again = Messenger()
    courier = await deliver_through(app, again)
    try:
        got = [t for t in await Chat(app, "o1").received() if "Quý I/2026" in t]
        assert len(got) == 1 and "Đoàn xã Bản Vược — Quý I/2026" in got[0]
        boss = Chat(app, "boss", counter=100)  # event ids not used before the restart
        await boss.press(NudgeMissing("LC-BX", "thu_nghiem", Q1.id).pack())
        assert boss.text.startswith("🔔 Không nhắc đơn vị nào. 1 đơn vị đã được nhắc")
        assert len([t for t in await Chat(app, "o1").received() if "Quý I/2026" in t]) == 1
    finally:
        await courier.stop()
        await app.close()
