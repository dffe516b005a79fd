"""What the services ask of storage. `storage.sqlite.SqliteStorage` implements it today; the
services type against this Protocol only, so another database can come in behind it.

Reads return records of `storage.models`; every write of one inbound event is one `Changes`
applied atomically by `apply`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from bot.domain.roles import Role
from bot.domain.templates import Template
from bot.domain.units import Unit
from storage.models import (
    Changes,
    Draft,
    Invite,
    Membership,
    Notice,
    Outgoing,
    Person,
    ReviewState,
    Stored,
    Submission,
)

ReminderRow = tuple[str, str, str, str, str, str, int]  # unit, template, period, kind, status,
#                                                        scheduled at, recipients
ReminderKey = tuple[str, str, str, str]  # unit, template, period, kind
DigestKey = tuple[int, str, str, str, str]  # person, template, period, root unit, kind
# key, status ('sent', 'skipped', 'empty'), scheduled at (ISO), the messages carrying it
DigestRecord = tuple[DigestKey, str, str, list[Outgoing]]


class DraftChanged(Exception):
    """A draft was sent, cancelled or changed by someone else between reading and writing."""


class ReviewRefused(DraftChanged):
    """A review of a version that is no longer the latest, or that was already reviewed;
    `args[0]` is 'resubmitted' or the existing review's action."""


class ReportSentMeanwhile(DraftChanged):
    """A draft was sent as a first report (or a correction of version N) but the report's
    latest version is now `version` (a file import stored one meanwhile): sending it would
    replace figures its sender never saw, so nothing is written."""

    def __init__(self, unit_code: str, version: int) -> None:
        super().__init__(f"report of {unit_code} is at version {version} now")
        self.unit_code = unit_code
        self.version = version


class NudgeRefused(DraftChanged):
    """A unit of a nudge was nudged by someone else meanwhile (within the interval)."""


class SubmissionExists(Exception):
    """An import would correct a unit's report without being asked to (`--replace`)."""

    def __init__(self, unit_code: str, line: int) -> None:
        super().__init__(f"unit {unit_code} already has a report for this period")
        self.unit_code = unit_code
        self.line = line


class ReceivedBeforeLatest(Exception):
    """An import's `--received` instant is earlier than the unit's latest version: the
    correction would be dated before what it corrects (and, the first instant of a report
    deciding its timeliness, turn a late report into an on-time one)."""

    def __init__(self, unit_code: str, line: int, latest: datetime) -> None:
        super().__init__(f"unit {unit_code}: received before its latest version ({latest})")
        self.unit_code = unit_code
        self.line = line
        self.latest = latest


