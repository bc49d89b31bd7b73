"""No planning path gives a compliance-blocked driver a stop: the day state decides who may work.

The small demo scenario has three drivers compliance blocks (an expired vehicle inspection,
unverified insurance, an expired licence). Each test runs one path
that plans or re-plans the day on its own copy of that database, approves what it proposes,
and checks that no blocked driver has a pending stop afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core import cli
from core.access import SYSTEM
from core.agents.appliers import APPLIERS
from core.agents.autopilot import Autopilot, AutopilotParams
from core.agents.copilot_reroute import reroute
from core.agents.dispatch import RebalanceRequest
from core.bench.day import DayCase, run_policy
from core.cli_sim import make_plans
from core.compliance import blocked_driver_ids
from core.db import unit_of_work
from core.field_records import ExceptionReason
from core.models import Driver, Hub, Plan, Proposal, ProposalStatus, Route, Stop, StopStatus
from core.proposals import approve
from tests.conftest import SMALL, TEST_DAY, copy_of, settings_pointing_at

pytestmark = pytest.mark.slow  # each test plans or simulates a seeded day

NINE = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)  # 09:00 in New York
ELEVEN = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)


@pytest.fixture
def day_db(small_day_file: Path, tmp_path: Path) -> Iterator[Engine]:
    yield from copy_of(small_day_file, tmp_path)


def _blocked(engine: Engine) -> frozenset[int]:
    with unit_of_work(engine, read_only=True) as session:
        blocked = blocked_driver_ids(session, TEST_DAY)
    assert len(blocked) == 3  # the scenario's blocked drivers, so each test checks something
    return blocked


def _approve_pending(engine: Engine, now: datetime) -> int:
    with unit_of_work(engine) as session:
        ids = session.scalars(select(Proposal.id).where(Proposal.status == ProposalStatus.PENDING)).all()
    for pid in ids:
        with unit_of_work(engine) as session:
            approve(session, SYSTEM, pid, APPLIERS, now=now)
    return len(ids)


def _stops_of(engine: Engine, driver_ids: frozenset[int]) -> int:
    with unit_of_work(engine, read_only=True) as session:
        return len(
            session.scalars(
                select(Stop.id)
                .join(Route, Route.id == Stop.route_id)
                .where(Route.driver_id.in_(driver_ids), Stop.status == StopStatus.PENDING)
            ).all()
        )


def _routed(engine: Engine) -> int:
    with unit_of_work(engine, read_only=True) as session:
        return len(session.scalars(select(Stop.id).where(Stop.status == StopStatus.PENDING)).all())


def _hub_ids(engine: Engine) -> list[int]:
    with unit_of_work(engine, read_only=True) as session:
        return list(session.scalars(select(Hub.id).order_by(Hub.id)))


@pytest.mark.parametrize("planner", ["allocator", "baseline"])
def test_morning_plans_route_no_blocked_driver(day_db: Engine, planner: str) -> None:
    blocked = _blocked(day_db)
    assert make_plans(day_db, TEST_DAY, planner, 1.0, 0) == len(_hub_ids(day_db))
    assert _routed(day_db) > 100 and _stops_of(day_db, blocked) == 0


def test_dispatch_page_job_routes_no_blocked_driver(day_db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from ui import dispatch_jobs

    blocked = _blocked(day_db)
    for _ in settings_pointing_at(str(day_db.url), monkeypatch):
        for hub_id in _hub_ids(day_db):
            job = dispatch_jobs.start(
                SYSTEM, RebalanceRequest(hub_id=hub_id, day=TEST_DAY, now=NINE, seconds=1.0)
            )
            assert job.thread is not None
            job.thread.join(timeout=60)
            assert job.error is None and job.proposal_id is not None
    _approve_pending(day_db, NINE)
    assert _routed(day_db) > 100 and _stops_of(day_db, blocked) == 0


def test_cli_rebalance_routes_no_blocked_driver(day_db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = _blocked(day_db)
    for _ in settings_pointing_at(str(day_db.url), monkeypatch):
        args = [
            "rebalance",
            "--hub",
            "all",
            "--date",
            TEST_DAY.isoformat(),
            "--now",
            "09:00",
            "--seconds",
            "1",
        ]
        assert cli.main([*args, "--approve-as", "priya"]) == 0
    assert _routed(day_db) > 100 and _stops_of(day_db, blocked) == 0


def test_autopilot_routes_no_blocked_driver(day_db: Engine) -> None:
    blocked = _blocked(day_db)
    autopilot = Autopilot(TEST_DAY, AutopilotParams(dispatch_seconds=1.0))
    autopilot(day_db, NINE)
    _approve_pending(day_db, NINE)
    assert _routed(day_db) > 100 and _stops_of(day_db, blocked) == 0


def test_copilot_breakdown_hands_the_load_to_no_blocked_driver(day_db: Engine) -> None:
    blocked = _blocked(day_db)
    make_plans(day_db, TEST_DAY, "allocator", 1.0, 0)
    with unit_of_work(day_db) as session:
        route = _a_route_with_stops(session)
        for stop in session.scalars(select(Stop).where(Stop.route_id == route.id)):
            stop.loaded = True
        route.started_at = NINE
        driver = session.get(Driver, route.driver_id)
        assert driver is not None
        reroute(
            session,
            driver.id,
            ELEVEN,
            ExceptionReason.VEHICLE_BREAKDOWN,
            driver_lat(session, driver),
            0.0,
            propose_to_dispatch=True,
        )
    assert _approve_pending(day_db, ELEVEN) == 1
    assert _stops_of(day_db, blocked) == 0
    assert _stops_of(day_db, frozenset({route.driver_id})) == 0  # the broken van keeps nothing


def driver_lat(session: Session, driver: Driver) -> float:
    hub = session.get(Hub, driver.home_hub_id)
    assert hub is not None
    return hub.lat


def _a_route_with_stops(session: Session) -> Route:
    plan = session.scalars(select(Plan).where(Plan.service_date == TEST_DAY).order_by(Plan.id)).first()
    assert plan is not None
    routes = session.scalars(select(Route).where(Route.plan_id == plan.id).order_by(Route.id)).all()
    return next(r for r in routes if session.scalar(select(Stop.id).where(Stop.route_id == r.id).limit(1)))


def test_day_benchmark_gives_no_blocked_driver_a_stop_all_day(day_db: Engine) -> None:
    blocked = _blocked(day_db)
    path = Path(str(day_db.url.database))
    case = DayCase(orders=SMALL.orders, drivers=SMALL.drivers, plan_seconds=1.0, dispatch_seconds=0.5)
    outcome = run_policy(path, case, 0, "agentic", say=lambda _: None)
    with unit_of_work(day_db, read_only=True) as session:
        theirs = session.scalars(  # today's stops: the history days keep what they delivered
            select(Stop.id)
            .join(Route, Route.id == Stop.route_id)
            .join(Plan, Plan.id == Route.plan_id)
            .where(Route.driver_id.in_(blocked), Plan.service_date == TEST_DAY)
        ).all()
    assert outcome.first_attempt_rate > 0 and theirs == []
