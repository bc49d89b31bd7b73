"""Cached reads for the fleet-mix, compliance and vendor-review pages.

The same pattern as `ui.services`: every read is a core service in one read-only unit of work,
cached with `st.cache_data` under a TTL and a bound on entries, and keyed by database URL and
viewer, so a cache entry never crosses vendors. Nothing here computes a KPI or judges a driver.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import pandas as pd
import streamlit as st

from core.access import Viewer
from core.compliance import ComplianceStatus, DriverCompliance, compliance_report
from core.db import unit_of_work
from core.kpi import TOTAL, aggregate, facts_for, kpis
from core.kpi.definitions import CAPTIVE_VENDOR
from core.scorecard import Scorecard, scorecard, vendor_by_code
from ui import services

HISTORY_TTL_S = 300  # past days change only when someone corrects them
COMPLIANCE_TTL_S = 60  # today's driving moves; documents get renewed


@dataclass(frozen=True)
class FleetMix:
    """KPI tables of one period, from one load of the viewer's facts: `by_fleet_type` and
    `by_vendor` as `kpis(by=...)` returns them (with the total row), `daily_*` as
    `daily_kpis(by=...)` returns them (one row per day and group)."""

    by_fleet_type: pd.DataFrame
    by_vendor: pd.DataFrame
    daily_by_fleet_type: pd.DataFrame
    daily_by_vendor: pd.DataFrame

    def table(self, by: str) -> pd.DataFrame:
        return self.by_fleet_type if by == "fleet_type" else self.by_vendor

    def daily(self, by: str) -> pd.DataFrame:
        return self.daily_by_fleet_type if by == "fleet_type" else self.daily_by_vendor


def _hub_where(hub: str | None) -> dict[str, str]:
    return {} if hub is None else {"hub": hub}


@st.cache_data(ttl=HISTORY_TTL_S, max_entries=32, show_spinner=False)
def _fleet_mix(url: str, viewer: Viewer, start: date, end: date, hub: str | None) -> FleetMix:
    with unit_of_work(services.engine(url), read_only=True) as session:
        work = facts_for(session, viewer, start, end, _hub_where(hub)).work
    # What kpis() and daily_kpis() do, on one load instead of four.
    return FleetMix(
        aggregate(work, ["fleet_type"]),
        aggregate(work, ["vendor"]),
        aggregate(work, ["day", "fleet_type"], total=False),
        aggregate(work, ["day", "vendor"], total=False),
    )


def fleet_mix(viewer: Viewer, start: date, end: date, hub: str | None) -> FleetMix:
    """KPIs of service days `start`..`end` in `hub` (a hub code; None: every hub)."""
    return _fleet_mix(services.settings().database_url, viewer, start, end, hub)


@st.cache_data(ttl=HISTORY_TTL_S, max_entries=32, show_spinner=False)
def _drivers_behind(
    url: str, viewer: Viewer, start: date, end: date, where: tuple[tuple[str, str], ...]
) -> pd.DataFrame:
    with unit_of_work(services.engine(url), read_only=True) as session:
        return kpis(session, viewer, "driver", start, end, where=dict(where))


def drivers_behind(
    viewer: Viewer, start: date, end: date, by: str, group: str, hub: str | None
) -> pd.DataFrame:
    """The drill-down: one row per driver of the `by` group `group` (and the total row)."""
    where: Mapping[str, str] = {by: group, **_hub_where(hub)}
    return _drivers_behind(services.settings().database_url, viewer, start, end, tuple(sorted(where.items())))


@st.cache_data(ttl=COMPLIANCE_TTL_S, max_entries=32, show_spinner=False)
def _compliance(
    url: str,
    viewer: Viewer,
    day: date,
    fleet: str | None,
    vendor: str | None,
    region: str | None,
    status: ComplianceStatus | None,
) -> tuple[DriverCompliance, ...]:
    with unit_of_work(services.engine(url), read_only=True) as session:
        return tuple(
            compliance_report(session, viewer, day, fleet=fleet, vendor=vendor, region=region, status=status)
        )


def compliance(
    viewer: Viewer,
    day: date,
    *,
    fleet: str | None = None,
    vendor: str | None = None,
    region: str | None = None,
    status: ComplianceStatus | None = None,
) -> tuple[DriverCompliance, ...]:
    """Every driver the viewer may see, judged on `day`, filtered by core (each filter optional)."""
    return _compliance(services.settings().database_url, viewer, day, fleet, vendor, region, status)


@st.cache_data(ttl=HISTORY_TTL_S, max_entries=16, show_spinner=False)
def _vendor_choices(url: str, viewer: Viewer, start: date, end: date, day: date) -> dict[int, str]:
    with unit_of_work(services.engine(url), read_only=True) as session:
        named = kpis(session, viewer, "vendor", start, end, total=False)
        names = dict(zip(named["vendor"], named["vendor_name"], strict=True))
        codes = {r.vendor for r in compliance_report(session, viewer, day) if r.vendor}
        codes |= {c for c in names if c not in (CAPTIVE_VENDOR, TOTAL)}
        return {vendor_by_code(session, c): str(names.get(c, c)) for c in sorted(codes)}


def vendor_choices(viewer: Viewer, start: date, end: date) -> dict[int, str]:
    """Vendor id -> name of every vendor the viewer may see: those with drivers today, named
    from the period's KPIs (a vendor with no work in the period shows its code)."""
    return _vendor_choices(services.settings().database_url, viewer, start, end, services.today())


@st.cache_data(ttl=COMPLIANCE_TTL_S, max_entries=32, show_spinner=False)
def _scorecard(url: str, viewer: Viewer, vendor_id: int, start: date, end: date, day: date) -> Scorecard:
    with unit_of_work(services.engine(url), read_only=True) as session:
        return scorecard(session, viewer, vendor_id, start, end, compliance_day=day)


def vendor_scorecard(viewer: Viewer, vendor_id: int, start: date, end: date) -> Scorecard:
    """The scorecard of service days `start`..`end`, with compliance judged today, as on the
    compliance page. Raises AccessDeniedError for another vendor's viewer (core checks before
    reading anything; an exception is never cached)."""
    return _scorecard(services.settings().database_url, viewer, vendor_id, start, end, services.today())
