"""Compliance for every driver of every fleet: documents and hours of service, one status each.

The rules are pure functions over plain data (`DriverFacts`), so each can be tested without a
database; `compliance_report` is the thin loader behind the page and the CLI, and
`blocked_drivers` is what the day state reads so a blocked driver gets no work on any path.

Compliance is judged per day: a document must be valid for the whole service day, and driving
time is the span of the driver's routes (started..finished, or the plan's times for a route
not finished), counted for the day and for the rolling 7 days that end with it, in the hub's
local time. Route spans include the breaks the allocator plans inside a route, so they count
as driving: the conservative reading for a limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.access import SYSTEM, Viewer, visible_driver_ids
from core.kinds import DocumentKind
from core.models import ComplianceDocument, Driver, Fleet, Hub, Plan, Region, Route, Vendor
from core.timeutil import local_midnight_utc

EXPIRY_WARNING_DAYS = 30
"""Documents expiring within this many days after the day give a warning."""
HOS_WARNING_SHARE = 0.9
"""Driving at or above this share of a limit (but not over it) gives a warning."""
WEEK_DAYS = 7
DRIVER_DOCUMENTS: tuple[DocumentKind, ...] = (
    DocumentKind.LICENCE,
    DocumentKind.INSURANCE,
    DocumentKind.BACKGROUND_CHECK,
)
"""Required of every driver; a vehicle inspection is required for the driver's vehicle."""

RULE_DAILY = "daily_driving"
RULE_WEEKLY = "weekly_driving"


class ComplianceStatus(StrEnum):
    """Worst finding wins: blocked drivers cannot be dispatched, warnings need action soon."""

    COMPLIANT = "compliant"
    WARNING = "warning"
    BLOCKED = "blocked"


_SEVERITY = {ComplianceStatus.COMPLIANT: 0, ComplianceStatus.WARNING: 1, ComplianceStatus.BLOCKED: 2}


@dataclass(frozen=True)
class Finding:
    """One rule that fired: `rule` is a stable code (document kind or HOS rule)."""

    rule: str
    severity: ComplianceStatus
    message: str
    expires_on: date | None = None  # a document finding: the local day the document expires


@dataclass(frozen=True)
class DocumentFact:
    kind: DocumentKind
    expires_at: datetime | None
    verified: bool
    vehicle_id: int | None = None


@dataclass(frozen=True)
class HosLimits:
    """A region's hours-of-service limits, in seconds (configuration data, regions.json)."""

    region: str
    daily_driving_limit_s: int
    weekly_driving_limit_s: int
    break_after_s: int
    break_duration_s: int


@dataclass(frozen=True)
class Interval:
    """A span of driving (a route), as aware UTC instants."""

    start: datetime
    end: datetime

    def overlap_s(self, lo: datetime, hi: datetime) -> int:
        return max(int((min(self.end, hi) - max(self.start, lo)).total_seconds()), 0)


@dataclass(frozen=True)
class DriverFacts:
    """What the rules read about one driver; built from rows by the loader or by hand in tests."""

    driver_id: int
    code: str
    name: str
    fleet: str
    fleet_type: str
    vendor: str | None
    driver_status: str
    vehicle_id: int | None
    timezone: str
    limits: HosLimits
    documents: tuple[DocumentFact, ...]
    driving: tuple[Interval, ...]


@dataclass(frozen=True)
class HoursOfService:
    driving_today_s: int
    driving_week_s: int
    headroom_today_s: int
    limit_hit_at: datetime | None
    break_due_at: datetime | None
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class DriverCompliance:
    """One driver's compliance on one day, for the page, the CLI and the compliance agent.

    `headroom_today_s`: driving still allowed today under both limits; `limit_hit_at`: when the
    current plan reaches a driving limit (None if it stays within); `break_due_at`: when today's
    plan first reaches the region's continuous-driving time, so a break must be in the route
    by then (advice: routes carry no break records, so breaks cannot be verified);
    `expiring`: documents expiring within the warning window, with their expiry dates.
    """

    driver_id: int
    driver_code: str
    driver_name: str
    fleet: str
    fleet_type: str
    vendor: str | None
    region: str
    driver_status: str
    status: ComplianceStatus
    reasons: tuple[str, ...]
    findings: tuple[Finding, ...]
    driving_today_s: int
    driving_week_s: int
    headroom_today_s: int
    limit_hit_at: datetime | None
    break_due_at: datetime | None
    expiring: tuple[tuple[str, date], ...]


