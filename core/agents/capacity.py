"""The capacity agent: one hub's remaining work against the driver-hours left, hour by hour.

Work is what the hub's open orders (known by `now`) still need: service time plus an estimate
of the driving per stop, due by the order's SLA window end. Capacity is the productive share
of the shift hours left to the hub's active captive and gig drivers (an active courier is one
the allocator hands work to) and to its active 3PL drivers already working today (a route with
stops in today's plan). A window of hours whose due work exceeds the capacity in it (by more
than a tolerance) is a shortfall; the agent then proposes, in this order:

* `call_in_gig`: off-duty gig couriers of the hub (never suspended, never without a vehicle),
  each for their usual shift from the earliest call-in time. Applying sets them active with
  that shift, so the allocator (`load_day_state`) hands them work and the next outlook counts
  them. Couriers named by a pending call-in count as called in, so none is asked twice.
* `move_to_3pl`: when the couriers still do not cover it, specific unassigned or late-risk
  orders appended to 3PL drivers on standby (active, no stops today: the contracted overflow,
  outside the pool until they work), as a `rebalance` route change applied by the dispatch
  agent's applier.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Literal

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.access import PLAN_CHANGE_ROLES, Viewer
from core.allocator.costs import route_cost_cents
from core.allocator.travel import URBAN_TRAVEL
from core.compliance import blocked_driver_ids
from core.errors import StaleProposalError
from core.fleet_costs import fleet_cost
from core.geo import haversine_m
from core.kinds import (
    OPEN_ORDER_STATES,
    PENDING_STOP_STATES,
    DriverStatus,
    FleetType,
    OrderStatus,
    ProposalKind,
    ProposalStatus,
    ProposerKind,
    StopStatus,
)
from core.models import Driver, Fleet, Hub, Order, Plan, Route, Stop, Vehicle
from core.plan_change import NewRoute, OrderMove, PlannedStop, RouteChange
from core.proposal_kinds import CalledIn, CallIn, CapacityEffect
from core.proposals import Applied, ProposalView, changes_of, create_proposal, proposal_view
from core.timeutil import hhmm, seconds_since_midnight, time_of_day_s

AGENT = "capacity-agent"
CALL_IN = ProposalKind.CALL_IN_GIG
MOVE_TO_3PL = "move_to_3pl"
HOUR_S = 3600
PRODUCTIVE_SHARE = 0.85  # of a shift hour at or between doors; the rest: loading, breaks, going home
TOUR_PER_NEAREST = 1.4  # a good tour's leg is ~1.4x the mean nearest-neighbour distance (0.71 / 0.5)
CALL_IN_LEAD_S = 1800  # a courier called now can be at the hub in half an hour
CALL_IN_STEP_S = 900  # call-in shifts start on the quarter hour
MIN_CALL_IN_S = HOUR_S  # a call-in shorter than an hour is not worth a courier's trip
TOLERANCE_S = 1800  # half a driver-hour short is noise at this resolution
Vector = npt.NDArray[np.float64]


@dataclass(frozen=True)
class HourLoad:
    """One hour of the rest of the day: work whose window closes in it, and capacity on shift."""

    start_s: int
    end_s: int
    work_due_s: int
    captive_s: int
    third_party_s: int
    gig_s: int

    @property
    def available_s(self) -> int:
        return self.captive_s + self.third_party_s + self.gig_s


@dataclass(frozen=True)
class Shortfall:
    """The window of hours where the due work most exceeds the capacity on shift in it."""

    start_s: int
    end_s: int
    work_due_s: int
    available_s: int

    @property
    def short_s(self) -> int:
        return self.work_due_s - self.available_s

    def text(self, hub_code: str) -> str:
        return (
            f"{hub_code} {hhmm(self.start_s)}-{hhmm(self.end_s)}: {self.work_due_s / HOUR_S:.0f} "
            f"driver-hours of work due, {self.available_s / HOUR_S:.0f} on shift"
        )


@dataclass(frozen=True)
class CapacityOutlook:
    """Work against capacity per hour from now; `worst` is None when no window is short."""

    hub_id: int
    hub_code: str
    day: date
    now_s: int
    hours: tuple[HourLoad, ...]
    worst: Shortfall | None
    open_orders: int
    work_per_order_s: int


@dataclass(frozen=True)
class _Reserve:
    """A driver who could be asked to work: id, code, fleet, usual shift (s), fleet type."""

    driver_id: int
    code: str
    fleet: Fleet
    shift_start_s: int
    shift_end_s: int


@dataclass
class _Load:
    """Everything the outlook and the proposals are computed from."""

    hub: Hub
    plan: Plan | None
    now_s: int
    bounds: npt.NDArray[np.int64]  # hour boundaries, now first
    refs: list[str]
    work_s: Vector  # per open order
    drive_s: Vector
    ready_idx: npt.NDArray[np.int64]  # hour bucket from which the order can be served
    due_idx: npt.NDArray[np.int64]  # hour bucket by whose end it must be done
    capacity: dict[FleetType, Vector]  # on-shift capacity per bucket, by fleet type
    gig_reserve: list[_Reserve]
    third_party_standby: list[_Reserve]

    def total_capacity(self) -> Vector:
        return sum(self.capacity.values(), np.zeros(len(self.bounds) - 1))

    def shift_vector(self, start_s: int, end_s: int) -> Vector:
        """Productive seconds of a shift [start_s, end_s) in each bucket."""
        lo = np.maximum(self.bounds[:-1], start_s)
        hi = np.minimum(self.bounds[1:], end_s)
        productive_s: npt.NDArray[np.float64] = (
            np.clip(hi - lo, 0, None).astype(np.float64) * PRODUCTIVE_SHARE
        )
        return productive_s


def _bucket(
    bounds: npt.NDArray[np.int64], seconds: npt.NDArray[np.int64], side: Literal["left", "right"]
) -> npt.NDArray[np.int64]:
    """Bucket index: 'left' for deadlines (12:00 belongs to 11-12), 'right' for ready times."""
    idx = np.searchsorted(bounds, seconds, side=side) - 1
    return np.clip(idx, 0, len(bounds) - 2).astype(np.int64)


def _drive_per_stop_s(hub: Hub, lat: Vector, lon: Vector, due_s: npt.NDArray[np.int64]) -> Vector:
    """Driving per stop: the distance to the nearest other open order (or the hub) as a tour leg."""
    if len(lat) == 0:
        return np.zeros(0)
    plat, plon = np.append(lat, hub.lat), np.append(lon, hub.lon)
    dist = haversine_m(lat[:, None], lon[:, None], plat[None, :], plon[None, :])
    dist[np.arange(len(lat)), np.arange(len(lat))] = np.inf
    leg_m = dist.min(axis=1) * URBAN_TRAVEL.circuity * TOUR_PER_NEAREST
    speed = np.array([URBAN_TRAVEL.speed_m_per_s(int(s)) for s in np.clip(due_s, 0, 86_399)])
    return np.asarray(leg_m / speed, dtype=np.float64)


def _working_driver_ids(session: Session, plan: Plan | None) -> set[int]:
    if plan is None:
        return set()
    return set(
        session.scalars(
            select(Route.driver_id)
            .join(Stop, Stop.route_id == Route.id)
            .where(Route.plan_id == plan.id)
            .distinct()
        )
    )


def _pending_call_ins(session: Session, plan: Plan | None) -> dict[str, CalledIn]:
    """Driver code -> their shift, for every call-in waiting for a decision."""
    if plan is None:
        return {}
    pending = changes_of(session, plan.id, CallIn, (ProposalStatus.PENDING,))
    return {d.code: d for change in pending for d in change.drivers}


def _load(session: Session, hub_id: int, day: date, now: datetime) -> _Load:
    hub = session.get(Hub, hub_id)
    if hub is None:
        raise ValueError(f"unknown hub id {hub_id}")
    tz = hub.timezone
    now_s = max(0, seconds_since_midnight(now, day, tz))
    plan = session.scalars(select(Plan).where(Plan.hub_id == hub_id, Plan.service_date == day)).first()
    rows = session.execute(
        select(
            Order.external_ref,
            Order.lat,
            Order.lon,
            Order.service_time_s,
            Order.window_start_at,
            Order.window_end_at,
        )
        .where(
            Order.hub_id == hub_id,
            Order.service_date == day,
            Order.status.in_(OPEN_ORDER_STATES),
            Order.created_at <= now,
        )
        .order_by(Order.window_end_at, Order.id)
    ).all()
    drivers = session.execute(
        select(Driver, Fleet)
        .join(Fleet, Driver.fleet_id == Fleet.id)
        .where(Driver.home_hub_id == hub_id)
        .order_by(Driver.code)
    ).all()
    working = _working_driver_ids(session, plan)
    blocked = blocked_driver_ids(session, day)  # neither capacity on shift nor worth calling in
    drivers = [row for row in drivers if row[0].id not in blocked]
    ready_s = np.array([seconds_since_midnight(r[4], day, tz) for r in rows], dtype=np.int64)
    due_s = np.array([seconds_since_midnight(r[5], day, tz) for r in rows], dtype=np.int64)
    on_shift = [
        (d, f)
        for d, f in drivers
        if d.status is DriverStatus.ACTIVE and (f.fleet_type is not FleetType.THIRD_PARTY or d.id in working)
    ]
    ends = [now_s + HOUR_S, *due_s.tolist(), *(time_of_day_s(d.shift_end) for d, _ in drivers)]
    horizon = math.ceil(max(ends) / HOUR_S) * HOUR_S
    bounds = np.array([now_s, *range((now_s // HOUR_S + 1) * HOUR_S, horizon + 1, HOUR_S)], dtype=np.int64)
    if len(bounds) < 2:
        bounds = np.array([now_s, now_s + HOUR_S], dtype=np.int64)
    lat = np.array([r[1] for r in rows], dtype=np.float64)
    lon = np.array([r[2] for r in rows], dtype=np.float64)
    drive = _drive_per_stop_s(hub, lat, lon, due_s)
    service = np.array([r[3] for r in rows], dtype=np.float64)
    due_idx = _bucket(bounds, due_s, "left")
    ready_idx = np.minimum(_bucket(bounds, ready_s, "right"), due_idx)

    def reserve(kind: FleetType, status: DriverStatus) -> list[_Reserve]:
        return [
            _Reserve(d.id, d.code, f, time_of_day_s(d.shift_start), time_of_day_s(d.shift_end))
            for d, f in drivers
            if f.fleet_type is kind
            and d.status is status
            and d.id not in working
            and d.vehicle_id is not None
        ]

    zeros = {k: np.zeros(len(bounds) - 1) for k in FleetType}
    load = _Load(
        hub,
        plan,
        now_s,
        bounds,
        [r[0] for r in rows],
        service + drive,
        drive,
        ready_idx,
        due_idx,
        zeros,
        reserve(FleetType.GIG, DriverStatus.OFF_DUTY),
        reserve(FleetType.THIRD_PARTY, DriverStatus.ACTIVE),
    )
    for d, f in on_shift:
        load.capacity[f.fleet_type] += load.shift_vector(
            time_of_day_s(d.shift_start), time_of_day_s(d.shift_end)
        )
    return load


def _due_matrix(load: _Load, keep: npt.NDArray[np.bool_] | None = None) -> Vector:
    """W[a, b]: work that can start in bucket a or later and must be done by the end of bucket b."""
    n = len(load.bounds) - 1
    hist = np.zeros((n, n))
    mask = slice(None) if keep is None else keep
    np.add.at(hist, (load.ready_idx[mask], load.due_idx[mask]), load.work_s[mask])
    return np.asarray(np.cumsum(np.cumsum(hist[::-1], axis=0)[::-1], axis=1), dtype=np.float64)


def _shortfall(load: _Load, due: Vector, capacity: Vector) -> tuple[Shortfall, float]:
    """The worst window (a <= b) and the sum of every window's positive shortfall (a tie-breaker)."""
    prefix = np.concatenate([[0.0], np.cumsum(capacity)])
    cap = prefix[None, 1:] - prefix[:-1, None]
    short = np.where(np.triu(np.ones_like(due, dtype=bool)), due - cap, -np.inf)
    a, b = np.unravel_index(int(np.argmax(short)), short.shape)
    worst = Shortfall(
        int(load.bounds[a]), int(load.bounds[b + 1]), int(round(due[a, b])), int(round(cap[a, b]))
    )
    return worst, float(np.clip(short, 0, None).sum())


