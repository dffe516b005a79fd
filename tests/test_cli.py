"""The `baocao` CLI: check-config, deadline, units import/list."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import Workbook

from bot.cli import main
from bot.config import SHIPPED_REPORTS

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BAOCAO_CONFIG", raising=False)
    monkeypatch.delenv("BAOCAO_TELEGRAM_TOKEN", raising=False)
    return tmp_path


def write_config(workdir: Path, extra: str = "") -> Path:
    cfg = workdir / "config.toml"
    cfg.write_text(f'[storage]\npath = "{workdir / "db.sqlite"}"\n{extra}', encoding="utf-8")
    return cfg


def copy_reports(workdir: Path) -> Path:
    folder = workdir / "reports"
    shutil.copytree(SHIPPED_REPORTS, folder)
    return folder


def test_check_config_on_shipped_templates_is_clean(workdir: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK: 5 templates")


def test_check_config_example_file_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(REPO / "config.example.toml"), "check-config"]) == 0


def test_broken_template_is_pinpointed(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = copy_reports(workdir)
    target = sorted(folder.glob("*.toml"))[0]
    text = target.read_text(encoding="utf-8")
    # Give the first numeric question a max below its min.
    import tomllib

    data = tomllib.loads(text)
    index = next(i for i, q in enumerate(data["questions"])
                 if q["type"] in ("integer", "decimal"))
    qid = data["questions"][index]["id"]
    text = text.replace(f'id = "{qid}"', f'id = "{qid}"\nmin = 10\nmax = 5', 1)
    target.write_text(text, encoding="utf-8")
    write_config(workdir, '[reports]\ndir = "reports"\n')
    assert main(["check-config"]) == 2
    err = capsys.readouterr().err
    assert f"reports/{target.name}: questions[{index}].max: must be >= min" in err


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda t: t.replace("[[questions]]", "[[questions]]\ncolour = 'red'", 1),
     "questions[0].colour: unknown key"),
    (lambda t: t + "\nthis is not toml", "TOML syntax error"),
    (lambda t: t.replace('deadline = "', 'deadline = "hôm nào đó ', 1), "deadline: cannot read"),
    (lambda t: t.replace('type = "integer"', 'type = "integer"\nwithin = "period"', 1),
     "].within: within only applies to date questions, not integer"),
])
def test_other_template_errors(workdir: Path, capsys: pytest.CaptureFixture[str],
                               edit: object, expected: str) -> None:
    folder = copy_reports(workdir)
    target = sorted(folder.glob("*.toml"))[-1]
    target.write_text(edit(target.read_text(encoding="utf-8")), encoding="utf-8")  # type: ignore[operator]
    write_config(workdir, '[reports]\ndir = "reports"\n')
    assert main(["check-config"]) == 2
    err = capsys.readouterr().err
    assert target.name in err and expected in err


def test_config_typo_names_the_key(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_config(workdir, '[telegram]\nbase_ulr = "http://x"\n')
    assert main(["check-config"]) == 2
    assert "config.toml: telegram.base_ulr: unknown key" in capsys.readouterr().err


def test_config_bad_timezone(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "config.toml").write_text('timezone = "Asia/Hanoi_City"\n', encoding="utf-8")
    assert main(["check-config"]) == 2
    assert "timezone" in capsys.readouterr().err


def test_missing_explicit_config(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", "nope.toml", "check-config"]) == 2
    assert "nope.toml: config file not found" in capsys.readouterr().err


def test_deadline_json(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deadline", "trước ngày 05 tháng cuối quý", "--period", "2026-Q1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == {
        "phrase": "trước ngày 05 tháng cuối quý", "period": "2026-Q1",
        "period_start": "2026-01-01", "period_end": "2026-03-31",
        "due": "2026-03-05T00:00:00+07:00", "last_on_time_day": "2026-03-04",
    }


def test_deadline_errors(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deadline", "khi nào xong", "--period", "2026-Q1"]) == 1
    assert "khi nào xong" in capsys.readouterr().err
    assert main(["deadline", "trước ngày 5", "--period", "2026-Q7"]) == 1


UNITS_CSV = """code,name,parent_code,level
LC,Tỉnh đoàn Lào Cai,,tinh
LC-BX,Huyện đoàn Bát Xát,LC,huyen
LC-BX-01,Đoàn xã Bản Vược,LC-BX,xã
LC-02,Đoàn phường Kim Tân,LC,phường
"""


def test_units_import_and_list(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_config(workdir)
    (workdir / "units.csv").write_text(UNITS_CSV, encoding="utf-8")
    assert main(["units", "import", "units.csv"]) == 0
    assert "4 added" in capsys.readouterr().out
    assert main(["units", "import", "units.csv"]) == 0  # idempotent
    assert "0 added, 0 updated, 4 unchanged" in capsys.readouterr().out
    renamed = UNITS_CSV.replace("Bản Vược", "Bản Vược mới")
    renamed += "LC-BX-02,Đoàn xã A Mú Sung,LC-BX,xa\n"
    (workdir / "units.csv").write_text(renamed, encoding="utf-8")
    assert main(["units", "import", "units.csv"]) == 0
    assert "1 added, 1 updated" in capsys.readouterr().out
    assert main(["units", "list"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "LC  Tỉnh đoàn Lào Cai (tinh)",
        "  LC-02  Đoàn phường Kim Tân (xa)",
        "  LC-BX  Huyện đoàn Bát Xát (huyen)",
        "    LC-BX-01  Đoàn xã Bản Vược mới (xa)",
        "    LC-BX-02  Đoàn xã A Mú Sung (xa)",
    ]


def test_units_import_xlsx_any_depth(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_config(workdir)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["code", "name", "parent_code", "level"])
    ws.append(["TN", "Tỉnh đoàn Tây Ninh", None, "tinh"])
    ws.append(["TN-01", "Đoàn xã Tân Hòa", "TN", "xa"])  # province → commune, no district
    wb.save(workdir / "units.xlsx")
    assert main(["units", "import", "units.xlsx"]) == 0
    assert "2 added" in capsys.readouterr().out


@pytest.mark.parametrize(("rows", "expected"), [
    ("A,Tỉnh,,tinh\nB,Xã,ZZZ,xa\n", "line 3: unknown parent 'ZZZ'"),
    ("A,Tỉnh,,tinh\nA,Tỉnh lại,,tinh\n", "line 3: duplicate code 'A' (first on line 2)"),
    ("A,Xã A,B,xa\nB,Xã B,A,xa\n", "line 2: cycle in parents: A → B → A"),
    ("A,Tỉnh,,bang\n", "line 2: unknown level 'bang'"),
    ("A,,,tinh\n", "line 2: unit 'A' has no name"),
])
def test_units_import_errors_name_the_row_and_save_nothing(
    workdir: Path, capsys: pytest.CaptureFixture[str], rows: str, expected: str
) -> None:
    write_config(workdir)
    (workdir / "u.csv").write_text("code,name,parent_code,level\n" + rows, encoding="utf-8")
    assert main(["units", "import", "u.csv"]) == 1
    err = capsys.readouterr().err
    assert f"u.csv: {expected}" in err and "nothing imported" in err
    assert main(["units", "list"]) == 0
    assert capsys.readouterr().out == ""


def test_units_import_bad_files(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_config(workdir)
    (workdir / "u.csv").write_text("ma,ten\nA,B\n", encoding="utf-8")
    assert main(["units", "import", "u.csv"]) == 1
    assert "line 1: missing column(s) code, name, parent_code, level" in capsys.readouterr().err
    (workdir / "u.xlsx").write_bytes(b"not a workbook")
    assert main(["units", "import", "u.xlsx"]) == 1
    assert "u.xlsx: cannot open as an Excel workbook" in capsys.readouterr().err
    assert main(["units", "import", "missing.csv"]) == 1


def test_every_subcommand_has_help() -> None:
    for args in (["--help"], ["check-config", "--help"], ["deadline", "--help"],
                 ["units", "import", "--help"], ["units", "list", "--help"],
                 ["demo", "--help"], ["invite", "create", "--help"], ["run", "--help"],
                 ["reminders", "preview", "--help"]):
        result = subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True,
                                text=True, cwd=REPO, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "usage: baocao" in result.stdout


def test_reminders_preview(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_config(workdir)
    (workdir / "units.csv").write_text(UNITS_CSV, encoding="utf-8")
    assert main(["units", "import", "units.csv"]) == 0
    assert main(["invite", "create", "--unit", "LC-BX-01", "--role", "officer"]) == 0
    capsys.readouterr()
    assert main(["reminders", "preview", "--from", "2027-06-01", "--to", "2027-06-30",
                 "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines, "the shipped templates have reminders in June 2027"
    assert [x["at"] for x in lines] == sorted(x["at"] for x in lines)
    assert set(lines[0]) == {"at", "unit", "template", "period", "kind", "recipients"}
    assert {x["unit"] for x in lines} == {"LC-BX-01", "LC-02"}  # the communes
    assert all(x["recipients"] == 0 for x in lines)  # the invite is not used yet
    ocop = [x for x in lines if x["template"] == "ocop_thanh_nien" and x["unit"] == "LC-02"]
    assert [(x["at"], x["kind"]) for x in ocop][:3] == [
        ("2027-06-14T08:00:00+07:00", "before:7"), ("2027-06-18T08:00:00+07:00", "before:3"),
        ("2027-06-20T08:00:00+07:00", "before:1")]
    assert main(["reminders", "preview", "--from", "2027-06-30", "--to", "2027-06-01"]) == 1


def test_run_needs_a_token_and_a_complete_webhook(workdir: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(workdir)
    assert main(["run"]) == 2
    assert "no bot token: set BAOCAO_TELEGRAM_TOKEN" in capsys.readouterr().err
    monkeypatch.setenv("BAOCAO_TELEGRAM_TOKEN", "123:ABC")
    write_config(workdir, '[telegram]\nmode = "webhook"\n')
    assert main(["run"]) == 2
    assert "webhook mode needs telegram.webhook_url" in capsys.readouterr().err
