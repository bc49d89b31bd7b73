"""The disrupted mid-day states of `ctower bench replan`, one named function per event.

Each takes a session on a day under way, the hub and the time, and changes the database the way
the real event does: through the field services the driver app and the simulator use where
there is one (a breakdown is reported and handed to the co-pilot; a late start is reported), and
through the rows the day state reads where there is none (the shift on the driver profile, the
driver's status). Traffic has no place in the database: it comes back as a travel model.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.agents.autopilot import hub_signals
from core.agents.dispatch_problem import load_day_state
from core.allocator.stop import MaxRuntime
from core.allocator.travel import HaversineTravel, IntMatrix, TravelModel
from core.bench.live_map import BENCH_DAY
from core.bench.rebalance import NOW_S, add_urgent_orders
from core.field import ExceptionReason, ProblemDetail, ProblemReport, report_problem
from core.geo import haversine_m
from core.kinds import DriverStatus, RouteStatus, StopStatus, VendorKind
from core.models import Driver, Event, Fleet, Hub, Plan, Route, Stop, Vendor
from core.sim.reactions import Problem, handle_problem

URGENT_ORDERS = 20
BROKEN_VANS = 2
LATE_STARTERS = 6
LATE_START_MIN_S, LATE_START_MAX_S = 60 * 60, 90 * 60
TRAFFIC_SPEED_FACTOR = 0.6  # 40% slower
TRAFFIC_S = 2 * 3600
WITHDRAWN = 5


@dataclass(frozen=True)
class Disrupted:
    """What the re-plan must know beyond the database; `travel` replaces the day state's travel
    model (traffic, which the database has no place for)."""

    note: str
    drivers: tuple[str, ...] = ()  # the drivers it struck (codes)
    travel: TravelModel | None = None


Disruption = Callable[[Session, Hub, datetime, int], Disrupted]


def _todays_routes(session: Session, hub: Hub) -> list[tuple[Route, Driver]]:
    return [
        (route, driver)
        for route, driver in session.execute(
            select(Route, Driver)
            .join(Plan, Plan.id == Route.plan_id)
            .join(Driver, Driver.id == Route.driver_id)
            .where(
                Plan.hub_id == hub.id, Plan.service_date == BENCH_DAY, Driver.status == DriverStatus.ACTIVE
            )
            .order_by(Driver.id)
        )
    ]


def _pending(session: Session, route: Route, *, loaded: bool) -> int:
    return int(
        session.scalar(
            select(func.count(Stop.id)).where(
                Stop.route_id == route.id, Stop.status == StopStatus.PENDING, Stop.loaded.is_(loaded)
            )
        )
        or 0
    )


def _where(session: Session, driver: Driver, hub: Hub, now: datetime) -> tuple[float, float]:
    last = session.execute(
        select(Event.lat, Event.lon)
        .where(Event.driver_id == driver.id, Event.occurred_at <= now)
        .order_by(Event.occurred_at.desc(), Event.id.desc())
        .limit(1)
    ).first()
    return (float(last[0]), float(last[1])) if last else (hub.lat, hub.lon)


def urgent(session: Session, hub: Hub, now: datetime, seed: int) -> Disrupted:
    """20 urgent premium orders due 12:00-14:00 arrive on the hub."""
    add_urgent_orders(session, hub, URGENT_ORDERS, seed)
    return Disrupted(f"{URGENT_ORDERS} urgent orders due 12:00-14:00")


def breakdown(session: Session, hub: Hub, now: datetime, seed: int) -> Disrupted:
    """Two vans on the road with stops loaded break down, reported from the driver app and
    handled by the co-pilot exactly as in the simulator (an open breakdown, escalated)."""
    already = hub_signals(session, hub.id, BENCH_DAY, now, hub.timezone).broken
    loaded = [
        d
        for r, d in _todays_routes(session, hub)
        if r.status is RouteStatus.IN_PROGRESS and d.id not in already and _pending(session, r, loaded=True)
    ]
    rng = np.random.default_rng([seed, 5])
    picked = [loaded[int(k)] for k in sorted(rng.choice(len(loaded), BROKEN_VANS, replace=False))]
    for driver in picked:
        lat, lon = _where(session, driver, hub, now)
        problem = Problem(
            driver.id, now, ExceptionReason.VEHICLE_BREAKDOWN, lat, lon, detail=ProblemDetail(repair_s=None)
        )
        handle_problem(session, problem, True, (), MaxRuntime(0.15), seed)
    codes = tuple(d.code for d in picked)
    return Disrupted(f"vans of {', '.join(codes)} broken down with stops loaded", codes)


def late_starts(session: Session, hub: Hub, now: datetime, seed: int) -> Disrupted:
    """Drivers who have not left yet start 60-90 min late.

    The day state reads today's shift from the driver profile (there is no per-day rota; the
    capacity agent's call-in writes it there too), so the later start is written there and on
    the route's loading slot, and each driver reports running late from the hub.
    """
    waiting = [(r, d) for r, d in _todays_routes(session, hub) if r.started_at is None][:LATE_STARTERS]
    rng = np.random.default_rng([seed, 6])
    for route, driver in waiting:
        delay_s = int(rng.integers(LATE_START_MIN_S // 60, LATE_START_MAX_S // 60 + 1)) * 60
        start = datetime.combine(BENCH_DAY, driver.shift_start) + timedelta(seconds=delay_s)
        driver.shift_start = min(start, datetime.combine(BENCH_DAY, driver.shift_end)).time()
        route.planned_start_at = route.planned_start_at + timedelta(seconds=delay_s)
        report_problem(
            session,
            driver.id,
            now,
            ProblemReport(
                ExceptionReason.RUNNING_LATE,
                hub.lat,
                hub.lon,
                delay_s=delay_s,
                detail=ProblemDetail(cause="late start"),
            ),
        )
    session.flush()
    codes = tuple(d.code for _, d in waiting)
    return Disrupted(f"{', '.join(codes)} (not yet out) start 60-90 min late", codes)


@dataclass(frozen=True)
class ZoneTraffic:
    """Travel with one zone slowed down for a while (a documented approximation).

    The allocator takes one duration matrix per (vehicle kind, departure hour) for a whole route
    (`AllocationProblem.speed_profile`), and the day state has no traffic input at all. So: a leg
    that starts or ends inside the circle takes `1 / speed_factor` times as long, in the
    matrices of routes that depart within [start_s, end_s) (whole hours). Routes that depart in
    the window meet the slow zone for the rest of their day, which overstates a two-hour jam;
    routes that depart later do not meet it at all.
    """

    lat: float
    lon: float
    radius_m: float
    start_s: int
    end_s: int
    speed_factor: float = TRAFFIC_SPEED_FACTOR
    base: HaversineTravel = HaversineTravel()

    def matrices(
        self, points: npt.NDArray[np.float64], depart_s: int, vehicle_type: str = "van"
    ) -> tuple[IntMatrix, IntMatrix]:
        dist, dur = self.base.matrices(points, depart_s, vehicle_type)
        if not self.start_s <= depart_s < self.end_s:
            return dist, dur
        inside = haversine_m(points[:, 0], points[:, 1], self.lat, self.lon) <= self.radius_m
        slow = inside[:, None] | inside[None, :]
        return dist, np.where(slow, np.ceil(dur / self.speed_factor), dur).astype(np.int64)

    def profile(self, depart_s: int, vehicle_type: str = "van") -> Hashable:
        return (self.base.profile(depart_s, vehicle_type), self.start_s <= depart_s < self.end_s)


def traffic(session: Session, hub: Hub, now: datetime, seed: int) -> Disrupted:
    """Traffic 40% slower for two hours in the hub's busiest zone (most open orders).

    Nothing in the database holds traffic, so nothing is written: the zone goes to the re-plan
    as a travel model (`ZoneTraffic`), a circle around the zone's open orders.
    """
    state = load_day_state(session, hub.id, BENCH_DAY, now)
    zones: dict[str, list[tuple[float, float]]] = {}
    for o in state.problem.orders:
        zones.setdefault(o.zone, []).append((o.lat, o.lon))
    name = max(sorted(zones), key=lambda z: len(zones[z]))
    points = np.array(zones[name])
    lat, lon = float(points[:, 0].mean()), float(points[:, 1].mean())
    radius = float(np.max(haversine_m(points[:, 0], points[:, 1], lat, lon)))
    hour = NOW_S // 3600 * 3600
    zone = ZoneTraffic(lat, lon, radius, hour, hour + TRAFFIC_S)
    return Disrupted(f"zone {name} ({len(points)} open orders, {radius:,.0f} m) 40% slower", travel=zone)


def vendor_withdraws(session: Session, hub: Hub, now: datetime, seed: int) -> Disrupted:
    """The 3PL vendor with most drivers on the hub today takes five of them off duty (their
    profile status, which the day state reads); anything loaded stays in their vans."""
    routes = _todays_routes(session, hub)
    vendors = dict(
        session.execute(
            select(Driver.id, Vendor.code)
            .join(Fleet, Fleet.id == Driver.fleet_id)
            .join(Vendor, Vendor.id == Fleet.vendor_id)
            .where(Vendor.kind == VendorKind.THIRD_PARTY, Driver.id.in_([d.id for _, d in routes]))
        ).all()
    )
    counts: dict[str, int] = {}
    for code in vendors.values():
        counts[code] = counts.get(code, 0) + 1
    vendor = max(sorted(counts), key=lambda v: counts[v])
    crew = [d for _, d in routes if vendors.get(d.id) == vendor]
    rng = np.random.default_rng([seed, 7])
    picked = [crew[int(k)] for k in sorted(rng.choice(len(crew), min(WITHDRAWN, len(crew)), replace=False))]
    for driver in picked:
        driver.status = DriverStatus.OFF_DUTY
    session.flush()
    codes = tuple(d.code for d in picked)
    return Disrupted(f"{vendor} withdraws {', '.join(codes)}", codes)


DISRUPTIONS: dict[str, Disruption] = {
    "urgent": urgent,
    "breakdown": breakdown,
    "late_starts": late_starts,
    "traffic": traffic,
    "vendor_withdraws": vendor_withdraws,
}


__all__ = [
    "DISRUPTIONS",
    "Disrupted",
    "Disruption",
    "ZoneTraffic",
    "breakdown",
    "late_starts",
    "traffic",
    "urgent",
    "vendor_withdraws",
]
