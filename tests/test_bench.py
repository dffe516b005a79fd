"""The benchmarks still run (small sizes; their figures are not checked here, only that every
simulated officer got through and every update was timed)."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator

import pytest

from bench import dialogue_throughput as dialogue
from bench import memory, soak
from bench.standin import StandIn


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


async def test_http_runs_through_the_standin_server_reach_every_report() -> None:
    """The runs through python-telegram-bot's HTTP client: the anchor and baocao (with its
    sweep) each answer every update of every officer; baocao stores every report."""
    officers = 6
    with StandIn() as server:
        for baocao in (False, True):
            for run in ({"concurrency": 3}, {"rate": 200.0}):
                result = await dialogue.http_run(server, officers, baocao, **run)
                assert result.lost == 0
                assert len(result.latencies) == officers * dialogue.STEPS == result.offered
                assert result.requests > result.offered  # long polls and replies
    # baocao's runs also checked inside http_run that every report was stored


async def test_soak_reports_every_minute_and_the_wal(capsys: pytest.CaptureFixture[str]) -> None:
    figures = await soak.soak(officers=12, minutes=0.1, rate=40.0, sweep_every=2.0, minute=2.0)
    out = capsys.readouterr().out
    assert figures["answered"] > 0 and figures["lost"] == 0
    assert "WAL largest" in out and "p99" in out


async def test_memory_bench_prints_every_stage(capsys: pytest.CaptureFixture[str]) -> None:
    figures = await memory.measure(communes=20, per_commune=2, updates=60, concurrency=4,
                                   trace=False)
    out = capsys.readouterr().out
    for stage in ("after warm-up", "after the sweep", "after 60 updates",
                  "after sweeps and updates", "after gc.collect()"):
        assert f"RSS {stage}" in out and figures[stage] > 0
    assert "every commune due" in out and "longest event-loop stall" in out
