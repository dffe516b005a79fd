"""Replies → Telegram messages: inline keyboards, the 4096-character limit, 64-byte data."""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardMarkup
from telegram.constants import InlineKeyboardButtonLimit, MessageLimit

from bot.domain.dialogue import Reply
from handlers.text_render import cut, split_message, utf16_units

TEXT_LIMIT = MessageLimit.MAX_TEXT_LENGTH  # 4096
DATA_LIMIT = InlineKeyboardButtonLimit.MAX_CALLBACK_DATA  # 64 bytes


Markup = dict[str, Any]  # an InlineKeyboardMarkup as the Bot API receives it


def keyboard(reply: Reply) -> Markup | None:
    """The reply's buttons as Bot API JSON, built directly: PTB's InlineKeyboardMarkup objects
    would be turned into this same dict before sending, at several times the cost."""
    return inline_keyboard([[(b.label, b.data) for b in row] for row in reply.buttons])


def inline_keyboard(rows: list[list[tuple[str, str]]]) -> Markup | None:
    """(label, callback data) rows; a button whose data exceeds 64 bytes is left out."""
    kept = [[{"text": label, "callback_data": data} for label, data in row
             if len(data.encode()) <= DATA_LIMIT] for row in rows]
    kept = [r for r in kept if r]
    return {"inline_keyboard": kept} if kept else None


def chunks(reply: Reply) -> list[str]:
    """The text in pieces Telegram accepts; the keyboard goes with the last piece."""
    return split_message(reply.text or "…", TEXT_LIMIT, utf16_units)


def fit(text: str) -> str:
    """The start of `text` that fits one message (an edit cannot be split)."""
    return cut(text, TEXT_LIMIT, utf16_units)


def button_label(markup: InlineKeyboardMarkup | None, data: str) -> str | None:
    if markup is None:
        return None
    for row in markup.inline_keyboard:
        for b in row:
            if b.callback_data == data:
                return b.text
    return None
