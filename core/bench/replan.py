"""Benchmark: re-plan a disrupted day under way, four ways per state; prints a table.

For each seed the demo day (7 days of history) is seeded once into a template SQLite file and
put under way at 11:15 (`day_under_way`: a sweep plan played forward, vans loaded, one open
breakdown). Each disrupted state is a fresh copy of the template, changed the way the real
event changes the database (`core.bench.replan_states`), then planned four ways for one hub:

- `live`: the plan on the road, evaluated as it stands (no solve);
- `default`: one press of Rebalance as the page makes it (`read_day`, `replan`), `--seconds`,
  no change budget;
- `budget`: the same with at most `--budget` orders moved;
- `reference`: the same day state re-planned from scratch (`RebalanceRequest.from_scratch`: the
  live plan is not a start, the solver builds its own plan) for `--reference-seconds`, no budget;
- `long` (with `--long-seconds`): the rebalance again with a longer limit and no budget, a
  yardstick of what more time buys from the live plan.

The day state decides who may work (compliance blocks, driver status); the vans with an open
breakdown report are added as the autopilot adds them (`_broken`). Predicted late, unassigned
and cost come from the allocator's own evaluation of each plan on the same day state
(`measure`), where a driver who may not work serves nothing. Per state the table is followed by
the share of (late + unassigned) each rebalance removes: default against the reference, and
budgeted against default. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core.agents.autopilot import hub_signals
from core.agents.dispatch import RebalanceRequest, read_day, replan
from core.agents.dispatch_problem import DayState
from core.allocator.evaluate import evaluate_plan
from core.allocator.params import DEFAULT_PARAMS
from core.allocator.travel import TravelModel
from core.bench.live_map import BENCH_DAY, BENCH_TZ, day_under_way
from core.bench.rebalance import NOW_S
from core.bench.replan_states import DISRUPTIONS
from core.db import make_engine, migrate, unit_of_work
from core.models import Hub
from core.scenario import ScenarioParams, seed_scenario
from core.timeutil import at_seconds

DEMO_SEED = ScenarioParams().seed
REPAIR_SHARE = 0.25  # of the reference's time kept for the insertion repair, as the dispatch agent does
COLUMNS = (
    "seed",
    "state",
    "variant",
    "late",
    "unassigned",
    "stranded",
    "cost",
    "orders_moved",
    "routes_touched",
    "wall_s",
    "load",
)


@dataclass(frozen=True)
class Row:
    seed: int
    state: str
    variant: str
    late: int
    unassigned: int
    stranded: int  # of the unassigned: loaded in the van of a blocked driver, out of any plan's reach
    cost_cents: int
    orders_moved: int
    routes_touched: int
    wall_s: float
    load: float

    @property
    def bad(self) -> int:
        """What a re-plan is there to remove: predicted late plus unassigned orders."""
        return self.late + self.unassigned


# -- the four plans of a state ----------------------------------------------------------------


def _broken(session: Session, hub_id: int, now: datetime) -> dict[int, str]:
    """Vans broken down, as the autopilot passes them (compliance the day state reads itself)."""
    hub = session.get(Hub, hub_id)
    assert hub is not None
    return dict.fromkeys(hub_signals(session, hub_id, BENCH_DAY, now, hub.timezone).broken, "van broken down")


def day_state(session: Session, hub_id: int, now: datetime, travel: TravelModel | None) -> DayState:
    """The dispatch agent's day state, with the disruption's traffic when there is one (the
    database holds no traffic: the re-plan is handed the travel model it would be told of)."""
    request = RebalanceRequest(hub_id=hub_id, day=BENCH_DAY, now=now)
    state = read_day(session, request, _broken(session, hub_id, now))
    return state if travel is None else replace(state, problem=replace(state.problem, travel=travel))


Outcome = tuple[dict[str, list[str]], int, int]
"""A variant's plan for the hub (driver code -> order refs), orders moved, routes touched."""


def rebalance(
    engine: Engine,
    hub_id: int,
    now: datetime,
    seconds: float,
    budget: int | None,
    seed: int,
    travel: TravelModel | None,
    from_scratch: bool = False,
) -> Outcome:
    """One press of Rebalance as the page makes it (read, solve with no session, the plan it
    would propose): its plan, orders moved and routes touched. `from_scratch`: the reference,
    the same state planned without the live plan as a start and without a budget."""
    with unit_of_work(engine, read_only=True) as session:
        state = day_state(session, hub_id, now, travel)
    request = RebalanceRequest(
        hub_id=hub_id,
        day=BENCH_DAY,
        now=now,
        seconds=seconds,
        max_orders_moved=budget,
        seed=seed,
        from_scratch=from_scratch,
    )
    done = replan(state, request, "bench")
    return done.plan, done.effect.orders_moved, done.effect.routes_touched


