"""Announcements (broadcasts): create, preview, start, finish, cancel, count, confirm.

A broadcast is stored with its audience and starts when due (`start_due`, called every second
by the sender's pump through `tick`): its audience is resolved then, so "the units that have
not sent report R" means those that still have not, and each recipient's messages are
rendered by their channel's own renderer and written to the outbox in one transaction with the
broadcast's move to 'sending'. The sender delivers the rows; `finish_done` closes a broadcast
when none is left to deliver. Nothing here sends anything.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain import messages_vi as M
from bot.domain.broadcasts import (
    CANCELLED,
    DONE,
    SCHEDULED,
    TEXT_MAX,
    Attachment,
    Audience,
    BroadcastDraft,
    BroadcastRefused,
    BroadcastStatus,
    Member,
    Preview,
    Recipient,
    is_picture,
    preview_of,
    select,
)
from bot.domain.buttons import AckBroadcast
from bot.domain.dialogue import Attachment as FileAttachment
from bot.domain.dialogue import Button, Reply
from bot.domain.digest import DigestError
from bot.domain.periods import Period, PeriodError
from bot.domain.reminders import Policy, in_quiet_hours, out_of_quiet_hours
from bot.domain.roles import Role
from bot.domain.templates import Template
from bot.domain.units import Unit, ancestors_of
from bot.domain.vnformat import day
from bot.services import digests
from bot.services.channels import Channels
from bot.services.delivery import BROADCAST
from bot.services.turns import Turns
from bot.services.units import UnitDirectory
from storage.broadcast_interface import BroadcastRow, BroadcastStore, PersonCounts, Start
from storage.interface import Storage
from storage.models import Outgoing, Person

log = logging.getLogger(__name__)

# A channel's renderer: (event, chat id, replies) → the channel's calls (JSON-able dicts).
Render = Callable[[Any, str, list[Reply]], list[dict[str, Any]]]
RICH = frozenset({"telegram"})  # channels that show buttons, photos and documents
DEFAULT_ORG_NAME = "BCH ĐOÀN …"  # [organization] name left at its placeholder
UPLOAD_BUDGET = 256 * 2**20  # bytes of attachments one broadcast may put in the outbox


def default_renderers() -> dict[str, Render]:
    """Each channel's own renderer (imported here: the services do not import handlers at
    module level, and the command line writes rows without running any channel)."""
    from handlers.telegram.delivery import render as telegram
    from handlers.zalo.delivery import render as zalo
    return {"telegram": telegram, "zalo": zalo}


class Broadcasts:
    def __init__(self, storage: Storage, store: BroadcastStore, templates: dict[str, Template],
                 units: UnitDirectory, *, zone: ZoneInfo, lock_days: int,
                 quiet: Policy, organization: str = "", supervisors: bool = False,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 renderers: Mapping[str, Render] | None = None,
                 channels: Channels | None = None) -> None:
        self.storage = storage
        self.store = store
        self.templates = templates
        self.units = units
        self.zone = zone
        self.lock_days = lock_days
        self.quiet = quiet
        self.organization = organization
        self.supervisors = supervisors  # [broadcasts] supervisors = true
        self.clock = clock
        self._renderers = renderers
        self.channels = channels  # the running channels' couriers render for their people
        self.zalo_quota = 0  # [zalo] monthly_quota (0: no limit known); the preview warns
        self._failing: set[int] = set()  # broadcasts whose start failed (logged once)

    @property
    def renderers(self) -> Mapping[str, Render]:
        if self._renderers is None:
            self._renderers = default_renderers()
        return self._renderers

    # --- who may broadcast, and to whom ---------------------------------------------------------

    def _roles(self) -> set[Role]:
        return {Role.ADMIN, Role.SUPERVISOR} if self.supervisors else {Role.ADMIN}

    async def reach(self, sender: Person | None) -> list[str] | None:
        """The subtree roots a sender may address: None for the command line (everything);
        a chat sender's units where they are admin (or supervisor, when allowed)."""
        if sender is None:
            return None
        roles = self._roles()
        return sorted({m.unit.code for m in await self.storage.memberships(sender.id)
                       if m.role in roles and not m.unit.retired})

    async def may_broadcast(self, sender: Person) -> bool:
        return bool(await self.reach(sender))

    async def _check(self, audience: Audience, sender: Person | None,
                     tree: Mapping[str, Unit], when: datetime) -> list[str] | None:
        """Refuse an audience the sender may not address (or a report not owed yet at
        `when`, when it would start: every unit would count as not having sent it); the
        sender's reach."""
        reach = await self.reach(sender)
        if reach is not None and not reach:
            raise BroadcastRefused("not allowed to broadcast", M.BROADCAST_NOT_ALLOWED)
        for code in audience.units:
            if code not in tree:
                raise BroadcastRefused(f"unknown unit {code!r}", M.broadcast_unknown_unit(code))
            if reach is not None and not ancestors_of(code, tree) & set(reach):
                raise BroadcastRefused(f"unit {code!r} is outside the sender's subtrees",
                                       M.broadcast_unit_outside(code))
        if audience.missing is not None:
            _, period = self._report(*audience.missing)
            if period.start > when.astimezone(self.zone).date():
                raise BroadcastRefused(
                    f"period {period.id} has not started yet (it starts {period.start})",
                    M.broadcast_period_not_started(period.label_vi(), day(period.start)))
        if audience.follows is not None and await self.store.get(audience.follows) is None:
            raise BroadcastRefused(f"no broadcast {audience.follows}", M.BROADCAST_NOT_FOUND)
        return reach

    def _report(self, template_id: str, period_id: str) -> tuple[Template, Period]:
        t = self.templates.get(template_id)
        try:
            period = Period.parse(period_id)
        except PeriodError:
            period = None
        if t is None or period is None or not t.asks_for(period):
            raise BroadcastRefused(f"unknown report {template_id}:{period_id}",
                                   M.broadcast_unknown_report(template_id, period_id))
        return t, period

    # --- the audience ------------------------------------------------------------------------

    async def _resolve(self, audience: Audience, reach: list[str] | None, now: datetime
                       ) -> tuple[list[Recipient], dict[int, Person]]:
        tree = (await self.units.tree()).units
        memberships = await self.storage.all_memberships()
        members: list[Member] = [(pid, m.unit.code, m.role)
                                 for pid, ms in memberships.items() for m in ms]
        missing = None
        if audience.missing is not None:
            missing = await self._missing(audience, reach, tree, now)
        unconfirmed = None
        if audience.follows is not None:
            unconfirmed = set(await self.store.recipients(audience.follows)) - \
                await self.store.acked(audience.follows)
        found = select(audience, members, tree, reach,
                       missing=None if missing is None else missing.__contains__,
                       unconfirmed=unconfirmed)
        people = {p.id: p for p in await self.store.people()}
        return [r for r in found if r.person_id in people], people

    async def _missing(self, audience: Audience, reach: list[str] | None,
                       tree: Mapping[str, Unit], now: datetime) -> set[str]:
        """The units of the audience's subtrees that owe the report and have not sent it, as
        the digest counts them (a report returned for correction counts as not sent)."""
        assert audience.missing is not None
        t, period = self._report(*audience.missing)
        roots = list(audience.units) or reach or sorted(
            c for c, u in tree.items() if u.parent_code is None or u.parent_code not in tree)
        out: set[str] = set()
        for root in roots:
            try:
                d = await digests.digest(self.storage, t, period, root, now, self.zone,
                                         self.lock_days, units=tree)
            except DigestError:
                continue
            out |= {m.unit for m in d.completeness.missing if m.period == period.id}
        return out

    async def preview(self, audience: Audience, sender: Person | None,
                      at: datetime | None = None) -> Preview:
        """Whom the audience reaches now (people, units, unreachable, by channel); refuses
        (BroadcastRefused) what `create` would refuse of the audience starting `at` (now)."""
        tree = (await self.units.tree()).units
        reach = await self._check(audience, sender, tree, at or self.clock())
        found, people = await self._resolve(audience, reach, self.clock())
        return preview_of(found, {pid: (p.channel, p.reachable) for pid, p in people.items()})

    async def zalo_shortfall(self, p: Preview, text: str, ack: bool
                             ) -> tuple[int, int] | None:
        """(messages the broadcast needs on Zalo, messages left of this month's quota) when it
        needs more than are left: Zalo refuses beyond its plan's quota (officers' replies on
        Zalo with it). The month's count lags what was sent in the last minute."""
        people = p.by_channel.get("zalo", 0)
        if not people or not self.zalo_quota:
            return None
        render = self.renderers.get("zalo")
        parts = len(render(None, "0", [broadcast_reply(0, "", text, None, ack, rich=False)])) \
            if render is not None else 1
        month = self.clock().astimezone(self.zone).strftime("%Y-%m")
        used = sum(n for channel, m, n in await self.storage.message_counts()
                   if channel == "zalo" and m == month)
        need, left = people * max(1, parts), max(0, self.zalo_quota - used)
        return (need, left) if need > left else None

    # --- creating -----------------------------------------------------------------------------

    async def create(self, draft: BroadcastDraft, sender: Person | None, *,
                     progress: tuple[str, str, int] | None = None) -> int:
        """Store a broadcast (audited `broadcast.create`) and start it at once when due; its
        id. `progress`: (channel, chat, message id) of the creator's message that the chat
        side edits with progress. Refuses (BroadcastRefused) empty text, a unit unknown or
        outside the sender's subtrees, an unknown report or period, a time in the past."""
        now = self.clock()
        if draft.send_at is not None and draft.send_at.tzinfo is None:  # local wall time
            draft = replace(draft, send_at=draft.send_at.replace(tzinfo=self.zone))
        if not draft.text.strip():
            raise BroadcastRefused("empty text", M.BROADCAST_EMPTY_TEXT)
        if len(draft.text.strip()) > TEXT_MAX:
            raise BroadcastRefused(f"the text is longer than {TEXT_MAX} characters",
                                   M.broadcast_text_too_long(TEXT_MAX))
        if (draft.attachment is not None and draft.attachment.kind == "photo"
                and draft.attachment.file_id is None and not is_picture(draft.attachment.data)):
            raise BroadcastRefused(f"{draft.attachment.name} is not a picture (JPEG, PNG, GIF "
                                   "or WebP): send it as a document", M.BROADCAST_NOT_A_PICTURE)
        if draft.send_at is not None and draft.send_at < now:
            raise BroadcastRefused("the time to send is in the past", M.BROADCAST_IN_PAST)
        tree = (await self.units.tree()).units
        reach = await self._check(draft.audience, sender, tree, draft.send_at or now)
        if draft.attachment is not None and draft.attachment.file_id is None:
            await self._check_upload(draft, reach, now)  # bytes in each row: a budget
        send_at = (draft.send_at or now).astimezone(UTC)
        attachment = None
        if draft.attachment is not None:
            a = draft.attachment
            attachment = json.dumps(
                {"kind": a.kind, "name": a.name, "file_id": a.file_id} if a.file_id is not None
                else {"kind": a.kind, "name": a.name,
                      "file": base64.b64encode(a.data).decode("ascii")})
        start = None
        quiet = in_quiet_hours(now.astimezone(self.zone).time(), self.quiet)
        if send_at <= now and (draft.urgent or not quiet):  # started as it is created
            start = await self._plan(draft.audience, sender, draft.text.strip(),
                                     draft.attachment, draft.ack,
                                     draft.audience.follows is not None, now)
        bid = await self.store.create(
            created_by=sender.id if sender is not None else None,
            audience=draft.audience.to_json(), text=draft.text.strip(), attachment=attachment,
            ack=draft.ack, urgent=draft.urgent, send_at=send_at,
            follows=draft.audience.follows, progress=progress,
            actor=f"person:{sender.id}" if sender is not None else "cli",
            details={"audience": draft.audience.model_dump(mode="json", exclude_defaults=True),
                     "send_at": send_at.isoformat(), "ack": draft.ack, "urgent": draft.urgent,
                     "attachment": draft.attachment.name if draft.attachment else None},
            start=start)
        if send_at <= now and start is None:
            await self.start_due(now)  # in the quiet hours: moved to their end
        return bid

    async def _check_upload(self, draft: BroadcastDraft, reach: list[str] | None,
                            now: datetime) -> None:
        """Each Telegram recipient's outbox row carries the file (a restart sends the same
        bytes), so the file times the recipients must stay within UPLOAD_BUDGET."""
        assert draft.attachment is not None
        found, people = await self._resolve(draft.audience, reach, now)
        rich = sum(1 for r in found if people[r.person_id].channel in RICH)
        total = len(draft.attachment.data) * rich
        if total > UPLOAD_BUDGET:
            raise BroadcastRefused(
                f"the file times its {rich} Telegram recipients is {total // 2**20} MB, over "
                f"{UPLOAD_BUDGET // 2**20} MB: send a smaller file, or a link in the text",
                M.broadcast_file_too_large(rich))

    async def follow_up(self, broadcast_id: int, text: str, sender: Person | None, *,
                        progress: tuple[str, str, int] | None = None) -> int:
        """A new broadcast to the recipients of `broadcast_id` who have not confirmed it,
        asking for confirmation again; its id."""
        row = await self._own(broadcast_id, sender)
        if row.state in (SCHEDULED, CANCELLED):  # nobody reached: not "everyone confirmed"
            raise BroadcastRefused(f"broadcast {broadcast_id} has not been sent (it is "
                                   f"{row.state})", M.BROADCAST_NOT_SENT_YET)
        if not row.ack:
            raise BroadcastRefused(f"broadcast {broadcast_id} asks for no confirmation",
                                   M.BROADCAST_NO_ACK)
        if not await self.unconfirmed(broadcast_id):
            raise BroadcastRefused(f"everyone confirmed broadcast {broadcast_id}",
                                   M.BROADCAST_NOTHING_UNCONFIRMED)
        draft = BroadcastDraft(Audience(follows=broadcast_id), text, ack=True,
                               urgent=row.urgent)
        return await self.create(draft, sender, progress=progress)

    # --- starting and finishing ---------------------------------------------------------------

    async def start_due(self, now: datetime) -> list[int]:
        """Start every scheduled broadcast whose time has come (outside the quiet hours unless
        urgent: one due in them is moved to their end); the ids started."""
        started = []
        local = now.astimezone(self.zone)
        quiet = in_quiet_hours(local.time(), self.quiet)
        for row in await self.store.due(now):
            if quiet and not row.urgent:
                await self.store.defer(row.id, out_of_quiet_hours(local, self.quiet)
                                       .astimezone(UTC))
                continue
            try:
                if await self._start(row, now):
                    started.append(row.id)
            except Exception:  # one broadcast that cannot start must not stop the others
                if row.id not in self._failing:  # tried again each second: logged once
                    self._failing.add(row.id)
                    log.exception("broadcast %s could not start", row.id)
        return started

    async def _plan(self, audience: Audience, creator: Person | None, text: str,
                    file: Attachment | None, ack: bool, follow_up: bool, now: datetime
                    ) -> Start:
        """The audience resolved now, and how to render its messages once the broadcast has
        its id: on the writer thread, in the transaction that creates it, so a command killed
        midway leaves the whole broadcast or nothing (the price: the rendering, ~0.3 s for
        10,000 recipients, holds the write lock)."""
        reach = await self.reach(creator) if creator is not None else None
        found, people = await self._resolve(audience, reach, now)
        heading = await self._heading(creator, follow_up=follow_up)
        links = await self.store.links(RICH) if file is not None else {}

        def start(bid: int) -> tuple[list[tuple[int, str]], list[tuple[Outgoing, str]]]:
            messages: list[tuple[Outgoing, str]] = []
            for r in found:
                messages.extend(self._messages(people[r.person_id], bid, text, ack, heading,
                                               file, links))
            return [(r.person_id, r.unit) for r in found], messages
        return start

    def _messages(self, person: Person, bid: int, text: str, ack: bool, heading: str,
                  attachment: Attachment | None, links: Mapping[int, tuple[str, str]]
                  ) -> list[tuple[Outgoing, str]]:
        """One recipient's outbox rows with their state."""
        if person.channel not in RICH and person.id in links:
            # a file for someone who joined on Zalo goes to their linked Telegram account
            # (Zalo's own message would say it was sent on Telegram)
            channel, chat = links[person.id]
            person = replace(person, channel=channel, external_id=chat, reachable=True)
        state = "pending" if person.reachable else "unreachable"
        payloads = self._render(person, bid, text, ack, heading, attachment)
        if payloads is None:  # a channel without a renderer here: counted as failed
            return [(Outgoing(person.channel, person.external_id, "{}", person.id, None,
                              BROADCAST), "failed")]
        return [(Outgoing(person.channel, person.external_id, json.dumps(p, ensure_ascii=False),
                          person.id, None, BROADCAST), state) for p in payloads]

    async def _start(self, row: BroadcastRow, now: datetime) -> bool:
        audience = Audience.from_json(row.audience)
        creator = await self.storage.get_person(row.created_by) if row.created_by else None
        reach = await self.reach(creator) if creator is not None else None
        if reach is not None and not reach:
            reach = ["\0none"]  # the creator lost their role since: reach nobody
        found, people = await self._resolve(audience, reach, now)
        heading = await self._heading(creator, follow_up=row.follows is not None)
        attachment = _attachment(row.attachment)
        links = await self.store.links(RICH) if attachment is not None else {}
        messages: list[tuple[Outgoing, str]] = []
        turns = Turns()  # 10,000 recipients are ~0.3 s of rendering: chats answered meanwhile
        for r in found:
            await turns.take()
            messages.extend(self._messages(people[r.person_id], row.id, row.text, row.ack,
                                           heading, attachment, links))
        return await self.store.start(row.id, [(r.person_id, r.unit) for r in found], messages,
                                      now)

    def _render(self, person: Person, bid: int, text: str, ack: bool, heading: str,
                attachment: Attachment | None) -> list[dict[str, Any]] | None:
        """The person's channel's calls: its running courier's renderer, else (the command
        line) the channel's own; None for a channel with neither."""
        courier = self.channels.courier(person.channel) if self.channels is not None else None
        if courier is not None:
            render: Render | None = courier.render
            rich = courier.pictures and courier.buttons
        else:
            render = self.renderers.get(person.channel)
            rich = person.channel in RICH
        if render is None:
            return None
        return render(None, person.external_id,
                      [broadcast_reply(bid, heading, text, attachment, ack, rich=rich)])

    async def _heading(self, creator: Person | None, follow_up: bool) -> str:
        name = await self.sender_name(creator)
        return M.broadcast_follow_up_heading(name) if follow_up else M.broadcast_heading(name)

    async def sender_name(self, creator: Person | None) -> str:
        """Whom a broadcast is from: the creator's unit (the first where they may broadcast);
        for the command line, `[organization] name`, or the root unit's name."""
        tree = (await self.units.tree()).units
        if creator is not None:
            roles = self._roles()
            for m in await self.storage.memberships(creator.id):
                if m.role in roles:
                    return m.unit.name
        if self.organization and self.organization != DEFAULT_ORG_NAME:
            return self.organization
        roots = sorted((u for u in tree.values() if u.parent_code is None and not u.retired),
                       key=lambda u: u.code)
        return roots[0].name if roots else "baocao"

    async def finish_done(self, now: datetime) -> list[BroadcastStatus]:
        """Close every broadcast being sent with nothing left to deliver; their final
        status (for the creator's final report)."""
        return [await self.status(bid) for bid in await self.store.finish(now)]

    async def tick(self, now: datetime) -> list[BroadcastStatus]:
        """The sender pump's call each second: start what is due, close what is done."""
        await self.start_due(now)
        return await self.finish_done(now)

    # --- managing ---------------------------------------------------------------------------

    async def _own(self, broadcast_id: int, sender: Person | None) -> BroadcastRow:
        """The broadcast, if the sender may act on it: their own, or (admins) one whose
        audience lies in their subtrees; the command line may act on any."""
        row = await self.store.get(broadcast_id)
        if row is None:
            raise BroadcastRefused(f"no broadcast {broadcast_id}", M.BROADCAST_NOT_FOUND)
        if sender is None or row.created_by == sender.id:
            return row
        admin = {m.unit.code for m in await self.storage.memberships(sender.id)
                 if m.role == Role.ADMIN}
        tree = (await self.units.tree()).units
        units = list(Audience.from_json(row.audience).units)
        if not units and row.created_by is not None:
            creator = await self.storage.get_person(row.created_by)
            units = (await self.reach(creator) or []) if creator is not None else []
        if admin and units and all(ancestors_of(c, tree) & admin for c in units):
            return row
        raise BroadcastRefused(f"broadcast {broadcast_id} is not the sender's",
                               M.BROADCAST_NOT_YOURS)

    async def cancel(self, broadcast_id: int, sender: Person | None) -> bool:
        """Cancel a broadcast still scheduled (audited); False once it has started (or was
        cancelled). Refuses one the sender may not touch."""
        await self._own(broadcast_id, sender)
        actor = f"person:{sender.id}" if sender is not None else "cli"
        return await self.store.cancel(broadcast_id, actor)

    async def status(self, broadcast_id: int) -> BroadcastStatus:
        """Counts by person: delivered (every part sent), unreachable, failed, pending (the
        rest), acknowledged. Once done, each person's outcome kept then (the outbox rows are
        pruned after a week)."""
        row = await self.store.get(broadcast_id)
        if row is None:
            raise BroadcastRefused(f"no broadcast {broadcast_id}", M.BROADCAST_NOT_FOUND)
        recipients = await self.store.recipients(broadcast_id)
        outcomes = await self.store.outcomes(broadcast_id) if row.state == DONE else {}
        counts = await self.store.counts(broadcast_id) if len(outcomes) < len(recipients) \
            else {}
        tally = {"delivered": 0, "unreachable": 0, "failed": 0, "pending": 0}
        for pid in recipients:
            tally[outcomes.get(pid) or _outcome(counts.get(pid))] += 1
        acked = len(await self.store.acked(broadcast_id) & set(recipients))
        return BroadcastStatus(row.id, row.state, len(recipients), tally["delivered"],
                               tally["unreachable"], tally["failed"], tally["pending"], acked,
                               row.send_at, row.created_by, row.text, row.ack, row.follows)

    async def acknowledge(self, broadcast_id: int, person_id: int) -> bool:
        """A recipient confirms ("✅ Đã nhận"); True the first time, False for a repeat, for
        someone who did not receive it, or for a broadcast asking for no confirmation."""
        return await self.store.acknowledge(broadcast_id, person_id, self.clock())

    async def unconfirmed(self, broadcast_id: int) -> list[tuple[Person, str]]:
        """Recipients who have not confirmed, with the unit they were reached through."""
        recipients = await self.store.recipients(broadcast_id)
        acked = await self.store.acked(broadcast_id)
        out = []
        for pid, unit in recipients.items():
            if pid in acked:
                continue
            person = await self.storage.get_person(pid)
            if person is not None:
                out.append((person, unit))
        return out

    async def awaiting_ack(self, person_id: int) -> int | None:
        """The newest broadcast asking for confirmation that this person received and has not
        confirmed (what a typed "ĐÃ NHẬN" confirms)."""
        return await self.store.awaiting_ack(person_id)

    async def get(self, broadcast_id: int) -> BroadcastRow | None:
        return await self.store.get(broadcast_id)

    async def list(self, sender: Person | None, limit: int = 20) -> list[BroadcastStatus]:
        """The newest broadcasts: a chat sender's own; all for the command line."""
        rows = await self.store.listed(sender.id if sender is not None else None, limit)
        return [await self.status(r.id) for r in rows]


