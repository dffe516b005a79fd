"""What every feature of the dialogue works with: the shared reads (`Deps`), the event being
handled (`Ctx`), and a report resolved from a button or the conversation (`Report`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.config import DigestsConfig, OrganizationConfig, RemindersConfig
from bot.domain.buttons import ButtonData, ReportButton
from bot.domain.conversation import Conversation
from bot.domain.dialogue import Previous
from bot.domain.guesses import GuessLimit
from bot.domain.periods import Period
from bot.domain.reports import ReportKey, Window, window
from bot.domain.roles import Role
from bot.domain.templates import Template
from bot.domain.units import Unit
from bot.services.digests import Reads
from bot.services.reporting.drafts import DraftCache
from bot.services.reporting.notices import NoticeBoard
from bot.services.reporting.pushes import Push
from bot.services.units import UnitDirectory
from storage.interface import Storage
from storage.models import Changes, Draft, Membership, Person, Submission

if TYPE_CHECKING:
    from bot.services.broadcasts import Broadcasts


class Deps:
    """Storage, templates and settings, with the caches that keep reads off the hot path."""

    def __init__(self, storage: Storage, templates: dict[str, Template],
                 versions: dict[str, int], *, zone: ZoneInfo, lock_days: int,
                 units: UnitDirectory) -> None:
        self.storage = storage
        self.templates = templates  # current versions, by id
        self.versions = versions
        self.zone = zone
        self.lock_days = lock_days
        self.units = units
        self.drafts = DraftCache(storage)
        self.notices = NoticeBoard(storage)
        self.names: dict[int, str] = {}  # person id → display name (filled by the service)
        self.guesses = GuessLimit()  # wrong invite codes per chat
        self._versions: dict[tuple[str, int], Template] = {
            (t.id, versions[t.id]): t for t in templates.values()}
        self._windows: dict[tuple[str, str], Window] = {}
        self.digests = Reads()  # /tonghop's submissions, kept while none is sent
        self.digest_settings = DigestsConfig()  # [digests] (escalation, nudge interval)
        self.reminder_settings = RemindersConfig()  # [reminders] (quiet hours for nudges)
        # does the person's channel show pictures (set by the service from its channels)
        self.pictures: Callable[[Person], bool] = lambda person: False
        # [organization] (the Word report's header; set by the app from the config)
        self.organization = OrganizationConfig()
        # announcements (/thongbao; set by the app: bot.services.broadcasts.Broadcasts)
        self.broadcasts: Broadcasts | None = None
        # (person, unit, template, period, kind) → when that file was last made for them
        self.files_made: dict[tuple[int, str, str, str, str], datetime] = {}
        # people whose memberships /quanly changed in this event: the service reads them again
        self.roster_changed: set[int] = set()

    async def template(self, template_id: str, version: int) -> Template:
        """A template as it was at `version` (a draft keeps the questions it started with)."""
        key = (template_id, version)
        if key not in self._versions:
            found = await self.storage.get_template(template_id, version)
            if found is None:
                raise LookupError(f"template {template_id} v{version} is not stored")
            self._versions[key] = found
        return self._versions[key]

    def window(self, template: Template, period: Period) -> Window:
        key = (template.id, period.id)
        w = self._windows.get(key)
        if w is None:
            w = self._windows[key] = window(template, period, self.zone, self.lock_days)
        return w

    async def draft(self, key: ReportKey) -> Draft | None:
        return await self.drafts.get(key)

    async def name(self, person_id: int) -> str:
        """A person's display name (the service keeps everyone's after its warm-up)."""
        if person_id not in self.names:
            person = await self.storage.get_person(person_id)
            self.names[person_id] = person.display_name if person else ""
        return self.names[person_id]

    async def submission(self, key: ReportKey) -> Submission | None:
        return await self.storage.get_submission(*key)

    def today(self, now: datetime) -> date:
        return now.astimezone(self.zone).date()

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)


@dataclass
class Ctx:
    """One event being handled: who, where they are, what it will write, and when."""

    person: Person
    memberships: list[Membership]
    conversation: Conversation
    changes: Changes
    now: datetime
    typed: bool = False  # the action came from typed text (a number or keyword), not a press
    pressed: ButtonData | None = None  # the button pressed (or typed), as unpacked
    on_behalf: str | None = None  # the unit a supervisor enters a report for (nhập hộ)
    pushes: list[Push] = field(default_factory=list)  # messages to others, sent on commit
    # (channel, chat, pressed message id or None) of the event: where an announcement's
    # progress is shown (the message whose "Gửi" was pressed is edited where edits exist)
    origin: tuple[str, str, str | None] | None = None
    pressed_text: str = ""  # the text of the message whose button was pressed (if known)

    @property
    def roles(self) -> set[Role]:
        return {m.role for m in self.memberships}

    @cached_property
    def officer_units(self) -> list[Unit]:
        """The units this person reports for, sorted by code: a report button's `slot`. A unit
        a supervisor enters a report for comes last, so the slots of their own units are the
        same whether or not they are entering one (an older button never opens another)."""
        units = {m.unit.code: m.unit for m in self.memberships if m.role is Role.OFFICER}
        acting = units.pop(self.on_behalf, None) if self.on_behalf else None
        own = [units[c] for c in sorted(units)]
        return [*own, acting] if acting is not None else own


@dataclass(frozen=True)
class Report:
    """A report the person may work on: their unit, a template that applies to it (current
    version), and a period that has started and is not locked."""

    slot: int
    unit: Unit
    template: Template
    window: Window
    previous: Previous | None = None  # the answers sent for the period before (prefill)

    @property
    def key(self) -> ReportKey:
        return ReportKey(self.unit.code, self.template.id, self.window.period.id)

    def button(self, kind: type[ReportButton]) -> ReportButton:
        return kind(self.slot, self.template.id, self.window.period.id)

    @property
    def period_words(self) -> str:
        return self.window.period.label_vi()
