"""A report imported from a file (`baocao submissions import`, another process) while an
officer's draft of it is open: the officer's send must never silently replace the imported
figures. The storage refuses a first report when one exists (and a correction of a version that
is no longer the latest); the import turns the draft into a correction of what it stored; the
officer is told, shown the summary, and sends a correction knowingly."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import App
from storage.interface import ReportSentMeanwhile
from storage.models import Changes, ImportedReport, SaveAnswer, Submit
from tests.harness import Chat, Clock, join, make_app
from tests.test_on_behalf import fill_in

UNIT, T, P = "LC-BX-01", "thu_nghiem", "2026-Q1"
DUE = datetime(2026, 3, 4, 17, 0, tzinfo=UTC)  # "trước ngày 05 tháng cuối quý", Asia/Ho_Chi_Minh
FILE = {"co_fanpage": True, "so_tin": 7, "htx_tong": 40, "htx_moi": 4, "ty_le": 60.0,
        "hinh_thuc": "mxh", "kenh": ["hop"]}


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    app = await make_app(tmp_path, Clock())
    yield app
    await app.close()


async def import_file(app: App, answers: dict[str, object], *, replace: bool = False
                      ) -> tuple[int, int, int]:
    """What `baocao submissions import` stores, straight into the database (like the other
    process: the bot's draft cache is not told)."""
    version = app.reporting.deps.versions[T]
    return await app.storage.import_submissions(
        [ImportedReport(UNIT, T, version, P, answers, DUE, 2)],
        app.reporting.clock(), replace=replace, file="phone.csv")


def versions(app: App) -> list[tuple[int, str, dict[str, object]]]:
    path = app.config.storage.path
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT version, source, answers_json FROM submissions WHERE"
                            " unit_code=? ORDER BY version", (UNIT,)).fetchall()
    return [(v, s, json.loads(a)) for v, s, a in rows]


async def open_report(chat: Chat) -> None:
    await chat.cmd("baocao")
    await chat.press(chat.last[0].flat_buttons()[0].data)


async def test_a_draft_open_during_an_import_sends_a_correction_shown_as_such(app: App) -> None:
    officer = await join(app, "officer")
    await open_report(officer)
    await officer.press_label("Không")  # co_fanpage: the officer's own first answer
    assert await import_file(app, FILE) == (1, 0, 1)  # one draft rebased
    for typed in ("10", "2", "50", "bỏ qua", "mxh"):  # the officer carries on, unaware
        await officer.say(typed)
    await officer.say("1")
    await officer.press_label("Xong")
    for _ in range(3):
        await officer.say("bỏ qua")
    await officer.press_label("Gửi")
    # Not sent: told why, and shown the summary as a correction of the imported report.
    assert "⚠ Chưa gửi" in officer.text and "nhập từ tệp" in officer.text, officer.text
    assert "(lần gửi 1)" in officer.text and "📋 Tóm tắt" in officer.text
    assert "Đã gửi báo cáo" not in officer.text
    assert [v for v, *_ in versions(app)] == [1]
    assert versions(app)[0][2] == FILE  # the imported figures are untouched
    # Sending now is a correction, named so, and records what changed against the import.
    await officer.press_label("Gửi")
    assert "Đã gửi bản sửa" in officer.text, officer.text
    (v1, src1, a1), (v2, src2, a2) = versions(app)
    assert (v1, src1, a1) == (1, "import", FILE)
    assert (v2, src2) == (2, "chat")
    assert a2["co_fanpage"] is False and a2["htx_tong"] == 10 and "so_tin" not in a2
    with sqlite3.connect(app.config.storage.path) as conn:
        (details,) = conn.execute("SELECT details FROM audit WHERE action='report.correct'"
                                  ).fetchone()
    assert json.loads(details)["changed"]["htx_tong"] == [40, 10]


async def test_a_correction_draft_keeps_the_officers_changes_and_follows_the_file_elsewhere(
        app: App) -> None:
    officer = await join(app, "officer")
    await open_report(officer)
    await fill_in(officer)
    await officer.press_label("Gửi")
    assert "Đã gửi báo cáo" in officer.text
    first = versions(app)[0][2]
    await officer.cmd("trangthai")
    await officer.press_label("Sửa")
    draft = await app.storage.find_draft(UNIT, T, P)
    assert draft is not None and draft.reopened_from == 1
    # The officer changes htx_tong in the correction; the file then corrects htx_moi and ty_le.
    await app.storage.apply(Changes(actor=draft.started_by, ops=[
        SaveAnswer(draft.id, "htx_tong", 11)]))
    file = {**first, "htx_moi": 3, "ty_le": 75.0}
    assert await import_file(app, file, replace=True) == (0, 1, 1)
    rebased = await app.storage.find_draft(UNIT, T, P)
    assert rebased is not None and rebased.reopened_from == 2
    assert rebased.answers["htx_tong"] == 11  # the officer's change stays
    assert rebased.answers["htx_moi"] == 3 and rebased.answers["ty_le"] == 75.0  # the file's


async def test_storage_refuses_a_first_report_when_one_exists_and_a_stale_correction(
        app: App) -> None:
    officer = await join(app, "officer")
    await open_report(officer)
    await fill_in(officer)
    draft = await app.storage.find_draft(UNIT, T, P)
    assert draft is not None
    person = draft.started_by
    await import_file(app, FILE)
    version = app.reporting.deps.versions[T]
    now = app.reporting.clock()

    def submit(replaces: int | None) -> Submit:
        return Submit(draft.id, UNIT, T, version, P, dict(draft.answers), now, DUE, True,
                      replaces=replaces)

    with pytest.raises(ReportSentMeanwhile) as caught:
        await app.storage.apply(Changes(actor=person, ops=[submit(None)]))
    assert caught.value.version == 1
    assert [v for v, *_ in versions(app)] == [1]
    await import_file(app, FILE, replace=True)  # version 2
    with pytest.raises(ReportSentMeanwhile):
        await app.storage.apply(Changes(actor=person, ops=[submit(1)]))
    await app.storage.apply(Changes(actor=person, ops=[submit(2)]))
    assert [v for v, *_ in versions(app)] == [1, 2, 3]
