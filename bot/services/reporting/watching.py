"""Who watches which units: supervisors and admins, over their units' subtrees. Every digest,
review, nudge and file button is checked here when pressed (a forged or outdated one that
names a unit outside the presser's subtrees changes nothing)."""

from __future__ import annotations

from collections.abc import Mapping

from bot.domain.roles import Role
from bot.domain.units import Unit, ancestors_of
from bot.services.reporting.context import Ctx

WATCHING = (Role.SUPERVISOR, Role.ADMIN)


def watches(ctx: Ctx) -> bool:
    """Does the person supervise (or administer) any unit?"""
    return any(m.role in WATCHING for m in ctx.memberships)


def watched_roots(ctx: Ctx) -> list[str]:
    """The units the person supervises, in membership order."""
    return [m.unit.code for m in ctx.memberships if m.role in WATCHING]


def watches_unit(ctx: Ctx, code: str, units: Mapping[str, Unit]) -> bool:
    """Is `code` in the subtree of a unit the person supervises?"""
    return bool(set(watched_roots(ctx)) & ancestors_of(code, units))
