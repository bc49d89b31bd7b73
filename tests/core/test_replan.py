"""Re-planning a day under way: one press places what can be placed, a stranded load is handed
over, and the solve holds no database lock."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from core.access import SYSTEM, Viewer
from core.agents import dispatch
from core.agents.appliers import APPLIERS
from core.agents.copilot import copilot_view
from core.agents.dispatch import RebalanceRequest, ReplanProgress, read_day, record, replan
from core.agents.rebalance import rebalance
from core.agents.replan_child import ReplanProcessError, replan_in_child
from core.allocator.insertion import insert_greedily
from core.cli_sim import make_plans
from core.db import make_engine, unit_of_work
from core.errors import ControlTowerError
from core.models import (
    Driver,
    Event,
    EventKind,
    Hub,
    Order,
    OrderStatus,
    ProposalStatus,
    Role,
    Route,
    Stop,
    StopStatus,
    User,
)
from core.plan_change import PlanEffect, RouteChange
from core.proposals import approve
from tests.conftest import TEST_DAY, copy_of

pytestmark = pytest.mark.slow  # each test re-plans a seeded day under way

ELEVEN = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)  # 11:00 in New York


@pytest.fixture(scope="module")
def planned(small_day_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small scenario with its morning plans approved, the first hour's stops loaded."""
    path = tmp_path_factory.mktemp("replan") / "planned.db"
    shutil.copy(small_day_file, path)
    engine = make_engine(f"sqlite:///{path}")
    make_plans(engine, TEST_DAY, "allocator", 1.0, 0)
    with unit_of_work(engine) as session:
        session.execute(update(Route).values(started_at=ELEVEN - timedelta(hours=2)))
        session.execute(update(Stop).values(loaded=True))
        session.execute(
            update(Order)
            .where(Order.status == OrderStatus.PLANNED)
            .values(status=OrderStatus.OUT_FOR_DELIVERY)
        )
    engine.dispose()
    return path


@pytest.fixture
def day(planned: Path, tmp_path: Path) -> Iterator[Engine]:
    yield from copy_of(planned, tmp_path)


def _first_hub(engine: Engine) -> int:
    with unit_of_work(engine, read_only=True) as session:
        hub = session.scalars(select(Hub).order_by(Hub.id)).first()
        assert hub is not None
        return hub.id


def _busiest_route(engine: Engine, hub_id: int) -> tuple[int, int]:
    """(driver id, pending stops) of the hub's route with most pending stops."""
    with unit_of_work(engine, read_only=True) as session:
        state = read_day(session, RebalanceRequest(hub_id=hub_id, day=TEST_DAY, now=ELEVEN))
        code, refs = max(state.live.items(), key=lambda kv: len(kv[1]))
        return state.driver_ids[code], len(refs)


