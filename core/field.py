"""What a driver's app reports: positions, arrivals, proofs of delivery, failed attempts, problems.

The simulator reports through these same functions, so the live map, the KPIs and the agents
cannot tell a simulated day from a real one. Every report is checked against today's plan (the
driver must own the open stop of that order on the order's service day) and written as
structured records: a reason code from a fixed taxonomy, the action taken, time, position,
place or recipient and photo/signature references, never a paragraph alone.

Each report has a batch form (`arrive_many`, ...) because a fleet reports hundreds of things a
minute; `strict=False` returns the refused items with a reason instead of raising, so one stale
report does not undo a whole tick. Status moves are conditional updates (`... WHERE status IN
open`), so an order is delivered at most once even when two reports race.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, TypedDict, cast

from sqlalchemy import Table, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from core.bulk import Row, bulk_insert
from core.field_records import (
    DELIVERING_ACTIONS,
    DISRUPTIONS,
    FAILING_ACTIONS,
    Arrival,
    Delivery,
    ExceptionAction,
    ExceptionPayload,
    ExceptionReason,
    ExceptionRecord,
    Failure,
    FieldReportError,
    Handover,
    Ping,
    ProblemDetail,
    ProblemReport,
    ProofOfDelivery,
    Rejection,
    RouteMove,
)
from core.json_data import JsonObject
from core.kinds import OPEN_ORDER_STATES, PENDING_STOP_STATES, EventKind, OrderStatus, RouteStatus, StopStatus
from core.models import Driver, Event, Hub, Order, Plan, Route, Stop
from core.timeutil import seconds_since_midnight

DAY_S = 86_400
LATE_GRACE_S = 6 * 3600  # a route may finish up to 06:00 the next morning


@dataclass(frozen=True)
class OpenStop:
    """A driver's open stop for an order, with the plan's day and the hub's time zone."""

    stop_id: int
    stop_status: StopStatus
    route_id: int
    driver_id: int
    day: date
    tz: str
    route_started: bool = True


class _Arrived(TypedDict):
    """One stop's arrival, as the batched UPDATE binds it."""

    sid: int
    at: datetime


class _Closed(TypedDict):
    """One stop and its order closed, as the batched UPDATE binds them."""

    sid: int
    at: datetime
    oid: int


def _event(
    kind: EventKind,
    driver_id: int,
    at: datetime,
    lat: float,
    lon: float,
    order_id: int | None = None,
    payload: JsonObject | None = None,
) -> Row:
    return {
        "kind": kind,
        "occurred_at": at,
        "driver_id": driver_id,
        "order_id": order_id,
        "lat": float(lat),
        "lon": float(lon),
        "payload": payload or {},
    }


def _on_day(at: datetime, day: date, tz: str) -> bool:
    return 0 <= seconds_since_midnight(at, day, tz) < DAY_S + LATE_GRACE_S


class _Checker:
    """Loads, in one query per batch, every stop of the batch's orders with its route and day."""

    def __init__(self, session: Session, order_ids: Sequence[int]) -> None:
        self.stops: dict[int, list[OpenStop]] = {}
        self.orders: dict[int, tuple[str, OrderStatus, datetime | None]] = {}
        ids = sorted(set(order_ids))
        if not ids:
            return
        open_stops = (
            select(
                Stop.id,
                Stop.status,
                Stop.order_id,
                Route.id.label("route_id"),
                Route.driver_id,
                Plan.service_date,
                Hub.timezone,
                Route.started_at,
                Route.status.label("route_status"),
            )
            .join(Route, Stop.route_id == Route.id)
            .join(Plan, Route.plan_id == Plan.id)
            .join(Hub, Plan.hub_id == Hub.id)
            .where(Stop.order_id.in_(ids), Stop.status.in_(PENDING_STOP_STATES))
            .subquery()
        )
        for row in session.execute(
            select(Order.id, Order.external_ref, Order.status, Order.delivered_at, open_stops)
            .outerjoin(open_stops, open_stops.c.order_id == Order.id)
            .where(Order.id.in_(ids))
        ):
            self.orders[row[0]] = (row[1], row[2], row[3])
            if row[4] is None:
                continue
            started = row[11] is not None and row[12] is RouteStatus.IN_PROGRESS
            self.stops.setdefault(row[0], []).append(
                OpenStop(row[4], row[5], row[7], row[8], row[9], row[10], started)
            )

    def open_stop(self, driver_id: int, order_id: int, at: datetime) -> OpenStop | str:
        """The driver's open stop for the order today, or why there is none."""
        if at.tzinfo is None:
            return "the report time has no time zone"
        if order_id not in self.orders:
            return f"there is no order {order_id}"
        ref, status, delivered_at = self.orders[order_id]
        if status is OrderStatus.DELIVERED:
            return f"order {ref} was already delivered at {delivered_at:%H:%M} UTC"
        if status not in OPEN_ORDER_STATES:
            return f"order {ref} is {status.value}, not open"
        stops = self.stops.get(order_id, [])
        mine = [s for s in stops if s.driver_id == driver_id]
        if not mine:
            if stops:
                return f"order {ref} is on another driver's route"
            return f"order {ref} is on no route today"
        stop = mine[0]
        if not _on_day(at, stop.day, stop.tz):
            return f"{at:%Y-%m-%d %H:%M} UTC is not on order {ref}'s service day {stop.day}"
        return stop

    def close(self, order_id: int, status: OrderStatus, at: datetime) -> None:
        ref, _, _ = self.orders[order_id]
        self.orders[order_id] = (ref, status, at)
        self.stops.pop(order_id, None)


