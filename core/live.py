"""The live map's read model: hubs, drivers where they are now, their remaining routes, the
day's orders by live status, and the KPI strip, all scoped to the viewer.

Everything is read in a handful of column queries and assembled with pandas/numpy (no per-row
ORM objects), because the page re-reads it every few seconds for up to ~1,000 drivers and
~20,000 orders. A vendor viewer gets only its own drivers and the orders on their routes; a
driver only themselves and their own route (the same wall as `core.access`).

Definitions (the KPI strip):
- *delivered*, *failed*: the day's orders in that state.
- *on time*: delivered orders whose stop was reached (arrival, else delivery time) no later
  than the end of the booked window, as `on_time_rate` in the KPI registry; the rate is
  on time / delivered, None while nothing is delivered.
- *at risk*: an open order (unassigned, planned, out for delivery) whose window has already
  closed, whose ETA falls after the window, or that is still unassigned with less than
  `AT_RISK_UNASSIGNED_S` left. The ETA of a pending stop is its planned ETA pushed back by
  how late its route is running (now minus the planned ETA of the route's next stop).
- *active drivers*: drivers on a route now, or active and inside their shift.
- *open exceptions*: today's exception events that are not marked resolved and whose order
  (if any) is still open.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import Enum, String, func, select, type_coerce
from sqlalchemy.orm import Session

from core.access import Viewer, visible_driver_ids
from core.kinds import (
    OPEN_ORDER_STATES,
    PENDING_STOP_STATES,
    DriverStatus,
    EventKind,
    FleetType,
    OrderStatus,
    RouteStatus,
)
from core.models import Driver, Event, Fleet, Hub, Order, Plan, Route, Stop, UtcDateTime, Vehicle, Vendor
from core.timeutil import local_midnight_utc, time_of_day_s

AT_RISK_UNASSIGNED_S = 3600


class LiveStatus(StrEnum):
    """What an order shows as on the map: its state, or at risk when an open order will be late."""

    UNASSIGNED = "unassigned"
    PLANNED = "planned"
    OUT_FOR_DELIVERY = "out_for_delivery"
    AT_RISK = "at_risk"
    DELIVERED = "delivered"
    FAILED = "failed"


class DriverState(StrEnum):
    """A driver's state on the map, most urgent first when several apply."""

    EXCEPTION = "exception"
    ON_ROUTE = "on_route"
    ON_SHIFT = "on_shift"
    OFF_SHIFT = "off_shift"
    UNAVAILABLE = "unavailable"


class PositionSource(StrEnum):
    REPORTED = "reported"  # the driver's last event today (GPS ping, arrival, delivery, ...)
    HOME_HUB = "home_hub"  # nothing reported today yet


@dataclass(frozen=True)
class LiveKpis:
    delivered: int
    failed: int
    on_time: int
    at_risk: int
    active_drivers: int
    open_exceptions: int

    @property
    def on_time_rate(self) -> float | None:
        """A fraction 0..1 of delivered orders; None while nothing is delivered."""
        return self.on_time / self.delivered if self.delivered else None


