"""The co-pilot on a disruption: re-sequence one driver's remaining stops, or ask dispatch.

A road closure or running late: the allocator solves the driver's own remaining stops from
where the driver is now, with the closed area made slow to reach (`DisruptedTravel`), warm
started from the current sequence so the answer is never worse. The new sequence is a
proposal of kind `reroute`, auto-applied under a written policy (one driver's own stops, no
order changes hands), and the outcome says which stops will now be late. When stops cannot be
kept (unserved, or later than `escalate_late_s`), or the van cannot move at all (breakdown),
the co-pilot escalates: an EXCEPTION event flagged `needs_dispatch` with the stops at risk, and
optionally a rebalance proposal for the dispatcher's inbox with this driver left out.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, replace
from datetime import date, datetime

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.access import Viewer
from core.agents.dispatch import RebalanceRequest, plan_tz, propose_rebalance
from core.agents.dispatch_problem import CARGO_BIKE_MAX_ITEM_G, DUE_MARGIN_S, order_spec
from core.allocator.evaluate import evaluate_plan
from core.allocator.params import DEFAULT_PARAMS
from core.allocator.problem import AllocationProblem, DriverSpec, HubSpec, OrderSpec
from core.allocator.result import Route as PlannedRoute
from core.allocator.solve import solve
from core.allocator.stop import MaxSolutions, StopRule
from core.allocator.travel import HaversineTravel, IntMatrix
from core.errors import ControlTowerError, StaleProposalError
from core.field import (
    ExceptionReason,
    ProblemDetail,
    ProblemReport,
    escalate_problem,
    report_problem,
    resolve_problem,
)
from core.fleet_costs import fleet_cost
from core.geo import haversine_m
from core.kinds import FleetType, ProposalKind, ProposerKind, Role, StopStatus, VehicleKind
from core.models import Driver, Fleet, Hub, Order, Plan, Region, Route, Stop, Vehicle
from core.plan_change import PlannedStop
from core.proposal_kinds import Reroute, RerouteEffect
from core.proposals import Applied, Applier, approve, create_proposal
from core.timeutil import at_seconds, local_today, seconds_since_midnight, time_of_day_s

AGENT = "copilot"
POLICY = Viewer(username="copilot-policy", role=Role.ADMIN)
"""Written policy: a re-sequence of one driver's own remaining stops that moves no order to
another driver is applied without review (it is still a proposal, versioned and audited)."""
ESCALATE_LATE_S = 30 * 60
UNAVAILABLE_WORDS = {
    ExceptionReason.VEHICLE_BREAKDOWN: "van broken down",
    ExceptionReason.ROAD_CLOSED: "road closed ahead",
    ExceptionReason.RUNNING_LATE: "running late",
}
"""Why the reporting driver is left out of the re-plan the co-pilot asks dispatch for."""
DEFAULT_STOP = MaxSolutions(200, max_runtime_s=2.0, stall_s=0.3)
REROUTE_PARAMS = replace(DEFAULT_PARAMS, guided_local_search=False)
"""One driver's dozen stops: plain local search reaches a good sequence in milliseconds."""
SEQUENCE_SHIFT = 1_000_000  # park sequences out of the way while renumbering (unique per route)


@dataclass(frozen=True)
class Closure:
    """A closed area: reaching a point inside it takes `detour_factor` times longer."""

    lat: float
    lon: float
    radius_m: float
    detour_factor: float = 1.8


@dataclass(frozen=True)
class DisruptedTravel:
    """The normal travel model with traffic slowed by `speed_factor` and closed areas detoured."""

    base: HaversineTravel = HaversineTravel()
    closures: tuple[Closure, ...] = ()
    speed_factor: float = 1.0

    def matrices(
        self, points: npt.NDArray[np.float64], depart_s: int, vehicle_type: str = "van"
    ) -> tuple[IntMatrix, IntMatrix]:
        dist, dur = self.base.matrices(points, depart_s, vehicle_type)
        factor = np.full(len(points), 1.0 / self.speed_factor)
        for c in self.closures:
            inside = haversine_m(points[:, 0], points[:, 1], c.lat, c.lon) <= c.radius_m
            factor[inside] *= c.detour_factor
        return dist, np.ceil(dur * factor[None, :]).astype(np.int64)

    def profile(self, depart_s: int, vehicle_type: str = "van") -> Hashable:
        return self.base.profile(depart_s, vehicle_type)  # the slow-down is the same at any hour


