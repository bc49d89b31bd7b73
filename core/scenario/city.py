"""The demo metro: New York City and Hudson County, on real coordinates, with its fleet catalogue.

Geography and hours-of-service limits are data (`core/scenario_data/*.json`); the vendor and
fleet catalogue, with its rate cards, is here because the generator's realism depends on it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from core.kinds import FleetType, VehicleKind, VendorKind

SCENARIO_DATA = Path(__file__).resolve().parent.parent / "scenario_data"


@dataclass(frozen=True)
class ZoneSpec:
    name: str
    lat: float
    lon: float


@dataclass(frozen=True)
class HubSpec:
    code: str
    name: str
    region: str
    lat: float
    lon: float
    loading_bays: int
    turnaround_s: int
    zones: tuple[ZoneSpec, ...]


@dataclass(frozen=True)
class RegionSpec:
    code: str
    name: str
    daily_driving_limit_s: int
    weekly_driving_limit_s: int
    break_after_s: int
    break_duration_s: int


@dataclass(frozen=True)
class City:
    timezone: str
    hubs: tuple[HubSpec, ...]
    streets: tuple[str, ...]
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]


@dataclass(frozen=True)
class VendorSpec:
    code: str
    name: str
    kind: VendorKind


@dataclass(frozen=True)
class FleetSpec:
    """A fleet with its rate card and its share of the drivers; `fail_rate` is its base."""

    code: str
    name: str
    fleet_type: FleetType
    vendor_code: str | None
    driver_share: float
    fail_rate: float
    late_rate: float
    per_hour_cents: int = 0
    per_km_cents: int = 0
    per_drop_cents: int = 0
    route_minimum_cents: int = 0
    per_task_cents: int = 0
    min_payout_cents: int = 0


@dataclass(frozen=True)
class VehicleSpec:
    vehicle_type: VehicleKind
    capacity_parcels: int
    capacity_g: int
    capacity_ml: int
    co2_g_per_km: int


VENDORS: tuple[VendorSpec, ...] = (
    VendorSpec("MPP", "Metro Parcel Partners", VendorKind.THIRD_PARTY),
    VendorSpec("HUD", "Hudson Logistics", VendorKind.THIRD_PARTY),
    VendorSpec("DASH", "DashDrop", VendorKind.GIG_PLATFORM),
)

FLEETS: tuple[FleetSpec, ...] = (
    FleetSpec(
        "CAPTIVE",
        "Own vans",
        FleetType.CAPTIVE,
        None,
        0.50,
        0.030,
        0.06,
        per_hour_cents=3200,
        per_km_cents=45,
    ),
    FleetSpec(
        "MPP",
        "Metro Parcel Partners contract",
        FleetType.THIRD_PARTY,
        "MPP",
        0.15,
        0.045,
        0.08,
        per_drop_cents=650,
        route_minimum_cents=9000,
    ),
    FleetSpec(
        "HUD",
        "Hudson Logistics contract",
        FleetType.THIRD_PARTY,
        "HUD",
        0.15,
        0.060,
        0.12,
        per_drop_cents=600,
        route_minimum_cents=8500,
    ),
    FleetSpec(
        "DASH",
        "DashDrop couriers",
        FleetType.GIG,
        "DASH",
        0.20,
        0.070,
        0.10,
        per_task_cents=750,
        per_km_cents=40,
        min_payout_cents=2500,
    ),
)

VEHICLES: dict[VehicleKind, VehicleSpec] = {
    VehicleKind.VAN: VehicleSpec(VehicleKind.VAN, 140, 1_100_000, 10_000_000, 240),
    VehicleKind.CAR: VehicleSpec(VehicleKind.CAR, 40, 350_000, 1_500_000, 150),
    VehicleKind.CARGO_BIKE: VehicleSpec(VehicleKind.CARGO_BIKE, 25, 150_000, 800_000, 0),
}

SKILLS = ("cold_chain", "age_check", "two_person")


@lru_cache(maxsize=1)
def load_city() -> City:
    raw = json.loads((SCENARIO_DATA / "nyc.json").read_text())
    hubs = tuple(
        HubSpec(
            code=h["code"],
            name=h["name"],
            region=h["region"],
            lat=h["lat"],
            lon=h["lon"],
            loading_bays=h["loading_bays"],
            turnaround_s=h["turnaround_s"],
            zones=tuple(ZoneSpec(n, la, lo) for n, la, lo in h["zones"]),
        )
        for h in raw["hubs"]
    )
    return City(
        raw["timezone"], hubs, tuple(raw["streets"]), tuple(raw["first_names"]), tuple(raw["last_names"])
    )


@lru_cache(maxsize=1)
def load_regions() -> tuple[RegionSpec, ...]:
    raw = json.loads((SCENARIO_DATA / "regions.json").read_text())
    return tuple(RegionSpec(**r) for r in raw["regions"])