class Storage(Protocol):
    # --- units and templates ------------------------------------------------------------------
    async def list_units(self) -> list[Unit]: ...
    async def units_created(self) -> dict[str, datetime]: ...
    async def get_template(self, template_id: str, version: int) -> Template | None: ...
    async def templates_first_seen(self) -> dict[str, datetime]: ...

    # --- people, memberships, conversations -------------------------------------------------
    async def find_person(self, channel: str, external_id: str) -> Person | None: ...
    async def get_person(self, person_id: int) -> Person | None: ...
    async def memberships(self, person_id: int) -> list[Membership]: ...
    async def all_people(self) -> list[Person]: ...
    async def create_link_code(self, person_id: int, code: str, expires_at: datetime) -> bool: ...
    async def redeem_link_code(self, code: str, channel: str, external_id: str,
                               now: datetime) -> Person | None: ...
    async def all_memberships(self) -> dict[int, list[Membership]]: ...
    async def all_conversations(self) -> dict[int, dict[str, Any]]: ...
    async def get_conversation(self, person_id: int) -> dict[str, Any]: ...
    async def is_unreachable(self, person_id: int) -> bool: ...
    async def set_reachable(self, person_id: int, reachable: bool) -> None: ...
    async def unit_people(self, unit_code: str, role: Role) -> list[Person]: ...
    async def all_notices(self) -> dict[int, list[Notice]]: ...
    async def notices(self, person_id: int) -> list[Notice]: ...

    # --- invites ---------------------------------------------------------------------------
    async def create_invite(self, invite: Invite, actor: str = "cli") -> None: ...
    async def redeem_invite(self, code: str, channel: str, external_id: str, display_name: str,
                            now: datetime) -> tuple[Person, Invite]:
        """Bind the person to the invite's unit; raise bot.domain.invites.InviteRefused."""
        ...

    # --- drafts and submissions -------------------------------------------------------------
    async def find_draft(self, unit_code: str, template_id: str, period: str) -> Draft | None: ...
    async def drafts_for_units(self, unit_codes: list[str]) -> list[Draft]: ...
    async def latest_submissions(self, unit_codes: list[str], *,
                                 with_answers: bool = True) -> list[Submission]: ...
    async def get_submission(self, unit_code: str, template_id: str, period: str,
                             version: int | None = None) -> Submission | None: ...
    async def review_states(self, template_id: str, period: str,
                            unit_codes: list[str] | None = None) -> dict[str, str]: ...
    async def report_reviews(self, unit_codes: list[str]
                             ) -> dict[tuple[str, str, str], ReviewState]: ...
    async def submitted_periods(self, unit_code: str, template_id: str) -> list[str]: ...
    async def subtree_submissions(self, template_id: str, root: str,
                                  periods: list[str]) -> list[Submission]:
        """The latest version of each report of the template for these periods from the
        units of `root`'s subtree, with its answers (the digest's one read)."""
        ...
    async def submissions_stamp(self, template_id: str, periods: list[str]
                                ) -> tuple[int, int]: ...
    async def apply(self, changes: Changes) -> bool:
        """Commit one event's changes; False if the event was already handled. Raises
        DraftChanged when a draft it writes to changed meanwhile."""
        ...

    # --- reminders -------------------------------------------------------------------------
    async def officers_by_unit(self) -> dict[str, list[Person]]: ...
    async def submitted_units(self, template_id: str, period: str) -> set[str]: ...
    async def draft_progress(self, template_id: str, period: str) -> dict[str, Draft]: ...
    async def reminder_ledger(self, template_id: str, period: str
                              ) -> dict[str, frozenset[str]]: ...
    async def claim_reminders(self, rows: list[ReminderRow], sweep_id: str
                              ) -> set[ReminderKey]: ...
    async def finish_reminders(self, sweep_id: str,
                               corrections: list[tuple[str, str, str, str, int]],
                               retry: list[ReminderKey] | None = None) -> None: ...

    async def release_stranded_reminders(self) -> int: ...

    # --- scheduled digests -------------------------------------------------------------------
    async def watchers(self) -> list[tuple[Person, str, Role]]: ...
    async def digest_ledger(self, template_id: str, period: str
                            ) -> dict[tuple[int, str], frozenset[str]]: ...
    async def store_digests(self, records: list[DigestRecord]
                            ) -> dict[DigestKey, list[int]]:
        """Ledger rows and their outbox rows in one transaction; a key already recorded
        writes nothing. Returns the keys recorded → their outbox row ids."""
        ...

    # --- delivery ------------------------------------------------------------------------------
    async def pending_outbox(self, channel: str) -> list[Stored]: ...
    async def claim_broadcast_rows(self, channel: str, limit: int) -> list[Stored]: ...
    async def release_claimed_broadcast_rows(self) -> int: ...
    async def unhandled_inbox(self, channel: str) -> list[tuple[str, str]]: ...
    async def reply_marks(self, channel: str) -> dict[str, int]: ...
    async def prune_delivery(self, before: datetime) -> dict[str, int]: ...
    async def count_sent(self, channel: str, month: str, sent: int) -> int: ...
    async def message_counts(self) -> list[tuple[str, str, int]]: ...
    async def admins(self) -> list[Person]: ...

    # --- settings ----------------------------------------------------------------------------
    async def get_setting(self, key: str) -> str | None: ...
    async def set_setting(self, key: str, value: str) -> None: ...
