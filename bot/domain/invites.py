"""Why an invite code cannot be redeemed (the wording lives in messages_vi)."""

from __future__ import annotations

from enum import StrEnum


class InviteRefusal(StrEnum):
    UNKNOWN = "unknown"  # no such code
    EXPIRED = "expired"
    USED_UP = "used_up"  # every use taken
    ALREADY = "already"  # this person already joined with it


class InviteRefused(Exception):
    """An expected refusal, not a failure: the person is told why."""

    def __init__(self, reason: InviteRefusal) -> None:
        super().__init__(reason.value)
        self.reason = reason
