"""Metro scale: decompose into per-hub sector parts, solve them in parallel, merge.

    result = solve_metro(problem, MaxRuntime(3.0), seed=0, executor=LocalPoolExecutor(2))

Each part is solved by `solve_part`, in four steps (the first three go through `solve()`):

1. **construct** on a relaxed copy of the part: no break intervals (each driver's shift and
   maximum route are shortened by the breaks a full shift needs, so a break still fits),
   order windows hard, OR-Tools' PARALLEL_CHEAPEST_INSERTION.  On a 250-order part with
   breaks this is ~10x faster than the full model's first solution and serves on time
   what fits; the full model's own construction routinely made half the orders hours late.
2. **late orders** (soft SLA only): orders the hard construction could not place on time
   get their window widened to the latest the SLA allows and the construction runs again.
3. **improve** the better of the two with guided local search on the relaxed model for
   what is left of the part's stop rule.
4. **repair** late stops on the real part (`insertion.improve(make_room=True)`): each late
   stop, then the stops before it on its route, moves to wherever lowers the objective with
   every break placed by the exact walk, so a break that pushed a packed afternoon is made
   room for by a driver with slack.

Every candidate plan is judged by `evaluate()` on the real part (breaks placed, lateness
priced), and the real model is searched from the best one only if that plan breaks a rule.
The part's result is what `solve()` would report for that plan: reasons for every order
left out come from the real part's pre-check.

A second pass offers each part's leftovers to the nearest other part's drivers (same or
neighbouring region), warm-started from that part's first plan.  With a budget, what is left
of it then goes to the day in parts twice as large, each starting from its share of the plan
so far (`MetroParams.widen`).  The merged result's metrics are `evaluate()`'s, summed over
parts: exact, since a route's cost depends only on its driver and its own stops (the
busiest-route workload term is recomputed globally).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from core.allocator import families as fam
from core.allocator.decompose import DEFAULT_DECOMPOSE, DecomposeParams, Decomposition, Part, decompose
from core.allocator.evaluate import evaluate_plan
from core.allocator.executor import Executor, LocalPoolExecutor, SerialExecutor, largest_first
from core.allocator.insertion import improve
from core.allocator.kinds import SlaMode
from core.allocator.params import DEFAULT_PARAMS, SolveParams
from core.allocator.pricing import UNITS_PER_CENT
from core.allocator.problem import AllocationProblem, DriverSpec
from core.allocator.result import AllocationResult, Metrics, Route, RoutePlan, Status, Unassigned
from core.allocator.solve import Progress, ProgressFn, result_of_plan, solve
from core.allocator.stop import MaxRuntime, MaxSolutions, StopRule

RESERVE_S = 0.15  # of a part's time limit, kept for building its result
MIN_PHASE_S = 0.05
CONSTRUCT_S = 30.0  # the least wall time a part's construction (or late-stop repair) may take
MIN_TASK_S = 0.5  # no part gets less, whatever the budget says
BUDGET_MARGIN_S = 0.5  # of a budget, kept for dispatch and merging
BREAK_ROUNDS = 4  # constructions that close the windows of orders a break made late
REPAIR_S = 0.1  # of a part's time limit, kept for relocating late stops on the real part
WIDEN_MIN_S = 2.0  # the least time left of a budget worth a pass with wider parts


@dataclass(frozen=True)
class MetroParams:
    """How a metro solve splits and searches.

    `relaxed_start`: construct each part on the relaxed model (see the module docstring);
    False runs plain `solve()` per part.  `second_pass`: offer leftovers to the nearest
    other part; with a budget it gets `second_pass_share` of it.  `workers`: size of the
    default local pool (None = CPU count).  `widen`: with a budget and no live plan, time
    left after both passes (at least `WIDEN_MIN_S`) searches the day again in parts twice as
    large, from the plan so far (see `_wider_pass`).

    `portfolio`: with a time limit (not a solution count), each part's local search runs
    PyVRP on the part's relaxation beside OR-Tools and continues from the better plan
    (`solve` with `SolveParams.portfolio`, when the part has a second or more): on the 1k
    day at 10 s, $7,546 -> $7,095 with no stop late.

    `on_time_first`: build the relaxed plans with every window closing one break earlier,
    so that putting the breaks back makes no stop late.  Off by default because lateness is
    priced: on the benchmark's 1,000-stop day it took late stops from 46 (767 min in all)
    to 0 but cost $625 more (objective), using one more driver.
    """

    decompose: DecomposeParams = DEFAULT_DECOMPOSE
    relaxed_start: bool = True
    first_solution: str = "PARALLEL_CHEAPEST_INSERTION"
    second_pass: bool = True
    second_pass_share: float = 0.2
    widen: bool = True
    portfolio: bool = True
    workers: int | None = None
    on_time_first: bool = False


DEFAULT_METRO = MetroParams()


@dataclass(frozen=True)
class PartTask:
    """Everything a worker needs to solve one part; picklable."""

    key: str
    problem: AllocationProblem
    stop: StopRule
    seed: int = 0
    params: SolveParams = DEFAULT_PARAMS
    metro: MetroParams = DEFAULT_METRO
    warm: RoutePlan | None = None
    initial: RoutePlan | None = None


@dataclass(frozen=True)
class PartOutcome:
    key: str
    result: AllocationResult
    cpu_s: float = 0.0
    notes: tuple[str, ...] = field(default=())


# -- one part ----------------------------------------------------------------------------
def solve_part(task: PartTask) -> PartOutcome:
    """Solve one part (runs in a worker). See the module docstring for the steps."""
    cpu = time.process_time()
    pr, params, stop = task.problem, task.params, task.stop
    if task.initial is not None or not task.metro.relaxed_start or not pr.orders or not pr.drivers:
        result = solve(pr, stop, task.seed, params, initial=task.initial, warm=task.warm)
        return PartOutcome(task.key, result, time.process_time() - cpu)
    started = time.monotonic()
    limit = stop.time_limit_s

    def left() -> float:
        return limit - (time.monotonic() - started)

    relaxed = relaxed_problem(pr, params, task.metro.on_time_first)
    hard = replace(params, sla_mode=SlaMode.HARD, first_solution=task.metro.first_solution)
    hard = hard.without(fam.HOS_BREAK)
    best = _Best(pr, params)
    if task.warm is not None:
        best.offer(dict(task.warm), "warm start")
    built = solve(relaxed, _first(left()), task.seed, hard)
    best.offer(built.plan(), "construction")
    solutions = built.solutions
    late = _late_candidates(built, params)
    if late:  # part of the construction: runs whatever the limit, like the first one
        relaxed = _widened(relaxed, late, params)
        again = solve(relaxed, _first(left()), task.seed, hard)
        best.offer(again.plan(), "construction with late windows")
        solutions += again.solutions
    # Also part of the construction: orders a break made late get their window closed one
    # break earlier and the construction runs again, while that keeps giving a better plan.
    # The local search then runs on the windows the best plan was built for.
    search_on = relaxed
    for _ in range(BREAK_ROUNDS):
        hit = late_by_breaks(pr, best.plan, params)
        if not hit:
            break
        relaxed = _room_for_breaks(relaxed, hit, params)
        again = solve(relaxed, _first(left()), task.seed, hard)
        solutions += again.solutions
        if not best.offer(again.plan(), "construction with room for breaks"):
            break
        search_on = relaxed
    remaining = left() - (RESERVE_S + REPAIR_S) * limit
    if remaining > MIN_PHASE_S and (not isinstance(stop, MaxSolutions) or stop.n > 1):
        improve_stop: StopRule = MaxRuntime(remaining)
        if isinstance(stop, MaxSolutions):
            improve_stop = replace(stop, max_runtime_s=remaining)
        # PyVRP searches for a time, not a number of solutions: a counted search stays OR-Tools'
        timed = not isinstance(stop, MaxSolutions)
        search = replace(hard, portfolio=hard.portfolio or (task.metro.portfolio and timed))
        polished = solve(search_on, improve_stop, task.seed, search, warm=best.plan)
        best.offer(polished.plan(), "local search")
        solutions += polished.solutions
    if best.late:
        # On the real part, breaks placed by the exact walk: late stops, then the other stops
        # of their routes, move to wherever lowers the objective (room for a break is made
        # by handing a stop to a driver with slack).  Part of the construction too: never
        # cut below `CONSTRUCT_S`, so a short budget keeps the first plan's punctuality.
        room = improve(
            pr, best.plan, params, deadline_s=max(CONSTRUCT_S, left() - RESERVE_S * limit), make_room=True
        )
        best.offer(room, "late stops relocated")
    if not best.feasible:
        # The relaxed plans break a rule of the real model: search the real model from the
        # best of them, for what is left of the part's limit (or its solution count).
        fallback: StopRule = MaxRuntime(max(MIN_PHASE_S, left()))
        if isinstance(stop, MaxSolutions):
            fallback = replace(stop, max_runtime_s=max(MIN_PHASE_S, left()))
        real = solve(pr, fallback, task.seed, params, warm=best.plan)
        best.offer(real.plan(), "full model")
        solutions += real.solutions
    notes = (f"best plan from {best.source}",)
    result = result_of_plan(pr, best.plan, params, Status.SOLVED, notes, solutions)
    result = replace(result, runtime_s=time.monotonic() - started)
    return PartOutcome(task.key, result, time.process_time() - cpu, notes)


def _first(seconds: float) -> MaxSolutions:
    """The construction only: stop at the first solution (no stall rule before it).

    Never cut below `CONSTRUCT_S`, whatever the part's limit: a complete plan comes first,
    and a busy machine can make a 250-order construction take a few seconds of wall time.
    """
    s = max(CONSTRUCT_S, seconds)
    return MaxSolutions(1, max_runtime_s=s, stall_s=s)


class _Best:
    """The best plan so far under the real part's rules: feasible first, then objective."""

    def __init__(self, problem: AllocationProblem, params: SolveParams) -> None:
        self.problem, self.params = problem, params
        self.plan: dict[str, list[str]] = {}
        self.key: tuple[bool, int] | None = None
        self.source = "nothing"
        self.late = 0  # stops the best plan serves late

    @property
    def feasible(self) -> bool:
        return self.key is not None and not self.key[0]

    def offer(self, plan: RoutePlan, source: str) -> bool:
        """Keep `plan` if it is the best so far; say whether it was."""
        m = evaluate_plan(self.problem, plan, self.params).metrics
        key = (not m.feasible, m.objective_units)
        if self.key is None or key < self.key:
            self.plan, self.key, self.source = {d: list(o) for d, o in plan.items()}, key, source
            self.late = m.late_count
            return True
        return False


