"""/quanly in chat through the harness (real SQLite): admins invite, list and revoke invites,
list the people of a unit, change roles and remove people within their subtrees; everyone else
is refused, forged buttons change nothing, every change is audited, and a removed officer's
draft and reports stay."""

from __future__ import annotations

from pathlib import Path

from bot.app import BOT_USERNAME_KEY, App
from bot.domain.buttons import unpack
from bot.domain.guesses import GuessLimit
from bot.domain.invites import CODE_ALPHABET, CODE_LENGTH, CODE_SPACE, guess_odds, is_code_shaped
from bot.domain.roles import Role
from bot.domain.roster_buttons import (
    RosterAskRemove,
    RosterInvite,
    RosterPeople,
    RosterRemoveYes,
    RosterRevokeYes,
    RosterSetRole,
    RosterUncovered,
    RosterUnit,
)
from bot.domain.templates import Level
from bot.domain.units import Unit
from bot.services import roster
from bot.services.invites import create_invite, new_code
from tests.harness import Chat, Clock, join, make_app


async def open_report(chat: Chat) -> str:
    """/baocao, then the one report of the list."""
    await chat.cmd("baocao")
    if "chọn một để làm" in chat.text:
        await chat.say("1")
    return chat.text


def labels(chat: Chat) -> list[str]:
    return [b.label for r in chat.last for b in r.flat_buttons()]


async def person_id(app: App, user: str) -> int:
    person = await app.storage.find_person("test", user)
    assert person is not None
    return person.id


async def units_of(app: App, user: str) -> list[tuple[str, Role]]:
    return [(m.unit.code, m.role) for m in await app.storage.memberships(
        await person_id(app, user))]


async def roster_audit(app: App) -> list[dict[str, object]]:
    return [r for r in await app.storage.audit_log(500)
            if str(r["action"]).startswith(("member.", "invite.revoke"))
            or (r["action"] == "invite.create" and str(r["actor"]).startswith("person:"))]


# --- the guessing bound ------------------------------------------------------------------------


def test_codes_are_long_enough_that_ten_guesses_a_day_find_nothing() -> None:
    assert CODE_LENGTH == 8 and len(set(CODE_ALPHABET)) == 32 and CODE_SPACE == 32 ** 8
    assert not set("01OI") & set(CODE_ALPHABET)
    code = new_code()
    assert is_code_shaped(code) and not is_code_shaped(code[:-1]) and not is_code_shaped(
        code[:-1] + "0")
    # what the README and bot/domain/invites.py say: one chat, 10 guesses a day, 1,000 codes
    odds = guess_odds(1000, 10)
    assert 9.0e-9 < odds <= 10 * 1000 / CODE_SPACE < 9.1e-9
    assert round(1 / odds, -6) == 110_000_000
    assert guess_odds(0, 10) == 0.0 and guess_odds(1000, 0) == 0.0


def test_a_chat_gets_ten_wrong_codes_a_day() -> None:
    from datetime import UTC, datetime, timedelta

    limit, chat = GuessLimit(), ("telegram", "1")
    start = datetime(2026, 3, 1, tzinfo=UTC)
    tried = 0
    for hour in range(24):
        now = start + timedelta(hours=hour, minutes=1)
        while limit.blocked_until(chat, now) is None:
            limit.failed(chat, now)
            tried += 1
    assert tried == 10


# --- chat --------------------------------------------------------------------------------------


async def setup(tmp: Path) -> tuple[App, Chat]:
    app = await make_app(tmp, Clock())
    app.reporting.ROSTER_TTL = 0.0
    admin = await join(app, "admin", "LC-BX", Role.ADMIN)
    admin.name = "Hà"
    return app, admin


async def test_an_admin_creates_an_invite_that_joins_the_unit(tmp_path: Path) -> None:
    app, admin = await setup(tmp_path)
    await app.storage.set_setting(BOT_USERNAME_KEY, "baocao_lc_bot")
    await admin.cmd("quanly")
    assert "🏢 Huyện đoàn Bát Xát" in admin.text
    assert labels(admin)[:3] == ["➕ Tạo mã mời", "📋 Mã mời đang mở", "👥 Người trong đơn vị"]
    await admin.press_label("Đơn vị trực thuộc")
    await admin.press_label("Mường Hum")
    await admin.press_label("Tạo mã mời")
    await admin.press_label("Cán bộ báo cáo")
    text = admin.text
    assert "🎟 Mã mời vào Đoàn xã Mường Hum, vai trò cán bộ báo cáo:" in text
    code = text.split(": ", 1)[1].split("\n")[0]
    assert is_code_shaped(code)
    assert f"https://t.me/baocao_lc_bot?start={code}" in text
    assert "Dùng được 1 lần, có hiệu lực đến 10:00 ngày 06/03/2026 (14 ngày)." in text
    newcomer = Chat(app, "new")
    await newcomer.cmd("start", code)
    assert "Bạn đã tham gia Đoàn xã Mường Hum với vai trò cán bộ báo cáo" in newcomer.text
    made = [r for r in await roster_audit(app) if r["action"] == "invite.create"]
    assert made[0]["actor"] == f"person:{await person_id(app, 'admin')}"
    assert made[0]["details"] == {"unit": "LC-BX-02", "role": "officer", "uses": 1}


