"""Notices: a line told once to an officer on their next message, when a colleague replaced
one of their answers or cancelled a draft holding them.

A notice is written in the transaction of the colleague's change and deleted in the
transaction of the event whose reply shows it. This process writes every notice, so the
pending ones are read once at start (`warm`) and kept true in memory: an answer costs no
extra database read to learn that there is nothing to tell.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

from bot.domain.dialogue import Reply
from storage.interface import Storage
from storage.models import AddNotice, Changes, DropNotices, Notice


class NoticeBoard:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._pending: dict[int, list[Notice]] = {}  # only people with notices, once warmed
        self._warmed = False
        self._added: dict[int, int] = {}  # before warm-up: notices committed, by person

    async def warm(self) -> None:
        found = await self.storage.all_notices()
        for person_id, notices in found.items():
            self._pending.setdefault(person_id, notices)
        self._warmed = True

    async def pending(self, person_id: int) -> list[Notice]:
        cached = self._pending.get(person_id)
        if cached is not None or self._warmed:
            return cached or []
        # Not warmed (tests, the demo): read the person's once. A notice committed for them
        # while the read was in flight may be missing from it: then it is not kept.
        began = self._added.get(person_id, 0)
        found = await self.storage.notices(person_id)
        if self._added.get(person_id, 0) == began and person_id not in self._pending:
            self._pending[person_id] = found
        return found

    def after_commit(self, changes: Changes) -> None:
        for op in changes.ops:
            if isinstance(op, AddNotice):
                target = op.notice.person_id
                if not self._warmed:
                    self._added[target] = self._added.get(target, 0) + 1
                if self._warmed or target in self._pending:
                    self._pending.setdefault(target, []).append(op.notice)
            elif isinstance(op, DropNotices):  # the event's own person saw them
                shown = set(op.keys)
                left = [n for n in self._pending.get(changes.actor, []) if n.key not in shown]
                if left or not self._warmed:  # before warm-up, [] means "read: none"
                    self._pending[changes.actor] = left
                else:
                    self._pending.pop(changes.actor, None)


def notice(person_id: int, text: str) -> AddNotice:
    return AddNotice(Notice(uuid.uuid4().hex, person_id, text))


def shown_with(replies: list[Reply], notices: list[Notice]) -> list[Reply]:
    """The replies with the notices above the first one (as a reply of their own when the
    first one replaces the message whose button was pressed: an edited message is not read
    again)."""
    text = "\n".join(n.text for n in notices)
    if not replies or replies[0].replace:
        return [Reply(text), *replies]
    return [replace(replies[0], text=text + "\n\n" + replies[0].text), *replies[1:]]
