"""Compliance rules, each firing and staying silent, in both regions; then the loader.

Region limits come from core/scenario_data/regions.json:
    NY: 10 h a day, 60 h in 7 days, a 30 min break after 5 h
    NJ: 11 h a day, 70 h in 7 days, a 30 min break after 8 h
A day is judged in the hub's local time; these tests use a UTC hub so times read as written.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.access import SYSTEM, Viewer
from core.compliance import (
    ComplianceStatus,
    DocumentFact,
    DriverFacts,
    HosLimits,
    Interval,
    blocked_driver_ids,
    check_document,
    compliance_frame,
    compliance_report,
    document_findings,
    duration_text,
    evaluate_driver,
    hours_of_service,
)
from core.kinds import DocumentKind, Role, RouteStatus
from core.models import ComplianceDocument, Driver, Fleet, Plan, Route, User
from core.scenario.city import load_regions
from tests.conftest import TEST_DAY
from tests.core.test_kpi import D, build_world

DAY = date(2026, 11, 20)
TZ = "UTC"
LIMITS = {
    r.code: HosLimits(
        r.code, r.daily_driving_limit_s, r.weekly_driving_limit_s, r.break_after_s, r.break_duration_s
    )
    for r in load_regions()
}
NY, NJ = LIMITS["NY"], LIMITS["NJ"]
BLOCKED, WARNING, COMPLIANT = (ComplianceStatus.BLOCKED, ComplianceStatus.WARNING, ComplianceStatus.COMPLIANT)


def at(hour: float, day: date = DAY) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC) + timedelta(hours=hour)


def drive(start: float, end: float, day: date = DAY) -> Interval:
    return Interval(at(start, day), at(end, day))


def doc(
    kind: DocumentKind, expires_in_days: float | None, verified: bool = True, vehicle_id: int | None = None
) -> DocumentFact:
    expires = None if expires_in_days is None else at(12) + timedelta(days=expires_in_days)
    return DocumentFact(kind, expires, verified, vehicle_id)


def test_the_region_limits_differ() -> None:
    assert (NY.daily_driving_limit_s, NJ.daily_driving_limit_s) == (10 * 3600, 11 * 3600)
    assert (NY.weekly_driving_limit_s, NJ.weekly_driving_limit_s) == (60 * 3600, 70 * 3600)
    assert (NY.break_after_s, NJ.break_after_s) == (5 * 3600, 8 * 3600)


# --- documents --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(DocumentKind))
def test_document_valid_well_beyond_the_window_is_silent(kind: DocumentKind) -> None:
    assert check_document(kind, [doc(kind, 200)], DAY, TZ) is None
    assert check_document(kind, [doc(kind, None)], DAY, TZ) is None  # never expires


@pytest.mark.parametrize("kind", list(DocumentKind))
def test_missing_document_blocks(kind: DocumentKind) -> None:
    finding = check_document(kind, [], DAY, TZ)
    assert finding is not None and finding.severity is BLOCKED
    assert finding.message == f"{kind.value.replace('_', ' ')} missing"


@pytest.mark.parametrize(
    ("days", "message"),
    [
        (-3, "licence expired 3 days ago"),
        (-1, "licence expired yesterday"),
        (0, "licence expires today"),  # at noon: not valid for the whole day
    ],
)
def test_expired_document_blocks(days: int, message: str) -> None:
    finding = check_document(DocumentKind.LICENCE, [doc(DocumentKind.LICENCE, days)], DAY, TZ)
    assert finding is not None and (finding.severity, finding.message) == (BLOCKED, message)


def test_unverified_document_blocks() -> None:
    finding = check_document(
        DocumentKind.BACKGROUND_CHECK, [doc(DocumentKind.BACKGROUND_CHECK, 300, verified=False)], DAY, TZ
    )
    assert finding is not None and finding.severity is BLOCKED
    assert finding.message == "background check not verified"


@pytest.mark.parametrize(
    ("days", "warn_days", "message"),
    [
        (6, 30, "licence expires in 6 days"),
        (1, 30, "licence expires tomorrow"),
        (30, 30, "licence expires in 30 days"),
        (31, 30, None),
        (10, 7, None),
    ],
)
def test_expiring_document_warns_within_the_window(days: int, warn_days: int, message: str | None) -> None:
    finding = check_document(DocumentKind.LICENCE, [doc(DocumentKind.LICENCE, days)], DAY, TZ, warn_days)
    if message is None:
        assert finding is None
    else:
        assert finding is not None and (finding.severity, finding.message) == (WARNING, message)
        assert finding.expires_on == DAY + timedelta(days=days)


def test_a_renewed_document_replaces_the_expired_one() -> None:
    docs = [doc(DocumentKind.INSURANCE, -40), doc(DocumentKind.INSURANCE, 300)]
    assert check_document(DocumentKind.INSURANCE, docs, DAY, TZ) is None


def test_vehicle_inspection_must_be_for_the_drivers_vehicle() -> None:
    base = [
        doc(k, 300) for k in (DocumentKind.LICENCE, DocumentKind.INSURANCE, DocumentKind.BACKGROUND_CHECK)
    ]
    other_van = [*base, doc(DocumentKind.VEHICLE_INSPECTION, 300, vehicle_id=9)]
    assert [f.message for f in document_findings(other_van, 7, DAY, TZ)] == ["vehicle inspection missing"]
    own_van = [*base, doc(DocumentKind.VEHICLE_INSPECTION, 300, vehicle_id=7)]
    assert document_findings(own_van, 7, DAY, TZ) == []
    assert document_findings(base, None, DAY, TZ) == []  # no vehicle, nothing to inspect


# --- hours of service, in each region -----------------------------------------------------------


@pytest.mark.parametrize("limits", [NY, NJ], ids=["NY", "NJ"])
def test_a_short_day_is_silent_in_every_region(limits: HosLimits) -> None:
    hos = hours_of_service([drive(8, 12)], limits, DAY, TZ)
    assert hos.findings == () and hos.limit_hit_at is None
    assert hos.driving_today_s == 4 * 3600
    assert hos.headroom_today_s == limits.daily_driving_limit_s - 4 * 3600


@pytest.mark.parametrize(
    ("limits", "severity", "message"),
    [
        (NY, BLOCKED, "10 h 30 min of driving today against a 10 h limit in NY"),
        (NJ, WARNING, "10 h 30 min of driving today against a 11 h limit in NJ"),  # 95% of 11 h
    ],
)
def test_ten_and_a_half_hours_is_over_in_ny_and_a_warning_in_nj(
    limits: HosLimits, severity: ComplianceStatus, message: str
) -> None:
    hos = hours_of_service([drive(7, 17.5)], limits, DAY, TZ)
    assert [(f.severity, f.message) for f in hos.findings] == [(severity, message)]


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        (NY, [(WARNING, "9 h 20 min of driving today against a 10 h limit in NY")]),
        (NJ, []),  # 85% of 11 h: below the warning share
    ],
)
def test_near_the_daily_limit_warns(limits: HosLimits, expected: list[tuple[str, str]]) -> None:
    hos = hours_of_service([drive(8, 9 + 1 / 3 + 8)], limits, DAY, TZ)
    assert [(f.severity, f.message) for f in hos.findings] == expected


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        (NY, [(BLOCKED, "61 h of driving in the last 7 days against a 60 h limit in NY")]),
        (NJ, []),  # 61 of 70 h: 87%, silent
    ],
)
def test_rolling_week_limit(limits: HosLimits, expected: list[tuple[str, str]]) -> None:
    week = [drive(8, 18, DAY - timedelta(days=back)) for back in range(1, 7)]  # 6 x 10 h
    hos = hours_of_service([*week, drive(8, 9)], limits, DAY, TZ)
    assert hos.driving_week_s == 61 * 3600 and hos.driving_today_s == 3600
    assert [(f.severity, f.message) for f in hos.findings] == expected


def test_driving_older_than_the_week_is_not_counted() -> None:
    old = [drive(8, 18, DAY - timedelta(days=back)) for back in range(7, 14)]
    assert hours_of_service(old, NY, DAY, TZ).driving_week_s == 0


@pytest.mark.parametrize(("limits", "hit"), [(NY, at(18)), (NJ, None)])
def test_limit_hit_time_from_the_plan(limits: HosLimits, hit: datetime | None) -> None:
    """An 11 h plan from 08:00 reaches NY's 10 h at 18:00; NJ's 11 h is reached, not passed."""
    assert hours_of_service([drive(8, 19)], limits, DAY, TZ).limit_hit_at == hit


def test_weekly_limit_hit_time_counts_the_days_before() -> None:
    """58 h before today leaves 2 h of NY's 60: a plan from 08:00 hits the limit at 10:00."""
    week = [drive(8, 18, DAY - timedelta(days=back)) for back in range(1, 6)]  # 50 h
    week.append(drive(6, 14, DAY - timedelta(days=6)))  # + 8 h = 58 h
    hos = hours_of_service([*week, drive(8, 12)], NY, DAY, TZ)
    assert hos.limit_hit_at == at(10)
    assert hos.headroom_today_s == 0