@dataclass(frozen=True)
class LiveMap:
    """One snapshot of the day for one viewer. Frames, one row per thing (columns below).

    hubs: hub_id, code, name, lat, lon, timezone
    drivers: driver_id, code, name, fleet_type, fleet_code, vendor_id, vendor_name, hub_id,
        vehicle_type, driver_status, state, lat, lon, position_source, position_at,
        stops_left, next_eta_at
    orders: order_id, ref, hub_id, status, live_status, zone, sla_kind, address, lat, lon,
        window_start_at, window_end_at, eta_at, arrived_at, delivered_at, driver_id,
        driver_code, fleet_type, vendor_id
    routes: route_id, driver_id, hub_id, fleet_type, vendor_id, state, stops_left,
        path (list of [lon, lat] from the driver through the remaining stops back to the hub)
    exceptions: event_id, driver_id, order_id, occurred_at, reason, hub_id, fleet_type, vendor_id
    """

    day: date
    now: datetime
    hubs: pd.DataFrame
    drivers: pd.DataFrame
    orders: pd.DataFrame
    routes: pd.DataFrame
    exceptions: pd.DataFrame
    vendors: dict[int, str] = field(default_factory=dict)  # the vendors of visible drivers

    def kpis(self) -> LiveKpis:
        o, d = self.orders, self.drivers
        delivered = o["status"] == OrderStatus.DELIVERED
        reached = o["arrived_at"].fillna(o["delivered_at"])
        on_time = delivered & (reached <= o["window_end_at"])
        active = d["state"].isin([DriverState.ON_ROUTE, DriverState.ON_SHIFT, DriverState.EXCEPTION])
        return LiveKpis(
            delivered=int(delivered.sum()),
            failed=int((o["status"] == OrderStatus.FAILED).sum()),
            on_time=int(on_time.sum()),
            at_risk=int((o["live_status"] == LiveStatus.AT_RISK).sum()),
            active_drivers=int(active.sum()),
            open_exceptions=len(self.exceptions),
        )

    def filtered(
        self,
        *,
        hub_ids: frozenset[int] | None = None,
        fleet_types: frozenset[FleetType] | None = None,
        vendor_ids: frozenset[int] | None = None,
    ) -> LiveMap:
        """The part of the map in these hubs, fleet types and vendors (None: no filter).

        A fleet-type or vendor filter drops unassigned orders, which belong to no fleet yet.
        """

        def keep(frame: pd.DataFrame, hub_col: str = "hub_id") -> pd.DataFrame:
            mask = pd.Series(True, index=frame.index)
            if hub_ids is not None:
                mask &= frame[hub_col].isin(list(hub_ids))
            if fleet_types is not None:
                mask &= frame["fleet_type"].isin([str(t) for t in fleet_types])
            if vendor_ids is not None:
                mask &= frame["vendor_id"].isin(list(vendor_ids))
            return frame[mask]

        hubs = self.hubs if hub_ids is None else self.hubs[self.hubs["hub_id"].isin(list(hub_ids))]
        return replace(
            self,
            hubs=hubs,
            drivers=keep(self.drivers),
            orders=keep(self.orders),
            routes=keep(self.routes),
            exceptions=keep(self.exceptions),
        )

    def with_order_states(self, states: frozenset[LiveStatus] | None) -> LiveMap:
        """Only orders in these live states (None: all); drivers and routes untouched."""
        if states is None:
            return self
        return replace(self, orders=self.orders[self.orders["live_status"].isin([str(s) for s in states])])

    def with_driver_states(self, states: frozenset[DriverState] | None) -> LiveMap:
        if states is None:
            return self
        drivers = self.drivers[self.drivers["state"].isin([str(s) for s in states])]
        return replace(
            self, drivers=drivers, routes=self.routes[self.routes["driver_id"].isin(drivers["driver_id"])]
        )


def _frame(session: Session, stmt: Any, columns: list[str]) -> pd.DataFrame:
    """Run a column query straight on the connection and build the frame column-wise.

    Times and enums come back as the driver gives them (ISO text on SQLite) and are parsed
    vectorised by `_utc`; per-value ORM type processing is most of the cost at 20k rows.
    """
    raw = [
        type_coerce(c, String) if isinstance(c.type, (UtcDateTime, Enum)) else c
        for c in stmt.selected_columns
    ]
    rows = session.connection().execute(stmt.with_only_columns(*raw, maintain_column_froms=True)).all()
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return pd.DataFrame(dict(zip(columns, map(list, zip(*rows, strict=True)), strict=True)))


