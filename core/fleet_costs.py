"""The one bridge from a stored fleet's rate card to the allocator's `FleetCost`.

KPIs, scorecards and the dispatch adapter must price a route with the same pay model, so they
all build it here from the `fleets` columns and price it with `route_cost_cents`.
"""

from __future__ import annotations

from typing import Any, Protocol

from core.allocator.costs import FleetCost
from core.kinds import FleetType


class RateCard(Protocol):
    """Anything with a fleet's rate columns: a `Fleet` row, a result row or a dataclass."""

    @property
    def fleet_type(self) -> Any: ...
    @property
    def per_hour_cents(self) -> int: ...
    @property
    def per_km_cents(self) -> int: ...
    @property
    def per_drop_cents(self) -> int: ...
    @property
    def route_minimum_cents(self) -> int: ...
    @property
    def per_task_cents(self) -> int: ...
    @property
    def min_payout_cents(self) -> int: ...


def fleet_cost(fleet: RateCard) -> FleetCost:
    """The pay model of `fleet`; raises ValueError on an unknown type or a negative rate."""
    return FleetCost(
        fleet_type=FleetType(str(fleet.fleet_type)),
        per_hour_cents=int(fleet.per_hour_cents or 0),
        per_km_cents=int(fleet.per_km_cents or 0),
        per_drop_cents=int(fleet.per_drop_cents or 0),
        route_minimum_cents=int(fleet.route_minimum_cents or 0),
        per_task_cents=int(fleet.per_task_cents or 0),
        min_payout_cents=int(fleet.min_payout_cents or 0),
    )


def contract_rate_per_drop_cents(cost: FleetCost) -> int | None:
    """What the rate card pays for one drop before minimums and km: the 3PL per-drop rate or
    the gig per-task rate; None for captive, whose pay is by the hour."""
    if cost.fleet_type is FleetType.THIRD_PARTY:
        return cost.per_drop_cents
    if cost.fleet_type is FleetType.GIG:
        return cost.per_task_cents
    return None