def measure(state: DayState, plan: dict[str, list[str]]) -> tuple[int, int, int]:
    """Predicted late, unassigned and cost (cents) of `plan` on the day state, all variants alike.

    A blocked driver serves nothing: stops a plan leaves on one (a broken van's load, a withdrawn
    driver's) count as unassigned, which the allocator's own evaluation would count as served.
    """
    blocked = {d.id for d in state.problem.drivers if d.blocked}
    served = {d: refs for d, refs in plan.items() if d not in blocked}
    m = evaluate_plan(state.problem, served, DEFAULT_PARAMS, state.live or None).metrics
    return m.late_count, m.orders_unassigned, m.cost_cents


def stranded(state: DayState) -> int:
    """Open orders loaded in the van of a blocked driver: locked to it, so no plan serves them."""
    blocked = {d.id for d in state.problem.drivers if d.blocked}
    return sum(1 for o in state.problem.orders if o.locked_driver_id in blocked)


# -- running it -------------------------------------------------------------------------------


def seed_template(path: Path, seed: int, orders: int, drivers: int, now: datetime) -> None:
    """The demo day of `seed` with 7 days of history, under way at `now`, in a fresh file."""
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    with unit_of_work(engine) as session:
        seed_scenario(
            session, ScenarioParams(seed=seed, orders=orders, drivers=drivers, days=7, today=BENCH_DAY)
        )
    with unit_of_work(engine) as session:
        day_under_way(session, BENCH_DAY, now, BENCH_TZ, seed=seed)
    engine.dispose()


def run_state(
    template: Path, workdir: Path, seed: int, state: str, args: argparse.Namespace, now: datetime
) -> tuple[str, list[Row]]:
    """Copy the template, disrupt it, and plan it the four ways."""
    db = workdir / f"seed{seed}-{state}.db"
    shutil.copyfile(template, db)
    engine = make_engine(f"sqlite:///{db}")
    with unit_of_work(engine) as session:
        hub = session.scalars(select(Hub).where(Hub.code == args.hub)).one()
        hub_id = hub.id
        done = DISRUPTIONS[state](session, hub, now, seed)
    with unit_of_work(engine, read_only=True) as session:
        read_at = time.perf_counter()
        disrupted = day_state(session, hub_id, now, done.travel)
        read_s = time.perf_counter() - read_at
    live_plan = dict(disrupted.live)
    plans: list[tuple[str, Callable[[], Outcome]]] = [
        ("default", lambda: rebalance(engine, hub_id, now, args.seconds, None, seed, done.travel)),
        (
            "budget",
            lambda: rebalance(engine, hub_id, now, args.seconds, args.budget, seed, done.travel),
        ),
        (
            "reference",
            lambda: rebalance(engine, hub_id, now, args.reference_seconds, None, seed, done.travel, True),
        ),
    ]
    if args.long_seconds:
        plans.append(
            (
                "long",
                lambda: rebalance(engine, hub_id, now, args.long_seconds, None, seed, done.travel),
            )
        )
    late, unassigned, cost = measure(disrupted, live_plan)
    lost = stranded(disrupted)
    rows = [
        Row(seed, state, "live", late, unassigned, lost, cost, 0, 0, round(read_s, 1), os.getloadavg()[0])
    ]
    for variant, plan in plans:
        started = time.perf_counter()
        proposed, moved, touched = plan()
        wall = time.perf_counter() - started
        late, unassigned, cost = measure(disrupted, proposed)
        rows.append(
            Row(
                seed,
                state,
                variant,
                late,
                unassigned,
                lost,
                cost,
                moved,
                touched,
                round(wall, 1),
                os.getloadavg()[0],
            )
        )
    engine.dispose()
    return done.note, rows


def _share(removed: int, of: int) -> str:
    if of <= 0:
        return "n/a (removes nothing)" if of == 0 else f"n/a (removes {of}: worse than live)"
    return f"{removed / of:.0%}"


