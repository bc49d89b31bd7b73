"""The OR-Tools routing model, built in the order of the OR-Tools samples.

`build_model()` calls one `add_<family>()` per step; each reads integer matrices and
coefficients prepared by `Pricing` (never a Python computation per arc) and is skipped when
its family is switched off in `SolveParams.enabled`.

Model nodes are a subset of problem nodes: the orders that passed the pre-check, every
driver's start, and the hubs some driver ends at.  `Built.node_of[k]` maps back.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ortools.constraint_solver import pywrapcp

from core.allocator import families as fam
from core.allocator.kinds import SlaMode
from core.allocator.precheck import Candidates
from core.allocator.pricing import Pricing
from core.allocator.problem import DAY_S, DriverSpec, OrderSpec

TIME_S, PARCELS, WEIGHT_G, VOLUME_ML, STOPS = "time_s", "parcels", "weight_g", "volume_ml", "stops"


@dataclass
class Built:
    """A model ready to solve, with the maps needed to read plain routes back out of it."""

    pricing: Pricing
    candidates: Candidates
    node_of: list[int]  # model node -> problem node
    order_pos: dict[int, int]  # problem order index -> model node
    manager: Any = None
    routing: Any = None
    horizon_s: int = 0
    dims: dict[str, Any] = field(default_factory=dict)
    keep: list[Any] = field(default_factory=list)  # objects OR-Tools must not lose


def build_model(pricing: Pricing, candidates: Candidates) -> Built:
    """Index manager, transits, arc costs, dimensions, windows, eligibility, disjunctions."""
    built = add_index_manager(pricing, candidates)
    add_arc_costs(built)  # FLEET_COST, CO2, ZONE_SUCCESS, BRAND_TIER surcharge, CHANGE_COST
    add_time(built)  # SHIFT_WINDOW, HUB_TURNAROUND, MAX_ROUTE_DURATION
    add_capacity(built)  # CAPACITY
    add_stop_count(built)  # WORKLOAD, FLEET_COST (route minimums)
    add_sla_windows(built)  # SLA_WINDOW
    add_breaks(built)  # HOS_BREAK
    add_eligibility(built)  # SKILLS, VEHICLE_TYPE, FLEET_ELIGIBILITY, BRAND_TIER bar, LOCKS, BLOCKED
    add_disjunctions(built)  # UNSERVED, priority
    return built


def add_index_manager(pricing: Pricing, candidates: Candidates) -> Built:
    """One start per driver (where the driver is now), one end per driver (their hub)."""
    pr = pricing.problem
    orders = candidates.modelled()
    hubs = sorted({d.hub for d in pr.drivers})
    node_of = orders + [pr.start_node(v) for v in range(len(pr.drivers))]
    node_of += [pr.hub_node(h) for h in hubs]
    pos = {node: k for k, node in enumerate(node_of)}
    starts = [pos[pr.start_node(v)] for v in range(len(pr.drivers))]
    ends = [pos[pr.end_node(v)] for v in range(len(pr.drivers))]
    built = Built(pricing, candidates, node_of, {j: pos[j] for j in orders})
    built.manager = pywrapcp.RoutingIndexManager(len(node_of), len(pr.drivers), starts, ends)
    built.routing = pywrapcp.RoutingModel(built.manager)
    return built


def _sub(built: Built, matrix: np.ndarray) -> list[list[int]]:
    idx = np.asarray(built.node_of)
    rows: list[list[int]] = matrix[np.ix_(idx, idx)].tolist()
    return rows


def _groups(keys: list[Any]) -> dict[Any, list[int]]:
    out: dict[Any, list[int]] = {}
    for v, key in enumerate(keys):
        out.setdefault(key, []).append(v)
    return out


def add_arc_costs(built: Built) -> None:
    """Arc cost per vehicle class in objective units; one registered matrix per class."""
    pricing, routing = built.pricing, built.routing
    m = len(pricing.problem.drivers)
    for vehicles in _groups([pricing.cost_class(v) for v in range(m)]).values():
        cb = routing.RegisterTransitMatrix(_sub(built, pricing.cost_matrix(vehicles)))
        for v in vehicles:
            routing.SetArcCostEvaluatorOfVehicle(cb, v)
    for v in range(m):
        if pricing.fixed_units[v]:
            routing.SetFixedCostOfVehicle(pricing.fixed_units[v], v)


def add_time(built: Built) -> None:
    """`time_s`: service + drive per arc; shifts hard; hourly pay as span cost."""
    pricing, routing = built.pricing, built.routing
    pr, params = pricing.problem, pricing.params
    m = len(pr.drivers)
    horizon = max([d.shift_end_s for d in pr.drivers] + [o.due_s for o in pr.orders] + [DAY_S])
    horizon += params.max_late_s + 1
    built.horizon_s = horizon
    callbacks = [0] * m
    for vehicles in _groups([pr.speed_profile(v) for v in range(m)]).values():
        cb = routing.RegisterTransitMatrix(_sub(built, pricing.time_transit(vehicles)))
        for v in vehicles:
            callbacks[v] = cb
    routing.AddDimensionWithVehicleTransits(callbacks, horizon, horizon, False, TIME_S)
    dim = routing.GetDimensionOrDie(TIME_S)
    built.dims[TIME_S] = dim
    for v, d in enumerate(pr.drivers):
        latest = d.shift_end_s if params.on(fam.SHIFT_WINDOW) else horizon
        dim.CumulVar(routing.Start(v)).SetRange(min(d.available_s, latest), latest)
        dim.CumulVar(routing.End(v)).SetMax(latest)
        if params.on(fam.MAX_ROUTE_DURATION) and d.max_route_duration_s is not None:
            dim.SetSpanUpperBoundForVehicle(d.max_route_duration_s, v)
        if pricing.span_units_per_s[v]:
            dim.SetSpanCostCoefficientForVehicle(pricing.span_units_per_s[v], v)
        routing.AddVariableMinimizedByFinalizer(dim.CumulVar(routing.End(v)))


def add_capacity(built: Built) -> None:
    """`parcels`, `weight_g`, `volume_ml`: what is delivered may not exceed what fits."""
    pricing, routing = built.pricing, built.routing
    pr = pricing.problem
    if not pricing.params.on(fam.CAPACITY):
        return
    n_model = len(built.node_of)
    measures: tuple[tuple[str, Callable[[OrderSpec], int], Callable[[DriverSpec], int]], ...] = (
        (PARCELS, lambda o: o.parcels, lambda d: d.capacity_parcels),
        (WEIGHT_G, lambda o: o.weight_g, lambda d: d.capacity_weight_g),
        (VOLUME_ML, lambda o: o.volume_ml, lambda d: d.capacity_volume_ml),
    )
    for name, need, cap in measures:
        demand = [
            need(pr.orders[built.node_of[k]]) if k < len(built.order_pos) else 0 for k in range(n_model)
        ]
        if not any(demand):
            continue
        cb = routing.RegisterUnaryTransitVector(demand)
        routing.AddDimensionWithVehicleCapacity(cb, 0, [cap(d) for d in pr.drivers], True, name)
        built.dims[name] = routing.GetDimensionOrDie(name)


def add_stop_count(built: Built) -> None:
    """`stops`: the busiest route's stop count is priced (workload balance), and 3PL / gig
    route minimums become a fixed cost plus a soft cap (see `pricing`)."""
    pricing, routing = built.pricing, built.routing
    m = len(pricing.problem.drivers)
    caps = [c for c in pricing.stop_caps if c is not None]
    if not pricing.workload_units_per_stop and not caps:
        return
    n_orders = len(built.order_pos)
    count = [1 if k < n_orders else 0 for k in range(len(built.node_of))]
    cb = routing.RegisterUnaryTransitVector(count)
    routing.AddDimension(cb, 0, max(n_orders, 1), True, STOPS)
    dim = routing.GetDimensionOrDie(STOPS)
    built.dims[STOPS] = dim
    if pricing.workload_units_per_stop:
        dim.SetGlobalSpanCostCoefficient(pricing.workload_units_per_stop)
    for v in range(m):
        cap = pricing.stop_caps[v]
        if cap is not None:
            dim.SetCumulVarSoftUpperBound(routing.End(v), cap.stops, cap.units_per_stop)


def add_sla_windows(built: Built) -> None:
    """Service starts in [ready_s, due_s]: hard, or soft at a price per second late; priced
    from the problem's margin before `due_s` either way (`AllocationProblem.priced_due_s`)."""
    pricing, manager = built.pricing, built.manager
    params = pricing.params
    if not params.on(fam.SLA_WINDOW):
        return
    dim = built.dims[TIME_S]
    for j, k in built.order_pos.items():
        o = pricing.problem.orders[j]
        index = manager.NodeToIndex(k)
        if params.sla_mode is SlaMode.HARD:
            dim.CumulVar(index).SetRange(o.ready_s, o.due_s)
        else:
            dim.CumulVar(index).SetRange(o.ready_s, o.due_s + params.max_late_s)
        priced = pricing.problem.priced_due_s(o)
        if params.sla_mode is SlaMode.SOFT or priced < o.due_s:
            dim.SetCumulVarSoftUpperBound(index, priced, pricing.late_units_per_s)


