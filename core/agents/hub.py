"""The hub agent: loading bays and departure waves, so vans leave on time without queueing.

A route's `planned_start_at` is when its van starts loading (the simulator and the allocator
both begin a fresh route with the hub's turnaround); the van holds one of the hub's
`loading_bays` for `turnaround_s` and departs. Vans that all turn up at their planned start
queue first-come first-served; the loading plan instead gives each van a slot, in order of its
first stop's deadline: as close before its planned start as a free bay and the driver's shift
allow, else the first free slot after. Vans already loading keep their bay.

Where even the plan leaves a first stop after its window end, the hub's turnaround is the
problem, not the order of loading: the agent raises a `turnaround_warning` for a person.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.access import PLAN_CHANGE_ROLES, Viewer
from core.allocator.travel import URBAN_TRAVEL
from core.errors import StaleProposalError
from core.geo import haversine_m
from core.kinds import ProposalKind, ProposalStatus, ProposerKind, RouteStatus, StopStatus
from core.models import Driver, Hub, Order, Plan, Route, Stop
from core.proposal_kinds import (
    LateDeparture,
    LoadingEffect,
    LoadingPlanChange,
    Retime,
    TurnaroundWarning,
    WarningEffect,
)
from core.proposals import Applied, ProposalView, changes_of, create_proposal, proposal_view
from core.timeutil import at_seconds, hhmm, seconds_since_midnight, time_of_day_s

AGENT = "hub-agent"
LOADING_PLAN = ProposalKind.LOADING_PLAN
TURNAROUND_WARNING = ProposalKind.TURNAROUND_WARNING
MIN_RETIME_S = 60  # a slot within a minute of the planned start is not worth a change


@dataclass(frozen=True)
class Departure:
    """One van not yet on the road: its planned loading start, FIFO queue and planned slot (s)."""

    route_id: int
    driver_code: str
    planned_start_s: int
    fifo_start_s: int  # loading start if every van turns up at its planned start
    load_start_s: int  # loading start in the plan (the van is told to come then)
    bay: int
    fixed: bool  # already loading: keeps its bay and time
    first_order: str | None
    first_due_s: int | None
    first_eta_s: int | None  # as planned
    new_first_eta_s: int | None  # with the loading plan

    @property
    def wait_before_s(self) -> int:
        return self.fifo_start_s - self.planned_start_s

    @property
    def minutes_late(self) -> int:
        if self.new_first_eta_s is None or self.first_due_s is None:
            return 0
        return max(0, math.ceil((self.new_first_eta_s - self.first_due_s) / 60))


@dataclass(frozen=True)
class LoadingPlan:
    """The hub's loading order and departure per van; dock waits before (FIFO) and after (0)."""

    hub_id: int
    hub_code: str
    day: date
    now_s: int
    loading_bays: int
    turnaround_s: int
    departures: tuple[Departure, ...]  # in loading order

    @property
    def max_wait_before_s(self) -> int:
        return max((d.wait_before_s for d in self.departures), default=0)

    @property
    def mean_wait_before_s(self) -> int:
        waits = [d.wait_before_s for d in self.departures]
        return round(sum(waits) / len(waits)) if waits else 0

    @property
    def retimed(self) -> tuple[Departure, ...]:
        return tuple(
            d
            for d in self.departures
            if not d.fixed and abs(d.load_start_s - d.planned_start_s) >= MIN_RETIME_S
        )

    @property
    def late(self) -> tuple[Departure, ...]:
        return tuple(d for d in self.departures if d.minutes_late > 0)

    def max_loading_at_once(self) -> int:
        """Most vans in the bays at one time under the plan (never above `loading_bays`)."""
        edges = sorted(
            [(d.load_start_s, 1) for d in self.departures]
            + [(d.load_start_s + self.turnaround_s, -1) for d in self.departures]
        )
        peak = level = 0
        for _, step in edges:
            level += step
            peak = max(peak, level)
        return peak


