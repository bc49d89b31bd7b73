"""The columns of the order and driver CSVs, with the rule each value must keep."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from core.kinds import BrandTier, ContactChannel, SlaKind, VehicleKind

KNOWN_SKILLS = frozenset({"cold_chain", "age_check", "two_person"})
HOUR_S = 3600
TRUE_WORDS = {"true", "yes", "y", "1"}
FALSE_WORDS = {"false", "no", "n", "0"}


def _flag(value: object) -> object:
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError(f"{value!r} is not a yes/no value (use true/false, yes/no or 1/0)")
    return value


def _skills(value: object) -> object:
    if isinstance(value, str):
        names = {s.strip() for s in value.replace(",", ";").split(";") if s.strip()}
        unknown = names - KNOWN_SKILLS
        if unknown:
            raise ValueError(
                f"unknown skill(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(KNOWN_SKILLS))}"
            )
        return frozenset(names)
    return value


Flag = Annotated[bool, BeforeValidator(_flag)]
Skills = Annotated[frozenset[str], BeforeValidator(_skills)]


class OrderRow(BaseModel):
    """One line of an orders CSV. Times without an offset are the hub's local time."""

    model_config = ConfigDict(frozen=True, str_strip_whitespace=True, use_enum_values=False)

    external_ref: str = Field(min_length=1, max_length=64)
    hub: str = Field(min_length=1)
    address: str = Field(min_length=1, max_length=200)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    window_start: datetime
    window_end: datetime
    zone: str | None = Field(default=None, max_length=32)
    parcels: int = Field(default=1, ge=1, le=500)
    weight_kg: float = Field(default=1.0, ge=0, le=2000)
    volume_l: float = Field(default=5.0, ge=0, le=20000)
    service_time_s: int = Field(default=180, ge=0, le=7200)
    priority: int = Field(default=1, ge=1, le=3)
    brand_tier: BrandTier = BrandTier.STANDARD
    required_skills: Skills = frozenset()
    customer_name: str = Field(default="", max_length=120)
    contact_channel: ContactChannel = ContactChannel.SMS
    safe_place_allowed: Flag = False
    safe_place_note: str | None = Field(default=None, max_length=120)
    neighbour_allowed: Flag = False
    locker_allowed: Flag = False

    @model_validator(mode="after")
    def _window_ordered(self) -> OrderRow:
        if (self.window_start.tzinfo is None) != (self.window_end.tzinfo is None):
            raise ValueError("window_start and window_end must both have an offset or neither")
        if self.window_end <= self.window_start:
            raise ValueError(
                f"window_end {self.window_end.isoformat()} is not after "
                f"window_start {self.window_start.isoformat()}"
            )
        return self

    def sla_kind_for_window(self) -> SlaKind:
        length_s = (self.window_end - self.window_start).total_seconds()
        if length_s <= 2 * HOUR_S:
            return SlaKind.TWO_HOUR
        return SlaKind.FOUR_HOUR if length_s <= 4 * HOUR_S else SlaKind.SAME_DAY


class DriverRow(BaseModel):
    """One line of a drivers CSV; each driver brings one vehicle."""

    model_config = ConfigDict(frozen=True, str_strip_whitespace=True)

    code: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=120)
    fleet: str = Field(min_length=1)
    hub: str = Field(min_length=1)
    shift_start: time
    shift_end: time
    vehicle_type: VehicleKind
    capacity_parcels: int = Field(ge=1, le=1000)
    capacity_kg: float = Field(gt=0, le=5000)
    capacity_l: float = Field(gt=0, le=50000)
    region: str | None = None
    vehicle_registration: str | None = Field(default=None, max_length=32)
    electric: Flag = False
    co2_g_per_km: int = Field(default=200, ge=0, le=2000)
    cold_chain: Flag = False
    skills: Skills = frozenset()

    @model_validator(mode="after")
    def _shift_ordered(self) -> DriverRow:
        if self.shift_end <= self.shift_start:
            raise ValueError(f"shift_end {self.shift_end} is not after shift_start {self.shift_start}")
        return self


__all__ = ["DriverRow", "OrderRow"]
