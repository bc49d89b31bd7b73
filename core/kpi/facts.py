"""Load the facts every KPI is computed from: three grouped SQL queries into DataFrames.

The grain is (driver, day, hub): orders are counted in SQL per driver of their latest stop,
routes are priced per route with the fleet's own pay model and summed, exceptions are counted
per reason. Any slice (fleet type, vendor, fleet, hub, driver, day, or the whole period) is
then a pandas group-by over a few thousand rows, which is what keeps a month of a metro
under a second. Scoping happens here, in SQL: a vendor viewer's facts come only from its own
drivers (`visible_driver_ids`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import BigInteger, and_, case, func, or_, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from core.access import Viewer, visible_driver_ids
from core.allocator.costs import route_cost_cents
from core.fleet_costs import fleet_cost
from core.kinds import EventKind, OrderStatus, StopStatus
from core.kpi.definitions import CAPTIVE_NAME, CAPTIVE_VENDOR
from core.models import Driver, Event, Fleet, Hub, Order, Plan, Route, Stop, Vehicle, Vendor
from core.timeutil import local_midnight_utc, time_of_day_s

SUM_COLUMNS: tuple[str, ...] = (
    "orders",
    "delivered",
    "failed",
    "on_time",
    "attempted",
    "first_attempt",
    "route_cost_cents",
    "drops",
    "attempted_stops",
    "on_task_s",
    "capped_on_task_s",
    "shift_s",
    "distance_m",
    "co2_g",
    "exceptions",
    "driver_days",
)
"""Additive columns of the work table; every KPI is a sum or a ratio of sums of these."""

DIMENSIONS: tuple[str, ...] = (
    "driver",
    "driver_name",
    "fleet",
    "fleet_type",
    "vendor",
    "vendor_name",
    "hub",
    "day",
)
UNSPECIFIED_REASON = "unspecified"


@dataclass(frozen=True)
class KpiFacts:
    """`work`: one row per (driver, day, hub) with `SUM_COLUMNS` and `DIMENSIONS`;
    `exceptions`: one row per (driver, day, hub, reason) with a count, and the same dimensions."""

    work: pd.DataFrame
    exceptions: pd.DataFrame


class epoch_s(FunctionElement[int]):  # noqa: N801 - reads as a SQL function
    """Whole seconds since 1970 of a stored UTC time, computed by the database: route
    durations then arrive as integers, with no per-value datetime parsing in Python."""

    type = BigInteger()
    inherit_cache = True
    name = "epoch_s"


@compiles(epoch_s)
def _epoch_default(element: epoch_s, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})) AS BIGINT)"


@compiles(epoch_s, "sqlite")
def _epoch_sqlite(element: epoch_s, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER)"


def _frame(session: Session, stmt: Any, columns: list[str]) -> pd.DataFrame:
    """Rows as plain tuples (pandas probes SQLAlchemy rows attribute by attribute)."""
    return pd.DataFrame([tuple(r) for r in session.execute(stmt)], columns=columns)


def _visible(driver_id: Any, viewer: Viewer) -> Any:
    """The viewer's driver filter on `driver_id`. For a viewer who sees every driver it is left
    out: a no-op there, and on SQLite it would steer the planner away from the date index."""
    return true() if viewer.sees_everything else driver_id.in_(visible_driver_ids(viewer))


def _sum_if(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _order_facts(session: Session, viewer: Viewer, start: date, end: date) -> pd.DataFrame:
    """Orders per (driver of the latest stop, service day, hub), with outcome counts."""
    later = aliased(Stop)
    has_later_stop = select(later.id).where(later.order_id == Stop.order_id, later.id > Stop.id).exists()
    delivered = Order.status == OrderStatus.DELIVERED
    started_at = func.coalesce(Stop.arrived_at, Order.delivered_at)
    stmt = (
        select(
            Route.driver_id,
            Order.service_date,
            Order.hub_id,
            func.count(),
            _sum_if(delivered),
            _sum_if(Order.status == OrderStatus.FAILED),
            _sum_if(and_(delivered, started_at <= Order.window_end_at)),
            _sum_if(Order.attempts >= 1),
            _sum_if(and_(delivered, Order.attempts == 1)),
        )
        .select_from(Order)
        .join(Stop, Stop.order_id == Order.id)
        .join(Route, Route.id == Stop.route_id)
        .where(Order.service_date.between(start, end), ~has_later_stop, _visible(Route.driver_id, viewer))
        .group_by(Route.driver_id, Order.service_date, Order.hub_id)
    )
    columns = [
        "driver_id",
        "day",
        "hub_id",
        "orders",
        "delivered",
        "failed",
        "on_time",
        "attempted",
        "first_attempt",
    ]
    return _frame(session, stmt, columns)


def _route_rows(session: Session, viewer: Viewer, start: date, end: date) -> pd.DataFrame:
    """One row per route of the period: duration and distance (actual once finished, planned
    before), the vehicle's CO2 rate and the route's stop counts."""
    in_range = Plan.service_date.between(start, end)
    counts = (
        select(
            Route.id.label("route_id"),
            func.count(Stop.id).label("drops"),
            _sum_if(Stop.status.in_([StopStatus.DELIVERED, StopStatus.FAILED])).label("attempted_stops"),
        )
        .select_from(Plan)
        .join(Route, Route.plan_id == Plan.id)
        .join(Stop, Stop.route_id == Route.id)
        .where(in_range)
        .group_by(Route.id)
        .subquery()
    )
    vehicle = aliased(Vehicle)
    finished = and_(Route.started_at.is_not(None), Route.finished_at.is_not(None))
    duration_s = case(
        (finished, epoch_s(Route.finished_at) - epoch_s(Route.started_at)),
        else_=epoch_s(Route.planned_end_at) - epoch_s(Route.planned_start_at),
    )
    distance_m = case(
        (or_(finished, Route.distance_m >= Route.planned_distance_m), Route.distance_m),
        else_=Route.planned_distance_m,
    )
    stmt = (
        select(
            Route.driver_id,
            Plan.service_date,
            Plan.hub_id,
            duration_s,
            distance_m,
            func.coalesce(vehicle.co2_g_per_km, 0),
            func.coalesce(counts.c.drops, 0),
            func.coalesce(counts.c.attempted_stops, 0),
        )
        .select_from(Plan)
        .join(Route, Route.plan_id == Plan.id)
        .join(Driver, Driver.id == Route.driver_id)
        .outerjoin(vehicle, vehicle.id == func.coalesce(Route.vehicle_id, Driver.vehicle_id))
        .outerjoin(counts, counts.c.route_id == Route.id)
        .where(in_range, _visible(Route.driver_id, viewer))
    )
    columns = [
        "driver_id",
        "day",
        "hub_id",
        "on_task_s",
        "distance_m",
        "co2_g_per_km",
        "drops",
        "attempted_stops",
    ]
    return _frame(session, stmt, columns)


def _route_facts(routes: pd.DataFrame, drivers: pd.DataFrame) -> pd.DataFrame:
    """Price each route with its fleet's pay model, then sum per (driver, day, hub)."""
    columns = ["route_cost_cents", "drops", "attempted_stops", "on_task_s", "distance_m", "co2_g"]
    if routes.empty:
        return pd.DataFrame(columns=["driver_id", "day", "hub_id", *columns])
    duration_s = np.maximum(routes["on_task_s"].fillna(0).to_numpy(dtype=np.int64), 0)
    distance_m = routes["distance_m"].to_numpy(dtype=np.int64)
    cost_of = drivers["cost"].to_dict()
    routes = routes.assign(
        on_task_s=duration_s,
        co2_g=distance_m * routes["co2_g_per_km"].to_numpy(dtype=float) / 1000.0,
        route_cost_cents=[
            route_cost_cents(cost_of[d], int(t), int(m), int(n))
            for d, t, m, n in zip(routes["driver_id"], duration_s, distance_m, routes["drops"], strict=True)
        ],
    )
    return routes.groupby(["driver_id", "day", "hub_id"], as_index=False)[columns].sum()


