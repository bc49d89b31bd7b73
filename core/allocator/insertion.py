"""Cheapest-insertion repair: place orders one by one into an existing plan.

The live plan stays as it is and each order that needs a driver goes where it adds least to
the objective, most important and most urgent first. One `Pricing` serves the whole repair
and each route's schedule is priced once per change, so an insertion costs a few exact route
walks: the drivers working nearest the order first, each at its few cheapest detours among the
positions it can reach in time (a no-break bound that rules out the rest without a walk); only
when none of those fits is every driver who may serve the order tried at every position, so
what can be placed is placed. `make_feasible` first takes out of the plan what breaks a hard
rule (a driver back after their shift, a stop beyond the lateness limit) so the repair starts
from a plan the solver would accept.
"""

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from core.allocator import families as fam
from core.allocator.eligibility import static_issue
from core.allocator.evaluate import RouteSchedule, current_of
from core.allocator.params import DEFAULT_PARAMS, SolveParams
from core.allocator.precheck import time_issue
from core.allocator.pricing import Pricing
from core.allocator.problem import AllocationProblem
from core.allocator.result import RoutePlan

NEAREST_DRIVERS = 10
CHEAPEST_DETOURS = 4


class _Routes:
    """The plan being repaired, with each route's exact price kept up to date."""

    def __init__(self, pricing: Pricing, plan: Mapping[str, Sequence[str]]) -> None:
        self.pricing = pricing
        pr = pricing.problem
        self.nodes: dict[int, list[int]] = {
            pr.driver_index[d]: [pr.order_index[o] for o in orders]
            for d, orders in plan.items()
            if d in pr.driver_index
        }
        self.units: dict[int, int] = {}
        self.feasible: dict[int, bool] = {}
        self.walks: dict[int, RouteSchedule] = {}  # of each route with stops, as it is now
        self._leave: dict[int, list[int]] = {}
        for v in self.nodes:
            self._price(v)

    def _price(self, v: int) -> None:
        nodes = self.nodes.get(v, [])
        self.walks.pop(v, None)
        if not nodes:
            self.units[v], self.feasible[v] = 0, True
            return
        walk = RouteSchedule(self.pricing, v, nodes)
        self.units[v], self.feasible[v], self.walks[v] = walk.units, not walk.violations, walk

    def base(self, v: int) -> tuple[int, bool]:
        if v not in self.units:
            self._price(v)
        return self.units[v], self.feasible[v]

    def trial(self, v: int, nodes: list[int], below: int | None = None) -> int | None:
        """Units of route v as `nodes`, or None when it breaks a hard rule or, with `below`,
        when it cannot cost fewer units than that (its floor says so without the exact walk)."""
        if below is not None:
            floor = RouteSchedule.floor_units(self.pricing, v, nodes)
            if floor is None or floor >= below:
                return None
        walk = RouteSchedule(self.pricing, v, nodes)
        return None if walk.violations else walk.units

    def set(self, v: int, nodes: list[int]) -> None:
        self.nodes[v] = nodes
        self._leave.pop(v, None)
        self._price(v)

    def leave_times(self, v: int) -> list[int]:
        """The earliest the driver can leave each point of route v (start, then each stop): the
        route walked with no break. A break only delays, so no schedule leaves sooner."""
        if v not in self._leave:
            pr, windows = self.pricing.problem, self.pricing.params.on(fam.SLA_WINDOW)
            dur = pr.duration_s(v)
            t = pr.drivers[v].available_s + self.pricing.start_service_s[v]
            out, prev = [t], pr.start_node(v)
            for x in self.nodes.get(v, []):
                o = pr.orders[x]
                t = max(t + int(dur[prev, x]), o.ready_s if windows else 0) + o.service_time_s
                out.append(t)
                prev = x
            self._leave[v] = out
        return self._leave[v]

    def positions_in_time(self, v: int, j: int) -> list[int]:
        """Positions of route v where order j passes a necessary condition: with no break on
        the way, j and the stop after it begin by their latest allowed time, and a last stop
        still lets the driver back in shift. Positions that fail it need no exact walk."""
        pr, params = self.pricing.problem, self.pricing.params
        nodes = self.nodes.get(v, [])
        dur = pr.duration_s(v)
        windows = params.on(fam.SLA_WINDOW)
        late_ok = params.allowed_late_s
        o = pr.orders[j]
        shift_end = pr.drivers[v].shift_end_s if params.on(fam.SHIFT_WINDOW) else None
        fits = []
        before = [pr.start_node(v), *nodes]
        for pos, (leave, prev) in enumerate(zip(self.leave_times(v), before, strict=True)):
            begin = leave + int(dur[prev, j])
            if windows:
                begin = max(begin, o.ready_s)
                if begin > o.due_s + late_ok:
                    continue
            t = begin + o.service_time_s
            if pos < len(nodes):
                nxt = pr.orders[nodes[pos]]
                ok = not windows or max(t + int(dur[j, nodes[pos]]), nxt.ready_s) <= nxt.due_s + late_ok
            else:
                ok = shift_end is None or t + int(dur[j, pr.end_node(v)]) <= shift_end
            if ok:
                fits.append(pos)
        return fits

    def plan(self) -> dict[str, list[str]]:
        pr = self.pricing.problem
        return {
            pr.drivers[v].id: [pr.orders[j].id for j in nodes]
            for v, nodes in sorted(self.nodes.items())
            if nodes
        }


