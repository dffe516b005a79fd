"""The draft official report (.docx) a supervisor sends upward, from a digest.

python-docx (not docxtpl): the layout differs by organisation kind and the tables grow with
the data, so building it in code is simpler than shipping a Word template to fill; docxtpl
would sit on python-docx anyway. Layout: Nghị định 30/2020/NĐ-CP (state bodies and mass
associations), the Party's and the Youth Union's own headers (`[organization]` kind): A4,
margins 20/20/30/15 mm, Times New Roman 14 (13 in tables), the East Asian and complex-script
fonts set too so Word never falls back to another font for Vietnamese.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from fractions import Fraction
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import nsdecls, qn
from docx.oxml.parser import parse_xml
from docx.shared import Mm, Pt
from docx.table import Table
from docx.text.paragraph import Paragraph

from bot.domain import vnformat
from bot.domain.digest import Digest, Figure, TargetLine, build
from bot.domain.periods import Period, PeriodKind
from bot.domain.templates import Aggregate, Level, QuestionType, Template
from bot.domain.units import Unit
from storage.interface import Storage

if TYPE_CHECKING:
    from bot.config import OrganizationConfig

FONT = "Times New Roman"
BODY_PT, TABLE_PT = 14, 13
PLACEHOLDER = "……"
WRITE_HERE = "(Nội dung do đơn vị soạn thảo bổ sung.)"

NATIONAL = {  # the right-hand header: title, motto (None: none)
    "state": ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc"),
    "hoi": ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc"),
    "doan": ("ĐOÀN TNCS HỒ CHÍ MINH", None),
    "dang": ("ĐẢNG CỘNG SẢN VIỆT NAM", None),
}
SUFFIX = {"state": "/BC-…", "hoi": "/BC-…", "doan": "-BC/TĐTN-…", "dang": "-BC/…"}
SIGNER = {"state": "CHỦ TỊCH", "hoi": "T/M BAN THƯỜNG VỤ\nCHỦ TỊCH",
          "doan": "T/M BAN THƯỜNG VỤ\nBÍ THƯ", "dang": "T/M BAN THƯỜNG VỤ\nBÍ THƯ"}
BODY_WORD = {"state": "đơn vị", "hoi": "Hội", "doan": "Đoàn", "dang": "Đảng bộ"}
LEVEL_WORD = {Level.TINH: "tỉnh", Level.HUYEN: "huyện", Level.XA: "xã"}
MET = {True: "✔", False: "✘", None: "…"}
BASIS = {"plan": "Kế hoạch", "assumed": "Giả định"}


@dataclass(frozen=True)
class Note:
    """A unit's answer to a text question marked `in_report`."""

    unit: str
    name: str
    question: str
    text: str


# --- words -----------------------------------------------------------------------------------


def official_day(d: date) -> str:
    """'05/6/2026' as official documents write it: day < 10 and months 1–2 take a 0."""
    return f"{d.day:02d}/{_month(d.month)}/{d.year}"


def date_line(place: str, d: date) -> str:
    """'Lào Cai, ngày 05 tháng 6 năm 2026' (Nghị định 30/2020/NĐ-CP, Phụ lục I)."""
    return f"{place}, ngày {d.day:02d} tháng {_month(d.month)} năm {d.year}"


def _month(m: int) -> str:
    return f"{m:02d}" if m < 3 else str(m)


def period_words(p: Period) -> str:
    """'quý I năm 2026', 'tháng 5 năm 2026', '6 tháng đầu năm 2026', 'năm 2026'."""
    label = p.label_vi()
    if p.kind in (PeriodKind.MONTH, PeriodKind.QUARTER):
        head, year = label.rsplit("/", 1)
        return f"{head[0].lower()}{head[1:]} năm {year}"
    return label[0].lower() + label[1:]


PERIOD_WORDS = ("sáu tháng", "6 tháng", "chín tháng", "9 tháng", "tháng", "quý", "năm",
                "tuần", "định kỳ")


