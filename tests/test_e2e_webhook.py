"""Webhook mode end to end: `baocao run` receives updates over HTTP, checks Telegram's secret
header, and answers through the (fake) Bot API."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.fakebotapi import FakeBotAPI

REPO = Path(__file__).resolve().parents[1]
SECRET = "s3cret-token_for-tests"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post(url: str, update: dict[str, object] | bytes, secret: str) -> int:
    body = update if isinstance(update, bytes) else json.dumps(update).encode()
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json",
                                              "X-Telegram-Bot-Api-Secret-Token": secret})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def update(update_id: int, user: int, text: str) -> dict[str, object]:
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": int(time.time()), "text": text,
        "chat": {"id": user, "type": "private", "first_name": "Cán bộ"},
        "from": {"id": user, "is_bot": False, "first_name": "Cán bộ"}}}


def test_webhook_checks_the_secret_and_answers(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    with FakeBotAPI() as fake:
        (tmp_path / "config.toml").write_text(
            f'[telegram]\nbase_url = "{fake.base_url}"\nmode = "webhook"\n'
            f'webhook_url = "{url}"\nwebhook_secret = "{SECRET}"\nlisten = "127.0.0.1"\n'
            f'port = {port}\n[storage]\npath = "{tmp_path / "db.sqlite"}"\n', encoding="utf-8")
        env = {**os.environ, "BAOCAO_CONFIG": str(tmp_path / "config.toml"),
               "BAOCAO_TELEGRAM_TOKEN": fake.token, "PYTHONPATH": str(REPO)}
        with open(tmp_path / "bot.log", "w") as log:
            bot = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env, cwd=tmp_path,
                                   stdout=subprocess.DEVNULL, stderr=log)
        try:
            hook = fake.wait_for_call("setWebhook", timeout=20)
            assert hook["url"] == url and hook["secret_token"] == SECRET
            deadline = time.monotonic() + 20
            status = 0
            while time.monotonic() < deadline:  # the listener starts just after setWebhook
                try:
                    status = post(url, update(1, 901, "xin chào"), "wrong-secret")
                    break
                except OSError:
                    time.sleep(0.2)
            assert status == 403  # a forged call is refused and handled by nobody
            assert post(url, b"<html>not json</html>", SECRET) == 400  # the caller's mistake
            assert post(url, b"{not json", "wrong-secret") == 403
            assert post(url, update(2, 901, "xin chào"), SECRET) == 200
            # stored before the 200 (Telegram would not deliver it again after a crash)
            with sqlite3.connect(tmp_path / "db.sqlite") as db:
                assert db.execute("SELECT event_id FROM inbox").fetchall() == [("2",)]
            reply = fake.wait_for_message(901, timeout=20)
            assert "Bạn chưa tham gia" in reply["text"]
            assert len(fake.sent_messages(901)) == 1
        finally:
            bot.terminate()
            bot.wait(timeout=20)
