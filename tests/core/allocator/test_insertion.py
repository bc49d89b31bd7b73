"""Cheapest-insertion repair: new orders go to the nearest route where they fit, nothing else moves."""

import pytest

from core.allocator.evaluate import evaluate_plan
from core.allocator.insertion import _Routes, improve, insert_greedily
from core.allocator.params import DEFAULT_PARAMS
from core.allocator.pricing import Pricing
from tests.core.allocator.builders import driver, order, problem
from tests.core.allocator.scenarios import city


def test_new_order_goes_to_the_driver_working_next_to_it() -> None:
    # West route around x=-10, east route around x=+10 (plane units); the new order sits at x=11.
    p = problem(
        [driver("W", lat=-10.0), driver("E", lat=10.0)],
        [order("w1", -10), order("w2", -12), order("e1", 10), order("e2", 12), order("new", 11)],
    )
    routes, left = insert_greedily(p, {"W": ["w1", "w2"], "E": ["e1", "e2"]}, ["new"])
    assert left == []
    assert routes["W"] == ["w1", "w2"]
    assert sorted(routes["E"]) == ["e1", "e2", "new"] and routes["E"].index("new") in (1, 2)


def test_urgent_orders_are_placed_first_and_the_deadline_leaves_the_rest_out() -> None:
    p = problem([driver("A")], [order("low", 1, priority=0), order("high", 2, priority=5)])
    routes, left = insert_greedily(p, {}, ["low", "high"], deadline_s=0.0)
    assert routes == {"A": ["high"]} and left == ["low"]  # the deadline is checked after the first


def test_an_order_nobody_can_take_is_left_out() -> None:
    p = problem([driver("A", skills=frozenset())], [order("cold", 1, required_skills={"cold_chain"})])
    routes, left = insert_greedily(p, {}, ["cold"])
    assert left == ["cold"] and routes == {}


def test_an_order_on_board_goes_back_to_its_own_van_or_is_left_out() -> None:
    # "parcel" is loaded in A's van: B, nearer, may not take it; with A's van down, nobody can.
    p = problem([driver("A", lat=-10.0), driver("B", lat=1.0)], [order("parcel", 1, locked_driver_id="A")])
    routes, left = insert_greedily(p, {}, ["parcel"])
    assert routes == {"A": ["parcel"]} and left == []
    broken = problem(
        [driver("A", lat=-10.0, blocked=True), driver("B", lat=1.0)],
        [order("parcel", 1, locked_driver_id="A")],
    )
    routes, left = insert_greedily(broken, {}, ["parcel"])
    assert routes == {} and left == ["parcel"]


def test_a_start_cost_keeps_a_stop_on_the_route_already_on_the_road() -> None:
    # Hub at (0, 0). A is out at (0, 5); the new order at (0.5, 0) is due at 1,000 s. B, idle at
    # the hub, is there on time for about $1 of driving; A gets there at ~5,025 s, 67 min late
    # (~$34 at 50 cents a minute). B takes it for free; with B's call-out at $50, A does.
    def day(start_cost_cents: int) -> dict[str, list[str]]:
        p = problem(
            [driver("A", lon=5.0), driver("B", start_cost_cents=start_cost_cents)],
            [order("a1", 0, 5), order("new", 0.5, due_s=1_000)],
        )
        routes, left = insert_greedily(p, {"A": ["a1"]}, ["new"])
        assert left == []
        return routes

    assert day(0) == {"A": ["a1"], "B": ["new"]}
    assert day(5_000) == {"A": ["a1", "new"]}


def test_relocating_late_stops_never_makes_the_plan_worse() -> None:
    # B reaches "late" (due 3,500 s) after b1, at 5,000 s; put first, or on A's way, it is on time.
    p = problem(
        [driver("A"), driver("B")],
        [order("a1", 5), order("b1", 4), order("late", 3, due_s=3_500)],
    )
    plan = {"A": ["a1"], "B": ["b1", "late"]}
    before = evaluate_plan(p, plan)
    after_plan = improve(p, plan, current=plan, deadline_s=5.0)
    after = evaluate_plan(p, after_plan)
    assert before.metrics.late_count == 1 and after.metrics.late_count == 0
    assert after.metrics.objective_units < before.metrics.objective_units
    kept = improve(p, plan, current=plan, deadline_s=5.0, max_moved=0)  # no order may change driver
    assert kept == {"A": ["a1"], "B": ["late", "b1"]}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_in_time_bound_rules_out_only_positions_the_exact_walk_refuses(seed: int) -> None:
    # The repair skips the exact walk (breaks included) wherever the no-break bound says an
    # order cannot be there in time; on random city days, every skipped position must be one
    # the walk would refuse, and some must be skipped for the bound to be worth having.
    p = city(seed, 60, 6)
    plan, _ = insert_greedily(p, {}, [o.id for o in p.orders[:40]])
    routes = _Routes(Pricing(p, DEFAULT_PARAMS), plan)
    skipped = 0
    for v, nodes in routes.nodes.items():
        for j in range(40, 60):
            in_time = routes.positions_in_time(v, j)
            for pos in range(len(nodes) + 1):
                if pos not in in_time:
                    skipped += 1
                    assert routes.trial(v, [*nodes[:pos], j, *nodes[pos:]]) is None
    assert skipped > 0
