"""Broadcasts' core: audience selection, the state machine, counts, confirmations, follow-ups,
rendering — a real app on a real SQLite file (the legacy tree LC → LC-BX / LC-SP / LC-BH)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.domain.broadcasts import (
    Attachment,
    Audience,
    BroadcastDraft,
    BroadcastRefused,
    describe,
)
from bot.domain.buttons import AckBroadcast, unpack
from bot.domain.roles import Role
from bot.domain.templates import Level
from bot.services.broadcasts import Broadcasts, broadcast_reply
from bot.services.invites import create_invite
from storage.broadcasts import SqliteBroadcasts
from storage.models import ImportedReport, Person
from tests.harness import Chat, Clock, Messenger, deliver_through, make_app

T, P = "thu_nghiem", "2026-Q1"
ANSWERS = {"co_fanpage": True, "so_tin": 7, "htx_tong": 40, "htx_moi": 4, "ty_le": 60.0,
           "hinh_thuc": "mxh", "kenh": ["hop"]}


@pytest.fixture
def clock() -> Clock:
    return Clock()  # 2026-02-20 10:00 in Vietnam: outside the quiet hours


@pytest.fixture
async def app(tmp_path: Path, clock: Clock) -> AsyncIterator[App]:
    app = await make_app(tmp_path, clock)
    yield app
    await app.close()


async def person(app: App, uid: str, unit: str, role: Role = Role.OFFICER,
                 channel: str = "telegram") -> Person:
    invite = await create_invite(app.storage, unit, role, 1, 7, app.reporting.clock())
    chat = Chat(app, uid, channel=channel)
    await chat.cmd("start", invite.code)
    found = await app.storage.find_person(channel, uid)
    assert found is not None, chat.text
    return found


async def add_to(app: App, who: Person, unit: str, role: Role) -> None:
    """A second membership (another unit, another role) for the same person."""
    invite = await create_invite(app.storage, unit, role, 1, 7, app.reporting.clock())
    await Chat(app, who.external_id, channel=who.channel).cmd("start", invite.code)


@pytest.fixture
async def people(app: App) -> dict[str, Person]:
    """Officers of five communes over two districts, a Zalo officer, district admins and a
    province admin and supervisor."""
    out = {
        "o1": await person(app, "101", "LC-BX-01"),
        "o2": await person(app, "102", "LC-BX-02"),
        "o3": await person(app, "103", "LC-BX-03", channel="zalo"),
        "o4": await person(app, "104", "LC-SP-01"),
        "o5": await person(app, "105", "LC-SP-02"),
        "sup_bx": await person(app, "201", "LC-BX", Role.SUPERVISOR),
        "adm_bx": await person(app, "301", "LC-BX", Role.ADMIN),
        "adm_sp": await person(app, "302", "LC-SP", Role.ADMIN),
        "adm_lc": await person(app, "303", "LC", Role.ADMIN),
    }
    return out


def ids(found: dict[str, Person], *names: str) -> set[int]:
    return {found[n].id for n in names}


async def recipients(app: App, bid: int) -> set[int]:
    return set(await app.broadcasts.store.recipients(bid))


async def send(app: App, audience: Audience, sender: Person | None = None,
               **kw: Any) -> int:
    return await app.broadcasts.create(BroadcastDraft(audience, "Họp giao ban thứ Hai", **kw),
                                       sender)


def outbox(app: App, bid: int) -> list[sqlite3.Row]:
    with sqlite3.connect(app.config.storage.path) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute("SELECT * FROM outbox WHERE broadcast_id=? ORDER BY id",
                            (bid,)).fetchall()


def set_rows(app: App, bid: int, state: str, person_id: int | None = None) -> None:
    """Simulate the sender: rows of the broadcast (one person's) move to `state`."""
    with sqlite3.connect(app.config.storage.path) as conn:
        conn.execute("UPDATE outbox SET state=? WHERE broadcast_id=?"
                     + (" AND person_id=?" if person_id is not None else ""),
                     (state, bid) + ((person_id,) if person_id is not None else ()))


# --- audience ---------------------------------------------------------------------------------


async def test_whole_tree_reaches_every_person_once(app: App, people: dict[str, Person]
                                                    ) -> None:
    await add_to(app, people["o1"], "LC-BX-02", Role.OFFICER)  # two units: still once
    bid = await send(app, Audience())
    assert await recipients(app, bid) == {p.id for p in people.values()}
    rows = outbox(app, bid)
    assert len(rows) == len(people)  # one short message each
    assert {r["priority"] for r in rows} == {2}  # BROADCAST


async def test_each_kind_and_their_combinations(app: App, people: dict[str, Person]) -> None:
    b = app.broadcasts
    assert (await b.preview(Audience(units=("LC-BX",)), None)).people == 5  # 3 + sup + admin
    assert (await b.preview(Audience(units=("LC-BX", "LC-SP")), None)).people == 8  # union
    assert (await b.preview(Audience(levels=(Level.XA,)), None)).people == 5
    assert (await b.preview(Audience(levels=(Level.XA, Level.TINH)), None)).people == 6
    assert (await b.preview(Audience(roles=(Role.ADMIN,)), None)).people == 3
    both = await b.preview(Audience(units=("LC-BX",), roles=(Role.OFFICER,)), None)
    assert (both.people, both.units) == (3, 3)  # intersection across kinds
    assert both.by_channel == {"telegram": 2, "zalo": 1}
    assert (await b.preview(Audience(orgs=("doan",)), None)).people == 0  # no org set
    with sqlite3.connect(app.config.storage.path) as conn:
        conn.execute("UPDATE units SET org='doan' WHERE code='LC-SP'")
    app.broadcasts.units.forget()
    assert (await b.preview(Audience(orgs=("doan",)), None)).people == 3  # inherited
    bid = await send(app, Audience(units=("LC-SP",), roles=(Role.OFFICER,)))
    assert await recipients(app, bid) == ids(people, "o4", "o5")


async def test_missing_reaches_units_that_have_not_sent_as_of_the_start(
        app: App, people: dict[str, Person], clock: Clock) -> None:
    version = app.reporting.deps.versions[T]
    due = datetime(2026, 3, 5, tzinfo=UTC)
    await app.storage.import_submissions(
        [ImportedReport("LC-BX-01", T, version, P, ANSWERS, due, 2)], clock(), replace=False)
    audience = Audience(missing=(T, P), roles=(Role.OFFICER,))
    assert (await app.broadcasts.preview(audience, None)).people == 4
    later = clock() + timedelta(hours=2)
    bid = await send(app, audience, send_at=later)
    # another commune sends before the broadcast starts: it is left out
    await app.storage.import_submissions(
        [ImportedReport("LC-SP-01", T, version, P, ANSWERS, due, 2)], clock(), replace=False)
    app.broadcasts.units.forget()
    assert await app.broadcasts.start_due(later) == [bid]
    assert await recipients(app, bid) == ids(people, "o2", "o3", "o5")


async def test_a_district_admin_reaches_only_their_district(app: App,
                                                            people: dict[str, Person]) -> None:
    b = app.broadcasts
    bid = await send(app, Audience(), people["adm_bx"])
    assert await recipients(app, bid) == ids(people, "o1", "o2", "o3", "sup_bx", "adm_bx",
                                              "adm_lc") - ids(people, "adm_lc")
    with pytest.raises(BroadcastRefused) as refused:
        await send(app, Audience(units=("LC-SP-01",)), people["adm_bx"])
    assert "LC-SP-01" in refused.value.reason and "ngoài phạm vi" in refused.value.message
    with pytest.raises(BroadcastRefused) as refused:
        await send(app, Audience(units=("NOPE",)), None)
    assert "unknown unit" in refused.value.reason
    with pytest.raises(BroadcastRefused):  # an officer may not broadcast at all
        await send(app, Audience(), people["o1"])
    with pytest.raises(BroadcastRefused):  # supervisors only when the config allows
        await send(app, Audience(), people["sup_bx"])
    b.supervisors = True
    bid = await send(app, Audience(roles=(Role.OFFICER,)), people["sup_bx"])
    assert await recipients(app, bid) == ids(people, "o1", "o2", "o3")


async def test_retired_units_are_left_out(app: App, people: dict[str, Person],
                                          clock: Clock) -> None:
    await app.storage.retire_units(["LC-BX-02"], clock().date() - timedelta(days=1))
    app.broadcasts.units.forget()
    bid = await send(app, Audience(units=("LC-BX",), roles=(Role.OFFICER,)))
    assert await recipients(app, bid) == ids(people, "o1", "o3")


async def test_refusals(app: App, people: dict[str, Person], clock: Clock) -> None:
    for draft, why in [
        (BroadcastDraft(Audience(), "   "), "empty text"),
        (BroadcastDraft(Audience(), "x", send_at=clock() - timedelta(minutes=1)), "past"),
        (BroadcastDraft(Audience(missing=("khong_co", P)), "x"), "unknown report"),
        (BroadcastDraft(Audience(missing=(T, "2026-13")), "x"), "unknown report"),
    ]:
        with pytest.raises(BroadcastRefused) as refused:
            await app.broadcasts.create(draft, None)
        assert why in refused.value.reason
        assert refused.value.message  # something to say in chat
    assert await app.broadcasts.list(None, 10) == []  # nothing stored


def test_describe_is_vietnamese() -> None:
    line = describe(Audience(units=("LC-BX",), levels=(Level.XA,), roles=(Role.OFFICER,),
                             missing=(T, P)), {"LC-BX": "Huyện đoàn Bát Xát"},
                    {T: "Báo cáo quý thử nghiệm"})
    assert line == ("Huyện đoàn Bát Xát · cấp xã · cán bộ báo cáo · chưa gửi “Báo cáo quý "
                    "thử nghiệm” Quý I/2026")
    assert describe(Audience(follows=4)) == ("Toàn bộ đơn vị trong phạm vi · chưa xác nhận "
                                             "thông báo số 4")


# --- state machine ------------------------------------------------------------------------------


async def test_scheduled_sending_done(app: App, people: dict[str, Person], clock: Clock) -> None:
    b = app.broadcasts
    at = clock() + timedelta(hours=1)
    bid = await send(app, Audience(units=("LC-SP",)), send_at=at)
    assert (await b.status(bid)).state == "scheduled" and outbox(app, bid) == []
    assert await b.tick(clock()) == []
    assert await b.start_due(at) == [bid]
    assert await b.start_due(at) == []  # started once
    status = await b.status(bid)
    assert (status.state, status.recipients, status.pending) == ("sending", 3, 3)
    assert await b.finish_done(at) == []  # rows still pending
    set_rows(app, bid, "sent")
    done = await b.tick(at)
    assert [(s.id, s.state, s.delivered) for s in done] == [(bid, "done", 3)]
    assert await b.tick(at) == []


async def test_two_starts_at_once_write_its_rows_once(app: App, people: dict[str, Person],
                                                     clock: Clock) -> None:
    """The bot's pump and a `baocao broadcast create` may both find it due."""
    at = clock() + timedelta(hours=1)
    bid = await send(app, Audience(units=("LC-BX",)), send_at=at)
    other = Broadcasts(app.storage, SqliteBroadcasts(app.storage.db), app.templates,
                       app.broadcasts.units, zone=app.config.zone, lock_days=10,
                       quiet=app.broadcasts.quiet)
    first, second = await asyncio.gather(app.broadcasts.start_due(at), other.start_due(at))
    assert sorted(first + second) == [bid]
    assert len(outbox(app, bid)) == 5 and (await app.broadcasts.status(bid)).recipients == 5


async def test_cancel_until_it_starts(app: App, people: dict[str, Person],
                                      clock: Clock) -> None:
    b = app.broadcasts
    at = clock() + timedelta(hours=1)
    first = await send(app, Audience(units=("LC-BX",)), people["adm_bx"], send_at=at)
    with pytest.raises(BroadcastRefused):  # another district's admin
        await b.cancel(first, people["adm_sp"])
    assert await b.cancel(first, people["adm_lc"])  # the province's admin: in their reach
    assert await b.start_due(at) == []
    assert (await b.status(first)).state == "cancelled" and outbox(app, first) == []
    second = await send(app, Audience(units=("LC-BX",)), people["adm_bx"], send_at=at)
    await b.start_due(at)
    assert not await b.cancel(second, people["adm_bx"])  # started: too late
    log = [(e["actor"], e["action"], e["entity"]) for e in await app.storage.audit_log()]
    assert (f"person:{people['adm_lc'].id}", "broadcast.cancel", f"broadcast:{first}") in log
    assert (f"person:{people['adm_bx'].id}", "broadcast.create", f"broadcast:{second}") in log
    assert sum(a == "broadcast.cancel" for _, a, _ in log) == 1


async def test_quiet_hours_delay_unless_urgent(app: App, people: dict[str, Person],
                                               clock: Clock) -> None:
    b = app.broadcasts
    night = datetime(2026, 2, 20, 15, 0, tzinfo=UTC)  # 22:00 in Vietnam
    calm = await send(app, Audience(units=("LC-SP",)), send_at=night)
    urgent = await send(app, Audience(units=("LC-SP",)), send_at=night, urgent=True)
    assert await b.start_due(night) == [urgent]
    row = await b.get(calm)
    assert row is not None and row.state == "scheduled"
    assert row.send_at == datetime(2026, 2, 21, 0, 0, tzinfo=UTC)  # 07:00 next morning
    assert await b.start_due(night + timedelta(hours=8)) == []
    assert await b.start_due(row.send_at) == [calm]


async def test_unreachable_people_get_a_row_already_unreachable(
        app: App, people: dict[str, Person]) -> None:
    await app.storage.set_reachable(people["o4"].id, False)
    preview = await app.broadcasts.preview(Audience(units=("LC-SP",)), None)
    assert (preview.people, preview.unreachable) == (3, 1)
    bid = await send(app, Audience(units=("LC-SP",)))
    states = {r["person_id"]: r["state"] for r in outbox(app, bid)}
    assert states[people["o4"].id] == "unreachable"
    assert states[people["o5"].id] == "pending"
    assert (await app.broadcasts.status(bid)).unreachable == 1


async def test_status_counts_by_person(app: App, people: dict[str, Person]) -> None:
    b = app.broadcasts
    bid = await app.broadcasts.create(
        BroadcastDraft(Audience(units=("LC-BX",), roles=(Role.OFFICER,)), "x" * 5000), None)
    rows = outbox(app, bid)
    assert len(rows) > 3  # long text: several parts per person
    o1, o2, o3 = people["o1"].id, people["o2"].id, people["o3"].id
    set_rows(app, bid, "sent", o1)
    set_rows(app, bid, "failed", o2)
    first = next(r["id"] for r in rows if r["person_id"] == o3)
    with sqlite3.connect(app.config.storage.path) as conn:
        conn.execute("UPDATE outbox SET state='sent' WHERE id=?", (first,))  # half delivered
    s = await b.status(bid)
    assert (s.recipients, s.delivered, s.failed, s.unreachable, s.pending) == (3, 1, 1, 0, 1)
    assert s.as_json() == {"id": bid, "state": "sending", "recipients": 3, "delivered": 1,
                           "unreachable": 0, "failed": 1, "pending": 1, "acknowledged": 0}


async def test_counts_outlive_the_pruned_outbox_rows(app: App, people: dict[str, Person],
                                                     clock: Clock) -> None:
    b = app.broadcasts
    bid = await send(app, Audience(units=("LC-SP",)))
    set_rows(app, bid, "sent")
    set_rows(app, bid, "unreachable", people["o4"].id)
    set_rows(app, bid, "failed", people["o5"].id)
    assert [s.id for s in await b.finish_done(clock())] == [bid]
    with sqlite3.connect(app.config.storage.path) as conn:  # a week later: pruned
        conn.execute("DELETE FROM outbox WHERE broadcast_id=?", (bid,))
    s = await b.status(bid)
    assert (s.state, s.recipients, s.delivered, s.unreachable, s.failed, s.pending) == (
        "done", 3, 1, 1, 1, 0)


# --- confirmations and follow-ups -------------------------------------------------------------


async def test_acknowledgements_once_and_only_from_recipients(
        app: App, people: dict[str, Person]) -> None:
    b = app.broadcasts
    bid = await send(app, Audience(units=("LC-BX",), roles=(Role.OFFICER,)), ack=True)
    assert await b.awaiting_ack(people["o1"].id) == bid
    assert await b.acknowledge(bid, people["o1"].id)
    assert not await b.acknowledge(bid, people["o1"].id)  # twice: counted once
    assert not await b.acknowledge(bid, people["o4"].id)  # not a recipient
    assert await b.awaiting_ack(people["o1"].id) is None
    assert await b.awaiting_ack(people["o4"].id) is None
    assert (await b.status(bid)).acknowledged == 1
    plain = await send(app, Audience(units=("LC-BX",), roles=(Role.OFFICER,)))
    assert not await b.acknowledge(plain, people["o2"].id)  # no confirmation asked


async def test_follow_up_reaches_only_the_unconfirmed(app: App, people: dict[str, Person]
                                                      ) -> None:
    b = app.broadcasts
    bid = await send(app, Audience(units=("LC-BX",), roles=(Role.OFFICER,)),
                     people["adm_bx"], ack=True)
    await b.acknowledge(bid, people["o1"].id)
    assert {(p.id, u) for p, u in await b.unconfirmed(bid)} == {
        (people["o2"].id, "LC-BX-02"), (people["o3"].id, "LC-BX-03")}
    with pytest.raises(BroadcastRefused):
        await b.follow_up(bid, "Nhắc lại", people["adm_sp"])
    again = await b.follow_up(bid, "Nhắc lại", people["adm_bx"])
    assert await recipients(app, again) == ids(people, "o2", "o3")
    status = await b.status(again)
    assert (status.follows, status.ack) == (bid, True)
    assert "Nhắc lại thông báo từ Huyện đoàn Bát Xát" in outbox(app, again)[0]["payload"]
    await b.acknowledge(again, people["o2"].id)  # confirming the follow-up confirms both
    assert (await b.status(bid)).acknowledged == 2
    await b.acknowledge(bid, people["o3"].id)
    with pytest.raises(BroadcastRefused) as refused:  # everyone confirmed the first
        await b.follow_up(bid, "Nhắc lại", None)
    assert "everyone confirmed" in refused.value.reason


# --- rendering -------------------------------------------------------------------------------


async def test_rendering_per_channel(app: App, people: dict[str, Person]) -> None:
    doc = Attachment("document", "ke_hoach.pdf", b"%PDF-1.4 test")
    bid = await send(app, Audience(units=("LC-BX",), roles=(Role.OFFICER,)), ack=True,
                     attachment=doc)
    rows = outbox(app, bid)
    telegram = [json.loads(r["payload"]) for r in rows if r["person_id"] == people["o1"].id]
    zalo = [json.loads(r["payload"]) for r in rows if r["person_id"] == people["o3"].id]
    assert [p["m"] for p in telegram] == ["send_document", "send_message"]
    assert telegram[0]["name"] == "ke_hoach.pdf"
    text = telegram[1]["p"]
    assert text["text"].startswith("📢 Thông báo từ Tỉnh đoàn Lào Cai\n\nHọp giao ban")
    button = text["reply_markup"]["inline_keyboard"][0][0]
    assert button["text"] == "✅ Đã nhận"
    assert unpack(button["callback_data"]) == AckBroadcast(bid)
    assert len(zalo) == 1 and zalo[0]["m"] == "sendMessage"
    assert "gửi qua Telegram" in zalo[0]["p"]["text"]
    assert "Gõ ĐÃ NHẬN" in zalo[0]["p"]["text"]
    assert all(r["chat_id"] == people["o3"].external_id for r in rows
               if r["person_id"] == people["o3"].id)


async def test_a_file_too_large_for_its_recipients_is_refused(
        app: App, people: dict[str, Person], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.services.broadcasts.UPLOAD_BUDGET", 800)
    doc = Attachment("document", "big.pdf", b"x" * 300)
    with pytest.raises(BroadcastRefused) as refused:  # 3 on Telegram: 900 bytes
        await send(app, Audience(units=("LC-SP",), roles=()), attachment=doc)
    assert "3 Telegram recipients" in refused.value.reason
    assert "3 người" in refused.value.message
    bid = await send(app, Audience(units=("LC-BX",), roles=(Role.OFFICER,)), attachment=doc)
    assert len(outbox(app, bid)) == 3  # the file captioned with the text on Telegram (2 × 300
    #                                    bytes: within), the text on Zalo


def test_long_text_is_split_at_each_channels_limit() -> None:
    from handlers.telegram.delivery import render as telegram
    from handlers.zalo.delivery import render as zalo
    text = "Nội dung dài. " * 700  # ~9,800 characters
    reply = broadcast_reply(7, "📢 Thông báo từ X", text, None, True, rich=True)
    parts = telegram(None, "1", [reply])
    assert len(parts) >= 3 and all(len(p["p"]["text"]) <= 4096 for p in parts)
    assert "reply_markup" in parts[-1]["p"] and "reply_markup" not in parts[0]["p"]
    plain = zalo(None, "z", [broadcast_reply(7, "📢 Thông báo từ X", text, None, True,
                                             rich=False)])
    assert len(plain) >= 5 and all(len(p["p"]["text"]) <= 2000 for p in plain)
    joined = "".join(p["p"]["text"] for p in plain)
    assert joined.count("Nội dung dài.") == 700 and "ĐÃ NHẬN" in plain[-1]["p"]["text"]


def test_photo_on_telegram_is_captioned_without_ack() -> None:
    from handlers.telegram.delivery import render as telegram
    reply = broadcast_reply(3, "📢 Thông báo từ X", "Ảnh hội nghị",
                            Attachment("photo", "a.png", b"\x89PNG"), False, rich=True)
    calls = telegram(None, "1", [reply])
    assert [c["m"] for c in calls] == ["send_photo"]
    assert calls[0]["p"]["caption"].endswith("Ảnh hội nghị")


async def test_a_running_channels_courier_renders_for_its_people(app: App,
                                                                 people: dict[str, Person]
                                                                 ) -> None:
    messenger = Messenger()
    courier = await deliver_through(app, messenger)  # the harness's "test" channel
    try:
        tester = await person(app, "900", "LC-BH-01", channel="test")
        bid = await send(app, Audience(units=("LC-BH",)), ack=True)
        rows = outbox(app, bid)
        assert [r["person_id"] for r in rows] == [tester.id]
        text = json.loads(rows[0]["payload"])["text"]  # the harness renderer's payload
        assert text.startswith("📢 Thông báo từ Tỉnh đoàn Lào Cai") and "Gõ ĐÃ NHẬN" in text
    finally:
        await courier.stop()


async def test_a_local_wall_time_is_read_in_the_configured_zone(
        app: App, people: dict[str, Person]) -> None:
    bid = await send(app, Audience(units=("LC-SP",)), send_at=datetime(2026, 2, 21, 8, 0))
    row = await app.broadcasts.get(bid)
    assert row is not None and row.send_at == datetime(2026, 2, 21, 1, 0, tzinfo=UTC)
