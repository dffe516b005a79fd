"""What an admin gets wrong, answered in one line naming the option or key: never a traceback.

From the user-side review of issue 9 (admin findings): absurd invite numbers, a database path
that cannot be one, a listen address that does not exist, a token Telegram refuses, a one-off
deadline, a reminder time inside the quiet hours, Excel's `sep=` line and invisible characters
in unit codes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import SHIPPED_REPORTS
from tests.fakebotapi import FakeBotAPI

REPO = Path(__file__).resolve().parents[1]
TOKEN = "7301234567:AAHk-SECRET_test-TokenPart0123456789xyz"
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ ")
UNITS = "code,name,parent_code,level\nLC,Tỉnh đoàn Lào Cai,,tinh\nLC-01,Đoàn xã A,LC,xa\n"


def configure(workdir: Path, text: str = "", db: str | None = None) -> None:
    db = db if db is not None else str(workdir / "db.sqlite")
    (workdir / "config.toml").write_text(f'[storage]\npath = "{db}"\n{text}', encoding="utf-8")


def errors(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """What stderr says, without log lines (migrations applied…)."""
    return [line for line in capsys.readouterr().err.strip().splitlines()
            if not LOG_LINE.match(line)]


# --- F8: invite numbers ------------------------------------------------------------------------


@pytest.mark.parametrize(("option", "value", "expected"), [
    ("--expires-days", "100000000", "--expires-days must be from 1 to 3650 (ten years), not "
                                    "100000000"),
    ("--expires-days", "3651", "--expires-days must be from 1 to 3650"),
    ("--expires-days", "0", "--expires-days must be from 1 to 3650"),
    ("--uses", "99999999999999999999", "--uses must be from 1 to 10000, not "
                                       "99999999999999999999"),
    ("--uses", "10001", "--uses must be from 1 to 10000"),
    ("--uses", "0", "--uses must be from 1 to 10000"),
])
def test_invite_numbers_out_of_range_name_the_option_and_the_range(
    workdir: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, expected: str
) -> None:
    configure(workdir)
    (workdir / "u.csv").write_text(UNITS, encoding="utf-8")
    assert main(["units", "import", "u.csv"]) == 0
    capsys.readouterr()
    assert main(["invite", "create", "--unit", "LC-01", "--role", "officer", option,
                 value]) == 1
    (line,) = errors(capsys)
    assert line.startswith(f"error: {expected}")


def test_invite_numbers_at_the_bounds_are_accepted(workdir: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    configure(workdir)
    (workdir / "u.csv").write_text(UNITS, encoding="utf-8")
    assert main(["units", "import", "u.csv"]) == 0
    assert main(["invite", "create", "--unit", "LC-01", "--role", "officer", "--uses", "10000",
                 "--expires-days", "3650"]) == 0
    assert "uses 10000, expires " in capsys.readouterr().err


# --- F9: a database path that cannot be one ----------------------------------------------------


def unusable_paths(workdir: Path) -> list[tuple[Path, str]]:
    """(storage.path, the reason given) for every way a path cannot hold the database."""
    (workdir / "a_folder").mkdir(exist_ok=True)
    (workdir / "notes.txt").write_text("not a database\n", encoding="utf-8")
    found = [
        (workdir / "a_folder", f"it is a folder, not a file (name a file in it, e.g. "
                               f"{workdir / 'a_folder' / 'baocao.db'})"),
        (workdir / "notes.txt", "file is not a database"),
        (workdir / "notes.txt" / "data" / "baocao.db", f"{workdir / 'notes.txt'} is not a folder"),
    ]
    if Path("/proc/self").is_dir():  # Linux: nobody, root included, creates a folder in /proc
        found.append((Path("/proc/baocao-nope/x.db"), "cannot create /proc/baocao-nope: "))
    return found


def test_check_config_refuses_a_path_that_cannot_hold_the_database(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for path, why in unusable_paths(workdir):
        configure(workdir, db=str(path))
        assert main(["check-config"]) == 2, path
        (line,) = errors(capsys)
        assert line.startswith(f"config.toml: storage.path: cannot open database {path}: {why}")
    assert sorted(p.name for p in workdir.iterdir()) == [  # the checks left nothing behind
        "a_folder", "config.toml", "notes.txt"]


@pytest.mark.parametrize("command", [
    ["units", "list"], ["units", "import", "u.csv"],
    ["invite", "create", "--unit", "LC-01", "--role", "officer"],
    ["reminders", "preview", "--from", "2026-03-01", "--to", "2026-03-31"],
])
def test_commands_that_open_the_database_say_why_they_cannot(
    workdir: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    (workdir / "u.csv").write_text(UNITS, encoding="utf-8")
    for path, why in unusable_paths(workdir):
        configure(workdir, db=str(path))
        assert main(command) == 1, path
        (line,) = errors(capsys)
        assert line.startswith(f"error: cannot open database {path} (storage.path in "
                               f"config.toml): {why}")


def test_run_and_demo_refuse_an_unusable_database(workdir: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    folder = workdir / "a_folder"
    folder.mkdir()
    configure(workdir, db=str(folder))
    monkeypatch.setenv("BAOCAO_TELEGRAM_TOKEN", "123456:ABC-def_123")
    assert main(["run"]) == 2  # refused before Telegram is asked anything
    assert errors(capsys) == [f"error: config.toml: storage.path: cannot open database {folder}: "
                              f"it is a folder, not a file (name a file in it, e.g. "
                              f"{folder / 'baocao.db'})"]
    configure(workdir)
    assert main(["demo", "--db", str(folder)]) == 1
    assert errors(capsys) == [f"error: cannot open database {folder} (--db): it is a folder, not "
                              f"a file (name a file in it, e.g. {folder / 'baocao.db'})"]


# --- telegram.listen -------------------------------------------------------------------------

WEBHOOK = ('[telegram]\nmode = "webhook"\nwebhook_url = "https://baocao.example.vn/telegram"\n'
           'webhook_secret = "a-long_random-Secret0123"\n')


@pytest.mark.parametrize("listen", ["no-such-host.invalid", "not an address", "", "x" * 300])
@pytest.mark.parametrize("command", ["check-config", "run"])
def test_a_listen_address_that_does_not_exist_is_refused(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    listen: str, command: str,
) -> None:
    monkeypatch.setenv("BAOCAO_TELEGRAM_TOKEN", "123456:ABC-def_123")
    configure(workdir, WEBHOOK + f'listen = "{listen}"\n')
    assert main([command]) == 2
    (line,) = errors(capsys)
    assert f"config.toml: telegram.listen: {listen!r} is not an IP address or a host name" in line


@pytest.mark.parametrize("listen", ["127.0.0.1", "0.0.0.0", "::", "::1", "localhost"])
def test_listen_addresses_that_exist_are_accepted(workdir: Path, listen: str) -> None:
    configure(workdir, WEBHOOK + f'listen = "{listen}"\n')
    assert main(["check-config"]) == 0


def test_listen_is_not_checked_when_polling(workdir: Path) -> None:
    configure(workdir, '[telegram]\nlisten = "not an address"\n')
    assert main(["check-config"]) == 0


# --- a token Telegram refuses; a Bot API nobody answers ---------------------------------------


def baocao_run(tmp_path: Path, base_url: str, token_in_file: bool = False) -> tuple[int, str]:
    config = tmp_path / "config.toml"
    token_line = f'token = "{TOKEN}"\n' if token_in_file else ""
    config.write_text(f'[telegram]\n{token_line}base_url = "{base_url}"\n'
                      f'[storage]\npath = "{tmp_path / "db.sqlite"}"\n', encoding="utf-8")
    env = {**os.environ, "BAOCAO_CONFIG": str(config), "PYTHONPATH": str(REPO)}
    env.pop("BAOCAO_TELEGRAM_TOKEN", None)
    if not token_in_file:
        env["BAOCAO_TELEGRAM_TOKEN"] = TOKEN
    result = subprocess.run([sys.executable, "-m", "bot", "run"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize("token_in_file", [False, True], ids=["env", "file"])
def test_a_refused_token_is_one_line(tmp_path: Path, token_in_file: bool) -> None:
    with FakeBotAPI(token="1111:the-real-token") as fake:  # refuses every other token: 401
        code, output = baocao_run(tmp_path, fake.base_url, token_in_file)
    where = f"telegram.token in {tmp_path / 'config.toml'}" if token_in_file \
        else "BAOCAO_TELEGRAM_TOKEN"
    assert code == 1
    assert output.splitlines() == [
        f"error: the Bot API refused the token (Unauthorized): check {where}"]
    assert TOKEN.split(":")[1] not in output


def test_an_unreachable_bot_api_is_one_line(tmp_path: Path) -> None:
    with FakeBotAPI() as fake:
        base_url = fake.base_url  # a port that was served a moment ago, and is closed now
    code, output = baocao_run(tmp_path, base_url)
    host = base_url.split("/")[2]
    assert code == 1
    (line,) = output.splitlines()
    assert line.startswith(f"error: cannot reach the Bot API at {host} (")
    assert line.endswith("): check the network and telegram.base_url")
    assert TOKEN.split(":")[1] not in output


# --- F6: a one-off deadline ------------------------------------------------------------------


def test_check_config_refuses_a_one_off_deadline(workdir: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    folder = workdir / "reports"
    folder.mkdir()
    template = (SHIPPED_REPORTS / "nghi_quyet_20_ktt.toml").read_text(encoding="utf-8")
    assert 'deadline = "trước ngày 25 tháng 11"' in template  # a yearly report
    (folder / "nq20.toml").write_text(template.replace(
        'deadline = "trước ngày 25 tháng 11"', 'deadline = "trước ngày 15 tháng 11 năm 2020"'),
        encoding="utf-8")
    configure(workdir, '[reports]\ndir = "reports"\n')
    assert main(["check-config"]) == 2
    assert errors(capsys) == [
        "reports/nq20.toml: deadline: 'trước ngày 15 tháng 11 năm 2020' names one day "
        "(15/11/2020), but a yearly report recurs: every period after that day would be late "
        "before it opens and never show in /baocao; write it without the year: "
        "'trước ngày 15 tháng 11'"]


# --- reminders inside the quiet hours ----------------------------------------------------------


@pytest.mark.parametrize(("reminders", "refused"), [
    ('send_at = "22:00:00"\n', "22:00 is inside the quiet hours (21:00–07:00"),
    ('send_at = "21:00:00"\n', "21:00 is inside the quiet hours (21:00–07:00"),
    ('send_at = "06:59:00"\n', "06:59 is inside the quiet hours (21:00–07:00"),
    # the default send_at (08:00) inside quiet hours that were moved
    ('quiet_start = "06:00:00"\nquiet_end = "09:00:00"\n',
     "08:00 is inside the quiet hours (06:00–09:00"),
    ('send_at = "07:00:00"\n', None),
    ('send_at = "20:59:00"\n', None),
    ('send_at = "22:00:00"\nquiet_start = "00:00:00"\nquiet_end = "00:00:00"\n', None),  # none
])
def test_config_send_at_inside_the_quiet_hours_is_refused(
    workdir: Path, capsys: pytest.CaptureFixture[str], reminders: str, refused: str | None
) -> None:
    """Inside the quiet hours every reminder waited for their end, the next morning, and the
    last day's, due by then, was never sent (review: admin side)."""
    configure(workdir, "[reminders]\n" + reminders)
    if refused is None:
        assert main(["check-config"]) == 0
        return
    assert main(["check-config"]) == 2
    (line,) = errors(capsys)
    assert line.startswith(f"config.toml: reminders.send_at: Value error, {refused}, [reminders] "
                           "quiet_start–quiet_end of the config), when nothing is sent: choose "
                           "a time outside them")
    assert main(["units", "list"]) == 2  # a config error: every command refuses the file


