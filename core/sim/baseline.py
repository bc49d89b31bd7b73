"""The rule-based dispatcher the agents are measured against.

Each order goes, in arrival order (created_at, then id), to the nearest driver of its hub who
still has room (capacity, skills, vehicle, shift time), appended to the end of that driver's
route; nothing is ever re-optimised. In the field the rule-based driver fails a not-home
delivery and takes it back to the depot (`SimParams(copilot=False)`).

The plan is written like any other: a `rebalance` proposal (same applier, same audit trail),
proposed by `baseline-dispatcher`. It is also how the simulator benchmark gets a plan for a
1,000-driver day in seconds, where a full allocator solve would take far longer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
from sqlalchemy.orm import Session

from core.access import PLAN_CHANGE_ROLES, Viewer
from core.agents.dispatch_problem import load_day_state
from core.allocator.problem import AllocationProblem, DriverSpec, OrderSpec
from core.allocator.travel import URBAN_TRAVEL
from core.geo import haversine_m
from core.kinds import ProposerKind
from core.models import Plan
from core.plan_change import NewRoute, PlacementEffect, PlannedStop, RouteChange
from core.proposals import ProposalView, create_proposal, proposal_view

AGENT = "baseline-dispatcher"


@dataclass
class _Van:
    spec: DriverSpec
    lat: float
    lon: float
    t_s: float
    parcels: int = 0
    weight_g: int = 0
    volume_ml: int = 0
    distance_m: float = 0.0
    stops: list[tuple[str, int]] = field(default_factory=list)  # order id, arrival_s


def _fits(van: _Van, o: OrderSpec) -> bool:
    d = van.spec
    if d.blocked or not o.required_skills <= d.skills:
        return False
    if d.max_item_weight_g is not None and o.weight_g > d.max_item_weight_g:
        return False
    if o.allowed_vehicle_types is not None and d.vehicle_type not in o.allowed_vehicle_types:
        return False
    return (
        van.parcels + o.parcels <= d.capacity_parcels
        and van.weight_g + o.weight_g <= d.capacity_weight_g
        and van.volume_ml + o.volume_ml <= d.capacity_volume_ml
    )


@dataclass(frozen=True)
class GreedyRoute:
    start_s: int
    stops: tuple[tuple[str, int], ...]  # order id, arrival_s
    end_s: int
    distance_m: int


def greedy_routes(
    problem: AllocationProblem, arrival_order: list[str] | None = None
) -> dict[str, GreedyRoute]:
    """Driver id -> route: each order to the nearest van with room, in arrival order."""
    hub = problem.hubs[0]
    vans = [
        _Van(d, d.lat, d.lon, d.available_s + (hub.turnaround_s if d.loading_at_start else 0))
        for d in problem.drivers
    ]
    if not vans:
        return {}
    by_id = {o.id: o for o in problem.orders}
    for oid in arrival_order or [o.id for o in problem.orders]:
        o = by_id[oid]
        lat = np.array([v.lat for v in vans])
        lon = np.array([v.lon for v in vans])
        road_m = haversine_m(lat, lon, o.lat, o.lon) * URBAN_TRAVEL.circuity
        best = None
        for k in np.argsort(road_m):
            van = vans[int(k)]
            if not _fits(van, o):
                continue
            speed = URBAN_TRAVEL.speed_m_per_s(int(van.t_s), str(van.spec.vehicle_type))
            arrive = van.t_s + road_m[k] / speed
            back_m = float(haversine_m(o.lat, o.lon, hub.lat, hub.lon)) * URBAN_TRAVEL.circuity
            done = max(arrive, o.ready_s) + o.service_time_s + back_m / speed
            if done <= van.spec.shift_end_s:
                best = (van, arrive, float(road_m[k]))
                break
        if best is None:
            continue
        van, arrive, leg_m = best
        van.stops.append((o.id, int(arrive)))
        van.t_s = max(arrive, o.ready_s) + o.service_time_s
        van.lat, van.lon, van.distance_m = o.lat, o.lon, van.distance_m + leg_m
        van.parcels += o.parcels
        van.weight_g += o.weight_g
        van.volume_ml += o.volume_ml
    out = {}
    for v in vans:
        if v.stops:
            back_m = float(haversine_m(v.lat, v.lon, hub.lat, hub.lon)) * URBAN_TRAVEL.circuity
            end = v.t_s + back_m / URBAN_TRAVEL.speed_m_per_s(int(v.t_s), str(v.spec.vehicle_type))
            out[v.spec.id] = GreedyRoute(
                v.spec.available_s, tuple(v.stops), int(end), int(v.distance_m + back_m)
            )
    return out


def propose_baseline(
    session: Session,
    viewer: Viewer,
    hub_id: int,
    day: date,
    now: datetime,
) -> ProposalView:
    """The rule-based plan for the hub's open orders, as a pending proposal (no driver the
    day state leaves out gets a stop)."""
    viewer.require(PLAN_CHANGE_ROLES, "run the baseline dispatcher")
    state = load_day_state(session, hub_id, day, None)
    plan = session.get(Plan, state.plan_id) if state.plan_id is not None else None
    if plan is None:
        plan = Plan(hub_id=hub_id, service_date=day, updated_at=now)
        session.add(plan)
        session.flush()
    placed = {ref for refs in state.live.values() for ref in refs}
    waiting = [o for o in state.problem.orders if o.id not in placed]
    problem = AllocationProblem(
        drivers=tuple(d for d in state.problem.drivers if d.id not in state.live),
        orders=tuple(waiting),
        hubs=state.problem.hubs,
    )
    routes = greedy_routes(problem)
    change = RouteChange(
        hub_id,
        day.isoformat(),
        viewer.username,
        tuple(
            NewRoute(code, tuple(PlannedStop(*s) for s in r.stops), r.start_s, r.end_s, r.distance_m)
            for code, r in routes.items()
        ),
    )
    assigned = sum(len(r.stops) for r in routes.values())
    effect = PlacementEffect(assigned, len(routes), len(waiting) - assigned)
    text = (
        f"rule-based: {assigned} of {len(waiting)} orders to the nearest driver with room, in "
        "arrival order, appended to the route; no re-optimisation"
    )
    proposal = create_proposal(session, plan, AGENT, ProposerKind.AGENT, change, effect, text, now)
    return proposal_view(session, proposal.id)


__all__ = ["AGENT", "GreedyRoute", "greedy_routes", "propose_baseline"]
