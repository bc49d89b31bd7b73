"""Static driver-order compatibility: which family, if any, rules driver v out for order j.

Shared by the pre-check (reasons for unassigned orders), the model (allowed vehicles per
order) and `evaluate()` (violations), so all three agree on what "eligible" means.
"""

from core.allocator import families as fam
from core.allocator.kinds import PremiumOnGig
from core.allocator.params import SolveParams
from core.allocator.problem import AllocationProblem
from core.kinds import BrandTier, FleetType


def static_issue(problem: AllocationProblem, params: SolveParams, v: int, j: int) -> tuple[str, str] | None:
    """(family, short label) of the first rule that bars driver v from order j, else None.

    Labels read as a count prefix: "12 lack skill cold_chain", "3 blocked by compliance".
    """
    d, o = problem.drivers[v], problem.orders[j]
    if params.on(fam.BLOCKED) and d.blocked:
        return fam.BLOCKED, "blocked by compliance"
    if params.on(fam.LOCKS) and o.locked_driver_id is not None and o.locked_driver_id != d.id:
        return fam.LOCKS, f"not the van it is loaded in ({o.locked_driver_id})"
    if (
        params.on(fam.FLEET_ELIGIBILITY)
        and o.allowed_fleet_types is not None
        and d.fleet_type not in o.allowed_fleet_types
    ):
        return fam.FLEET_ELIGIBILITY, f"{d.fleet_type} fleet not allowed"
    if (
        params.on(fam.BRAND_TIER)
        and params.premium_on_gig is PremiumOnGig.BAR
        and o.brand_tier is BrandTier.PREMIUM
        and d.fleet_type is FleetType.GIG
    ):
        return fam.BRAND_TIER, "gig barred for premium"
    if params.on(fam.SKILLS):
        missing = sorted(o.required_skills - d.skills)
        if missing:
            return fam.SKILLS, f"lack skill {', '.join(missing)}"
    if params.on(fam.VEHICLE_TYPE):
        if o.allowed_vehicle_types is not None and d.vehicle_type not in o.allowed_vehicle_types:
            return fam.VEHICLE_TYPE, f"{d.vehicle_type} not allowed"
        if d.max_item_weight_g is not None and o.weight_g > d.max_item_weight_g:
            return fam.VEHICLE_TYPE, f"item too heavy for {d.vehicle_type}"
    if params.on(fam.CAPACITY):
        for dim, need, cap in (
            ("parcels", o.parcels, d.capacity_parcels),
            ("weight_g", o.weight_g, d.capacity_weight_g),
            ("volume_ml", o.volume_ml, d.capacity_volume_ml),
        ):
            if need > cap:
                return fam.CAPACITY, f"too small ({dim})"
    return None