@dataclass(frozen=True)
class RerouteOutcome:
    """What the co-pilot did, in one line (`message`) and in fields a page can show."""

    driver_id: int
    reason: ExceptionReason
    applied: bool
    escalated: bool
    before: tuple[str, ...]
    after: tuple[str, ...]
    late_before: tuple[str, ...]
    late_after: tuple[str, ...]
    unserved: tuple[str, ...]
    etas: tuple[tuple[str, datetime], ...]
    message: str
    proposal_id: int | None = None
    escalation_event_id: int | None = None
    dispatch_proposal_id: int | None = None


def _pending(session: Session, route_id: int) -> list[str]:
    return list(
        session.scalars(
            select(Order.external_ref)
            .join(Stop, Stop.order_id == Order.id)
            .where(Stop.route_id == route_id, Stop.status == StopStatus.PENDING)
            .order_by(Stop.sequence)
        )
    )


def _driver_problem(
    session: Session, driver_id: int, refs: list[str], day: date, tz: str, now_s: int, lat: float, lon: float
) -> tuple[DriverSpec, tuple[OrderSpec, ...]]:
    """One driver, from where they are now, and their own pending stops, as the dispatch
    adapter maps them (`load_day_state`) but without reading the rest of the hub."""
    driver, fleet, vehicle, region = session.execute(
        select(Driver, Fleet, Vehicle, Region)
        .join(Fleet, Driver.fleet_id == Fleet.id)
        .outerjoin(Vehicle, Driver.vehicle_id == Vehicle.id)
        .join(Region, Driver.region_id == Region.id)
        .where(Driver.id == driver_id)
    ).one()
    kind = VehicleKind(vehicle.vehicle_type.value) if vehicle else VehicleKind.CAR
    shift_start = time_of_day_s(driver.shift_start)
    shift_end = time_of_day_s(driver.shift_end)
    spec = DriverSpec(
        id=driver.code,
        fleet_type=FleetType(fleet.fleet_type.value),
        lat=lat,
        lon=lon,
        hub=0,
        cost=fleet_cost(fleet),
        shift_start_s=shift_start,
        shift_end_s=max(shift_end, now_s + 60),
        start_s=max(now_s, shift_start),
        capacity_parcels=vehicle.capacity_parcels if vehicle else 0,
        capacity_weight_g=vehicle.capacity_g if vehicle else 0,
        capacity_volume_ml=vehicle.capacity_ml if vehicle else 0,
        co2_g_per_km=vehicle.co2_g_per_km if vehicle else 0,
        skills=frozenset(driver.skills),
        vehicle_type=kind,
        max_item_weight_g=CARGO_BIKE_MAX_ITEM_G if kind is VehicleKind.CARGO_BIKE else None,
        work_before_break_s=region.break_after_s,
        break_duration_s=region.break_duration_s,
        loading_at_start=False,
    )
    rows = session.scalars(select(Order).where(Order.external_ref.in_(refs)))
    orders = tuple(order_spec(o, day, tz, driver.code) for o in rows)
    return spec, orders


def _late(route: PlannedRoute | None) -> tuple[str, ...]:
    return tuple(v.order_id for v in route.visits if v.late_s > 0) if route else ()


