"""Replies for channels without buttons (terminal, Zalo): buttons become numbered lines."""

from __future__ import annotations

from bot.domain import messages_vi as M
from bot.domain.dialogue import Reply


def render_text(reply: Reply) -> str:
    """The reply's text, then '1. Có' lines (typing the number presses) or keyword hints."""
    buttons = reply.flat_buttons()
    if not buttons:
        return reply.text
    lines = [reply.text, ""]
    if reply.numbered:
        if not reply.listed:
            lines += [f"  {i}. {b.label}" for i, b in enumerate(buttons, 1)]
        lines.append(M.TYPE_THE_NUMBER)
    else:
        keywords = [b.keyword for b in buttons if b.keyword]
        if keywords:
            lines.append(M.keywords_to_type(keywords))
    return "\n".join(lines).rstrip()


def split_message(text: str, limit: int) -> list[str]:
    """Split at line breaks into chunks of at most `limit` characters."""
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:  # a single very long line: hard cut
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current or not chunks:
        chunks.append(current)
    return chunks
