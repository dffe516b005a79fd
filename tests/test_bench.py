"""The benchmarks still run (small sizes; their figures are not checked here, only that every
simulated officer got through and every update was timed)."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator

import pytest

from bench import dialogue_throughput as dialogue


@pytest.fixture(autouse=True)
def runtime_restored() -> Iterator[None]:
    """The benchmark tunes the process as `baocao run` does; undo it for the other tests."""
    interval, thresholds = sys.getswitchinterval(), gc.get_threshold()
    yield
    sys.setswitchinterval(interval)
    gc.set_threshold(*thresholds)
    gc.unfreeze()


async def test_dialogue_benchmark_drives_every_officer_to_a_sent_report() -> None:
    officers = 12
    for latencies, elapsed in (await dialogue.saturate(officers, 1),
                               await dialogue.saturate(officers, 4),
                               await dialogue.steady(officers, 2000.0)):
        # run() itself checks that all `officers` reports were stored as submissions
        assert len(latencies) == officers * dialogue.STEPS
        assert elapsed > 0 and all(x >= 0 for x in latencies)
