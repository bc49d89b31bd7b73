"""Generate vendors, fleets, vehicles, drivers and their compliance documents as insertable rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np

from core.bulk import Row
from core.kinds import DocumentKind, DriverStatus, FleetType, VehicleKind
from core.scenario.city import FLEETS, VEHICLES, VENDORS, City, RegionSpec
from core.scenario.users import DEMO_USERS

DOCUMENT_VALIDITY_DAYS = {
    DocumentKind.LICENCE: 5 * 365,
    DocumentKind.INSURANCE: 365,
    DocumentKind.BACKGROUND_CHECK: 2 * 365,
    DocumentKind.VEHICLE_INSPECTION: 365,
}
EXPIRED_SHARE = 0.015
EXPIRING_SOON_SHARE = 0.08
UNVERIFIED_SHARE = 0.01
GIG_MISSING_INSURANCE_SHARE = 0.03
CODE_PREFIX = {"CAPTIVE": "C", "MPP": "M", "HUD": "H", "DASH": "G"}
DEMO_DRIVER_CODES = frozenset(u.driver_code for u in DEMO_USERS if u.driver_code)


@dataclass(frozen=True)
class FleetRows:
    regions: list[Row]
    hubs: list[Row]
    vendors: list[Row]
    fleets: list[Row]
    vehicles: list[Row]
    drivers: list[Row]
    documents: list[Row]


def _shift(fleet_type: FleetType, rng: np.random.Generator) -> tuple[time, time]:
    if fleet_type is FleetType.GIG:
        start = int(rng.integers(8, 15))
        return time(start), time(min(start + int(rng.integers(4, 8)), 21))
    start = int(rng.choice([7, 8, 8, 9, 10]))
    return time(start), time(start + (10 if fleet_type is FleetType.CAPTIVE else 9))


def _vehicle_type(fleet_type: FleetType, rng: np.random.Generator) -> VehicleKind:
    if fleet_type is FleetType.GIG:
        return VehicleKind.CARGO_BIKE if rng.random() < 0.3 else VehicleKind.CAR
    return VehicleKind.VAN


def _skills(fleet_type: FleetType, cold_chain: bool, rng: np.random.Generator) -> list[str]:
    age_share, two_share = {
        FleetType.CAPTIVE: (1.0, 0.2),
        FleetType.THIRD_PARTY: (0.6, 0.1),
        FleetType.GIG: (0.4, 0.0),
    }[fleet_type]
    skills = [s for s, share in (("age_check", age_share), ("two_person", two_share)) if rng.random() < share]
    return sorted(skills + ["cold_chain"]) if cold_chain else skills


def _expiry_offset_days(rng: np.random.Generator, validity_days: int) -> int:
    draw = rng.random()
    if draw < EXPIRED_SHARE:
        return -int(rng.integers(1, 60))
    if draw < EXPIRED_SHARE + EXPIRING_SOON_SHARE:
        return int(rng.integers(0, 31))
    return int(rng.integers(31, validity_days))


def _documents(
    driver: Row,
    vehicle_id: int,
    today: date,
    rng: np.random.Generator,
    fleet_type: FleetType,
    next_id: int,
    in_order: bool = False,
) -> list[Row]:
    """A driver's documents with the scenario's share of gaps; `in_order`: every one valid and
    verified (the demo users' own drivers, so they have a route to show). The random draws are
    the same either way, so the rest of the scenario does not change."""
    noon = datetime.combine(today, time(12), tzinfo=UTC)
    rows: list[Row] = []
    for kind, validity in DOCUMENT_VALIDITY_DAYS.items():
        missing = (
            kind is DocumentKind.INSURANCE
            and fleet_type is FleetType.GIG
            and rng.random() < GIG_MISSING_INSURANCE_SHARE
        )
        if missing and not in_order:
            continue
        offset = _expiry_offset_days(rng, validity)
        expires_at = noon + timedelta(days=validity // 2 if in_order else offset)
        issued_at = expires_at - timedelta(days=validity)
        verified = bool(rng.random() >= UNVERIFIED_SHARE) or in_order
        rows.append(
            {
                "id": next_id + len(rows),
                "driver_id": driver["id"],
                "vehicle_id": vehicle_id if kind is DocumentKind.VEHICLE_INSPECTION else None,
                "kind": kind,
                "reference": f"{kind.value[:3].upper()}-{driver['code']}",
                "issued_at": issued_at,
                "expires_at": expires_at,
                "verified": verified,
                "verified_at": issued_at + timedelta(days=2) if verified else None,
            }
        )
    return rows


def generate_fleet(
    city: City, regions: tuple[RegionSpec, ...], n_drivers: int, today: date, rng: np.random.Generator
) -> FleetRows:
    """Drivers are spread evenly over hubs, then over fleets by each fleet's share."""
    region_rows = [{"id": i + 1, **r.__dict__} for i, r in enumerate(regions)]
    region_id = {r["code"]: r["id"] for r in region_rows}
    hub_rows = [
        {
            "id": i + 1,
            "code": h.code,
            "name": h.name,
            "region_id": region_id[h.region],
            "lat": h.lat,
            "lon": h.lon,
            "timezone": city.timezone,
            "loading_bays": h.loading_bays,
            "turnaround_s": h.turnaround_s,
        }
        for i, h in enumerate(city.hubs)
    ]
    vendor_rows = [
        {"id": i + 1, "code": v.code, "name": v.name, "kind": v.kind} for i, v in enumerate(VENDORS)
    ]
    vendor_id = {v["code"]: v["id"] for v in vendor_rows}
    fleet_rows = [
        {
            "id": i + 1,
            "code": f.code,
            "name": f.name,
            "fleet_type": f.fleet_type,
            "vendor_id": vendor_id[f.vendor_code] if f.vendor_code else None,
            "per_hour_cents": f.per_hour_cents,
            "per_km_cents": f.per_km_cents,
            "per_drop_cents": f.per_drop_cents,
            "route_minimum_cents": f.route_minimum_cents,
            "per_task_cents": f.per_task_cents,
            "min_payout_cents": f.min_payout_cents,
        }
        for i, f in enumerate(FLEETS)
    ]
    shares = np.array([f.driver_share for f in FLEETS])
    fleet_of_driver = rng.choice(len(FLEETS), size=n_drivers, p=shares / shares.sum())
    vehicles: list[Row] = []
    drivers: list[Row] = []
    documents: list[Row] = []
    counters = dict.fromkeys(CODE_PREFIX, 0)
    for i in range(n_drivers):
        fleet = FLEETS[int(fleet_of_driver[i])]
        hub = hub_rows[i % len(hub_rows)]
        counters[fleet.code] += 1
        code = f"{CODE_PREFIX[fleet.code]}-{counters[fleet.code]:03d}"
        vtype = _vehicle_type(fleet.fleet_type, rng)
        spec = VEHICLES[vtype]
        electric = vtype is VehicleKind.CARGO_BIKE or bool(rng.random() < 0.25)
        cold_chain = fleet.fleet_type is FleetType.CAPTIVE and bool(rng.random() < 0.15)
        vehicle: Row = {
            "id": i + 1,
            "registration": f"{hub['code']}-{code}",
            "fleet_id": FLEETS.index(fleet) + 1,
            "vehicle_type": vtype,
            "capacity_parcels": spec.capacity_parcels,
            "capacity_g": spec.capacity_g,
            "capacity_ml": spec.capacity_ml,
            "electric": electric,
            "co2_g_per_km": 0 if electric else spec.co2_g_per_km,
            "cold_chain": cold_chain,
        }
        shift_start, shift_end = _shift(fleet.fleet_type, rng)
        status_draw = rng.random()
        status = (
            DriverStatus.SUSPENDED
            if status_draw < 0.02
            else DriverStatus.OFF_DUTY
            if status_draw < 0.05
            else DriverStatus.ACTIVE
        )
        driver = {
            "id": i + 1,
            "code": code,
            "name": f"{rng.choice(city.first_names)} {rng.choice(city.last_names)}",
            "fleet_id": vehicle["fleet_id"],
            "vehicle_id": vehicle["id"],
            "home_hub_id": hub["id"],
            "region_id": hub["region_id"],
            "shift_start": shift_start,
            "shift_end": shift_end,
            "skills": _skills(fleet.fleet_type, cold_chain, rng),
            "status": status,
        }
        vehicles.append(vehicle)
        drivers.append(driver)
        documents.extend(
            _documents(
                driver,
                vehicle["id"],
                today,
                rng,
                fleet.fleet_type,
                len(documents) + 1,
                code in DEMO_DRIVER_CODES,
            )
        )
    return FleetRows(region_rows, hub_rows, vendor_rows, fleet_rows, vehicles, drivers, documents)
