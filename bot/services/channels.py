"""The seam between the services and the messengers (Telegram, Zalo, the terminal demo).

A channel turns what its users do into `Inbound` events for the services, and registers a
`Sender` that can push a message to one of its people; everything else (ordering per person,
de-duplication, what to say) is the services'. A person is reached on the channel they joined
with (`Person.channel`); a person whose channel is not running here is not reachable now,
which is not a failure to retry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bot.domain.dialogue import Reply
from bot.domain.text import fold
from bot.services.delivery import Courier, Outcome
from storage.models import Person

if TYPE_CHECKING:
    from bot.services.broadcast_pump import BroadcastPump

log = logging.getLogger(__name__)
__all__ = ["Channels", "CommandText", "Inbound", "Outcome", "Pressed", "Sender",
           "parse_command"]


@dataclass(frozen=True, slots=True)
class Pressed:
    """The message whose button was pressed (a channel with edits marks the choice on it)."""

    message_id: str
    text: str
    label: str | None  # the pressed button's label


@dataclass(frozen=True)
class Inbound:
    """One thing a chat user did, channel-neutral."""

    channel: str
    user_id: str
    display_name: str = ""
    text: str = ""
    command: str | None = None  # without the slash: "baocao"
    argument: str = ""
    button: str | None = None  # the pressed button's data
    photo: str | None = None  # Telegram: file id; Zalo: where baocao keeps the picture
    document: tuple[str, str] | None = None  # Telegram: (file id, file name)
    caption: str = ""  # a photo's or a document's caption (kept apart from typed text)
    other: str | None = None  # a message baocao cannot read: "sticker", "voice", "other"
    event_id: str | None = None  # for de-duplication (Telegram's update_id)
    chat_id: str = ""  # where replies go; "" = the user's private chat (user_id)
    message_id: int | None = None  # in the chat's sequence, where the channel has one
    pressed: Pressed | None = None

    @property
    def chat(self) -> str:
        return self.chat_id or self.user_id


class Sender(Protocol):
    """Push one message to one person of this channel."""

    async def send(self, person: Person, reply: Reply) -> Outcome: ...


class Channels:
    """The senders of the channels running in this process, by channel name."""

    def __init__(self) -> None:
        self._senders: dict[str, Sender] = {}
        self._couriers: dict[str, Courier] = {}
        self.pump: BroadcastPump | None = None  # feeds the couriers broadcasts' rows

    def register(self, channel: str, sender: Sender) -> None:
        self._senders[channel] = sender

    def register_courier(self, courier: Courier) -> None:
        """A channel whose replies go through the outbox; it also sends its pushes."""
        self._couriers[courier.channel] = courier
        self._senders[courier.channel] = courier

    def courier(self, channel: str) -> Courier | None:
        return self._couriers.get(channel)

    def couriers(self) -> list[Courier]:
        return list(self._couriers.values())

    def sends_pictures(self, person: Person) -> bool:
        """Does the person's channel show a Reply's picture (else only its text)?"""
        courier = self._couriers.get(person.channel)
        return courier is not None and courier.pictures

    def reaches(self, person: Person) -> bool:
        """Can a message go out to this person now (their channel runs, they did not block)?"""
        return person.reachable and person.channel in self._senders

    async def send(self, person: Person, reply: Reply) -> Outcome:
        sender = self._senders.get(person.channel)
        if sender is None:  # callers ask `reaches` first; this is a programming error
            log.error("no sender for channel %r (person %s)", person.channel, person.id)
            return "failed"
        return await sender.send(person, reply)


@dataclass(frozen=True)
class CommandText:
    """'/huy@baocao_bot now' → name 'huy', argument 'now', addressee 'baocao_bot'."""

    name: str
    argument: str
    addressee: str | None

    def for_bot(self, username: str | None) -> bool:
        """Is it meant for this bot? A command addressed to another bot in a group is not."""
        return (self.addressee is None or username is None
                or self.addressee.lower() == username.lstrip("@").lower())


def parse_command(text: str) -> CommandText | None:
    """A slash command as every channel types it, or None for ordinary text."""
    stripped = text.strip()
    if not stripped.startswith("/") or len(stripped) < 2 or stripped[1].isspace():
        return None
    word, _, argument = stripped[1:].partition(" ")
    name, _, addressee = word.partition("@")
    if not name:
        return None
    # "/hủy", "/Giúp": commands are typed with diacritics too
    return CommandText(fold(name), argument.strip(), addressee or None)
