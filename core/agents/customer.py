"""The customer agent: messages by policy (ETA window, delay, missed you), a tracking link per
order, and the choices a customer makes through it.

Messages go to an outbox table and leave through a `MessageSender`, the seam a real SMS or
e-mail provider implements; a message is queued once per order and kind (`dedupe_key`).
Each message carries a tracking link with an unguessable token (`secrets.token_urlsafe`);
only its SHA-256 is stored, and the link itself sits in the queued message's payload until the
provider takes it, then is dropped. A token opens exactly one order: `tracking_view` and
`record_customer_choice` take nothing but the token, so there is no id to tamper with.

Customer choices are stored in `customer_choices`, not as driver events: they have no driver
and no position. The co-pilot reads them when the customer is not at home.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol, cast
from urllib.parse import parse_qs, urlencode, urlsplit

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from core.bulk import Row, bulk_insert
from core.config import get_settings
from core.errors import AccessDeniedError, ControlTowerError
from core.json_data import JsonObject, int_or_none
from core.kinds import (
    OPEN_ORDER_STATES,
    PENDING_STOP_STATES,
    ContactChannel,
    CustomerChoiceKind,
    EventKind,
    MessageKind,
    MessageStatus,
    OrderStatus,
)
from core.models import CustomerChoice, Event, Hub, Order, OutboxMessage, Plan, Route, Stop, TrackingToken
from core.timeutil import at_seconds, local_hhmm

TOKEN_BYTES = 24
TOKEN_TTL = timedelta(days=3)
SLOT_S = 2 * 3600
FIRST_SLOT_S = 8 * 3600
SLOTS_OFFERED = 3
NO_SAFE_PLACE_SKILLS = frozenset({"age_check", "cold_chain"})
NO_NEIGHBOUR_SKILLS = frozenset({"age_check"})


class TrackingLinkError(AccessDeniedError):
    """The link is unknown or expired; it says nothing about which orders exist."""


@dataclass(frozen=True)
class CustomerPolicy:
    """When the agent writes: an ETA window of `eta_window_s` once out for delivery, a delay
    notice when the predicted arrival passes the booked window by more than `delay_threshold_s`,
    and a missed-you with reschedule slots after a failed not-home attempt."""

    eta_window_s: int = 3600
    delay_threshold_s: int = 15 * 60
    base_url: str = field(default_factory=lambda: tracking_base_url(get_settings().public_url))


@dataclass(frozen=True)
class OutboundMessage:
    """What a provider adapter gets: the text with the link filled in, and who it is for."""

    message_id: int
    order_ref: str
    customer_name: str
    channel: ContactChannel
    kind: MessageKind
    text: str
    tracking_url: str


@dataclass(frozen=True)
class SendReceipt:
    ok: bool
    provider_ref: str | None = None
    error: str | None = None


class MessageSender(Protocol):
    """An SMS or e-mail provider; the recipient's address book lives with the provider."""

    def send(self, message: OutboundMessage) -> SendReceipt: ...


@dataclass
class RecordingSender:
    """Keeps what it is given (tests and the simulator's customers read it)."""

    sent: list[OutboundMessage] = field(default_factory=list)

    def send(self, message: OutboundMessage) -> SendReceipt:
        self.sent.append(message)
        return SendReceipt(True, provider_ref=f"rec-{len(self.sent)}")


@dataclass(frozen=True)
class Slot:
    start_at: datetime
    end_at: datetime


@dataclass(frozen=True)
class ChoiceDetail:
    """What a customer's choice names: the place (a safe place, a neighbour) or the slot."""

    place: str | None = None
    slot: Slot | None = None

    def to_json(self) -> JsonObject:
        if self.slot is not None:
            return {
                "slot_start_at": self.slot.start_at.isoformat(),
                "slot_end_at": self.slot.end_at.isoformat(),
            }
        return {"place": self.place} if self.place else {}

    @classmethod
    def from_json(cls, data: JsonObject) -> ChoiceDetail:
        start, end = data.get("slot_start_at"), data.get("slot_end_at")
        slot = Slot(datetime.fromisoformat(start), datetime.fromisoformat(end)) if start and end else None
        return cls(data.get("place"), slot)


@dataclass(frozen=True)
class EtaWindow:
    """The ETA a message gives and the window around it."""

    eta_at: datetime
    eta_start_at: datetime
    eta_end_at: datetime


