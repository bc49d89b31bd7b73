"""Simulator benchmark: simulated driver-hours per wall second, as fast as possible.

Two days: the demo day (150 drivers, 2,000 orders; planned by the allocator) and a metro day
of 1,000 drivers and 13,000 orders over 12 hours (planned by the rule-based dispatcher: an
allocator solve of 3,000+ orders per hub does not fit a benchmark's set-up budget). Each is
seeded into a temporary SQLite file, planned through proposals, then simulated with every
disruption and agent on. Prints a table; asserts nothing about time.

    ctower bench sim [--quick] [--hours 12] [--seed 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from sqlalchemy import Engine, func, select

from core.access import SYSTEM
from core.agents.appliers import APPLIERS
from core.agents.dispatch import RebalanceRequest, propose_rebalance
from core.db import make_engine, migrate, unit_of_work
from core.models import Event, Hub, Stop
from core.proposals import approve
from core.scenario import ScenarioParams, seed_scenario
from core.sim.baseline import propose_baseline
from core.sim.clock import SimClock
from core.sim.engine import SimParams, Simulator

BENCH_DAY = date(2026, 11, 27)


@dataclass(frozen=True)
class Case:
    name: str
    orders: int
    drivers: int
    planner: str  # "allocator" or "baseline"
    hours: float
    solver_s: float = 10.0


CASES = (
    Case("demo day", 2000, 150, "allocator", 12.0, solver_s=20.0),
    Case("metro 1k", 13000, 1000, "baseline", 12.0),
)
QUICK = (Case("tiny", 80, 12, "baseline", 1.0),)


def prepare(path: Path, case: Case, seed: int) -> tuple[Engine, float]:
    """Seed and plan the case's day; returns the engine and the set-up seconds."""
    started = time.perf_counter()
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    with unit_of_work(engine) as session:
        seed_scenario(
            session,
            ScenarioParams(seed=seed, orders=case.orders, drivers=case.drivers, days=0, today=BENCH_DAY),
        )
    with unit_of_work(engine, read_only=True) as session:
        hubs = list(session.scalars(select(Hub.id).order_by(Hub.id)))
    for hub_id in hubs:
        with unit_of_work(engine) as session:
            now = None
            if case.planner == "allocator":
                proposal = propose_rebalance(
                    session,
                    SYSTEM,
                    RebalanceRequest(hub_id=hub_id, day=BENCH_DAY, seconds=case.solver_s, seed=seed),
                )
            else:
                from core.timeutil import at_seconds

                now = at_seconds(BENCH_DAY, "America/New_York", 6 * 3600)
                proposal = propose_baseline(session, SYSTEM, hub_id, BENCH_DAY, now)
        with unit_of_work(engine) as session:
            approve(session, SYSTEM, proposal.id, APPLIERS, now=now)
    return engine, time.perf_counter() - started


def simulate(engine: Engine, case: Case, seed: int, params: SimParams) -> tuple[Counter[str], float, int]:
    """Run the case's hours as fast as possible; returns totals, wall seconds, events written."""
    started = time.perf_counter()
    sim = Simulator(engine, BENCH_DAY, seed=seed, params=params)
    start = sim.first_start_s()
    clock = SimClock(BENCH_DAY, sim.tz, start, start + int(case.hours * 3600), params.tick_s)
    totals = sim.run(clock)
    wall = time.perf_counter() - started
    with unit_of_work(engine, read_only=True) as session:
        events = int(session.scalar(select(func.count()).select_from(Event)) or 0)
    return totals, wall, events


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="one tiny case (CI)")
    parser.add_argument("--hours", type=float, default=None, help="simulated hours per case")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-customers", action="store_true", help="switch the customer agent off")


def main(args: argparse.Namespace) -> int:
    params = SimParams(customer_every_s=0) if args.no_customers else SimParams()
    cases = QUICK if args.quick else CASES
    header = (
        f"{'case':<10} {'drivers':>7} {'orders':>7} {'planner':<9} {'stops':>6} {'setup s':>8} "
        f"{'sim h':>6} {'ticks':>6} {'events':>8} {'delivered':>9} {'failed':>6} "
        f"{'driver-h':>9} {'wall s':>7} {'drv-h/s':>8}"
    )
    print(header)
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            case = replace(case, hours=args.hours) if args.hours else case
            engine, setup = prepare(Path(tmp) / f"{case.drivers}.db", case, args.seed)
            with unit_of_work(engine, read_only=True) as session:
                stops = int(session.scalar(select(func.count()).select_from(Stop)) or 0)
            totals, wall, events = simulate(engine, case, args.seed, params)
            driver_h = totals["driver_s"] / 3600
            print(
                f"{case.name:<10} {case.drivers:>7} {case.orders:>7} {case.planner:<9} {stops:>6} "
                f"{setup:>8.1f} {case.hours:>6.1f} {totals['ticks']:>6} {events:>8} "
                f"{totals['delivered']:>9} {totals['failed']:>6} {driver_h:>9.0f} {wall:>7.1f} "
                f"{driver_h / wall:>8.1f}",
                flush=True,
            )
            engine.dispose()
    return 0