def summary(rows: Sequence[Row], seconds: float) -> list[str]:
    """Per state: what each rebalance removes of (late + unassigned), against the targets."""
    out = []
    for seed, state in dict.fromkeys((r.seed, r.state) for r in rows):
        by = {r.variant: r for r in rows if (r.seed, r.state) == (seed, state)}
        if len(by) < 4:
            continue
        base = by["live"].bad
        removed = {v: base - r.bad for v, r in by.items()}
        if "long" in by:
            out.append(
                f"seed {seed} {state}: long rebalance removes {removed['long']}; default/long "
                f"{_share(removed['default'], removed['long'])}"
            )
        out.append(
            f"seed {seed} {state}: live {base}; removed default {removed['default']}, budget "
            f"{removed['budget']}, reference {removed['reference']}; default/reference "
            f"{_share(removed['default'], removed['reference'])} (target >= 80%), budget/default "
            f"{_share(removed['budget'], removed['default'])} (target >= 50%); default "
            f"{'never worse than live' if removed['default'] >= 0 else 'WORSE than live'}, "
            f"wall {by['default'].wall_s:.1f} s vs limit + 2 = {seconds + 2:g} s "
            f"(load {by['default'].load:.1f})"
        )
    return out


def _cells(r: Row) -> list[str]:
    return [
        str(r.seed),
        r.state,
        r.variant,
        str(r.late),
        str(r.unassigned),
        str(r.stranded),
        f"{r.cost_cents / 100:,.0f}",
        str(r.orders_moved),
        str(r.routes_touched),
        f"{r.wall_s:.1f}",
        f"{r.load:.1f}",
    ]


def write_csv(path: Path, rows: Sequence[Row]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for r in rows:
            writer.writerow(
                [
                    r.seed,
                    r.state,
                    r.variant,
                    r.late,
                    r.unassigned,
                    r.stranded,
                    f"{r.cost_cents / 100:.2f}",
                    r.orders_moved,
                    r.routes_touched,
                    r.wall_s,
                    r.load,
                ]
            )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seeds",
        default=f"{DEMO_SEED},1,2",
        help=f"comma-separated scenario seeds (default {DEMO_SEED},1,2)",
    )
    parser.add_argument(
        "--states",
        default=",".join(DISRUPTIONS),
        help=f"comma-separated states (default {','.join(DISRUPTIONS)})",
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="rebalance time limit (default 10)")
    parser.add_argument(
        "--reference-seconds", type=float, default=60.0, help="reference re-plan time limit (default 60)"
    )
    parser.add_argument("--budget", type=int, default=10, help="change budget of the budgeted rebalance")
    parser.add_argument(
        "--long-seconds",
        type=float,
        default=0.0,
        help="also run a `long` variant: the rebalance with this limit and no budget (default off)",
    )
    parser.add_argument("--hub", default="BKN", help="the hub disrupted and re-planned")
    parser.add_argument("--orders", type=int, default=2000, help="orders in the demo day")
    parser.add_argument("--drivers", type=int, default=150, help="drivers in the demo day")
    parser.add_argument(
        "--out", type=Path, default=None, help="write one CSV row per seed, state and variant"
    )


def main(args: argparse.Namespace) -> int:
    seeds = [int(s) for s in str(args.seeds).split(",") if s.strip()]
    states = [s for s in str(args.states).split(",") if s.strip()]
    unknown = sorted(set(states) - set(DISRUPTIONS))
    if unknown:
        raise SystemExit(f"unknown state {', '.join(unknown)}; known: {', '.join(DISRUPTIONS)}")
    now = at_seconds(BENCH_DAY, BENCH_TZ, NOW_S).astimezone(UTC)
    print(
        f"re-plan benchmark: hub {args.hub} at 11:15, {args.orders} orders / {args.drivers} drivers, "
        f"seeds {seeds}, rebalance {args.seconds:g} s (budget {args.budget}), reference "
        f"{args.reference_seconds:g} s; load average {os.getloadavg()[0]:.1f}"
    )
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="ctower-replan-") as tmp:
        for seed in seeds:
            template = Path(tmp) / f"seed{seed}.db"
            seed_template(template, seed, args.orders, args.drivers, now)
            for state in states:
                note, done = run_state(template, Path(tmp), seed, state, args, now)
                rows += done
                print(f"  seed {seed} {state}: {note}", flush=True)
                if args.out:
                    write_csv(args.out, rows)
    print()
    head = ["seed", "state", "variant", "predicted late", "unassigned", "of which stranded", "cost $"]
    head += ["orders moved", "routes touched", "wall s", "load"]
    print("| " + " | ".join(head) + " |")
    print("|---|---|---|" + "--:|" * (len(head) - 3))
    for r in rows:
        print("| " + " | ".join(_cells(r)) + " |")
    print()
    for line in summary(rows, args.seconds):
        print(line)
    return 0


__all__ = [
    "Row",
    "add_arguments",
    "day_state",
    "main",
    "measure",
    "rebalance",
    "seed_template",
    "summary",
]
