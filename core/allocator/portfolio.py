"""PyVRP on the part of the problem it can express, as a warm start for the full model.

The relaxation keeps capacity (parcels, weight, volume), hard order windows, shifts and
max route duration, per-driver starts and end hubs, per-metre and per-hour rates, fixed
costs and droppable orders (prize = drop penalty).  It leaves out eligibility, breaks, zone
risk, lateness prices and workload: OR-Tools, under the full model, decides whether to keep
what PyVRP found (orders PyVRP put on a driver the model forbids are left for it to place).

Drivers that look the same to the relaxation (start, hub, shift, capacity, rates) share
one PyVRP vehicle type: PyVRP's search keeps one empty route per type, so a fleet of 100
identical vans searches as one type, not as 100.

Two searches, two cores.  When the relaxation is the whole model (`relaxation_is_exact`),
OR-Tools has nothing to add while the clock runs, so both processes run PyVRP's iterated
local search with different seeds and post their best solutions at `CHECKS` times; a
search that has stalled since the last check restarts from the other's best when that is
cheaper (one still improving keeps its own path).  Otherwise PyVRP runs in
the second process while OR-Tools searches the full model here (`PyvrpInBackground`).
"""

import time
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np

from core import forking
from core.allocator import families as fam
from core.allocator.kinds import SlaMode
from core.allocator.precheck import Candidates
from core.allocator.pricing import Pricing
from core.allocator.result import RoutePlan

_UNIT = 1000  # PyVRP costs in 1/10 cent: keeps its integers far from overflow warnings
CHECKS = 8  # times each search posts its best and may restart from the peer's
# Families the relaxation models exactly (with the SLA hard); any other family switched on,
# or an order some driver may not take, leaves OR-Tools' full model something to decide.
_EXACT = frozenset(
    {fam.CAPACITY, fam.SHIFT_WINDOW, fam.MAX_ROUTE_DURATION, fam.SLA_WINDOW, fam.FLEET_COST, fam.UNSERVED}
)


def _scaled(units: int) -> int:
    return 0 if units == 0 else max(1, round(units / _UNIT))


def relaxation_is_exact(pricing: Pricing, candidates: Candidates) -> bool:
    """Whether PyVRP's relaxation is the whole model: then its best plan is the model's."""
    params, pr = pricing.params, pricing.problem
    if not params.enabled <= _EXACT or (params.on(fam.SLA_WINDOW) and params.sla_mode is not SlaMode.HARD):
        return False
    if any(pricing.stop_caps) or pricing.workload_units_per_stop or any(pricing.start_service_s):
        return False
    if np.any(pricing.visit_units):
        return False
    m = len(pr.drivers)
    return all(len(candidates.allowed[j]) == m for j in candidates.modelled())


@dataclass(frozen=True)
class Relaxation:
    """PyVRP's data, the problem order of each client, and the drivers of each vehicle type."""

    data: Any
    orders: list[int]
    fleet: list[list[int]]

    def plan(self, solution: Any, problem: Any) -> RoutePlan:
        """Driver id -> order ids; a type's routes go to its drivers in turn."""
        free = [list(vs) for vs in self.fleet]
        plan: dict[str, list[str]] = {}
        for route in solution.routes():
            visits = [problem.orders[self.orders[a.idx]].id for a in route if a.is_client()]
            if visits:
                plan[problem.drivers[free[route.vehicle_type()].pop(0)].id] = visits
        return plan


