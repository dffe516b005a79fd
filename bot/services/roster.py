"""The roster, one implementation for the chat (/quanly) and the command line (`baocao invite
list|revoke`, `baocao people list|remove|role`): invites of a unit, people of a unit, removing a
person or changing their role, units with nobody.

Every function takes the `scope` the actor may manage: the codes of the subtrees of the units
they administer (`admin_scope`), or None for the command line (the server's owner, every
unit). A unit, invite or membership outside the scope is refused as if it did not exist to
them (`Denied`), so a forged button never reaches another subtree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.domain.roles import Role
from bot.domain.units import Unit, subtree_codes
from bot.services.invites import InviteError, create_invite
from storage.interface import Storage
from storage.models import Invite, Member, Membership
from storage.roster import RosterRefused

CHAT_INVITE_DAYS = 14  # as `baocao invite create` by default
CHAT_INVITE_USES = 1  # one person each: a code forwarded further is of no use


class Why(StrEnum):
    NOT_YOURS = "not_yours"  # a unit, invite or person outside the actor's subtrees
    UNKNOWN_UNIT = "unknown_unit"
    UNKNOWN_INVITE = "unknown_invite"
    REVOKED = "revoked"  # the invite was revoked already
    NOT_MEMBER = "not_member"
    LAST_ADMIN = "last_admin"
    RETIRED = "retired"  # a retired unit takes nobody new


class Denied(Exception):
    def __init__(self, why: Why, subject: str = "") -> None:
        super().__init__(f"{why.value}: {subject}")
        self.why = why
        self.subject = subject


Scope = frozenset[str] | None  # None: every unit (the command line)


def admin_scope(memberships: Iterable[Membership], units: Iterable[Unit]) -> frozenset[str]:
    """The codes of every unit in the subtree of a unit the person administers."""
    listed = list(units)
    out: set[str] = set()
    for m in memberships:
        if m.role is Role.ADMIN:
            out |= subtree_codes(m.unit.code, listed)
    return frozenset(out)


def _check_unit(scope: Scope, code: str, units: Mapping[str, Unit]) -> Unit:
    unit = units.get(code)
    if unit is None:
        raise Denied(Why.UNKNOWN_UNIT if scope is None else Why.NOT_YOURS, code)
    if scope is not None and code not in scope:
        raise Denied(Why.NOT_YOURS, code)
    return unit


async def new_invite(storage: Storage, scope: Scope, unit_code: str, role: Role, actor: str,
                     now: datetime, units: Mapping[str, Unit]) -> Invite:
    """An invite to the unit with the role, for one person, valid CHAT_INVITE_DAYS days. An
    admin can make admin invites for the units of their subtree only (never above it), and
    none for a retired unit (whoever joined it would have nothing to report)."""
    if _check_unit(scope, unit_code, units).retired:
        raise Denied(Why.RETIRED, unit_code)
    try:
        return await create_invite(storage, unit_code, role, CHAT_INVITE_USES,
                                   CHAT_INVITE_DAYS, now, actor)
    except InviteError as e:  # the unit vanished meanwhile
        raise Denied(Why.UNKNOWN_UNIT, unit_code) from e


async def open_invites(storage: Storage, scope: Scope, unit_codes: list[str] | None,
                       now: datetime, units: Mapping[str, Unit]) -> list[Invite]:
    """The invites someone can still join with, of these units (None: every unit of the
    scope), newest first."""
    if unit_codes is not None:
        for code in unit_codes:
            _check_unit(scope, code, units)
    codes = unit_codes if unit_codes is not None else (
        None if scope is None else sorted(scope))
    return [i for i in await storage.invites(codes) if i.is_open(now)]


async def revoke(storage: Storage, scope: Scope, code: str, actor: str, now: datetime
                 ) -> Invite:
    """Revoke an invite of the scope; returns it as it was."""
    code = code.strip().upper()
    invite = await storage.find_invite(code)
    if invite is None or (scope is not None and invite.unit_code not in scope):
        raise Denied(Why.UNKNOWN_INVITE if scope is None or invite is None
                     else Why.NOT_YOURS, code)
    if invite.revoked_at is not None or not await storage.revoke_invite(code, actor, now):
        raise Denied(Why.REVOKED, code)
    return invite


async def people(storage: Storage, scope: Scope, unit_codes: list[str] | None,
                 units: Mapping[str, Unit]) -> list[Member]:
    if unit_codes is not None:
        for code in unit_codes:
            _check_unit(scope, code, units)
    codes = unit_codes if unit_codes is not None else (
        None if scope is None else sorted(scope))
    return await storage.members(codes)


async def remove(storage: Storage, scope: Scope, person_id: int, unit_code: str, actor: str,
                 units: Mapping[str, Unit]) -> list[Role]:
    """Take the person out of the unit. Their drafts, answers and reports stay with the unit
    (a colleague continues a draft they left); only their place in the unit goes."""
    _check_unit(scope, unit_code, units)
    try:
        return await storage.remove_member(person_id, unit_code, actor)
    except RosterRefused as e:
        raise Denied(Why(e.reason), f"person {person_id} in {unit_code}") from e


async def change_role(storage: Storage, scope: Scope, person_id: int, unit_code: str,
                      role: Role, actor: str, units: Mapping[str, Unit]) -> list[Role]:
    """Make `role` the person's role in the unit; returns their roles before."""
    _check_unit(scope, unit_code, units)
    try:
        return await storage.set_member_role(person_id, unit_code, role, actor)
    except RosterRefused as e:
        raise Denied(Why(e.reason), f"person {person_id} in {unit_code}") from e


@dataclass(frozen=True)
class Uncovered:
    unit: Unit
    nobody: bool  # nobody registered at all (else: someone, but no officer)


async def uncovered_units(storage: Storage, scope: Scope, units: Mapping[str, Unit],
                          reporting: Iterable[str] | None = None) -> list[Uncovered]:
    """Units of the scope (retired ones left out) with nobody registered, then those with
    no officer (nobody to send their reports; of `reporting`, the units some template applies
    to, when given), each list by code."""
    roles = await storage.unit_roles()
    codes = sorted(units if scope is None else scope & units.keys())
    active = [units[c] for c in codes if units[c].retired_on is None]
    nobody = [Uncovered(u, True) for u in active if u.code not in roles]
    owing = None if reporting is None else set(reporting)
    no_officer = [Uncovered(u, False) for u in active
                  if u.code in roles and Role.OFFICER not in roles[u.code]
                  and (owing is None or u.code in owing)]
    return nobody + no_officer
