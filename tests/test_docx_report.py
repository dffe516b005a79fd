"""The draft official report (.docx): built from a real SQLite file, opened with python-docx."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from docx.oxml.ns import qn
from docx.shared import Pt

from bot.config import ConfigError, OrganizationConfig, load_config
from bot.domain.periods import Period
from bot.domain.reports import window
from bot.domain.roles import Role
from bot.domain.templates import Level, Template, check_template, load_templates
from bot.domain.units import Unit
from bot.exports.docx_report import Note, build_docx, docx_file, official_day
from bot.services.digests import digest
from storage.models import Invite
from storage.sqlite import SqliteStorage
from tests.test_digest_service import VN, send

MARCH = Period.parse("2026-03")
TOML = """id = "ocop"
title = "Báo cáo tháng: tuổi trẻ tham gia OCOP"
period = "month"
deadline = "trước ngày 05 tháng sau"
applies_to = { levels = ["xa"] }

[[questions]]
id = "htx_moi"
text = "Số HTX thành lập mới"
type = "integer"
unit = "HTX"

[[questions]]
id = "von"
text = "Vốn hỗ trợ"
type = "decimal"
unit = "triệu đồng"

[[questions]]
id = "muc_do"
text = "Mức độ hoạt động"
type = "choice"
options = [{ id = "tot", label = "Tốt" }, { id = "kha", label = "Khá" }]

[[questions]]
id = "ty_le"
text = "Tỷ lệ đoàn viên tham gia"
type = "percent"
aggregate = "average"

[[questions]]
id = "so_to"
text = "Số tổ"
type = "integer"
required = false

[[questions]]
id = "to_kha"
text = "Tỷ lệ tổ khá"
type = "integer"
aggregate = "ratio"
denominator = "so_to"
required = false

[[questions]]
id = "kho_khan"
text = "Khó khăn, vướng mắc"
type = "text"
required = false
in_report = true

[[targets]]
question = "htx_moi"
value = 10
label = "HTX mới ≥ 10"
quote = "Mỗi tháng thành lập mới ít nhất 10 HTX"

[[targets]]
question = "htx_moi"
value = 4
scope = "each_unit"
label = "Mỗi xã ≥ 4 HTX"
"""
UNITS = [Unit("P", "Tỉnh Lào Cai", None, Level.TINH),
         Unit("A", "Xã Bảo Hà", "P", Level.XA), Unit("B", "Xã Cốc San", "P", Level.XA),
         Unit("C", "Xã Mường Hum", "P", Level.XA), Unit("E", "Phường Cam Đường", "P", Level.XA),
         Unit("T1", "Đoàn Trường Cao đẳng", "P", Level.TRUC_THUOC)]
DOAN = OrganizationConfig(kind="doan", parent="TỈNH ĐOÀN LÀO CAI", name="BCH Đoàn tỉnh Lào Cai",
                          place="Lào Cai", number_suffix="-BC/TĐTN-VP",
                          signer_name="Nguyễn Văn A", recipients=["Trung ương Đoàn;", "Lưu VP."])


def load(folder: Path) -> Template:
    (folder / "reports").mkdir(exist_ok=True)
    (folder / "reports" / "ocop.toml").write_text(TOML, encoding="utf-8")
    templates, problems = load_templates(folder / "reports")
    assert not problems
    return templates["ocop"]


async def seed(db: Path, t: Template) -> datetime:
    """A and B send March (A on time, B late, B with a note), C and E do not; A and B sent
    February too. Returns March's due instant."""
    storage = await SqliteStorage.open(db)
    try:
        await storage.upsert_units(UNITS)
        await storage.sync_templates([t])
        await storage.create_invite(Invite("INV-A", "A", Role.OFFICER, 5))
        person, _ = await storage.redeem_invite("INV-A", "telegram", "100", "An",
                                                datetime(2026, 1, 1, tzinfo=VN))
        due = window(t, MARCH, VN, 10).due
        feb = Period.parse("2026-02")
        for unit, n in (("A", 2), ("B", 3)):
            await send(storage, t, person.id, unit, feb, due - timedelta(days=40), htx_moi=n,
                       von=10.5, so_to=10, to_kha=5)
        await send(storage, t, person.id, "A", MARCH, due - timedelta(days=1), htx_moi=4,
                   von=1234.5, muc_do="tot", ty_le=40, so_to=10, to_kha=8, kho_khan=None)
        await send(storage, t, person.id, "B", MARCH, due + timedelta(hours=2), htx_moi=4,
                   von=100, muc_do="kha", ty_le=45, so_to=10, to_kha=6,
                   kho_khan="Thiếu vốn  cho\nHTX mới")
        return due
    finally:
        await storage.close()


