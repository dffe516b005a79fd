"""Who watches which units: supervisors and admins, over their units' subtrees. Every digest,
review, nudge and file button is checked here when pressed (a forged or outdated one that
names a unit outside the presser's subtrees changes nothing)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.domain import messages_vi as M
from bot.domain.dialogue import Reply
from bot.domain.periods import Period, PeriodError
from bot.domain.roles import Role
from bot.domain.templates import Template
from bot.domain.units import Unit, ancestors_of
from bot.services.reporting.context import Ctx, Deps
from bot.services.units import UnitTree

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


@dataclass(frozen=True, slots=True)
class Pressed:
    """What a digest, nudge or file button names, checked."""

    tree: UnitTree
    template: Template
    period: Period


async def pressed_digest(deps: Deps, ctx: Ctx, unit: str, template: str, period: str, *,
                         asked: bool = True) -> Pressed | Reply:
    """A button over a unit's report for a period, checked when pressed: "Nút này đã cũ" for an
    unknown unit, template or period (or, with `asked`, one the template does not ask for);
    "not yours" for a unit outside the presser's subtrees."""
    tree = await deps.units.tree()
    t = deps.templates.get(template)
    if unit not in tree.units or t is None:
        return Reply(M.STALE)
    if not watches_unit(ctx, unit, tree.units):
        return Reply(M.DIGEST_NOT_YOURS)
    try:
        p = Period.parse(period)
    except PeriodError:
        return Reply(M.STALE)
    if asked and not t.asks_for(p):
        return Reply(M.STALE)
    return Pressed(tree, t, p)
