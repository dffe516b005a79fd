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
