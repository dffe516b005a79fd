"""From the user-side review of issue 13: what supervisors, admins and importers did that broke.

Each test failed before its fix."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.config import SHIPPED_REPORTS, load_config
from storage.interface import ReceivedBeforeLatest
from storage.models import ImportedReport
from storage.sqlite import SqliteStorage
from tests.test_cli_admin import configure, errors
from tests.test_submissions_import import GOOD_ROWS, err_lines, run, site, write

__all__ = ["site"]  # the fixture, shared with the import tests

# --- the admin at setup time: a clock time with an offset --------------------------------------

LOCAL_ONLY = ('Value error, give a local time such as "07:30:00" (no time zone: the '
              "config's `timezone` applies)")


@pytest.mark.parametrize(("text", "key"), [
    ("[digests]\nsend_at = 730\n", "digests.send_at"),  # a bare number: seconds in UTC
    ('[digests]\nsend_at = "07:30:00+07:00"\n', "digests.send_at"),
    ("[reminders]\nsend_at = 800\n", "reminders.send_at"),
    ('[reminders]\nquiet_start = "21:00:00Z"\n', "reminders.quiet_start"),
])
def test_a_time_with_an_offset_is_one_line_naming_the_key(
    workdir: Path, capsys: pytest.CaptureFixture[str], text: str, key: str
) -> None:
    """Before: a traceback (an aware time compared with the naive quiet hours)."""
    configure(workdir, text)
    assert main(["check-config"]) == 2
    (line,) = errors(capsys)
    assert line == f"config.toml: {key}: {LOCAL_ONLY}"


def test_a_template_digest_time_with_an_offset_is_one_line(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = workdir / "reports"
    folder.mkdir()
    template = (SHIPPED_REPORTS / "ocop_thanh_nien.toml").read_text(encoding="utf-8")
    (folder / "ocop.toml").write_text(template + '\n[digests]\nsend_at = "07:30:00Z"\n',
                                      encoding="utf-8")
    configure(workdir, '[reports]\ndir = "reports"\n')
    assert main(["check-config"]) == 2
    (line,) = errors(capsys)
    assert line.endswith(f"reports/ocop.toml: digests.send_at: {LOCAL_ONLY}")


# --- submissions import --received: a correction dated before what it corrects ----------------


def first_instants(site: Path) -> list[tuple[int, str, int]]:
    with sqlite3.connect(site / "db.sqlite") as conn:
        return conn.execute("SELECT version, submitted_at, on_time FROM submissions WHERE"
                            " unit_code='LC-BX-01' ORDER BY version").fetchall()


def test_a_backdated_correction_is_refused_and_a_late_report_stays_late(
        site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: `--replace --received` earlier than the version it corrects stored a version 2
    dated before version 1, and the report's first instant (MIN of the versions') then fell
    before the due instant: a late report read as on time."""
    name = write(site, "late.csv", GOOD_ROWS[0])
    assert run(name, "--received", "2026-03-10") == 0  # due 05/03: five days late
    before = first_instants(site)
    assert [(v, on_time) for v, _, on_time in before] == [(1, 0)]
    capsys.readouterr()
    assert run(name, "--replace", "--received", "2026-03-01") == 1
    assert err_lines(capsys) == [
        "late.csv: row 2, column unit: unit LC-BX-01: --received 2026-03-01 is before its "
        "version 1, received 2026-03-10 12:00",
        "nothing imported (1 problem(s))"]
    assert first_instants(site) == before
    assert run(name, "--replace", "--received", "2026-03-10 12:00") == 0  # the same instant
    assert [v for v, *_ in first_instants(site)] == [1, 2]


def test_storage_refuses_a_correction_dated_before_the_latest_version(site: Path) -> None:
    """The race: a version sent after the CLI's check and before its transaction."""
    assert run(write(site, "late.csv", GOOD_ROWS[0]), "--received", "2026-03-10 09:00") == 0
    with sqlite3.connect(site / "db.sqlite") as conn:
        (version,) = conn.execute("SELECT template_version FROM submissions").fetchone()
    config = load_config(site / "config.toml")

    async def go() -> None:
        storage = await SqliteStorage.open(config.storage.path)
        try:
            due = datetime(2026, 3, 4, 17, 0, tzinfo=UTC)
            report = ImportedReport("LC-BX-01", "thu_nghiem", version, "2026-Q1",
                                    {"htx_tong": 3}, due, 2)
            with pytest.raises(ReceivedBeforeLatest) as e:
                await storage.import_submissions([report], datetime(2026, 3, 1, tzinfo=UTC),
                                                 replace=True)
            assert e.value.line == 2 and e.value.latest == datetime(2026, 3, 10, 2, 0,
                                                                    tzinfo=UTC)
        finally:
            await storage.close()

    asyncio.run(go())
    assert [v for v, *_ in first_instants(site)] == [1]


