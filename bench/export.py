"""The Excel export of a large province: 10,000 communes × the 30-question monthly report of
bench/digest.py (every commune sent this month and last), 1% of them corrected once.

Measures, in one run:
- in-process: `xlsx_file` and `csv_file` (median of runs), beside the digest alone (the
  anchor: the same read and roll-up the export starts from);
- the command: `baocao export --format xlsx` as a subprocess, its wall time and peak RSS
  (`ru_maxrss` the child reports), beside `baocao --help` cold.
Goals (issue 14): xlsx ≤ 5 s, memory ≤ 300 MB.

    python -m bench.export [--communes 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import openpyxl

from bench import digest as bench_digest
from bot.domain.periods import Period
from bot.domain.templates import Template, load_templates
from bot.exports.workbook import csv_file, xlsx_file
from bot.services.digests import digest
from storage.sqlite import SqliteStorage

TIME_GOAL, MEMORY_GOAL_MB = 5.0, 300
ROOT = bench_digest.ROOT


async def correct(db: Path, t: Template, communes: int) -> int:
    """A second version of every hundredth commune's report of this month (q01 and q02
    changed, sent after the due instant). Returns how many."""
    storage = await SqliteStorage.open(db)
    try:
        version = (await storage.sync_templates([t]))[t.id]

        def write(conn: sqlite3.Connection) -> int:
            top = conn.execute("SELECT MAX(id) FROM submissions").fetchone()[0]
            rows, answer_rows = [], []
            for n, i in enumerate(range(0, communes, 100), 1):
                given = bench_digest.answers(i)
                given.update(q01=given["q01"] + 5, q02=given["q02"] + 1)
                sid = top + n
                rows.append((sid, f"X{i:05d}", t.id, version, bench_digest.PERIOD, 2, 1,
                             "2026-04-06T01:00:00+00:00", "2026-04-04T17:00:00+00:00", 0,
                             json.dumps(given)))
                answer_rows += [(sid, k, json.dumps(v)) for k, v in given.items()]
            conn.executemany("INSERT INTO submissions (id, unit_code, template_id,"
                             " template_version, period, version, submitted_by, submitted_at,"
                             " due_at, on_time, answers_json) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
            conn.executemany("INSERT INTO submission_answers (submission_id, question_id,"
                             " value) VALUES (?,?,?)", answer_rows)
            return len(rows)

        return int(await storage.db.write(write))
    finally:
        await storage.close()


async def in_process(db: Path, t: Template, runs: int) -> dict[str, float]:
    """Median seconds of the digest alone, `xlsx_file` and `csv_file`; the workbook checked."""
    storage = await SqliteStorage.open(db)
    period = Period.parse(bench_digest.PERIOD)
    now, zone = bench_digest.NOW, bench_digest.VN
    try:
        units = {u.code: u for u in await storage.list_units()}
        times: dict[str, list[float]] = {"digest": [], "xlsx": [], "csv": []}
        book = b""
        for _ in range(runs):
            started = time.perf_counter()
            await digest(storage, t, period, "T", now, zone, 10, units)
            times["digest"].append(time.perf_counter() - started)
            started = time.perf_counter()
            book = await xlsx_file(storage, t, period, "T", now, zone, 10, units)
            times["xlsx"].append(time.perf_counter() - started)
            started = time.perf_counter()
            await csv_file(storage, t, period, "T", now, zone, 10, units)
            times["csv"].append(time.perf_counter() - started)
        communes = sum(1 for u in units.values() if u.code.startswith("X"))
        wb = openpyxl.load_workbook(io.BytesIO(book), read_only=True)
        rows = wb["Theo đơn vị"].max_row
        assert rows == communes + 2, rows  # title, header, one row per commune
        return {k: statistics.median(v) for k, v in times.items()} | {"bytes": len(book)}
    finally:
        await storage.close()


def command(config: Path, out: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of `baocao export` in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": ROOT}
    args = [sys.executable, "-c", "import resource, sys; from bot.cli import main; "
            "code = main(sys.argv[1:]); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); "
            "sys.exit(code)",
            "--config", str(config), "export", "--template", bench_digest.TEMPLATE,
            "--period", bench_digest.PERIOD, "--unit", "T", "--out", str(out)]
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"baocao export failed: {done.stderr.strip()}")
    peak_kb = int(done.stderr.strip().splitlines()[-1])  # Linux: kilobytes
    return elapsed, peak_kb / 1024


async def measure(communes: int = 10_000, runs: int = 3) -> dict[str, float]:
    """Seed, measure, print; returns the figures (seconds, MB, bytes)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = bench_digest.write_setup(folder)
        loaded, problems = load_templates(folder / "reports")
        if problems:
            raise RuntimeError("; ".join(str(p) for p in problems))
        t = loaded[bench_digest.TEMPLATE]
        started = time.perf_counter()
        await bench_digest.seed(folder / "baocao.db", t, communes)
        corrected = await correct(folder / "baocao.db", t, communes)
        print(f"seeded {communes:,} communes × {len(t.questions)} questions, 2 periods, "
              f"{corrected} corrected, in {time.perf_counter() - started:.1f} s")
        figures = await in_process(folder / "baocao.db", t, runs)
        help_cold = bench_digest.cold(["--help"])[0]
        walls, peaks = [], []
        for _ in range(runs):
            wall, peak = command(config, folder / "out.xlsx")
            walls.append(wall)
            peaks.append(peak)
        figures |= {"command": statistics.median(walls), "peak_mb": max(peaks),
                    "help": help_cold}
    verdict = {True: "ok", False: "OVER"}
    print(f"xlsx_file in-process   {figures['xlsx']:6.2f} s median of {runs} (goal ≤ "
          f"{TIME_GOAL:.0f} s: {verdict[figures['xlsx'] <= TIME_GOAL]}), "
          f"{figures['bytes'] / 1e6:.1f} MB file; anchor: the digest alone "
          f"{figures['digest']:.2f} s; csv_file {figures['csv']:.2f} s")
    print(f"`baocao export` cold   {figures['command']:6.2f} s median of {runs}, peak RSS "
          f"{figures['peak_mb']:.0f} MB (goal ≤ {MEMORY_GOAL_MB} MB: "
          f"{verdict[figures['peak_mb'] <= MEMORY_GOAL_MB]}); anchor `baocao --help` cold "
          f"{figures['help']:.2f} s")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--communes", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(measure(args.communes, args.runs))


if __name__ == "__main__":
    main()
