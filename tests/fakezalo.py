"""A small fake Zalo Bot API server speaking the real HTTP wire format.

The server runs on ``127.0.0.1`` (any free port) in a background daemon thread and uses only
the standard library, so a bot under test may run in the same process or in a subprocess::

    with FakeZalo(max_poll=1.0) as fake:
        # the bot calls f"{fake.base_url}{fake.token}/getUpdates" and so on
        fake.send_text("8d4e1f0a2b3c4d5e6f70", "Báo cáo")
        reply = fake.wait_for_message("8d4e1f0a2b3c4d5e6f70")

The wire format follows /work/shared/docs/zalo-bot-api.md: requests arrive as
``{base_url}{TOKEN}/{method}`` by POST JSON (the documented way), POST form-encoded or GET
query parameters; every answer is ``{"ok": true, "result": ...}`` or
``{"ok": false, "error_code": ..., "description": ...}``. Unlike Telegram, ``getUpdates``
returns ONE update (not an array), has no offset and no acknowledgement (an update is gone
once served), and answers an idle long poll with HTTP 408. While a webhook is set, every user
action is POSTed to it from a background thread instead of being queued for ``getUpdates``.
"""

from __future__ import annotations

import contextlib
import copy
import http.client
import json
import re
import socket
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, cast
from urllib.parse import parse_qsl, quote, unquote, urlsplit

__all__ = ["FakeZalo", "FakeZaloError"]

JsonDict = dict[str, Any]

_DEFAULT_DISPLAY_NAME = "Nguyễn Văn An"
_DEFAULT_STICKER = "bfe458bf64fa8da4d4eb"
_BOT_ID = "1459232241454765289"
_ACCESS_TOKEN = "Zk9xQ2mVbL7pT4rW8sNcYdHf3JgKa6EuPz1oRy5iBnXwCt"
_MAX_TEXT_LENGTH = 2000
_SECRET_MIN, _SECRET_MAX = 8, 256
_CHAT_ACTIONS = frozenset({"typing", "upload_photo"})
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

_PATH_RE = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z0-9_]+)/?$")
_MEDIA_RE = re.compile(r"^/media/(?P<name>[^/]+)$")

# The idle long poll's answer, byte for byte what clients have measured.
_IDLE_BODY: JsonDict = {"ok": False, "error_code": 408, "description": "Request timeout"}


class FakeZaloError(Exception):
    """Raised inside a method handler to answer with a Zalo error envelope."""

    def __init__(self, error_code: int, description: str, status: int | None = None) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.status = error_code if status is None else status

    def to_json(self) -> JsonDict:
        """The error envelope as the Zalo Bot API sends it."""
        return {"ok": False, "error_code": self.error_code, "description": self.description}


@dataclass(frozen=True)
class _Failure:
    """One injected failure queued by :meth:`FakeZalo.fail_next`."""

    status: int
    error_code: int
    description: str
    drop: bool
    body: bytes | None = None  # answered as is (garbage, an HTML page), not as an envelope


def _now_ms() -> int:
    return int(time.time() * 1000)


def _new_message_id() -> str:
    return uuid.uuid4().hex  # 32 lowercase hex characters


def _any_message(message: JsonDict) -> bool:
    return True


def _is_http_url(value: object, *, require_https: bool) -> bool:
    """An http(s) URL; with ``require_https`` only https, except http to this machine (tests)."""
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        return False
    if not host:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and (not require_https or host in _LOCAL_HOSTS)


