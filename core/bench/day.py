"""The outcome benchmark: the same seeded day run by rule-based dispatch, by a static
optimised plan and by the agents.

For each seed, one demo day is seeded into a SQLite file and copied, so every policy starts
from the same orders, drivers and disruptions (every disruption is drawn from the seed); the
allocator's morning plan is made once and copied, so `static` and `agentic` start from the
same plan:

- `baseline`, the rule-based dispatcher most fleets run: at 06:00 each order, in arrival order,
  goes to the nearest driver of its hub who still has room and time (appended to the end of
  that driver's route); an order that arrives during the day goes the same way every 5 minutes;
  nothing is re-optimised; a customer not at home is a failed delivery taken back to the depot;
  no customer messages. Every exception (failed delivery, breakdown, closure, running late)
  goes to a dispatcher.
- `static`, a good morning plan nobody touches (`core.sim.static`): the allocator plans each hub
  as for `agentic`, drivers follow it; every 5 minutes the orders without a driver are put in
  by cheapest insertion into the routes as they stand, and nothing else is re-planned; no
  co-pilot (a customer not at home is a failed delivery), no customer messages; every exception
  goes to a dispatcher.
- `agentic`: the allocator plans each hub; during the day the co-pilot handles not-at-home and
  disruptions, the customer agent messages customers, and the autopilot runs the dispatch,
  capacity, hub and compliance agents, each proposal settled by its agent's policy. Escalations
  are the proposals a policy leaves for a person plus co-pilot requests to dispatch that no
  applied re-plan answered.

Outcomes count every order of the day, also those never delivered, so a policy cannot look
better by leaving orders out: `orders_on_time_rate` is orders delivered by the end of their
window over all orders, and `not_delivered` is orders not delivered when the day ends (failed at
the door, or never reached), priced at the failed-delivery cost. A column named like a KPI has
that KPI's definition (`core.kpi`): `on_time_rate` (over delivered orders), `first_attempt_rate`,
`cost_per_delivered_cents`, `route_cost_cents`, stops per driver-hour and workload spread. Money
is integer cents; the printed table shows dollars. Escalations of `baseline` and `static` are
their exception reports (one per failed delivery, breakdown, closure or late report). Where the
spread comes from: `drivers_used` is drivers with a route at the end of the day,
`midday_routes` those of them who had none in the morning plan, and `workload_cv_morning` the
spread over the morning plan's drivers only. Prints the side-by-side table and the mean and
spread over seeds; writes one CSV row per seed and policy with `--out`.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session

from core.access import SYSTEM
from core.agents.autopilot import Autopilot, AutopilotParams
from core.agents.registry import HUB_AGENTS, hub_agents
from core.allocator.params import FAILED_DELIVERY_COST_CENTS
from core.cli_sim import make_plans
from core.db import make_engine, migrate, unit_of_work
from core.kinds import DriverStatus, EventKind, OrderStatus
from core.kpi import kpis, workload_cv
from core.models import Driver, Event, Hub, Order, Plan, Route, Stop
from core.scenario import ScenarioParams, seed_scenario
from core.sim.baseline_live import NearestDriverDispatch
from core.sim.clock import SimClock
from core.sim.disruptions import DisruptionParams
from core.sim.engine import SimParams, Simulator
from core.sim.static import CheapestInsertionDispatch

BENCH_DAY = date(2026, 11, 27)
POLICIES = ("baseline", "static", "agentic")
PLAN_AT_S = 6 * 3600
DAY_END_S = 22 * 3600
COLUMNS = (
    "seed",
    "policy",
    "orders",
    "orders_on_time_rate",
    "on_time_rate",
    "first_attempt_rate",
    "not_delivered",
    "not_delivered_cost_cents",
    "cost_per_delivered_cents",
    "km",
    "co2_kg",
    "stops_per_driver_hour",
    "workload_cv",
    "escalations",
    "wall_s",
    "delivered",
    "late",
    "not_attempted",
    "route_cost_cents",
    "drivers_used",
    "midday_routes",
    "workload_cv_morning",
)
"""The outcome columns first, then the counts behind the rates."""
COMPARED = (
    "orders",
    "orders_on_time_rate",
    "on_time_rate",
    "first_attempt_rate",
    "not_delivered",
    "not_delivered_cost_cents",
    "cost_per_delivered_cents",
    "km",
    "co2_kg",
    "stops_per_driver_hour",
    "workload_cv",
    "workload_cv_morning",
    "drivers_used",
    "midday_routes",
    "escalations",
    "late",
    "delivered",
    "not_attempted",
    "wall_s",
)
"""The rows of the side-by-side table."""


@dataclass(frozen=True)
class DayCase:
    """One benchmark day: its size, the solver budgets and the disruption rates."""

    orders: int = 2000
    drivers: int = 150
    hubs: int | None = None  # keep only the first N hubs (None: all)
    plan_seconds: float = 20.0  # allocator time per hub for the morning plan
    dispatch_seconds: float = 2.0  # allocator time per re-plan during the day
    agents: tuple[str, ...] = HUB_AGENTS  # agents beside the dispatch agent (agentic policy)
    disruptions: DisruptionParams = field(default_factory=DisruptionParams)

    @classmethod
    def from_file(cls, path: Path) -> DayCase:
        """A scenario file: JSON with any of the fields above, `disruptions` as a mapping of rates."""
        raw = json.loads(path.read_text())
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"{path}: unknown scenario keys {unknown}; allowed: {sorted(known)}")
        rates = raw.pop("disruptions", {})
        unknown = sorted(set(rates) - {f.name for f in fields(DisruptionParams)})
        if unknown:
            raise ValueError(f"{path}: unknown disruption rates {unknown}")
        if "agents" in raw:
            raw["agents"] = tuple(raw["agents"])
        return cls(**raw, disruptions=replace(DisruptionParams(), **rates))


@dataclass(frozen=True)
class DayOutcome:
    """One policy's day, in the benchmark's columns."""

    seed: int
    policy: str
    orders: int
    orders_on_time_rate: float  # on time over all orders of the day
    on_time_rate: float  # the KPI: on time over delivered orders
    first_attempt_rate: float
    not_delivered: int
    not_delivered_cost_cents: int
    cost_per_delivered_cents: int
    km: float
    co2_kg: float
    stops_per_driver_hour: float
    workload_cv: float
    escalations: int
    wall_s: float
    delivered: int
    late: int
    not_attempted: int
    route_cost_cents: int
    drivers_used: int = 0
    midday_routes: int = 0
    workload_cv_morning: float = 0.0
    by_fleet: dict[str, int] = field(default_factory=dict, compare=False)  # cost per delivered, cents


def seed_day(path: Path, case: DayCase, seed: int) -> None:
    """Seed the day into a fresh SQLite file (keeping only the first `case.hubs` hubs)."""
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    with unit_of_work(engine) as session:
        seed_scenario(
            session,
            ScenarioParams(seed=seed, orders=case.orders, drivers=case.drivers, days=0, today=BENCH_DAY),
        )
        if case.hubs is not None:
            keep = list(session.scalars(select(Hub.id).order_by(Hub.id).limit(case.hubs)))
            session.execute(delete(Order).where(Order.hub_id.not_in(keep)))
            session.execute(
                update(Driver).where(Driver.home_hub_id.not_in(keep)).values(status=DriverStatus.OFF_DUTY)
            )
    engine.dispose()


def _exceptions(engine: Engine, *, open_requests_only: bool) -> int:
    """Exception reports of the day: each failed delivery and each disruption writes one (a
    failed delivery also writes a FAILED event, which is the same exception and not counted)."""
    with unit_of_work(engine, read_only=True) as session:
        payloads = session.scalars(select(Event.payload).where(Event.kind == EventKind.EXCEPTION)).all()
    if not open_requests_only:
        return len(payloads)
    return sum(1 for p in payloads if p.get("needs_dispatch") and not p.get("resolved"))


def routed_drivers(engine: Engine) -> frozenset[int]:
    """Drivers with at least one stop on the day's plans."""
    with unit_of_work(engine, read_only=True) as session:
        return frozenset(_stops_per_driver(session))


