"""The digest benchmark still runs (50 communes; its figures are not checked, only that the
command and the in-process digest counted every commune and every figure was timed)."""

from __future__ import annotations

import pytest

from bench import digest


async def test_digest_bench_runs_and_prints_its_anchors(
        capsys: pytest.CaptureFixture[str]) -> None:
    figures = await digest.measure(communes=50, runs=1)
    out = capsys.readouterr().out
    # measure() itself checks that the command and the in-process digest counted all 50
    assert set(figures) == {"cold", "help", "digest", "fresh", "read", "build"}
    assert all(v > 0 for v in figures.values())
    assert "anchor `baocao --help` cold" in out and "of which the SQL read" in out
