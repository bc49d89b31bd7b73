"""The demo scenario: deterministic from its seed, and every row coherent."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import ScenarioError
from core.geo import haversine_m
from core.kinds import DocumentKind, FleetType, OrderStatus, SlaKind, StopStatus, VendorKind
from core.models import Driver, Event, Order, User
from core.scenario import ScenarioParams, build_scenario, seed_scenario
from tests.conftest import SMALL, TEST_DAY

DEFAULT = ScenarioParams(today=TEST_DAY)


@pytest.fixture(scope="module")
def default_rows():  # type: ignore[no-untyped-def]
    return build_scenario(DEFAULT)


def test_same_seed_gives_the_same_scenario() -> None:
    a, b = build_scenario(SMALL), build_scenario(SMALL)
    assert a.tables() == b.tables()


def test_another_seed_gives_another_scenario() -> None:
    other = ScenarioParams(
        seed=SMALL.seed + 1, orders=SMALL.orders, drivers=SMALL.drivers, days=SMALL.days, today=SMALL.today
    )
    assert build_scenario(SMALL).days[-1].orders != build_scenario(other).days[-1].orders


@pytest.mark.slow
def test_default_scenario_has_the_promised_scale(default_rows) -> None:  # type: ignore[no-untyped-def]
    f = default_rows.fleet
    assert len(f.hubs) >= 3
    kinds = Counter(v["kind"] for v in f.vendors)
    assert kinds[VendorKind.THIRD_PARTY] >= 2 and kinds[VendorKind.GIG_PLATFORM] >= 1
    assert len(f.drivers) >= 120
    fleet_type = {fl["id"]: fl["fleet_type"] for fl in f.fleets}
    assert {fleet_type[d["fleet_id"]] for d in f.drivers} == set(FleetType)
    today = default_rows.days[-1].orders
    assert len(today) >= 2000
    assert {o["sla_kind"] for o in today} == set(SlaKind)
    assert len({o["priority"] for o in today}) >= 2
    assert any(o["required_skills"] for o in today)
    assert any(o["safe_place_allowed"] for o in today) and any(o["locker_allowed"] for o in today)
    past_days = {o["service_date"] for d in default_rows.days[:-1] for o in d.orders}
    assert len(past_days) >= 14 and max(past_days) < TEST_DAY


@pytest.mark.slow
def test_every_order_is_valid(default_rows) -> None:  # type: ignore[no-untyped-def]
    hubs = {h["id"]: h for h in default_rows.fleet.hubs}
    lengths = {SlaKind.TWO_HOUR: 7200, SlaKind.FOUR_HOUR: 14400, SlaKind.SAME_DAY: 43200}
    refs = set()
    for day in default_rows.days:
        for o in day.orders:
            assert o["window_end_at"] > o["window_start_at"]
            assert (o["window_end_at"] - o["window_start_at"]).total_seconds() == lengths[o["sla_kind"]]
            hub = hubs[o["hub_id"]]
            assert haversine_m(hub["lat"], hub["lon"], o["lat"], o["lon"]) < 30_000
            assert o["parcels"] >= 1 and o["weight_g"] > 0 and o["service_time_s"] > 0
            assert set(o["required_skills"]) <= {"cold_chain", "age_check", "two_person"}
            assert o["external_ref"] not in refs
            refs.add(o["external_ref"])
    assert all(o["status"] is OrderStatus.UNASSIGNED for o in default_rows.days[-1].orders)


@pytest.mark.slow
def test_every_driver_is_in_one_fleet_with_a_matching_vehicle(default_rows) -> None:  # type: ignore[no-untyped-def]
    f = default_rows.fleet
    vehicles = {v["id"]: v for v in f.vehicles}
    for d in f.drivers:
        vehicle = vehicles[d["vehicle_id"]]
        assert vehicle["fleet_id"] == d["fleet_id"]
        assert d["shift_start"] < d["shift_end"]
        assert ("cold_chain" in d["skills"]) == vehicle["cold_chain"]
    assert len({d["code"] for d in f.drivers}) == len(f.drivers)


@pytest.mark.slow
def test_document_dates_are_coherent_and_some_need_attention(default_rows) -> None:  # type: ignore[no-untyped-def]
    docs = default_rows.fleet.documents
    noon = docs[0]["expires_at"].replace(
        year=TEST_DAY.year, month=TEST_DAY.month, day=TEST_DAY.day, hour=12, minute=0
    )
    for d in docs:
        assert d["issued_at"] < d["expires_at"]
        assert (d["verified_at"] is not None) == d["verified"]
        assert (d["vehicle_id"] is not None) == (d["kind"] is DocumentKind.VEHICLE_INSPECTION)
    expired = [d for d in docs if d["expires_at"] < noon]
    soon = [d for d in docs if noon <= d["expires_at"] <= noon + timedelta(days=30)]
    assert expired and soon
    assert len(expired) < 0.1 * len(docs)


@pytest.mark.slow
def test_history_is_executed_and_consistent(default_rows) -> None:  # type: ignore[no-untyped-def]
    past = default_rows.days[:-1]
    orders = [o for d in past for o in d.orders]
    states = Counter(o["status"] for o in orders)
    assert set(states) <= {OrderStatus.DELIVERED, OrderStatus.FAILED, OrderStatus.CANCELLED}
    failed_share = states[OrderStatus.FAILED] / len(orders)
    assert 0.01 < failed_share < 0.15
    stops = [s for d in past for s in d.stops]
    assert Counter(s["order_id"] for s in stops).most_common(1)[0][1] == 1
    driver_ids = {d["id"] for d in default_rows.fleet.drivers}
    assert all(e["driver_id"] in driver_ids for d in past for e in d.events)
    delivered = [o for o in orders if o["status"] is OrderStatus.DELIVERED]
    assert all(o["delivered_at"] is not None and o["attempts"] >= 1 for o in delivered)
    assert any(o["attempts"] == 2 for o in delivered)


@pytest.mark.slow
def test_drivers_fail_less_in_their_own_zones(default_rows) -> None:  # type: ignore[no-untyped-def]
    """The signal the allocator learns: pooled over drivers, failures are rarer in each
    driver's three busiest zones (where the generator lets them know the streets)."""
    past = default_rows.days[:-1]
    zone_of = {o["id"]: o["zone"] for d in past for o in d.orders}
    driver_of = {r["id"]: r["driver_id"] for d in past for r in d.routes}
    outcome: dict[int, dict[str, list[bool]]] = {}
    for d in past:
        for s in d.stops:
            per_zone = outcome.setdefault(driver_of[s["route_id"]], {})
            per_zone.setdefault(zone_of[s["order_id"]], []).append(s["status"] is StopStatus.FAILED)
    home, away = [], []
    for per_zone in outcome.values():
        busiest = sorted(per_zone, key=lambda z: len(per_zone[z]), reverse=True)[:3]
        for zone, fails in per_zone.items():
            (home if zone in busiest else away).extend(fails)
    assert np.mean(home) < 0.8 * np.mean(away)


