"""A normal (non-editable) install finds its templates, sample units and migrations.

The wheel is built from a copy of the source, installed into a fresh virtual environment, and
`baocao` is run from an unrelated folder, so nothing can be found beside the source tree.
The libraries the wheel depends on are borrowed from the test environment (a `.pth` line) to
keep this test offline and fast; `.ci/run` also installs the wheel with its dependencies from
the package index into an empty venv.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IGNORED = shutil.ignore_patterns(".venv", "build", "dist", "*.egg-info", "__pycache__",
                                 ".*_cache", ".hypothesis", "data", ".git")


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None,
        stdin: str = "") -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, input=stdin, text=True,
                            capture_output=True, timeout=300)
    assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    return result


def test_wheel_install_finds_templates_from_another_folder(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(REPO, source, ignore=IGNORED)
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
        "--no-index", "--wheel-dir", dist, source, cwd=tmp_path)
    wheel = next(dist.glob("baocao-*.whl"))

    target = tmp_path / "venv"
    venv.create(target, with_pip=False)
    python = target / "bin" / "python"
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))",
                    cwd=tmp_path).stdout.strip())
    run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps",
        "--no-index", wheel, cwd=tmp_path)
    # The dependencies, after the venv's own site-packages (the editable install's .pth files
    # there are not read: that folder is not a site directory of the new venv).
    (site / "zz_test_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "BAOCAO_CONFIG", "BAOCAO_TELEGRAM_TOKEN")}
    checked = run(target / "bin" / "baocao", "check-config", cwd=elsewhere, env=env).stdout
    assert checked.startswith("OK: 5 templates"), checked
    assert f"templates: {site / 'bot' / 'reports'}" in checked  # the installed copy
    # The demo's unit in the installed sample tree, on the installed templates.
    demo = run(target / "bin" / "baocao", "demo", cwd=elsewhere, env=env,
               stdin="1\n3\n").stdout
    assert "Bạn đã tham gia Hội Nông dân xã Tam Đường" in demo and "✓ Đã lưu: 3" in demo
