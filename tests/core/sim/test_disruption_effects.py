"""Each kind of disruption, placed by hand, does what it should to the simulated day."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, select

from core.access import SYSTEM
from core.agents.appliers import APPLIERS
from core.agents.dispatch import RebalanceRequest, propose_rebalance
from core.allocator.stop import MaxSolutions
from core.db import make_engine, unit_of_work
from core.kinds import EventKind, OrderStatus
from core.models import Event, Order, Proposal, Route, Stop
from core.proposals import approve
from core.sim.clock import SimClock
from core.sim.disruptions import Area, Breakdown, DisruptionParams, DisruptionPlan, UrgentOrder
from core.sim.engine import SimParams, Simulator
from core.sim.movement import Phase
from tests.conftest import TEST_DAY

CALM = DisruptionPlan((), (), (), {}, ())
EXACT = MaxSolutions(20, max_runtime_s=10.0, stall_s=2.0)


pytestmark = pytest.mark.slow  # each test lives through a simulated day


def _sim(
    engine: Engine, plan: DisruptionPlan = CALM, doors: DisruptionParams | None = None, copilot: bool = True
) -> Simulator:
    params = SimParams(
        tick_s=60,
        disruptions=doors or DisruptionParams.none(),
        customer_every_s=0,
        copilot=copilot,
        reroute_stop=EXACT,
    )
    return Simulator(engine, TEST_DAY, seed=1, params=params, disruptions=plan)


def _run(sim: Simulator, start_s: int, end_s: int) -> None:
    sim.run(SimClock(TEST_DAY, sim.tz, start_s, end_s, sim.params.tick_s))


@dataclass(frozen=True)
class Reported:
    driver_id: int
    order_id: int | None
    payload: dict[str, Any]


def _exceptions(engine: Engine, reason: str) -> list[Reported]:
    with unit_of_work(engine, read_only=True) as s:
        rows = s.execute(
            select(Event.driver_id, Event.order_id, Event.payload)
            .where(Event.kind == EventKind.EXCEPTION)
            .order_by(Event.id)
        ).all()
    return [Reported(*r) for r in rows if r[2].get("reason") == reason]


def _until_driving(sim: Simulator, start_s: int, min_left_m: float = 800.0) -> tuple[int, int]:
    """Step minute by minute until some driver is on a long leg to a stop: (index, time)."""
    t = start_s
    while True:
        _run(sim, t, t + 60)
        t += 60
        f = sim.fleet
        on_leg = np.flatnonzero((f.phase == Phase.DRIVING) & (f.left_m > min_left_m))
        for i in on_leg:
            if sim.queue[int(i)]:
                return int(i), t


def test_not_home_with_the_copilot_takes_an_allowed_action(day_engine: Engine) -> None:
    sim = _sim(day_engine, doors=DisruptionParams(not_home_rate=1.0, neighbour_home_rate=1.0))
    start = sim.first_start_s()
    _run(sim, start, start + 4 * 3600)
    records = _exceptions(day_engine, "not_home")
    assert records
    with unit_of_work(day_engine, read_only=True) as s:
        for e in records:
            order = s.get(Order, e.order_id)
            assert order is not None
            allowed = {
                "safe_place": order.safe_place_allowed,
                "neighbour": order.neighbour_allowed,
                "locker": order.locker_allowed,
                "reschedule": True,
                "return_to_depot": False,
            }
            assert allowed[e.payload["action"]], (order.external_ref, e.payload)
            assert (order.status is OrderStatus.DELIVERED) == (
                e.payload["action"] in ("safe_place", "neighbour", "locker")
            )


def test_not_home_without_the_copilot_is_a_failed_delivery(day_engine: Engine) -> None:
    sim = _sim(day_engine, doors=DisruptionParams(not_home_rate=1.0), copilot=False)
    start = sim.first_start_s()
    _run(sim, start, start + 4 * 3600)
    records = _exceptions(day_engine, "not_home")
    assert records and {e.payload["action"] for e in records} == {"return_to_depot"}
    with unit_of_work(day_engine, read_only=True) as s:
        states = set(s.scalars(select(Order.status).where(Order.id.in_([e.order_id for e in records]))))
    assert states == {OrderStatus.FAILED}


def test_a_traffic_incident_slows_everyone_inside_it(
    day_engine: Engine, tiny_day_file: Path, tmp_path: Path
) -> None:
    shutil.copy(tiny_day_file, tmp_path / "jam.db")
    jammed_engine = make_engine(f"sqlite:///{tmp_path / 'jam.db'}")
    jam = Area(1, 1, 40.75, -73.95, 60_000, 6 * 3600, 12 * 3600, 0.2)  # the whole metro, all morning
    free, jammed = _sim(day_engine), _sim(jammed_engine, DisruptionPlan((jam,), (), (), {}, ()))
    start = free.first_start_s()
    for sim in (free, jammed):
        _run(sim, start, 10 * 3600)
    # Waiting for windows and serving take as long as before, so distance falls by less than speed.
    assert jammed.fleet.travelled_m.sum() < 0.8 * free.fleet.travelled_m.sum()
    jammed_engine.dispose()


def _close_road_ahead(engine: Engine, copilot: bool) -> tuple[Simulator, int, float, float]:
    """Close the area around a driver's next stop; returns (sim, driver index, leg left before, after)."""
    sim = _sim(engine, copilot=copilot)
    i, t = _until_driving(sim, sim.first_start_s())
    f, driver = sim.fleet, int(sim.fleet.driver_ids[i])
    target = (float(f.to_lat[i]), float(f.to_lon[i]))
    closure = Area(1, sim.drivers[driver].hub_id, *target, 300, t, t + 7200, 2.0)
    sim.disruptions = DisruptionPlan((), (closure,), (), {}, ())
    left = float(f.left_m[i])
    _run(sim, t, t + 60)
    return sim, i, left, float(f.road_m[i])


