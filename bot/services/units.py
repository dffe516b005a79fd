"""The unit tree as the services see it: read from storage at most once a minute.

Units change only by `baocao units import` (another process), rarely; the dialogue asks on
every event whether a template applies to a unit, and a reminder sweep asks it for every unit,
so both share this one view instead of each keeping its own copy.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.domain.periods import Period
from bot.domain.templates import Template
from bot.domain.units import Unit, ancestors_of, applies, effective_org, expected
from bot.services.turns import Turns
from storage.interface import Storage


@dataclass(frozen=True)
class UnitTree:
    units: dict[str, Unit]
    created: dict[str, datetime]  # when each unit came into baocao
    applicable: dict[str, frozenset[str]]  # template id → codes of the units it applies to
    ordered: dict[str, list[Unit]]  # template id → those units, by code

    def units_for(self, template_id: str) -> list[Unit]:
        """Every unit the template applies to, retired ones included (their history)."""
        return self.ordered.get(template_id, [])

    def expected_for(self, template_id: str, period: Period) -> list[Unit]:
        """The units that owe this period's report: retired units drop out from the period
        after their last day (`expected`)."""
        return [u for u in self.ordered.get(template_id, []) if expected(u, period)]

    def owes(self, code: str, template_id: str, period: Period) -> bool:
        unit = self.units.get(code)
        return (unit is not None and code in self.applicable.get(template_id, frozenset())
                and expected(unit, period))


class UnitDirectory:
    TTL = 60.0  # seconds

    def __init__(self, storage: Storage, templates: dict[str, Template],
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.storage = storage
        self.templates = templates
        self.monotonic = monotonic
        self._tree: UnitTree | None = None
        self._listed: list[Unit] = []
        self._loaded = 0.0

    async def tree(self, turns: Turns | None = None) -> UnitTree:
        """The current view; when it is a minute old, the units are read again, and the view is
        rebuilt only if they changed (keeping 10,000 long-lived units rather than replacing them
        every minute lets memory be reused: bench/memory.py). Long work is done in turns."""
        if self._tree is not None and self.monotonic() - self._loaded <= self.TTL:
            return self._tree
        turns = turns or Turns()
        listed = await self.storage.list_units()
        self._loaded = self.monotonic()
        if self._tree is not None and await _same(listed, self._listed, turns):
            return self._tree
        units = {u.code: u for u in listed}
        ordered: dict[str, list[Unit]] = {t.id: [] for t in self.templates.values()}
        for u in listed:  # listed by code
            ancestors = ancestors_of(u.code, units)
            org = effective_org(u.code, units)
            for t in self.templates.values():
                if applies(t.applies_to, u, ancestors, org):
                    ordered[t.id].append(u)
            await turns.take()
        applicable = {tid: frozenset(u.code for u in found) for tid, found in ordered.items()}
        self._tree = UnitTree(units, await self.storage.units_created(), applicable, ordered)
        self._listed = listed
        return self._tree

    def forget(self) -> None:
        """Read the tree again on the next question (after an import in this process)."""
        self._tree = None


async def _same(a: list[Unit], b: list[Unit], turns: Turns) -> bool:
    """a == b, a slice at a time (10,000 comparisons are ~10 ms of the event loop)."""
    if len(a) != len(b):
        return False
    for i in range(0, len(a), 1000):
        if a[i:i + 1000] != b[i:i + 1000]:
            return False
        await turns.take()
    return True
