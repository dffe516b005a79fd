"""A small fake Telegram Bot API server speaking the real HTTP wire format.

The server runs on ``127.0.0.1`` (any free port) in a background daemon thread and uses
only the standard library, so it can be driven from synchronous tests, asynchronous tests
and from a bot running in a separate subprocess::

    with FakeBotAPI() as fake:
        app = (
            ApplicationBuilder()
            .token(fake.token)
            .base_url(fake.base_url)            # "http://127.0.0.1:PORT/bot"
            .base_file_url(fake.base_file_url)  # only needed for File downloads
            .build()
        )
        ...
        fake.send_text(42, "/start")
        reply = fake.wait_for_message(42)

Requests arrive as ``POST {base_url}{TOKEN}/{method}`` with parameters encoded as JSON,
``application/x-www-form-urlencoded`` or ``multipart/form-data``. Every answer is a
``{"ok": true, "result": ...}`` envelope carrying complete Telegram objects, or a
``{"ok": false, "error_code": ..., "description": ...}`` error like the real API.

Two things are off unless a test turns them on (``set_limits`` and ``set_chaos``):
Telegram's flood limits on sending methods (about 30 messages a second overall, 1 a second
per chat: over them a 429 with ``retry_after`` and nothing is sent), and seeded random faults
per method family (429, 500/502, answers slower than the client's timeout that are or are not
delivered, dropped connections). ``fault_stats()`` counts what was done.
"""

from __future__ import annotations

import contextlib
import copy
import html
import itertools
import json
import math
import random
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, cast
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = ["FakeBotAPI", "FakeBotAPIError", "FaultStats", "Faults", "Limits", "method_family"]

JsonDict = dict[str, Any]

_DEFAULT_FIRST_NAME = "Cán bộ"
_MAX_TEXT_LENGTH = 4096
_MAX_CAPTION_LENGTH = 1024
_MAX_CALLBACK_DATA_BYTES = 64

# Parameters whose values are strings in the Bot API even when they look like numbers,
# booleans or JSON; form-encoded values of all *other* keys are coerced back to JSON types.
_STRING_KEYS = frozenset(
    {
        "text",
        "caption",
        "callback_query_id",
        "inline_query_id",
        "shipping_query_id",
        "pre_checkout_query_id",
        "web_app_query_id",
        "file_id",
        "url",
        "query",
        "title",
        "description",
        "short_description",
        "name",
        "emoji",
        "parse_mode",
        "language_code",
        "secret_token",
        "ip_address",
        "business_connection_id",
        "message_effect_id",
        "custom_emoji_id",
        "invite_link",
        "switch_pm_parameter",
        "next_offset",
        "payload",
        "provider_token",
        "currency",
        "start_parameter",
        "question",
        "explanation",
        "first_name",
        "last_name",
        "username",
        "address",
        "phone_number",
        "vcard",
        "foursquare_id",
        "foursquare_type",
        "google_place_id",
        "google_place_type",
        "result_id",
        "gift_id",
        "sticker",
        "photo",
        "document",
        "audio",
        "video",
        "voice",
        "animation",
        "video_note",
        "thumbnail",
        "certificate",
        "data",
        "callback_data",
    }
)
_STRING_KEY_SUFFIXES = ("_text", "_name", "query_id", "_file_id", "_url", "_title")
_NUMBER_RE = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")
_PATH_RE = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z0-9_]+)/?$")
_FILE_PATH_RE = re.compile(r"^/file/bot(?P<token>[^/]+)/(?P<path>.+)$")
_HTML_TAG_RE = re.compile(r"<[^>]*>")

_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


class FakeBotAPIError(Exception):
    """Raised inside a method handler to produce a Bot API error response."""

    def __init__(
        self, error_code: int, description: str, parameters: JsonDict | None = None
    ) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def to_json(self) -> JsonDict:
        """Return the error envelope exactly as the Bot API sends it."""
        body: JsonDict = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


# Methods that put a message on a user's screen: Telegram's flood limits count these (and not
# getUpdates, answerCallbackQuery, getMe...).
SENDING_METHODS = frozenset(
    {
        "sendmessage",
        "sendphoto",
        "senddocument",
        "sendaudio",
        "sendvideo",
        "sendvoice",
        "sendanimation",
        "sendvideonote",
        "sendsticker",
        "sendmediagroup",
        "sendlocation",
        "sendvenue",
        "sendcontact",
        "sendpoll",
        "senddice",
        "copymessage",
        "copymessages",
        "forwardmessage",
        "forwardmessages",
        "editmessagetext",
        "editmessagecaption",
        "editmessagemedia",
        "editmessagereplymarkup",
    }
)
FAMILIES = ("send", "edit", "updates", "callback", "other")


def method_family(method: str) -> str:
    """The family a method's faults are configured by: send, edit, updates, callback, other."""
    m = method.lower()
    if m.startswith("edit") and m in SENDING_METHODS:
        return "edit"
    if m in SENDING_METHODS:
        return "send"
    if m == "getupdates":
        return "updates"
    if m == "answercallbackquery":
        return "callback"
    return "other"


@dataclass(frozen=True)
class Limits:
    """Telegram's documented flood limits for sending (core.telegram.org/bots/faq): about 30
    messages a second overall and one a second per chat, with a small per-chat burst."""

    overall_per_second: float = 30.0
    overall_burst: float = 30.0
    per_chat_per_second: float = 1.0
    per_chat_burst: float = 3.0


