"""The digest chart (bot/charts.py): a real PNG, the same bytes for the same data, every
Vietnamese letter drawn, long lists capped, and matplotlib never loaded where nothing is drawn."""

from __future__ import annotations

import logging
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import pytest

from bot.charts import MAX_ROWS, MAX_TARGETS, WIDTH_PX, ChartData, TargetBar, UnitBar, ordered
from bot.charts import render_digest_chart as render
from bot.domain import messages_vi as M

ROOT = Path(__file__).resolve().parent.parent
VIETNAMESE = "Tỷ lệ đúng hạn, Đoàn xã Mường Hum, ước, ừ, ỹ"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def size_of(png: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, after checking the signature and its CRC."""
    assert png[:8] == PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", png[8:16])
    assert kind == b"IHDR" and length == 13
    body = png[16:29]
    assert struct.unpack(">I", png[29:33])[0] == zlib.crc32(b"IHDR" + body)
    width, height = struct.unpack(">II", body[:8])
    return width, height


def chunk_kinds(png: bytes) -> list[bytes]:
    kinds, at = [], 8
    while at < len(png):
        length, kind = struct.unpack(">I4s", png[at:at + 8])
        kinds.append(kind)
        at += 12 + length
    return kinds


def units(count: int) -> list[UnitBar]:
    return [UnitBar(f"Đoàn xã Mường Hum {i}", (i % 9) / 8, (i % 9) / 16) for i in range(count)]


TARGETS = [TargetBar("Tỷ lệ đúng hạn", 0.875, False), TargetBar("Đoàn viên mới", 1.3, True),
           TargetBar("Quỹ khuyến học ước tính", None, None), TargetBar("Số buổi", 0.4, None)]


def drawn(data: ChartData, caplog: pytest.LogCaptureFixture) -> bytes:
    """The chart, failing on any warning (a glyph missing from the font, a font not found)."""
    with caplog.at_level(logging.WARNING, logger="matplotlib"), warnings.catch_warnings():
        warnings.simplefilter("error")
        png = render(data)
    assert [r.getMessage() for r in caplog.records if r.name.startswith("matplotlib")] == []
    return png


def test_a_png_of_phone_width_small_and_without_date_or_software(caplog):
    png = drawn(ChartData(VIETNAMESE, "Quý I/2026 · đến 08:00 ngày 05/03/2026",
                          units(25), [*TARGETS, *TARGETS[:2]]), caplog)
    width, height = size_of(png)
    assert width == WIDTH_PX and 1200 < height < 2600
    assert len(png) < 200_000
    kinds = chunk_kinds(png)
    assert kinds[-1] == b"IEND" and b"IDAT" in kinds
    assert not {b"tEXt", b"iTXt", b"zTXt", b"tIME"} & set(kinds)


def test_the_same_data_gives_the_same_bytes_and_other_data_other_bytes(caplog):
    data = ChartData("Báo cáo tháng", "Tháng 3/2026", units(7), TARGETS)
    first = drawn(data, caplog)
    assert drawn(ChartData("Báo cáo tháng", "Tháng 3/2026", units(7), list(TARGETS)),
                 caplog) == first
    changed = [*units(6), UnitBar("Đoàn xã Mường Hum 6", 1.0, 1.0)]
    assert drawn(ChartData("Báo cáo tháng", "Tháng 3/2026", changed, TARGETS), caplog) != first


def test_every_vietnamese_letter_and_the_marks_have_a_glyph(caplog):
    every = "ÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬĐÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴ"
    rows = [UnitBar(every[:20], 0.5, 0.25), UnitBar(every[20:40].lower(), 1.0, 1.0),
            UnitBar(every[40:], 0.0, 0.0)]
    drawn(ChartData(every.lower(), VIETNAMESE, rows, TARGETS), caplog)  # ✔ ✘ in TARGETS


def test_a_missing_glyph_would_be_caught(caplog):
    """The check above is real: a character DejaVu Sans lacks fails it."""
    with pytest.raises(UserWarning, match="Glyph"):
        drawn(ChartData("漢字", "", units(1), []), caplog)


def test_many_units_show_the_worst_25_then_a_line_for_the_rest(caplog):
    shown, left_out = ordered(units(100))
    assert len(shown) == MAX_ROWS and left_out == 100 - MAX_ROWS
    assert [r.completeness for r in shown] == sorted(r.completeness or 0 for r in shown)
    assert all((r.completeness or 0) <= min(u.completeness or 0 for u in units(100)
                                            if u not in shown) for r in shown)
    # the picture stops growing after 25 bars and the line "và N đơn vị khác"
    heights = {n: size_of(drawn(ChartData("T", "S", units(n), []), caplog))[1]
               for n in (MAX_ROWS, MAX_ROWS + 1, 100, 500)}
    assert heights[MAX_ROWS] < heights[MAX_ROWS + 1] == heights[100] == heights[500]
    assert M.chart_more_units(75) == "… và 75 đơn vị khác (tỷ lệ cao hơn)"


def test_at_most_12_targets_then_a_line(caplog):
    many = [TargetBar(f"Chỉ tiêu {i}", i / 20, i % 2 == 0) for i in range(20)]
    heights = {n: size_of(drawn(ChartData("T", "S", units(2), many[:n]), caplog))[1]
               for n in (MAX_TARGETS, MAX_TARGETS + 1, 20)}
    assert heights[MAX_TARGETS] < heights[MAX_TARGETS + 1] == heights[20]
    assert M.chart_more_targets(8) == "… và 8 chỉ tiêu khác"


def test_worst_first_with_units_expected_nothing_last():
    rows = [UnitBar("C", 1.0, 1.0), UnitBar("A", None, None), UnitBar("B", 0.5, 0.5),
            UnitBar("D", 0.5, 0.0)]
    assert [r.name for r in ordered(rows)[0]] == ["D", "B", "C", "A"]
    wards = [UnitBar(f"Phường {n}", 0.5, 0.5) for n in (10, 2, 1)]
    assert [r.name for r in ordered(wards)[0]] == ["Phường 1", "Phường 2", "Phường 10"]


def test_nothing_expected_and_no_targets_still_draws(caplog):
    empty = drawn(ChartData("Báo cáo quý", "Quý I/2026", [], []), caplog)
    none_expected = drawn(ChartData("Báo cáo quý", "Quý I/2026",
                                    [UnitBar("Đoàn xã Ý Tý", None, None)], []), caplog)
    assert size_of(empty)[0] == size_of(none_expected)[0] == WIDTH_PX
    assert empty != none_expected


def test_targets_without_a_figure_and_beyond_100_percent(caplog):
    with_none = drawn(ChartData("T", "S", units(3), [TargetBar("Chưa có", None, None)]),
                      caplog)
    over = drawn(ChartData("T", "S", units(3), [TargetBar("Vượt", 2.5, True)]), caplog)
    assert size_of(with_none) == size_of(over)
    assert M.chart_share(0.875) == "87,5%" and M.chart_share(2.5) == "250%"


def test_matplotlib_is_not_loaded_until_a_chart_is_drawn():
    code = ("import sys, bot.charts, bot.cli, handlers.telegram.delivery, "
            "handlers.zalo.delivery; assert 'matplotlib' not in sys.modules, 'loaded'")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, env={"PYTHONPATH": str(ROOT), "PATH": ""}, timeout=60)
    assert done.returncode == 0, done.stderr
