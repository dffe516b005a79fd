"""The unit tree as the services see it: refreshed from storage at most once a minute.

Units change only by `baocao units import` (another process), rarely; the dialogue asks on
every event whether a template applies to a unit, and a reminder sweep asks it for every unit,
so both share this one view instead of each keeping its own copy.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.domain.templates import Template
from bot.domain.units import Unit, ancestors_of, applies
from storage.interface import Storage


@dataclass(frozen=True)
class UnitTree:
    units: dict[str, Unit]
    created: dict[str, datetime]  # when each unit came into baocao
    applicable: dict[str, frozenset[str]]  # template id → codes of the units it applies to

    def units_for(self, template_id: str) -> list[Unit]:
        codes = self.applicable.get(template_id, frozenset())
        return [self.units[c] for c in sorted(codes)]


class UnitDirectory:
    TTL = 60.0  # seconds

    def __init__(self, storage: Storage, templates: dict[str, Template],
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.storage = storage
        self.templates = templates
        self.monotonic = monotonic
        self._tree: UnitTree | None = None
        self._loaded = 0.0

    async def tree(self) -> UnitTree:
        if self._tree is None or self.monotonic() - self._loaded > self.TTL:
            units = {u.code: u for u in await self.storage.list_units()}
            ancestors = {code: ancestors_of(code, units) for code in units}
            applicable = {
                t.id: frozenset(c for c, u in units.items()
                                if applies(t.applies_to, u, ancestors[c]))
                for t in self.templates.values()}
            created = await self.storage.units_created()
            self._tree = UnitTree(units, created, applicable)
            self._loaded = self.monotonic()
        return self._tree

    def forget(self) -> None:
        """Read the tree again on the next question (after an import in this process)."""
        self._tree = None
