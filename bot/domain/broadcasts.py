"""Announcements (broadcasts): who they reach, what they say, where they stand. Pure.

An audience is a set of memberships (person, unit, role) selected by kinds of criteria:
within a kind the values are a union (two subtrees, two levels), across kinds an
intersection (the communes of district H1 that have not sent report R). A person is reached
once however many of their memberships are selected; retired units are never selected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from bot.domain import messages_vi as M
from bot.domain.periods import Period, PeriodError
from bot.domain.roles import Role
from bot.domain.templates import Level
from bot.domain.units import LEVEL_VI, Unit, ancestors_of, effective_org
from bot.domain.vnformat import number

# What a broadcast's state may be (the CHECK of migration 0014).
SCHEDULED, SENDING, DONE, CANCELLED = "scheduled", "sending", "done", "cancelled"

ROLE_VI = {Role.OFFICER: "cán bộ báo cáo", Role.SUPERVISOR: "cán bộ theo dõi",
           Role.ADMIN: "quản trị"}


class Audience(BaseModel):
    """Who a broadcast reaches; stored as JSON in `broadcasts.audience`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    units: tuple[str, ...] = ()  # subtree roots; empty = the sender's whole reach
    levels: tuple[Level, ...] = ()
    orgs: tuple[str, ...] = ()  # a unit's effective organisation
    roles: tuple[Role, ...] = ()  # empty = every role
    missing: tuple[str, str] | None = None  # (template id, period key): not sent yet
    follows: int | None = None  # recipients of that broadcast who have not confirmed it

    def to_json(self) -> str:
        return self.model_dump_json(exclude_defaults=True)

    @classmethod
    def from_json(cls, text: str) -> Audience:
        return cls.model_validate_json(text)


@dataclass(frozen=True)
class Attachment:
    """A file sent with a broadcast: a photo (shown) or a document (Telegram only)."""

    kind: Literal["photo", "document"]
    name: str
    data: bytes
    # Telegram: a file an admin sent in chat, re-sent by its id (data is then b""): no bytes
    # in the outbox rows, so no upload budget
    file_id: str | None = None


# What Telegram's sendPhoto takes, by the file's first bytes (anything else is refused by
# Telegram for every recipient: better refused before anything is queued).
PICTURE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a")
TEXT_MAX = 20_000  # characters: five Telegram messages; a wrong file is refused, not spammed


def is_picture(data: bytes) -> bool:
    """JPEG, PNG, GIF or WebP, by the first bytes."""
    return data.startswith(PICTURE_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


@dataclass(frozen=True)
class BroadcastDraft:
    audience: Audience
    text: str
    attachment: Attachment | None = None
    ack: bool = False  # ask recipients to confirm ("✅ Đã nhận")
    urgent: bool = False  # goes out in the quiet hours too
    send_at: datetime | None = None  # None: now (aware, any zone)


@dataclass(frozen=True)
class Preview:
    """What a broadcast would reach, shown before it is confirmed."""

    people: int
    units: int
    unreachable: int  # of `people`: known not to receive messages (blocked the bot)
    by_channel: dict[str, int] = field(default_factory=dict)  # people by their channel


@dataclass(frozen=True)
class BroadcastStatus:
    """Where a broadcast stands, counted by person (a person's parts count once)."""

    id: int
    state: str  # SCHEDULED, SENDING, DONE, CANCELLED
    recipients: int
    delivered: int  # every part sent
    unreachable: int
    failed: int
    pending: int  # the rest: not yet (fully) delivered
    acknowledged: int
    send_at: datetime
    created_by: int | None  # person id; None: the command line
    text: str
    ack: bool
    follows: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "state": self.state, "recipients": self.recipients,
                "delivered": self.delivered, "unreachable": self.unreachable,
                "failed": self.failed, "pending": self.pending,
                "acknowledged": self.acknowledged}


