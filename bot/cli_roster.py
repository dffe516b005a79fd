"""`baocao invite list|revoke` and `baocao people list|remove|role`: the roster on the command
line, through the same functions as /quanly in chat (bot.services.roster), with every unit in
scope and 'cli' as the audit's actor."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from bot.cli import EXIT_OK, CommandError, _open_storage, load
from bot.domain.roles import Role
from bot.domain.units import Unit, clean_code
from bot.services import roster
from bot.services.roster import Denied, Why
from storage.interface import Storage

T = TypeVar("T")
ACTOR = "cli"


def _why(e: Denied, args: argparse.Namespace) -> str:
    unit = getattr(args, "unit", None)
    return {
        Why.UNKNOWN_UNIT: f"--unit: unknown unit {e.subject!r} (see `baocao units list`)",
        Why.NOT_YOURS: f"--unit: unknown unit {e.subject!r} (see `baocao units list`)",
        Why.UNKNOWN_INVITE: f"no invite {e.subject!r} (see `baocao invite list --all`)",
        Why.REVOKED: f"invite {e.subject} is revoked already",
        Why.NOT_MEMBER: f"--person {getattr(args, 'person', '?')} is not in unit {unit} (see "
                        f"`baocao people list --unit {unit}`)",
        Why.LAST_ADMIN: "the unit's last admin cannot remove themself",
        Why.RETIRED: f"unit {e.subject} is retired: it takes nobody new",
    }[e.why]


def _run(args: argparse.Namespace,
         work: Callable[[Storage, dict[str, Unit]], Awaitable[T]]) -> T:
    config = load(args)

    async def go() -> T:
        storage = await _open_storage(config)
        try:
            units = {u.code: u for u in await storage.list_units()}
            return await work(storage, units)
        except Denied as e:
            raise CommandError(_why(e, args)) from e
        finally:
            await storage.close()

    return asyncio.run(go())


def _zone(args: argparse.Namespace) -> Any:
    return load(args).zone


def _now() -> Any:
    from bot.app import system_clock

    return system_clock()


def _code(text: str, units: dict[str, Unit]) -> str:
    """A unit code as typed: its case need not match when only one unit fits (as `digest
    --unit` and `broadcast create --unit` read it)."""
    code = clean_code(text)
    same = [c for c in units if c.casefold() == code.casefold()]
    return code if code in units or len(same) != 1 else same[0]


def _unit_arg(args: argparse.Namespace, units: dict[str, Unit]) -> list[str] | None:
    return [_code(args.unit, units)] if args.unit else None


def cmd_invite_list(args: argparse.Namespace) -> int:
    """Print the open invites (all with --all), newest first."""
    zone = _zone(args)
    now = _now()

    async def work(storage: Storage, units: dict[str, Unit]) -> list[Any]:
        codes = _unit_arg(args, units)
        if args.all:
            for code in codes or []:
                if code not in units:
                    raise Denied(Why.UNKNOWN_UNIT, code)
            return await storage.invites(codes)
        return await roster.open_invites(storage, None, codes, now, units)

    found = _run(args, work)
    rows = [{"code": i.code, "unit": i.unit_code, "role": i.role.value, "uses": i.uses,
             "max_uses": i.max_uses,
             "expires_at": i.expires_at.astimezone(zone).isoformat() if i.expires_at else None,
             "created_by": i.created_by,
             "state": ("revoked" if i.revoked_at else "open" if i.is_open(now)
                       else "used" if i.uses >= i.max_uses else "expired")} for i in found]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return EXIT_OK
    for r in rows:
        expires = r["expires_at"][:10] if r["expires_at"] else "never"
        print(f"{r['code']}  {r['unit']}  {r['role']}  used {r['uses']}/{r['max_uses']}  "
              f"expires {expires}  {r['state']}")
    return EXIT_OK


def cmd_invite_revoke(args: argparse.Namespace) -> int:
    """Revoke an invite: nobody can join with it any more (those who did stay)."""
    now = _now()

    async def work(storage: Storage, units: dict[str, Unit]) -> Any:
        return await roster.revoke(storage, None, args.code, ACTOR, now)

    invite = _run(args, work)
    print(f"revoked {invite.code} (unit {invite.unit_code}, role {invite.role.value})")
    return EXIT_OK


def cmd_people_list(args: argparse.Namespace) -> int:
    """Print the people of a unit (every unit without --unit): role, channel, last activity."""
    zone = _zone(args)

    async def work(storage: Storage, units: dict[str, Unit]) -> list[Any]:
        return await roster.people(storage, None, _unit_arg(args, units), units)

    rows = [{"person": m.person_id, "name": m.display_name, "unit": m.unit_code,
             "role": m.role.value, "channels": [m.channel, *m.linked],
             "reachable": m.reachable,
             "last_active": m.last_active.astimezone(zone).isoformat() if m.last_active
             else None} for m in _run(args, work)]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return EXIT_OK
    for r in rows:
        seen = r["last_active"][:10] if r["last_active"] else "never"
        mark = "" if r["reachable"] else "  unreachable"
        print(f"{r['person']}  {r['name'] or '-'}  {r['unit']}  {r['role']}  "
              f"{'+'.join(r['channels'])}  last active {seen}{mark}")
    return EXIT_OK


def cmd_people_remove(args: argparse.Namespace) -> int:
    """Take a person out of a unit; the unit's reports and drafts stay."""
    async def work(storage: Storage, units: dict[str, Unit]) -> tuple[str, list[Role]]:
        code = _code(args.unit, units)
        return code, await roster.remove(storage, None, args.person, code, ACTOR, units)

    code, roles = _run(args, work)
    print(f"removed person {args.person} from {code} "
          f"(was {', '.join(r.value for r in roles)})")
    return EXIT_OK


