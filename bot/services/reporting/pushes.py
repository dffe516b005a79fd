"""Pushes: messages to other people that one person's event causes (a returned report tells
the unit's officers at once).

A handler adds them to `Ctx.pushes`; the service writes them to the outbox in the event's own
transaction, so a crash after the commit delays them but never loses them, and the same event
delivered again (already handled) writes and sends nothing. Where a message cannot go out now
(the recipient blocked the bot, or their channel has no courier in this process), the
recipient is told by a notice on their next message instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.dialogue import Reply
from storage.models import Person


@dataclass(frozen=True, slots=True)
class Push:
    """`reply` for `person`, on their own channel and chat (a person linked to a second
    account is reached where they joined, as reminders do)."""

    person: Person
    reply: Reply
