"""Fleet pay models: what one route of one driver costs in money, by fleet type.

Pure and importable on purpose: the allocator prices routes with it and KPI reports use the
same function, so "cost per drop" means the same thing in a proposal and in a scorecard.
"""

from dataclasses import dataclass

from core.kinds import FleetType

_MS_PER_HOUR_KM = 3_600_000  # seconds per hour x metres per km: common denominator


@dataclass(frozen=True)
class FleetCost:
    """Rates of one pay model; only the fields of `fleet_type` are used.

    captive:     per_hour_cents x hours of route + per_km_cents x km
    third_party: max(per_drop_cents x drops, route_minimum_cents)
    gig:         max(per_task_cents x tasks + per_km_cents x km, min_payout_cents)
    """

    fleet_type: FleetType
    per_hour_cents: int = 0
    per_km_cents: int = 0
    per_drop_cents: int = 0
    route_minimum_cents: int = 0
    per_task_cents: int = 0
    min_payout_cents: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "fleet_type", FleetType(self.fleet_type))
        for name in (
            "per_hour_cents",
            "per_km_cents",
            "per_drop_cents",
            "route_minimum_cents",
            "per_task_cents",
            "min_payout_cents",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")

    @classmethod
    def captive(cls, per_hour_cents: int, per_km_cents: int = 0) -> "FleetCost":
        return cls(FleetType.CAPTIVE, per_hour_cents=per_hour_cents, per_km_cents=per_km_cents)

    @classmethod
    def third_party(cls, per_drop_cents: int, route_minimum_cents: int = 0) -> "FleetCost":
        return cls(
            FleetType.THIRD_PARTY,
            per_drop_cents=per_drop_cents,
            route_minimum_cents=route_minimum_cents,
        )

    @classmethod
    def gig(cls, per_task_cents: int, per_km_cents: int = 0, min_payout_cents: int = 0) -> "FleetCost":
        return cls(
            FleetType.GIG,
            per_task_cents=per_task_cents,
            per_km_cents=per_km_cents,
            min_payout_cents=min_payout_cents,
        )


def route_cost_cents(cost: FleetCost, duration_s: int, distance_m: int, drops: int) -> int:
    """Money paid for one route; an unused route (no drops) costs nothing.

    Rounded half-up to the cent once per route, so summing routes never drifts by more than
    half a cent each.
    """
    if drops <= 0:
        return 0
    if cost.fleet_type is FleetType.CAPTIVE:
        numerator = cost.per_hour_cents * duration_s * 1000 + cost.per_km_cents * distance_m * 3600
        return (numerator + _MS_PER_HOUR_KM // 2) // _MS_PER_HOUR_KM
    if cost.fleet_type is FleetType.THIRD_PARTY:
        return max(cost.per_drop_cents * drops, cost.route_minimum_cents)
    km_cents = (cost.per_km_cents * distance_m + 500) // 1000
    return max(cost.per_task_cents * drops + km_cents, cost.min_payout_cents)