async def test_open_invites_are_listed_and_a_revoked_code_is_refused_by_name(
        tmp_path: Path) -> None:
    app, admin = await setup(tmp_path)
    now = app.reporting.clock()
    invite = await create_invite(app.storage, "LC-BX-01", Role.OFFICER, 3, 7, now)
    used = await create_invite(app.storage, "LC-BX-01", Role.OFFICER, 1, 7, now)
    await Chat(app, "first").cmd("start", used.code)
    await admin.press(RosterUnit("LC-BX-01").pack())
    await admin.press_label("Mã mời đang mở")
    assert f"{invite.code} — cán bộ báo cáo, còn 3 lượt, hết hạn 27/02/2026" in admin.text
    assert used.code not in admin.text  # used up: not open
    await admin.press_label(f"Thu hồi {invite.code}")
    assert f"Thu hồi mã mời {invite.code} (Đoàn xã Bản Vược, cán bộ báo cáo)?" in admin.text
    assert (await app.storage.find_invite(invite.code)).revoked_at is None  # type: ignore
    await admin.press_label("✅ Thu hồi")
    assert admin.text == f"Đã thu hồi mã mời {invite.code}."
    late = Chat(app, "late")
    await late.cmd("start", invite.code)
    assert "Mã mời này đã bị thu hồi" in late.text
    assert app.reporting.deps.guesses.blocked_until(("test", "late"), now) is None
    assert ("test", "late") not in app.reporting.deps.guesses._failures  # not a wrong guess
    await Chat(app, "again").cmd("start", used.code)
    await admin.press(RosterRevokeYes(invite.code).pack())  # pressed twice
    assert admin.text == "Mã mời này đã được thu hồi trước đó."
    revokes = [r for r in await roster_audit(app) if r["action"] == "invite.revoke"]
    assert len(revokes) == 1 and revokes[0]["entity"] == f"invite:{invite.code}"


async def test_people_of_a_unit_with_role_channel_activity_and_reachability(
        tmp_path: Path) -> None:
    app, admin = await setup(tmp_path)
    lan = await join(app, "lan", "LC-BX-01")
    await join(app, "minh", "LC-BX-01", Role.SUPERVISOR)
    await app.storage.set_reachable(await person_id(app, "minh"), False)
    await lan.cmd("baocao")
    await admin.press(RosterPeople("LC-BX-01").pack())
    lines = admin.text.splitlines()
    assert lines[0] == "👥 Người trong Đoàn xã Bản Vược: 2"
    assert any(line.startswith("1. Cán bộ — cán bộ báo cáo · test · hoạt động gần nhất ")
               for line in lines)
    (unreachable,) = [line for line in lines if "cán bộ theo dõi" in line]
    assert unreachable.endswith("⚠ không nhận được tin (đã chặn bot)")
    day = unreachable.split("hoạt động gần nhất ")[1][:10]
    assert day[2] == "/" and day[5] == "/" and len(day) == 10
    assert labels(admin).count("Gỡ khỏi đơn vị: Cán bộ") == 2


async def test_removing_an_officer_keeps_the_draft_and_the_unit_continues(
        tmp_path: Path) -> None:
    app, admin = await setup(tmp_path)
    lan = await join(app, "lan", "LC-BX-01")
    assert "fanpage" in await open_report(lan)
    await lan.say("có")
    lan_id = await person_id(app, "lan")
    (draft,) = await app.storage.drafts_for_units(["LC-BX-01"])
    assert draft.answers == {"co_fanpage": True}
    await admin.press(RosterAskRemove("LC-BX-01", lan_id).pack())
    assert "Gỡ Cán bộ (cán bộ báo cáo) khỏi Đoàn xã Bản Vược?" in admin.text
    assert await units_of(app, "lan") == [("LC-BX-01", Role.OFFICER)]  # only asked
    await admin.press_label("✅ Gỡ khỏi đơn vị")
    assert "Đã gỡ Cán bộ khỏi Đoàn xã Bản Vược" in admin.text
    assert await units_of(app, "lan") == []
    await lan.say("12")  # was on a question of that unit: nothing stored, nothing lost
    await lan.cmd("baocao")
    assert "không dành cho vai trò" in lan.text
    (kept,) = await app.storage.drafts_for_units(["LC-BX-01"])
    assert kept.id == draft.id and kept.answers == {"co_fanpage": True}
    colleague = await join(app, "tuan", "LC-BX-01")
    assert "Số tin bài trên fanpage" in await open_report(colleague)  # the draft goes on
    (row,) = [r for r in await roster_audit(app) if r["action"] == "member.remove"]
    assert row["actor"] == f"person:{await person_id(app, 'admin')}"
    assert row["entity"] == f"person:{lan_id}"
    assert row["details"] == {"unit": "LC-BX-01", "roles": ["officer"]}


