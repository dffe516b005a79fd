"""The digest read from a real SQLite file (bot/services/digests.py) and `baocao digest`."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.cli import main
from bot.domain.periods import Period
from bot.domain.reports import window
from bot.domain.roles import Role
from bot.domain.templates import Level, Template, load_templates
from bot.domain.units import Unit
from bot.services.digests import digest, wanted_periods
from storage.models import Changes, Invite, Review, StartDraft, Submit
from storage.sqlite import SqliteStorage

VN = ZoneInfo("Asia/Ho_Chi_Minh")
MARCH = Period.parse("2026-03")
TOML = """id = "tong_hop"
title = "Báo cáo tháng"
period = "month"
deadline = "trước ngày 05 tháng sau"
applies_to = { levels = ["xa"] }

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

[[questions]]
id = "htx_moi"
text = "HTX mới"
type = "integer"
unit = "HTX"

[[targets]]
question = "htx_moi"
value = 10
label = "HTX mới ≥ 10"
"""
UNITS = [Unit("P", "Tỉnh", None, Level.TINH), Unit("D1", "Huyện 1", "P", Level.HUYEN),
         Unit("D2", "Huyện 2", "P", Level.HUYEN), Unit("A", "Xã A", "D1", Level.XA),
         Unit("B", "Xã B", "D1", Level.XA), Unit("C", "Xã C", "D2", Level.XA)]


def load(folder: Path) -> Template:
    (folder / "reports").mkdir(exist_ok=True)
    (folder / "reports" / "tong_hop.toml").write_text(TOML, encoding="utf-8")
    templates, problems = load_templates(folder / "reports")
    assert not problems
    return templates["tong_hop"]


async def send(storage: SqliteStorage, t: Template, person: int, unit: str, period: Period,
               at: datetime, **answers: Any) -> None:
    """A report sent through the storage API, as the dialogue sends it."""
    version = (await storage.sync_templates([t]))[t.id]
    sent = await storage.get_submission(unit, t.id, period.id)
    reopened = sent.version if sent else None  # a second send is a correction of the first
    await storage.apply(Changes(actor=person, ops=[StartDraft(
        unit, t.id, version, period.id, reopened_from=reopened)]))
    draft = await storage.find_draft(unit, t.id, period.id)
    assert draft is not None
    due = window(t, period, VN, 10).due
    await storage.apply(Changes(actor=person, ops=[Submit(
        draft.id, unit, t.id, version, period.id, answers, at, due, at < due,
        replaces=reopened)]))


async def seed(db: Path, t: Template) -> datetime:
    """A sent on time then corrected late, B sent late, C a draft; February for the previous
    figures. Returns March's due instant."""
    storage = await SqliteStorage.open(db)
    try:
        await storage.upsert_units(UNITS)
        await storage.sync_templates([t])
        await storage.create_invite(Invite("INV-A", "A", Role.OFFICER, 5))
        person, _ = await storage.redeem_invite("INV-A", "telegram", "100", "An",
                                                datetime(2026, 1, 1, tzinfo=VN))
        due = window(t, MARCH, VN, 10).due
        feb = Period.parse("2026-02")
        await send(storage, t, person.id, "A", feb, due - timedelta(days=40), htx_moi=2,
                   to_kha=1, so_to=4)
        await send(storage, t, person.id, "A", MARCH, due - timedelta(days=1), htx_moi=1,
                   to_kha=1, so_to=10)
        await send(storage, t, person.id, "A", MARCH, due + timedelta(days=1), htx_moi=3,
                   to_kha=9, so_to=10)  # a correction after the due instant
        await send(storage, t, person.id, "B", MARCH, due, htx_moi=4, to_kha=1, so_to=90)
        version = (await storage.sync_templates([t]))[t.id]
        await storage.apply(Changes(actor=person.id, ops=[
            StartDraft("C", t.id, version, MARCH.id, answers={"so_to": 3})]))
        return due
    finally:
        await storage.close()


