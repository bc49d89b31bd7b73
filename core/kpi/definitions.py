"""The KPI registry: every KPI's one name, label, unit and definition, for every fleet type.

The name is the DataFrame/CSV column, the CLI `--kpi` value and the UI's label key; the
definition text is what the UI shows as help, so it is written once, here, for captive, 3PL
and gig alike. `additive` KPIs are sums: the slices of any split add up to the total.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from core.allocator.params import FAILED_DELIVERY_COST_CENTS

__all__ = ["FAILED_DELIVERY_COST_CENTS", "GROUPINGS", "KPIS", "KpiDefinition", "kpi_names"]


@dataclass(frozen=True)
class KpiDefinition:
    """One KPI. `unit` is how the value is stored: rates are fractions 0..1, money int cents."""

    name: str
    label: str
    unit: str
    definition: str
    higher_is_better: bool | None  # None: neither (a volume)
    additive: bool


_DEFS: tuple[KpiDefinition, ...] = (
    KpiDefinition(
        "orders",
        "Orders",
        "orders",
        "Orders with a service date in the period that went out on a route; each order counts "
        "once, for the driver of its latest stop.",
        None,
        True,
    ),
    KpiDefinition("delivered", "Delivered", "orders", "Of those orders, the ones now delivered.", True, True),
    KpiDefinition(
        "failed",
        "Failed",
        "orders",
        "Of those orders, the ones that ended failed (not delivered after the last attempt).",
        False,
        True,
    ),
    KpiDefinition(
        "on_time_rate",
        "On time",
        "fraction",
        "Delivered orders whose delivery started (the driver arrived at the stop) no later than "
        "the end of the booked SLA window, divided by delivered orders. An early arrival waits "
        "for the window, as in the allocator, so it counts as on time.",
        True,
        False,
    ),
    KpiDefinition(
        "first_attempt_rate",
        "First attempt",
        "fraction",
        "Orders delivered on their first attempt, divided by orders attempted at least once.",
        True,
        False,
    ),
    KpiDefinition(
        "failed_cost_cents",
        "Failed-delivery cost",
        "cents",
        f"Failed orders times the direct cost of a failed delivery "
        f"(${FAILED_DELIVERY_COST_CENTS / 100:.2f} each, the industry figure; configurable).",
        False,
        True,
    ),
    KpiDefinition(
        "route_cost_cents",
        "Route cost",
        "cents",
        "What the routes of the period cost under each fleet's own pay model (captive per hour "
        "and km, 3PL per drop with a route minimum, gig per task and km with a minimum payout), "
        "the same function the allocator prices with. Route duration is finished minus started "
        "(the plan's times for a route not finished); drops are the stops on the route.",
        None,
        True,
    ),
    KpiDefinition(
        "cost_per_delivered_cents",
        "Cost per delivered order",
        "cents",
        "Route cost divided by delivered orders.",
        False,
        False,
    ),
    KpiDefinition(
        "drops",
        "Drops",
        "stops",
        "Stops on the period's routes (each stop is one drop the fleet is paid for).",
        None,
        True,
    ),
    KpiDefinition(
        "cost_per_drop_cents",
        "Cost per drop",
        "cents",
        "Route cost divided by drops: compare with the per-drop rate of a 3PL or gig rate card.",
        False,
        False,
    ),
    KpiDefinition(
        "stops_per_driver_hour",
        "Stops per driver-hour",
        "stops/h",
        "Stops attempted (delivered or failed) divided by hours on route (finished minus started).",
        True,
        False,
    ),
    KpiDefinition(
        "utilisation",
        "Utilisation",
        "fraction",
        "Time on task (hours on route, at most the shift per driver-day) divided by the shift "
        "hours of the drivers who had a route that day.",
        True,
        False,
    ),
    KpiDefinition(
        "km_per_delivered",
        "km per delivered order",
        "km",
        "Kilometres driven on the period's routes divided by delivered orders.",
        False,
        False,
    ),
    KpiDefinition(
        "co2_kg_per_delivered",
        "CO2 per delivered order",
        "kg",
        "Kilometres driven times the vehicle's CO2 grams per km, in kg, divided by delivered "
        "orders; electric vehicles and cargo bikes count zero.",
        False,
        False,
    ),
    KpiDefinition(
        "exceptions",
        "Exceptions",
        "events",
        "Exceptions the drivers reported in the period (see exceptions by reason).",
        False,
        True,
    ),
    KpiDefinition(
        "workload_cv",
        "Workload spread",
        "ratio",
        "Coefficient of variation (standard deviation over mean) of stops per driver-day: "
        "0 when every driver-day carries the same number of stops.",
        False,
        False,
    ),
    KpiDefinition(
        "driver_days",
        "Driver-days",
        "driver-days",
        "Distinct (driver, day) pairs with a route in the period.",
        None,
        True,
    ),
)

KPIS: Final[dict[str, KpiDefinition]] = {d.name: d for d in _DEFS}
"""Name -> definition, in display order."""

GROUPINGS: Final[tuple[str, ...]] = ("fleet_type", "vendor", "fleet", "hub", "driver", "day")
"""What a KPI table can be split by; `vendor` puts captive drivers under "captive"."""

CAPTIVE_VENDOR: Final = "captive"
"""The `vendor` group of captive drivers, who have no vendor."""
CAPTIVE_NAME: Final = "Captive fleet"


def kpi_names(*, additive: bool | None = None) -> tuple[str, ...]:
    """KPI names in display order, optionally only the additive (or non-additive) ones."""
    return tuple(d.name for d in _DEFS if additive is None or d.additive is additive)
