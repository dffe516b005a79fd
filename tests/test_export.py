"""The Excel workbook and long CSV (bot/exports/) from a real SQLite file, `baocao export`,
and the export file names."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import shutil
import stat
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from bot.cli import main
from bot.domain.periods import Period
from bot.domain.reports import window
from bot.domain.roles import Role
from bot.domain.templates import Level, Template, load_templates
from bot.domain.units import Unit
from bot.exports.names import export_name, slug
from bot.exports.save import write_atomically
from bot.exports.workbook import csv_file, xlsx_file
from bot.services.digests import digest
from storage.models import Changes, Invite, Review, StartDraft
from storage.sqlite import SqliteStorage
from tests.test_digest_service import VN, send

MARCH = Period.parse("2026-03")
TOML = """id = "tong_hop"
title = "Báo cáo tháng"
period = "month"
deadline = "trước ngày 05 tháng sau"
applies_to = { levels = ["xa"] }
review = true

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

[[questions]]
id = "ty_le"
text = "Tỷ lệ đoàn viên"
type = "percent"
aggregate = "average"

[[questions]]
id = "ngay"
text = "Ngày đại hội"
type = "date"
required = false

[[questions]]
id = "loai"
text = "Loại hình"
type = "choice"
options = [{ id = "a", label = "Hợp tác xã" }, { id = "b", label = "Tổ hợp tác" }]

[[questions]]
id = "ghi_chu"
text = "Ghi chú"
type = "text"
required = false

