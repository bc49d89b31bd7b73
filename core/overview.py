"""The first home page's read model: hubs, fleets and today's orders by state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.models import Driver, Fleet, Hub, Order, OrderStatus, Vendor


@dataclass(frozen=True)
class HubView:
    code: str
    name: str
    drivers: int
    orders_today: int
    orders_by_status: dict[OrderStatus, int]


@dataclass(frozen=True)
class FleetView:
    code: str
    name: str
    fleet_type: str
    vendor: str | None
    drivers: int


def hub_overview(session: Session, day: date) -> list[HubView]:
    """Every hub with its driver count and `day`'s orders per status."""
    drivers = dict(session.execute(
        select(Driver.home_hub_id, func.count()).group_by(Driver.home_hub_id)).all())
    by_status: dict[int, dict[OrderStatus, int]] = {}
    stmt = (select(Order.hub_id, Order.status, func.count())
            .where(Order.service_date == day).group_by(Order.hub_id, Order.status))
    for hub_id, status, n in session.execute(stmt):
        by_status.setdefault(hub_id, {})[status] = n
    return [
        HubView(h.code, h.name, drivers.get(h.id, 0), sum(by_status.get(h.id, {}).values()),
                by_status.get(h.id, {}))
        for h in session.scalars(select(Hub).order_by(Hub.code))
    ]


def fleet_overview(session: Session) -> list[FleetView]:
    """Every fleet with its type, vendor and driver count."""
    stmt = (select(Fleet.code, Fleet.name, Fleet.fleet_type, Vendor.name, func.count(Driver.id))
            .outerjoin(Vendor, Fleet.vendor_id == Vendor.id)
            .outerjoin(Driver, Driver.fleet_id == Fleet.id)
            .group_by(Fleet.id, Fleet.code, Fleet.name, Fleet.fleet_type, Vendor.name)
            .order_by(Fleet.code))
    return [FleetView(code, name, str(ftype), vendor, n)
            for code, name, ftype, vendor, n in session.execute(stmt)]
