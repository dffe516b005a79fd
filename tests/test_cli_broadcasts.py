"""`baocao broadcast …`: create (preview, confirmation, id), status, list, cancel, unconfirmed,
follow-up; one-line errors naming the flag. The command only writes: rows wait in the outbox
for `baocao run`."""

from __future__ import annotations

import asyncio
import io
import json
import re
import sqlite3
from pathlib import Path

import pytest

from bot.app import build_app
from bot.cli import main
from bot.config import load_config
from bot.domain.roles import Role
from bot.domain.units import check_import
from bot.services.invites import create_invite
from bot.unit_files import read_unit_rows
from tests.harness import TEST_TEMPLATE, Chat, legacy_units_path

LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ ")
FUTURE = "2099-06-01 08:00"  # a Monday morning, outside the quiet hours


def lines(text: str) -> list[str]:
    return [x for x in text.strip().splitlines() if not LOG_LINE.match(x)]


@pytest.fixture
def site(workdir: Path) -> Path:
    """A config, the legacy tree, officers of LC-BX's three communes (one on Zalo) and of
    LC-SP-01, and a district admin."""
    reports = workdir / "reports"
    reports.mkdir()
    (reports / "thu_nghiem.toml").write_text(TEST_TEMPLATE, encoding="utf-8")
    db = workdir / "db.sqlite"
    (workdir / "config.toml").write_text(
        f'[storage]\npath = "{db}"\n[reports]\ndir = "{reports}"\n', encoding="utf-8")

    async def setup() -> None:
        app = await build_app(load_config(None))
        try:
            units, errors = check_import(read_unit_rows(legacy_units_path()), {})
            assert not errors
            await app.storage.upsert_units(units)
            for uid, unit, role, channel in [
                    ("101", "LC-BX-01", Role.OFFICER, "telegram"),
                    ("102", "LC-BX-02", Role.OFFICER, "telegram"),
                    ("103", "LC-BX-03", Role.OFFICER, "zalo"),
                    ("104", "LC-SP-01", Role.OFFICER, "telegram"),
                    ("301", "LC-BX", Role.ADMIN, "telegram")]:
                invite = await create_invite(app.storage, unit, role, 1, 7,
                                             app.reporting.clock())
                chat = Chat(app, uid, channel=channel)
                await chat.cmd("start", invite.code)
                assert "Bạn đã tham gia" in chat.text
        finally:
            await app.close()

    asyncio.run(setup())
    return db


