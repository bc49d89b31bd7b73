"""`ctower simulate`: run a live day on the simulated clock (Ctrl-C stops cleanly, resumable)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Engine, func, select

from core.access import SYSTEM
from core.agents.appliers import APPLIERS
from core.agents.autopilot import Autopilot
from core.agents.registry import hub_agents
from core.config import get_settings
from core.db import default_engine, migrate, unit_of_work
from core.errors import ControlTowerError
from core.kinds import ProposalStatus
from core.models import Event, Hub, Order, Plan
from core.proposals import approve
from core.sim.baseline_live import NearestDriverDispatch
from core.sim.clock import SimClock
from core.sim.control import DAY_END_S, ClockHold
from core.sim.disruptions import DisruptionParams
from core.sim.engine import SimParams, Simulator, TickAgent, TickReport
from core.timeutil import (
    at_seconds,
    hhmm,
    local_midnight_utc,
    local_today,
    seconds_since_midnight,
    time_of_day_s,
)

REPORT_EVERY_S = 1800


def make_plans(engine: Engine, day: date, planner: str, seconds: float, seed: int) -> int:
    """Plan every hub without a plan for `day` (allocator or rule-based); returns how many."""
    from core.agents.dispatch import RebalanceRequest, propose_rebalance
    from core.sim.baseline import propose_baseline

    with unit_of_work(engine, read_only=True) as session:
        tz = session.scalar(select(Hub.timezone).limit(1)) or get_settings().timezone
        planned = set(session.scalars(select(Plan.hub_id).where(Plan.service_date == day)))
        hubs = [h for h in session.scalars(select(Hub.id).order_by(Hub.id)) if h not in planned]
    now = at_seconds(day, tz, 6 * 3600)
    for hub_id in hubs:
        with unit_of_work(engine) as session:
            if planner == "allocator":
                proposal = propose_rebalance(
                    session,
                    SYSTEM,
                    RebalanceRequest(
                        hub_id=hub_id,
                        day=day,
                        now=None,
                        seconds=seconds,
                        seed=seed,
                        metro=True,
                        recorded_at=now,  # the simulated morning, like the approval below
                    ),
                )
            else:
                proposal = propose_baseline(session, SYSTEM, hub_id, day, now)
        if proposal.status is ProposalStatus.PENDING:  # a hub with nothing to plan gets a closed one
            with unit_of_work(engine) as session:
                approve(session, SYSTEM, proposal.id, APPLIERS, now=now)
    return len(hubs)


def resume_point(engine: Engine, day: date, tz: str) -> int | None:
    """Seconds of the last report on `day`, to carry on from there; None on a fresh day."""
    with unit_of_work(engine, read_only=True) as session:
        last = session.scalar(
            select(func.max(Event.occurred_at)).where(Event.occurred_at >= local_midnight_utc(day, tz))
        )
    return seconds_since_midnight(last, day, tz) + 1 if last is not None else None


def simulate_day(
    engine: Engine,
    day: date,
    seed: int,
    params: SimParams,
    start_s: int | None,
    end_s: int,
    speed: float | None,
    say: Any = print,
    hold: Callable[[datetime], float] | None = None,
    agents: Sequence[TickAgent] = (),
) -> dict[str, int]:
    """Simulate `day` from `start_s` (default: resume, else the first route start) to `end_s`.

    Every tick publishes the simulated time for the app and waits while the app has paused it
    (`hold`, by default a `ClockHold` on the same database).
    """
    sim = Simulator(engine, day, seed=seed, params=params, agents=agents)
    start = start_s if start_s is not None else (resume_point(engine, day, sim.tz) or sim.first_start_s())
    if start >= end_s:
        raise ControlTowerError(f"nothing to simulate: the day is already at {hhmm(start)}")
    clock = SimClock(
        day, sim.tz, start, end_s, params.tick_s, speed, hold=hold or ClockHold(engine, day, speed)
    )
    say(
        f"simulating {day} from {hhmm(start)} to {hhmm(end_s)} "
        f"({'as fast as possible' if speed is None else f'{speed:g}x real time'}), seed {seed}"
    )
    shown = {"next": start + REPORT_EVERY_S}
    totals: dict[str, int] = {}

    def report(r: TickReport) -> None:
        for key, value in r.counts.items():
            totals[key] = totals.get(key, 0) + int(value)
        if r.tick.end_s >= shown["next"] or r.tick.end_s >= end_s:
            shown["next"] += REPORT_EVERY_S
            say(
                f"  {hhmm(r.tick.end_s)}  on duty {r.on_duty:>4}  delivered {totals.get('delivered', 0):>6}"
                f"  failed {totals.get('failed', 0):>4}  problems "
                f"{sum(v for k, v in totals.items() if k.startswith('problem_')):>3}"
                f"  reroutes {totals.get('reroutes_applied', 0):>3}"
                f"  messages {totals.get('messages_sent', 0):>6}"
            )

    try:
        sim.run(clock, report)
    except KeyboardInterrupt:
        say("stopped: every finished tick is saved; run again to carry on from there")
    return totals


def latest_day_with_orders(engine: Engine, day: date) -> date | None:
    """`day` if it has orders, else the latest day that has (a database seeded on another day)."""
    with unit_of_work(engine, read_only=True) as session:
        if session.scalar(select(Order.id).where(Order.service_date == day).limit(1)) is not None:
            return day
        return session.scalar(select(func.max(Order.service_date)))


def _simulate(args: argparse.Namespace) -> int:
    engine = default_engine()
    migrate(engine)
    tz = get_settings().timezone
    day = args.date or local_today(tz)
    if args.latest_day:
        found = latest_day_with_orders(engine, day)
        if found is None:
            print(f"no orders to simulate on {day} or any other day: run `ctower seed` first")
            return 0
        day = found
    with unit_of_work(engine, read_only=True) as session:
        has_plan = session.scalar(select(func.count()).select_from(Plan).where(Plan.service_date == day))
    if not has_plan and args.plan == "none":
        raise ControlTowerError(
            f"there is no plan for {day}: run `ctower rebalance --hub all "
            "--approve-as admin` first, or pass --plan allocator|baseline"
        )
    if args.plan != "none":
        made = make_plans(engine, day, args.plan, args.plan_seconds, args.seed)
        if made:
            print(f"planned {made} hub(s) with the {args.plan} dispatcher")
    disruptions = DisruptionParams.none() if args.calm else DisruptionParams()
    params = SimParams(tick_s=args.tick, copilot=not args.rule_based, disruptions=disruptions)
    start = time_of_day_s(args.start) if args.start else None
    end = time_of_day_s(args.until) if args.until else DAY_END_S
    agents: list[TickAgent] = []
    if args.agents:
        agents.append(Autopilot(day, agents=hub_agents(), seed=args.seed))
    elif args.rule_based:
        agents.append(NearestDriverDispatch(day))
    try:
        totals = simulate_day(
            engine, day, args.seed, params, start, end, None if args.fast else args.speed, agents=agents
        )
    except ControlTowerError as exc:
        if not args.latest_day:
            raise
        print(f"{exc}; `ctower seed --reset` makes a fresh day")  # a finished demo day is no error
        return 0
    print("day so far: " + ", ".join(f"{k} {v}" for k, v in sorted(totals.items())))
    return 0


def add_sim_parser(sub: Any) -> None:
    p = sub.add_parser(
        "simulate",
        help="run a live day: drivers follow the plan and report as they go",
        description="Drivers follow today's approved routes on a simulated clock, "
        "with traffic, closures, breakdowns, late starts, customers not at home and "
        "urgent orders, and report through the same services as the driver app.",
    )
    p.add_argument("--speed", type=float, default=60.0, help="times real time (default 60)")
    p.add_argument("--fast", action="store_true", help="as fast as possible (ignores --speed)")
    p.add_argument("--date", type=date.fromisoformat, default=None, help="day (default: today)")
    p.add_argument(
        "--latest-day",
        action="store_true",
        help="if the day has no orders, simulate the latest day that has (the demo day as "
        "seeded); a finished or empty day is not an error (`make run` uses this)",
    )
    p.add_argument(
        "--from",
        dest="start",
        type=time.fromisoformat,
        default=None,
        help="local start HH:MM (default: carry on from the last report, else first route)",
    )
    p.add_argument("--until", type=time.fromisoformat, default=None, help="local end HH:MM (default 22:00)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the day's disruptions")
    p.add_argument("--tick", type=int, default=60, help="simulated seconds per tick (default 60)")
    p.add_argument(
        "--plan",
        choices=("none", "allocator", "baseline"),
        default="none",
        help="plan hubs that have no plan yet first (default: require a plan)",
    )
    p.add_argument("--plan-seconds", type=float, default=10.0, help="allocator seconds per hub")
    p.add_argument(
        "--rule-based",
        action="store_true",
        help="drivers without the co-pilot: not home means failed, no rerouting",
    )
    p.add_argument("--calm", action="store_true", help="no disruptions at all")
    p.add_argument(
        "--agents",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run the dispatch, capacity, hub and compliance agents, each proposal applied or "
        "left for a dispatcher by its policy (default on; with --no-agents and --rule-based, "
        "new orders go to the nearest driver)",
    )
    p.set_defaults(handler=_simulate)


__all__ = ["add_sim_parser", "latest_day_with_orders", "make_plans", "simulate_day"]