def subject(d: Digest) -> str:
    """The template's title without its 'Báo cáo …:' head, then the period in words."""
    title = d.title
    if title.lower().startswith("báo cáo"):
        title = title.split(":", 1)[1] if ":" in title else title[len("báo cáo"):]
    title = title.strip()
    # "Báo cáo tháng" / "Báo cáo quý …": the period's own word comes with the period below
    # ("Tháng 11 năm 2026", not "Tháng tháng 11 năm 2026")
    lowered = title.lower()
    for word in PERIOD_WORDS:
        if lowered == word or lowered.startswith(word + " "):
            title = title[len(word):].strip()
            break
    words = period_words(d.period)
    if not title:
        return f"{words[:1].upper()}{words[1:]}"
    return f"{title[:1].upper()}{title[1:]} {words}"


def number_line(org: OrganizationConfig) -> str:
    return f"Số: {PLACEHOLDER}{org.number_suffix or SUFFIX[org.kind]}"


def units_word(d: Digest, units: Mapping[str, Unit], kind: str) -> str:
    """'Đoàn cấp xã': the kind's word and the level most units under the digest's have."""
    below = _subtree(d.unit, units) - {d.unit}
    levels = Counter(units[c].level for c in below)
    if not levels:
        return "đơn vị"
    level = levels.most_common(1)[0][0]
    if level is Level.TRUC_THUOC:
        return "đơn vị trực thuộc"
    word = BODY_WORD[kind]
    return f"{word} cấp {LEVEL_WORD[level]}"


def _num(x: Fraction | None) -> str:
    return "—" if x is None else vnformat.number(float(x), 2)


def value_text(f: Figure, value: Fraction | None,
               distribution: Mapping[str, int] | None = None) -> str:
    """'12', '45,5%', 'Loại A: 3; Loại B: 2' (the unit word is a column of its own)."""
    if distribution is not None:
        return "; ".join(f"{k}: {vnformat.number(v)}" for k, v in distribution.items()) or "—"
    if value is None:
        return "—"
    if f.aggregation is Aggregate.RATIO:
        return vnformat.percent(float(value))
    return vnformat.number(float(value), 2)


def unit_text(f: Figure) -> str:
    if f.aggregation is Aggregate.RATIO:
        return "%"
    if f.aggregation in (Aggregate.COUNT_YES, Aggregate.COUNT, Aggregate.DISTRIBUTION):
        return "đơn vị"
    return f.unit or ""


def completeness_sentence(d: Digest, units: Mapping[str, Unit], kind: str, day: date) -> str:
    """'Đến ngày 05/6/2026, 45/50 Đoàn cấp xã đã gửi báo cáo (90%), trong đó 40 đơn vị đúng
    hạn.'"""
    c = d.completeness
    if not c.expected:
        return f"Đến ngày {official_day(day)}, chưa có đơn vị nào phải gửi báo cáo kỳ này."
    share = f" ({vnformat.percent(100 * c.actual / c.expected)})" if c.expected else ""
    return (f"Đến ngày {official_day(day)}, {c.actual}/{c.expected} "
            f"{units_word(d, units, kind)} đã gửi báo cáo{share}, trong đó "
            f"{c.on_time} đơn vị đúng hạn.")


def by_unit(tl: TargetLine) -> bool:
    """A target each unit's answer must reach: its value and goal count units."""
    return tl.scope in ("each_unit", "level")


