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
from core.exports import frame_csv
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
    params = ScenarioParams(
        seed=args.seed, orders=args.orders, drivers=args.drivers, days=args.days, today=args.date
    )
    with unit_of_work(engine) as session:
        has_data = bool(session.scalar(select(func.count()).select_from(Hub)))
        if has_data and args.if_empty:
            print("database already seeded; leaving it as it is")
            return 0
        if has_data and args.reset:
            clear_all(session)
        summary = seed_scenario(session, params, progress=lambda m: print(f"  {m}", flush=True))
    print(
        f"seeded {summary.hubs} hubs, {summary.drivers} drivers, {summary.orders_today} orders "
        f"for {summary.today}, {summary.history_orders} past orders, {summary.events} events"
    )
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


def _today() -> date:
    from core.timeutil import local_today

    return local_today(get_settings().timezone)


def _period(args: argparse.Namespace) -> tuple[date, date]:
    from core.kpi import default_period

    start, end = default_period(_today())
    return args.start or start, args.end or end


def _kpis(args: argparse.Namespace) -> int:
    from core.access import SYSTEM
    from core.kpi import KPIS, in_dollars, kpis

    start, end = _period(args)
    with unit_of_work(default_engine(), read_only=True) as session:
        table = kpis(session, SYSTEM, args.by, start, end)
    if args.kpi:
        table = table[[c for c in table.columns if c not in KPIS or c in args.kpi]]
    table = in_dollars(table).round(4)
    if args.format == "csv":
        sys.stdout.write(frame_csv(table))
    else:
        print(f"KPIs by {args.by}, service days {start} to {end} (rates 0..1, money in dollars)")
        print(table.to_string(index=False, na_rep="-"))
    return 0


def _compliance(args: argparse.Namespace) -> int:
    from core.access import SYSTEM
    from core.compliance import compliance_frame, compliance_report, duration_text

    day = args.date or _today()
    with unit_of_work(default_engine(), read_only=True) as session:
        report = compliance_report(
            session,
            SYSTEM,
            day,
            warn_days=args.warn_days,
            fleet=args.fleet,
            vendor=args.vendor,
            region=args.region,
            status=args.status,
        )
    frame = compliance_frame(report)
    if args.format == "csv":
        sys.stdout.write(frame_csv(frame))
        return 0
    counts = frame["status"].value_counts()
    print(
        f"{len(frame)} drivers on {day}: "
        + ", ".join(f"{counts.get(s, 0)} {s}" for s in ("compliant", "warning", "blocked"))
    )
    for column in ("driving_today_s", "driving_week_s", "headroom_today_s"):
        frame[column] = frame[column].map(duration_text)
    for column in ("limit_hit_at", "break_due_at"):
        frame[column] = frame[column].map(lambda t: t.strftime("%Y-%m-%d %H:%M UTC") if t else "")
    shown = frame.drop(columns=["driver_name", "fleet_type"]).rename(columns=lambda c: c.removesuffix("_s"))
    print(shown.to_string(index=False))
    return 0


