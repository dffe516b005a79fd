"""Broadcasts in SQLite (migrations 0014, 0015): the rows, their start (audience → outbox rows
in one transaction), their end, counts and confirmations. Kept apart from storage/sqlite.py:
it shares its database (one writer thread), not its code."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from storage.broadcast_interface import BroadcastRow, PersonCounts, Start
from storage.database import Database, utcnow_iso
from storage.models import Outgoing, Person

NEW_COLUMNS = ("created_at, created_by, audience, text, attachment, ack, urgent, send_at, follows,"
               " progress_channel, progress_chat, progress_message")


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _row(r: Any) -> BroadcastRow:
    progress = ((r["progress_channel"], r["progress_chat"], int(r["progress_message"]))
                if r["progress_channel"] is not None and r["progress_message"] is not None
                else None)
    return BroadcastRow(r["id"], datetime.fromisoformat(r["created_at"]), r["created_by"],
                        r["audience"], r["text"], r["attachment"], bool(r["ack"]),
                        bool(r["urgent"]), datetime.fromisoformat(r["send_at"]), r["state"],
                        _when(r["started_at"]), _when(r["finished_at"]), r["follows"], progress)


def _audit(conn: sqlite3.Connection, actor: str, action: str, entity: str,
           details: dict[str, Any]) -> None:
    conn.execute("INSERT INTO audit (at, actor, action, entity, details) VALUES (?,?,?,?,?)",
                 (utcnow_iso(), actor, action, entity, json.dumps(details, ensure_ascii=False)))


def _insert_start(conn: sqlite3.Connection, broadcast_id: int,
                  recipients: list[tuple[int, str]], messages: list[tuple[Outgoing, str]],
                  at: str) -> None:
    """A broadcast's recipients and outbox rows (its move to 'sending' is the caller's)."""
    conn.executemany("INSERT INTO broadcast_recipients (broadcast_id, person_id, unit_code)"
                     " VALUES (?,?,?)", [(broadcast_id, p, u) for p, u in recipients])
    conn.executemany(
        "INSERT INTO outbox (channel, chat_id, person_id, event_id, priority, payload,"
        " state, created_at, done_at, broadcast_id) VALUES (?,?,?,?,?,?,?,?,?,?)",
        [(m.channel, m.chat_id, m.person_id, None, m.priority, m.payload, state, at,
          None if state == "pending" else at, broadcast_id) for m, state in messages])


class SqliteBroadcasts:
    """storage.broadcast_interface.BroadcastStore on the bot's SQLite database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, *, created_by: int | None, audience: str, text: str,
                     attachment: str | None, ack: bool, urgent: bool, send_at: datetime,
                     follows: int | None, progress: tuple[str, str, int] | None,
                     actor: str, details: dict[str, Any], start: Start | None = None) -> int:
        """A new scheduled broadcast and its audit row; its id. With `start`, it is started
        in the same transaction (its recipients and outbox rows written, 'sending'): a
        command killed midway leaves the whole broadcast or nothing."""
        now = utcnow_iso()
        channel, chat, message = progress if progress is not None else (None, None, None)

        def work(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                f"INSERT INTO broadcasts ({NEW_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (now, created_by, audience, text, attachment, int(ack), int(urgent),
                 send_at.isoformat(), follows, channel, chat, message))
            bid = int(cur.lastrowid or 0)
            _audit(conn, actor, "broadcast.create", f"broadcast:{bid}", details)
            if start is not None:  # due now: it starts at its time to send
                recipients, messages = start(bid)
                at = send_at.isoformat()
                conn.execute("UPDATE broadcasts SET state='sending', started_at=? WHERE id=?",
                             (at, bid))
                _insert_start(conn, bid, recipients, messages, at)
            return bid
        return await self.db.write(work)

    async def get(self, broadcast_id: int) -> BroadcastRow | None:
        row = await self.db.fetchone("SELECT * FROM broadcasts WHERE id=?", (broadcast_id,))
        return _row(row) if row else None

    async def listed(self, created_by: int | None, limit: int) -> list[BroadcastRow]:
        """Newest first; `created_by` None: everyone's."""
        if created_by is None:
            rows = await self.db.fetchall("SELECT * FROM broadcasts ORDER BY id DESC LIMIT ?",
                                          (limit,))
        else:
            rows = await self.db.fetchall(
                "SELECT * FROM broadcasts WHERE created_by=? ORDER BY id DESC LIMIT ?",
                (created_by, limit))
        return [_row(r) for r in rows]

    async def due(self, now: datetime) -> list[BroadcastRow]:
        rows = await self.db.fetchall(
            "SELECT * FROM broadcasts WHERE state='scheduled' AND send_at <= ? ORDER BY id",
            (now.isoformat(),))
        return [_row(r) for r in rows]

    async def defer(self, broadcast_id: int, until: datetime) -> None:
        """Move a scheduled broadcast's start (the end of the quiet hours)."""
        await self.db.write(lambda conn: conn.execute(
            "UPDATE broadcasts SET send_at=? WHERE id=? AND state='scheduled'",
            (until.isoformat(), broadcast_id)))

    async def start(self, broadcast_id: int, recipients: list[tuple[int, str]],
                    messages: list[tuple[Outgoing, str]], now: datetime) -> bool:
        """Mark it 'sending' and write its recipients and outbox rows (with their state:
        'pending', or 'unreachable' for a person known unreachable), all in one transaction;
        False (nothing written) if it is no longer scheduled (cancelled, started by another
        process)."""
        at = now.isoformat()

        def work(conn: sqlite3.Connection) -> bool:
            if conn.execute("UPDATE broadcasts SET state='sending', started_at=? WHERE id=?"
                            " AND state='scheduled' RETURNING id",
                            (at, broadcast_id)).fetchone() is None:
                return False
            _insert_start(conn, broadcast_id, recipients, messages, at)
            return True
        return await self.db.write(work)

    async def finish(self, now: datetime) -> list[int]:
        """Every 'sending' broadcast with no row left to deliver becomes 'done'; their ids.
        Asked every second: a read first, a write only when one is done."""
        if not await self.db.fetchone(
                "SELECT 1 FROM broadcasts b WHERE state='sending' AND NOT EXISTS (SELECT 1"
                " FROM outbox o WHERE o.broadcast_id = b.id AND o.state IN ('pending',"
                " 'sending'))"):
            return []

        def work(conn: sqlite3.Connection) -> list[int]:
            rows = conn.execute(
                "UPDATE broadcasts SET state='done', finished_at=? WHERE state='sending' AND"
                " NOT EXISTS (SELECT 1 FROM outbox o WHERE o.broadcast_id = broadcasts.id AND"
                " o.state IN ('pending', 'sending')) RETURNING id", (now.isoformat(),)).fetchall()
            done = sorted(int(r[0]) for r in rows)
            conn.executemany(  # each person's outcome, kept after the rows are pruned
                "UPDATE broadcast_recipients SET outcome = (SELECT CASE"
                " WHEN SUM(o.state = 'unreachable') > 0 THEN 'unreachable'"
                " WHEN SUM(o.state = 'failed') > 0 THEN 'failed' ELSE 'delivered' END"
                " FROM outbox o WHERE o.broadcast_id = broadcast_recipients.broadcast_id"
                " AND o.person_id = broadcast_recipients.person_id) WHERE broadcast_id=?",
                [(b,) for b in done])
            return done
        return await self.db.write(work)

    async def cancel(self, broadcast_id: int, actor: str) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            if conn.execute("UPDATE broadcasts SET state='cancelled', finished_at=? WHERE id=?"
                            " AND state='scheduled' RETURNING id",
                            (utcnow_iso(), broadcast_id)).fetchone() is None:
                return False
            _audit(conn, actor, "broadcast.cancel", f"broadcast:{broadcast_id}", {})
            return True
        return await self.db.write(work)

    async def recipients(self, broadcast_id: int) -> dict[int, str]:
        """person id → the unit they were reached through."""
        rows = await self.db.fetchall(
            "SELECT person_id, unit_code FROM broadcast_recipients WHERE broadcast_id=?"
            " ORDER BY person_id", (broadcast_id,))
        return {r["person_id"]: r["unit_code"] for r in rows}

    async def outcomes(self, broadcast_id: int) -> dict[int, str]:
        """person id → 'delivered', 'unreachable' or 'failed', once the broadcast is done."""
        rows = await self.db.fetchall(
            "SELECT person_id, outcome FROM broadcast_recipients WHERE broadcast_id=? AND"
            " outcome IS NOT NULL", (broadcast_id,))
        return {r["person_id"]: r["outcome"] for r in rows}

    async def counts(self, broadcast_id: int) -> dict[int, PersonCounts]:
        rows = await self.db.fetchall(
            "SELECT person_id, COUNT(*) AS n, SUM(state='sent') AS sent,"
            " SUM(state='unreachable') AS unreachable, SUM(state='failed') AS failed"
            " FROM outbox WHERE broadcast_id=? GROUP BY person_id", (broadcast_id,))
        return {r["person_id"]: PersonCounts(r["n"], r["sent"], r["unreachable"], r["failed"])
                for r in rows}

    async def acked(self, broadcast_id: int) -> set[int]:
        rows = await self.db.fetchall(
            "SELECT person_id FROM broadcast_acks WHERE broadcast_id=?", (broadcast_id,))
        return {r["person_id"] for r in rows}

    async def acknowledge(self, broadcast_id: int, person_id: int, now: datetime) -> bool:
        """Record a confirmation from a recipient of a broadcast asking for one; True the
        first time."""
        def work(conn: sqlite3.Connection) -> bool:
            if conn.execute(
                    "SELECT 1 FROM broadcast_recipients r JOIN broadcasts b ON b.id ="
                    " r.broadcast_id WHERE r.broadcast_id=? AND r.person_id=? AND b.ack=1",
                    (broadcast_id, person_id)).fetchone() is None:
                return False
            first = conn.execute(
                "INSERT INTO broadcast_acks (broadcast_id, person_id, acked_at) VALUES (?,?,?)"
                " ON CONFLICT DO NOTHING RETURNING 1",
                (broadcast_id, person_id, now.isoformat())).fetchone() is not None
            # a follow-up repeats the broadcast it follows: confirming it confirms that too
            seen, current = {broadcast_id}, broadcast_id
            while True:
                row = conn.execute("SELECT follows FROM broadcasts WHERE id=?",
                                   (current,)).fetchone()
                if row is None or row[0] is None or row[0] in seen:
                    break
                current = int(row[0])
                seen.add(current)
                conn.execute(
                    "INSERT INTO broadcast_acks (broadcast_id, person_id, acked_at)"
                    " SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM broadcast_recipients WHERE"
                    " broadcast_id=? AND person_id=?) ON CONFLICT DO NOTHING",
                    (current, person_id, now.isoformat(), current, person_id))
            return first
        return await self.db.write(work)

    async def awaiting_ack(self, person_id: int) -> int | None:
        row = await self.db.fetchone(
            "SELECT b.id FROM broadcast_recipients r JOIN broadcasts b ON b.id = r.broadcast_id"
            " WHERE r.person_id=? AND b.ack=1 AND NOT EXISTS (SELECT 1 FROM broadcast_acks a"
            " WHERE a.broadcast_id = b.id AND a.person_id = r.person_id)"
            " ORDER BY b.id DESC LIMIT 1", (person_id,))
        return int(row["id"]) if row else None

    async def ever_acked(self, person_id: int) -> bool:
        """Has this person confirmed any announcement (a repeated "đã nhận" is told so)?"""
        return await self.db.fetchone(
            "SELECT 1 FROM broadcast_acks WHERE person_id=? LIMIT 1", (person_id,)) is not None

    async def links(self, channels: Iterable[str]) -> dict[int, tuple[str, str]]:
        """person id → (channel, chat) of an account linked to them on one of these channels
        (the oldest link when several)."""
        wanted = list(channels)
        if not wanted:
            return {}
        rows = await self.db.fetchall(
            "SELECT person_id, channel, external_id FROM person_links WHERE channel IN"
            f" ({','.join('?' * len(wanted))}) ORDER BY created_at DESC", wanted)
        return {r["person_id"]: (r["channel"], r["external_id"]) for r in rows}

    async def unreported(self, channels: Iterable[str]) -> list[int]:
        """Broadcasts done, composed in chat on one of these channels, whose final report is
        not written yet (migration 0017)."""
        wanted = list(channels)
        if not wanted:
            return []
        rows = await self.db.fetchall(
            "SELECT id FROM broadcasts WHERE state='done' AND reported_at IS NULL AND"
            f" progress_channel IN ({','.join('?' * len(wanted))}) ORDER BY id", wanted)
        return [int(r["id"]) for r in rows]

    async def report(self, broadcast_id: int, messages: list[Outgoing],
                     now: datetime) -> list[int] | None:
        """Write a broadcast's final report to the outbox and mark it reported, in one
        transaction; the rows' ids, or None if it was reported already (by another call)."""
        at = now.isoformat()

        def work(conn: sqlite3.Connection) -> list[int] | None:
            if conn.execute("UPDATE broadcasts SET reported_at=? WHERE id=? AND"
                            " reported_at IS NULL RETURNING id",
                            (at, broadcast_id)).fetchone() is None:
                return None
            ids = []
            for m in messages:
                cur = conn.execute(
                    "INSERT INTO outbox (channel, chat_id, person_id, event_id, priority,"
                    " payload, created_at) VALUES (?,?,?,?,?,?,?)",
                    (m.channel, m.chat_id, m.person_id, m.event_id, m.priority, m.payload, at))
                ids.append(int(cur.lastrowid or 0))
            return ids
        return await self.db.write(work)

    async def people(self) -> list[Person]:
        """Every person on their own account (where pushes go)."""
        rows = await self.db.fetchall(
            "SELECT id, channel, external_id, display_name, reachable FROM people")
        return [Person(r["id"], r["channel"], r["external_id"], r["display_name"],
                       bool(r["reachable"])) for r in rows]