def test_a_road_closure_ahead_detours_the_driver(day_engine: Engine) -> None:
    sim, i, left, road = _close_road_ahead(day_engine, copilot=False)
    assert road >= 2.0 * left - 1  # the rest of the leg doubled, from where the driver was
    driver = int(sim.fleet.driver_ids[i])
    [reported] = [e for e in _exceptions(day_engine, "road_closed") if e.driver_id == driver]
    assert reported.payload["detail"] == {"closure": 1} and reported.payload["needs_dispatch"] is False


def test_on_a_road_closure_the_copilot_reroutes_or_asks_dispatch(day_engine: Engine) -> None:
    sim, i, _, _ = _close_road_ahead(day_engine, copilot=True)
    driver = int(sim.fleet.driver_ids[i])
    [reported] = [e for e in _exceptions(day_engine, "road_closed") if e.driver_id == driver]
    with unit_of_work(day_engine, read_only=True) as s:
        reroutes = s.scalars(select(Proposal.id).where(Proposal.kind == "reroute")).all()
    if reported.payload["needs_dispatch"]:
        return  # left for a dispatcher, with the reason
    # handled by the co-pilot: the report is closed with what it did
    assert reported.payload["resolved"] is True
    resolution = reported.payload["resolution"]
    assert resolution.startswith("co-pilot re-sequenced" if reroutes else "co-pilot kept the sequence of")


def test_a_breakdown_stops_the_van_until_it_is_repaired(day_engine: Engine) -> None:
    sim = _sim(day_engine)
    i, t = _until_driving(sim, sim.first_start_s())
    driver = int(sim.fleet.driver_ids[i])
    sim.pending_breakdowns = [Breakdown(driver, t, 1800)]
    _run(sim, t, t + 60)
    stuck_at = (sim.fleet.lat[i], sim.fleet.lon[i])
    assert sim.fleet.phase[i] == Phase.BROKEN
    _run(sim, t + 60, t + 1800)
    assert (sim.fleet.lat[i], sim.fleet.lon[i]) == stuck_at
    [breakdown] = [e for e in _exceptions(day_engine, "vehicle_breakdown") if e.driver_id == driver]
    assert breakdown.payload["needs_dispatch"] is True and not breakdown.payload["resolved"]
    _run(sim, t + 1800, t + 1920)
    assert sim.fleet.phase[i] != Phase.BROKEN
    [repaired] = [e for e in _exceptions(day_engine, "vehicle_breakdown") if e.driver_id == driver]
    assert repaired.payload["resolved"] is True and repaired.payload["resolution"] == "repaired"