def _scorecard(args: argparse.Namespace) -> int:
    from core.access import SYSTEM
    from core.report import scorecard_html, scorecard_text
    from core.scorecard import scorecard, scorecard_csv, vendor_by_code

    start, end = _period(args)
    with unit_of_work(default_engine(), read_only=True) as session:
        card = scorecard(
            session, SYSTEM, vendor_by_code(session, args.vendor), start, end, compliance_day=_today()
        )
    render = {"table": scorecard_text, "csv": scorecard_csv, "html": scorecard_html}[args.format]
    text = render(card)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote the {args.vendor} scorecard ({args.format}) to {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def _add_report_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from core.compliance import EXPIRY_WARNING_DAYS, ComplianceStatus
    from core.kpi import DEFAULT_PERIOD_DAYS, GROUPINGS, KPIS

    period = f"service days, YYYY-MM-DD (default: the {DEFAULT_PERIOD_DAYS} days before today at the hubs)"
    p = sub.add_parser(
        "kpis",
        help="KPIs by fleet type, vendor, hub, driver, ... (one definition)",
        description="One row per group, one column per KPI, and a total row. "
        "Rates are fractions 0..1. Money is shown in dollars: the *_cents KPIs "
        "appear as failed_cost, cost_per_delivered, route_cost, cost_per_drop.",
    )
    p.add_argument("--by", choices=GROUPINGS, default="fleet_type", help="grouping (default fleet_type)")
    p.add_argument("--from", dest="start", type=date.fromisoformat, help="first " + period)
    p.add_argument("--to", dest="end", type=date.fromisoformat, help="last " + period)
    p.add_argument(
        "--kpi",
        action="append",
        choices=list(KPIS),
        metavar="NAME",
        help="show only this KPI (repeatable; names as in the CSV header, with _cents)",
    )
    p.add_argument("--format", choices=("table", "csv"), default="table")
    p.set_defaults(handler=_kpis)

    p = sub.add_parser("compliance", help="every driver: compliant, warning or blocked, and why")
    p.add_argument("--date", type=date.fromisoformat, help="day to judge (default: today)")
    p.add_argument("--vendor", metavar="CODE", help="only this vendor's drivers (e.g. MPP)")
    p.add_argument("--fleet", metavar="CODE", help="only this fleet's drivers (e.g. CAPTIVE)")
    p.add_argument("--region", metavar="CODE", help="only drivers in this region (e.g. NY)")
    p.add_argument("--status", choices=[s.value for s in ComplianceStatus])
    p.add_argument(
        "--warn-days",
        type=int,
        default=EXPIRY_WARNING_DAYS,
        help=f"warn of documents expiring within this many days ({EXPIRY_WARNING_DAYS})",
    )
    p.add_argument("--format", choices=("table", "csv"), default="table")
    p.set_defaults(handler=_compliance)

    p = sub.add_parser("scorecard", help="a 3PL or gig vendor's scorecard (table, CSV or HTML)")
    p.add_argument("--vendor", metavar="CODE", required=True, help="vendor code, e.g. MPP")
    p.add_argument("--from", dest="start", type=date.fromisoformat, help="first " + period)
    p.add_argument("--to", dest="end", type=date.fromisoformat, help="last " + period)
    p.add_argument(
        "--format",
        choices=("table", "csv", "html"),
        default="table",
        help="table (text), csv (money in cents) or html (self-contained report)",
    )
    p.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    p.set_defaults(handler=_scorecard)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ctower",
        description=(
            "Control Tower: operations control tower for last-mile delivery. "
            f"DATABASE_URL selects the store (now: {get_settings().database_url.split('@')[-1]})."
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("init-db", help="create or upgrade the schema (Alembic migrations)")
    p.set_defaults(handler=_init_db)

    p = sub.add_parser("seed", help="write the demo metro: hubs, fleets, drivers, orders, history")
    p.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    p.add_argument("--orders", type=int, default=2000, help="orders per day (default 2000)")
    p.add_argument("--drivers", type=int, default=150, help="drivers (default 150)")
    p.add_argument("--days", type=int, default=14, help="past days of history (default 14)")
    p.add_argument(
        "--date",
        type=date.fromisoformat,
        default=None,
        help="today's date, YYYY-MM-DD (default: today at the hubs)",
    )
    group = p.add_mutually_exclusive_group()
    group.add_argument("--reset", action="store_true", help="delete all data first")
    group.add_argument("--if-empty", action="store_true", help="do nothing if data exists")
    p.set_defaults(handler=_seed)

    for kind in ("orders", "drivers"):
        p = sub.add_parser(f"import-{kind}", help=f"import {kind} from a CSV (all rows or none)")
        p.add_argument("file", help="path to a UTF-8 CSV file (see data/sample_" + kind + ".csv)")
        p.add_argument("--max-errors", type=int, default=50, help="row errors to print (default 50)")
        p.set_defaults(handler=_import(kind))

    _add_report_parsers(sub)

    from core.bench.cli import add_bench_parser
    from core.cli_dispatch import add_dispatch_parser
    from core.cli_sim import add_sim_parser
    from core.cli_users import add_user_parser

    add_dispatch_parser(sub)
    add_user_parser(sub)
    add_sim_parser(sub)
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
