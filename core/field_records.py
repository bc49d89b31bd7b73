"""The driver app's records: a fixed taxonomy of reasons and actions, proofs of delivery,
exception and problem records, and the report items the batch services take.

Structured on purpose: a reason code, the action taken, time, position, place or recipient and
photo/signature references, so KPIs, the co-pilot and a dispatcher read fields, not paragraphs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from core.errors import ControlTowerError


class ExceptionReason(StrEnum):
    """Why a stop did not go as planned, or what disrupted a route (fixed taxonomy)."""

    NOT_HOME = "not_home"
    ACCESS_ISSUE = "access_issue"
    ADDRESS_NOT_FOUND = "address_not_found"
    REFUSED = "refused"
    DAMAGED = "damaged"
    VEHICLE_BREAKDOWN = "vehicle_breakdown"
    ROAD_CLOSED = "road_closed"
    RUNNING_LATE = "running_late"


class ExceptionAction(StrEnum):
    """What the driver did about it."""

    SAFE_PLACE = "safe_place"
    NEIGHBOUR = "neighbour"
    LOCKER = "locker"
    RESCHEDULE = "reschedule"
    RETURN_TO_DEPOT = "return_to_depot"


class Handover(StrEnum):
    """How a delivered parcel changed hands."""

    CUSTOMER = "customer"
    SAFE_PLACE = "safe_place"
    NEIGHBOUR = "neighbour"
    LOCKER = "locker"


DISRUPTIONS = frozenset(
    {ExceptionReason.VEHICLE_BREAKDOWN, ExceptionReason.ROAD_CLOSED, ExceptionReason.RUNNING_LATE}
)
DELIVERING_ACTIONS = frozenset(
    {ExceptionAction.SAFE_PLACE, ExceptionAction.NEIGHBOUR, ExceptionAction.LOCKER}
)
FAILING_ACTIONS = frozenset({ExceptionAction.RESCHEDULE, ExceptionAction.RETURN_TO_DEPOT})


class FieldReportError(ControlTowerError):
    """A driver report that does not fit today's plan (not their stop, already delivered, ...)."""


def json_payload(d: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready payload: enums as values, datetimes as ISO text, empty fields left out."""
    out: dict[str, Any] = {}
    for key, value in d.items():
        if value is None:
            continue
        out[key] = (
            value.isoformat()
            if isinstance(value, datetime)
            else (value.value if isinstance(value, StrEnum) else value)
        )
    return out


@dataclass(frozen=True)
class ExceptionRecord:
    """A structured exception: reason, action, where, and the evidence (references, not images)."""

    reason: ExceptionReason
    action: ExceptionAction
    lat: float
    lon: float
    place: str | None = None  # safe place, neighbour's address, locker id
    recipient: str | None = None  # who took it (neighbour's name)
    photo_ref: str | None = None
    signature_ref: str | None = None
    reschedule_start_at: datetime | None = None
    reschedule_end_at: datetime | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", ExceptionReason(self.reason))
        object.__setattr__(self, "action", ExceptionAction(self.action))
        if (self.reschedule_start_at is None) != (self.reschedule_end_at is None):
            raise ValueError("give both ends of the reschedule window, or neither")
        if self.reschedule_start_at and self.reschedule_end_at:
            if self.action is not ExceptionAction.RESCHEDULE:
                raise ValueError("a reschedule window only goes with the reschedule action")
            if self.reschedule_end_at <= self.reschedule_start_at:
                raise ValueError("the reschedule window must end after it starts")

    def payload(self) -> dict[str, Any]:
        return json_payload(asdict(self))


@dataclass(frozen=True)
class ProofOfDelivery:
    """Where and how a parcel was handed over; `exception` is the not-home record when the
    customer was out and the parcel went to a safe place, a neighbour or a locker."""

    lat: float
    lon: float
    handover: Handover = Handover.CUSTOMER
    recipient: str | None = None
    place: str | None = None
    photo_ref: str | None = None
    signature_ref: str | None = None
    exception: ExceptionRecord | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "handover", Handover(self.handover))
        if self.photo_ref is None and self.signature_ref is None:
            raise ValueError("a proof of delivery needs a photo or a signature reference")
        if self.handover is not Handover.CUSTOMER and not self.place:
            raise ValueError(f"a {self.handover.value} handover needs the place it was left")
        if self.exception is not None and self.exception.action.value != self.handover.value:
            raise ValueError("the exception's action must be the handover that was made")

    def payload(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k != "exception"}
        data["pod"] = "signature" if self.signature_ref else "photo"
        return json_payload(data)


@dataclass(frozen=True)
class ProblemReport:
    """A disruption on the road; `needs_dispatch` flags it for a dispatcher to act on."""

    reason: ExceptionReason
    lat: float
    lon: float
    order_id: int | None = None  # the stop it affects first, if any
    delay_s: int | None = None
    needs_dispatch: bool = False
    detail: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", ExceptionReason(self.reason))
        if self.reason not in DISRUPTIONS:
            raise ValueError(f"{self.reason.value} is a stop exception, not a disruption")


@dataclass(frozen=True)
class Ping:
    driver_id: int
    at: datetime
    lat: float
    lon: float


@dataclass(frozen=True)
class Arrival:
    driver_id: int
    order_id: int
    at: datetime
    lat: float
    lon: float


@dataclass(frozen=True)
class Delivery:
    driver_id: int
    order_id: int
    at: datetime
    pod: ProofOfDelivery


@dataclass(frozen=True)
class Failure:
    driver_id: int
    order_id: int
    at: datetime
    exception: ExceptionRecord


@dataclass(frozen=True)
class RouteMove:
    """A route leaving the hub (start) or coming back to it (finish)."""

    driver_id: int
    at: datetime
    lat: float
    lon: float
    distance_m: int | None = None


@dataclass(frozen=True)
class Rejection:
    item: object
    reason: str