@dataclass(frozen=True)
class MessagePayload:
    """What an outbox message carries besides its text: its tracking link and, for an ETA or a
    delay, the window and how late."""

    tracking_url: str
    window: EtaWindow | None = None
    late_s: int | None = None

    def to_json(self) -> JsonObject:
        window = {k: v.isoformat() for k, v in asdict(self.window).items()} if self.window else {}
        late = {"late_s": self.late_s} if self.late_s is not None else {}
        return {**window, **late, "tracking_url": self.tracking_url}

    @classmethod
    def from_json(cls, data: JsonObject) -> MessagePayload:
        at = [str(data.get(k) or "") for k in ("eta_at", "eta_start_at", "eta_end_at")]
        window = EtaWindow(*(datetime.fromisoformat(t) for t in at)) if all(at) else None
        return cls(str(data.get("tracking_url", "")), window, int_or_none(data.get("late_s")))


@dataclass(frozen=True)
class ChoiceOption:
    kind: CustomerChoiceKind
    label: str
    slots: tuple[Slot, ...] = ()


@dataclass(frozen=True)
class TrackingView:
    """All a tracking link shows: one order's progress, its ETA window and what may be chosen."""

    order_ref: str
    status: OrderStatus
    window_start_at: datetime
    window_end_at: datetime
    eta_start_at: datetime | None
    eta_end_at: datetime | None
    stops_before: int | None
    delivered_at: datetime | None
    choices: tuple[ChoiceOption, ...]
    chosen: CustomerChoiceKind | None
    chosen_place: str | None = None  # the safe place or neighbour as the customer typed it
    chosen_slot: Slot | None = None  # the new delivery slot the customer picked


@dataclass(frozen=True)
class ChoiceRequest:
    kind: CustomerChoiceKind
    place: str | None = None
    slot: Slot | None = None


def tracking_base_url(public_url: str) -> str:
    """The tracking page under the app's public address (`PUBLIC_URL`): links are
    <public_url>/track?t=<token>."""
    return f"{public_url.rstrip('/')}/track"


def tracking_url(base_url: str, token: str) -> str:
    """The link a message carries: the app's tracking page with the token as `?t=` (Streamlit
    serves a page at one path segment, so the token cannot be a path segment of its own)."""
    return f"{base_url}?{urlencode({'t': token})}"


