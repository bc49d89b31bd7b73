"""Learned driver-by-zone first-attempt success, from the history of stops.

A driver's rate in a zone is shrunk towards the fleet-wide rate by a prior worth
`PRIOR_ATTEMPTS` attempts, so two lucky deliveries do not make a driver "perfect" somewhere.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from core.kinds import StopStatus
from core.models import Order, Route, Stop

PRIOR_ATTEMPTS = 8.0
HISTORY_DAYS = 30


def zone_success_rates(
    session: Session, driver_ids: list[int], until: date, days: int = HISTORY_DAYS
) -> dict[int, dict[str, float]]:
    """driver id -> zone -> probability that a first attempt succeeds (0..1)."""
    if not driver_ids:
        return {}
    done = Stop.status.in_([StopStatus.DELIVERED, StopStatus.FAILED])
    first_ok = case((Stop.status == StopStatus.DELIVERED, 1), else_=0)
    stmt = (
        select(Route.driver_id, Order.zone, func.count(), func.sum(first_ok))
        .join(Stop, Stop.route_id == Route.id)
        .join(Order, Order.id == Stop.order_id)
        .where(
            Route.driver_id.in_(driver_ids),
            done,
            Order.service_date < until,
            Order.service_date >= until - timedelta(days=days),
        )
        .group_by(Route.driver_id, Order.zone)
    )
    rows = session.execute(stmt).all()
    attempts = sum(r[2] for r in rows)
    if not attempts:
        return {}
    overall = sum(int(r[3] or 0) for r in rows) / attempts
    rates: dict[int, dict[str, float]] = {}
    for driver_id, zone, n, ok in rows:
        rates.setdefault(driver_id, {})[zone] = (int(ok or 0) + PRIOR_ATTEMPTS * overall) / (
            n + PRIOR_ATTEMPTS
        )
    return rates