@dataclass(frozen=True)
class _Van:
    route_id: int
    code: str
    planned_s: int
    earliest_s: int
    fixed: bool
    first: tuple[str, int, int, float, float] | None  # order ref, due_s, eta_s, lat, lon


def _vans(session: Session, hub: Hub, plan: Plan, day: date, now_s: int) -> list[_Van]:
    tz, turn = hub.timezone, hub.turnaround_s
    routes = session.execute(
        select(Route, Driver.code, Driver.shift_start)
        .join(Driver, Driver.id == Route.driver_id)
        .where(Route.plan_id == plan.id, Route.started_at.is_(None), Route.status == RouteStatus.PLANNED)
        .order_by(Route.id)
    ).all()
    firsts: dict[int, tuple[str, int, int, float, float]] = {}
    for route_id, ref, due, eta, lat, lon in session.execute(
        select(
            Stop.route_id, Order.external_ref, Order.window_end_at, Stop.planned_eta_at, Order.lat, Order.lon
        )
        .join(Order, Order.id == Stop.order_id)
        .where(Stop.route_id.in_([r.id for r, *_ in routes]), Stop.status == StopStatus.PENDING)
        .order_by(Stop.route_id, Stop.sequence)
    ):
        firsts.setdefault(
            route_id,
            (ref, seconds_since_midnight(due, day, tz), seconds_since_midnight(eta, day, tz), lat, lon),
        )
    out = []
    for route, code, shift_start in routes:
        if route.id not in firsts:
            continue
        planned = seconds_since_midnight(route.planned_start_at, day, tz)
        fixed = planned <= now_s < planned + turn
        out.append(
            _Van(
                route.id,
                code,
                planned if planned + turn > now_s else now_s,
                max(now_s, time_of_day_s(shift_start)),
                fixed,
                firsts[route.id],
            )
        )
    return out


def _fifo(vans: list[_Van], bays: int, turn: int) -> dict[int, int]:
    """Loading start per route when vans turn up at their planned start and queue for a bay."""
    free = [0] * bays
    out = {}
    for van in sorted(vans, key=lambda v: (v.planned_s, v.route_id)):
        start = max(van.planned_s, heapq.heappop(free))
        heapq.heappush(free, start + turn)
        out[van.route_id] = start
    return out


def _slot(bays: list[list[tuple[int, int]]], target: int, earliest: int, turn: int) -> tuple[int, int]:
    """(bay, start): the latest free slot at or before `target` (not before `earliest`), else the
    first free slot after it."""
    best: tuple[tuple[bool, int], int, int] | None = None
    for b, busy in enumerate(bays):
        starts = {target, earliest, *(lo - turn for lo, _ in busy), *(hi for _, hi in busy)}
        for s in starts:
            if s < earliest or any(s < hi and lo < s + turn for lo, hi in busy):
                continue
            key = (s > max(target, earliest), abs(s - max(target, earliest)))
            if best is None or (key, b) < (best[0], best[1]):
                best = (key, b, s)
    assert best is not None  # the slot after every busy interval is always free
    return best[1], best[2]


