"""The domain's vocabulary: every status and kind, and the named sets of states.

Storage (`core.models`), the allocator, the agents, the simulator, `ui` and the pages all name a
status from here, so none of them needs the ORM module to say "delivered". Each enum is a
`StrEnum` stored as its string value; this module imports nothing of the project.
"""

from enum import StrEnum


class FleetType(StrEnum):
    """Who employs the driver; decides the pay model (see `core.allocator.costs.FleetCost`)."""

    CAPTIVE = "captive"
    THIRD_PARTY = "third_party"
    GIG = "gig"


class VehicleKind(StrEnum):
    """What the driver drives; decides speed, CO2 and which orders fit."""

    VAN = "van"
    CARGO_BIKE = "cargo_bike"
    CAR = "car"


class BrandTier(StrEnum):
    """Premium orders prefer (or require) non-gig drivers, by `SolveParams.premium_on_gig`."""

    STANDARD = "standard"
    PREMIUM = "premium"


class VendorKind(StrEnum):
    THIRD_PARTY = "third_party"
    GIG_PLATFORM = "gig_platform"


class DriverStatus(StrEnum):
    ACTIVE = "active"
    OFF_DUTY = "off_duty"
    SUSPENDED = "suspended"


class DocumentKind(StrEnum):
    LICENCE = "licence"
    INSURANCE = "insurance"
    BACKGROUND_CHECK = "background_check"
    VEHICLE_INSPECTION = "vehicle_inspection"


class SlaKind(StrEnum):
    TWO_HOUR = "two_hour"
    FOUR_HOUR = "four_hour"
    SAME_DAY = "same_day"


class ContactChannel(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    NONE = "none"


class OrderStatus(StrEnum):
    """The one state every order is in."""

    UNASSIGNED = "unassigned"
    PLANNED = "planned"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


class RouteStatus(StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class StopStatus(StrEnum):
    PENDING = "pending"
    ARRIVED = "arrived"
    DELIVERED = "delivered"
    FAILED = "failed"


class EventKind(StrEnum):
    GPS_PING = "gps_ping"
    ARRIVED = "arrived"
    DELIVERED = "delivered"
    FAILED = "failed"
    EXCEPTION = "exception"


class ProposalStatus(StrEnum):
    PENDING = "pending"
    APPLIED = "applied"
    REJECTED = "rejected"
    STALE = "stale"


class ProposalKind(StrEnum):
    """What a proposal changes; each kind has its own change type and its own applier."""

    REBALANCE = "rebalance"  # routes re-planned: dispatch, compliance, capacity (3PL), rule-based
    REROUTE = "reroute"  # one driver's own stops re-sequenced by the co-pilot
    CALL_IN_GIG = "call_in_gig"
    LOADING_PLAN = "loading_plan"
    TURNAROUND_WARNING = "turnaround_warning"


class ProposerKind(StrEnum):
    AGENT = "agent"
    USER = "user"


class Role(StrEnum):
    ADMIN = "admin"
    DISPATCHER = "dispatcher"
    HEAD_OF_LAST_MILE = "head_of_last_mile"
    FLEET_MANAGER = "fleet_manager"
    VENDOR = "vendor"
    DRIVER = "driver"


class MessageKind(StrEnum):
    """What the customer agent tells a customer, each sent by policy, never by the driver."""

    ETA_WINDOW = "eta_window"
    DELAY = "delay"
    MISSED_YOU = "missed_you"


class MessageStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class CustomerChoiceKind(StrEnum):
    """What a customer may ask for through the tracking link."""

    SAFE_PLACE = "safe_place"
    NEIGHBOUR = "neighbour"
    RESCHEDULE = "reschedule"


# -- Named sets of states: one definition each, so "open" means the same in every query --

OPEN_ORDER_STATES: tuple[OrderStatus, ...] = (
    OrderStatus.UNASSIGNED,
    OrderStatus.PLANNED,
    OrderStatus.OUT_FOR_DELIVERY,
)
"""An order still to be delivered today: not delivered, failed or cancelled."""

PENDING_STOP_STATES: tuple[StopStatus, ...] = (StopStatus.PENDING, StopStatus.ARRIVED)
"""A stop still on the driver's route: not yet delivered or failed (arrived counts as pending)."""
