"""Every order is routed or reported with a reason a dispatcher can act on."""

from core.allocator import families as fam
from core.allocator.kinds import PremiumOnGig, SlaMode
from core.allocator.params import SolveParams
from core.allocator.result import Status
from core.allocator.solve import solve
from core.allocator.stop import MaxSolutions
from tests.core.allocator.builders import driver, order, problem

STOP = MaxSolutions(100)


def test_no_eligible_driver_lists_the_reason_per_candidate() -> None:
    drivers = [
        driver("D1"),  # no cold_chain skill
        driver("D2", skills={"cold_chain"}, blocked=True),
        driver("D3", skills={"cold_chain"}, blocked=True),
        driver("G1", "gig", skills={"cold_chain"}),
    ]
    o = order("A", 1, required_skills={"cold_chain"}, brand_tier="premium")
    params = SolveParams(premium_on_gig=PremiumOnGig.BAR)
    result = solve(problem(drivers, [o]), STOP, params=params)
    [u] = result.unassigned
    assert u.reason_code == fam.NO_ELIGIBLE_DRIVER
    assert u.reason_text == (
        "no eligible driver: 2 blocked by compliance, 1 lack skill cold_chain, 1 gig barred for premium"
    )


def test_unreachable_window_is_reported() -> None:
    # 10 km away = 10000 s; due at 5000 s with a hard window.
    params = SolveParams(sla_mode=SlaMode.HARD)
    result = solve(problem([driver()], [order("A", 10, due_s=5_000)]), STOP, params=params)
    assert result.unassigned[0].reason_code == fam.SLA_WINDOW
    assert "arrive after the due time" in result.unassigned[0].reason_text


def test_soft_window_still_bounds_lateness() -> None:
    # 10000 s to arrive, due at 1000 s: 9000 s late > max_late_s of 3600 s.
    params = SolveParams(max_late_s=3_600)
    result = solve(problem([driver()], [order("A", 10, due_s=1_000)]), STOP, params=params)
    assert result.unassigned[0].reason_code == fam.SLA_WINDOW


def test_too_heavy_for_every_vehicle_is_a_capacity_reason() -> None:
    result = solve(problem([driver(capacity_weight_g=10_000)], [order("A", 1, weight_g=20_000)]), STOP)
    assert result.unassigned[0].reason_code == fam.CAPACITY
    assert result.unassigned[0].reason_text == "no eligible driver: 1 too small (weight_g)"


def test_priorities_decide_what_is_dropped_when_capacity_is_short() -> None:
    # Room for two parcels, three orders: the priority-0 order is the one left behind,
    # even though it is the nearest.
    orders = [order("LOW", 1, priority=0), order("MID", 2, priority=1), order("TOP", 3, priority=2)]
    result = solve(problem([driver(capacity_parcels=2)], orders), STOP)
    assert [u.order_id for u in result.unassigned] == ["LOW"]
    assert result.unassigned[0].reason_code == fam.NO_ROOM
    assert "no room in any route" in result.unassigned[0].reason_text


def test_no_drivers_is_a_normal_result() -> None:
    result = solve(problem([], [order("A", 1)]), STOP)
    assert result.status is Status.SOLVED
    assert result.unassigned[0].reason_code == fam.NO_ELIGIBLE_DRIVER


def test_no_orders_is_an_empty_result() -> None:
    result = solve(problem([driver()], []), STOP)
    assert result.status is Status.EMPTY and result.routes == ()
