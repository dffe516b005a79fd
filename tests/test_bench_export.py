"""The export benchmark still runs (200 communes; its figures are not checked, only that the
workbook held every commune and every figure was measured)."""

from __future__ import annotations

import pytest

from bench import export


async def test_export_bench_runs_and_prints_its_anchors(
        capsys: pytest.CaptureFixture[str]) -> None:
    figures = await export.measure(communes=200, runs=1)
    out = capsys.readouterr().out
    # measure() itself checks that the workbook has a row for each of the 200 communes
    assert set(figures) == {"digest", "xlsx", "csv", "bytes", "command", "peak_mb", "help"}
    assert all(v > 0 for v in figures.values())
    assert "2 corrected" in out and "anchor: the digest alone" in out
    assert "anchor `baocao --help` cold" in out