def duration_text(seconds: int) -> str:
    """'9 h 20 min', '10 h', '45 min': how a dispatcher says a duration."""
    minutes = max(int(seconds), 0) // 60
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours} h {minutes} min"
    return f"{hours} h" if hours else f"{minutes} min"


def document_label(kind: DocumentKind | str) -> str:
    return str(kind).replace("_", " ")


def counting_document(documents: Iterable[DocumentFact]) -> DocumentFact | None:
    """Of several documents of one kind, the one that counts: verified first, then the latest
    expiry (no expiry date is the latest)."""
    far = datetime.max.replace(tzinfo=ZoneInfo("UTC"))
    ranked = sorted(documents, key=lambda d: (d.verified, d.expires_at or far))
    return ranked[-1] if ranked else None


def check_document(
    kind: DocumentKind,
    documents: Sequence[DocumentFact],
    day: date,
    tz: str,
    warn_days: int = EXPIRY_WARNING_DAYS,
) -> Finding | None:
    """A required document must exist, be verified and stay valid through the whole `day`
    (local time in `tz`); one expiring within `warn_days` after it gives a warning."""
    rule, label = str(kind), document_label(kind)
    doc = counting_document(d for d in documents if d.kind == kind)
    if doc is None:
        return Finding(rule, ComplianceStatus.BLOCKED, f"{label} missing")
    if doc.expires_at is not None:
        expiry_day = doc.expires_at.astimezone(ZoneInfo(tz)).date()
        if doc.expires_at < local_midnight_utc(day + timedelta(days=1), tz):
            ago = (day - expiry_day).days
            text = (
                "expires today"
                if ago <= 0
                else "expired yesterday"
                if ago == 1
                else f"expired {ago} days ago"
            )
            return Finding(rule, ComplianceStatus.BLOCKED, f"{label} {text}", expiry_day)
    if not doc.verified:
        return Finding(rule, ComplianceStatus.BLOCKED, f"{label} not verified")
    if doc.expires_at is not None:
        left = (expiry_day - day).days
        if left <= warn_days:
            text = "expires tomorrow" if left == 1 else f"expires in {left} days"
            return Finding(rule, ComplianceStatus.WARNING, f"{label} {text}", expiry_day)
    return None


def document_findings(
    documents: Sequence[DocumentFact],
    vehicle_id: int | None,
    day: date,
    tz: str,
    warn_days: int = EXPIRY_WARNING_DAYS,
) -> list[Finding]:
    """Every required document of a driver; the inspection must be for the driver's vehicle."""
    findings = [check_document(kind, documents, day, tz, warn_days) for kind in DRIVER_DOCUMENTS]
    if vehicle_id is not None:
        own = [
            d for d in documents if d.kind is DocumentKind.VEHICLE_INSPECTION and d.vehicle_id == vehicle_id
        ]
        findings.append(check_document(DocumentKind.VEHICLE_INSPECTION, own, day, tz, warn_days))
    return [f for f in findings if f is not None]


def _limit_finding(rule: str, driven_s: int, limit_s: int, when: str, region: str) -> Finding | None:
    if driven_s > limit_s:
        severity = ComplianceStatus.BLOCKED
    elif driven_s >= HOS_WARNING_SHARE * limit_s:
        severity = ComplianceStatus.WARNING
    else:
        return None
    return Finding(
        rule,
        severity,
        f"{duration_text(driven_s)} of driving {when} against a {duration_text(limit_s)} limit in {region}",
    )


def _crossing(
    pieces: Sequence[Interval], limit_s: int, before_s: int, lo: datetime, hi: datetime
) -> datetime | None:
    """The instant in [lo, hi) at which `before_s` of earlier driving plus the driving since
    `lo` goes past `limit_s`; None if it never does (or nobody drives in [lo, hi))."""
    done = before_s
    for piece in pieces:
        length = piece.overlap_s(lo, hi)
        if length and done + length > limit_s:
            return max(piece.start, lo) + timedelta(seconds=max(limit_s - done, 0))
        done += length
    return None


