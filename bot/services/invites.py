"""Invite codes: short, unambiguous, typed by hand on a phone if the link does not work."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from bot.domain.invites import CODE_ALPHABET, CODE_LENGTH
from bot.domain.roles import Role
from storage.interface import Storage
from storage.models import Invite

ALPHABET = CODE_ALPHABET  # no 0/O, 1/I: easy to read aloud (the bound: bot.domain.invites)
# Generous for any real invite (a province has a few thousand officers; ten years outlasts any
# plan) and small enough that no date or counter overflows: 100000000 days is past year 9999.
MAX_USES = 10_000
MAX_EXPIRES_DAYS = 3_650


def new_code(length: int = CODE_LENGTH) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


class InviteError(Exception):
    """The invite cannot be created (unknown unit, bad numbers)."""


async def create_invite(storage: Storage, unit_code: str, role: Role, uses: int,
                        expires_days: int | None, now: datetime, actor: str = "cli") -> Invite:
    if not 1 <= uses <= MAX_USES:
        raise InviteError(f"--uses must be from 1 to {MAX_USES}, not {uses}")
    if expires_days is not None and not 1 <= expires_days <= MAX_EXPIRES_DAYS:
        raise InviteError(f"--expires-days must be from 1 to {MAX_EXPIRES_DAYS} "
                          f"(ten years), not {expires_days}")
    units = {u.code for u in await storage.list_units()}
    if unit_code not in units:
        raise InviteError(f"unknown unit {unit_code!r} (see `baocao units list`)")
    expires = now + timedelta(days=expires_days) if expires_days else None
    invite = Invite(new_code(), unit_code, role, uses, 0, expires)
    await storage.create_invite(invite, actor)
    return invite


def invite_link(username: str | None, code: str) -> str | None:
    return f"https://t.me/{username.lstrip('@')}?start={code}" if username else None


def zalo_invite(link: str | None, bot_name: str | None, code: str, configured: bool) -> str | None:
    """How to join on Zalo, which has no start links: open the bot, send the code."""
    if not configured:
        return None
    where = link or (f"the Zalo bot “{bot_name}”" if bot_name else "the Zalo bot")
    return f"Zalo: open {where} and send {code}"