def _proximity(pr: AllocationProblem, routes: _Routes, candidates: list[int], j: int) -> list[int]:
    """`candidates` sorted by how close their route (or start, when idle) comes to order j."""
    dist = pr.distance_m
    gaps = []
    for v in candidates:
        points = [pr.start_node(v), *routes.nodes.get(v, [])]
        gaps.append((int(np.min(dist[points, j])), v))
    return [v for _, v in sorted(gaps)]


def _best_in_route(
    routes: _Routes, v: int, j: int, every_position: bool, below: int | None = None
) -> tuple[int, list[int]] | None:
    """(added units, new nodes) of the cheapest feasible place for j in route v, else None.

    `below`: only places that may add fewer units are walked; a place's detour and visit
    price are a lower bound on what it adds (time, lateness and caps only add to them), and
    so is its walk without breaks (`RouteSchedule.floor_units`), taken before the exact one.
    A place that cannot beat the best one found so far gets no exact walk either."""
    pr, pricing = routes.pricing.problem, routes.pricing
    base_units, base_ok = routes.base(v)
    if not base_ok:
        return None  # a route that already breaks a rule takes nothing more
    nodes = routes.nodes.get(v, [])
    path = [pr.start_node(v), *nodes, pr.end_node(v)]
    dist = pr.distance_m
    positions = routes.positions_in_time(v, j)
    if positions and (below is not None or (not every_position and len(positions) > CHEAPEST_DETOURS)):
        at = np.array(positions)
        before, after = np.array(path[:-1])[at], np.array(path[1:])[at]
        detour = dist[before, j] + dist[j, after] - dist[before, after]
        if below is not None:
            bound = detour * pricing.arc_units_per_m[v] + int(pricing.visit_units[v][j])
            if not nodes:
                bound += pricing.fixed_units[v]
            keep = bound < below
            at, detour = at[keep], detour[keep]
        if not every_position:
            at = at[np.argsort(detour, kind="stable")[:CHEAPEST_DETOURS]]
        positions = sorted(at.tolist())
    best: tuple[int, list[int]] | None = None
    for pos in positions:
        trial = [*nodes[:pos], j, *nodes[pos:]]
        most = below if best is None else best[0] if below is None else min(below, best[0])
        units = routes.trial(v, trial, None if most is None else base_units + most)
        if units is not None and (best is None or units - base_units < best[0]):
            best = (units - base_units, trial)
    return best


def _may_fit(routes: _Routes, v: int, j: int) -> bool:
    """A quick necessary condition: room left in the van, and the order reachable in time as a
    lone stop from where the driver is (the pre-check's rule), before any exact route walk."""
    pr = routes.pricing.problem
    d, o = pr.drivers[v], pr.orders[j]
    if routes.pricing.params.on(fam.CAPACITY):
        load = [pr.orders[x] for x in routes.nodes.get(v, [])]
        if (
            sum(x.parcels for x in load) + o.parcels > d.capacity_parcels
            or sum(x.weight_g for x in load) + o.weight_g > d.capacity_weight_g
            or sum(x.volume_ml for x in load) + o.volume_ml > d.capacity_volume_ml
        ):
            return False
    return time_issue(routes.pricing, v, j) is None


def _place(routes: _Routes, allowed: list[int], j: int) -> bool:
    """Insert order j at its cheapest place: nearest drivers first, then anyone anywhere."""
    pr = routes.pricing.problem
    ranked = _proximity(pr, routes, [v for v in allowed if _may_fit(routes, v, j)], j)
    for group, every_position in ((ranked[:NEAREST_DRIVERS], False), (ranked, True)):
        options = [
            (opt, v) for v in group if (opt := _best_in_route(routes, v, j, every_position)) is not None
        ]
        if options:
            (_, nodes), v = min(options, key=lambda t: (t[0][0], t[1]))
            routes.set(v, nodes)
            return True
    return False


