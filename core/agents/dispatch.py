"""The dispatch agent: re-plan one hub's day and hand the result over as a proposal.

Read, solve, write: the day is read (`read_day`), solved with no session (`replan`), and
written as a pending proposal against the plan version it read (`record`); approval refuses
it if the plan moved under it. `core.agents.rebalance` runs the three in separate short units
of work for a page or the CLI; `propose_rebalance` runs them inside a caller's own
transaction (a simulator tick, the co-pilot).

A re-plan first puts the live plan in order: what a driver may no longer serve comes off
their route, each stranded van's load is handed over (`core.agents.handover`), and every
order without a driver is placed by cheapest insertion, so one press places what can be
placed. The solver then searches from that plan for what is left of the time limit, and
the proposal is never worse than the plan it started from. Moves forced by a driver who may
not go on do not count against the change budget.

A day too big for one model (`METRO_ABOVE_ORDERS`) is searched in parts (`solve_metro`),
which place the waiting orders themselves; what they leave is then inserted. With too little
of the limit left for the parts, the repaired plan is the proposal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.access import PLAN_CHANGE_ROLES, Viewer
from core.agents.dispatch_problem import DayState, load_day_state
from core.agents.handover import HandedOver, Handover, hand_over
from core.allocator.diff import PlanDiff, diff_plans, rationale
from core.allocator.evaluate import Evaluation, evaluate_plan
from core.allocator.insertion import broken_routes, improve, insert_greedily, make_feasible
from core.allocator.metro import solve_metro
from core.allocator.params import DEFAULT_PARAMS, SolveParams
from core.allocator.problem import AllocationProblem
from core.allocator.result import AllocationResult
from core.allocator.solve import Progress, ProgressFn, result_of_plan, solve
from core.allocator.stop import MaxRuntime
from core.errors import StaleProposalError
from core.kinds import (
    OPEN_ORDER_STATES,
    PENDING_STOP_STATES,
    OrderStatus,
    ProposerKind,
    RouteStatus,
    StopStatus,
)
from core.models import Driver, Fleet, Hub, Order, Plan, Route, Stop
from core.plan_change import (
    LoadHandover,
    NewRoute,
    OrderMove,
    PlanEffect,
    PlanMetrics,
    RouteChange,
    SolverRun,
    Unplaced,
)
from core.proposals import Applied, ProposalView, create_proposal, proposal_view, reject
from core.timeutil import at_seconds, hhmm

AGENT = "dispatch-agent"
WRITE_RESERVE_S = 1.0  # of the time limit kept for evaluating, diffing and writing the proposal
MIN_SEARCH_S = 0.3
IMPROVE_SHARE = 0.4  # of the time left after the repair, for relocating late stops before the solver
METRO_ABOVE_ORDERS = 3000
"""A hub day with more open orders than this is searched in parts (`solve_metro`), whoever
asks: one model of the whole day would not be built within a re-plan's time limit."""
METRO_MIN_SEARCH_S = 5.0  # a search in parts needs this much of the limit left after the repair


@dataclass(frozen=True)
class RebalanceRequest:
    """What the dispatcher asked for: one hub's day from `now`, within a time and change budget."""

    hub_id: int
    day: date
    now: datetime | None = None
    seconds: float = 10.0
    max_orders_moved: int | None = None
    max_routes_touched: int | None = None
    seed: int = 0
    metro: bool = False  # split the hub into parts solved in parallel (`solve_metro`): a big day
    from_scratch: bool = False  # ignore the live plan as a start (a reference re-plan)
    recorded_at: datetime | None = None  # the caller's clock for the records; default `now`, else the wall


@dataclass(frozen=True)
class ReplanProgress:
    """What a person sees while a re-plan runs: the best plan so far in the proposal's own terms
    (late, unassigned, cost as the proposal's "after" will count them; None before there is one),
    and how many plans the solver has found."""

    elapsed_s: float
    late: int | None
    unassigned: int | None
    cost_cents: int | None
    solutions: int


ReplanProgressFn = Callable[[ReplanProgress], None]


