"""Decomposition: every order in exactly one part, border orders may cross, sectors keep
their size cap, pinned orders follow their van.

Plane fixtures (builders): 1 unit = 1 km = 1000 s of driving.  Two hubs 10 km apart:
A at (0, 0), B at (10, 0); the border is the line x = 5.
"""

import math

import numpy as np

from core.allocator import families as fam
from core.allocator.decompose import DecomposeParams, decompose, hub_distances_m
from core.allocator.problem import HubSpec
from tests.core.allocator.builders import driver, order, problem

HUB_A = HubSpec("A", 0.0, 0.0)
HUB_B = HubSpec("B", 10.0, 0.0)


def two_hubs(orders, drivers_a=2, drivers_b=2, **driver_kw):
    drivers = [driver(f"A{i}", hub=0, **driver_kw) for i in range(drivers_a)]
    drivers += [driver(f"B{i}", lat=10.0, hub=1, **driver_kw) for i in range(drivers_b)]
    return problem(drivers, orders, hubs=(HUB_A, HUB_B))


def parts_of(dec):
    return {o: p.key for p in dec.parts for o in p.order_ids}


def test_every_order_is_in_exactly_one_part() -> None:
    rng = np.random.default_rng(0)
    orders = [order(f"O{j}", float(x), float(y)) for j, (x, y) in enumerate(rng.uniform(-3, 13, (60, 2)))]
    dec = decompose(two_hubs(orders), DecomposeParams(max_part_orders=10))
    placed = [o for p in dec.parts for o in p.order_ids]
    assert sorted(placed) == sorted(o.id for o in orders)
    assert dec.unassigned == ()


def test_each_driver_goes_to_its_end_hubs_region_and_parts_have_one_hub() -> None:
    orders = [order("a", 1.0), order("b", 9.0)]
    dec = decompose(two_hubs(orders))
    for p in dec.parts:
        assert len(p.problem.hubs) == 1
        assert {d.hub for d in p.problem.drivers} == {0}
        assert all(d.startswith(p.problem.hubs[0].id) for d in p.driver_ids)
    assert parts_of(dec) == {"a": "A", "b": "B"}


def test_border_order_goes_to_the_region_with_more_spare_capacity() -> None:
    # A is busy: 30 orders near it for 1 small van; B is idle.  "edge" at x = 4.8 is 4.8 km
    # from A and 5.2 km from B: 5.2 <= 1.15 x 4.8, so it is a border order and crosses to B.
    # "inside" at x = 1 is 9 km from B (ratio 9): it stays in A however full A is.
    busy = [order(f"n{j}", 0.5 + 0.01 * j) for j in range(30)]
    orders = [*busy, order("edge", 4.8), order("inside", 1.0)]
    pr = two_hubs(orders, drivers_a=1, drivers_b=3, capacity_parcels=20)
    where = parts_of(decompose(pr))
    assert where["edge"] == "B"
    assert where["inside"] == "A"
    # With border moves off (ratio 1.0), the nearest hub wins.
    assert parts_of(decompose(pr, DecomposeParams(border_ratio=1.0)))["edge"] == "A"


def test_border_orders_are_reported_on_their_part() -> None:
    orders = [order(f"n{j}", 0.5) for j in range(10)] + [order("edge", 4.8)]
    dec = decompose(two_hubs(orders, drivers_a=1, drivers_b=3, capacity_parcels=20))
    assert "edge" in dec.part("B").border_orders


def test_large_region_is_cut_into_sectors_under_the_size_cap() -> None:
    # 50 orders on a circle of radius 3 around A; cap 12 -> ceil(50 / 12) = 5 sectors.
    orders = [
        order(f"O{j}", 3 * math.cos(2 * math.pi * j / 50), 3 * math.sin(2 * math.pi * j / 50))
        for j in range(50)
    ]
    pr = problem([driver(f"D{i}") for i in range(10)], orders, hubs=(HUB_A,))
    dec = decompose(pr, DecomposeParams(max_part_orders=12))
    assert len(dec.parts) == 5
    assert all(len(p.problem.orders) <= 12 for p in dec.parts)
    assert all(p.problem.drivers for p in dec.parts)
    assert sum(len(p.problem.drivers) for p in dec.parts) == 10
    # Sectors are angular: each part's orders span less than a half-turn.
    for p in dec.parts:
        angles = sorted(math.atan2(o.lon, o.lat) % (2 * math.pi) for o in p.problem.orders)
        gaps = np.diff(angles + [angles[0] + 2 * math.pi])
        assert 2 * math.pi - gaps.max() < math.pi