def add_breaks(built: Built) -> None:
    """Hours of service: no stretch of work longer than `work_before_break_s` without a break
    of `break_duration_s` (route start and end count as rest).

    Breaks are mandatory interval variables, as many as a full-shift route would need; the
    ones a short route does not need sit after its end.  (Optional breaks tied to the route
    span made the first-solution search fail to insert visits in 9.15, so they are not used.)
    The solver places breaks in travel or waiting, never inside a service.
    """
    pricing, routing, manager = built.pricing, built.routing, built.manager
    pr = pricing.problem
    if not pricing.params.on(fam.HOS_BREAK):
        return
    dim = built.dims[TIME_S]
    solver = routing.solver()
    visit = [0] * routing.Size()
    for index in range(routing.Size()):
        node = built.node_of[manager.IndexToNode(index)]
        visit[index] = pr.orders[node].service_time_s if node < pr.n_orders else 0
    for v, d in enumerate(pr.drivers):
        w, brk = d.work_before_break_s, d.break_duration_s
        if w <= 0:
            continue
        span = d.shift_end_s - d.available_s
        if pricing.params.on(fam.MAX_ROUTE_DURATION) and d.max_route_duration_s is not None:
            span = min(span, d.max_route_duration_s)
        count = max(1, (span - 1) // (w + brk)) if span > w else 0
        latest = max(d.available_s, built.horizon_s - brk)
        intervals = [
            solver.FixedDurationIntervalVar(d.available_s, latest, brk, False, f"break {d.id} {i}")
            for i in range(count)
        ]
        if not intervals:
            continue
        dim.SetBreakIntervalsOfVehicle(intervals, v, visit)
        dim.SetBreakDistanceDurationOfVehicle(w, brk, v)
        built.keep.append(intervals)


def add_eligibility(built: Built) -> None:
    """Allowed drivers per order from the pre-check (skills, vehicle, fleet, premium bar,
    locks, compliance blocks); -1 keeps the order droppable."""
    routing, manager = built.routing, built.manager
    m = len(built.pricing.problem.drivers)
    for j, k in built.order_pos.items():
        allowed = list(built.candidates.allowed[j])
        if len(allowed) < m:
            routing.VehicleVar(manager.NodeToIndex(k)).SetValues([*allowed, -1])


def add_disjunctions(built: Built) -> None:
    """Every order may be dropped at drop_penalty x (1 + priority): far above any route cost,
    so orders drop only when they truly do not fit, lowest priority first."""
    routing, manager, pricing = built.routing, built.manager, built.pricing
    for j, k in built.order_pos.items():
        routing.AddDisjunction([manager.NodeToIndex(k)], pricing.drop_units[j])
