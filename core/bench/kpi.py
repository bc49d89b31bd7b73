"""Benchmark: KPIs over a month of a metro (30 days x 2,000 orders) by fleet type and vendor.

Seeds a temporary SQLite database (or uses `--database-url`, which must hold a seeded demo),
then times `kpis()` per grouping, each a full load from the database (no cache between calls),
and both groupings from one load (`facts_for` + `aggregate`, what a page showing both does).
Prints a table; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from core.access import SYSTEM
from core.db import make_engine, migrate, unit_of_work
from core.kpi import aggregate, facts_for, kpis
from core.scenario import ScenarioParams, seed_scenario

TODAY = date(2026, 11, 27)
GROUPINGS = ("fleet_type", "vendor")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--orders", type=int, default=2000, help="orders per day to seed")
    parser.add_argument("--drivers", type=int, default=150, help="drivers to seed")
    parser.add_argument("--days", type=int, default=30, help="past days to seed and to report on")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per grouping (median)")
    parser.add_argument(
        "--database-url", default=None, help="an already seeded database (default: seed a fresh SQLite file)"
    )


def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = make_engine(url)
        seed_s = 0.0
        if args.database_url is None:
            migrate(engine)
            started = time.perf_counter()
            with unit_of_work(engine) as session:
                seed_scenario(
                    session,
                    ScenarioParams(orders=args.orders, drivers=args.drivers, days=args.days, today=TODAY),
                )
            seed_s = time.perf_counter() - started
        start, end = TODAY - timedelta(days=args.days), TODAY - timedelta(days=1)
        rows = []
        with unit_of_work(engine, read_only=True) as session:
            for by in GROUPINGS:
                kpis(session, SYSTEM, by, start, end)  # warm the statement cache and imports
                times = []
                for _ in range(max(args.repeat, 1)):
                    t0 = time.perf_counter()
                    table = kpis(session, SYSTEM, by, start, end)
                    times.append(time.perf_counter() - t0)
                total = table.iloc[-1]
                rows.append(
                    (
                        by,
                        len(table) - 1,
                        int(total["orders"]),
                        statistics.median(times),
                        min(times),
                        max(times),
                    )
                )
            times = []
            for _ in range(max(args.repeat, 1)):
                t0 = time.perf_counter()
                facts = facts_for(session, SYSTEM, start, end)
                tables = [aggregate(facts.work, [by]) for by in GROUPINGS]
                times.append(time.perf_counter() - t0)
            rows.append(
                (
                    "+".join(GROUPINGS) + " (one load)",
                    sum(len(t) - 1 for t in tables),
                    int(tables[0].iloc[-1]["orders"]),
                    statistics.median(times),
                    min(times),
                    max(times),
                )
            )
        dialect = engine.dialect.name
        engine.dispose()
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, database: {dialect}"
        + (f", seeded in {seed_s:.1f} s" if seed_s else "")
    )
    print(f"period: {start} .. {end} ({args.days} days)")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"cpus: {os.cpu_count()}, load average (1 min) after the runs: {load:.1f}")
    print(f"{'by':<28} {'groups':>6} {'orders':>8} {'median s':>9} {'min s':>7} {'max s':>7}")
    for by, groups, orders, median, low, high in rows:
        print(f"{by:<28} {groups:>6} {orders:>8} {median:>9.3f} {low:>7.3f} {high:>7.3f}")
    return 0
