"""The rule-based dispatcher during the day: orders that arrive go to the nearest driver.

Every `every_s` it takes the hub's unassigned orders in arrival order and appends each to the
end of the route of the nearest driver (from where the driver is now) who is on shift, has
room in the van and can still finish before the shift ends; nothing already planned moves.
Each placement is a `rebalance` proposal applied under the rule-based policy, so it is
versioned and audited like any other plan change. It is a `TickAgent` for the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from core.access import Viewer
from core.agents.appliers import APPLIERS
from core.allocator.travel import URBAN_TRAVEL
from core.db import unit_of_work
from core.geo import haversine_m
from core.kinds import DriverStatus, OrderStatus, ProposerKind, Role, StopStatus
from core.models import Driver, Event, Hub, Order, Plan, Route, Stop, Vehicle
from core.plan_change import NewRoute, PlacementEffect, PlannedStop, RouteChange
from core.proposals import approve, create_proposal
from core.sim.baseline import AGENT
from core.timeutil import local_midnight_utc, seconds_since_midnight, time_of_day_s

POLICY = Viewer(username=AGENT, role=Role.ADMIN)


@dataclass
class _Candidate:
    code: str
    lat: float
    lon: float
    stops: list[PlannedStop]  # the pending stops, in sequence
    free_s: float  # when the last pending stop is done (or now)
    last: tuple[float, float]  # where the last pending stop is (or where the driver is)
    parcels_left: int
    shift_end_s: int
    kind: str
    distance_m: int


def _candidates(session: Session, plan: Plan, tz: str, now: datetime) -> list[_Candidate]:
    day, now_s = plan.service_date, seconds_since_midnight(now, plan.service_date, tz)
    since = local_midnight_utc(day, tz)
    out = []
    rows = session.execute(
        select(Route, Driver, Vehicle)
        .join(Driver, Driver.id == Route.driver_id)
        .outerjoin(Vehicle, Vehicle.id == Driver.vehicle_id)
        .where(Route.plan_id == plan.id, Driver.status == DriverStatus.ACTIVE)
    ).all()
    hub = session.get(Hub, plan.hub_id)
    assert hub is not None
    for route, driver, vehicle in rows:
        shift_end = time_of_day_s(driver.shift_end)
        if shift_end <= now_s or vehicle is None:
            continue
        pending = session.execute(
            select(
                Order.external_ref,
                Stop.planned_eta_at,
                Order.lat,
                Order.lon,
                Order.service_time_s,
                Order.parcels,
            )
            .join(Order, Order.id == Stop.order_id)
            .where(Stop.route_id == route.id, Stop.status == StopStatus.PENDING)
            .order_by(Stop.sequence)
        ).all()
        here = session.execute(
            select(Event.lat, Event.lon)
            .where(Event.driver_id == driver.id, Event.occurred_at >= since, Event.occurred_at <= now)
            .order_by(Event.occurred_at.desc(), Event.id.desc())
            .limit(1)
        ).first()
        lat, lon = (here[0], here[1]) if here else (hub.lat, hub.lon)
        stops = [PlannedStop(ref, seconds_since_midnight(eta, day, tz)) for ref, eta, *_ in pending]
        if pending:
            _, eta, la, lo, service, _ = pending[-1]
            free: float = max(now_s, seconds_since_midnight(eta, day, tz) + service)
            last = (la, lo)
        else:
            free, last = float(now_s), (lat, lon)
        load = sum(p[5] for p in pending)
        out.append(
            _Candidate(
                driver.code,
                lat,
                lon,
                stops,
                free,
                last,
                vehicle.capacity_parcels - load,
                shift_end,
                vehicle.vehicle_type.value,
                route.planned_distance_m,
            )
        )
    return out


def place_waiting(session: Session, hub_id: int, day: date, now: datetime) -> int:
    """Append the hub's unassigned orders (arrived by `now`) to the nearest drivers' routes."""
    plan = session.scalars(select(Plan).where(Plan.hub_id == hub_id, Plan.service_date == day)).first()
    hub = session.get(Hub, hub_id)
    if plan is None or hub is None:
        return 0
    waiting = session.scalars(
        select(Order)
        .where(
            Order.hub_id == hub_id,
            Order.service_date == day,
            Order.status == OrderStatus.UNASSIGNED,
            Order.created_at <= now,
        )
        .order_by(Order.created_at, Order.id)
    ).all()
    if not waiting:
        return 0
    tz = hub.timezone
    vans = _candidates(session, plan, tz, now)
    touched: dict[str, _Candidate] = {}
    for order in waiting:
        ready = seconds_since_midnight(order.window_start_at, day, tz)
        options = sorted(vans, key=lambda v: float(haversine_m(v.lat, v.lon, order.lat, order.lon)))
        for van in options:
            if van.parcels_left < order.parcels:
                continue
            leg_m = float(haversine_m(*van.last, order.lat, order.lon)) * URBAN_TRAVEL.circuity
            speed = URBAN_TRAVEL.speed_m_per_s(int(van.free_s), van.kind)
            arrive = van.free_s + leg_m / speed
            back_m = float(haversine_m(order.lat, order.lon, hub.lat, hub.lon)) * URBAN_TRAVEL.circuity
            if max(arrive, ready) + order.service_time_s + back_m / speed > van.shift_end_s:
                continue
            van.stops.append(PlannedStop(order.external_ref, int(arrive)))
            van.free_s = max(arrive, ready) + order.service_time_s
            van.last, van.parcels_left = (order.lat, order.lon), van.parcels_left - order.parcels
            van.distance_m += int(leg_m)
            touched[van.code] = van
            break
    if not touched:
        return 0
    refs = {o.external_ref for o in waiting}
    placed = sum(1 for v in touched.values() for s in v.stops if s.order in refs)
    change = RouteChange(
        hub_id,
        day.isoformat(),
        AGENT,
        tuple(NewRoute(v.code, tuple(v.stops), None, int(v.free_s), v.distance_m) for v in touched.values()),
    )
    text = f"rule-based: {placed} new order(s) appended to the nearest driver with room"
    proposal = create_proposal(
        session, plan, AGENT, ProposerKind.AGENT, change, PlacementEffect(placed, len(touched)), text, now
    )
    approve(session, POLICY, proposal.id, APPLIERS, now=now)
    return placed


@dataclass
class NearestDriverDispatch:
    """`TickAgent`: the rule-based dispatcher, acting every `every_s` simulated seconds."""

    day: date
    every_s: int = 300
    last: datetime | None = None
    placed: int = 0

    def __call__(self, engine: Engine, now: datetime) -> None:
        if self.last is not None and (now - self.last).total_seconds() < self.every_s:
            return
        self.last = now
        with unit_of_work(engine) as session:
            self._look(session, now)

    def _look(self, session: Session, now: datetime) -> None:
        hubs = session.scalars(
            select(Order.hub_id)
            .where(
                Order.service_date == self.day,
                Order.status == OrderStatus.UNASSIGNED,
                Order.created_at <= now,
            )
            .group_by(Order.hub_id)
            .having(func.count() > 0)
        ).all()
        for hub_id in hubs:
            self.placed += place_waiting(session, hub_id, self.day, now)