def _stops_per_driver(session: Session) -> dict[int, int]:
    """Driver id -> stops on the day's routes (any status), as the KPIs count a driver-day."""
    rows = session.execute(
        select(Route.driver_id, func.count(Stop.id))
        .join(Plan, Plan.id == Route.plan_id)
        .join(Stop, Stop.route_id == Route.id)
        .where(Plan.service_date == BENCH_DAY)
        .group_by(Route.driver_id)
    ).all()
    return {d: n for d, n in rows if n}


def measure(
    engine: Engine,
    seed: int,
    policy: str,
    escalations: int,
    wall_s: float,
    morning: frozenset[int] = frozenset(),
) -> DayOutcome:
    """The day's outcome from the database, every order of the day counted; `morning` is the
    drivers the morning plan gave a route (for where the workload spread comes from)."""
    with unit_of_work(engine, read_only=True) as session:
        stops = _stops_per_driver(session)
        arrived = (
            select(Stop.order_id, func.max(Stop.arrived_at).label("at")).group_by(Stop.order_id).subquery()
        )
        rows = session.execute(
            select(Order.status, Order.attempts, Order.window_end_at, Order.delivered_at, arrived.c.at)
            .outerjoin(arrived, arrived.c.order_id == Order.id)
            .where(Order.service_date == BENCH_DAY, Order.status != OrderStatus.CANCELLED)
        ).all()
        table = kpis(session, SYSTEM, "fleet_type", BENCH_DAY, BENCH_DAY)
    orders = len(rows)
    delivered = [r for r in rows if r.status is OrderStatus.DELIVERED]
    on_time = sum(1 for r in delivered if (r.at or r.delivered_at) <= r.window_end_at)
    attempted = sum(1 for r in rows if r.attempts >= 1)
    first = sum(1 for r in delivered if r.attempts == 1)
    not_delivered = orders - len(delivered)
    total = table[table["fleet_type"] == "total"].iloc[0]
    route_cost_cents = int(total["route_cost_cents"])
    by_fleet = {
        str(r["fleet_type"]): int(r["cost_per_delivered_cents"])
        for _, r in table.iterrows()
        if r["fleet_type"] != "total"
    }
    km = float(total["km_per_delivered"]) * float(total["delivered"])
    co2 = float(total["co2_kg_per_delivered"]) * float(total["delivered"])
    return DayOutcome(
        seed=seed,
        policy=policy,
        orders=orders,
        orders_on_time_rate=round(on_time / orders, 4),
        on_time_rate=round(on_time / len(delivered), 4) if delivered else 0.0,
        first_attempt_rate=round(first / attempted, 4) if attempted else 0.0,
        not_delivered=not_delivered,
        not_delivered_cost_cents=not_delivered * FAILED_DELIVERY_COST_CENTS,
        cost_per_delivered_cents=round(route_cost_cents / len(delivered)) if delivered else 0,
        km=round(km, 1),
        co2_kg=round(co2, 1),
        stops_per_driver_hour=round(float(total["stops_per_driver_hour"]), 3),
        workload_cv=round(float(total["workload_cv"]), 3),
        escalations=escalations,
        wall_s=round(wall_s, 1),
        delivered=len(delivered),
        late=len(delivered) - on_time,
        not_attempted=orders - attempted,
        route_cost_cents=route_cost_cents,
        drivers_used=len(stops),
        midday_routes=len(set(stops) - morning),
        workload_cv_morning=round(workload_cv(pd.Series([n for d, n in stops.items() if d in morning])), 3),
        by_fleet=by_fleet,
    )