@pytest.mark.parametrize(("limits", "due"), [(NY, at(13)), (NJ, None)])
def test_break_due_after_continuous_driving(limits: HosLimits, due: datetime | None) -> None:
    assert hours_of_service([drive(8, 14)], limits, DAY, TZ).break_due_at == due


def test_a_gap_as_long_as_the_break_resets_the_stretch() -> None:
    assert hours_of_service([drive(8, 11), drive(11.5, 14)], NY, DAY, TZ).break_due_at is None
    assert hours_of_service([drive(8, 11), drive(11.25, 14)], NY, DAY, TZ).break_due_at == at(13.25)


def _facts(
    limits: HosLimits, documents: tuple[DocumentFact, ...], driving: tuple[Interval, ...] = ()
) -> DriverFacts:
    return DriverFacts(1, "D-1", "Dee", "CAP", "captive", None, "active", 7, TZ, limits, documents, driving)


def test_driver_status_is_the_worst_finding_with_blocking_reasons_first() -> None:
    good = tuple(
        doc(k, 300, vehicle_id=7 if k is DocumentKind.VEHICLE_INSPECTION else None) for k in DocumentKind
    )
    assert evaluate_driver(_facts(NY, good), DAY).status is COMPLIANT
    expiring = (*good[:-1], doc(DocumentKind.VEHICLE_INSPECTION, 6, vehicle_id=7))
    result = evaluate_driver(_facts(NY, expiring, (drive(7, 18),)), DAY)
    assert result.status is BLOCKED
    assert result.reasons == (
        "11 h of driving today against a 10 h limit in NY",
        "vehicle inspection expires in 6 days",
    )
    assert result.expiring == (("vehicle_inspection", DAY + timedelta(days=6)),)
    assert evaluate_driver(_facts(NJ, expiring, (drive(7, 18),)), DAY).status is WARNING