async def report(tmp: Path, org: OrganizationConfig = DOAN) -> tuple[Any, Any, datetime]:
    """The .docx (opened) and the digest it was made from, at 05/6/2026 local."""
    t = load(tmp)
    await seed(tmp / "baocao.db", t)
    now = datetime(2026, 6, 5, 9, 0, tzinfo=VN)
    storage = await SqliteStorage.open(tmp / "baocao.db")
    try:
        data = await docx_file(storage, t, MARCH, "P", now, VN, 10, None, org)
        d = await digest(storage, t, MARCH, "P", now, VN, 10)
    finally:
        await storage.close()
    return Document(io.BytesIO(data)), d, now


def texts(doc: Any) -> list[str]:
    return [p.text for p in doc.paragraphs]


def header_texts(doc: Any) -> tuple[list[str], list[str]]:
    left, right = doc.tables[0].rows[0].cells
    return [p.text for p in left.paragraphs], [p.text for p in right.paragraphs]


async def test_the_youth_union_report_reads_as_the_digest(tmp_path: Path) -> None:
    doc, d, _ = await report(tmp_path)
    left, right = header_texts(doc)
    assert left == ["TỈNH ĐOÀN LÀO CAI", "BCH ĐOÀN TỈNH LÀO CAI", "***", "Số: ……-BC/TĐTN-VP"]
    assert right[0] == "ĐOÀN TNCS HỒ CHÍ MINH"
    name_run = doc.tables[0].rows[0].cells[0].paragraphs[1].runs[0]
    assert name_run.bold
    date_par = doc.tables[0].rows[0].cells[1].paragraphs[-1]
    assert date_par.text == "Lào Cai, ngày 05 tháng 6 năm 2026"
    assert all(r.italic for r in date_par.runs)

    lines = texts(doc)
    i = lines.index("BÁO CÁO")
    assert doc.paragraphs[i].runs[0].bold
    assert lines[i + 1] == "Tuổi trẻ tham gia OCOP tháng 3 năm 2026"
    assert doc.paragraphs[i + 1].runs[0].bold
    assert ("Đến ngày 05/6/2026, 2/4 Đoàn cấp xã đã gửi báo cáo (50%), trong đó 1 đơn vị đúng "
            "hạn.") in lines
    # 8 HTX against 5 in February: +3 (60%); the target 10: 80%
    assert ("- Số HTX thành lập mới: 8 HTX, tăng 3 (60%) so với tháng 2 năm 2026; đạt 80% chỉ "
            "tiêu (HTX mới ≥ 10); 2/4 đơn vị đạt chỉ tiêu (Mỗi xã ≥ 4 HTX).") in lines
    assert "- Vốn hỗ trợ: 1.334,5 triệu đồng, tăng 1.313,5 (6.254,8%) so với tháng 2 năm " \
           "2026." in lines
    assert "II. HẠN CHẾ, NGUYÊN NHÂN" in lines and "III. PHƯƠNG HƯỚNG, NHIỆM VỤ" in lines
    # the unit's note quoted with its name (spaces and the line break folded), A's empty one not
    notes = [x for x in lines if "Khó khăn" in x]
    assert notes == ["- Xã Cốc San (Khó khăn, vướng mắc): “Thiếu vốn cho HTX mới”"]

    # the indicator table: the digest's figures
    table = doc.tables[1]
    rows = [[c.text for c in r.cells] for r in table.rows]
    assert rows[0] == ["Chỉ tiêu", "Đơn vị tính", "Kết quả", "Kỳ trước", "Chỉ tiêu giao", "Đạt",
                       "Căn cứ"]
    figures = {f.question: f for f in d.figures}
    assert float(figures["htx_moi"].value) == 8 and float(figures["von"].value) == 1334.5
    assert rows[1] == ["Số HTX thành lập mới", "HTX", "8", "5", "10", "✘", "Kế hoạch"]
    assert rows[2] == ["Số HTX thành lập mới (Mỗi xã ≥ 4 HTX)", "HTX", "8", "5",
                       "2/4 đơn vị", "…", "Giả định"]  # 2 of 4 reach it; C, E unknown
    assert rows[3] == ["Vốn hỗ trợ", "triệu đồng", "1.334,5", "21", "", "", ""]
    # a choice by its options' labels, a percentage with its sign
    assert rows[4] == ["Mức độ hoạt động", "đơn vị", "Tốt: 1; Khá: 1", "—", "", "", ""]
    assert rows[5] == ["Tỷ lệ đoàn viên tham gia", "%", "42,5", "—", "", "", ""]
    assert "- Tỷ lệ đoàn viên tham gia: 42,5%." in lines
    assert "- Mức độ hoạt động: Tốt 1 đơn vị, Khá 1 đơn vị." in lines
    assert "- Số tổ: 20, không đổi so với tháng 2 năm 2026." in lines
    # a rate: 14/20 against 10/20, its change in points
    assert rows[7] == ["Tỷ lệ tổ khá", "%", "70%", "50%", "", "", ""]
    assert "- Tỷ lệ tổ khá: 70%, tăng 20 điểm % so với tháng 2 năm 2026." in lines

    # the signature block and Nơi nhận
    footer = doc.tables[2].rows[0].cells
    assert [p.text for p in footer[0].paragraphs] == ["Nơi nhận:", "- Trung ương Đoàn;",
                                                      "- Lưu VP."]
    signer = [p.text for p in footer[1].paragraphs]
    assert signer[:2] == ["T/M BAN THƯỜNG VỤ", "BÍ THƯ"] and signer[-1] == "Nguyễn Văn A"
    row = doc.tables[2].rows[0]._tr  # kept on one page: the name never alone on the next
    assert row.trPr is not None and row.trPr.find(qn("w:cantSplit")) is not None

    # the annex names the missing units, and only them
    annex = lines[lines.index("CÁC ĐƠN VỊ CHƯA GỬI BÁO CÁO"):]
    assert any("Xã Mường Hum" in x for x in annex) and any("Phường Cam Đường" in x for x in annex)
    assert not any("Xã Bảo Hà" in x or "Xã Cốc San" in x for x in annex)
    assert set(d.completeness.missing_units) == {"C", "E"}