def test_a_late_starter_leaves_late_and_says_so(day_engine: Engine) -> None:
    probe = _sim(day_engine)
    first = int(np.argmin(np.where(probe.fleet.phase == Phase.IDLE, probe.fleet.until_s, np.inf)))
    driver, planned = int(probe.fleet.driver_ids[first]), float(probe.fleet.until_s[first])
    sim = _sim(day_engine, DisruptionPlan((), (), (), {driver: 2400}, ()))
    _run(sim, int(planned) - 60, int(planned) + 2 * 3600)
    hub = sim.hubs[sim.drivers[driver].hub_id]
    with unit_of_work(day_engine, read_only=True) as s:
        started = s.scalar(select(Route.started_at).where(Route.driver_id == driver))
    assert started == sim._at(planned + 2400 + hub.turnaround_s)
    [late] = [e for e in _exceptions(day_engine, "running_late") if e.driver_id == driver]
    assert late.payload["delay_s"] == 2400 and late.payload["detail"] == {"cause": "late start"}


def test_an_urgent_order_arrives_unassigned_and_is_served_once_planned(day_engine: Engine) -> None:
    with unit_of_work(day_engine, read_only=True) as s:
        lat, lon, zone = s.execute(select(Order.lat, Order.lon, Order.zone).where(Order.hub_id == 1)).first()
    urgent = UrgentOrder(1, 10 * 3600, lat, lon, zone, 10 * 3600 + 1800, 12 * 3600 + 1800, 1, 1500, 180)
    sim = _sim(day_engine, DisruptionPlan((), (), (), {}, (urgent,)))
    _run(sim, sim.first_start_s(), 10 * 3600 + 60)
    with unit_of_work(day_engine, read_only=True) as s:
        order_id, status, hub_id, window_start = s.execute(
            select(Order.id, Order.status, Order.hub_id, Order.window_start_at).where(
                Order.external_ref.like("URG-%")
            )
        ).one()
    assert status is OrderStatus.UNASSIGNED and hub_id == 1
    assert window_start == sim._at(10 * 3600 + 1800)
    with unit_of_work(day_engine) as s:  # a dispatcher places it: the simulator follows the new plan
        request = RebalanceRequest(hub_id=1, day=TEST_DAY, now=sim._at(10 * 3600 + 60), seconds=2.0)
        proposal = propose_rebalance(s, SYSTEM, request)
    with unit_of_work(day_engine) as s:
        approve(s, SYSTEM, proposal.id, APPLIERS, now=sim._at(10 * 3600 + 60))
    _run(sim, 10 * 3600 + 60, 21 * 3600)
    with unit_of_work(day_engine, read_only=True) as s:
        assert s.get(Order, order_id).status in (OrderStatus.DELIVERED, OrderStatus.FAILED)  # type: ignore[union-attr]


def test_a_driver_waits_where_they_are_for_a_stop_that_opens_later(day_engine: Engine) -> None:
    """A first stop that opens three hours after the route starts: the driver loads, waits at
    the hub (free to take any stop a new plan puts first), and leaves in time to be there when
    it opens, rather than driving over at once and standing at the door for hours."""
    with unit_of_work(day_engine) as s:
        route = s.scalars(select(Route).order_by(Route.planned_start_at)).first()
        assert route is not None
        first = s.scalars(select(Stop).where(Stop.route_id == route.id).order_by(Stop.sequence)).first()
        assert first is not None
        order = s.get(Order, first.order_id)
        assert order is not None
        opens = route.planned_start_at + timedelta(hours=3)
        order.window_start_at, order.window_end_at = opens, opens + timedelta(hours=2)
        driver_id, order_id = route.driver_id, order.id
    sim = _sim(day_engine)
    i = sim.index[driver_id]
    start = sim.first_start_s()
    opens_s = sim.planned_start_s[i] + 3 * 3600
    _run(sim, start, int(sim.planned_start_s[i]) + 3600)
    assert sim.fleet.phase[i] == Phase.WAITING  # loaded, parked, not on the way
    _run(sim, int(sim.planned_start_s[i]) + 3600, int(opens_s) + 1800)
    arrived = [e for e in _events_of(day_engine, driver_id) if e[1] == EventKind.ARRIVED and e[2] == order_id]
    assert len(arrived) == 1
    at_s = (arrived[0][0] - sim._at(0)).total_seconds()
    assert opens_s - 3600 <= at_s <= opens_s  # there by the opening, not hours before it


def _events_of(engine: Engine, driver_id: int) -> list[tuple[Any, EventKind, int | None]]:
    with unit_of_work(engine, read_only=True) as s:
        return [
            (at, kind, order_id)
            for at, kind, order_id in s.execute(
                select(Event.occurred_at, Event.kind, Event.order_id)
                .where(Event.driver_id == driver_id)
                .order_by(Event.occurred_at)
            )
        ]
