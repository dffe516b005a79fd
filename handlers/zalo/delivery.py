"""Zalo's side of delivery: replies → Bot API calls (the outbox payloads), and a transport that
makes one call and sorts its failures for the courier (bot/services/delivery.py).

Zalo has no buttons and no edits: every reply is new text, its buttons numbered lines or
keywords to type (handlers/text_render.py), in pieces of at most 2,000 characters.
"""

from __future__ import annotations

import logging

import httpx

from bot.domain.dialogue import Reply
from bot.services.channels import Inbound
from bot.services.delivery import Payload, Refused, Rejected, RetryLater
from handlers.text_render import render_text, split_message, utf16_units
from handlers.zalo.client import ZaloClient, ZaloError

log = logging.getLogger(__name__)
SEND = "sendMessage"
# Zalo refuses a text over 2,000 characters; counted as UTF-16 units (as JavaScript counts),
# an emoji is two: never more than Zalo's own count, whichever it uses.
TEXT_LIMIT = 2000
RETRY_AFTER = 1.0  # seconds, when a 429 names no wait
# Zalo's sendPhoto takes only a URL of a picture on the web, no upload: baocao's pictures (a
# digest's chart) stay private, so a Reply's picture is left out and its text goes alone.
PICTURES = False


def render(event: Inbound | None, chat_id: str, replies: list[Reply]) -> list[Payload]:
    """One sendMessage per piece of each reply, in order (a reply's picture is left out)."""
    calls: list[Payload] = []
    for reply in replies:
        text = render_text(reply)
        if not text and (reply.photo is not None or reply.document is not None):
            continue  # a picture or a file alone: nothing to say without it
        for part in split_message(text or "…", TEXT_LIMIT, utf16_units):
            calls.append({"m": SEND, "p": {"chat_id": chat_id, "text": part}})
    return calls


class ZaloTransport:
    """One Bot API call per payload. Zalo's message ids are not in one sequence with the
    person's, so nothing is returned to order answers by (see Courier.typed_before_last_reply)."""

    def __init__(self, client: ZaloClient) -> None:
        self.client = client
        self.sent = 0  # messages Zalo accepted (they count against the monthly quota)

    async def deliver(self, chat_id: str, payload: Payload) -> int | None:
        try:
            await self.client.call(payload["m"], dict(payload["p"]))
        except ZaloError as e:
            raise sorted_failure(e) from e
        except httpx.TransportError:
            raise  # transient: the courier tries again
        self.sent += 1
        return None


def sorted_failure(e: ZaloError) -> Exception:
    """What the courier should do about a refusal. Zalo documents few error codes: a 429 waits,
    a 403 means the person cannot be written to, a 401 (token revoked) and 5xx are tried again
    (replies wait until the admin fixes the token), any other 4xx is this message's fault.
    An answer that is not the Bot API's (a proxy's page) refuses nothing: tried again."""
    if not e.answered:
        return e
    code = e.code if e.code >= 400 else e.status
    if code == 429 or e.status == 429:
        return RetryLater(_retry_after(e.description))
    if code == 403:
        return Refused(f"{e.code} {e.description}")
    if code in (401, 408) or code >= 500 or e.status >= 500:
        return e
    return Rejected(f"{e.code} {e.description}")


def _retry_after(description: str) -> float:
    digits = "".join(c if c.isdigit() else " " for c in description).split()
    return float(digits[-1]) if digits and 0 < int(digits[-1]) <= 3600 else RETRY_AFTER