def pyvrp_data(pricing: Pricing, candidates: Candidates, required: bool = False) -> Relaxation:
    """ProblemData of the relaxation; identical drivers grouped into one vehicle type.

    `required`: every order must be served (no prizes).  PyVRP's local search runs about
    twice as fast without optional clients, so `relaxation()` asks for it when a first
    solution shows every order fits."""
    from pyvrp import Client, Depot, Location, ProblemData, VehicleType

    pr, params = pricing.problem, pricing.params
    m = len(pr.drivers)
    orders = candidates.modelled()
    hubs = sorted({d.hub for d in pr.drivers})
    pts = pr.points()
    # One start location per distinct point: drivers waiting at the same hub share it.
    start_at: dict[tuple[float, float], int] = {}
    for v in range(m):
        start_at.setdefault(tuple(pts[pr.start_node(v)]), pr.start_node(v))
    starts = list(start_at.values())
    big = np.iinfo(np.int64).max
    shift_on = params.on(fam.SHIFT_WINDOW)
    depot_of: dict[tuple[int, int, int], int] = {}
    depot_rows: list[tuple[int, int, int]] = []
    type_of: dict[tuple[Any, ...], int] = {}
    fleet: list[list[int]] = []
    type_rows: list[tuple[Any, ...]] = []
    for v, d in enumerate(pr.drivers):
        key = (starts.index(start_at[tuple(pts[pr.start_node(v)])]), d.available_s, d.shift_end_s)
        if key not in depot_of:
            depot_of[key] = len(depot_rows)
            depot_rows.append(key)
        limit = d.max_route_duration_s if params.on(fam.MAX_ROUTE_DURATION) else None
        row = (
            depot_of[key],
            hubs.index(d.hub),
            (d.capacity_parcels, d.capacity_weight_g, d.capacity_volume_ml),
            _scaled(pricing.fixed_units[v]),
            d.available_s + pricing.start_service_s[v],
            d.shift_end_s if shift_on else big,
            limit if limit is not None else big,
            _scaled(pricing.arc_units_per_m[v]),
            _scaled(pricing.span_units_per_s[v]),
            pr.speed_profile(v),
        )
        if row not in type_of:
            type_of[row] = len(fleet)
            fleet.append([])
            type_rows.append(row)
        fleet[type_of[row]].append(v)
    nodes = starts + [pr.hub_node(h) for h in hubs] + orders
    locations = [Location(x=float(pts[k, 0]), y=float(pts[k, 1])) for k in nodes]
    depots = [Depot(location=s, tw_early=early, tw_late=late) for s, early, late in depot_rows]
    hub_depot = len(depots)
    depots += [Depot(location=len(starts) + i) for i in range(len(hubs))]
    cap_on, sla_on = params.on(fam.CAPACITY), params.on(fam.SLA_WINDOW)
    # Soft windows: PyVRP cannot price lateness, so it gets the hard limit OR-Tools keeps.
    late_ok = params.allowed_late_s
    clients = []
    for k, j in enumerate(orders):
        o = pr.orders[j]
        clients.append(
            Client(
                location=len(starts) + len(hubs) + k,
                delivery=[o.parcels, o.weight_g, o.volume_ml] if cap_on else [],
                service_duration=o.service_time_s,
                tw_early=o.ready_s if sla_on else 0,
                tw_late=o.due_s + late_ok if sla_on else big,
                prize=0 if required else _scaled(pricing.drop_units[j]),
                required=required,
            )
        )
    idx = np.asarray(nodes)
    dist = pr.distance_m[np.ix_(idx, idx)]
    profiles: dict[Hashable, int] = {}
    durations: list[Any] = []
    for t, row in enumerate(type_rows):
        if row[-1] not in profiles:
            profiles[row[-1]] = len(durations)
            durations.append(pr.duration_s(fleet[t][0])[np.ix_(idx, idx)])
    types = []
    for t, row in enumerate(type_rows):
        depot, hub, cap, fixed, early, late, limit, per_m, per_s, profile = row
        types.append(
            VehicleType(
                num_available=len(fleet[t]),
                capacity=list(cap) if cap_on else [],
                start_depot=depot,
                end_depot=hub_depot + hub,
                fixed_cost=fixed,
                tw_early=early,
                tw_late=late,
                shift_duration=limit,
                unit_distance_cost=per_m,
                unit_duration_cost=per_s,
                profile=profiles[profile],
            )
        )
    data = ProblemData(locations, clients, depots, types, [dist] * len(durations), durations)
    return Relaxation(data, orders, fleet)


