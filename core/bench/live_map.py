"""Benchmark: build the live map's read model and layers for a large day; prints a table.

Also home of `day_under_way`, which turns a freshly seeded (all unassigned) day into one in
progress at a given time: routes by a simple angular sweep per hub, stops with ETAs, the
stops before `now` done (a few failed), GPS pings, one open breakdown. It stands in for the
allocator and the simulator so the map, its tests and this bench see routes; it is not a
planner. Times are wall seconds on whatever machine runs it; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from core.access import Viewer
from core.bulk import bulk_insert
from core.compliance import blocked_driver_ids
from core.db import make_engine, migrate, unit_of_work
from core.geo import haversine_m
from core.kinds import DriverStatus, EventKind, OrderStatus, Role, RouteStatus, StopStatus
from core.live import LiveMap, read_live_map
from core.models import Driver, Event, Hub, Order, Plan, Route, Stop
from core.scenario import ScenarioParams, seed_scenario
from core.timeutil import at_seconds, time_of_day_s

CIRCUITY = 1.3
SPEED_M_PER_S = 22_000 / 3600
ASSIGNED_SHARE = 0.95
FAIL_SHARE = 0.05
MEAN_RUNNING_LATE_S = 900
BENCH_DAY = date(2026, 11, 27)
BENCH_TZ = "America/New_York"


@dataclass(frozen=True)
class UnderWay:
    routes: int
    stops: int
    done: int
    failed: int
    pings: int
    breakdown_driver_id: int | None


def _frame(session: Session, stmt: object, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(session.execute(stmt).all(), columns=columns)  # type: ignore[call-overload]


def day_under_way(session: Session, day: date, now: datetime, tz: str, seed: int = 0) -> UnderWay:
    """Plan `day`'s unassigned orders onto active drivers compliance does not block, and play
    the day forward to `now`.

    Writes plans, routes, stops, events and order states in the caller's transaction.
    """
    rng = np.random.default_rng(seed)
    hubs = _frame(
        session, select(Hub.id, Hub.lat, Hub.lon, Hub.turnaround_s), ["hub_id", "lat", "lon", "turnaround_s"]
    ).set_index("hub_id")
    drivers = _frame(
        session,
        select(Driver.id, Driver.home_hub_id, Driver.shift_start, Driver.shift_end, Driver.vehicle_id)
        .where(Driver.status == DriverStatus.ACTIVE, Driver.id.not_in(blocked_driver_ids(session, day)))
        .order_by(Driver.id),
        ["driver_id", "hub_id", "shift_start", "shift_end", "vehicle_id"],
    )
    orders = _frame(
        session,
        select(Order.id, Order.hub_id, Order.lat, Order.lon, Order.window_start_at, Order.service_time_s)
        .where(Order.service_date == day, Order.status == OrderStatus.UNASSIGNED)
        .order_by(Order.id),
        ["order_id", "hub_id", "lat", "lon", "window_start_at", "service_s"],
    )
    orders = orders[rng.random(len(orders)) < ASSIGNED_SHARE]
    route_rows, stop_rows, event_rows, order_updates = [], [], [], []
    pings = 0
    breakdown: int | None = None
    for hub_id, hub_orders in orders.groupby("hub_id"):
        hub = hubs.loc[hub_id]
        crew = drivers[drivers["hub_id"] == hub_id]
        if crew.empty:
            continue
        plan = Plan(hub_id=int(hub_id), service_date=day, updated_at=now)
        session.add(plan)
        session.flush()
        angle = np.arctan2(hub_orders["lat"] - hub["lat"], hub_orders["lon"] - hub["lon"])
        swept = hub_orders.assign(angle=angle).sort_values("angle")
        for driver, part in zip(
            crew.itertuples(), np.array_split(np.arange(len(swept)), len(crew)), strict=True
        ):
            if not len(part):
                continue
            chunk = swept.iloc[part].sort_values(["window_start_at", "angle"])
            start = at_seconds(day, tz, time_of_day_s(driver.shift_start)) + timedelta(
                seconds=int(hub["turnaround_s"])
            )
            lat = np.concatenate([[hub["lat"]], chunk["lat"]])
            lon = np.concatenate([[hub["lon"]], chunk["lon"]])
            travel_s = haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:]) * CIRCUITY / SPEED_M_PER_S
            late_s = float(rng.exponential(MEAN_RUNNING_LATE_S))
            fails = rng.random(len(chunk)) < FAIL_SHARE
            clock, etas, actual = start, [], []
            for leg_s, ws, service_s in zip(
                travel_s, chunk["window_start_at"], chunk["service_s"], strict=True
            ):
                clock = max(clock + timedelta(seconds=float(leg_s)), ws.to_pydatetime())
                etas.append(clock)
                actual.append(clock + timedelta(seconds=late_s))
                clock += timedelta(seconds=int(service_s))
            started = start <= now
            route = Route(
                plan_id=plan.id,
                driver_id=int(driver.driver_id),
                vehicle_id=None if pd.isna(driver.vehicle_id) else int(driver.vehicle_id),
                status=RouteStatus.PLANNED,
                planned_start_at=start,
                planned_end_at=clock,
                started_at=start if started else None,
            )
            session.add(route)
            route_rows.append(route)
            session.flush()
            last = (float(hub["lat"]), float(hub["lon"]), start)
            left = 0
            for seq, (order, eta, arrive, failed) in enumerate(
                zip(chunk.itertuples(), etas, actual, fails, strict=True)
            ):
                done_at = arrive + timedelta(seconds=int(order.service_s))
                finished = started and done_at <= now
                status = (
                    (StopStatus.FAILED if failed else StopStatus.DELIVERED)
                    if finished
                    else (StopStatus.ARRIVED if started and arrive <= now else StopStatus.PENDING)
                )
                stop_rows.append(
                    {
                        "route_id": route.id,
                        "order_id": int(order.order_id),
                        "sequence": seq,
                        "status": status,
                        "loaded": started,
                        "planned_eta_at": eta,
                        "arrived_at": arrive if started and arrive <= now else None,
                        "completed_at": done_at if finished else None,
                    }
                )
                where = {
                    "driver_id": int(driver.driver_id),
                    "order_id": int(order.order_id),
                    "lat": float(order.lat),
                    "lon": float(order.lon),
                    "occurred_at": done_at,
                }
                if finished and failed:
                    event_rows.append(
                        {
                            **where,
                            "kind": EventKind.EXCEPTION,
                            "payload": {"reason": "not_home", "action": "return_to_depot"},
                        }
                    )
                    event_rows.append({**where, "kind": EventKind.FAILED, "payload": {"reason": "not_home"}})
                elif finished:
                    event_rows.append(
                        {
                            **where,
                            "kind": EventKind.DELIVERED,
                            "payload": {"pod": "photo", "recipient": "customer"},
                        }
                    )
                if finished:
                    last = (float(order.lat), float(order.lon), done_at)
                    order_updates.append(
                        {
                            "id": int(order.order_id),
                            "attempts": 1,
                            "status": OrderStatus.FAILED if failed else OrderStatus.DELIVERED,
                            "delivered_at": None if failed else done_at,
                        }
                    )
                else:
                    left += 1
                    order_updates.append(
                        {
                            "id": int(order.order_id),
                            "attempts": 0,
                            "delivered_at": None,
                            "status": OrderStatus.OUT_FOR_DELIVERY if started else OrderStatus.PLANNED,
                        }
                    )
            if started and left:
                route.status = RouteStatus.IN_PROGRESS
                nxt = chunk.iloc[len(chunk) - left]
                share = 0.5  # half-way between the last place done and the next stop
                event_rows.append(
                    {
                        "driver_id": int(driver.driver_id),
                        "order_id": None,
                        "kind": EventKind.GPS_PING,
                        "occurred_at": now - timedelta(seconds=20),
                        "lat": last[0] + share * (float(nxt["lat"]) - last[0]),
                        "lon": last[1] + share * (float(nxt["lon"]) - last[1]),
                        "payload": {},
                    }
                )
                pings += 1
                if breakdown is None:
                    breakdown = int(driver.driver_id)
                    event_rows.append(
                        {
                            **event_rows[-1],
                            "kind": EventKind.EXCEPTION,
                            "occurred_at": now - timedelta(seconds=10),
                            "payload": {"reason": "vehicle_breakdown"},
                        }
                    )
            elif started:
                route.status = RouteStatus.COMPLETED
                route.finished_at = last[2]
    bulk_insert(session, Stop.__table__, stop_rows)  # type: ignore[arg-type]
    bulk_insert(session, Event.__table__, event_rows)  # type: ignore[arg-type]
    if order_updates:
        session.execute(update(Order), order_updates)
    session.flush()
    failed_n = sum(1 for s in stop_rows if s["status"] is StopStatus.FAILED)
    done_n = sum(1 for s in stop_rows if s["status"] in (StopStatus.FAILED, StopStatus.DELIVERED))
    return UnderWay(len(route_rows), len(stop_rows), done_n, failed_n, pings, breakdown)


LayerBuilder = Callable[[LiveMap], object]


def _timed(fn: Callable[[], object], repeat: int) -> tuple[object, float]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return result, best


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sizes", default="200x5000,1000x20000", help="comma-separated DRIVERSxORDERS scenarios"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per step; the best is reported")
    parser.add_argument("--at", default="13:00", help="local time of day the day is under way to")


def main(args: argparse.Namespace, build_layers: LayerBuilder) -> int:
    """Seed each size (days=0), then time the read model and `build_layers` on the open day and
    on the same day under way at `--at`, for an operations viewer."""
    hour, minute = (int(x) for x in args.at.split(":"))
    now = at_seconds(BENCH_DAY, BENCH_TZ, hour * 3600 + minute * 60).astimezone(UTC)
    viewer = Viewer(username="bench", role=Role.DISPATCHER)
    rows = []
    for size in args.sizes.split(","):
        n_drivers, n_orders = (int(x) for x in size.lower().split("x"))
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
            migrate(engine)
            with unit_of_work(engine) as session:
                seed_scenario(
                    session, ScenarioParams(orders=n_orders, drivers=n_drivers, days=0, today=BENCH_DAY)
                )
            for label in ("open day", f"under way {args.at}"):
                if label != "open day":
                    with unit_of_work(engine) as session:
                        day_under_way(session, BENCH_DAY, now, BENCH_TZ)

                def read(engine: Engine = engine) -> LiveMap:
                    with unit_of_work(engine, read_only=True) as s:
                        return read_live_map(s, viewer, BENCH_DAY, now, BENCH_TZ)

                live, read_s = _timed(read, args.repeat)
                assert isinstance(live, LiveMap)
                _, layers_s = _timed(lambda live=live: build_layers(live), args.repeat)  # type: ignore[misc]
                rows.append(
                    (
                        n_drivers,
                        n_orders,
                        label,
                        len(live.drivers),
                        len(live.orders),
                        len(live.routes),
                        read_s,
                        layers_s,
                    )
                )
            engine.dispose()
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
        f"SQLite, best of {args.repeat}"
    )
    print(
        f"{'drivers':>7} {'orders':>7} {'day':<16} {'shown drv':>9} {'shown ord':>9} {'routes':>6} "
        f"{'read s':>7} {'layers s':>8} {'total s':>7}"
    )
    for n_d, n_o, label, d, o, r, read_s, layers_s in rows:
        print(
            f"{n_d:>7} {n_o:>7} {label:<16} {d:>9} {o:>9} {r:>6} {read_s:>7.3f} {layers_s:>8.3f} "
            f"{read_s + layers_s:>7.3f}"
        )
    return 0
