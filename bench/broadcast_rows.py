"""Broadcast rows written as the broadcast service writes them when a broadcast starts: the
`broadcasts` row in state 'sending' and one outbox row per recipient and message part, with
the Telegram renderer's payloads (bench/broadcast.py and tests/test_broadcast_delivery.py)."""

from __future__ import annotations

import json
import sqlite3

from bot.domain.dialogue import Reply
from bot.services.delivery import BROADCAST
from handlers.telegram.delivery import render
from storage.database import utcnow_iso

Recipient = tuple[int, str]  # person id, Telegram chat id


def write_broadcast(conn: sqlite3.Connection, recipients: list[Recipient], text: str,
                    state: str = "sending", channel: str = "telegram") -> int:
    """One broadcast and its outbox rows (pending; 'unreachable' for a person already
    unreachable), in the caller's transaction; the broadcast's id."""
    now = utcnow_iso()
    broadcast = conn.execute(
        "INSERT INTO broadcasts (created_at, audience, text, send_at, state, started_at)"
        " VALUES (?, '{}', ?, ?, ?, ?)", (now, text, now, state, now)).lastrowid
    assert broadcast is not None
    unreachable = {r[0] for r in conn.execute("SELECT id FROM people WHERE reachable = 0")}
    rows = []
    for person, chat in recipients:
        for payload in render(None, chat, [Reply(text)]):
            rows.append((channel, chat, person, BROADCAST, json.dumps(payload, ensure_ascii=False),
                         "unreachable" if person in unreachable else "pending", now, broadcast))
    conn.executemany(
        "INSERT INTO outbox (channel, chat_id, person_id, priority, payload, state, created_at,"
        " broadcast_id) VALUES (?,?,?,?,?,?,?,?)", rows)
    return broadcast


def write_people(conn: sqlite3.Connection, recipients: list[Recipient],
                 channel: str = "telegram") -> None:
    now = utcnow_iso()
    conn.executemany("INSERT INTO people (id, channel, external_id, display_name, created_at)"
                     " VALUES (?, ?, ?, 'Cán bộ', ?)",
                     [(person, channel, chat, now) for person, chat in recipients])