def figure_sentence(d: Digest, f: Figure, targets: Sequence[TargetLine]) -> str:
    """'Câu hỏi: 120 HTX, tăng 20 (20%) so với quý IV năm 2025; đạt 80% chỉ tiêu (150).'"""
    unit = unit_text(f)
    now = value_text(f, f.value, f.distribution)
    if unit and f.distribution is None and f.value is not None \
            and f.aggregation is not Aggregate.RATIO:  # (a ratio's value has its % already)
        now += unit if unit == "%" else f" {unit}"
    if f.distribution is not None and f.distribution:
        now = ", ".join(f"{k} {vnformat.number(n)} đơn vị" for k, n in f.distribution.items())
    text = f"{f.text}: {now}"
    if d.previous is not None and f.distribution is None and f.value is not None \
            and f.previous is not None:
        change = f.value - f.previous
        before = f"so với {period_words(d.previous)}"
        if change == 0:
            text += f", không đổi {before}"
        else:
            word = "tăng" if change > 0 else "giảm"
            rel = (f" ({vnformat.percent(float(abs(change) / f.previous * 100))})"
                   if f.previous and f.aggregation is not Aggregate.RATIO else "")
            amount = (vnformat.number(float(abs(change)), 2)
                      + (" điểm %" if f.aggregation is Aggregate.RATIO else ""))
            text += f", {word} {amount}{rel} {before}"
    for tl in targets:
        if by_unit(tl) and tl.goal:  # each unit's own answer: how many units reach it
            text += (f"; {_num(tl.value)}/{_num(tl.goal)} đơn vị đạt chỉ tiêu ({tl.label})")
        elif tl.progress is not None:
            text += f"; đạt {vnformat.percent(float(tl.progress))} chỉ tiêu ({tl.label})"
        elif tl.met is None:
            text += f"; chỉ tiêu ({tl.label}) chưa đủ số liệu để đánh giá"
    return text + "."


# --- the document ----------------------------------------------------------------------------

# Characters XML 1.0 cannot hold (python-docx refuses them): a control character pasted into a
# note or a unit's name must not stop the export.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _safe(text: str) -> str:
    return _NOT_XML.sub("", text)



def _fonts(style: Any, size: int) -> None:
    style.font.name = FONT
    style.font.size = Pt(size)
    fonts = style.element.get_or_add_rPr().get_or_add_rFonts()
    for key in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(key), FONT)


def _para(parent: Any, text: str = "", *, bold: bool = False, italic: bool = False,
          align: Any = None, size: int | None = None, indent: bool = False) -> Paragraph:
    p: Paragraph = parent.add_paragraph()
    if text:
        run = p.add_run(_safe(text))
        run.bold = bold or None
        run.italic = italic or None
        if size is not None:
            run.font.size = Pt(size)
    if align is not None:
        p.alignment = align
    if indent:
        p.paragraph_format.first_line_indent = Mm(10)
    return p


def _cell_lines(cell: Any, lines: Sequence[tuple[str, bool, bool]], size: int) -> None:
    """Centred lines (text, bold, italic) in a header cell."""
    first = True
    for text, bold, italic in lines:
        p = cell.paragraphs[0] if first else cell.add_paragraph()
        first = False
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        p.paragraph_format.space_after = Pt(0)
        run = p.add_run(_safe(text))
        run.bold = bold or None
        run.italic = italic or None
        run.font.size = Pt(size)


def issuing_body(org: OrganizationConfig, root: str, units: Mapping[str, Unit]
                 ) -> OrganizationConfig:
    """The `[organization]` a report over `root` is headed with: as configured for its own
    unit (or when no unit is named); for another unit, that unit's name under its parent's,
    with the number's suffix and the signer left to fill (they are the configured body's)."""
    if not org.unit or org.unit == root or root not in units:
        return org
    unit = units[root]
    parent = units.get(unit.parent_code or "")
    return org.model_copy(update={"name": unit.name, "parent": parent.name if parent else "",
                                  "number_suffix": "", "signer_name": "", "signer_title": ""})


