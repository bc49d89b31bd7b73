"""The live map read model on a hand-built day at 12:00, with every number worked out below.

One hub; drivers: d1 captive 08-18 on route, d2 of vendor V1 08-18 with an open breakdown,
d3 of vendor V2 14-20 with a planned route not started, d4 captive off duty.

    order  window   what happened                                  live status
    o1     09-11    d1 arrived 09:30, delivered                    delivered, on time
    o2     09-11    d1 arrived 11:15, delivered                    delivered, late
    o3     10-12    d2 failed it                                   failed
    o4     12-14    d1 pending, planned 11:40 (+20 min late: 12:00) out for delivery
    o5     12-13    d1 pending, planned 12:50 (+20 min: 13:10)     at risk (ETA after window)
    o6     12-16    unassigned, 4 h left                           unassigned
    o7     11-12:30 unassigned, 30 min left (< 60)                 at risk
    o8     09-11    unassigned, window closed                      at risk
    o9     09-11    cancelled                                      not on the map
    o10    15-17    d3 pending, planned 15:10, route not started   planned

KPIs: delivered 2, failed 1, on time 1 (0.5), at risk 3 (o5, o7, o8), active drivers 2
(d1 on route, d2 exception; d3 off shift, d4 off duty), open exceptions 1 (d2's breakdown;
d2's failed-stop exception has a closed order, d1's is marked resolved).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy.orm import Session

from core.access import Viewer
from core.kinds import (
    BrandTier,
    ContactChannel,
    DriverStatus,
    EventKind,
    FleetType,
    OrderStatus,
    Role,
    RouteStatus,
    SlaKind,
    StopStatus,
    VendorKind,
)
from core.live import DriverState, LiveStatus, PositionSource, read_live_map
from core.models import Driver, Event, Fleet, Hub, Order, Plan, Region, Route, Stop, Vendor
from core.timeutil import at_seconds

DAY = date(2026, 11, 27)
TZ = "America/New_York"
HUB = (40.70, -74.00)


def local(hh: int, mm: int = 0, day: date = DAY) -> datetime:
    return at_seconds(day, TZ, hh * 3600 + mm * 60)


NOW = local(12)


@dataclass
class Day:
    hub: Hub
    vendors: dict[str, Vendor]
    drivers: dict[str, Driver]
    orders: dict[str, Order]


def _build(db: Session) -> Day:
    region = Region(
        code="NY",
        name="New York",
        daily_driving_limit_s=36000,
        weekly_driving_limit_s=180000,
        break_after_s=16200,
        break_duration_s=1800,
    )
    db.add(region)
    db.flush()
    hub = Hub(
        code="H1",
        name="Hub one",
        region_id=region.id,
        lat=HUB[0],
        lon=HUB[1],
        timezone=TZ,
        loading_bays=4,
        turnaround_s=600,
    )
    v1 = Vendor(code="V1", name="Vendor one", kind=VendorKind.THIRD_PARTY)
    v2 = Vendor(code="V2", name="Vendor two", kind=VendorKind.GIG_PLATFORM)
    db.add_all([hub, v1, v2])
    db.flush()
    own = Fleet(code="OWN", name="Own", fleet_type=FleetType.CAPTIVE)
    f1 = Fleet(code="F1", name="F1", fleet_type=FleetType.THIRD_PARTY, vendor_id=v1.id)
    f2 = Fleet(code="F2", name="F2", fleet_type=FleetType.GIG, vendor_id=v2.id)
    db.add_all([own, f1, f2])
    db.flush()

    def driver(
        code: str, fleet: Fleet, start: int, end: int, status: DriverStatus = DriverStatus.ACTIVE
    ) -> Driver:
        return Driver(
            code=code,
            name=code.upper(),
            fleet_id=fleet.id,
            home_hub_id=hub.id,
            region_id=region.id,
            shift_start=time(start),
            shift_end=time(end),
            skills=[],
            status=status,
        )

    drivers = {
        "d1": driver("d1", own, 8, 18),
        "d2": driver("d2", f1, 8, 18),
        "d3": driver("d3", f2, 14, 20),
        "d4": driver("d4", own, 8, 18, DriverStatus.OFF_DUTY),
    }
    db.add_all(drivers.values())
    db.flush()

    def order(
        ref: str,
        start: tuple[int, int],
        end: tuple[int, int],
        status: OrderStatus,
        lat: float,
        delivered_at: datetime | None = None,
    ) -> Order:
        return Order(
            external_ref=ref,
            hub_id=hub.id,
            service_date=DAY,
            status=status,
            address=f"{ref} street",
            zone="Z1",
            lat=lat,
            lon=-74.01,
            parcels=1,
            weight_g=1000,
            volume_ml=1000,
            service_time_s=120,
            sla_kind=SlaKind.TWO_HOUR,
            window_start_at=local(*start),
            window_end_at=local(*end),
            priority=1,
            brand_tier=BrandTier.STANDARD,
            required_skills=[],
            customer_name="C",
            contact_channel=ContactChannel.SMS,
            attempts=0,
            created_at=local(6),
            delivered_at=delivered_at,
        )

    o = {
        "o1": order("o1", (9, 0), (11, 0), OrderStatus.DELIVERED, 40.71, local(9, 32)),
        "o2": order("o2", (9, 0), (11, 0), OrderStatus.DELIVERED, 40.72, local(11, 17)),
        "o3": order("o3", (10, 0), (12, 0), OrderStatus.FAILED, 40.73),
        "o4": order("o4", (12, 0), (14, 0), OrderStatus.OUT_FOR_DELIVERY, 40.74),
        "o5": order("o5", (12, 0), (13, 0), OrderStatus.OUT_FOR_DELIVERY, 40.75),
        "o6": order("o6", (12, 0), (16, 0), OrderStatus.UNASSIGNED, 40.76),
        "o7": order("o7", (11, 0), (12, 30), OrderStatus.UNASSIGNED, 40.77),
        "o8": order("o8", (9, 0), (11, 0), OrderStatus.UNASSIGNED, 40.78),
        "o9": order("o9", (9, 0), (11, 0), OrderStatus.CANCELLED, 40.79),
        "o10": order("o10", (15, 0), (17, 0), OrderStatus.PLANNED, 40.80),
    }
    db.add_all(o.values())
    db.flush()
    plan = Plan(hub_id=hub.id, service_date=DAY, updated_at=local(6))
    db.add(plan)
    db.flush()

    def route(d: str, status: RouteStatus, started: datetime | None) -> Route:
        r = Route(
            plan_id=plan.id,
            driver_id=drivers[d].id,
            status=status,
            planned_start_at=local(8),
            planned_end_at=local(18),
            started_at=started,
        )
        db.add(r)
        db.flush()
        return r

    r1, r2, r3 = (
        route("d1", RouteStatus.IN_PROGRESS, local(8, 10)),
        route("d2", RouteStatus.COMPLETED, local(8, 10)),
        route("d3", RouteStatus.PLANNED, None),
    )

    def stop(
        r: Route, seq: int, o_ref: str, status: StopStatus, eta: datetime, arrived: datetime | None
    ) -> Stop:
        return Stop(
            route_id=r.id,
            order_id=o[o_ref].id,
            sequence=seq,
            status=status,
            loaded=True,
            planned_eta_at=eta,
            arrived_at=arrived,
            completed_at=None,
        )

    db.add_all(
        [
            stop(r1, 0, "o1", StopStatus.DELIVERED, local(9, 20), local(9, 30)),
            stop(r1, 1, "o2", StopStatus.DELIVERED, local(10, 50), local(11, 15)),
            stop(r1, 2, "o4", StopStatus.PENDING, local(11, 40), None),
            stop(r1, 3, "o5", StopStatus.PENDING, local(12, 50), None),
            stop(r2, 0, "o3", StopStatus.FAILED, local(10, 20), local(10, 25)),
            stop(r3, 0, "o10", StopStatus.PENDING, local(15, 10), None),
        ]
    )

    def event(
        d: str, kind: EventKind, at: datetime, lat: float, o_ref: str | None = None, **payload: object
    ) -> Event:
        return Event(
            kind=kind,
            occurred_at=at,
            driver_id=drivers[d].id,
            lat=lat,
            lon=-74.02,
            order_id=o[o_ref].id if o_ref else None,
            payload=payload,
        )

    db.add_all(
        [
            event("d1", EventKind.GPS_PING, local(11), 40.60),
            event("d1", EventKind.GPS_PING, local(11, 58), 40.61),
            event("d1", EventKind.EXCEPTION, local(11, 20), 40.62, None, reason="traffic", resolved=True),
            event("d2", EventKind.EXCEPTION, local(10, 26), 40.73, "o3", reason="not_home"),
            event("d2", EventKind.EXCEPTION, local(11, 50), 40.63, None, reason="vehicle_breakdown"),
            event("d3", EventKind.GPS_PING, local(19, day=DAY - timedelta(days=1)), 40.64),
        ]
    )
    db.flush()
    return Day(hub, {"V1": v1, "V2": v2}, drivers, o)


@pytest.fixture
def day(db: Session) -> Day:
    return _build(db)


OPS = Viewer("priya", Role.DISPATCHER)


def _statuses(live, day: Day) -> dict[str, str]:  # type: ignore[no-untyped-def]
    refs = {o.id: ref for ref, o in day.orders.items()}
    return {refs[i]: s for i, s in zip(live.orders["order_id"], live.orders["live_status"], strict=True)}


def test_order_live_statuses_follow_the_definitions(db: Session, day: Day) -> None:
    live = read_live_map(db, OPS, DAY, NOW, TZ)
    assert _statuses(live, day) == {
        "o1": "delivered",
        "o2": "delivered",
        "o3": "failed",
        "o4": "out_for_delivery",
        "o5": "at_risk",
        "o6": "unassigned",
        "o7": "at_risk",
        "o8": "at_risk",
        "o10": "planned",
    }


def test_eta_is_pushed_back_by_how_late_the_route_runs(db: Session, day: Day) -> None:
    live = read_live_map(db, OPS, DAY, NOW, TZ)
    eta = dict(zip(live.orders["order_id"], live.orders["eta_at"], strict=True))
    assert eta[day.orders["o4"].id] == NOW  # 11:40 + 20 min
    assert eta[day.orders["o5"].id] == local(13, 10)  # 12:50 + 20 min
    assert eta[day.orders["o10"].id] == local(15, 10)  # next stop not due yet: no delay


def test_kpis_match_the_worked_numbers(db: Session, day: Day) -> None:
    k = read_live_map(db, OPS, DAY, NOW, TZ).kpis()
    numbers = (k.delivered, k.failed, k.on_time, k.at_risk, k.active_drivers, k.open_exceptions)
    assert numbers == (2, 1, 1, 3, 2, 1)
    assert k.on_time_rate == 0.5


def test_driver_positions_and_states(db: Session, day: Day) -> None:
    d = read_live_map(db, OPS, DAY, NOW, TZ).drivers.set_index("code")
    assert (d.loc["d1", "lat"], d.loc["d1", "position_source"]) == (40.61, PositionSource.REPORTED)
    assert d.loc["d2", "lat"] == 40.63  # its last event today, the breakdown
    assert (d.loc["d3", "lat"], d.loc["d3", "position_source"]) == (HUB[0], PositionSource.HOME_HUB)
    assert dict(d["state"]) == {
        "d1": DriverState.ON_ROUTE,
        "d2": DriverState.EXCEPTION,
        "d3": DriverState.OFF_SHIFT,
        "d4": DriverState.UNAVAILABLE,
    }
    assert (d.loc["d1", "stops_left"], d.loc["d1", "next_eta_at"]) == (2, NOW)


def test_remaining_route_runs_from_the_driver_through_open_stops_to_the_hub(db: Session, day: Day) -> None:
    routes = read_live_map(db, OPS, DAY, NOW, TZ).routes.set_index("driver_id")
    assert set(routes.index) == {day.drivers["d1"].id, day.drivers["d3"].id}  # d2 has nothing left
    assert routes.loc[day.drivers["d1"].id, "path"] == [
        [-74.02, 40.61],
        [-74.01, 40.74],
        [-74.01, 40.75],
        [HUB[1], HUB[0]],
    ]
    assert routes.loc[day.drivers["d3"].id, "path"] == [[HUB[1], HUB[0]], [-74.01, 40.80], [HUB[1], HUB[0]]]


def test_a_vendor_sees_only_its_drivers_their_orders_and_exceptions(db: Session, day: Day) -> None:
    v1 = Viewer("v1", Role.VENDOR, vendor_id=day.vendors["V1"].id)
    live = read_live_map(db, v1, DAY, NOW, TZ)
    assert list(live.drivers["code"]) == ["d2"]
    assert set(_statuses(live, day)) == {"o3"}
    assert live.routes.empty and len(live.exceptions) == 1
    assert live.vendors == {day.vendors["V1"].id: "Vendor one"}
    k = live.kpis()
    assert (k.delivered, k.failed, k.at_risk, k.active_drivers, k.open_exceptions) == (0, 1, 0, 1, 1)
    v2 = read_live_map(db, Viewer("v2", Role.VENDOR, vendor_id=day.vendors["V2"].id), DAY, NOW, TZ)
    assert list(v2.drivers["code"]) == ["d3"] and set(_statuses(v2, day)) == {"o10"}
    assert v2.exceptions.empty


def test_a_driver_sees_only_their_own_route(db: Session, day: Day) -> None:
    live = read_live_map(db, Viewer("d1", Role.DRIVER, driver_id=day.drivers["d1"].id), DAY, NOW, TZ)
    assert list(live.drivers["code"]) == ["d1"]
    assert set(_statuses(live, day)) == {"o1", "o2", "o4", "o5"}
    assert list(live.routes["driver_id"]) == [day.drivers["d1"].id]


def test_filters_narrow_the_map_and_its_kpis(db: Session, day: Day) -> None:
    live = read_live_map(db, OPS, DAY, NOW, TZ)
    captive = live.filtered(fleet_types=frozenset({FleetType.CAPTIVE}))
    assert set(captive.drivers["code"]) == {"d1", "d4"}
    assert set(_statuses(captive, day)) == {"o1", "o2", "o4", "o5"}  # unassigned orders have no fleet
    assert captive.kpis().at_risk == 1 and captive.kpis().open_exceptions == 0
    v2 = live.filtered(vendor_ids=frozenset({day.vendors["V2"].id}))
    assert set(v2.drivers["code"]) == {"d3"} and len(v2.routes) == 1
    assert live.filtered(hub_ids=frozenset({day.hub.id + 1})).drivers.empty
    risky = live.with_order_states(frozenset({LiveStatus.AT_RISK}))
    assert set(_statuses(risky, day)) == {"o5", "o7", "o8"}
    assert set(live.with_driver_states(frozenset({DriverState.ON_ROUTE})).routes["driver_id"]) == {
        day.drivers["d1"].id
    }


def test_an_empty_day_reads_cleanly(db: Session, day: Day) -> None:
    live = read_live_map(db, OPS, DAY + timedelta(days=1), NOW + timedelta(days=1), TZ)
    assert live.orders.empty and live.routes.empty and live.exceptions.empty
    assert (live.drivers["position_source"] == PositionSource.HOME_HUB).all()
    assert live.kpis().on_time_rate is None