def query(db: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def test_create_with_yes_queues_rows_and_prints_the_id(
        site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["broadcast", "create", "--unit", "lc-bx", "--role", "officer", "--text",
                 "Hạn báo cáo 6 tháng lùi đến ngày 10/6", "--urgent", "--ack", "--yes"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == "1"
    assert "people: 3 in 3 unit(s)" in err and "by channel: 2 on telegram, 1 on zalo" in err
    assert "queued for 3 people" in err
    rows = query(site, "SELECT state, priority, chat_id FROM outbox WHERE broadcast_id=1")
    assert sorted(str(r[2]) for r in rows) == ["101", "102", "103"]
    assert {r[0] for r in rows} == {"pending"} and {r[1] for r in rows} == {2}
    assert query(site, "SELECT state FROM broadcasts") == [("sending",)]
    audit = query(site, "SELECT actor, entity, details FROM audit WHERE"
                        " action='broadcast.create'")
    assert audit[0][:2] == ("cli", "broadcast:1")
    assert json.loads(str(audit[0][2]))["audience"] == {"units": ["LC-BX"],
                                                       "roles": ["officer"]}


def test_create_asks_and_refuses_without_a_terminal(
        site: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal
    assert main(["broadcast", "create", "--text", "x", "--urgent"]) == 1
    err = lines(capsys.readouterr().err)
    assert err[-1] == "error: not confirmed: add --yes to send without being asked"
    assert "people: 5 in 5 unit(s)" in err  # the preview came first
    assert query(site, "SELECT COUNT(*) FROM broadcasts") == [(0,)]

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    assert main(["broadcast", "create", "--text", "x", "--urgent"]) == 1
    assert "not confirmed" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    assert main(["broadcast", "create", "--unit", "LC-SP", "--text", "x", "--urgent"]) == 0
    assert capsys.readouterr().out.strip() == "1"


@pytest.mark.parametrize(("argv", "expected"), [
    (["--unit", "NOPE", "--text", "x"], "error: unknown unit 'NOPE'"),
    (["--text", "   "], "error: --text is empty"),
    (["--text", "x", "--at", "2001-01-01 08:00"], "error: --at: 2001-01-01 08:00 is in the past"),
    (["--text", "x", "--missing", "khong_co:2026-Q1"], "error: unknown report khong_co:2026-Q1"),
    (["--text", "x", "--photo", "nope.png"], "error: --photo: cannot read nope.png"),
    (["--text-file", "nope.txt"], "error: --text-file: cannot read nope.txt"),
    (["--unit", "LC-BX", "--level", "tinh", "--text", "x"],
     "error: nobody matches this audience: nothing created"),
])
def test_create_errors_are_one_line(site: Path, capsys: pytest.CaptureFixture[str],
                                    argv: list[str], expected: str) -> None:
    assert main(["broadcast", "create", *argv, "--yes"]) == 1
    err = lines(capsys.readouterr().err)
    assert err[-1].startswith(expected), err
    assert not any("Traceback" in x for x in err)
    assert query(site, "SELECT COUNT(*) FROM broadcasts") == [(0,)]


def test_bad_flag_values_name_the_flag(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv, flag in [(["--level", "nope"], "--level"), (["--missing", "abc"], "--missing"),
                       (["--at", "tomorrow"], "--at"), (["--role", "boss"], "--role")]:
        with pytest.raises(SystemExit) as exit_:
            main(["broadcast", "create", "--text", "x", *argv])
        assert exit_.value.code == 2
        assert f"argument {flag}" in capsys.readouterr().err


def test_scheduled_status_list_cancel(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = site.parent / "thong_bao.txt"
    text.write_text("Họp giao ban\nlúc 8 giờ", encoding="utf-8")
    assert main(["broadcast", "create", "--unit", "LC-SP", "--text-file", str(text), "--at",
                 FUTURE, "--yes"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == "1" and "scheduled for 2099-06-01 08:00" in err
    assert query(site, "SELECT text FROM broadcasts") == [("Họp giao ban\nlúc 8 giờ",)]
    assert main(["broadcast", "status", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "id": 1, "state": "scheduled", "recipients": 0, "delivered": 0, "unreachable": 0,
        "failed": 0, "pending": 0, "acknowledged": 0}
    assert main(["broadcast", "list"]) == 0
    listed = capsys.readouterr().out
    assert "#1  scheduled  2099-06-01 08:00" in listed and "Họp giao ban" in listed
    assert main(["broadcast", "cancel", "1"]) == 0
    assert main(["broadcast", "cancel", "1"]) == 1
    assert lines(capsys.readouterr().err)[-1] == (
        "error: broadcast 1 cannot be cancelled: it is cancelled (only a scheduled broadcast "
        "can)")
    assert main(["broadcast", "status", "9"]) == 1
    assert lines(capsys.readouterr().err)[-1] == "error: no broadcast 9"


def test_status_unconfirmed_and_follow_up(site: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["broadcast", "create", "--unit", "LC-BX", "--role", "officer", "--text",
                 "Kế hoạch mới", "--ack", "--urgent", "--yes"]) == 0
    capsys.readouterr()
    with sqlite3.connect(site) as conn:  # the sender delivered to 101 and 102; 101 confirmed
        conn.execute("UPDATE outbox SET state='sent' WHERE chat_id IN ('101', '102')")
        conn.execute("INSERT INTO broadcast_acks SELECT 1, id, '2026-01-01' FROM people"
                     " WHERE external_id='101'")
    assert main(["broadcast", "status", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "id": 1, "state": "sending", "recipients": 3, "delivered": 2, "unreachable": 0,
        "failed": 0, "pending": 1, "acknowledged": 1}
    assert main(["broadcast", "unconfirmed", "1"]) == 0
    out, err = capsys.readouterr()
    assert [x.split("\t")[0] for x in out.strip().splitlines()] == ["LC-BX-02", "LC-BX-03"]
    assert "2 recipient(s) have not confirmed" in err
    assert main(["broadcast", "follow-up", "1", "--text", "Nhắc lại", "--yes"]) == 0
    assert capsys.readouterr().out.strip() == "2"
    assert sorted(str(r[0]) for r in query(site, "SELECT chat_id FROM outbox WHERE "
                                      "broadcast_id=2")) == ["102", "103"]
