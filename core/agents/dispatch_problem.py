"""Rows to allocator input: the state of one hub's day as an `AllocationProblem` and live plan.

Each driver starts where they are now (their last reported position today, else the hub),
completed stops are left out, and stops already loaded in a van are locked to that van.
Who may not work is decided here, once, for every planning path: a driver compliance blocks
(`core.compliance.blocked_drivers`), a driver not active (suspended, off duty), and whatever
the caller adds for the moment (a broken-down van, the driver reporting a problem).
Solver ids are the human codes: driver codes and order references. The state is plain data
(no ORM object), so it can be read in one short unit of work and solved with none open.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.allocator.problem import AllocationProblem, DriverSpec, HubSpec, OrderSpec
from core.compliance import blocked_drivers
from core.fleet_costs import fleet_cost
from core.kinds import (
    OPEN_ORDER_STATES,
    PENDING_STOP_STATES,
    BrandTier,
    DriverStatus,
    FleetType,
    VehicleKind,
)
from core.learning import zone_success_rates
from core.models import Driver, Event, Fleet, Hub, Order, Plan, Region, Route, Stop, Vehicle
from core.timeutil import seconds_since_midnight, time_of_day_s

CARGO_BIKE_MAX_ITEM_G = 25_000
MIDDAY_START_CENTS = 6_000
"""What putting a driver with no route today on the road mid-day costs beyond their pay for the
route: the call-out (a minimum paid block of about two hours) and a second loading slot. A
re-plan starts a new route only for work worth more than that, and otherwise fills the routes
already on the road, so it does not scatter a few stops over idle drivers (at $25 the agents
still started 1-3 such routes a day to save a few late minutes, and the workload spread rose)."""
DUE_MARGIN_S = 600
"""Every plan of a day aims to start each service this long before its window closes
(`AllocationProblem.due_margin_s`): a plan is a forecast (a door that takes longer, a customer
not at home, a driver's position known from the last ping), and a plan that uses a window to
its last second is late in practice."""


@dataclass(frozen=True)
class DayState:
    """One hub's day as the solver sees it, plus the maps back to rows (plain data only)."""

    hub_id: int
    hub_code: str
    timezone: str
    day: date
    plan_id: int | None  # None: the hub has no plan for the day yet
    plan_version: int | None  # the version this state was read at
    problem: AllocationProblem
    live: dict[str, list[str]]  # driver code -> pending order refs, in sequence
    driver_ids: dict[str, int]  # driver code -> drivers.id
    order_ids: dict[str, int]  # order ref -> orders.id
    vehicle_ids: dict[str, int | None]  # driver code -> vehicles.id
    now_s: int
    unavailable: dict[str, str]  # driver code -> why they may not work now, in words


def _last_positions(
    session: Session, driver_ids: list[int], since: datetime
) -> dict[int, tuple[float, float]]:
    latest = (
        select(Event.driver_id, func.max(Event.occurred_at).label("at"))
        .where(Event.driver_id.in_(driver_ids), Event.occurred_at >= since)
        .group_by(Event.driver_id)
        .subquery()
    )
    stmt = select(Event.driver_id, Event.lat, Event.lon).join(
        latest, (Event.driver_id == latest.c.driver_id) & (Event.occurred_at == latest.c.at)
    )
    return {d: (lat, lon) for d, lat, lon in session.execute(stmt)}


def load_day_state(
    session: Session,
    hub_id: int,
    day: date,
    now: datetime | None = None,
    unavailable: dict[int, str] | None = None,
) -> DayState:
    """Read one hub's day. `now` (aware) is when the new plan starts; None = start of day.

    `unavailable`: drivers.id -> why, for what only the caller knows (a van that just broke
    down); compliance blocks and driver status are read here whatever the caller passes."""
    hub = session.get(Hub, hub_id)
    if hub is None:
        raise ValueError(f"unknown hub id {hub_id}")
    tz = hub.timezone
    now_s = max(0, seconds_since_midnight(now, day, tz)) if now is not None else 0
    plan = session.scalars(select(Plan).where(Plan.hub_id == hub_id, Plan.service_date == day)).first()
    rows = session.execute(
        select(Driver, Fleet, Vehicle, Region)
        .join(Fleet, Driver.fleet_id == Fleet.id)
        .outerjoin(Vehicle, Driver.vehicle_id == Vehicle.id)
        .join(Region, Driver.region_id == Region.id)
        .where(Driver.home_hub_id == hub_id)
        .order_by(Driver.code)
    ).all()
    driver_ids = [d.id for d, *_ in rows]
    started: dict[int, bool] = {}
    live: dict[str, list[str]] = {}
    locked: dict[str, str] = {}
    if plan is not None:
        for route, stop, order, code in session.execute(
            select(Route, Stop, Order.external_ref, Driver.code)
            .join(Stop, Stop.route_id == Route.id)
            .join(Order, Order.id == Stop.order_id)
            .join(Driver, Driver.id == Route.driver_id)
            .where(Route.plan_id == plan.id, Stop.status.in_(PENDING_STOP_STATES))
            .order_by(Route.id, Stop.sequence)
        ):
            started[route.driver_id] = route.started_at is not None
            live.setdefault(code, []).append(order)
            if stop.loaded:
                locked[order] = code
    working = set(
        session.scalars(
            select(Route.driver_id).join(Stop, Stop.route_id == Route.id).where(Route.plan_id == plan.id)
        )
        if plan is not None
        else ()
    )
    since = datetime.combine(day, datetime.min.time(), tzinfo=now.tzinfo) if now else None
    positions = _last_positions(session, driver_ids, since) if since is not None else {}
    success = zone_success_rates(session, driver_ids, day)
    why_not = _unavailable(session, [d for d, *_ in rows], day, unavailable or {})
    drivers = []
    for driver, fleet, vehicle, region in rows:
        lat, lon = positions.get(driver.id, (hub.lat, hub.lon))
        kind = VehicleKind(vehicle.vehicle_type.value) if vehicle else VehicleKind.CAR
        drivers.append(
            DriverSpec(
                id=driver.code,
                fleet_type=FleetType(fleet.fleet_type.value),
                lat=lat,
                lon=lon,
                hub=0,
                cost=fleet_cost(fleet),
                shift_start_s=time_of_day_s(driver.shift_start),
                shift_end_s=time_of_day_s(driver.shift_end),
                start_s=now_s,
                capacity_parcels=vehicle.capacity_parcels if vehicle else 0,
                capacity_weight_g=vehicle.capacity_g if vehicle else 0,
                capacity_volume_ml=vehicle.capacity_ml if vehicle else 0,
                co2_g_per_km=vehicle.co2_g_per_km if vehicle else 0,
                skills=frozenset(driver.skills),
                vehicle_type=kind,
                max_item_weight_g=CARGO_BIKE_MAX_ITEM_G if kind is VehicleKind.CARGO_BIKE else None,
                work_before_break_s=region.break_after_s,
                break_duration_s=region.break_duration_s,
                blocked=driver.code in why_not,
                zone_success=success.get(driver.id, {}),
                loading_at_start=not started.get(driver.id, False),
                start_cost_cents=MIDDAY_START_CENTS if now_s > 0 and driver.id not in working else 0,
            )
        )
    orders = session.scalars(
        select(Order)
        .where(Order.hub_id == hub_id, Order.service_date == day, Order.status.in_(OPEN_ORDER_STATES))
        .order_by(Order.id)
    ).all()
    specs = [order_spec(o, day, tz, locked.get(o.external_ref)) for o in orders]
    problem = AllocationProblem(
        drivers=tuple(drivers),
        orders=tuple(specs),
        hubs=(HubSpec(hub.code, hub.lat, hub.lon, hub.turnaround_s),),
        due_margin_s=DUE_MARGIN_S,
    )
    open_refs = {o.external_ref for o in orders}
    return DayState(
        hub_id=hub.id,
        hub_code=hub.code,
        timezone=tz,
        day=day,
        plan_id=plan.id if plan is not None else None,
        plan_version=plan.version if plan is not None else None,
        problem=problem,
        live={d: [r for r in refs if r in open_refs] for d, refs in live.items()},
        driver_ids={d.code: d.id for d, *_ in rows},
        order_ids={o.external_ref: o.id for o in orders},
        vehicle_ids={d.code: (v.id if v else None) for d, _, v, _ in rows},
        now_s=now_s,
        unavailable=why_not,
    )


def order_spec(o: Order, day: date, tz: str, locked_driver_id: str | None) -> OrderSpec:
    """One order row as the solver sees it: its window in seconds of the hub's day."""
    return OrderSpec(
        id=o.external_ref,
        lat=o.lat,
        lon=o.lon,
        zone=o.zone,
        parcels=o.parcels,
        weight_g=o.weight_g,
        volume_ml=o.volume_ml,
        ready_s=max(0, seconds_since_midnight(o.window_start_at, day, tz)),
        due_s=max(0, seconds_since_midnight(o.window_end_at, day, tz)),
        service_time_s=o.service_time_s,
        priority=o.priority - 1,
        brand_tier=BrandTier(o.brand_tier.value),
        required_skills=frozenset(o.required_skills),
        locked_driver_id=locked_driver_id,
    )


def _unavailable(
    session: Session, drivers: Sequence[Driver], day: date, extra: dict[int, str]
) -> dict[str, str]:
    """Driver code -> why the driver may not work: the caller's reason, the driver's status,
    or the compliance block (in that order of precedence)."""
    blocked = blocked_drivers(session, day)
    out: dict[str, str] = {}
    for driver in drivers:
        if driver.id in extra:
            out[driver.code] = extra[driver.id]
        elif driver.status is not DriverStatus.ACTIVE:
            out[driver.code] = f"driver {driver.status.value.replace('_', ' ')}"
        elif driver.id in blocked:
            out[driver.code] = f"blocked by compliance: {blocked[driver.id]}"
    return out
