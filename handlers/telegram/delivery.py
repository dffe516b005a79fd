"""Telegram's side of delivery: replies → Bot API calls (the outbox payloads), and a transport
that makes one call and sorts its failures for the courier (bot/services/delivery.py)."""

from __future__ import annotations

import base64
import logging
from typing import Any

from telegram import Bot, InputFile
from telegram.constants import MessageLimit
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from bot.domain.dialogue import Reply
from bot.services.channels import Inbound
from bot.services.delivery import Payload, Refused, Rejected, RetryLater
from handlers.telegram.render import Markup, chunks, fit, keyboard
from handlers.text_render import utf16_units

log = logging.getLogger(__name__)
SEND, EDIT, PHOTO, DOCUMENT = ("send_message", "edit_message_text", "send_photo",
                               "send_document")
CAPTION_LIMIT = MessageLimit.CAPTION_LENGTH  # 1024
PHOTO_NAME = "baocao.png"
PICTURES = True  # sendPhoto uploads a picture (multipart)
UPLOAD_TIMEOUT = 20.0  # seconds to write a picture (python-telegram-bot's own for media)
# A chat that is gone for good: nothing later will reach it either.
GONE = ("chat not found", "user is deactivated", "bot was blocked", "peer_id_invalid")
# A file over Telegram's upload limit: HTTP 413, which python-telegram-bot raises as a
# NetworkError (transient). Sent again it fails again, and the chat's queue behind it with it.
TOO_LARGE = ("request entity too large", "file too large", "(413)")


def render(event: Inbound | None, chat_id: str, replies: list[Reply]) -> list[Payload]:
    """The calls that show `replies` in the chat. A button press first marks its message with
    the choice and drops its keyboard (so the same button cannot be pressed twice), or is
    replaced by the first reply when that reply says so.

    A reply's picture is a new message (a text message cannot become one), with the text as
    its caption when the text fits one and has no buttons. Buttons never go on a picture:
    pressing them would edit its text, which a picture has not (Telegram refuses the edit),
    so a picture with buttons is followed by its text with the buttons."""
    calls: list[Payload] = []
    pressed = event.pressed if event is not None else None
    for i, reply in enumerate(replies):
        if i == 0 and pressed is not None:
            if (reply.replace and reply.photo is None and reply.photo_id is None
                    and reply.document is None):
                calls.append(_edit(chat_id, pressed.message_id, reply.text, keyboard(reply)))
                continue
            marked = (f"{pressed.text}\n\n→ {pressed.label}" if pressed.label and pressed.text
                      else pressed.text)
            calls.append(_edit(chat_id, pressed.message_id, marked or "…", None))
        photo = reply.photo is not None or reply.photo_id is not None
        if photo or reply.document is not None:
            captioned = (bool(reply.text) and not reply.flat_buttons()
                         and utf16_units(reply.text) <= CAPTION_LIMIT)
            caption = reply.text if captioned else ""
            if reply.photo is not None:
                calls.append(_photo(chat_id, reply.photo, caption))
            elif reply.photo_id is not None:
                calls.append(_by_id(PHOTO, chat_id, reply.photo_id, caption))
            if reply.document is not None:
                doc, doc_caption = reply.document, "" if photo else caption
                calls.append(_document(chat_id, doc.name, doc.data, doc_caption)
                             if doc.file_id is None
                             else _by_id(DOCUMENT, chat_id, doc.file_id, doc_caption))
            if captioned or not (reply.text or reply.buttons):
                continue
        parts = chunks(reply)
        for j, part in enumerate(parts):
            calls.append(_send(chat_id, part, keyboard(reply) if j == len(parts) - 1 else None))
    return calls


def _send(chat_id: str, text: str, markup: Markup | None) -> Payload:
    params: dict[str, Any] = {"chat_id": int(chat_id), "text": text}
    if markup is not None:
        params["reply_markup"] = markup
    return {"m": SEND, "p": params}


def _photo(chat_id: str, png: bytes, caption: str) -> Payload:
    """sendPhoto with the picture itself in the payload (base64: payloads are JSON), so the
    outbox row holds all that is sent and a restart sends the same picture."""
    params: dict[str, Any] = {"chat_id": int(chat_id)}
    if caption:
        params["caption"] = caption
    return {"m": PHOTO, "p": params, "file": base64.b64encode(png).decode("ascii")}


def _document(chat_id: str, name: str, data: bytes, caption: str) -> Payload:
    """sendDocument, the file in the payload like a picture's (a restart sends the same)."""
    params: dict[str, Any] = {"chat_id": int(chat_id)}
    if caption:
        params["caption"] = caption
    return {"m": DOCUMENT, "p": params, "file": base64.b64encode(data).decode("ascii"),
            "name": name}


def _by_id(method: str, chat_id: str, file_id: str, caption: str) -> Payload:
    """sendPhoto/sendDocument of a file already on Telegram, by its file id (what the Bot API
    takes in place of an upload): the row holds the id, never the bytes."""
    field = "photo" if method == PHOTO else "document"
    params: dict[str, Any] = {"chat_id": int(chat_id), field: file_id}
    if caption:
        params["caption"] = caption
    return {"m": method, "p": params}


def _edit(chat_id: str, message_id: str, text: str, markup: Markup | None) -> Payload:
    params: dict[str, Any] = {"chat_id": int(chat_id), "message_id": int(message_id),
                              "text": fit(text)}
    if markup is not None:
        params["reply_markup"] = markup
    return {"m": EDIT, "p": params}


class TelegramTransport:
    """One Bot API call per payload, through python-telegram-bot's client (its timeouts and
    connection pool), without turning the answer into objects nobody reads (about 40% of the
    cost of sending, measured with bench/dialogue_throughput.py)."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def deliver(self, chat_id: str, payload: Payload) -> int | None:
        """Make the call; the new message's id for a message sent (None for an edit)."""
        method = payload["m"]
        params = dict(payload["p"])
        upload: dict[str, Any] = {}
        if "file" in payload:  # a picture or a document: a multipart upload
            field = "document" if method == DOCUMENT else "photo"
            params[field] = InputFile(base64.b64decode(payload["file"]),
                                      filename=payload.get("name", PHOTO_NAME))
            upload["write_timeout"] = UPLOAD_TIMEOUT
        try:
            result = await self.bot.do_api_request(method, api_kwargs=params, **upload)
        except Forbidden as e:
            raise Refused(str(e)) from e
        except RetryAfter as e:
            wait = e.retry_after
            raise RetryLater(wait if isinstance(wait, int | float)
                             else wait.total_seconds()) from e
        except BadRequest as e:
            if method == EDIT:  # "message is not modified", too old to edit: the mark is moot
                log.debug("edit skipped: %s", e)
                return None
            if any(g in e.message.lower() for g in GONE):
                raise Refused(e.message) from e
            raise Rejected(e.message) from e
        except NetworkError as e:
            if "file" in payload and any(x in e.message.lower() for x in TOO_LARGE):
                raise Rejected(e.message) from e
            raise
        if method in (SEND, PHOTO, DOCUMENT) and isinstance(result, dict):
            message_id = result.get("message_id")
            return message_id if isinstance(message_id, int) else None
        return None
