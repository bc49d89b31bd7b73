"""solve_metro: parts solved apart and merged keep every order once, with metrics equal to
`evaluate()` on the whole problem; leftovers are offered to the neighbouring part; a local
process pool and a 2-worker dask cluster give the same plan for a fixed solution count.

Plane fixtures (builders): 1 unit = 1 km = 1000 s of driving.  Hubs A (0, 0), B (10, 0).
"""

from dataclasses import replace

import numpy as np
import pytest

from core.allocator import families as fam
from core.allocator import portfolio
from core.allocator.decompose import DecomposeParams
from core.allocator.evaluate import evaluate
from core.allocator.executor import DaskExecutor, LocalPoolExecutor, SerialExecutor, executor_for
from core.allocator.metro import MetroParams, PartTask, relaxed_problem, solve_metro, solve_part
from core.allocator.params import DEFAULT_PARAMS
from core.allocator.problem import HubSpec
from core.allocator.result import Status
from core.allocator.stop import MaxRuntime, MaxSolutions
from tests.core.allocator.builders import driver, order, problem

HUB_A = HubSpec("A", 0.0, 0.0)
HUB_B = HubSpec("B", 10.0, 0.0)
# Machine-independent stop: a solution count, with stall and runtime caps far above what a
# 20-order part needs even on a loaded machine.
FIXED = MaxSolutions(20, max_runtime_s=120.0, stall_s=15.0)  # stall: a safety only


def two_hub_day(seed: int, n_orders: int, per_hub: int = 2, **driver_kw):
    """Orders scattered around two hubs, windows of 2-4 h over a 10 h day, breaks on."""
    rng = np.random.default_rng(seed)
    orders = []
    for j in range(n_orders):
        hx = 0.0 if j % 2 else 10.0
        x, y = hx + rng.uniform(-4, 4), rng.uniform(-4, 4)
        ready = int(rng.integers(0, 6)) * 3600
        orders.append(
            order(f"O{j:03d}", float(x), float(y), ready_s=ready,
                  due_s=ready + int(rng.integers(2, 5)) * 3600, service_time_s=120)
        )  # fmt: skip
    kw = dict(shift_end_s=36_000, capacity_parcels=12, work_before_break_s=4 * 3600, break_duration_s=1800)
    kw.update(driver_kw)
    drivers = [driver(f"A{i}", hub=0, **kw) for i in range(per_hub)]
    drivers += [driver(f"B{i}", lat=10.0, hub=1, **kw) for i in range(per_hub)]
    return problem(drivers, orders, hubs=(HUB_A, HUB_B))


def accounted_once(pr, result) -> None:
    routed = [o for r in result.routes for o in r.order_ids]
    left = [u.order_id for u in result.unassigned]
    assert len(routed) == len(set(routed))
    assert sorted(routed + left) == sorted(o.id for o in pr.orders)
    assert all(u.reason_text for u in result.unassigned)


def test_merge_keeps_every_order_once_and_metrics_equal_evaluate() -> None:
    pr = two_hub_day(0, 40, per_hub=3)
    metro = MetroParams(decompose=DecomposeParams(max_part_orders=8))
    result = solve_metro(pr, FIXED, executor=SerialExecutor(), metro=metro)
    assert result.status is Status.SOLVED
    assert result.notes[0].startswith("6 parts")  # 20 + 20 orders, ceil(20 / 8) = 3 each
    accounted_once(pr, result)
    whole = evaluate(pr, result.plan())
    assert result.metrics == whole


