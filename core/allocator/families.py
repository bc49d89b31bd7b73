"""Constraint-family names shared by the model, the explanations, the params and the tests.

Each family is one switch in `SolveParams.enabled`: turning a family off removes its
constraint or cost term from the model and from `evaluate()`, so a what-if such as "how much
do skills cost us?" is a re-solve with one name removed.
"""

from typing import Final

CAPACITY: Final = "capacity"  # parcels, weight_g, volume_ml per vehicle
SHIFT_WINDOW: Final = "shift_window"  # driver shift start/end, hard
MAX_ROUTE_DURATION: Final = "max_route_duration"  # route span cap per driver
SLA_WINDOW: Final = "sla_window"  # order ready/due window, hard or soft
HOS_BREAK: Final = "hos_break"  # hours-of-service breaks
SKILLS: Final = "skills"  # cold_chain, age_check, two_person, ...
VEHICLE_TYPE: Final = "vehicle_type"  # van / cargo bike / car and per-item weight limits
FLEET_ELIGIBILITY: Final = "fleet_eligibility"  # order allows only some fleet types
BRAND_TIER: Final = "brand_tier"  # premium orders: surcharge or bar on gig couriers
LOCKS: Final = "locks"  # orders already loaded in a van stay with it
BLOCKED: Final = "blocked"  # compliance-blocked drivers get nothing
ZONE_SUCCESS: Final = "zone_success"  # learned first-attempt success per driver and zone
WORKLOAD: Final = "workload"  # balance: price on the busiest route's stop count
CO2: Final = "co2"  # priced CO2 per kg added to arc costs
FLEET_COST: Final = "fleet_cost"  # captive / 3PL / gig pay models
HUB_TURNAROUND: Final = "hub_turnaround"  # loading time at the hub before the first stop
CHANGE_COST: Final = "change_cost"  # rebalance: price and budget on moving orders
UNSERVED: Final = "unserved"  # orders dropped by the solver, priced by priority

ALL_FAMILIES: Final[frozenset[str]] = frozenset(
    {
        CAPACITY,
        SHIFT_WINDOW,
        MAX_ROUTE_DURATION,
        SLA_WINDOW,
        HOS_BREAK,
        SKILLS,
        VEHICLE_TYPE,
        FLEET_ELIGIBILITY,
        BRAND_TIER,
        LOCKS,
        BLOCKED,
        ZONE_SUCCESS,
        WORKLOAD,
        CO2,
        FLEET_COST,
        HUB_TURNAROUND,
        CHANGE_COST,
        UNSERVED,
    }
)

# Reason codes for orders that end unassigned but were not ruled out by one family.
NO_ELIGIBLE_DRIVER: Final = "no_eligible_driver"
NO_ROOM: Final = "no_room"
