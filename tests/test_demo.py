"""`baocao demo` with input piped on stdin, as a newcomer (or CI) would run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_demo_runs_a_report_from_piped_input(tmp_path: Path) -> None:
    lines = ["2", "có", "3", "mười", "1", "/huy", "1", "/giup"]
    result = subprocess.run([sys.executable, "-m", "bot", "demo"], input="\n".join(lines) + "\n",
                            capture_output=True, text=True, cwd=tmp_path, timeout=120,
                            env={"PATH": "", "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Bạn đã tham gia Đoàn xã Bản Vược với vai trò cán bộ báo cáo" in out
    assert "Các báo cáo của đơn vị bạn" in out
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
