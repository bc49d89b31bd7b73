"""Driver-app reports: checked against today's plan, structured, and an order delivered once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import ControlTowerError
from core.field import (
    Delivery,
    ExceptionAction,
    ExceptionReason,
    ExceptionRecord,
    FieldReportError,
    Handover,
    ProblemDetail,
    ProblemReport,
    ProofOfDelivery,
    arrive,
    deliver,
    deliver_many,
    fail,
    finish_route,
    report_position,
    report_problem,
    resolve_problem,
    start_route,
)
from core.kinds import EventKind, OrderStatus, RouteStatus, StopStatus
from core.models import Driver, Event, Order, Route, Stop
from tests.conftest import TEST_DAY
from tests.core.sim.fixtures import first_stop, open_stops, plan_day


@pytest.fixture
def planned(seeded_db: Session) -> Session:
    plan_day(seeded_db, hub_ids=[1])
    return seeded_db


def _events(session: Session, kind: EventKind, order_id: int) -> list[Event]:
    return list(
        session.scalars(
            select(Event).where(Event.kind == kind, Event.order_id == order_id).order_by(Event.id)
        )
    )


def _pod(lat: float, lon: float, **kw: object) -> ProofOfDelivery:
    return ProofOfDelivery(lat=lat, lon=lon, recipient="customer", photo_ref="photo:1", **kw)  # type: ignore[arg-type]


def test_arrival_starts_the_route_and_puts_the_order_out_for_delivery(planned: Session) -> None:
    s = first_stop(planned)
    arrive(planned, s.driver_id, s.order_id, s.eta, s.lat, s.lon)
    stop = planned.scalars(select(Stop).where(Stop.order_id == s.order_id)).one()
    route = planned.get(Route, s.route_id)
    order = planned.get(Order, s.order_id)
    assert stop.status is StopStatus.ARRIVED and stop.arrived_at == s.eta
    assert route is not None and route.status is RouteStatus.IN_PROGRESS and route.started_at == s.eta
    assert order is not None and order.status is OrderStatus.OUT_FOR_DELIVERY
    [event] = _events(planned, EventKind.ARRIVED, s.order_id)
    assert (event.driver_id, event.lat, event.lon) == (s.driver_id, s.lat, s.lon)


def test_start_route_loads_every_pending_parcel(planned: Session) -> None:
    s = first_stop(planned, min_left=2)
    start_route(planned, s.driver_id, s.eta - timedelta(minutes=30), 40.7, -73.9)
    stops = planned.scalars(select(Stop).where(Stop.route_id == s.route_id)).all()
    assert stops and all(x.loaded for x in stops)
    states = set(planned.scalars(select(Order.status).where(Order.id.in_([x.order_id for x in stops]))))
    assert states == {OrderStatus.OUT_FOR_DELIVERY}


def test_an_order_is_delivered_at_most_once(planned: Session) -> None:
    s = first_stop(planned)
    at = s.eta + timedelta(minutes=3)
    deliver(planned, s.driver_id, s.order_id, at, _pod(s.lat, s.lon))
    order = planned.get(Order, s.order_id)
    assert order is not None and order.status is OrderStatus.DELIVERED
    assert order.attempts == 1 and order.delivered_at == at
    stop = planned.scalars(select(Stop).where(Stop.order_id == s.order_id)).one()
    assert stop.status is StopStatus.DELIVERED and stop.completed_at == at
    with pytest.raises(ControlTowerError, match="already delivered"):
        deliver(planned, s.driver_id, s.order_id, at + timedelta(minutes=1), _pod(s.lat, s.lon))
    assert len(_events(planned, EventKind.DELIVERED, s.order_id)) == 1
    assert planned.get(Order, s.order_id).attempts == 1  # type: ignore[union-attr]


def test_a_stop_of_another_driver_is_refused_and_nothing_changes(planned: Session) -> None:
    s = first_stop(planned)
    other = next(x.driver_id for x in open_stops(planned) if x.driver_id != s.driver_id)
    with pytest.raises(FieldReportError, match="another driver's route"):
        arrive(planned, other, s.order_id, s.eta, s.lat, s.lon)
    assert planned.get(Order, s.order_id).status is OrderStatus.PLANNED  # type: ignore[union-attr]
    assert _events(planned, EventKind.ARRIVED, s.order_id) == []


def test_a_report_outside_the_service_day_is_refused(planned: Session) -> None:
    s = first_stop(planned)
    with pytest.raises(FieldReportError, match="not on order .* service day"):
        arrive(planned, s.driver_id, s.order_id, s.eta - timedelta(days=2), s.lat, s.lon)


def test_a_failure_is_a_structured_record(planned: Session) -> None:
    s = first_stop(planned)
    at = s.eta + timedelta(minutes=4)
    slot = (s.eta + timedelta(days=1), s.eta + timedelta(days=1, hours=2))
    fail(
        planned,
        s.driver_id,
        s.order_id,
        at,
        ExceptionRecord(
            reason=ExceptionReason.NOT_HOME,
            action=ExceptionAction.RESCHEDULE,
            lat=s.lat,
            lon=s.lon,
            photo_ref="photo:door",
            reschedule_start_at=slot[0],
            reschedule_end_at=slot[1],
        ),
    )
    order = planned.get(Order, s.order_id)
    assert order is not None and order.status is OrderStatus.FAILED and order.attempts == 1
    [exception] = _events(planned, EventKind.EXCEPTION, s.order_id)
    assert exception.payload["reason"] == "not_home" and exception.payload["action"] == "reschedule"
    assert exception.payload["photo_ref"] == "photo:door"
    assert exception.payload["reschedule_start_at"] == slot[0].isoformat()
    [failed] = _events(planned, EventKind.FAILED, s.order_id)
    assert failed.payload == {"reason": "not_home", "action": "reschedule"}


def test_leaving_a_parcel_is_a_delivery_not_a_failure(planned: Session) -> None:
    s = first_stop(planned)
    record = ExceptionRecord(
        reason="not_home",
        action="safe_place",
        lat=s.lat,
        lon=s.lon,  # type: ignore[arg-type]
        place="behind the side gate",
        photo_ref="photo:gate",
    )
    with pytest.raises(FieldReportError, match="is delivered"):
        fail(planned, s.driver_id, s.order_id, s.eta, record)
    deliver(
        planned,
        s.driver_id,
        s.order_id,
        s.eta,
        ProofOfDelivery(
            lat=s.lat,
            lon=s.lon,
            handover=Handover.SAFE_PLACE,
            place="behind the side gate",
            photo_ref="photo:gate",
            exception=record,
        ),
    )
    [exception] = _events(planned, EventKind.EXCEPTION, s.order_id)
    assert exception.payload["resolved"] is True and exception.payload["place"] == "behind the side gate"
    [delivered] = _events(planned, EventKind.DELIVERED, s.order_id)
    assert delivered.payload["handover"] == "safe_place" and delivered.payload["pod"] == "photo"


def test_records_refuse_missing_evidence_and_unknown_reasons() -> None:
    with pytest.raises(ValueError, match="photo or a signature"):
        ProofOfDelivery(lat=0, lon=0)
    with pytest.raises(ValueError, match="needs the place"):
        ProofOfDelivery(lat=0, lon=0, handover=Handover.LOCKER, photo_ref="p")
    with pytest.raises(ValueError):
        ExceptionRecord(reason="lost_the_van", action="reschedule", lat=0, lon=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="disruption"):
        ProblemReport(reason=ExceptionReason.NOT_HOME, lat=0, lon=0)
    assert {r.value for r in ExceptionReason} == {
        "not_home",
        "access_issue",
        "address_not_found",
        "refused",
        "damaged",
        "vehicle_breakdown",
        "road_closed",
        "running_late",
    }
    assert {a.value for a in ExceptionAction} == {
        "safe_place",
        "neighbour",
        "locker",
        "reschedule",
        "return_to_depot",
    }


def test_a_disruption_is_an_open_exception_until_resolved(planned: Session) -> None:
    s = first_stop(planned)
    event_id = report_problem(
        planned,
        s.driver_id,
        s.eta,
        ProblemReport(
            reason=ExceptionReason.VEHICLE_BREAKDOWN,
            lat=s.lat,
            lon=s.lon,
            needs_dispatch=True,
            detail=ProblemDetail(cause="clutch", repair_s=3600),
        ),
    )
    event = planned.get(Event, event_id)
    assert event is not None and event.kind is EventKind.EXCEPTION
    assert event.payload["reason"] == "vehicle_breakdown" and event.payload["needs_dispatch"] is True
    assert event.payload["resolved"] is False and event.payload["detail"] == {
        "cause": "clutch",
        "repair_s": 3600,
    }
    resolve_problem(planned, event_id, s.eta + timedelta(hours=1), "repaired")
    assert planned.get(Event, event_id).payload["resolved"] is True  # type: ignore[union-attr]


def test_a_driver_without_a_route_cannot_report_a_problem(planned: Session) -> None:
    routed = {x.driver_id for x in open_stops(planned)}
    idle = planned.scalar(select(Driver.id).where(Driver.id.not_in(routed)).limit(1))
    with pytest.raises(FieldReportError, match="no route"):
        report_problem(
            planned,
            idle,
            first_stop(planned).eta,  # type: ignore[arg-type]
            ProblemReport(reason=ExceptionReason.RUNNING_LATE, lat=0, lon=0),
        )


def test_pings_from_an_unknown_driver_are_refused(planned: Session) -> None:
    s = first_stop(planned)
    report_position(planned, s.driver_id, s.eta, s.lat, s.lon)
    with pytest.raises(FieldReportError, match="unknown driver"):
        report_position(planned, 999_999, s.eta, s.lat, s.lon)
    assert (
        planned.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.kind == EventKind.GPS_PING, Event.driver_id == s.driver_id)
        )
        == 1
    )


def test_a_batch_can_return_refusals_instead_of_raising(planned: Session) -> None:
    s = first_stop(planned)
    good = Delivery(s.driver_id, s.order_id, s.eta, _pod(s.lat, s.lon))
    again = Delivery(s.driver_id, s.order_id, s.eta, _pod(s.lat, s.lon))
    rejected = deliver_many(planned, [good, again], strict=False)
    assert [r.item for r in rejected] == [again] and "already delivered" in rejected[0].reason
    assert planned.get(Order, s.order_id).status is OrderStatus.DELIVERED  # type: ignore[union-attr]


def test_finishing_a_route_records_its_distance(planned: Session) -> None:
    s = first_stop(planned)
    finish_route(planned, s.driver_id, s.eta + timedelta(hours=5), s.lat, s.lon, distance_m=42_000)
    route = planned.get(Route, s.route_id)
    assert route is not None and route.status is RouteStatus.COMPLETED and route.distance_m == 42_000
    assert TEST_DAY == route.plan.service_date
