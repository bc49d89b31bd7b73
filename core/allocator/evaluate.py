"""Recompute a plan's schedule, cost and lateness from plain routes, without the solver.

Used to report results, to check the solver (tests, brute-force oracle) and to compare a
re-optimised plan with the live one.  It reads the same coefficients as the model
(`Pricing`), so its `objective_units` equal OR-Tools' objective for the same routes, up to
the approximation in break placement (see `RouteSchedule.walk`).
"""

from collections.abc import Sequence
from dataclasses import dataclass

from core.allocator import families as fam
from core.allocator.costs import route_cost_cents
from core.allocator.eligibility import static_issue
from core.allocator.kinds import SlaMode
from core.allocator.params import DEFAULT_PARAMS, SolveParams
from core.allocator.pricing import UNITS_PER_CENT, Pricing
from core.allocator.problem import AllocationProblem
from core.allocator.result import Break, Metrics, Route, RoutePlan, Visit


@dataclass(frozen=True)
class Evaluation:
    routes: tuple[Route, ...]
    metrics: Metrics


def current_of(plan: RoutePlan | None) -> dict[str, str]:
    """Order id -> driver id of a plan."""
    return {o: d for d, orders in (plan or {}).items() for o in orders}


def evaluate(
    problem: AllocationProblem,
    routes: RoutePlan,
    params: SolveParams = DEFAULT_PARAMS,
    current: RoutePlan | None = None,
) -> Metrics:
    """Metrics of `routes` (driver id -> order ids); `current` prices moves when rebalancing."""
    return evaluate_plan(problem, routes, params, current).metrics


def evaluate_plan(
    problem: AllocationProblem,
    routes: RoutePlan,
    params: SolveParams = DEFAULT_PARAMS,
    current: RoutePlan | None = None,
    pricing: Pricing | None = None,
) -> Evaluation:
    pricing = pricing or Pricing(problem, params, current_of(current))
    violations: list[str] = []
    seen: set[str] = set()
    out: list[Route] = []
    units = cost = distance = co2 = late_n = late_total = max_stops = 0
    for driver_id, order_ids in routes.items():
        if driver_id not in problem.driver_index:
            violations.append(f"unknown driver {driver_id}")
            continue
        v = problem.driver_index[driver_id]
        nodes: list[int] = []
        for oid in order_ids:
            if oid not in problem.order_index:
                violations.append(f"unknown order {oid}")
            elif oid in seen:
                violations.append(f"order {oid} routed twice")
            else:
                seen.add(oid)
                nodes.append(problem.order_index[oid])
        if not nodes:
            continue
        walk = RouteSchedule(pricing, v, nodes)
        violations.extend(walk.violations)
        out.append(walk.route)
        units += walk.units
        cost += walk.route.cost_cents
        distance += walk.route.distance_m
        co2 += walk.route.co2_g
        late_n += sum(1 for x in walk.route.visits if x.late_s > 0)
        late_total += sum(x.late_s for x in walk.route.visits)
        max_stops = max(max_stops, len(nodes))
    units += pricing.workload_units_per_stop * max_stops
    unserved = [j for j, o in enumerate(problem.orders) if o.id not in seen]
    units += sum(pricing.drop_units[j] for j in unserved)
    metrics = Metrics(
        cost_cents=cost,
        objective_cents=units // UNITS_PER_CENT,
        objective_units=units,
        distance_m=distance,
        co2_g=co2,
        late_count=late_n,
        late_s=late_total,
        drivers_used=len(out),
        orders_served=len(seen),
        orders_unassigned=len(unserved),
        feasible=not violations,
        violations=tuple(violations),
    )
    return Evaluation(tuple(out), metrics)