def test_leftovers_are_offered_to_the_neighbouring_part() -> None:
    # Border moves off: all four orders sit by A, whose one van holds 2 parcels; B's vans
    # (10 km away) have room.  The first pass leaves 2 out; the second places them with B.
    drivers = [driver("A0", hub=0, capacity_parcels=2), driver("B0", lat=10.0, hub=1)]
    orders = [order(f"O{j}", 1.0 + 0.1 * j) for j in range(4)]
    pr = problem(drivers, orders, hubs=(HUB_A, HUB_B))
    metro = MetroParams(decompose=DecomposeParams(border_ratio=1.0))
    result = solve_metro(pr, FIXED, executor=SerialExecutor(), metro=metro)
    assert result.metrics.orders_served == 4
    assert len(result.route_of("B0").order_ids) == 2
    assert any("second pass: 2 of 2" in n for n in result.notes)
    without = solve_metro(pr, FIXED, executor=SerialExecutor(), metro=MetroParams(
        decompose=DecomposeParams(border_ratio=1.0), second_pass=False))  # fmt: skip
    assert without.metrics.orders_served == 2
    assert {u.reason_code for u in without.unassigned} == {fam.NO_ROOM}
    assert all("[part A]" in u.reason_text for u in without.unassigned)


def test_an_order_nobody_can_serve_is_reported_with_its_reason() -> None:
    pr = two_hub_day(1, 6)
    pr = problem(pr.drivers, [*pr.orders, order("cold", 1.0, required_skills={"cold_chain"})], pr.hubs)
    result = solve_metro(pr, FIXED, executor=SerialExecutor())
    accounted_once(pr, result)
    cold = next(u for u in result.unassigned if u.order_id == "cold")
    assert cold.reason_code == fam.SKILLS


def test_relaxed_part_shortens_shifts_by_the_breaks_a_shift_needs() -> None:
    # 10 h shift, a 30 min break after 4 h of work: (36000 - 1) // (14400 + 1800) = 2 breaks.
    pr = two_hub_day(0, 2)
    relaxed = relaxed_problem(pr, DEFAULT_PARAMS)
    assert relaxed.drivers[0].shift_end_s == 36_000 - 2 * 1800
    assert relaxed_problem(pr, DEFAULT_PARAMS.without(fam.HOS_BREAK)).drivers == pr.drivers
    # On-time first: every window also closes one break (1800 s) earlier.
    tight = relaxed_problem(pr, DEFAULT_PARAMS, on_time_first=True)
    assert [o.due_s for o in tight.orders] == [o.due_s - 1800 for o in pr.orders]


def test_part_plan_is_feasible_under_the_real_rules() -> None:
    pr = two_hub_day(2, 30, per_hub=3)
    outcome = solve_part(PartTask("all", pr, FIXED))
    assert outcome.result.metrics.feasible
    accounted_once(pr, outcome.result)


def test_a_timed_part_search_runs_pyvrp_beside_or_tools_a_counted_one_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[float] = []  # the seconds each PyVRP run was given
    real_helper, real_both = portfolio.PyvrpInBackground, portfolio.cooperative_plan

    class Recorded(real_helper):  # type: ignore[misc, valid-type]
        def __init__(self, pricing, candidates, seconds, seed) -> None:  # type: ignore[no-untyped-def]
            started.append(seconds)
            super().__init__(pricing, candidates, seconds, seed)

    def both(pricing, candidates, seconds, seed):  # type: ignore[no-untyped-def]
        started.append(seconds)
        return real_both(pricing, candidates, seconds, seed)

    monkeypatch.setattr(portfolio, "PyvrpInBackground", Recorded)
    monkeypatch.setattr(portfolio, "cooperative_plan", both)
    pr = two_hub_day(2, 30, per_hub=3)
    timed = solve_part(PartTask("all", pr, MaxRuntime(3.0)))
    assert started and all(0 < s < 3.0 for s in started)
    assert timed.result.metrics.feasible
    accounted_once(pr, timed.result)
    started.clear()
    solve_part(PartTask("all", pr, FIXED))  # a solution count: the same plan on any machine
    solve_part(PartTask("all", pr, MaxRuntime(3.0), metro=MetroParams(portfolio=False)))
    assert started == []


def test_empty_problem_is_an_empty_result() -> None:
    pr = problem([driver("A0")], [], hubs=(HUB_A,))
    assert solve_metro(pr, FIXED, executor=SerialExecutor()).status is Status.EMPTY


def test_exactly_one_of_stop_and_budget() -> None:
    pr = two_hub_day(0, 2)
    with pytest.raises(ValueError, match="exactly one"):
        solve_metro(pr, executor=SerialExecutor())
    with pytest.raises(ValueError, match="exactly one"):
        solve_metro(pr, MaxRuntime(1.0), executor=SerialExecutor(), budget_s=1.0)


