"""The one front door: `solve(problem, stop, seed, params, initial, progress)`.

An infeasible or empty solve is a normal result (every order unassigned with a reason),
never an exception.  Re-optimising from `initial` never returns a plan worse than it.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from core import forking
from core.allocator import families as fam
from core.allocator.evaluate import current_of, evaluate_plan
from core.allocator.model import Built, build_model
from core.allocator.params import DEFAULT_PARAMS, SolveParams
from core.allocator.precheck import Candidates, check_candidates
from core.allocator.pricing import UNITS_PER_CENT, Pricing
from core.allocator.problem import AllocationProblem
from core.allocator.rebalance import enforce_budget, no_worse
from core.allocator.result import AllocationResult, Route, RoutePlan, Status, Unassigned
from core.allocator.stop import MaxRuntime, MaxSolutions, StopRule

EXACT_RESERVE_S = 0.15  # of a portfolio solve's limit, kept for building the result


@dataclass(frozen=True)
class Progress:
    """What a listener sees, at most every `params.progress_interval_s` (plus the first)."""

    elapsed_s: float
    best_cost_cents: int
    solutions: int


ProgressFn = Callable[[Progress], None]


def solve(
    problem: AllocationProblem,
    stop: StopRule,
    seed: int = 0,
    params: SolveParams = DEFAULT_PARAMS,
    initial: RoutePlan | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    warm: RoutePlan | None = None,
) -> AllocationResult:
    """Assign and sequence orders. `initial`: the live plan when re-optimising a day.

    `warm`: a plan to start the search from (e.g. a quick plan of a relaxed model, or the
    live plan repaired by insertion); the result is never worse than it.  Without `initial`
    none of the re-optimisation rules apply (no move costs, no change budget); with it, the
    search starts from `warm` instead of `initial`, and moves are still counted from `initial`.

    `seed` drives the portfolio's PyVRP run; OR-Tools' search itself is deterministic, so
    with `MaxSolutions` the same input gives the same routes on any machine.
    """
    started = time.monotonic()
    pricing = Pricing(problem, params, current_of(initial))
    candidates = check_candidates(pricing, params)
    if not problem.orders:
        return _result(pricing, candidates, {}, Status.EMPTY, started, 0, ())
    if not candidates.modelled():
        return _result(pricing, candidates, {}, Status.SOLVED, started, 0, ())
    notes: list[str] = []
    repaired = initial is not None and warm is not None  # a start better than the live plan
    if initial is not None:
        warm = {d: list(o) for d, o in (warm if warm is not None else initial).items()}
    elif warm is not None:
        warm = {d: list(o) for d, o in warm.items()}
    if params.portfolio and stop.time_limit_s >= 1.0 and forking.may_fork():
        from core.allocator.portfolio import PyvrpInBackground, cooperative_plan, relaxation_is_exact

        if initial is None and relaxation_is_exact(pricing, candidates):
            # PyVRP expresses the whole model: both cores run its search and swap their
            # best solutions, and its best plan is the model's (evaluate() still checks it).
            seconds = stop.time_limit_s - EXACT_RESERVE_S - (time.monotonic() - started)
            pv = cooperative_plan(pricing, candidates, seconds, seed)
            if pv is not None and warm is not None and no_worse(pricing, warm, pv):
                pv = warm
            if pv is not None:
                notes.append("PyVRP on both cores (the relaxation is the whole model)")
                return _result(pricing, candidates, pv, Status.SOLVED, started, 0, notes)
        budget = stop.time_limit_s * params.portfolio_share
        helper = PyvrpInBackground(pricing, candidates, budget, seed)
        first = build_model(pricing, candidates)
        phase = max(0.05, budget - (time.monotonic() - started))
        own, _, _ = _search(first, MaxRuntime(phase), phase, params, warm, progress, cancel, notes)
        pv = helper.result()
        for name, plan_ in (("OR-Tools", own), ("PyVRP", pv)):
            if plan_ is not None and (warm is None or no_worse(pricing, plan_, warm)):
                warm = plan_
                notes.append(f"warm start from {name}")
    remaining = max(0.05, stop.time_limit_s - (time.monotonic() - started))
    built = build_model(pricing, candidates)
    plan, solutions, objective = _search(built, stop, remaining, params, warm, progress, cancel, notes)
    if plan is not None and warm is not None and not no_worse(pricing, plan, warm):
        plan = {d: list(ids) for d, ids in warm.items()}
    if plan is None and warm is not None and (initial is None or repaired):
        plan = {d: list(ids) for d, ids in warm.items()}
    if plan is None:
        if initial is None:
            return _result(pricing, candidates, None, Status.NO_SOLUTION, started, 0, notes)
        return _result(pricing, candidates, dict(initial), Status.KEPT_INITIAL, started, 0, notes)
    status = Status.SOLVED
    if initial is not None:
        plan, budget_notes = enforce_budget(pricing, initial, plan)
        notes.extend(budget_notes)
        if not no_worse(pricing, plan, initial):
            plan, status = {d: list(o) for d, o in initial.items()}, Status.KEPT_INITIAL
            notes.append("the re-optimised plan was not better: kept the live plan")
    result = _result(pricing, candidates, plan, status, started, solutions, notes)
    return replace(result, solver_objective_units=objective)


def search_parameters(stop: StopRule, remaining_s: float, params: SolveParams) -> object:
    search = pywrapcp.DefaultRoutingSearchParameters()
    search.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, params.first_solution)
    if params.guided_local_search:
        search.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    search.time_limit.FromMilliseconds(max(1, int(remaining_s * 1000)))
    if isinstance(stop, MaxSolutions):
        search.solution_limit = stop.n
    return search


def _search(
    built: Built,
    stop: StopRule,
    remaining_s: float,
    params: SolveParams,
    warm: RoutePlan | None,
    progress: ProgressFn | None,
    cancel: threading.Event | None,
    notes: list[str],
) -> tuple[dict[str, list[str]] | None, int, int | None]:
    routing = built.routing
    deadline = time.monotonic() + remaining_s
    search = search_parameters(stop, remaining_s, params)
    routing.CloseModelWithParameters(search)
    stall_s = stop.stall_s if isinstance(stop, MaxSolutions) else None
    watch = _Watch(routing, params, progress, cancel, stall_s, deadline)
    routing.AddAtSolutionCallback(watch)
    limit = routing.solver().CustomLimit(watch.should_stop)
    routing.AddSearchMonitor(limit)
    start = None
    if warm:
        start = routing.ReadAssignmentFromRoutes(warm_routes(built, warm), True)
        if start is None:
            notes.append("the warm start did not fit the model: searched from scratch")
    if start is not None:
        assignment = routing.SolveFromAssignmentWithParameters(start, search)
    else:
        assignment = routing.SolveWithParameters(search)
    # The callback holds the model and the model holds the callback: a cycle through C++
    # that Python's collector cannot see.  Break it, or every solve leaks its whole model.
    watch.routing = None
    if assignment is None or (watch.solutions == 0 and start is None):
        return None, watch.solutions, None  # out of time before a first solution
    return read_plan(built, assignment), watch.solutions, assignment.ObjectiveValue()


class _Watch:
    """At-solution callback: keeps the best objective, throttles progress, honours cancel."""

    def __init__(
        self,
        routing: object,
        params: SolveParams,
        fn: ProgressFn | None,
        cancel: threading.Event | None,
        stall_s: float | None,
        deadline: float | None = None,
    ) -> None:
        self.routing, self.fn, self.cancel, self.stall_s = routing, fn, cancel, stall_s
        self.deadline = deadline
        self.interval = params.progress_interval_s
        self.started = time.monotonic()
        self.last = -1e9
        self.best: int | None = None
        self.solutions = 0
        self.last_solution = self.started

    def should_stop(self) -> bool:
        """Polled by OR-Tools: cancelled, past the wall-clock deadline, or (MaxSolutions) the
        search has stalled because a tiny problem has no more solutions to give."""
        if self.cancel is not None and self.cancel.is_set():
            return True
        if self.deadline is not None and time.monotonic() > self.deadline:
            return True  # the wall-clock limit, however the search spent it (a warm start's repair included)
        if self.stall_s is None:
            return False
        return time.monotonic() - self.last_solution > self.stall_s

    def __call__(self) -> None:
        self.solutions += 1
        self.last_solution = time.monotonic()
        cost = self.routing.CostVar().Max()  # type: ignore[attr-defined]
        if self.best is None or cost < self.best:
            self.best = cost
        now = time.monotonic()
        if self.fn is not None and now - self.last >= self.interval:
            self.last = now
            self.fn(Progress(now - self.started, self.best // UNITS_PER_CENT, self.solutions))
        if self.cancel is not None and self.cancel.is_set():
            self.routing.solver().FinishCurrentSearch()  # type: ignore[attr-defined]


def warm_routes(built: Built, plan: RoutePlan) -> list[list[int]]:
    """Routes of routing indices for `ReadAssignmentFromRoutes`, skipping orders the model
    does not allow on that driver (they are left for the search to place)."""
    pr = built.pricing.problem
    routes: list[list[int]] = []
    for v, d in enumerate(pr.drivers):
        route = []
        for oid in plan.get(d.id, ()):
            j = pr.order_index.get(oid)
            if j is not None and j in built.order_pos and v in built.candidates.allowed[j]:
                route.append(built.manager.NodeToIndex(built.order_pos[j]))
        routes.append(route)
    return routes


def read_plan(built: Built, assignment: object) -> dict[str, list[str]]:
    routing, manager, pr = built.routing, built.manager, built.pricing.problem
    plan: dict[str, list[str]] = {}
    for v, d in enumerate(pr.drivers):
        index = assignment.Value(routing.NextVar(routing.Start(v)))  # type: ignore[attr-defined]
        orders = []
        while not routing.IsEnd(index):
            orders.append(pr.orders[built.node_of[manager.IndexToNode(index)]].id)
            index = assignment.Value(routing.NextVar(index))  # type: ignore[attr-defined]
        if orders:
            plan[d.id] = orders
    return plan


def result_of_plan(
    problem: AllocationProblem,
    plan: RoutePlan,
    params: SolveParams = DEFAULT_PARAMS,
    status: Status = Status.SOLVED,
    notes: tuple[str, ...] = (),
    solutions: int = 0,
) -> AllocationResult:
    """The result a solve would report for `plan`: routes and metrics from `evaluate()`,
    every other order unassigned with the pre-check's reason or the load of its candidates.

    For plans made outside `solve` (e.g. by a relaxed model, or merged from parts).
    """
    pricing = Pricing(problem, params)
    routed = {o for orders in plan.values() for o in orders}
    left = {j for j, o in enumerate(problem.orders) if o.id not in routed}
    candidates = check_candidates(pricing, params, only=left)
    return _result(pricing, candidates, dict(plan), status, time.monotonic(), solutions, notes)


def _result(
    pricing: Pricing,
    candidates: Candidates,
    plan: RoutePlan | None,
    status: Status,
    started: float,
    solutions: int,
    notes: list[str] | tuple[str, ...],
) -> AllocationResult:
    pr = pricing.problem
    plan = plan or {}
    evaluation = evaluate_plan(pr, plan, pricing.params, pricing=pricing)
    routed = {o for orders in plan.values() for o in orders}
    excluded = {u.order_id: u for u in candidates.excluded}
    unassigned = []
    for j, o in enumerate(pr.orders):
        if o.id in routed:
            continue
        if o.id in excluded:
            unassigned.append(excluded[o.id])
        elif status is Status.NO_SOLUTION:
            unassigned.append(Unassigned(o.id, fam.NO_ROOM, "no solution found within the limit"))
        else:
            unassigned.append(_no_room(pricing, candidates, evaluation.routes, j))
    return AllocationResult(
        routes=evaluation.routes,
        unassigned=tuple(unassigned),
        metrics=evaluation.metrics,
        status=status,
        runtime_s=time.monotonic() - started,
        solutions=solutions,
        notes=tuple(notes),
    )


def _no_room(pricing: Pricing, candidates: Candidates, routes: tuple[Route, ...], j: int) -> Unassigned:
    """Why the solver dropped j: the load its candidate drivers already carry."""
    pr = pricing.problem
    o = pr.orders[j]
    allowed = candidates.allowed[j]
    used = {r.driver_id: r for r in routes}
    parcels = cap_parcels = 0
    for v in allowed:
        d = pr.drivers[v]
        r = used.get(d.id)
        cap_parcels += d.capacity_parcels
        if r is not None:
            parcels += sum(pr.orders[pr.order_index[x]].parcels for x in r.order_ids)
    text = (
        f"capacity/time: no room in any route ({len(allowed)} candidate drivers carry "
        f"{parcels}/{cap_parcels} parcels; order needs {o.parcels} parcels, "
        f"due by {o.due_s // 3600:02d}:{o.due_s % 3600 // 60:02d})"
    )
    return Unassigned(o.id, fam.NO_ROOM, text)