[[targets]]
question = "htx_moi"
value = 10
label = "HTX mới ≥ 10"
"""
UNITS = [Unit("P", "Tỉnh Lào Cai", None, Level.TINH), Unit("D1", "Huyện 1", "P", Level.HUYEN),
         Unit("D2", "Huyện 2", "P", Level.HUYEN), Unit("A", "Xã A", "D1", Level.XA),
         Unit("B", "Xã B", "D1", Level.XA), Unit("C", "Xã C", "D2", Level.XA)]
SHEETS = ["Tổng hợp", "Theo đơn vị", "Chưa gửi", "Lịch sử sửa"]


def load(folder: Path) -> Template:
    (folder / "reports").mkdir(exist_ok=True)
    (folder / "reports" / "tong_hop.toml").write_text(TOML, encoding="utf-8")
    templates, problems = load_templates(folder / "reports")
    assert not problems
    return templates["tong_hop"]


async def seed(db: Path, t: Template) -> datetime:
    """A sent on time then corrected late by An; B sent late (by Bình) and approved; C
    missing with a draft, its officer Chi blocked the bot. February for previous figures."""
    storage = await SqliteStorage.open(db)
    try:
        await storage.upsert_units(UNITS)
        await storage.sync_templates([t])
        people = {}
        for unit, name in (("A", "An"), ("B", "Bình"), ("C", "Chi")):
            await storage.create_invite(Invite(f"INV-{unit}", unit, Role.OFFICER, 5))
            people[unit], _ = await storage.redeem_invite(
                f"INV-{unit}", "telegram", name, name, datetime(2026, 1, 1, tzinfo=VN))
        await storage.set_reachable(people["C"].id, False)
        due = window(t, MARCH, VN, 10).due
        a = people["A"].id
        await send(storage, t, a, "A", Period.parse("2026-02"), due - timedelta(days=40),
                   htx_moi=2, to_kha=1, so_to=4, ty_le=50, loai="a")
        await send(storage, t, a, "A", MARCH, due - timedelta(days=1), htx_moi=1, to_kha=1,
                   so_to=10, ty_le=40, ngay="2026-03-15", loai="a", ghi_chu="=1+1")
        await send(storage, t, a, "A", MARCH, due + timedelta(days=1), htx_moi=3, to_kha=9,
                   so_to=10, ty_le=40, ngay="2026-03-15", loai="b", ghi_chu="=1+1")
        await send(storage, t, people["B"].id, "B", MARCH, due, htx_moi=4, to_kha=1, so_to=90,
                   ty_le=30, loai="a")
        await storage.apply(Changes(actor=people["B"].id, ops=[
            Review("B", t.id, MARCH.id, 1, "approve")]))
        version = (await storage.sync_templates([t]))[t.id]
        await storage.apply(Changes(actor=people["C"].id, ops=[
            StartDraft("C", t.id, version, MARCH.id, answers={"so_to": 3})]))
        return due
    finally:
        await storage.close()


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[Path, Template, datetime]:
    t = load(tmp_path)
    due = asyncio.run(seed(tmp_path / "baocao.db", t))
    return tmp_path / "baocao.db", t, due


async def made(db: Path, t: Template, due: datetime, kind: str = "xlsx") -> tuple[bytes, Any]:
    storage = await SqliteStorage.open(db)
    try:
        now = due + timedelta(hours=30)
        maker = xlsx_file if kind == "xlsx" else csv_file
        data = await maker(storage, t, MARCH, "P", now, VN, 10)
        d = await digest(storage, t, MARCH, "P", now, VN, 10)
        return data, d
    finally:
        await storage.close()


def rows_of(ws: Any) -> list[tuple[Any, ...]]:
    return [tuple(c.value for c in row) for row in ws.iter_rows()]


async def test_the_workbook_has_its_sheets_titles_and_frozen_headers(seeded: Any) -> None:
    data, _ = await made(*seeded)
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames == SHEETS
    for ws in wb.worksheets:
        title = ws["A1"].value
        assert title.startswith("Báo cáo tháng — Tháng 3/2026 — Tỉnh Lào Cai — lập lúc ")
        assert title.endswith("(giờ địa phương)")
        assert ws.freeze_panes is not None and ws.auto_filter.ref
    units = wb["Theo đơn vị"]
    assert units.freeze_panes == "C3" and units.auto_filter.ref.startswith("A2:")
    assert units.column_dimensions["B"].width > 8  # fitted, not the default


async def test_the_unit_sheet_has_real_numbers_dates_and_percentages(seeded: Any) -> None:
    data, _ = await made(*seeded)
    ws = openpyxl.load_workbook(io.BytesIO(data))["Theo đơn vị"]
    rows = rows_of(ws)
    header = rows[1]
    assert header[:9] == ("Mã đơn vị", "Tên đơn vị", "Trực thuộc", "Tình trạng", "Gửi lúc",
                          "Đúng hạn", "Người gửi", "Lần gửi", "Duyệt")
    assert header[9:] == ("Tổ khá", "Số tổ", "HTX mới (HTX)", "Tỷ lệ đoàn viên", "Ngày đại hội",
                          "Loại hình", "Ghi chú")
    by_code = {r[0]: dict(zip(header, r, strict=True)) for r in rows[2:]}
    assert list(by_code) == ["A", "B", "C"]
    a, b, c = by_code["A"], by_code["B"], by_code["C"]
    assert (a["Tình trạng"], a["Đúng hạn"], a["Người gửi"], a["Lần gửi"]) == (
        "Đã gửi", "Có", "An", 2)
    assert a["HTX mới (HTX)"] == 3 and isinstance(a["HTX mới (HTX)"], int | float)
    assert isinstance(a["Gửi lúc"], datetime)
    assert a["Ngày đại hội"] == datetime(2026, 3, 15)
    assert a["Loại hình"] == "Tổ hợp tác"  # the label, not the id
    assert a["Ghi chú"] == "=1+1"  # text, never a formula
    assert (b["Tình trạng"], b["Đúng hạn"], b["Duyệt"], b["Trực thuộc"]) == (
        "Gửi muộn", "Không", "Đã duyệt", "Huyện 1")
    assert (c["Tình trạng"], c["Gửi lúc"], c["HTX mới (HTX)"]) == ("Đang nhập", None, None)
    row_a = next(r for r in ws.iter_rows(min_row=3) if r[0].value == "A")
    percent = row_a[header.index("Tỷ lệ đoàn viên")]
    assert percent.value == pytest.approx(0.40) and "%" in percent.number_format
    assert row_a[header.index("Ngày đại hội")].is_date
    assert row_a[header.index("Ghi chú")].data_type == "s"


async def test_the_summary_totals_are_the_digests(seeded: Any) -> None:
    data, d = await made(*seeded)
    ws = openpyxl.load_workbook(io.BytesIO(data))["Tổng hợp"]
    rows = rows_of(ws)
    assert rows[1] == ("Phải gửi", "Đã gửi", "Tỷ lệ đã gửi", "Đúng hạn", "Tỷ lệ đúng hạn",
                       "Chưa gửi", "Gửi muộn", *[None] * 5)
    c = d.completeness
    assert rows[2][:7] == (c.expected, c.actual, pytest.approx(float(c.completeness)),
                           c.on_time, pytest.approx(float(c.timeliness)), 1, 1)
    assert "%" in ws.cell(row=3, column=3).number_format
    header = rows[4]
    assert header[:6] == ("Câu hỏi", "Đơn vị tính", "Cách tổng hợp", "Số đơn vị có số liệu",
                          "Kỳ này (Tháng 3/2026)", "Kỳ trước (Tháng 2/2026)")
    by_text = {r[0]: r for r in rows[5:]}
    for f in d.figures:
        if f.distribution is None:
            row = by_text[f.text]
            scale = 100 if f.aggregation.value == "ratio" or f.question == "ty_le" else 1
            assert row[4] * scale == pytest.approx(float(f.value))
            if f.previous is not None:
                assert row[5] * scale == pytest.approx(float(f.previous))
    assert by_text["HTX mới"][1:6] == ("HTX", "Tổng", 2, 7, 2)
    assert by_text["HTX mới"][6:] == ("HTX mới ≥ 10", 10, 7, pytest.approx(0.7), "Chưa đạt",
                                      "Giả định (chưa có văn bản)")
    assert by_text["Tổ khá"][4] == pytest.approx(0.10)  # (9 + 1) / (10 + 90)
    assert by_text["Loại hình: Hợp tác xã"][4:6] == (1, 1)
    assert by_text["Loại hình: Tổ hợp tác"][4:6] == (1, 0)


async def test_missing_units_with_officers_and_reachability(seeded: Any) -> None:
    data, _ = await made(*seeded)
    rows = rows_of(openpyxl.load_workbook(io.BytesIO(data))["Chưa gửi"])
    assert rows[1] == ("Mã đơn vị", "Tên đơn vị", "Trực thuộc", "Tình trạng", "Số ngày quá hạn",
                       "Đang nhập dở", "Cán bộ", "Liên lạc được")
    assert rows[2:] == [("B", "Xã B", "Huyện 1", "Gửi muộn", 1, None, "Bình", "Có"),
                        ("C", "Xã C", "Huyện 2", "Chưa gửi", 2, "1/7 câu",
                         "Chi (đã chặn bot)", "Không")]


async def test_a_correction_in_the_history(seeded: Any) -> None:
    data, _ = await made(*seeded)
    ws = openpyxl.load_workbook(io.BytesIO(data))["Lịch sử sửa"]
    rows = rows_of(ws)
    assert rows[1] == ("Mã đơn vị", "Tên đơn vị", "Lần gửi", "Người sửa", "Lúc", "Câu hỏi",
                       "Giá trị cũ", "Giá trị mới")
    changed = {r[5]: r for r in rows[2:]}
    assert set(changed) == {"Tổ khá", "HTX mới", "Loại hình"}
    assert changed["HTX mới"][:4] == ("A", "Xã A", 2, "An")
    assert changed["HTX mới"][6:] == (1, 3)
    assert changed["Loại hình"][6:] == ("Hợp tác xã", "Tổ hợp tác")
    assert isinstance(changed["HTX mới"][4], datetime)


async def test_the_long_csv(seeded: Any) -> None:
    db, t, due = seeded
    data, _ = await made(db, t, due, "csv")
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads it as UTF-8
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["unit", "question", "value", "period", "version"]
    assert ["A", "htx_moi", "3", "2026-03", "2"] in rows
    assert ["A", "ty_le", "40", "2026-03", "2"] in rows
    assert ["A", "ngay", "2026-03-15", "2026-03", "2"] in rows
    assert ["A", "loai", "Tổ hợp tác", "2026-03", "2"] in rows
    assert ["A", "ghi_chu", "'=1+1", "2026-03", "2"] in rows  # not run as a formula
    assert ["B", "so_to", "90", "2026-03", "1"] in rows
    assert {r[0] for r in rows[1:]} == {"A", "B"}  # C sent nothing
    assert len(rows) == 1 + 7 + 5


async def test_a_returned_report_is_left_out_of_the_csv(seeded: Any) -> None:
    db, t, due = seeded
    storage = await SqliteStorage.open(db)
    try:
        person = (await storage.officers_by_unit())["B"][0].id
        # B's approval stands on version 1; a correction returned: version 2 returned
        await send(storage, t, person, "B", MARCH, due + timedelta(hours=2), htx_moi=5,
                   to_kha=1, so_to=90, ty_le=30, loai="a")
        await storage.apply(Changes(actor=person, ops=[
            Review("B", t.id, MARCH.id, 2, "return", "sai số")]))
    finally:
        await storage.close()
    data, _ = await made(db, t, due, "csv")
    assert {r.split(",")[0] for r in data.decode("utf-8-sig").splitlines()[1:]} == {"A"}
    book, _ = await made(db, t, due)
    rows = rows_of(openpyxl.load_workbook(io.BytesIO(book))["Theo đơn vị"])
    b = next(r for r in rows if r[0] == "B")
    assert (b[3], b[8]) == ("Bị trả lại", "Đã trả lại")


# --- names and files ---------------------------------------------------------------------------


def test_export_names_are_ascii_lower_case_and_safe(tmp_path: Path) -> None:
    t = load(tmp_path)
    unit = Unit("LC", "Tỉnh Lào Cai", None, Level.TINH)
    assert export_name(t, Period.parse("2026-Q1"), unit, "xlsx") == \
        "bao-cao-tong-hop-2026-Q1-tinh-lao-cai.xlsx"
    assert slug("Đoàn xã Đắk Rơ Wa / Thị trấn: Ứng Hòa") == "doan-xa-dak-ro-wa-thi-tran-ung-hoa"
    assert slug("  ") == "" and len(slug("Xã " * 100)) <= 60
    odd = Unit("X/1", "???", None, Level.XA)
    assert export_name(t, MARCH, odd, "csv") == "bao-cao-tong-hop-2026-03-x-1.csv"
    name = export_name(t, MARCH, Unit("Z", 'a<b>:"|?*\\', None, Level.XA), "docx")
    assert name == "bao-cao-tong-hop-2026-03-a-b.docx"


def test_writes_are_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "x.xlsx"
    out.write_bytes(b"old")
    write_atomically(out, b"new")
    assert out.read_bytes() == b"new"

    def broken(*_: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("bot.exports.save.os.replace", broken)
    with pytest.raises(OSError):
        write_atomically(out, b"half")
    assert out.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["x.xlsx"]


def test_a_written_file_is_readable_as_any_other_not_only_by_its_writer(
        tmp_path: Path) -> None:
    """Not the temporary file's 0600: a new export gets 0666 less the umask, a replaced one
    keeps its mode (an export put in a shared folder stays readable by the office)."""
    mask = os.umask(0o022)
    try:
        fresh = tmp_path / "new.xlsx"
        write_atomically(fresh, b"data")
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o644
        shared = tmp_path / "shared.xlsx"
        shared.write_bytes(b"old")
        shared.chmod(0o664)
        write_atomically(shared, b"new")
        assert stat.S_IMODE(shared.stat().st_mode) == 0o664
        assert shared.read_bytes() == b"new"
    finally:
        os.umask(mask)


# --- the command -----------------------------------------------------------------------------


@pytest.fixture
def site(workdir: Path) -> Path:
    t = load(workdir)
    asyncio.run(seed(workdir / "baocao.db", t))
    config = workdir / "config.toml"
    config.write_text(f'[storage]\npath = "{workdir / "baocao.db"}"\n\n[reports]\n'
                      f'dir = "{workdir / "reports"}"\n', encoding="utf-8")
    return config


def export_args(config: Path, *extra: str, template: str = "tong_hop",
                period: str = "2026-03", unit: str = "P") -> list[str]:
    return ["--config", str(config), "export", "--template", template, "--period", period,
            "--unit", unit, *extra]


def test_cli_writes_the_workbook_under_its_name(site: Path, workdir: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(export_args(site, unit="p")) == 0
    name = "bao-cao-tong-hop-2026-03-tinh-lao-cai.xlsx"
    assert capsys.readouterr().out.startswith(f"wrote {name} (")
    wb = openpyxl.load_workbook(workdir / name)
    assert wb.sheetnames == SHEETS
    assert [p.name for p in workdir.iterdir() if p.name.startswith(".")] == []


def test_cli_writes_the_csv_where_asked(site: Path, workdir: Path) -> None:
    out = workdir / "out" / "long.csv"
    out.parent.mkdir()
    assert main(export_args(site, "--format", "csv", "--out", str(out))) == 0
    assert out.read_bytes().startswith(b"\xef\xbb\xbfunit,question,value,period,version")


@pytest.mark.parametrize(("args", "message"), [
    ({"template": "khong_co"}, "error: unknown template 'khong_co'"),
    ({"unit": "ZZ"}, "error: unknown unit ZZ"),
    ({"period": "2026-13"}, "error: no month 13 in 2026"),
    ({"period": "2026-W10"}, "error: template tong_hop asks for no report on 2026-W10"),
    ({"period": "2099-01"}, "error: period 2099-01 has not started yet (it starts "
                            "2099-01-01)"),
])
def test_cli_errors_are_one_line(site: Path, workdir: Path, capsys: pytest.CaptureFixture[str],
                                 args: dict[str, str], message: str) -> None:
    assert main(export_args(site, **args)) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(message) and "\n" not in err
    assert not list(workdir.glob("*.xlsx"))


def test_cli_bad_out_and_no_database(site: Path, workdir: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(export_args(site, "--out", str(workdir / "nowhere" / "x.xlsx"))) == 1
    assert capsys.readouterr().err.strip() == f"error: no folder {workdir / 'nowhere'} for x.xlsx"
    assert main(export_args(site, "--out", str(workdir))) == 1
    assert "is a folder" in capsys.readouterr().err
    config = workdir / "none.toml"
    config.write_text(f'[storage]\npath = "{workdir / "none.db"}"\n\n[reports]\n'
                      f'dir = "{workdir / "reports"}"\n', encoding="utf-8")
    assert main(export_args(config)) == 1
    assert capsys.readouterr().err.startswith(f"error: no database at {workdir / 'none.db'}")
    assert not (workdir / "none.db").exists()


def test_cli_writes_the_word_report(site: Path, workdir: Path) -> None:
    from docx import Document

    out = workdir / "bao-cao.docx"
    assert main(export_args(site, "--format", "docx", "--out", str(out))) == 0
    text = "\n".join(p.text for p in Document(str(out)).paragraphs)
    assert "BÁO CÁO" in text and "đã gửi báo cáo" in text


def _to_pdf(book: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["soffice", "--headless", "--norestore",
                           f"-env:UserInstallation=file://{folder / 'profile'}",
                           "--convert-to", "pdf", "--outdir", str(folder), str(book)],
                          capture_output=True, text=True, timeout=180, check=False)


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not on PATH")
async def test_libreoffice_opens_the_workbook(seeded: Any, tmp_path: Path) -> None:
    plain = tmp_path / "plain.xlsx"
    wb = openpyxl.Workbook()
    wb.active["A1"] = 1
    wb.save(plain)
    if not (_to_pdf(plain, tmp_path).returncode == 0 and (tmp_path / "plain.pdf").exists()):
        pytest.skip("this LibreOffice cannot open spreadsheets (no Calc installed)")
    data, _ = await made(*seeded)
    book = tmp_path / "book.xlsx"
    book.write_bytes(data)
    done = _to_pdf(book, tmp_path)
    assert done.returncode == 0, done.stderr
    pdf = tmp_path / "book.pdf"
    assert pdf.exists() and pdf.read_bytes().startswith(b"%PDF")
    assert "Error" not in done.stderr


def test_cli_names_each_format_by_its_own_extension(site: Path, workdir: Path) -> None:
    for fmt in ("csv", "docx"):
        assert main(export_args(site, "--format", fmt)) == 0
        assert (workdir / f"bao-cao-tong-hop-2026-03-tinh-lao-cai.{fmt}").is_file()
    assert not (workdir / "bao-cao-tong-hop-2026-03-tinh-lao-cai.xlsx").exists()
