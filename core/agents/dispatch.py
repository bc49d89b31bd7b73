"""The dispatch agent: re-optimise one hub's day and hand the result over as a proposal.

The live plan is the warm start, so a proposal is never worse than what is on the road;
every move away from it carries a cost and the change budget caps how much it may move.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core.access import PLAN_CHANGE_ROLES, Viewer
from core.agents.dispatch_problem import OPEN_ORDER_STATES, PENDING_STOP_STATES, DayState, load_day_state
from core.allocator import families as fam
from core.allocator.diff import PlanDiff, diff_plans, rationale
from core.allocator.evaluate import evaluate_plan
from core.allocator.insertion import insert_greedily
from core.allocator.metro import solve_metro
from core.allocator.params import DEFAULT_PARAMS, SolveParams
from core.allocator.result import AllocationResult, Metrics
from core.allocator.solve import ProgressFn, solve
from core.allocator.stop import MaxRuntime
from core.errors import StaleProposalError
from core.models import (
    Driver,
    Fleet,
    Hub,
    Order,
    OrderStatus,
    Plan,
    ProposerKind,
    Route,
    RouteStatus,
    Stop,
    StopStatus,
)
from core.proposals import ProposalView, create_proposal, proposal_view, register_applier
from core.timeutil import at_seconds, hhmm

KIND = "rebalance"
REPAIR_SHARE = 0.25  # of the time budget kept for inserting what the search left out
AGENT = "dispatch-agent"


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
    recorded_at: datetime | None = None  # the caller's clock for the records; default `now`, else the wall


def _metrics(m: Metrics) -> dict[str, int]:
    return {
        "cost_cents": m.cost_cents,
        "distance_m": m.distance_m,
        "co2_g": m.co2_g,
        "late": m.late_count,
        "unassigned": m.orders_unassigned,
        "drivers_used": m.drivers_used,
    }


def _moves(
    diff: PlanDiff, before: dict[str, Any], after: dict[str, Any], result: AllocationResult
) -> list[dict[str, Any]]:
    """Each moved, newly placed or dropped order with its reason in words and numbers."""
    reasons = {u.order_id: u.reason_text for u in result.unassigned}
    stops_before = {d: len(v) for d, v in before["plan"].items()}
    stops_after = {d: len(v) for d, v in after["plan"].items()}
    rows = []
    for move in (*diff.moves, *diff.assigned, *diff.unassigned):
        was, now = before["visits"].get(move.order_id), after["visits"].get(move.order_id)
        words = []
        if was and now:
            words.append(f"ETA {hhmm(was[0])} -> {hhmm(now[0])} (due {hhmm(now[1])})")
        elif now:
            words.append(f"placed, ETA {hhmm(now[0])} (due {hhmm(now[1])})")
        if move.from_driver and move.to_driver:
            frm, to = move.from_driver, move.to_driver
            words.append(
                f"{frm} {stops_before.get(frm, 0)} -> {stops_after.get(frm, 0)} stops, "
                f"{to} {stops_before.get(to, 0)} -> {stops_after.get(to, 0)} stops"
            )
        if move.to_driver is None:
            words.append(reasons.get(move.order_id, "dropped"))
        rows.append(
            {
                "order": move.order_id,
                "from_driver": move.from_driver,
                "from_position": move.from_position,
                "to_driver": move.to_driver,
                "to_position": move.to_position,
                "reason": "; ".join(words),
            }
        )
    return rows


def _schedule(
    state: DayState, plan: dict[str, list[str]], params: SolveParams, current: dict[str, list[str]] | None
) -> dict[str, Any]:
    ev = evaluate_plan(state.problem, plan, params, current)
    visits = {v.order_id: (v.arrival_s, v.due_s) for r in ev.routes for v in r.visits}
    return {
        "plan": plan,
        "visits": visits,
        "routes": {r.driver_id: r for r in ev.routes},
        "metrics": ev.metrics,
    }


def _objective(
    state: DayState, plan: dict[str, list[str]], params: SolveParams, current: dict[str, list[str]] | None
) -> int:
    return evaluate_plan(state.problem, plan, params, current).metrics.objective_cents


def propose_rebalance(
    session: Session,
    viewer: Viewer,
    request: RebalanceRequest,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    blocked_driver_ids: frozenset[int] = frozenset(),
    params: SolveParams = DEFAULT_PARAMS,
) -> ProposalView:
    """Solve the hub's day from now and record the outcome as a pending proposal."""
    viewer.require(PLAN_CHANGE_ROLES, "run a rebalance")
    now = request.recorded_at or request.now or datetime.now(UTC)
    state = load_day_state(session, request.hub_id, request.day, request.now, blocked_driver_ids)
    plan = state.plan
    if plan is None:
        plan = Plan(hub_id=request.hub_id, service_date=request.day, updated_at=now)
        session.add(plan)
        session.flush()
    params = replace(
        params, max_orders_moved=request.max_orders_moved, max_routes_touched=request.max_routes_touched
    )
    live = state.live or None
    search_s = request.seconds * (1 - REPAIR_SHARE)
    if request.metro:
        result = solve_metro(state.problem, seed=request.seed, params=params, initial=live, budget_s=search_s)
    else:
        result = solve(
            state.problem,
            MaxRuntime(search_s),
            request.seed,
            params,
            initial=live,
            progress=progress,
            cancel=cancel,
        )
    new_plan = {r.driver_id: [v.order_id for v in r.visits] for r in result.routes if r.visits}
    before = _schedule(state, dict(state.live), params, live)
    waiting = [u.order_id for u in result.unassigned if u.reason_code in (fam.NO_ROOM, fam.SLA_WINDOW)]
    if waiting:  # the search left orders out (often: no time to find a plan at all): repair
        repaired, _ = insert_greedily(
            state.problem, new_plan, waiting, params, deadline_s=REPAIR_SHARE * request.seconds
        )
        if _objective(state, repaired, params, live) < _objective(state, new_plan, params, live):
            new_plan = repaired
    after = _schedule(state, new_plan, params, live)
    if after["metrics"].objective_cents > before["metrics"].objective_cents:
        new_plan, after = dict(state.live), before  # never propose worse than what is on the road
    diff = diff_plans(dict(state.live), new_plan)
    changed = sorted(d.driver_id for d in diff.drivers)
    routes = {}
    for code in changed:
        route = after["routes"].get(code)
        routes[code] = {
            "stops": [[v.order_id, v.arrival_s] for v in route.visits] if route else [],
            "start_s": route.start_s if route else None,
            "end_s": route.end_s if route else None,
            "distance_m": route.distance_m if route else 0,
        }
    change = {
        "hub_id": request.hub_id,
        "day": request.day.isoformat(),
        "requested_by": viewer.username,
        "routes": routes,
        "moves": _moves(diff, before, after, result),
        "unassigned": [{"order": u.order_id, "reason": u.reason_text} for u in result.unassigned],
    }
    effect = {
        "before": _metrics(before["metrics"]),
        "after": _metrics(after["metrics"]),
        "orders_moved": diff.orders_moved,
        "orders_placed": len(diff.assigned),
        "orders_dropped": len(diff.unassigned),
        "routes_touched": len(changed),
        "routes_total": max(len(state.live), len(new_plan)),
        "solver": {
            "status": result.status.value,
            "runtime_s": round(result.runtime_s, 2),
            "solutions": result.solutions,
            "notes": list(result.notes),
        },
    }
    text = rationale(diff, before["metrics"], after["metrics"], state.problem)
    proposal = create_proposal(session, plan, KIND, AGENT, ProposerKind.AGENT, change, effect, text, now)
    return proposal_view(session, proposal.id)


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