def capacity_outlook(session: Session, hub_id: int, day: date, now: datetime) -> CapacityOutlook:
    """The hub's remaining work against the capacity on shift, per hour from `now`."""
    load = _load(session, hub_id, day, now)
    return _outlook(load, day)


def _outlook(load: _Load, day: date) -> CapacityOutlook:
    n = len(load.bounds) - 1
    due_by_hour = np.bincount(load.due_idx, weights=load.work_s, minlength=n)
    hours = tuple(
        HourLoad(
            int(load.bounds[i]),
            int(load.bounds[i + 1]),
            int(round(due_by_hour[i])),
            *(
                int(round(load.capacity[k][i]))
                for k in (FleetType.CAPTIVE, FleetType.THIRD_PARTY, FleetType.GIG)
            ),
        )
        for i in range(n)
    )
    worst, _ = _shortfall(load, _due_matrix(load), load.total_capacity())
    mean_work = int(load.work_s.mean()) if len(load.refs) else 0
    return CapacityOutlook(
        load.hub.id,
        load.hub.code,
        day,
        load.now_s,
        hours,
        worst if worst.short_s > 0 else None,
        len(load.refs),
        mean_work,
    )


def _call_in_shift(load: _Load, r: _Reserve) -> tuple[int, int] | None:
    earliest = -(-(load.now_s + CALL_IN_LEAD_S) // CALL_IN_STEP_S) * CALL_IN_STEP_S
    start = max(r.shift_start_s, earliest)
    return (start, r.shift_end_s) if r.shift_end_s - start >= MIN_CALL_IN_S else None


def _pick_gig(
    load: _Load, due: Vector, capacity: Vector, tolerance_s: int
) -> tuple[list[tuple[_Reserve, int, int, float]], Vector]:
    """Greedily call in the courier who most reduces the worst (then the total) shortfall."""
    options = [(r, *shift) for r in load.gig_reserve if (shift := _call_in_shift(load, r)) is not None]
    chosen: list[tuple[_Reserve, int, int, float]] = []
    worst, total = _shortfall(load, due, capacity)
    while worst.short_s > tolerance_s and options:
        scored = []
        for i, (r, start, end) in enumerate(options):
            w, t = _shortfall(load, due, capacity + load.shift_vector(start, end))
            scored.append((w.short_s, t, r.code, i, w))
        short_s, t, _, i, w = min(scored)
        if (short_s, t) >= (worst.short_s, total):
            break
        r, start, end = options.pop(i)
        chosen.append((r, start, end, float(worst.short_s - max(short_s, 0))))
        capacity = capacity + load.shift_vector(start, end)
        worst, total = w, t
    return chosen, capacity


def _gig_cost_cents(load: _Load, fleet: Fleet, absorbed_s: float) -> int:
    """What a courier is paid for the drops it takes over: per task, per km, minimum payout."""
    mean_work = float(load.work_s.mean())
    drops = max(1, math.ceil(absorbed_s / mean_work))
    km_m = int(drops * float(load.drive_s.mean()) * URBAN_TRAVEL.speed_m_per_s(load.now_s))
    return route_cost_cents(fleet_cost(fleet), int(absorbed_s), km_m, drops)


def _vendor_names(fleets: list[Fleet]) -> str:
    return ", ".join(sorted({f.name for f in fleets}))


def propose_capacity(
    session: Session, viewer: Viewer, hub_id: int, day: date, now: datetime, tolerance_s: int = TOLERANCE_S
) -> list[ProposalView]:
    """Call in gig couriers (and, failing that, hand orders to 3PL standby) where work outruns
    the drivers on shift; nothing when every window is covered within `tolerance_s`."""
    viewer.require(PLAN_CHANGE_ROLES, "propose capacity")
    load = _load(session, hub_id, day, now)
    if not load.refs:
        return []
    pending = _pending_call_ins(session, load.plan)
    capacity = load.total_capacity()
    for d in pending.values():
        capacity = capacity + load.shift_vector(d.start_s, d.end_s)
    load.gig_reserve = [r for r in load.gig_reserve if r.code not in pending]
    due = _due_matrix(load)
    before, _ = _shortfall(load, due, capacity)
    if before.short_s <= tolerance_s:
        return []
    chosen, capacity = _pick_gig(load, due, capacity, tolerance_s)
    after, _ = _shortfall(load, due, capacity)
    overflow = None
    if after.short_s > tolerance_s and not (load.plan and _pending_kind(session, load.plan, MOVE_TO_3PL)):
        overflow = _place_overflow(session, load, day, after)
    if not chosen and not (overflow and overflow.moves):
        return []
    plan = load.plan
    if plan is None:
        plan = Plan(hub_id=hub_id, service_date=day, updated_at=now)
        session.add(plan)
        session.flush()
    out: list[ProposalView] = []
    code = load.hub.code
    if chosen:
        cost = sum(_gig_cost_cents(load, r.fleet, absorbed) for r, _, _, absorbed in chosen)
        hours = sum(end - start for _, start, end, _ in chosen) / HOUR_S
        change = CallIn(
            hub_id,
            day.isoformat(),
            viewer.username,
            tuple(CalledIn(r.code, r.fleet.code, start, end) for r, start, end, _ in chosen),
        )
        effect = CapacityEffect(
            round(before.short_s / HOUR_S, 1),
            round(max(after.short_s, 0) / HOUR_S, 1),
            cost,
            orders_moved=0,
            routes_touched=0,
            drivers_called=len(chosen),
            driver_hours_added=round(hours, 1),
        )
        text = (
            f"{before.text(code)}; call in {len(chosen)} {_vendor_names([r.fleet for r, *_ in chosen])} "
            f"courier(s) ({hours:.0f} h) at ~${cost / 100:,.0f}"
        )
        proposal = create_proposal(session, plan, AGENT, ProposerKind.AGENT, change, effect, text, now)
        out.append(proposal_view(session, proposal.id))
    if overflow and overflow.moves:
        out.append(_propose_3pl(session, viewer, load, plan, day, now, capacity, after, overflow))
    return out


@dataclass
class _Van:
    """A 3PL standby driver being filled: where and when it is free, what room is left."""

    reserve: _Reserve
    start_s: int
    t_s: float
    lat: float
    lon: float
    parcels_left: int
    kind: str
    distance_m: float = 0.0
    stops: list[PlannedStop] = field(default_factory=list)


@dataclass(frozen=True)
class _Overflow:
    routes: tuple[NewRoute, ...]
    moves: tuple[OrderMove, ...]
    cost_delta_cents: int
    fleets: list[Fleet]


def _overflow_orders(session: Session, load: _Load, day: date) -> list[tuple[Order, str | None, int | None]]:
    """Unassigned orders, and late-risk orders on routes not started yet: (order, from driver, position)."""
    hub_id, tz = load.hub.id, load.hub.timezone
    waiting = session.scalars(
        select(Order).where(
            Order.hub_id == hub_id,
            Order.service_date == day,
            Order.status == OrderStatus.UNASSIGNED,
            Order.external_ref.in_(load.refs),
        )
    )
    rows: list[tuple[Order, str | None, int | None]] = [(o, None, None) for o in waiting]
    if load.plan is not None:
        for order, stop, code in session.execute(
            select(Order, Stop, Driver.code)
            .join(Stop, Stop.order_id == Order.id)
            .join(Route, Route.id == Stop.route_id)
            .join(Driver, Driver.id == Route.driver_id)
            .where(
                Route.plan_id == load.plan.id,
                Route.started_at.is_(None),
                Stop.status == StopStatus.PENDING,
                Stop.planned_eta_at > Order.window_end_at,
            )
        ):
            rows.append((order, code, stop.sequence))
    return sorted(rows, key=lambda r: (seconds_since_midnight(r[0].window_end_at, day, tz), r[0].id))


def _place_overflow(session: Session, load: _Load, day: date, short: Shortfall) -> _Overflow:
    """Append orders (earliest due first) to the nearest 3PL standby van that is there in time,
    until the moved work covers the shortfall."""
    hub, tz, now_s = load.hub, load.hub.timezone, load.now_s
    vehicles = {
        d.id: v
        for d, v in session.execute(
            select(Driver, Vehicle)
            .join(Vehicle, Vehicle.id == Driver.vehicle_id)
            .where(Driver.id.in_([r.driver_id for r in load.third_party_standby]))
        )
    }
    vans = []
    for r in load.third_party_standby:
        start = max(now_s, r.shift_start_s)
        if r.driver_id in vehicles and start + hub.turnaround_s < r.shift_end_s:
            v = vehicles[r.driver_id]
            vans.append(
                _Van(
                    r,
                    start,
                    float(start + hub.turnaround_s),
                    hub.lat,
                    hub.lon,
                    v.capacity_parcels,
                    v.vehicle_type.value,
                )
            )
    work = dict(zip(load.refs, load.work_s.tolist(), strict=True))
    moved_s, moves = 0.0, list[OrderMove]()
    source: dict[str, list[str]] = {}
    for order, from_code, position in _overflow_orders(session, load, day):
        if moved_s >= short.short_s or not vans:
            break
        due_s = seconds_since_midnight(order.window_end_at, day, tz)
        ready_s = seconds_since_midnight(order.window_start_at, day, tz)
        for van in sorted(vans, key=lambda v: float(haversine_m(v.lat, v.lon, order.lat, order.lon))):
            leg_m = float(haversine_m(van.lat, van.lon, order.lat, order.lon)) * URBAN_TRAVEL.circuity
            speed = URBAN_TRAVEL.speed_m_per_s(int(van.t_s), van.kind)
            arrive = van.t_s + leg_m / speed
            done = max(arrive, ready_s) + order.service_time_s
            back_s = (
                float(haversine_m(order.lat, order.lon, hub.lat, hub.lon)) * URBAN_TRAVEL.circuity / speed
            )
            if van.parcels_left < order.parcels or arrive > due_s or done + back_s > van.reserve.shift_end_s:
                continue
            van.stops.append(PlannedStop(order.external_ref, int(arrive)))
            van.t_s, van.lat, van.lon = done, order.lat, order.lon
            van.parcels_left -= order.parcels
            van.distance_m += leg_m
            moved_s += work.get(order.external_ref, float(order.service_time_s))
            late = f"ETA was after {hhmm(due_s)}" if from_code else "unassigned"
            moves.append(
                OrderMove(
                    order.external_ref,
                    from_code,
                    position,
                    van.reserve.code,
                    len(van.stops) - 1,
                    f"{late}; 3PL ETA {hhmm(int(arrive))} (due {hhmm(due_s)})",
                )
            )
            if from_code:
                source.setdefault(from_code, []).append(order.external_ref)
            break
    used = [v for v in vans if v.stops]
    routes: list[NewRoute] = []
    cost = 0
    for van in used:
        back_m = float(haversine_m(van.lat, van.lon, hub.lat, hub.lon)) * URBAN_TRAVEL.circuity
        end_s = int(van.t_s + back_m / URBAN_TRAVEL.speed_m_per_s(int(van.t_s), van.kind))
        distance_m = int(van.distance_m + back_m)
        routes.append(NewRoute(van.reserve.code, tuple(van.stops), van.start_s, end_s, distance_m))
        cost += route_cost_cents(
            fleet_cost(van.reserve.fleet), end_s - van.start_s, distance_m, len(van.stops)
        )
    routes += _sources_without(session, load, day, source)
    return _Overflow(tuple(routes), tuple(moves), cost, [v.reserve.fleet for v in used])


def _sources_without(
    session: Session, load: _Load, day: date, source: dict[str, list[str]]
) -> list[NewRoute]:
    """The routes orders were taken from, with their other pending stops as planned."""
    if not source or load.plan is None:
        return []
    kept: dict[str, list[PlannedStop]] = {}
    distances: dict[str, int] = {}
    tz = load.hub.timezone
    for code, ref, eta, distance_m in session.execute(
        select(Driver.code, Order.external_ref, Stop.planned_eta_at, Route.planned_distance_m)
        .join(Route, Route.driver_id == Driver.id)
        .join(Stop, Stop.route_id == Route.id)
        .join(Order, Order.id == Stop.order_id)
        .where(
            Route.plan_id == load.plan.id, Driver.code.in_(list(source)), Stop.status.in_(PENDING_STOP_STATES)
        )
        .order_by(Driver.code, Stop.sequence)
    ):
        stops = kept.setdefault(code, [])
        distances[code] = distance_m
        if ref not in source[code]:
            stops.append(PlannedStop(ref, seconds_since_midnight(eta, day, tz)))
    return [NewRoute(code, tuple(stops), None, None, distances[code]) for code, stops in kept.items()]


def _pending_kind(session: Session, plan: Plan, action: str) -> bool:
    pending = changes_of(session, plan.id, RouteChange, (ProposalStatus.PENDING,))
    return any(c.action == action for c in pending)


def _propose_3pl(
    session: Session,
    viewer: Viewer,
    load: _Load,
    plan: Plan,
    day: date,
    now: datetime,
    capacity: Vector,
    before: Shortfall,
    overflow: _Overflow,
) -> ProposalView:
    moved = {m.order for m in overflow.moves}
    keep = np.array([ref not in moved for ref in load.refs], dtype=bool)
    after, _ = _shortfall(load, _due_matrix(load, keep), capacity)
    change = RouteChange(
        load.hub.id, day.isoformat(), viewer.username, overflow.routes, overflow.moves, action=MOVE_TO_3PL
    )
    effect = CapacityEffect(
        round(before.short_s / HOUR_S, 1),
        round(max(after.short_s, 0) / HOUR_S, 1),
        overflow.cost_delta_cents,
        orders_moved=len(overflow.moves),
        routes_touched=len(overflow.routes),
    )
    names = _vendor_names(overflow.fleets)
    text = (
        f"{before.text(load.hub.code)} even with the couriers called in; move {len(overflow.moves)} "
        f"order(s) to {len(overflow.fleets)} {names} driver(s) on standby at ~"
        f"${overflow.cost_delta_cents / 100:,.0f}"
    )
    proposal = create_proposal(session, plan, AGENT, ProposerKind.AGENT, change, effect, text, now)
    return proposal_view(session, proposal.id)


def apply_call_in(session: Session, plan: Plan, change: CallIn, now: datetime) -> Applied:
    """Set the called-in couriers active with the proposed shift; refuse if one was suspended.

    The shift is written on the driver profile (there is no per-day rota table): it is the shift
    the allocator reads for them today.
    """
    codes = [d.code for d in change.drivers]
    drivers = {d.code: d for d in session.scalars(select(Driver).where(Driver.code.in_(codes)))}
    for code in codes:
        if code not in drivers or drivers[code].status is DriverStatus.SUSPENDED:
            raise StaleProposalError(
                f"courier {code} can no longer be called in (suspended or removed); "
                "nothing was changed. Ask for a fresh proposal."
            )
    for entry in change.drivers:
        driver = drivers[entry.code]
        driver.status = DriverStatus.ACTIVE
        driver.shift_start = time(entry.start_s // HOUR_S, entry.start_s % HOUR_S // 60)
        end_s = min(entry.end_s, 24 * HOUR_S - 60)
        driver.shift_end = time(end_s // HOUR_S, end_s % HOUR_S // 60)
    session.flush()
    return Applied(f"call in {len(codes)} gig courier(s): {', '.join(codes)}", drivers_called=len(codes))