def test_drivers_are_dealt_to_sectors_by_need() -> None:
    # 40 orders west of A, 10 east; cap 25 -> two sectors of 25: one all west, one mixed.
    # 6 equal drivers: a sector's share of drivers follows its share of work, each gets >= 1.
    orders = [order(f"W{j}", -2.0 - 0.01 * j, 0.5) for j in range(40)]
    orders += [order(f"E{j}", 2.0 + 0.01 * j, -0.5) for j in range(10)]
    pr = problem([driver(f"D{i}") for i in range(6)], orders, hubs=(HUB_A,))
    dec = decompose(pr, DecomposeParams(max_part_orders=25))
    assert [len(p.problem.orders) for p in dec.parts] == [25, 25]
    assert sorted(len(p.problem.drivers) for p in dec.parts) == [3, 3]


def test_an_order_locked_to_a_van_follows_the_van() -> None:
    # "far" sits beside B but is already loaded in A0's van.
    orders = [order("near", 1.0), order("far", 9.5, locked_driver_id="A0")]
    where = parts_of(decompose(two_hubs(orders)))
    assert where["far"] == "A"


def test_an_order_on_the_live_plan_stays_in_its_drivers_part() -> None:
    orders = [order("near", 1.0), order("far", 9.5)]
    where = parts_of(decompose(two_hubs(orders), initial={"A1": ["far"]}))
    assert where["far"] == "A"


def test_an_order_goes_to_the_nearest_region_that_has_the_skill() -> None:
    drivers = [driver("A0", hub=0), driver("B0", lat=10.0, hub=1, skills={"cold_chain"})]
    orders = [order("cold", 2.0, required_skills={"cold_chain"}), order("plain", 2.0)]
    where = parts_of(decompose(problem(drivers, orders, hubs=(HUB_A, HUB_B))))
    assert where == {"cold": "B", "plain": "A"}


def test_with_no_drivers_every_order_is_unassigned_with_a_reason() -> None:
    dec = decompose(problem([], [order("a", 1.0), order("b", 2.0)], hubs=(HUB_A,)))
    assert dec.parts == ()
    assert {u.order_id for u in dec.unassigned} == {"a", "b"}
    assert all(u.reason_code == fam.NO_ELIGIBLE_DRIVER for u in dec.unassigned)


def test_hub_distances_are_asked_in_blocks_and_match_the_travel_model() -> None:
    rng = np.random.default_rng(1)
    orders = [order(f"O{j}", float(x), float(y)) for j, (x, y) in enumerate(rng.uniform(0, 10, (1100, 2)))]
    pr = two_hubs(orders)
    dist = hub_distances_m(pr, [0, 1])
    pts = np.array([(o.lat, o.lon) for o in orders])
    expected_a = np.rint(np.hypot(pts[:, 0], pts[:, 1]) * 1000)
    assert dist.shape == (1100, 2)
    assert np.array_equal(dist[:, 0], expected_a)


def test_neighbours_list_every_other_part_nearest_first() -> None:
    orders = [order("a", 1.0), order("b", 9.0), order("c", 12.0)]
    hubs = (HUB_A, HUB_B, HubSpec("C", 20.0, 0.0))
    drivers = [driver("A0", hub=0), driver("B0", lat=10.0, hub=1), driver("C0", lat=20.0, hub=2)]
    dec = decompose(problem(drivers, orders, hubs=hubs), DecomposeParams(border_ratio=1.0))
    assert dec.neighbours["A"] == ("B", "C")
    assert dec.neighbours["C"][0] == "B"


def test_parts_keep_the_problems_due_margin() -> None:
    from dataclasses import replace

    pr = replace(two_hubs([order("a", 1.0), order("b", 9.0)]), due_margin_s=420)
    assert {p.problem.due_margin_s for p in decompose(pr).parts} == {420}
