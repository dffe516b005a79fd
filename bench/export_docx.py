"""The draft official report (.docx) of a large province: 10,000 communes × 30 questions (the
seed of bench/digest.py), a tenth of the communes not sent this month, so the annex names
1,000 units. Measures `build_docx` alone beside its anchor, the digest it is made from
(read + roll-up), in the same run; and the peak memory of the process.
Goal (issue 14): docx ≤ 2 s, memory ≤ 300 MB. Measured 2026-12-07: build_docx 101–247 ms (44 kB,
1,000 units in the annex) beside the digest 0.9–1.1 s; peak RSS 175 MB (seeding included).
With all 10,000 communes missing (by hand): 0.18–0.22 s, 96 kB (the annex's paragraphs are
parsed as one piece of XML; through python-docx one by one they took 1.9–2.4 s).

    python -m bench.export_docx [--communes 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import resource
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from docx import Document

from bench.digest import NOW, PERIOD, TEMPLATE, VN, seed, write_setup
from bot.config import OrganizationConfig
from bot.domain.digest import build
from bot.domain.periods import Period
from bot.domain.templates import load_templates
from bot.exports.docx_report import build_docx
from bot.services.digests import gather
from storage.sqlite import SqliteStorage

GOAL = 2.0
MEMORY_GOAL_MB = 300
ORG = OrganizationConfig(kind="doan", parent="TỈNH ĐOÀN LÀO CAI", name="BCH ĐOÀN TỈNH LÀO CAI",
                         place="Lào Cai", number_suffix="-BC/TĐTN-VP")


def unsend_every_tenth(db: Path) -> None:
    """Every tenth commune's report of this month removed: missing units for the annex."""
    with sqlite3.connect(db) as conn:
        ids = [r[0] for r in conn.execute(
            "SELECT id FROM submissions WHERE period = ? AND CAST(substr(unit_code, 2) AS"
            " INTEGER) % 10 = 0", (PERIOD,))]
        conn.executemany("DELETE FROM submission_answers WHERE submission_id = ?",
                         [(i,) for i in ids])
        conn.executemany("DELETE FROM submissions WHERE id = ?", [(i,) for i in ids])


async def measure(communes: int = 10_000, runs: int = 3) -> dict[str, float]:
    """Seed, measure, print; returns seconds (and `peak_mb`, the process's peak RSS)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = write_setup(folder)
        loaded, problems = load_templates(config.parent / "reports")
        if problems:
            raise RuntimeError("; ".join(str(p) for p in problems))
        t = loaded[TEMPLATE]
        db = folder / "baocao.db"
        await seed(db, t, communes)
        unsend_every_tenth(db)
        storage = await SqliteStorage.open(db)
        try:
            units = {u.code: u for u in await storage.list_units()}
            digests, docs = [], []
            size = 0
            for _ in range(runs):
                started = time.perf_counter()
                d = build(await gather(storage, t, Period.parse(PERIOD), "T", NOW, VN, 10,
                                       units))
                middle = time.perf_counter()
                data = build_docx(d, units, ORG, NOW, (), t)
                docs.append(time.perf_counter() - middle)
                digests.append(middle - started)
                size = len(data)
        finally:
            await storage.close()
    missing = len(d.completeness.missing_units)
    assert missing == -(-communes // 10)
    opened = Document(io.BytesIO(data))
    assert sum(1 for p in opened.paragraphs if p.text.startswith(f"{missing}. ")) == 1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    figures = {"docx": statistics.median(docs), "digest": statistics.median(digests),
               "peak_mb": peak}
    verdict = {True: "ok", False: "OVER"}
    print(f"build_docx  {figures['docx'] * 1000:7.0f} ms median of {runs} ({size / 1024:.0f} kB,"
          f" {missing:,} units in the annex; goal ≤ {GOAL * 1000:.0f} ms: "
          f"{verdict[figures['docx'] <= GOAL]}); anchor: the digest (read + roll-up) "
          f"{figures['digest'] * 1000:.0f} ms; peak RSS {peak:.0f} MB "
          f"(goal ≤ {MEMORY_GOAL_MB} MB: {verdict[peak <= MEMORY_GOAL_MB]})")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--communes", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(measure(args.communes, args.runs))


if __name__ == "__main__":
    main()