def _refuse(rejections: list[Rejection], item: object, reason: str, strict: bool) -> None:
    if strict:
        raise FieldReportError(reason)
    rejections.append(Rejection(item, reason))


_ROUTES, _STOPS, _ORDERS = (cast(Table, m.__table__) for m in (Route, Stop, Order))
_ORDER_IS_OPEN = or_(*(_ORDERS.c.status == s.value for s in OPEN_ORDER_STATES))  # no IN: executemany-safe


def _core(session: Session) -> Any:
    """The session's connection, after writing any pending ORM changes first.

    Reports are written with Core statements (a fleet sends thousands a minute); `_expire`
    then refreshes any ORM object of the same rows that the caller's session holds."""
    session.flush()
    return session.connection()


def _expire(session: Session, model: type, ids: set[int]) -> None:
    for key in list(session.identity_map.keys()):
        if key[0] is model and key[1][0] in ids:
            obj = session.identity_map.get(key)
            if obj is not None:
                session.expire(obj)


def _start_route(conn: Any, route_id: int, at: datetime) -> None:
    conn.execute(
        update(_ROUTES).where(_ROUTES.c.id == route_id, _ROUTES.c.started_at.is_(None)).values(started_at=at)
    )
    conn.execute(
        update(_ROUTES)
        .where(_ROUTES.c.id == route_id, _ROUTES.c.status != RouteStatus.IN_PROGRESS.value)
        .values(status=RouteStatus.IN_PROGRESS, finished_at=None)
    )


def report_positions(session: Session, pings: Sequence[Ping]) -> None:
    """GPS pings; every driver must exist (an unknown driver is a bug in the reporter)."""
    if not pings:
        return
    ids = {p.driver_id for p in pings}
    known = set(session.scalars(select(Driver.id).where(Driver.id.in_(ids))))
    if ids - known:
        raise FieldReportError(f"unknown driver(s): {sorted(ids - known)[:5]}")
    bulk_insert(
        session,
        Event.__table__,  # type: ignore[arg-type]
        [_event(EventKind.GPS_PING, p.driver_id, p.at, p.lat, p.lon) for p in pings],
    )


def report_position(session: Session, driver_id: int, at: datetime, lat: float, lon: float) -> None:
    report_positions(session, [Ping(driver_id, at, lat, lon)])


def _routes_of(session: Session, moves: Sequence[RouteMove]) -> list[int | None]:
    """Each move's route: the driver's route whose service day the move's time falls on."""
    ids = {m.driver_id for m in moves}
    routes: dict[int, list[tuple[int, date, str]]] = {}
    for route_id, driver_id, day, tz in session.execute(
        select(Route.id, Route.driver_id, Plan.service_date, Hub.timezone)
        .join(Plan, Route.plan_id == Plan.id)
        .join(Hub, Plan.hub_id == Hub.id)
        .where(Route.driver_id.in_(ids))
        .order_by(Plan.service_date.desc())
    ):
        routes.setdefault(driver_id, []).append((route_id, day, tz))
    return [
        next((r for r, day, tz in routes.get(m.driver_id, []) if _on_day(m.at, day, tz)), None) for m in moves
    ]


