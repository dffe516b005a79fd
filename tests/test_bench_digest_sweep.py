"""The scheduled-digest sweep benchmark still runs (200 communes, 20 supervisors; its figures
are not checked, only that every supervisor got one digest and every step was timed)."""

from __future__ import annotations

import pytest

from bench import digest_sweep


async def test_digest_sweep_bench_runs_and_prints_its_anchor(
        capsys: pytest.CaptureFixture[str]) -> None:
    figures = await digest_sweep.measure(communes=200, supervisors=20, runs=1)
    out = capsys.readouterr().out
    # measure() itself checks that each of the 20 got one digest and the next sweep none
    assert set(figures) == {"decide_first", "decide", "store", "after", "anchor"}
    assert all(v > 0 for v in figures.values())
    assert "9 in each of 2 districts, 2 at the province" in out
    assert "anchor, same run and database: one reminder sweep's plan" in out
