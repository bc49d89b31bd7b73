"""Brute force: for 5-6 orders and 2 drivers, every assignment and sequence is enumerated and
priced by `evaluate()`; the solver's plan, priced the same way, must reach that optimum."""

import itertools
from dataclasses import replace

import numpy as np
import pytest

from core.allocator.costs import FleetCost
from core.allocator.evaluate import evaluate
from core.allocator.params import SolveParams
from core.allocator.solve import solve
from core.allocator.stop import MaxSolutions
from tests.core.allocator.builders import driver, order, problem

# Lateness (300 c/min = 5 c/s) is dearer than hourly pay (1 c/s), so the earliest schedule is
# optimal and evaluate()'s schedule is the solver's.
PARAMS = SolveParams(late_cents_per_min=300, workload_cents_per_stop=50, co2_cents_per_kg=20)


pytestmark = pytest.mark.slow  # brute-force enumeration against the solver


def _instance(seed: int, n_orders: int):  # noqa: ANN202
    rng = np.random.default_rng(seed)
    drivers = [
        driver("C", cost=FleetCost.captive(per_hour_cents=3_600, per_km_cents=60), co2_g_per_km=200),
        driver(
            "G",
            "gig",
            lat=1.0,
            lon=-1.0,
            cost=FleetCost.gig(per_task_cents=150, per_km_cents=40),
            zone_success={"east": 0.7},
        ),
    ]
    orders = []
    for i in range(n_orders):
        x, y = rng.uniform(-3, 3, size=2)
        ready = int(rng.integers(0, 4_000))
        orders.append(
            order(
                f"O{i}",
                round(float(x), 2),
                round(float(y), 2),
                zone="east" if x > 0 else "west",
                ready_s=ready,
                due_s=ready + int(rng.integers(2_000, 9_000)),
                service_time_s=300,
            )
        )
    return problem(drivers, orders)


def _oracle(pr) -> int:  # noqa: ANN001
    ids = [o.id for o in pr.orders]
    best = None
    for mask in itertools.product((0, 1), repeat=len(ids)):
        first = [o for o, m in zip(ids, mask, strict=True) if m == 0]
        second = [o for o, m in zip(ids, mask, strict=True) if m == 1]
        for p1 in itertools.permutations(first):
            for p2 in itertools.permutations(second):
                m = evaluate(pr, {"C": list(p1), "G": list(p2)}, PARAMS)
                if m.feasible and (best is None or m.objective_units < best):
                    best = m.objective_units
    assert best is not None
    return best


@pytest.mark.parametrize(("seed", "n_orders", "margin_s"), [(1, 5, 0), (2, 5, 0), (3, 6, 0), (2, 5, 1_500)])
def test_solver_matches_brute_force_optimum(seed: int, n_orders: int, margin_s: int) -> None:
    # with a due margin, a service inside it is priced (not counted late) by both alike
    pr = replace(_instance(seed, n_orders), due_margin_s=margin_s)
    result = solve(pr, MaxSolutions(2_000), params=PARAMS)
    assert not result.unassigned
    assert result.metrics.feasible
    assert result.metrics.objective_units == _oracle(pr)
    # evaluate() and OR-Tools agree on the price of the plan the solver returned.
    assert result.solver_objective_units == result.metrics.objective_units
