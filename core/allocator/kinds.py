"""Enumerations of the allocator's kinds, stored as strings so adapters map them 1:1 to columns."""

from enum import StrEnum


class FleetType(StrEnum):
    """Who employs the driver; decides the pay model (see `costs.FleetCost`)."""

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


class SlaMode(StrEnum):
    """Hard: service must start by due_s. Soft: lateness allowed at a per-minute price."""

    HARD = "hard"
    SOFT = "soft"


class PremiumOnGig(StrEnum):
    """How a premium order treats gig couriers: a surcharge in the objective, or a bar."""

    SURCHARGE = "surcharge"
    BAR = "bar"
