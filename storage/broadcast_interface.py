"""What the broadcasts service asks of storage (storage/broadcasts.py implements it on
SQLite), and the records it returns."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from storage.models import Outgoing, Person


@dataclass(frozen=True)
class BroadcastRow:
    id: int
    created_at: datetime
    created_by: int | None
    audience: str  # JSON
    text: str
    attachment: str | None  # JSON
    ack: bool
    urgent: bool
    send_at: datetime
    state: str
    started_at: datetime | None
    finished_at: datetime | None
    follows: int | None
    progress: tuple[str, str, int] | None


# Started with its creation, in the same transaction: the broadcast's id → its recipients
# (person id, unit) and outbox rows with their state. Runs on the writer thread.
Start = Callable[[int], tuple[list[tuple[int, str]], list[tuple[Outgoing, str]]]]


@dataclass(frozen=True)
class PersonCounts:
    """A recipient's outbox rows of one broadcast, by state."""

    rows: int
    sent: int
    unreachable: int
    failed: int


class BroadcastStore(Protocol):
    async def create(self, *, created_by: int | None, audience: str, text: str,
                     attachment: str | None, ack: bool, urgent: bool, send_at: datetime,
                     follows: int | None, progress: tuple[str, str, int] | None,
                     actor: str, details: dict[str, Any],
                     start: Start | None = None) -> int: ...
    async def get(self, broadcast_id: int) -> BroadcastRow | None: ...
    async def listed(self, created_by: int | None, limit: int) -> list[BroadcastRow]: ...
    async def due(self, now: datetime) -> list[BroadcastRow]: ...
    async def defer(self, broadcast_id: int, until: datetime) -> None: ...
    async def start(self, broadcast_id: int, recipients: list[tuple[int, str]],
                    messages: list[tuple[Outgoing, str]], now: datetime) -> bool: ...
    async def finish(self, now: datetime) -> list[int]: ...
    async def cancel(self, broadcast_id: int, actor: str) -> bool: ...
    async def recipients(self, broadcast_id: int) -> dict[int, str]: ...
    async def outcomes(self, broadcast_id: int) -> dict[int, str]: ...
    async def counts(self, broadcast_id: int) -> dict[int, PersonCounts]: ...
    async def acked(self, broadcast_id: int) -> set[int]: ...
    async def acknowledge(self, broadcast_id: int, person_id: int, now: datetime) -> bool: ...
    async def awaiting_ack(self, person_id: int) -> int | None: ...
    async def ever_acked(self, person_id: int) -> bool: ...
    async def people(self) -> list[Person]: ...
    async def links(self, channels: Iterable[str]) -> dict[int, tuple[str, str]]: ...
    async def unreported(self, channels: Iterable[str]) -> list[int]: ...
    async def report(self, broadcast_id: int, messages: list[Outgoing],
                     now: datetime) -> list[int] | None: ...