def _utc(series: pd.Series) -> pd.Series:
    """Aware UTC datetimes, whatever came in (datetimes, or all-missing floats from an empty map)."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return pd.to_datetime(series, utc=True)
    return pd.to_datetime(series.astype(object), utc=True, format="ISO8601")


def _lookup(keys: pd.Series, table: pd.Series) -> pd.Series:
    """`table[key]` for each key (NaN/NaT where absent); unlike `map`, keeps datetimes when empty."""
    return pd.Series(table.reindex(keys.to_numpy()).to_numpy(), index=keys.index)


def _seconds_of_day(values: pd.Series) -> np.ndarray:
    return np.array([time_of_day_s(t) for t in values], dtype=np.int64)


def hub_table(session: Session) -> pd.DataFrame:
    """Every hub: hub_id, code, name, lat, lon, timezone."""
    stmt = select(Hub.id, Hub.code, Hub.name, Hub.lat, Hub.lon, Hub.timezone).order_by(Hub.code)
    return _frame(session, stmt, ["hub_id", "code", "name", "lat", "lon", "timezone"])


def _drivers(session: Session, viewer: Viewer) -> pd.DataFrame:
    stmt = (
        select(
            Driver.id,
            Driver.code,
            Driver.name,
            Fleet.fleet_type,
            Fleet.code,
            Fleet.vendor_id,
            Vendor.name,
            Driver.home_hub_id,
            Vehicle.vehicle_type,
            Driver.status,
            Driver.shift_start,
            Driver.shift_end,
        )
        .join(Fleet, Driver.fleet_id == Fleet.id)
        .outerjoin(Vendor, Fleet.vendor_id == Vendor.id)
        .outerjoin(Vehicle, Driver.vehicle_id == Vehicle.id)
        .where(Driver.id.in_(visible_driver_ids(viewer)))
        .order_by(Driver.id)
    )
    frame = _frame(
        session,
        stmt,
        [
            "driver_id",
            "code",
            "name",
            "fleet_type",
            "fleet_code",
            "vendor_id",
            "vendor_name",
            "hub_id",
            "vehicle_type",
            "driver_status",
            "shift_start",
            "shift_end",
        ],
    )
    for col in ("fleet_type", "vehicle_type", "driver_status"):
        frame[col] = frame[col].astype(str)
    frame["vendor_id"] = frame["vendor_id"].astype("Int64")
    return frame


def _stops(session: Session, viewer: Viewer, day: date) -> pd.DataFrame:
    """Today's stops on visible drivers' routes, with their route; the latest stop per order."""
    stmt = (
        select(
            Stop.id,
            Stop.order_id,
            Stop.route_id,
            Route.driver_id,
            Plan.hub_id,
            Route.status,
            Route.started_at,
            Stop.sequence,
            Stop.status,
            Stop.planned_eta_at,
            Stop.arrived_at,
            Order.lat,
            Order.lon,
        )
        .join(Route, Stop.route_id == Route.id)
        .join(Plan, Route.plan_id == Plan.id)
        .join(Order, Stop.order_id == Order.id)
        .where(Plan.service_date == day, Route.driver_id.in_(visible_driver_ids(viewer)))
    )
    frame = _frame(
        session,
        stmt,
        [
            "stop_id",
            "order_id",
            "route_id",
            "driver_id",
            "route_hub_id",
            "route_status",
            "started_at",
            "sequence",
            "stop_status",
            "planned_eta_at",
            "arrived_at",
            "lat",
            "lon",
        ],
    )
    for col in ("route_status", "stop_status"):
        frame[col] = frame[col].astype(str)
    for col in ("started_at", "planned_eta_at", "arrived_at"):
        frame[col] = _utc(frame[col])
    return frame.sort_values("stop_id").drop_duplicates("order_id", keep="last")


def _orders(session: Session, viewer: Viewer, day: date) -> pd.DataFrame:
    stmt = select(
        Order.id,
        Order.external_ref,
        Order.hub_id,
        Order.status,
        Order.zone,
        Order.sla_kind,
        Order.address,
        Order.lat,
        Order.lon,
        Order.window_start_at,
        Order.window_end_at,
        Order.delivered_at,
    ).where(Order.service_date == day, Order.status != OrderStatus.CANCELLED)
    if not viewer.sees_everything:
        on_visible_routes = (
            select(Stop.order_id)
            .join(Route, Stop.route_id == Route.id)
            .join(Plan, Route.plan_id == Plan.id)
            .where(Plan.service_date == day, Route.driver_id.in_(visible_driver_ids(viewer)))
        )
        stmt = stmt.where(Order.id.in_(on_visible_routes))
    frame = _frame(
        session,
        stmt.order_by(Order.id),
        [
            "order_id",
            "ref",
            "hub_id",
            "status",
            "zone",
            "sla_kind",
            "address",
            "lat",
            "lon",
            "window_start_at",
            "window_end_at",
            "delivered_at",
        ],
    )
    for col in ("status", "sla_kind"):
        frame[col] = frame[col].astype(str)
    for col in ("window_start_at", "window_end_at", "delivered_at"):
        frame[col] = _utc(frame[col])
    return frame


def _events(
    session: Session, viewer: Viewer, start: datetime, end: datetime
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(last reported position per visible driver, exception events) between start and end."""
    in_day = (
        Event.occurred_at >= start,
        Event.occurred_at < end,
        Event.driver_id.in_(visible_driver_ids(viewer)),
    )
    latest = (
        select(Event.driver_id, func.max(Event.occurred_at).label("at"))
        .where(*in_day)
        .group_by(Event.driver_id)
        .subquery()
    )
    positions = _frame(
        session,
        select(Event.driver_id, Event.occurred_at, Event.lat, Event.lon, Event.id).join(
            latest, (Event.driver_id == latest.c.driver_id) & (Event.occurred_at == latest.c.at)
        ),
        ["driver_id", "position_at", "lat", "lon", "event_id"],
    )
    positions = positions.sort_values("event_id").drop_duplicates("driver_id", keep="last")
    positions["position_at"] = _utc(positions["position_at"])
    exceptions = _frame(
        session,
        select(Event.id, Event.driver_id, Event.order_id, Event.occurred_at, Event.payload)
        .where(*in_day, Event.kind == EventKind.EXCEPTION)
        .order_by(Event.id),
        ["event_id", "driver_id", "order_id", "occurred_at", "payload"],
    )
    exceptions["occurred_at"] = _utc(exceptions["occurred_at"])
    return positions.drop(columns="event_id"), exceptions


