"""A seeded city-sized problem (lat/lon, haversine travel) for limit and property tests."""

import numpy as np

from core.allocator.costs import FleetCost
from core.allocator.problem import AllocationProblem, DriverSpec, HubSpec, OrderSpec
from core.kinds import FleetType

HUB_LAT, HUB_LON = 51.50, -0.12


def city(seed: int, n_orders: int, n_drivers: int) -> AllocationProblem:
    """Orders within ~8 km of one hub over an 08:00-20:00 day; a mixed fleet."""
    rng = np.random.default_rng(seed)
    costs = {
        FleetType.CAPTIVE: FleetCost.captive(per_hour_cents=2_200, per_km_cents=30),
        FleetType.THIRD_PARTY: FleetCost.third_party(per_drop_cents=250, route_minimum_cents=5_000),
        FleetType.GIG: FleetCost.gig(per_task_cents=300, per_km_cents=40, min_payout_cents=1_500),
    }
    fleets = list(FleetType)
    drivers = []
    for v in range(n_drivers):
        fleet = fleets[v % 3]
        drivers.append(
            DriverSpec(
                id=f"D{v}",
                fleet_type=fleet,
                lat=HUB_LAT,
                lon=HUB_LON,
                hub=0,
                cost=costs[fleet],
                shift_start_s=8 * 3600,
                shift_end_s=20 * 3600,
                start_s=8 * 3600,
                capacity_parcels=40,
                capacity_weight_g=400_000,
                co2_g_per_km=180,
                skills=frozenset({"age_check"}) if v % 2 else frozenset(),
                work_before_break_s=0 if v % 4 else 5 * 3600,
                break_duration_s=0 if v % 4 else 1800,
                zone_success={"north": float(rng.uniform(0.8, 1.0))},
            )
        )
    orders = []
    for j in range(n_orders):
        ready = int(rng.integers(8, 17)) * 3600
        orders.append(
            OrderSpec(
                id=f"O{j}",
                lat=HUB_LAT + float(rng.uniform(-0.07, 0.07)),
                lon=HUB_LON + float(rng.uniform(-0.11, 0.11)),
                zone="north" if j % 2 else "south",
                parcels=int(rng.integers(1, 4)),
                weight_g=int(rng.integers(200, 8_000)),
                ready_s=ready,
                due_s=ready + int(rng.integers(2, 5)) * 3600,
                service_time_s=180,
                priority=int(rng.integers(0, 3)),
                required_skills=frozenset({"age_check"}) if j % 10 == 0 else frozenset(),
            )
        )
    hub = HubSpec("HUB", HUB_LAT, HUB_LON, turnaround_s=900)
    return AllocationProblem(tuple(drivers), tuple(orders), (hub,))
