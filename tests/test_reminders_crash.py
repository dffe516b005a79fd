"""A sweep killed mid-chunk: the reminders the messenger already accepted were recorded 'sent'
as they went, so the next start (release_stranded_reminders, a new sweep on the same SQLite
file) sends them never again; only the one in flight and the unsent rest go out."""

from __future__ import annotations

import asyncio
from datetime import UTC
from pathlib import Path

from bot.domain.dialogue import Reply
from bot.services.channels import Outcome
from storage.models import Person
from tests.harness import Clock, make_app
from tests.test_reminders import COMMUNES, FakeSender, local, officers, reminders_of

ACCEPTED = 3  # reminders the messenger accepts before the "crash"


class Hangs(FakeSender):
    """Accepts ACCEPTED reminders, then the next push never returns (the process dies)."""

    stuck: asyncio.Event
    in_flight = ""

    async def send(self, person: Person, reply: Reply) -> Outcome:
        if len(self.sent) == ACCEPTED:
            self.in_flight = person.external_id
            self.stuck.set()
            await asyncio.Event().wait()
        return await super().send(person, reply)


async def test_reminders_sent_before_a_crash_are_never_sent_again(tmp_path: Path) -> None:
    clock = Clock(now=local(2026, 2, 26, 8).astimezone(UTC))
    app = await make_app(tmp_path, clock)
    await officers(app)
    sender = Hangs(clock)
    sender.stuck = asyncio.Event()
    sweeping = asyncio.create_task(reminders_of(app, clock).sweep(sender.channels))
    await sender.stuck.wait()
    # Mid-chunk, before any end-of-chunk write: the accepted ones are already in the ledger.
    # (A bounded wait for the short grouping delay; no timing is asserted.)
    for _ in range(500):
        rows = await app.storage.reminder_rows()
        if sum(r["status"] == "sent" for r in rows) == ACCEPTED:
            break
        await asyncio.sleep(0.01)
    first = [who for _, who, _, _ in sender.sent]
    assert len(first) == ACCEPTED
    sent_units = {r["unit_code"] for r in rows if r["status"] == "sent"}
    assert sent_units == {who.removeprefix("u-") for who in first}
    assert sum(r["status"] == "sending" for r in rows) == len(COMMUNES) - ACCEPTED
    # The "crash": the sweep stops where it is, no end-of-chunk record, no clean shutdown.
    sweeping.cancel()
    await asyncio.gather(sweeping, return_exceptions=True)
    await app.close()

    restarted = await make_app(tmp_path, clock)
    try:
        assert await restarted.storage.release_stranded_reminders() == len(COMMUNES) - ACCEPTED
        clock.now = local(2026, 2, 26, 8, 5).astimezone(UTC)
        again = FakeSender(clock)
        result = await reminders_of(restarted, clock).sweep(again.channels)
        second = [who for _, who, _, _ in again.sent]
        assert result.sent == len(COMMUNES) - ACCEPTED
        assert not set(first) & set(second)  # accepted before the crash: never again
        assert sender.in_flight in second  # in flight: at least once
        assert sorted(first + second) == sorted(f"u-{c}" for c in COMMUNES)
        rows = await restarted.storage.reminder_rows()
        assert [r["status"] for r in rows] == ["sent"] * len(COMMUNES)
    finally:
        await restarted.close()
