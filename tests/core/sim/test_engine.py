"""A whole simulated day: drivers never teleport, orders are delivered once, time moves forward,
every report belongs to a known driver, and the day stops and resumes from the database."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, func, select

from core.allocator.stop import MaxSolutions
from core.db import make_engine, unit_of_work
from core.geo import haversine_m
from core.kinds import EventKind, OrderStatus, StopStatus
from core.models import Driver, Event, Order, Route, Stop
from core.sim.clock import SimClock, Tick
from core.sim.disruptions import DisruptionParams
from core.sim.engine import SimParams, Simulator
from core.sim.movement import MAX_SPEED_M_PER_S
from tests.conftest import TEST_DAY

BUSY = DisruptionParams(
    not_home_rate=0.15,
    other_failure_rate=0.03,
    late_start_share=0.2,
    breakdowns_per_100_drivers=12,
    incidents_per_hub=2,
    closures_per_hub=1,
    urgent_orders_per_hub_hour=1,
    customer_choice_rate=0.3,
)
PARAMS = SimParams(tick_s=120, disruptions=BUSY)
END_S = 21 * 3600


pytestmark = pytest.mark.slow  # each test lives through a simulated day


def run(
    engine: Engine, params: SimParams = PARAMS, seed: int = 1, end_s: int = END_S, start_s: int | None = None
) -> tuple[Simulator, Counter[str]]:
    sim = Simulator(engine, TEST_DAY, seed=seed, params=params)
    start = sim.first_start_s() if start_s is None else start_s
    return sim, sim.run(SimClock(TEST_DAY, sim.tz, start, end_s, params.tick_s))


@pytest.fixture(scope="module")
def busy_day(
    tiny_day_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, Simulator, Counter[str]]]:
    path = tmp_path_factory.mktemp("busy") / "day.db"
    shutil.copy(tiny_day_file, path)
    engine = make_engine(f"sqlite:///{path}")
    sim, totals = run(engine)
    yield engine, sim, totals
    engine.dispose()


def _events(engine: Engine) -> list[tuple[int, object, float, float, EventKind, int | None]]:
    with unit_of_work(engine, read_only=True) as s:
        return [
            tuple(r)
            for r in s.execute(  # type: ignore[misc]
                select(
                    Event.driver_id, Event.occurred_at, Event.lat, Event.lon, Event.kind, Event.order_id
                ).order_by(Event.driver_id, Event.occurred_at, Event.id)
            )
        ]


Day = tuple[Engine, Simulator, Counter[str]]


def _count(engine: Engine, model: type, *where: object) -> int:
    with unit_of_work(engine, read_only=True) as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]


def test_the_day_is_lived_through_the_field_services(busy_day: Day) -> None:
    engine, _, totals = busy_day
    delivered = _count(engine, Order, Order.status == OrderStatus.DELIVERED)
    done_stops = _count(engine, Stop, Stop.status == StopStatus.DELIVERED)
    assert totals["delivered"] == delivered == done_stops > 50
    assert totals["failed"] > 0 and totals["pings"] > 100 and totals["rejected"] == 0
    assert totals["messages_sent"] > 0 and totals["customer_choices"] > 0
    assert totals["door_not_home"] == 0  # not-home doors end in a recorded action, never "not_home"
    assert sum(v for k, v in totals.items() if k.startswith("door_") and k != "door_delivered") > 0


def test_a_driver_never_teleports(busy_day: Day) -> None:
    rows = _events(busy_day[0])
    worst = 0.0
    for a, b in zip(rows, rows[1:], strict=False):
        if a[0] != b[0]:
            continue
        gap_m = float(haversine_m(a[2], a[3], b[2], b[3]))
        allowed_m = MAX_SPEED_M_PER_S * (b[1] - a[1]).total_seconds() + 1.0  # type: ignore[operator]
        worst = max(worst, gap_m - allowed_m)
    assert worst <= 0.0


def test_an_order_is_delivered_at_most_once(busy_day: Day) -> None:
    with unit_of_work(busy_day[0], read_only=True) as s:
        per_order = Counter(s.scalars(select(Event.order_id).where(Event.kind == EventKind.DELIVERED)))
    closed_twice = _count(busy_day[0], Order, Order.attempts > 1)
    assert per_order and max(per_order.values()) == 1 and closed_twice == 0


def test_time_only_moves_forward(busy_day: Day) -> None:
    engine, sim, _ = busy_day
    with unit_of_work(engine, read_only=True) as s:
        stops = s.execute(
            select(Stop.arrived_at, Stop.completed_at).where(Stop.completed_at.is_not(None))
        ).all()
        routes = s.execute(
            select(Route.started_at, Route.finished_at).where(Route.finished_at.is_not(None))
        ).all()
        last = s.scalar(select(func.max(Event.occurred_at)))
    assert stops and all(a <= c for a, c in stops)
    assert routes and all(a < f for a, f in routes)
    assert last <= sim._at(END_S)
    earlier = Tick(0, 8 * 3600, 8 * 3600 + 120, sim._at(8 * 3600), sim._at(8 * 3600 + 120))
    with unit_of_work(engine) as s, pytest.raises(ValueError, match="only moves forward"):
        sim.step(s, earlier)


def test_every_event_belongs_to_a_known_driver_with_a_route(busy_day: Day) -> None:
    with unit_of_work(busy_day[0], read_only=True) as s:
        reporters = set(s.scalars(select(Event.driver_id).distinct()))
        known = set(s.scalars(select(Driver.id)))
        routed = set(s.scalars(select(Route.driver_id)))
    assert reporters and reporters <= known and reporters <= routed


def test_the_same_seed_replays_the_same_day(tiny_day_file: Path, tmp_path: Path) -> None:
    outcomes = []
    for name in ("a", "b"):
        shutil.copy(tiny_day_file, tmp_path / f"{name}.db")
        engine = make_engine(f"sqlite:///{tmp_path / name}.db")
        exact = MaxSolutions(20, max_runtime_s=10.0, stall_s=2.0)  # a count, not a clock
        params = SimParams(tick_s=120, disruptions=BUSY, customer_every_s=0, reroute_stop=exact)
        _, totals = run(engine, params, seed=4, end_s=11 * 3600)
        outcomes.append(totals)
        engine.dispose()
    assert outcomes[0] == outcomes[1]


def test_a_stopped_day_resumes_from_the_database(day_engine: Engine) -> None:
    params = SimParams(tick_s=120, disruptions=DisruptionParams.none(), customer_every_s=0)
    _, first = run(day_engine, params, end_s=10 * 3600)
    sim, second = run(day_engine, params, start_s=10 * 3600, end_s=END_S)
    open_left = _count(day_engine, Stop, Stop.status == StopStatus.PENDING)
    twice = _count(day_engine, Order, Order.attempts > 1)
    assert first["delivered"] > 0 and second["delivered"] > 0 and twice == 0
    assert open_left == 0 and np.all(sim.fleet.phase != 2)  # everyone served and off the road
