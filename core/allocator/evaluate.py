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


# Where a walk stands before a leg: clock, end of the last rest, first leg since it, late s,
# late stops, priced late s, stretches over, breaks taken so far, the first forced break.
_State = tuple[int, int, int, int, int, int, int, int, tuple[int, int] | None]


@dataclass
class _Trace:
    """Times of one walk of a route: per stop (arrival, service start), the breaks, and the
    first break the walk had to take where none was planned (`forced`: its leg and the
    first leg since the last rest, the range where that break could go instead).  `states`:
    the walk's state before each leg, so a walk that differs from leg k on resumes there."""

    times: list[tuple[int, int]]
    breaks: list[Break]
    end: int
    late_s: int
    late_n: int
    priced_late_s: int  # past the priced due time (`AllocationProblem.priced_due_s`)
    stretch_over: int
    forced: tuple[int, int] | None
    states: list[_State]


class RouteSchedule:
    """Earliest-start walk of one route, with breaks placed to keep stops on time and, for
    drivers paid by the hour, the start pushed as late as waiting allows (as the solver's
    span cost does).

    Breaks: a stretch of work (route start or last rest to the end of a service or the
    route) may not exceed `work_before_break_s`; waiting of at least the break length counts
    as rest.  A break is taken in one leg (the drive and any wait before a stop), as late in
    it as the stretch allows.  When a stretch would run over, every leg since the last rest
    is tried and the one whose schedule is best for the rest of the route wins (fewest broken
    rules, then least lateness, then earliest end): a break goes into a wait the plan
    already has rather than delaying stops that have no slack.  OR-Tools may place a break
    elsewhere inside a leg, so with breaks times can differ from the solver's by a little.
    """

    def __init__(self, pricing: Pricing, v: int, nodes: Sequence[int], walked: bool = True) -> None:
        self.pricing, self.v, self.nodes = pricing, v, list(nodes)
        pr, params = pricing.problem, pricing.params
        self.d = pr.drivers[v]
        self.dur = pr.duration_s(v)
        self.dist = pr.distance_m
        self.windows = params.on(fam.SLA_WINDOW)
        self.breaks_on = params.on(fam.HOS_BREAK) and self.d.work_before_break_s > 0
        self.violations: list[str] = []
        self.route_nodes = [*self.nodes, pr.end_node(v)]
        prev = [pr.start_node(v), *self.nodes]
        self.legs = [int(self.dur[a, b]) for a, b in zip(prev, self.route_nodes, strict=True)]
        o = pr.orders
        self.ready = [o[j].ready_s if self.windows else 0 for j in self.nodes] + [0]
        self.due = [o[j].due_s if self.windows else None for j in self.nodes] + [None]
        self.priced_due = [pr.priced_due_s(o[j]) if self.windows else None for j in self.nodes] + [None]
        self.service = [o[j].service_time_s for j in self.nodes] + [0]
        # the least time from leaving stop i-1 to the route's end: the legs and services left
        self.after = [0] * (len(self.legs) + 1)
        for i in range(len(self.legs) - 1, -1, -1):
            self.after[i] = self.after[i + 1] + self.legs[i] + self.service[i]
        if walked:
            self.route, self.units = self.walk(self._start())

    @classmethod
    def floor_units(cls, pricing: Pricing, v: int, nodes: Sequence[int]) -> int | None:
        """A floor under the units of route v as `nodes`, from one walk without breaks, or
        None when that walk already breaks a rule (late past the limit, back after the shift,
        over the route's maximum or the van's capacity).  A break only delays what follows
        it, so every time, lateness and span with breaks is at least the one without; a
        route ruled out here is ruled out with its breaks.  Costs one trace where the exact
        walk tries a trace per leg a break could go in."""
        s = cls(pricing, v, nodes, walked=False)
        start = s._start()
        s.breaks_on = False
        tr = s._trace(start, ())
        pr = pricing.problem
        if s.windows:
            for j, (_, begin) in zip(s.nodes, tr.times, strict=False):
                s._check_late(pr.orders[j].id, max(0, begin - pr.orders[j].due_s), pricing.params)
        s._check_route(start, tr.end, s.route_nodes)
        if s.violations:
            return None
        legs = zip([pr.start_node(v), *s.nodes], s.route_nodes, strict=True)
        return s._units(sum(int(s.dist[a, b]) for a, b in legs), start, tr.end, tr.priced_late_s)

    def _start(self) -> int:
        """When the route starts: when the driver is available, or for a driver paid by the
        hour with no break to place, as late as waiting allows."""
        start = self.d.available_s
        if not self.breaks_on and self.pricing.span_units_per_s[self.v] > 0:
            start += self._push_start(start)
        return start

    def _times(self, start: int) -> list[tuple[int, int]]:
        """(arrival, service start) per stop, no breaks, from route start `start`."""
        return self._trace(start, ()).times[:-1]

    def _push_start(self, start: int) -> int:
        """How much later the route can start without making any stop later or more late."""
        waited, best = 0, None
        for due, (arrive, begin) in zip(self.due, self._times(start), strict=False):
            waited += begin - arrive
            due = begin if due is None else due
            room = waited + max(0, due - begin) if begin <= due else waited
            best = room if best is None else min(best, room)
        return max(0, min(best or 0, waited))

    def _trace(self, start: int, planned: Sequence[int], base: _Trace | None = None, at: int = 0) -> _Trace:
        """Walk the route taking a break in each leg of `planned` and, where a stretch would
        still run over, one in the leg itself (the first such leg is reported).  With `base`,
        the walk is `base` up to leg `at` and resumes from there."""
        tr = self._trace_beating(start, planned, base, at, None)
        assert tr is not None  # nothing to beat: every walk ends
        return tr

    def _trace_beating(
        self,
        start: int,
        planned: Sequence[int],
        base: _Trace | None,
        at: int,
        beat: tuple[int, int, int, int] | None,
    ) -> _Trace | None:
        """`_trace`, given up (None) as soon as its score (`_score`) must end above `beat`:
        stretches over, late seconds and late stops only grow along the walk, and the end
        comes no sooner than the legs and services left."""
        d = self.d
        on = self.breaks_on
        w, brk = d.work_before_break_s, d.break_duration_s
        if base is None:
            at = 0
            t, rest_end, lo = start + self.pricing.start_service_s[self.v], start, 0
            late_s = late_n = priced = over = 0
            forced: tuple[int, int] | None = None
            times: list[tuple[int, int]] = []
            breaks: list[Break] = []
            states: list[_State] = []
        else:
            t, rest_end, lo, late_s, late_n, priced, over, n_breaks, forced = base.states[at]
            times, breaks, states = base.times[:at], base.breaks[:n_breaks], base.states[:at]
        for i in range(at, len(self.legs)):
            states.append((t, rest_end, lo, late_s, late_n, priced, over, len(breaks), forced))
            leg = self.legs[i]
            arrive = t + leg
            ready, service = self.ready[i], self.service[i]
            begin = max(arrive, ready)
            take = on and i in planned
            if on and not take and begin + service - rest_end > w:
                if begin - arrive >= brk and arrive - rest_end <= w:
                    breaks.append(Break(begin - brk, brk))  # the wait is the break
                    rest_end, lo = begin, i + 1
                else:
                    take = True
                    if forced is None:
                        forced = (i, lo)
            if take:
                begin = max(t + leg + brk, ready)
                pause = min(begin - brk, max(t, rest_end + w))
                breaks.append(Break(pause, brk))
                rest_end, lo = pause + brk, i + 1
                # Drive first and rest at the stop, or rest on the way when the stretch ends sooner.
                arrive = t + leg if t + leg <= pause else t + leg + brk
            if on and begin + service - rest_end > w:
                over += 1
            times.append((arrive, begin))
            due = self.due[i]
            if due is not None and begin > due:
                late_s += begin - due
                late_n += 1
            from_s = self.priced_due[i]
            if from_s is not None and begin > from_s:
                priced += begin - from_s
            t = begin + service
            if beat is not None and (over, late_s, late_n, t + self.after[i + 1]) > beat:
                return None
        return _Trace(times, breaks, t, late_s, late_n, priced, over, forced, states)

    def _score(self, tr: _Trace) -> tuple[int, int, int, int]:
        broken = tr.stretch_over + int(tr.end > self.d.shift_end_s)
        return (broken, tr.late_s, tr.late_n, tr.end)

    def _place_breaks(self, start: int) -> _Trace:
        """Choose, break by break, the leg that gives the best schedule (see the class)."""
        planned: list[int] = []
        tr = self._trace(start, planned)
        while tr.forced is not None and len(planned) <= len(self.legs):
            forced, lo = tr.forced
            # every planned break lies before `lo`, so each option is `tr` until its own leg;
            # the latest leg first (the likeliest best), and an option is walked only while it
            # can still beat the best so far (on a tie the later leg wins)
            best: tuple[_Trace, int] | None = None
            for k in range(forced, lo - 1, -1):
                beat = None if best is None else self._score(best[0])
                option = self._trace_beating(start, [*planned, k], tr, k, beat)
                if option is not None and (best is None or self._score(option) < self._score(best[0])):
                    best = (option, k)
            assert best is not None  # the first option is walked to its end
            tr, leg = best
            planned.append(leg)
        return tr

    def walk(self, start: int) -> tuple[Route, int]:
        pr, pricing, d, v = self.pricing.problem, self.pricing, self.d, self.v
        params = pricing.params
        tr = self._place_breaks(start) if self.breaks_on else self._trace(start, ())
        if tr.stretch_over:
            self.violations.append(f"{d.id}: work stretch over {d.work_before_break_s} s without a break")
        visits: list[Visit] = []
        left = [
            sum(pr.orders[j].parcels for j in self.nodes),
            sum(pr.orders[j].weight_g for j in self.nodes),
            sum(pr.orders[j].volume_ml for j in self.nodes),
        ]
        distance = 0
        cur = pr.start_node(v)
        for j, (arrive, begin) in zip(self.route_nodes, tr.times, strict=True):
            distance += int(self.dist[cur, j])
            cur = j
            if j >= pr.n_orders:
                continue
            o = pr.orders[j]
            left = [left[0] - o.parcels, left[1] - o.weight_g, left[2] - o.volume_ml]
            visits.append(Visit(o.id, arrive, begin, begin + o.service_time_s, o.due_s, *left))
            if self.windows:
                self._check_late(o.id, max(0, begin - o.due_s), params)
            issue = static_issue(pr, params, v, j)
            if issue is not None:
                self.violations.append(f"{o.id} on {d.id}: {issue[1]} ({issue[0]})")
        end = tr.end
        self._check_route(start, end, self.route_nodes)
        units = self._units(distance, start, end, tr.priced_late_s)
        co2_g = (distance * d.co2_g_per_km + 500) // 1000
        cost = route_cost_cents(d.cost, end - start, distance, len(self.nodes))
        route = Route(d.id, tuple(visits), start, end, distance, cost, co2_g, tuple(tr.breaks))
        return route, units

    def _units(self, distance: int, start: int, end: int, priced_late_s: int) -> int:
        """The objective's units of this route walked over `distance` m from `start` to `end`
        with `priced_late_s` past the priced due times (the model's terms, one by one)."""
        pricing, v = self.pricing, self.v
        units = sum(int(pricing.visit_units[v][j]) for j in self.nodes)
        units += distance * pricing.arc_units_per_m[v]
        units += (end - start) * pricing.span_units_per_s[v]
        units += pricing.fixed_units[v]
        cap = pricing.stop_caps[v]
        if cap is not None:
            units += cap.units_per_stop * max(0, len(self.nodes) - cap.stops)
        if pricing.params.sla_mode is SlaMode.SOFT or pricing.problem.due_margin_s:
            units += priced_late_s * pricing.late_units_per_s
        return units

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
