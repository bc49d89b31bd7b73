"""The driver app's records: a fixed taxonomy of reasons and actions, proofs of delivery,
exception and problem records, and the report items the batch services take.

Structured on purpose: a reason code, the action taken, time, position, place or recipient and
photo/signature references, so KPIs, the co-pilot and a dispatcher read fields, not paragraphs.
Each record's `to_json` is the payload its event stores; `ExceptionPayload.from_json` reads an
EXCEPTION event's payload back (older rows included).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime
from enum import StrEnum

from core.errors import ControlTowerError
from core.json_data import JsonObject, int_or_none


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


def _json(fields: JsonObject) -> JsonObject:
    """JSON-ready payload: enums as values, datetimes as ISO text, empty fields left out."""
    out: JsonObject = {}
    for key, value in fields.items():
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

    def to_json(self) -> JsonObject:
        return _json(asdict(self))

    def event_json(self) -> JsonObject:
        """The EXCEPTION event's payload: the record, resolved as it is reported."""
        return {**self.to_json(), "resolved": True}


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

    def to_json(self) -> JsonObject:
        data = {k: v for k, v in asdict(self).items() if k != "exception"}
        data["pod"] = "signature" if self.signature_ref else "photo"
        return _json(data)


@dataclass(frozen=True)
class ProblemDetail:
    """What is known of a disruption beyond its reason: its cause in the simulator (a closed
    area, a repair time, a late start, the breakdown a repair ends) and, once the co-pilot asks
    dispatch for help, the stops at risk (the first 50 of `at_risk_count`) and why."""

    repair_s: int | None = None
    repaired: int | None = None  # the breakdown's EXCEPTION event
    closure: int | None = None  # the closed area's id
    cause: str | None = None
    at_risk: tuple[str, ...] = ()
    at_risk_count: int | None = None
    why: str | None = None

    def merged(self, other: ProblemDetail) -> ProblemDetail:
        """This detail with what `other` knows on top."""
        return replace(self, **{k: v for k, v in asdict(other).items() if v not in (None, ())})

    def to_json(self) -> JsonObject:
        return _json({**asdict(self), "at_risk": list(self.at_risk) or None})

    @classmethod
    def from_json(cls, data: JsonObject) -> ProblemDetail:
        return cls(
            repair_s=int_or_none(data.get("repair_s")),
            repaired=int_or_none(data.get("repaired")),
            closure=int_or_none(data.get("closure")),
            cause=data.get("cause"),
            at_risk=tuple(str(ref) for ref in data.get("at_risk", ())),
            at_risk_count=int_or_none(data.get("at_risk_count")),
            why=data.get("why"),
        )


@dataclass(frozen=True)
class ProblemReport:
    """A disruption on the road; `needs_dispatch` flags it for a dispatcher to act on."""

    reason: ExceptionReason
    lat: float
    lon: float
    order_id: int | None = None  # the stop it affects first, if any
    delay_s: int | None = None
    needs_dispatch: bool = False
    detail: ProblemDetail = ProblemDetail()

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", ExceptionReason(self.reason))
        if self.reason not in DISRUPTIONS:
            raise ValueError(f"{self.reason.value} is a stop exception, not a disruption")


@dataclass(frozen=True)
class ExceptionPayload:
    """What every EXCEPTION event's payload says: why, whether it is resolved (a stop exception
    is at once, a disruption when it ends) and whether a dispatcher must act; a disruption also
    its delay, detail and resolution. A stop exception's record is stored beside these."""

    reason: str
    resolved: bool = False
    needs_dispatch: bool = False
    delay_s: int | None = None
    detail: ProblemDetail = ProblemDetail()
    resolved_at: datetime | None = None
    resolution: str | None = None

    @classmethod
    def reported(cls, problem: ProblemReport) -> ExceptionPayload:
        return cls(problem.reason, False, problem.needs_dispatch, problem.delay_s, problem.detail)

    def to_json(self) -> JsonObject:
        optional = _json(
            {"delay_s": self.delay_s, "resolved_at": self.resolved_at, "resolution": self.resolution}
        )
        flags = {
            "needs_dispatch": self.needs_dispatch,
            "resolved": self.resolved,
            "detail": self.detail.to_json(),
        }
        return {"reason": str(self.reason), **optional, **flags}

    @classmethod
    def from_json(cls, data: JsonObject) -> ExceptionPayload:
        resolved_at = data.get("resolved_at")
        return cls(
            reason=str(data.get("reason", "")),
            resolved=bool(data.get("resolved")),
            needs_dispatch=bool(data.get("needs_dispatch")),
            delay_s=int_or_none(data.get("delay_s")),
            detail=ProblemDetail.from_json(data.get("detail") or {}),
            resolved_at=datetime.fromisoformat(resolved_at) if resolved_at else None,
            resolution=data.get("resolution"),
        )


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
