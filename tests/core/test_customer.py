"""The customer agent: messages by policy through an outbox, tracking links that open one order."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.agents.customer import (
    ChoiceRequest,
    CustomerPolicy,
    OutboundMessage,
    RecordingSender,
    SendReceipt,
    TrackingLinkError,
    deliver_outbox,
    issue_token,
    record_customer_choice,
    run_customer_agent,
    tracking_view,
)
from core.config import get_settings
from core.errors import ControlTowerError
from core.field import ExceptionAction, ExceptionReason, ExceptionRecord, fail, start_route
from core.kinds import ContactChannel, CustomerChoiceKind, MessageKind, MessageStatus, OrderStatus
from core.models import CustomerChoice, Order, OutboxMessage, TrackingToken
from tests.conftest import TEST_DAY
from tests.core.sim.fixtures import first_stop, open_stops, plan_day


@pytest.fixture
def planned(seeded_db: Session) -> Session:
    plan_day(seeded_db, hub_ids=[1])
    return seeded_db


def _reachable(session: Session, order_ids: list[int]) -> set[int]:
    return set(
        session.scalars(
            select(Order.id).where(Order.id.in_(order_ids), Order.contact_channel != ContactChannel.NONE)
        )
    )


def _messages(session: Session, kind: MessageKind) -> list[OutboxMessage]:
    return list(
        session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id))
    )


def test_out_for_delivery_customers_get_one_eta_window_each(planned: Session) -> None:
    s = first_stop(planned, min_left=2)
    start = s.eta - timedelta(minutes=30)
    start_route(planned, s.driver_id, start, s.lat, s.lon)
    route_orders = [x.order_id for x in open_stops(planned) if x.route_id == s.route_id]
    policy = CustomerPolicy(delay_threshold_s=24 * 3600)  # ETA messages only in this test
    run_customer_agent(planned, TEST_DAY, start, policy)
    eta = _messages(planned, MessageKind.ETA_WINDOW)
    assert {m.order_id for m in eta} == _reachable(planned, route_orders)
    assert run_customer_agent(planned, TEST_DAY, start + timedelta(minutes=5), policy) == 0
    first = eta[0]
    assert first.status is MessageStatus.QUEUED and "{tracking_url}" in first.body
    assert first.payload["eta_start_at"] < first.payload["eta_end_at"]


def test_a_late_route_sends_a_delay_notice_past_the_threshold(planned: Session) -> None:
    s = first_stop(planned, min_left=2)
    route = [x for x in open_stops(planned) if x.route_id == s.route_id]
    run_customer_agent(planned, TEST_DAY, s.eta - timedelta(hours=1))
    planned_late = {m.order_id for m in _messages(planned, MessageKind.DELAY)}
    behind = timedelta(hours=6)
    run_customer_agent(planned, TEST_DAY, s.eta + behind)  # the route runs six hours behind plan
    delayed = {m.order_id for m in _messages(planned, MessageKind.DELAY)}
    threshold = timedelta(seconds=CustomerPolicy().delay_threshold_s)
    due = {x.order_id: planned.get(Order, x.order_id).window_end_at for x in route}  # type: ignore[union-attr]
    late = {x.order_id for x in route if x.eta + behind > due[x.order_id] + threshold}
    on_route = {o for o in delayed if o in due}
    assert late and on_route == _reachable(planned, list(late)) | (planned_late & set(due))
    assert planned_late <= delayed
    notice = next(m for m in _messages(planned, MessageKind.DELAY) if m.order_id in late)
    assert notice.payload["late_s"] > CustomerPolicy().delay_threshold_s and "running late" in notice.body


def test_a_missed_customer_gets_reschedule_options(planned: Session) -> None:
    s = first_stop(planned)
    order = planned.get(Order, s.order_id)
    assert order is not None
    order.contact_channel = ContactChannel.SMS
    fail(
        planned,
        s.driver_id,
        s.order_id,
        s.eta,
        ExceptionRecord(
            reason=ExceptionReason.NOT_HOME, action=ExceptionAction.RETURN_TO_DEPOT, lat=s.lat, lon=s.lon
        ),
    )
    run_customer_agent(planned, TEST_DAY, s.eta + timedelta(minutes=5))
    [missed] = _messages(planned, MessageKind.MISSED_YOU)
    assert missed.order_id == s.order_id and "tomorrow 08:00-10:00" in missed.body


def test_a_sent_message_keeps_its_link_and_the_token_is_stored_only_hashed(planned: Session) -> None:
    s = first_stop(planned)
    start_route(planned, s.driver_id, s.eta - timedelta(minutes=30), s.lat, s.lon)
    run_customer_agent(planned, TEST_DAY, s.eta - timedelta(minutes=30))
    sender = RecordingSender()
    report = deliver_outbox(planned, sender, s.eta)
    assert report.sent == len(sender.sent) > 0 and report.failed == 0
    text = sender.sent[0].text
    assert sender.sent[0].tracking_url in text and "{tracking_url}" not in text
    url = urlsplit(sender.sent[0].tracking_url)
    assert url.path == "/track"  # the app's tracking page (pages/track.py)
    [token] = parse_qs(url.query)["t"]
    sent = planned.get(OutboxMessage, sender.sent[0].message_id)
    assert (
        sent is not None
        and sent.status is MessageStatus.SENT
        and sent.payload["tracking_url"] == sender.sent[0].tracking_url
    )
    stored = planned.scalars(select(TrackingToken.token_hash)).all()
    assert hashlib.sha256(token.encode()).hexdigest() in stored and token not in stored


def test_links_start_at_the_public_url_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLIC_URL", "https://tower.example.com/")
    get_settings.cache_clear()
    try:
        assert CustomerPolicy().base_url == "https://tower.example.com/track"
    finally:
        get_settings.cache_clear()


def test_a_failing_provider_leaves_a_failed_message_with_its_error(planned: Session) -> None:
    class Down:
        def send(self, message: OutboundMessage) -> SendReceipt:
            return SendReceipt(False, error="provider unavailable")

    s = first_stop(planned)
    start_route(planned, s.driver_id, s.eta - timedelta(minutes=30), s.lat, s.lon)
    run_customer_agent(planned, TEST_DAY, s.eta - timedelta(minutes=30))
    assert deliver_outbox(planned, Down(), s.eta).failed > 0
    failed = planned.scalars(
        select(OutboxMessage).where(OutboxMessage.status == MessageStatus.FAILED)
    ).first()
    assert failed is not None and failed.error == "provider unavailable" and failed.attempts == 1


def test_a_tracking_link_shows_its_own_order_and_what_may_be_chosen(planned: Session) -> None:
    s = first_stop(planned, min_left=2)
    now = s.eta - timedelta(hours=1)
    token = issue_token(planned, s.order_id, now)
    view = tracking_view(planned, token, now)
    order = planned.get(Order, s.order_id)
    assert order is not None and view.order_ref == order.external_ref
    assert view.status is OrderStatus.PLANNED and view.stops_before == 0
    assert view.eta_start_at is not None and view.eta_start_at < s.eta < view.eta_end_at  # type: ignore[operator]
    kinds = [c.kind for c in view.choices]
    assert CustomerChoiceKind.RESCHEDULE in kinds
    reschedule = next(c for c in view.choices if c.kind is CustomerChoiceKind.RESCHEDULE)
    assert len(reschedule.slots) == 3


def test_a_token_grants_one_order_and_nothing_else(planned: Session) -> None:
    stops = open_stops(planned)
    a, b = stops[0], next(x for x in stops if x.order_id != stops[0].order_id)
    now = a.eta - timedelta(hours=2)
    token_a = issue_token(planned, a.order_id, now)
    choice_id = record_customer_choice(planned, token_a, ChoiceRequest(CustomerChoiceKind.NEIGHBOUR), now)
    assert planned.get(CustomerChoice, choice_id).order_id == a.order_id  # type: ignore[union-attr]
    assert (
        planned.scalar(
            select(func.count()).select_from(CustomerChoice).where(CustomerChoice.order_id == b.order_id)
        )
        == 0
    )
    for bad in ("", "x" * 32, token_a[:-1], token_a + "A"):
        with pytest.raises(TrackingLinkError):
            tracking_view(planned, bad, now)
    with pytest.raises(TrackingLinkError):
        tracking_view(planned, token_a, now + timedelta(days=4))  # expired


def test_a_choice_must_be_on_offer(planned: Session) -> None:
    s = first_stop(planned)
    now = s.eta - timedelta(hours=1)
    token = issue_token(planned, s.order_id, now)
    with pytest.raises(ControlTowerError, match="offered delivery slots"):
        record_customer_choice(planned, token, ChoiceRequest(CustomerChoiceKind.RESCHEDULE), now)
    slot = next(
        c for c in tracking_view(planned, token, now).choices if c.kind is CustomerChoiceKind.RESCHEDULE
    ).slots[1]
    request = ChoiceRequest(CustomerChoiceKind.RESCHEDULE, slot=slot)
    made = planned.get(CustomerChoice, record_customer_choice(planned, token, request, now))
    assert made is not None and made.detail["slot_start_at"] == slot.start_at.isoformat()
    assert tracking_view(planned, token, now).chosen is CustomerChoiceKind.RESCHEDULE
    order = planned.get(Order, s.order_id)
    assert order is not None
    order.status = OrderStatus.DELIVERED
    planned.flush()
    assert tracking_view(planned, token, now).choices == ()
    with pytest.raises(ControlTowerError, match="not possible"):
        record_customer_choice(planned, token, ChoiceRequest(CustomerChoiceKind.NEIGHBOUR), now)
