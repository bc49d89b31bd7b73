"""Inputs are validated at the edge with exact messages; pay models and travel are pure."""

from dataclasses import replace

import numpy as np
import pytest

from core.allocator.costs import FleetCost, route_cost_cents
from core.allocator.params import SolveParams
from core.allocator.problem import AllocationProblem, HubSpec
from core.allocator.travel import HaversineTravel
from core.kinds import FleetType
from tests.core.allocator.builders import HUB, driver, order, problem


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: driver(shift_start_s=10, shift_end_s=10),
            "driver D1: shift_end_s must be after shift_start_s",
        ),
        (lambda: driver(zone_success={"n": 1.5}), "driver D1: success rate for zone n must be in [0, 1]"),
        (
            lambda: driver(work_before_break_s=10),
            "driver D1: set both work_before_break_s and break_duration_s, or neither",
        ),
        (lambda: order("A", 0, ready_s=10, due_s=5), "order A: due_s must be >= ready_s"),
        (lambda: order("A", 0, parcels=-1), "order A: parcels must be >= 0"),
        (lambda: problem([driver(), driver()], []), "duplicate driver id: D1"),
        (lambda: problem([driver(hub=2)], []), "driver D1: hub 2 out of range (1 hubs)"),
        (
            lambda: problem([driver()], [order("A", 0, locked_driver_id="X")]),
            "order A: locked to unknown driver X",
        ),
        (lambda: AllocationProblem((), (), ()), "a problem needs at least one hub"),
        (lambda: SolveParams(enabled=frozenset({"nope"})), "unknown constraint families: nope"),
        (lambda: FleetCost.captive(per_hour_cents=-1), "per_hour_cents must be >= 0"),
    ],
)
def test_invalid_input_is_refused_with_an_exact_message(build, message: str) -> None:  # noqa: ANN001
    with pytest.raises(ValueError) as err:
        build()
    assert str(err.value) == message


def test_fleet_type_values_are_the_stored_strings() -> None:
    assert [f.value for f in FleetType] == ["captive", "third_party", "gig"]


def test_route_cost_per_fleet_type() -> None:
    # Captive: 2 h x 2000 c + 30 km x 50 c = 5500 c.
    assert route_cost_cents(FleetCost.captive(2_000, 50), 7_200, 30_000, 10) == 5_500
    # 3PL: 12 drops x 300 c = 3600 c, below the 5000 c minimum.
    assert route_cost_cents(FleetCost.third_party(300, 5_000), 1, 1, 12) == 5_000
    assert route_cost_cents(FleetCost.third_party(300, 5_000), 1, 1, 20) == 6_000
    # Gig: 4 x 250 c + 12.5 km x 40 c = 1500 c, above a 1200 c minimum payout.
    assert route_cost_cents(FleetCost.gig(250, 40, 1_200), 1, 12_500, 4) == 1_500
    # An unused route costs nothing, whatever the minimum.
    assert route_cost_cents(FleetCost.third_party(300, 5_000), 0, 0, 0) == 0


def test_haversine_travel_is_slower_in_rush_hour_and_on_a_bike() -> None:
    pts = np.array([[51.5, -0.12], [51.51, -0.12]])
    travel = HaversineTravel()
    dist, noon = travel.matrices(pts, 12 * 3600)
    _, rush = travel.matrices(pts, 8 * 3600)
    _, bike = travel.matrices(pts, 12 * 3600, "cargo_bike")
    # 0.01 deg latitude = 1112 m, x 1.3 circuity = 1446 m; 30 km/h = 8.33 m/s -> 174 s.
    assert dist[0, 1] == 1_446 and dist[0, 0] == 0
    assert noon[0, 1] == 174 and rush[0, 1] > noon[0, 1] and bike[0, 1] > noon[0, 1]


def test_problem_matrices_cover_orders_starts_and_hubs() -> None:
    pr = problem([driver(lat=1.0)], [order("A", 2)], hubs=[HUB, HubSpec("H2", 0.0, 3.0)])
    assert pr.distance_m.shape == (4, 4)
    assert pr.distance_m[pr.start_node(0), 0] == 1_000
    assert pr.distance_m[0, pr.hub_node(1)] == round(np.hypot(2, 3) * 1000)


