"""The bot token is never written: not by httpx's request lines, not in tracebacks, not at -v.

`baocao run` runs as a subprocess against the fake Bot API with a known token, polls, answers a
message and survives a polling error whose text holds the token (as a proxy's error page might);
its whole output is then searched for the token.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot import logs
from bot.config import Config, TelegramConfig
from tests.fakebotapi import FakeBotAPI

REPO = Path(__file__).resolve().parents[1]
TOKEN = "7301234567:AAHk-SECRET_test-TokenPart0123456789xyz"
SECRET_PART = TOKEN.split(":", 1)[1]
USER = 5150


@pytest.mark.parametrize("flags", [[], ["-v"]], ids=["default", "verbose"])
def test_run_never_writes_the_token(tmp_path: Path, flags: list[str]) -> None:
    with FakeBotAPI(token=TOKEN) as fake:
        base_url = fake.base_url
        config = tmp_path / "config.toml"
        # Default: the token in the environment; -v: in the config file (read after start-up).
        in_file = f'token = "{TOKEN}"\n' if flags else ""
        config.write_text(f'[telegram]\n{in_file}base_url = "{fake.base_url}"\n'
                          f'[storage]\npath = "{tmp_path / "db.sqlite"}"\n', encoding="utf-8")
        env = {**os.environ, "BAOCAO_CONFIG": str(config), "PYTHONPATH": str(REPO)}
        env.pop("BAOCAO_TELEGRAM_TOKEN", None)
        if not flags:
            env["BAOCAO_TELEGRAM_TOKEN"] = TOKEN
        fake.fail_next("getUpdates", 502, f"Bad Gateway: {fake.base_url}{TOKEN}/getUpdates "
                                          f"(token {TOKEN} refused upstream)")
        with open(tmp_path / "out", "w") as out, open(tmp_path / "err", "w") as err:
            bot = subprocess.Popen([sys.executable, "-m", "bot", *flags, "run"], env=env,
                                   cwd=tmp_path, stdout=out, stderr=err)
        try:
            fake.send_text(USER, "xin chào")
            reply = fake.wait_for_message(USER, timeout=30)
            assert "Bạn chưa tham gia" in reply["text"]
        finally:
            bot.terminate()
            bot.wait(timeout=20)
    output = (tmp_path / "out").read_text() + (tmp_path / "err").read_text()
    assert TOKEN not in output and SECRET_PART not in output
    assert "baocao bot @baocao_test_bot started (polling" in output
    assert "Bad Gateway: http://127.0.0.1" in output  # the polling error is logged, redacted:
    assert f"/bot{logs.REDACTED}/getUpdates (token {logs.REDACTED} refused" in output
    if flags:  # libraries at INFO: httpx's request lines are there, token redacted
        assert f"httpx: HTTP Request: POST {base_url}{logs.REDACTED}/getUpdates" in output
    else:  # libraries at WARNING: no request lines, no line per poll
        assert "httpx" not in output and "getUpdates \"HTTP" not in output


def capture(redactor: logs.Redactor) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.RedactingFormatter(redactor))
    logger = logging.getLogger(f"test.redaction.{id(stream)}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    return logger, stream


def test_formatter_redacts_messages_arguments_and_tracebacks() -> None:
    redactor = logs.Redactor()
    redactor.add("zalo-secret-42", None, "")
    logger, stream = capture(redactor)
    logger.debug("GET https://api.telegram.org/bot123:ABC_def-9/getMe")  # any token, unknown
    logger.info("encoded %s", "https://x/bot123%3AABC_def-9/getMe")
    logger.info("zalo says %s", "zalo-secret-42")
    try:
        raise RuntimeError("failed with zalo-secret-42")
    except RuntimeError:
        logger.exception("request failed")
    text = stream.getvalue()
    assert "123:ABC_def-9" not in text and "123%3AABC_def-9" not in text
    assert "bot<redacted>/getMe" in text
    assert "zalo-secret-42" not in text
    assert "zalo says <redacted>" in text and "RuntimeError: failed with <redacted>" in text


def test_config_lists_every_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BAOCAO_TELEGRAM_TOKEN", raising=False)
    config = Config(telegram=TelegramConfig.model_validate(
        {"token": "1:file", "webhook_secret": "hook_secret"}))
    assert config.secrets() == ["1:file", "hook_secret"]
    monkeypatch.setenv("BAOCAO_TELEGRAM_TOKEN", "2:env")
    assert config.secrets() == ["2:env", "hook_secret"]


def test_levels() -> None:
    assert logs.levels(0) == (logging.INFO, logging.WARNING)
    assert logs.levels(0, quiet=True) == (logging.WARNING, logging.WARNING)
    assert logs.levels(1) == (logging.DEBUG, logging.INFO)
    assert logs.levels(1, quiet=True) == (logging.DEBUG, logging.INFO)
    assert logs.levels(2) == (logging.DEBUG, logging.DEBUG)


def test_uncaught_exceptions_are_redacted_too() -> None:
    code = ("from bot import logs\n"
            f"logs.configure(0, secrets=[{TOKEN!r}])\n"
            f"raise SystemError('crashed holding ' + {TOKEN!r})\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO, timeout=60)
    assert result.returncode == 1
    assert TOKEN not in result.stderr and SECRET_PART not in result.stderr
    assert "SystemError: crashed holding <redacted>" in result.stderr


def test_a_secret_is_redacted_percent_encoded_too() -> None:
    """A secret inside a URL (a query string, an encoded path) is written percent-encoded."""
    redactor = logs.Redactor()
    redactor.add("hook/Secret+1:x")
    assert redactor("GET /telegram?s=hook%2FSecret%2B1%3Ax ok") == "GET /telegram?s=<redacted> ok"


def test_a_secret_inside_a_longer_one_leaves_nothing_of_either() -> None:
    redactor = logs.Redactor()
    redactor.add("zalo-app-1")
    redactor.add("zalo-app-1-secret-part")  # learnt later, holds the first
    assert redactor("token zalo-app-1-secret-part") == "token <redacted>"


def test_warnings_thread_errors_and_a_second_configure_go_through_one_redacting_handler(
) -> None:
    code = ("import logging, threading, warnings\n"
            "from bot import logs\n"
            f"logs.configure(0, secrets=[{TOKEN!r}])\n"
            f"logs.configure(0, secrets=[{TOKEN!r}])\n"  # tests and the CLI configure again
            "logging.getLogger('bot.test').warning('written once')\n"
            f"warnings.warn('deprecated call with ' + {TOKEN!r})\n"
            f"def fail() -> None:\n    raise ValueError('thread holding ' + {TOKEN!r})\n"
            "t = threading.Thread(target=fail, name='worker')\n"
            "t.start()\nt.join()\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stderr
    err = result.stderr
    assert TOKEN not in err and SECRET_PART not in err
    assert err.count("written once") == 1
    assert "deprecated call with <redacted>" in err
    assert "uncaught exception in thread worker" in err
    assert "ValueError: thread holding <redacted>" in err