def _add_urgent(engine: Engine, hub_id: int, n: int) -> None:
    with unit_of_work(engine) as session:
        hub = session.get(Hub, hub_id)
        template = session.scalars(select(Order).where(Order.hub_id == hub_id)).first()
        assert hub is not None and template is not None
        for i in range(n):
            session.add(
                Order(
                    **{
                        c.key: getattr(template, c.key)
                        for c in Order.__table__.columns
                        if c.key not in ("id", "external_ref", "status", "delivered_at", "attempts")
                    }
                    | {
                        "external_ref": f"URGENT-{i}",
                        "status": OrderStatus.UNASSIGNED,
                        "attempts": 0,
                        "lat": hub.lat + 0.004 * (i % 5),
                        "lon": hub.lon - 0.004 * (i // 5),
                        "window_start_at": ELEVEN,
                        "window_end_at": ELEVEN + timedelta(hours=4),
                        "created_at": ELEVEN,
                    }
                )
            )


def _break_down(engine: Engine, driver_id: int) -> None:
    with unit_of_work(engine) as session:
        hub = session.scalars(select(Hub).order_by(Hub.id)).first()
        assert hub is not None
        session.add(
            Event(
                driver_id=driver_id,
                kind=EventKind.EXCEPTION,
                occurred_at=ELEVEN,
                lat=hub.lat + 0.01,
                lon=hub.lon + 0.01,
                payload={"reason": "vehicle_breakdown", "needs_dispatch": True},
            )
        )


def test_one_press_places_every_placeable_order_and_hands_over_a_broken_van(day: Engine) -> None:
    hub_id = _first_hub(day)
    broken, loaded = _busiest_route(day, hub_id)
    _add_urgent(day, hub_id, 10)
    _break_down(day, broken)
    request = RebalanceRequest(hub_id=hub_id, day=TEST_DAY, now=ELEVEN, seconds=3.0)
    with unit_of_work(day, read_only=True) as session:
        state = read_day(session, request, unavailable={broken: "van broken down"})
    done = replan(state, request, "priya")
    with unit_of_work(day) as session:
        proposal = record(session, done, SYSTEM, ELEVEN)
    change, effect = proposal.change, proposal.effect
    assert isinstance(change, RouteChange) and isinstance(effect, PlanEffect)
    assert proposal.status is ProposalStatus.PENDING
    # the broken van's load went on: to a rescuer at the van, or back to the hub, said in words
    assert len(change.handovers) == 1 and len(change.handovers[0].orders) == loaded
    assert "van broken down" in proposal.rationale and effect.handed_over == loaded
    # every urgent order that fits anywhere is placed: what is left fits nowhere
    left = [u.order for u in change.unassigned]
    assert effect.after.unassigned < effect.before.unassigned
    _, still = insert_greedily(state.problem, done.plan, left)
    assert sorted(still) == sorted(left)
    with unit_of_work(day) as session:
        approve(session, SYSTEM, proposal.id, APPLIERS, now=ELEVEN)
    with unit_of_work(day, read_only=True) as session:
        kept = session.scalars(
            select(Stop.id)
            .join(Route, Route.id == Stop.route_id)
            .where(Route.driver_id == broken, Stop.status == StopStatus.PENDING)
        ).all()
    assert kept == []
    handover = change.handovers[0]
    with unit_of_work(day, read_only=True) as session:
        theirs = copilot_view(session, SYSTEM, broken, ELEVEN).handovers
        rescuer = session.scalar(select(Driver.id).where(Driver.code == handover.to_driver))
        mine = copilot_view(session, SYSTEM, rescuer, ELEVEN).handovers if rescuer else ()
    assert len(theirs) == 1 and "van broken down" in theirs[0]
    if handover.to_driver:  # the rescuer is told to fetch the load first
        assert len(mine) == 1 and mine[0].startswith(f"First pick up {loaded} orders from")


def test_a_rebalance_holds_no_lock_while_it_solves(day: Engine) -> None:
    """A writer (a simulator tick, an approval) waits for the rebalance's short writes only."""
    hub_id = _first_hub(day)
    _add_urgent(day, hub_id, 10)
    cancel, solving = threading.Event(), threading.Event()

    def on_progress(_: ReplanProgress) -> None:
        solving.set()

    outcome: list[int] = []
    request = RebalanceRequest(hub_id=hub_id, day=TEST_DAY, now=ELEVEN, seconds=20.0)
    worker = threading.Thread(
        target=lambda: outcome.append(rebalance(day, SYSTEM, request, on_progress, cancel).id), daemon=True
    )
    worker.start()
    assert solving.wait(30), "the solver never reported progress"
    started = time.monotonic()
    with unit_of_work(day) as session:
        session.execute(update(Order).where(Order.external_ref == "URGENT-0").values(priority=3))
    waited = time.monotonic() - started
    cancel.set()
    worker.join(30)
    assert waited < 0.5 and outcome, f"the writer waited {waited:.2f} s"


@pytest.mark.parametrize("in_child", [False, True], ids=["here", "in a child"])
def test_a_metro_rebalance_stops_when_cancelled(day: Engine, in_child: bool) -> None:
    """Split into parts solved in a process pool, a rebalance still hears progress and stops
    soon after a cancel, with a proposal built from what was solved by then; the same when
    the solve runs in a child process, as the app's does."""
    hub_id = _first_hub(day)
    _add_urgent(day, hub_id, 10)
    cancel, repaired = threading.Event(), threading.Event()
    heard: list[ReplanProgress] = []

    def on_progress(p: ReplanProgress) -> None:
        heard.append(p)
        repaired.set()

    outcome: list[str] = []
    request = RebalanceRequest(hub_id=hub_id, day=TEST_DAY, now=ELEVEN, seconds=40.0, metro=True)
    worker = threading.Thread(
        target=lambda: outcome.append(
            rebalance(day, SYSTEM, request, on_progress, cancel, in_child=in_child).rationale
        ),
        daemon=True,
    )
    worker.start()
    assert repaired.wait(30), "the re-plan never reported progress"
    time.sleep(1.0)  # the parts are solving
    cancel.set()
    cancelled_at = time.monotonic()
    worker.join(30)
    assert outcome, "no proposal after the cancel"
    assert time.monotonic() - cancelled_at < 8.0
    assert heard[0].late is not None  # the repaired plan, in the proposal's terms


def test_a_person_who_presses_rebalance_is_credited(day: Engine) -> None:
    hub_id = _first_hub(day)
    _add_urgent(day, hub_id, 3)
    with unit_of_work(day, read_only=True) as session:
        user = session.scalars(select(User).where(User.username == "priya")).one()
        priya = Viewer(username=user.username, role=Role(user.role), user_id=user.id)
    proposal = rebalance(day, priya, RebalanceRequest(hub_id=hub_id, day=TEST_DAY, now=ELEVEN, seconds=1.0))
    assert proposal.proposed_by == "priya" and proposal.proposer_kind == "user"


def test_a_hub_day_too_big_for_one_model_is_searched_in_parts(
    day: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above the size one model can take, a re-plan is searched in parts whoever asks; with too
    little time left for the parts, the repair's plan stands, every placeable order placed."""
    monkeypatch.setattr(dispatch, "METRO_ABOVE_ORDERS", 10)
    hub_id = _first_hub(day)
    _add_urgent(day, hub_id, 10)
    with unit_of_work(day, read_only=True) as session:
        state = read_day(session, RebalanceRequest(hub_id=hub_id, day=TEST_DAY, now=ELEVEN))
    assert len(state.problem.orders) > 10
    searched = replan(state, RebalanceRequest(hub_id=hub_id, day=TEST_DAY, now=ELEVEN, seconds=8.0), "priya")
    assert any("parts of at most" in n for n in searched.effect.solver.notes)
    quick = replan(state, RebalanceRequest(hub_id=hub_id, day=TEST_DAY, now=ELEVEN, seconds=1.0), "priya")
    assert any("too little for a search in parts" in n for n in quick.effect.solver.notes)
    left = [u.order for u in quick.change.unassigned]
    assert quick.effect.after.unassigned < quick.effect.before.unassigned
    _, still = insert_greedily(state.problem, quick.plan, left)
    assert sorted(still) == sorted(left)


def test_a_replan_in_a_child_builds_its_matrices_there_and_answers_the_same_way(day: Engine) -> None:
    """The child's re-plan places what it can of the urgent orders and reports progress here,
    while the caller's problem never holds a duration matrix; the same re-plan in process does."""
    hub_id = _first_hub(day)
    _add_urgent(day, hub_id, 6)
    request = RebalanceRequest(hub_id=hub_id, day=TEST_DAY, now=ELEVEN, seconds=3.0)
    with unit_of_work(day, read_only=True) as session:
        state = read_day(session, request)
    heard: list[ReplanProgress] = []
    done = replan_in_child(state, request, "priya", progress=heard.append)
    assert done.state is state
    assert heard and heard[0].late is not None
    assert "_durations" not in state.problem.__dict__  # the matrices were the child's
    here = replan(state, request, "priya")
    assert "_durations" in state.problem.__dict__
    for replanned in (done, here):  # every urgent order that fits anywhere is placed
        left = [u.order for u in replanned.change.unassigned]
        assert replanned.effect.after.unassigned < replanned.effect.before.unassigned
        _, still = insert_greedily(state.problem, replanned.plan, left)
        assert sorted(still) == sorted(left)


def test_a_replan_in_a_child_reports_how_it_ended(day: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reason for a person comes back in its own words; a child that dies says so."""
    hub_id = _first_hub(day)
    request = RebalanceRequest(hub_id=hub_id, day=TEST_DAY, now=ELEVEN, seconds=1.0)
    with unit_of_work(day, read_only=True) as session:
        state = read_day(session, request)

    def refuses(*_: object) -> None:
        raise ControlTowerError("no driver may work this hub today")

    monkeypatch.setattr("core.agents.replan_child.replan", refuses)
    with pytest.raises(ControlTowerError, match="no driver may work this hub today"):
        replan_in_child(state, request, "priya")

    def dies(*_: object) -> None:
        os._exit(3)

    monkeypatch.setattr("core.agents.replan_child.replan", dies)
    with pytest.raises(ReplanProcessError, match="exit code 3"):
        replan_in_child(state, request, "priya")
