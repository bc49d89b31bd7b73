"""`ctower`: what an operator does from a shell. Each command is one unit of work."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from sqlalchemy import func, select

from core.config import get_settings
from core.db import default_engine, migrate, unit_of_work
from core.errors import ControlTowerError, ImportRejectedError
from core.imports import import_drivers, import_orders
from core.models import Hub
from core.scenario import ScenarioParams, clear_all, seed_scenario

Handler = Callable[[argparse.Namespace], int]


def _init_db(_args: argparse.Namespace) -> int:
    migrate(default_engine())
    print(f"schema is at head on {_safe_url()}")
    return 0


def _safe_url() -> str:
    return default_engine().url.render_as_string(hide_password=True)


def _seed(args: argparse.Namespace) -> int:
    engine = default_engine()
    migrate(engine)
    params = ScenarioParams(seed=args.seed, orders=args.orders, drivers=args.drivers,
                            days=args.days, today=args.date)
    with unit_of_work(engine) as session:
        has_data = bool(session.scalar(select(func.count()).select_from(Hub)))
        if has_data and args.if_empty:
            print("database already seeded; leaving it as it is")
            return 0
        if has_data and args.reset:
            clear_all(session)
        summary = seed_scenario(session, params, progress=lambda m: print(f"  {m}", flush=True))
    print(f"seeded {summary.hubs} hubs, {summary.drivers} drivers, {summary.orders_today} orders "
          f"for {summary.today}, {summary.history_orders} past orders, {summary.events} events")
    print("demo users (username / password / role):")
    for username, password, role in summary.users:
        print(f"  {username:<8} {password:<13} {role}")
    return 0


def _import(kind: str) -> Handler:
    service = import_orders if kind == "orders" else import_drivers

    def run(args: argparse.Namespace) -> int:
        engine = default_engine()
        migrate(engine)
        try:
            with unit_of_work(engine) as session:
                result = service(session, Path(args.file))
        except ImportRejectedError as exc:
            print(f"{args.file}: {exc}", file=sys.stderr)
            for error in exc.errors[: args.max_errors]:
                print(f"  {error}", file=sys.stderr)
            if len(exc.errors) > args.max_errors:
                print(f"  ... and {len(exc.errors) - args.max_errors} more", file=sys.stderr)
            return 2
        print(f"imported {result.rows} {kind} from {args.file}")
        return 0

    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ctower", description=(
        "Control Tower: operations control tower for last-mile delivery. "
        f"DATABASE_URL selects the store (now: {get_settings().database_url.split('@')[-1]})."))
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("init-db", help="create or upgrade the schema (Alembic migrations)")
    p.set_defaults(handler=_init_db)

    p = sub.add_parser("seed", help="write the demo metro: hubs, fleets, drivers, orders, history")
    p.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    p.add_argument("--orders", type=int, default=2000, help="orders per day (default 2000)")
    p.add_argument("--drivers", type=int, default=150, help="drivers (default 150)")
    p.add_argument("--days", type=int, default=14, help="past days of history (default 14)")
    p.add_argument("--date", type=date.fromisoformat, default=None,
                   help="today's date, YYYY-MM-DD (default: today at the hubs)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--reset", action="store_true", help="delete all data first")
    group.add_argument("--if-empty", action="store_true", help="do nothing if data exists")
    p.set_defaults(handler=_seed)

    for kind in ("orders", "drivers"):
        p = sub.add_parser(f"import-{kind}", help=f"import {kind} from a CSV (all rows or none)")
        p.add_argument("file", help="path to a UTF-8 CSV file (see data/sample_" + kind + ".csv)")
        p.add_argument("--max-errors", type=int, default=50, help="row errors to print (default 50)")
        p.set_defaults(handler=_import(kind))

    from core.bench.cli import add_bench_parser

    add_bench_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except ControlTowerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
