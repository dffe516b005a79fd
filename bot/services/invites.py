"""Invite codes: short, unambiguous, typed by hand on a phone if the link does not work."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from bot.domain.roles import Role
from storage.interface import Storage
from storage.models import Invite

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: easy to read aloud


def new_code(length: int = 8) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


class InviteError(Exception):
    """The invite cannot be created (unknown unit, bad numbers)."""


async def create_invite(storage: Storage, unit_code: str, role: Role, uses: int,
                        expires_days: int | None, now: datetime, actor: str = "cli") -> Invite:
    units = {u.code for u in await storage.list_units()}
    if unit_code not in units:
        raise InviteError(f"unknown unit {unit_code!r} (see `baocao units list`)")
    if uses < 1:
        raise InviteError("--uses must be at least 1")
    if expires_days is not None and expires_days < 1:
        raise InviteError("--expires-days must be at least 1")
    expires = now + timedelta(days=expires_days) if expires_days else None
    invite = Invite(new_code(), unit_code, role, uses, 0, expires)
    await storage.create_invite(invite, actor)
    return invite


def invite_link(username: str | None, code: str) -> str | None:
    return f"https://t.me/{username.lstrip('@')}?start={code}" if username else None
