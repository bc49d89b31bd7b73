"""Each constraint family both ways, on 1-4 stop fixtures on a plane (1 km = 1000 m = 1000 s).

Default driver: captive, 100 cents/km, no hourly pay, at the hub (0, 0).  Arc cost in the
objective is therefore 0.1 cent per metre unless a test says otherwise.
"""

from dataclasses import replace

import pytest

from core.allocator import families as fam
from core.allocator.costs import FleetCost
from core.allocator.evaluate import evaluate
from core.allocator.kinds import PremiumOnGig, SlaMode
from core.allocator.params import DEFAULT_PARAMS, SolveParams
from core.allocator.pricing import UNITS_PER_CENT
from core.allocator.problem import HubSpec
from core.allocator.solve import solve
from core.allocator.stop import MaxSolutions
from tests.core.allocator.builders import driver, order, problem

STOP = MaxSolutions(100)
QUIET = SolveParams(workload_cents_per_stop=0)


def served_by(result, order_id):  # noqa: ANN001, ANN201
    return result.driver_of(order_id)


@pytest.mark.parametrize(
    ("dim", "order_kw", "cap_kw"),
    [
        ("parcels", {"parcels": 1}, "capacity_parcels"),
        ("weight_g", {"weight_g": 5_000}, "capacity_weight_g"),
        ("volume_ml", {"volume_ml": 30_000}, "capacity_volume_ml"),
    ],
)
def test_capacity_binds_in_each_dimension(dim: str, order_kw: dict, cap_kw: str) -> None:
    # Three equal orders; a vehicle that holds two units leaves one order unassigned (no_room),
    # one that holds three serves all.
    unit = next(iter(order_kw.values()))
    orders = [order(f"O{i}", 1 + i, **order_kw) for i in range(3)]
    tight = solve(problem([driver(**{cap_kw: 2 * unit})], orders), STOP, params=QUIET)
    assert tight.metrics.orders_served == 2
    assert [u.reason_code for u in tight.unassigned] == [fam.NO_ROOM]
    roomy = solve(problem([driver(**{cap_kw: 3 * unit})], orders), STOP, params=QUIET)
    assert roomy.metrics.orders_served == 3 and not roomy.unassigned


def test_shift_end_is_respected() -> None:
    # A at +2 km, B at -2 km: one alone is 4000 s out and back, both 8000 s.
    orders = [order("A", 2), order("B", -2)]
    short = solve(problem([driver(shift_end_s=5_000)], orders), STOP, params=QUIET)
    assert short.metrics.orders_served == 1
    assert short.routes[0].end_s <= 5_000
    long = solve(problem([driver(shift_end_s=9_000)], orders), STOP, params=QUIET)
    assert long.metrics.orders_served == 2 and long.routes[0].end_s == 8_000


def test_max_route_duration_caps_the_span() -> None:
    # Same geometry: a 5000 s cap fits one order, no cap fits both (8000 s).
    orders = [order("A", 2), order("B", -2)]
    capped = solve(problem([driver(max_route_duration_s=5_000)], orders), STOP, params=QUIET)
    assert capped.metrics.orders_served == 1
    free = solve(problem([driver()], orders), STOP, params=QUIET)
    assert free.metrics.orders_served == 2


def _late_or_split(late_cents_per_min: int, mode: SlaMode = SlaMode.SOFT):  # noqa: ANN202
    # A at +1 km and B at -1 km, both due at 1000 s.  D1 (captive, 100 c/km) doing both is
    # 4 km = 400 c with the second stop 2000 s late; splitting costs D1 2 km = 200 c plus the
    # 3PL D2's route minimum of 3000 c.  Late is cheaper iff 2000/60 x rate < 2800 c.
    d2 = driver("D2", "third_party", cost=FleetCost.third_party(3_000, route_minimum_cents=3_000))
    orders = [order("A", 1, due_s=1_000), order("B", -1, due_s=1_000)]
    params = SolveParams(workload_cents_per_stop=0, late_cents_per_min=late_cents_per_min, sla_mode=mode)
    return solve(problem([driver("D1"), d2], orders), STOP, params=params)


def test_soft_window_is_late_only_when_cheaper() -> None:
    cheap_late = _late_or_split(50)  # 2000 s late = 1667 c < 2800 c: one late stop
    assert cheap_late.metrics.late_count == 1 and cheap_late.metrics.late_s == 2_000
    assert cheap_late.metrics.drivers_used == 1
    dear_late = _late_or_split(100)  # 3333 c > 2800 c: the 3PL takes one stop, none late
    assert dear_late.metrics.late_count == 0 and dear_late.metrics.drivers_used == 2


def test_hard_window_is_never_late() -> None:
    hard = _late_or_split(1, SlaMode.HARD)
    assert hard.metrics.late_count == 0 and hard.metrics.orders_served == 2


