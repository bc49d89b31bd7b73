"""Cheapest-insertion repair: place orders one by one into an existing plan.

The fallback when the search has no time to find a plan of its own (a large day with breaks,
a few seconds of budget): the live plan stays as it is and each order that needs a driver
goes where it adds least to the objective, most important and most urgent first. Only the
drivers working nearest the order are tried, so one insertion prices a handful of routes,
not the whole hub.
"""

import time
from dataclasses import dataclass, replace

import numpy as np

from core.allocator.explain import best_insertions
from core.allocator.params import DEFAULT_PARAMS, SolveParams
from core.allocator.problem import AllocationProblem, OrderSpec
from core.allocator.result import RoutePlan

NEAREST_DRIVERS = 8


@dataclass(frozen=True)
class _PlanOnly:
    routes_by_driver: dict[str, list[str]]

    def plan(self) -> dict[str, list[str]]:
        return self.routes_by_driver


def _nearest_drivers(
    problem: AllocationProblem,
    routes: dict[str, list[str]],
    where: dict[str, tuple[float, float]],
    order: OrderSpec,
    k: int,
) -> list[str]:
    """Drivers whose route (or start, when idle) comes closest to `order`, nearest first."""
    gaps = []
    for d in problem.drivers:
        if d.blocked:
            continue
        points = np.array([where[o] for o in routes.get(d.id, [])] or [(d.lat, d.lon)])
        gaps.append((float(np.min(np.hypot(points[:, 0] - order.lat, points[:, 1] - order.lon))), d.id))
    return [d for _, d in sorted(gaps)[:k]]


def insert_greedily(
    problem: AllocationProblem,
    plan: RoutePlan,
    order_ids: list[str],
    params: SolveParams = DEFAULT_PARAMS,
    deadline_s: float | None = None,
) -> tuple[dict[str, list[str]], list[str]]:
    """Insert `order_ids` into `plan`; returns the new plan and the orders left out (no
    feasible place among the nearest drivers, or `deadline_s` of wall time used up before
    their turn)."""
    started = time.monotonic()
    by_id = {o.id: o for o in problem.orders}
    where = {o.id: (o.lat, o.lon) for o in problem.orders}
    routes = {d: list(v) for d, v in plan.items()}
    left: list[str] = []
    ranked = sorted(set(order_ids), key=lambda o: (-by_id[o].priority, by_id[o].due_s, o))
    for tried, order_id in enumerate(ranked):  # the most urgent order always gets its try
        if deadline_s is not None and tried and time.monotonic() - started > deadline_s:
            left.append(order_id)
            continue
        order = by_id[order_id]
        if order.locked_driver_id is not None:  # on board a van: only that van can take it
            near = [d.id for d in problem.drivers if d.id == order.locked_driver_id and not d.blocked]
        else:
            near = _nearest_drivers(problem, routes, where, order, NEAREST_DRIVERS)
        if not near:
            left.append(order_id)
            continue
        local = replace(
            problem,
            drivers=tuple(d for d in problem.drivers if d.id in near),
            orders=tuple(by_id[o] for d in near for o in routes.get(d, [])),
        )
        options = best_insertions(
            local,
            _PlanOnly({d: routes.get(d, []) for d in near}),  # type: ignore[arg-type]
            order,
            k=1,
            params=params,
        )
        if not options:
            left.append(order_id)
            continue
        routes.setdefault(options[0].driver_id, []).insert(options[0].position, order_id)
    return routes, left