async def test_the_digest_from_a_real_database(tmp_path: Path) -> None:
    t = load(tmp_path)
    due = await seed(tmp_path / "baocao.db", t)
    storage = await SqliteStorage.open(tmp_path / "baocao.db")
    try:
        subs = await storage.subtree_submissions(t.id, "D1", wanted_periods(t, MARCH))
        latest = {(s.unit_code, s.period): s for s in subs}
        assert set(latest) == {("A", "2026-02"), ("A", "2026-03"), ("B", "2026-03")}
        a = latest[("A", "2026-03")]
        assert (a.version, a.on_time, a.answers["htx_moi"]) == (2, True, 3)  # first was on time
        assert a.first_submitted_at == due - timedelta(days=1)
        assert await storage.subtree_submissions(t.id, "D2", ["2026-03"]) == []

        d = await digest(storage, t, MARCH, "P", due + timedelta(hours=30), VN, 10)
    finally:
        await storage.close()
    c = d.completeness
    assert (c.expected, c.actual, c.on_time) == (3, 2, 1)
    assert c.late_units == ("B",) and c.missing_units == ("C",)
    assert c.missing[0].overdue_days == 2
    assert [(p.unit, p.answered, p.total) for p in c.in_progress] == [("C", 1, 3)]
    assert c.no_officer == ("B", "C")
    fig = {f.question: f for f in d.figures}
    # the corrected 3 + B's 4; February's 2 beside it
    assert (fig["htx_moi"].value, fig["htx_moi"].previous) == (Fraction(7), Fraction(2))
    assert fig["to_kha"].value == 10  # (9 + 1) / (10 + 90)
    assert [(tl.value, tl.met) for tl in d.targets] == [(Fraction(7), False)]
    assert [k.unit for k in d.children] == ["D1", "D2"]


# --- the command ------------------------------------------------------------------------------


@pytest.fixture
def site(workdir: Path) -> Path:
    """A config, the template, and a seeded database; returns the config file."""
    t = load(workdir)
    asyncio.run(seed(workdir / "baocao.db", t))
    config = workdir / "config.toml"
    config.write_text(f'[storage]\npath = "{workdir / "baocao.db"}"\n\n[reports]\n'
                      f'dir = "{workdir / "reports"}"\n', encoding="utf-8")
    return config


def digest_args(config: Path, *extra: str, template: str = "tong_hop", period: str = "2026-03",
                unit: str = "P") -> list[str]:
    return ["--config", str(config), "digest", "--template", template, "--period", period,
            "--unit", unit, *extra]