# --- baocao digest of a period not started -----------------------------------------------------


def test_the_digest_of_a_period_not_started_is_refused_not_all_missing(
        site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: every unit listed as missing ("sent 0/7") for a quarter years ahead, as if the
    communes were late; /tonghop in chat already refused it."""
    capsys.readouterr()
    assert main(["digest", "--template", "thu_nghiem", "--period", "2099-Q1", "--unit", "LC",
                 "--json"]) == 1
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.strip() == "error: period 2099-Q1 has not started yet (it starts 2099-01-01)"
    assert main(["digest", "--template", "thu_nghiem", "--period", "2026-Q1", "--unit", "LC",
                 "--json"]) == 0  # a past one still reads


# --- the sweep: one digest that cannot be built holds back no other -----------------------------


async def test_one_broken_digest_does_not_stop_the_others(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: an exception building Bát Xát's digest (anything but DigestError) ended the
    whole sweep, every minute: no supervisor of the province got any digest."""
    import bot.services.digest_sweep as sweep_module
    from tests.harness import Clock
    from tests.test_digest_sweep import LAST_DAY, close, digests_of, ledger, setup, sweeper

    real = sweep_module.build  # type: ignore[attr-defined]

    def broken(inp: Any) -> Any:
        if inp.root == "LC-BX":
            raise ZeroDivisionError("a bug in one district's figures")
        return real(inp)

    clock = Clock(LAST_DAY.astimezone(UTC))
    app, messenger = await setup(tmp_path, clock)
    try:
        monkeypatch.setattr(sweep_module, "build", broken)
        first = await sweeper(app, clock).sweep()
        assert first.sent == 2  # the province's supervisor and admin
        assert len(await digests_of(app, messenger, "tinh")) == 1
        assert len(await digests_of(app, messenger, "qt")) == 1
        assert await digests_of(app, messenger, "bx") == []
        assert [r for r in ledger(tmp_path / "baocao.db") if r[0] == "bx"] == []  # not lost
        monkeypatch.setattr(sweep_module, "build", real)  # fixed: the next sweep sends it
        again = await sweeper(app, clock).sweep()
        assert again.sent == 1
        assert len(await digests_of(app, messenger, "bx")) == 1
        assert len(await digests_of(app, messenger, "tinh")) == 1  # not twice
    finally:
        await close(app)


# --- a return's reason asked, then the supervisor moves on -------------------------------------


async def test_a_reason_asked_is_dropped_when_another_button_is_pressed(tmp_path: Path) -> None:
    """Before: "Trả lại" pressed, then the digest's "⬆ Về …" (or a commune, a page, the
    nudge, "Nhập hộ") pressed instead: the return stayed pending, and whatever the supervisor
    typed next, minutes later, returned the report with that text as its reason and told the
    officers so."""
    from bot.domain.buttons import OpenDigest, OpenReport, ReturnReport
    from bot.domain.roles import Role
    from tests.harness import Clock, join, make_app
    from tests.test_review import KEY, REVIEWED_TEMPLATE, P, T

    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "duyet_thu.toml").write_text(REVIEWED_TEMPLATE, encoding="utf-8")
    app = await make_app(tmp_path, Clock(), reports=folder)
    try:
        officer = await join(app, "o1")
        await officer.press(OpenReport(0, T, P).pack())
        await officer.say("5")
        await officer.say("bỏ qua")
        await officer.press_label("Gửi báo cáo")
        boss = await join(app, "s1", unit="LC-BX", role=Role.SUPERVISOR)
        await boss.press(ReturnReport(*KEY, 1).pack())
        assert "Gõ lý do trả lại" in boss.text
        await boss.press(OpenDigest("LC-BX", T, P).pack())  # changed their mind: the digest
        assert "Báo cáo quý có duyệt" in boss.text
        await boss.say("12")  # e.g. a figure meant for something else
        assert "Đã trả lại" not in boss.text
        assert await app.storage.review_states(T, P) == {}
        await officer.cmd("trangthai")
        assert "bị trả lại" not in officer.text
    finally:
        await app.close()