async def test_page_and_fonts(tmp_path: Path) -> None:
    doc, _, _ = await report(tmp_path)
    s = doc.sections[0]
    measured = [s.page_width, s.page_height, s.top_margin, s.bottom_margin, s.left_margin,
                s.right_margin]  # stored in twentieths of a point: a few hundredths of a mm off
    assert [round(x.mm, 1) for x in measured] == [210, 297, 20, 20, 30, 15]
    normal = doc.styles["Normal"]
    assert normal.font.name == "Times New Roman" and normal.font.size == Pt(14)
    fonts = normal.element.rPr.rFonts
    for key in ("ascii", "hAnsi", "eastAsia", "cs"):
        assert fonts.get(f"{{{fonts.nsmap['w']}}}{key}") == "Times New Roman"
    # no run names another font
    assert not [r for p in doc.paragraphs for r in p.runs
                if r.font.name not in (None, "Times New Roman")]


@pytest.mark.parametrize(("kind", "right", "number"), [
    ("state", ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc"],
     "Số: ……/BC-…"),
    ("hoi", ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc"],
     "Số: ……/BC-…"),
    ("doan", ["ĐOÀN TNCS HỒ CHÍ MINH"], "Số: ……-BC/TĐTN-…"),
    ("dang", ["ĐẢNG CỘNG SẢN VIỆT NAM"], "Số: ……-BC/…"),
])
async def test_the_header_follows_the_organisation_kind(tmp_path: Path, kind: str,
                                                        right: list[str], number: str) -> None:
    t = load(tmp_path)
    await seed(tmp_path / "baocao.db", t)
    storage = await SqliteStorage.open(tmp_path / "baocao.db")
    try:
        d = await digest(storage, t, MARCH, "P", datetime(2026, 4, 20, tzinfo=VN), VN, 10)
    finally:
        await storage.close()
    org = OrganizationConfig.model_validate({"kind": kind, "name": "Ủy ban nhân dân tỉnh",
                                             "place": "Hà Nội"})
    doc = Document(io.BytesIO(build_docx(d, {u.code: u for u in UNITS}, org,
                                         datetime(2026, 2, 1, 8, tzinfo=VN))))
    left, shown = header_texts(doc)
    assert left == ["ỦY BAN NHÂN DÂN TỈNH", "***" if kind in ("doan", "dang") else "———", number]
    assert shown[:len(right)] == right
    assert shown[-1] == "Hà Nội, ngày 01 tháng 02 năm 2026"
    if kind == "state":  # a state body's word for the units reporting
        assert any("2/4 đơn vị cấp xã đã gửi" in x for x in texts(doc))