@pytest.mark.slow
def test_budget_is_shared_out_and_every_order_is_accounted_for() -> None:
    pr = two_hub_day(3, 30)
    result = solve_metro(pr, executor=SerialExecutor(), budget_s=3.0)
    accounted_once(pr, result)
    assert result.metrics.orders_served > 0


@pytest.mark.slow
def test_local_pool_and_dask_give_the_same_plan() -> None:
    import dask
    from dask.distributed import Client, LocalCluster

    pr = two_hub_day(4, 40)
    metro = MetroParams(decompose=DecomposeParams(max_part_orders=10))
    serial = solve_metro(pr, FIXED, seed=7, executor=SerialExecutor(), metro=metro)
    with LocalPoolExecutor(2) as pool:
        pooled = solve_metro(pr, FIXED, seed=7, executor=pool, metro=metro)
    # Fork the workers: spawning re-imports __main__, which is pages/app.py once an AppTest ran
    # in the same test process.
    with dask.config.set({"distributed.worker.multiprocessing-method": "fork"}):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        with Client(cluster.scheduler_address) as client:  # a loaded machine starts workers late
            client.wait_for_workers(2, timeout=120)
        # Chosen by configuration: a scheduler address gives the dask executor.
        with executor_for(cluster.scheduler_address) as dask:
            assert isinstance(dask, DaskExecutor) and dask.slots == 2
            distributed = solve_metro(pr, FIXED, seed=7, executor=dask, metro=metro)
    finally:
        cluster.close()
    assert pooled.plan() == serial.plan()
    assert distributed.plan() == serial.plan()
    assert distributed.metrics == serial.metrics
    accounted_once(pr, distributed)


def test_executors_return_results_in_item_order() -> None:
    items = [5, 1, 4, 2, 3]
    with LocalPoolExecutor(2) as pool:
        assert pool.map(abs, [-x for x in items]) == items
    assert LocalPoolExecutor(2).map(abs, [-1, -2]) == [1, 2]  # without a context: own pool
    assert isinstance(executor_for(None, workers=2), LocalPoolExecutor)


def test_parts_offering_to_each_other_never_route_an_order_twice() -> None:
    # Each hub has one van for 2 parcels and 4 orders beside it: each part leaves 2 out and
    # offers them to the other, which is full too.  Every order stays accounted for once,
    # and the leftovers keep their own part's reason.
    drivers = [driver("A0", hub=0, capacity_parcels=2), driver("B0", lat=10.0, hub=1, capacity_parcels=2)]
    orders = [order(f"a{j}", 1.0 + 0.1 * j) for j in range(4)] + [
        order(f"b{j}", 9.0 - 0.1 * j) for j in range(4)
    ]
    pr = problem(drivers, orders, hubs=(HUB_A, HUB_B))
    metro = MetroParams(decompose=DecomposeParams(border_ratio=1.0))
    result = solve_metro(pr, FIXED, executor=SerialExecutor(), metro=metro)
    accounted_once(pr, result)
    assert result.metrics.feasible and result.metrics.orders_served == 4
    for u in result.unassigned:
        assert f"[part {u.order_id[0].upper()}]" in u.reason_text


def test_live_plan_orders_stay_with_their_driver() -> None:
    # "far" sits beside B but is on A0's live route: re-optimising keeps it with A0.
    drivers = [driver("A0", hub=0), driver("B0", lat=10.0, hub=1)]
    orders = [order("near", 1.0), order("far", 9.5)]
    pr = problem(drivers, orders, hubs=(HUB_A, HUB_B))
    result = solve_metro(pr, FIXED, executor=SerialExecutor(), initial={"A0": ["far"]})
    assert result.driver_of("far") == "A0"
    accounted_once(pr, result)


