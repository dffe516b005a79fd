"""Review of issue 15 as users would attack it: the roster and the broadcasts' core and
command line with messy input (files that are not what they say, periods not started, codes
in lower case, a locked database)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.app import build_app
from bot.cli import main
from bot.config import load_config
from bot.domain.broadcasts import Attachment, Audience, BroadcastDraft, BroadcastRefused
from bot.domain.roster_buttons import RosterRemoveYes
from tests.harness import join
from tests.test_cli_broadcasts import lines, query, site  # noqa: F401  (the fixture)
from tests.test_roster import open_report, person_id
from tests.test_roster import setup as roster_setup

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def create(*argv: str) -> int:
    return main(["broadcast", "create", *argv, "--yes"])


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = lines(capsys.readouterr().err)
    assert not any("Traceback" in x for x in err), err
    return err[-1]


def test_a_photo_that_is_not_a_picture_is_refused_naming_the_flag(
        site: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:  # noqa: F811
    """Telegram refuses such a "photo" for every recipient: refused before anything is
    queued, and the admin is told to send it as a document."""
    fake = tmp_path / "ke_hoach.png"
    fake.write_text("Kế hoạch tháng 6", encoding="utf-8")
    assert create("--photo", str(fake), "--text", "Kế hoạch", "--urgent") == 1
    assert one_line_error(capsys) == (f"error: --photo: {fake} is not a picture (JPEG, PNG, "
                                      "GIF or WebP): send it with --document")
    assert query(site, "SELECT COUNT(*) FROM broadcasts") == [(0,)]
    real = tmp_path / "anh.png"
    real.write_bytes(PNG)
    assert create("--photo", str(real), "--text", "Ảnh hội nghị", "--urgent") == 0
    assert query(site, "SELECT COUNT(*) FROM broadcasts") == [(1,)]
    assert create("--document", str(fake), "--text", "Kế hoạch", "--urgent") == 0


def test_the_service_refuses_a_photo_that_is_not_a_picture_in_vietnamese(
        site: Path) -> None:  # noqa: F811
    """The chat side (/thongbao) goes through the same check."""
    async def go() -> None:
        app = await build_app(load_config(None))
        try:
            draft = BroadcastDraft(Audience(), "Kế hoạch", Attachment("photo", "a.pdf",
                                                                       b"%PDF-1.4"),
                                   urgent=True)
            with pytest.raises(BroadcastRefused) as refused:
                await app.broadcasts.create(draft, None)
            assert refused.value.message.startswith("Tệp gửi kèm không phải là ảnh")
            assert await app.broadcasts.list(None) == []
        finally:
            await app.close()

    asyncio.run(go())


def test_a_document_too_large_is_refused_without_reading_it(
        site: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "bien_ban.zip"
    with big.open("wb") as f:
        f.truncate(6 * 2**30)  # sparse: 6 GB that would be loaded into memory first

    def no_read(self: Path) -> bytes:
        raise AssertionError(f"{self} read whole")

    monkeypatch.setattr(Path, "read_bytes", no_read)
    assert create("--document", str(big), "--text", "Biên bản", "--urgent") == 1
    assert one_line_error(capsys) == (f"error: --document: {big} is larger than 50 MB "
                                      "(Telegram's limit)")
    assert query(site, "SELECT COUNT(*) FROM broadcasts") == [(0,)]


def test_missing_a_period_not_started_is_refused(
        site: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    """Nobody owes a report of a period that has not started: every unit would count as
    "not sent" and the whole tree would be told off."""
    assert create("--missing", "thu_nghiem:2099-Q1", "--text", "Nhắc nộp", "--urgent") == 1
    assert one_line_error(capsys) == ("error: period 2099-Q1 has not started yet (it starts "
                                      "2099-01-01)")
    assert query(site, "SELECT COUNT(*) FROM broadcasts") == [(0,)]
    # scheduled for a time when it has started: accepted (resolved then)
    assert create("--missing", "thu_nghiem:2099-Q1", "--text", "Nhắc nộp",
                  "--at", "2099-02-02 08:00") == 0
    assert query(site, "SELECT state FROM broadcasts") == [("scheduled",)]


def test_missing_with_the_report_typed_in_upper_case(
        site: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    assert create("--missing", " THU_NGHIEM : 2026-q1 ", "--text", "Nhắc nộp", "--urgent") == 0
    capsys.readouterr()
    ((audience,),) = query(site, "SELECT audience FROM broadcasts")
    assert Audience.from_json(str(audience)).missing == ("thu_nghiem", "2026-q1")


def test_a_huge_text_is_refused_naming_the_flag(
        site: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:  # noqa: F811
    """A wrong --text-file (a log, a whole document) would be thousands of messages to each
    recipient."""
    wrong = tmp_path / "nhat_ky.txt"
    wrong.write_text("Thông báo dòng nhật ký\n" * 50_000, encoding="utf-8")
    assert create("--text-file", str(wrong), "--urgent") == 1
    assert one_line_error(capsys) == ("error: --text-file is longer than 20000 characters: "
                                      "shorten it, or put a link to the full text in it")
    assert query(site, "SELECT COUNT(*) FROM broadcasts") == [(0,)]
    assert create("--text", "Đ" * 20_000, "--urgent") == 0


@pytest.mark.parametrize("argv", [["people", "list", "--unit", "lc-bx-01"],
                                  ["invite", "list", "--unit", "lc-bx"],
                                  ["invite", "list", "--all", "--unit", "Lc-Bx"]])
def test_roster_reads_take_unit_codes_in_lower_case(
        site: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:  # noqa: F811
    assert main(argv) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "LC-BX" in out or out == ""


def test_roster_changes_take_unit_codes_in_lower_case(
        site: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    ((pid,),) = query(site, "SELECT id FROM people WHERE external_id='102'")
    assert main(["people", "role", "--person", str(pid), "--unit", "lc-bx-02", "--role",
                 "supervisor"]) == 0
    assert capsys.readouterr().out.strip() == (f"person {pid} in LC-BX-02: officer -> "
                                               "supervisor")
    assert main(["people", "remove", "--person", str(pid), "--unit", " lc-bx-02"]) == 0
    assert capsys.readouterr().out.strip() == (f"removed person {pid} from LC-BX-02 (was "
                                               "supervisor)")
    assert query(site, "SELECT COUNT(*) FROM memberships WHERE person_id=?", pid) == [(0,)]


@pytest.mark.parametrize("argv", [
    ["people", "remove", "--person", "{pid}", "--unit", "LC-BX-02"],
    ["people", "role", "--person", "{pid}", "--unit", "LC-BX-02", "--role", "admin"],
    ["broadcast", "create", "--text", "Họp gấp", "--urgent", "--yes"],
])
def test_a_database_locked_by_another_process_is_one_line_and_changes_nothing(
        site: Path, capsys: pytest.CaptureFixture[str],  # noqa: F811
        monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> None:
    """Another admin's long write (or a backup, or `sqlite3` left in a transaction) holds
    the database longer than the busy timeout."""
    from storage.database import Database

    monkeypatch.setattr(Database, "BUSY_TIMEOUT_MS", 50)
    ((pid,),) = query(site, "SELECT id FROM people WHERE external_id='102'")
    before = query(site, "SELECT * FROM memberships ORDER BY person_id, unit_code")
    holder = sqlite3.connect(site, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        assert main([a.replace("{pid}", str(pid)) for a in argv]) == 1
        assert one_line_error(capsys) == ("error: the database is busy (another program "
                                          "is writing to it): try again")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert query(site, "SELECT * FROM memberships ORDER BY person_id, unit_code") == before
    assert query(site, "SELECT COUNT(*) FROM broadcasts") == [(0,)]


async def test_an_officer_removed_while_answering_is_told_so_and_the_draft_stays(
        tmp_path: Path) -> None:
    """Not "the draft was sent or cancelled" (it was neither): they were taken out of the
    unit; what they answered stays for a colleague."""
    app, admin = await roster_setup(tmp_path)
    lan = await join(app, "lan", "LC-BX-01")
    assert "fanpage" in await open_report(lan)
    await lan.say("có")
    await admin.press(RosterRemoveYes("LC-BX-01", await person_id(app, "lan")).pack())
    assert admin.text.startswith("Đã gỡ")
    await lan.say("12")
    assert lan.text.startswith("Bạn không còn là cán bộ báo cáo của Đoàn xã Bản Vược, nên "
                               "không làm tiếp báo cáo này được."), lan.text
    assert "đã được gửi hoặc hủy" not in lan.text
    (kept,) = await app.storage.drafts_for_units(["LC-BX-01"])
    assert kept.answers == {"co_fanpage": True}


def test_at_in_the_quiet_hours_says_when_it_really_starts(
        site: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    """Quiet hours 21:00-07:00 (the default): 23:30 starts at 07:00 the next morning, and the
    admin is told so instead of "scheduled for 23:30"."""
    assert create("--unit", "Lc-Bx", "lc-bx", "LC-BX", "--text", "Họp giao ban",
                  "--at", "2099-06-01 23:30") == 0
    err = lines(capsys.readouterr().err)
    assert "--at is in the quiet hours: it starts at their end (--urgent sends in them)" in err
    assert err[-1].startswith("scheduled for 2099-06-02 07:00 (local time)"), err
    ((audience,),) = query(site, "SELECT audience FROM broadcasts")
    assert Audience.from_json(str(audience)).units == ("LC-BX",)  # one subtree, once
    assert create("--text", "Khẩn", "--at", "2099-06-01 23:30", "--urgent") == 0
    assert lines(capsys.readouterr().err)[-1].startswith("scheduled for 2099-06-01 23:30")


def test_a_follow_up_to_a_broadcast_not_sent_yet_says_so(
        site: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    """Not "everyone confirmed" for a broadcast that reached nobody yet (or was cancelled)."""
    assert create("--text", "Họp", "--ack", "--at", "2099-06-01 08:00") == 0
    assert main(["broadcast", "follow-up", "1", "--text", "Nhắc", "--yes"]) == 1
    assert one_line_error(capsys) == ("error: broadcast 1 has not been sent (it is "
                                      "scheduled)")
    assert main(["broadcast", "cancel", "1"]) == 0
    assert main(["broadcast", "follow-up", "1", "--text", "Nhắc", "--yes"]) == 1
    assert one_line_error(capsys) == ("error: broadcast 1 has not been sent (it is "
                                      "cancelled)")
    assert query(site, "SELECT COUNT(*) FROM broadcasts") == [(1,)]


def test_a_file_for_someone_on_zalo_goes_to_their_linked_telegram_account(
        site: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:  # noqa: F811
    """Zalo cannot carry the file and its message says it was sent on Telegram: for a person
    who linked a Telegram account (/lienket), it is, there; someone on Zalo alone gets the
    Zalo text."""
    from datetime import UTC, datetime, timedelta

    async def link() -> None:
        app = await build_app(load_config(None))
        try:
            person = await app.storage.find_person("zalo", "103")
            assert person is not None
            now = datetime.now(UTC)
            assert await app.storage.create_link_code(person.id, "LINK1234",
                                                      now + timedelta(hours=1))
            assert await app.storage.redeem_link_code("LINK1234", "telegram", "903", now)
        finally:
            await app.close()

    plan = tmp_path / "ke_hoach.pdf"
    plan.write_bytes(b"%PDF-1.4 ke hoach")
    assert create("--unit", "LC-BX-03", "--document", str(plan), "--text", "Kế hoạch",
                  "--urgent") == 0
    assert query(site, "SELECT channel, chat_id FROM outbox WHERE broadcast_id=1") == [
        ("zalo", "103")]
    asyncio.run(link())
    assert create("--unit", "LC-BX-03", "--document", str(plan), "--text", "Kế hoạch",
                  "--urgent") == 0
    rows = query(site, "SELECT channel, chat_id, payload FROM outbox WHERE broadcast_id=2")
    assert [(r[0], r[1]) for r in rows] == [("telegram", "903")]
    assert '"send_document"' in str(rows[0][2]) and "ke_hoach.pdf" in str(rows[0][2])
    capsys.readouterr()
    assert main(["broadcast", "status", "2", "--json"]) == 0
    assert '"recipients": 1' in capsys.readouterr().out


def test_a_huge_text_file_is_refused_without_reading_it(
        site: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    backup = tmp_path / "sao_luu.txt"
    with backup.open("wb") as f:
        f.truncate(4 * 2**30)  # sparse

    def no_read(self: Path) -> bytes:
        raise AssertionError(f"{self} read whole")

    monkeypatch.setattr(Path, "read_bytes", no_read)
    assert create("--text-file", str(backup), "--urgent") == 1
    assert one_line_error(capsys) == ("error: --text-file is longer than 20000 characters: "
                                      "shorten it, or put a link to the full text in it")


def test_unconfirmed_of_a_broadcast_asking_for_no_confirmation_says_so(
        site: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    """Not "5 recipient(s) have not confirmed" for a broadcast that asked nobody to."""
    assert create("--text", "Lịch họp", "--urgent") == 0
    capsys.readouterr()
    assert main(["broadcast", "unconfirmed", "1"]) == 1
    assert one_line_error(capsys) == ("error: broadcast 1 asks for no confirmation (made "
                                      "without --ack)")
    assert create("--text", "Lịch họp", "--urgent", "--ack") == 0
    capsys.readouterr()
    assert main(["broadcast", "unconfirmed", "2"]) == 0
    assert lines(capsys.readouterr().err)[-1] == "5 recipient(s) have not confirmed"


@pytest.mark.parametrize("action", ["role", "remove"])
async def test_two_admins_demoting_each_other_at_once_leave_one_admin(
        tmp_path: Path, action: str) -> None:
    """Hà and Minh administer LC-BX and press at the same moment: each press was checked
    against the roles read when it arrived; the second must not go through once its admin
    was demoted by the first, or the unit is left with no admin at all."""
    from bot.domain.roles import Role
    from bot.services import roster

    app, _ = await roster_setup(tmp_path)
    await join(app, "minh", "LC-BX", Role.ADMIN)
    ha, minh = await person_id(app, "admin"), await person_id(app, "minh")
    units = {u.code: u for u in await app.storage.list_units()}
    scopes = {p: roster.admin_scope(await app.storage.memberships(p), units.values())
              for p in (ha, minh)}  # both read before either change
    assert await roster.change_role(app.storage, scopes[ha], minh, "LC-BX", Role.OFFICER,
                                    f"person:{ha}", units) == [Role.ADMIN]
    with pytest.raises(roster.Denied) as denied:
        if action == "role":
            await roster.change_role(app.storage, scopes[minh], ha, "LC-BX", Role.OFFICER,
                                     f"person:{minh}", units)
        else:
            await roster.remove(app.storage, scopes[minh], ha, "LC-BX", f"person:{minh}",
                                units)
    assert denied.value.why is roster.Why.NOT_YOURS
    roles = {m.person_id: m.role for m in await app.storage.members(["LC-BX"])}
    assert roles == {ha: Role.ADMIN, minh: Role.OFFICER}


async def test_no_invite_into_a_retired_unit(tmp_path: Path) -> None:
    """A commune merged away stays in the tree (its history): an invite into it would let
    someone join a unit that has nothing to report."""
    from datetime import date

    from bot.domain.roster_buttons import RosterInvite

    app, admin = await roster_setup(tmp_path)
    await app.storage.retire_units(["LC-BX-01"], date(2026, 1, 1), "LC-BX-02")
    await admin.press(RosterInvite("LC-BX-01", "officer").pack())
    assert admin.text.startswith("Đơn vị này đã thôi hoạt động"), admin.text
    assert await app.storage.invites(["LC-BX-01"]) == []
    await admin.press(RosterInvite("LC-BX-02", "officer").pack())
    assert admin.text.startswith("🎟 Mã mời vào")


def test_an_empty_document_is_refused(
        site: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:  # noqa: F811
    empty = tmp_path / "bien_ban.docx"
    empty.touch()
    assert create("--document", str(empty), "--text", "Biên bản", "--urgent") == 1
    assert one_line_error(capsys) == f"error: --document: {empty} is empty"
    assert query(site, "SELECT COUNT(*) FROM broadcasts") == [(0,)]


def test_status_counts_add_up_at_every_step_and_after_pruning(
        site: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    """recipients = delivered + unreachable + failed + pending, counted by person (a long
    text is several rows for one person), while sending, once done, and after the outbox
    rows are pruned."""
    import json

    assert create("--text", "Thông báo dài. " * 600, "--urgent", "--ack") == 0
    by_chat: dict[str, list[int]] = {}
    for rid, chat in query(site, "SELECT id, chat_id FROM outbox WHERE broadcast_id=1 "
                                 "ORDER BY id"):
        by_chat.setdefault(str(chat), []).append(int(str(rid)))
    assert all(len(ids) >= 2 for ids in by_chat.values())  # every person: several parts

    def mark(state: str, ids: list[int]) -> None:
        with sqlite3.connect(site) as conn:
            conn.executemany("UPDATE outbox SET state=? WHERE id=?", [(state, i) for i in ids])

    def status() -> dict[str, int]:
        capsys.readouterr()
        assert main(["broadcast", "status", "1", "--json"]) == 0
        s: dict[str, int] = json.loads(capsys.readouterr().out)
        assert s["recipients"] == (s["delivered"] + s["unreachable"] + s["failed"]
                                   + s["pending"]), s
        return s

    mark("sent", by_chat["101"])
    mark("sent", by_chat["102"][:1])  # one part out, the rest still to go
    mark("unreachable", by_chat["103"])
    mark("failed", by_chat["104"][-1:])
    mark("sent", by_chat["104"][:-1])
    s = status()
    assert (s["delivered"], s["pending"], s["unreachable"], s["failed"]) == (1, 2, 1, 1)
    mark("sent", by_chat["102"] + by_chat["301"])

    async def finish() -> None:
        app = await build_app(load_config(None))
        try:
            from datetime import UTC, datetime
            assert [f.id for f in await app.broadcasts.finish_done(datetime.now(UTC))] == [1]
        finally:
            await app.close()

    asyncio.run(finish())
    done = status()
    assert (done["delivered"], done["pending"], done["unreachable"], done["failed"]) == (
        3, 0, 1, 1)
    with sqlite3.connect(site) as conn:
        conn.execute("DELETE FROM outbox")  # pruned after a week
    assert status() == done


@pytest.mark.parametrize(("argv", "flag"), [
    (["broadcast", "create", "--text", "Th\udcf4ng b\udce1o", "--urgent", "--yes"], "--text"),
    (["people", "list", "--unit", "LC-BX\udcff"], "--unit"),
    (["invite", "revoke", "AB\udcffCD"], "an argument"),
])
def test_text_the_terminal_could_not_decode_is_one_line(
        site: Path, capsys: pytest.CaptureFixture[str], argv: list[str],  # noqa: F811
        flag: str) -> None:
    """A shell in a legacy Vietnamese encoding (TCVN3, VNI) passes bytes that are not UTF-8:
    Python keeps them as surrogates, which SQLite refused with a traceback."""
    assert main(argv) == 1
    assert one_line_error(capsys) == (f"error: {flag} is not UTF-8 text: set the terminal to "
                                      "UTF-8 (or save the text as UTF-8 and give the file)")
    assert query(site, "SELECT COUNT(*) FROM broadcasts") == [(0,)]


def test_a_create_interrupted_while_its_messages_are_written_leaves_nothing(
        site: Path, capsys: pytest.CaptureFixture[str],  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C (or a kill) after the preview, while the rows are rendered: before, the
    broadcast was committed first and started in a second transaction, so it was left
    scheduled and due, no id printed: `baocao run` sent it anyway, and the admin, who saw
    nothing, ran the command again (everyone got it twice). Now: all of it, or nothing."""
    import handlers.zalo.delivery

    def interrupted(*args: object) -> list[dict[str, object]]:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(handlers.zalo.delivery, "render", interrupted)
        assert create("--text", "Họp khẩn", "--urgent") == 130
    assert query(site, "SELECT COUNT(*) FROM broadcasts") == [(0,)]
    assert query(site, "SELECT COUNT(*) FROM outbox WHERE broadcast_id IS NOT NULL") == [(0,)]
    assert query(site, "SELECT COUNT(*) FROM audit WHERE action='broadcast.create'") == [(0,)]
    assert create("--text", "Họp khẩn", "--urgent") == 0
    assert query(site, "SELECT state FROM broadcasts") == [("sending",)]
    assert query(site, "SELECT COUNT(*) FROM broadcast_recipients") == [(5,)]
