"""Replies → Telegram messages: inline keyboards, the 4096-character limit, 64-byte data."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import InlineKeyboardButtonLimit, MessageLimit

from bot.domain.dialogue import Reply
from handlers.text_render import split_message

TEXT_LIMIT = MessageLimit.MAX_TEXT_LENGTH  # 4096
DATA_LIMIT = InlineKeyboardButtonLimit.MAX_CALLBACK_DATA  # 64 bytes


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    rows = [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row
             if len(b.data.encode()) <= DATA_LIMIT] for row in reply.buttons]
    rows = [r for r in rows if r]
    return InlineKeyboardMarkup(rows) if rows else None


def chunks(reply: Reply) -> list[str]:
    """The text in pieces Telegram accepts; the keyboard goes with the last piece."""
    return split_message(reply.text or "…", TEXT_LIMIT)


def button_label(markup: InlineKeyboardMarkup | None, data: str) -> str | None:
    if markup is None:
        return None
    for row in markup.inline_keyboard:
        for b in row:
            if b.callback_data == data:
                return b.text
    return None