def breaks_needed(d: DriverSpec, params: SolveParams) -> int:
    """Breaks the model gives a full shift of `d` (0 when breaks are off)."""
    if not params.on(fam.HOS_BREAK) or d.work_before_break_s <= 0:
        return 0
    span = d.shift_end_s - d.available_s
    if params.on(fam.MAX_ROUTE_DURATION) and d.max_route_duration_s is not None:
        span = min(span, d.max_route_duration_s)
    if span <= d.work_before_break_s:
        return 0
    return max(1, (span - 1) // (d.work_before_break_s + d.break_duration_s))


def relaxed_problem(
    problem: AllocationProblem, params: SolveParams, on_time_first: bool = False
) -> AllocationProblem:
    """The part without break intervals: shifts and route maximums shortened by the breaks a
    full shift needs, so that putting the breaks back keeps the route inside its shift.

    `on_time_first`: also close every window one break earlier, so putting a break back
    never makes a stop late (see `MetroParams`).
    """
    if on_time_first and params.on(fam.HOS_BREAK):
        brk = max((d.break_duration_s for d in problem.drivers if d.work_before_break_s > 0), default=0)
        orders = tuple(replace(o, due_s=max(o.ready_s, o.due_s - brk)) for o in problem.orders)
        problem = problem.with_orders(orders)
    drivers = []
    for d in problem.drivers:
        rest = breaks_needed(d, params) * d.break_duration_s
        if rest:
            end = max(d.available_s + 1, d.shift_end_s - rest)
            longest = d.max_route_duration_s
            if longest is not None:
                longest = max(1, longest - rest)
            d = replace(d, shift_end_s=end, max_route_duration_s=longest)
        drivers.append(d)
    return problem.with_drivers(tuple(drivers))


def late_by_breaks(problem: AllocationProblem, plan: RoutePlan, params: SolveParams) -> set[str]:
    """Orders `plan` serves late only because of the breaks: late with them, on time without."""
    if not params.on(fam.HOS_BREAK) or not params.on(fam.SLA_WINDOW):
        return set()
    late = {v.order_id for r in evaluate_plan(problem, plan, params).routes for v in r.visits if v.late_s > 0}
    if not late:
        return set()
    free = evaluate_plan(problem, plan, params.without(fam.HOS_BREAK)).routes
    return late - {v.order_id for r in free for v in r.visits if v.late_s > 0}


def _room_for_breaks(problem: AllocationProblem, orders: set[str], params: SolveParams) -> AllocationProblem:
    """Windows of `orders` close one break earlier, so the relaxed search leaves room for the
    break that made them late (the other orders keep their windows)."""
    brk = max((d.break_duration_s for d in problem.drivers if d.work_before_break_s > 0), default=0)
    if brk <= 0:
        return problem
    tight = tuple(
        replace(o, due_s=max(o.ready_s, o.due_s - brk)) if o.id in orders else o for o in problem.orders
    )
    return problem.with_orders(tight)


def _late_candidates(result: AllocationResult, params: SolveParams) -> set[str]:
    """Orders the hard construction left out that a soft window could still take."""
    if params.sla_mode is not SlaMode.SOFT or params.max_late_s <= 0:
        return set()
    return {u.order_id for u in result.unassigned if u.reason_code in (fam.NO_ROOM, fam.SLA_WINDOW)}


def _widened(problem: AllocationProblem, late: set[str], params: SolveParams) -> AllocationProblem:
    """Windows of `late` orders open to the latest the SLA allows, less the longest break
    (which the real model may still have to fit in before them)."""
    slack = params.max_late_s - max((d.break_duration_s for d in problem.drivers), default=0)
    if slack <= 0:
        return problem
    orders = tuple(replace(o, due_s=o.due_s + slack) if o.id in late else o for o in problem.orders)
    return problem.with_orders(orders)


# -- the metro ---------------------------------------------------------------------------
def solve_metro(
    problem: AllocationProblem,
    stop_per_part: StopRule | None = None,
    seed: int = 0,
    params: SolveParams = DEFAULT_PARAMS,
    executor: Executor | None = None,
    metro: MetroParams = DEFAULT_METRO,
    initial: RoutePlan | None = None,
    decomposition: Decomposition | None = None,
    budget_s: float | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    warm: RoutePlan | None = None,
) -> AllocationResult:
    """Decompose, solve the parts through `executor` (default: a local process pool), offer
    leftovers to neighbouring parts, merge.  Every order ends routed once or unassigned with
    a reason.  With a `MaxSolutions` stop the plan does not depend on the executor.

    Give either `stop_per_part`, which limits each part's solve and each second-pass solve
    (wall time is then about parts / workers x the part's limit), or `budget_s`, a wall-time
    budget for the whole that is shared out as per-part `MaxRuntime`s by the number of
    parallel slots of the executor.  `initial`: the live plan; its orders stay in their
    driver's part and each part is re-optimised as `solve` does.  `warm`: a plan of the
    whole day (without `initial`): its orders stay in their driver's part, and each part's
    share of it is the first plan that part's search must beat, so no part ends worse than
    its share (e.g. a plan made with smaller parts, searched again across their borders).

    `progress` hears after each part is solved (`solutions`: parts done, cost: theirs so far).
    When `cancel` is set the solve stops waiting: a part not yet solved keeps its share of
    `initial` (or is left unassigned) and there is no second pass.
    """
    if (stop_per_part is None) == (budget_s is None):
        raise ValueError("give exactly one of stop_per_part and budget_s")
    started = time.monotonic()
    # orders stay in the part of the driver that has them, on the live plan or the warm one
    held = initial if initial is not None else warm
    dec = decomposition or decompose(problem, metro.decompose, params, held)
    if not problem.orders:
        return result_of_plan(problem, {}, params, Status.EMPTY)
    own = executor is None
    if executor is None:
        workers = min(len(dec.parts), metro.workers or os.cpu_count() or 1)
        # a cancel must not wait for a part's solve: only a pool's worker can be left behind
        executor = LocalPoolExecutor(workers) if workers > 1 or cancel is not None else SerialExecutor()
    slots = max(1, int(getattr(executor, "slots", 1)))
    try:
        if isinstance(executor, LocalPoolExecutor) and own:
            executor.__enter__()
        share = 1.0 - (metro.second_pass_share if metro.second_pass else 0.0)
        stop = stop_per_part or _budget_stop(budget_s or 0.0, started, len(dec.parts), slots, share)
        tasks = [_task(p, stop, seed, params, metro, initial, warm) for p in dec.parts]
        heard = _Heard(started, progress)
        outcomes = run_parts(executor, tasks, heard, cancel)
        first_cpu = sum(o.cpu_s for o in outcomes.values())
        notes = [f"{len(dec.parts)} parts of at most {metro.decompose.max_part_orders} orders"]
        missing = [t for t in tasks if t.key not in outcomes]
        if missing:
            notes.append(f"cancelled: {len(missing)} of {len(tasks)} parts keep the plan they had")
            outcomes |= {t.key: _unsolved(t) for t in missing}
        first_pass = dict(outcomes)
        if metro.second_pass and not missing:
            second: StopRule | Callable[[int], StopRule] = stop_per_part or (
                lambda n: _budget_stop(budget_s or 0.0, started, n, slots, 1.0)
            )
            notes.extend(_second_pass(executor, dec, {t.key: t for t in tasks}, outcomes, second, cancel))
        notes.append(f"part solves used {first_cpu:.1f} s CPU in the first pass")
        merged = merge(problem, dec, outcomes, params, tuple(notes), first_pass)
        left = (budget_s or 0.0) - (time.monotonic() - started)
        if metro.widen and initial is None and not missing and left >= WIDEN_MIN_S:
            merged = _wider_pass(problem, merged, left, seed, params, executor, metro, cancel)
    finally:
        if own and isinstance(executor, LocalPoolExecutor):
            executor.close(wait=not (cancel is not None and cancel.is_set()))
    return replace(merged, runtime_s=time.monotonic() - started)


def _wider_pass(
    problem: AllocationProblem,
    merged: AllocationResult,
    left_s: float,
    seed: int,
    params: SolveParams,
    executor: Executor,
    metro: MetroParams,
    cancel: threading.Event | None,
) -> AllocationResult:
    """What is left of a budget after both passes: the day again in parts twice as large,
    each starting from its share of the plan so far, so borders of the first parts can be
    crossed; the better of the two plans (the new one is never worse part by part)."""
    size = metro.decompose.max_part_orders * 2
    wide = replace(metro, decompose=replace(metro.decompose, max_part_orders=size), widen=False)
    again = solve_metro(
        problem, seed=seed, params=params, executor=executor, metro=wide, budget_s=left_s,
        cancel=cancel, warm=merged.plan(),
    )  # fmt: skip
    before, after = merged.metrics.objective_units, again.metrics.objective_units
    kept = again if after < before else merged
    note = f"widened pass (parts of up to {size} orders, {left_s:.1f} s): objective {before} -> {after}"
    return replace(kept, notes=(*merged.notes, note))


def _budget_stop(budget_s: float, started: float, n_tasks: int, slots: int, share: float) -> MaxRuntime:
    """Per-task wall limit: `share` of what is left of the budget, over the rounds of tasks
    the executor's slots must run, less a margin for dispatch and merging."""
    left = budget_s - (time.monotonic() - started)
    rounds = max(1, -(-n_tasks // slots))
    return MaxRuntime(max(MIN_TASK_S, (left * share - BUDGET_MARGIN_S) / rounds))


def _task(
    part: Part,
    stop: StopRule,
    seed: int,
    params: SolveParams,
    metro: MetroParams,
    initial: RoutePlan | None,
    warm: RoutePlan | None = None,
) -> PartTask:
    live, start = _share(part, initial), _share(part, warm)
    return PartTask(part.key, part.problem, stop, seed, params, metro, warm=start, initial=live)


def _share(part: Part, plan: RoutePlan | None) -> RoutePlan | None:
    """The routes of `plan` on the part's drivers, cut to the part's orders (None if empty)."""
    if plan is None:
        return None
    ids = set(part.order_ids)
    share = {d: [o for o in plan.get(d, ()) if o in ids] for d in part.driver_ids if d in plan}
    return {d: o for d, o in share.items() if o} or None


class _Heard:
    """Tells a progress listener of each part solved: parts done and their cost so far."""

    def __init__(self, started: float, progress: ProgressFn | None) -> None:
        self.started, self.progress = started, progress
        self.parts, self.cost_cents = 0, 0

    def __call__(self, outcome: PartOutcome) -> None:
        self.parts += 1
        self.cost_cents += outcome.result.metrics.cost_cents
        if self.progress is not None:
            self.progress(Progress(time.monotonic() - self.started, self.cost_cents, self.parts))


def run_parts(
    executor: Executor,
    tasks: Sequence[PartTask],
    on_done: Callable[[PartOutcome], None] | None = None,
    cancel: threading.Event | None = None,
) -> dict[str, PartOutcome]:
    """Solve tasks through the executor, biggest first; outcomes by part key (a part whose
    solve had not finished when `cancel` was set has none)."""
    order = largest_first([len(t.problem.orders) for t in tasks])
    out: dict[str, PartOutcome] = {}
    for _, outcome in executor.each(solve_part, [tasks[i] for i in order], cancel):
        out[outcome.key] = outcome
        if on_done is not None:
            on_done(outcome)
    return out


def _unsolved(task: PartTask) -> PartOutcome:
    """A part whose solve was cancelled: its live plan as it was, or nothing routed."""
    plan = dict(task.initial or {})
    status = Status.KEPT_INITIAL if plan else Status.NO_SOLUTION
    result = result_of_plan(task.problem, plan, task.params, status, ("cancelled before its solve",))
    return PartOutcome(task.key, result, 0.0, result.notes)


def _second_pass(
    executor: Executor,
    dec: Decomposition,
    tasks: dict[str, PartTask],
    outcomes: dict[str, PartOutcome],
    stop: StopRule | Callable[[int], StopRule],
    cancel: threading.Event | None = None,
) -> list[str]:
    """Offer each part's leftovers to the nearest other part; keep what they place.

    A part that takes offers is solved again from its first plan, with the offered orders
    added and its own leftovers (offered elsewhere) removed, so no order is in two solves.
    `stop`: a stop rule, or one made from the number of parts that take offers.
    """
    offers: dict[str, list[str]] = {}
    offered_away: set[str] = set()
    for part in dec.parts:
        near = dec.neighbours.get(part.key, ())
        if not near:
            continue
        for u in outcomes[part.key].result.unassigned:
            if u.reason_code != fam.LOCKS:
                offers.setdefault(near[0], []).append(u.order_id)
                offered_away.add(u.order_id)
    if not offers:
        return []
    origin = {o.id: o for part in dec.parts for o in part.problem.orders}
    rule = stop(len(offers)) if callable(stop) else stop
    again = []
    for key, order_ids in offers.items():
        first = tasks[key]
        own = tuple(o for o in first.problem.orders if o.id not in offered_away)
        wider = replace(first.problem, orders=own + tuple(origin[o] for o in order_ids))
        warm = outcomes[key].result.plan()
        again.append(replace(first, problem=wider, stop=rule, warm=warm))
    placed = 0
    for key, outcome in run_parts(executor, again, cancel=cancel).items():
        took = {o for r in outcome.result.routes for o in r.order_ids} & set(offers[key])
        outcomes[key] = replace(outcome, notes=(*outcome.notes, f"took {len(took)} leftovers"))
        placed += len(took)
    total = sum(len(v) for v in offers.values())
    return [f"second pass: {placed} of {total} leftover orders placed by a neighbouring part"]


# -- merge -------------------------------------------------------------------------------
def merge(
    problem: AllocationProblem,
    dec: Decomposition,
    outcomes: dict[str, PartOutcome],
    params: SolveParams = DEFAULT_PARAMS,
    notes: tuple[str, ...] = (),
    first_pass: dict[str, PartOutcome] | None = None,
) -> AllocationResult:
    """One result from the parts' results: routes, every other order unassigned once (with
    its own part's reason, from its last solve that held it), metrics summed from the
    parts' `evaluate()`."""
    routes: list[Route] = []
    routed: set[str] = set()
    violations: list[str] = []
    route_units = 0
    for part in dec.parts:
        res = outcomes[part.key].result
        for r in res.routes:
            dup = routed.intersection(r.order_ids)
            violations.extend(f"order {o} routed twice" for o in sorted(dup))
            routed.update(r.order_ids)
            routes.append(r)
        violations.extend(res.metrics.violations)
        route_units += _route_units(problem, outcomes[part.key], params)
    reasons: dict[str, Unassigned] = {u.order_id: u for u in dec.unassigned}
    for source in (first_pass or {}, outcomes):
        for part in dec.parts:
            if part.key not in source:
                continue
            mine = set(part.order_ids)
            for u in source[part.key].result.unassigned:
                if u.order_id in mine:
                    reasons[u.order_id] = replace(u, reason_text=f"{u.reason_text} [part {part.key}]")
    unassigned = []
    for o in problem.orders:
        if o.id in routed:
            continue
        unassigned.append(
            reasons.get(o.id) or Unassigned(o.id, fam.NO_ROOM, "no room in its part or the neighbouring one")
        )
    w = params.workload_cents_per_stop * UNITS_PER_CENT if params.on(fam.WORKLOAD) else 0
    busiest = max((len(r.visits) for r in routes), default=0)
    drop = sum(_drop_units(problem, params, u.order_id) for u in unassigned)
    units = route_units + w * busiest + drop
    metrics = Metrics(
        cost_cents=sum(r.cost_cents for r in routes),
        objective_cents=units // UNITS_PER_CENT,
        objective_units=units,
        distance_m=sum(r.distance_m for r in routes),
        co2_g=sum(r.co2_g for r in routes),
        late_count=sum(1 for r in routes for v in r.visits if v.late_s > 0),
        late_s=sum(v.late_s for r in routes for v in r.visits),
        drivers_used=len(routes),
        orders_served=len(routed),
        orders_unassigned=len(unassigned),
        feasible=not violations,
        violations=tuple(violations),
    )
    statuses = {outcomes[p.key].result.status for p in dec.parts}
    status = Status.EMPTY if not problem.orders else Status.SOLVED
    if statuses and statuses <= {Status.NO_SOLUTION}:
        status = Status.NO_SOLUTION
    return AllocationResult(
        routes=tuple(routes),
        unassigned=tuple(unassigned),
        metrics=metrics,
        status=status,
        solutions=sum(outcomes[p.key].result.solutions for p in dec.parts),
        notes=notes,
    )


def _drop_units(problem: AllocationProblem, params: SolveParams, order_id: str) -> int:
    o = problem.orders[problem.order_index[order_id]]
    return params.drop_penalty_cents * (1 + o.priority) * UNITS_PER_CENT


def _route_units(problem: AllocationProblem, outcome: PartOutcome, params: SolveParams) -> int:
    """A part's objective without its workload term and its unserved penalties: what its
    routes alone cost (the same in the whole problem)."""
    res = outcome.result
    w = params.workload_cents_per_stop * UNITS_PER_CENT if params.on(fam.WORKLOAD) else 0
    busiest = max((len(r.visits) for r in res.routes), default=0)
    drops = sum(_drop_units(problem, params, u.order_id) for u in res.unassigned)
    return res.metrics.objective_units - w * busiest - drops