class Search:
    """PyVRP's iterated local search (the loop of `pyvrp.IteratedLocalSearch.run`, late
    acceptance hill-climbing) with one addition: at set times it sends its best feasible
    solution to a peer and, when the peer's is cheaper, restarts from it."""

    def __init__(self, data: Any, seed: int) -> None:
        from pyvrp import PenaltyManager, RandomNumberGenerator, Solution
        from pyvrp.search import LocalSearch, PerturbationManager, compute_neighbours
        from pyvrp.solve import SolveParams

        params = SolveParams()
        self.data, self.params = data, params
        rng = RandomNumberGenerator(seed=seed)
        self.ls = LocalSearch(
            data,
            rng,
            compute_neighbours(data, params.neighbourhood),
            PerturbationManager(params.perturbation),
        )
        for op in params.operators:
            if op.supports(data):
                self.ls.add_operator(op(data))
        self.pm = PenaltyManager(params.penalty.midpoint_penalties(data), params.penalty)
        self.init = self.ls(Solution.make_random(data, rng), self.pm.max_cost_evaluator(), exhaustive=True)

    def run(self, deadline: float, peer: Any = None, checks: int = 0) -> Any:
        """Best solution found by `deadline` (time.monotonic).  With a `peer` (one end of a
        duplex Pipe), `checks` times at even intervals: post our best when it improved, and
        if our search has stalled since the last check while the peer's best is cheaper,
        restart from the peer's best.  A search that is still improving keeps its own path,
        so the two stay apart while both make progress."""
        from pyvrp import Solution
        from pyvrp.RingBuffer import RingBuffer

        ils = self.params.ils
        self.peer_final: list[tuple[int, list[int]]] | None = None
        self.peer_done = False
        self.adopted = 0
        history: Any = RingBuffer(ils.history_length)  # pyvrp leaves its methods untyped
        best = curr = anchor = self.init
        start = time.monotonic()
        step = (deadline - start) / (checks + 1)
        due = [start + step * (i + 1) for i in range(checks)] if peer is not None else []
        at_last_check: float | None = None
        posted: float | None = None
        theirs: tuple[int, list[tuple[int, list[int]]]] | None = None  # the peer's latest best
        no_gain = 0
        cost_eval = self.pm.cost_evaluator()
        while time.monotonic() < deadline:
            if due and time.monotonic() >= due[0]:
                due.pop(0)
                mine = cost_eval.cost(best) if best.is_feasible() else None
                try:
                    if mine is not None and mine != posted and not self.peer_done:
                        peer.send(("best", mine, _routes(best)))
                        posted = mine
                    theirs = self._latest(peer) or theirs
                except (OSError, EOFError):  # the peer has finished and closed its end
                    self.peer_done = True
                stalled = mine is None or mine == at_last_check
                if stalled and theirs is not None and (mine is None or theirs[0] < mine):
                    # Restart from it with acceptance measured against it: clearing the
                    # history alone would measure against the random first solution, and
                    # the search would wander off the very best it just took.
                    best = curr = anchor = Solution(self.data, [_route(self.data, r) for r in theirs[1]])
                    history.clear()
                    no_gain, theirs = 0, None
                    self.adopted += 1
                at_last_check = cost_eval.cost(best) if best.is_feasible() else None
            if no_gain == ils.num_iters_no_improvement:
                history.clear()
                curr, no_gain = best, 0
            cost_eval = self.pm.cost_evaluator()
            cand = self.ls(curr, cost_eval, exhaustive=False)
            self.pm.register(cand)
            no_gain += 1
            if cost_eval.cost(cand) < cost_eval.cost(best):
                best, no_gain = cand, 0
                if ils.exhaustive_on_best:
                    deeper = self.ls(cand, cost_eval, exhaustive=True)
                    if deeper.is_feasible():
                        best = cand = deeper
            cand_cost, curr_cost = cost_eval.penalised_cost(cand), cost_eval.penalised_cost(curr)
            late = history.peek()
            late_cost = cost_eval.penalised_cost(late if late is not None else anchor)
            if cand_cost < late_cost or cand_cost < curr_cost:
                curr, curr_cost = cand, cand_cost
            if curr_cost < late_cost or late is None:
                history.append(curr)
            else:
                history.skip()
        return best

    def _latest(self, peer: Any) -> tuple[int, list[tuple[int, list[int]]]] | None:
        """The peer's latest posted best (cost, routes), reading without waiting; a peer that
        has finished sends "done" with its final routes."""
        latest = None
        while not self.peer_done and peer.poll(0):
            msg = peer.recv()
            if msg[0] == "done":
                self.peer_done, self.peer_final = True, msg[1]
            else:
                latest = (msg[1], msg[2])
        return latest