@pytest.mark.parametrize("command", [
    ["check-config"], ["run"],
    ["reminders", "preview", "--from", "2026-03-01", "--to", "2026-03-31"],
])
def test_a_template_send_at_inside_the_quiet_hours_is_refused(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    command: list[str],
) -> None:
    folder = workdir / "reports"
    folder.mkdir()
    template = (SHIPPED_REPORTS / "ocop_thanh_nien.toml").read_text(encoding="utf-8")
    assert "[reminders]" not in template
    (folder / "ocop.toml").write_text(template + '\n[reminders]\nsend_at = "22:30:00"\n',
                                      encoding="utf-8")
    configure(workdir, '[reports]\ndir = "reports"\n[reminders]\nquiet_start = "21:30:00"\n')
    monkeypatch.setenv("BAOCAO_TELEGRAM_TOKEN", "123456:ABC-def_123")
    assert main(command) == 2
    (line,) = errors(capsys)
    assert line.endswith("reports/ocop.toml: reminders.send_at: 22:30 is inside the quiet hours "
                         "(21:30–07:00, [reminders] quiet_start–quiet_end of the config), when "
                         "nothing is sent: choose a time outside them")


# --- units import: Excel's sep= line ----------------------------------------------------------


@pytest.mark.parametrize(("sep_line", "delimiter"), [
    ("sep=;", ";"), ("sep=,", ","), ("sep=\t", "\t"), ("sep=\\t", "\t"), ('"sep=;"', ";"),
    ("SEP=;", ";"),
])
def test_units_import_obeys_a_sep_line(workdir: Path, capsys: pytest.CaptureFixture[str],
                                       sep_line: str, delimiter: str) -> None:
    configure(workdir)
    rows = [["code", "name", "parent_code", "level"], ["LC", "Tỉnh đoàn Lào Cai", "", "tinh"],
            ["LC-01", "Đoàn xã A, B", "LC", "xa"]]
    text = sep_line + "\r\n" + "\r\n".join(delimiter.join(r) for r in rows) + "\r\n"
    if delimiter == ",":
        text = text.replace("Đoàn xã A, B", '"Đoàn xã A, B"')
    (workdir / "u.csv").write_bytes("\ufeff".encode() + text.encode("utf-8"))
    assert main(["units", "import", "u.csv"]) == 0
    assert "2 added" in capsys.readouterr().out
    assert main(["units", "list"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "LC  Tỉnh đoàn Lào Cai (tinh)", "  LC-01  Đoàn xã A, B (xa)"]


def test_lines_after_a_sep_line_keep_their_numbers(workdir: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    configure(workdir)
    (workdir / "u.csv").write_text("sep=;\ncode;name;parent_code;level\nLC;Tỉnh;;tinh\n"
                                   "LC-01;Xã;ZZ;xa\n", encoding="utf-8")
    assert main(["units", "import", "u.csv"]) == 1
    assert errors(capsys)[0] == "u.csv: line 4: unknown parent 'ZZ' of 'LC-01'"
    (workdir / "u.csv").write_text("sep=;\nma;ten\n", encoding="utf-8")
    assert main(["units", "import", "u.csv"]) == 1
    assert errors(capsys) == ["error: u.csv: line 2: missing column(s) code, name, parent_code, "
                              "level (need code,name,parent_code,level)"]


# --- invisible characters in codes -------------------------------------------------------------


def test_invisible_characters_in_codes_do_not_make_new_units(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(workdir)
    (workdir / "u.csv").write_text("code,name,parent_code,level\nT12\u200b,Tỉnh 12,,tinh\n"
                                   "T12-1\u00a0,Xã,\ufeffT12,xa\n", encoding="utf-8")
    assert main(["units", "import", "u.csv"]) == 0
    assert "2 added" in capsys.readouterr().out
    assert main(["units", "list"]) == 0
    assert capsys.readouterr().out.splitlines() == ["T12  Tỉnh 12 (tinh)", "  T12-1  Xã (xa)"]
    # a code copied with a zero-width space, on the command line
    assert main(["invite", "create", "--unit", "T12-1\u200b", "--role", "officer"]) == 0