def _outcome(c: PersonCounts | None) -> str:
    """A person's standing from their outbox rows (none left: delivered long ago)."""
    if c is None or c.sent == c.rows:
        return "delivered"
    if c.unreachable:
        return "unreachable"
    return "failed" if c.failed else "pending"


def _attachment(text: str | None) -> Attachment | None:
    if not text:
        return None
    data = json.loads(text)
    if data.get("file_id") is not None:  # sent in chat: re-sent by its Telegram file id
        return Attachment(data["kind"], data["name"], b"", file_id=str(data["file_id"]))
    return Attachment(data["kind"], data["name"], base64.b64decode(data["file"]))


def broadcast_reply(broadcast_id: int, heading: str, text: str, attachment: Attachment | None,
                    ack: bool, *, rich: bool) -> Reply:
    """The message of a broadcast: on a rich channel (Telegram) with its photo or document
    and a "✅ Đã nhận" button; elsewhere (Zalo) the text, a sentence for the file left out and
    the keyword to type. Channels split long text at their own limits when rendering."""
    body = f"{heading}\n\n{text}"
    if rich:
        buttons = ([[Button.of(M.BROADCAST_ACK_BUTTON, AckBroadcast(broadcast_id))]]
                   if ack else [])
        a = attachment
        by_id = a is not None and a.file_id is not None
        photo = a.data if a is not None and a.kind == "photo" and not by_id else None
        photo_id = a.file_id if a is not None and a.kind == "photo" and by_id else None
        document = (FileAttachment(a.name, a.data, a.file_id)
                    if a is not None and a.kind == "document" else None)
        return Reply(body, buttons, photo=photo, document=document, photo_id=photo_id)
    lines = [body]
    if attachment is not None:
        lines.append(M.BROADCAST_DOCUMENT_ELSEWHERE if attachment.kind == "document"
                     else M.BROADCAST_PHOTO_ELSEWHERE)
    if ack:
        lines.append(M.BROADCAST_ACK_LINE)
    return Reply("\n\n".join(lines))