def reroute(
    session: Session,
    driver_id: int,
    now: datetime,
    reason: ExceptionReason,
    lat: float,
    lon: float,
    closures: tuple[Closure, ...] = (),
    speed_factor: float = 1.0,
    seed: int = 0,
    stop: StopRule = DEFAULT_STOP,
    escalate_late_s: int = ESCALATE_LATE_S,
    problem_event_id: int | None = None,
    propose_to_dispatch: bool = False,
) -> RerouteOutcome:
    """Re-sequence the driver's pending stops for the disruption, or escalate to dispatch."""
    reason = ExceptionReason(reason)
    tz = session.scalar(
        select(Hub.timezone).join(Driver, Driver.home_hub_id == Hub.id).where(Driver.id == driver_id)
    )
    found = session.execute(
        select(Route, Plan)
        .join(Plan, Route.plan_id == Plan.id)
        .where(Route.driver_id == driver_id, Plan.service_date == local_today(tz or "UTC", now))
    ).first()
    if found is None:
        raise ControlTowerError(f"driver {driver_id} has no route today")
    route, plan = found
    refs = _pending(session, route.id)
    if reason is ExceptionReason.VEHICLE_BREAKDOWN:
        return _escalate(
            session,
            driver_id,
            now,
            reason,
            lat,
            lon,
            plan,
            refs,
            tuple(refs),
            (),
            (),
            "the van cannot move",
            problem_event_id,
            propose_to_dispatch,
            seed,
        )
    if not refs:
        return RerouteOutcome(driver_id, reason, False, False, (), (), (), (), (), (), "no stops left")
    hub = session.get(Hub, plan.hub_id)
    assert hub is not None
    now_s = max(0, seconds_since_midnight(now, plan.service_date, hub.timezone))
    spec, orders = _driver_problem(session, driver_id, refs, plan.service_date, hub.timezone, now_s, lat, lon)
    problem = AllocationProblem(
        drivers=(spec,),
        orders=orders,
        hubs=(HubSpec(hub.code, hub.lat, hub.lon, hub.turnaround_s),),
        travel=DisruptedTravel(closures=closures, speed_factor=speed_factor),
        due_margin_s=DUE_MARGIN_S,
    )
    current = {spec.id: refs}
    result = solve(problem, stop, seed, REROUTE_PARAMS, initial=current)
    after_plan = result.plan().get(spec.id, [])
    before_eval = evaluate_plan(problem, current).routes
    late_before = _late(before_eval[0] if before_eval else None)
    planned = result.route_of(spec.id)
    late_after = _late(planned)
    unserved = tuple(u.order_id for u in result.unassigned)
    tz = hub.timezone
    etas = (
        tuple((v.order_id, at_seconds(plan.service_date, tz, v.arrival_s)) for v in planned.visits)
        if planned
        else ()
    )
    applied, proposal_id = False, None
    if planned is not None and after_plan != refs and not unserved:
        proposal_id = _apply(session, plan, route.id, spec.id, planned, reason, late_before, late_after, now)
        applied = True
    too_late = [v.order_id for v in planned.visits if v.late_s > escalate_late_s] if planned else []
    if unserved or too_late:
        why = (
            f"{len(unserved)} stop(s) cannot be served"
            if unserved
            else f"{len(too_late)} stop(s) would be over {escalate_late_s // 60} min late"
        )
        out = _escalate(
            session,
            driver_id,
            now,
            reason,
            lat,
            lon,
            plan,
            refs,
            tuple(after_plan),
            late_after,
            unserved,
            why,
            problem_event_id,
            propose_to_dispatch,
            seed,
        )
        return replace(out, applied=applied, proposal_id=proposal_id, late_before=late_before, etas=etas)
    if not late_after:
        words = f"all {len(refs)} remaining stops stay on time"
    else:
        words = f"{len(late_after)} will now be late: {', '.join(late_after[:5])}"
    verb = "re-sequenced" if applied else "kept the sequence of"
    if problem_event_id is not None:  # handled here: nothing is left for a dispatcher
        resolve_problem(session, problem_event_id, now, f"co-pilot {verb} {len(refs)} stops; {words}")
    return RerouteOutcome(
        driver_id,
        reason,
        applied,
        False,
        tuple(refs),
        tuple(after_plan),
        late_before,
        late_after,
        (),
        etas,
        f"{reason.value}: {verb} {len(refs)} stops; {words}",
        proposal_id,
    )


def _apply(
    session: Session,
    plan: Plan,
    route_id: int,
    code: str,
    planned: PlannedRoute,
    reason: ExceptionReason,
    late_before: tuple[str, ...],
    late_after: tuple[str, ...],
    now: datetime,
) -> int:
    change = Reroute(
        route_id,
        code,
        reason.value,
        tuple(PlannedStop(v.order_id, v.arrival_s) for v in planned.visits),
        planned.end_s,
        planned.distance_m,
    )
    effect = RerouteEffect(len(late_before), len(late_after))
    text = (
        f"{code}: {reason.value}; re-sequenced {len(planned.visits)} remaining stops "
        f"(late {len(late_before)} -> {len(late_after)}); no order changes driver."
    )
    proposal = create_proposal(session, plan, AGENT, ProposerKind.AGENT, change, effect, text, now)
    approve(session, POLICY, proposal.id, {ProposalKind.REROUTE: Applier(Reroute, apply_reroute)}, now=now)
    return proposal.id


