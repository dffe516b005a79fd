"""The broadcast benchmark still runs (90 recipients; its rates are not checked here, only
that nobody was lost, nobody got it twice but for what the kill left unrecorded, and every
403 was marked)."""

from __future__ import annotations

import pytest

from bench import broadcast


async def test_broadcast_bench_loses_nothing_across_a_kill(
        capsys: pytest.CaptureFixture[str]) -> None:
    plain, killed = await broadcast.measure(recipients=90, blocked=0.05, seed_=7)
    out = capsys.readouterr().out
    assert "calls answered 429" in out and "at the SIGKILL" in out
    for run in (plain, killed):
        assert run["lost"] == 0 and run["failed_rows"] == 0
        assert run["marked"] == run["blocked"] == run["unreachable_rows"] > 0
        assert run["sent_rows"] == 90 - run["blocked"]
    assert plain["duplicates"] == 0
    # at least once: only what was accepted but not yet recorded at the kill goes twice
    assert killed["duplicates"] <= killed["accepted_not_recorded"]
