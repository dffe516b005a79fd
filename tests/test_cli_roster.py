"""`baocao invite list|revoke` and `baocao people list|remove|role` on a real SQLite file: what
they print, the audit rows they write, and one-line errors naming the flag or the code."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import main
from storage.sqlite import SqliteStorage
from tests.test_cli_admin import configure, errors

UNITS = ("code,name,parent_code,level\nLC,Tỉnh đoàn Lào Cai,,tinh\nLC-01,Đoàn xã A,LC,xa\n"
         "LC-02,Đoàn xã B,LC,xa\n")


def invite(capsys: pytest.CaptureFixture[str], unit: str, role: str = "officer") -> str:
    assert main(["invite", "create", "--unit", unit, "--role", role]) == 0
    return capsys.readouterr().out.split()[0]


def redeem(db: Path, code: str, user: str, name: str) -> int:
    async def go() -> int:
        storage = await SqliteStorage.open(db)
        try:
            person, _ = await storage.redeem_invite(code, "telegram", user, name,
                                                    datetime.now(UTC))
            return person.id
        finally:
            await storage.close()

    return asyncio.run(go())


def audit(db: Path) -> list[dict[str, object]]:
    async def go() -> list[dict[str, object]]:
        storage = await SqliteStorage.open(db)
        try:
            return await storage.audit_log(100)
        finally:
            await storage.close()

    return asyncio.run(go())


@pytest.fixture
def site(workdir: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    configure(workdir)
    (workdir / "u.csv").write_text(UNITS, encoding="utf-8")
    assert main(["units", "import", "u.csv"]) == 0
    capsys.readouterr()
    return workdir / "db.sqlite"


def test_invites_are_listed_and_revoked(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = invite(capsys, "LC-01")
    b = invite(capsys, "LC-02", "supervisor")
    assert main(["invite", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["code"] for r in rows} == {a, b}
    assert all(r["state"] == "open" and r["created_by"] == "cli" for r in rows)
    assert main(["invite", "list", "--unit", "LC-02"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(f"{b}  LC-02  supervisor  used 0/1  expires ") and line.endswith("open")
    assert main(["invite", "revoke", a.lower()]) == 0
    assert capsys.readouterr().out == f"revoked {a} (unit LC-01, role officer)\n"
    assert main(["invite", "list", "--json"]) == 0
    assert [r["code"] for r in json.loads(capsys.readouterr().out)] == [b]
    assert main(["invite", "list", "--all", "--json"]) == 0
    states = {r["code"]: r["state"] for r in json.loads(capsys.readouterr().out)}
    assert states == {a: "revoked", b: "open"}
    assert main(["invite", "revoke", a]) == 1
    assert errors(capsys) == [f"error: invite {a} is revoked already"]
    assert main(["invite", "revoke", "ZZZZZZZZ"]) == 1
    assert errors(capsys) == ["error: no invite 'ZZZZZZZZ' (see `baocao invite list --all`)"]
    assert main(["invite", "list", "--unit", "NOPE"]) == 1
    assert errors(capsys) == ["error: --unit: unknown unit 'NOPE' (see `baocao units list`)"]
    revoked = [r for r in audit(site) if r["action"] == "invite.revoke"]
    assert len(revoked) == 1 and revoked[0]["actor"] == "cli"


def test_people_are_listed_their_role_changed_and_removed(
        site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lan = redeem(site, invite(capsys, "LC-01"), "11", "Lan")
    minh = redeem(site, invite(capsys, "LC-01", "admin"), "12", "Minh")
    redeem(site, invite(capsys, "LC-02"), "13", "Tuấn")
    assert main(["people", "list", "--unit", "LC-01", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["person"], r["name"], r["role"], r["channels"], r["reachable"]) for r in rows] == [
        (lan, "Lan", "officer", ["telegram"], True), (minh, "Minh", "admin", ["telegram"], True)]
    assert all(r["last_active"] is not None for r in rows)  # joining is activity
    assert main(["people", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and out[0].startswith(f"{lan}  Lan  LC-01  officer  telegram  last "
                                               "active 2")
    assert main(["people", "role", "--person", str(lan), "--unit", "LC-01",
                 "--role", "supervisor"]) == 0
    assert capsys.readouterr().out == f"person {lan} in LC-01: officer -> supervisor\n"
    assert main(["people", "remove", "--person", str(minh), "--unit", "LC-01"]) == 0
    assert capsys.readouterr().out == f"removed person {minh} from LC-01 (was admin)\n"
    assert main(["people", "list", "--unit", "LC-01", "--json"]) == 0
    assert [(r["person"], r["role"]) for r in json.loads(capsys.readouterr().out)] == [
        (lan, "supervisor")]
    assert main(["people", "remove", "--person", str(minh), "--unit", "LC-01"]) == 1
    assert errors(capsys) == [f"error: --person {minh} is not in unit LC-01 (see `baocao "
                              "people list --unit LC-01`)"]
    assert main(["people", "role", "--person", str(lan), "--unit", "LC-09",
                 "--role", "admin"]) == 1
    assert errors(capsys) == ["error: --unit: unknown unit 'LC-09' (see `baocao units list`)"]
    changes = [(r["actor"], r["action"], r["entity"]) for r in audit(site)
               if str(r["action"]).startswith("member.")]
    assert changes == [("cli", "member.remove", f"person:{minh}"),
                       ("cli", "member.role", f"person:{lan}")]


def test_bad_arguments_are_one_line(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["people", "remove", "--person", "abc", "--unit", "LC-01"])
    assert "--person: invalid int value: 'abc'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["people", "role", "--person", "1", "--unit", "LC-01", "--role", "king"])
    assert "--role: invalid choice: 'king'" in capsys.readouterr().err