@dataclass(frozen=True)
class Replan:
    """A solved re-plan of one hub's day, ready to be written as a proposal."""

    state: DayState
    change: RouteChange
    effect: PlanEffect
    rationale: str
    plan: dict[str, list[str]]


def _moves(
    diff: PlanDiff, before: Evaluation, after: Evaluation, reasons: dict[str, str]
) -> tuple[OrderMove, ...]:
    """Each moved, newly placed or dropped order with its reason in words and numbers."""
    was = {v.order_id: (v.arrival_s, v.due_s) for r in before.routes for v in r.visits}
    now = {v.order_id: (v.arrival_s, v.due_s) for r in after.routes for v in r.visits}
    stops_before = {r.driver_id: len(r.visits) for r in before.routes}
    stops_after = {r.driver_id: len(r.visits) for r in after.routes}
    rows = []
    for move in (*diff.moves, *diff.assigned, *diff.unassigned):
        old, new = was.get(move.order_id), now.get(move.order_id)
        words = [reasons[move.order_id]] if move.order_id in reasons else []
        if old and new:
            words.append(f"ETA {hhmm(old[0])} -> {hhmm(new[0])} (due {hhmm(new[1])})")
        elif new:
            words.append(f"placed, ETA {hhmm(new[0])} (due {hhmm(new[1])})")
        if move.from_driver and move.to_driver:
            frm, to = move.from_driver, move.to_driver
            words.append(
                f"{frm} {stops_before.get(frm, 0)} -> {stops_after.get(frm, 0)} stops, "
                f"{to} {stops_before.get(to, 0)} -> {stops_after.get(to, 0)} stops"
            )
        rows.append(
            OrderMove(
                move.order_id,
                move.from_driver,
                move.from_position,
                move.to_driver,
                move.to_position,
                "; ".join(words) or "dropped",
            )
        )
    return tuple(rows)


def _search(
    problem: AllocationProblem,
    request: RebalanceRequest,
    params: SolveParams,
    start: dict[str, list[str]],
    repaired: dict[str, list[str]],
    seconds: float,
    progress: ProgressFn | None,
    cancel: threading.Event | None,
) -> AllocationResult:
    """The solver's turn: from the repaired plan, never worse than `start` (the live plan
    once forced changes are made), within the change budget counted from `start`."""
    if request.from_scratch:
        return solve(problem, MaxRuntime(seconds), request.seed, params, progress=progress, cancel=cancel)
    if request.metro:
        return solve_metro(
            problem,
            seed=request.seed,
            params=params,
            initial=start or None,
            budget_s=seconds,
            progress=progress,
            cancel=cancel,
        )
    return solve(
        problem,
        MaxRuntime(seconds),
        request.seed,
        params,
        initial=start,
        warm=repaired,
        progress=progress,
        cancel=cancel,
    )


def _without(problem: AllocationProblem, frozen: dict[str, list[str]]) -> AllocationProblem:
    """The problem less the frozen drivers and every order loaded in their vans."""
    orders = {o for refs in frozen.values() for o in refs}
    orders |= {o.id for o in problem.orders if o.locked_driver_id in frozen}
    return problem.without(set(frozen), orders)


def _drop(plan: dict[str, list[str]], frozen: dict[str, list[str]]) -> dict[str, list[str]]:
    return {d: o for d, o in plan.items() if d not in frozen}