def test_progress_is_heard_after_each_part() -> None:
    pr = two_hub_day(0, 40, per_hub=3)
    metro = MetroParams(decompose=DecomposeParams(max_part_orders=8), second_pass=False)
    heard = []
    result = solve_metro(pr, FIXED, executor=SerialExecutor(), metro=metro, progress=heard.append)
    assert [p.solutions for p in heard] == [1, 2, 3, 4, 5, 6]  # parts done
    assert heard[-1].best_cost_cents == result.metrics.cost_cents
    assert all(a.elapsed_s <= b.elapsed_s for a, b in zip(heard, heard[1:], strict=False))


def test_cancel_keeps_the_live_plan_of_parts_not_yet_solved() -> None:
    # Cancelled after the first part: the other parts keep their live routes as they were,
    # there is no second pass, and every order is still accounted for once.
    import threading

    pr = two_hub_day(5, 40, per_hub=3)
    metro = MetroParams(decompose=DecomposeParams(max_part_orders=8))
    live = solve_metro(pr, FIXED, executor=SerialExecutor(), metro=metro).plan()
    cancel = threading.Event()
    result = solve_metro(
        pr, FIXED, executor=SerialExecutor(), metro=metro, initial=live,
        progress=lambda _: cancel.set(), cancel=cancel,
    )  # fmt: skip
    accounted_once(pr, result)
    assert any(n.startswith("cancelled: 5 of 6 parts") for n in result.notes)
    assert not any(n.startswith("second pass") for n in result.notes)
    kept = [d for d, orders in live.items() if result.plan().get(d) == orders]
    assert len(kept) >= len(live) - 3  # only the solved part's drivers may differ


def test_a_pool_stops_waiting_when_cancelled() -> None:
    import threading
    import time

    cancel = threading.Event()
    started = time.monotonic()
    with LocalPoolExecutor(2) as pool:
        got = []
        for i, _ in pool.each(time.sleep, [0.0, 3.0, 3.0, 3.0], cancel):
            got.append(i)
            cancel.set()
        pool.close(wait=False)
    assert got == [0]
    assert time.monotonic() - started < 2.5  # did not wait for the sleeps still queued or running


def test_a_warm_plan_is_searched_across_the_borders_of_its_parts_and_never_worsens() -> None:
    # The small-part plan, re-solved with one part per hub from that plan: each wide part's
    # share of it is the plan its search must beat, so the day's objective can only fall, and
    # every order is still accounted for once.
    pr = two_hub_day(3, 40, per_hub=3)
    small = solve_metro(pr, FIXED, executor=SerialExecutor(),
                        metro=MetroParams(decompose=DecomposeParams(max_part_orders=8)))  # fmt: skip
    wide = MetroParams(decompose=DecomposeParams(max_part_orders=40), second_pass=False)
    again = solve_metro(pr, MaxSolutions(5, max_runtime_s=120.0, stall_s=15.0), executor=SerialExecutor(),
                        metro=wide, warm=small.plan())  # fmt: skip
    accounted_once(pr, again)
    assert any(n.startswith("2 parts") for n in again.notes)
    before = evaluate(pr, small.plan()).objective_units
    assert again.metrics.objective_units <= before


@pytest.mark.slow
def test_time_left_of_a_budget_searches_again_in_wider_parts_from_the_plan_so_far() -> None:
    # Parts of 8 orders finish long before a 6 s budget: the rest of it goes to parts of 16
    # orders started from the merged plan, kept only when better; without `widen` nothing runs.
    pr = two_hub_day(3, 40, per_hub=3)
    small = MetroParams(decompose=DecomposeParams(max_part_orders=8))
    result = solve_metro(pr, executor=SerialExecutor(), metro=small, budget_s=6.0)
    accounted_once(pr, result)
    note = next(n for n in result.notes if n.startswith("widened pass (parts of up to 16 orders"))
    before, after = (int(x) for x in note.rsplit(": objective ", 1)[1].split(" -> "))
    assert result.metrics.objective_units == min(before, after)
    assert result.metrics.objective_units == evaluate(pr, result.plan()).objective_units
    off = solve_metro(pr, executor=SerialExecutor(), metro=replace(small, widen=False), budget_s=3.0)
    assert not any(n.startswith("widened") for n in off.notes)
