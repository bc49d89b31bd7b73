"""The static dispatcher: the morning plan stands; new orders go in by cheapest insertion."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from core.bench.day import DayCase, run_policy
from core.db import make_engine, unit_of_work
from core.models import Driver, Event, EventKind, Order, OrderStatus, Plan, Proposal, Route, Stop
from core.sim.clock import SimClock
from core.sim.disruptions import DisruptionParams, DisruptionPlan, Door, UrgentOrder, door_outcome
from core.sim.engine import SimParams, Simulator
from core.sim.static import AGENT, CheapestInsertionDispatch
from tests.conftest import TEST_DAY

ARRIVES_S = 10 * 3600


def _sequences(engine: Engine) -> dict[str, list[str]]:
    """Driver code -> every order ref on the driver's route, in stop sequence."""
    with unit_of_work(engine, read_only=True) as s:
        rows = s.execute(
            select(Driver.code, Order.external_ref)
            .join(Route, Route.driver_id == Driver.id)
            .join(Plan, Plan.id == Route.plan_id)
            .join(Stop, Stop.route_id == Route.id)
            .join(Order, Order.id == Stop.order_id)
            .where(Plan.service_date == TEST_DAY)
            .order_by(Driver.code, Stop.sequence)
        ).all()
    out: dict[str, list[str]] = {}
    for code, ref in rows:
        out.setdefault(code, []).append(ref)
    return out


@pytest.mark.slow
def test_a_new_order_goes_into_a_route_within_five_minutes_and_no_other_stop_moves(
    day_engine: Engine,
) -> None:
    with unit_of_work(day_engine, read_only=True) as s:
        lat, lon, zone = s.execute(select(Order.lat, Order.lon, Order.zone).where(Order.hub_id == 2)).first()
    urgent = UrgentOrder(2, ARRIVES_S, lat, lon, zone, ARRIVES_S + 1800, ARRIVES_S + 3 * 3600, 1, 1500, 180)
    params = SimParams(disruptions=DisruptionParams.none(), customer_every_s=0, copilot=False)
    dispatch = CheapestInsertionDispatch(TEST_DAY, every_s=300)
    sim = Simulator(
        day_engine,
        TEST_DAY,
        seed=1,
        params=params,
        agents=[dispatch],
        disruptions=DisruptionPlan((), (), (), {}, (urgent,)),
    )
    sim.run(SimClock(TEST_DAY, sim.tz, sim.first_start_s(), ARRIVES_S))  # places what waited since 06:00
    before, placed = _sequences(day_engine), dispatch.placed
    sim.run(SimClock(TEST_DAY, sim.tz, ARRIVES_S, ARRIVES_S + 300 + 60))
    after = _sequences(day_engine)
    with unit_of_work(day_engine, read_only=True) as s:
        order = s.scalars(select(Order).where(Order.external_ref.like("URG-%"))).one()
        placed_at = s.scalar(select(func.max(Proposal.created_at)).where(Proposal.proposed_by == AGENT))
        ref, arrived, status = order.external_ref, order.created_at, order.status
    assert status is not OrderStatus.UNASSIGNED and dispatch.placed == placed + 1
    assert placed_at is not None and placed_at - arrived <= timedelta(seconds=300)
    [taker] = [code for code, refs in after.items() if ref in refs]
    assert before.get(taker)  # an existing route, not a new one
    assert {code: [r for r in refs if r != ref] for code, refs in after.items()} == before


@pytest.mark.slow
def test_not_home_is_a_failed_delivery_and_every_exception_is_an_escalation(
    tiny_day_file: Path, tmp_path: Path
) -> None:
    db = tmp_path / "static.db"
    shutil.copy(tiny_day_file, db)
    rates = replace(DisruptionParams.none(), not_home_rate=0.3)
    case = DayCase(orders=120, drivers=16, plan_seconds=1.0, disruptions=rates)
    outcome = run_policy(db, case, 1, "static", say=lambda _: None)
    engine = make_engine(f"sqlite:///{db}")
    with unit_of_work(engine, read_only=True) as s:
        attempted = s.execute(select(Order.id, Order.status).where(Order.attempts >= 1)).all()
        exceptions = s.scalars(select(Event.payload).where(Event.kind == EventKind.EXCEPTION)).all()
    engine.dispose()
    not_home = [status for oid, status in attempted if door_outcome(rates, 1, oid).door is Door.NOT_HOME]
    assert not_home and all(
        status is OrderStatus.FAILED for status in not_home
    )  # no safe place, no neighbour
    assert all(p["action"] == "return_to_depot" for p in exceptions)
    assert (
        outcome.escalations
        == len(exceptions)
        == len(not_home)
        == outcome.not_delivered - outcome.not_attempted
    )