def _route_of(session: Session, driver_id: int, at: datetime) -> int | None:
    return _routes_of(session, [RouteMove(driver_id, at, 0.0, 0.0)])[0]


def start_routes(session: Session, starts: Sequence[RouteMove], strict: bool = True) -> list[Rejection]:
    """Vans leave the hub: the route is in progress and every pending parcel is on board."""
    rejections: list[Rejection] = []
    events = []
    conn = _core(session)
    for s, route_id in zip(starts, _routes_of(session, starts) if starts else [], strict=True):
        if route_id is None:
            _refuse(rejections, s, f"driver {s.driver_id} has no route on that day", strict)
            continue
        _start_route(conn, route_id, s.at)
        pending = (_STOPS.c.route_id == route_id) & (_STOPS.c.status == StopStatus.PENDING.value)
        conn.execute(update(_STOPS).where(pending).values(loaded=True))
        conn.execute(
            update(_ORDERS)
            .where(
                _ORDERS.c.id.in_(select(_STOPS.c.order_id).where(pending)),
                _ORDERS.c.status == OrderStatus.PLANNED.value,
            )
            .values(status=OrderStatus.OUT_FOR_DELIVERY)
        )
        events.append(
            _event(EventKind.GPS_PING, s.driver_id, s.at, s.lat, s.lon, payload={"route": "started"})
        )
    bulk_insert(session, Event.__table__, events)  # type: ignore[arg-type]
    if events:  # loaded flags and order states of whole routes moved: refresh what we hold
        for model in (Route, Stop, Order):
            _expire(session, model, {k[1][0] for k in session.identity_map.keys() if k[0] is model})
    return rejections


def start_route(session: Session, driver_id: int, at: datetime, lat: float, lon: float) -> None:
    start_routes(session, [RouteMove(driver_id, at, lat, lon)])


def finish_routes(session: Session, finishes: Sequence[RouteMove], strict: bool = True) -> list[Rejection]:
    """Vans back at the hub with no open stop left: the route is completed."""
    rejections: list[Rejection] = []
    events = []
    conn = _core(session)
    done: set[int] = set()
    for f, route_id in zip(finishes, _routes_of(session, finishes) if finishes else [], strict=True):
        if route_id is None:
            _refuse(rejections, f, f"driver {f.driver_id} has no route on that day", strict)
            continue
        finish = (
            update(_ROUTES)
            .where(_ROUTES.c.id == route_id)
            .values(status=RouteStatus.COMPLETED, finished_at=f.at)
        )
        if f.distance_m is not None:
            finish = finish.values(distance_m=int(f.distance_m))
        conn.execute(finish)
        done.add(route_id)
        events.append(
            _event(EventKind.GPS_PING, f.driver_id, f.at, f.lat, f.lon, payload={"route": "finished"})
        )
    bulk_insert(session, Event.__table__, events)  # type: ignore[arg-type]
    _expire(session, Route, done)
    return rejections


def finish_route(
    session: Session, driver_id: int, at: datetime, lat: float, lon: float, distance_m: int | None = None
) -> None:
    finish_routes(session, [RouteMove(driver_id, at, lat, lon, distance_m)])


def arrive_many(session: Session, arrivals: Sequence[Arrival], strict: bool = True) -> list[Rejection]:
    """Drivers at their stops: stop ARRIVED, route in progress, order out for delivery."""
    check = _Checker(session, [a.order_id for a in arrivals])
    rejections: list[Rejection] = []
    events: list[Row] = []
    stops: list[_Arrived] = []
    orders: list[int] = []
    conn = _core(session)
    for a in arrivals:
        stop = check.open_stop(a.driver_id, a.order_id, a.at)
        if isinstance(stop, str):
            _refuse(rejections, a, stop, strict)
            continue
        if stop.stop_status is StopStatus.ARRIVED:
            _refuse(rejections, a, f"already arrived at order {check.orders[a.order_id][0]}", strict)
            continue
        if not stop.route_started:
            _start_route(conn, stop.route_id, a.at)
        stops.append({"sid": stop.stop_id, "at": a.at})
        orders.append(a.order_id)
        check.stops[a.order_id] = [replace(stop, stop_status=StopStatus.ARRIVED, route_started=True)]
        events.append(_event(EventKind.ARRIVED, a.driver_id, a.at, a.lat, a.lon, a.order_id))
    if stops:
        conn.execute(
            update(_STOPS)
            .where(_STOPS.c.id == bindparam("sid"))
            .values(status=StopStatus.ARRIVED, arrived_at=bindparam("at")),
            stops,
        )
        conn.execute(
            update(_ORDERS)
            .where(_ORDERS.c.id == bindparam("oid"), _ORDER_IS_OPEN)
            .values(status=OrderStatus.OUT_FOR_DELIVERY),
            [{"oid": oid} for oid in orders],
        )
    bulk_insert(session, Event.__table__, events)  # type: ignore[arg-type]
    _expire(session, Stop, {s["sid"] for s in stops})
    _expire(session, Order, set(orders))
    return rejections


