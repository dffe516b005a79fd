"""Tests of :mod:`tests.fakezalo` itself, with plain httpx: the fake must speak the wire format
of /work/shared/docs/zalo-bot-api.md, or tests of the Zalo bot against it prove nothing."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.fakezalo import FakeZalo

USER = "8d4e1f0a2b3c4d5e6f70"
OTHER = "3a9c7b1e5d2f4a6b8c0d"
SECRET = "s3cret-token-for-tests"
IDLE = {"ok": False, "error_code": 408, "description": "Request timeout"}
HEX32 = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def fake() -> Iterator[FakeZalo]:
    with FakeZalo(max_poll=0.2) as server:
        yield server


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5, trust_env=False) as c:
        yield c


def _url(fake: FakeZalo, method: str, token: str | None = None) -> str:
    return f"{fake.base_url}{token or fake.token}/{method}"


def _call(client: httpx.Client, fake: FakeZalo, method: str, **params: Any) -> httpx.Response:
    return client.post(_url(fake, method), json=params)


class _Receiver:
    """A tiny webhook endpoint: records each POST and answers 200 only with the right secret,
    as the bot's webhook does."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.received: list[tuple[dict[str, str], Any]] = []
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.cond:
                    receiver.received.append((dict(self.headers.items()), json.loads(body)))
                    receiver.cond.notify_all()
                ok = self.headers.get("X-Bot-Api-Secret-Token") == receiver.secret
                self.send_response(200 if ok else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/zalo/webhook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[dict[str, str], Any]]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.received) >= count, timeout), self.received
            return list(self.received)


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    r = _Receiver(SECRET)
    r.thread.start()
    try:
        yield r
    finally:
        r.server.shutdown()
        r.server.server_close()


# --------------------------------------------------------------------------- basics
def test_get_me_by_json_form_and_get(fake: FakeZalo, client: httpx.Client) -> None:
    expected = {
        "ok": True,
        "result": {
            "id": fake.bot_id,
            "account_name": "baocao_bot",
            "account_type": "BASIC",
            "can_join_groups": False,
        },
    }
    assert fake.token.startswith(fake.bot_id + ":")
    assert fake.base_url.startswith("http://127.0.0.1:") and fake.base_url.endswith("/bot")
    assert _call(client, fake, "getMe").json() == expected
    assert client.post(_url(fake, "getMe"), data={}).json() == expected
    assert client.get(_url(fake, "getMe")).json() == expected
    assert [m for m, _ in fake.calls()] == ["getMe"] * 3


def test_wrong_token_is_401_and_not_recorded(fake: FakeZalo, client: httpx.Client) -> None:
    answer = client.post(_url(fake, "getMe", token=f"{fake.bot_id}:wrong"), json={})
    assert answer.status_code == 401
    assert answer.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert fake.calls() == []


def test_unknown_method_is_refused(fake: FakeZalo, client: httpx.Client) -> None:
    answer = _call(client, fake, "editMessageText", chat_id=USER, text="x")
    assert answer.status_code == 400
    assert answer.json()["ok"] is False
    assert answer.json()["error_code"] == 400


# --------------------------------------------------------------------------- getUpdates
def test_get_updates_serves_one_update_at_a_time_then_408(
    fake: FakeZalo, client: httpx.Client
) -> None:
    first = fake.send_text(USER, "Báo cáo tuần 12")
    second = fake.send_text(OTHER, "Xin chào", display_name="Trần Thị Bình")
    assert fake.pending_updates() == 2

    answer = _call(client, fake, "getUpdates", timeout=30)
    assert answer.status_code == 200
    assert answer.json() == {"ok": True, "result": first}
    assert fake.pending_updates() == 1
    # form-encoded, timeout as a string: the next update, never the first one again
    answer = client.post(_url(fake, "getUpdates"), data={"timeout": "30"})
    assert answer.json() == {"ok": True, "result": second}
    fake.wait_until_consumed(timeout=0.1)

    started = time.monotonic()
    idle = _call(client, fake, "getUpdates", timeout=30)  # capped by max_poll=0.2
    waited = time.monotonic() - started
    assert idle.status_code == 408
    assert idle.json() == IDLE
    assert 0.15 <= waited < 2.0
    # GET with a query string, timeout 0: answers at once
    started = time.monotonic()
    assert client.get(_url(fake, "getUpdates"), params={"timeout": "0"}).status_code == 408
    assert time.monotonic() - started < 0.15


