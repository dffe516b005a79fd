"""SQLite implementation of the storage interface (see storage/interface.py)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bot.domain.templates import Level, Template
from bot.domain.units import Unit
from storage.database import Database, utcnow_iso


class SqliteStorage:
    """Everything baocao keeps, in one SQLite file."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @classmethod
    async def open(cls, path: str | Path) -> SqliteStorage:
        return cls(await Database.open(path))

    async def close(self) -> None:
        await self.db.close()

    # --- units -----------------------------------------------------------------------------

    async def list_units(self) -> list[Unit]:
        rows = await self.db.fetchall(
            "SELECT code, name, parent_code, level FROM units ORDER BY code"
        )
        return [Unit(r["code"], r["name"], r["parent_code"], Level(r["level"])) for r in rows]

    async def upsert_units(self, units: Iterable[Unit], actor: str = "cli") -> tuple[int, int]:
        """Insert new units and update changed ones in one transaction; return (added, updated)."""
        now = utcnow_iso()
        added = updated = 0
        pending = list(units)
        async with self.db.transaction() as conn:
            await conn.execute("PRAGMA defer_foreign_keys = ON")  # parents may come later
            for u in pending:
                cur = await conn.execute(
                    "SELECT name, parent_code, level FROM units WHERE code = ?", (u.code,)
                )
                old = await cur.fetchone()
                if old is None:
                    await conn.execute(
                        "INSERT INTO units (code, name, parent_code, level, created_at, updated_at)"
                        " VALUES (?,?,?,?,?,?)",
                        (u.code, u.name, u.parent_code, u.level.value, now, now),
                    )
                    added += 1
                elif (old["name"], old["parent_code"], old["level"]) != (
                    u.name, u.parent_code, u.level.value
                ):
                    await conn.execute(
                        "UPDATE units SET name=?, parent_code=?, level=?, updated_at=? "
                        "WHERE code=?",
                        (u.name, u.parent_code, u.level.value, now, u.code),
                    )
                    updated += 1
                else:
                    continue
                await self._audit(conn, actor, "unit.upsert", f"unit:{u.code}",
                                  {"name": u.name, "parent": u.parent_code, "level": u.level.value})
        return added, updated

    # --- templates ---------------------------------------------------------------------------

    async def sync_templates(self, templates: Iterable[Template]) -> dict[str, int]:
        """Record each template's content; a changed template gets a new version number."""
        now = utcnow_iso()
        versions: dict[str, int] = {}
        async with self.db.transaction() as conn:
            for t in templates:
                digest = t.content_hash()
                cur = await conn.execute(
                    "SELECT version FROM templates WHERE id=? AND content_hash=?", (t.id, digest)
                )
                row = await cur.fetchone()
                if row is not None:
                    versions[t.id] = row["version"]
                    continue
                cur = await conn.execute(
                    "SELECT COALESCE(MAX(version), 0) + 1 AS v FROM templates WHERE id=?", (t.id,)
                )
                version = (await cur.fetchone())["v"]  # type: ignore[index]
                await conn.execute(
                    "INSERT INTO templates (id, version, content_hash, title, body, created_at)"
                    " VALUES (?,?,?,?,?,?)",
                    (t.id, version, digest, t.title, t.model_dump_json(), now),
                )
                await self._audit(conn, "system", "template.version", f"template:{t.id}",
                                  {"version": version, "hash": digest})
                versions[t.id] = version
        return versions

    async def get_template(self, template_id: str, version: int) -> Template | None:
        row = await self.db.fetchone(
            "SELECT body FROM templates WHERE id=? AND version=?", (template_id, version)
        )
        return Template.model_validate_json(row["body"]) if row else None

    # --- settings and audit ------------------------------------------------------------------

    async def get_setting(self, key: str) -> str | None:
        row = await self.db.fetchone("SELECT value FROM settings WHERE key=?", (key,))
        return row["value"] if row else None

    async def set_setting(self, key: str, value: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO settings (key, value) VALUES (?,?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, value),
            )

    async def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = await self.db.fetchall(
            "SELECT at, actor, action, entity, details FROM audit ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [{**dict(r), "details": json.loads(r["details"])} for r in rows]

    @staticmethod
    async def _audit(conn: Any, actor: str, action: str, entity: str,
                     details: dict[str, Any]) -> None:
        await conn.execute(
            "INSERT INTO audit (at, actor, action, entity, details) VALUES (?,?,?,?,?)",
            (utcnow_iso(), actor, action, entity, json.dumps(details, ensure_ascii=False)),
        )
