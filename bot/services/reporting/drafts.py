"""Drafts read once and kept true in memory: every answer of a draft otherwise costs a read."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace
from datetime import datetime

from bot.domain.reports import ReportKey
from storage.interface import Storage
from storage.models import (
    Changes,
    DeleteDraft,
    Draft,
    RebaseDraft,
    SaveAnswer,
    StartDraft,
    Submit,
)


class DraftCache:
    """This process writes every draft change, so a cached draft stays true if each commit is
    applied to it (`after_commit`). The one hazard is a read that a commit to the same draft
    overtakes: such a read may be stale and is not cached.

    Commits are counted, and for each draft (by id and by report) the number of the latest
    commit that touched it while reads were in flight. Only that draft, and only commits since
    the read began: under load some commit always lands during a read and some read is always
    in flight, so anything coarser meant a database read per answer.
    """

    LIMIT = 2000  # drafts kept (the least recently used go): officers answer a few at a time

    def __init__(self, storage: Storage, limit: int = LIMIT) -> None:
        self.storage = storage
        self.limit = limit
        self.cached: OrderedDict[ReportKey, Draft | None] = OrderedDict()
        self.keys: dict[int, ReportKey] = {}  # draft id → its report, for cached drafts
        self.commits = 0
        self.reads = 0
        self.touched_ids: dict[int, int] = {}
        self.touched_keys: dict[ReportKey, int] = {}

    async def get(self, key: ReportKey) -> Draft | None:
        if key in self.cached:
            self.cached.move_to_end(key)
            return self.cached[key]
        began = self.commits
        self.reads += 1
        try:
            draft = await self.storage.find_draft(*key)
        finally:
            self.reads -= 1
        stale = self.touched_keys.get(key, 0) > began or (
            draft is not None and self.touched_ids.get(draft.id, 0) > began)
        if not self.reads:
            self.touched_keys.clear()
            self.touched_ids.clear()
        if not stale:
            self.cached[key] = draft
            if draft is not None:
                self.keys[draft.id] = key
            while len(self.cached) > self.limit:
                _, gone = self.cached.popitem(last=False)
                if gone is not None:
                    self.keys.pop(gone.id, None)
        return draft

    def after_commit(self, changes: Changes, now: datetime | None = None) -> None:
        """Apply saved answers (who gave them, and `now` as the draft's last change) to cached
        drafts; forget drafts that started, ended or left."""
        self.commits += 1
        if self.reads:
            for op in changes.ops:
                if isinstance(op, StartDraft | Submit):
                    self.touched_keys[_key(op)] = self.commits
                if isinstance(op, SaveAnswer | DeleteDraft | RebaseDraft | Submit):
                    self.touched_ids[op.draft_id] = self.commits
        for op in changes.ops:
            if isinstance(op, SaveAnswer):
                key = self.keys.get(op.draft_id)
                draft = self.cached.get(key) if key else None
                if key and draft is not None:
                    self.cached[key] = replace(
                        draft, answers={**draft.answers, op.question_id: op.value},
                        answered_by={**draft.answered_by, op.question_id: changes.actor},
                        updated_at=now or draft.updated_at)
            elif isinstance(op, StartDraft | Submit):
                self.cached.pop(_key(op), None)
                if isinstance(op, Submit):
                    self.keys.pop(op.draft_id, None)
            elif isinstance(op, DeleteDraft | RebaseDraft):
                key = self.keys.pop(op.draft_id, None)
                if key:
                    self.cached.pop(key, None)

    def forget_all(self) -> None:
        """After a conflict: read every draft again."""
        self.cached.clear()
        self.keys.clear()


def _key(op: StartDraft | Submit) -> ReportKey:
    return ReportKey(op.unit_code, op.template_id, op.period)