def test_durations_read_like_a_dispatcher_says_them() -> None:
    assert [duration_text(s) for s in (33600, 36000, 2700, 0)] == ["9 h 20 min", "10 h", "45 min", "0 min"]


# --- loader -----------------------------------------------------------------------------------


def _valid_documents(db: Session, driver: Driver) -> None:
    for kind in DocumentKind:
        db.add(
            ComplianceDocument(
                driver_id=driver.id,
                kind=kind,
                reference=f"{kind.value}-{driver.code}",
                issued_at=at(0) - timedelta(days=100),
                expires_at=at(0) + timedelta(days=300),
                verified=True,
                verified_at=at(0) - timedelta(days=99),
                vehicle_id=driver.vehicle_id if kind is DocumentKind.VEHICLE_INSPECTION else None,
            )
        )


def test_report_reads_documents_past_routes_and_todays_plan(db: Session) -> None:
    world = build_world(db)  # NY region; D's routes: c1 08-14, t1 09-13, g1 10-12, all done
    c1, t1 = world["drivers"]["c1"], world["drivers"]["t1"]
    _valid_documents(db, c1)
    _valid_documents(db, t1)
    tomorrow = D + timedelta(days=1)
    plan = Plan(hub_id=world["hub"].id, service_date=tomorrow, updated_at=at(20))
    db.add(plan)
    db.flush()
    db.add(
        Route(
            plan_id=plan.id,
            driver_id=c1.id,
            status=RouteStatus.PLANNED,
            planned_start_at=at(8, tomorrow),
            planned_end_at=at(19, tomorrow),
        )
    )
    db.flush()
    today = {r.driver_code: r for r in compliance_report(db, SYSTEM, D)}
    assert today["c1"].status is COMPLIANT and today["c1"].driving_today_s == 6 * 3600
    assert today["g1"].status is BLOCKED and "insurance missing" in today["g1"].reasons
    ahead = {r.driver_code: r for r in compliance_report(db, SYSTEM, tomorrow)}
    assert ahead["c1"].status is BLOCKED  # the 11 h plan passes NY's 10 h
    assert ahead["c1"].limit_hit_at == at(18, tomorrow)
    assert ahead["c1"].driving_week_s == 17 * 3600
    assert ahead["t1"].status is COMPLIANT
    assert blocked_driver_ids(db, tomorrow) == {c1.id, world["drivers"]["g1"].id}
    v3 = Viewer("v3", Role.VENDOR, vendor_id=world["vendors"]["V3"].id)
    assert [r.driver_code for r in compliance_report(db, v3, D)] == ["t1"]


def test_report_covers_every_demo_driver_and_filters(seeded_db: Session) -> None:
    report = compliance_report(seeded_db, SYSTEM, TEST_DAY)
    assert len(report) == len(seeded_db.scalars(select(Driver.id)).all())
    assert {r.fleet_type for r in report} == {"captive", "third_party", "gig"}
    blocked = {r.driver_id for r in report if r.status is BLOCKED}
    assert blocked_driver_ids(seeded_db, TEST_DAY) == blocked
    for r in report:
        assert (r.status is COMPLIANT) == (r.reasons == ())
    nj = compliance_report(seeded_db, SYSTEM, TEST_DAY, region="NJ", status="warning")
    assert all(r.region == "NJ" and r.status is WARNING for r in nj)
    frame = compliance_frame(report)
    assert len(frame) == len(report) and "reasons" in frame.columns


def test_a_vendor_sees_only_its_own_drivers_compliance(seeded_db: Session) -> None:
    jonas = seeded_db.scalars(select(User).where(User.username == "jonas")).one()
    viewer = Viewer("jonas", Role.VENDOR, vendor_id=jonas.vendor_id)
    own = set(seeded_db.scalars(select(Driver.code).join(Fleet).where(Fleet.vendor_id == jonas.vendor_id)))
    report = compliance_report(seeded_db, viewer, TEST_DAY)
    assert {r.driver_code for r in report} == own and own
    assert compliance_report(seeded_db, viewer, TEST_DAY, vendor="HUD") == []
