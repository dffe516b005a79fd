"""Joining a unit with an invite code: `/start CODE`, or the code alone as a first message."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.domain import messages_vi as M
from bot.domain.dialogue import Reply
from bot.domain.invites import InviteRefusal, InviteRefused
from bot.services.channels import Inbound
from bot.services.commands import help_text
from bot.services.invites import new_code
from bot.services.reporting.context import Ctx, Deps
from storage.models import Membership, Person

log = logging.getLogger(__name__)


LINK_MINUTES = 30


async def link_code(deps: Deps, ctx: Ctx) -> list[Reply]:
    """/lienket: a one-time code that makes another chat account (Zalo, Telegram) this person."""
    expires = ctx.now + timedelta(minutes=LINK_MINUTES)
    while True:  # an invite or another link may hold the code (1 in 32^8)
        code = new_code()
        if await deps.storage.create_link_code(ctx.person.id, code, expires):
            return [Reply(M.link_code(code, LINK_MINUTES))]


def looks_like_code(text: str) -> bool:
    t = text.strip()
    return 6 <= len(t) <= 16 and t.isalnum() and t.isascii()


async def join(deps: Deps, event: Inbound, code_text: str, now: datetime
               ) -> tuple[list[Reply], Person | None, list[Membership] | None]:
    """Redeem the code; return the replies and, on success, the person and their memberships
    as they are now (for the service's caches)."""
    code = code_text.strip().upper()
    chat = (event.channel, event.user_id)
    until = deps.guesses.blocked_until(chat, now)
    if until is not None:
        log.warning("invite code from %s/%s not tried: too many wrong codes", *chat)
        return [Reply(M.too_many_codes(deps.local(until)))], None, None
    try:
        linked = await deps.storage.redeem_link_code(code, event.channel, event.user_id, now)
    except InviteRefused as refused:
        already = refused.reason is InviteRefusal.ALREADY
        return [Reply(M.LINK_ALREADY if already else M.LINK_EXPIRED)], None, None
    if linked is not None:
        deps.guesses.succeeded(chat)
        memberships = await deps.storage.memberships(linked.id)
        text = M.linked(linked.display_name, [m.unit.name for m in memberships])
        return [Reply(text + "\n\n" + help_text({m.role for m in memberships}))], linked, \
            memberships
    try:
        person, invite = await deps.storage.redeem_invite(
            code, event.channel, event.user_id, event.display_name or "", now)
    except InviteRefused as refused:
        if refused.reason is InviteRefusal.UNKNOWN:
            deps.guesses.failed(chat, now)
            log.warning("wrong invite code from %s/%s (%d characters)", *chat, len(code))
        message = M.invite_refused(refused.reason, code_text.strip())
        if await deps.storage.find_person(event.channel, event.user_id) is None:
            message += "\n\n" + M.JOIN_STEPS
        return [Reply(message)], None, None
    deps.guesses.succeeded(chat)
    memberships = await deps.storage.memberships(person.id)
    unit = next((m.unit for m in memberships if m.unit.code == invite.unit_code), None)
    text = M.joined(person.display_name, unit.name if unit else invite.unit_code, invite.role)
    roles = {m.role for m in memberships}
    return [Reply(text + "\n\n" + help_text(roles))], person, memberships