def _exception_facts(
    session: Session, viewer: Viewer, start: date, end: date, drivers: pd.DataFrame, hubs: pd.DataFrame
) -> pd.DataFrame:
    """Exception events per (driver, day, hub, reason). An exception about an order counts on
    the order's service day and hub; one without an order (a breakdown) on its local day at the
    driver's home hub."""
    reason = func.coalesce(Event.payload["reason"].as_string(), UNSPECIFIED_REASON)
    visible = _visible(Event.driver_id, viewer)
    about_orders = (
        select(Event.driver_id, Order.service_date, Order.hub_id, reason, func.count())
        .join(Order, Order.id == Event.order_id)
        .where(Event.kind == EventKind.EXCEPTION, visible, Order.service_date.between(start, end))
        .group_by(Event.driver_id, Order.service_date, Order.hub_id, reason)
    )
    columns = ["driver_id", "day", "hub_id", "reason", "exceptions"]
    counted = _frame(session, about_orders, columns)
    # A local day starts at most 14 h from UTC midnight: widen the instant filter by a day on
    # each side, then keep exactly the local days in range.
    lo = local_midnight_utc(start, "UTC") - timedelta(days=1)
    hi = local_midnight_utc(end, "UTC") + timedelta(days=2)
    loose = session.execute(
        select(Event.driver_id, Event.occurred_at, reason).where(
            Event.kind == EventKind.EXCEPTION,
            visible,
            Event.order_id.is_(None),
            Event.occurred_at >= lo,
            Event.occurred_at < hi,
        )
    ).all()
    extra = []
    for driver_id, occurred_at, why in loose:
        hub_id = int(drivers.at[driver_id, "home_hub_id"])
        day = occurred_at.astimezone(ZoneInfo(hubs.at[hub_id, "timezone"])).date()
        if start <= day <= end:
            extra.append((driver_id, day, hub_id, why, 1))
    if extra:
        counted = pd.concat([counted, pd.DataFrame(extra, columns=columns)], ignore_index=True)
        counted = counted.groupby(columns[:-1], as_index=False)["exceptions"].sum()
    return counted


