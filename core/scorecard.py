"""Vendor scorecards: one 3PL or gig platform over a period, on the same KPI definitions as
every other fleet, with its trend against the previous period, its rate card, its drivers'
compliance and its rank among vendors.

A vendor viewer may ask only for its own vendor (else `AccessDeniedError`), its numbers come
from its own drivers through the viewer-scoped facts, and its rank is computed privately and
returned as two numbers: no other vendor's name or figures ever leave this module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Required, TypedDict

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.access import SYSTEM, Viewer
from core.compliance import ComplianceStatus, compliance_report
from core.errors import AccessDeniedError, ControlTowerError
from core.exports import rows_csv
from core.fleet_costs import contract_rate_per_drop_cents, fleet_cost
from core.kinds import Role
from core.kpi import KPIS, aggregate, facts_for, reasons
from core.kpi.definitions import CAPTIVE_VENDOR
from core.models import Fleet, Vendor

RANK_KPIS: tuple[str, ...] = (
    "on_time_rate",
    "first_attempt_rate",
    "cost_per_delivered_cents",
    "failed_cost_cents",
)
"""The KPIs a vendor is ranked on, each in its registry direction (`higher_is_better`)."""

Number = int | float


class ScorecardError(ControlTowerError):
    """A scorecard that cannot be built as asked (unknown vendor, reversed period)."""


@dataclass(frozen=True)
class KpiTrendView:
    """One KPI now and in the previous period; `improved` follows the KPI's direction."""

    name: str
    label: str
    unit: str
    value: Number | None
    previous: Number | None
    change: Number | None
    improved: bool | None


@dataclass(frozen=True)
class RankView:
    """Where the vendor stands among vendors with data on `kpi`: `rank` 1 is best (None: no
    data of its own), `of` how many vendors were ranked. Deliberately nothing else."""

    kpi: str
    rank: int | None
    of: int


@dataclass(frozen=True)
class RateCardView:
    """A vendor fleet's contract rates next to what its drops actually cost in the period."""

    fleet: str
    fleet_name: str
    fleet_type: str
    per_drop_cents: int
    route_minimum_cents: int
    per_task_cents: int
    per_km_cents: int
    min_payout_cents: int
    contract_per_drop_cents: int | None
    drops: int
    cost_per_drop_cents: int | None


@dataclass(frozen=True)
class ComplianceShareView:
    drivers: int
    compliant: int
    warning: int
    blocked: int
    compliant_share: float | None
    open_violations: int  # blocking findings across the vendor's drivers
    open_warnings: int


@dataclass(frozen=True)
class Scorecard:
    vendor_id: int
    vendor_code: str
    vendor_name: str
    vendor_kind: str
    start: date
    end: date
    previous_start: date
    previous_end: date
    compliance_day: date
    kpis: tuple[KpiTrendView, ...]
    exceptions_by_reason: tuple[tuple[str, int], ...]
    rate_cards: tuple[RateCardView, ...]
    compliance: ComplianceShareView
    ranks: tuple[RankView, ...]

    def kpi(self, name: str) -> KpiTrendView:
        return next(k for k in self.kpis if k.name == name)

    @property
    def has_previous(self) -> bool:
        """The previous period had work to compare with."""
        return any(k.previous is not None for k in self.kpis)


def _check_access(viewer: Viewer, vendor_id: int) -> None:
    if viewer.role is Role.VENDOR:
        if viewer.vendor_id != vendor_id:
            raise AccessDeniedError(f"{viewer.username} may only see its own vendor's scorecard")
    elif not viewer.sees_everything:
        raise AccessDeniedError(f"{viewer.username} ({viewer.role.value}) may not see scorecards")


def previous_period(start: date, end: date) -> tuple[date, date]:
    """The period of equal length that ends the day before `start`."""
    length = (end - start).days + 1
    return start - timedelta(days=length), start - timedelta(days=1)