@dataclass(frozen=True)
class Inserted:
    """What an insertion run did: the plan, the orders with no feasible place, and the orders
    the deadline left untried."""

    plan: dict[str, list[str]]
    no_room: tuple[str, ...]
    untried: tuple[str, ...]


def insert_ranked(
    problem: AllocationProblem,
    plan: RoutePlan,
    order_ids: Sequence[str],
    params: SolveParams = DEFAULT_PARAMS,
    deadline_s: float | None = None,
    current: RoutePlan | None = None,
) -> Inserted:
    """Insert `order_ids` into `plan`, most important and most urgent first, each at its
    cheapest feasible place; after `deadline_s` of wall time the rest are left untried (the
    first order always gets its try). `current`: the live plan, so moves are priced as in the
    solver."""
    started = time.monotonic()
    pricing = Pricing(problem, params, current_of(current))
    routes = _Routes(pricing, plan)
    by_id = {o.id: o for o in problem.orders}
    no_room: list[str] = []
    untried: list[str] = []
    ranked = sorted(set(order_ids), key=lambda o: (-by_id[o].priority, by_id[o].due_s, o))
    for tried, order_id in enumerate(ranked):
        if deadline_s is not None and tried and time.monotonic() - started > deadline_s:
            untried.append(order_id)
            continue
        j = problem.order_index[order_id]
        allowed = [v for v in range(len(problem.drivers)) if static_issue(problem, params, v, j) is None]
        if not allowed or not _place(routes, allowed, j):
            no_room.append(order_id)
    return Inserted(routes.plan(), tuple(no_room), tuple(untried))


def insert_greedily(
    problem: AllocationProblem,
    plan: RoutePlan,
    order_ids: Sequence[str],
    params: SolveParams = DEFAULT_PARAMS,
    deadline_s: float | None = None,
    current: RoutePlan | None = None,
) -> tuple[dict[str, list[str]], list[str]]:
    """`insert_ranked` as (plan, orders left out for either reason)."""
    done = insert_ranked(problem, plan, order_ids, params, deadline_s, current)
    left = set(done.no_room) | set(done.untried)
    return done.plan, [o for o in dict.fromkeys(order_ids) if o in left]


def make_feasible(
    problem: AllocationProblem, plan: RoutePlan, params: SolveParams = DEFAULT_PARAMS
) -> tuple[dict[str, list[str]], list[str]]:
    """Take out of `plan` the stops that break a hard rule; returns the plan and what was taken.

    A stop a driver may not serve (blocked, locked elsewhere, lacking a skill) goes at once.
    A route that still breaks a rule (back after the shift, a stop over the lateness limit,
    over capacity) loses the stop whose removal prices best, one at a time, until it holds or
    only the stops loaded in that van remain (they stay: nobody else has them).
    """
    pricing = Pricing(problem, params)
    routes = _Routes(pricing, plan)
    taken: list[str] = []
    for v in list(routes.nodes):
        nodes = routes.nodes[v]
        keep = [j for j in nodes if static_issue(problem, params, v, j) is None]
        taken += [problem.orders[j].id for j in nodes if j not in keep]
        if keep != nodes:
            routes.set(v, keep)
        while not routes.base(v)[1]:
            nodes = routes.nodes[v]
            loose = [j for j in nodes if problem.orders[j].locked_driver_id is None]
            if not loose:
                break  # what is loaded stays in the van, late or not
            options = []
            for j in loose:
                rest = [x for x in nodes if x != j]
                walk = RouteSchedule(pricing, v, rest) if rest else None
                options.append((bool(walk and walk.violations), walk.units if walk else 0, j, rest))
            _, _, j, rest = min(options, key=lambda t: (t[0], t[1]))
            taken.append(problem.orders[j].id)
            routes.set(v, rest)
    return routes.plan(), taken


