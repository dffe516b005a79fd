"""The digest of one template × period × subtree, read from storage (see bot.domain.digest).

Four reads whatever the subtree's size: the unit tree, the latest version of every report in
the subtree with its answers (one query), the drafts of the period, the officers. The chat
digest, the scheduled digests and the chart build on `digest` (or on `gather` + `build` to
add inputs, e.g. the review's returned reports: `counted=False`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, time
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.domain.digest import (
    Digest,
    DigestError,
    DigestInput,
    InProgress,
    Memo,
    Officer,
    Sent,
    build,
    fetch_span,
    report_periods,
)
from bot.domain.periods import Period, PeriodError
from bot.domain.reports import window
from bot.domain.templates import Template
from bot.domain.units import Unit
from storage.interface import Storage
from storage.models import Submission

if TYPE_CHECKING:  # pydantic's config models: not imported by a cold `baocao digest`
    from bot.config import DigestsConfig

# False for a submission returned for correction (its latest version): the review feature
# supplies it; until then everything counts.
Counted = Callable[[Submission], bool]


def wanted_periods(t: Template, period: Period) -> list[str]:
    """The ids of the report periods the digest reads: the kind it combines, from the start
    of `fetch_span` to the period's end."""
    periods = report_periods(t, period)
    kind = periods[0].kind
    span = fetch_span(t, period)
    try:
        p = Period.latest(kind, span.start)
    except PeriodError:
        p = periods[0]
    out = []
    for _ in range(2000):
        if p.start > span.end:
            break
        if p.end >= span.start:
            out.append(p.id)
        try:
            p = p.next()
        except PeriodError:
            break
    return out


class Reads:
    """The latest submissions of the last few (template, subtree, periods) read, kept while
    no report or correction of those periods is sent: checking costs one index-only count
    (`submissions_stamp`), a fresh read of 10,000 communes' answers much more. What counts
    (a returned report) is decided after the read, so a review needs no new read."""

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self.memo = Memo()  # each child's figures, reused while its reports are the same
        # id of a list read → (that list, the reports returned then, the engine's form of it)
        self._sent: dict[int, tuple[list[Submission], frozenset[tuple[str, str]],
                                    tuple[Sent, ...]]] = {}
        self._kept: OrderedDict[tuple[str, str, tuple[str, ...], tuple[str, ...]],
                                tuple[tuple[int, int], list[Submission]]] = OrderedDict()

    async def read(self, storage: Storage, template_id: str, root: str,
                   periods: list[str], carried: tuple[str, ...] = ()) -> list[Submission]:
        key = (template_id, root, tuple(periods), carried)
        stamp = await storage.submissions_stamp(template_id, periods)
        kept = self._kept.get(key)
        if kept is not None and kept[0] == stamp:
            self._kept.move_to_end(key)
            return kept[1]
        subs = await _read(storage, template_id, root, periods, carried)
        # read after the stamp: a report sent in between makes the next check read again
        self._kept[key] = (stamp, subs)
        self._kept.move_to_end(key)
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)
        return subs

    def sent(self, subs: list[Submission], returned: frozenset[tuple[str, str]],
             make: Callable[[], tuple[Sent, ...]]) -> tuple[Sent, ...]:
        """The engine's form of `subs` (a list this cache read) with `returned` counting as
        not sent, made once while both are the same (20,000 objects a digest otherwise)."""
        kept = self._sent.get(id(subs))
        if kept is not None and kept[0] is subs and kept[1] == returned:
            return kept[2]
        made = make()
        live = {id(k[1]) for k in self._kept.values()}
        self._sent = {i: v for i, v in self._sent.items() if i in live}  # drop the stale
        self._sent[id(subs)] = (subs, returned, made)
        return made


def carried_in(root: str, tree: Mapping[str, Unit]) -> tuple[str, ...]:
    """Units outside `root`'s subtree merged (perhaps through others) into a unit inside it:
    their flows count there (a commune of one district merged into another's), so their
    reports are read too. Only merged units are walked: a handful, a few levels each."""

    def within(code: str | None) -> bool:
        seen: set[str] = set()
        while code is not None and code in tree and code not in seen:
            if code == root:
                return True
            seen.add(code)
            code = tree[code].parent_code
        return False

    out = []
    for unit in tree.values():  # (no sort of 10,000 units per digest: only merged ones count)
        code = unit.code
        if not unit.merged_into or within(code):
            continue
        heir: str | None = unit.merged_into
        chain = {code}
        while heir is not None and heir in tree and heir not in chain:
            if within(heir):
                out.append(code)
                break
            chain.add(heir)
            heir = tree[heir].merged_into
    return tuple(sorted(out))


