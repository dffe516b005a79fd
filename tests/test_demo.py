"""`baocao demo` with input piped on stdin, as a newcomer (or CI) would run it."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_demo_runs_a_report_from_piped_input(tmp_path: Path) -> None:
    # The default unit, Hội Nông dân xã Tam Đường: plan 001 runs to 2030, so it has a report.
    lines = ["1", "/huy", "1", "/giup"]
    result = subprocess.run([sys.executable, "-m", "bot", "demo"],
                            input="\n".join(lines) + "\n",
                            capture_output=True, text=True, cwd=tmp_path, timeout=120,
                            env={"PATH": "", "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "baocao demo — bạn là cán bộ Hội Nông dân xã Tam Đường" in out
    assert "Bạn đã tham gia Hội Nông dân xã Tam Đường với vai trò cán bộ báo cáo" in out
    assert "Các báo cáo của đơn vị bạn" in out and "Câu 1/" in out
    assert "Đã hủy bản nháp" in out and "/trangthai —" in out
    assert out.rstrip().endswith("Tạm biệt!")
    assert not (tmp_path / "data").exists()  # the demo leaves nothing behind


def test_demo_unit_plays_another_unit_of_the_sample_tree(tmp_path: Path) -> None:
    out = demo("demo", "--unit", "LC-BATXAT", "--date", "2025-10-01", lines=["1"],
               cwd=tmp_path).stdout
    assert "baocao demo — bạn là cán bộ Đoàn xã Bát Xát" in out
    assert "Bạn đã tham gia Đoàn xã Bát Xát với vai trò cán bộ báo cáo" in out
    assert "Chạy thử như thể hôm nay là ngày 01/10/2025." in out
    assert "Các báo cáo của đơn vị bạn" in out and "Câu 1/" in out


def test_demo_unit_refuses_a_code_the_sample_tree_lacks(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "bot", "demo", "--unit", "LC-BX-01"],
                            input="", capture_output=True, text=True, cwd=tmp_path, timeout=120,
                            env={"PATH": "", "PYTHONPATH": str(REPO)})
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("error: unknown unit 'LC-BX-01' for the demo; the sample "
                                    "tree has: LC, LC-BACHA, LC-BATXAT,"), result.stderr
    assert "Traceback" not in result.stderr


def demo(*args: str, lines: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "bot", *args], input="\n".join(lines) + "\n",
                            capture_output=True, text=True, cwd=cwd, timeout=120,
                            env={"PATH": "", "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    return result


def test_demo_writes_no_log_lines_unless_verbose(tmp_path: Path) -> None:
    assert demo("demo", lines=["1", "3"], cwd=tmp_path).stderr == ""
    verbose = demo("-v", "demo", lines=["1", "3"], cwd=tmp_path).stderr
    assert "INFO storage.database: applied migration 0001_initial" in verbose


def test_demo_db_kept_between_runs(tmp_path: Path) -> None:
    db = tmp_path / "kept.db"
    first = demo("demo", "--db", str(db), lines=["1"], cwd=tmp_path).stdout
    assert f"(dữ liệu lưu trong {db})" in first and "xóa khi thoát" not in first
    assert "Câu 1/" in first and "Bạn đã tham gia" in first
    second = demo("demo", "--db", str(db), lines=["1"], cwd=tmp_path).stdout
    assert f"(dữ liệu lưu trong {db})" in second
    assert "Bạn đã tham gia" not in second  # the same officer, already joined
    # Another unit played on the same kept database joins as its own officer.
    other = demo("demo", "--db", str(db), "--unit", "LC-SAPA", lines=[], cwd=tmp_path).stdout
    assert "Bạn đã tham gia Đoàn phường Sa Pa" in other
    throwaway = demo("demo", lines=["1"], cwd=tmp_path).stdout
    assert "(dữ liệu thử, xóa khi thoát)" in throwaway
    assert not (tmp_path / "data").exists()


# (the day the demo plays, the periods the list shows of plan 000's template, which ran
# 2020–2025: a half-year report for H1 only, and a yearly one)
PLAN_000_ON: list[tuple[str, list[str]]] = [
    ("2025-05-20", ["6 tháng đầu năm 2025 · hạn: hết ngày 04/06/2025",
                    "Năm 2025 · hạn: hết ngày 14/11/2025"]),
    ("2025-10-01", ["Năm 2025 · hạn: hết ngày 14/11/2025"]),  # H1 locked; no H2 report
    ("2025-11-20", ["Năm 2025 · hạn: hết ngày 14/11/2025"]),  # late, not locked yet
    ("2026-03-01", []),  # the plan has ended: nothing of 2026
]
PLAN_000 = "Báo cáo 6 tháng và năm: thanh niên tham gia phát triển kinh tế tập thể"


@pytest.mark.parametrize(("day", "listed"), PLAN_000_ON)
def test_demo_date_plays_on_that_day(tmp_path: Path, day: str, listed: list[str]) -> None:
    # Plan 000 is a report of the Lào Cai Youth Union's communes.
    out = demo("demo", "--unit", "LC-BATXAT", "--date", day, lines=["/danhsach"],
               cwd=tmp_path).stdout
    d = date.fromisoformat(day)
    assert f"Chạy thử như thể hôm nay là ngày {d:%d/%m/%Y}." in out
    lines = out.split("> /danhsach\n", 1)[1].splitlines()
    shown = [lines[i + 1].strip().rsplit(" · ", 1)[0]  # without the status
             for i, line in enumerate(lines) if line.endswith(PLAN_000)]
    assert shown == listed


def test_demo_date_refuses_what_is_not_a_day(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "bot", "demo", "--date", "2025-13-01"],
                            input="", capture_output=True, text=True, cwd=tmp_path, timeout=120,
                            env={"PATH": "", "PYTHONPATH": str(REPO)})
    assert result.returncode == 2
    assert "argument --date: not a date: '2025-13-01' (use 2026-03-05)" in result.stderr
