"""KPIs defined once for every fleet type: the registry, the facts they are computed from,
and the services that slice them by fleet type, vendor, fleet, hub, driver or day."""

from core.kpi.compute import TOTAL, aggregate, reasons, workload_cv
from core.kpi.definitions import (
    CAPTIVE_VENDOR,
    FAILED_DELIVERY_COST_CENTS,
    GROUPINGS,
    KPIS,
    KpiDefinition,
    kpi_names,
)
from core.kpi.facts import KpiFacts, load_facts
from core.kpi.service import (
    DEFAULT_PERIOD_DAYS,
    KpiQueryError,
    daily_kpis,
    default_period,
    exceptions_by_reason,
    facts_for,
    in_dollars,
    kpis,
)

__all__ = [
    "CAPTIVE_VENDOR",
    "DEFAULT_PERIOD_DAYS",
    "FAILED_DELIVERY_COST_CENTS",
    "GROUPINGS",
    "KPIS",
    "TOTAL",
    "KpiDefinition",
    "KpiFacts",
    "KpiQueryError",
    "aggregate",
    "daily_kpis",
    "default_period",
    "exceptions_by_reason",
    "facts_for",
    "in_dollars",
    "kpi_names",
    "kpis",
    "load_facts",
    "reasons",
    "workload_cv",
]