def loading_plan(session: Session, hub_id: int, day: date, now: datetime) -> LoadingPlan:
    """Loading order, bay and loading start for every van of the hub not yet on the road."""
    hub = session.get(Hub, hub_id)
    if hub is None:
        raise ValueError(f"unknown hub id {hub_id}")
    tz, turn, n_bays = hub.timezone, hub.turnaround_s, max(1, hub.loading_bays)
    now_s = max(0, seconds_since_midnight(now, day, tz))
    plan = session.scalars(select(Plan).where(Plan.hub_id == hub_id, Plan.service_date == day)).first()
    vans = _vans(session, hub, plan, day, now_s) if plan is not None else []
    fifo = _fifo(vans, n_bays, turn)
    bays: list[list[tuple[int, int]]] = [[] for _ in range(n_bays)]
    slots: dict[int, tuple[int, int]] = {}
    for van in sorted(vans, key=lambda v: not v.fixed):  # vans in the bays first, in FIFO order
        if van.fixed:
            bay = min(range(n_bays), key=lambda b: max((hi for _, hi in bays[b]), default=0))
            slots[van.route_id] = (bay, van.planned_s)
            bays[bay].append((van.planned_s, van.planned_s + turn))
    movable = [v for v in vans if not v.fixed]
    for van in sorted(movable, key=lambda v: (v.first[1] if v.first else math.inf, v.planned_s, v.route_id)):
        bay, start = _slot(bays, van.planned_s, van.earliest_s, turn)
        slots[van.route_id] = (bay, start)
        bays[bay].append((start, start + turn))
    departures = []
    for van in sorted(vans, key=lambda v: (slots[v.route_id][1], slots[v.route_id][0])):
        bay, start = slots[van.route_id]
        new_eta = None
        if van.first is not None:
            ref, due_s, eta_s, lat, lon = van.first
            leg_s = (
                float(haversine_m(hub.lat, hub.lon, lat, lon))
                * URBAN_TRAVEL.circuity
                / URBAN_TRAVEL.speed_m_per_s(start + turn)
            )
            new_eta = max(eta_s + max(0, start - van.planned_s), start + turn + math.ceil(leg_s))
        departures.append(
            Departure(
                van.route_id,
                van.code,
                van.planned_s,
                fifo[van.route_id],
                start,
                bay,
                van.fixed,
                van.first[0] if van.first else None,
                van.first[1] if van.first else None,
                van.first[2] if van.first else None,
                new_eta,
            )
        )
    return LoadingPlan(hub.id, hub.code, day, now_s, n_bays, turn, tuple(departures))


def _decided_routes(
    session: Session,
    plan: Plan,
    kind: type[LoadingPlanChange] | type[TurnaroundWarning],
    statuses: tuple[ProposalStatus, ...],
) -> set[int]:
    return {r.route_id for change in changes_of(session, plan.id, kind, statuses) for r in change.routes}


def propose_loading_plan(
    session: Session, viewer: Viewer, hub_id: int, day: date, now: datetime
) -> list[ProposalView]:
    """A `loading_plan` proposal when vans would queue at the dock, and a `turnaround_warning`
    for first stops the turnaround makes late even so; none is repeated while one is pending
    (and a warning is not repeated for routes a person has acknowledged)."""
    viewer.require(PLAN_CHANGE_ROLES, "propose a loading plan")
    lp = loading_plan(session, hub_id, day, now)
    plan = session.scalars(select(Plan).where(Plan.hub_id == hub_id, Plan.service_date == day)).first()
    if plan is None or not lp.departures:
        return []
    out = []
    retimed = lp.retimed
    if (
        retimed
        and lp.max_wait_before_s > 0
        and not _decided_routes(session, plan, LoadingPlanChange, (ProposalStatus.PENDING,))
    ):
        out.append(_propose_plan(session, viewer, plan, lp, retimed, now))
    seen = _decided_routes(session, plan, TurnaroundWarning, (ProposalStatus.PENDING, ProposalStatus.APPLIED))
    late = [d for d in lp.late if d.route_id not in seen]
    if late:
        out.append(_propose_warning(session, viewer, plan, lp, late, now))
    return out


def _dock(lp: LoadingPlan, viewer: Viewer) -> tuple[int, str, str, int, int]:
    """What both kinds of the agent's change say first: hub, day, who asked, bays, turnaround."""
    return lp.hub_id, lp.day.isoformat(), viewer.username, lp.loading_bays, lp.turnaround_s