def apply_route_change(session: Session, plan: Plan, change: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Write a rebalance's routes into the plan; refuse if an order it moves is no longer open."""
    tz = plan_tz(session, plan)
    refs = {s[0] for r in change["routes"].values() for s in r["stops"]}
    refs |= {m["order"] for m in change["moves"]}
    orders = {o.external_ref: o for o in session.scalars(select(Order).where(Order.external_ref.in_(refs)))}
    closed = sorted(ref for ref, o in orders.items() if o.status not in OPEN_ORDER_STATES)
    if closed:
        raise StaleProposalError(
            f"{len(closed)} order(s) in this proposal changed state since it was made "
            f"(e.g. {closed[0]} is now {orders[closed[0]].status.value}); nothing was changed. "
            "Ask for a fresh proposal."
        )
    drivers = {d.code: d for d in session.scalars(select(Driver).where(Driver.code.in_(change["routes"])))}
    for code, planned in change["routes"].items():
        route = _route(session, plan, drivers[code])
        session.execute(delete(Stop).where(Stop.route_id == route.id, Stop.status.in_(PENDING_STOP_STATES)))
        done = session.scalar(select(func.max(Stop.sequence)).where(Stop.route_id == route.id))
        first = 0 if done is None else done + 1
        for offset, (ref, arrival_s) in enumerate(planned["stops"]):
            order = orders[ref]
            session.add(
                Stop(
                    route_id=route.id,
                    order_id=order.id,
                    sequence=first + offset,
                    status=StopStatus.PENDING,
                    loaded=order.status is OrderStatus.OUT_FOR_DELIVERY,
                    planned_eta_at=at_seconds(plan.service_date, tz, arrival_s),
                )
            )
            if order.status is OrderStatus.UNASSIGNED:
                order.status = OrderStatus.PLANNED
        if planned["start_s"] is not None and route.started_at is None:
            route.planned_start_at = at_seconds(plan.service_date, tz, planned["start_s"])
        if planned["end_s"] is not None:
            route.planned_end_at = at_seconds(plan.service_date, tz, planned["end_s"])
        route.planned_distance_m = int(planned["distance_m"])
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
    moved = sum(1 for m in change["moves"] if m["from_driver"] and m["to_driver"])
    return {
        "summary": f"rebalance ({moved} orders moved, {len(change['routes'])} routes)",
        "orders_moved": moved,
        "routes_touched": len(change["routes"]),
    }


register_applier(KIND, apply_route_change)


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
    routes = proposal.change.get("routes", {})
    if not isinstance(routes, dict) or not routes:
        return []
    hub = session.get(Hub, int(proposal.change["hub_id"]))
    assert hub is not None
    rows = session.execute(
        select(Driver.code, Fleet.fleet_type, Order.lon, Order.lat)
        .join(Route, Route.driver_id == Driver.id)
        .join(Fleet, Driver.fleet_id == Fleet.id)
        .join(Stop, Stop.route_id == Route.id)
        .join(Order, Order.id == Stop.order_id)
        .where(
            Route.plan_id == proposal.plan_id,
            Driver.code.in_(list(routes)),
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
    routes = proposal.change.get("routes", {})
    if not isinstance(routes, dict):  # a loading plan or a warning lists routes, it does not re-draw them
        return []
    refs = [ref for r in routes.values() for ref, _ in r["stops"]]
    coords = {
        ref: (float(lon), float(lat))
        for ref, lon, lat in session.execute(
            select(Order.external_ref, Order.lon, Order.lat).where(Order.external_ref.in_(refs))
        )
    }
    hub = session.get(Hub, int(proposal.change["hub_id"]))
    assert hub is not None
    kinds = dict(
        session.execute(
            select(Driver.code, Fleet.fleet_type)
            .join(Fleet, Driver.fleet_id == Fleet.id)
            .where(Driver.code.in_(list(routes)))
        ).all()
    )
    home = (hub.lon, hub.lat)
    return [
        RouteLine(
            code,
            str(kinds.get(code, "")),
            len(r["stops"]),
            (home, *(coords[ref] for ref, _ in r["stops"] if ref in coords), home),
        )
        for code, r in sorted(routes.items())
    ]
