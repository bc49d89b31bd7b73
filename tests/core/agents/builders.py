"""A hand-built hub for the agent tests: fleets, drivers with vans, orders, a plan and routes.

One hub in New York (turnaround and bays set per test); fleets: OWN (captive, $25/h),
ParcelCo (3PL, $4.50 a drop, $90 route minimum), DashDrop (gig, $6 a task + $0.40/km,
$20 minimum payout). Orders sit a few hundred metres apart around the hub.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.orm import Session

from core.kinds import (
    BrandTier,
    ContactChannel,
    DocumentKind,
    DriverStatus,
    FleetType,
    OrderStatus,
    RouteStatus,
    SlaKind,
    StopStatus,
    VehicleKind,
    VendorKind,
)
from core.models import (
    ComplianceDocument,
    Driver,
    Fleet,
    Hub,
    Order,
    Plan,
    Region,
    Route,
    Stop,
    Vehicle,
    Vendor,
)
from core.timeutil import at_seconds

DAY = date(2026, 11, 27)
TZ = "America/New_York"
HUB = (40.70, -74.00)


def local(hh: int, mm: int = 0) -> datetime:
    return at_seconds(DAY, TZ, hh * 3600 + mm * 60)


@dataclass
class World:
    db: Session
    hub: Hub
    region: Region
    fleets: dict[str, Fleet]
    drivers: dict[str, Driver] = field(default_factory=dict)
    orders: list[Order] = field(default_factory=list)
    plan: Plan | None = None

    def driver(
        self,
        code: str,
        fleet: str,
        start: int,
        end: int,
        status: DriverStatus = DriverStatus.ACTIVE,
        start_min: int = 0,
    ) -> Driver:
        van = Vehicle(
            registration=f"R-{code}",
            fleet_id=self.fleets[fleet].id,
            vehicle_type=VehicleKind.VAN,
            capacity_parcels=100,
            capacity_g=800_000,
            capacity_ml=6_000_000,
            electric=False,
            co2_g_per_km=200,
            cold_chain=False,
        )
        self.db.add(van)
        self.db.flush()
        d = Driver(
            code=code,
            name=code.upper(),
            fleet_id=self.fleets[fleet].id,
            vehicle_id=van.id,
            home_hub_id=self.hub.id,
            region_id=self.region.id,
            shift_start=time(start, start_min),
            shift_end=time(end),
            skills=[],
            status=status,
        )
        self.db.add(d)
        self.db.flush()
        issued = datetime.combine(DAY, time(0), tzinfo=UTC) - timedelta(days=400)
        for kind in DocumentKind:  # every document valid: compliance leaves the driver free to work
            self.db.add(
                ComplianceDocument(
                    driver_id=d.id,
                    vehicle_id=van.id if kind is DocumentKind.VEHICLE_INSPECTION else None,
                    kind=kind,
                    reference=f"{kind.value}-{code}",
                    issued_at=issued,
                    expires_at=issued + timedelta(days=1200),
                    verified=True,
                    verified_at=issued,
                )
            )
        self.drivers[code] = d
        return d

    def order(
        self, window: tuple[int, int], status: OrderStatus = OrderStatus.UNASSIGNED, service_s: int = 1800
    ) -> Order:
        i = len(self.orders)
        o = Order(
            external_ref=f"o{i + 1:02d}",
            hub_id=self.hub.id,
            service_date=DAY,
            status=status,
            address=f"{i} Main St",
            zone="Z1",
            lat=HUB[0] + 0.003 * (i % 5 + 1),
            lon=HUB[1] + 0.003 * (i // 5),
            parcels=1,
            weight_g=1000,
            volume_ml=1000,
            service_time_s=service_s,
            sla_kind=SlaKind.TWO_HOUR,
            window_start_at=local(window[0]),
            window_end_at=local(window[1]),
            priority=1,
            brand_tier=BrandTier.STANDARD,
            required_skills=[],
            customer_name="C",
            contact_channel=ContactChannel.SMS,
            attempts=0,
            created_at=local(6),
            delivered_at=None,
        )
        self.db.add(o)
        self.db.flush()
        self.orders.append(o)
        return o

    def route(self, driver: str, start: tuple[int, int], stops: list[tuple[Order, tuple[int, int]]]) -> Route:
        if self.plan is None:
            self.plan = Plan(hub_id=self.hub.id, service_date=DAY, updated_at=local(6))
            self.db.add(self.plan)
            self.db.flush()
        r = Route(
            plan_id=self.plan.id,
            driver_id=self.drivers[driver].id,
            vehicle_id=self.drivers[driver].vehicle_id,
            status=RouteStatus.PLANNED,
            planned_start_at=local(*start),
            planned_end_at=local(start[0] + 4, start[1]),
        )
        self.db.add(r)
        self.db.flush()
        for seq, (order, eta) in enumerate(stops):
            order.status = OrderStatus.PLANNED
            self.db.add(
                Stop(
                    route_id=r.id,
                    order_id=order.id,
                    sequence=seq,
                    status=StopStatus.PENDING,
                    loaded=False,
                    planned_eta_at=local(*eta),
                )
            )
        self.db.flush()
        return r


def build(db: Session, loading_bays: int = 4, turnaround_s: int = 600) -> World:
    region = Region(
        code="NY",
        name="New York",
        daily_driving_limit_s=36000,
        weekly_driving_limit_s=180000,
        break_after_s=16200,
        break_duration_s=1800,
    )
    db.add(region)
    db.flush()
    hub = Hub(
        code="QNS",
        name="Queens",
        region_id=region.id,
        lat=HUB[0],
        lon=HUB[1],
        timezone=TZ,
        loading_bays=loading_bays,
        turnaround_s=turnaround_s,
    )
    tpl = Vendor(code="PCO", name="ParcelCo", kind=VendorKind.THIRD_PARTY)
    gig = Vendor(code="DD", name="DashDrop", kind=VendorKind.GIG_PLATFORM)
    db.add_all([hub, tpl, gig])
    db.flush()
    fleets = {
        "own": Fleet(code="OWN", name="Own vans", fleet_type=FleetType.CAPTIVE, per_hour_cents=2500),
        "3pl": Fleet(
            code="PCO",
            name="ParcelCo",
            fleet_type=FleetType.THIRD_PARTY,
            vendor_id=tpl.id,
            per_drop_cents=450,
            route_minimum_cents=9000,
        ),
        "gig": Fleet(
            code="DD",
            name="DashDrop",
            fleet_type=FleetType.GIG,
            vendor_id=gig.id,
            per_task_cents=600,
            per_km_cents=40,
            min_payout_cents=2000,
        ),
    }
    db.add_all(fleets.values())
    db.flush()
    return World(db, hub, region, fleets)
