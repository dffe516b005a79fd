"""The command line with Zalo: what check-config and run refuse in [zalo], the Zalo line of an
invite, `stats`, and `run` choosing its channels."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.app import ZALO_BOT_NAME_KEY
from bot.cli import main
from storage.sqlite import SqliteStorage
from tests.chaos import REPO
from tests.fakebotapi import FakeBotAPI
from tests.fakezalo import FakeZalo
from tests.test_cli import write_config

HOOK = ('[zalo]\nmode = "webhook"\nwebhook_url = "https://baocao.example.vn/zalo"\n'
        'webhook_secret = "a-secret-of-some-length"\n')


@pytest.mark.parametrize(("zalo", "expected"), [
    ('[zalo]\nmode = "webhook"\n', ["zalo.webhook_url: required when zalo.mode = \"webhook\"",
                                    "zalo.webhook_secret: required when zalo.mode = \"webhook\""]),
    (HOOK.replace("https://", "http://"), ["zalo.webhook_url: must start with https://"]),
    (HOOK.replace("a-secret-of-some-length", "short"),
     ["zalo.webhook_secret: must be 8-256 characters"]),
    (HOOK + 'listen = "no such host.invalid"\n', ["zalo.listen: 'no such host.invalid' is not"]),
    ('[zalo]\nbase_url = "bot-api.zaloplatforms.com"\n', ["zalo.base_url: must be an http(s)"]),
    ('[zalo]\nmonthly_quota = -1\n', ["zalo.monthly_quota"]),
])
def test_check_config_names_each_zalo_problem(workdir: Path, capsys: pytest.CaptureFixture[str],
                                              zalo: str, expected: list[str]) -> None:
    write_config(workdir, zalo)
    assert main(["check-config"]) == 2
    err = capsys.readouterr().err
    for line in expected:
        assert line in err, err
    assert len(err.strip().splitlines()) == len(expected), err


def test_check_config_accepts_zalo_and_names_the_channels(
        workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(workdir, HOOK)
    monkeypatch.setenv("BAOCAO_ZALO_TOKEN", "1459232241454765289:Zk9xQ2mVbL7p")
    assert main(["check-config"]) == 0
    assert "channels: zalo\n" in capsys.readouterr().out
    monkeypatch.setenv("BAOCAO_ZALO_TOKEN", "not a token")
    assert main(["check-config"]) == 2
    err = capsys.readouterr().err
    assert "BAOCAO_ZALO_TOKEN: not a bot token (expected bot id:key" in err
    assert "not a token" not in err.replace("not a token (", "")  # never shown


def test_two_webhooks_cannot_share_a_port(workdir: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(workdir, HOOK + "port = 8443\n[telegram]\nmode = \"webhook\"\n"
                 'webhook_url = "https://baocao.example.vn/tg"\nwebhook_secret = "abc"\n')
    monkeypatch.setenv("BAOCAO_TELEGRAM_TOKEN", "123:abc")
    assert main(["check-config"]) == 2
    assert "zalo.port: 8443 is telegram.port too" in capsys.readouterr().err


def test_run_without_any_token_names_both(workdir: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    write_config(workdir)
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "no bot token: set BAOCAO_TELEGRAM_TOKEN (Telegram) or BAOCAO_ZALO_TOKEN (Zalo)" in err


def test_run_with_a_refused_zalo_token_is_one_line(tmp_path: Path) -> None:
    with FakeZalo(max_poll=0.2) as fake:
        config = tmp_path / "config.toml"
        config.write_text(f'[zalo]\nbase_url = "{fake.base_url}"\n[storage]\n'
                          f'path = "{tmp_path / "db.sqlite"}"\n', encoding="utf-8")
        done = subprocess.run(
            [sys.executable, "-m", "bot", "--config", str(config), "run"], cwd=tmp_path,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO),
                 "BAOCAO_ZALO_TOKEN": "1:wrong-key"},
            capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: the Zalo Bot API refused the token (401 Unauthorized): check "
                      "BAOCAO_ZALO_TOKEN or zalo.token"]
    assert "Traceback" not in done.stderr and "wrong-key" not in done.stderr


def test_invite_prints_how_to_join_on_zalo(workdir: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(workdir, '[zalo]\nlink = "https://zalo.me/s/baocao"\n')
    units = workdir / "units.csv"
    units.write_text("code,name,parent_code,level\nX,Xã X,,xa\n", encoding="utf-8")
    assert main(["units", "import", str(units)]) == 0
    capsys.readouterr()
    assert main(["invite", "create", "--unit", "X", "--role", "officer"]) == 0
    code, zalo = capsys.readouterr().out.splitlines()
    assert zalo == f"Zalo: open https://zalo.me/s/baocao and send {code}"
    write_config(workdir)  # no link: the name the bot had at its last start
    monkeypatch.setenv("BAOCAO_ZALO_TOKEN", "1:abc")

    async def remember() -> None:
        storage = await SqliteStorage.open(workdir / "db.sqlite")
        await storage.set_setting(ZALO_BOT_NAME_KEY, "Báo cáo xã")
        await storage.close()
    asyncio.run(remember())
    assert main(["invite", "create", "--unit", "X", "--role", "officer"]) == 0
    code, zalo = capsys.readouterr().out.splitlines()
    assert zalo == f"Zalo: open the Zalo bot “Báo cáo xã” and send {code}"


def test_stats_counts_messages_by_month_against_the_quota(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_config(workdir, "[zalo]\nmonthly_quota = 3000\n")
    assert main(["stats"]) == 0
    assert capsys.readouterr().out.startswith("no messages counted yet")

    async def sent() -> None:
        storage = await SqliteStorage.open(workdir / "db.sqlite")
        for month, n in (("2026-10", 300), ("2026-11", 2000), ("2026-12", 1000),
                         ("2026-12", 234)):
            await storage.count_sent("zalo", month, n)
        await storage.close()
    asyncio.run(sent())
    assert main(["stats", "--months", "2"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "zalo      2026-12  1,234 messages of 3,000 (41%)",
        "zalo      2026-11  2,000 messages of 3,000 (67%)"]
    assert main(["stats", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["messages"]
    assert [(r["month"], r["sent"], r["quota"]) for r in rows] == [
        ("2026-12", 1234, 3000), ("2026-11", 2000, 3000), ("2026-10", 300, 3000)]


def test_run_with_telegram_stops_when_zalo_refuses(tmp_path: Path) -> None:
    with FakeZalo(max_poll=0.2) as zalo, FakeBotAPI() as telegram:
        config = tmp_path / "config.toml"
        config.write_text(f'[zalo]\nbase_url = "{zalo.base_url}"\n[telegram]\nbase_url = '
                          f'"{telegram.base_url}"\n[storage]\npath = "{tmp_path / "db.sqlite"}"\n',
                          encoding="utf-8")
        done = subprocess.run(
            [sys.executable, "-m", "bot", "--config", str(config), "run"], cwd=tmp_path,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "BAOCAO_ZALO_TOKEN": "1:bad",
                 "BAOCAO_TELEGRAM_TOKEN": telegram.token},
            capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "error: the Zalo Bot API refused the token (401 Unauthorized)" in done.stderr
    assert "Traceback" not in done.stderr
