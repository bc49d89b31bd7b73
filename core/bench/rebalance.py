"""Benchmark: rebalance the demo day after 20 urgent orders arrive mid-day; prints a table.

Seeds the demo scenario into a temp SQLite database, puts the day under way at 11:15 (a
simple sweep plan played forward: stops done, vans loaded), adds the urgent orders to one
hub, and asks the dispatch agent for a proposal within a change budget. Reports wall time,
the budget kept, and before/after metrics. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC
from pathlib import Path

import numpy as np
from sqlalchemy import select

from core.access import SYSTEM
from core.agents.dispatch import RebalanceRequest
from core.agents.rebalance import rebalance
from core.bench.live_map import BENCH_DAY, BENCH_TZ, day_under_way
from core.bulk import Row, bulk_insert
from core.db import make_engine, migrate, unit_of_work
from core.kinds import BrandTier, ContactChannel, OrderStatus, SlaKind
from core.models import Hub, Order
from core.plan_change import PlanEffect
from core.scenario import ScenarioParams, seed_scenario
from core.timeutil import at_seconds

NOW_S = 11 * 3600 + 15 * 60


def add_urgent_orders(session: object, hub: Hub, n: int, seed: int) -> list[str]:
    """`n` priority orders due 12:00-14:00 around `hub`, created now; returns their refs."""
    rng = np.random.default_rng(seed)
    now = at_seconds(BENCH_DAY, BENCH_TZ, NOW_S)
    refs = [f"URGENT-{i + 1:03d}" for i in range(n)]
    rows: list[Row] = [
        {
            "external_ref": ref,
            "hub_id": hub.id,
            "service_date": BENCH_DAY,
            "status": OrderStatus.UNASSIGNED,
            "address": "urgent drop",
            "zone": "urgent",
            "lat": hub.lat + float(rng.normal(0, 0.02)),
            "lon": hub.lon + float(rng.normal(0, 0.025)),
            "parcels": 1,
            "weight_g": 2000,
            "volume_ml": 8000,
            "service_time_s": 180,
            "sla_kind": SlaKind.TWO_HOUR,
            "window_start_at": at_seconds(BENCH_DAY, BENCH_TZ, 12 * 3600),
            "window_end_at": at_seconds(BENCH_DAY, BENCH_TZ, 14 * 3600),
            "priority": 3,
            "brand_tier": BrandTier.PREMIUM,
            "required_skills": [],
            "customer_name": "Urgent customer",
            "contact_channel": ContactChannel.SMS,
            "safe_place_allowed": False,
            "safe_place_note": None,
            "neighbour_allowed": False,
            "locker_allowed": False,
            "attempts": 0,
            "created_at": now,
            "delivered_at": None,
        }
        for ref in refs
    ]
    bulk_insert(session, Order.__table__, rows)  # type: ignore[arg-type]
    return refs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--orders", type=int, default=2000, help="orders in the demo day")
    parser.add_argument("--drivers", type=int, default=150, help="drivers in the demo day")
    parser.add_argument("--urgent", type=int, default=20, help="urgent orders arriving at 11:15")
    parser.add_argument(
        "--seconds",
        type=float,
        default=4.0,
        help="solver time limit (a proposal adds about 5 s of reading, repair, evaluation)",
    )
    parser.add_argument("--max-moves", type=int, default=30, help="change budget: orders moved")
    parser.add_argument("--hub", default="BKN", help="hub that receives the urgent orders")
    parser.add_argument("--seed", type=int, default=0)


def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'rebalance.db'}")
        migrate(engine)
        now = at_seconds(BENCH_DAY, BENCH_TZ, NOW_S).astimezone(UTC)
        with unit_of_work(engine) as session:
            seed_scenario(
                session, ScenarioParams(orders=args.orders, drivers=args.drivers, days=7, today=BENCH_DAY)
            )
        with unit_of_work(engine) as session:
            day_under_way(session, BENCH_DAY, now, BENCH_TZ, seed=args.seed)
            hub = session.scalars(select(Hub).where(Hub.code == args.hub)).one()
            add_urgent_orders(session, hub, args.urgent, args.seed)
            hub_id = hub.id
        started, cpu = time.perf_counter(), time.process_time()
        proposal = rebalance(
            engine,
            SYSTEM,
            RebalanceRequest(
                hub_id=hub_id,
                day=BENCH_DAY,
                now=now,
                seconds=args.seconds,
                max_orders_moved=args.max_moves,
                seed=args.seed,
            ),
        )
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        engine.dispose()
    e = proposal.effect
    assert isinstance(e, PlanEffect)
    print(
        f"rebalance of hub {args.hub} at 11:15 after {args.urgent} urgent orders; "
        f"{args.orders} orders / {args.drivers} drivers; load average {os.getloadavg()[0]:.1f}"
    )
    solver = f"status {e.solver.status}, {e.solver.solutions} solutions" if e.solver else "no solve"
    print(f"proposal in {wall:.1f} s wall ({cpu:.1f} s CPU), limit {args.seconds} s, {solver}")
    print(
        f"change budget: at most {args.max_moves} orders moved; moved {e.orders_moved}, "
        f"placed {e.orders_placed}, dropped {e.orders_dropped}, handed over {e.handed_over}; "
        f"{e.routes_touched} of {e.routes_total} routes touched"
    )
    print(f"{'measure':<12} {'before':>12} {'after':>12}")
    for key in ("cost_cents", "distance_m", "co2_g", "late", "unassigned"):
        print(f"{key:<12} {getattr(e.before, key):>12,} {getattr(e.after, key):>12,}")
    return 0
