"""Re-optimising a day under way, plan diffs with their rationale, explanations, insertions."""

from core.allocator import families as fam
from core.allocator.diff import diff_plans, rationale
from core.allocator.evaluate import evaluate
from core.allocator.explain import best_insertions, explain
from core.allocator.params import SolveParams
from core.allocator.result import Metrics
from core.allocator.solve import solve
from core.allocator.stop import MaxSolutions
from tests.core.allocator.builders import driver, order, problem
from tests.core.allocator.scenarios import city

STOP = MaxSolutions(200)


def _bad_live_plan():  # noqa: ANN202
    # Two drivers at the hub; A, B east (+1, +2 km), C, D west (-1, -2 km).  The live plan
    # zig-zags each driver east and west: 2 x (2 + 4 + 2) km... far worse than one side each.
    pr = problem(
        [driver("D1"), driver("D2")],
        [order("A", 1), order("B", 2), order("C", -1), order("D", -2)],
    )
    live = {"D1": ["A", "C"], "D2": ["B", "D"]}
    return pr, live


def test_rebalance_is_never_worse_than_the_live_plan() -> None:
    pr, live = _bad_live_plan()
    params = SolveParams(workload_cents_per_stop=0, move_cost_cents=10)
    result = solve(pr, STOP, params=params, initial=live)
    before = evaluate(pr, live, params, current=live)
    assert result.metrics.objective_units <= before.objective_units
    assert result.metrics.distance_m < before.distance_m  # 8 km instead of 12 km


def test_rebalance_keeps_the_live_plan_when_moves_cost_too_much() -> None:
    pr, live = _bad_live_plan()
    # Untangling saves 4 km = 400 c but needs 2 moves at 10,000 c each.
    params = SolveParams(workload_cents_per_stop=0, move_cost_cents=10_000)
    result = solve(pr, STOP, params=params, initial=live)
    assert {d: sorted(o) for d, o in result.plan().items()} == {d: sorted(o) for d, o in live.items()}


def test_change_budget_is_respected() -> None:
    pr, live = _bad_live_plan()
    params = SolveParams(workload_cents_per_stop=0, move_cost_cents=1, max_orders_moved=1)
    result = solve(pr, STOP, params=params, initial=live)
    diff = diff_plans(live, result.plan())
    assert diff.orders_moved <= 1
    unlimited = solve(
        pr, STOP, params=SolveParams(workload_cents_per_stop=0, move_cost_cents=1), initial=live
    )
    assert diff_plans(live, unlimited.plan()).orders_moved == 2


def test_locked_orders_stay_in_their_van_when_rebalancing() -> None:
    pr, live = _bad_live_plan()
    locked = problem(
        pr.drivers,
        [order("A", 1), order("B", 2), order("C", -1, locked_driver_id="D1"), order("D", -2)],
    )
    result = solve(locked, STOP, params=SolveParams(move_cost_cents=1), initial=live)
    assert result.driver_of("C") == "D1"


def test_diff_and_rationale_on_a_hand_built_pair_of_plans() -> None:
    pr = problem(
        [driver("C-3"), driver("G-17", "gig")],
        [order("A", 1), order("B", 2), order("C", 3)],
    )
    before = {"G-17": ["A", "B", "C"]}
    after = {"C-3": ["B", "A"], "G-17": ["C"]}
    diff = diff_plans(before, after)
    assert [(m.order_id, m.from_driver, m.from_position, m.to_driver, m.to_position) for m in diff.moves] == [
        ("A", "G-17", 0, "C-3", 1),
        ("B", "G-17", 1, "C-3", 0),
    ]
    assert diff.orders_moved == 2 and diff.routes_touched == 2
    m_before = Metrics(12_000, 0, 0, 9_000, 2_500, 9, 600, 1, 3, 0)
    m_after = Metrics(11_050, 0, 0, 8_000, 2_100, 2, 60, 2, 3, 0)
    assert rationale(diff, m_before, m_after, pr) == (
        "2 orders move from gig courier G-17 to captive driver C-3; "
        "predicted late deliveries fall from 9 to 2; cost falls from $120.00 to $110.50; "
        "CO2 falls from 2.5 kg to 2.1 kg."
    )


def test_unchanged_plan_says_so() -> None:
    m = Metrics(100, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    assert rationale(diff_plans({"D": ["A"]}, {"D": ["A"]}), m, m) == "No change to the plan."


def test_explain_accounts_for_the_objective() -> None:
    pr = city(seed=3, n_orders=20, n_drivers=4)
    result = solve(pr, MaxSolutions(30))
    parts = {c.family: c for c in explain(pr, result)}
    assert parts[fam.FLEET_COST].cost_cents == result.metrics.cost_cents
    priced = sum(c.cost_cents for c in parts.values())
    # Rounding of per-second and per-metre rates aside, the parts add up to the objective.
    assert abs(priced - result.metrics.objective_cents) <= 0.01 * result.metrics.objective_cents + 5


def test_best_insertions_returns_three_ranked_options() -> None:
    pr = problem([driver("D1"), driver("D2", lat=5.0)], [order("A", 1), order("B", 4)])
    result = solve(pr, STOP, params=SolveParams(workload_cents_per_stop=0))
    options = best_insertions(pr, result, order("NEW", 2), params=SolveParams(workload_cents_per_stop=0))
    assert len(options) == 3
    costs = [o.added_cost_cents for o in options]
    assert costs == sorted(costs)
    # Between A (1 km) and B (4 km) on the route out and back: no detour at all.
    assert options[0].added_cost_cents == 0 and options[0].late is False
