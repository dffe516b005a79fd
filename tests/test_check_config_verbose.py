"""`baocao check-config --verbose`: schedules, lifetime, scope and targets with their basis;
allocated targets' files and the unit codes they name."""

from __future__ import annotations

import sqlite3
import tomllib
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.cli import main
from bot.config import SHIPPED_REPORTS

TEMPLATE = """
id = "mau"
title = "Báo cáo mẫu"
deadline_basis = "plan"
valid_from = 2021-01-01
valid_until = 2030-12-31

[applies_to]
orgs = ["doan"]
subtrees = ["LC"]

[[schedules]]
period = "half"
deadline = "trước ngày 05 tháng cuối quý"
only = ["H1"]

[[schedules]]
period = "year"
deadline = "trước ngày 15 tháng 11"

[[questions]]
id = "htx_moi"
text = "Số HTX thành lập mới"
type = "integer"
over_time = "sum"

[[questions]]
id = "to_kha"
text = "Số tổ xếp loại khá"
type = "integer"
aggregate = "ratio"
denominator = "so_to"
over_time = "last"

[[questions]]
id = "so_to"
text = "Số tổ"
type = "integer"
over_time = "last"

[[targets]]
label = "Thành lập mới 100 HTX"
question = "htx_moi"
value = 100
year = 2025
baseline_year = 2021
basis = "plan"
quote = "giai đoạn 2021-2025 thành lập mới 100 HTX"

[[targets]]
question = "to_kha"
value = 60.5
direction = "more_than"

[[targets]]
question = "htx_moi"
scope = "allocated"
"""


def setup(workdir: Path, allocations: str | None = "code,value\nLC-SAPA,3\nLC-XYZ,2\n") -> Path:
    folder = workdir / "reports"
    folder.mkdir()
    (folder / "mau.toml").write_text(TEMPLATE, encoding="utf-8")
    if allocations is not None:
        (folder / "targets").mkdir()
        (folder / "targets" / "mau.csv").write_text(allocations, encoding="utf-8")
    (workdir / "config.toml").write_text(
        f'[storage]\npath = "{workdir / "db.sqlite"}"\n[reports]\ndir = "reports"\n',
        encoding="utf-8")
    return folder


def test_verbose_lists_where_each_figure_comes_from(workdir: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    setup(workdir)
    assert main(["check-config", "--verbose"]) == 0
    out, err = capsys.readouterr()
    details = out[out.index("mau: Báo cáo mẫu"):].splitlines()
    assert details[:9] == [
        "mau: Báo cáo mẫu",
        "  schedule: half (H1), “trước ngày 05 tháng cuối quý”; deadline basis: plan",
        "  schedule: year, “trước ngày 15 tháng 11”; deadline basis: plan",
        "  lifetime: 2021-01-01 to 2030-12-31",
        "  applies to: orgs doan; subtrees LC",
        '  targets[0] Thành lập mới 100 HTX (htx_moi): at least 100, total, year 2025, '
        'cumulative from 2021; plan: "giai đoạn 2021-2025 thành lập mới 100 HTX"',
        "  targets[1] to_kha: more than 60.5, total; assumed",
        "  targets[2] htx_moi: at least each unit's allocation (2 units in targets/mau.csv), "
        "allocated; assumed",
        "note: `baocao run` needs a bot token: set BAOCAO_TELEGRAM_TOKEN (Telegram) or "
        "BAOCAO_ZALO_TOKEN (Zalo)",
    ]
    assert err == ""  # no database yet: unit codes are not checked …
    assert not (workdir / "db.sqlite").exists()  # … and none is created


def test_without_verbose_no_details(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    setup(workdir)
    assert main(["check-config"]) == 0
    assert "targets[0]" not in capsys.readouterr().out


def test_allocated_codes_unknown_to_the_database_are_warned(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    setup(workdir)
    (workdir / "units.csv").write_text("code,name,parent_code,level,org\n"
                                       "LC,Tỉnh đoàn Lào Cai,,tinh,doan\n"
                                       "LC-SAPA,Đoàn phường Sa Pa,LC,xa,\n", encoding="utf-8")
    assert main(["units", "import", "units.csv"]) == 0
    capsys.readouterr()
    assert main(["check-config"]) == 0
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"warning: reports/targets/mau.csv: unit 'LC-XYZ' is not in the database "
        f"({workdir / 'db.sqlite'}): import it with `baocao units import`, or correct the code"]


def test_missing_allocation_file_fails_naming_the_target(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    setup(workdir, allocations=None)
    assert main(["check-config"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "reports/mau.toml: targets[2].scope: allocated, but reports/targets/mau.csv is missing"]


def test_bad_allocation_line_is_pinpointed(workdir: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    setup(workdir, allocations="code;value\nLC-SAPA;3\nLC-TAVAN;ba\n")
    assert main(["check-config"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "reports/targets/mau.csv: line 3: value of 'LC-TAVAN': 'ba' is not a number (write "
        "e.g. 12, 1.5 or 1,5; no thousands separators)"]


def test_verbose_on_the_shipped_templates_lists_every_template_and_target(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "--verbose"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    for path in sorted(SHIPPED_REPORTS.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        assert f"{data['id']}: {data['title']}" in lines
        listed = [ln for ln in lines if ln.startswith("  targets[")]
        for i, target in enumerate(data.get("targets", [])):
            assert any(ln.startswith(f"  targets[{i}] ") and target["question"] in ln
                       for ln in listed)


def test_database_without_units_table_is_not_an_error(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    setup(workdir)
    sqlite3.connect(workdir / "db.sqlite").close()  # an empty database file
    assert main(["check-config"]) == 0
    assert capsys.readouterr().err == ""

def test_check_config_says_which_plans_have_ended(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Plans 000, 003 and 004 ended (2025, 2020, 2025); 001 and 002 run on. The listing says
    so, since an ended template opens no period and would otherwise look merely quiet."""
    assert main(["check-config"]) == 0
    lines = {ln.split(":")[0].strip(): ln for ln in capsys.readouterr().out.splitlines()
             if ln.startswith("  ")}
    ended = {tid for tid, ln in lines.items() if ln.endswith("(ended: no period opens any more)")}
    assert {"kinh_te_tap_the_thanh_nien", "thanh_nien_giam_ngheo", "ocop_thanh_nien"} <= ended
    today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    for path in SHIPPED_REPORTS.glob("*.toml"):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        assert (data["id"] in ended) == (data["valid_until"] < today), data["id"]