def _plain(value: Any) -> Number | None:
    """A pandas cell as a plain int or float; None for NaN/NA (no basis for a ratio)."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    return int(value)


def _totals(work: pd.DataFrame) -> dict[str, Number | None]:
    row = aggregate(work, [], total=True).to_dict("records")[0]  # keeps ints as ints
    return {name: _plain(row[name]) for name in KPIS}


def _trend(name: str, value: Number | None, previous: Number | None) -> KpiTrendView:
    d = KPIS[name]
    change = None if value is None or previous is None else value - previous
    improved = None
    if change and d.higher_is_better is not None:
        improved = (change > 0) == d.higher_is_better
    return KpiTrendView(name, d.label, d.unit, value, previous, change, improved)


def _ranks(session: Session, vendor_code: str, start: date, end: date) -> tuple[RankView, ...]:
    """Rank among every vendor (captive excluded), computed on the full data, returned bare."""
    table = aggregate(facts_for(session, SYSTEM, start, end).work, ["vendor"], total=False)
    table = table[table["vendor"] != CAPTIVE_VENDOR]
    ranks = []
    for name in RANK_KPIS:
        values = pd.to_numeric(table[name], errors="coerce").astype(float)
        ranked = values.dropna()
        mine = table.index[table["vendor"] == vendor_code]
        if len(mine) == 0 or mine[0] not in ranked.index:
            ranks.append(RankView(name, None, len(ranked)))
            continue
        ascending = not KPIS[name].higher_is_better
        order = ranked.rank(method="min", ascending=ascending)
        ranks.append(RankView(name, int(order[mine[0]]), len(ranked)))
    return tuple(ranks)


def _rate_cards(session: Session, vendor_id: int, work: pd.DataFrame) -> tuple[RateCardView, ...]:
    by_fleet = (
        aggregate(work, ["fleet"], total=False).set_index("fleet") if not work.empty else pd.DataFrame()
    )
    cards = []
    for fleet in session.scalars(select(Fleet).where(Fleet.vendor_id == vendor_id).order_by(Fleet.code)):
        used = fleet.code in by_fleet.index
        cards.append(
            RateCardView(
                fleet=fleet.code,
                fleet_name=fleet.name,
                fleet_type=str(fleet.fleet_type),
                per_drop_cents=fleet.per_drop_cents,
                route_minimum_cents=fleet.route_minimum_cents,
                per_task_cents=fleet.per_task_cents,
                per_km_cents=fleet.per_km_cents,
                min_payout_cents=fleet.min_payout_cents,
                contract_per_drop_cents=contract_rate_per_drop_cents(fleet_cost(fleet)),
                drops=int(by_fleet.at[fleet.code, "drops"]) if used else 0,
                cost_per_drop_cents=_int_or_none(by_fleet.at[fleet.code, "cost_per_drop_cents"])
                if used
                else None,
            )
        )
    return tuple(cards)


def _int_or_none(value: Any) -> int | None:
    plain = _plain(value)
    return None if plain is None else int(round(plain))


def _compliance(session: Session, viewer: Viewer, vendor_code: str, day: date) -> ComplianceShareView:
    report = compliance_report(session, viewer, day, vendor=vendor_code)
    counts = {s: sum(1 for r in report if r.status is s) for s in ComplianceStatus}
    findings = [f for r in report for f in r.findings]
    return ComplianceShareView(
        drivers=len(report),
        compliant=counts[ComplianceStatus.COMPLIANT],
        warning=counts[ComplianceStatus.WARNING],
        blocked=counts[ComplianceStatus.BLOCKED],
        compliant_share=counts[ComplianceStatus.COMPLIANT] / len(report) if report else None,
        open_violations=sum(1 for f in findings if f.severity is ComplianceStatus.BLOCKED),
        open_warnings=sum(1 for f in findings if f.severity is ComplianceStatus.WARNING),
    )


def scorecard(
    session: Session,
    viewer: Viewer,
    vendor_id: int,
    start: date,
    end: date,
    *,
    compliance_day: date | None = None,
) -> Scorecard:
    """The scorecard of `vendor_id` for service days `start`..`end`; compliance is judged on
    `compliance_day` (default `end`). Raises AccessDeniedError for another vendor's viewer
    (checked before anything is read) and ScorecardError for an unknown vendor."""
    _check_access(viewer, vendor_id)
    if end < start:
        raise ScorecardError(f"the period ends ({end}) before it starts ({start})")
    vendor = session.get(Vendor, vendor_id)
    if vendor is None:
        raise ScorecardError(f"no vendor with id {vendor_id}")
    where = {"vendor": vendor.code}
    now = facts_for(session, viewer, start, end, where)
    prev_start, prev_end = previous_period(start, end)
    earlier = facts_for(session, viewer, prev_start, prev_end, where).work
    # No work at all before: "no earlier data", not a change from zero (+5,988 orders).
    before = _totals(earlier) if len(earlier) else dict.fromkeys(KPIS)
    current = _totals(now.work)
    exceptions = reasons(now.exceptions, [], total=True)
    return Scorecard(
        vendor_id=vendor.id,
        vendor_code=vendor.code,
        vendor_name=vendor.name,
        vendor_kind=str(vendor.kind),
        start=start,
        end=end,
        previous_start=prev_start,
        previous_end=prev_end,
        compliance_day=compliance_day or end,
        kpis=tuple(_trend(name, current[name], before[name]) for name in KPIS),
        exceptions_by_reason=tuple(
            (str(r), int(n)) for r, n in zip(exceptions["reason"], exceptions["exceptions"], strict=True)
        ),
        rate_cards=_rate_cards(session, vendor.id, now.work),
        compliance=_compliance(session, viewer, vendor.code, compliance_day or end),
        ranks=_ranks(session, vendor.code, start, end),
    )


def vendor_by_code(session: Session, code: str) -> int:
    """The id of the vendor with `code`; ScorecardError if there is none."""
    vendor_id = session.scalar(select(Vendor.id).where(Vendor.code == code))
    if vendor_id is None:
        raise ScorecardError(f"no vendor with code {code!r}")
    return int(vendor_id)


def scorecards(session: Session, viewer: Viewer, start: date, end: date) -> list[Scorecard]:
    """Every vendor's scorecard the viewer may see: all for the office, its own for a vendor."""
    ids = (
        [viewer.vendor_id]
        if viewer.role is Role.VENDOR and viewer.vendor_id is not None
        else list(session.scalars(select(Vendor.id).order_by(Vendor.code)))
    )
    return [scorecard(session, viewer, vendor_id, start, end) for vendor_id in ids]