def test_departures_with_the_same_speed_share_one_duration_matrix() -> None:
    """A van at rush hour drives at a cargo bike's off-peak speed: one matrix serves both, so a
    hub's day keeps one matrix per distinct speed, not one per (vehicle kind, hour)."""
    hub = HubSpec("H", 51.5, -0.12)
    van_rush = driver("V", lat=51.5, lon=-0.12, vehicle_type="van", shift_start_s=7 * 3600)
    bike_noon = driver("B", lat=51.5, lon=-0.12, vehicle_type="cargo_bike", shift_start_s=12 * 3600)
    van_noon = driver("N", lat=51.5, lon=-0.12, vehicle_type="van", shift_start_s=12 * 3600)
    pr = AllocationProblem(
        (van_rush, bike_noon, van_noon), (order("A", 51.51, -0.12),), (hub,), travel=HaversineTravel()
    )
    assert pr.duration_s(0) is pr.duration_s(1)
    assert pr.duration_s(2) is not pr.duration_s(0)
    for v, (hour, kind) in enumerate([(7, "van"), (12, "cargo_bike"), (12, "van")]):
        _, expected = pr.travel.matrices(pr.points(), hour * 3600, kind)
        assert np.array_equal(pr.duration_s(v), expected)


def test_a_problem_less_some_drivers_and_orders_keeps_the_matrices_of_a_fresh_one() -> None:
    drivers = [driver("D1", lat=1.0), driver("D2", lat=2.0, shift_start_s=3600), driver("D3", lon=4.0)]
    orders = [order("A", 2), order("B", 3, 1), order("C", 0, 5)]
    pr = problem(drivers, orders, hubs=[HUB, HubSpec("H2", 0.0, 3.0)])
    assert pr.distance_m is not None and pr.duration_s(0) is not None  # computed before the cut
    cut = pr.without({"D2"}, {"B"})
    fresh = problem([drivers[0], drivers[2]], [orders[0], orders[2]], hubs=[HUB, HubSpec("H2", 0.0, 3.0)])
    assert [d.id for d in cut.drivers] == ["D1", "D3"] and [o.id for o in cut.orders] == ["A", "C"]
    assert np.array_equal(cut.distance_m, fresh.distance_m)
    for v in range(2):
        assert np.array_equal(cut.duration_s(v), fresh.duration_s(v))
    assert pr.without(set(), set()) is pr


def test_a_copy_with_shorter_shifts_or_windows_shares_the_matrices_and_a_moved_driver_is_refused() -> None:
    drivers = [driver("D1", shift_start_s=5 * 3600, shift_end_s=15 * 3600), driver("D2", lat=1.0)]
    base = AllocationProblem(
        tuple(drivers), (order("A", 2.0), order("B", 3.0)), (HUB,), travel=HaversineTravel()
    )
    shorter = base.with_drivers(tuple(replace(d, shift_end_s=d.shift_end_s - 1_800) for d in base.drivers))
    assert shorter.drivers[0].shift_end_s == 15 * 3600 - 1_800
    assert shorter.distance_m is base.distance_m and shorter.duration_s(1) is base.duration_s(1)
    tighter = shorter.with_orders(tuple(replace(o, due_s=o.due_s + 60) for o in base.orders))
    assert tighter.duration_s(0) is base.duration_s(0)
    with pytest.raises(ValueError, match="keeps every driver at its index, place, hub and speed profile"):
        base.with_drivers(tuple(replace(d, lat=d.lat + 0.01) for d in base.drivers))
    # D1 sets off at 05:00 (free roads) or at 07:00 (the morning rush): another matrix
    assert base.speed_profile(0) != replace(
        base, drivers=(replace(drivers[0], shift_start_s=7 * 3600), drivers[1])
    ).speed_profile(0)
    with pytest.raises(ValueError, match="speed profile"):
        base.with_drivers((replace(drivers[0], shift_start_s=7 * 3600), drivers[1]))
