"""A python-telegram-bot request object that answers Bot API calls locally and records them.

Handler tests and the benchmark use it to run the real PTB `Application` with no network: what
the bot *would* send is in `calls`, with the same parameters as on the wire.
"""

from __future__ import annotations

import json
import time
from typing import Any

from telegram.request import BaseRequest, RequestData

BOT_USER = {"id": 777000, "is_bot": True, "first_name": "Báo cáo", "username": "baocao_test_bot",
            "can_join_groups": False, "can_read_all_group_messages": False,
            "supports_inline_queries": False}
_BOT_USER_JSON = json.dumps(BOT_USER)


class RecordingRequest(BaseRequest):
    """Answers every call with a valid result; keeps (method, params) in `calls`.

    With `record=False` (the benchmark) nothing is kept but the last message of each chat."""

    def __init__(self, record: bool = True) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.record = record
        self._message_ids: dict[int, int] = {}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.latest: dict[int, dict[str, Any]] = {}  # chat id → the last message sent there

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        """No connection to open."""

    async def shutdown(self) -> None:
        """No connection to close."""

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = None, write_timeout: Any = None,
                         connect_timeout: Any = None, pool_timeout: Any = None,
                         ) -> tuple[int, bytes]:
        api_method = url.rsplit("/", 1)[-1]
        # What the bot's side of a real request does (HTTPXRequest posts these values).
        wire = request_data.json_parameters if request_data else {}
        if not self.record and api_method != "getMe":
            return 200, self._answer_quickly(api_method, request_data, wire)
        params = {k: _maybe_json(v) for k, v in wire.items()}
        self.calls.append((api_method, params))
        result = self._result(api_method, params)
        return 200, json.dumps({"ok": True, "result": result}).encode()

    def _answer_quickly(self, method: str, request_data: RequestData | None,
                        wire: dict[str, str]) -> bytes:
        """The benchmark's Bot API: a reply of the real shape and size (the message with its
        text and keyboard), assembled from the already encoded values, so that the bot's work,
        not the stand-in server's, is what gets measured."""
        if method not in ("sendMessage", "editMessageText"):
            return b'{"ok":true,"result":true}'
        params = request_data.parameters if request_data else {}
        chat_id = int(str(params["chat_id"]))
        if method == "sendMessage":
            message_id = self._message_ids.get(chat_id, 0) + 1
            self._message_ids[chat_id] = message_id
            self.latest[chat_id] = {
                "message_id": message_id, "date": 0, "chat": {"id": chat_id, "type": "private"},
                "from": BOT_USER, "text": params.get("text", ""),
                **({"reply_markup": params["reply_markup"]} if "reply_markup" in params else {})}
        else:
            message_id = int(str(params["message_id"]))
        markup = f',"reply_markup":{wire["reply_markup"]}' if "reply_markup" in wire else ""
        text = json.dumps(params.get("text", ""), ensure_ascii=False)
        return (f'{{"ok":true,"result":{{"message_id":{message_id},"date":{int(time.time())},'
                f'"chat":{{"id":{chat_id},"type":"private"}},"from":{_BOT_USER_JSON},'
                f'"text":{text}{markup}}}}}').encode()

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT_USER
        if method == "sendMessage":
            chat_id = int(params["chat_id"])
            message_id = self._message_ids.get(chat_id, 0) + 1
            self._message_ids[chat_id] = message_id
            message = {"message_id": message_id, "date": int(time.time()),
                       "chat": {"id": chat_id, "type": "private"}, "from": BOT_USER,
                       "text": params.get("text", "")}
            if isinstance(params.get("reply_markup"), dict):
                message["reply_markup"] = params["reply_markup"]
            self.messages[(chat_id, message_id)] = message
            self.latest[chat_id] = message
            return message
        if method in ("editMessageText", "editMessageReplyMarkup"):
            key = (int(params["chat_id"]), int(params["message_id"]))
            message = dict(self.messages.get(key) or {
                "message_id": key[1], "date": int(time.time()),
                "chat": {"id": key[0], "type": "private"}, "from": BOT_USER, "text": ""})
            if "text" in params:
                message["text"] = params["text"]
            message.pop("reply_markup", None)
            if isinstance(params.get("reply_markup"), dict):
                message["reply_markup"] = params["reply_markup"]
            self.messages[key] = message
            return message
        if method == "getUpdates":
            return []
        return True

    def sent(self, method: str = "sendMessage") -> list[dict[str, Any]]:
        return [p for m, p in self.calls if m == method]

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [str(p["text"]) for p in self.sent()
                if chat_id is None or int(p["chat_id"]) == chat_id]


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


_update_id = 0


def next_update_id() -> int:
    global _update_id
    _update_id += 1
    return _update_id


def private_chat(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "type": "private", "first_name": "Cán bộ"}


def user(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": "Cán bộ", "last_name": "Xã"}


def text_update(user_id: int, text: str, update_id: int | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"message_id": next_update_id(), "date": int(time.time()),
                               "chat": private_chat(user_id), "from": user(user_id),
                               "text": text}
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0,
                                "length": len(text.split(" ", 1)[0])}]
    return {"update_id": update_id or next_update_id(), "message": message}


def photo_update(user_id: int, file_id: str) -> dict[str, Any]:
    return {"update_id": next_update_id(), "message": {
        "message_id": next_update_id(), "date": int(time.time()), "chat": private_chat(user_id),
        "from": user(user_id),
        "photo": [{"file_id": file_id + "-small", "file_unique_id": "s", "width": 90,
                   "height": 90},
                  {"file_id": file_id, "file_unique_id": "b", "width": 1280, "height": 960}]}}


def button_update(user_id: int, data: str, message: dict[str, Any]) -> dict[str, Any]:
    return {"update_id": next_update_id(), "callback_query": {
        "id": str(next_update_id()), "from": user(user_id), "chat_instance": "ci",
        "data": data, "message": message}}