def _header(doc: Any, org: OrganizationConfig, day: date) -> None:
    table = doc.add_table(rows=1, cols=2)  # the default table style has no borders
    table.autofit = False
    left, right = table.rows[0].cells
    for i, (cell, width) in enumerate(((left, Mm(65)), (right, Mm(100)))):
        cell.width = table.columns[i].width = width
    title, motto = NATIONAL[org.kind]
    lines = [(org.parent.upper(), False, False)] if org.parent else []
    lines += [(org.name.upper(), True, False),
              ("***" if org.kind in ("doan", "dang") else "———", False, False),
              (number_line(org), False, False)]
    _cell_lines(left, lines, 13)
    right_lines = [(title, True, False)]  # (the Party's and the Union's: underlined)
    if motto:
        right_lines += [(motto, True, False), ("———", False, False)]
    else:
        right_lines += [("", False, False)]
    right_lines += [(date_line(org.place, day), False, True)]
    _cell_lines(right, right_lines, 13 if org.kind in ("state", "hoi") else 14)
    if not motto:
        right.paragraphs[0].runs[0].underline = True


# indicator, unit, result, previous, target, met, basis (mm; 165 = the text width)
WIDTHS = (47, 18, 24, 21, 20, 14, 21)
ALIGN = (WD_ALIGN_PARAGRAPH.LEFT, WD_ALIGN_PARAGRAPH.CENTER, WD_ALIGN_PARAGRAPH.RIGHT,
         WD_ALIGN_PARAGRAPH.RIGHT, WD_ALIGN_PARAGRAPH.RIGHT, WD_ALIGN_PARAGRAPH.CENTER,
         WD_ALIGN_PARAGRAPH.CENTER)


