"""The rule-based dispatcher: nearest driver with room, in arrival order, never re-optimised."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from core.allocator.costs import FleetCost
from core.allocator.problem import AllocationProblem, DriverSpec, HubSpec, OrderSpec
from core.db import unit_of_work
from core.kinds import OrderStatus
from core.models import AuditEntry, Order, Route, Stop
from core.sim.baseline import greedy_routes
from core.sim.baseline_live import NearestDriverDispatch
from core.sim.clock import SimClock
from core.sim.disruptions import DisruptionParams, DisruptionPlan, UrgentOrder
from core.sim.engine import SimParams, Simulator
from tests.conftest import TEST_DAY

HUB = HubSpec("H", 40.70, -73.95, turnaround_s=0)
COST = FleetCost.captive(per_hour_cents=3200)


def _driver(id: str, lat: float, parcels: int = 10, shift_end_s: int = 20 * 3600) -> DriverSpec:
    return DriverSpec(
        id=id,
        fleet_type="captive",
        lat=lat,
        lon=-73.95,
        hub=0,
        cost=COST,  # type: ignore[arg-type]
        shift_start_s=8 * 3600,
        shift_end_s=shift_end_s,
        capacity_parcels=parcels,
    )


def _order(id: str, lat: float, parcels: int = 1) -> OrderSpec:
    return OrderSpec(id=id, lat=lat, lon=-73.95, parcels=parcels, ready_s=8 * 3600, due_s=20 * 3600)


def test_each_order_goes_to_the_nearest_van_with_room_in_arrival_order() -> None:
    north, south = _driver("N", 40.75, parcels=2), _driver("S", 40.65)
    orders = (_order("a", 40.74), _order("b", 40.66), _order("c", 40.745), _order("d", 40.751))
    routes = greedy_routes(AllocationProblem((north, south), orders, (HUB,)))
    # a and c go north (nearest); d is nearest north too, but N is full (2 parcels): it goes south.
    assert [r for r, _ in routes["N"].stops] == ["a", "c"]
    assert [r for r, _ in routes["S"].stops] == ["b", "d"]
    arrivals = [s for _, s in routes["S"].stops]
    assert arrivals == sorted(arrivals) and routes["S"].start_s == 8 * 3600


def test_an_order_no_van_can_finish_in_its_shift_stays_unassigned() -> None:
    tired = _driver("T", 40.70, shift_end_s=8 * 3600 + 600)  # ten minutes of shift left
    routes = greedy_routes(AllocationProblem((tired,), (_order("far", 40.90),), (HUB,)))
    assert routes == {}


@pytest.mark.slow
def test_urgent_orders_go_to_the_nearest_driver_during_the_day(day_engine: Engine) -> None:
    with unit_of_work(day_engine, read_only=True) as s:
        lat, lon, zone = s.execute(select(Order.lat, Order.lon, Order.zone).where(Order.hub_id == 2)).first()
    urgent = UrgentOrder(2, 10 * 3600, lat, lon, zone, 10 * 3600 + 1800, 13 * 3600, 1, 1500, 180)
    dispatch = NearestDriverDispatch(TEST_DAY, every_s=300)
    params = SimParams(disruptions=DisruptionParams.none(), customer_every_s=0, copilot=False)
    sim = Simulator(
        day_engine,
        TEST_DAY,
        seed=1,
        params=params,
        agents=[dispatch],
        disruptions=DisruptionPlan((), (), (), {}, (urgent,)),
    )
    sim.run(SimClock(TEST_DAY, sim.tz, sim.first_start_s(), 21 * 3600))
    with unit_of_work(day_engine, read_only=True) as s:
        order = s.scalars(select(Order).where(Order.external_ref.like("URG-%"))).one()
        stop = s.scalars(select(Stop).where(Stop.order_id == order.id)).one()
        route = s.get(Route, stop.route_id)
        last = s.scalar(
            select(Stop.sequence)
            .where(Stop.route_id == stop.route_id)
            .order_by(Stop.sequence.desc())
            .limit(1)
        )
        actors = set(s.scalars(select(AuditEntry.actor).where(AuditEntry.action == "apply_rebalance")))
        assert order.status is OrderStatus.DELIVERED and route is not None
        assert stop.sequence == last  # appended at the end, nothing re-optimised
    assert dispatch.placed >= 1 and "baseline-dispatcher" in actors