def test_idle_poll_as_200_keeps_the_408_body(client: httpx.Client) -> None:
    with FakeZalo(max_poll=0.05, idle_as_200=True) as fake:
        answer = _call(client, fake, "getUpdates", timeout=1)
        assert answer.status_code == 200
        assert answer.json() == IDLE


def test_long_poll_wakes_when_a_user_writes(client: httpx.Client) -> None:
    with FakeZalo(max_poll=5.0) as fake:
        timer = threading.Timer(0.1, fake.send_text, (USER, "1"))
        timer.start()
        started = time.monotonic()
        answer = _call(client, fake, "getUpdates", timeout=30)
        timer.join()
        assert answer.json()["result"]["message"]["text"] == "1"
        assert time.monotonic() - started < 2.0


def test_update_shapes(fake: FakeZalo) -> None:
    text = fake.send_text(USER, "Xin chào")
    image = fake.send_image(USER, "https://example.invalid/p.jpg", caption="Biên bản")
    sticker = fake.send_sticker(USER, "0e078a2fb66a5f34067b")
    other = fake.send_unsupported(USER)
    assert [u["event_name"] for u in (text, image, sticker, other)] == [
        "message.text.received",
        "message.image.received",
        "message.sticker.received",
        "message.unsupported.received",
    ]
    for update in (text, image, sticker, other):
        message = update["message"]
        assert HEX32.fullmatch(message["message_id"])
        assert isinstance(message["date"], int) and message["date"] > 1_700_000_000_000  # ms
        assert message["chat"] == {"id": USER, "chat_type": "PRIVATE"}
        assert message["from"] == {"id": USER, "display_name": "Nguyễn Văn An", "is_bot": False}
    assert text["message"]["text"] == "Xin chào"
    assert image["message"]["photo_url"] == "https://example.invalid/p.jpg"
    assert image["message"]["caption"] == "Biên bản"
    assert image["message"]["message_type"] == "CHAT_PHOTO"
    assert "text" not in image["message"]
    assert sticker["message"]["sticker"] == "0e078a2fb66a5f34067b"
    assert sticker["message"]["message_type"] == "CHAT_STICKER"
    assert {"text", "photo_url", "sticker"}.isdisjoint(other["message"])
    assert len({u["message"]["message_id"] for u in (text, image, sticker, other)}) == 4


def test_redeliver_serves_the_same_update_again(fake: FakeZalo, client: httpx.Client) -> None:
    update = fake.send_text(USER, "2")
    assert _call(client, fake, "getUpdates").json()["result"] == update
    fake.redeliver(update)
    assert _call(client, fake, "getUpdates").json()["result"] == update


# --------------------------------------------------------------------------- sending
def test_send_message_limits_and_records(fake: FakeZalo, client: httpx.Client) -> None:
    longest = "ệ" * 2000  # 2,000 characters, 6,000 bytes in UTF-8: counted as characters
    answer = _call(client, fake, "sendMessage", chat_id=USER, text=longest)
    assert answer.status_code == 200
    result = answer.json()["result"]
    assert HEX32.fullmatch(result["message_id"])
    assert abs(result["date"] - time.time() * 1000) < 60_000

    for text in ("ệ" * 2001, ""):
        refused = _call(client, fake, "sendMessage", chat_id=USER, text=text)
        assert refused.status_code == 400
        body = refused.json()
        assert body["ok"] is False and body["error_code"] == 400
        assert "between 1 and 2000" in body["description"]
        assert "result" not in body

    missing_chat = client.post(_url(fake, "sendMessage"), data={"text": "x"})
    assert missing_chat.json()["ok"] is False
    assert client.post(_url(fake, "sendMessage"), data={"chat_id": OTHER, "text": "hi"}).json()[
        "ok"
    ]

    assert fake.sent_messages(USER) == [{"chat_id": USER, "text": longest, "method": "sendMessage"}]
    assert [m["chat_id"] for m in fake.sent_messages()] == [USER, OTHER]
    assert len(fake.calls("sendmessage")) == 5  # refused calls are recorded too