def test_ready_time_makes_the_driver_wait() -> None:
    # A at 1 km is reached at 1000 s but opens at 1500 s.
    result = solve(problem([driver()], [order("A", 1, ready_s=1_500)]), STOP, params=QUIET)
    visit = result.routes[0].visits[0]
    assert (visit.arrival_s, visit.service_start_s) == (1_000, 1_500)


@pytest.mark.slow
def test_break_delays_an_arrival() -> None:
    # 3000 s of work allowed before a 1000 s break.  B at 4 km is reached at 4000 s without
    # breaks; with them the break comes before B, so service starts at 5000 s.
    d = driver(work_before_break_s=3_000, break_duration_s=1_000, shift_end_s=20_000)
    orders = [order("A", 1), order("B", 4)]
    with_break = solve(problem([d], orders), STOP, params=QUIET)
    b = {v.order_id: v for v in with_break.visits()}["B"]
    assert b.service_start_s == 5_000
    assert with_break.routes[0].breaks
    without = solve(problem([d], orders), STOP, params=QUIET.without(fam.HOS_BREAK))
    assert {v.order_id: v for v in without.visits()}["B"].service_start_s == 4_000


def test_break_is_silent_on_a_short_route() -> None:
    # Out and back to 1 km is 2000 s < 3000 s: no break, arrival 1000 s.
    d = driver(work_before_break_s=3_000, break_duration_s=1_000, shift_end_s=20_000)
    result = solve(problem([d], [order("A", 1)]), STOP, params=QUIET)
    assert result.routes[0].visits[0].service_start_s == 1_000
    assert result.routes[0].breaks == ()


def _near_and_far(**order_kw):  # noqa: ANN003, ANN202
    # D1 at the hub (order at 1 km: 2 km, 200 c); D2 starts 5 km out (5 km, 500 c).
    d1 = driver("D1")
    d2 = driver("D2", lat=5.0, skills=frozenset({"cold_chain"}))
    return problem([d1, d2], [order("A", 1, **order_kw)])


def test_driver_without_the_skill_never_gets_the_order() -> None:
    needs = solve(_near_and_far(required_skills={"cold_chain"}), STOP, params=QUIET)
    assert served_by(needs, "A") == "D2"
    plain = solve(_near_and_far(), STOP, params=QUIET)
    assert served_by(plain, "A") == "D1"


def test_skills_off_ignores_the_requirement() -> None:
    result = solve(_near_and_far(required_skills={"cold_chain"}), STOP, params=QUIET.without(fam.SKILLS))
    assert served_by(result, "A") == "D1"


def test_locked_stop_stays_with_its_van() -> None:
    locked = solve(_near_and_far(locked_driver_id="D2"), STOP, params=QUIET)
    assert served_by(locked, "A") == "D2"
    free = solve(_near_and_far(), STOP, params=QUIET)
    assert served_by(free, "A") == "D1"


def test_blocked_driver_gets_nothing() -> None:
    d1 = driver("D1", blocked=True)
    d2 = driver("D2", lat=5.0)
    result = solve(problem([d1, d2], [order("A", 1), order("B", 2)]), STOP, params=QUIET)
    assert result.route_of("D1") is None
    assert result.metrics.orders_served == 2
    unblocked = solve(problem([driver("D1"), d2], [order("A", 1)]), STOP, params=QUIET)
    assert served_by(unblocked, "A") == "D1"


def _captive_vs_cheap_gig(params: SolveParams, **order_kw):  # noqa: ANN003, ANN202
    # Order at 1 km. Captive: 2 km x 100 c = 200 c. Gig: 0 per task + 2 km x 50 c = 100 c.
    gig = driver("G", "gig", cost=FleetCost.gig(per_task_cents=0, per_km_cents=50))
    return solve(problem([driver("C"), gig], [order("A", 1, **order_kw)]), STOP, params=params)


def test_premium_order_avoids_gig_courier_when_barred() -> None:
    barred = SolveParams(workload_cents_per_stop=0, premium_on_gig=PremiumOnGig.BAR)
    assert served_by(_captive_vs_cheap_gig(barred, brand_tier="premium"), "A") == "C"
    assert served_by(_captive_vs_cheap_gig(barred), "A") == "G"


def test_premium_surcharge_decides_by_cost() -> None:
    # Gig 100 c + surcharge 500 c = 600 c > captive 200 c; with a 50 c surcharge 150 c < 200 c.
    big = SolveParams(workload_cents_per_stop=0, premium_gig_surcharge_cents=500)
    assert served_by(_captive_vs_cheap_gig(big, brand_tier="premium"), "A") == "C"
    small = SolveParams(workload_cents_per_stop=0, premium_gig_surcharge_cents=50)
    assert served_by(_captive_vs_cheap_gig(small, brand_tier="premium"), "A") == "G"


