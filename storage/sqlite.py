"""SQLite implementation of the storage interface (see storage/interface.py)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from pydantic_core import from_json

from bot.domain.invites import InviteRefusal, InviteRefused
from bot.domain.roles import Role
from bot.domain.templates import Level, Template
from bot.domain.units import Unit, UnitConflict, retired_target
from storage.database import Database, GroupCommit, utcnow_iso
from storage.interface import (
    DigestKey,
    DigestRecord,
    DraftChanged,
    NudgeRefused,
    ReceivedBeforeLatest,
    ReportSentMeanwhile,
    ReviewRefused,
    SubmissionExists,
)
from storage.models import (
    SOURCE_CHAT,
    SOURCE_IMPORT,
    AddNotice,
    Changes,
    DeleteDraft,
    Draft,
    DropNotices,
    ImportedReport,
    Invite,
    Membership,
    Notice,
    Nudge,
    Op,
    Outgoing,
    Person,
    RebaseDraft,
    Review,
    ReviewState,
    SaveAnswer,
    StartDraft,
    Stored,
    Submission,
    Submit,
)
from storage.roster import RosterStore


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


# A draft and its answers in one query: one row per answer (or one row with NULLs).
_DRAFT_SQL = (
    "SELECT d.id, d.unit_code, d.template_id, d.template_version, d.period, d.reopened_from,"
    " d.updated_at, d.started_by, a.question_id, a.value, a.answered_by FROM drafts d"
    " LEFT JOIN draft_answers a ON a.draft_id = d.id "
)


def _draft(rows: list[Any]) -> Draft | None:
    if not rows:
        return None
    r = rows[0]
    answered = [a for a in rows if a["question_id"] is not None]
    return Draft(r["id"], r["unit_code"], r["template_id"], r["template_version"], r["period"],
                 {a["question_id"]: _load(a["value"]) for a in answered}, r["reopened_from"],
                 datetime.fromisoformat(r["updated_at"]), r["started_by"],
                 {a["question_id"]: a["answered_by"] for a in answered})


def _person(row: Any) -> Person:
    # Every person is kept in memory (the warm-up): one "telegram" string for all of them.
    return Person(row["id"], sys.intern(row["channel"]), row["external_id"],
                  row["display_name"], bool(row["reachable"]))


def _membership(row: Any, units: dict[str, Unit] | None = None) -> Membership:
    """`units` shares one Unit object per code among the memberships read together (at
    30,000 officers, a Unit per membership was ~10 MB of duplicates kept for good)."""
    code = row["unit_code"]
    unit = units.get(code) if units is not None else None
    if unit is None:
        unit = _unit(row, code)
        if units is not None:
            units[code] = unit
    return Membership(unit, Role(row["role"]))


_UNIT_COLUMNS = "u.name, u.level, u.parent_code, u.org, u.retired_on, u.merged_into"


def _unit(row: Any, code: str) -> Unit:
    retired = row["retired_on"]
    return Unit(code, row["name"], row["parent_code"], Level(row["level"]), row["org"],
                date.fromisoformat(retired) if retired else None, row["merged_into"])


def _submission(row: Any, answers: dict[str, Any]) -> Submission:
    return Submission(
        id=row["id"], unit_code=row["unit_code"], template_id=row["template_id"],
        template_version=row["template_version"], period=row["period"],
        version=row["version"], submitted_by=row["submitted_by"],
        submitted_at=datetime.fromisoformat(row["submitted_at"]),
        due_at=datetime.fromisoformat(row["due_at"]), on_time=bool(row["first_on_time"]),
        first_submitted_at=datetime.fromisoformat(row["first_at"]),
        answers=answers, source=row["source"], entered_by=row["entered_by"],
    )


def _json_list(text: str) -> list[Any]:
    """`json.loads(text)`, parsed by pydantic's JSON parser (in Rust, half the time on a
    province's answers; the same values: big integers, floats, NaN). It refuses what the
    standard library reads (a lone surrogate, which Python's `json.dumps` can write): then
    the standard library reads it, and raises as before on what is not JSON."""
    try:
        parsed = from_json(text)
    except (ValueError, TypeError):  # TypeError: a text it cannot take as UTF-8
        return cast(list[Any], json.loads(text))
    return cast(list[Any], parsed)


# `subtree_submissions` reads 20,000 rows for a province: its columns by position, each
# distinct due instant parsed once (one a period), the first sending's instant reused when it
# is the latest version's (no correction): the read's Python part was as long as its SQL
def _latest_submissions(rows: list[Any], answers: list[dict[str, Any]]) -> list[Submission]:
    parse = datetime.fromisoformat
    dues: dict[str, datetime] = {}
    out = []
    for r, a in zip(rows, answers, strict=True):
        (sid, unit, template, template_version, period, version, by, sent, due, on_time,
         first, source, entered_by) = r[:13]
        due_at = dues.get(due)
        if due_at is None:
            due_at = dues[due] = parse(due)
        sent_at = parse(sent)
        out.append(Submission(sid, unit, template, template_version, period, version, by,
                              sent_at, due_at, bool(on_time),
                              sent_at if first == sent else parse(first), a, source,
                              entered_by))
    return out


MAX_BATCH = 256  # events per group commit
ItemT = TypeVar("ItemT")
TURN_ROWS = 2000  # rows turned into objects between two yields to the event loop


async def _in_turns(rows: list[Any]) -> AsyncIterator[list[Any]]:
    """Rows a slice at a time, the event loop free in between: the sweep reads every officer
    (30,000 rows at the largest size measured), and turning them all into objects at once
    held every chat's reply for tens of milliseconds."""
    for i in range(0, len(rows), TURN_ROWS):
        if i:
            await asyncio.sleep(0)
        yield rows[i:i + TURN_ROWS]


class SqliteStorage(RosterStore):
    """Everything baocao keeps, in one SQLite file."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._group = GroupCommit(db, _write_batch, MAX_BATCH)
        self._unreachable: set[int] | None = None

    @classmethod
    async def open(cls, path: str | Path) -> SqliteStorage:
        return cls(await Database.open(path))

    async def close(self) -> None:
        await self.db.close()

    # --- units -----------------------------------------------------------------------------

    async def list_units(self) -> list[Unit]:
        rows = await self.db.fetchall(
            f"SELECT u.code, {_UNIT_COLUMNS} FROM units u ORDER BY u.code"
        )
        return [_unit(r, r["code"]) for r in rows]

    async def units_created(self) -> dict[str, datetime]:
        """When each unit was first imported: it owes no report that was due before."""
        rows = await self.db.fetchall("SELECT code, created_at FROM units")
        return {r["code"]: datetime.fromisoformat(r["created_at"]) for r in rows}

    async def upsert_units(self, units: Iterable[Unit], actor: str = "cli") -> tuple[int, int]:
        """Insert new units and update changed ones in one transaction; return (added, updated).
        Name, parent, level and org come from the file; retirement is left as stored."""
        now = utcnow_iso()
        pending = list(units)

        def work(conn: sqlite3.Connection) -> tuple[int, int]:
            added = updated = 0
            conn.execute("PRAGMA defer_foreign_keys = ON")  # parents may come later
            for u in pending:
                old = conn.execute(
                    "SELECT name, parent_code, level, org FROM units WHERE code = ?", (u.code,)
                ).fetchone()
                if old is None:
                    conn.execute(
                        "INSERT INTO units (code, name, parent_code, level, org, created_at,"
                        " updated_at) VALUES (?,?,?,?,?,?,?)",
                        (u.code, u.name, u.parent_code, u.level.value, u.org, now, now),
                    )
                    added += 1
                elif (old["name"], old["parent_code"], old["level"], old["org"]) != (
                    u.name, u.parent_code, u.level.value, u.org
                ):
                    conn.execute(
                        "UPDATE units SET name=?, parent_code=?, level=?, org=?, updated_at=? "
                        "WHERE code=?",
                        (u.name, u.parent_code, u.level.value, u.org, now, u.code),
                    )
                    updated += 1
                else:
                    continue
                _audit(conn, actor, "unit.upsert", f"unit:{u.code}",
                       {"name": u.name, "parent": u.parent_code, "level": u.level.value,
                        "org": u.org})
            return added, updated

        return await self.db.write(work)

    async def retire_units(self, codes: list[str], on: date, merged_into: str | None = None,
                           actor: str = "cli") -> int:
        """Mark units retired from `on` (their last day), merged into another when given; each
        change audited. Units already retired are left as they are; return how many changed.
        UnitConflict when `merged_into` is unknown or retired as the transaction sees it (two
        admins each merging into the other's unit would otherwise make a cycle)."""
        now = utcnow_iso()

        def work(conn: sqlite3.Connection) -> int:
            if merged_into is not None:
                target = conn.execute("SELECT retired_on FROM units WHERE code=?",
                                      (merged_into,)).fetchone()
                if target is None:
                    raise UnitConflict(f"unknown unit {merged_into!r} given to --into")
                if target["retired_on"] is not None:
                    raise UnitConflict(retired_target(
                        merged_into, date.fromisoformat(target["retired_on"])))
            changed = 0
            for code in codes:
                cur = conn.execute(
                    "UPDATE units SET retired_on=?, merged_into=?, updated_at=? "
                    "WHERE code=? AND retired_on IS NULL",
                    (on.isoformat(), merged_into, now, code))
                if cur.rowcount:
                    changed += 1
                    action = "unit.merge" if merged_into else "unit.retire"
                    _audit(conn, actor, action, f"unit:{code}",
                           {"retired_on": on.isoformat(), "merged_into": merged_into})
            return changed

        return await self.db.write(work)

    async def unretire_units(self, codes: list[str], actor: str = "cli") -> int:
        """Undo a retirement (or merge); return how many units changed."""
        now = utcnow_iso()

        def work(conn: sqlite3.Connection) -> int:
            changed = 0
            for code in codes:
                old = conn.execute("SELECT retired_on, merged_into FROM units WHERE code=?",
                                   (code,)).fetchone()
                if old is None or old["retired_on"] is None:
                    continue
                conn.execute("UPDATE units SET retired_on=NULL, merged_into=NULL, updated_at=? "
                             "WHERE code=?", (now, code))
                _audit(conn, actor, "unit.unretire", f"unit:{code}",
                       {"was_retired_on": old["retired_on"], "was_merged_into": old["merged_into"]})
                changed += 1
            return changed

        return await self.db.write(work)

    # --- templates ---------------------------------------------------------------------------

    async def sync_templates(self, templates: Iterable[Template]) -> dict[str, int]:
        """Record each template's content; a changed template gets a new version number."""
        now = utcnow_iso()
        pending = [(t, t.content_hash(), t.model_dump_json()) for t in templates]

        def work(conn: sqlite3.Connection) -> dict[str, int]:
            versions: dict[str, int] = {}
            for t, digest, body in pending:
                row = conn.execute(
                    "SELECT version FROM templates WHERE id=? AND content_hash=?", (t.id, digest)
                ).fetchone()
                if row is not None:
                    versions[t.id] = row["version"]
                    continue
                version = conn.execute(
                    "SELECT COALESCE(MAX(version), 0) + 1 AS v FROM templates WHERE id=?", (t.id,)
                ).fetchone()["v"]
                conn.execute(
                    "INSERT INTO templates (id, version, content_hash, title, body, created_at)"
                    " VALUES (?,?,?,?,?,?)",
                    (t.id, version, digest, t.title, body, now),
                )
                _audit(conn, "system", "template.version", f"template:{t.id}",
                       {"version": version, "hash": digest})
                versions[t.id] = version
            return versions

        return await self.db.write(work)

    async def templates_first_seen(self) -> dict[str, datetime]:
        """When each template's first version was recorded."""
        rows = await self.db.fetchall(
            "SELECT id, MIN(created_at) AS first FROM templates GROUP BY id")
        return {r["id"]: datetime.fromisoformat(r["first"]) for r in rows}

    async def get_template(self, template_id: str, version: int) -> Template | None:
        row = await self.db.fetchone(
            "SELECT body FROM templates WHERE id=? AND version=?", (template_id, version)
        )
        return Template.model_validate_json(row["body"]) if row else None

    # --- people and memberships ------------------------------------------------------------

    async def find_person(self, channel: str, external_id: str) -> Person | None:
        """The person of a chat account: joined with it, or linked to it (person_links)."""
        row = await self.db.fetchone(
            "SELECT id, channel, external_id, display_name, reachable FROM people "
            "WHERE channel=? AND external_id=? UNION ALL "
            "SELECT p.id, l.channel, l.external_id, p.display_name, p.reachable FROM "
            "person_links l JOIN people p ON p.id = l.person_id "
            "WHERE l.channel=? AND l.external_id=?",
            (channel, external_id, channel, external_id),
        )
        return _person(row) if row else None

    async def get_person(self, person_id: int) -> Person | None:
        row = await self.db.fetchone(
            "SELECT id, channel, external_id, display_name, reachable FROM people WHERE id=?",
            (person_id,),
        )
        return _person(row) if row else None

    async def memberships(self, person_id: int) -> list[Membership]:
        rows = await self.db.fetchall(
            f"SELECT m.unit_code, m.role, {_UNIT_COLUMNS} FROM memberships m "
            "JOIN units u ON u.code = m.unit_code WHERE m.person_id=? ORDER BY m.created_at",
            (person_id,),
        )
        return [_membership(r) for r in rows]

    async def all_people(self) -> list[Person]:
        """Every person, once per chat account (a linked account shares its person's id)."""
        rows = await self.db.fetchall(
            "SELECT id, channel, external_id, display_name, reachable FROM people UNION ALL "
            "SELECT p.id, l.channel, l.external_id, p.display_name, p.reachable FROM "
            "person_links l JOIN people p ON p.id = l.person_id ORDER BY id")
        people = [_person(r) for r in rows]
        if self._unreachable is None:  # every person was just read: no need to ask again
            self._unreachable = {p.id for p in people if not p.reachable}
        return people

    async def create_link_code(self, person_id: int, code: str, expires_at: datetime) -> bool:
        """Store a one-time code that links another chat account to this person; False if
        the code is taken (by a link or an invite)."""
        def work(conn: sqlite3.Connection) -> bool:
            taken = conn.execute("SELECT 1 FROM invites WHERE code=? UNION ALL SELECT 1 FROM "
                                 "link_codes WHERE code=?", (code, code)).fetchone()
            if taken:
                return False
            conn.execute("DELETE FROM link_codes WHERE person_id=? OR expires_at <= ?",
                         (person_id, utcnow_iso()))
            conn.execute("INSERT INTO link_codes (code, person_id, expires_at) VALUES (?,?,?)",
                         (code, person_id, expires_at.isoformat()))
            return True
        return await self.db.write(work)

    async def redeem_link_code(self, code: str, channel: str, external_id: str,
                               now: datetime) -> Person | None:
        """Link a chat account to the person of a valid link code (used once); None if no
        such code. Raises InviteRefused(ALREADY) for an account that is a person already,
        EXPIRED for a code past its time."""
        def work(conn: sqlite3.Connection) -> int | None:
            row = conn.execute("SELECT person_id, expires_at FROM link_codes WHERE code=?",
                               (code,)).fetchone()
            if row is None:
                return None
            if datetime.fromisoformat(row["expires_at"]) <= now:
                conn.execute("DELETE FROM link_codes WHERE code=?", (code,))
                raise InviteRefused(InviteRefusal.EXPIRED)
            if conn.execute("SELECT 1 FROM people WHERE channel=? AND external_id=? UNION ALL "
                            "SELECT 1 FROM person_links WHERE channel=? AND external_id=?",
                            (channel, external_id, channel, external_id)).fetchone():
                raise InviteRefused(InviteRefusal.ALREADY)
            conn.execute("INSERT INTO person_links (channel, external_id, person_id, created_at)"
                         " VALUES (?,?,?,?)", (channel, external_id, row["person_id"],
                                              utcnow_iso()))
            conn.execute("DELETE FROM link_codes WHERE code=?", (code,))
            _audit(conn, f"person:{row['person_id']}", "person.link",
                   f"{channel}:{external_id}", {})
            return int(row["person_id"])

        person_id = await self.db.write(work)
        return None if person_id is None else await self.find_person(channel, external_id)

    async def all_memberships(self) -> dict[int, list[Membership]]:
        """person id → memberships, each list in the order `memberships()` gives."""
        rows = await self.db.fetchall(
            f"SELECT m.person_id, m.unit_code, m.role, {_UNIT_COLUMNS}"
            " FROM memberships m JOIN units u ON u.code = m.unit_code"
            " ORDER BY m.person_id, m.created_at")
        out: dict[int, list[Membership]] = {}
        units: dict[str, Unit] = {}
        for r in rows:
            out.setdefault(r["person_id"], []).append(_membership(r, units))
        return out

    async def all_conversations(self) -> dict[int, dict[str, Any]]:
        rows = await self.db.fetchall("SELECT person_id, state FROM conversations")
        return {r["person_id"]: dict(json.loads(r["state"])) for r in rows}

    async def all_notices(self) -> dict[int, list[Notice]]:
        """Every pending notice, by person, oldest first (read once at start: most people
        have none, and the common path of an answer must not read them)."""
        rows = await self.db.fetchall(
            "SELECT key, person_id, text FROM notices ORDER BY created_at, rowid")
        out: dict[int, list[Notice]] = {}
        for r in rows:
            out.setdefault(r["person_id"], []).append(Notice(r["key"], r["person_id"], r["text"]))
        return out

    async def notices(self, person_id: int) -> list[Notice]:
        rows = await self.db.fetchall(
            "SELECT key, person_id, text FROM notices WHERE person_id=?"
            " ORDER BY created_at, rowid", (person_id,))
        return [Notice(r["key"], r["person_id"], r["text"]) for r in rows]

    async def unit_people(self, unit_code: str, role: Role) -> list[Person]:
        rows = await self.db.fetchall(
            "SELECT p.id, p.channel, p.external_id, p.display_name, p.reachable FROM people p "
            "JOIN memberships m ON m.person_id = p.id WHERE m.unit_code=? AND m.role=? "
            "ORDER BY p.id", (unit_code, role.value),
        )
        return [_person(r) for r in rows]

    async def is_unreachable(self, person_id: int) -> bool:
        """Did this person block the bot? (Kept in memory: asked on every inbound event.)"""
        if self._unreachable is None:
            rows = await self.db.fetchall("SELECT id FROM people WHERE reachable = 0")
            if self._unreachable is None:  # a load that ended first may hold a mark since
                self._unreachable = {r["id"] for r in rows}
        return person_id in self._unreachable

    async def set_reachable(self, person_id: int, reachable: bool) -> None:
        await self.is_unreachable(person_id)  # load the set before changing it
        assert self._unreachable is not None
        (self._unreachable.discard if reachable else self._unreachable.add)(person_id)

        def work(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE people SET reachable=? WHERE id=?", (int(reachable), person_id))
            if not reachable:  # their broadcasts not yet claimed will not be tried
                conn.execute("UPDATE outbox SET state='unreachable', done_at=? WHERE"
                             " person_id=? AND state='pending' AND broadcast_id IS NOT NULL",
                             (utcnow_iso(), person_id))
            _audit(conn, "system", "person.reachable", f"person:{person_id}",
                   {"reachable": reachable})

        await self.db.write(work)

    # --- invites -------------------------------------------------------------------------------

    async def create_invite(self, invite: Invite, actor: str = "cli") -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO invites (code, unit_code, role, max_uses, uses, expires_at,"
                " created_at, created_by) VALUES (?,?,?,?,0,?,?,?)",
                (invite.code, invite.unit_code, invite.role.value, invite.max_uses,
                 invite.expires_at.isoformat() if invite.expires_at else None,
                 utcnow_iso(), actor),
            )
            _audit(conn, actor, "invite.create", f"invite:{invite.code}",
                   {"unit": invite.unit_code, "role": invite.role.value,
                    "uses": invite.max_uses})

        await self.db.write(work)

    async def get_invite(self, code: str) -> Invite | None:
        row = await self.db.fetchone(
            "SELECT code, unit_code, role, max_uses, uses, expires_at FROM invites WHERE code=?",
            (code,),
        )
        if row is None:
            return None
        expires = datetime.fromisoformat(row["expires_at"]) if row["expires_at"] else None
        return Invite(row["code"], row["unit_code"], Role(row["role"]), row["max_uses"],
                      row["uses"], expires)

    async def redeem_invite(self, code: str, channel: str, external_id: str, display_name: str,
                            now: datetime) -> tuple[Person, Invite]:
        """Bind a chat user through an invite, atomically; raise InviteRefused on refusal."""
        def work(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "SELECT code, unit_code, role, max_uses, uses, expires_at, revoked_at FROM "
                "invites WHERE code=?", (code,)).fetchone()
            if row is None:
                raise InviteRefused(InviteRefusal.UNKNOWN)
            if row["revoked_at"]:
                raise InviteRefused(InviteRefusal.REVOKED)
            if row["expires_at"] and datetime.fromisoformat(row["expires_at"]) <= now:
                raise InviteRefused(InviteRefusal.EXPIRED)
            if row["uses"] >= row["max_uses"]:
                raise InviteRefused(InviteRefusal.USED_UP)
            found = conn.execute(
                "SELECT id FROM people WHERE channel=? AND external_id=? UNION ALL "
                "SELECT person_id FROM person_links WHERE channel=? AND external_id=?",
                (channel, external_id, channel, external_id)).fetchone()
            if found is None:
                person_id = conn.execute(
                    "INSERT INTO people (channel, external_id, display_name, created_at) "
                    "VALUES (?,?,?,?)", (channel, external_id, display_name, utcnow_iso())
                ).lastrowid
            else:
                person_id = found["id"]
                conn.execute("UPDATE people SET display_name=?, reachable=1 WHERE id=?",
                             (display_name, person_id))
            cur = conn.execute(
                "INSERT OR IGNORE INTO memberships (person_id, unit_code, role, invite_code,"
                " created_at) VALUES (?,?,?,?,?)",
                (person_id, row["unit_code"], row["role"], code, utcnow_iso()))
            if cur.rowcount == 0:
                raise InviteRefused(InviteRefusal.ALREADY)
            conn.execute("UPDATE invites SET uses = uses + 1 WHERE code=?", (code,))
            _audit(conn, f"person:{person_id}", "invite.redeem", f"invite:{code}",
                   {"unit": row["unit_code"], "role": row["role"]})
            return int(person_id or 0)

        await self.db.write(work)
        person = await self.find_person(channel, external_id)  # a linked account: its person
        invite = await self.get_invite(code)
        assert person is not None and invite is not None
        return person, invite

    # --- conversations and processed events ---------------------------------------------------

    async def get_conversation(self, person_id: int) -> dict[str, Any]:
        row = await self.db.fetchone("SELECT state FROM conversations WHERE person_id=?",
                                     (person_id,))
        return dict(json.loads(row["state"])) if row else {}

    # --- drafts and submissions ---------------------------------------------------------------

    async def find_draft(self, unit_code: str, template_id: str, period: str) -> Draft | None:
        return _draft(await self.db.fetchall(
            _DRAFT_SQL + "WHERE d.unit_code=? AND d.template_id=? AND d.period=?",
            (unit_code, template_id, period)))

    async def drafts_for_units(self, unit_codes: list[str]) -> list[Draft]:
        if not unit_codes:
            return []
        marks = ",".join("?" * len(unit_codes))
        rows = await self.db.fetchall(
            _DRAFT_SQL + f"WHERE d.unit_code IN ({marks}) ORDER BY d.id", unit_codes)
        by_draft: dict[int, list[Any]] = {}
        for r in rows:
            by_draft.setdefault(r["id"], []).append(r)
        return [d for group in by_draft.values() if (d := _draft(group)) is not None]

    async def latest_submissions(self, unit_codes: list[str], *,
                                 with_answers: bool = True) -> list[Submission]:
        """The latest version of every report of these units; `with_answers=False` leaves
        `answers` empty, for lists and counts that need only who sent what and when."""
        if not unit_codes:
            return []
        marks = ",".join("?" * len(unit_codes))
        rows = await self.db.fetchall(
            "SELECT s.*, (SELECT MIN(f.submitted_at) FROM submissions f WHERE"
            " f.unit_code=s.unit_code AND f.template_id=s.template_id AND f.period=s.period)"
            " AS first_at, (SELECT f.on_time FROM submissions f WHERE f.unit_code=s.unit_code"
            " AND f.template_id=s.template_id AND f.period=s.period AND f.version=1)"
            " AS first_on_time FROM submissions s"
            f" WHERE s.unit_code IN ({marks}) AND s.version = (SELECT MAX(version) FROM"
            " submissions x WHERE x.unit_code=s.unit_code AND x.template_id=s.template_id"
            " AND x.period=s.period)", unit_codes)
        answers = await self._answers([r["id"] for r in rows]) if with_answers else {}
        return [_submission(r, answers.get(r["id"], {})) for r in rows]

    async def get_submission(self, unit_code: str, template_id: str, period: str,
                             version: int | None = None) -> Submission | None:
        if version is None:
            row = await self.db.fetchone(
                "SELECT MAX(version) AS v FROM submissions WHERE unit_code=? AND template_id=?"
                " AND period=?", (unit_code, template_id, period))
            if row is None or row["v"] is None:
                return None
            version = int(row["v"])
        row = await self.db.fetchone(
            "SELECT s.*, (SELECT MIN(f.submitted_at) FROM submissions f WHERE"
            " f.unit_code=s.unit_code AND f.template_id=s.template_id AND f.period=s.period)"
            " AS first_at, (SELECT f.on_time FROM submissions f WHERE f.unit_code=s.unit_code"
            " AND f.template_id=s.template_id AND f.period=s.period AND f.version=1)"
            " AS first_on_time FROM submissions s WHERE s.unit_code=? AND s.template_id=?"
            " AND s.period=? AND s.version=?", (unit_code, template_id, period, version))
        if row is None:
            return None
        return _submission(row, (await self._answers([row["id"]])).get(row["id"], {}))

    # A review counts only while it is of the report's latest version (the submissions'
    # unique index answers the MAX for each review row).
    _LATEST_REVIEW = (" r.version = (SELECT MAX(s.version) FROM submissions s WHERE"
                      " s.unit_code=r.unit_code AND s.template_id=r.template_id"
                      " AND s.period=r.period)")

    async def review_states(self, template_id: str, period: str,
                            unit_codes: list[str] | None = None) -> dict[str, str]:
        """Unit code → 'approved' | 'returned' for the reports of one template and period
        whose latest version was reviewed (units absent: not reviewed, or not sent); one query.
        `unit_codes` limits the answer to those units."""
        sql = ("SELECT r.unit_code, r.action FROM reviews r WHERE r.template_id=?"
               " AND r.period=? AND" + self._LATEST_REVIEW)
        rows = await self.db.fetchall(sql, (template_id, period))
        wanted = None if unit_codes is None else set(unit_codes)
        return {r["unit_code"]: "approved" if r["action"] == "approve" else "returned"
                for r in rows if wanted is None or r["unit_code"] in wanted}

    async def report_reviews(self, unit_codes: list[str]
                             ) -> dict[tuple[str, str, str], ReviewState]:
        """(unit, template, period) → the review of that report's latest version, for every
        report of these units that has one."""
        out: dict[tuple[str, str, str], ReviewState] = {}
        for i in range(0, len(unit_codes), 900):
            chunk = unit_codes[i:i + 900]
            rows = await self.db.fetchall(
                "SELECT r.unit_code, r.template_id, r.period, r.action, r.reason, r.person_id,"
                f" r.at FROM reviews r WHERE r.unit_code IN ({','.join('?' * len(chunk))})"
                " AND" + self._LATEST_REVIEW, chunk)
            for r in rows:
                out[(r["unit_code"], r["template_id"], r["period"])] = ReviewState(
                    r["action"], r["reason"], r["person_id"], datetime.fromisoformat(r["at"]))
        return out

    async def record_review(self, person_id: int, review: Review) -> None:
        """Record one review with its audit row, in one transaction; ReviewRefused when the
        version is no longer the latest or was already reviewed."""
        await self.apply(Changes(actor=person_id, ops=[review]))

    async def submitted_periods(self, unit_code: str, template_id: str) -> list[str]:
        """The periods this unit has sent this template's report for (prefill looks for the
        one before the period on screen)."""
        rows = await self.db.fetchall(
            "SELECT DISTINCT period FROM submissions WHERE unit_code=? AND template_id=?",
            (unit_code, template_id))
        return [r["period"] for r in rows]

    async def subtree_submissions(self, template_id: str, root: str,
                                  periods: list[str]) -> list[Submission]:
        """The latest version of each report of `template_id` for `periods` from the units of
        `root`'s subtree, with their answers: one query (the subtree walked by a recursive
        CTE, each report's latest version the one with no higher version beside it on the
        unique index, its first sending looked up only for a correction; each report's
        answers the JSON object stored beside it since migration 0012, else gathered from
        its rows by SQLite), for the digest of 10,000 communes at once. (A GROUP BY over the
        subtree joined back to the table took half again as long.)"""
        if not periods:
            return []
        marks = ",".join("?" * len(periods))
        same = ("f.unit_code = s.unit_code AND f.template_id = s.template_id"
                " AND f.period = s.period")
        rows = await self.db.fetchall(
            "WITH RECURSIVE sub(code) AS (SELECT ? UNION SELECT u.code FROM units u"
            " JOIN sub ON u.parent_code = sub.code)"
            " SELECT s.id, s.unit_code, s.template_id, s.template_version, s.period, s.version,"
            " s.submitted_by, s.submitted_at, s.due_at,"
            # the first version's flag and the first sending (a correction is never on time
            # by itself: issue 5), read again only for a corrected report
            " CASE WHEN s.version = 1 THEN s.on_time ELSE (SELECT f.on_time FROM submissions f"
            f" WHERE {same} AND f.version = 1) END,"
            " CASE WHEN s.version = 1 THEN s.submitted_at ELSE (SELECT MIN(f.submitted_at)"
            f" FROM submissions f WHERE {same}) END,"
            " s.source, s.entered_by, COALESCE(s.answers_json,"
            " (SELECT json_group_object(a.question_id, json(a.value)) FROM submission_answers a"
            " WHERE a.submission_id = s.id))"
            f" FROM submissions s WHERE s.template_id = ? AND s.period IN ({marks})"
            " AND s.unit_code IN sub AND NOT EXISTS (SELECT 1 FROM submissions f"
            f" WHERE {same} AND f.version > s.version)"
            " ORDER BY s.unit_code, s.period",
            [root, template_id, *periods])
        # one parse of all the objects at once: 20,000 calls of json.loads cost twice as much
        answers = _json_list("[" + ",".join(r[-1] or "{}" for r in rows) + "]")
        return _latest_submissions(rows, answers)

    async def submissions_stamp(self, template_id: str, periods: list[str]) -> tuple[int, int]:
        """(how many versions, the highest id) of the template's reports for these periods:
        changes whenever a report or a correction is sent (rows are never deleted), and is
        read from the index alone (a cached digest read checks it)."""
        if not periods:
            return 0, 0
        row = await self.db.fetchone(
            "SELECT COUNT(*) AS n, COALESCE(MAX(id), 0) AS top FROM submissions"
            f" WHERE template_id = ? AND period IN ({','.join('?' * len(periods))})",
            [template_id, *periods])
        return (row["n"], row["top"]) if row is not None else (0, 0)

    async def _answers(self, submission_ids: list[int]) -> dict[int, dict[str, Any]]:
        """The answers of these submissions, a few queries in all (not one per submission)."""
        out: dict[int, dict[str, Any]] = {}
        for i in range(0, len(submission_ids), 900):
            chunk = submission_ids[i:i + 900]
            for a in await self.db.fetchall(
                    "SELECT submission_id, question_id, value FROM submission_answers"
                    f" WHERE submission_id IN ({','.join('?' * len(chunk))})", chunk):
                out.setdefault(a["submission_id"], {})[a["question_id"]] = _load(a["value"])
        return out

    async def import_submissions(self, reports: list[ImportedReport], now: datetime, *,
                                 replace: bool, actor: str = "cli", file: str = ""
                                 ) -> tuple[int, int, int]:
        """Store reports read from a file, all or none (one transaction): each a new version
        with source 'import', no sender and no person who entered it (the audit names
        `actor`). Return (new reports, corrections, drafts rebased). A unit that already has a
        report for the period gets a new version only with `replace`; otherwise
        SubmissionExists is raised and nothing is stored (checked here again: an officer may
        have sent one meanwhile).

        A draft in progress for an imported report becomes a correction of the imported
        version (`_rebase_drafts`), so sending it later never replaces the imported figures
        unseen: the officer's own answers stay, and a correction draft's untouched answers
        follow the file."""

        def work(conn: sqlite3.Connection) -> tuple[int, int, int]:
            new = corrected = drafts = 0
            for r in reports:
                version = conn.execute(
                    "SELECT COALESCE(MAX(version), 0) + 1 AS v FROM submissions WHERE"
                    " unit_code=? AND template_id=? AND period=?",
                    (r.unit_code, r.template_id, r.period)).fetchone()["v"]
                if version > 1 and not replace:
                    raise SubmissionExists(r.unit_code, r.line)
                if version > 1:
                    latest = datetime.fromisoformat(conn.execute(
                        "SELECT submitted_at FROM submissions WHERE unit_code=? AND"
                        " template_id=? AND period=? AND version=?",
                        (r.unit_code, r.template_id, r.period, version - 1)
                    ).fetchone()["submitted_at"])
                    if now < latest:
                        raise ReceivedBeforeLatest(r.unit_code, r.line, latest)
                on_time = now < r.due_at
                cur = conn.execute(
                    "INSERT INTO submissions (unit_code, template_id, template_version, period,"
                    " version, submitted_by, submitted_at, due_at, on_time, source, entered_by,"
                    " answers_json) VALUES (?,?,?,?,?,NULL,?,?,?,?,NULL,?)",
                    (r.unit_code, r.template_id, r.template_version, r.period, version,
                     now.isoformat(), r.due_at.isoformat(), int(on_time), SOURCE_IMPORT,
                     _dump(r.answers)))
                conn.executemany(
                    "INSERT INTO submission_answers (submission_id, question_id, value)"
                    " VALUES (?,?,?)",
                    [(cur.lastrowid, q, _dump(v)) for q, v in r.answers.items()])
                drafts += _rebase_drafts(conn, r, version, now.isoformat(), actor)
                _audit(conn, actor, "report.submit" if version == 1 else "report.correct",
                       f"report:{r.unit_code}/{r.template_id}/{r.period}",
                       {"version": version, "on_time": on_time, "source": SOURCE_IMPORT,
                        "file": file, "line": r.line})
                if version == 1:
                    new += 1
                else:
                    corrected += 1
            return new, corrected, drafts

        return await self.db.write(work)

    async def apply(self, changes: Changes) -> bool:
        """Apply one inbound event's changes atomically; return once they are committed.

        Returns False (and changes nothing) when `changes.event` was already handled, so a
        redelivered update cannot answer the next question a second time. Events that arrive
        while a commit is in progress are committed together (group commit): one fsync and a
        handful of statements for the whole batch, whatever its size.

        Raises DraftChanged when a draft it writes to was sent, cancelled or changed meanwhile.
        """
        try:
            return await self._group.submit(changes)
        except sqlite3.IntegrityError as e:  # an answer to a draft deleted meanwhile
            raise DraftChanged(str(e)) from e

    # --- reminders -------------------------------------------------------------------------------

    async def officers_by_unit(self) -> dict[str, list[Person]]:
        """Every officer, by unit (one query; the sweep needs them all)."""
        rows = await self.db.fetchall(
            "SELECT m.unit_code, p.id, p.channel, p.external_id, p.display_name, p.reachable"
            " FROM memberships m JOIN people p ON p.id = m.person_id WHERE m.role = 'officer'"
            " ORDER BY m.unit_code, p.id")
        out: dict[str, list[Person]] = {}
        async for part in _in_turns(rows):
            for r in part:
                out.setdefault(r["unit_code"], []).append(_person(r))
        return out

    async def submitted_units(self, template_id: str, period: str) -> set[str]:
        rows = await self.db.fetchall(
            "SELECT DISTINCT unit_code FROM submissions WHERE template_id=? AND period=?",
            (template_id, period))
        return {r["unit_code"] for r in rows}

    async def draft_progress(self, template_id: str, period: str) -> dict[str, Draft]:
        rows = await self.db.fetchall(
            _DRAFT_SQL + "WHERE d.template_id=? AND d.period=? ORDER BY d.id",
            (template_id, period))
        by_unit: dict[str, list[Any]] = {}
        async for part in _in_turns(rows):
            for r in part:
                by_unit.setdefault(r["unit_code"], []).append(r)
        out: dict[str, Draft] = {}
        async for units in _in_turns(list(by_unit)):
            for unit in units:
                if (d := _draft(by_unit[unit])) is not None:
                    out[unit] = d
        return out

    async def reminder_ledger(self, template_id: str, period: str) -> dict[str, frozenset[str]]:
        """unit → kinds already sent, being sent, or skipped (one row per unit)."""
        rows = await self.db.fetchall(
            "SELECT unit_code, group_concat(kind, ' ') AS kinds FROM reminders"
            " WHERE template_id=? AND period=? GROUP BY unit_code", (template_id, period))
        cache: dict[str, frozenset[str]] = {}  # most units share the same handled kinds
        out: dict[str, frozenset[str]] = {}
        async for part in _in_turns(rows):
            for r in part:
                out[r["unit_code"]] = cache.setdefault(r["kinds"], frozenset(r["kinds"].split()))
        return out

    async def claim_reminders(self, rows: list[tuple[str, str, str, str, str, str, int]],
                              sweep_id: str) -> set[tuple[str, str, str, str]]:
        """Insert ledger rows (unit, template, period, kind, status, scheduled_at, recipients);
        return the keys this call inserted. A key another sweep claimed first is not returned,
        so only one sweep ever sends a given reminder."""
        claimed: set[tuple[str, str, str, str]] = set()
        now = utcnow_iso()

        def work(conn: sqlite3.Connection) -> None:
            for chunk in _shaped(rows):
                marks = ",".join("(?,?,?,?,?,?,?,?,?)" for _ in chunk)
                flat = [v for row in chunk for v in (*row, now, sweep_id)]
                for r in conn.execute(
                    "INSERT INTO reminders (unit_code, template_id, period, kind, status,"
                    f" scheduled_at, recipients, handled_at, sweep_id) VALUES {marks}"
                    " ON CONFLICT DO NOTHING RETURNING unit_code, template_id, period, kind",
                    flat).fetchall():
                    claimed.add((r[0], r[1], r[2], r[3]))

        await self.db.write(work)
        return claimed

    async def finish_reminders(self, sweep_id: str,
                               corrections: list[tuple[str, str, str, str, int]],
                               retry: list[tuple[str, str, str, str]] | None = None) -> None:
        """Mark a sweep's claimed reminders sent; `corrections` hold those that reached fewer
        people than planned (blocked or failed); `retry` ones that reached nobody because
        sending failed: their claim is released for the next sweep."""
        now = utcnow_iso()

        def work(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "DELETE FROM reminders WHERE unit_code=? AND template_id=? AND period=?"
                " AND kind=? AND sweep_id=?", [(*k, sweep_id) for k in retry or []])
            conn.executemany(
                "UPDATE reminders SET recipients=? WHERE"
                " unit_code=? AND template_id=? AND period=? AND kind=?",
                [(n, u, t, p, k) for u, t, p, k, n in corrections])
            conn.execute(
                "UPDATE reminders SET status='sent', handled_at=? WHERE sweep_id=?"
                " AND status='sending'", (now, sweep_id))

        await self.db.write(work)

    async def settle_reminders(self, sweep_id: str,
                               sent: list[tuple[str, str, str, str, int | None]]) -> None:
        """Mark these reminders of a sweep 'sent' (unit, template, period, kind, recipients or
        None to keep the claimed count), mid-chunk, as soon as the messenger accepted them: a
        crash later in the chunk then leaves only the unsent ones 'sending'."""
        now = utcnow_iso()

        def work(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "UPDATE reminders SET status='sent', handled_at=?,"
                " recipients=coalesce(?, recipients) WHERE unit_code=? AND template_id=?"
                " AND period=? AND kind=? AND sweep_id=? AND status='sending'",
                [(now, n, u, t, p, k, sweep_id) for u, t, p, k, n in sent])

        await self.db.write(work)

    async def reminder_rows(self) -> list[dict[str, Any]]:
        rows = await self.db.fetchall(
            "SELECT unit_code, template_id, period, kind, status, scheduled_at, recipients"
            " FROM reminders ORDER BY scheduled_at, unit_code, kind")
        return [dict(r) for r in rows]

    # --- delivery: outbox and inbox ---------------------------------------------------------

    async def pending_outbox(self, channel: str) -> list[Stored]:
        """Messages not yet delivered on this channel, oldest first (after a restart); not
        a broadcast's rows: those are claimed a chunk at a time (`claim_broadcast_rows`), so
        10,000 of them are never all in memory."""
        rows = await self.db.fetchall(
            "SELECT * FROM outbox WHERE channel=? AND state='pending' AND broadcast_id IS NULL"
            " ORDER BY id", (channel,))
        return [_stored(r) for r in rows]

    async def claim_broadcast_rows(self, channel: str, limit: int) -> list[Stored]:
        """The oldest pending rows of broadcasts being sent (not cancelled), at most `limit`,
        moved to 'sending' in one write: the sender has them in memory from here on."""
        def work(conn: sqlite3.Connection) -> list[Any]:
            return conn.execute(
                "UPDATE outbox SET state='sending' WHERE id IN (SELECT o.id FROM outbox o"
                " JOIN broadcasts b ON b.id = o.broadcast_id WHERE o.channel=? AND"
                " o.state='pending' AND b.state='sending' ORDER BY o.id LIMIT ?)"
                " RETURNING *", (channel, limit)).fetchall()
        rows = await self.db.write(work)
        return sorted((_stored(r) for r in rows), key=lambda s: s.id)  # RETURNING: any order

    async def release_claimed_broadcast_rows(self) -> int:
        """At start: rows a stopped sender had claimed go back to 'pending' (at least once
        for the one in flight: see bot/services/delivery.py)."""
        def work(conn: sqlite3.Connection) -> int:
            return conn.execute("UPDATE outbox SET state='pending' WHERE state='sending'"
                                " AND broadcast_id IS NOT NULL").rowcount
        return await self.db.write(work)

    async def reply_marks(self, channel: str) -> dict[str, int]:
        """chat → id of the last reply delivered there."""
        rows = await self.db.fetchall(
            "SELECT chat_id, message_id FROM reply_marks WHERE channel=?", (channel,))
        return {r["chat_id"]: r["message_id"] for r in rows}

    async def unhandled_inbox(self, channel: str) -> list[tuple[str, str]]:
        """(event id, payload) of updates stored but never handled, in the order received."""
        rows = await self.db.fetchall(
            "SELECT event_id, payload FROM inbox i WHERE channel=? AND NOT EXISTS (SELECT 1"
            " FROM processed_events p WHERE p.channel=i.channel AND p.event_id=i.event_id)"
            " ORDER BY rowid", (channel,))
        return [(r["event_id"], r["payload"]) for r in rows]

    async def prune_delivery(self, before: datetime) -> dict[str, int]:
        """Forget what is older than `before`: handled updates, stored updates, delivered
        messages. Rows are appended in time order, so each table is cut at its first row
        that is recent enough (no index on time needed, no full scan)."""
        cutoff = before.isoformat()

        def work(conn: sqlite3.Connection) -> dict[str, int]:
            out = {}
            for table, column, extra in (("processed_events", "handled_at", ""),
                                         ("inbox", "received_at", ""),
                                         ("outbox", "created_at",
                                          " AND state NOT IN ('pending', 'sending')")):
                cur = conn.execute(
                    f"DELETE FROM {table} WHERE rowid < COALESCE((SELECT MIN(rowid) FROM"
                    f" {table} WHERE {column} >= ?), (SELECT MAX(rowid) + 1 FROM {table}))"
                    f"{extra}", (cutoff,))
                out[table] = cur.rowcount
            return out
        return await self.db.write(work)

    # --- scheduled digests ------------------------------------------------------------------

    async def watchers(self) -> list[tuple[Person, str, Role]]:
        """Every supervisor and admin membership with its person (their own account, where
        pushes go), by person then by when they joined the unit."""
        rows = await self.db.fetchall(
            "SELECT p.id, p.channel, p.external_id, p.display_name, p.reachable, m.unit_code,"
            " m.role FROM memberships m JOIN people p ON p.id = m.person_id"
            " WHERE m.role IN ('supervisor', 'admin') ORDER BY p.id, m.created_at")
        return [(_person(r), r["unit_code"], Role(r["role"])) for r in rows]

    async def digest_ledger(self, template_id: str, period: str
                            ) -> dict[tuple[int, str], frozenset[str]]:
        """(person, root unit) → kinds of digest already handled (sent, skipped or empty)."""
        rows = await self.db.fetchall(
            "SELECT person_id, unit_code, group_concat(kind, ' ') AS kinds FROM digest_ledger"
            " WHERE template_id=? AND period=? GROUP BY person_id, unit_code",
            (template_id, period))
        cache: dict[str, frozenset[str]] = {}
        return {(r["person_id"], r["unit_code"]):
                cache.setdefault(r["kinds"], frozenset(r["kinds"].split())) for r in rows}

    async def store_digests(self, records: list[DigestRecord]) -> dict[DigestKey, list[int]]:
        """Record digests in the ledger and their messages in the outbox, in one transaction;
        a key already in the ledger (another sweep, an earlier run) writes nothing. Returns
        each key this call recorded → the ids of its outbox rows (in the given order)."""
        now = utcnow_iso()

        def work(conn: sqlite3.Connection) -> dict[DigestKey, list[int]]:
            out: dict[DigestKey, list[int]] = {}
            for key, status, scheduled_at, messages in records:
                if conn.execute(
                        "INSERT INTO digest_ledger (person_id, template_id, period, unit_code,"
                        " kind, status, scheduled_at, handled_at) VALUES (?,?,?,?,?,?,?,?)"
                        " ON CONFLICT DO NOTHING RETURNING 1",
                        (*key, status, scheduled_at, now)).fetchone() is None:
                    continue  # handled already: its messages were written with it
                ids = []
                for m in messages:
                    cur = conn.execute(
                        "INSERT INTO outbox (channel, chat_id, person_id, event_id, priority,"
                        " payload, created_at) VALUES (?,?,?,?,?,?,?)",
                        (m.channel, m.chat_id, m.person_id, m.event_id, m.priority, m.payload,
                         now))
                    ids.append(cur.lastrowid or 0)
                out[key] = ids
            return out

        return await self.db.write(work)

    async def release_stranded_reminders(self) -> int:
        """Reminders left 'sending' by a crash go back to the planner: sent again if still
        due, skipped if stale. Those the messenger accepted were recorded 'sent' within
        RECORD_AFTER (bot/services/reminders.py), so only the ones in flight, or accepted just
        before the crash, go again (at least once: a repeated reminder is cheaper than a
        unit that misses its deadline for want of one)."""
        def work(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM reminders WHERE status='sending'").rowcount
        return await self.db.write(work)

    async def count_sent(self, channel: str, month: str, sent: int) -> int:
        """Add `sent` messages to the channel's month; the month's total."""
        def work(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "INSERT INTO message_counts (channel, month, sent) VALUES (?,?,?) ON CONFLICT"
                " (channel, month) DO UPDATE SET sent = sent + excluded.sent RETURNING sent",
                (channel, month, sent)).fetchone()
            return int(row[0])
        return await self.db.write(work)

    async def message_counts(self) -> list[tuple[str, str, int]]:
        """(channel, month, messages sent), newest month first."""
        rows = await self.db.fetchall(
            "SELECT channel, month, sent FROM message_counts ORDER BY month DESC, channel")
        return [(r["channel"], r["month"], r["sent"]) for r in rows]

    async def admins(self) -> list[Person]:
        """People who are admins of some unit (each once)."""
        rows = await self.db.fetchall(
            "SELECT DISTINCT p.* FROM people p JOIN memberships m ON m.person_id = p.id"
            " WHERE m.role = 'admin' ORDER BY p.id")
        return [_person(r) for r in rows]

    # --- settings and audit ------------------------------------------------------------------

    async def get_setting(self, key: str) -> str | None:
        row = await self.db.fetchone("SELECT value FROM settings WHERE key=?", (key,))
        return row["value"] if row else None

    async def set_setting(self, key: str, value: str) -> None:
        await self.db.write(lambda conn: conn.execute(
            "INSERT INTO settings (key, value) VALUES (?,?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value", (key, value)))

    async def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = await self.db.fetchall(
            "SELECT at, actor, action, entity, details FROM audit ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [{**dict(r), "details": json.loads(r["details"])} for r in rows]


# --- writes: plain functions run on the writer thread, inside the caller's transaction -----


def _stored(row: Any) -> Stored:
    return Stored(row["id"], Outgoing(row["channel"], row["chat_id"], row["payload"],
                                      row["person_id"], row["event_id"], row["priority"]),
                  row["state"])


def _audit(conn: sqlite3.Connection, actor: str, action: str, entity: str,
           details: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO audit (at, actor, action, entity, details) VALUES (?,?,?,?,?)",
        (utcnow_iso(), actor, action, entity, json.dumps(details, ensure_ascii=False)),
    )


def _write_batch(conn: sqlite3.Connection, batch: list[Changes]) -> list[bool]:
    """Write several events' changes inside the caller's transaction.

    Answers and conversation states are written with one statement each for the whole
    batch; the rarer operations (start, submit, delete a draft) one by one, in order.
    """
    now = utcnow_iso()
    keep = [True] * len(batch)
    events = [(i, c.event) for i, c in enumerate(batch) if c.event is not None]
    if events:
        # A few statements mark every event as handled and say which were new.
        new: set[tuple[str, str]] = set()
        for chunk in _shaped(events):
            marks = ",".join("(?,?,?)" for _ in chunk)
            flat = [part for _, ev in chunk for part in (*ev, now)]
            new.update((r[0], r[1]) for r in conn.execute(
                f"INSERT INTO processed_events (channel, event_id, handled_at) VALUES {marks}"
                " ON CONFLICT DO NOTHING RETURNING channel, event_id", flat).fetchall())
        for i, ev in events:
            keep[i] = ev in new
            new.discard(ev)  # the same event twice in one batch counts once
    answers: list[tuple[Any, ...]] = []
    states: list[tuple[Any, ...]] = []
    for changes, wanted in zip(batch, keep, strict=True):
        if not wanted:
            continue
        for op in changes.ops:
            if isinstance(op, SaveAnswer):
                answers.append((op.draft_id, op.question_id, _dump(op.value),
                                changes.actor, now))
            else:
                # Answers that arrived before this op are written before it, as one by one:
                # a send must see them (and refuse if its officer did not), and an answer to
                # a draft deleted here must fail, not outlive it.
                _save_answers(conn, answers)
                answers = []
                _apply_op(conn, op, changes.actor, now)
        if changes.conversation is not None:
            person_id, state = changes.conversation
            states.append((person_id, json.dumps(state, ensure_ascii=False), now))
    _save_answers(conn, answers)
    _insert_rows(conn, "INSERT INTO conversations (person_id, state, updated_at) VALUES {rows}"
                 " ON CONFLICT(person_id) DO UPDATE SET state=excluded.state,"
                 " updated_at=excluded.updated_at", states)
    _write_outbox(conn, [c for c, wanted in zip(batch, keep, strict=True) if wanted], now)
    _insert_rows(conn, "INSERT OR IGNORE INTO inbox (channel, event_id, payload, received_at)"
                 " VALUES {rows}", [(*row, now) for c in batch for row in c.inbox])
    settled: dict[str, list[int]] = {}
    for c in batch:
        for row_id, outcome in c.settled:
            settled.setdefault(outcome, []).append(row_id)
    _insert_rows(conn, "INSERT INTO reply_marks (channel, chat_id, message_id) VALUES {rows}"
                 " ON CONFLICT(channel, chat_id) DO UPDATE SET message_id ="
                 " MAX(message_id, excluded.message_id)",
                 [m for c in batch for m in c.reply_marks])
    for outcome, row_ids in settled.items():
        for ids in _shaped(row_ids):
            # A settled row's file (a workbook: megabytes as base64) is never sent again:
            # dropped, so a week of kept delivery records holds texts, not every file.
            conn.execute(f"UPDATE outbox SET state=?, done_at=?, payload = CASE WHEN"
                         f" json_type(payload, '$.file') IS NULL THEN payload ELSE"
                         f" json_remove(payload, '$.file') END WHERE id IN"
                         f" ({','.join('?' * len(ids))})", [outcome, now, *ids])
    return keep


def _write_outbox(conn: sqlite3.Connection, batch: list[Changes], now: str) -> None:
    """Every kept event's replies, in order; each event learns its rows' ids. With
    AUTOINCREMENT and one writer, the rows of one statement get consecutive ids in order."""
    rows = [(c, m) for c in batch for m in c.outbox]
    ids: list[int] = []
    for chunk in _shaped(rows):
        marks = ",".join(["(?,?,?,?,?,?,?)"] * len(chunk))
        cur = conn.execute(
            "INSERT INTO outbox (channel, chat_id, person_id, event_id, priority, payload,"
            f" created_at) VALUES {marks}",
            [v for _, m in chunk for v in (m.channel, m.chat_id, m.person_id, m.event_id,
                                           m.priority, m.payload, now)])
        last = cur.lastrowid or 0
        ids.extend(range(last - len(chunk) + 1, last + 1))
    for c in batch:
        c.outbox_ids = ids[:len(c.outbox)]
        del ids[:len(c.outbox)]


def _save_answers(conn: sqlite3.Connection, answers: list[tuple[Any, ...]]) -> None:
    # One multi-row statement: `executemany` would hand the GIL back and forth once per row,
    # and under load every hand-back waits for the event loop thread (measured: 2-15 ms
    # transactions in bench/dialogue_throughput.py). SQLite applies the rows in order, so a
    # later answer to the same question wins, as it would one by one.
    _insert_rows(conn, "INSERT INTO draft_answers (draft_id, question_id, value, answered_by,"
                 " answered_at) VALUES {rows} ON CONFLICT(draft_id, question_id) DO UPDATE"
                 " SET value=excluded.value, answered_by=excluded.answered_by,"
                 " answered_at=excluded.answered_at", answers)


SHAPED_MAX = 256  # rows in the largest multi-row statement


def _shaped(rows: list[ItemT]) -> Iterator[list[ItemT]]:
    """`rows` in order, in chunks whose sizes are powers of two (largest first).

    A multi-row statement is compiled for its exact number of rows and kept in the
    connection's statement cache (128 statements). With a chunk per batch size the cache
    filled with statements of up to 500 rows (2,000 for reminder claims: several MB each),
    kept for the life of the process, and each new size was compiled afresh; with powers of
    two there are 9 shapes per statement, each compiled once."""
    i = 0
    while i < len(rows):
        size = min(SHAPED_MAX, 1 << ((len(rows) - i).bit_length() - 1))
        yield rows[i:i + size]
        i += size


def _insert_rows(conn: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """Run `sql` (with `{rows}` where the VALUES go) for every row, a few statements in all."""
    for chunk in _shaped(rows):
        marks = "(" + ",".join("?" * len(chunk[0])) + ")"
        conn.execute(sql.format(rows=",".join([marks] * len(chunk))),
                     [v for row in chunk for v in row])


def _apply_op(conn: sqlite3.Connection, op: Op, actor: int, now: str) -> None:
    who = f"person:{actor}"
    if isinstance(op, StartDraft):
        cur = conn.execute(
            "INSERT OR IGNORE INTO drafts (unit_code, template_id, template_version, period,"
            " started_by, started_at, updated_at, reopened_from) VALUES (?,?,?,?,?,?,?,?)",
            (op.unit_code, op.template_id, op.template_version, op.period, actor, now, now,
             op.reopened_from))
        if cur.rowcount and op.answers:
            draft_id = cur.lastrowid
            conn.executemany(
                "INSERT INTO draft_answers (draft_id, question_id, value, answered_by,"
                " answered_at) VALUES (?,?,?,?,?)",
                [(draft_id, q, _dump(v), actor, now) for q, v in op.answers.items()])
        if cur.rowcount:
            _audit(conn, who, "draft.start", f"report:{op.unit_code}/{op.template_id}/{op.period}",
                   {"reopened_from": op.reopened_from})
    elif isinstance(op, DeleteDraft):
        conn.execute("DELETE FROM draft_answers WHERE draft_id=?", (op.draft_id,))
        conn.execute("DELETE FROM drafts WHERE id=?", (op.draft_id,))
        _audit(conn, who, "draft.abandon", f"draft:{op.draft_id}", {})
    elif isinstance(op, RebaseDraft):
        conn.execute("UPDATE drafts SET reopened_from=? WHERE id=?", (op.version, op.draft_id))
        _audit(conn, who, "draft.rebase", f"draft:{op.draft_id}", {"reopened_from": op.version})
    elif isinstance(op, AddNotice):
        n = op.notice
        conn.execute("INSERT INTO notices (key, person_id, text, created_at) VALUES (?,?,?,?)",
                     (n.key, n.person_id, n.text, now))
    elif isinstance(op, DropNotices):
        conn.executemany("DELETE FROM notices WHERE key=?", [(k,) for k in op.keys])
    elif isinstance(op, Submit):
        latest = conn.execute(
            "SELECT COALESCE(MAX(version), 0) AS v FROM submissions WHERE unit_code=?"
            " AND template_id=? AND period=?", (op.unit_code, op.template_id, op.period)
        ).fetchone()["v"]
        if latest != (op.replaces or 0):
            raise ReportSentMeanwhile(op.unit_code, latest)
        rows = conn.execute(
            "SELECT question_id, value, answered_by FROM draft_answers WHERE draft_id=?",
            (op.draft_id,)).fetchall()
        if op.seen is not None and {r["question_id"]: _load(r["value"]) for r in rows} != op.seen:
            raise DraftChanged(f"draft {op.draft_id} changed before it was sent")
        # Who gave each answer sent (read here, in the transaction: what is sent is what the
        # draft holds, so the audit cannot name someone whose answer was replaced).
        answered_by = {r["question_id"]: r["answered_by"] for r in rows
                       if r["question_id"] in op.answers}
        version = latest + 1
        cur = conn.execute(
            "INSERT INTO submissions (unit_code, template_id, template_version, period,"
            " version, submitted_by, submitted_at, due_at, on_time, source, entered_by,"
            " answers_json) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (op.unit_code, op.template_id, op.template_version, op.period, version, actor,
             op.submitted_at.isoformat(), op.due_at.isoformat(), int(op.on_time), op.source,
             actor, _dump(op.answers)))
        submission_id = cur.lastrowid
        conn.executemany(
            "INSERT INTO submission_answers (submission_id, question_id, value)"
            " VALUES (?,?,?)",
            [(submission_id, q, _dump(v)) for q, v in op.answers.items()])
        conn.execute("DELETE FROM draft_answers WHERE draft_id=?", (op.draft_id,))
        conn.execute("DELETE FROM drafts WHERE id=?", (op.draft_id,))
        _audit(conn, who, "report.submit" if version == 1 else "report.correct",
               f"report:{op.unit_code}/{op.template_id}/{op.period}",
               {"version": version, "on_time": op.on_time, "changed": op.changed or {},
                "answered_by": answered_by, **({"source": op.source}
                                               if op.source != SOURCE_CHAT else {})})
    elif isinstance(op, Review):
        _review(conn, op, actor, now)
    elif isinstance(op, Nudge):
        _nudge(conn, op, actor, now)
    else:  # pragma: no cover - exhaustive
        raise TypeError(f"unknown op {op!r}")


def _rebase_drafts(conn: sqlite3.Connection, r: ImportedReport, version: int, now: str,
                   actor: str) -> int:
    """Make the report's draft (if any) a correction of the imported `version`: a three-way
    merge where what the officer changed (draft ≠ the version it was opened on) stays and every
    other answer takes the file's value. A first-report draft keeps all its answers (they are
    all the officer's) and its unanswered questions stay unanswered. Return 1 if a draft was
    rebased. A running bot that still holds the old draft is stopped at the send
    (ReportSentMeanwhile) and reads it again."""
    draft = conn.execute(
        "SELECT id, reopened_from, started_by FROM drafts WHERE unit_code=? AND template_id=?"
        " AND period=?", (r.unit_code, r.template_id, r.period)).fetchone()
    if draft is None:
        return 0
    if draft["reopened_from"] is not None:
        base_row = conn.execute(
            "SELECT id FROM submissions WHERE unit_code=? AND template_id=? AND period=?"
            " AND version=?", (r.unit_code, r.template_id, r.period, draft["reopened_from"])
        ).fetchone()
        base = {a["question_id"]: a["value"] for a in conn.execute(
            "SELECT question_id, value FROM submission_answers WHERE submission_id=?",
            (base_row["id"],))} if base_row else {}
        mine = {a["question_id"]: a["value"] for a in conn.execute(
            "SELECT question_id, value FROM draft_answers WHERE draft_id=?", (draft["id"],))}
        def held(answers: dict[str, Any], q: str) -> tuple[bool, Any]:
            return (q in answers, _load(answers[q]) if q in answers else None)

        for q in sorted(set(base) | set(mine) | set(r.answers)):
            if held(mine, q) != held(base, q):
                continue  # the officer's own change
            if q not in r.answers:
                conn.execute("DELETE FROM draft_answers WHERE draft_id=? AND question_id=?",
                             (draft["id"], q))
            else:
                conn.execute(
                    "INSERT INTO draft_answers (draft_id, question_id, value, answered_by,"
                    " answered_at) VALUES (?,?,?,?,?) ON CONFLICT (draft_id, question_id)"
                    " DO UPDATE SET value=excluded.value",
                    (draft["id"], q, _dump(r.answers[q]), draft["started_by"], now))
    conn.execute("UPDATE drafts SET reopened_from=? WHERE id=?", (version, draft["id"]))
    _audit(conn, actor, "draft.rebase", f"draft:{draft['id']}",
           {"reopened_from": version, "was": draft["reopened_from"]})
    return 1


def _nudge(conn: sqlite3.Connection, op: Nudge, actor: int, now: str) -> None:
    """Ledger rows of a nudge, each unit checked here, in the transaction: two supervisors
    pressing at once cannot both nudge a unit (the later event is refused whole, its pushes
    with it)."""
    for unit, _ in op.units:
        done = conn.execute(
            "SELECT 1 FROM reminders WHERE unit_code=? AND template_id=? AND period=?"
            " AND kind > ? AND kind LIKE 'nudge-%'",
            (unit, op.template_id, op.period, op.since)).fetchone()
        if done is not None:
            raise NudgeRefused(unit)
    conn.executemany(
        "INSERT INTO reminders (unit_code, template_id, period, kind, status, scheduled_at,"
        " handled_at, recipients, sweep_id) VALUES (?,?,?,?,'sent',?,?,?,?)",
        [(unit, op.template_id, op.period, op.kind, now, now, n, f"nudge:{actor}")
         for unit, n in op.units])
    _audit(conn, f"person:{actor}", "reminder.nudge", f"report:*/{op.template_id}/{op.period}",
           {"kind": op.kind, "units": [u for u, _ in op.units]})


def _review(conn: sqlite3.Connection, op: Review, actor: int, now: str) -> None:
    """Checked here, in the transaction: two supervisors pressing at once, or a unit sending
    a new version meanwhile, cannot both pass."""
    key = (op.unit_code, op.template_id, op.period)
    latest = conn.execute("SELECT MAX(version) AS v FROM submissions WHERE unit_code=?"
                          " AND template_id=? AND period=?", key).fetchone()["v"]
    if latest != op.version:
        raise ReviewRefused("resubmitted")
    done = conn.execute("SELECT action FROM reviews WHERE unit_code=? AND template_id=?"
                        " AND period=? AND version=?", (*key, op.version)).fetchone()
    if done is not None:
        raise ReviewRefused(done["action"])
    conn.execute("INSERT INTO reviews (unit_code, template_id, period, version, action, reason,"
                 " person_id, at) VALUES (?,?,?,?,?,?,?,?)",
                 (*key, op.version, op.action, op.reason, actor, now))
    _audit(conn, f"person:{actor}", f"review.{op.action}",
           f"report:{op.unit_code}/{op.template_id}/{op.period}",
           {"version": op.version, "reason": op.reason})