def _break_due(pieces: Sequence[Interval], limits: HosLimits, lo: datetime, hi: datetime) -> datetime | None:
    """When today's driving first adds up to `break_after_s` with no pause of at least
    `break_duration_s` (shorter pauses do not reset the count, nor do they count as driving)."""
    if limits.break_after_s <= 0:
        return None
    driven_s = 0
    last_end: datetime | None = None
    for piece in pieces:
        start, end = max(piece.start, lo), min(piece.end, hi)
        if end <= start:
            continue
        if last_end is not None and start < last_end:  # overlapping spans: count time once
            start = last_end
            if end <= start:
                continue
        if last_end is not None and (start - last_end).total_seconds() >= limits.break_duration_s:
            driven_s = 0
        length = int((end - start).total_seconds())
        if driven_s + length > limits.break_after_s:
            return start + timedelta(seconds=limits.break_after_s - driven_s)
        driven_s += length
        last_end = end
    return None


def hours_of_service(driving: Sequence[Interval], limits: HosLimits, day: date, tz: str) -> HoursOfService:
    """Driving on `day` and in the 7 local days ending with it, against the region's limits."""
    day_start = local_midnight_utc(day, tz)
    day_end = local_midnight_utc(day + timedelta(days=1), tz)
    week_start = local_midnight_utc(day - timedelta(days=WEEK_DAYS - 1), tz)
    pieces = sorted(driving, key=lambda i: i.start)
    today_s = sum(i.overlap_s(day_start, day_end) for i in pieces)
    week_s = sum(i.overlap_s(week_start, day_end) for i in pieces)
    findings = [
        f
        for f in (
            _limit_finding(RULE_DAILY, today_s, limits.daily_driving_limit_s, "today", limits.region),
            _limit_finding(
                RULE_WEEKLY,
                week_s,
                limits.weekly_driving_limit_s,
                f"in the last {WEEK_DAYS} days",
                limits.region,
            ),
        )
        if f is not None
    ]
    hits = [
        t
        for t in (
            _crossing(pieces, limits.daily_driving_limit_s, 0, day_start, day_end),
            _crossing(pieces, limits.weekly_driving_limit_s, week_s - today_s, day_start, day_end),
        )
        if t is not None
    ]
    headroom = max(min(limits.daily_driving_limit_s - today_s, limits.weekly_driving_limit_s - week_s), 0)
    return HoursOfService(
        today_s,
        week_s,
        headroom,
        min(hits) if hits else None,
        _break_due(pieces, limits, day_start, day_end),
        tuple(findings),
    )


def overall_status(findings: Iterable[Finding]) -> ComplianceStatus:
    worst = ComplianceStatus.COMPLIANT
    for finding in findings:
        if _SEVERITY[finding.severity] > _SEVERITY[worst]:
            worst = finding.severity
    return worst


def evaluate_driver(facts: DriverFacts, day: date, warn_days: int = EXPIRY_WARNING_DAYS) -> DriverCompliance:
    """Every rule for one driver on one day; blocking reasons are listed before warnings."""
    docs = document_findings(facts.documents, facts.vehicle_id, day, facts.timezone, warn_days)
    hos = hours_of_service(facts.driving, facts.limits, day, facts.timezone)
    findings = sorted([*docs, *hos.findings], key=lambda f: -_SEVERITY[f.severity])
    expiring = tuple(
        (f.rule, f.expires_on)
        for f in docs
        if f.severity is ComplianceStatus.WARNING and f.expires_on is not None
    )
    return DriverCompliance(
        driver_id=facts.driver_id,
        driver_code=facts.code,
        driver_name=facts.name,
        fleet=facts.fleet,
        fleet_type=facts.fleet_type,
        vendor=facts.vendor,
        region=facts.limits.region,
        driver_status=facts.driver_status,
        status=overall_status(findings),
        reasons=tuple(f.message for f in findings),
        findings=tuple(findings),
        driving_today_s=hos.driving_today_s,
        driving_week_s=hos.driving_week_s,
        headroom_today_s=hos.headroom_today_s,
        limit_hit_at=hos.limit_hit_at,
        break_due_at=hos.break_due_at,
        expiring=expiring,
    )


# --- loading ---------------------------------------------------------------------------------


def _driving(route: Route, plan_day: date, day: date) -> Interval | None:
    """A route as driving time: what happened if it ran, the plan if it is the day's route."""
    if route.started_at is not None:
        end = route.finished_at or max(route.planned_end_at, route.started_at)
        return Interval(route.started_at, end)
    if plan_day == day:
        return Interval(route.planned_start_at, route.planned_end_at)
    return None