def test_fleet_eligibility_restricts_fleet_types() -> None:
    only_captive = _captive_vs_cheap_gig(QUIET, allowed_fleet_types={"captive"})
    assert served_by(only_captive, "A") == "C"
    assert served_by(_captive_vs_cheap_gig(QUIET), "A") == "G"


def test_heavy_item_avoids_the_cargo_bike() -> None:
    # The bike (cheaper per km) takes items up to 10 kg; a 20 kg order goes by van.
    bike = driver(
        "B",
        vehicle_type="cargo_bike",
        max_item_weight_g=10_000,
        cost=FleetCost.captive(per_hour_cents=0, per_km_cents=50),
    )
    heavy = solve(problem([driver("V"), bike], [order("A", 1, weight_g=20_000)]), STOP, params=QUIET)
    assert served_by(heavy, "A") == "V"
    light = solve(problem([driver("V"), bike], [order("A", 1, weight_g=5_000)]), STOP, params=QUIET)
    assert served_by(light, "A") == "B"


def test_zone_success_steers_an_order_to_the_better_driver() -> None:
    # Same cost otherwise; expected failure (1 - p) x 1778 c: D1 889 c, D2 18 c.
    d1 = driver("D1", zone_success={"north": 0.5})
    d2 = driver("D2", zone_success={"north": 0.99})
    result = solve(problem([d1, d2], [order("A", 1, zone="north")]), STOP, params=QUIET)
    assert served_by(result, "A") == "D2"
    swapped = problem(
        [driver("D1", zone_success={"north": 0.99}), driver("D2", zone_success={"north": 0.5})],
        [order("A", 1, zone="north")],
    )
    assert served_by(solve(swapped, STOP, params=QUIET), "A") == "D1"


def test_workload_balance_splits_stops() -> None:
    # Four stops at 1 km. One driver: 2 km (200 c). Two drivers: 4 km (400 c).  Pricing the
    # busiest route at 1000 c/stop makes 2 + 2 (2000 c) beat 4 + 0 (4000 c).
    orders = [order(f"O{i}", 1) for i in range(4)]
    drivers = [driver("D1"), driver("D2")]
    balanced = solve(problem(drivers, orders), STOP, params=SolveParams(workload_cents_per_stop=1000))
    assert sorted(len(r.visits) for r in balanced.routes) == [2, 2]
    packed = solve(problem(drivers, orders), STOP, params=QUIET)
    assert sorted(len(r.visits) for r in packed.routes) == [4]


def test_co2_price_prefers_the_clean_vehicle() -> None:
    # Van 100 c/km + 500 g/km; bike 120 c/km + 0 g/km.  At 100 c/kg CO2 the van costs
    # 150 c/km and the bike wins; with CO2 off the van's 100 c/km wins.
    van = driver("V", co2_g_per_km=500)
    bike = driver("B", cost=FleetCost.captive(per_hour_cents=0, per_km_cents=120))
    orders = [order("A", 1)]
    priced = SolveParams(workload_cents_per_stop=0, co2_cents_per_kg=100)
    assert served_by(solve(problem([van, bike], orders), STOP, params=priced), "A") == "B"
    assert served_by(solve(problem([van, bike], orders), STOP, params=priced.without(fam.CO2)), "A") == "V"


@pytest.mark.slow
def test_hub_turnaround_delays_the_first_stop() -> None:
    # 600 s of loading at the hub, then 1000 s to A.
    hub = HubSpec("H", 0.0, 0.0, turnaround_s=600)
    loading = solve(problem([driver()], [order("A", 1)], hubs=[hub]), STOP, params=QUIET)
    assert loading.routes[0].visits[0].service_start_s == 1_600
    loaded = solve(problem([driver(loading_at_start=False)], [order("A", 1)], hubs=[hub]), STOP, params=QUIET)
    assert loaded.routes[0].visits[0].service_start_s == 1_000


def test_shift_start_and_current_time_set_the_earliest_departure() -> None:
    result = solve(problem([driver(shift_start_s=3_000, start_s=2_000)], [order("A", 1)]), STOP, params=QUIET)
    assert result.routes[0].visits[0].service_start_s == 4_000


def test_a_service_inside_the_due_margin_is_priced_but_not_late() -> None:
    # One order 1 km out (1000 s), due at 1100 s. Arrival at 1000 s is on time; with a 300 s
    # margin lateness is priced from 800 s: 200 s x the late price, and no stop counts late.
    pr = problem([driver("D1")], [order("O1", 1.0, due_s=1_100)])
    plain = evaluate(pr, {"D1": ["O1"]})
    margin = evaluate(replace(pr, due_margin_s=300), {"D1": ["O1"]})
    per_s = round(DEFAULT_PARAMS.late_cents_per_min * UNITS_PER_CENT / 60)
    assert margin.late_count == plain.late_count == 0
    assert margin.objective_units - plain.objective_units == 200 * per_s
    with pytest.raises(ValueError, match="due_margin_s"):
        replace(pr, due_margin_s=-1)