def arrive(session: Session, driver_id: int, order_id: int, at: datetime, lat: float, lon: float) -> None:
    arrive_many(session, [Arrival(driver_id, order_id, at, lat, lon)])


def _close_order(conn: Any, order_id: int, status: OrderStatus, at: datetime) -> bool:
    """Move an open order to its final state; False when another report got there first."""
    close = (
        update(_ORDERS)
        .where(_ORDERS.c.id == order_id, _ORDER_IS_OPEN)
        .values(status=status, attempts=_ORDERS.c.attempts + 1)
    )
    if status is OrderStatus.DELIVERED:
        close = close.values(delivered_at=at)
    result = conn.execute(close)
    return bool(result.rowcount)


def _close_stops(session: Session, conn: Any, closed: list[_Closed], status: StopStatus) -> None:
    if closed:
        conn.execute(
            update(_STOPS)
            .where(_STOPS.c.id == bindparam("sid"))
            .values(
                status=status,
                completed_at=bindparam("at"),
                arrived_at=func.coalesce(_STOPS.c.arrived_at, bindparam("at")),
            ),
            closed,
        )
    _expire(session, Stop, {c["sid"] for c in closed})
    _expire(session, Order, {c["oid"] for c in closed})


def deliver_many(session: Session, deliveries: Sequence[Delivery], strict: bool = True) -> list[Rejection]:
    """Parcels handed over: stop and order DELIVERED, one more attempt; at most once per order."""
    check = _Checker(session, [d.order_id for d in deliveries])
    rejections: list[Rejection] = []
    events: list[Row] = []
    closed: list[_Closed] = []
    conn = _core(session)
    for d in deliveries:
        stop = check.open_stop(d.driver_id, d.order_id, d.at)
        if isinstance(stop, str) or not _close_order(conn, d.order_id, OrderStatus.DELIVERED, d.at):
            _refuse(
                rejections,
                d,
                stop if isinstance(stop, str) else f"order {d.order_id} was delivered by another report",
                strict,
            )
            continue
        closed.append({"sid": stop.stop_id, "at": d.at, "oid": d.order_id})
        check.close(d.order_id, OrderStatus.DELIVERED, d.at)
        if d.pod.exception is not None:
            events.append(
                _event(
                    EventKind.EXCEPTION,
                    d.driver_id,
                    d.at,
                    d.pod.lat,
                    d.pod.lon,
                    d.order_id,
                    d.pod.exception.event_json(),
                )
            )
        events.append(
            _event(EventKind.DELIVERED, d.driver_id, d.at, d.pod.lat, d.pod.lon, d.order_id, d.pod.to_json())
        )
    _close_stops(session, conn, closed, StopStatus.DELIVERED)
    bulk_insert(session, Event.__table__, events)  # type: ignore[arg-type]
    return rejections


def deliver(session: Session, driver_id: int, order_id: int, at: datetime, pod: ProofOfDelivery) -> None:
    """Record a delivery; raises `FieldReportError` if the order was already delivered."""
    deliver_many(session, [Delivery(driver_id, order_id, at, pod)])