def _routes(solution: Any) -> list[tuple[int, list[int]]]:
    return [(r.vehicle_type(), [a.idx for a in r if a.is_client()]) for r in solution.routes()]


def _route(data: Any, row: tuple[int, list[int]]) -> Any:
    from pyvrp import Route

    return Route(data, row[1], row[0])


def _cooperate(data: Any, seed: int, deadline: float, conn: Any) -> None:
    final = None
    try:
        best = Search(data, seed).run(deadline, conn, CHECKS)
        final = _routes(best) if best.is_feasible() else None
    except Exception:  # noqa: BLE001 - a failed helper must not kill the solve
        final = None
    try:
        conn.send(("done", final))
    except OSError:  # the main search has already stopped listening
        pass
    finally:
        conn.close()


def relaxation(pricing: Pricing, candidates: Candidates, seed: int) -> tuple[Relaxation, "Search"]:
    """The relaxation with every order required when PyVRP's first solution (a random plan
    after one local search) serves them all feasibly, else with orders optional; and the
    search whose first solution decided it, ready to run."""
    required = pyvrp_data(pricing, candidates, required=True)
    search = Search(required.data, seed)
    if search.init.is_feasible():
        return required, search
    optional = pyvrp_data(pricing, candidates)
    return optional, Search(optional.data, seed)


def cooperative_plan(pricing: Pricing, candidates: Candidates, seconds: float, seed: int) -> RoutePlan | None:
    """Two PyVRP searches (seeds `seed` here and `seed + 1` in a forked process) that share
    their best solutions (see `Search.run`); the better final plan, or None."""
    if seconds <= 0 or not candidates.modelled() or not pricing.problem.drivers:
        return None
    from pyvrp import Solution

    deadline = time.monotonic() + seconds
    relax, search = relaxation(pricing, candidates, seed)
    here, there = forking.FORK.Pipe(duplex=True)
    proc = forking.process(_cooperate, (relax.data, seed + 1, deadline, there), daemon=True)
    proc.start()
    there.close()
    best = search.run(deadline, here, CHECKS)
    theirs = search.peer_final
    while not search.peer_done and here.poll(max(1.0, deadline - time.monotonic() + 10.0)):
        try:
            msg = here.recv()
        except EOFError:
            break
        if msg[0] == "done":
            theirs = msg[1]
            break
    proc.join(timeout=1.0)
    if proc.is_alive():
        proc.kill()
        proc.join()
    cost_eval = search.pm.cost_evaluator()
    if theirs is not None:
        other = Solution(relax.data, [_route(relax.data, r) for r in theirs])
        if not best.is_feasible() or cost_eval.cost(other) < cost_eval.cost(best):
            best = other
    return relax.plan(best, pricing.problem) if best.is_feasible() else None


def pyvrp_plan(pricing: Pricing, candidates: Candidates, seconds: float, seed: int) -> RoutePlan | None:
    """PyVRP's best feasible plan of the relaxation within `seconds`, or None."""
    if seconds <= 0 or not candidates.modelled() or not pricing.problem.drivers:
        return None
    deadline = time.monotonic() + seconds
    relax, search = relaxation(pricing, candidates, seed)
    best = search.run(deadline)
    return relax.plan(best, pricing.problem) if best.is_feasible() else None


def _child(pricing: Pricing, candidates: Candidates, seconds: float, seed: int, conn: object) -> None:
    try:
        conn.send(pyvrp_plan(pricing, candidates, seconds, seed))  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a failed helper must not kill the solve
        conn.send(None)  # type: ignore[attr-defined]
    finally:
        conn.close()  # type: ignore[attr-defined]


class PyvrpInBackground:
    """PyVRP in a forked process, so it uses the second core while OR-Tools searches here."""

    def __init__(self, pricing: Pricing, candidates: Candidates, seconds: float, seed: int) -> None:
        self._recv, send = forking.FORK.Pipe(duplex=False)
        self._proc = forking.process(_child, (pricing, candidates, seconds, seed, send), daemon=True)
        self._proc.start()
        send.close()
        self._seconds = seconds

    def result(self) -> RoutePlan | None:
        plan = None
        if self._recv.poll(self._seconds + 10.0):
            try:
                plan = self._recv.recv()
            except EOFError:
                plan = None
        self._proc.join(timeout=1.0)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()
        return plan
