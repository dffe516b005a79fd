"""The .docx export benchmark still runs (50 communes; its figures are not checked, only that
the annex named every unsent commune and every figure was measured)."""

from __future__ import annotations

import pytest

from bench import export_docx


async def test_docx_bench_runs_and_prints_its_anchor(capsys: pytest.CaptureFixture[str]) -> None:
    figures = await export_docx.measure(communes=50, runs=1)
    out = capsys.readouterr().out
    # measure() itself checks that 5 units were missing and the annex numbered them to 5
    assert set(figures) == {"docx", "digest", "peak_mb"}
    assert all(v > 0 for v in figures.values())
    assert "5 units in the annex" in out and "anchor: the digest" in out