def _table(doc: Any, header: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    """The indicator table: a grid, the header bold and centred, numbers to the right."""
    table: Table = doc.add_table(rows=1 + len(rows), cols=len(header))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    for column, width in zip(table.columns, WIDTHS, strict=True):
        column.width = Mm(width)  # the grid: what LibreOffice reads
    for r, values in enumerate([header, *rows]):
        for c, (cell, text) in enumerate(zip(table.rows[r].cells, values, strict=True)):
            cell.width = Mm(WIDTHS[c])
            p = cell.paragraphs[0]
            p.paragraph_format.space_after = Pt(0)
            run = p.add_run(_safe(text))
            run.font.size = Pt(TABLE_PT)
            if r == 0:
                run.bold = True
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER if r == 0 else ALIGN[c]
    return table


def indicator_rows(d: Digest) -> list[list[str]]:
    """Indicator, unit, result, previous, target, met, basis: a row per figure, and one more
    per further target of the same question."""
    by_question: dict[str, list[TargetLine]] = {}
    for tl in d.targets:
        by_question.setdefault(tl.question, []).append(tl)
    rows = []
    for f in d.figures:
        now = value_text(f, f.value, f.distribution)
        before = value_text(f, f.previous, f.previous_distribution) if d.previous else "—"
        lines: list[TargetLine | None] = [*by_question.get(f.question, [])] or [None]
        for i, line in enumerate(lines):
            goal = "" if line is None else (
                f"{_num(line.value)}/{_num(line.goal)} đơn vị" if by_unit(line)
                else _num(line.goal))
            rows.append([f.text if i == 0 else f"{f.text} ({line.label if line else ''})",
                         unit_text(f), now, before, goal,
                         "" if line is None else MET[line.met],
                         "" if line is None else BASIS.get(line.basis, line.basis)])
    return rows


def labelled(d: Digest, t: Template) -> Digest:
    """`d` with its choices' option ids replaced by their labels and a percentage question's
    unit "%" (what the figures alone do not tell)."""
    figures = []
    for f in d.figures:
        q = next((q for q in t.questions if q.id == f.question), None)
        if q is not None:
            names = {o.id: o.label for o in q.options}
            if f.distribution is not None:
                f = replace(f, distribution={names.get(k, k): n for k, n in
                                             f.distribution.items()})
            if f.previous_distribution is not None:
                f = replace(f, previous_distribution={names.get(k, k): n for k, n in
                                                      f.previous_distribution.items()})
            if q.type is QuestionType.PERCENT and not f.unit:
                f = replace(f, unit="%")
        figures.append(f)
    return replace(d, figures=tuple(figures))


def build_docx(digest: Digest, units: Mapping[str, Unit], org: OrganizationConfig,
               made_at: datetime, notes: Sequence[Note] = (),
               template: Template | None = None) -> bytes:
    """The draft report of `digest` as a .docx file; `made_at` local (the date line);
    `template`: the digest's, for the choices' labels."""
    d = digest if template is None else labelled(digest, template)
    org = issuing_body(org, d.unit, units)
    day = made_at.date()
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin = section.bottom_margin = Mm(20)
    section.left_margin, section.right_margin = Mm(30), Mm(15)
    _fonts(doc.styles["Normal"], BODY_PT)
    doc.styles["Normal"].paragraph_format.space_after = Pt(6)
    _header(doc, org, day)

    _para(doc)
    _para(doc, "BÁO CÁO", bold=True, align=WD_ALIGN_PARAGRAPH.CENTER).paragraph_format \
        .space_after = Pt(0)
    _para(doc, subject(d), bold=True, align=WD_ALIGN_PARAGRAPH.CENTER)
    _para(doc, "———", align=WD_ALIGN_PARAGRAPH.CENTER)

    _para(doc, "I. KẾT QUẢ THỰC HIỆN", bold=True)
    _para(doc, completeness_sentence(d, units, org.kind, day), indent=True)
    targets: dict[str, list[TargetLine]] = {}
    for tl in d.targets:
        targets.setdefault(tl.question, []).append(tl)
    for f in d.figures:
        _para(doc, "- " + figure_sentence(d, f, targets.get(f.question, ())), indent=True)
    if d.figures:
        _para(doc, "Bảng chỉ tiêu và kết quả thực hiện:", italic=True)
        _table(doc, ["Chỉ tiêu", "Đơn vị tính", "Kết quả", "Kỳ trước", "Chỉ tiêu giao",
                     "Đạt", "Căn cứ"], indicator_rows(d))

    _para(doc, "II. HẠN CHẾ, NGUYÊN NHÂN", bold=True).paragraph_format.space_before = Pt(12)
    _para(doc, WRITE_HERE, italic=True, indent=True)
    if notes:
        _para(doc, "Ý kiến của các đơn vị:", italic=True, indent=True)
        for n in notes:
            p = _para(doc, indent=True)
            p.add_run(_safe(f"- {n.name}")).bold = True
            p.add_run(_safe(f" ({n.question}): “{n.text}”"))
    _para(doc, "III. PHƯƠNG HƯỚNG, NHIỆM VỤ", bold=True)
    _para(doc, WRITE_HERE, italic=True, indent=True)
    _para(doc, f"Trên đây là báo cáo {subject(d)[:1].lower()}{subject(d)[1:]} của "
               f"{org.name}.", indent=True)

    _footer(doc, org)
    _annex(doc, d, units)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _footer(doc: Any, org: OrganizationConfig) -> None:
    table = doc.add_table(rows=1, cols=2)
    table.autofit = False
    left, right = table.rows[0].cells
    # the signature block never split over two pages (the name alone on the next)
    table.rows[0]._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))
    left.width = table.columns[0].width = Mm(75)
    right.width = table.columns[1].width = Mm(90)
    _cell_lines(left, [("Nơi nhận:", True, True)], 12)
    left.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.LEFT
    for line in org.recipients:
        p = left.add_paragraph()
        p.paragraph_format.space_after = Pt(0)
        p.add_run(_safe(f"- {line}")).font.size = Pt(11)
    signer = (org.signer_title or SIGNER[org.kind]).split("\n")
    _cell_lines(right, [(s.upper(), True, False) for s in signer]
                + [("", False, False)] * 3
                + [(org.signer_name or "(Ký, ghi rõ họ tên)", bool(org.signer_name),
                    not org.signer_name)], BODY_PT)


