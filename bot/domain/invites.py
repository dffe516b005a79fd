"""Invite codes: their shape (length and alphabet chosen so they cannot be guessed), how
hard guessing is under the wrong-code limit, and why a code cannot be redeemed (the wording
lives in messages_vi).

The bound. A code is CODE_LENGTH = 8 characters from an alphabet of 32 (no 0/O, 1/I), so there
are 32^8 = 2^40 ≈ 1.1 × 10^12 codes. bot.domain.guesses lets one chat make 10 wrong tries a
day (5 an hour). With K codes open at once, one chat's chance of hitting any of them in a day
is at most 10·K / 32^8: for K = 1,000 open codes about 9.1 × 10^-9 (one in 110 million a day);
a thousand chats guessing for a year still stand about one chance in 300. `guess_odds` computes
it; tests pin the figures the README quotes.
"""

from __future__ import annotations

from enum import StrEnum

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: easy to read aloud
CODE_LENGTH = 8
CODE_SPACE = len(CODE_ALPHABET) ** CODE_LENGTH


def is_code_shaped(text: str) -> bool:
    """Could `text` (upper-cased) be an invite code: the length and the alphabet?"""
    return len(text) == CODE_LENGTH and all(c in CODE_ALPHABET for c in text)


def guess_odds(open_codes: int, guesses: int, space: int = CODE_SPACE) -> float:
    """The chance that `guesses` distinct wrong-or-right tries hit one of `open_codes`
    codes: 1 - C(space - K, n) / C(space, n), at most n·K / space (the bound quoted)."""
    miss = 1.0
    for i in range(guesses):
        miss *= max(0.0, (space - open_codes - i) / (space - i))
    return 1.0 - miss


class InviteRefusal(StrEnum):
    UNKNOWN = "unknown"  # no such code
    EXPIRED = "expired"
    USED_UP = "used_up"  # every use taken
    ALREADY = "already"  # this person already joined with it
    REVOKED = "revoked"  # an admin withdrew it


class InviteRefused(Exception):
    """An expected refusal, not a failure: the person is told why."""

    def __init__(self, reason: InviteRefusal) -> None:
        super().__init__(reason.value)
        self.reason = reason
