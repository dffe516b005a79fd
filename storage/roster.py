"""The roster's reads and writes (invites listed and revoked, people of units, removing a
person from a unit or changing their role), mixed into SqliteStorage. Every change is audited
in its own transaction and bumps the roster stamp (a setting) so that a running bot, which
caches memberships, reads them again after `baocao people …` from another process."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.domain.roles import Role
from storage.database import Database
from storage.models import Invite, Member

ROSTER_STAMP = "roster.stamp"


class RosterRefused(Exception):
    """A roster change that is not made; `reason` is 'not_member', 'last_admin' or
    'not_yours' (the acting admin is no longer admin above the unit)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _at(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def invite_of(row: Any) -> Invite:
    return Invite(row["code"], row["unit_code"], Role(row["role"]), row["max_uses"],
                  row["uses"], _at(row["expires_at"]), _at(row["created_at"]),
                  row["created_by"], _at(row["revoked_at"]))


_INVITE_COLUMNS = ("code, unit_code, role, max_uses, uses, expires_at, created_at, created_by,"
                   " revoked_at")


def _audit(conn: sqlite3.Connection, actor: str, action: str, entity: str,
           details: dict[str, Any]) -> None:
    from storage.sqlite import _audit as audit  # one writer of audit rows

    audit(conn, actor, action, entity, details)
    conn.execute("INSERT INTO settings (key, value) VALUES (?, '1') ON CONFLICT(key) DO UPDATE"
                 " SET value = CAST(value AS INTEGER) + 1", (ROSTER_STAMP,))


class RosterStore:
    db: Database

    async def invites(self, unit_codes: Sequence[str] | None = None) -> list[Invite]:
        """Every invite (of these units), newest first."""
        sql = f"SELECT {_INVITE_COLUMNS} FROM invites"
        params: list[str] = []
        if unit_codes is not None:
            sql += f" WHERE unit_code IN ({','.join('?' * len(unit_codes))})"
            params = list(unit_codes)
        rows = await self.db.fetchall(sql + " ORDER BY created_at DESC, code", params)
        return [invite_of(r) for r in rows]

    async def find_invite(self, code: str) -> Invite | None:
        row = await self.db.fetchone(f"SELECT {_INVITE_COLUMNS} FROM invites WHERE code=?",
                                     (code,))
        return invite_of(row) if row else None

    async def revoke_invite(self, code: str, actor: str, now: datetime) -> bool:
        """Revoke an invite not revoked yet; False if it was (or does not exist)."""
        def work(conn: sqlite3.Connection) -> bool:
            cur = conn.execute("UPDATE invites SET revoked_at=? WHERE code=? AND revoked_at IS"
                               " NULL", (now.isoformat(), code))
            if cur.rowcount == 0:
                return False
            _audit(conn, actor, "invite.revoke", f"invite:{code}", {})
            return True

        return await self.db.write(work)

    async def members(self, unit_codes: Sequence[str] | None = None) -> list[Member]:
        """The people of these units (all units: None), one row per person, unit and role,
        by unit, then name."""
        where, params = "", list(unit_codes or [])
        if unit_codes is not None:
            where = f"WHERE m.unit_code IN ({','.join('?' * len(unit_codes))})"
        rows = await self.db.fetchall(
            "SELECT m.person_id, m.unit_code, m.role, m.created_at, p.display_name, p.channel,"
            " p.reachable FROM memberships m JOIN people p ON p.id = m.person_id "
            f"{where} ORDER BY m.unit_code, p.display_name, p.id, m.role", params)
        ids = sorted({r["person_id"] for r in rows})
        last = await self._last_active(ids)
        links: dict[int, list[str]] = {}
        if ids:
            marks = ",".join("?" * len(ids))
            for r in await self.db.fetchall(
                    f"SELECT person_id, channel FROM person_links WHERE person_id IN ({marks})"
                    " ORDER BY channel", ids):
                links.setdefault(r["person_id"], []).append(r["channel"])
        return [Member(r["person_id"], r["display_name"], r["channel"],
                       tuple(links.get(r["person_id"], [])), bool(r["reachable"]),
                       r["unit_code"], Role(r["role"]), datetime.fromisoformat(r["created_at"]),
                       last.get(r["person_id"])) for r in rows]

    async def _last_active(self, ids: list[int]) -> dict[int, datetime]:
        """Each person's latest trace: an audited act (join, report, review, nudge), an
        answer saved, or their conversation moving."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        actors = [f"person:{i}" for i in ids]
        rows = await self.db.fetchall(
            f"SELECT CAST(substr(actor, 8) AS INTEGER) AS id, MAX(at) AS at FROM audit "
            f"WHERE actor IN ({marks}) GROUP BY actor UNION ALL "
            f"SELECT answered_by, MAX(answered_at) FROM draft_answers WHERE answered_by IN "
            f"({marks}) GROUP BY answered_by UNION ALL "
            f"SELECT person_id, updated_at FROM conversations WHERE person_id IN ({marks})",
            [*actors, *ids, *ids])
        out: dict[int, datetime] = {}
        for r in rows:
            at = datetime.fromisoformat(r["at"])
            if r["id"] not in out or at > out[r["id"]]:
                out[r["id"]] = at
        return out

    async def unit_roles(self) -> dict[str, set[Role]]:
        """unit code → the roles someone holds there (units with nobody are absent)."""
        rows = await self.db.fetchall("SELECT DISTINCT unit_code, role FROM memberships")
        out: dict[str, set[Role]] = {}
        for r in rows:
            out.setdefault(r["unit_code"], set()).add(Role(r["role"]))
        return out

    async def remove_member(self, person_id: int, unit_code: str, actor: str) -> list[Role]:
        """Take the person out of the unit (every role there); their drafts, answers and
        reports stay (they belong to the unit). Refused: 'not_member'; 'last_admin' when an
        admin removes themself as the unit's last admin. Returns the roles removed."""
        def work(conn: sqlite3.Connection) -> list[Role]:
            _still_admin(conn, actor, unit_code)
            roles = _roles(conn, person_id, unit_code)
            if not roles:
                raise RosterRefused("not_member")
            _keep_an_admin(conn, person_id, unit_code, actor, roles, None)
            conn.execute("DELETE FROM memberships WHERE person_id=? AND unit_code=?",
                         (person_id, unit_code))
            _audit(conn, actor, "member.remove", f"person:{person_id}",
                   {"unit": unit_code, "roles": sorted(r.value for r in roles)})
            return roles

        return await self.db.write(work)

    async def set_member_role(self, person_id: int, unit_code: str, role: Role,
                              actor: str) -> list[Role]:
        """Make `role` the person's only role in the unit; returns the roles they had.
        Refused as `remove_member` is."""
        def work(conn: sqlite3.Connection) -> list[Role]:
            _still_admin(conn, actor, unit_code)
            roles = _roles(conn, person_id, unit_code)
            if not roles:
                raise RosterRefused("not_member")
            if roles == [role]:
                return roles
            _keep_an_admin(conn, person_id, unit_code, actor, roles, role)
            first = conn.execute(
                "SELECT invite_code, created_at FROM memberships WHERE person_id=? AND "
                "unit_code=? ORDER BY created_at LIMIT 1", (person_id, unit_code)).fetchone()
            conn.execute("DELETE FROM memberships WHERE person_id=? AND unit_code=?",
                         (person_id, unit_code))
            conn.execute("INSERT INTO memberships (person_id, unit_code, role, invite_code, "
                         "created_at) VALUES (?,?,?,?,?)",
                         (person_id, unit_code, role.value, first["invite_code"],
                          first["created_at"]))
            _audit(conn, actor, "member.role", f"person:{person_id}",
                   {"unit": unit_code, "from": sorted(r.value for r in roles),
                    "to": role.value})
            return roles

        return await self.db.write(work)

    async def roster_stamp(self) -> str:
        row = await self.db.fetchone("SELECT value FROM settings WHERE key=?", (ROSTER_STAMP,))
        return row["value"] if row else "0"


def _roles(conn: sqlite3.Connection, person_id: int, unit_code: str) -> list[Role]:
    rows = conn.execute("SELECT role FROM memberships WHERE person_id=? AND unit_code=? "
                        "ORDER BY role", (person_id, unit_code)).fetchall()
    return [Role(r["role"]) for r in rows]


def _still_admin(conn: sqlite3.Connection, actor: str, unit_code: str) -> None:
    """A person acting from chat must still be admin of the unit or a unit above it when the
    change is written: two admins demoting each other at once were both checked against the
    roles read before either change (the command line, 'cli', may do anything)."""
    if not actor.startswith("person:"):
        return
    if conn.execute(
            "WITH RECURSIVE up(code) AS (SELECT ? UNION SELECT u.parent_code FROM units u JOIN"
            " up ON u.code = up.code WHERE u.parent_code IS NOT NULL) SELECT 1 FROM memberships"
            " WHERE person_id=? AND role='admin' AND unit_code IN (SELECT code FROM up)",
            (unit_code, int(actor.removeprefix("person:")))).fetchone() is None:
        raise RosterRefused("not_yours")


def _keep_an_admin(conn: sqlite3.Connection, person_id: int, unit_code: str, actor: str,
                   roles: list[Role], new: Role | None) -> None:
    """An admin may not leave a unit without an admin by removing or demoting themself (no
    one could manage it from chat any more); the command line may."""
    if actor != f"person:{person_id}" or Role.ADMIN not in roles or new is Role.ADMIN:
        return
    others = conn.execute("SELECT 1 FROM memberships WHERE unit_code=? AND role='admin' AND "
                          "person_id<>?", (unit_code, person_id)).fetchone()
    if others is None:
        raise RosterRefused("last_admin")