def token_of(url: str) -> str:
    """The token of a tracking link (the simulator's customers follow their links with it)."""
    return parse_qs(urlsplit(url).query).get("t", [""])[0]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, order_id: int, now: datetime, ttl: timedelta = TOKEN_TTL) -> str:
    """A new tracking token for one order; the caller sees it once, we keep only its hash."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        TrackingToken(order_id=order_id, token_hash=token_hash(token), created_at=now, expires_at=now + ttl)
    )
    return token


def next_slots(day: date, tz: str, count: int = SLOTS_OFFERED) -> tuple[Slot, ...]:
    """The first `count` two-hour slots of the day after `day` (08:00-10:00, 10:00-12:00, ...)."""
    nxt = day + timedelta(days=1)
    return tuple(
        Slot(
            at_seconds(nxt, tz, FIRST_SLOT_S + i * SLOT_S),
            at_seconds(nxt, tz, FIRST_SLOT_S + (i + 1) * SLOT_S),
        )
        for i in range(count)
    )


def latest_choices(session: Session, order_ids: Sequence[int]) -> dict[int, CustomerChoice]:
    """The most recent choice per order (later choices replace earlier ones)."""
    out: dict[int, CustomerChoice] = {}
    if not order_ids:
        return out
    for c in session.scalars(
        select(CustomerChoice)
        .where(CustomerChoice.order_id.in_(order_ids))
        .order_by(CustomerChoice.made_at, CustomerChoice.id)
    ):
        out[c.order_id] = c
    return out


@dataclass(frozen=True)
class _Eta:
    stop_sequence: int
    eta_at: datetime
    stops_before: int


def _etas(session: Session, order_ids: Sequence[int], now: datetime) -> dict[int, _Eta]:
    """Predicted arrival of these orders' open stops: the planned ETA pushed back by how late
    the route runs (now minus the earliest planned ETA among its open stops)."""
    routes = select(Stop.route_id).where(Stop.order_id.in_(order_ids), Stop.status.in_(PENDING_STOP_STATES))
    rows = session.execute(
        select(Stop.route_id, Stop.order_id, Stop.sequence, Stop.planned_eta_at)
        .where(Stop.route_id.in_(routes), Stop.status.in_(PENDING_STOP_STATES))
        .order_by(Stop.route_id, Stop.sequence)
    ).all()
    first: dict[int, datetime] = {}
    for route_id, _, _, planned in rows:
        first[route_id] = min(first.get(route_id, planned), planned)
    out: dict[int, _Eta] = {}
    before: dict[int, int] = {}
    for route_id, order_id, seq, planned in rows:
        delay = max(timedelta(0), now - first[route_id])
        out[order_id] = _Eta(seq, planned + delay, before.get(route_id, 0))
        before[route_id] = before.get(route_id, 0) + 1
    return out


def _first_name(name: str) -> str:
    return name.split(" ", 1)[0]


@dataclass(frozen=True)
class _Recipient:
    id: int
    ref: str
    customer_name: str
    contact_channel: ContactChannel
    window_end_at: datetime
    status: OrderStatus

    @classmethod
    def of(cls, values: Sequence[Any]) -> _Recipient:
        return cls(*values)


@dataclass
class _Outbox:
    """Messages and tokens of one agent run, written in two bulk inserts at the end."""

    policy: CustomerPolicy
    now: datetime
    messages: list[Row] = field(default_factory=list)
    tokens: list[Row] = field(default_factory=list)

    def queue(
        self,
        order: _Recipient,
        kind: MessageKind,
        key: str,
        text: str,
        window: EtaWindow | None = None,
        late_s: int | None = None,
    ) -> None:
        token = secrets.token_urlsafe(TOKEN_BYTES)
        self.tokens.append(
            {
                "order_id": order.id,
                "token_hash": token_hash(token),
                "created_at": self.now,
                "expires_at": self.now + TOKEN_TTL,
            }
        )
        self.messages.append(
            {
                "order_id": order.id,
                "kind": kind,
                "channel": order.contact_channel,
                "status": MessageStatus.QUEUED,
                "dedupe_key": key,
                "created_at": self.now,
                "sent_at": None,
                "attempts": 0,
                "body": text,
                "provider_ref": None,
                "error": None,
                "payload": MessagePayload(
                    tracking_url(self.policy.base_url, token), window, late_s
                ).to_json(),
            }
        )

    def write(self, session: Session) -> int:
        bulk_insert(session, TrackingToken.__table__, self.tokens)  # type: ignore[arg-type]
        bulk_insert(session, OutboxMessage.__table__, self.messages)  # type: ignore[arg-type]
        return len(self.messages)


_RECIPIENT = (
    Order.id,
    Order.external_ref,
    Order.customer_name,
    Order.contact_channel,
    Order.window_end_at,
    Order.status,
)


def run_customer_agent(
    session: Session, day: date, now: datetime, policy: CustomerPolicy = CustomerPolicy()
) -> int:
    """Queue every message the policy calls for on `day` as of `now`; returns how many.

    Reads columns only (a metro day has thousands of open orders and this runs every few
    simulated minutes): the open stops with their predicted ETAs, and the missed customers.
    """
    tz_of = dict(session.execute(select(Hub.id, Hub.timezone)).all())
    reachable = Order.contact_channel != ContactChannel.NONE
    half = timedelta(seconds=policy.eta_window_s // 2)
    outbox = _Outbox(policy, now)
    missed_sent = _already(MessageKind.MISSED_YOU)
    for *cols, hub_id in session.execute(
        select(*_RECIPIENT, Order.hub_id).where(
            Order.id.in_(_missed_not_home(day)), Order.id.not_in(missed_sent), reachable
        )
    ).all():
        order = _Recipient.of(cols)
        tz = tz_of[hub_id]
        slot = next_slots(day, tz, 1)[0]
        text = (
            f"Hi {_first_name(order.customer_name)}, your parcel {order.ref} could not be "
            f"delivered today: we missed you. Pick a new slot (e.g. tomorrow "
            f"{local_hhmm(slot.start_at, tz)}-{local_hhmm(slot.end_at, tz)}) or leave instructions: "
            "{tracking_url}"
        )
        outbox.queue(order, MessageKind.MISSED_YOU, f"missed:{order.id}", text)
    open_stop = (Plan.service_date == day) & Stop.status.in_(PENDING_STOP_STATES)
    first = session.execute(
        select(Stop.route_id, func.min(Stop.planned_eta_at))
        .join(Route, Stop.route_id == Route.id)
        .join(Plan, Route.plan_id == Plan.id)
        .where(open_stop)
        .group_by(Stop.route_id)
    ).all()
    delay = {r: max(timedelta(0), now - eta) for r, eta in first}
    # Only rows that may need a message: out for delivery without an ETA message, or without a
    # delay message and either planned past the window or on a route running later than the
    # threshold (a stop planned inside its window cannot be more than `delay - threshold` late).
    threshold = timedelta(seconds=policy.delay_threshold_s)
    late_routes = [r for r, d in delay.items() if d > threshold]
    may_be_late = Stop.route_id.in_(late_routes) | (Stop.planned_eta_at > Order.window_end_at)
    due = (
        (Order.status == OrderStatus.OUT_FOR_DELIVERY) & Order.id.not_in(_already(MessageKind.ETA_WINDOW))
    ) | (may_be_late & Order.id.not_in(_already(MessageKind.DELAY)))
    rows = session.execute(
        select(
            Stop.route_id,
            Stop.planned_eta_at,
            Plan.hub_id,
            *_RECIPIENT,
            Order.id.in_(_already(MessageKind.ETA_WINDOW)),
            Order.id.in_(_already(MessageKind.DELAY)),
        )
        .join(Route, Stop.route_id == Route.id)
        .join(Plan, Route.plan_id == Plan.id)
        .join(Order, Order.id == Stop.order_id)
        .where(open_stop, reachable, due)
    )
    for route_id, planned, hub_id, *cols, eta_sent, delay_sent in rows:
        order, eta = _Recipient.of(cols), planned + delay[route_id]
        late_s = (eta - order.window_end_at).total_seconds()
        due_eta = order.status is OrderStatus.OUT_FOR_DELIVERY and not eta_sent
        due_delay = late_s > policy.delay_threshold_s and not delay_sent
        if not (due_eta or due_delay):
            continue
        tz, start, end = tz_of[hub_id], eta - half, eta + half
        hello = f"Hi {_first_name(order.customer_name)}, your parcel {order.ref}"
        window = EtaWindow(eta, start, end)
        if due_eta:
            text = (
                f"{hello} is out for delivery and should arrive between {local_hhmm(start, tz)} and "
                f"{local_hhmm(end, tz)}. Track it or leave instructions: {{tracking_url}}"
            )
            outbox.queue(order, MessageKind.ETA_WINDOW, f"eta:{order.id}", text, window)
        if due_delay:
            text = (
                f"{hello} is running late: we now expect it between {local_hhmm(start, tz)} and "
                f"{local_hhmm(end, tz)}, after your booked slot. Sorry. Options: {{tracking_url}}"
            )
            outbox.queue(order, MessageKind.DELAY, f"delay:{order.id}", text, window, int(late_s))
    return outbox.write(session)


def _already(kind: MessageKind) -> Any:
    """Orders that already have a message of this kind (a subquery)."""
    return select(OutboxMessage.order_id).where(OutboxMessage.kind == kind)


def _missed_not_home(day: date) -> Any:
    """Orders of `day` whose attempt failed because nobody was at home (a subquery)."""
    return (
        select(Event.order_id)
        .join(Order, Order.id == Event.order_id)
        .where(
            Order.service_date == day,
            Order.status == OrderStatus.FAILED,
            Event.kind == EventKind.FAILED,
            Event.payload["reason"].as_string() == "not_home",
        )
    )


@dataclass(frozen=True)
class OutboxReport:
    sent: int
    failed: int


def deliver_outbox(session: Session, sender: MessageSender, now: datetime, limit: int = 5000) -> OutboxReport:
    """Hand queued messages to the provider; each message keeps the link it carried."""
    rows = session.execute(
        select(
            OutboxMessage.id,
            OutboxMessage.channel,
            OutboxMessage.kind,
            OutboxMessage.body,
            OutboxMessage.payload,
            OutboxMessage.attempts,
            Order.external_ref,
            Order.customer_name,
        )
        .join(Order, Order.id == OutboxMessage.order_id)
        .where(OutboxMessage.status == MessageStatus.QUEUED)
        .order_by(OutboxMessage.id)
        .limit(limit)
    ).all()
    updates = []
    for mid, channel, kind, body, payload, attempts, ref, name in rows:
        url = MessagePayload.from_json(payload).tracking_url
        receipt = sender.send(
            OutboundMessage(mid, ref, name, channel, kind, body.replace("{tracking_url}", url), url)
        )
        ok = receipt.ok
        updates.append(
            {
                "mid": mid,
                "status": MessageStatus.SENT if ok else MessageStatus.FAILED,
                "sent_at": now if ok else None,
                "attempts": attempts + 1,
                "provider_ref": receipt.provider_ref,
                "error": None if ok else (receipt.error or "")[:200],
                "payload": payload,  # the link it sent stays with the message
            }
        )
    if updates:
        table = cast(Table, OutboxMessage.__table__)
        session.connection().execute(
            update(table)
            .where(table.c.id == bindparam("mid"))
            .values(
                {
                    c: bindparam(c)
                    for c in ("status", "sent_at", "attempts", "provider_ref", "error", "payload")
                }
            ),
            updates,
        )
        for key in [k for k in session.identity_map.keys() if k[0] is OutboxMessage]:
            session.expire(session.identity_map[key])
    sent = sum(1 for u in updates if u["status"] is MessageStatus.SENT)
    return OutboxReport(sent, len(updates) - sent)


def _token_row(session: Session, token: str, now: datetime) -> TrackingToken:
    row = session.scalars(select(TrackingToken).where(TrackingToken.token_hash == token_hash(token))).first()
    if row is None or row.expires_at <= now:
        raise TrackingLinkError("This tracking link is not valid or has expired.")
    return row


def _choices(order: Order, tz: str) -> tuple[ChoiceOption, ...]:
    if order.status not in (*OPEN_ORDER_STATES, OrderStatus.FAILED):
        return ()
    skills = set(order.required_skills)
    out = []
    if not skills & NO_SAFE_PLACE_SKILLS:
        note = order.safe_place_note or "a safe place you name"
        out.append(ChoiceOption(CustomerChoiceKind.SAFE_PLACE, f"Leave it in a safe place ({note})"))
    if not skills & NO_NEIGHBOUR_SKILLS:
        out.append(ChoiceOption(CustomerChoiceKind.NEIGHBOUR, "Leave it with a neighbour"))
    out.append(
        ChoiceOption(
            CustomerChoiceKind.RESCHEDULE, "Deliver it another time", next_slots(order.service_date, tz)
        )
    )
    return tuple(out)


def tracking_view(session: Session, token: str, now: datetime) -> TrackingView:
    """What the customer sees behind the link; raises `TrackingLinkError` for a bad link."""
    row = _token_row(session, token, now)
    order = session.get(Order, row.order_id)
    assert order is not None
    hub = session.get(Hub, order.hub_id)
    assert hub is not None
    eta = _etas(session, [order.id], now).get(order.id) if order.status in OPEN_ORDER_STATES else None
    half = timedelta(minutes=30)
    chosen = latest_choices(session, [order.id]).get(order.id)
    detail = ChoiceDetail.from_json(chosen.detail) if chosen else ChoiceDetail()
    return TrackingView(
        order_ref=order.external_ref,
        status=order.status,
        window_start_at=order.window_start_at,
        window_end_at=order.window_end_at,
        eta_start_at=eta.eta_at - half if eta else None,
        eta_end_at=eta.eta_at + half if eta else None,
        stops_before=eta.stops_before if eta else None,
        delivered_at=order.delivered_at,
        choices=_choices(order, hub.timezone),
        chosen=chosen.kind if chosen else None,
        chosen_place=detail.place,
        chosen_slot=detail.slot,
    )


def record_customer_choice(session: Session, token: str, choice: ChoiceRequest, now: datetime) -> int:
    """Store what the customer asked for on the token's order; refuses a choice not on offer."""
    found = session.execute(
        select(TrackingToken.id, TrackingToken.expires_at, Order, Hub.timezone)
        .join(Order, Order.id == TrackingToken.order_id)
        .join(Hub, Hub.id == Order.hub_id)
        .where(TrackingToken.token_hash == token_hash(token))
    ).first()
    if found is None or found[1] <= now:
        raise TrackingLinkError("This tracking link is not valid or has expired.")
    token_id, _, order, tz = found
    offered = {c.kind: c for c in _choices(order, tz)}
    kind = CustomerChoiceKind(choice.kind)
    if kind not in offered:
        raise ControlTowerError(f"'{kind.value}' is not possible for this parcel now")
    detail = ChoiceDetail()
    if kind is CustomerChoiceKind.RESCHEDULE:
        if choice.slot is None or choice.slot not in offered[kind].slots:
            raise ControlTowerError("pick one of the offered delivery slots")
        detail = ChoiceDetail(slot=choice.slot)
    elif choice.place:
        detail = ChoiceDetail(place=choice.place.strip()[:120])
    made = CustomerChoice(
        order_id=order.id, token_id=token_id, kind=kind, made_at=now, detail=detail.to_json()
    )
    session.add(made)
    session.flush()
    return made.id
