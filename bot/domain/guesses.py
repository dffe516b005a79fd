"""How many wrong invite codes one chat may try: enough for typos, far too few to guess.

Codes are 8 characters from 32 (about 10^12 of them). A chat gets 5 wrong tries an hour and
10 a day; then it is told when it may try again. One Telegram account can so test 10 codes a
day: with 1,000 live codes, about one chance in 100 million a day of hitting one.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

LIMITS = ((timedelta(hours=1), 5), (timedelta(days=1), 10))
REMEMBERED_CHATS = 10_000  # the oldest are forgotten beyond this (memory stays bounded)


class GuessLimit:
    def __init__(self, limits: tuple[tuple[timedelta, int], ...] = LIMITS) -> None:
        self.limits = limits
        self.longest = max(span for span, _ in limits)
        self._failures: dict[tuple[str, str], deque[datetime]] = {}

    def blocked_until(self, chat: tuple[str, str], now: datetime) -> datetime | None:
        """When this chat may try again, or None if it may try now."""
        failures = self._failures.get(chat)
        if not failures:
            return None
        while failures and failures[0] <= now - self.longest:
            failures.popleft()
        until = None
        for span, allowed in self.limits:
            recent = [t for t in failures if t > now - span]
            if len(recent) >= allowed:
                free = recent[-allowed] + span  # when the oldest counted try leaves the span
                until = free if until is None else max(until, free)
        return until

    def failed(self, chat: tuple[str, str], now: datetime) -> None:
        if chat not in self._failures and len(self._failures) >= REMEMBERED_CHATS:
            del self._failures[next(iter(self._failures))]
        self._failures.setdefault(chat, deque()).append(now)

    def succeeded(self, chat: tuple[str, str]) -> None:
        self._failures.pop(chat, None)