def _post_json(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST ``body`` to ``url``; the HTTP status, or 0 if no answer came (refused, timeout)."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(host, parts.port, timeout=timeout)
    else:
        connection = http.client.HTTPConnection(host, parts.port, timeout=timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return int(response.status)
    except (OSError, http.client.HTTPException):
        return 0
    finally:
        connection.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: FakeZalo) -> None:
        self.fake = fake
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about clients that disconnect (cancelled long polls, killed bots)."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeZalo/1.0"

    def setup(self) -> None:
        super().setup()
        server = cast(_Server, self.server)
        with server.connections_lock:
            server.connections.add(self.connection)

    def finish(self) -> None:
        server = cast(_Server, self.server)
        with server.connections_lock:
            server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        fake = cast(_Server, self.server).fake
        body = self._read_body()
        url = urlsplit(self.path)
        media = _MEDIA_RE.match(url.path)
        if media and self.command == "GET":
            status, payload, content_type = fake._serve_media(unquote(media.group("name")))
            self._respond(status, payload, content_type)
            return
        match = _PATH_RE.match(url.path)
        if not match:
            self._respond_json(404, FakeZaloError(404, "Not Found").to_json())
            return
        try:
            params = _parse_params(self.headers.get("Content-Type", ""), body, url.query)
        except ValueError as exc:
            self._respond_json(400, FakeZaloError(400, f"Bad request: {exc}").to_json())
            return
        answered = fake._handle(unquote(match.group("token")), match.group("method"), params)
        if answered is None:  # an injected dropped connection: no answer at all
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        status, answer = answered
        if isinstance(answer, bytes):  # an injected raw body
            self._respond(status, answer, "application/json; charset=utf-8")
            return
        self._respond_json(status, answer)

    def _respond_json(self, status: int, answer: JsonDict) -> None:
        data = json.dumps(answer, ensure_ascii=False).encode("utf-8")
        self._respond(status, data, "application/json; charset=utf-8")

    def _respond(self, status: int, payload: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
        except OSError:  # the client went away (e.g. a cancelled long poll)
            self.close_connection = True


def _parse_params(content_type: str, body: bytes, query: str) -> JsonDict:
    """Query parameters, overridden by a JSON or form-encoded body (clients send all three).

    Form and query values stay strings, as a real server sees them; JSON keeps its types.
    """
    params: JsonDict = dict(parse_qsl(query, keep_blank_values=True))
    if not body.strip():
        return params
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime == "application/json" or (not mime and body.lstrip().startswith(b"{")):
        try:
            decoded = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"invalid JSON body ({exc})") from exc
        if not isinstance(decoded, dict):
            raise ValueError("the JSON body must be an object")
        params.update(decoded)
    elif mime in ("application/x-www-form-urlencoded", ""):
        try:
            params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError as exc:
            raise ValueError(f"invalid form body ({exc})") from exc
    else:  # Zalo takes no uploads: photos are sent by URL
        raise ValueError(f"unsupported content type {mime}")
    return params


class FakeZalo:
    """In-memory fake of the Zalo Bot API served over real HTTP on 127.0.0.1.

    Thread-safe: the HTTP server answers from worker threads and webhook deliveries go out
    from their own thread, while tests queue user actions and inspect calls from the main
    thread. All state is guarded by one condition (and its lock).
    """

    #: Seconds a webhook delivery may take before it counts as failed (status 0).
    webhook_timeout: float = 5.0

    def __init__(
        self, *, max_poll: float = 30.0, idle_as_200: bool = False, wrap_webhook: bool = False
    ) -> None:
        self.max_poll = max_poll
        self.idle_as_200 = idle_as_200
        self.wrap_webhook = wrap_webhook
        self.bot_id = _BOT_ID
        self.token = f"{_BOT_ID}:{_ACCESS_TOKEN}"

        self._cond = threading.Condition(threading.RLock())
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._deliverer: threading.Thread | None = None
        self._stopped = False

        self._calls: list[tuple[str, JsonDict]] = []
        self._queue: deque[JsonDict] = deque()  # updates not yet served or delivered
        self._in_flight = 0  # webhook deliveries under way
        self._sent: list[JsonDict] = []  # accepted sendMessage/sendPhoto params + "method"
        self._failures: dict[str, list[_Failure]] = {}
        self._media: dict[str, tuple[bytes, str]] = {}
        self._webhook: tuple[str, str] | None = None
        self._webhook_updated_at = 0
        self._webhook_statuses: list[int] = []

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Bind to a free port on 127.0.0.1 and serve (and deliver) in daemon threads."""
        if self._server is not None:
            return
        if self._stopped:
            raise RuntimeError("a stopped FakeZalo cannot be restarted; create a new one")
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="FakeZalo",
            daemon=True,
        )
        self._thread.start()
        self._deliverer = threading.Thread(
            target=self._deliver_webhooks, name="FakeZalo-webhook", daemon=True
        )
        self._deliverer.start()

    def stop(self) -> None:
        """Stop serving: wake long polls, close client connections, join the threads."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        with server.connections_lock:
            connections = list(server.connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        for thread in (self._thread, self._deliverer):
            if thread is not None:
                thread.join(timeout=self.webhook_timeout + 1)
        self._thread = self._deliverer = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """TCP port the server listens on (only valid after :meth:`start`)."""
        if self._server is None:
            raise RuntimeError("FakeZalo is not running; call start() or use it in a with block")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """The API base the client appends ``token + "/" + method`` to."""
        return f"http://127.0.0.1:{self.port}/bot"

    # ------------------------------------------------------------------ user actions
    def _message(self, user_id: str, display_name: str) -> JsonDict:
        """The common part of a private-chat message from ``user_id`` (chat id == user id)."""
        return {
            "message_id": _new_message_id(),
            "date": _now_ms(),
            "chat": {"id": user_id, "chat_type": "PRIVATE"},
            "from": {"id": user_id, "display_name": display_name, "is_bot": False},
        }

    def _enqueue(self, update: JsonDict) -> None:
        """Queue a copy for ``getUpdates``, or for the webhook thread while one is set."""
        with self._cond:
            self._queue.append(copy.deepcopy(update))
            self._cond.notify_all()

    def send_text(
        self, user_id: str, text: str, display_name: str = _DEFAULT_DISPLAY_NAME
    ) -> JsonDict:
        """``user_id`` writes ``text`` to the bot; returns the update as it will be delivered."""
        message = self._message(user_id, display_name)
        message["text"] = text
        update = {"event_name": "message.text.received", "message": message}
        self._enqueue(update)
        return copy.deepcopy(update)

    def send_image(
        self,
        user_id: str,
        photo_url: str,
        caption: str | None = None,
        display_name: str = _DEFAULT_DISPLAY_NAME,
    ) -> JsonDict:
        """``user_id`` sends a photo; Zalo passes only its (expiring) URL, see :meth:`add_image`."""
        message = self._message(user_id, display_name)
        message["photo_url"] = photo_url
        if caption is not None:
            message["caption"] = caption
        message["message_type"] = "CHAT_PHOTO"
        update = {"event_name": "message.image.received", "message": message}
        self._enqueue(update)
        return copy.deepcopy(update)

    def send_sticker(
        self,
        user_id: str,
        sticker: str = _DEFAULT_STICKER,
        display_name: str = _DEFAULT_DISPLAY_NAME,
    ) -> JsonDict:
        """``user_id`` sends a sticker (an id string, no text)."""
        message = self._message(user_id, display_name)
        message["sticker"] = sticker
        message["message_type"] = "CHAT_STICKER"
        update = {"event_name": "message.sticker.received", "message": message}
        self._enqueue(update)
        return copy.deepcopy(update)

    def send_unsupported(self, user_id: str, display_name: str = _DEFAULT_DISPLAY_NAME) -> JsonDict:
        """``user_id`` sends something the Bot API does not pass on (a file, a contact card):
        the bot sees only that something arrived, with no content."""
        message = self._message(user_id, display_name)
        update = {"event_name": "message.unsupported.received", "message": message}
        self._enqueue(update)
        return copy.deepcopy(update)

    def redeliver(self, update: JsonDict) -> None:
        """Deliver ``update`` again, unchanged (same message_id): a duplicate delivery."""
        self._enqueue(update)

    def send_raw(self, update: Any) -> None:
        """Queue any JSON value as the next update, unchecked: a malformed update (no message,
        numeric ids, a list…) as a server might send one."""
        with self._cond:
            self._queue.append(copy.deepcopy(update))
            self._cond.notify_all()

    # ------------------------------------------------------------------ media
    def add_image(self, name: str, content: bytes, content_type: str = "image/jpeg") -> str:
        """Serve ``content`` at ``http://127.0.0.1:PORT/media/<name>``; returns that URL."""
        with self._cond:
            self._media[name] = (content, content_type)
        return f"http://127.0.0.1:{self.port}/media/{quote(name, safe='')}"

    def expire_image(self, name: str) -> None:
        """From now on the image's URL answers 404, as Zalo's photo URLs do after a while."""
        with self._cond:
            self._media.pop(name, None)

    def _serve_media(self, name: str) -> tuple[int, bytes, str]:
        with self._cond:
            found = self._media.get(name)
        if found is None:
            return 404, b"Not Found", "text/plain; charset=utf-8"
        content, content_type = found
        return 200, content, content_type

    # ------------------------------------------------------------------ inspecting
    def calls(self, method: str | None = None) -> list[tuple[str, JsonDict]]:
        """Every ``(method, params)`` received with the right token (optionally of one method,
        case-insensitive), in order, including the calls that failed."""
        wanted = method.lower() if method is not None else None
        with self._cond:
            return [
                (name, copy.deepcopy(params))
                for name, params in self._calls
                if wanted is None or name.lower() == wanted
            ]

    def sent_messages(self, chat_id: str | None = None) -> list[JsonDict]:
        """Params of every accepted sendMessage/sendPhoto (optionally to one chat), in order,
        each with ``"method"`` added."""
        with self._cond:
            return [
                copy.deepcopy(m) for m in self._sent if chat_id is None or m["chat_id"] == chat_id
            ]

    def _dump(self, chat_id: str, limit: int = 5) -> str:
        with self._cond:
            messages = [m for m in self._sent if m["chat_id"] == chat_id][-limit:]
            calls = [name for name, _ in self._calls[-10:]]
        lines = [f"last {len(messages)} message(s) to chat {chat_id}:"]
        lines += [f"  {json.dumps(m, ensure_ascii=False)}" for m in messages]
        lines.append(f"last calls: {calls}")
        return "\n".join(lines)

    def wait_for_message(
        self,
        chat_id: str,
        predicate: Callable[[JsonDict], bool] = _any_message,
        *,
        after: int = 0,
        timeout: float = 10.0,
    ) -> JsonDict:
        """The first message to ``chat_id`` at index >= ``after`` among that chat's messages
        that matches ``predicate``, waiting up to ``timeout`` seconds for it.

        Raises AssertionError listing the chat's last messages on timeout.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for message in self.sent_messages(chat_id)[after:]:
                    if predicate(message):
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
        raise AssertionError(
            f"no matching message to chat {chat_id} (after={after}) within {timeout}s\n"
            + self._dump(chat_id)
        )

    def pending_updates(self) -> int:
        """Updates not yet served by ``getUpdates`` nor delivered to the webhook."""
        with self._cond:
            return len(self._queue) + self._in_flight

    def wait_until_consumed(self, timeout: float = 10.0) -> None:
        """Block until every queued update was served or delivered (AssertionError if not)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.pending_updates():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"{self.pending_updates()} update(s) still pending after {timeout}s"
                    )
                self._cond.wait(remaining)

    def fail_next(
        self,
        method: str,
        times: int = 1,
        *,
        status: int = 500,
        error_code: int = 500,
        description: str = "Internal error",
        drop: bool = False,
        body: bytes | None = None,
    ) -> None:
        """The next ``times`` calls of ``method`` (case-insensitive) fail: an error envelope
        with HTTP ``status``, or with ``drop`` the connection closes with no answer at all, or
        with ``body`` that body is the answer (with HTTP ``status``), whatever it holds.

        A failed call does nothing (no message sent, no update served) but is recorded.
        """
        failure = _Failure(status, error_code, description, drop, body)
        with self._cond:
            self._failures.setdefault(method.lower(), []).extend([failure] * times)

    @property
    def webhook(self) -> tuple[str, str] | None:
        """``(url, secret_token)`` as last set with setWebhook, None when none is set."""
        with self._cond:
            return self._webhook

    @property
    def webhook_statuses(self) -> list[int]:
        """HTTP status of each delivery this fake POSTed to the webhook, in order; 0 when no
        answer came (refused, timed out). Forged deliveries (:meth:`post_webhook`) excluded."""
        with self._cond:
            return list(self._webhook_statuses)

    # ------------------------------------------------------------------ webhook delivery
    def post_webhook(
        self,
        update: JsonDict,
        secret: str | None,
        wrapped: bool = False,
        *,
        url: str | None = None,
    ) -> int:
        """POST ``update`` to the webhook now (to ``url`` if given, else the one set), with
        ``secret`` in ``X-Bot-Api-Secret-Token`` (no header when None): a forged or replayed
        delivery. Returns the HTTP status, 0 when no answer came."""
        if url is None:
            current = self.webhook
            if current is None:
                raise AssertionError("no webhook is set; pass url= or let the bot set one")
            url = current[0]
        return self._post_update(url, secret, update, wrapped)

    def _post_update(self, url: str, secret: str | None, update: JsonDict, wrapped: bool) -> int:
        body = {"ok": True, "result": update} if wrapped else update
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Bot-Api-Secret-Token"] = secret
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        return _post_json(url, data, headers, self.webhook_timeout)

    def _deliver_webhooks(self) -> None:
        """Background loop: while a webhook is set, POST queued updates to it one by one.

        No retries: a failed delivery is recorded (status >= 400 or 0) and the update is gone.
        """
        while True:
            with self._cond:
                while not self._stopped and (self._webhook is None or not self._queue):
                    self._cond.wait()
                if self._stopped:
                    return
                assert self._webhook is not None
                url, secret = self._webhook
                update = self._queue.popleft()
                self._in_flight += 1
            status = self._post_update(url, secret, update, self.wrap_webhook)
            with self._cond:
                self._in_flight -= 1
                self._webhook_statuses.append(status)
                self._cond.notify_all()

    # ------------------------------------------------------------------ HTTP plumbing
    def _handle(
        self, token: str, method: str, params: JsonDict
    ) -> tuple[int, JsonDict | bytes] | None:
        """The answer to one call: ``(status, body)``, or None to drop the connection."""
        if token != self.token:
            return 401, FakeZaloError(401, "Unauthorized").to_json()
        with self._cond:
            self._calls.append((method, copy.deepcopy(params)))
            failures = self._failures.get(method.lower())
            failure = failures.pop(0) if failures else None
            self._cond.notify_all()
        if failure is not None:
            if failure.drop:
                return None
            if failure.body is not None:
                return failure.status, failure.body
            return failure.status, FakeZaloError(failure.error_code, failure.description).to_json()
        handler = getattr(self, f"_api_{method.lower()}", None)
        if handler is None:
            return 400, FakeZaloError(400, "Bad request - invalid API name").to_json()
        try:
            return cast("tuple[int, JsonDict]", handler(params))
        except FakeZaloError as exc:
            return exc.status, exc.to_json()

    @staticmethod
    def _ok(result: Any) -> tuple[int, JsonDict]:
        return 200, {"ok": True, "result": result}

    @staticmethod
    def _chat_id(params: JsonDict) -> str:
        chat_id = params.get("chat_id")
        if not isinstance(chat_id, str) or not chat_id.strip():
            raise FakeZaloError(400, "chat_id is required and must be a string")
        return chat_id

    @staticmethod
    def _check_length(params: JsonDict, key: str, *, required: bool) -> None:
        """Refuse a text (or caption) outside 1..2000 characters, counted with len().

        An absent or empty optional caption is accepted: clients send it only when they have
        one, and the docs' lower bound is about a caption that is given.
        """
        value = params.get(key)
        if not required and value in (None, ""):
            return
        if not isinstance(value, str):
            raise FakeZaloError(400, f"{key} is required and must be a string")
        if not 1 <= len(value) <= _MAX_TEXT_LENGTH:
            raise FakeZaloError(
                400, f"{key} length must be between 1 and {_MAX_TEXT_LENGTH} characters"
            )

    def _record_sent(self, method: str, params: JsonDict) -> tuple[int, JsonDict]:
        with self._cond:
            self._sent.append({**copy.deepcopy(params), "method": method})
            self._cond.notify_all()
        return self._ok({"message_id": _new_message_id(), "date": _now_ms()})

    # ------------------------------------------------------------------ Bot API methods
    def _api_getme(self, params: JsonDict) -> tuple[int, JsonDict]:
        return self._ok(
            {
                "id": self.bot_id,
                "account_name": "baocao_bot",
                "account_type": "BASIC",
                "can_join_groups": False,
            }
        )

    def _api_getupdates(self, params: JsonDict) -> tuple[int, JsonDict]:
        try:
            timeout = float(params.get("timeout", 30))
        except (TypeError, ValueError):
            timeout = 30.0
        deadline = time.monotonic() + min(max(timeout, 0.0), self.max_poll)
        with self._cond:
            if self._webhook is not None:
                raise FakeZaloError(
                    400, "Webhook is active; call deleteWebhook before using getUpdates"
                )
            while True:
                if self._webhook is None and self._queue:
                    update = self._queue.popleft()
                    self._cond.notify_all()
                    return self._ok(update)
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stopped:
                    break
                self._cond.wait(remaining)
        return (200 if self.idle_as_200 else 408), dict(_IDLE_BODY)

    def _api_sendmessage(self, params: JsonDict) -> tuple[int, JsonDict]:
        self._chat_id(params)
        self._check_length(params, "text", required=True)
        return self._record_sent("sendMessage", params)

    def _api_sendphoto(self, params: JsonDict) -> tuple[int, JsonDict]:
        self._chat_id(params)
        if not _is_http_url(params.get("photo"), require_https=False):
            raise FakeZaloError(400, "photo must be an image URL")
        self._check_length(params, "caption", required=False)
        return self._record_sent("sendPhoto", params)

    def _api_sendsticker(self, params: JsonDict) -> tuple[int, JsonDict]:
        self._chat_id(params)
        sticker = params.get("sticker")
        if not isinstance(sticker, str) or not sticker:
            raise FakeZaloError(400, "sticker is required and must be a string")
        return self._ok({"message_id": _new_message_id(), "date": _now_ms()})

    def _api_sendchataction(self, params: JsonDict) -> tuple[int, JsonDict]:
        self._chat_id(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise FakeZaloError(400, "action must be typing or upload_photo")
        return 200, {"ok": True}

    def _api_setwebhook(self, params: JsonDict) -> tuple[int, JsonDict]:
        url = params.get("url")
        secret = params.get("secret_token")
        if not _is_http_url(url, require_https=True):
            raise FakeZaloError(400, "url must be a valid HTTPS URL")
        if not isinstance(secret, str) or not _SECRET_MIN <= len(secret) <= _SECRET_MAX:
            raise FakeZaloError(
                400, f"secret_token length must be between {_SECRET_MIN} and {_SECRET_MAX}"
            )
        with self._cond:
            self._webhook = (cast(str, url), secret)
            self._webhook_updated_at = _now_ms()
            self._cond.notify_all()  # the delivery thread takes over queued updates
            return self._ok({"url": url, "updated_at": self._webhook_updated_at})

    def _api_deletewebhook(self, params: JsonDict) -> tuple[int, JsonDict]:
        with self._cond:
            self._webhook = None
            self._webhook_updated_at = _now_ms()
            self._cond.notify_all()
            return self._ok({"url": "", "updated_at": self._webhook_updated_at})

    def _api_getwebhookinfo(self, params: JsonDict) -> tuple[int, JsonDict]:
        with self._cond:
            if self._webhook is None:
                raise FakeZaloError(404, "Not Found")
            return self._ok({"url": self._webhook[0], "updated_at": self._webhook_updated_at})
