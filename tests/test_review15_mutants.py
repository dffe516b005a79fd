"""Tests written by the mutation review of issue 15: each kills a mutant (a small deliberate
break) of the broadcasts' or the roster's code that the other tests let through."""

from __future__ import annotations

import io
import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.cli import main
from bot.domain import messages_vi as M
from bot.domain.broadcasts import (
    Attachment,
    Audience,
    BroadcastRefused,
    Preview,
    describe,
    preview_line,
)
from bot.domain.invites import guess_odds, is_code_shaped
from bot.domain.roles import Role
from bot.domain.roster_buttons import (
    RosterChildren,
    RosterInvites,
    RosterPeople,
    RosterRemoveYes,
    RosterRevoke,
    RosterRevokeYes,
    RosterSetRole,
    RosterUnit,
)
from bot.domain.templates import Level
from bot.domain.units import Unit
from bot.services import roster
from bot.services.broadcasts import broadcast_reply
from bot.services.invites import create_invite
from storage.models import Person
from tests import test_broadcasts as tb
from tests import test_cli_broadcasts as tcb
from tests.harness import Chat, Clock, join, make_app
from tests.test_broadcasts import add_to, ids, outbox, person, recipients, send
from tests.test_roster import setup as roster_setup

# the fixtures of the neighbouring tests, shared
app, clock, people, site = tb.app, tb.clock, tb.people, tcb.site

# --- broadcasts: audience ------------------------------------------------------------------


async def test_a_person_is_reached_through_their_first_unit_by_code(
        app: App, people: dict[str, Person]) -> None:
    await add_to(app, people["o1"], "LC-BX-02", Role.OFFICER)
    bid = await send(app, Audience(units=("LC-BX",), roles=(Role.OFFICER,)))
    reached = await app.broadcasts.store.recipients(bid)
    assert reached[people["o1"].id] == "LC-BX-01"  # not the later LC-BX-02
    assert len(reached) == 3


async def test_the_preview_counts_units_apart_from_people(app: App,
                                                          people: dict[str, Person]) -> None:
    p = await app.broadcasts.preview(Audience(units=("LC-BX",)), None)
    assert (p.people, p.units) == (5, 4)  # three communes, and the district's sup + admin


def test_preview_line_shows_unreachable_only_when_some_are() -> None:
    assert preview_line(Preview(1234, 56, 7)) == "1.234 người · 56 đơn vị · 7 không nhận được"
    assert preview_line(Preview(3, 2, 0)) == "3 người · 2 đơn vị"


def test_describe_names_organisations() -> None:
    assert describe(Audience(orgs=("doan",))) == f"{M.BROADCAST_WHOLE_REACH} · tổ chức doan"


async def test_an_admin_of_a_retired_unit_may_not_broadcast(
        app: App, people: dict[str, Person], clock: Clock) -> None:
    await app.storage.retire_units(["LC-SP"], clock().date() - timedelta(days=1))
    app.broadcasts.units.forget()
    with pytest.raises(BroadcastRefused):
        await send(app, Audience(), people["adm_sp"])


async def test_unknown_follow_and_a_period_the_report_does_not_ask_are_refused(
        app: App, people: dict[str, Person]) -> None:
    with pytest.raises(BroadcastRefused) as refused:
        await app.broadcasts.preview(Audience(follows=999), None)
    assert "no broadcast 999" in refused.value.reason
    with pytest.raises(BroadcastRefused) as refused:  # a quarterly report: no month
        await app.broadcasts.preview(Audience(missing=("thu_nghiem", "2026-02")), None)
    assert "unknown report" in refused.value.reason


async def test_a_creator_who_lost_their_role_reaches_nobody(
        app: App, people: dict[str, Person], clock: Clock) -> None:
    at = clock() + timedelta(hours=1)
    bid = await send(app, Audience(), people["adm_bx"], send_at=at)
    await app.storage.set_member_role(people["adm_bx"].id, "LC-BX", Role.OFFICER, "cli")
    assert await app.broadcasts.start_due(at) == [bid]
    assert await recipients(app, bid) == set()