def _local_seconds(now: datetime, tz: str) -> int:
    local = now.astimezone(ZoneInfo(tz)).time()
    return time_of_day_s(local)


def read_live_map(session: Session, viewer: Viewer, day: date, now: datetime, tz: str) -> LiveMap:
    """The live map for `viewer` on `day` as of `now` (aware); `tz` is the hubs' time zone."""
    start = local_midnight_utc(day, tz)
    end = local_midnight_utc(day + timedelta(days=1), tz)
    now_ts = pd.Timestamp(now)
    hubs = hub_table(session)
    drivers = _drivers(session, viewer)
    stops = _stops(session, viewer, day)
    orders = _orders(session, viewer, day)
    positions, exceptions = _events(session, viewer, start, end)

    # Remaining stops, and how late each route runs: now minus the planned ETA of its next stop.
    remaining = stops[stops["stop_status"].isin([str(s) for s in PENDING_STOP_STATES])]
    remaining = remaining.sort_values(["route_id", "sequence"])
    next_eta = remaining.groupby("route_id")["planned_eta_at"].transform("first")
    delay = (now_ts - next_eta).clip(lower=pd.Timedelta(0))
    remaining = remaining.assign(eta_at=remaining["planned_eta_at"] + delay)

    # Orders: their latest stop, ETA and live status.
    orders = orders.merge(stops[["order_id", "driver_id", "arrived_at"]], on="order_id", how="left")
    orders = orders.merge(remaining[["order_id", "eta_at"]], on="order_id", how="left")
    orders["driver_id"] = orders["driver_id"].astype("Int64")
    orders["eta_at"] = _utc(orders["eta_at"])
    is_open = orders["status"].isin([str(s) for s in OPEN_ORDER_STATES])
    late = (orders["window_end_at"] < now_ts) | (orders["eta_at"] > orders["window_end_at"]).fillna(False)
    short = (orders["status"] == OrderStatus.UNASSIGNED) & (
        orders["window_end_at"] - now_ts < pd.Timedelta(seconds=AT_RISK_UNASSIGNED_S)
    )
    orders["live_status"] = orders["status"].where(~(is_open & (late | short)), str(LiveStatus.AT_RISK))
    by_driver = drivers.set_index("driver_id")
    orders["driver_code"] = orders["driver_id"].map(by_driver["code"])
    orders["fleet_type"] = orders["driver_id"].map(by_driver["fleet_type"])
    orders["vendor_id"] = orders["driver_id"].map(by_driver["vendor_id"]).astype("Int64")

    # Exceptions still open: not marked resolved, and their order (if any) still open.
    open_ids = set(orders.loc[is_open, "order_id"])
    unresolved = ~exceptions["payload"].map(lambda p: bool((p or {}).get("resolved"))).astype(bool)
    order_open = exceptions["order_id"].isna() | exceptions["order_id"].isin(open_ids)
    exceptions = exceptions[unresolved & order_open].copy()
    exceptions["reason"] = exceptions["payload"].map(lambda p: str((p or {}).get("reason", "exception")))
    exceptions = exceptions.drop(columns="payload")
    for col in ("hub_id", "fleet_type", "vendor_id"):
        exceptions[col] = exceptions["driver_id"].map(by_driver[col])
    exceptions["vendor_id"] = exceptions["vendor_id"].astype("Int64")

    drivers = _place_drivers(drivers, hubs, positions, remaining, stops, exceptions, now, tz)
    routes = _remaining_routes(remaining, drivers, hubs)
    vendors = {
        int(v): str(n)
        for v, n in drivers[["vendor_id", "vendor_name"]].dropna().drop_duplicates().itertuples(index=False)
    }
    return LiveMap(
        day,
        now,
        hubs,
        drivers.drop(columns=["shift_start", "shift_end"]),
        orders,
        routes,
        exceptions,
        vendors,
    )