def replan(
    state: DayState,
    request: RebalanceRequest,
    requested_by: str,
    params: SolveParams = DEFAULT_PARAMS,
    progress: ReplanProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> Replan:
    """Re-plan the day in `state` within `request.seconds` of wall time; needs no session.
    `progress` hears of the repaired plan as soon as it exists, then of the solver's search."""
    started = time.monotonic()
    params = replace(
        params, max_orders_moved=request.max_orders_moved, max_routes_touched=request.max_routes_touched
    )
    if len(state.problem.orders) > METRO_ABOVE_ORDERS:
        request = replace(request, metro=True)
    live = {d: list(o) for d, o in state.live.items()}
    start, _ = make_feasible(state.problem, {} if request.from_scratch else live, params)
    handed = hand_over(state.problem, start, state.now_s, params, state.unavailable)
    problem, start = handed.problem, handed.plan
    left_s = request.seconds - (time.monotonic() - started) - WRITE_RESERVE_S
    in_parts = request.metro and not request.from_scratch and left_s >= METRO_MIN_SEARCH_S
    repaired = start  # searched in parts, each part places its own waiting orders
    if not in_parts:
        routed = {o for orders in start.values() for o in orders}
        waiting = [o.id for o in problem.orders if o.id not in routed]
        repaired, _ = insert_greedily(problem, start, waiting, params, current=start)
        left_s = request.seconds - (time.monotonic() - started) - WRITE_RESERVE_S
        repaired = improve(
            problem, repaired, params, start, max(0.0, left_s * IMPROVE_SHARE), request.max_orders_moved
        )
    so_far = evaluate_plan(problem, repaired, params, start).metrics
    best = (so_far.late_count, so_far.orders_unassigned, so_far.cost_cents)

    def searching(p: Progress) -> None:
        if progress is not None:
            progress(ReplanProgress(time.monotonic() - started, *best, p.solutions))

    if progress is not None:
        progress(ReplanProgress(time.monotonic() - started, *best, 0))
    # a van whose loaded stops cannot all be kept stays as it is: the solver only sees what it can plan
    frozen = {d: repaired[d] for d in broken_routes(problem, repaired, params)}
    solvable = _without(problem, frozen)
    seconds = request.seconds - (time.monotonic() - started) - WRITE_RESERVE_S
    if request.metro and not request.from_scratch and not in_parts:
        note = f"{seconds:.1f} s left after the repair: too little for a search in parts"
        result = result_of_plan(solvable, _drop(repaired, frozen), params, notes=(note,))
    else:
        result = _search(
            solvable,
            request,
            params,
            _drop(start, frozen),
            _drop(repaired, frozen),
            max(MIN_SEARCH_S, seconds),
            searching,
            cancel,
        )
    new_plan = {**result.plan(), **frozen}
    left = [o.id for o in problem.orders if o.id not in {x for r in new_plan.values() for x in r}]
    if left:  # the search may drop what the repair had placed: put back whatever fits
        new_plan, _ = insert_greedily(problem, new_plan, left, params, current=start)
    before = evaluate_plan(state.problem, runnable(state), params, live)
    after = evaluate_plan(problem, new_plan, params, start)
    if not request.from_scratch:  # never worse than the plan it started from
        kept = evaluate_plan(problem, start, params, start)
        if after.metrics.objective_units > kept.metrics.objective_units:
            new_plan, after = start, kept
    return _as_replan(state, request, requested_by, problem, live, new_plan, before, after, result, handed)


def _as_replan(
    state: DayState,
    request: RebalanceRequest,
    requested_by: str,
    problem: AllocationProblem,
    live: dict[str, list[str]],
    new_plan: dict[str, list[str]],
    before: Evaluation,
    after: Evaluation,
    result: AllocationResult,
    handed: HandedOver,
) -> Replan:
    diff = diff_plans(live, new_plan)
    changed = sorted(
        {d.driver_id for d in diff.drivers} | {h.to_driver for h in handed.handovers if h.to_driver}
    )
    by_driver = {r.driver_id: r for r in after.routes}
    routes = tuple(NewRoute.planned(code, by_driver.get(code)) for code in changed)
    stranded = {o: h for h in handed.handovers for o in h.orders}
    reasons = {
        o: (
            f"{h.from_driver}: {h.why}; handed over to {h.to_driver} at the van"
            if h.to_driver
            else f"{h.from_driver}: {h.why}; the load goes back to the hub"
        )
        for o, h in stranded.items()
    }
    unplaced = tuple(
        Unplaced(u.order_id, u.reason_text) for u in result_of_plan(problem, new_plan).unassigned
    )
    change = RouteChange(
        hub_id=state.hub_id,
        day=state.day.isoformat(),
        requested_by=requested_by,
        routes=routes,
        moves=_moves(diff, before, after, reasons),
        unassigned=unplaced,
        handovers=tuple(LoadHandover(**h.__dict__) for h in handed.handovers),
    )
    effect = PlanEffect(
        before=PlanMetrics.of(before.metrics),
        after=PlanMetrics.of(after.metrics),
        orders_moved=diff.orders_moved,
        orders_placed=len(diff.assigned),
        orders_dropped=len(diff.unassigned),
        routes_touched=len(changed),
        routes_total=max(len(live), len(new_plan)),
        solver=SolverRun(result.status.value, round(result.runtime_s, 2), result.solutions, result.notes),
        handed_over=len(stranded),
    )
    text = rationale(diff, before.metrics, after.metrics, problem)
    if handed.handovers:
        text += " " + " ".join(_handover_words(h) for h in handed.handovers)
    if change.empty:
        text = _why_nothing(state, result) + " " + text
    return Replan(state, change, effect, text, new_plan)


def _handover_words(h: Handover) -> str:
    n = len(h.orders)
    parcels = f"{n} order{'s' if n != 1 else ''}"
    head = f"{h.from_driver} cannot go on ({h.why}):"
    if h.to_driver:
        return f"{head} {h.to_driver} takes its {parcels} over at the van by {hhmm(h.at_s)}."
    return f"{head} its {parcels} go back to the hub (there by {hhmm(h.at_s)}) to be dispatched again."


def _why_nothing(state: DayState, result: AllocationResult) -> str:
    """Why a re-plan changes nothing, in words: a proposal that changes nothing says so."""
    if not state.problem.orders:
        return "Nothing to re-plan: the hub has no open orders."
    if result.unassigned:
        first = result.unassigned[0]
        return (
            f"Nothing could be improved: {len(result.unassigned)} order(s) have no place "
            f"(e.g. {first.order_id}: {first.reason_text})."
        )
    return "Nothing could be improved: the live plan is already the best found."


def runnable(state: DayState) -> dict[str, list[str]]:
    """The live plan as it can go on: a driver who may not work delivers nothing more."""
    return {d: list(o) for d, o in state.live.items() if d not in state.unavailable}


def read_day(
    session: Session, request: RebalanceRequest, unavailable: dict[int, str] | None = None
) -> DayState:
    """The hub's day as the solver needs it (compliance blocks included)."""
    return load_day_state(session, request.hub_id, request.day, request.now, unavailable)


def record(
    session: Session, replan_: Replan, viewer: Viewer, now: datetime, agent: str | None = None
) -> ProposalView:
    """Write the re-plan as a proposal on the plan version it was read at. A proposal that
    changes nothing is closed at once with the reason, never left pending."""
    state = replan_.state
    plan = session.get(Plan, state.plan_id) if state.plan_id is not None else None
    if plan is None:
        plan = day_plan(session, state.hub_id, state.day, now)
    by, kind = (agent, ProposerKind.AGENT) if agent else (viewer.username, _proposer_kind(viewer))
    proposal = create_proposal(
        session,
        plan,
        by,
        kind,
        replan_.change,
        replan_.effect,
        replan_.rationale,
        now,
        base_version=state.plan_version if state.plan_version is not None else plan.version,
    )
    if replan_.change.empty:  # closed at once, and audited like any other decision
        return reject(session, viewer, proposal.id, replan_.rationale or "changes nothing", now)
    return proposal_view(session, proposal.id)


def day_plan(session: Session, hub_id: int, day: date, now: datetime) -> Plan:
    """The hub's plan for the day, made if there is none yet. Two writers may make it at the
    same moment (a rebalance and the simulator): the loser of the unique (hub, day) key takes
    the winner's row instead of failing."""
    found = session.scalars(select(Plan).where(Plan.hub_id == hub_id, Plan.service_date == day)).first()
    if found is not None:
        return found
    try:
        with session.begin_nested():
            plan = Plan(hub_id=hub_id, service_date=day, updated_at=now)
            session.add(plan)
            session.flush()
        return plan
    except IntegrityError:
        return session.scalars(select(Plan).where(Plan.hub_id == hub_id, Plan.service_date == day)).one()


def _proposer_kind(viewer: Viewer) -> ProposerKind:
    return ProposerKind.USER if viewer.user_id is not None else ProposerKind.AGENT


def propose_rebalance(
    session: Session,
    viewer: Viewer,
    request: RebalanceRequest,
    progress: ReplanProgressFn | None = None,
    cancel: threading.Event | None = None,
    unavailable: dict[int, str] | None = None,
    params: SolveParams = DEFAULT_PARAMS,
    agent: str | None = None,
) -> ProposalView:
    """Read, solve and write inside the caller's transaction (a simulator tick, the co-pilot)."""
    viewer.require(PLAN_CHANGE_ROLES, "run a rebalance")
    now = request.recorded_at or request.now or datetime.now(UTC)
    state = read_day(session, request, unavailable)
    done = replan(state, request, agent or viewer.username, params, progress, cancel)
    return record(session, done, viewer, now, agent)


def _route(session: Session, plan: Plan, driver: Driver) -> Route:
    route = session.scalars(
        select(Route).where(Route.plan_id == plan.id, Route.driver_id == driver.id)
    ).first()
    if route is None:
        start = at_seconds(plan.service_date, plan_tz(session, plan), 0)
        route = Route(
            plan_id=plan.id,
            driver_id=driver.id,
            vehicle_id=driver.vehicle_id,
            status=RouteStatus.PLANNED,
            planned_start_at=start,
            planned_end_at=start,
        )
        session.add(route)
        session.flush()
    return route


def plan_tz(session: Session, plan: Plan) -> str:
    hub = session.get(Hub, plan.hub_id)
    assert hub is not None
    return hub.timezone


def apply_route_change(session: Session, plan: Plan, change: RouteChange, now: datetime) -> Applied:
    """Write a rebalance's routes into the plan; refuse if an order it moves is no longer open.
    A load handed back to the hub is no longer out for delivery: it is loaded again there."""
    tz = plan_tz(session, plan)
    refs = {s.order for r in change.routes for s in r.stops} | {m.order for m in change.moves}
    orders = {o.external_ref: o for o in session.scalars(select(Order).where(Order.external_ref.in_(refs)))}
    closed = sorted(ref for ref, o in orders.items() if o.status not in OPEN_ORDER_STATES)
    if closed:
        raise StaleProposalError(
            f"{len(closed)} order(s) in this proposal changed state since it was made "
            f"(e.g. {closed[0]} is now {orders[closed[0]].status.value}); nothing was changed. "
            "Ask for a fresh proposal."
        )
    back_to_hub = {o for h in change.handovers if h.to_driver is None for o in h.orders}
    for ref in back_to_hub & set(orders):
        orders[ref].status = OrderStatus.PLANNED
    codes = [r.driver for r in change.routes]
    drivers = {d.code: d for d in session.scalars(select(Driver).where(Driver.code.in_(codes)))}
    for planned in change.routes:
        route = _route(session, plan, drivers[planned.driver])
        session.execute(delete(Stop).where(Stop.route_id == route.id, Stop.status.in_(PENDING_STOP_STATES)))
        done = session.scalar(select(func.max(Stop.sequence)).where(Stop.route_id == route.id))
        first = 0 if done is None else done + 1
        for offset, stop in enumerate(planned.stops):
            order = orders[stop.order]
            session.add(
                Stop(
                    route_id=route.id,
                    order_id=order.id,
                    sequence=first + offset,
                    status=StopStatus.PENDING,
                    loaded=order.status is OrderStatus.OUT_FOR_DELIVERY,
                    planned_eta_at=at_seconds(plan.service_date, tz, stop.eta_s),
                )
            )
            if order.status is OrderStatus.UNASSIGNED:
                order.status = OrderStatus.PLANNED
        if planned.start_s is not None and route.started_at is None:
            route.planned_start_at = at_seconds(plan.service_date, tz, planned.start_s)
        if planned.end_s is not None:
            route.planned_end_at = at_seconds(plan.service_date, tz, planned.end_s)
        route.planned_distance_m = planned.distance_m
    session.flush()
    on_a_route = set(
        session.scalars(
            select(Stop.order_id).where(
                Stop.order_id.in_([o.id for o in orders.values()]), Stop.status.in_(PENDING_STOP_STATES)
            )
        )
    )
    for order in orders.values():  # an open order the change left without a stop waits for a driver
        if order.status in (OrderStatus.PLANNED, OrderStatus.OUT_FOR_DELIVERY) and order.id not in on_a_route:
            order.status = OrderStatus.UNASSIGNED
    session.flush()
    moved = sum(1 for m in change.moves if m.from_driver and m.to_driver)
    return Applied(
        f"rebalance ({moved} orders moved, {len(change.routes)} routes)", moved, len(change.routes)
    )


@dataclass(frozen=True)
class RouteLine:
    """One touched route as the proposal would have it: hub, stops in order, hub."""

    driver_code: str
    fleet_type: str
    stops: int
    path: tuple[tuple[float, float], ...]  # (lon, lat)


def routes_now(session: Session, proposal: ProposalView) -> list[RouteLine]:
    """The touched drivers' routes as the plan has them now (hub, pending stops, hub): the
    "before" that `changed_routes` is drawn against."""
    change = proposal.change
    if not isinstance(change, RouteChange) or not change.routes:
        return []
    hub = _hub_of(session, proposal.plan_id)
    rows = session.execute(
        select(Driver.code, Fleet.fleet_type, Order.lon, Order.lat)
        .join(Route, Route.driver_id == Driver.id)
        .join(Fleet, Driver.fleet_id == Fleet.id)
        .join(Stop, Stop.route_id == Route.id)
        .join(Order, Order.id == Stop.order_id)
        .where(
            Route.plan_id == proposal.plan_id,
            Driver.code.in_([r.driver for r in change.routes]),
            Stop.status.in_(PENDING_STOP_STATES),
        )
        .order_by(Driver.code, Stop.sequence)
    ).all()
    home = (hub.lon, hub.lat)
    lines = []
    for code in sorted({r.code for r in rows}):
        mine = [r for r in rows if r.code == code]
        points = tuple((float(r.lon), float(r.lat)) for r in mine)
        lines.append(RouteLine(code, str(mine[0].fleet_type), len(points), (home, *points, home)))
    return lines


def changed_routes(session: Session, proposal: ProposalView) -> list[RouteLine]:
    """The proposal's new routes for its touched drivers, as map lines (hub to hub)."""
    change = proposal.change
    if not isinstance(
        change, RouteChange
    ):  # a loading plan or a warning lists routes, it does not re-draw them
        return []
    refs = [s.order for r in change.routes for s in r.stops]
    coords = {
        ref: (float(lon), float(lat))
        for ref, lon, lat in session.execute(
            select(Order.external_ref, Order.lon, Order.lat).where(Order.external_ref.in_(refs))
        )
    }
    hub = _hub_of(session, proposal.plan_id)
    kinds = dict(
        session.execute(
            select(Driver.code, Fleet.fleet_type)
            .join(Fleet, Driver.fleet_id == Fleet.id)
            .where(Driver.code.in_([r.driver for r in change.routes]))
        ).all()
    )
    home = (hub.lon, hub.lat)
    return [
        RouteLine(
            r.driver,
            str(kinds.get(r.driver, "")),
            len(r.stops),
            (home, *(coords[s.order] for s in r.stops if s.order in coords), home),
        )
        for r in sorted(change.routes, key=lambda r: r.driver)
    ]


def _hub_of(session: Session, plan_id: int) -> Hub:
    hub = session.scalar(select(Hub).join(Plan, Plan.hub_id == Hub.id).where(Plan.id == plan_id))
    assert hub is not None
    return hub