async def test_a_subtree_owing_nothing_says_so(tmp_path: Path) -> None:
    t = load(tmp_path)
    await seed(tmp_path / "baocao.db", t)
    storage = await SqliteStorage.open(tmp_path / "baocao.db")
    try:
        data = await docx_file(storage, t, MARCH, "T1", datetime(2026, 4, 20, tzinfo=VN), VN,
                               10, None, OrganizationConfig())
    finally:
        await storage.close()
    lines = texts(Document(io.BytesIO(data)))
    assert "Đến ngày 20/4/2026, chưa có đơn vị nào phải gửi báo cáo kỳ này." in lines
    assert "CÁC ĐƠN VỊ CHƯA GỬI BÁO CÁO" not in lines  # no annex with nobody in it
    # the defaults: a Youth Union header with "…" to fill
    assert header_texts(Document(io.BytesIO(data)))[0] == ["BCH ĐOÀN …", "***",
                                                           "Số: ……-BC/TĐTN-…"]


async def test_control_characters_never_stop_the_export(tmp_path: Path) -> None:
    t = load(tmp_path)
    await seed(tmp_path / "baocao.db", t)
    storage = await SqliteStorage.open(tmp_path / "baocao.db")
    try:
        d = await digest(storage, t, MARCH, "P", datetime(2026, 4, 20, tzinfo=VN), VN, 10)
    finally:
        await storage.close()
    units = {u.code: u for u in UNITS}
    units["C"] = Unit("C", "Xã\x0b Mường\x00 Hum <A&B>", "P", Level.XA)
    org = OrganizationConfig(name="BCH\x07 Đoàn", recipients=["Lưu\x1f VP."])
    data = build_docx(d, units, org, datetime(2026, 4, 20, tzinfo=VN),
                      [Note("B", "Xã Cốc San", "Khó khăn", "Thiếu\x08 vốn")], t)
    doc = Document(io.BytesIO(data))
    lines = texts(doc)
    assert "- Xã Cốc San (Khó khăn): “Thiếu vốn”" in lines
    assert any(x.startswith("1. Xã Mường Hum <A&B> — quá hạn") for x in lines)
    assert header_texts(doc)[0][0] == "BCH ĐOÀN"


def test_official_dates() -> None:
    assert official_day(datetime(2026, 6, 5).date()) == "05/6/2026"
    assert official_day(datetime(2026, 1, 15).date()) == "15/01/2026"
    assert official_day(datetime(2026, 12, 25).date()) == "25/12/2026"