def fail_many(session: Session, failures: Sequence[Failure], strict: bool = True) -> list[Rejection]:
    """Failed attempts: stop and order FAILED, one more attempt, the exception on record."""
    check = _Checker(session, [f.order_id for f in failures])
    rejections: list[Rejection] = []
    events: list[Row] = []
    closed: list[_Closed] = []
    conn = _core(session)
    for f in failures:
        if f.exception.action not in FAILING_ACTIONS:
            _refuse(
                rejections,
                f,
                f"a parcel left by {f.exception.action.value} is delivered: "
                "report it with deliver() and a proof of delivery",
                strict,
            )
            continue
        stop = check.open_stop(f.driver_id, f.order_id, f.at)
        if isinstance(stop, str) or not _close_order(conn, f.order_id, OrderStatus.FAILED, f.at):
            _refuse(
                rejections,
                f,
                stop if isinstance(stop, str) else f"order {f.order_id} was closed by another report",
                strict,
            )
            continue
        closed.append({"sid": stop.stop_id, "at": f.at, "oid": f.order_id})
        check.close(f.order_id, OrderStatus.FAILED, f.at)
        events.append(
            _event(
                EventKind.EXCEPTION,
                f.driver_id,
                f.at,
                f.exception.lat,
                f.exception.lon,
                f.order_id,
                f.exception.event_json(),
            )
        )
        events.append(
            _event(
                EventKind.FAILED,
                f.driver_id,
                f.at,
                f.exception.lat,
                f.exception.lon,
                f.order_id,
                {"reason": f.exception.reason.value, "action": f.exception.action.value},
            )
        )
    _close_stops(session, conn, closed, StopStatus.FAILED)
    bulk_insert(session, Event.__table__, events)  # type: ignore[arg-type]
    return rejections


def fail(session: Session, driver_id: int, order_id: int, at: datetime, exception: ExceptionRecord) -> None:
    fail_many(session, [Failure(driver_id, order_id, at, exception)])


def check_open_stop(session: Session, driver_id: int, order_id: int, at: datetime) -> OpenStop:
    """The driver's open stop for the order on its service day; raises `FieldReportError`."""
    stop = _Checker(session, [order_id]).open_stop(driver_id, order_id, at)
    if isinstance(stop, str):
        raise FieldReportError(stop)
    return stop


def report_problem(session: Session, driver_id: int, at: datetime, problem: ProblemReport) -> int:
    """A breakdown, a closed road or running late, as an open EXCEPTION event; returns its id."""
    if problem.order_id is not None:
        check_open_stop(session, driver_id, problem.order_id, at)
    elif _route_of(session, driver_id, at) is None:
        raise FieldReportError(f"driver {driver_id} has no route on that day")
    payload = ExceptionPayload.reported(problem).to_json()
    event = Event(
        kind=EventKind.EXCEPTION,
        occurred_at=at,
        driver_id=driver_id,
        order_id=problem.order_id,
        lat=problem.lat,
        lon=problem.lon,
        payload=payload,
    )
    session.add(event)
    session.flush()
    return event.id


def _update_exception(
    session: Session, event_id: int, change: Callable[[ExceptionPayload], ExceptionPayload]
) -> None:
    """Rewrite an EXCEPTION event's payload with `change`; what else it stores stays."""
    event = session.get(Event, event_id)
    if event is None or event.kind is not EventKind.EXCEPTION:
        raise FieldReportError(f"there is no exception {event_id}")
    event.payload = {**event.payload, **change(ExceptionPayload.from_json(event.payload)).to_json()}
    session.flush()


def resolve_problem(session: Session, event_id: int, at: datetime, resolution: str) -> None:
    """Close an open exception (e.g. the van is repaired); `resolution` is a short code."""
    _update_exception(
        session, event_id, lambda p: replace(p, resolved=True, resolved_at=at, resolution=resolution)
    )


def escalate_problem(session: Session, event_id: int, detail: ProblemDetail) -> None:
    """Flag an open exception for a dispatcher, `detail` added to what it said."""
    _update_exception(
        session, event_id, lambda p: replace(p, needs_dispatch=True, detail=p.detail.merged(detail))
    )


__all__ = [
    "DELIVERING_ACTIONS",
    "DISRUPTIONS",
    "FAILING_ACTIONS",
    "Arrival",
    "Delivery",
    "ExceptionAction",
    "ExceptionPayload",
    "ExceptionReason",
    "ExceptionRecord",
    "Failure",
    "FieldReportError",
    "Handover",
    "OpenStop",
    "Ping",
    "ProblemDetail",
    "ProblemReport",
    "ProofOfDelivery",
    "Rejection",
    "RouteMove",
    "arrive",
    "arrive_many",
    "check_open_stop",
    "deliver",
    "deliver_many",
    "escalate_problem",
    "fail",
    "fail_many",
    "finish_route",
    "finish_routes",
    "report_position",
    "report_positions",
    "report_problem",
    "resolve_problem",
    "start_route",
    "start_routes",
]
