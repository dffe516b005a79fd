"""The `baocao` CLI: check-config, deadline, units import/list."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest
from openpyxl import Workbook

from bot.cli import main
from bot.config import SHIPPED_REPORTS
from bot.domain.units import LEVELS_ACCEPTED
from tests.old_reports import OLD_REPORTS

REPO = Path(__file__).resolve().parents[1]
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ ")


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


@pytest.mark.parametrize(("edit", "expected"), [
    # a monthly report due in the quarter's first month: late before February/March open
    (lambda t: t.replace('deadline = "chậm nhất ngày 20 hằng tháng"',
                         'deadline = "trước ngày 10 tháng đầu quý"'),
     "reports/ocop_thanh_nien.toml: deadline: 'trước ngày 10 tháng đầu quý' on a monthly "
     "report: due 10/01/2024 is before the period 2024-02 starts (01/02/2024), so the report "
     "is late before it opens"),
    # a weekly report with a day-of-month rule: weeks after the 20th are late before they open
    (lambda t: t.replace('period = "month"', 'period = "week"'),
     "reports/ocop_thanh_nien.toml: deadline: 'chậm nhất ngày 20 hằng tháng' on a weekly "
     "report: due 21/01/2024 is before the period 2024-W04 starts (22/01/2024), so the report "
     "is late before it opens"),
])
def test_deadline_due_before_its_period_starts_is_refused(
        workdir: Path, capsys: pytest.CaptureFixture[str], edit: object, expected: str) -> None:
    folder = copy_reports(workdir)
    target = folder / "ocop_thanh_nien.toml"
    before = target.read_text(encoding="utf-8")
    after = edit(before)  # type: ignore[operator]
    assert after != before
    target.write_text(after, encoding="utf-8")
    write_config(workdir, '[reports]\ndir = "reports"\n')
    assert main(["check-config"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1  # the other shipped templates stay clean
    assert err[0].startswith(expected)


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


@pytest.mark.parametrize(("phrase", "period", "due", "last"), [
    # tháng M on a year report: the occurrence nearest the year's end
    ("trước ngày 15 tháng 1", "2026", "2027-01-15T00:00:00+07:00", "2027-01-14"),
    ("trước ngày 15 tháng 11", "2026", "2026-11-15T00:00:00+07:00", "2026-11-14"),
    # "… kết thúc quý" on a monthly report: the end of the quarter holding the month
    ("10 ngày sau khi kết thúc quý", "2026-02", "2026-04-11T00:00:00+07:00", "2026-04-10"),
    ("10 ngày sau khi kết thúc năm", "2026-02", "2027-01-11T00:00:00+07:00", "2027-01-10"),
])
def test_deadline_json_new_readings(workdir: Path, capsys: pytest.CaptureFixture[str],
                                    phrase: str, period: str, due: str, last: str) -> None:
    assert main(["deadline", phrase, "--period", period, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data) == ["phrase", "period", "period_start", "period_end", "due",
                          "last_on_time_day"]
    assert (data["phrase"], data["period"], data["due"], data["last_on_time_day"]) == (
        phrase, period, due, last)


def test_deadline_errors(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deadline", "khi nào xong", "--period", "2026-Q1"]) == 1
    assert "khi nào xong" in capsys.readouterr().err
    assert main(["deadline", "trước ngày 5", "--period", "2026-Q7"]) == 1


@pytest.mark.parametrize(("phrase", "period"), [
    ("366 ngày sau khi kết thúc kỳ", "9998"),
    ("10 ngày sau khi kết thúc năm", "9998-W53"),  # the week ends in 9999: its year's end + 10
])
def test_deadline_past_the_last_year_is_an_error_not_a_traceback(
        workdir: Path, capsys: pytest.CaptureFixture[str], phrase: str, period: str) -> None:
    assert main(["deadline", phrase, "--period", period]) == 1
    assert f"error: {phrase!r}: for {period} the due day is past the year 9999" in (
        capsys.readouterr().err)


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


@pytest.mark.parametrize("delimiter", [";", "\t"], ids=["semicolon", "tab"])
def test_units_import_reads_semicolon_and_tab_files(
    workdir: Path, capsys: pytest.CaptureFixture[str], delimiter: str
) -> None:
    """Excel in the Vietnamese locale saves CSV with ';' (with a BOM); a paste from a
    spreadsheet has tabs. Names may hold commas, and the level column may be anywhere."""
    write_config(workdir)
    rows = [["level", "code", "name", "parent_code"],
            ["tinh", "LC", "Tỉnh đoàn Lào Cai", ""],
            ["huyen", "LC-BX", "Huyện đoàn Bát Xát, Lào Cai", "LC"],
            ["xã", "LC-BX-01", "Đoàn xã Bản Vược", "LC-BX"]]
    text = "\r\n".join(delimiter.join(r) for r in rows) + "\r\n"
    (workdir / "units.csv").write_bytes("\ufeff".encode() + text.encode("utf-8"))
    assert main(["units", "import", "units.csv"]) == 0
    assert "3 added" in capsys.readouterr().out
    assert main(["units", "list"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "LC  Tỉnh đoàn Lào Cai (tinh)",
        "  LC-BX  Huyện đoàn Bát Xát, Lào Cai (huyen)",
        "    LC-BX-01  Đoàn xã Bản Vược (xa)",
    ]


def test_units_import_errors_in_line_order_without_follow_on_errors(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_config(workdir)
    (workdir / "u.csv").write_text(
        "code,name,parent_code,level\n"
        "X-01,Đoàn xã Một,X,xa\n"            # line 2: its parent (line 4) is refused: no error
        "Y-01,Đoàn xã Hai,ZZZ,xa\n"          # line 3: a real unknown parent
        "X,Huyện đoàn X,,huyện đoàn\n"       # line 4: bad level
        "X-02,Đoàn xã Ba,X,xa\n"             # line 5: child of the refused X: no error
        "X-01,Đoàn xã Một lại,X,xa\n",       # line 6: duplicate
        encoding="utf-8")
    assert main(["units", "import", "u.csv"]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if not LOG_LINE.match(line)]
    assert err == [
        "u.csv: line 3: unknown parent 'ZZZ' of 'Y-01'",
        "u.csv: line 4: unknown level 'huyện đoàn' (use " + LEVELS_ACCEPTED + ")",
        "u.csv: line 6: duplicate code 'X-01' (first on line 2)",
        "nothing imported (3 problem(s))",
    ]


def test_units_import_normalises_codes(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Codes that look the same are one code: 'HỒ-01' decomposed (NFD, as macOS may save it)
    or composed (NFC), with stray spaces, in the file or on the command line."""
    write_config(workdir)
    nfd = unicodedata.normalize("NFD", "HỒ-01")
    nfc = unicodedata.normalize("NFC", "HỒ-01")
    assert nfd != nfc
    (workdir / "u.csv").write_text(f"code,name,parent_code,level\nHỒ,Huyện đoàn Hồ,,huyen\n"
                                   f" {nfd} ,Đoàn xã Hồ,HỒ,xa\n", encoding="utf-8")
    assert main(["units", "import", "u.csv"]) == 0
    capsys.readouterr()
    (workdir / "u.csv").write_text(f"code,name,parent_code,level\n{nfc},Đoàn xã Hồ mới,"
                                   f"{unicodedata.normalize('NFD', 'HỒ')},xa\n",
                                   encoding="utf-8")
    assert main(["units", "import", "u.csv"]) == 0
    assert "0 added, 1 updated" in capsys.readouterr().out
    assert main(["units", "list"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "HỒ  Huyện đoàn Hồ (huyen)", f"  {nfc}  Đoàn xã Hồ mới (xa)"]
    assert main(["invite", "create", "--unit", nfd, "--role", "officer"]) == 0


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
    # The templates of before issue 12: they apply to any commune of UNITS_CSV's old tree.
    write_config(workdir, f'[reports]\ndir = "{OLD_REPORTS}"\n')
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
    assert "telegram.token: no bot token: set BAOCAO_TELEGRAM_TOKEN" in capsys.readouterr().err
    monkeypatch.setenv("BAOCAO_TELEGRAM_TOKEN", "123:ABC")
    write_config(workdir, '[telegram]\nmode = "webhook"\n')
    assert main(["run"]) == 2
    assert ('config.toml: telegram.webhook_url: required when telegram.mode = "webhook"'
            in capsys.readouterr().err)


WEBHOOK = ('[telegram]\nmode = "webhook"\nwebhook_url = "https://baocao.example.vn/telegram"\n'
           'webhook_secret = "a-long_random-Secret0123"\n')
NEEDED = 'required when telegram.mode = "webhook"'


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda c: c.replace('webhook_url = "https://baocao.example.vn/telegram"\n', ""),
     [f"config.toml: telegram.webhook_url: {NEEDED}"]),
    (lambda c: c.replace('webhook_secret = "a-long_random-Secret0123"\n', ""),
     [f"config.toml: telegram.webhook_secret: {NEEDED}"]),
    (lambda c: '[telegram]\nmode = "webhook"\n',
     [f"config.toml: telegram.webhook_url: {NEEDED}",
      f"config.toml: telegram.webhook_secret: {NEEDED}"]),
    (lambda c: c.replace("https://", "http://"),
     ["config.toml: telegram.webhook_url: must start with https://"]),
    (lambda c: c.replace("example.vn/", "example.vn:8080/"),
     ["config.toml: telegram.webhook_url: port 8080 is not one Telegram calls"]),
    (lambda c: c.replace("https://baocao.example.vn/telegram", "baocao.example.vn/telegram"),
     ["config.toml: telegram.webhook_url: must be a URL"]),
    (lambda c: c.replace("a-long_random-Secret0123", "mật khẩu bí mật"),
     ["config.toml: telegram.webhook_secret: must be 1-256 characters, only A-Z a-z 0-9 _ -"]),
    (lambda c: c.replace("a-long_random-Secret0123", "x" * 257),
     ["config.toml: telegram.webhook_secret: must be 1-256 characters"]),
    (lambda c: c.replace("a-long_random-Secret0123", ""),
     ["config.toml: telegram.webhook_secret: must be 1-256 characters"]),
    (lambda c: c + 'base_url = "api.telegram.org/bot"\n',
     ["config.toml: telegram.base_url: must be an http(s) URL"]),
    (lambda c: c + 'base_url = "https:///bot"\n',  # no host
     ["config.toml: telegram.base_url: must be an http(s) URL"]),
])
@pytest.mark.parametrize("command", ["check-config", "run"])
def test_check_config_refuses_what_run_refuses(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    command: str, edit: Callable[[str], str], expected: list[str],
) -> None:
    monkeypatch.setenv("BAOCAO_TELEGRAM_TOKEN", "123456:ABC-def_123")  # `run` needs one
    write_config(workdir, edit(WEBHOOK))
    assert main([command]) == 2
    err = capsys.readouterr().err
    for line in expected:
        assert line in err
    assert len(err.strip().splitlines()) == len(expected), err  # nothing else