def load_driver_facts(session: Session, viewer: Viewer, day: date) -> list[DriverFacts]:
    """The rules' input for every driver the viewer may see: 3 queries, whatever the fleet size."""
    visible = visible_driver_ids(viewer)
    stmt = (
        select(Driver, Fleet.code, Fleet.fleet_type, Vendor.code, Hub.timezone, Region)
        .join(Fleet, Fleet.id == Driver.fleet_id)
        .outerjoin(Vendor, Vendor.id == Fleet.vendor_id)
        .join(Hub, Hub.id == Driver.home_hub_id)
        .join(Region, Region.id == Driver.region_id)
        .where(Driver.id.in_(visible))
        .order_by(Driver.code)
    )
    rows = session.execute(stmt).all()
    documents: dict[int, list[DocumentFact]] = {}
    for doc in session.scalars(select(ComplianceDocument).where(ComplianceDocument.driver_id.in_(visible))):
        documents.setdefault(doc.driver_id, []).append(
            DocumentFact(doc.kind, doc.expires_at, doc.verified, doc.vehicle_id)
        )
    driving: dict[int, list[Interval]] = {}
    routes = session.execute(
        select(Route, Plan.service_date)
        .join(Plan, Plan.id == Route.plan_id)
        .where(Plan.service_date.between(day - timedelta(days=WEEK_DAYS), day), Route.driver_id.in_(visible))
    )
    for route, plan_day in routes:
        interval = _driving(route, plan_day, day)
        if interval is not None:
            driving.setdefault(route.driver_id, []).append(interval)
    return [
        DriverFacts(
            driver_id=d.id,
            code=d.code,
            name=d.name,
            fleet=fleet_code,
            fleet_type=str(ftype),
            vendor=vendor_code,
            driver_status=str(d.status),
            vehicle_id=d.vehicle_id,
            timezone=tz,
            limits=HosLimits(
                region.code,
                region.daily_driving_limit_s,
                region.weekly_driving_limit_s,
                region.break_after_s,
                region.break_duration_s,
            ),
            documents=tuple(documents.get(d.id, ())),
            driving=tuple(driving.get(d.id, ())),
        )
        for d, fleet_code, ftype, vendor_code, tz, region in rows
    ]


def compliance_report(
    session: Session,
    viewer: Viewer,
    day: date,
    *,
    warn_days: int = EXPIRY_WARNING_DAYS,
    fleet: str | None = None,
    vendor: str | None = None,
    region: str | None = None,
    status: ComplianceStatus | str | None = None,
) -> list[DriverCompliance]:
    """Every visible driver's compliance on `day`, by driver code, filtered by fleet code,
    vendor code, region code and status (each optional)."""
    wanted = ComplianceStatus(status) if status is not None else None
    report = []
    for facts in load_driver_facts(session, viewer, day):
        if (
            (fleet and facts.fleet != fleet)
            or (vendor and facts.vendor != vendor)
            or (region and facts.limits.region != region)
        ):
            continue
        result = evaluate_driver(facts, day, warn_days)
        if wanted is None or result.status is wanted:
            report.append(result)
    return report


def compliance_frame(report: Sequence[DriverCompliance]) -> pd.DataFrame:
    """The report as one row per driver (reasons joined with "; "), for tables and CSV."""
    columns = [
        "driver",
        "driver_name",
        "fleet",
        "fleet_type",
        "vendor",
        "region",
        "status",
        "reasons",
        "driving_today_s",
        "driving_week_s",
        "headroom_today_s",
        "limit_hit_at",
        "break_due_at",
    ]
    return pd.DataFrame(
        [
            (
                r.driver_code,
                r.driver_name,
                r.fleet,
                r.fleet_type,
                r.vendor or "",
                r.region,
                str(r.status),
                "; ".join(r.reasons),
                r.driving_today_s,
                r.driving_week_s,
                r.headroom_today_s,
                r.limit_hit_at,
                r.break_due_at,
            )
            for r in report
        ],
        columns=columns,
    )


def blocked_drivers(session: Session, day: date) -> dict[int, str]:
    """Drivers who may not be dispatched on `day`, each with the first reason in words: what
    the day state (`core.agents.dispatch_problem.load_day_state`) leaves out of every plan."""
    return {
        r.driver_id: (r.reasons[0] if r.reasons else "blocked by compliance")
        for r in compliance_report(session, SYSTEM, day)
        if r.status is ComplianceStatus.BLOCKED
    }


def blocked_driver_ids(session: Session, day: date) -> frozenset[int]:
    """The ids of `blocked_drivers`."""
    return frozenset(blocked_drivers(session, day))