def test_the_organization_section_is_checked_by_key(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[organization]\nkind = "ubnd"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert "organization.kind" in str(e.value)
    path.write_text('[organization]\nkind = "state"\nname = "UBND TỈNH LÀO CAI"\n'
                    'recipients = ["Bộ Nội vụ;"]\n', encoding="utf-8")
    org = load_config(path).organization
    assert (org.kind, org.name, org.recipients) == ("state", "UBND TỈNH LÀO CAI", ["Bộ Nội vụ;"])
    assert load_config(Path("config.example.toml")).organization.kind == "doan"


def test_in_report_only_on_text_questions(tmp_path: Path) -> None:
    t = load(tmp_path)
    assert [q.id for q in t.questions if q.in_report] == ["kho_khan"]
    bad = TOML.replace('unit = "HTX"', 'unit = "HTX"\nin_report = true')
    (tmp_path / "reports" / "ocop.toml").write_text(bad, encoding="utf-8")
    templates, problems = load_templates(tmp_path / "reports")
    assert any(p.path == "questions[0].in_report" for p in problems), problems
    assert "ocop" not in templates or check_template(templates["ocop"], "x")


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not on PATH")
async def test_libreoffice_converts_it_to_pdf(tmp_path: Path) -> None:
    doc, _, _ = await report(tmp_path)
    src = tmp_path / "bao-cao.docx"
    doc.save(src)
    done = subprocess.run(["soffice", f"-env:UserInstallation=file://{tmp_path}/lo", "--headless",
                           "--convert-to", "pdf", "--outdir", str(tmp_path), str(src)],
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    pdf = tmp_path / "bao-cao.pdf"
    assert pdf.exists() and pdf.read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize(("title", "period", "subject_line"), [
    ("Báo cáo tháng", "2026-11", "Tháng 11 năm 2026"),
    ("Báo cáo quý thử nghiệm", "2026-Q1", "Thử nghiệm quý I năm 2026"),
    ("Báo cáo: Tuổi trẻ tham gia OCOP", "2026-03", "Tuổi trẻ tham gia OCOP tháng 3 năm 2026"),
])
def test_the_subject_never_repeats_the_periods_word(title: str, period: str,
                                                    subject_line: str) -> None:
    from types import SimpleNamespace
    from typing import cast

    from bot.domain.digest import Digest
    from bot.exports.docx_report import subject

    d = cast(Digest, SimpleNamespace(title=title, period=Period.parse(period)))
    assert subject(d) == subject_line


def test_a_report_over_another_unit_is_headed_with_that_units_name() -> None:
    """`[organization] unit = "P"`: the province's report keeps the configured body; a
    report over one of its communes is headed with the commune's name under the province's,
    the number and the signer left to fill (they are the province's)."""
    from bot.exports.docx_report import issuing_body

    units = {u.code: u for u in UNITS}
    org = DOAN.model_copy(update={"unit": "P"})
    assert issuing_body(org, "P", units) == org
    commune = issuing_body(org, "A", units)
    assert (commune.name, commune.parent) == (units["A"].name, units["P"].name)
    assert (commune.number_suffix, commune.signer_name) == ("", "")
    assert issuing_body(DOAN, "A", units) == DOAN  # no unit named: every report as configured


async def test_the_header_of_a_communes_report_names_the_commune(tmp_path: Path) -> None:
    t = load(tmp_path)
    await seed(tmp_path / "baocao.db", t)
    storage = await SqliteStorage.open(tmp_path / "baocao.db")
    try:
        data = await docx_file(storage, t, MARCH, "A", datetime(2026, 4, 20, tzinfo=VN), VN,
                               10, None, DOAN.model_copy(update={"unit": "P"}))
    finally:
        await storage.close()
    left, _ = header_texts(Document(io.BytesIO(data)))
    assert left[:2] == ["TỈNH LÀO CAI", "XÃ BẢO HÀ"], left