def test_send_photo_sticker_and_chat_action(fake: FakeZalo, client: httpx.Client) -> None:
    photo = "https://placehold.co/600x400"
    sent = _call(client, fake, "sendPhoto", chat_id=USER, photo=photo, caption="Ảnh")
    assert HEX32.fullmatch(sent.json()["result"]["message_id"])
    assert not _call(client, fake, "sendPhoto", chat_id=USER, photo="/tmp/a.jpg").json()["ok"]
    sticker = _call(client, fake, "sendSticker", chat_id=USER, sticker="0e078a2fb66a5f34067b")
    assert sticker.json()["ok"] is True
    assert _call(client, fake, "sendChatAction", chat_id=USER, action="typing").json() == {
        "ok": True
    }
    assert _call(client, fake, "sendChatAction", chat_id=USER, action="dance").status_code == 400
    assert fake.sent_messages(USER) == [
        {"chat_id": USER, "photo": photo, "caption": "Ảnh", "method": "sendPhoto"}
    ]
    assert [m for m, _ in fake.calls()] == [
        "sendPhoto",
        "sendPhoto",
        "sendSticker",
        "sendChatAction",
        "sendChatAction",
    ]


def test_wait_for_message_after_and_timeout(fake: FakeZalo, client: httpx.Client) -> None:
    def send_later() -> None:
        with httpx.Client(trust_env=False) as other:
            _call(other, fake, "sendMessage", chat_id=USER, text="Câu 1")

    timer = threading.Timer(0.05, send_later)
    timer.start()
    assert fake.wait_for_message(USER, timeout=5)["text"] == "Câu 1"
    timer.join()
    _call(client, fake, "sendMessage", chat_id=USER, text="Câu 2")
    assert fake.wait_for_message(USER, after=1)["text"] == "Câu 2"
    assert fake.wait_for_message(USER, lambda m: m["text"].endswith("2"))["text"] == "Câu 2"
    with pytest.raises(AssertionError, match="Câu 2"):
        fake.wait_for_message(USER, after=2, timeout=0.1)


def test_fail_next_errors_then_recovers(fake: FakeZalo, client: httpx.Client) -> None:
    fake.fail_next("sendMessage", 2, status=502, error_code=502, description="Bad Gateway")
    for _ in range(2):
        failed = _call(client, fake, "sendMessage", chat_id=USER, text="1")
        assert failed.status_code == 502
        assert failed.json() == {"ok": False, "error_code": 502, "description": "Bad Gateway"}
    assert _call(client, fake, "sendMessage", chat_id=USER, text="1").json()["ok"] is True
    assert len(fake.sent_messages(USER)) == 1
    assert len(fake.calls("sendMessage")) == 3

    fake.fail_next("getUpdates", drop=True)
    update = fake.send_text(USER, "3")
    with pytest.raises(httpx.TransportError):
        _call(client, fake, "getUpdates")
    assert fake.pending_updates() == 1  # a dropped call consumed nothing
    assert _call(client, fake, "getUpdates").json()["result"] == update


# --------------------------------------------------------------------------- media
def test_image_served_then_404_after_expiry(fake: FakeZalo, client: httpx.Client) -> None:
    content = b"\xff\xd8\xff\xe0fake-jpeg"
    url = fake.add_image("bien ban.jpg", content)
    assert url.startswith(f"http://127.0.0.1:{fake.port}/media/")
    served = client.get(url)
    assert served.status_code == 200
    assert served.content == content
    assert served.headers["content-type"] == "image/jpeg"
    fake.expire_image("bien ban.jpg")
    assert client.get(url).status_code == 404
    assert client.get(fake.add_image("b.png", b"png", "image/png")).headers["content-type"] == (
        "image/png"
    )