def apply_reroute(session: Session, plan: Plan, change: Reroute, now: datetime) -> Applied:
    """Renumber one route's pending stops in the new order; refuse if they changed meanwhile."""
    route_id = change.route_id
    refs = [s.order for s in change.stops]
    if sorted(_pending(session, route_id)) != sorted(refs):
        raise StaleProposalError(
            "the driver's remaining stops changed since this reroute was made; nothing was changed"
        )
    stops = {
        ref: s
        for s, ref in session.execute(
            select(Stop, Order.external_ref)
            .join(Order, Order.id == Stop.order_id)
            .where(Stop.route_id == route_id, Stop.status == StopStatus.PENDING)
        )
    }
    # Pending stops go after every stop already served: a re-plan may have left a served stop
    # numbered among them (it was at the door when the plan changed).
    first = max(
        session.scalar(
            select(func.min(Stop.sequence)).where(
                Stop.route_id == route_id, Stop.status == StopStatus.PENDING
            )
        )
        or 0,
        (
            session.scalar(
                select(func.max(Stop.sequence)).where(
                    Stop.route_id == route_id, Stop.status != StopStatus.PENDING
                )
            )
            or -1
        )
        + 1,
    )
    ids = [stops[r].id for r in refs]
    session.execute(update(Stop).where(Stop.id.in_(ids)).values(sequence=Stop.sequence + SEQUENCE_SHIFT))
    tz = plan_tz(session, plan)
    for offset, stop in enumerate(change.stops):
        session.execute(
            update(Stop)
            .where(Stop.id == stops[stop.order].id)
            .values(sequence=first + offset, planned_eta_at=at_seconds(plan.service_date, tz, stop.eta_s))
        )
    session.execute(
        update(Route)
        .where(Route.id == route_id)
        .values(planned_end_at=at_seconds(plan.service_date, tz, change.end_s))
    )
    return Applied(
        f"co-pilot reroute of {change.driver} ({change.reason}, {len(refs)} stops)",
        orders_moved=0,
        routes_touched=1,
    )


def _escalate(
    session: Session,
    driver_id: int,
    now: datetime,
    reason: ExceptionReason,
    lat: float,
    lon: float,
    plan: Plan,
    before: list[str],
    after: tuple[str, ...],
    late: tuple[str, ...],
    unserved: tuple[str, ...],
    why: str,
    event_id: int | None,
    propose_to_dispatch: bool,
    seed: int,
) -> RerouteOutcome:
    at_risk = (
        sorted(set(late) | set(unserved)) if reason is not ExceptionReason.VEHICLE_BREAKDOWN else list(before)
    )
    detail = ProblemDetail(at_risk=tuple(at_risk[:50]), at_risk_count=len(at_risk), why=why)
    if event_id is not None:
        escalate_problem(session, event_id, detail)
    else:
        event_id = report_problem(
            session,
            driver_id,
            now,
            ProblemReport(reason=reason, lat=lat, lon=lon, needs_dispatch=True, detail=detail),
        )
    proposal_id = None
    if propose_to_dispatch and at_risk:
        day = plan.service_date
        proposal_id = propose_rebalance(
            session,
            POLICY,
            RebalanceRequest(hub_id=plan.hub_id, day=day, now=now, seconds=2.0, seed=seed),
            unavailable={driver_id: UNAVAILABLE_WORDS.get(reason, "reported a problem")},
            agent=AGENT,
        ).id
    message = f"{reason.value}: {why}; asked dispatch for help with {len(at_risk)} stop(s)"
    return RerouteOutcome(
        driver_id,
        reason,
        False,
        True,
        tuple(before),
        after,
        (),
        late,
        unserved,
        (),
        message,
        None,
        event_id,
        proposal_id,
    )
