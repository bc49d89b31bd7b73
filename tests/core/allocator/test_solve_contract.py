"""The front door's contract: limits kept, every order accounted for, progress and cancel."""

import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from core.allocator.params import SolveParams
from core.allocator.result import Status
from core.allocator.solve import Progress, solve
from core.allocator.stop import MaxRuntime, MaxSolutions
from tests.core.allocator.builders import driver, order, problem
from tests.core.allocator.scenarios import city


@pytest.mark.slow
def test_time_limit_is_kept_on_200_orders() -> None:
    pr = city(seed=0, n_orders=200, n_drivers=20)
    started = time.monotonic()
    result = solve(pr, MaxRuntime(1.0))
    assert time.monotonic() - started < 2.5
    # A limit check, not a speed target: on a loaded machine the first solution may not come.
    assert result.status in (Status.SOLVED, Status.NO_SOLUTION)
    assert result.metrics.orders_served + len(result.unassigned) == 200


@pytest.mark.slow
def test_same_input_and_solution_count_give_the_same_routes() -> None:
    pr = city(seed=1, n_orders=25, n_drivers=4)
    first = solve(pr, MaxSolutions(40, stall_s=10.0))
    second = solve(pr, MaxSolutions(40, stall_s=10.0))
    assert first.plan() == second.plan()


def test_progress_is_throttled_and_cancel_stops_the_search() -> None:
    pr = city(seed=2, n_orders=60, n_drivers=6)
    seen: list[Progress] = []
    cancel = threading.Event()

    def listen(p: Progress) -> None:
        seen.append(p)
        if len(seen) == 2:
            cancel.set()

    started = time.monotonic()
    params = SolveParams(progress_interval_s=0.1)
    result = solve(pr, MaxRuntime(20.0), params=params, progress=listen, cancel=cancel)
    assert time.monotonic() - started < 10
    assert len(seen) >= 2 and seen[1].elapsed_s - seen[0].elapsed_s >= 0.1
    assert result.status is Status.SOLVED
    assert seen[1].best_cost_cents <= seen[0].best_cost_cents


order_st = hs.builds(
    dict,
    x=hs.floats(-5, 5, allow_nan=False),
    y=hs.floats(-5, 5, allow_nan=False),
    parcels=hs.integers(1, 4),
    ready_s=hs.integers(0, 5_000),
    window_s=hs.integers(0, 8_000),
    skill=hs.sampled_from([None, "cold_chain"]),
    priority=hs.integers(0, 2),
)
driver_st = hs.builds(
    dict,
    fleet=hs.sampled_from(["captive", "third_party", "gig"]),
    cap=hs.integers(1, 6),
    shift_end_s=hs.integers(3_000, 20_000),
    blocked=hs.booleans(),
    skilled=hs.booleans(),
)


@settings(max_examples=15, deadline=None)
@given(orders=hs.lists(order_st, min_size=0, max_size=6), drivers=hs.lists(driver_st, max_size=3))
def test_every_order_is_routed_once_or_unassigned_with_a_reason(
    orders: list[dict], drivers: list[dict]
) -> None:
    pr = problem(
        [
            driver(
                f"D{i}",
                d["fleet"],
                capacity_parcels=d["cap"],
                shift_end_s=d["shift_end_s"],
                blocked=d["blocked"],
                skills={"cold_chain"} if d["skilled"] else set(),
            )
            for i, d in enumerate(drivers)
        ],
        [
            order(
                f"O{j}",
                o["x"],
                o["y"],
                parcels=o["parcels"],
                ready_s=o["ready_s"],
                due_s=o["ready_s"] + o["window_s"],
                priority=o["priority"],
                required_skills={o["skill"]} if o["skill"] else set(),
            )
            for j, o in enumerate(orders)
        ],
    )
    result = solve(pr, MaxSolutions(30, stall_s=0.2))
    routed = [v.order_id for v in result.visits()]
    unassigned = [u.order_id for u in result.unassigned]
    assert len(routed) == len(set(routed))
    assert sorted(routed + unassigned) == sorted(o.id for o in pr.orders)
    assert all(u.reason_code and u.reason_text for u in result.unassigned)
    assert result.metrics.feasible, result.metrics.violations