def _place_drivers(
    drivers: pd.DataFrame,
    hubs: pd.DataFrame,
    positions: pd.DataFrame,
    remaining: pd.DataFrame,
    stops: pd.DataFrame,
    exceptions: pd.DataFrame,
    now: datetime,
    tz: str,
) -> pd.DataFrame:
    """Position (last report today, else the home hub) and state of every driver."""
    hub_pos = hubs.set_index("hub_id")[["lat", "lon"]]
    d = drivers.merge(positions, on="driver_id", how="left")
    reported = d["lat"].notna()
    d["lat"] = d["lat"].fillna(d["hub_id"].map(hub_pos["lat"]))
    d["lon"] = d["lon"].fillna(d["hub_id"].map(hub_pos["lon"]))
    d["position_source"] = np.where(reported, str(PositionSource.REPORTED), str(PositionSource.HOME_HUB))
    d["position_at"] = _utc(d["position_at"])
    left = remaining.groupby("driver_id").agg(stops_left=("stop_id", "size"), next_eta_at=("eta_at", "min"))
    d["stops_left"] = d["driver_id"].map(left["stops_left"]).fillna(0).astype(int)
    d["next_eta_at"] = _utc(_lookup(d["driver_id"], left["next_eta_at"]))
    started = stops[stops["started_at"].notna() | (stops["route_status"] == RouteStatus.IN_PROGRESS)]
    on_route = d["driver_id"].isin(started["driver_id"]) & (d["stops_left"] > 0)
    now_s = _local_seconds(now, tz)
    on_shift = (_seconds_of_day(d["shift_start"]) <= now_s) & (now_s < _seconds_of_day(d["shift_end"]))
    available = d["driver_status"] == DriverStatus.ACTIVE
    d["state"] = np.select(
        [
            ~available,
            d["driver_id"].isin(exceptions["driver_id"]),
            on_route,
            pd.Series(on_shift, index=d.index),
        ],
        [
            str(DriverState.UNAVAILABLE),
            str(DriverState.EXCEPTION),
            str(DriverState.ON_ROUTE),
            str(DriverState.ON_SHIFT),
        ],
        default=str(DriverState.OFF_SHIFT),
    )
    return d


def _remaining_routes(remaining: pd.DataFrame, drivers: pd.DataFrame, hubs: pd.DataFrame) -> pd.DataFrame:
    """One path per route with stops left: driver position -> remaining stops -> the route's hub."""
    columns = ["route_id", "driver_id", "hub_id", "fleet_type", "vendor_id", "state", "stops_left", "path"]
    if remaining.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    by_driver = drivers.set_index("driver_id")
    hub_pos = hubs.set_index("hub_id")
    first = remaining.drop_duplicates("route_id")  # sorted by route, sequence: one row per route
    routes = pd.DataFrame(
        {
            "route_id": first["route_id"].to_numpy(),
            "driver_id": first["driver_id"].to_numpy(),
            "hub_id": first["route_hub_id"].to_numpy(),
        }
    )
    for col in ("fleet_type", "vendor_id", "state", "lon", "lat"):
        routes[col] = routes["driver_id"].map(by_driver[col]).to_numpy()
    routes["stops_left"] = remaining.groupby("route_id", sort=True).size().to_numpy()
    # Split the stacked stop coordinates at route boundaries, then add the two ends per route.
    xy = remaining[["lon", "lat"]].to_numpy(dtype=np.float64).round(6).tolist()
    bounds = [0, *(np.flatnonzero(np.diff(remaining["route_id"].to_numpy())) + 1).tolist(), len(xy)]
    start = routes[["lon", "lat"]].to_numpy(dtype=np.float64).round(6).tolist()
    end = hub_pos.loc[routes["hub_id"], ["lon", "lat"]].to_numpy(dtype=np.float64).round(6).tolist()
    routes["path"] = [
        [s, *xy[a:b], e] for s, a, b, e in zip(start, bounds[:-1], bounds[1:], end, strict=True)
    ]
    routes["vendor_id"] = routes["vendor_id"].astype("Int64")
    return routes[columns]


__all__ = [
    "AT_RISK_UNASSIGNED_S",
    "DriverState",
    "LiveKpis",
    "LiveMap",
    "LiveStatus",
    "PositionSource",
    "hub_table",
    "read_live_map",
]
