"""Replies for channels without buttons (terminal, Zalo): buttons become numbered lines."""

from __future__ import annotations

from collections.abc import Callable

from bot.domain import messages_vi as M
from bot.domain.dialogue import Reply


def render_text(reply: Reply) -> str:
    """The reply's text, then '1. Có' lines (typing the number presses) or keyword hints."""
    buttons = reply.flat_buttons()
    text = pressing_is_choosing(reply.text)
    if not buttons:
        return text
    lines = [text, ""]
    if reply.numbered:
        if not reply.listed:
            lines += [f"  {i}. {b.label}" for i, b in enumerate(buttons, 1)]
        lines.append(M.TYPE_THE_NUMBER)
    else:
        keywords = [b.keyword for b in buttons if b.keyword]
        if keywords:
            lines.append(M.keywords_to_type(keywords))
    return "\n".join(lines).rstrip()


def pressing_is_choosing(text: str) -> str:
    """“bấm “Xong”” → “chọn “Xong””: there is nothing to press; the item is chosen by typing
    its number or keyword, as the lines below the text say."""
    return text.replace("bấm “", "chọn “").replace("Bấm “", "Chọn “")


def split_message(text: str, limit: int, measure: Callable[[str], int] = len) -> list[str]:
    """Split at line breaks into chunks of at most `limit`, as `measure` counts (Telegram
    counts UTF-16 code units: an emoji is two); a single line too long is cut."""
    if measure(text) <= limit:  # nearly every reply: one piece, measured once
        return [text]
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        while measure(line) > limit:  # a single very long line: hard cut
            if current:
                chunks.append(current)
                current = ""
            head = cut(line, limit, measure) or line[0]  # a limit under one character
            chunks.append(head)
            line = line[len(head):]
        candidate = f"{current}\n{line}" if current else line
        if measure(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current or not chunks:
        chunks.append(current)
    return chunks


def cut(text: str, limit: int, measure: Callable[[str], int] = len) -> str:
    """The longest start of `text` that measures at most `limit` (never half a character)."""
    if measure(text) <= limit:
        return text
    low, high = 0, len(text)  # measure grows with length: find the longest prefix that fits
    while low < high:
        mid = (low + high + 1) // 2
        if measure(text[:mid]) <= limit:
            low = mid
        else:
            high = mid - 1
    return text[:low]


def utf16_units(text: str) -> int:
    """Length as Telegram counts it."""
    return len(text.encode("utf-16-le")) // 2