async def test_a_role_change_takes_effect_at_once(tmp_path: Path) -> None:
    app, admin = await setup(tmp_path)
    lan = await join(app, "lan", "LC-BX-01")
    lan_id = await person_id(app, "lan")
    await admin.press(RosterPeople("LC-BX-01").pack())
    await admin.press_label("Đổi vai trò: Cán bộ")
    assert "hiện là cán bộ báo cáo" in admin.text
    assert "Cán bộ báo cáo" not in labels(admin)
    await admin.press_label("Cán bộ theo dõi")
    assert admin.text.startswith("Đã đổi vai trò của Cán bộ trong Đoàn xã Bản Vược thành cán "
                                 "bộ theo dõi.")
    assert await units_of(app, "lan") == [("LC-BX-01", Role.SUPERVISOR)]
    await lan.cmd("baocao")
    assert "không dành cho vai trò" in lan.text
    (row,) = [r for r in await roster_audit(app) if r["action"] == "member.role"]
    assert row["details"] == {"unit": "LC-BX-01", "from": ["officer"], "to": "supervisor"}
    assert row["entity"] == f"person:{lan_id}"


async def test_the_last_admin_cannot_remove_or_demote_themself(tmp_path: Path) -> None:
    app, admin = await setup(tmp_path)
    me = await person_id(app, "admin")
    await admin.press(RosterRemoveYes("LC-BX", me).pack())
    assert "cán bộ quản trị duy nhất" in admin.text
    await admin.press(RosterSetRole("LC-BX", me, "officer").pack())
    assert "cán bộ quản trị duy nhất" in admin.text
    assert await units_of(app, "admin") == [("LC-BX", Role.ADMIN)]
    await join(app, "second", "LC-BX", Role.ADMIN)
    await admin.press(RosterRemoveYes("LC-BX", me).pack())
    assert "Đã gỡ" in admin.text and await units_of(app, "admin") == []
    await admin.cmd("quanly")
    assert "không dành cho vai trò" in admin.text  # no longer an admin anywhere


async def test_forged_buttons_outside_the_subtree_change_nothing(tmp_path: Path) -> None:
    app, admin = await setup(tmp_path)
    other = await join(app, "sp", "LC-SP-01")
    sp_id = await person_id(app, "sp")
    now = app.reporting.clock()
    theirs = await create_invite(app.storage, "LC-SP-01", Role.OFFICER, 1, 7, now)
    before = await app.storage.audit_log(500)
    forged = [RosterUnit("LC-SP"), RosterPeople("LC-SP-01"), RosterAskRemove("LC-SP-01", sp_id),
              RosterRemoveYes("LC-SP-01", sp_id), RosterSetRole("LC-SP-01", sp_id, "admin"),
              RosterInvite("LC", "admin"), RosterInvite("LC-SP-01", "officer"),
              RosterRevokeYes(theirs.code), RosterUnit("NOPE")]
    for data in forged:
        await admin.press(data.pack())
        assert admin.text == ("Đơn vị, người hoặc mã mời này không thuộc phạm vi bạn quản trị, "
                              "nên không xem hay thay đổi được."), data
    # the admin's own person, removed "from" a unit of theirs they are not in
    await admin.press(RosterRemoveYes("LC-BX-01", sp_id).pack())
    assert "không còn trong đơn vị" in admin.text
    for raw in ("qmxy|LC-SP-01|abc", "qmxy|LC-SP-01", "qmoy|LC-BX-01|2|king", "qm|", "qme|x"):
        assert unpack(raw) is None or raw == "qmoy|LC-BX-01|2|king"
        await admin.press(raw)
        assert "Đã" not in admin.text
    assert await app.storage.audit_log(500) == before
    assert await units_of(app, "sp") == [("LC-SP-01", Role.OFFICER)]
    assert (await app.storage.find_invite(theirs.code)).revoked_at is None  # type: ignore
    assert "fanpage" in await open_report(other)