async def test_a_channel_without_a_renderer_counts_as_failed(
        app: App, people: dict[str, Person]) -> None:
    tester = await person(app, "900", "LC-BH-01", channel="test")  # no courier running
    bid = await send(app, Audience(units=("LC-BH",)))
    assert [(r["person_id"], r["state"]) for r in outbox(app, bid)] == [(tester.id, "failed")]
    s = await app.broadcasts.status(bid)
    assert (s.recipients, s.failed, s.pending) == (1, 1, 0)


# --- broadcasts: who may act on one -----------------------------------------------------------


async def test_a_follow_up_needs_a_broadcast_asking_for_confirmation(
        app: App, people: dict[str, Person]) -> None:
    plain = await send(app, Audience(units=("LC-BX",), roles=(Role.OFFICER,)))
    with pytest.raises(BroadcastRefused) as refused:
        await app.broadcasts.follow_up(plain, "Nhắc lại", None)
    assert "asks for no confirmation" in refused.value.reason
    assert len(await app.broadcasts.list(None, 10)) == 1


async def test_a_supervisor_cancels_their_own_and_an_admin_only_what_is_all_theirs(
        app: App, people: dict[str, Person], clock: Clock) -> None:
    b = app.broadcasts
    b.supervisors = True
    at = clock() + timedelta(hours=1)
    own = await send(app, Audience(roles=(Role.OFFICER,)), people["sup_bx"], send_at=at)
    assert await b.cancel(own, people["sup_bx"])  # the creator, though not an admin
    wide = await send(app, Audience(units=("LC-BX", "LC-SP")), people["adm_lc"], send_at=at)
    with pytest.raises(BroadcastRefused):  # half of it is outside LC-BX
        await b.cancel(wide, people["adm_bx"])
    assert (await b.status(wide)).state == "scheduled"


# --- broadcasts: rendering --------------------------------------------------------------------


def test_zalo_is_told_a_photo_or_a_document_was_sent_elsewhere() -> None:
    photo = broadcast_reply(1, "H", "T", Attachment("photo", "a.png", b"x"), False, rich=False)
    doc = broadcast_reply(1, "H", "T", Attachment("document", "a.pdf", b"x"), False, rich=False)
    assert M.BROADCAST_PHOTO_ELSEWHERE in photo.text
    assert M.BROADCAST_DOCUMENT_ELSEWHERE in doc.text
    assert M.BROADCAST_PHOTO_ELSEWHERE not in doc.text


# --- broadcasts: the state machine in storage ------------------------------------------------


async def test_a_stale_start_writes_nothing(app: App, people: dict[str, Person],
                                            clock: Clock) -> None:
    """A process holding the row from before it started (or was cancelled) starts nothing."""
    b = app.broadcasts
    at = clock() + timedelta(hours=1)
    bid = await send(app, Audience(units=("LC-SP",)), send_at=at)
    stale = await b.get(bid)
    assert stale is not None
    assert await b.start_due(at) == [bid]
    assert not await b._start(stale, at)
    assert len(outbox(app, bid)) == 3 and (await b.status(bid)).recipients == 3
    gone = await send(app, Audience(units=("LC-SP",)), send_at=at)
    row = await b.get(gone)
    assert row is not None and await b.cancel(gone, None)
    assert not await b._start(row, at)
    assert outbox(app, gone) == [] and (await b.status(gone)).state == "cancelled"


async def test_rows_being_sent_are_neither_done_nor_delivered(
        app: App, people: dict[str, Person], clock: Clock) -> None:
    b = app.broadcasts
    bid = await send(app, Audience(units=("LC-SP",)))
    with sqlite3.connect(app.config.storage.path) as conn:
        conn.execute("UPDATE outbox SET state='sending' WHERE broadcast_id=?", (bid,))
    assert await b.finish_done(clock()) == []
    s = await b.status(bid)
    assert (s.state, s.delivered, s.pending) == ("sending", 0, 3)


async def test_unreachable_rows_are_closed_when_written(app: App,
                                                        people: dict[str, Person]) -> None:
    await app.storage.set_reachable(people["o4"].id, False)
    bid = await send(app, Audience(units=("LC-SP",)))
    done = {r["person_id"]: r["done_at"] for r in outbox(app, bid)}
    assert done[people["o4"].id] is not None and done[people["o5"].id] is None


