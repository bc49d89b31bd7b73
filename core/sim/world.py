"""The simulator's reads: today's hubs, drivers and approved routes, as plain values.

Read in a few column queries (no ORM objects), because the engine re-reads a hub's routes
whenever its plan version moves (a dispatcher approved a rebalance, the co-pilot re-sequenced
a route) and a metro day has thousands of stops.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.kinds import PENDING_STOP_STATES, RouteStatus, StopStatus
from core.models import Driver, Event, Hub, Order, Plan, Route, Stop, Vehicle
from core.sim.disruptions import DayOutline
from core.timeutil import local_midnight_utc, seconds_since_midnight, time_of_day_s


@dataclass(frozen=True)
class HubInfo:
    id: int
    code: str
    lat: float
    lon: float
    tz: str
    turnaround_s: int


@dataclass(frozen=True)
class DriverInfo:
    id: int
    code: str
    hub_id: int
    vehicle_kind: str
    shift_start_s: int
    shift_end_s: int


@dataclass(frozen=True)
class SimStop:
    order_id: int
    ref: str
    lat: float
    lon: float
    service_s: int
    ready_s: int
    due_s: int
    planned_eta_s: int
    parcels: int = 1
    arrived: bool = False


@dataclass
class RouteState:
    driver_id: int
    started: bool
    completed: bool
    planned_start_s: int
    planned_end_s: int
    stops: list[SimStop] = field(default_factory=list)


def load_hubs(session: Session) -> dict[int, HubInfo]:
    return {
        h.id: HubInfo(h.id, h.code, h.lat, h.lon, h.timezone, h.turnaround_s)
        for h in session.scalars(select(Hub).order_by(Hub.id))
    }


def load_drivers(session: Session) -> dict[int, DriverInfo]:
    rows = session.execute(
        select(
            Driver.id,
            Driver.code,
            Driver.home_hub_id,
            Vehicle.vehicle_type,
            Driver.shift_start,
            Driver.shift_end,
        )
        .outerjoin(Vehicle, Driver.vehicle_id == Vehicle.id)
        .order_by(Driver.id)
    )
    return {
        i: DriverInfo(
            i,
            code,
            hub,
            str(kind.value) if kind else "car",
            time_of_day_s(s),
            time_of_day_s(e),
        )
        for i, code, hub, kind, s, e in rows
    }


def plan_versions(session: Session, day: date) -> dict[int, int]:
    """hub id -> plan version for `day`."""
    return dict(session.execute(select(Plan.hub_id, Plan.version).where(Plan.service_date == day)).all())


def load_routes(
    session: Session,
    day: date,
    tz: str,
    hub_ids: Iterable[int] | None = None,
    driver_ids: Iterable[int] | None = None,
) -> dict[int, RouteState]:
    """Driver id -> route state with its open stops in sequence (the approved plan now)."""

    def secs(at: object) -> int:
        return seconds_since_midnight(at, day, tz)  # type: ignore[arg-type]

    route_stmt = (
        select(
            Route.id,
            Route.driver_id,
            Route.started_at,
            Route.status,
            Route.planned_start_at,
            Route.planned_end_at,
        )
        .join(Plan, Route.plan_id == Plan.id)
        .where(Plan.service_date == day)
    )
    if hub_ids is not None:
        route_stmt = route_stmt.where(Plan.hub_id.in_(list(hub_ids)))
    if driver_ids is not None:
        route_stmt = route_stmt.where(Route.driver_id.in_(list(driver_ids)))
    routes: dict[int, RouteState] = {}
    by_route: dict[int, RouteState] = {}
    for rid, driver_id, started, status, start_at, end_at in session.execute(route_stmt):
        state = RouteState(
            driver_id, started is not None, status is RouteStatus.COMPLETED, secs(start_at), secs(end_at)
        )
        routes[driver_id] = by_route[rid] = state
    if not by_route:
        return routes
    stmt = (
        select(
            Stop.route_id,
            Stop.order_id,
            Order.external_ref,
            Order.lat,
            Order.lon,
            Order.service_time_s,
            Order.window_start_at,
            Order.window_end_at,
            Stop.planned_eta_at,
            Stop.status,
            Order.parcels,
        )
        .join(Order, Order.id == Stop.order_id)
        .join(Route, Stop.route_id == Route.id)
        .join(Plan, Route.plan_id == Plan.id)
        .where(Stop.route_id.in_(list(by_route)), Stop.status.in_(PENDING_STOP_STATES))
        .order_by(Stop.route_id, Stop.sequence)
    )
    for rid, oid, ref, lat, lon, service, ws, we, eta, stop_status, parcels in session.execute(stmt):
        by_route[rid].stops.append(
            SimStop(
                oid,
                ref,
                lat,
                lon,
                service,
                secs(ws),
                secs(we),
                secs(eta),
                parcels,
                stop_status is StopStatus.ARRIVED,
            )
        )
    return routes


def last_positions(session: Session, day: date, tz: str) -> dict[int, tuple[float, float, int]]:
    """Driver id -> (lat, lon, seconds) of the driver's last report today."""
    start = local_midnight_utc(day, tz)
    latest = (
        select(Event.driver_id, func.max(Event.id).label("id"))
        .where(Event.occurred_at >= start)
        .group_by(Event.driver_id)
        .subquery()
    )
    rows = session.execute(
        select(Event.driver_id, Event.lat, Event.lon, Event.occurred_at).join(latest, Event.id == latest.c.id)
    )
    return {d: (la, lo, seconds_since_midnight(at, day, tz)) for d, la, lo, at in rows}


def day_outline(
    session: Session, day: date, routes: dict[int, RouteState], drivers: dict[int, DriverInfo]
) -> DayOutline:
    """Where the day's orders are (per hub) and when each routed driver works."""
    points: dict[int, list[tuple[float, float]]] = {}
    zones: dict[int, list[str]] = {}
    for hub, lat, lon, zone in session.execute(
        select(Order.hub_id, Order.lat, Order.lon, Order.zone)
        .where(Order.service_date == day)
        .order_by(Order.id)
    ):
        points.setdefault(hub, []).append((lat, lon))
        zones.setdefault(hub, []).append(zone)
    spans = {
        d: (drivers[d].hub_id, r.planned_start_s, max(r.planned_end_s, r.planned_start_s + 3600))
        for d, r in routes.items()
        if r.stops and d in drivers
    }
    return DayOutline(
        {h: np.asarray(p, dtype=np.float64) for h, p in points.items()},
        {h: tuple(z) for h, z in zones.items()},
        spans,
    )