def _annex(doc: Any, d: Digest, units: Mapping[str, Unit]) -> None:
    missing = d.completeness.missing
    if not missing:
        return
    doc.add_page_break()
    _para(doc, "Phụ lục", bold=True, align=WD_ALIGN_PARAGRAPH.CENTER).paragraph_format \
        .space_after = Pt(0)
    _para(doc, "CÁC ĐƠN VỊ CHƯA GỬI BÁO CÁO", bold=True, align=WD_ALIGN_PARAGRAPH.CENTER)
    _para(doc, f"(Kèm theo báo cáo {period_words(d.period)}; {len(d.completeness.missing_units)}"
               " đơn vị)", italic=True, align=WD_ALIGN_PARAGRAPH.CENTER)
    several = len(d.periods) > 1
    lines = []
    for i, m in enumerate(missing, 1):
        u = units.get(m.unit)
        parent = units.get(u.parent_code) if u is not None and u.parent_code else None
        name = u.name if u is not None else m.unit
        where = f" ({parent.name})" if parent is not None and parent.code != d.unit else ""
        extra = [Period.parse(m.period).label_vi()] if several else []
        if m.returned:
            extra.append("bị trả lại, chưa gửi lại")
        elif m.overdue_days:
            extra.append(f"quá hạn {m.overdue_days} ngày")
        tail = f" — {', '.join(extra)}" if extra else ""
        lines.append(f"{i}. {name}{where}{tail}")
    _plain_paragraphs(doc, lines)


def _plain_paragraphs(doc: Any, lines: Sequence[str]) -> None:
    """One paragraph per line at the end of the body, parsed as one piece of XML: python-docx
    takes ~0.1 ms a paragraph, 10,000 missing communes a second, this a tenth of it."""
    body = doc.element.body
    xml = "".join(f'<w:p><w:pPr><w:spacing w:after="0"/></w:pPr><w:r><w:t xml:space="preserve">'
                  f"{escape(_safe(line))}</w:t></w:r></w:p>" for line in lines)
    made = parse_xml(f'<w:body {nsdecls("w")}>{xml}</w:body>')
    end = body.find(qn("w:sectPr"))
    at = body.index(end) if end is not None else len(body)
    body[at:at] = list(made)


# --- from storage ----------------------------------------------------------------------------


def notes_of(t: Template, submissions: Sequence[Any], periods: set[str],
             subtree: set[str], units: Mapping[str, Unit]) -> list[Note]:
    """The counted answers of the `in_report` text questions, in template order, then by
    unit name."""
    marked = [q for q in t.questions if q.in_report and q.type is QuestionType.TEXT]
    out = []
    for q in marked:
        found = []
        for s in submissions:
            if not s.counted or s.period not in periods or s.unit not in subtree:
                continue
            text = s.answers.get(q.id)
            if isinstance(text, str) and text.strip():
                name = units[s.unit].name if s.unit in units else s.unit
                found.append(Note(s.unit, name, q.text, " ".join(text.split())))
        out += sorted(found, key=lambda n: (n.name, n.unit))
    return out


async def docx_file(storage: Storage, t: Template, period: Period, root: str, now: datetime,
                    zone: ZoneInfo, lock_days: int, units: Mapping[str, Unit] | None,
                    org: OrganizationConfig) -> bytes:
    """The draft report of `t` × `period` over `root`'s subtree, as of `now`."""
    from bot.services.digests import gather  # the digest's read (as `digest(...)` does)

    inp = await gather(storage, t, period, root, now, zone, lock_days, units)
    d = build(inp)
    subtree = _subtree(root, inp.units)
    notes = notes_of(t, inp.submissions, {p.id for p in d.periods}, subtree, inp.units)
    return build_docx(d, inp.units, org, now.astimezone(zone), notes, t)


def _subtree(root: str, units: Mapping[str, Unit]) -> set[str]:
    kids: dict[str, list[str]] = {}
    for u in units.values():
        if u.parent_code is not None and u.parent_code != u.code:
            kids.setdefault(u.parent_code, []).append(u.code)
    out, stack = set(), [root]
    while stack:
        code = stack.pop()
        if code not in out:
            out.add(code)
            stack.extend(kids.get(code, ()))
    return out
