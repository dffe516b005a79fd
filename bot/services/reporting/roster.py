"""/quanly: admins manage the people and invites of their subtrees in chat.

/quanly shows the unit the admin administers (or a button per unit when several); a unit's
menu offers "➕ Tạo mã mời", "📋 Mã mời đang mở", "👥 Người trong đơn vị", its child units
(paged) and "🚫 Đơn vị chưa có ai". Removing a person and revoking an invite are asked before
they are done. The work is bot.services.roster's, shared with the command line; every button
is checked there again when pressed (a forged one naming another subtree changes nothing), and
every change is audited with the admin as actor (person:ID).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from bot.domain import messages_vi as M
from bot.domain.dialogue import Button, Reply
from bot.domain.roles import Role
from bot.domain.roster_buttons import (
    ROSTER_BUTTONS,
    RosterAskRemove,
    RosterAskRole,
    RosterChildren,
    RosterInvite,
    RosterInviteRole,
    RosterInvites,
    RosterPeople,
    RosterRemoveYes,
    RosterRevoke,
    RosterRevokeYes,
    RosterSetRole,
    RosterUncovered,
    RosterUnit,
)
from bot.domain.units import Unit
from bot.services import roster
from bot.services.invites import invite_link
from bot.services.reporting.context import Ctx, Deps
from bot.services.roster import Denied, Why
from storage.models import Member

PAGE = 10  # units, people or invites a page
__all__ = ["ROSTER_BUTTONS", "press", "start"]
RosterPress = (RosterUnit | RosterChildren | RosterInviteRole | RosterInvite | RosterInvites
               | RosterRevoke | RosterRevokeYes | RosterPeople | RosterAskRole | RosterSetRole
               | RosterAskRemove | RosterRemoveYes | RosterUncovered)


def is_admin(ctx: Ctx) -> bool:
    return Role.ADMIN in {m.role for m in ctx.memberships}


def _actor(ctx: Ctx) -> str:
    return f"person:{ctx.person.id}"


def _paging(page: int, pages: int, make: type, *args: object) -> list[list[Button]]:
    row = []
    if page > 0:
        row.append(Button.of(M.DIGEST_PAGE_BACK, make(*args, page - 1), "truoc"))
    if page + 1 < pages:
        row.append(Button.of(M.DIGEST_PAGE_NEXT, make(*args, page + 1), "sau"))
    return [row] if row else []


async def start(deps: Deps, ctx: Ctx) -> list[Reply]:
    """/quanly: the one unit administered, or a button per unit."""
    if not is_admin(ctx):
        return [Reply(M.ROSTER_ADMINS_ONLY)]
    roots = list(dict.fromkeys(m.unit.code for m in ctx.memberships if m.role is Role.ADMIN))
    if len(roots) == 1:
        return await unit_menu(deps, ctx, RosterUnit(roots[0]))
    tree = await deps.units.tree()
    rows = [[Button.of(tree.units[c].name, RosterUnit(c))] for c in roots if c in tree.units]
    return [Reply(M.ROSTER_PICK, rows, numbered=True)]


async def press(deps: Deps, ctx: Ctx, data: RosterPress) -> list[Reply]:
    """A /quanly button: refused to anyone but an admin, then checked by the service."""
    if not is_admin(ctx):
        return [Reply(M.ROSTER_ADMINS_ONLY)]
    try:
        return await _ACTIONS[type(data)](deps, ctx, data)
    except Denied as e:
        return [Reply(_denied(e))]


def _denied(e: Denied) -> str:
    return {
        Why.NOT_YOURS: M.ROSTER_NOT_YOURS,
        Why.UNKNOWN_UNIT: M.ROSTER_NOT_YOURS,
        Why.UNKNOWN_INVITE: M.ROSTER_UNKNOWN_INVITE,
        Why.REVOKED: M.ROSTER_ALREADY_REVOKED,
        Why.NOT_MEMBER: M.ROSTER_NOT_MEMBER,
        Why.LAST_ADMIN: M.ROSTER_LAST_ADMIN,
        Why.RETIRED: M.ROSTER_RETIRED,
    }[e.why]


async def _scope(deps: Deps, ctx: Ctx) -> tuple[frozenset[str], dict[str, Unit]]:
    tree = await deps.units.tree()
    return roster.admin_scope(ctx.memberships, tree.units.values()), tree.units


async def _unit(deps: Deps, ctx: Ctx, code: str) -> tuple[Unit, frozenset[str],
                                                         dict[str, Unit]]:
    scope, units = await _scope(deps, ctx)
    if code not in units or code not in scope:
        raise Denied(Why.NOT_YOURS, code)
    return units[code], scope, units


async def unit_menu(deps: Deps, ctx: Ctx, data: RosterUnit) -> list[Reply]:
    unit, scope, units = await _unit(deps, ctx, data.unit)
    members = await deps.storage.members([unit.code])
    people = {m.person_id for m in members}
    officers = {m.person_id for m in members if m.role is Role.OFFICER}
    children = [u for u in units.values() if u.parent_code == unit.code]
    rows = [[Button.of(M.ROSTER_INVITE, RosterInviteRole(unit.code))],
            [Button.of(M.ROSTER_INVITES, RosterInvites(unit.code))],
            [Button.of(M.ROSTER_PEOPLE, RosterPeople(unit.code))]]
    if children:
        rows.append([Button.of(M.roster_children_button(len(children)),
                               RosterChildren(unit.code))])
    rows.append([Button.of(M.ROSTER_UNCOVERED, RosterUncovered())])
    if unit.parent_code is not None and unit.parent_code in scope:
        rows.append([Button.of(M.roster_up_button(units[unit.parent_code].name),
                               RosterUnit(unit.parent_code))])
    text = M.roster_unit(unit.name, len(people), len(officers), len(children))
    return [Reply(text, rows, numbered=True)]


async def children(deps: Deps, ctx: Ctx, data: RosterChildren) -> list[Reply]:
    unit, _, units = await _unit(deps, ctx, data.unit)
    kids = sorted((u for u in units.values() if u.parent_code == unit.code),
                  key=lambda u: u.code)
    pages = max(1, -(-len(kids) // PAGE))
    page = min(data.page, pages - 1)
    shown = kids[page * PAGE:(page + 1) * PAGE]
    rows = [[Button.of(u.name, RosterUnit(u.code))] for u in shown]
    rows += _paging(page, pages, RosterChildren, unit.code)
    rows.append([Button.of(M.ROSTER_BACK_UNIT, RosterUnit(unit.code))])
    return [Reply(M.roster_children(unit.name, page + 1, pages), rows, numbered=True)]


async def invite_role(deps: Deps, ctx: Ctx, data: RosterInviteRole) -> list[Reply]:
    unit, _, _ = await _unit(deps, ctx, data.unit)
    rows = [[Button.of(M.roster_role_button(r), RosterInvite(unit.code, r.value))]
            for r in (Role.OFFICER, Role.SUPERVISOR, Role.ADMIN)]
    rows.append([Button.of(M.ROSTER_BACK_UNIT, RosterUnit(unit.code))])
    return [Reply(M.roster_pick_role(unit.name), rows, numbered=True)]


async def make_invite(deps: Deps, ctx: Ctx, data: RosterInvite) -> list[Reply]:
    try:
        role = Role(data.role)
    except ValueError:
        return [Reply(M.STALE)]
    scope, units = await _scope(deps, ctx)
    invite = await roster.new_invite(deps.storage, scope, data.unit, role, _actor(ctx),
                                     ctx.now, units)
    from bot.app import BOT_USERNAME_KEY  # the app module imports this one

    username = await deps.storage.get_setting(BOT_USERNAME_KEY)
    until = deps.local(invite.expires_at or ctx.now + timedelta(days=roster.CHAT_INVITE_DAYS))
    text = M.roster_invite_made(invite.code, units[data.unit].name, role,
                                invite_link(username, invite.code), until,
                                roster.CHAT_INVITE_DAYS)
    return [Reply(text, [[Button.of(M.ROSTER_BACK_UNIT, RosterUnit(data.unit))]])]


async def invites(deps: Deps, ctx: Ctx, data: RosterInvites) -> list[Reply]:
    unit, scope, units = await _unit(deps, ctx, data.unit)
    found = await roster.open_invites(deps.storage, scope, [unit.code], ctx.now, units)
    back = [[Button.of(M.ROSTER_BACK_UNIT, RosterUnit(unit.code))]]
    if not found:
        return [Reply(M.ROSTER_NO_INVITES, back)]
    shown = found[:PAGE * 2]  # one use each from chat: a unit rarely has more open
    lines = [M.roster_invite_line(i.code, i.role, i.uses, i.max_uses,
                                  deps.local(i.expires_at) if i.expires_at else None)
             for i in shown]
    rows = [[Button.of(M.roster_revoke_button(i.code), RosterRevoke(i.code))] for i in shown]
    return [Reply(M.roster_invites(unit.name, lines), rows + back, numbered=True)]


async def ask_revoke(deps: Deps, ctx: Ctx, data: RosterRevoke) -> list[Reply]:
    scope, units = await _scope(deps, ctx)
    invite = await deps.storage.find_invite(data.code)
    if invite is None or invite.unit_code not in scope:
        raise Denied(Why.NOT_YOURS if invite else Why.UNKNOWN_INVITE, data.code)
    if invite.revoked_at is not None:
        raise Denied(Why.REVOKED, data.code)
    rows = [[Button.of(M.ROSTER_REVOKE_YES, RosterRevokeYes(invite.code)),
             Button.of(M.ROSTER_NO, RosterInvites(invite.unit_code))]]
    return [Reply(M.roster_ask_revoke(invite.code, units[invite.unit_code].name, invite.role),
                  rows, numbered=True)]


async def revoke(deps: Deps, ctx: Ctx, data: RosterRevokeYes) -> list[Reply]:
    scope, _ = await _scope(deps, ctx)
    invite = await roster.revoke(deps.storage, scope, data.code, _actor(ctx), ctx.now)
    return [Reply(M.roster_revoked(invite.code),
                  [[Button.of(M.ROSTER_INVITES, RosterInvites(invite.unit_code))]])]


def _grouped(members: list[Member]) -> list[list[Member]]:
    """One entry per person (their roles in the unit together), in the listing's order."""
    out: dict[int, list[Member]] = {}
    for m in members:
        out.setdefault(m.person_id, []).append(m)
    return list(out.values())


