"""`baocao demo` with input piped on stdin, as a newcomer (or CI) would run it."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from tests.old_reports import OLD_REPORTS

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def old_templates(tmp_path: Path) -> None:
    """These tests play the demo's mechanics (piped input, --db, --date) on the templates of
    before issue 12, which apply to the demo's commune of the old tree (Đoàn xã Bản Vược); the
    shipped templates are scoped to one organisation and province each."""
    (tmp_path / "config.toml").write_text(f'[reports]\ndir = "{OLD_REPORTS}"\n',
                                          encoding="utf-8")


def test_demo_runs_a_report_from_piped_input(tmp_path: Path) -> None:
    # On 1 October 2025 the second report listed is plan 000's yearly report (its plan ended
    # with 2025: on the real date it may be listed no more).
    lines = ["2", "có", "3", "mười", "1", "/huy", "1", "/giup"]
    result = subprocess.run([sys.executable, "-m", "bot", "demo", "--date", "2025-10-01"],
                            input="\n".join(lines) + "\n",
                            capture_output=True, text=True, cwd=tmp_path, timeout=120,
                            env={"PATH": "", "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Bạn đã tham gia Đoàn xã Bản Vược với vai trò cán bộ báo cáo" in out
    assert "Các báo cáo của đơn vị bạn" in out
    assert "Chạy thử như thể hôm nay là ngày 01/10/2025." in out
    assert ("2. Báo cáo 6 tháng và năm: thanh niên tham gia phát triển kinh tế tập thể\n"
            "   Năm 2025 · hạn: hết ngày 14/11/2025") in out
    assert "Câu 1/" in out and "✓ Đã lưu: Có" in out and "✓ Đã lưu: 3 tin bài" in out
    assert "Chưa đọc được số trong “mười”" in out
    assert "Đã hủy bản nháp" in out and "/trangthai —" in out
    assert out.rstrip().endswith("Tạm biệt!")
    assert not (tmp_path / "data").exists()  # the demo leaves nothing behind


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
    first = demo("demo", "--db", str(db), lines=["1", "3"], cwd=tmp_path).stdout
    assert f"(dữ liệu lưu trong {db})" in first and "xóa khi thoát" not in first
    assert "✓ Đã lưu: 3 HTX" in first and "Câu 2/16" in first
    second = demo("demo", "--db", str(db), lines=["12", "2"], cwd=tmp_path).stdout
    assert f"(dữ liệu lưu trong {db})" in second
    assert "Tiếp tục báo cáo" in second  # where the first run stopped: question 2
    assert "✓ Đã lưu: 12 HTX" in second and "✓ Đã lưu: 2 THT" in second
    assert "Câu 4/16" in second
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
    out = demo("demo", "--date", day, lines=["/danhsach"], cwd=tmp_path).stdout
    d = date.fromisoformat(day)
    assert f"Chạy thử như thể hôm nay là ngày {d:%d/%m/%Y}." in out
    lines = out.split("> /danhsach\n", 1)[1].splitlines()
    shown = [lines[i + 1].strip().rsplit(" · ", 1)[0]  # without the status
             for i, line in enumerate(lines) if line.endswith(PLAN_000)]
    assert shown == listed
    # The other templates are listed on that day too: the ocop report is monthly.
    assert f"Tháng {d.month}/{d.year} · hạn: hết ngày 20/{d.month:02d}/{d.year}" in out


def test_demo_date_refuses_what_is_not_a_day(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "bot", "demo", "--date", "2025-13-01"],
                            input="", capture_output=True, text=True, cwd=tmp_path, timeout=120,
                            env={"PATH": "", "PYTHONPATH": str(REPO)})
    assert result.returncode == 2
    assert "argument --date: not a date: '2025-13-01' (use 2026-03-05)" in result.stderr
