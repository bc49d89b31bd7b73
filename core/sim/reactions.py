"""How simulated people react: drivers at a door, drivers hit by a disruption, customers
answering a message. Each reaction goes through the same services a real person's app would
call (`core.field`, the co-pilot, the tracking link).

Two field policies: with the co-pilot (`copilot=True`) a driver takes the co-pilot's best
not-home action and asks it to reroute on a disruption; rule-based, not-home means a failed
delivery taken back to the depot and a disruption is only reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
from sqlalchemy.orm import Session

from core.agents.copilot import not_home_options, not_home_report
from core.agents.copilot_reroute import Closure, RerouteOutcome, reroute
from core.agents.customer import (
    ChoiceRequest,
    OutboundMessage,
    SendReceipt,
    next_slots,
    record_customer_choice,
    token_of,
)
from core.allocator.stop import StopRule
from core.errors import ControlTowerError
from core.field import (
    Delivery,
    ExceptionAction,
    ExceptionReason,
    ExceptionRecord,
    Failure,
    ProblemDetail,
    ProblemReport,
    ProofOfDelivery,
    report_problem,
)
from core.kinds import CustomerChoiceKind, MessageKind
from core.sim.disruptions import Area, Door, DoorOutcome

KNOCK_S = 90  # ring, wait, call the customer
DECIDE_S = 60  # note a failed attempt


@dataclass(frozen=True)
class DoorPlan:
    """What the driver will report when the service ends, and how long the door takes."""

    report: Delivery | Failure
    busy_s: int
    action: ExceptionAction | None


def _photo(order_id: int, at: datetime) -> str:
    return f"sim://photo/{order_id}/{int(at.timestamp())}"


def at_the_door(
    session: Session,
    driver_id: int,
    order_id: int,
    parcels: int,
    service_s: int,
    at: datetime,
    lat: float,
    lon: float,
    outcome: DoorOutcome,
    copilot: bool,
) -> DoorPlan:
    """Decide the door's outcome when the driver arrives (`at`); the report is stamped later."""
    if outcome.door is Door.DELIVERED:
        pod = ProofOfDelivery(
            lat=lat,
            lon=lon,
            recipient="customer",
            signature_ref=f"sim://signature/{order_id}" if parcels > 2 else None,
            photo_ref=None if parcels > 2 else _photo(order_id, at),
        )
        return DoorPlan(Delivery(driver_id, order_id, at, pod), service_s, None)
    if outcome.door is Door.FAILED or not copilot:
        reason = outcome.reason or ExceptionReason.NOT_HOME
        record = ExceptionRecord(
            reason=reason,
            action=ExceptionAction.RETURN_TO_DEPOT,
            lat=lat,
            lon=lon,
            photo_ref=_photo(order_id, at),
        )
        return DoorPlan(
            Failure(driver_id, order_id, at, record), KNOCK_S + DECIDE_S, ExceptionAction.RETURN_TO_DEPOT
        )
    advice = not_home_options(session, driver_id, order_id, at)
    options = list(advice.options)
    extra = 0
    if options[0].action is ExceptionAction.NEIGHBOUR and not outcome.neighbour_home:
        extra = options[0].extra_time_s  # knocked next door for nothing
        options = options[1:]
    choice = options[0]
    recipient = "neighbour" if choice.action is ExceptionAction.NEIGHBOUR else None
    report = not_home_report(driver_id, order_id, at, choice, lat, lon, _photo(order_id, at), recipient)
    return DoorPlan(report, KNOCK_S + extra + choice.extra_time_s, choice.action)


@dataclass(frozen=True)
class Problem:
    driver_id: int
    at: datetime
    reason: ExceptionReason
    lat: float
    lon: float
    delay_s: int | None = None
    detail: ProblemDetail = ProblemDetail()


def handle_problem(
    session: Session, problem: Problem, copilot: bool, closures: tuple[Area, ...], stop: StopRule, seed: int
) -> tuple[int, RerouteOutcome | None]:
    """Report the disruption; with the co-pilot, reroute or escalate. Returns the event id."""
    event_id = report_problem(
        session,
        problem.driver_id,
        problem.at,
        ProblemReport(
            reason=problem.reason,
            lat=problem.lat,
            lon=problem.lon,
            delay_s=problem.delay_s,
            detail=problem.detail,
        ),
    )
    if not copilot:
        return event_id, None
    outcome = reroute(
        session,
        problem.driver_id,
        problem.at,
        problem.reason,
        problem.lat,
        problem.lon,
        closures=tuple(Closure(a.lat, a.lon, a.radius_m, a.factor) for a in closures),
        seed=seed,
        stop=stop,
        problem_event_id=event_id,
    )
    return event_id, outcome


class SimulatedCustomers:
    """A `MessageSender` whose recipients sometimes answer through their tracking link.

    A customer answers with probability `rate`, drawn from the seed and the message id; an
    ETA or delay message gets a safe place (or a neighbour when no safe place is possible), a
    missed-you gets tomorrow's first slot.
    """

    def __init__(self, rate: float, seed: int, day: date, tz: str) -> None:
        self.rate, self.seed, self.day, self.tz = rate, seed, day, tz
        self.inbox: list[OutboundMessage] = []

    def send(self, message: OutboundMessage) -> SendReceipt:
        self.inbox.append(message)
        return SendReceipt(True, provider_ref=f"sim-{message.message_id}")

    def _requests(self, kind: MessageKind) -> list[ChoiceRequest]:
        if kind is MessageKind.MISSED_YOU:
            return [ChoiceRequest(CustomerChoiceKind.RESCHEDULE, slot=next_slots(self.day, self.tz, 1)[0])]
        return [
            ChoiceRequest(CustomerChoiceKind.SAFE_PLACE, place="behind the bins"),
            ChoiceRequest(CustomerChoiceKind.NEIGHBOUR),
        ]

    def answer(self, session: Session, now: datetime) -> int:
        """Customers act on what they received; returns how many choices were recorded."""
        answered = 0
        for message in self.inbox:
            if np.random.default_rng([self.seed, 3, message.message_id]).random() >= self.rate:
                continue
            token = token_of(message.tracking_url)
            for request in self._requests(message.kind):
                try:
                    record_customer_choice(session, token, request, now)
                except ControlTowerError:
                    continue  # not on offer for this parcel (or it moved on): try the next
                answered += 1
                break
        self.inbox.clear()
        return answered
