"""Fixture builders: points on a plane in km, so 1 km = 1000 m and takes 1000 s to drive
(EuclideanTravel with scale 1000: speed 1 m/s keeps the hand arithmetic in comments simple)."""

from collections.abc import Sequence
from typing import Any

from core.allocator.costs import FleetCost
from core.allocator.problem import AllocationProblem, DriverSpec, HubSpec, OrderSpec
from core.allocator.travel import EuclideanTravel
from core.kinds import FleetType

PLANE = EuclideanTravel(scale=1000)
HUB = HubSpec("H", 0.0, 0.0, turnaround_s=0)


def driver(id: str = "D1", fleet: str = "captive", **kw: Any) -> DriverSpec:
    fleet_type = FleetType(fleet)
    cost = (
        kw.pop("cost", None)
        or {
            FleetType.CAPTIVE: FleetCost.captive(per_hour_cents=0, per_km_cents=100),
            FleetType.THIRD_PARTY: FleetCost.third_party(per_drop_cents=100),
            FleetType.GIG: FleetCost.gig(per_task_cents=100, per_km_cents=100),
        }[fleet_type]
    )
    base: dict[str, Any] = dict(lat=0.0, lon=0.0, hub=0, shift_start_s=0, shift_end_s=100_000)
    base.update(kw)
    return DriverSpec(id=id, fleet_type=fleet_type, cost=cost, **base)


def order(id: str, x: float, y: float = 0.0, **kw: Any) -> OrderSpec:
    base: dict[str, Any] = dict(service_time_s=0)
    base.update(kw)
    return OrderSpec(id=id, lat=x, lon=y, **base)


def problem(
    drivers: Sequence[DriverSpec], orders: Sequence[OrderSpec], hubs: Sequence[HubSpec] = (HUB,)
) -> AllocationProblem:
    return AllocationProblem(tuple(drivers), tuple(orders), tuple(hubs), travel=PLANE)