def cmd_people_role(args: argparse.Namespace) -> int:
    """Make ROLE the person's role in the unit."""
    async def work(storage: Storage, units: dict[str, Unit]) -> tuple[str, list[Role]]:
        code = _code(args.unit, units)
        return code, await roster.change_role(storage, None, args.person, code,
                                              Role(args.role), ACTOR, units)

    code, roles = _run(args, work)
    print(f"person {args.person} in {code}: "
          f"{', '.join(r.value for r in roles)} -> {args.role}")
    return EXIT_OK


def register(sub: Any, invites: Any) -> None:
    """The subcommands, under `baocao invite` (`invites`) and a new `baocao people`."""
    p = invites.add_parser("list", help="list open invite codes (--all: revoked, used and "
                           "expired ones too)")
    p.add_argument("--unit", help="only this unit's")
    p.add_argument("--all", action="store_true", help="every invite, with its state")
    p.add_argument("--json", action="store_true", help="print one JSON array")
    p.set_defaults(handler=cmd_invite_list)
    p = invites.add_parser("revoke", help="revoke an invite code (people who joined stay)")
    p.add_argument("code", help="the invite code")
    p.set_defaults(handler=cmd_invite_revoke)

    people = sub.add_parser("people", help="who is registered in which unit")
    psub = people.add_subparsers(dest="people_command", metavar="ACTION", required=True)
    p = psub.add_parser("list", help="people with their unit, role, channel and last activity")
    p.add_argument("--unit", help="only this unit's")
    p.add_argument("--json", action="store_true", help="print one JSON array")
    p.set_defaults(handler=cmd_people_list)
    p = psub.add_parser("remove", help="take a person out of a unit (the unit's reports and "
                        "drafts stay)")
    p.add_argument("--person", type=int, required=True, help="person id (see `people list`)")
    p.add_argument("--unit", required=True, help="unit code")
    p.set_defaults(handler=cmd_people_remove)
    p = psub.add_parser("role", help="change a person's role in a unit")
    p.add_argument("--person", type=int, required=True, help="person id (see `people list`)")
    p.add_argument("--unit", required=True, help="unit code")
    p.add_argument("--role", required=True, choices=[r.value for r in Role])
    p.set_defaults(handler=cmd_people_role)
