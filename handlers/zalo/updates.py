"""Zalo updates → channel-neutral `Inbound` events.

An update is `{event_name, message}`; ids are strings and dates epoch milliseconds. Zalo's
getUpdates has no offsets, so the same message may come twice (a retried poll, a webhook
delivered again): `(event_name, message_id)` is the event id the database de-duplicates by.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from bot.services.channels import Inbound, parse_command

CHANNEL = "zalo"
TEXT = "message.text.received"
IMAGE = "message.image.received"
STICKER = "message.sticker.received"
MESSAGE = "message."  # every event a person's message makes starts so
PHOTO_LOST = "photo"  # an image message without a picture to keep (see media.py)
# What baocao cannot read, by the word its reply uses for it.
OTHER_KINDS = {STICKER: "sticker", "message.voice.received": "voice",
               "message.unsupported.received": "other"}


def event_id(update: dict[str, Any]) -> str:
    """`event_name:message_id`; a message without an id is known by its content."""
    message = update.get("message") or {}
    message_id = message.get("message_id") if isinstance(message, dict) else None
    if isinstance(message_id, str | int) and str(message_id):
        return f"{update.get('event_name')}:{message_id}"
    canonical = json.dumps(update, sort_keys=True, ensure_ascii=False)
    return f"{update.get('event_name')}:sha-{hashlib.sha256(canonical.encode()).hexdigest()[:24]}"


def sender(update: dict[str, Any]) -> tuple[str, str] | None:
    """(user id, display name) of a person writing in a private chat; None for a bot, a group
    or an update without a sender."""
    message = update.get("message")
    if not isinstance(message, dict):
        return None
    who = _mapping(message.get("from"))
    chat = _mapping(message.get("chat"))
    user = who.get("id") or chat.get("id")
    if user is None or str(user) == "" or str(who.get("is_bot")).lower() in ("true", "1"):
        return None
    kind = str(chat.get("chat_type") or chat.get("type") or "PRIVATE").upper()
    if kind not in ("PRIVATE", "USER"):
        return None  # groups: baocao talks to officers one by one
    return str(user), str(who.get("display_name") or who.get("name") or "")


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def photo_url(update: dict[str, Any]) -> str | None:
    message = update.get("message") or {}
    url = message.get("photo_url") or message.get("photo") or message.get("url")
    return url if isinstance(url, str) and url.startswith(("http://", "https://")) else None


def to_inbound(update: dict[str, Any], photo: str | None = None) -> Inbound | None:
    """The event baocao handles, or None for one it ignores (a bot's, a group's, one that is
    no message). `photo` is where an image message's picture was kept (see media.py), ""
    when there was no picture to keep."""
    kind = str(update.get("event_name"))
    if not kind.startswith(MESSAGE):
        return None  # nobody wrote anything: no reply (each costs one of the month's quota)
    who = sender(update)
    if who is None:
        return None
    user, name = who
    base: dict[str, Any] = {"channel": CHANNEL, "user_id": user, "display_name": name,
                            "event_id": event_id(update), "chat_id": user}
    message = update["message"]
    if kind == IMAGE or (photo is not None and kind not in OTHER_KINDS):
        picture = photo if photo is not None else photo_url(update)
        if not picture:  # no URL, or it gave no picture: nothing to store, say so
            return Inbound(other=PHOTO_LOST, **base)
        return Inbound(photo=picture, **base)
    text = message.get("text")
    if isinstance(text, int | float) and not isinstance(text, bool):
        text = str(text)  # liberal: a figure sent as a JSON number is still what was typed
    if kind == TEXT or (kind not in OTHER_KINDS and isinstance(text, str)):
        text = text if isinstance(text, str) else ""
        command = parse_command(text)
        if command is not None:
            return Inbound(command=command.name, argument=command.argument, **base)
        return Inbound(text=text, **base)
    return Inbound(other=OTHER_KINDS.get(kind, "other"), **base)
