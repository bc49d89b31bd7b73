"""The delivery day's data model: SQLAlchemy 2.0 typed models on one declarative base.

Units are in column names; times are timezone-aware UTC through `UtcDateTime` (SQLite drops
offsets); statuses and kinds are `StrEnum`s stored as strings with a CHECK constraint, so an
order is always in exactly one known state.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Time,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from core.json_data import JsonObject
from core.kinds import (
    BrandTier,
    ContactChannel,
    CustomerChoiceKind,
    DocumentKind,
    DriverStatus,
    EventKind,
    FleetType,
    MessageKind,
    MessageStatus,
    OrderStatus,
    ProposalStatus,
    ProposerKind,
    Role,
    RouteStatus,
    SlaKind,
    StopStatus,
    VehicleKind,
    VendorKind,
)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend; a naive datetime is refused as a bug."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: store timezone-aware times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _enum(cls: type[StrEnum], name: str) -> Enum:
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime(), JsonObject: JSON, list[str]: JSON}


class Region(Base):
    """A jurisdiction whose hours-of-service limits are configuration data (`data/regions.json`)."""

    __tablename__ = "regions"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    daily_driving_limit_s: Mapped[int]
    weekly_driving_limit_s: Mapped[int]
    break_after_s: Mapped[int]
    break_duration_s: Mapped[int]


class Hub(Base):
    __tablename__ = "hubs"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    timezone: Mapped[str] = mapped_column(String(64))
    loading_bays: Mapped[int]
    turnaround_s: Mapped[int]


class Vendor(Base):
    """A 3PL company or a gig platform; vendor users see only their vendor's rows."""

    __tablename__ = "vendors"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[VendorKind] = mapped_column(_enum(VendorKind, "vendor_kind"))


