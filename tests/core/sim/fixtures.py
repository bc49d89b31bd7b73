"""Shared set-up for the live-day tests: a planned day, and a driver's first open stop."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.access import SYSTEM
from core.agents.appliers import APPLIERS
from core.kinds import StopStatus
from core.models import Hub, Order, Plan, Route, Stop
from core.proposals import approve
from core.sim.baseline import propose_baseline
from core.timeutil import at_seconds
from tests.conftest import TEST_DAY


def plan_day(session: Session, day: date = TEST_DAY, hub_ids: list[int] | None = None) -> None:
    """Plan each hub with the rule-based dispatcher (fast and deterministic) and approve it."""
    hubs = session.scalars(select(Hub).order_by(Hub.id)).all()
    for hub in hubs:
        if hub_ids is not None and hub.id not in hub_ids:
            continue
        now = at_seconds(day, hub.timezone, 6 * 3600)
        proposal = propose_baseline(session, SYSTEM, hub.id, day, now)
        approve(session, SYSTEM, proposal.id, APPLIERS, now=now)


@dataclass(frozen=True)
class OpenStopRef:
    driver_id: int
    order_id: int
    route_id: int
    eta: datetime
    lat: float
    lon: float


def open_stops(session: Session, day: date = TEST_DAY) -> list[OpenStopRef]:
    """Every pending stop of the day, in route and sequence order."""
    rows = session.execute(
        select(Route.driver_id, Stop.order_id, Route.id, Stop.planned_eta_at, Order.lat, Order.lon)
        .join(Stop, Stop.route_id == Route.id)
        .join(Plan, Route.plan_id == Plan.id)
        .join(Order, Order.id == Stop.order_id)
        .where(Plan.service_date == day, Stop.status == StopStatus.PENDING)
        .order_by(Route.id, Stop.sequence)
    ).all()
    return [OpenStopRef(*r) for r in rows]


def first_stop(session: Session, day: date = TEST_DAY, min_left: int = 1) -> OpenStopRef:
    """The first open stop of the first route with at least `min_left` stops."""
    stops = open_stops(session, day)
    by_route: dict[int, list[OpenStopRef]] = {}
    for s in stops:
        by_route.setdefault(s.route_id, []).append(s)
    return next(v[0] for v in by_route.values() if len(v) >= min_left)


def at(day: date, hhmm: str, tz: str = "America/New_York") -> datetime:
    h, m = (int(x) for x in hhmm.split(":"))
    return at_seconds(day, tz, h * 3600 + m * 60)


def later(t: datetime, minutes: float) -> datetime:
    return t + timedelta(minutes=minutes)