@dataclass(frozen=True)
class Faults:
    """Probabilities (0..1) of each fault for one call of a method family; one draw per call.

    ``slow_delivered``: the answer comes ``slow_seconds`` late (longer than the client's read
    timeout, python-telegram-bot's default is 5 s) and the message *is* recorded as sent, as
    when Telegram delivered but the answer never reached the bot. ``slow_lost``: as late, and
    nothing is recorded. ``dropped``: the connection is closed without an answer, before the
    call has any effect. For ``updates`` (getUpdates) only ``server_error`` and ``dropped``
    make sense.
    """

    too_many: float = 0.0
    retry_after: tuple[int, int] = (1, 2)  # inclusive range of retry_after seconds
    server_error: float = 0.0  # half 500, half 502
    slow_delivered: float = 0.0
    slow_lost: float = 0.0
    dropped: float = 0.0
    slow_seconds: float = 6.0

    def __post_init__(self) -> None:
        total = self.too_many + self.server_error + self.slow_delivered + self.slow_lost
        if not 0.0 <= total + self.dropped <= 1.0:
            raise ValueError("fault probabilities must add up to at most 1")
        if not 1 <= self.retry_after[0] <= self.retry_after[1]:
            raise ValueError("retry_after must be a range of whole seconds, at least 1")


@dataclass(frozen=True)
class FaultStats:
    """What the fake did to the client so far (a snapshot)."""

    limited: int = 0  # 429 because a flood limit was exceeded
    injected_429: int = 0  # 429 by chance (Faults.too_many)
    server_errors: int = 0  # 500 and 502
    slow_delivered: int = 0
    slow_lost: int = 0
    dropped: int = 0
    messages: int = 0  # messages recorded as sent (edits not counted)

    @property
    def too_many(self) -> int:
        return self.limited + self.injected_429

    @property
    def timeouts(self) -> int:
        return self.slow_delivered + self.slow_lost

    def as_dict(self) -> dict[str, int]:
        return {
            "429": self.too_many,
            "429_limited": self.limited,
            "429_injected": self.injected_429,
            "5xx": self.server_errors,
            "timeouts": self.timeouts,
            "timeouts_delivered": self.slow_delivered,
            "timeouts_lost": self.slow_lost,
            "dropped": self.dropped,
            "messages": self.messages,
        }


class _TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; one token per message."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst = rate, max(1.0, burst)
        self.tokens, self.stamp = self.burst, now

    def wait(self, now: float) -> float:
        """Seconds until a token is available (0: one is available now)."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1.0


def _utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (the unit of Telegram entity offsets)."""
    return len(text.encode("utf-16-le")) // 2


def _is_string_key(key: str) -> bool:
    return key in _STRING_KEYS or key.endswith(_STRING_KEY_SUFFIXES)


def _coerce(key: str, value: str) -> Any:
    """Turn a form-encoded string back into the JSON value the client serialised."""
    if _is_string_key(key):
        return value
    if value in ("true", "false"):
        return value == "true"
    stripped = value.strip()
    if _NUMBER_RE.fullmatch(stripped) or stripped.startswith(("{", "[")):
        try:
            return json.loads(stripped)
        except ValueError:
            return value
    return value


def _decode_form_param(value: str) -> str:
    """Undo the HTML5 escaping httpx applies to ``name=``/``filename=`` in multipart."""
    value = re.sub(
        r"%([0-9A-Fa-f]{2})",
        lambda m: (
            chr(int(m.group(1), 16))
            if int(m.group(1), 16) < 0x20 or int(m.group(1), 16) == 0x22
            else m.group(0)
        ),
        value,
    )
    return value.replace("\\\\", "\\")