@pytest.mark.parametrize("typed", ["1", "...", "👍", "12/3", "🙏🙏 !!"])
async def test_a_reason_without_a_word_is_asked_again(tmp_path: Path, typed: str) -> None:
    """Before: "1" (a number typed on Zalo for a button of the previous message), "👍" or
    "..." returned the report, the officers told the reason was "1"."""
    from bot.domain.buttons import OpenReport, ReturnReport
    from bot.domain.roles import Role
    from tests.harness import Clock, join, make_app
    from tests.test_review import KEY, REVIEWED_TEMPLATE, P, T

    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "duyet_thu.toml").write_text(REVIEWED_TEMPLATE, encoding="utf-8")
    app = await make_app(tmp_path, Clock(), reports=folder)
    try:
        officer = await join(app, "o1")
        await officer.press(OpenReport(0, T, P).pack())
        await officer.say("5")
        await officer.say("bỏ qua")
        await officer.press_label("Gửi báo cáo")
        boss = await join(app, "s1", unit="LC-BX", role=Role.SUPERVISOR)
        await boss.press(ReturnReport(*KEY, 1).pack())
        await boss.say(typed)
        assert "Lý do trả lại cần viết bằng chữ" in boss.text and "Gõ lý do" in boss.text
        assert await app.storage.review_states(T, P) == {}
        await boss.say("Thiếu số liệu tháng 3 😅")  # words (with an emoji) are a reason
        assert "↩️ Đã trả lại" in boss.text
        assert await app.storage.review_states(T, P) == {"LC-BX-01": "returned"}
    finally:
        await app.close()


# --- submissions import: a comma inside an unquoted cell ---------------------------------------


def test_a_row_with_more_cells_than_the_header_is_refused(
        site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: "Thiếu vốn, thiếu người" typed unquoted in the last column split in two, and
    "thiếu người" was dropped without a word (in a middle column every later value shifted)."""
    from tests.test_submissions_import import HEADER

    row = GOOD_ROWS[0].replace("Thiếu vốn", "Thiếu vốn, thiếu người")
    assert row.endswith(",Thiếu vốn, thiếu người")
    capsys.readouterr()
    assert run(write(site, "comma.csv", row, GOOD_ROWS[1] + ",,")) == 1  # empty extras: fine
    assert err_lines(capsys) == [
        f"comma.csv: row 2: {HEADER.count(',') + 2} cells but the header has "
        f"{HEADER.count(',') + 1} columns ('thiếu người' has no column): a comma inside a cell?"
        " put that cell in double quotes",
        "nothing imported (1 problem(s))"]
    with sqlite3.connect(site / "db.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM submissions").fetchone() == (0,)
    assert run(write(site, "quoted.csv", row.replace("Thiếu vốn, thiếu người",
                                                     '"Thiếu vốn, thiếu người"'))) == 0


def test_a_quote_never_closed_is_refused_not_swallowing_the_next_rows(
        site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: a double quote opened and never closed (a file cut short, a slip) took every
    later row into that cell: LC-BX-02's report vanished into LC-BX-01's "kho_khan" text and
    the import said OK for one report."""
    row = GOOD_ROWS[0].replace("Thiếu vốn", '"Thiếu vốn')
    capsys.readouterr()
    assert run(write(site, "cut.csv", row, GOOD_ROWS[1])) == 1
    assert err_lines(capsys) == [
        "cut.csv: line 2: unexpected end of data (a double quote not closed? the "
        "file may be cut short)", "nothing imported (1 problem(s))"]
    with sqlite3.connect(site / "db.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM submissions").fetchone() == (0,)


@pytest.mark.parametrize("typed", ["tra lai", "Trả lại", "Duyệt", "duyet!"])
async def test_a_button_word_typed_as_the_reason_is_asked_again(tmp_path: Path,
                                                               typed: str) -> None:
    """Before (Zalo, buttons typed): "trả lại" sent twice by a slow phone, or "duyệt" typed on
    a change of mind, returned the report with "trả lại" / "Duyệt" as its reason."""
    from bot.domain.buttons import OpenReport, ViewSubmission
    from bot.domain.roles import Role
    from tests.harness import Clock, join, make_app
    from tests.test_review import KEY, REVIEWED_TEMPLATE, P, T

    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "duyet_thu.toml").write_text(REVIEWED_TEMPLATE, encoding="utf-8")
    app = await make_app(tmp_path, Clock(), reports=folder)
    try:
        officer = await join(app, "o1")
        await officer.press(OpenReport(0, T, P).pack())
        await officer.say("5")
        await officer.say("bỏ qua")
        await officer.press_label("Gửi báo cáo")
        boss = await join(app, "s1", unit="LC-BX", role=Role.SUPERVISOR)
        await boss.press(ViewSubmission(*KEY).pack())
        await boss.say("trả lại")
        assert "Gõ lý do trả lại" in boss.text
        await boss.say(typed)
        assert "là tên một nút, không phải lý do trả lại" in boss.text, boss.text
        assert await app.storage.review_states(T, P) == {}
        await boss.cmd("huy")
        assert "Đã thôi trả lại" in boss.text
        await officer.cmd("trangthai")
        assert "bị trả lại" not in officer.text
    finally:
        await app.close()
