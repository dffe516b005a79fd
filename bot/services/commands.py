"""Every chat command, who may use it, and the help text built from this one list."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain import messages_vi as M
from bot.domain.roles import Role


@dataclass(frozen=True)
class Command:
    name: str
    roles: frozenset[Role] | None  # None: everyone, even before joining

    @property
    def description(self) -> str:
        return M.COMMAND_HELP[self.name]


ALL = None
OFFICER = frozenset({Role.OFFICER})
WATCHERS = frozenset({Role.OFFICER, Role.SUPERVISOR, Role.ADMIN})
SUPERVISORS = frozenset({Role.SUPERVISOR, Role.ADMIN})
ADMINS_ONLY = frozenset({Role.ADMIN})

COMMANDS: list[Command] = [
    Command("start", ALL),
    Command("baocao", OFFICER),
    Command("danhsach", OFFICER),
    Command("trangthai", WATCHERS),
    Command("huy", OFFICER),
    Command("lienket", WATCHERS),
    Command("nhapho", SUPERVISORS),
    Command("tonghop", SUPERVISORS),
    Command("quanly", ADMINS_ONLY),
    Command("thongbao", SUPERVISORS),  # supervisors only where the config allows it
    Command("giup", ALL),
]
BY_NAME = {c.name: c for c in COMMANDS}


def allowed(command: Command, roles: set[Role]) -> bool:
    return command.roles is None or bool(command.roles & roles)


def help_text(roles: set[Role]) -> str:
    lines = [M.HELP_HEADING]
    lines += [f"/{c.name} — {c.description}" for c in COMMANDS if allowed(c, roles)]
    if Role.OFFICER in roles:
        lines += ["", M.HELP_ANSWERING]
    return "\n".join(lines)