def _parse_disposition(header: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for match in re.finditer(r';\s*([\w*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)', header):
        key, raw = match.group(1).lower(), match.group(2).strip()
        if raw.startswith('"') and raw.endswith('"'):
            raw = _decode_form_param(raw[1:-1])
        if key.endswith("*"):  # RFC 5987: utf-8''percent-encoded
            _, _, encoded = raw.partition("''")
            params[key[:-1]] = unquote(encoded or raw)
        else:
            params.setdefault(key, raw)
    return params


def _parse_multipart(
    body: bytes, boundary: str
) -> tuple[list[tuple[str, str]], dict[str, tuple[str, str, bytes]]]:
    """Split a multipart body into plain fields and uploaded files.

    Returns ``(fields, files)`` where ``files`` maps the field name to
    ``(filename, mime_type, content)``.
    """
    fields: list[tuple[str, str]] = []
    files: dict[str, tuple[str, str, bytes]] = {}
    delimiter = b"--" + boundary.encode("latin-1")
    for raw_part in body.split(delimiter)[1:]:
        if raw_part.startswith(b"--"):
            break
        part = raw_part[2:] if raw_part.startswith(b"\r\n") else raw_part
        if part.endswith(b"\r\n"):
            part = part[:-2]
        raw_headers, _, content = part.partition(b"\r\n\r\n")
        headers: dict[str, str] = {}
        for line in raw_headers.decode("utf-8", "replace").split("\r\n"):
            name, sep, val = line.partition(":")
            if sep:
                headers[name.strip().lower()] = val.strip()
        disposition = _parse_disposition(headers.get("content-disposition", ""))
        field = disposition.get("name")
        if field is None:
            continue
        if "filename" in disposition:
            mime = headers.get("content-type", "application/octet-stream")
            files[field] = (disposition["filename"], mime, content)
        else:
            fields.append((field, content.decode("utf-8", "replace")))
    return fields, files


def _image_size(data: bytes) -> tuple[int, int]:
    """Width and height of an uploaded PNG (JPEG and others: a typical size); what is no
    picture at all is refused as Telegram refuses it."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:3] == b"\xff\xd8\xff" or data[:4] in (b"GIF8", b"RIFF"):
        return 1280, 960
    raise FakeBotAPIError(400, "Bad Request: IMAGE_PROCESS_FAILED")


def _html_visible_length(text: str) -> int:
    return _utf16_len(html.unescape(_HTML_TAG_RE.sub("", text)))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: FakeBotAPI) -> None:
        self.fake = fake
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about clients that disconnect (cancelled long polls, killed bots)."""
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeBotAPI/1.0"

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
                size_line = self.rfile.readline().split(b";")[0].strip()
                size = int(size_line or b"0", 16)
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
        file_match = _FILE_PATH_RE.match(url.path)
        if self.command == "GET" and file_match:
            status, payload, ctype = fake._serve_file(
                file_match.group("token"), unquote(file_match.group("path"))
            )
            self._respond(status, payload, ctype)
            return
        match = _PATH_RE.match(url.path)
        if not match:
            error = FakeBotAPIError(404, "Not Found")
            self._respond(404, json.dumps(error.to_json()).encode(), "application/json")
            return
        try:
            params = fake._parse_params(self.headers.get("Content-Type", ""), body, url.query)
        except ValueError as exc:
            error = FakeBotAPIError(400, f"Bad Request: can't parse request body: {exc}")
            self._respond(400, json.dumps(error.to_json()).encode(), "application/json")
            return
        answered = fake._handle(match.group("token"), match.group("method"), params)
        if answered is None:  # an injected dropped connection: no answer at all
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        status, answer = answered
        data = json.dumps(answer, ensure_ascii=False).encode("utf-8")
        self._respond(status, data, "application/json")

    def _respond(self, status: int, payload: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
        except OSError:  # client went away (e.g. a cancelled long poll)
            self.close_connection = True


class FakeBotAPI:
    """In-memory fake of the Telegram Bot API served over real HTTP on 127.0.0.1.

    Thread-safe: the HTTP server answers from worker threads while tests inject updates
    and inspect results from the main thread (or an event loop via ``asyncio.to_thread``).
    """

    #: Real-time upper bound (seconds) for one long-polling ``getUpdates`` wait.
    long_poll_cap: float = 2.0

    def __init__(
        self, token: str = "123456:TEST-TOKEN", bot_username: str = "baocao_test_bot"
    ) -> None:
        self.token = token
        self.bot_username = bot_username
        bot_id_part = token.split(":", 1)[0]
        self.bot_id = int(bot_id_part) if bot_id_part.isdigit() else 123456
        self.bot_user: JsonDict = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Báo cáo Test Bot",
            "username": bot_username,
        }
        self._cond = threading.Condition(threading.RLock())
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False

        self._calls: list[tuple[str, JsonDict]] = []
        self._updates: list[JsonDict] = []  # not yet confirmed, ascending update_id
        self._delivered: set[int] = set()
        self._delivery_log: list[int] = []
        self._next_update_id = 100_000
        self._poll_generation = 0

        self._messages: list[JsonDict] = []  # every message the bot sent, in order
        self._by_key: dict[tuple[int, int], JsonDict] = {}
        self._next_message_id: dict[int, int] = {}
        self._users: dict[int, JsonDict] = {}
        self._deleted: list[tuple[int, int]] = []
        self._documents: list[tuple[int, str, bytes]] = []
        self._photos: list[tuple[int, bytes, str | None]] = []
        self._files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, content)
        self._file_counter = itertools.count(1)
        self._callback_counter = itertools.count(1)

        self._commands: list[JsonDict] = []
        self._webhook_url = ""
        self._failures: dict[str, list[FakeBotAPIError]] = {}
        self._blocked: set[int] = set()  # chats whose user blocked the bot (403 on sending)

        self._limits: Limits | None = None
        self._overall: _TokenBucket | None = None
        self._per_chat: dict[int, _TokenBucket] = {}
        self._faults: dict[str, Faults] = {}
        self._rng = random.Random(0)
        self._stats: dict[str, int] = {}
        self._stop_event = threading.Event()
        # The flood limits' clock; a test may replace it to refill buckets without sleeping.
        self.clock: Callable[[], float] = time.monotonic

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Bind to a free port on 127.0.0.1 and serve in a background daemon thread."""
        if self._server is not None:
            return
        if self._stopped:
            raise RuntimeError("a stopped FakeBotAPI cannot be restarted; create a new one")
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="FakeBotAPI",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving: wake long polls, close all client connections, join the thread."""
        with self._cond:
            self._stopped = True
            self._stop_event.set()  # ends injected slow answers
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
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

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
            raise RuntimeError("FakeBotAPI is not running; call start() first")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """Value for PTB's ``base_url``, e.g. ``"http://127.0.0.1:54321/bot"``."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """Value for PTB's ``base_file_url`` (needed only to download files)."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    # ------------------------------------------------------------------ injecting
    def _user(self, user_id: int, first_name: str | None = None) -> JsonDict:
        with self._cond:
            user = self._users.get(user_id)
            if user is None or (first_name is not None and user["first_name"] != first_name):
                user = {
                    "id": user_id,
                    "is_bot": False,
                    "first_name": first_name or _DEFAULT_FIRST_NAME,
                    "language_code": "vi",
                }
                self._users[user_id] = user
            return dict(user)

    def _private_chat(self, user: JsonDict) -> JsonDict:
        return {"id": user["id"], "type": "private", "first_name": user["first_name"]}

    def _chat(self, chat_id: int) -> JsonDict:
        if chat_id > 0:
            return self._private_chat(self._user(chat_id))
        if str(chat_id).startswith("-100"):
            return {"id": chat_id, "type": "supergroup", "title": "Test supergroup"}
        return {"id": chat_id, "type": "group", "title": "Test group"}

    def _new_message_id(self, chat_id: int) -> int:
        with self._cond:
            message_id = self._next_message_id.get(chat_id, 1)
            self._next_message_id[chat_id] = message_id + 1
            return message_id

    def inject_raw_update(self, update: JsonDict) -> int:
        """Queue an arbitrary Update object for ``getUpdates``; assigns ``update_id`` if missing.

        Returns the update_id.
        """
        update = copy.deepcopy(update)
        with self._cond:
            if "update_id" not in update:
                update["update_id"] = self._next_update_id
            update_id = int(update["update_id"])
            self._next_update_id = max(self._next_update_id, update_id + 1)
            self._updates.append(update)
            self._updates.sort(key=lambda u: int(u["update_id"]))
            self._cond.notify_all()
        return update_id

    def _user_message(self, user_id: int, first_name: str | None) -> JsonDict:
        user = self._user(user_id, first_name)
        return {
            "message_id": self._new_message_id(user_id),
            "from": user,
            "chat": self._private_chat(user),
            "date": int(time.time()),
        }

    def send_text(self, user_id: int, text: str, first_name: str = _DEFAULT_FIRST_NAME) -> int:
        """Inject a private-chat text message from ``user_id`` (chat id == user id).

        Texts starting with ``/`` get a ``bot_command`` entity like real Telegram.
        Returns the update_id.
        """
        message = self._user_message(user_id, first_name)
        message["text"] = text
        if text.startswith("/") and len(text) > 1:
            command = text.split(maxsplit=1)[0]
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _utf16_len(command)}
            ]
        return self.inject_raw_update({"message": message})

    def send_photo(self, user_id: int, file_id: str = "PHOTO1", caption: str | None = None) -> int:
        """Inject a private-chat photo from ``user_id``; the largest size has ``file_id``.

        Returns the update_id.
        """
        message = self._user_message(user_id, None)
        message["photo"] = [
            {
                "file_id": f"{file_id}_s",
                "file_unique_id": f"U{file_id}_s",
                "width": 90,
                "height": 68,
                "file_size": 1_500,
            },
            {
                "file_id": file_id,
                "file_unique_id": f"U{file_id}",
                "width": 1280,
                "height": 960,
                "file_size": 120_000,
            },
        ]
        if caption is not None:
            message["caption"] = caption
        return self.inject_raw_update({"message": message})

    def send_document(self, user_id: int, file_id: str = "DOC1",
                      file_name: str = "tep.pdf", caption: str | None = None) -> int:
        """Inject a private-chat document (a file) from ``user_id``. Returns the update_id."""
        message = self._user_message(user_id, None)
        message["document"] = {
            "file_id": file_id,
            "file_unique_id": f"U{file_id}",
            "file_name": file_name,
            "mime_type": "application/pdf",
            "file_size": 50_000,
        }
        if caption is not None:
            message["caption"] = caption
        return self.inject_raw_update({"message": message})

    def press_button(self, user_id: int, message_id: int, data: str) -> int:
        """Inject a callback_query: ``user_id`` presses a button on a message the bot sent.

        The stored message (current state, as in ``sent_messages``) is attached as
        ``callback_query.message``. Raises AssertionError if the bot never sent that message
        to the private chat of ``user_id``. Returns the update_id.
        """
        with self._cond:
            stored = self._by_key.get((user_id, message_id))
            if stored is None:
                raise AssertionError(
                    f"bot never sent message_id={message_id} to chat {user_id}; "
                    f"sent: {self._dump(user_id)}"
                )
            message = copy.deepcopy(stored)
        user = self._user(user_id)
        callback_query = {
            "id": str(4_000_000_000_000_000 + next(self._callback_counter)),
            "from": user,
            "message": message,
            "chat_instance": str(-8_000_000_000_000_000 - user_id),
            "data": data,
        }
        return self.inject_raw_update({"callback_query": callback_query})

    def add_file(self, file_id: str, content: bytes, file_path: str | None = None) -> None:
        """Register downloadable content for ``file_id`` (served via getFile + base_file_url)."""
        with self._cond:
            self._files[file_id] = (file_path or f"files/{file_id}", content)

    # ------------------------------------------------------------------ inspecting
    @property
    def calls(self) -> list[tuple[str, JsonDict]]:
        """Snapshot of every ``(method, params)`` received, in order."""
        with self._cond:
            return list(self._calls)

    @property
    def commands(self) -> list[JsonDict]:
        """Commands last stored with setMyCommands (cleared by deleteMyCommands)."""
        with self._cond:
            return copy.deepcopy(self._commands)

    @property
    def documents(self) -> list[tuple[int, str, bytes]]:
        """Every uploaded document as ``(chat_id, filename, content)``."""
        with self._cond:
            return list(self._documents)

    @property
    def photos(self) -> list[tuple[int, bytes, str | None]]:
        """Every uploaded photo as ``(chat_id, content, caption)``, in order."""
        with self._cond:
            return list(self._photos)

    @property
    def deleted_messages(self) -> list[tuple[int, int]]:
        """``(chat_id, message_id)`` of every deleteMessage call, in order."""
        with self._cond:
            return list(self._deleted)

    @property
    def delivered_update_ids(self) -> list[int]:
        """update_ids in the order getUpdates returned them (duplicates kept)."""
        with self._cond:
            return list(self._delivery_log)

    def iter_calls(self, method: str) -> Iterator[JsonDict]:
        """Yield the params of every recorded call of ``method`` (case-insensitive)."""
        wanted = method.lower()
        for name, params in self.calls:
            if name.lower() == wanted:
                yield params

    def sent_messages(self, chat_id: int | None = None) -> list[JsonDict]:
        """Messages the bot sent (optionally to one chat), in order, with edits applied."""
        with self._cond:
            return [
                copy.deepcopy(m)
                for m in self._messages
                if chat_id is None or m["chat"]["id"] == chat_id
            ]

    def last_message(self, chat_id: int) -> JsonDict:
        """The most recent message the bot sent to ``chat_id`` (AssertionError if none)."""
        messages = self.sent_messages(chat_id)
        if not messages:
            raise AssertionError(f"bot sent no message to chat {chat_id}")
        return messages[-1]

    def _dump(self, chat_id: int | None, limit: int = 10) -> str:
        with self._cond:
            messages = [m for m in self._messages if chat_id is None or m["chat"]["id"] == chat_id][
                -limit:
            ]
            calls = [method for method, _ in self._calls[-limit:]]
        lines = [f"last {len(messages)} message(s) to chat {chat_id}:"]
        for m in messages:
            summary = {
                k: m[k]
                for k in ("message_id", "text", "caption", "document", "reply_markup")
                if k in m
            }
            lines.append(f"  {json.dumps(summary, ensure_ascii=False)}")
        lines.append(f"last calls: {calls}")
        return "\n".join(lines)

    def _wait(self, ready: Callable[[], Any], timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                result = ready()
                if result is not None:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def wait_for_message(
        self,
        chat_id: int,
        predicate: Callable[[JsonDict], bool] | None = None,
        timeout: float = 10.0,
        after: int = 0,
    ) -> JsonDict:
        """Block until a message at index >= ``after`` of ``sent_messages(chat_id)`` matches.

        Edits re-trigger the check. Raises AssertionError with recent messages on timeout.
        """

        def ready() -> JsonDict | None:
            for m in self.sent_messages(chat_id)[after:]:
                if predicate is None or predicate(m):
                    return m
            return None

        found = cast("JsonDict | None", self._wait(ready, timeout))
        if found is None:
            raise AssertionError(
                f"no matching message to chat {chat_id} (after={after}) within {timeout}s\n"
                + self._dump(chat_id)
            )
        return found

    def wait_for_call(
        self,
        method: str,
        predicate: Callable[[JsonDict], bool] | None = None,
        timeout: float = 10.0,
        after: int = 0,
    ) -> JsonDict:
        """Block until a call of ``method`` (case-insensitive) at index >= ``after`` of
        :attr:`calls` has params matching ``predicate``; returns those params.
        """
        wanted = method.lower()

        def ready() -> JsonDict | None:
            for name, params in self._calls[after:]:
                if name.lower() == wanted and (predicate is None or predicate(params)):
                    return params
            return None

        found = cast("JsonDict | None", self._wait(ready, timeout))
        if found is None:
            raise AssertionError(
                f"no matching {method} call (after={after}) within {timeout}s\n" + self._dump(None)
            )
        return found

    def pending_updates(self) -> int:
        """Number of injected updates not yet confirmed via a getUpdates ``offset``."""
        with self._cond:
            return len(self._updates)

    def wait_until_consumed(self, timeout: float = 10.0) -> None:
        """Block until the bot confirmed every injected update.

        Confirmation only happens with the *next* getUpdates call after delivery, so with
        PTB this normally takes one extra polling round.
        """
        if self._wait(lambda: True if not self._updates else None, timeout) is None:
            raise AssertionError(
                f"{self.pending_updates()} update(s) still unconfirmed after {timeout}s"
            )

    def wait_until_delivered(self, timeout: float = 10.0) -> None:
        """Block until every injected update was returned by some getUpdates response."""

        def ready() -> bool | None:
            undelivered = [u for u in self._updates if u["update_id"] not in self._delivered]
            return None if undelivered else True

        if self._wait(ready, timeout) is None:
            raise AssertionError(f"updates not delivered to the bot within {timeout}s")

    def fail_next(
        self, method: str, error_code: int, description: str, retry_after: int | None = None
    ) -> None:
        """Make the next call of ``method`` fail with the given Bot API error.

        Queued failures for the same method are used first-in first-out. ``retry_after``
        adds ``parameters.retry_after`` (PTB then raises ``RetryAfter``).
        """
        parameters = {"retry_after": retry_after} if retry_after is not None else None
        with self._cond:
            self._failures.setdefault(method.lower(), []).append(
                FakeBotAPIError(error_code, description, parameters)
            )

    def pending_update_ids(self) -> list[int]:
        """update_ids injected and not yet confirmed via a getUpdates ``offset``."""
        with self._cond:
            return [int(u["update_id"]) for u in self._updates]

    def block(self, *chat_ids: int) -> None:
        """From now on, sending to these chats answers 403 "bot was blocked by the user"."""
        with self._cond:
            self._blocked.update(chat_ids)

    def message_counts(self) -> dict[int, int]:
        """chat → messages the bot sent there so far (duplicates show as counts above 1)."""
        with self._cond:
            counts: dict[int, int] = {}
            for m in self._messages:
                counts[m["chat"]["id"]] = counts.get(m["chat"]["id"], 0) + 1
            return counts

    def message_count(self, chat_id: int) -> int:
        """How many messages the bot has sent to ``chat_id`` so far."""
        with self._cond:
            return sum(1 for m in self._messages if m["chat"]["id"] == chat_id)

    def send_text_if_quiet(
        self, user_id: int, text: str, seen: int, first_name: str = _DEFAULT_FIRST_NAME
    ) -> int | None:
        """Like :meth:`send_text`, but only if the bot has sent exactly ``seen`` messages to the
        chat, checked and sent atomically; otherwise None. A simulated person who looked at the
        chat types only if nothing new arrived meanwhile (like :meth:`send_text`, the message
        gets the chat's next message_id, after every bot message already on screen)."""
        with self._cond:
            if self.message_count(user_id) != seen:
                return None
            return self.send_text(user_id, text, first_name)

    # ------------------------------------------------------------------ HTTP plumbing
    def _parse_params(self, content_type: str, body: bytes, query: str) -> JsonDict:
        params: JsonDict = {}
        for key, value in parse_qsl(query, keep_blank_values=True):
            params[key] = _coerce(key, value)
        mime = content_type.split(";", 1)[0].strip().lower()
        if not body:
            return params
        if mime == "application/json":
            decoded = json.loads(body.decode("utf-8"))
            if not isinstance(decoded, dict):
                raise ValueError("JSON body must be an object")
            for key, value in decoded.items():
                params[key] = _coerce(key, value) if isinstance(value, str) else value
        elif mime == "multipart/form-data":
            match = re.search(r'boundary="?([^";]+)"?', content_type)
            if not match:
                raise ValueError("multipart body without boundary")
            fields, files = _parse_multipart(body, match.group(1))
            for key, value in fields:
                params[key] = _coerce(key, value)
            for key, (filename, file_mime, content) in files.items():
                upload = {"filename": filename, "mime_type": file_mime, "content": content}
                params[key] = upload
            # resolve attach://name references (media groups, thumbnails)
            for key, value in list(params.items()):
                if isinstance(value, str) and value.startswith("attach://"):
                    ref = value[len("attach://") :]
                    if ref in params and isinstance(params[ref], dict):
                        params[key] = params[ref]
        else:  # application/x-www-form-urlencoded (or unspecified)
            text = body.decode("utf-8")
            for key, value in parse_qsl(text, keep_blank_values=True):
                params[key] = _coerce(key, value)
        return params

    def _handle(
        self, token: str, method: str, params: JsonDict
    ) -> tuple[int, JsonDict] | None:
        """The answer to one call: ``(status, body)``, or None to drop the connection."""
        if token != self.token:
            return 401, FakeBotAPIError(401, "Unauthorized").to_json()
        with self._cond:
            self._calls.append((method, params))
            failures = self._failures.get(method.lower())
            failure = failures.pop(0) if failures else None
            self._cond.notify_all()
        if failure is not None:
            return failure.error_code, failure.to_json()
        if self._blocked and method.lower() in SENDING_METHODS:
            with self._cond:
                blocked = str(params.get("chat_id")) in {str(c) for c in self._blocked}
            if blocked:
                self._count("forbidden")
                return 403, FakeBotAPIError(
                    403, "Forbidden: bot was blocked by the user").to_json()
        fault = self._roll_fault(method)
        if fault == "dropped":
            return None
        if fault == "server_error":
            code = 500 if self._chance() < 0.5 else 502
            reason = "Internal Server Error" if code == 500 else "Bad Gateway"
            return code, FakeBotAPIError(code, reason).to_json()
        if fault == "too_many":
            low, high = self._faults[method_family(method)].retry_after
            return self._too_many(self._randint(low, high))
        limited = self._limit(method, params)
        if limited is not None:
            return limited
        if fault in ("slow_delivered", "slow_lost"):
            self._stop_event.wait(self._faults[method_family(method)].slow_seconds)
            if fault == "slow_lost":  # the client gave up long ago; nothing happened
                self._count(fault)
                return None
        handler = getattr(self, f"_api_{method.lower()}", None)
        try:
            result = handler(params) if handler is not None else True
        except FakeBotAPIError as exc:
            return exc.error_code, exc.to_json()
        finally:
            if fault == "slow_delivered":  # counted once the message is recorded
                self._count(fault)
        return 200, {"ok": True, "result": result}

    # ------------------------------------------------------------------ limits and faults
    def _count(self, what: str) -> None:
        with self._cond:
            self._stats[what] = self._stats.get(what, 0) + 1
            self._cond.notify_all()

    def _chance(self) -> float:
        with self._cond:
            return self._rng.random()

    def _randint(self, low: int, high: int) -> int:
        with self._cond:
            return self._rng.randint(low, high)

    def _roll_fault(self, method: str) -> str | None:
        """One seeded draw: which fault (if any) this call gets; counted here."""
        with self._cond:
            faults = self._faults.get(method_family(method))
            if faults is None:
                return None
            draw = self._rng.random()
        for name in ("dropped", "server_error", "too_many", "slow_lost", "slow_delivered"):
            chance = float(getattr(faults, name))
            if draw < chance:
                if not name.startswith("slow"):  # slow answers are counted when they end
                    self._count("injected_429" if name == "too_many" else name)
                return name
            draw -= chance
        return None

    @staticmethod
    def _too_many(retry_after: int) -> tuple[int, JsonDict]:
        error = FakeBotAPIError(
            429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
        )
        return 429, error.to_json()

    def _limit(self, method: str, params: JsonDict) -> tuple[int, JsonDict] | None:
        """Take a token for a sending method, or answer 429 if a flood limit is exceeded."""
        if method.lower() not in SENDING_METHODS:
            return None
        raw_chat = params.get("chat_id")
        chat_id = (
            int(raw_chat)
            if isinstance(raw_chat, int | str)
            and not isinstance(raw_chat, bool)
            and re.fullmatch(r"-?\d+", str(raw_chat))
            else None
        )
        with self._cond:
            limits = self._limits
            if limits is None:
                return None
            now = self.clock()
            if self._overall is None:
                self._overall = _TokenBucket(limits.overall_per_second, limits.overall_burst, now)
            buckets = [self._overall]
            if chat_id is not None:
                if chat_id not in self._per_chat:
                    self._per_chat[chat_id] = _TokenBucket(
                        limits.per_chat_per_second, limits.per_chat_burst, now
                    )
                buckets.append(self._per_chat[chat_id])
            wait = max(bucket.wait(now) for bucket in buckets)
            if wait <= 0:
                for bucket in buckets:
                    bucket.take()
                return None
        self._count("limited")
        return self._too_many(max(1, math.ceil(wait)))

    def wait_for_stats(
        self, ready: Callable[[FaultStats], bool], timeout: float = 10.0
    ) -> FaultStats:
        """Block until ``ready(fault_stats())`` holds (slow answers count when they end)."""

        def check() -> FaultStats | None:
            stats = self.fault_stats()
            return stats if ready(stats) else None

        found = self._wait(check, timeout)
        if found is None:
            raise AssertionError(f"fault counts not reached within {timeout}s: "
                                 f"{self.fault_stats().as_dict()}")
        return cast(FaultStats, found)

    def set_limits(self, limits: Limits | None) -> None:
        """Enforce Telegram's flood limits on sending methods (None: no limits, the default)."""
        with self._cond:
            self._limits = limits
            self._overall = None
            self._per_chat.clear()

    def set_chaos(self, seed: int = 0, faults: Mapping[str, Faults] | None = None) -> None:
        """Inject seeded random faults per method family (see :func:`method_family`);
        ``set_chaos()`` with no faults turns them off. The seed makes the sequence of draws
        repeatable (which call gets which draw still depends on thread timing)."""
        faults = dict(faults or {})
        unknown = set(faults) - set(FAMILIES)
        if unknown:
            raise ValueError(f"unknown method families {sorted(unknown)}; use {FAMILIES}")
        with self._cond:
            self._faults = faults
            self._rng = random.Random(seed)

    def fault_stats(self) -> FaultStats:
        """Counts of 429s, 5xx, slow answers and drops so far, and messages recorded."""
        with self._cond:
            return FaultStats(
                limited=self._stats.get("limited", 0),
                injected_429=self._stats.get("injected_429", 0),
                server_errors=self._stats.get("server_error", 0),
                slow_delivered=self._stats.get("slow_delivered", 0),
                slow_lost=self._stats.get("slow_lost", 0),
                dropped=self._stats.get("dropped", 0),
                messages=len(self._messages),
            )

    def _serve_file(self, token: str, path: str) -> tuple[int, bytes, str]:
        if token != self.token:
            return (
                401,
                json.dumps(FakeBotAPIError(401, "Unauthorized").to_json()).encode(),
                ("application/json"),
            )
        with self._cond:
            for file_path, content in self._files.values():
                if file_path == path:
                    return 200, content, "application/octet-stream"
        return (
            404,
            json.dumps(FakeBotAPIError(404, "Not Found").to_json()).encode(),
            ("application/json"),
        )

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _require(params: JsonDict, key: str) -> Any:
        if key not in params or params[key] in (None, ""):
            raise FakeBotAPIError(400, f'Bad Request: parameter "{key}" is required')
        return params[key]

    def _chat_id(self, params: JsonDict) -> int:
        value = self._require(params, "chat_id")
        if isinstance(value, bool):
            raise FakeBotAPIError(400, "Bad Request: chat not found")
        if isinstance(value, int):
            return value
        text = str(value)
        if re.fullmatch(r"-?\d+", text):
            return int(text)
        raise FakeBotAPIError(400, "Bad Request: chat not found")

    @staticmethod
    def _check_length(text: str, parse_mode: Any, limit: int, what: str) -> None:
        length = (
            _html_visible_length(text)
            if str(parse_mode or "").lower() == "html"
            else _utf16_len(text)
        )
        if length > limit:
            raise FakeBotAPIError(400, f"Bad Request: {what} is too long")

    @staticmethod
    def _inline_markup(params: JsonDict) -> JsonDict | None:
        """Validate reply_markup; return it only if it is an inline keyboard (as Telegram)."""
        markup = params.get("reply_markup")
        if markup is None or markup == "":
            return None
        if isinstance(markup, str):
            try:
                markup = json.loads(markup)
            except ValueError as exc:
                raise FakeBotAPIError(
                    400, "Bad Request: can't parse reply keyboard markup JSON object"
                ) from exc
        if not isinstance(markup, dict):
            raise FakeBotAPIError(400, "Bad Request: can't parse reply keyboard markup")
        keyboard = markup.get("inline_keyboard")
        if keyboard is None:
            return None
        for row in keyboard:
            for button in row:
                data = button.get("callback_data")
                if data is not None and not (
                    0 < len(str(data).encode("utf-8")) <= _MAX_CALLBACK_DATA_BYTES
                ):
                    raise FakeBotAPIError(400, "Bad Request: BUTTON_DATA_INVALID")
                if not button.get("text"):
                    raise FakeBotAPIError(400, "Bad Request: text buttons are unallowed")
        if not any(keyboard):
            return None
        return copy.deepcopy(markup)

    def _store_message(self, chat_id: int, params: JsonDict, content: JsonDict) -> JsonDict:
        markup = self._inline_markup(params)
        with self._cond:
            message: JsonDict = {
                "message_id": self._new_message_id(chat_id),
                "from": dict(self.bot_user),
                "chat": self._chat(chat_id),
                "date": int(time.time()),
            }
            reply = params.get("reply_parameters")
            reply_to = (
                reply.get("message_id")
                if isinstance(reply, dict)
                else params.get("reply_to_message_id")
            )
            if isinstance(reply_to, int):
                original = self._by_key.get((chat_id, reply_to))
                if original is not None:
                    replied = copy.deepcopy(original)
                    replied.pop("reply_to_message", None)
                    message["reply_to_message"] = replied
            message.update(content)
            if markup is not None:
                message["reply_markup"] = markup
            self._messages.append(message)
            self._by_key[(chat_id, message["message_id"])] = message
            self._cond.notify_all()
            return copy.deepcopy(message)

    def _find_for_edit(self, params: JsonDict) -> JsonDict | None:
        """Return the stored message to edit, or None for inline messages."""
        if params.get("inline_message_id"):
            return None
        chat_id = self._chat_id(params)
        message_id = params.get("message_id")
        stored = self._by_key.get((chat_id, message_id)) if isinstance(message_id, int) else None
        if stored is None:
            raise FakeBotAPIError(400, "Bad Request: message to edit not found")
        return stored

    def _apply_edit(
        self, stored: JsonDict, field: str | None, value: Any, params: JsonDict
    ) -> None:
        markup = self._inline_markup(params)
        same_content = field is None or stored.get(field) == value
        if same_content and stored.get("reply_markup") == markup:
            raise FakeBotAPIError(400, _NOT_MODIFIED)
        if field is not None:
            stored[field] = value
        if markup is None:
            stored.pop("reply_markup", None)
        else:
            stored["reply_markup"] = markup
        stored["edit_date"] = int(time.time())
        self._cond.notify_all()

    def _new_file_id(self, prefix: str) -> tuple[str, str]:
        n = next(self._file_counter)
        return f"{prefix}{n:06d}", f"U{prefix}{n:06d}"

    # ------------------------------------------------------------------ Bot API methods
    def _api_getme(self, params: JsonDict) -> JsonDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _api_getupdates(self, params: JsonDict) -> list[JsonDict]:
        offset = params.get("offset")
        limit = params.get("limit") or 100
        limit = max(1, min(100, int(limit)))
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + min(max(timeout, 0.0), self.long_poll_cap)
        with self._cond:
            if self._webhook_url:
                raise FakeBotAPIError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            self._poll_generation += 1
            generation = self._poll_generation
            self._cond.notify_all()
            if isinstance(offset, int) and offset != 0:
                if offset < 0:
                    self._updates = self._updates[offset:]
                else:
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
                self._cond.notify_all()
            while True:
                if generation != self._poll_generation:
                    raise FakeBotAPIError(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that "
                        "only one bot instance is running",
                    )
                batch = self._updates[:limit]
                remaining = deadline - time.monotonic()
                if batch or remaining <= 0 or self._stopped:
                    break
                self._cond.wait(remaining)
            for update in batch:
                self._delivered.add(update["update_id"])
                self._delivery_log.append(update["update_id"])
            self._cond.notify_all()
            return copy.deepcopy(batch)

    def _api_deletewebhook(self, params: JsonDict) -> bool:
        with self._cond:
            self._webhook_url = ""
            if params.get("drop_pending_updates") is True:
                self._updates.clear()
            self._cond.notify_all()
        return True

    def _api_setwebhook(self, params: JsonDict) -> bool:
        with self._cond:
            self._webhook_url = str(params.get("url") or "")
            if params.get("drop_pending_updates") is True:
                self._updates.clear()
        return True

    def _api_getwebhookinfo(self, params: JsonDict) -> JsonDict:
        with self._cond:
            return {
                "url": self._webhook_url,
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates) if self._webhook_url else 0,
            }

    def _api_setmycommands(self, params: JsonDict) -> bool:
        commands = params.get("commands") or []
        if not isinstance(commands, list):
            raise FakeBotAPIError(400, "Bad Request: can't parse commands JSON object")
        with self._cond:
            self._commands = copy.deepcopy(commands)
        return True

    def _api_deletemycommands(self, params: JsonDict) -> bool:
        with self._cond:
            self._commands = []
        return True

    def _api_getmycommands(self, params: JsonDict) -> list[JsonDict]:
        return self.commands

    def _api_sendmessage(self, params: JsonDict) -> JsonDict:
        chat_id = self._chat_id(params)
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise FakeBotAPIError(400, "Bad Request: message text is empty")
        self._check_length(text, params.get("parse_mode"), _MAX_TEXT_LENGTH, "message")
        return self._store_message(chat_id, params, {"text": text})

    def _api_editmessagetext(self, params: JsonDict) -> JsonDict | bool:
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise FakeBotAPIError(400, "Bad Request: message text is empty")
        self._check_length(text, params.get("parse_mode"), _MAX_TEXT_LENGTH, "message")
        with self._cond:
            stored = self._find_for_edit(params)
            if stored is None:
                return True
            if "text" not in stored:
                raise FakeBotAPIError(400, "Bad Request: there is no text in the message to edit")
            self._apply_edit(stored, "text", text, params)
            return copy.deepcopy(stored)

    def _api_editmessagecaption(self, params: JsonDict) -> JsonDict | bool:
        caption = params.get("caption")
        with self._cond:
            stored = self._find_for_edit(params)
            if stored is None:
                return True
            self._apply_edit(stored, "caption", caption, params)
            if caption is None:
                stored.pop("caption", None)
            return copy.deepcopy(stored)

    def _api_editmessagereplymarkup(self, params: JsonDict) -> JsonDict | bool:
        with self._cond:
            stored = self._find_for_edit(params)
            if stored is None:
                return True
            self._apply_edit(stored, None, None, params)
            return copy.deepcopy(stored)

    def _media_caption(self, params: JsonDict) -> JsonDict:
        caption = params.get("caption")
        if isinstance(caption, str) and caption:
            self._check_length(caption, params.get("parse_mode"), _MAX_CAPTION_LENGTH, "caption")
            return {"caption": caption}
        return {}

    def _api_senddocument(self, params: JsonDict) -> JsonDict:
        chat_id = self._chat_id(params)
        document = self._require(params, "document")
        self._inline_markup(params)  # validate before recording the upload
        content = self._media_caption(params)
        if isinstance(document, dict):  # uploaded file
            file_id, unique_id = self._new_file_id("DOC")
            filename = str(document["filename"])
            data = cast(bytes, document["content"])
            with self._cond:
                self._documents.append((chat_id, filename, data))
                self._files[file_id] = (f"documents/{file_id}_{filename}", data)
            content["document"] = {
                "file_id": file_id,
                "file_unique_id": unique_id,
                "file_name": filename,
                "mime_type": str(document["mime_type"]),
                "file_size": len(data),
            }
        else:  # re-sending by file_id or URL
            content["document"] = {
                "file_id": str(document),
                "file_unique_id": f"U{document}",
                "file_name": "document",
            }
        return self._store_message(chat_id, params, content)

    def _api_sendphoto(self, params: JsonDict) -> JsonDict:
        chat_id = self._chat_id(params)
        photo = self._require(params, "photo")
        content = self._media_caption(params)
        self._inline_markup(params)  # validate before recording the upload
        width, height = 1280, 960
        if isinstance(photo, dict):
            data = cast(bytes, photo["content"])
            width, height = _image_size(data)
            file_id, unique_id = self._new_file_id("PHOTO")
            caption = params.get("caption")
            with self._cond:
                self._files[file_id] = (f"photos/{file_id}.jpg", data)
                self._photos.append((chat_id, data, caption if isinstance(caption, str) else None))
            size = len(data)
        else:
            file_id, unique_id, size = str(photo), f"U{photo}", 0
        content["photo"] = [
            {
                "file_id": file_id,
                "file_unique_id": unique_id,
                "width": width,
                "height": height,
                "file_size": size,
            }
        ]
        return self._store_message(chat_id, params, content)

    def _api_getfile(self, params: JsonDict) -> JsonDict:
        file_id = str(self._require(params, "file_id"))
        with self._cond:
            if file_id not in self._files:
                self._files[file_id] = (f"files/{file_id}", f"fake-file:{file_id}".encode())
            file_path, data = self._files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": f"U{file_id}",
            "file_size": len(data),
            "file_path": file_path,
        }

    def _api_deletemessage(self, params: JsonDict) -> bool:
        chat_id = self._chat_id(params)
        message_id = params.get("message_id")
        with self._cond:
            if isinstance(message_id, int):
                self._deleted.append((chat_id, message_id))
        return True
