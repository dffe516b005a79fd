"""Records read from storage, and the changes one inbound event writes (applied atomically)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.domain.roles import Role
from bot.domain.units import Unit


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    channel: str
    external_id: str
    display_name: str
    reachable: bool = True


@dataclass(frozen=True, slots=True)
class Membership:
    unit: Unit
    role: Role


@dataclass(frozen=True, slots=True)
class Invite:
    code: str
    unit_code: str
    role: Role
    max_uses: int
    uses: int = 0
    expires_at: datetime | None = None
    created_at: datetime | None = None  # read back from storage (None when just made)
    created_by: str = ""  # the audit's actor: 'cli', 'person:12'
    revoked_at: datetime | None = None

    def is_open(self, now: datetime) -> bool:
        """Can someone still join with it?"""
        return (self.revoked_at is None and self.uses < self.max_uses
                and (self.expires_at is None or now < self.expires_at))


@dataclass(frozen=True, slots=True)
class Member:
    """One person's place in one unit, for the roster (`baocao people list`, /quanly)."""

    person_id: int
    display_name: str
    channel: str  # the channel they joined with
    linked: tuple[str, ...]  # other channels linked to them (/lienket)
    reachable: bool
    unit_code: str
    role: Role
    joined_at: datetime
    last_active: datetime | None  # their latest answer, report, review or join


@dataclass(frozen=True, slots=True)
class Draft:
    id: int
    unit_code: str
    template_id: str
    template_version: int
    period: str
    answers: dict[str, Any]  # question id → value (None = skipped)
    reopened_from: int | None
    updated_at: datetime
    started_by: int = 0  # person id
    answered_by: dict[str, int] = field(default_factory=dict)  # question id → person id


# Where a submission came from (the `source` column, migration 0011).
SOURCE_CHAT = "chat"  # an officer of the unit, in chat
SOURCE_ON_BEHALF = "on_behalf"  # a supervisor, in chat, for the unit ("nhập hộ")
SOURCE_IMPORT = "import"  # `baocao submissions import`


@dataclass(frozen=True, slots=True)
class Submission:
    id: int
    unit_code: str
    template_id: str
    template_version: int
    period: str
    version: int
    submitted_by: int | None  # None: imported from a file
    submitted_at: datetime
    due_at: datetime
    on_time: bool  # of the first version: a correction does not make a report late
    first_submitted_at: datetime
    answers: dict[str, Any]
    source: str = SOURCE_CHAT  # SOURCE_CHAT, SOURCE_ON_BEHALF or SOURCE_IMPORT
    entered_by: int | None = None  # who entered it (None: the command line)


# --- changes ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartDraft:
    unit_code: str
    template_id: str
    template_version: int
    period: str
    reopened_from: int | None = None
    answers: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SaveAnswer:
    draft_id: int
    question_id: str
    value: Any


@dataclass(frozen=True, slots=True)
class DeleteDraft:
    draft_id: int


@dataclass(frozen=True, slots=True)
class RebaseDraft:
    """Make a draft a correction of `version`: a report was stored meanwhile by another way
    (a file import), so what the draft sends next must be shown and sent as a correction."""

    draft_id: int
    version: int


@dataclass(frozen=True, slots=True)
class Submit:
    draft_id: int
    unit_code: str
    template_id: str
    template_version: int
    period: str
    answers: dict[str, Any]
    submitted_at: datetime
    due_at: datetime
    on_time: bool
    changed: dict[str, Any] | None = None  # for corrections: question → [old, new]
    seen: dict[str, Any] | None = None  # the draft's answers the officer reviewed
    source: str = SOURCE_CHAT  # SOURCE_ON_BEHALF when a supervisor entered it for the unit
    # The version this one replaces (the draft's `reopened_from`; None for a first report):
    # checked when stored, so a report imported meanwhile is never silently replaced.
    replaces: int | None = None


@dataclass(frozen=True, slots=True)
class ImportedReport:
    """One unit's report read from a file by `baocao submissions import`."""

    unit_code: str
    template_id: str
    template_version: int
    period: str
    answers: dict[str, Any]
    due_at: datetime
    line: int  # the file line it came from (named in the audit)


@dataclass(frozen=True, slots=True)
class Notice:
    """A line told once to `person_id` on their next message (a colleague replaced their
    answer, or cancelled a draft holding them). `key` is chosen by the service, so what it
    showed is what it deletes."""

    key: str
    person_id: int
    text: str


@dataclass(frozen=True, slots=True)
class AddNotice:
    notice: Notice


@dataclass(frozen=True, slots=True)
class DropNotices:
    """The notices shown by this event's reply."""

    keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Review:
    """A supervisor approves or returns `version` of a unit's report: written only while that
    version is the latest and has no review yet (storage checks, in the transaction)."""

    unit_code: str
    template_id: str
    period: str
    version: int
    action: str  # 'approve' | 'return'
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ReviewState:
    """The review of a report's latest version."""

    action: str  # 'approve' | 'return'
    reason: str | None
    person_id: int
    at: datetime

    @property
    def status(self) -> str:
        return "approved" if self.action == "approve" else "returned"


@dataclass(frozen=True, slots=True)
class Nudge:
    """Reminders sent by hand ("Nhắc các đơn vị chưa gửi") to `units` (unit, people reached),
    recorded in the reminder ledger as `kind` ("nudge-<UTC time>"). Checked in the
    transaction: a unit with a nudge of kind > `since` (another supervisor's, just now)
    refuses the whole event (NudgeRefused), so no unit is nudged twice within the interval."""

    template_id: str
    period: str
    kind: str
    since: str
    units: tuple[tuple[str, int], ...]


Op = (StartDraft | SaveAnswer | DeleteDraft | RebaseDraft | Submit | AddNotice | DropNotices
      | Review | Nudge)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message for the outbox: the channel's own call (JSON), for one chat."""

    channel: str
    chat_id: str
    payload: str
    person_id: int | None = None
    event_id: str | None = None  # the event it answers; None for a push
    priority: int = 0  # 0 replies, 1 reminders, 2 broadcasts: lower goes first


@dataclass(frozen=True, slots=True)
class Stored:
    """An outbox row still to deliver (read back after a restart or for a repeated event)."""

    id: int
    message: Outgoing
    state: str = "pending"


@dataclass
class Changes:
    """Everything one inbound event writes; `event` = (channel, event id) for de-duplication.

    `outbox` (the event's replies) is written in the same transaction; the writer fills
    `outbox_ids` with their row ids. `inbox` (updates just fetched) and `settled` (outbox rows
    delivered or given up: id → state) ride along in the same group commit when there is no
    event, so they cost no transaction of their own under load."""

    actor: int
    event: tuple[str, str] | None = None
    ops: list[Op] = field(default_factory=list)
    conversation: tuple[int, dict[str, Any]] | None = None
    outbox: list[Outgoing] = field(default_factory=list)
    outbox_ids: list[int] = field(default_factory=list)
    inbox: list[tuple[str, str, str]] = field(default_factory=list)  # channel, event id, JSON
    settled: list[tuple[int, str]] = field(default_factory=list)
    reply_marks: list[tuple[str, str, int]] = field(default_factory=list)  # channel, chat, id