async def people(deps: Deps, ctx: Ctx, data: RosterPeople) -> list[Reply]:
    unit, scope, units = await _unit(deps, ctx, data.unit)
    everyone = _grouped(await roster.people(deps.storage, scope, [unit.code], units))
    back = [[Button.of(M.ROSTER_BACK_UNIT, RosterUnit(unit.code))]]
    if not everyone:
        return [Reply(M.ROSTER_NO_PEOPLE, [[Button.of(M.ROSTER_INVITE,
                                                      RosterInviteRole(unit.code))], *back])]
    pages = -(-len(everyone) // PAGE)
    page = min(data.page, pages - 1)
    lines, rows = [], []
    for i, roles in enumerate(everyone[page * PAGE:(page + 1) * PAGE], 1):
        m = roles[0]
        last = deps.local(m.last_active) if m.last_active else None
        lines.append(M.roster_person_line(i, m.display_name, [r.role for r in roles],
                                          [m.channel, *m.linked], last, m.reachable))
        name = m.display_name or str(m.person_id)
        rows.append([Button.of(M.roster_person_role_button(name),
                               RosterAskRole(unit.code, m.person_id)),
                     Button.of(M.roster_person_remove_button(name),
                               RosterAskRemove(unit.code, m.person_id))])
    rows += _paging(page, pages, RosterPeople, unit.code)
    text = M.roster_people(unit.name, len(everyone), page + 1, pages, lines)
    return [Reply(text, rows + back, numbered=True)]


async def _member(deps: Deps, ctx: Ctx, code: str, person_id: int) -> tuple[Unit, list[Member]]:
    unit, _, _ = await _unit(deps, ctx, code)
    found = [m for m in await deps.storage.members([unit.code]) if m.person_id == person_id]
    if not found:
        raise Denied(Why.NOT_MEMBER, str(person_id))
    return unit, found


async def ask_role(deps: Deps, ctx: Ctx, data: RosterAskRole) -> list[Reply]:
    unit, found = await _member(deps, ctx, data.unit, data.person)
    had = [m.role for m in found]
    rows = [[Button.of(M.roster_role_button(r), RosterSetRole(unit.code, data.person, r.value))]
            for r in (Role.OFFICER, Role.SUPERVISOR, Role.ADMIN) if [r] != had]
    rows.append([Button.of(M.ROSTER_NO, RosterPeople(unit.code))])
    return [Reply(M.roster_ask_new_role(found[0].display_name, unit.name, had), rows,
                  numbered=True)]


async def set_role(deps: Deps, ctx: Ctx, data: RosterSetRole) -> list[Reply]:
    try:
        role = Role(data.role)
    except ValueError:
        return [Reply(M.STALE)]
    unit, found = await _member(deps, ctx, data.unit, data.person)
    scope, units = await _scope(deps, ctx)
    await roster.change_role(deps.storage, scope, data.person, unit.code, role, _actor(ctx),
                             units)
    deps.roster_changed.add(data.person)
    return [Reply(M.roster_role_changed(found[0].display_name, unit.name, role),
                  [[Button.of(M.ROSTER_PEOPLE, RosterPeople(unit.code))]])]


async def ask_remove(deps: Deps, ctx: Ctx, data: RosterAskRemove) -> list[Reply]:
    unit, found = await _member(deps, ctx, data.unit, data.person)
    rows = [[Button.of(M.ROSTER_REMOVE_YES, RosterRemoveYes(unit.code, data.person)),
             Button.of(M.ROSTER_NO, RosterPeople(unit.code))]]
    return [Reply(M.roster_ask_remove(found[0].display_name, unit.name,
                                      [m.role for m in found]), rows, numbered=True)]


async def remove(deps: Deps, ctx: Ctx, data: RosterRemoveYes) -> list[Reply]:
    unit, found = await _member(deps, ctx, data.unit, data.person)
    scope, units = await _scope(deps, ctx)
    await roster.remove(deps.storage, scope, data.person, unit.code, _actor(ctx), units)
    deps.roster_changed.add(data.person)
    return [Reply(M.roster_removed(found[0].display_name, unit.name),
                  [[Button.of(M.ROSTER_PEOPLE, RosterPeople(unit.code))]])]


async def uncovered(deps: Deps, ctx: Ctx, data: RosterUncovered) -> list[Reply]:
    scope, units = await _scope(deps, ctx)
    tree = await deps.units.tree()
    reporting = set().union(*tree.applicable.values()) if tree.applicable else set()
    found = await roster.uncovered_units(deps.storage, scope, units, reporting)
    if not found:
        return [Reply(M.ROSTER_ALL_COVERED)]
    pages = -(-len(found) // PAGE)
    page = min(data.page, pages - 1)
    shown = found[page * PAGE:(page + 1) * PAGE]
    lines = [M.roster_uncovered_line(i, u.unit.name, u.nobody)
             for i, u in enumerate(shown, 1)]
    rows = [[Button.of(u.unit.name, RosterUnit(u.unit.code))] for u in shown]
    rows += _paging(page, pages, RosterUncovered)
    nobody = sum(1 for u in found if u.nobody)
    text = M.roster_uncovered(nobody, len(found) - nobody, page + 1, pages, lines)
    return [Reply(text, rows, numbered=True, listed=True)]


_ACTIONS: dict[type, Callable[[Deps, Ctx, Any], Awaitable[list[Reply]]]] = {
    RosterUnit: unit_menu, RosterChildren: children, RosterInviteRole: invite_role,
    RosterInvite: make_invite, RosterInvites: invites, RosterRevoke: ask_revoke,
    RosterRevokeYes: revoke, RosterPeople: people, RosterAskRole: ask_role,
    RosterSetRole: set_role, RosterAskRemove: ask_remove, RosterRemoveYes: remove,
    RosterUncovered: uncovered,
}
