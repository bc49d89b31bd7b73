"""KPIs: pinned on a hand-built day whose answers are worked out below, invariants on the demo.

The hand-built world (hub clock in UTC, so local times read as written):

    fleet     rates                                       driver  shift         vehicle CO2
    CAP       captive $36/h + 50c/km                      c1      08:00-18:00   200 g/km
    TPL (V3)  3PL $5/drop, route minimum $20              t1      09:00-17:00   250 g/km
    GIG (VG)  gig $7/task + $1/km, minimum payout $25     g1      10:00-14:00   0 (bike)

Day D = 2026-11-20, one route each:
    R1 c1 08:00-14:00 (6 h) 30 km, stops o1 o2 o3 o4
    R2 t1 09:00-13:00 (4 h) 20 km, stops o5 o6 o7 o10(2nd attempt)
    R3 g1 10:00-12:00 (2 h) 10 km, stops o10(1st attempt, failed) o8 o9
Route costs (core.allocator.costs.route_cost_cents):
    R1 = 6 h x 3600 + 30 km x 50 = 21600 + 1500 = 23100
    R2 = max(4 drops x 500, 2000) = 2000
    R3 = max(3 tasks x 700 + 10 km x 100, 2500) = 3100
Orders (window, arrival at the door, outcome, attempts):
    o1 09-11 10:00 delivered 1 on time      o5 09-13 10:00 delivered 1 on time
    o2 09-11 11:30 delivered 1 late         o6 09-13 12:00 delivered 1 on time
    o3 12-14 12:30 delivered 2 on time      o7 09-13 11:00 failed 1 (exception access_issue)
    o4 12-14 13:00 failed 1 (not_home)      o10 09-17 12:30 delivered 2 on time: counts for t1,
    o8 10-12 11:00 delivered 1 on time          the driver of its latest stop, not g1
    o9 10-11 11:30 delivered 1 late
g1 also reports a breakdown with no order (an exception on D at its home hub).
Not counted: o11 on D never went out (cancelled, no stop); o12 is on D+1.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as hs
from sqlalchemy.orm import Session

from core.access import SYSTEM, Viewer
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
    VehicleKind,
    VendorKind,
)
from core.kpi import (
    FAILED_DELIVERY_COST_CENTS,
    GROUPINGS,
    KPIS,
    TOTAL,
    KpiQueryError,
    daily_kpis,
    default_period,
    exceptions_by_reason,
    in_dollars,
    kpis,
    workload_cv,
)
from core.models import Driver, Event, Fleet, Hub, Order, Plan, Region, Route, Stop, Vehicle, Vendor
from tests.conftest import SMALL, TEST_DAY

D = date(2026, 11, 20)


def at(hour: float, day: date = D) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC) + timedelta(hours=hour)


def _order(
    db: Session,
    hub: Hub,
    ref: str,
    window: tuple[float, float],
    status: OrderStatus,
    attempts: int,
    delivered_at: datetime | None = None,
    day: date = D,
) -> Order:
    order = Order(
        external_ref=ref,
        hub_id=hub.id,
        service_date=day,
        status=status,
        address="1 Main St",
        zone="Z",
        lat=40.7,
        lon=-74.0,
        parcels=1,
        weight_g=1000,
        volume_ml=1000,
        service_time_s=120,
        sla_kind=SlaKind.TWO_HOUR,
        window_start_at=at(window[0], day),
        window_end_at=at(window[1], day),
        priority=1,
        brand_tier=BrandTier.STANDARD,
        required_skills=[],
        customer_name="C",
        contact_channel=ContactChannel.SMS,
        attempts=attempts,
        created_at=at(-4, day),
        delivered_at=delivered_at,
    )
    db.add(order)
    db.flush()
    return order


def _stop(db: Session, route: Route, order: Order, seq: int, arrived: float, status: StopStatus) -> None:
    db.add(
        Stop(
            route_id=route.id,
            order_id=order.id,
            sequence=seq,
            status=status,
            loaded=True,
            planned_eta_at=at(arrived),
            arrived_at=at(arrived),
            completed_at=at(arrived) + timedelta(minutes=2),
        )
    )
    db.flush()  # stop ids follow insertion: the latest attempt has the highest id


def _exception(db: Session, driver: Driver, order: Order | None, hour: float, reason: str) -> None:
    db.add(
        Event(
            kind=EventKind.EXCEPTION,
            occurred_at=at(hour),
            driver_id=driver.id,
            order_id=order.id if order else None,
            lat=40.7,
            lon=-74.0,
            payload={"reason": reason},
        )
    )


def build_world(db: Session) -> dict[str, Any]:
    """The day in the module docstring; returns the rows tests refer to."""
    region = Region(
        code="NY",
        name="New York",
        daily_driving_limit_s=36000,
        weekly_driving_limit_s=216000,
        break_after_s=18000,
        break_duration_s=1800,
    )
    db.add(region)
    db.flush()
    hub = Hub(
        code="H1",
        name="Hub",
        region_id=region.id,
        lat=40.7,
        lon=-74.0,
        timezone="UTC",
        loading_bays=4,
        turnaround_s=600,
    )
    v3 = Vendor(code="V3", name="Three PL Co", kind=VendorKind.THIRD_PARTY)
    vg = Vendor(code="VG", name="Gig Co", kind=VendorKind.GIG_PLATFORM)
    db.add_all([hub, v3, vg])
    db.flush()
    cap = Fleet(code="CAP", name="Own", fleet_type=FleetType.CAPTIVE, per_hour_cents=3600, per_km_cents=50)
    tpl = Fleet(
        code="TPL",
        name="3PL",
        fleet_type=FleetType.THIRD_PARTY,
        vendor_id=v3.id,
        per_drop_cents=500,
        route_minimum_cents=2000,
    )
    gig = Fleet(
        code="GIG",
        name="Gig",
        fleet_type=FleetType.GIG,
        vendor_id=vg.id,
        per_task_cents=700,
        per_km_cents=100,
        min_payout_cents=2500,
    )
    db.add_all([cap, tpl, gig])
    db.flush()
    drivers = {}
    for code, fleet, co2, shift, vtype in (
        ("c1", cap, 200, (8, 18), VehicleKind.VAN),
        ("t1", tpl, 250, (9, 17), VehicleKind.VAN),
        ("g1", gig, 0, (10, 14), VehicleKind.CARGO_BIKE),
    ):
        vehicle = Vehicle(
            registration=f"V-{code}",
            fleet_id=fleet.id,
            vehicle_type=vtype,
            capacity_parcels=50,
            capacity_g=500_000,
            capacity_ml=5_000_000,
            electric=co2 == 0,
            co2_g_per_km=co2,
            cold_chain=False,
        )
        db.add(vehicle)
        db.flush()
        driver = Driver(
            code=code,
            name=f"Driver {code}",
            fleet_id=fleet.id,
            vehicle_id=vehicle.id,
            home_hub_id=hub.id,
            region_id=region.id,
            shift_start=time(shift[0]),
            shift_end=time(shift[1]),
            skills=[],
            status=DriverStatus.ACTIVE,
        )
        db.add(driver)
        drivers[code] = driver
    plan = Plan(hub_id=hub.id, service_date=D, updated_at=at(22))
    db.add(plan)
    db.flush()
    routes = {}
    for code, (start, end), km in (("c1", (8, 14), 30), ("t1", (9, 13), 20), ("g1", (10, 12), 10)):
        route = Route(
            plan_id=plan.id,
            driver_id=drivers[code].id,
            status=RouteStatus.COMPLETED,
            planned_start_at=at(start),
            planned_end_at=at(end),
            planned_distance_m=km * 1000,
            started_at=at(start),
            finished_at=at(end),
            distance_m=km * 1000,
        )
        db.add(route)
        routes[code] = route
    db.flush()
    ok, bad = OrderStatus.DELIVERED, OrderStatus.FAILED
    o = {
        "o1": _order(db, hub, "o1", (9, 11), ok, 1, at(10)),
        "o2": _order(db, hub, "o2", (9, 11), ok, 1, at(11.5)),
        "o3": _order(db, hub, "o3", (12, 14), ok, 2, at(12.5)),
        "o4": _order(db, hub, "o4", (12, 14), bad, 1),
        "o5": _order(db, hub, "o5", (9, 13), ok, 1, at(10)),
        "o6": _order(db, hub, "o6", (9, 13), ok, 1, at(12)),
        "o7": _order(db, hub, "o7", (9, 13), bad, 1),
        "o8": _order(db, hub, "o8", (10, 12), ok, 1, at(11)),
        "o9": _order(db, hub, "o9", (10, 11), ok, 1, at(11.5)),
        "o10": _order(db, hub, "o10", (9, 17), ok, 2, at(12.5)),
        "o11": _order(db, hub, "o11", (9, 17), OrderStatus.CANCELLED, 0),
        "o12": _order(db, hub, "o12", (9, 17), OrderStatus.UNASSIGNED, 0, day=D + timedelta(1)),
    }
    for seq, (name, hour, status) in enumerate(
        (("o1", 10, ok), ("o2", 11.5, ok), ("o3", 12.5, ok), ("o4", 13, bad))
    ):
        _stop(db, routes["c1"], o[name], seq, hour, StopStatus(status.value))
    _stop(db, routes["g1"], o["o10"], 0, 10.5, StopStatus.FAILED)  # first attempt, by g1
    _stop(db, routes["g1"], o["o8"], 1, 11, StopStatus.DELIVERED)
    _stop(db, routes["g1"], o["o9"], 2, 11.5, StopStatus.DELIVERED)
    for seq, (name, hour, status) in enumerate(
        (("o5", 10, ok), ("o6", 12, ok), ("o7", 11, bad), ("o10", 12.5, ok))
    ):
        _stop(db, routes["t1"], o[name], seq, hour, StopStatus(status.value))
    _exception(db, drivers["c1"], o["o4"], 13, "not_home")
    _exception(db, drivers["t1"], o["o7"], 11, "access_issue")
    _exception(db, drivers["g1"], None, 11.2, "vehicle_breakdown")
    db.flush()
    return {"drivers": drivers, "vendors": {"V3": v3, "VG": vg}, "hub": hub}


def _row(table: pd.DataFrame, key: str, value: str) -> dict[str, Any]:
    rows = table[table[key] == value].to_dict("records")
    assert len(rows) == 1, f"expected one {key}={value} row in\n{table}"
    return rows[0]


def _close(actual: Any, expected: float) -> bool:
    return math.isclose(float(actual), expected, rel_tol=1e-9, abs_tol=1e-9)


# Expected by fleet type on D (see the module docstring):
EXPECTED = {
    "captive": dict(
        orders=4,
        delivered=3,
        failed=1,
        on_time_rate=2 / 3,  # o1, o3 of o1-o3
        first_attempt_rate=2 / 4,  # o1, o2 delivered at attempt 1, of 4 attempted
        failed_cost_cents=1778,
        route_cost_cents=23100,
        cost_per_delivered_cents=7700,
        drops=4,
        cost_per_drop_cents=5775,
        stops_per_driver_hour=4 / 6,
        utilisation=21600 / 36000,  # 6 h on route in a 10 h shift
        km_per_delivered=30 / 3,
        co2_kg_per_delivered=30 * 200 / 1000 / 3,
        exceptions=1,
        workload_cv=0.0,
        driver_days=1,
    ),
    "third_party": dict(
        orders=4,
        delivered=3,
        failed=1,
        on_time_rate=1.0,
        first_attempt_rate=2 / 4,
        failed_cost_cents=1778,
        route_cost_cents=2000,
        cost_per_delivered_cents=667,  # 666.7
        drops=4,
        cost_per_drop_cents=500,
        stops_per_driver_hour=4 / 4,
        utilisation=14400 / 28800,
        km_per_delivered=20 / 3,
        co2_kg_per_delivered=5 / 3,
        exceptions=1,
        workload_cv=0.0,
        driver_days=1,
    ),
    "gig": dict(
        orders=2,
        delivered=2,
        failed=0,
        on_time_rate=1 / 2,
        first_attempt_rate=1.0,
        failed_cost_cents=0,
        route_cost_cents=3100,
        cost_per_delivered_cents=1550,
        drops=3,
        cost_per_drop_cents=1033,
        stops_per_driver_hour=3 / 2,  # 1033.3
        utilisation=7200 / 14400,
        km_per_delivered=10 / 2,
        co2_kg_per_delivered=0.0,
        exceptions=1,
        workload_cv=0.0,
        driver_days=1,
    ),
    TOTAL: dict(
        orders=10,
        delivered=8,
        failed=2,
        on_time_rate=6 / 8,
        first_attempt_rate=6 / 10,
        failed_cost_cents=2 * 1778,
        route_cost_cents=28200,
        cost_per_delivered_cents=3525,
        drops=11,
        cost_per_drop_cents=2564,  # 2563.6
        stops_per_driver_hour=11 / 12,
        utilisation=43200 / 79200,
        km_per_delivered=60 / 8,
        co2_kg_per_delivered=11 / 8,
        exceptions=3,
        # drops per driver-day 4, 4, 3: mean 11/3, population sd sqrt(2/9)
        workload_cv=math.sqrt(2 / 9) / (11 / 3),
        driver_days=3,
    ),
}


def test_every_kpi_pinned_by_fleet_type_on_a_hand_built_day(db: Session) -> None:
    build_world(db)
    table = kpis(db, SYSTEM, "fleet_type", D, D)
    assert list(table["fleet_type"]) == ["captive", "gig", "third_party", TOTAL]
    assert [c for c in table.columns if c != "fleet_type"] == list(KPIS)
    for group, expected in EXPECTED.items():
        row = _row(table, "fleet_type", group)
        for name, value in expected.items():
            assert _close(row[name], value), f"{group}.{name}: {row[name]} != {value}"


def test_vendor_grouping_puts_captive_drivers_under_captive(db: Session) -> None:
    build_world(db)
    table = kpis(db, SYSTEM, "vendor", D, D)
    assert list(table["vendor"]) == ["V3", "VG", "captive", TOTAL]
    assert _row(table, "vendor", "V3")["vendor_name"] == "Three PL Co"
    assert _row(table, "vendor", "V3")["route_cost_cents"] == 2000


def test_a_vendor_viewer_gets_only_its_own_drivers(db: Session) -> None:
    world = build_world(db)
    viewer = Viewer("v3", Role.VENDOR, vendor_id=world["vendors"]["V3"].id)
    table = kpis(db, viewer, "vendor", D, D)
    assert list(table["vendor"]) == ["V3", TOTAL]
    total = _row(table, "vendor", TOTAL)
    for name, value in EXPECTED["third_party"].items():
        assert _close(total[name], value), name
    assert set(exceptions_by_reason(db, viewer, "driver", D, D)["reason"]) == {"access_issue"}


def test_drill_down_to_the_drivers_behind_a_number(db: Session) -> None:
    build_world(db)
    table = kpis(db, SYSTEM, "driver", D, D, where={"fleet_type": "gig"})
    assert list(table["driver"]) == ["g1", TOTAL]
    assert _row(table, "driver", "g1")["driver_name"] == "Driver g1"
    assert _row(table, "driver", "g1")["route_cost_cents"] == 3100


def test_failed_delivery_cost_is_configurable(db: Session) -> None:
    build_world(db)
    table = kpis(db, SYSTEM, "fleet_type", D, D, failed_delivery_cost_cents=2000)
    assert _row(table, "fleet_type", TOTAL)["failed_cost_cents"] == 4000
    assert FAILED_DELIVERY_COST_CENTS == 1778


def test_exceptions_by_reason_count_order_and_loose_exceptions(db: Session) -> None:
    build_world(db)
    table = exceptions_by_reason(db, SYSTEM, "fleet_type", D, D)
    got = {(g, r): n for g, r, n in table.itertuples(index=False)}
    assert got == {
        ("captive", "not_home"): 1,
        ("third_party", "access_issue"): 1,
        ("gig", "vehicle_breakdown"): 1,
        (TOTAL, "not_home"): 1,
        (TOTAL, "access_issue"): 1,
        (TOTAL, "vehicle_breakdown"): 1,
    }


def test_daily_kpis_cap_time_on_task_at_the_shift(db: Session) -> None:
    world = build_world(db)
    c1 = world["drivers"]["c1"]
    # The day before, c1 works 07:00-19:00 (12 h) in a 10 h shift: utilisation caps at 1.
    plan = Plan(hub_id=world["hub"].id, service_date=D - timedelta(1), updated_at=at(22))
    db.add(plan)
    db.flush()
    route = Route(
        plan_id=plan.id,
        driver_id=c1.id,
        status=RouteStatus.COMPLETED,
        planned_start_at=at(-17),
        planned_end_at=at(-5),
        started_at=at(-17),
        finished_at=at(-5),
        distance_m=12_000,
    )
    db.add(route)
    db.flush()
    order = _order(db, world["hub"], "o0", (8, 20), OrderStatus.DELIVERED, 1, at(-14), day=D - timedelta(1))
    db.add(
        Stop(
            route_id=route.id,
            order_id=order.id,
            sequence=0,
            status=StopStatus.DELIVERED,
            planned_eta_at=at(-14),
            arrived_at=at(-14),
            completed_at=at(-14),
        )
    )
    db.flush()
    table = daily_kpis(db, SYSTEM, D - timedelta(1), D)
    before, day = table.to_dict("records")
    assert before["day"] == (D - timedelta(1)).isoformat() and day["day"] == D.isoformat()
    assert before["utilisation"] == 1.0
    assert _close(before["stops_per_driver_hour"], 1 / 12)
    assert before["route_cost_cents"] == 12 * 3600 + 12 * 50
    assert day["route_cost_cents"] == 28200
    by_type = daily_kpis(db, SYSTEM, D - timedelta(1), D, by="fleet_type")
    assert len(by_type) == 4  # captive on D-1; captive, gig, third_party on D


def test_empty_period_gives_only_an_empty_total(db: Session) -> None:
    build_world(db)
    table = kpis(db, SYSTEM, "vendor", D + timedelta(5), D + timedelta(6))
    assert list(table["vendor"]) == [TOTAL]
    assert table.iloc[0]["orders"] == 0 and pd.isna(table.iloc[0]["on_time_rate"])


def test_bad_requests_are_refused_with_a_sentence(db: Session) -> None:
    with pytest.raises(KpiQueryError, match="cannot group KPIs by 'colour'"):
        kpis(db, SYSTEM, "colour", D, D)
    with pytest.raises(KpiQueryError, match="before it starts"):
        kpis(db, SYSTEM, "vendor", D, D - timedelta(1))


def test_the_registry_names_are_the_columns_and_say_what_they_mean() -> None:
    assert set(GROUPINGS) >= {"fleet_type", "vendor", "hub", "driver", "day"}
    for name, definition in KPIS.items():
        assert name == definition.name and name.islower() and " " not in name
        assert definition.label and len(definition.definition) > 20
        assert definition.unit in {
            "orders",
            "fraction",
            "cents",
            "stops",
            "stops/h",
            "km",
            "kg",
            "events",
            "ratio",
            "driver-days",
        }
        if definition.unit == "fraction":
            assert not definition.additive


def test_money_columns_turn_into_dollars_for_people() -> None:
    frame = pd.DataFrame(
        {
            "vendor": ["A"],
            "failed_cost_cents": [1778],
            "cost_per_delivered_cents": pd.array([None], dtype="Int64"),
        }
    )
    shown = in_dollars(frame)
    assert list(shown.columns) == ["vendor", "failed_cost", "cost_per_delivered"]
    assert shown.iloc[0]["failed_cost"] == 17.78 and pd.isna(shown.iloc[0]["cost_per_delivered"])


def test_default_period_is_the_days_before_today() -> None:
    assert default_period(date(2026, 11, 27)) == (date(2026, 11, 13), date(2026, 11, 26))


@given(hs.lists(hs.integers(min_value=1, max_value=200), min_size=1, max_size=30))
def test_workload_cv_is_scale_free_and_zero_when_even(stops: list[int]) -> None:
    cv = workload_cv(pd.Series(stops))
    assert cv >= 0
    assert math.isclose(workload_cv(pd.Series([s * 3 for s in stops])), cv, abs_tol=1e-9)
    assert workload_cv(pd.Series([stops[0]] * len(stops))) == 0


# --- invariants on the demo scenario ----------------------------------------------------------

ADDITIVE = (
    "orders",
    "delivered",
    "failed",
    "failed_cost_cents",
    "route_cost_cents",
    "drops",
    "exceptions",
    "driver_days",
)
RATES = ("on_time_rate", "first_attempt_rate", "utilisation")


@pytest.fixture
def demo_period() -> tuple[date, date]:
    return default_period(TEST_DAY, SMALL.days)


@pytest.mark.parametrize("by", ["fleet_type", "vendor", "hub", "day"])
def test_slices_add_up_to_the_total(seeded_db: Session, demo_period: tuple[date, date], by: str) -> None:
    table = kpis(seeded_db, SYSTEM, by, *demo_period)
    groups, total = table[table[by] != TOTAL], _row(table, by, TOTAL)
    assert total["orders"] > 0
    for name in ADDITIVE:
        assert int(groups[name].sum()) == int(total[name]), name


def test_demo_rates_are_fractions_and_costs_positive(
    seeded_db: Session, demo_period: tuple[date, date]
) -> None:
    table = kpis(seeded_db, SYSTEM, "driver", *demo_period)
    for name in RATES:
        values = table[name].dropna()
        assert ((values >= 0) & (values <= 1)).all(), name
    fleets = kpis(seeded_db, SYSTEM, "fleet_type", *demo_period)
    assert set(fleets["fleet_type"]) == {"captive", "third_party", "gig", TOTAL}
    assert (fleets["cost_per_delivered_cents"] > 0).all()
    assert (fleets["route_cost_cents"] > 0).all()
    assert (fleets["workload_cv"] >= 0).all()