async def _read(storage: Storage, template_id: str, root: str, periods: list[str],
                carried: tuple[str, ...]) -> list[Submission]:
    subs = await storage.subtree_submissions(template_id, root, periods)
    for code in carried:  # a handful at most: each a unit merged in from elsewhere
        subs += [s for s in await storage.subtree_submissions(template_id, code, periods)
                 if s.unit_code == code]
    return subs


def escalate_after(t: Template, defaults: DigestsConfig | None = None) -> int:
    """Days overdue after which a missing unit is named as such: the template's own
    [digests] wins over the config's."""
    own = t.digests.escalate_after_days if t.digests is not None else None
    if own is not None:
        return own
    if defaults is None:
        from bot.config import DigestsConfig
        defaults = DigestsConfig()
    return defaults.escalate_after_days


async def gather(storage: Storage, t: Template, period: Period, root: str, now: datetime,
                 zone: ZoneInfo, lock_days: int, units: Mapping[str, Unit] | None = None,
                 counted: Counted | None = None, cache: Reads | None = None,
                 settings: DigestsConfig | None = None) -> DigestInput:
    """The engine's inputs from storage. `units`: the tree when the caller has it (the bot's
    UnitDirectory); `counted`: which submissions count (default: all); `cache`: keeps the
    submissions read while none is sent (the bot holds one for all its digests);
    `settings`: the config's [digests] (escalation; default: its defaults)."""
    periods = report_periods(t, period)
    tree = units if units is not None else {u.code: u for u in await storage.list_units()}
    if root not in tree:
        raise DigestError(f"unknown unit {root}")
    wanted = wanted_periods(t, period)
    carried = carried_in(root, tree)
    if cache is None:
        subs = await _read(storage, t.id, root, wanted, carried)
    else:
        subs = await cache.read(storage, t.id, root, wanted, carried)
    returned: frozenset[tuple[str, str]] = frozenset()
    if counted is None and t.review:  # a report returned for correction counts as not sent
        returned = frozenset({(code, p.id) for p in periods  # this digest's (not earlier)
                              for code, state in (await storage.review_states(t.id, p.id)).items()
                              if state == "returned"})

    def turned() -> tuple[Sent, ...]:
        return tuple(Sent(s.unit_code, s.period, s.answers, s.submitted_at, s.due_at,
                          s.first_submitted_at, s.on_time, s.submitted_by, s.version,
                          counted(s) if counted is not None
                          else (s.unit_code, s.period) not in returned) for s in subs)

    reuse = cache is not None and counted is None
    sent = cache.sent(subs, returned, turned) if cache is not None and reuse else turned()
    drafts = []
    for p in periods:
        in_progress = await storage.draft_progress(t.id, p.id)
        if not in_progress:
            continue
        # imported here: the dialogue's modules are ~10% of a cold `baocao digest`'s imports
        from bot.domain.dialogue import progress
        for code, d in in_progress.items():
            answered, total = progress(t, d.answers)
            drafts.append(InProgress(code, p.id, answered, total))
    officers = {code: [Officer(o.id, o.display_name, o.reachable) for o in people]
                for code, people in (await storage.officers_by_unit()).items()}
    windows = [window(t, p, zone, lock_days) for p in periods]
    due = {w.period.id: w.due for w in windows}
    opens = datetime.combine(min(p.start for p in periods), time(0), tzinfo=zone)
    return DigestInput(t, period, root, tree, now, sent, due, drafts, officers,
                       memo=cache.memo if cache is not None else None, opens=opens,
                       lock=max(w.lock for w in windows),
                       escalate_after_days=escalate_after(t, settings))


async def digest(storage: Storage, t: Template, period: Period, root: str, now: datetime,
                 zone: ZoneInfo, lock_days: int, units: Mapping[str, Unit] | None = None,
                 counted: Counted | None = None, cache: Reads | None = None,
                 settings: DigestsConfig | None = None) -> Digest:
    """The digest of `t` × `period` over `root`'s subtree (DigestError: a period the template
    does not ask for, an unknown unit)."""
    inp = await gather(storage, t, period, root, now, zone, lock_days, units, counted, cache,
                       settings)
    return build(inp)


def with_now(inp: DigestInput, now: datetime) -> DigestInput:
    """The same inputs at another instant (overdue days move; nothing is read again)."""
    return replace(inp, now=now)