def test_seed_writes_the_scenario_and_demo_users(seeded_db: Session) -> None:
    assert seeded_db.scalar(select(func.count()).select_from(Driver)) == SMALL.drivers
    today = seeded_db.scalar(select(func.count()).select_from(Order).where(Order.service_date == TEST_DAY))
    assert today == SMALL.orders
    assert seeded_db.scalar(select(func.count()).select_from(Event)) > 0
    roles = {u.role.value for u in seeded_db.scalars(select(User))}
    assert {"admin", "dispatcher", "head_of_last_mile", "fleet_manager", "vendor", "driver"} <= roles
    user = seeded_db.scalars(select(User).where(User.username == "priya")).one()
    assert user.password_hash.startswith("$argon2") and "priya-demo" not in user.password_hash


def test_seed_refuses_a_database_that_has_data(seeded_db: Session) -> None:
    with pytest.raises(ScenarioError, match="--reset"):
        seed_scenario(seeded_db, SMALL)


def test_new_rows_after_seed_get_fresh_ids(seeded_db: Session) -> None:
    """Explicit ids in the bulk seed must not leave sequences behind (PostgreSQL)."""
    max_id = seeded_db.scalar(select(func.max(Order.id)))
    template = seeded_db.scalars(select(Order).limit(1)).one()
    clone = Order(**{c.key: getattr(template, c.key) for c in Order.__table__.columns if c.key != "id"})
    clone.external_ref = "NEW-1"
    seeded_db.add(clone)
    seeded_db.flush()
    assert clone.id > max_id
