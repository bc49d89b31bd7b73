"""One decision per proposal, whoever clicks at once: 8 processes approve and reject together.

Each round makes a proposal that moves an order between two drivers, an empty proposal and
eight distinct ones, then 8 processes (released together by a barrier) decide them: four
approve and four reject the shared ones, each decides its own distinct one. Afterwards every
proposal has exactly one decision, audited once; the plan version moved once per applied
change; every order is on at most one open stop.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from core.access import SYSTEM
from core.db import make_engine, migrate, unit_of_work
from core.errors import ControlTowerError
from core.kinds import ProposalKind
from core.models import (
    AuditEntry,
    Driver,
    Order,
    OrderStatus,
    Plan,
    Proposal,
    ProposalStatus,
    ProposerKind,
    Route,
    Stop,
    StopStatus,
)
from core.plan_change import NewRoute, OrderMove, PlacementEffect, RouteChange
from core.proposals import Applied, Applier, Appliers, approve, create_proposal, reject
from tests.conftest import Databases
from tests.core.agents.builders import build, local

WORKERS = 8
ROUNDS = {"sqlite": 5, "postgresql": 20}


def _apply_move(session: Session, plan: Plan, change: RouteChange, now: datetime) -> Applied:
    for move in change.moves:
        order = session.scalars(select(Order).where(Order.external_ref == move.order)).one()
        session.execute(delete(Stop).where(Stop.order_id == order.id, Stop.status == StopStatus.PENDING))
        route = session.scalars(
            select(Route)
            .join(Driver, Driver.id == Route.driver_id)
            .where(Route.plan_id == plan.id, Driver.code == move.to_driver)
        ).one()
        session.add(
            Stop(
                route_id=route.id,
                order_id=order.id,
                sequence=99,
                status=StopStatus.PENDING,
                planned_eta_at=now,
            )
        )
    return Applied(f"{len(change.moves)} moves")


MOVES: Appliers = {ProposalKind.REBALANCE: Applier(RouteChange, _apply_move)}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def race_url(request: pytest.FixtureRequest, databases: Databases) -> str:
    url = databases.url(request.param, "race")
    engine = make_engine(url)
    migrate(engine)
    with unit_of_work(engine) as session:
        w = build(session)
        for code in ("a", "b"):
            w.driver(code, "own", 7, 17)
        shared, other = w.order((9, 12)), w.order((9, 12))
        w.route("a", (8, 0), [(shared, (9, 0))])
        w.route("b", (8, 0), [(other, (9, 30))])
    engine.dispose()
    return url


def _decide(url: str, worker: int, ids: dict[str, list[int]], barrier: Any, results: Any) -> None:
    engine = make_engine(url)
    barrier.wait()
    jobs = [("shared", ids["shared"][0], worker < 4), ("empty", ids["empty"][0], worker % 2 == 0)]
    jobs.append(("distinct", ids["distinct"][worker], worker % 2 == 1))
    for label, proposal_id, approving in jobs:
        try:
            with unit_of_work(engine) as session:
                if approving:
                    approve(session, SYSTEM, proposal_id, MOVES, now=local(10))
                else:
                    reject(session, SYSTEM, proposal_id, "not now", now=local(10))
            results.put((label, proposal_id, "ok"))
        except ControlTowerError as exc:
            results.put((label, proposal_id, type(exc).__name__))
    engine.dispose()


def _propose(engine: Engine, round_no: int) -> dict[str, list[int]]:
    with unit_of_work(engine) as session:
        plan = session.scalars(select(Plan)).one()
        held_by = session.scalar(
            select(Driver.code)
            .join(Route, Route.driver_id == Driver.id)
            .join(Stop, Stop.route_id == Route.id)
            .join(Order, Order.id == Stop.order_id)
            .where(Order.external_ref == "o01", Stop.status == StopStatus.PENDING)
        )
        to = "b" if held_by == "a" else "a"
        move = OrderMove("o01", held_by, None, to, None, "race")

        def make(routes: tuple[NewRoute, ...] = (), moves: tuple[OrderMove, ...] = ()) -> int:
            change = RouteChange(None, "", "tester", routes, moves)
            effect = PlacementEffect(0, 0)
            return create_proposal(
                session, plan, "tester", ProposerKind.AGENT, change, effect, "race", local(9)
            ).id

        return {
            "shared": [make(moves=(move,))],
            "empty": [make()],
            "distinct": [make((NewRoute(f"x{round_no}-{i}", (), None, None, 0),)) for i in range(WORKERS)],
        }


def _race(url: str, ids: dict[str, list[int]]) -> list[tuple[str, int, str]]:
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
    workers = [ctx.Process(target=_decide, args=(url, i, ids, barrier, results)) for i in range(WORKERS)]
    for w in workers:
        w.start()
    outcomes = [results.get(timeout=120) for _ in range(3 * WORKERS)]
    for w in workers:
        w.join(timeout=60)
    assert all(w.exitcode == 0 for w in workers)
    return outcomes


def _check_invariants(engine: Engine, applied_before: int, version_before: int) -> tuple[int, int]:
    with unit_of_work(engine, read_only=True) as session:
        plan = session.scalars(select(Plan)).one()
        proposals = session.scalars(select(Proposal)).all()
        decisions = Counter(p.status for p in proposals)
        assert decisions[ProposalStatus.PENDING] == 0
        applied = decisions[ProposalStatus.APPLIED]
        assert plan.version - version_before == applied - applied_before
        audits = session.scalars(select(AuditEntry)).all()
        per_proposal = Counter(e.detail["proposal_id"] if e.entity == "plan" else e.entity_id for e in audits)
        assert {p.id: per_proposal[p.id] for p in proposals} == {p.id: 1 for p in proposals}
        open_stops = session.execute(
            select(Stop.order_id, func.count())
            .where(Stop.status == StopStatus.PENDING)
            .group_by(Stop.order_id)
        ).all()
        assert all(count == 1 for _, count in open_stops)
        planned = session.scalars(select(Order.status)).all()
        assert set(planned) == {OrderStatus.PLANNED}
        return applied, plan.version


@pytest.mark.slow
def test_concurrent_decisions_leave_one_decision_per_proposal(race_url: str) -> None:
    engine = make_engine(race_url)
    backend = engine.dialect.name
    with unit_of_work(engine, read_only=True) as session:
        applied, version = 0, session.scalars(select(Plan.version)).one()
    for round_no in range(ROUNDS[backend]):
        ids = _propose(engine, round_no)
        outcomes = _race(race_url, ids)
        won = Counter(label for label, _, result in outcomes if result == "ok")
        assert won["shared"] == 1 and won["empty"] == 1, (round_no, outcomes)
        assert won["distinct"] == WORKERS, (round_no, outcomes)
        applied, version = _check_invariants(engine, applied, version)
    engine.dispose()
