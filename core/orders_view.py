"""Order search for the orders page, and the page's CSV import, both scoped to the viewer.

Operations roles see every order of the day; a vendor or a driver only the orders on routes of
drivers they may see (`core.access`). Only roles that may change the plan may import.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from core.access import PLAN_CHANGE_ROLES, Viewer, visible_driver_ids
from core.imports import ImportResult, import_orders
from core.kinds import OrderStatus, SlaKind
from core.models import Driver, Hub, Order, Plan, Route, Stop

DEFAULT_LIMIT = 500
ORDER_COLUMNS = [
    "ref",
    "hub",
    "status",
    "zone",
    "sla_kind",
    "window_start_at",
    "window_end_at",
    "priority",
    "brand_tier",
    "parcels",
    "driver",
    "attempts",
    "delivered_at",
    "address",
]


@dataclass(frozen=True)
class OrderQuery:
    """Filters; None or empty means "any". `ref` matches part of the reference, any case."""

    ref: str = ""
    hub_ids: frozenset[int] | None = None
    statuses: frozenset[OrderStatus] | None = None
    zones: frozenset[str] | None = None
    sla_kinds: frozenset[SlaKind] | None = None
    limit: int = DEFAULT_LIMIT


@dataclass(frozen=True)
class OrderSearch:
    """The first `limit` matches (columns `ORDER_COLUMNS`, by window then reference) and how
    many matched in all."""

    rows: pd.DataFrame
    total: int


@dataclass(frozen=True)
class OrderFacets:
    """The values the filters offer for the day: hub (id, code) pairs and zone names."""

    hubs: tuple[tuple[int, str], ...]
    zones: tuple[str, ...]


def _on_visible_routes(viewer: Viewer, day: date) -> ColumnElement[bool]:
    return Order.id.in_(
        select(Stop.order_id)
        .join(Route, Stop.route_id == Route.id)
        .join(Plan, Route.plan_id == Plan.id)
        .where(Plan.service_date == day, Route.driver_id.in_(visible_driver_ids(viewer)))
    )


def _conditions(viewer: Viewer, day: date, query: OrderQuery) -> list[ColumnElement[bool]]:
    where = [Order.service_date == day]
    if not viewer.sees_everything:
        where.append(_on_visible_routes(viewer, day))
    if query.ref.strip():
        needle = query.ref.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(Order.external_ref.ilike(f"%{needle}%", escape="\\"))
    if query.hub_ids:
        where.append(Order.hub_id.in_(sorted(query.hub_ids)))
    if query.statuses:
        where.append(Order.status.in_(sorted(query.statuses)))
    if query.zones:
        where.append(Order.zone.in_(sorted(query.zones)))
    if query.sla_kinds:
        where.append(Order.sla_kind.in_(sorted(query.sla_kinds)))
    return where


def search_orders(session: Session, viewer: Viewer, day: date, query: OrderQuery) -> OrderSearch:
    """Orders of `day` the viewer may see that match `query`."""
    where = _conditions(viewer, day, query)
    total = session.scalar(select(func.count()).select_from(Order).where(*where)) or 0
    stmt = (
        select(
            Order.id,
            Order.external_ref,
            Hub.code,
            Order.status,
            Order.zone,
            Order.sla_kind,
            Order.window_start_at,
            Order.window_end_at,
            Order.priority,
            Order.brand_tier,
            Order.parcels,
            Order.attempts,
            Order.delivered_at,
            Order.address,
        )
        .join(Hub, Order.hub_id == Hub.id)
        .where(*where)
        .order_by(Order.window_start_at, Order.external_ref)
        .limit(query.limit)
    )
    rows = pd.DataFrame(
        session.execute(stmt).all(),
        columns=[
            "order_id",
            "ref",
            "hub",
            "status",
            "zone",
            "sla_kind",
            "window_start_at",
            "window_end_at",
            "priority",
            "brand_tier",
            "parcels",
            "attempts",
            "delivered_at",
            "address",
        ],
    )
    for col in ("status", "sla_kind", "brand_tier"):
        rows[col] = rows[col].astype("str")
    for col in ("window_start_at", "window_end_at", "delivered_at"):
        rows[col] = pd.to_datetime(rows[col], utc=True)
    drivers = pd.DataFrame(
        session.execute(
            select(Stop.order_id, Stop.id, Driver.code)
            .join(Route, Stop.route_id == Route.id)
            .join(Plan, Route.plan_id == Plan.id)
            .join(Driver, Route.driver_id == Driver.id)
            .where(
                Plan.service_date == day,
                Stop.order_id.in_(rows["order_id"].tolist()),
                Route.driver_id.in_(visible_driver_ids(viewer)),
            )
        ).all(),
        columns=["order_id", "stop_id", "driver"],
    )
    latest = drivers.sort_values("stop_id").drop_duplicates("order_id", keep="last").set_index("order_id")
    rows["driver"] = rows["order_id"].map(latest["driver"])
    return OrderSearch(rows[ORDER_COLUMNS], int(total))


def order_facets(session: Session, viewer: Viewer, day: date) -> OrderFacets:
    hubs = tuple((int(i), str(c)) for i, c in session.execute(select(Hub.id, Hub.code).order_by(Hub.code)))
    where = _conditions(viewer, day, OrderQuery())
    zones = tuple(session.scalars(select(Order.zone).where(*where).distinct().order_by(Order.zone)))
    return OrderFacets(hubs, zones)


def can_import_orders(viewer: Viewer) -> bool:
    return viewer.role in PLAN_CHANGE_ROLES


def import_orders_as(
    session: Session, viewer: Viewer, data: bytes, now: datetime | None = None
) -> ImportResult:
    """The CLI's validated import, for a viewer who may change the plan.

    Raises `AccessDeniedError` for other roles and `ImportRejectedError` (nothing written)
    listing every bad row.
    """
    viewer.require(PLAN_CHANGE_ROLES, "import orders")
    return import_orders(session, data, now=now)