def run_policy(
    db: Path,
    case: DayCase,
    seed: int,
    policy: str,
    say: Callable[[str], None] = print,
    plan_s: float = 0.0,
) -> DayOutcome:
    """Plan (unless `db` already holds the morning plans, made in `plan_s`) and simulate the day
    in `db` under `policy`; returns its outcome."""
    started = time.perf_counter() - plan_s
    engine = make_engine(f"sqlite:///{db}")
    autopilot: Autopilot | None = None
    make_plans(
        engine, BENCH_DAY, "baseline" if policy == "baseline" else "allocator", case.plan_seconds, seed
    )
    morning = routed_drivers(engine)
    if policy == "baseline":
        params = SimParams(copilot=False, customer_every_s=0, disruptions=case.disruptions)
        agents: Sequence[Any] = (NearestDriverDispatch(BENCH_DAY),)
    elif policy == "static":
        params = SimParams(copilot=False, customer_every_s=0, disruptions=case.disruptions)
        agents = (CheapestInsertionDispatch(BENCH_DAY),)
    elif policy == "agentic":
        params = SimParams(disruptions=case.disruptions)
        autopilot = Autopilot(
            BENCH_DAY,
            AutopilotParams(dispatch_seconds=case.dispatch_seconds),
            agents=hub_agents(case.agents),
            seed=seed,
        )
        agents = (autopilot,)
    else:
        raise ValueError(f"unknown policy {policy!r}; known: {', '.join(POLICIES)}")
    sim = Simulator(engine, BENCH_DAY, seed=seed, params=params, agents=agents)
    clock = SimClock(BENCH_DAY, sim.tz, sim.first_start_s(), DAY_END_S, params.tick_s)
    sim.run(clock)
    if autopilot is None:
        escalations = _exceptions(engine, open_requests_only=False)
    else:
        escalations = autopilot.escalations + _exceptions(engine, open_requests_only=True)
    outcome = measure(engine, seed, policy, escalations, time.perf_counter() - started, morning)
    engine.dispose()
    say(f"  seed {seed} {policy:<8} done in {outcome.wall_s:.0f} s")
    return outcome


