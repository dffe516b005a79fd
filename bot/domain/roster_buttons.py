"""/quanly's buttons (bot.domain.buttons' pattern, prefixes "qm…"). Each names its unit,
person or invite by code or id, and is checked against the presser's subtrees when pressed."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.buttons import ButtonData


@dataclass(frozen=True)
class RosterUnit(ButtonData, prefix="qm"):
    """A unit's menu: invite, open invites, people, its child units."""

    unit: str


@dataclass(frozen=True)
class RosterChildren(ButtonData, prefix="qmc"):
    """The unit's child units, at `page`, a button each."""

    unit: str
    page: int = 0


@dataclass(frozen=True)
class RosterInviteRole(ButtonData, prefix="qmi"):
    """"➕ Tạo mã mời": which role."""

    unit: str


@dataclass(frozen=True)
class RosterInvite(ButtonData, prefix="qmic"):
    """Make the invite (officer, supervisor or admin)."""

    unit: str
    role: str


@dataclass(frozen=True)
class RosterInvites(ButtonData, prefix="qml"):
    """"📋 Mã mời đang mở" of the unit."""

    unit: str


@dataclass(frozen=True)
class RosterRevoke(ButtonData, prefix="qmr"):
    """Ask before revoking the invite."""

    code: str


@dataclass(frozen=True)
class RosterRevokeYes(ButtonData, prefix="qmry"):
    """Yes, revoke it."""

    code: str


@dataclass(frozen=True)
class RosterPeople(ButtonData, prefix="qmp"):
    """"👥 Người trong đơn vị", at `page`."""

    unit: str
    page: int = 0


@dataclass(frozen=True)
class RosterAskRole(ButtonData, prefix="qmo"):
    """"Đổi vai trò": the roles to pick."""

    unit: str
    person: int


@dataclass(frozen=True)
class RosterSetRole(ButtonData, prefix="qmoy"):
    """Give the person this role in the unit (instead of the ones they have)."""

    unit: str
    person: int
    role: str


@dataclass(frozen=True)
class RosterAskRemove(ButtonData, prefix="qmx"):
    """"Gỡ khỏi đơn vị": asked before it is done."""

    unit: str
    person: int


@dataclass(frozen=True)
class RosterRemoveYes(ButtonData, prefix="qmxy"):
    """Yes, take the person out of the unit."""

    unit: str
    person: int


@dataclass(frozen=True)
class RosterUncovered(ButtonData, prefix="qme"):
    """"🚫 Đơn vị chưa có ai", at `page`."""

    page: int = 0


ROSTER_BUTTONS = (RosterUnit, RosterChildren, RosterInviteRole, RosterInvite, RosterInvites,
                  RosterRevoke, RosterRevokeYes, RosterPeople, RosterAskRole, RosterSetRole,
                  RosterAskRemove, RosterRemoveYes, RosterUncovered)
