"""The driver app's taps, as a viewer: who may report for a driver, and what each tap writes.

The co-pilot page calls these inside one unit of work per tap, `at` being the app's clock. Each
checks the viewer first (a driver reports only for themselves; a dispatcher or admin may report
for a driver on the phone; core refuses a driver the viewer may not see), then reports through
`core.field` and the co-pilot agents, the same services the simulator uses. Positions are the
stop's (the driver is at the door) or, for a problem on the road, the driver's last position.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy.orm import Session

from core.access import PLAN_CHANGE_ROLES, Viewer
from core.agents.copilot import CopilotView, StopView, act_on_not_home, copilot_view, not_home_options
from core.agents.copilot_reroute import Closure, RerouteOutcome, reroute
from core.errors import ControlTowerError
from core.field import (
    ExceptionAction,
    ExceptionReason,
    ProblemReport,
    ProofOfDelivery,
    arrive,
    deliver,
    report_problem,
)
from core.kinds import Role

REPORTING_ROLES = PLAN_CHANGE_ROLES | {Role.DRIVER}
ROAD_CLOSED_RADIUS_M = 600  # a closure reported from the road: the area around the driver


def _as(session: Session, viewer: Viewer, driver_id: int, at: datetime) -> CopilotView:
    """The driver's view, after checking that the viewer may report for them."""
    viewer.require(REPORTING_ROLES, "report for a driver")
    return copilot_view(session, viewer, driver_id, at)


def _stop(current: CopilotView, order_id: int) -> StopView:
    found = next((s for s in current.remaining if s.order_id == order_id), None)
    if found is None:
        raise ControlTowerError("this stop is no longer open on the route")
    return found


def arrived(session: Session, viewer: Viewer, driver_id: int, order_id: int, *, at: datetime) -> StopView:
    stop = _stop(_as(session, viewer, driver_id, at), order_id)
    arrive(session, driver_id, order_id, at, stop.lat, stop.lon)
    return stop


def delivered(
    session: Session,
    viewer: Viewer,
    driver_id: int,
    order_id: int,
    recipient: str | None,
    photo_ref: str | None,
    signature_ref: str | None,
    *,
    at: datetime,
) -> StopView:
    """Handed to a person; raises `ValueError` for a proof with no photo and no signature."""
    stop = _stop(_as(session, viewer, driver_id, at), order_id)
    deliver(
        session,
        driver_id,
        order_id,
        at,
        ProofOfDelivery(
            lat=stop.lat, lon=stop.lon, recipient=recipient, photo_ref=photo_ref, signature_ref=signature_ref
        ),
    )
    return stop


def not_home(
    session: Session,
    viewer: Viewer,
    driver_id: int,
    order_id: int,
    action: ExceptionAction,
    photo_ref: str | None = None,
    recipient: str | None = None,
    place: str | None = None,
    *,
    at: datetime,
) -> str:
    """Record the co-pilot's option for `action` as ranked now (only what the customer allowed);
    returns its reason. Leaving the parcel in a safe place without the customer is this, too."""
    stop = _stop(_as(session, viewer, driver_id, at), order_id)
    advice = not_home_options(session, driver_id, order_id, at)
    option = next((o for o in advice.options if o.action is action), None)
    if option is None:
        why = dict(advice.excluded).get(action, "it is no longer on offer")
        raise ControlTowerError(f"no {action.value.replace('_', ' ')} for {stop.ref}: {why}")
    if place:
        option = replace(option, place=place)
    act_on_not_home(session, driver_id, order_id, at, option, stop.lat, stop.lon, photo_ref, recipient)
    return option.reason


def problem(
    session: Session, viewer: Viewer, driver_id: int, reason: ExceptionReason, *, at: datetime
) -> RerouteOutcome:
    """Report a disruption where the driver is; the co-pilot re-sequences or asks dispatch."""
    current = _as(session, viewer, driver_id, at)
    event_id = report_problem(session, driver_id, at, ProblemReport(reason, current.lat, current.lon))
    closures = (
        (Closure(current.lat, current.lon, ROAD_CLOSED_RADIUS_M),)
        if reason is ExceptionReason.ROAD_CLOSED
        else ()
    )
    return reroute(
        session,
        driver_id,
        at,
        reason,
        current.lat,
        current.lon,
        closures=closures,
        problem_event_id=event_id,
        propose_to_dispatch=True,
    )