def _drivers(session: Session, viewer: Viewer) -> pd.DataFrame:
    """Visible drivers with their fleet, vendor, pay model and shift length, indexed by id."""
    stmt = (
        select(
            Driver.id,
            Driver.code,
            Driver.name,
            Driver.home_hub_id,
            Driver.shift_start,
            Driver.shift_end,
            Fleet.code,
            Fleet.fleet_type,
            Vendor.code,
            Vendor.name,
            Fleet.per_hour_cents,
            Fleet.per_km_cents,
            Fleet.per_drop_cents,
            Fleet.route_minimum_cents,
            Fleet.per_task_cents,
            Fleet.min_payout_cents,
        )
        .join(Fleet, Fleet.id == Driver.fleet_id)
        .outerjoin(Vendor, Vendor.id == Fleet.vendor_id)
        .where(Driver.id.in_(visible_driver_ids(viewer)))
    )
    rows = []
    for (
        driver_id,
        code,
        name,
        home_hub_id,
        shift_start,
        shift_end,
        fleet_code,
        fleet_type,
        vendor_code,
        vendor_name,
        *rates,
    ) in session.execute(stmt):
        cost = fleet_cost(_RateRow(fleet_type, *rates))
        rows.append(
            (
                driver_id,
                code,
                name,
                home_hub_id,
                _shift_s(shift_start, shift_end),
                fleet_code,
                str(fleet_type),
                vendor_code or CAPTIVE_VENDOR,
                vendor_name or CAPTIVE_NAME,
                cost,
            )
        )
    frame = pd.DataFrame(
        rows,
        columns=[
            "driver_id",
            "driver",
            "driver_name",
            "home_hub_id",
            "shift_s",
            "fleet",
            "fleet_type",
            "vendor",
            "vendor_name",
            "cost",
        ],
    )
    return frame.set_index("driver_id")


@dataclass(frozen=True)
class _RateRow:
    """A fleet's rate columns as `fleet_cost` reads them."""

    fleet_type: Any
    per_hour_cents: int
    per_km_cents: int
    per_drop_cents: int
    route_minimum_cents: int
    per_task_cents: int
    min_payout_cents: int


def _shift_s(shift_start: time, shift_end: time) -> int:
    """Length of a daily shift in seconds (shifts do not cross midnight: a CHECK holds it)."""

    def seconds(t: time) -> int:
        return time_of_day_s(t)

    return max(seconds(shift_end) - seconds(shift_start), 0)


def _hubs(session: Session) -> pd.DataFrame:
    rows = session.execute(select(Hub.id, Hub.code, Hub.timezone)).all()
    return pd.DataFrame(rows, columns=["hub_id", "hub", "timezone"]).set_index("hub_id")


def _assign_driver_days(work: pd.DataFrame, drivers: pd.DataFrame) -> pd.DataFrame:
    """Shift time, capped time on task and the driver-day count go once per (driver, day), on
    the row of the hub where the driver spent most time, so no split double-counts a shift."""
    on_task = work.groupby(["driver_id", "day"])["on_task_s"].transform("sum")
    worked = on_task > 0
    first = ~work.sort_values("on_task_s", ascending=False).duplicated(["driver_id", "day"])
    primary = first.reindex(work.index) & worked
    shift = work["driver_id"].map(drivers["shift_s"]).fillna(0).astype(np.int64)
    return work.assign(
        shift_s=np.where(primary, shift, 0),
        capped_on_task_s=np.where(primary, np.minimum(on_task, shift), 0),
        driver_days=primary.astype(np.int64),
    )


def load_facts(session: Session, viewer: Viewer, start: date, end: date) -> KpiFacts:
    """The KPI facts of days `start`..`end` (inclusive, service dates) that `viewer` may see."""
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    drivers = _drivers(session, viewer)
    hubs = _hubs(session)
    keys = ["driver_id", "day", "hub_id"]
    orders = _order_facts(session, viewer, start, end)
    routes = _route_facts(_route_rows(session, viewer, start, end), drivers)
    exceptions = _exception_facts(session, viewer, start, end, drivers, hubs)
    per_cell = exceptions.groupby(keys, as_index=False)["exceptions"].sum()
    work = orders.merge(routes, on=keys, how="outer").merge(per_cell, on=keys, how="outer")
    filled = [c for c in SUM_COLUMNS if c in work.columns]
    work[filled] = work[filled].fillna(0)
    work = _assign_driver_days(work.reset_index(drop=True), drivers)
    return KpiFacts(_with_dimensions(work, drivers, hubs), _with_dimensions(exceptions, drivers, hubs))


def _with_dimensions(frame: pd.DataFrame, drivers: pd.DataFrame, hubs: pd.DataFrame) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    by_driver = drivers.reindex(frame["driver_id"])
    dims = {
        name: by_driver[name].to_numpy()
        for name in ("driver", "driver_name", "fleet", "fleet_type", "vendor", "vendor_name")
    }
    dims["hub"] = frame["hub_id"].map(hubs["hub"]).to_numpy()
    dims["day"] = np.array([d.isoformat() for d in frame["day"]], dtype=object)
    return frame.assign(**dims)