async def test_a_typed_confirmation_goes_to_the_newest_broadcast_asking_for_one(
        app: App, people: dict[str, Person]) -> None:
    b = app.broadcasts
    officers = Audience(units=("LC-BX",), roles=(Role.OFFICER,))
    first = await send(app, officers, ack=True)
    second = await send(app, officers, ack=True)
    await send(app, officers)  # the newest asks for nothing
    o1 = people["o1"].id
    assert await b.awaiting_ack(o1) == second
    assert await b.acknowledge(second, o1)
    assert await b.awaiting_ack(o1) == first


def test_broadcast_list_limit_is_checked(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for limit in ("0", "10001"):
        assert main(["broadcast", "list", "--limit", limit]) == 1
        assert "--limit must be from 1 to 10000" in capsys.readouterr().err


def test_a_follow_up_from_the_command_line_asks_first(
        site: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["broadcast", "create", "--unit", "LC-BX", "--role", "officer", "--text",
                 "Kế hoạch mới", "--ack", "--urgent", "--yes"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal, no --yes
    assert main(["broadcast", "follow-up", "1", "--text", "Nhắc lại"]) == 1
    assert "not confirmed" in capsys.readouterr().err
    with sqlite3.connect(site) as conn:
        assert conn.execute("SELECT COUNT(*) FROM broadcasts").fetchone() == (1,)


# --- roster: the service and its storage --------------------------------------------------------


def _bx(units: dict[str, Unit]) -> frozenset[str]:
    return frozenset(c for c in units if c == "LC-BX" or c.startswith("LC-BX-"))


async def test_only_admin_memberships_give_a_scope(app: App, people: dict[str, Person]) -> None:
    units = (await app.broadcasts.units.tree()).units
    sup = await app.storage.memberships(people["sup_bx"].id)
    adm = await app.storage.memberships(people["adm_bx"].id)
    assert roster.admin_scope(sup, units.values()) == frozenset()
    assert roster.admin_scope(adm, units.values()) == _bx(units)
    with pytest.raises(roster.Denied) as denied:  # an unknown unit is "not yours" in chat
        await roster.people(app.storage, _bx(units), ["NOPE"], units)
    assert denied.value.why is roster.Why.NOT_YOURS
    with pytest.raises(roster.Denied) as denied:  # and named as unknown on the command line
        await roster.people(app.storage, None, ["NOPE"], units)
    assert denied.value.why is roster.Why.UNKNOWN_UNIT


async def test_listing_without_units_stays_in_the_scope(app: App, people: dict[str, Person],
                                                        clock: Clock) -> None:
    units = (await app.broadcasts.units.tree()).units
    scope = _bx(units)
    listed = await roster.people(app.storage, scope, None, units)
    assert {m.person_id for m in listed} == ids(people, "o1", "o2", "o3", "sup_bx", "adm_bx")
    await create_invite(app.storage, "LC-SP-01", Role.OFFICER, 1, 7, clock())
    mine = await create_invite(app.storage, "LC-BX-01", Role.OFFICER, 1, 7, clock())
    found = await roster.open_invites(app.storage, scope, None, clock(), units)
    assert [i.code for i in found] == [mine.code]
    assert await app.storage.members([]) == []  # no unit asked: nobody, not everyone


async def test_the_service_refuses_a_removal_outside_the_scope(
        app: App, people: dict[str, Person]) -> None:
    units = (await app.broadcasts.units.tree()).units
    o4 = people["o4"].id
    with pytest.raises(roster.Denied) as denied:
        await roster.remove(app.storage, _bx(units), o4, "LC-SP-01", "person:1", units)
    assert denied.value.why is roster.Why.NOT_YOURS
    assert [m.unit.code for m in await app.storage.memberships(o4)] == ["LC-SP-01"]


async def test_retired_units_are_not_uncovered(app: App, people: dict[str, Person],
                                               clock: Clock) -> None:
    units = (await app.broadcasts.units.tree()).units
    before = {u.unit.code for u in await roster.uncovered_units(app.storage, None, units)}
    assert "LC-BH-01" in before
    await app.storage.retire_units(["LC-BH-01"], clock().date() - timedelta(days=1))
    app.broadcasts.units.forget()
    units = (await app.broadcasts.units.tree()).units
    after = {u.unit.code for u in await roster.uncovered_units(app.storage, None, units)}
    assert after == before - {"LC-BH-01"}


async def test_storage_revokes_once_and_a_same_role_is_no_change(
        app: App, people: dict[str, Person], clock: Clock) -> None:
    invite = await create_invite(app.storage, "LC-BX-01", Role.OFFICER, 1, 7, clock())
    assert await app.storage.revoke_invite(invite.code, "cli", clock())
    assert not await app.storage.revoke_invite(invite.code, "cli", clock())
    o1 = people["o1"].id
    assert await app.storage.set_member_role(o1, "LC-BX-01", Role.OFFICER, "cli") == [
        Role.OFFICER]
    log = [(r["action"], r["entity"]) for r in await app.storage.audit_log(500)]
    assert log.count(("invite.revoke", f"invite:{invite.code}")) == 1
    assert not any(a == "member.role" for a, _ in log)


async def test_a_role_change_keeps_the_first_joining_date(
        app: App, people: dict[str, Person], clock: Clock) -> None:
    o1 = people["o1"]
    clock.now += timedelta(days=3)
    await add_to(app, o1, "LC-BX-01", Role.SUPERVISOR)
    joined = {m.role: m.joined_at for m in await app.storage.members(["LC-BX-01"])}
    first = min(joined.values())
    assert len(joined) == 2 and first < max(joined.values())
    await app.storage.set_member_role(o1.id, "LC-BX-01", Role.ADMIN, "cli")
    after = await app.storage.members(["LC-BX-01"])
    assert [(m.role, m.joined_at) for m in after] == [(Role.ADMIN, first)]


def test_guess_odds_are_without_replacement_and_codes_have_one_length() -> None:
    assert guess_odds(1, 10, space=10) == 1.0  # ten distinct guesses out of ten: certain
    assert guess_odds(1, 1, space=10) == pytest.approx(0.1)
    assert is_code_shaped("ABCDEFGH") and not is_code_shaped("ABCDEFGHJ")


# --- roster: /quanly in chat -----------------------------------------------------------------


def _labels(chat: Chat) -> list[str]:
    return [b.label for r in chat.last for b in r.flat_buttons()]


async def test_asking_to_revoke_checks_the_scope_and_a_revoked_code(tmp_path: Path) -> None:
    app, admin = await roster_setup(tmp_path)
    try:
        now = app.reporting.clock()
        theirs = await create_invite(app.storage, "LC-SP-01", Role.OFFICER, 1, 7, now)
        await admin.press(RosterRevoke(theirs.code).pack())
        assert admin.text == M.ROSTER_NOT_YOURS and not _labels(admin)
        mine = await create_invite(app.storage, "LC-BX-01", Role.OFFICER, 1, 7, now)
        await admin.press(RosterRevokeYes(mine.code).pack())
        await admin.press(RosterRevoke(mine.code).pack())
        assert admin.text == M.ROSTER_ALREADY_REVOKED
    finally:
        await app.close()


async def test_the_unit_menu_counts_officers_and_goes_no_higher_than_the_scope(
        tmp_path: Path) -> None:
    app, admin = await roster_setup(tmp_path)
    try:
        await join(app, "o", "LC-BX")
        await admin.cmd("quanly")
        assert "Người tham gia: 2 (cán bộ báo cáo: 1)." in admin.text
        assert not any(label.startswith("⬆") for label in _labels(admin))
        await admin.press(RosterUnit("LC-BX-01").pack())
        assert "⬆ Huyện đoàn Bát Xát" in _labels(admin)
    finally:
        await app.close()


async def test_every_open_invite_of_the_unit_is_listed(tmp_path: Path) -> None:
    app, admin = await roster_setup(tmp_path)
    try:
        now = app.reporting.clock()
        codes = [(await create_invite(app.storage, "LC-BX", Role.OFFICER, 1, 7, now)).code
                 for _ in range(3)]
        await admin.press(RosterInvites("LC-BX").pack())
        assert all(code in admin.text for code in codes)
    finally:
        await app.close()


async def test_people_are_paged_by_ten(tmp_path: Path) -> None:
    app, admin = await roster_setup(tmp_path)
    try:
        for i in range(11):
            await join(app, f"p{i}", "LC-BX-01")

        async def page(n: int) -> tuple[int, bool, bool]:
            await admin.press(RosterPeople("LC-BX-01", n).pack())
            found = _labels(admin)
            return (sum(x.startswith("Gỡ khỏi đơn vị") for x in found),
                    M.DIGEST_PAGE_BACK in found, M.DIGEST_PAGE_NEXT in found)

        assert await page(0) == (10, False, True)
        assert await page(1) == (1, True, False)
        assert await page(7) == (1, True, False)  # a page past the end: the last one
    finally:
        await app.close()


# --- roster: the command line ------------------------------------------------------------------


def test_roster_command_line_unknown_unit_and_unreachable_people(
        site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invite", "list", "--all", "--unit", "NOPE"]) == 1
    assert "NOPE" in capsys.readouterr().err
    with sqlite3.connect(site) as conn:
        conn.execute("UPDATE people SET reachable=0 WHERE external_id='104'")
    assert main(["people", "list", "--unit", "LC-SP-01"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].endswith("  unreachable")


def test_invites_used_up_are_listed_as_used(site: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invite", "list", "--all", "--json"]) == 0
    states = {r["state"] for r in json.loads(capsys.readouterr().out)}
    assert states == {"used"}  # each of the fixture's one-use invites was taken


async def test_last_activity_counts_the_conversation(app: App,
                                                     people: dict[str, Person]) -> None:
    o1 = people["o1"].id
    await Chat(app, "101", channel="telegram").cmd("baocao")
    with sqlite3.connect(app.config.storage.path) as conn:
        moved = conn.execute("SELECT updated_at FROM conversations WHERE person_id=?",
                             (o1,)).fetchone()[0]
        acted = conn.execute("SELECT MAX(at) FROM audit WHERE actor=?",
                             (f"person:{o1}",)).fetchone()[0]
    assert moved != acted
    expected = max(datetime.fromisoformat(moved), datetime.fromisoformat(acted))
    assert [m.last_active for m in await app.storage.members(["LC-BX-01"])] == [expected]


async def test_a_change_in_chat_reaches_the_person_before_the_roster_is_read_again(
        tmp_path: Path) -> None:
    """With the running bot's roster cache (read again at most every ROSTER_TTL seconds), the
    person changed or removed from /quanly is read again at once."""
    app = await make_app(tmp_path, Clock())
    try:
        admin = await join(app, "admin", "LC-BX", Role.ADMIN)
        lan = await join(app, "lan", "LC-BX-01")
        lan_id = (await app.storage.find_person("test", "lan")).id  # type: ignore[union-attr]
        hoa = await join(app, "hoa", "LC-BX-02")
        hoa_id = (await app.storage.find_person("test", "hoa")).id  # type: ignore[union-attr]
        for chat in (lan, hoa):  # their memberships are cached now
            await chat.cmd("baocao")
            assert "không dành cho vai trò" not in chat.text
        await admin.press(RosterSetRole("LC-BX-01", lan_id, "supervisor").pack())
        await lan.cmd("baocao")
        assert "không dành cho vai trò" in lan.text
        await admin.press(RosterRemoveYes("LC-BX-02", hoa_id).pack())
        await hoa.cmd("baocao")
        assert "không dành cho vai trò" in hoa.text  # no unit any more
    finally:
        await app.close()


async def test_child_units_are_paged_by_ten(tmp_path: Path) -> None:
    app, admin = await roster_setup(tmp_path)
    try:
        await app.storage.upsert_units([Unit(f"LC-BX-{i:02d}", f"Xã thử {i:02d}", "LC-BX",
                                             Level.XA) for i in range(4, 13)])  # 12 in all
        app.reporting.deps.units.forget()

        async def page(n: int) -> list[str]:
            await admin.press(RosterChildren("LC-BX", n).pack())
            return [x for x in _labels(admin) if x.startswith(("Xã", "Đoàn"))]

        first, second = await page(0), await page(1)
        assert len(first) == 10 and len(second) == 2 and not set(first) & set(second)
    finally:
        await app.close()