class ScorecardRow(TypedDict, total=False):
    """One line of the scorecard's CSV export."""

    section: Required[str]
    name: Required[str]
    unit: str
    value: str | Number | None
    previous: str | Number | None
    change: Number | None


def scorecard_rows(card: Scorecard) -> list[ScorecardRow]:
    """The scorecard as flat rows (section, name, value, previous, change): the CSV export."""
    rows: list[ScorecardRow] = [
        {"section": "vendor", "name": "vendor", "value": card.vendor_name},
        {"section": "vendor", "name": "vendor_code", "value": card.vendor_code},
        {
            "section": "period",
            "name": "start",
            "value": card.start.isoformat(),
            "previous": card.previous_start.isoformat(),
        },
        {
            "section": "period",
            "name": "end",
            "value": card.end.isoformat(),
            "previous": card.previous_end.isoformat(),
        },
    ]
    rows += [
        {
            "section": "kpi",
            "name": k.name,
            "unit": k.unit,
            "value": k.value,
            "previous": k.previous,
            "change": k.change,
        }
        for k in card.kpis
    ]
    rows += [
        {"section": "exceptions_by_reason", "name": reason, "unit": "events", "value": n}
        for reason, n in card.exceptions_by_reason
    ]
    for rc in card.rate_cards:
        rows += [
            {
                "section": f"rate_card:{rc.fleet}",
                "name": "contract_per_drop_cents",
                "unit": "cents",
                "value": rc.contract_per_drop_cents,
            },
            {
                "section": f"rate_card:{rc.fleet}",
                "name": "cost_per_drop_cents",
                "unit": "cents",
                "value": rc.cost_per_drop_cents,
            },
        ]
    c = card.compliance
    rows += [
        {"section": "compliance", "name": name, "value": value}
        for name, value in (
            ("drivers", c.drivers),
            ("compliant", c.compliant),
            ("warning", c.warning),
            ("blocked", c.blocked),
            ("compliant_share", c.compliant_share),
            ("open_violations", c.open_violations),
            ("open_warnings", c.open_warnings),
        )
    ]
    rows += [
        {"section": "rank", "name": r.kpi, "value": r.rank, "previous": None, "unit": f"of {r.of}"}
        for r in card.ranks
    ]
    return rows


def scorecard_csv(card: Scorecard) -> str:
    """CSV with a header: section,name,unit,value,previous,change (money in cents)."""
    return rows_csv(["section", "name", "unit", "value", "previous", "change"], scorecard_rows(card))


__all__ = [
    "RANK_KPIS",
    "ComplianceShareView",
    "KpiTrendView",
    "RankView",
    "RateCardView",
    "Scorecard",
    "ScorecardError",
    "ScorecardRow",
    "previous_period",
    "scorecard",
    "scorecard_csv",
    "scorecard_rows",
    "scorecards",
    "vendor_by_code",
]
