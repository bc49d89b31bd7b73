"""The compliance agent: a driver's stops move to others before the plan breaks a rule.

Hand-built hub in UTC (times read as written), NY limits (10 h a day, 60 h in 7 days). D-01
has eight stops whose windows pin their times: A0-A3 between 12:30 and 15:45, A4-A7 from
16:00 on. D-02 and D-03 start an afternoon shift at noon with two stops each, near D-01's.
Every stop is a few kilometres from the hub, so a van is back within about 15 minutes of
its last stop.

Daily limit: D-01 started at 06:00, so driving 06:00 to the route's end (about 18:30)
passes 10 h at 16:00. The last stop D-01 can make and still be back by 16:00 is A3 (served
from 14:45), so exactly A4-A7 move.
Document: D-01 has not started; the route runs 09:00-16:00 and the insurance expires at 13:00,
so A0-A2 (served 10:00-12:00) stay and A3-A5 (from 13:30) move.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.access import SYSTEM
from core.agents.compliance_agent import AGENT, at_risk_drivers, propose_compliance
from core.agents.dispatch import apply_route_change
from core.agents.dispatch_problem import load_day_state
from core.agents.policy import settle
from core.allocator.evaluate import evaluate_plan
from core.compliance import RULE_DAILY, RULE_WEEKLY, compliance_report
from core.kinds import (
    BrandTier,
    ContactChannel,
    DocumentKind,
    DriverStatus,
    FleetType,
    OrderStatus,
    ProposalStatus,
    RouteStatus,
    SlaKind,
    StopStatus,
    VehicleKind,
)
from core.models import (
    ComplianceDocument,
    Driver,
    Fleet,
    Hub,
    Order,
    Plan,
    Proposal,
    Region,
    Route,
    Stop,
    Vehicle,
)
from core.plan_change import NewRoute, PlanEffect, RouteChange, Unplaced
from core.proposals import ProposalView

DAY = date(2026, 11, 20)
DRIVERS = ("D-01", "D-02", "D-03")


def at(hour: float, day: date = DAY) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC) + timedelta(hours=hour)


def _world(
    db: Session, windows: dict[str, tuple[float, float]], skills: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    """Hub, region, three drivers with valid documents, and open orders with the given windows."""
    region = Region(
        code="NY",
        name="New York",
        daily_driving_limit_s=36000,
        weekly_driving_limit_s=216000,
        break_after_s=18000,
        break_duration_s=1800,
    )
    db.add(region)
    db.flush()
    hub = Hub(
        code="H1",
        name="Hub",
        region_id=region.id,
        lat=40.70,
        lon=-74.00,
        timezone="UTC",
        loading_bays=4,
        turnaround_s=600,
    )
    fleet = Fleet(code="CAP", name="Own", fleet_type=FleetType.CAPTIVE, per_hour_cents=3600, per_km_cents=50)
    db.add_all([hub, fleet])
    db.flush()
    drivers = {}
    for code in DRIVERS:
        vehicle = Vehicle(
            registration=f"V-{code}",
            fleet_id=fleet.id,
            vehicle_type=VehicleKind.VAN,
            capacity_parcels=50,
            capacity_g=500_000,
            capacity_ml=5_000_000,
            electric=False,
            co2_g_per_km=200,
            cold_chain=code == "D-01",
        )
        db.add(vehicle)
        db.flush()
        shift = (time(6), time(21)) if code == "D-01" else (time(12), time(21))
        driver = Driver(
            code=code,
            name=f"Driver {code}",
            fleet_id=fleet.id,
            vehicle_id=vehicle.id,
            home_hub_id=hub.id,
            region_id=region.id,
            shift_start=shift[0],
            shift_end=shift[1],
            skills=["cold_chain"] if code == "D-01" else [],
            status=DriverStatus.ACTIVE,
        )
        db.add(driver)
        db.flush()
        for kind in DocumentKind:
            db.add(
                ComplianceDocument(
                    driver_id=driver.id,
                    kind=kind,
                    reference=f"{kind.value}-{code}",
                    issued_at=at(-2400),
                    expires_at=at(24 * 300),
                    verified=True,
                    verified_at=at(-2399),
                    vehicle_id=vehicle.id if kind is DocumentKind.VEHICLE_INSPECTION else None,
                )
            )
        drivers[code] = driver
    for i, (ref, (start, end)) in enumerate(sorted(windows.items())):
        db.add(
            Order(
                external_ref=ref,
                hub_id=hub.id,
                service_date=DAY,
                status=OrderStatus.UNASSIGNED,
                address=f"{i} Main St",
                zone="Z",
                lat=40.70 + 0.004 * (i % 4),
                lon=-74.00 + 0.005 * (i % 3 + 1),
                parcels=1,
                weight_g=1000,
                volume_ml=1000,
                service_time_s=120,
                sla_kind=SlaKind.TWO_HOUR,
                window_start_at=at(start),
                window_end_at=at(end),
                priority=1,
                brand_tier=BrandTier.STANDARD,
                required_skills=(skills or {}).get(ref, []),
                customer_name="C",
                contact_channel=ContactChannel.SMS,
                created_at=at(-4),
            )
        )
    db.flush()
    return {"hub": hub, "drivers": drivers}


def _plan(db: Session, hub: Hub, routes: dict[str, list[str]], now: datetime) -> Plan:
    """Write `routes` into the day's plan with the allocator's own schedule from `now`."""
    plan = Plan(hub_id=hub.id, service_date=DAY, updated_at=now)
    db.add(plan)
    db.flush()
    state = load_day_state(db, hub.id, DAY, now)
    ev = evaluate_plan(state.problem, routes)
    change = RouteChange(
        hub.id, DAY.isoformat(), "test", tuple(NewRoute.planned(r.driver_id, r) for r in ev.routes)
    )
    apply_route_change(db, plan, change, now)
    return plan


def _start(db: Session, driver: Driver, started: datetime) -> Route:
    """The van left at `started` with every pending parcel on board."""
    route = db.scalars(select(Route).where(Route.driver_id == driver.id)).one()
    route.started_at = route.planned_start_at = started
    route.status = RouteStatus.IN_PROGRESS
    for stop in db.scalars(select(Stop).where(Stop.route_id == route.id)):
        stop.loaded = True
        db.get(Order, stop.order_id).status = OrderStatus.OUT_FOR_DELIVERY  # type: ignore[union-attr]
    db.flush()
    return route


def _pending(db: Session, driver: Driver) -> list[str]:
    return list(
        db.scalars(
            select(Order.external_ref)
            .join(Stop, Stop.order_id == Order.id)
            .join(Route, Route.id == Stop.route_id)
            .where(Route.driver_id == driver.id, Stop.status == StopStatus.PENDING)
            .order_by(Stop.sequence)
        )
    )


def _route(db: Session, driver: Driver) -> Route:
    return db.scalars(select(Route).where(Route.driver_id == driver.id)).one()


HOS_WINDOWS = {
    "A0": (12.5, 13.5),
    "A1": (13.25, 14.25),
    "A2": (14.0, 15.0),
    "A3": (14.75, 15.75),
    "A4": (16.0, 17.0),
    "A5": (16.75, 17.75),
    "A6": (17.5, 18.5),
    "A7": (18.25, 19.25),
    "B0": (12.5, 14.5),
    "B1": (14.0, 17.0),
    "C0": (12.5, 14.5),
    "C1": (15.0, 18.0),
}
HOS_ROUTES = {"D-01": [f"A{i}" for i in range(8)], "D-02": ["B0", "B1"], "D-03": ["C0", "C1"]}
NOON = at(12)


def _long_day(db: Session, skills: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """D-01 started at 06:00; the plan ends about 18:30, so 10 h of driving is reached at 16:00."""
    world = _world(db, HOS_WINDOWS, skills)
    _plan(db, world["hub"], HOS_ROUTES, NOON)
    _start(db, world["drivers"]["D-01"], at(6))
    return world


def test_daily_limit_mid_route_is_a_risk_from_the_breach_on(db: Session) -> None:
    world = _long_day(db)
    assert _route(db, world["drivers"]["D-01"]).planned_end_at > at(18)
    [risk] = at_risk_drivers(db, world["hub"].id, DAY, NOON)
    assert (risk.driver_code, risk.rule, risk.breach_at) == ("D-01", RULE_DAILY, at(16))
    assert risk.kept == ("A0", "A1", "A2", "A3")
    assert risk.orders == ("A4", "A5", "A6", "A7")
    assert "would pass the NY 10 h daily driving limit at 16:00" in risk.reason


def _typed(p: ProposalView) -> tuple[RouteChange, PlanEffect]:
    assert isinstance(p.change, RouteChange) and isinstance(p.effect, PlanEffect)
    return p.change, p.effect


def test_stops_after_the_daily_breach_move_and_the_route_then_ends_in_time(db: Session) -> None:
    world = _long_day(db)
    d1 = world["drivers"]["D-01"]
    [proposal] = propose_compliance(db, world["hub"].id, DAY, NOON)
    assert proposal.proposed_by == AGENT and proposal.kind == "rebalance"
    change, effect = _typed(proposal)
    assert change.action == "reassign" and [r.driver for r in change.risks] == ["D-01"]
    moves = {m.order: m for m in change.moves}
    assert set(moves) == {"A4", "A5", "A6", "A7"}
    assert {m.to_driver for m in moves.values()} <= {"D-02", "D-03"}
    assert all(m.from_driver == "D-01" and m.to_driver for m in moves.values())
    assert change.unassigned == ()
    assert effect.orders_moved == 4 and effect.breaches_avoided == 1
    assert proposal.rationale.startswith(
        "D-01 would pass the NY 10 h daily driving limit at 16:00; 4 stops after 14:47 move to D-0"
    )

    outcome = settle(db, proposal, "reassign", NOON)
    assert outcome.applied
    assert _pending(db, d1) == ["A0", "A1", "A2", "A3"]
    assert _route(db, d1).planned_end_at <= at(16)
    taken = _pending(db, world["drivers"]["D-02"]) + _pending(db, world["drivers"]["D-03"])
    assert sorted(taken) == ["A4", "A5", "A6", "A7", "B0", "B1", "C0", "C1"]
    report = {r.driver_code: r for r in compliance_report(db, SYSTEM, DAY)}
    assert report["D-01"].limit_hit_at is None
    assert all(report[c].limit_hit_at is None for c in ("D-02", "D-03"))  # no new breach elsewhere
    assert at_risk_drivers(db, world["hub"].id, DAY, NOON) == []


def test_weekly_limit_counts_the_days_before(db: Session) -> None:
    world = _long_day(db)
    d1 = world["drivers"]["D-01"]
    for back in range(1, 7):  # 9 h a day for six days: 54 h, so 6 h of today are left: 12:00
        day = DAY - timedelta(days=back)
        plan = Plan(hub_id=world["hub"].id, service_date=day, updated_at=at(20, day))
        db.add(plan)
        db.flush()
        db.add(
            Route(
                plan_id=plan.id,
                driver_id=d1.id,
                status=RouteStatus.COMPLETED,
                planned_start_at=at(7, day),
                planned_end_at=at(16, day),
                started_at=at(7, day),
                finished_at=at(16, day),
            )
        )
    db.flush()
    [risk] = at_risk_drivers(db, world["hub"].id, DAY, at(9))
    assert (risk.rule, risk.breach_at) == (RULE_WEEKLY, at(12))
    assert risk.orders == tuple(f"A{i}" for i in range(8))  # nothing can be done by 12:00
    assert "60 h weekly driving limit at 12:00" in risk.reason


DOC_WINDOWS = {
    "A0": (10.0, 11.0),
    "A1": (11.0, 12.0),
    "A2": (12.0, 12.5),
    "A3": (13.5, 14.5),
    "A4": (14.5, 15.5),
    "A5": (15.5, 16.5),
    "B0": (12.5, 14.5),
    "C0": (13.0, 15.0),
}


def test_stops_after_an_insurance_expiry_move_to_other_drivers(db: Session) -> None:
    world = _world(db, DOC_WINDOWS)
    d1 = world["drivers"]["D-01"]
    _plan(db, world["hub"], {"D-01": [f"A{i}" for i in range(6)], "D-02": ["B0"], "D-03": ["C0"]}, at(9))
    insurance = db.scalars(
        select(ComplianceDocument).where(
            ComplianceDocument.driver_id == d1.id, ComplianceDocument.kind == DocumentKind.INSURANCE
        )
    ).one()
    insurance.expires_at = at(13)
    db.flush()
    [risk] = at_risk_drivers(db, world["hub"].id, DAY, at(9))
    assert (risk.rule, risk.breach_at, risk.orders) == ("insurance", at(13), ("A3", "A4", "A5"))

    [proposal] = propose_compliance(db, world["hub"].id, DAY, at(9))
    assert proposal.rationale.startswith("D-01's insurance expires at 13:00; 3 stops after")
    assert {m.order for m in _typed(proposal)[0].moves} == {"A3", "A4", "A5"}
    assert settle(db, proposal, "reassign", at(9)).applied
    assert _pending(db, d1) == ["A0", "A1", "A2"]
    assert _route(db, d1).planned_end_at <= at(13)
    others = _pending(db, world["drivers"]["D-02"]) + _pending(db, world["drivers"]["D-03"])
    assert {"A3", "A4", "A5"} <= set(others)


def test_an_expired_document_moves_every_pending_stop(db: Session) -> None:
    world = _world(db, DOC_WINDOWS)
    d1 = world["drivers"]["D-01"]
    _plan(db, world["hub"], {"D-01": [f"A{i}" for i in range(6)], "D-02": ["B0"], "D-03": ["C0"]}, at(9))
    licence = db.scalars(
        select(ComplianceDocument).where(
            ComplianceDocument.driver_id == d1.id, ComplianceDocument.kind == DocumentKind.LICENCE
        )
    ).one()
    licence.expires_at = at(8)
    db.flush()
    [proposal] = propose_compliance(db, world["hub"].id, DAY, at(9))
    assert proposal.rationale.startswith("D-01's licence expired at 08:00; all 6 remaining stops move to")
    assert settle(db, proposal, "reassign", at(9)).applied
    assert _pending(db, d1) == []


def test_a_compliant_hub_gets_no_proposal(db: Session) -> None:
    world = _world(db, DOC_WINDOWS)
    _plan(db, world["hub"], {"D-01": [f"A{i}" for i in range(6)], "D-02": ["B0"], "D-03": ["C0"]}, at(9))
    assert at_risk_drivers(db, world["hub"].id, DAY, at(9)) == []
    assert propose_compliance(db, world["hub"].id, DAY, at(9)) == []
    assert db.scalars(select(Proposal)).all() == []


def test_no_second_proposal_while_one_is_pending(db: Session) -> None:
    world = _long_day(db)
    [first] = propose_compliance(db, world["hub"].id, DAY, NOON)
    assert propose_compliance(db, world["hub"].id, DAY, NOON + timedelta(minutes=5)) == []
    assert [p.id for p in db.scalars(select(Proposal))] == [first.id]
    db.get(Proposal, first.id).status = ProposalStatus.REJECTED  # type: ignore[union-attr]
    db.flush()
    assert len(propose_compliance(db, world["hub"].id, DAY, NOON + timedelta(minutes=10))) == 1


def test_a_stop_no_one_else_can_take_is_unassigned_with_the_reason(db: Session) -> None:
    world = _long_day(db, skills={"A6": ["cold_chain"]})  # only D-01 has a cold-chain van
    [proposal] = propose_compliance(db, world["hub"].id, DAY, NOON)
    change, effect = _typed(proposal)
    assert change.unassigned == (
        Unplaced("A6", "no eligible driver: 2 lack skill cold_chain, 1 blocked by compliance"),
    )
    move = next(m for m in change.moves if m.order == "A6")
    assert move.to_driver is None and "lack skill cold_chain" in move.reason
    assert effect.orders_moved == 3 and effect.orders_dropped == 1
    assert proposal.rationale.startswith(
        "D-01 would pass the NY 10 h daily driving limit at 16:00; 3 of the 4 stops after 14:47 move to "
    )
    assert "1 cannot be placed (no eligible driver: 2 lack skill cold_chain" in proposal.rationale
    assert settle(db, proposal, "reassign", NOON).applied
    on_routes = {ref for d in world["drivers"].values() for ref in _pending(db, d)}
    assert "A6" not in on_routes and {"A4", "A5", "A7"} <= on_routes


def test_a_receiver_near_their_own_limit_takes_nothing_that_would_break_it(db: Session) -> None:
    world = _long_day(db)
    night = Plan(hub_id=world["hub"].id, service_date=DAY - timedelta(days=1), updated_at=at(0))
    db.add(night)
    db.flush()
    for code in ("D-02", "D-03"):  # a night shift that ran past midnight: 1 h left after today's plan
        route = _route(db, world["drivers"][code])
        left = timedelta(hours=9) - (route.planned_end_at - route.planned_start_at)
        db.add(
            Route(
                plan_id=night.id,
                driver_id=world["drivers"][code].id,
                status=RouteStatus.COMPLETED,
                planned_start_at=at(0),
                planned_end_at=at(0) + left,
                started_at=at(0),
                finished_at=at(0) + left,
            )
        )
    db.flush()
    headroom = {r.driver_code: r.headroom_today_s for r in compliance_report(db, SYSTEM, DAY)}
    assert headroom["D-02"] == headroom["D-03"] == 3600
    [proposal] = propose_compliance(db, world["hub"].id, DAY, NOON)
    assert _typed(proposal)[0].unassigned  # an hour each cannot take all four stops to 18:30
    assert settle(db, proposal, "reassign", NOON).applied
    report = {r.driver_code: r for r in compliance_report(db, SYSTEM, DAY)}
    assert all(report[c].limit_hit_at is None for c in DRIVERS)


def test_a_limit_already_passed_moves_every_stop_and_says_the_breach_stands(db: Session) -> None:
    world = _long_day(db)
    [proposal] = propose_compliance(db, world["hub"].id, DAY, at(16.5))
    change, effect = _typed(proposal)
    assert {m.order for m in change.moves} == {f"A{i}" for i in range(8)}
    assert effect.breaches_avoided == 0
    assert proposal.rationale.startswith(
        "D-01 passed the NY 10 h daily driving limit at 16:00; all 8 remaining stops move to "
    )
    assert proposal.rationale.endswith("even so the van is back only at 16:30, after the breach.")