def _propose_plan(
    session: Session,
    viewer: Viewer,
    plan: Plan,
    lp: LoadingPlan,
    retimed: tuple[Departure, ...],
    now: datetime,
) -> ProposalView:
    delays = [max(0, d.load_start_s - d.planned_start_s) for d in lp.departures]
    change = LoadingPlanChange(
        *_dock(lp, viewer),
        tuple(
            Retime(d.route_id, d.driver_code, d.bay + 1, d.planned_start_s, d.load_start_s) for d in retimed
        ),
    )
    effect = LoadingEffect(
        max_dock_wait_min_before=round(lp.max_wait_before_s / 60),
        mean_dock_wait_min_before=round(lp.mean_wait_before_s / 60),
        max_dock_wait_min_after=0,
        mean_dock_wait_min_after=0,
        max_departure_delay_min=round(max(delays, default=0) / 60),
        routes_retimed=len(retimed),
        routes_touched=len(retimed),
        orders_moved=0,
        max_loading_at_once=lp.max_loading_at_once(),
    )
    waves = sorted({d.load_start_s for d in lp.departures})
    text = (
        f"{lp.hub_code}: {len(lp.departures)} vans for {lp.loading_bays} bays; turning up at their "
        f"planned start the last would wait {lp.max_wait_before_s // 60} min at the dock. Load in "
        f"{len(waves)} wave(s) from {hhmm(waves[0])}: no van waits, {len(retimed)} route(s) re-timed, "
        f"latest departure delay {max(delays, default=0) // 60} min"
    )
    proposal = create_proposal(session, plan, AGENT, ProposerKind.AGENT, change, effect, text, now)
    return proposal_view(session, proposal.id)


def _propose_warning(
    session: Session, viewer: Viewer, plan: Plan, lp: LoadingPlan, late: list[Departure], now: datetime
) -> ProposalView:
    change = TurnaroundWarning(
        *_dock(lp, viewer),
        tuple(
            LateDeparture(
                d.route_id,
                d.driver_code,
                d.first_order,
                hhmm(d.first_due_s or 0),
                hhmm(d.new_first_eta_s or 0),
                hhmm(d.load_start_s + lp.turnaround_s),
                d.minutes_late,
            )
            for d in late
        ),
    )
    worst = max(late, key=lambda d: d.minutes_late)
    effect = WarningEffect(len(late), worst.minutes_late, lp.turnaround_s // 60)
    text = (
        f"{lp.hub_code}: a {lp.turnaround_s // 60} min turnaround with {lp.loading_bays} bay(s) makes "
        f"the first stop of {len(late)} route(s) late even with the loading plan "
        f"(worst: {worst.driver_code}, "
        f"{worst.first_order} due {hhmm(worst.first_due_s or 0)}, {worst.minutes_late} min late); "
        "shorten loading, open a bay or re-plan those first stops"
    )
    proposal = create_proposal(session, plan, AGENT, ProposerKind.AGENT, change, effect, text, now)
    return proposal_view(session, proposal.id)


def apply_loading_plan(session: Session, plan: Plan, change: LoadingPlanChange, now: datetime) -> Applied:
    """Write each re-timed route's loading start; a later start shifts its pending ETAs and end
    with it (an earlier one leaves them: the van waits rather than arrives early)."""
    hub = session.get(Hub, plan.hub_id)
    assert hub is not None
    by_id = {r.route_id: r for r in change.routes}
    routes = session.scalars(select(Route).where(Route.id.in_(list(by_id)))).all()
    started = [r.id for r in routes if r.started_at is not None]
    if started or len(routes) != len(by_id):
        raise StaleProposalError(
            "a route of this loading plan left the dock or was removed since it was "
            "made; nothing was changed. Ask for a fresh proposal."
        )
    for route in routes:
        new_start = at_seconds(plan.service_date, hub.timezone, by_id[route.id].to_s)
        delay = new_start - route.planned_start_at
        route.planned_start_at = new_start
        if delay > timedelta(0):
            route.planned_end_at += delay
            for stop in session.scalars(
                select(Stop).where(Stop.route_id == route.id, Stop.status == StopStatus.PENDING)
            ):
                stop.planned_eta_at += delay
    session.flush()
    return Applied(f"loading plan ({len(routes)} routes re-timed)", routes_touched=len(routes))


def acknowledge_turnaround(session: Session, plan: Plan, change: TurnaroundWarning, now: datetime) -> Applied:
    """A warning changes no route: approving it records that a person has seen it."""
    return Applied(f"turnaround warning acknowledged ({len(change.routes)} routes late)", routes_touched=0)
