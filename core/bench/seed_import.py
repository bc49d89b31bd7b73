"""Benchmark: seed a large demo metro and import a large orders CSV; prints a table.

Times are wall seconds on whatever machine runs it; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from core.db import make_engine, migrate, unit_of_work
from core.imports import import_orders
from core.scenario import ScenarioParams, seed_scenario
from core.scenario.csv_export import orders_csv


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--orders", type=int, default=20_000, help="orders per day to seed")
    parser.add_argument("--drivers", type=int, default=1_000, help="drivers to seed")
    parser.add_argument("--days", type=int, default=14, help="past days of history to seed")
    parser.add_argument("--csv-rows", type=int, default=20_000, help="rows in the imported CSV")
    parser.add_argument(
        "--database-url", default=None, help="database to use (default: a fresh SQLite file in a temp folder)"
    )


def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = make_engine(url)
        migrate(engine)
        today = date(2026, 11, 27)
        started = time.perf_counter()
        with unit_of_work(engine) as session:
            summary = seed_scenario(
                session, ScenarioParams(orders=args.orders, drivers=args.drivers, days=args.days, today=today)
            )
        seed_s = time.perf_counter() - started
        csv_path = Path(tmp) / "orders.csv"
        csv_path.write_text(orders_csv(args.csv_rows, today + timedelta(days=1), prefix="BENCH"))
        started = time.perf_counter()
        with unit_of_work(engine) as session:
            result = import_orders(session, csv_path)
        import_s = time.perf_counter() - started
        engine.dispose()
    rows = summary.history_orders + summary.orders_today
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, database: {engine.dialect.name}"
    )
    print(f"{'step':<40} {'rows':>10} {'seconds':>9} {'rows/s':>9}")
    print(
        f"{f'seed --orders {args.orders} --drivers {args.drivers} --days {args.days}':<40} "
        f"{rows:>10} {seed_s:>9.1f} {rows / seed_s:>9.0f}"
    )
    print(
        f"{f'import-orders ({args.csv_rows} rows)':<40} {result.rows:>10} {import_s:>9.1f} "
        f"{result.rows / import_s:>9.0f}"
    )
    return 0