class RouteSchedule:
    """Earliest-start walk of one route, with breaks taken greedily and, for drivers paid by
    the hour, the start pushed as late as waiting allows (as the solver's span cost does).

    Breaks: a stretch of work (route start or last break end to the end of a service or
    the route) may not exceed `work_before_break_s`; waiting of at least the break length
    counts as the break, otherwise the break is taken on leaving the previous stop.  OR-Tools
    may place a break elsewhere inside a leg, so with breaks times can differ by a little.
    """

    def __init__(self, pricing: Pricing, v: int, nodes: Sequence[int]) -> None:
        self.pricing, self.v, self.nodes = pricing, v, list(nodes)
        pr, params = pricing.problem, pricing.params
        self.d = pr.drivers[v]
        self.dur = pr.duration_s(v)
        self.dist = pr.distance_m
        self.windows = params.on(fam.SLA_WINDOW)
        self.breaks_on = params.on(fam.HOS_BREAK) and self.d.work_before_break_s > 0
        self.violations: list[str] = []
        start = self.d.available_s
        if not self.breaks_on and pricing.span_units_per_s[v] > 0:
            start += self._push_start(start)
        self.route, self.units = self.walk(start)

    def _times(self, start: int) -> list[tuple[int, int]]:
        """(arrival, service start) per stop, no breaks, from route start `start`."""
        pr, t, cur = self.pricing.problem, start + self.pricing.start_service_s[self.v], None
        out = []
        cur = pr.start_node(self.v)
        for j in self.nodes:
            arrive = t + int(self.dur[cur, j])
            begin = max(arrive, pr.orders[j].ready_s) if self.windows else arrive
            out.append((arrive, begin))
            t, cur = begin + pr.orders[j].service_time_s, j
        return out

    def _push_start(self, start: int) -> int:
        """How much later the route can start without making any stop later or more late."""
        pr = self.pricing.problem
        waited, best = 0, None
        for j, (arrive, begin) in zip(self.nodes, self._times(start), strict=True):
            waited += begin - arrive
            due = pr.orders[j].due_s if self.windows else begin
            room = waited + max(0, due - begin) if begin <= due else waited
            best = room if best is None else min(best, room)
        return max(0, min(best or 0, waited))

    def walk(self, start: int) -> tuple[Route, int]:
        pr, pricing, d, v = self.pricing.problem, self.pricing, self.d, self.v
        params = pricing.params
        w, brk = d.work_before_break_s, d.break_duration_s
        rest_end = start
        t = start + pricing.start_service_s[v]
        cur = pr.start_node(v)
        breaks: list[Break] = []
        visits: list[Visit] = []
        left = [
            sum(pr.orders[j].parcels for j in self.nodes),
            sum(pr.orders[j].weight_g for j in self.nodes),
            sum(pr.orders[j].volume_ml for j in self.nodes),
        ]
        units = distance = late_total = 0
        route_nodes = [*self.nodes, pr.end_node(v)]
        for j in route_nodes:
            is_order = j < pr.n_orders
            o = pr.orders[j] if is_order else None
            leg = int(self.dur[cur, j])
            arrive = t + leg
            ready = o.ready_s if (o is not None and self.windows) else 0
            begin = max(arrive, ready)
            service = o.service_time_s if o is not None else 0
            if self.breaks_on and begin + service - rest_end > w:
                if begin - arrive >= brk and arrive - rest_end <= w:
                    breaks.append(Break(begin - brk, brk))
                    rest_end = begin
                else:
                    breaks.append(Break(t, brk))
                    rest_end = t + brk
                    arrive = rest_end + leg
                    begin = max(arrive, ready)
                    if begin - arrive >= brk:
                        rest_end = begin
                if begin + service - rest_end > w:
                    self.violations.append(f"{d.id}: work stretch over {w} s without a break")
            distance += int(self.dist[cur, j])
            if o is not None:
                left = [left[0] - o.parcels, left[1] - o.weight_g, left[2] - o.volume_ml]
                visits.append(Visit(o.id, arrive, begin, begin + service, o.due_s, *left))
                units += int(pricing.visit_units[v][j])
                if self.windows:
                    late = max(0, begin - o.due_s)
                    late_total += late
                    self._check_late(o.id, late, params)
                issue = static_issue(pr, params, v, j)
                if issue is not None:
                    self.violations.append(f"{o.id} on {d.id}: {issue[1]} ({issue[0]})")
            t, cur = begin + service, j
        end = t
        self._check_route(start, end, route_nodes)
        units += distance * pricing.arc_units_per_m[v]
        units += (end - start) * pricing.span_units_per_s[v]
        units += pricing.fixed_units[v]
        cap = pricing.stop_caps[v]
        if cap is not None:
            units += cap.units_per_stop * max(0, len(self.nodes) - cap.stops)
        if params.sla_mode is SlaMode.SOFT:
            units += late_total * pricing.late_units_per_s
        co2_g = (distance * d.co2_g_per_km + 500) // 1000
        cost = route_cost_cents(d.cost, end - start, distance, len(self.nodes))
        route = Route(d.id, tuple(visits), start, end, distance, cost, co2_g, tuple(breaks))
        return route, units

    def _check_late(self, order_id: str, late: int, params: SolveParams) -> None:
        if late <= 0:
            return
        if params.sla_mode is SlaMode.HARD:
            self.violations.append(f"{order_id}: {late} s past due (hard window)")
        elif late > params.max_late_s:
            self.violations.append(f"{order_id}: {late} s late, over max_late_s")

    def _check_route(self, start: int, end: int, route_nodes: list[int]) -> None:
        pr, d, params = self.pricing.problem, self.d, self.pricing.params
        if params.on(fam.SHIFT_WINDOW) and end > d.shift_end_s:
            self.violations.append(f"{d.id}: back at {end} s, after shift end {d.shift_end_s} s")
        if (
            params.on(fam.MAX_ROUTE_DURATION)
            and d.max_route_duration_s is not None
            and end - start > d.max_route_duration_s
        ):
            self.violations.append(f"{d.id}: route of {end - start} s over its maximum")
        if params.on(fam.CAPACITY):
            orders = [pr.orders[j] for j in route_nodes if j < pr.n_orders]
            for dim, need, cap in (
                ("parcels", sum(o.parcels for o in orders), d.capacity_parcels),
                ("weight_g", sum(o.weight_g for o in orders), d.capacity_weight_g),
                ("volume_ml", sum(o.volume_ml for o in orders), d.capacity_volume_ml),
            ):
                if need > cap:
                    self.violations.append(f"{d.id}: {dim} {need} over capacity {cap}")