class BroadcastRefused(Exception):
    """A broadcast (or an action on one) that cannot be done: `.message` for chat
    (Vietnamese), `.reason` for the command line (English)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Recipient:
    """A person reached, with the unit (code) they are reached through: the first selected
    of their memberships, by unit code (so the same audience gives the same units)."""

    person_id: int
    unit: str


Member = tuple[int, str, Role]  # person id, unit code, role


def select(audience: Audience, members: Iterable[Member], units: Mapping[str, Unit],
           reach: Iterable[str] | None, *,
           missing: Callable[[str], bool] | None = None,
           unconfirmed: set[int] | None = None) -> list[Recipient]:
    """The recipients of an audience, by person id.

    `reach`: the subtree roots the sender may address (None: the whole tree, the command
    line); `audience.units`, when given, narrows it (the caller checks they are inside).
    `missing(code)` says whether a unit owes the report of `audience.missing` and has not sent
    it; `unconfirmed` the people of `audience.follows` who have not confirmed."""
    roots = set(audience.units) or (set(reach) if reach is not None else None)
    levels, orgs, roles = set(audience.levels), set(audience.orgs), set(audience.roles)
    outside: set[str] = set()
    inside: set[str] = set()

    def selected(code: str) -> bool:
        if code in inside:
            return True
        if code in outside:
            return False
        unit = units.get(code)
        ok = (unit is not None and not unit.retired
              and (roots is None or bool(ancestors_of(code, units) & roots))
              and (not levels or unit.level in levels)
              and (not orgs or effective_org(code, units) in orgs)
              and (missing is None or audience.missing is None or missing(code)))
        (inside if ok else outside).add(code)
        return ok

    found: dict[int, str] = {}
    for person, code, role in sorted(members, key=lambda m: (m[0], m[1])):
        if person in found or (roles and role not in roles):
            continue
        if unconfirmed is not None and person not in unconfirmed:
            continue
        if selected(code):
            found[person] = code
    return [Recipient(p, u) for p, u in sorted(found.items())]


def describe(audience: Audience, unit_names: Mapping[str, str] | None = None,
             report_titles: Mapping[str, str] | None = None) -> str:
    """A one-line Vietnamese summary of an audience, for previews and lists (units and
    reports by name where the caller gives them)."""
    names = unit_names or {}
    parts: list[str] = []
    if audience.units:
        parts.append(", ".join(names.get(c, c) for c in audience.units))
    else:
        parts.append(M.BROADCAST_WHOLE_REACH)
    if audience.levels:
        parts.append("cấp " + ", ".join(LEVEL_VI[level] for level in audience.levels))
    if audience.orgs:
        parts.append("tổ chức " + ", ".join(audience.orgs))
    if audience.roles:
        parts.append(", ".join(ROLE_VI[r] for r in audience.roles))
    if audience.missing is not None:
        template, period = audience.missing
        try:
            label = Period.parse(period).label_vi()
        except PeriodError:
            label = period
        parts.append(M.broadcast_missing_part((report_titles or {}).get(template, template),
                                              label))
    if audience.follows is not None:
        parts.append(M.broadcast_follows_part(audience.follows))
    return " · ".join(parts)


def preview_of(recipients: list[Recipient], people: Mapping[int, tuple[str, bool]]) -> Preview:
    """Counts of a selection; `people`: id → (channel, reachable)."""
    by_channel: dict[str, int] = {}
    unreachable = 0
    for r in recipients:
        channel, reachable = people.get(r.person_id, ("?", False))
        by_channel[channel] = by_channel.get(channel, 0) + 1
        unreachable += not reachable
    return Preview(len(recipients), len({r.unit for r in recipients}), unreachable,
                   dict(sorted(by_channel.items())))


def preview_line(p: Preview) -> str:
    """"1.234 người · 56 đơn vị · 7 không nhận được" (Vietnamese numbers)."""
    line = f"{number(p.people)} người · {number(p.units)} đơn vị"
    if p.unreachable:
        line += f" · {number(p.unreachable)} không nhận được"
    return line