def run_seed(
    case: DayCase,
    seed: int,
    workdir: Path,
    policies: Sequence[str] = POLICIES,
    say: Callable[[str], None] = print,
) -> list[DayOutcome]:
    """Seed once, make the allocator's morning plan once, then run each policy on its own copy
    of the same day (`static` and `agentic` on copies of the same morning plan)."""
    base = workdir / f"seed{seed}.db"
    seed_day(base, case, seed)
    planned, plan_s = workdir / f"seed{seed}-planned.db", 0.0
    if any(p != "baseline" for p in policies):
        shutil.copyfile(base, planned)
        started = time.perf_counter()
        engine = make_engine(f"sqlite:///{planned}")
        make_plans(engine, BENCH_DAY, "allocator", case.plan_seconds, seed)
        engine.dispose()
        plan_s = time.perf_counter() - started
    out = []
    for policy in policies:
        copy = workdir / f"seed{seed}-{policy}.db"
        shutil.copyfile(base if policy == "baseline" else planned, copy)
        out.append(run_policy(copy, case, seed, policy, say, 0.0 if policy == "baseline" else plan_s))
    return out


def _row(o: DayOutcome) -> dict[str, Any]:
    values = asdict(o)
    return {c: values[c] for c in COLUMNS}


def write_csv(path: Path, outcomes: Sequence[DayOutcome]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(_row(o) for o in outcomes)


def _fmt(value: float) -> str:
    return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"


def _shown(metric: str, cents_or_value: float) -> float:
    """Money is computed in cents and shown in dollars; everything else as it is."""
    return cents_or_value / 100 if metric.endswith("_cents") else cents_or_value


def _label(metric: str) -> str:
    return metric.removesuffix("_cents") + " ($)" if metric.endswith("_cents") else metric


def _change(metric: str, old: float, new: float) -> str:
    if metric.endswith("rate"):
        return f"{(new - old) * 100:+.1f} pts"
    return f"{(new - old) / old * 100:+.0f}%" if old else "-"


def side_by_side(outcomes: Sequence[DayOutcome]) -> str:
    """Mean (and spread, min..max) per policy for each metric, and the change of `agentic`
    against each other policy run."""
    policies = [p for p in POLICIES if any(o.policy == p for o in outcomes)]
    others = [p for p in policies if p != "agentic"] if "agentic" in policies else []
    head = [*policies, *(f"agentic vs {p}" for p in others)]
    lines = [f"| metric | {' | '.join(head)} |", "|---|" + "--:|" * len(head)]
    for metric in COMPARED:
        cells, means = [], {}
        for policy in policies:
            values = [_shown(metric, float(getattr(o, metric))) for o in outcomes if o.policy == policy]
            means[policy] = statistics.fmean(values)
            spread = f" ({_fmt(min(values))}..{_fmt(max(values))})" if len(values) > 1 else ""
            cells.append(_fmt(means[policy]) + spread)
        cells += [_change(metric, means[p], means["agentic"]) for p in others]
        lines.append(f"| {_label(metric)} | {' | '.join(cells)} |")
    fleets = sorted({k for o in outcomes for k in o.by_fleet})
    for fleet in fleets:
        cells = []
        for policy in policies:
            values = [o.by_fleet[fleet] / 100 for o in outcomes if o.policy == policy and fleet in o.by_fleet]
            cells.append(_fmt(statistics.fmean(values)) if values else "-")
        lines.append(f"| cost_per_delivered {fleet} ($) | {' | '.join(cells)} |" + " |" * len(others))
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seeds", default="1,2,3,4,5", help="comma-separated seeds (default 1,2,3,4,5)")
    parser.add_argument("--out", type=Path, default=None, help="write one CSV row per seed and policy")
    parser.add_argument("--orders", type=int, default=None, help="orders of the day (default 2000)")
    parser.add_argument("--drivers", type=int, default=None, help="drivers (default 150)")
    parser.add_argument("--hubs", type=int, default=None, help="keep only the first N of the 4 demo hubs")
    parser.add_argument(
        "--scenario",
        type=Path,
        default=None,
        help="a JSON scenario file (orders, drivers, hubs, plan_seconds, dispatch_seconds, "
        "disruptions: {rate: value})",
    )
    parser.add_argument(
        "--plan-seconds", type=float, default=None, help="allocator seconds per hub (default 20)"
    )
    parser.add_argument(
        "--policy",
        default=",".join(POLICIES),
        help=f"comma-separated policies to run, in order (default {','.join(POLICIES)})",
    )
    parser.add_argument(
        "--agents",
        default=None,
        help="agents beside the dispatch agent, comma-separated "
        f"(default {','.join(HUB_AGENTS)}; "
        "'none' for the dispatch agent alone)",
    )


def case_from(args: argparse.Namespace) -> DayCase:
    case = DayCase.from_file(args.scenario) if args.scenario else DayCase()
    overrides = {
        k: v
        for k, v in (
            ("orders", args.orders),
            ("drivers", args.drivers),
            ("hubs", args.hubs),
            ("plan_seconds", args.plan_seconds),
        )
        if v is not None
    }
    if args.agents is not None:
        overrides["agents"] = tuple(a for a in args.agents.split(",") if a and a != "none")
    return replace(case, **overrides)


def main(args: argparse.Namespace) -> int:
    case = case_from(args)
    seeds = [int(s) for s in str(args.seeds).split(",") if s.strip()]
    policies = [p for p in str(args.policy).split(",") if p.strip()]
    unknown = sorted(set(policies) - set(POLICIES))
    if unknown:
        raise SystemExit(f"unknown policy {', '.join(unknown)}; known: {', '.join(POLICIES)}")
    print(
        f"day benchmark: {case.orders} orders, {case.drivers} drivers, hubs {case.hubs or 'all'}, "
        f"seeds {seeds}, policies {','.join(policies)}, allocator {case.plan_seconds:g} s/hub, "
        f"re-plans {case.dispatch_seconds:g} s; load average {os.getloadavg()[0]:.1f}"
    )
    outcomes: list[DayOutcome] = []
    with tempfile.TemporaryDirectory(prefix="ctower-day-") as tmp:
        for seed in seeds:
            outcomes += run_seed(case, seed, Path(tmp), policies)
            if args.out:
                write_csv(args.out, outcomes)
    print()
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for o in outcomes:
        print("| " + " | ".join(str(v) for v in _row(o).values()) + " |")
    print()
    print(side_by_side(outcomes))
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 0


__all__ = [
    "COLUMNS",
    "DayCase",
    "DayOutcome",
    "add_arguments",
    "main",
    "measure",
    "run_policy",
    "routed_drivers",
    "run_seed",
    "seed_day",
    "side_by_side",
    "write_csv",
]
