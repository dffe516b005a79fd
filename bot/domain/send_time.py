"""When to send an announcement, as a person types it: "17:30", "17h30", "7h", "07:30 08/12",
"08/12/2026 07:30", "mai 7h30", "5h chiều mai", "17:00 hôm nay". Pure: the caller gives the
local time now."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from bot.domain import messages_vi as M

_CLOCK = r"(?P<h>\d{1,2})\s*[:hg.]\s*(?P<m>\d{2})?"  # 17:30, 17h30, 17h, 17g30
_DAY = r"(?P<d>\d{1,2})[/-](?P<mo>\d{1,2})(?:[/-](?P<y>\d{4}))?"
_FORMS = [re.compile(rf"^{_CLOCK}(?:\s*(?:ngay|,)?\s*{_DAY})?$"),
          re.compile(rf"^{_DAY}\s*(?:luc|,)?\s*{_CLOCK}$")]
FARTHEST = timedelta(days=60)
_NAMED_DAY = re.compile(r"(?:^|\s)(?:ngay mai|mai|hom nay)(?:$|\s)")
_PART_OF_DAY = re.compile(r"\b(?:sang|trua|chieu|toi)\b")
_AFTERNOON = re.compile(r"\b(?:chieu|toi)\b")


class SendTimeError(ValueError):
    """Why a typed time cannot be used (Vietnamese, for chat)."""


def parse_send_time(folded: str, now: datetime) -> datetime:
    """The moment `folded` (typed text, lower-cased without diacritics) names, in `now`'s
    zone. A time alone is the next such time (today, or tomorrow once it has passed); with a
    day and month, that day of this year (of the next once this year's has passed by more
    than a month: "07:30 05/01" typed in December); refuses the past and beyond 60 days."""
    text = " ".join(folded.replace("luc ", "").split())
    named = _NAMED_DAY.search(text)  # "mai 7h30", "7h30 sáng mai", "17:00 hôm nay"
    if named is not None:
        text = " ".join((text[:named.start()] + " " + text[named.end():]).split())
        text = _PART_OF_DAY.sub("", text).strip()
    for form in _FORMS:
        m = form.match(text)
        if m is not None:
            break
    else:
        raise SendTimeError(M.BC_TIME_UNREAD)
    hour, minute = int(m["h"]), int(m["m"] or 0)
    if hour > 23 or minute > 59:
        raise SendTimeError(M.BC_TIME_UNREAD)
    clock = time(hour, minute)
    if named is not None and m["d"] is None:
        days = 1 if "mai" in named.group(0) else 0
        if _AFTERNOON.search(folded) and hour < 12:
            clock = time(hour + 12, minute)  # "5h chiều mai": 17:00
        moment = datetime.combine(now.date() + timedelta(days=days), clock, now.tzinfo)
        if moment <= now:
            raise SendTimeError(M.BC_TIME_PAST)
        return moment
    if m["d"] is None:
        moment = datetime.combine(now.date(), clock, now.tzinfo)
        if moment <= now:
            moment += timedelta(days=1)
        return moment
    year = int(m["y"]) if m["y"] else now.year
    try:
        day = date(year, int(m["mo"]), int(m["d"]))
    except ValueError:
        raise SendTimeError(M.BC_TIME_UNREAD) from None
    if m["y"] is None and day < now.date() - timedelta(days=31):
        day = day.replace(year=year + 1)
    moment = datetime.combine(day, clock, now.tzinfo)
    if moment <= now:
        raise SendTimeError(M.BC_TIME_PAST)
    if moment - now > FARTHEST:
        raise SendTimeError(M.BC_TIME_FAR)
    return moment