def improve(
    problem: AllocationProblem,
    plan: RoutePlan,
    params: SolveParams = DEFAULT_PARAMS,
    current: RoutePlan | None = None,
    deadline_s: float = 1.0,
    max_moved: int | None = None,
    make_room: bool = False,
) -> dict[str, list[str]]:
    """Relocate late stops while it pays (late: past the priced due time, so a stop inside the
    problem's margin counts): each late stop is taken out and put back at its
    cheapest place (its own route included, so a stop loaded in a van can only be re-sequenced),
    latest first, pass after pass until a pass finds nothing or `deadline_s` is spent.

    `make_room`: then also relocate the stops before each route's last late stop, in route
    order: a packed route late only because its break pushed the afternoon hands a stop or
    two to a driver with slack (the exact walk places every break).

    A small large-neighbourhood search that works under any load: it only ever accepts a
    change that lowers the objective, so the plan is never worse than `plan`. `max_moved`:
    at most this many orders of `current` leave their driver (the change budget).
    """
    started = time.monotonic()
    pricing = Pricing(problem, params, current_of(current))
    routes = _Routes(pricing, plan)
    moves: set[str] = set()
    while time.monotonic() - started < deadline_s:
        late = []
        for v, nodes in routes.nodes.items():
            if not nodes or not routes.base(v)[1]:
                continue
            for j, visit in zip(nodes, routes.walks[v].route.visits, strict=True):
                past = visit.service_start_s - problem.priced_due_s(problem.orders[j])
                if past > 0:
                    late.append((past, v, j))
        tried = [(v, j) for _, v, j in sorted(late, reverse=True)]
        if make_room:  # the stops before a route's last late stop: only they can delay it
            last: dict[int, int] = {}
            for _, v, j in late:
                last[v] = max(last.get(v, 0), routes.nodes[v].index(j))
            first = set(tried)
            tried += [(v, j) for v, end in last.items() for j in routes.nodes[v][:end] if (v, j) not in first]
        moved = 0
        for v, j in tried:
            if time.monotonic() - started >= deadline_s:
                break
            may_leave = max_moved is None or len(moves) < max_moved
            moved += _relocate(routes, v, j, may_leave, moves)
        if not moved:
            break
    return routes.plan()


def _relocate(routes: _Routes, v: int, j: int, may_leave: bool, moves: set[str]) -> int:
    """Move order j from route v to its cheapest place if that lowers the objective: 1 if moved.
    An order of the live plan leaves its driver only when `may_leave`; `moves` collects those."""
    pr, params = routes.pricing.problem, routes.pricing.params
    nodes = routes.nodes.get(v, [])
    if j not in nodes:
        return 0
    base_v, _ = routes.base(v)
    rest = [x for x in nodes if x != j]
    rest_units = routes.trial(v, rest) if rest else 0
    if rest_units is None:
        return 0
    gain = base_v - rest_units
    order = pr.orders[j]
    was = routes.pricing.current.get(order.id)
    stays = order.locked_driver_id is not None or (
        was is not None and not may_leave and order.id not in moves
    )
    others = [
        u for u in range(len(pr.drivers)) if u != v and not stays and static_issue(pr, params, u, j) is None
    ]
    best: tuple[int, int, list[int]] | None = None
    inside = _best_in_route(_Without(routes, v, rest, rest_units), v, j, len(rest) < 40, below=gain)
    if inside is not None:
        best = (inside[0], v, inside[1])
    for u in _proximity(pr, routes, others, j)[:NEAREST_DRIVERS]:
        option = _best_in_route(routes, u, j, False, below=gain if best is None else min(gain, best[0]))
        if option is not None and (best is None or option[0] < best[0]):
            best = (option[0], u, option[1])
    if best is None or best[0] >= gain:
        return 0
    _, u, new_nodes = best
    if u == v:
        routes.set(v, new_nodes)
    else:
        routes.set(v, rest)
        routes.set(u, new_nodes)
        if was is not None:
            moves.add(order.id)
    return 1


class _Without(_Routes):
    """`routes` as they would be with route v replaced by `rest` (for pricing a re-insertion)."""

    def __init__(self, routes: _Routes, v: int, rest: list[int], rest_units: int) -> None:
        self.pricing = routes.pricing
        self.nodes = {**routes.nodes, v: rest}
        self.units = {**routes.units, v: rest_units}
        self.feasible = {**routes.feasible, v: True}
        self.walks = {w: walk for w, walk in routes.walks.items() if w != v}
        self._leave = {w: times for w, times in routes._leave.items() if w != v}


def broken_routes(
    problem: AllocationProblem, plan: RoutePlan, params: SolveParams = DEFAULT_PARAMS
) -> set[str]:
    """Drivers whose route in `plan` breaks a hard rule (after `make_feasible`: only routes of
    loaded stops that cannot all be kept, e.g. a van that will be back after its shift)."""
    pricing = Pricing(problem, params)
    routes = _Routes(pricing, plan)
    return {problem.drivers[v].id for v in routes.nodes if not routes.base(v)[1]}