# --------------------------------------------------------------------------- webhook
def test_webhook_delivers_with_secret_and_blocks_polling(
    fake: FakeZalo, client: httpx.Client, receiver: _Receiver
) -> None:
    assert _call(client, fake, "getWebhookInfo").status_code == 404
    queued = fake.send_text(USER, "before the webhook")  # the webhook takes it over

    answer = _call(client, fake, "setWebhook", url=receiver.url, secret_token=SECRET)
    assert answer.status_code == 200
    result = answer.json()["result"]
    assert result["url"] == receiver.url and isinstance(result["updated_at"], int)
    assert fake.webhook == (receiver.url, SECRET)
    info = _call(client, fake, "getWebhookInfo").json()["result"]
    assert info == {"url": receiver.url, "updated_at": result["updated_at"]}

    update = fake.send_text(USER, "Báo cáo")
    received = receiver.wait_for(2)
    assert [body for _, body in received] == [queued, update]  # the bare, unwrapped form
    headers = received[1][0]
    assert headers["X-Bot-Api-Secret-Token"] == SECRET
    assert headers["Content-Type"].startswith("application/json")
    fake.wait_until_consumed(timeout=5)
    assert fake.webhook_statuses == [200, 200]

    refused = _call(client, fake, "getUpdates", timeout=0)
    assert refused.status_code == 400
    assert refused.json()["ok"] is False and "webhook" in refused.json()["description"].lower()

    fake.redeliver(update)  # a duplicate delivery, same message_id
    assert receiver.wait_for(3)[2][1] == update

    # forged deliveries: the bot's endpoint must refuse a wrong or missing secret
    assert fake.post_webhook(update, "wrong-secret") == 401
    assert fake.post_webhook(update, None) == 401
    assert fake.post_webhook(update, SECRET, wrapped=True) == 200
    assert receiver.wait_for(6)[5][1] == {"ok": True, "result": update}
    assert "X-Bot-Api-Secret-Token" not in receiver.received[4][0]
    fake.wait_until_consumed(timeout=5)
    assert fake.webhook_statuses == [200, 200, 200]  # forged ones are not counted

    deleted = _call(client, fake, "deleteWebhook").json()["result"]
    assert deleted["url"] == "" and isinstance(deleted["updated_at"], int)
    assert fake.webhook is None
    assert _call(client, fake, "getWebhookInfo").json() == {
        "ok": False,
        "error_code": 404,
        "description": "Not Found",
    }
    polled = fake.send_text(USER, "polling again")
    assert _call(client, fake, "getUpdates").json()["result"] == polled


def test_webhook_wrapped_form_and_failed_delivery(
    client: httpx.Client, receiver: _Receiver
) -> None:
    with FakeZalo(max_poll=0.2, wrap_webhook=True) as fake:
        _call(client, fake, "setWebhook", url=receiver.url, secret_token="another-secret")
        update = fake.send_sticker(USER)
        headers, body = receiver.wait_for(1)[0]
        assert body == {"ok": True, "result": update}
        assert headers["X-Bot-Api-Secret-Token"] == "another-secret"
        fake.wait_until_consumed(timeout=5)
        assert fake.webhook_statuses == [401]  # the receiver expects SECRET

        receiver.server.shutdown()
        receiver.server.server_close()
        fake.send_text(USER, "nobody listens")
        fake.wait_until_consumed(timeout=5)
        assert fake.webhook_statuses == [401, 0]


@pytest.mark.parametrize(
    ("url", "secret", "wrong"),
    [
        ("https://bot.example.vn/zalo", "short", "secret_token"),
        ("https://bot.example.vn/zalo", "x" * 257, "secret_token"),
        ("http://bot.example.vn/zalo", SECRET, "url"),
        ("ftp://127.0.0.1/zalo", SECRET, "url"),
    ],
)
def test_set_webhook_validation(
    fake: FakeZalo, client: httpx.Client, url: str, secret: str, wrong: str
) -> None:
    answer = _call(client, fake, "setWebhook", url=url, secret_token=secret)
    assert answer.status_code == 400
    assert answer.json()["ok"] is False and wrong in answer.json()["description"]
    assert fake.webhook is None


def test_set_webhook_accepts_the_secret_length_bounds(fake: FakeZalo, client: httpx.Client) -> None:
    for secret in ("x" * 8, "y" * 256):
        answer = _call(
            client, fake, "setWebhook", url="https://bot.example.vn/z", secret_token=secret
        )
        assert answer.json()["ok"] is True
        assert fake.webhook == ("https://bot.example.vn/z", secret)
