"""Cheapest-insertion repair: new orders go to the nearest route where they fit, nothing else moves."""

from core.allocator.insertion import insert_greedily
from tests.core.allocator.builders import driver, order, problem


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