class Fleet(Base):
    """A group of drivers under one cost model: captive, a 3PL contract or a gig platform."""

    __tablename__ = "fleets"
    __table_args__ = (
        CheckConstraint(
            "(fleet_type = 'captive' AND vendor_id IS NULL) OR "
            "(fleet_type <> 'captive' AND vendor_id IS NOT NULL)",
            name="vendor_matches_type",
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    fleet_type: Mapped[FleetType] = mapped_column(_enum(FleetType, "fleet_type"))
    vendor_id: Mapped[int | None] = mapped_column(ForeignKey("vendors.id"), index=True)
    per_hour_cents: Mapped[int] = mapped_column(default=0)
    per_km_cents: Mapped[int] = mapped_column(default=0)
    per_drop_cents: Mapped[int] = mapped_column(default=0)
    route_minimum_cents: Mapped[int] = mapped_column(default=0)
    per_task_cents: Mapped[int] = mapped_column(default=0)
    min_payout_cents: Mapped[int] = mapped_column(default=0)

    vendor: Mapped[Vendor | None] = relationship()


class Vehicle(Base):
    __tablename__ = "vehicles"
    id: Mapped[int] = mapped_column(primary_key=True)
    registration: Mapped[str] = mapped_column(String(32), unique=True)
    fleet_id: Mapped[int] = mapped_column(ForeignKey("fleets.id"), index=True)
    vehicle_type: Mapped[VehicleKind] = mapped_column(_enum(VehicleKind, "vehicle_type"))
    capacity_parcels: Mapped[int]
    capacity_g: Mapped[int]
    capacity_ml: Mapped[int]
    electric: Mapped[bool] = mapped_column(Boolean)
    co2_g_per_km: Mapped[int]
    cold_chain: Mapped[bool] = mapped_column(Boolean)


class Driver(Base):
    """One driver profile for every fleet type: captive, 3PL or gig."""

    __tablename__ = "drivers"
    __table_args__ = (CheckConstraint("shift_start < shift_end", name="shift_ordered"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    fleet_id: Mapped[int] = mapped_column(ForeignKey("fleets.id"), index=True)
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"))
    home_hub_id: Mapped[int] = mapped_column(ForeignKey("hubs.id"), index=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    shift_start: Mapped[time] = mapped_column(Time)
    shift_end: Mapped[time] = mapped_column(Time)
    skills: Mapped[list[str]] = mapped_column(default=list)
    status: Mapped[DriverStatus] = mapped_column(_enum(DriverStatus, "driver_status"))

    fleet: Mapped[Fleet] = relationship()
    vehicle: Mapped[Vehicle | None] = relationship()


class ComplianceDocument(Base):
    __tablename__ = "compliance_documents"
    __table_args__ = (CheckConstraint("expires_at IS NULL OR expires_at > issued_at", name="dates_ordered"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    driver_id: Mapped[int] = mapped_column(ForeignKey("drivers.id"), index=True)
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"))
    kind: Mapped[DocumentKind] = mapped_column(_enum(DocumentKind, "document_kind"))
    reference: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    verified_at: Mapped[datetime | None]


class Order(Base):
    """A parcel delivery with its SLA window, size, skills and the customer's stated preferences."""

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("window_end_at > window_start_at", name="window_ordered"),
        CheckConstraint("lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180", name="coords"),
        CheckConstraint("attempts >= 0", name="attempts_nonnegative"),
        Index("ix_orders_service_date_hub", "service_date", "hub_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    external_ref: Mapped[str] = mapped_column(String(64), unique=True)
    hub_id: Mapped[int] = mapped_column(ForeignKey("hubs.id"))
    service_date: Mapped[date] = mapped_column(Date)
    status: Mapped[OrderStatus] = mapped_column(_enum(OrderStatus, "order_status"), index=True)
    address: Mapped[str] = mapped_column(String(200))
    zone: Mapped[str] = mapped_column(String(32))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    parcels: Mapped[int]
    weight_g: Mapped[int]
    volume_ml: Mapped[int]
    service_time_s: Mapped[int]
    sla_kind: Mapped[SlaKind] = mapped_column(_enum(SlaKind, "sla_kind"))
    window_start_at: Mapped[datetime]
    window_end_at: Mapped[datetime]
    priority: Mapped[int]
    brand_tier: Mapped[BrandTier] = mapped_column(_enum(BrandTier, "brand_tier"))
    required_skills: Mapped[list[str]] = mapped_column(default=list)
    customer_name: Mapped[str] = mapped_column(String(120))
    contact_channel: Mapped[ContactChannel] = mapped_column(_enum(ContactChannel, "contact"))
    safe_place_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    safe_place_note: Mapped[str | None] = mapped_column(String(120))
    neighbour_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    locker_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class Plan(Base):
    """One hub's plan for one day; `version` moves on every applied change (optimistic locking)."""

    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("hub_id", "service_date", name="uq_plans_hub_day"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    hub_id: Mapped[int] = mapped_column(ForeignKey("hubs.id"))
    service_date: Mapped[date] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime]

    routes: Mapped[list[Route]] = relationship(back_populates="plan", order_by="Route.id")
    __mapper_args__ = {"version_id_col": version}


class Route(Base):
    __tablename__ = "routes"
    __table_args__ = (UniqueConstraint("plan_id", "driver_id", name="uq_routes_plan_driver"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    driver_id: Mapped[int] = mapped_column(ForeignKey("drivers.id"), index=True)
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"))
    status: Mapped[RouteStatus] = mapped_column(_enum(RouteStatus, "route_status"))
    planned_start_at: Mapped[datetime]
    planned_end_at: Mapped[datetime]
    planned_distance_m: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    distance_m: Mapped[int] = mapped_column(default=0)

    plan: Mapped[Plan] = relationship(back_populates="routes")
    stops: Mapped[list[Stop]] = relationship(back_populates="route", order_by="Stop.sequence")


class Stop(Base):
    __tablename__ = "stops"
    __table_args__ = (
        UniqueConstraint("route_id", "sequence", name="uq_stops_route_sequence"),
        CheckConstraint("sequence >= 0", name="sequence_nonnegative"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    route_id: Mapped[int] = mapped_column(ForeignKey("routes.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    sequence: Mapped[int]
    status: Mapped[StopStatus] = mapped_column(_enum(StopStatus, "stop_status"))
    loaded: Mapped[bool] = mapped_column(Boolean, default=False)
    planned_eta_at: Mapped[datetime]
    arrived_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]

    route: Mapped[Route] = relationship(back_populates="stops")


class Event(Base):
    """What a driver's phone (or the simulator) reports: time, position, structured payload."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_driver_time", "driver_id", "occurred_at"),
        Index("ix_events_kind_time", "kind", "occurred_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[EventKind] = mapped_column(_enum(EventKind, "event_kind"))
    occurred_at: Mapped[datetime]
    driver_id: Mapped[int] = mapped_column(ForeignKey("drivers.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    payload: Mapped[JsonObject] = mapped_column(default=dict)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role <> 'vendor' OR vendor_id IS NOT NULL", name="vendor_has_vendor"),
        CheckConstraint("role <> 'driver' OR driver_id IS NOT NULL", name="driver_has_driver"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    vendor_id: Mapped[int | None] = mapped_column(ForeignKey("vendors.id"))
    driver_id: Mapped[int | None] = mapped_column(ForeignKey("drivers.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class SignInSession(Base):
    """One sign-in: the browser's cookie holds a random token, this row only its keyed hash.

    Ending the row (sign-out, password change, deactivation) signs out every tab that holds the
    cookie on its next run; `expires_at` is on the wall clock, never the simulator's.
    """

    __tablename__ = "sign_in_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class Proposal(Base):
    """A change to a plan that an agent or a person proposes and a person approves or rejects."""

    __tablename__ = "proposals"
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    base_version: Mapped[int]
    kind: Mapped[str] = mapped_column(String(32))
    proposer_kind: Mapped[ProposerKind] = mapped_column(_enum(ProposerKind, "proposer_kind"))
    proposed_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    change: Mapped[JsonObject] = mapped_column(default=dict)
    effect: Mapped[JsonObject] = mapped_column(default=dict)
    rationale: Mapped[str] = mapped_column(Text)
    status: Mapped[ProposalStatus] = mapped_column(_enum(ProposalStatus, "proposal_status"), index=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(Text)


class AuditEntry(Base):
    """Every applied change: who, when, what."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int | None]
    detail: Mapped[JsonObject] = mapped_column(default=dict)


# -- The live day's customer side (migration 0002): outbox, tracking links, customer choices --


class TrackingToken(Base):
    """An unguessable link to one order; only the SHA-256 of the token is stored."""

    __tablename__ = "tracking_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class OutboxMessage(Base):
    """A customer message waiting for (or handed to) a provider; `dedupe_key` sends it once."""

    __tablename__ = "outbox_messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    kind: Mapped[MessageKind] = mapped_column(_enum(MessageKind, "message_kind"))
    channel: Mapped[ContactChannel] = mapped_column(_enum(ContactChannel, "message_channel"))
    status: Mapped[MessageStatus] = mapped_column(_enum(MessageStatus, "message_status"), index=True)
    dedupe_key: Mapped[str] = mapped_column(String(80), unique=True)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    body: Mapped[str] = mapped_column(Text)
    payload: Mapped[JsonObject] = mapped_column(default=dict)
    provider_ref: Mapped[str | None] = mapped_column(String(120))
    error: Mapped[str | None] = mapped_column(String(200))


class CustomerChoice(Base):
    """A customer's stated preference for one order, made through its tracking link."""

    __tablename__ = "customer_choices"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    token_id: Mapped[int | None] = mapped_column(ForeignKey("tracking_tokens.id"))
    kind: Mapped[CustomerChoiceKind] = mapped_column(_enum(CustomerChoiceKind, "customer_choice_kind"))
    made_at: Mapped[datetime]
    detail: Mapped[JsonObject] = mapped_column(default=dict)


class SimState(Base):
    """The simulator's clock, one row: the app reads "now" from here while a simulator runs.

    `updated_at` is the wall clock of the simulator's last word, so a reader can tell a running
    (or paused) simulator from one that stopped; `paused` is set by the app and obeyed by it.
    """

    __tablename__ = "sim_state"
    id: Mapped[int] = mapped_column(primary_key=True)
    service_day: Mapped[date] = mapped_column(Date)
    sim_now_at: Mapped[datetime]
    speed: Mapped[float | None] = mapped_column(Float)  # times real time; None: as fast as possible
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime]