@pytest.mark.parametrize("telegram", [
    WEBHOOK,
    WEBHOOK.replace("example.vn/", "example.vn:8443/"),
    # A self-hosted Bot API server (--local) calls plain http webhooks on any port.
    WEBHOOK.replace("https://baocao.example.vn/", "http://127.0.0.1:8080/")
    + 'base_url = "http://127.0.0.1:8081/bot"\n',
    '[telegram]\nmode = "polling"\n',
])
def test_check_config_accepts_complete_telegram_settings(
    workdir: Path, capsys: pytest.CaptureFixture[str], telegram: str
) -> None:
    write_config(workdir, telegram)
    assert main(["check-config"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK: 5 templates")
    # No token: not an error (only `run` needs it), but said.
    assert ("note: `baocao run` needs a bot token: set BAOCAO_TELEGRAM_TOKEN (Telegram) or "
            "BAOCAO_ZALO_TOKEN (Zalo)") in out


def test_check_config_refuses_a_malformed_token(workdir: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAOCAO_TELEGRAM_TOKEN", "paste-token-here")
    assert main(["check-config"]) == 2
    err = capsys.readouterr().err
    assert "BAOCAO_TELEGRAM_TOKEN: not a bot token" in err and "paste-token-here" not in err
    monkeypatch.delenv("BAOCAO_TELEGRAM_TOKEN")
    write_config(workdir, '[telegram]\ntoken = "123 456"\n')
    assert main(["check-config"]) == 2
    assert "config.toml: telegram.token: not a bot token" in capsys.readouterr().err
    write_config(workdir, '[telegram]\ntoken = "123456:ABC/def"\n')  # a good start is not enough
    assert main(["check-config"]) == 2
    assert "config.toml: telegram.token: not a bot token" in capsys.readouterr().err
    write_config(workdir, '[telegram]\ntoken = "123456:ABC-def_123"\n')
    assert main(["check-config"]) == 0
    assert "note:" not in capsys.readouterr().out