async def test_supervisors_and_officers_are_refused(tmp_path: Path) -> None:
    app, _ = await setup(tmp_path)
    boss = await join(app, "boss", "LC-BX", Role.SUPERVISOR)
    officer = await join(app, "lan", "LC-BX-01")
    lan_id = await person_id(app, "lan")
    for chat in (boss, officer):
        await chat.cmd("quanly")
        assert "không dành cho vai trò của bạn" in chat.text
        await chat.press(RosterRemoveYes("LC-BX-01", lan_id).pack())
        assert chat.text.startswith("Chỉ cán bộ quản trị mới quản lý người dùng")
        await chat.press(RosterInvite("LC-BX-01", "admin").pack())
        assert chat.text.startswith("Chỉ cán bộ quản trị")
    assert "/quanly" not in boss.text
    await boss.cmd("giup")
    assert "/quanly" not in boss.text and "/tonghop" in boss.text
    assert await units_of(app, "lan") == [("LC-BX-01", Role.OFFICER)]
    assert await roster_audit(app) == []


async def test_units_with_nobody_are_paged_and_open_their_menu(tmp_path: Path) -> None:
    app, admin = await setup(tmp_path)
    await app.storage.upsert_units([Unit(f"LC-BX-{i:02}", f"Đoàn xã Mới {i:02}", "LC-BX",
                                         Level.XA) for i in range(4, 26)])
    await join(app, "sup", "LC-BX-02", Role.SUPERVISOR)  # someone, but no officer
    await join(app, "lan", "LC-BX-03")
    await admin.press(RosterUncovered().pack())
    first = admin.text
    assert first.startswith("🚫 Đơn vị chưa có ai đăng ký: 23; có người nhưng chưa có cán bộ "
                            "báo cáo: 1 (trang 1/3)")
    seen: list[str] = []
    for _ in range(3):
        seen += [line for line in admin.text.splitlines() if line[:1].isdigit()]
        if "Sau ▶" in labels(admin):
            await admin.press_label("Sau ▶")
    assert len(seen) == 24 and len(set(seen)) == 24
    assert any(line.endswith("Đoàn xã Mường Hum — chưa có cán bộ báo cáo") for line in seen)
    assert not any("Đoàn thị trấn Bát Xát" in line for line in seen)  # has an officer
    assert not any("Huyện đoàn Bát Xát" in line for line in seen)  # the admin, no report owed
    await admin.press(RosterUncovered().pack())
    await admin.press_label("Bản Vược")
    assert "🏢 Đoàn xã Bản Vược" in admin.text


async def test_a_change_from_the_command_line_reaches_the_running_bot(tmp_path: Path) -> None:
    app, _ = await setup(tmp_path)
    lan = await join(app, "lan", "LC-BX-01")
    assert "fanpage" in await open_report(lan)
    units = {u.code: u for u in await app.storage.list_units()}
    await roster.remove(app.storage, None, await person_id(app, "lan"), "LC-BX-01", "cli",
                        units)
    await lan.cmd("baocao")
    assert "không dành cho vai trò" in lan.text


async def test_removing_the_officer_who_sent_reports_keeps_every_version(tmp_path: Path) -> None:
    from tests.test_tonghop import setup as digest_setup

    app, _, officer = await digest_setup(tmp_path)
    admin = await join(app, "admin", "LC", Role.ADMIN)
    units = ["LC-BX-01", "LC-BX-02", "LC-SP-01"]
    before = await app.storage.latest_submissions(units)
    officer_id = await person_id(app, "officer")
    await admin.press(RosterRemoveYes("LC-BX-01", officer_id).pack())
    assert admin.text.startswith("Đã gỡ")
    after = await app.storage.latest_submissions(units)
    assert after == before and len(after) == 4
    assert {s.submitted_by for s in after} == {officer_id}
    await officer.cmd("trangthai")
    assert "không dành cho vai trò" in officer.text


async def test_typed_numbers_work_the_menus_where_there_are_no_buttons(tmp_path: Path) -> None:
    """Zalo and the terminal: each menu's buttons are numbered; typing the number presses."""
    app, admin = await setup(tmp_path)
    await join(app, "lan", "LC-BX")
    await admin.cmd("quanly")
    await admin.say("3")  # 👥 Người trong đơn vị
    assert admin.text.startswith("👥 Người trong Huyện đoàn Bát Xát: 2")
    names = labels(admin)
    lan_remove = names.index("Gỡ khỏi đơn vị: Cán bộ", 2) + 1  # the second person's
    await admin.say(str(lan_remove))
    assert "Gỡ Cán bộ (cán bộ báo cáo) khỏi Huyện đoàn Bát Xát?" in admin.text
    await admin.say("1")
    assert admin.text.startswith("Đã gỡ Cán bộ khỏi Huyện đoàn Bát Xát")
    assert await units_of(app, "lan") == []
    assert await units_of(app, "admin") == [("LC-BX", Role.ADMIN)]