def test_cli_json_has_exactly_the_keys(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(digest_args(site, "--json")) == 0
    out = json.loads(capsys.readouterr().out)
    keys = ["template", "period", "unit", "expected", "actual", "on_time", "completeness",
            "timeliness", "missing", "late", "figures", "targets", "children"]
    assert sorted(out) == sorted(keys)
    assert (out["expected"], out["actual"], out["on_time"]) == (3, 2, 1)
    assert out["completeness"] == pytest.approx(2 / 3) and out["timeliness"] == pytest.approx(
        1 / 3)
    assert (out["missing"], out["late"]) == (["C"], ["B"])
    assert out["figures"]["htx_moi"] == {"value": 7, "aggregation": "sum", "previous": 2}
    assert out["targets"] == [{"question": "htx_moi", "target": 10, "value": 7, "met": False,
                               "label": "HTX mới ≥ 10"}]
    d1, d2 = out["children"]
    assert sorted(d1) == sorted(k for k in keys if k not in ("template", "period", "children"))
    assert (d1["unit"], d1["actual"], d2["unit"], d2["missing"]) == ("D1", 2, "D2", ["C"])


def test_cli_text(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(digest_args(site, unit="d1")) == 0  # codes in any case
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Báo cáo tháng (tong_hop) — 2026-03 (Tháng 3/2026) — Huyện 1 (D1)"
    assert out[1] == "sent 2/2 (100%), on time 1 (50%)"
    assert "late (1): B (1 day late)" in out
    assert "  htx_moi: 7 HTX [sum, 2 units] previous 2" in out
    assert out[-2:] == ["  A Xã A: sent 1/1 (100%), on time 1, missing 0",
                        "  B Xã B: sent 1/1 (100%), on time 0, missing 0"]


@pytest.mark.parametrize(("args", "message"), [
    ({"template": "khong_co"}, "error: unknown template 'khong_co'"),
    ({"unit": "ZZ"}, "error: unknown unit ZZ"),
    ({"period": "2026-13"}, "error: no month 13 in 2026"),
    ({"period": "2026-W10"}, "error: template tong_hop asks for no report on 2026-W10"),
    ({"period": "2099-01"}, "error: period 2099-01 has not started yet (it starts "
                            "2099-01-01)"),
])
def test_cli_errors_are_one_line(site: Path, capsys: pytest.CaptureFixture[str],
                                 args: dict[str, str], message: str) -> None:
    assert main(digest_args(site, **args)) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(message) and "\n" not in err


def test_cli_never_creates_a_database(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    load(workdir)
    config = workdir / "config.toml"
    config.write_text(f'[storage]\npath = "{workdir / "none.db"}"\n\n[reports]\n'
                      f'dir = "{workdir / "reports"}"\n', encoding="utf-8")
    assert main(digest_args(config)) == 1
    assert capsys.readouterr().err.startswith(f"error: no database at {workdir / 'none.db'}")
    assert not (workdir / "none.db").exists()


async def test_reads_are_kept_until_a_report_is_sent(tmp_path: Path) -> None:
    from bot.services.digests import Reads

    t = load(tmp_path)
    due = await seed(tmp_path / "baocao.db", t)
    storage = await SqliteStorage.open(tmp_path / "baocao.db")
    try:
        reads = Reads(size=1)
        periods = wanted_periods(t, MARCH)
        first = await reads.read(storage, t.id, "P", periods)
        assert await reads.read(storage, t.id, "P", periods) is first  # nothing sent since
        person = (await storage.unit_people("A", Role.OFFICER))[0]
        await send(storage, t, person.id, "C", MARCH, due + timedelta(days=3), htx_moi=5,
                   to_kha=0, so_to=3)
        again = await reads.read(storage, t.id, "P", periods)
        assert again is not first and {s.unit_code for s in again} == {"A", "B", "C"}
        d = await digest(storage, t, MARCH, "P", due + timedelta(days=4), VN, 10,
                         cache=reads)
        assert d.completeness.actual == 3 and d.completeness.late_units == ("B", "C")
        await reads.read(storage, t.id, "D1", periods)  # another subtree: the first goes
        assert await reads.read(storage, t.id, "P", periods) is not again
    finally:
        await storage.close()


async def test_a_returned_report_counts_as_not_sent_until_sent_again(tmp_path: Path) -> None:
    """With review = true, B's report returned for correction is missing from completeness
    and figures (the review's state of its latest version); an approved one counts."""
    t = load(tmp_path)
    (tmp_path / "reports" / "tong_hop.toml").write_text("review = true\n" + TOML,
                                                        encoding="utf-8")
    t = load_templates(tmp_path / "reports")[0]["tong_hop"]
    assert t.review
    due = await seed(tmp_path / "baocao.db", t)
    storage = await SqliteStorage.open(tmp_path / "baocao.db")
    try:
        boss = (await storage.all_people())[0].id
        await storage.record_review(boss, Review("B", t.id, MARCH.id, 1, "return", "Sai số tổ"))
        await storage.record_review(boss, Review("A", t.id, MARCH.id, 2, "approve"))
        d = await digest(storage, t, MARCH, "P", due + timedelta(hours=30), VN, 10)
    finally:
        await storage.close()
    c = d.completeness
    assert (c.expected, c.actual, c.on_time) == (3, 1, 1)
    assert c.missing_units == ("B", "C") and c.late_units == ()
    assert {f.question: f.value for f in d.figures}["htx_moi"] == 3  # A's alone


async def test_the_subtree_read_picks_each_reports_latest_version_and_first_sending(
        tmp_path: Path) -> None:
    """Random corrections (versions 1-3, some reports without a version 1, some answers only
    as rows): each report's latest version, with the first version's on-time flag and the
    earliest sending, against the rows themselves."""
    import random
    import sqlite3

    t = load(tmp_path)
    storage = await SqliteStorage.open(tmp_path / "baocao.db")
    rng = random.Random(13)
    try:
        await storage.upsert_units(UNITS)
        version = (await storage.sync_templates([t]))[t.id]
        rows: list[tuple[Any, ...]] = []
        start = datetime(2026, 4, 1, tzinfo=VN)
        for unit in ("A", "B", "C"):
            for period in ("2026-01", "2026-02", "2026-03"):
                first = rng.choice([1, 1, 1, 2])
                for v in range(first, first + rng.randint(0, 2) + 1):
                    at = start + timedelta(hours=rng.randint(0, 500))
                    rows.append((len(rows) + 1, unit, period, v, at.isoformat(),
                                 rng.random() < 0.5, {"htx_moi": rng.randint(0, 9)},
                                 rng.random() < 0.3))

        def write(conn: sqlite3.Connection) -> None:
            for sid, unit, period, v, at, on_time, answers, as_rows in rows:
                conn.execute(
                    "INSERT INTO submissions (id, unit_code, template_id, template_version,"
                    " period, version, submitted_by, submitted_at, due_at, on_time,"
                    " answers_json) VALUES (?,?,?,?,?,?,NULL,?,?,?,?)",
                    (sid, unit, t.id, version, period, v, at, start.isoformat(), on_time,
                     None if as_rows else json.dumps(answers)))
                if as_rows:
                    conn.execute("INSERT INTO submission_answers (submission_id, question_id,"
                                 " value) VALUES (?, 'htx_moi', ?)",
                                 (sid, json.dumps(answers["htx_moi"])))

        await storage.db.write(write)
        got = await storage.subtree_submissions(t.id, "D1", ["2026-02", "2026-03"])
    finally:
        await storage.close()
    expected = []
    for unit in ("A", "B"):  # D1's communes
        for period in ("2026-02", "2026-03"):
            versions = [r for r in rows if r[1] == unit and r[2] == period]
            latest = max(versions, key=lambda r: r[3])
            ones = [r for r in versions if r[3] == 1]
            expected.append((latest[0], unit, period, latest[3], latest[6],
                             bool(ones and ones[0][5]),
                             min(datetime.fromisoformat(r[4]) for r in versions),
                             datetime.fromisoformat(latest[4])))
    assert [(s.id, s.unit_code, s.period, s.version, s.answers, s.on_time,
             s.first_submitted_at, s.submitted_at) for s in got] == expected
    assert any(s.version > 1 for s in got) and any(not s.on_time for s in got)


@pytest.mark.parametrize("answers", [
    {"htx_moi": 10 ** 30, "so_to": 0.1, "to_kha": -0.0},
    {"htx_moi": 2.5e-308, "ghi_chu": "Xã \u1ea1 \"ổn\"", "co": True, "khac": None},
    {"ghi_chu": "\ud800 a lone surrogate, as json.dumps writes it"},  # the fallback parser
])
async def test_the_subtree_read_gives_the_answers_as_json_loads_reads_them(
        tmp_path: Path, answers: dict[str, Any]) -> None:
    import sqlite3

    t = load(tmp_path)
    storage = await SqliteStorage.open(tmp_path / "baocao.db")
    try:
        await storage.upsert_units(UNITS)
        version = (await storage.sync_templates([t]))[t.id]
        text = json.dumps(answers)

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO submissions (unit_code, template_id, template_version, period,"
                " version, submitted_at, due_at, on_time, answers_json)"
                " VALUES ('A', ?, ?, '2026-03', 1, ?, ?, 1, ?)",
                (t.id, version, "2026-04-01T01:00:00+00:00", "2026-04-04T17:00:00+00:00",
                 text))

        await storage.db.write(write)
        [s] = await storage.subtree_submissions(t.id, "P", ["2026-03"])
    finally:
        await storage.close()
    assert s.answers == json.loads(text)
    assert [type(v) for v in s.answers.values()] == [type(v) for v in answers.values()]
    assert str(s.answers.get("to_kha")) == str(answers.get("to_kha"))  # -0.0 stays -0.0
