"""Solver runners for the Solomon benchmark: `(inst, seconds, seed) -> routes`.

Routes are lists of customer numbers as in the file (1..n), depot left out. Every runner
sees the same integer problem: travel times from `integer_matrix` (ceil(d * 100)), time
windows and service times scaled by the same factor, ready times and service rounded up and
due dates rounded down, so an integer-feasible plan is feasible in real numbers (the
checker, not the solver, has the last word). The runners return whatever the solver found,
feasible or not.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from core.bench.solomon_allocator import solve_solomon
from core.bench.solomon_instance import DEFAULT_SCALE, IntArray, SolomonInstance, integer_matrix

Routes = list[list[int]]
Runner = Callable[[SolomonInstance, float, int], Routes]

VROOM_EXPLORATION_LEVEL = 5
"""VROOM's `-x`: 1..5, how many heuristic starts and how deep the local search. 5 is the most."""

VROOM_THREADS = 1
"""One thread, like PyVRP's single-threaded search, so both get the same CPU."""


class SolverUnavailable(RuntimeError):
    """A runner whose solver cannot be imported (an optional package not installed)."""


@dataclass(frozen=True)
class _IntegerProblem:
    """The instance in integer units of 1/scale, shared by the runners (never the checker)."""

    travel: IntArray
    ready: list[int]
    due: list[int]
    service: list[int]
    demand: list[int]


def _integer_problem(inst: SolomonInstance, scale: int = DEFAULT_SCALE) -> _IntegerProblem:
    # Exact for the integral Solomon data; otherwise rounded in the safe direction.
    def up(values: np.ndarray) -> list[int]:
        return [math.ceil(round(float(v) * scale, 9)) for v in values]

    def down(values: np.ndarray) -> list[int]:
        return [math.floor(round(float(v) * scale, 9)) for v in values]

    return _IntegerProblem(
        travel=integer_matrix(inst, scale),
        ready=up(inst.ready),
        due=down(inst.due),
        service=up(inst.service),
        demand=[int(d) for d in inst.demand],
    )


def run_pyvrp(inst: SolomonInstance, seconds: float, seed: int) -> Routes:
    """PyVRP's iterated local search, stopped by `MaxRuntime(seconds)`.

    Objective: integer distance only (unit distance cost 1, no fixed or duration cost); a
    fixed fleet of `inst.vehicles` identical vehicles with `inst.capacity`; client and depot
    time windows, service durations; durations = distances = the integer matrix.
    """
    try:
        from pyvrp import Client, Depot, Location, ProblemData, VehicleType, solve
        from pyvrp.stop import MaxRuntime
    except ImportError as exc:  # pragma: no cover - pyvrp is a project dependency
        raise SolverUnavailable(f"pyvrp is not installed: {exc}") from exc

    p = _integer_problem(inst)
    n = inst.num_customers
    locations = [Location(x=float(x), y=float(y)) for x, y in zip(inst.x, inst.y, strict=True)]
    clients = [
        Client(
            location=i,
            delivery=[p.demand[i]],
            service_duration=p.service[i],
            tw_early=p.ready[i],
            tw_late=p.due[i],
        )
        for i in range(1, n + 1)
    ]
    depot = Depot(location=0, tw_early=p.ready[0], tw_late=p.due[0])
    fleet = VehicleType(
        num_available=inst.vehicles,
        capacity=[inst.capacity],
        tw_early=p.ready[0],
        tw_late=p.due[0],
    )
    # The same integers for distance and duration (pyvrp's stub types the list loosely).
    matrices: list[Any] = [p.travel]
    data = ProblemData(locations, clients, [depot], [fleet], matrices, matrices)
    result = solve(data, MaxRuntime(seconds), seed=seed, collect_stats=False, display=False)
    # Client k (0-based) sits at location k + 1, which is customer number k + 1.
    return [
        [activity.idx + 1 for activity in route if activity.is_client()] for route in result.best.routes()
    ]


def run_vroom(inst: SolomonInstance, seconds: float, seed: int) -> Routes:
    """VROOM (pyvroom) at exploration level 5, one thread, with `timeout=seconds`.

    The integer matrix is both durations and costs. VROOM has no "search until the time is
    up" mode: the timeout is only a cap, and at level 5 it usually stops on its own well
    before it. It is deterministic, so `seed` is unused.
    """
    del seed
    try:
        import vroom
    except ImportError as exc:
        raise SolverUnavailable(f"pyvroom is not installed (pip install pyvroom): {exc}") from exc

    p = _integer_problem(inst)
    problem = vroom.Input()
    problem.set_durations_matrix("car", p.travel)
    problem.set_costs_matrix("car", p.travel)
    for i in range(1, inst.num_customers + 1):
        problem.add_job(
            vroom.Job(
                id=i,
                location=i,
                default_service=p.service[i],
                delivery=vroom.Amount([p.demand[i]]),
                time_windows=[vroom.TimeWindow(p.ready[i], p.due[i])],
            )
        )
    depot_window = vroom.TimeWindow(p.ready[0], p.due[0])
    problem.add_vehicle(
        [
            vroom.Vehicle(
                id=k,
                start=0,
                end=0,
                capacity=vroom.Amount([inst.capacity]),
                time_window=depot_window,
            )
            for k in range(inst.vehicles)
        ]
    )
    solution = problem.solve(
        exploration_level=VROOM_EXPLORATION_LEVEL,
        nb_threads=VROOM_THREADS,
        timeout=timedelta(seconds=seconds),
    )
    steps = solution.routes
    jobs = steps[steps["type"] == "job"]
    return [[int(j) for j in group["id"]] for _, group in jobs.groupby("vehicle_id", sort=True)]


def run_allocator(inst: SolomonInstance, seconds: float, seed: int) -> Routes:
    """Our own allocator, through `core.bench.solomon_allocator.solve_solomon(inst, seconds, seed)`."""
    routes = solve_solomon(inst, seconds, seed)
    return [[int(c) for c in route] for route in routes]


SOLVERS: dict[str, Runner] = {
    "allocator": run_allocator,
    "pyvrp": run_pyvrp,
    "vroom": run_vroom,
}
