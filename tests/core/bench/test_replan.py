"""The re-plan benchmark's disrupted states are built the way the real events leave the day."""

from __future__ import annotations

from datetime import UTC

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.bench.live_map import BENCH_TZ, day_under_way
from core.bench.rebalance import NOW_S
from core.bench.replan import day_state, measure, stranded
from core.bench.replan_states import ZoneTraffic, breakdown
from core.cli import main
from core.models import Driver, Hub, Order, Plan, Route, RouteStatus, Stop, StopStatus
from core.timeutil import at_seconds
from tests.conftest import TEST_DAY


def _busiest_hub(session: Session) -> Hub:
    """The hub with the most routes on the road (so two vans with stops loaded exist)."""
    counts: dict[int, int] = {}
    for (hub_id,) in session.execute(
        select(Plan.hub_id)
        .join(Route, Route.plan_id == Plan.id)
        .where(Plan.service_date == TEST_DAY, Route.status == RouteStatus.IN_PROGRESS)
    ):
        counts[hub_id] = counts.get(hub_id, 0) + 1
    hub = session.get(Hub, max(counts, key=lambda h: counts[h]))
    assert hub is not None
    return hub


def test_a_breakdown_leaves_the_vans_loaded_stops_locked_to_a_blocked_driver(seeded_db: Session) -> None:
    now = at_seconds(TEST_DAY, BENCH_TZ, NOW_S).astimezone(UTC)
    day_under_way(seeded_db, TEST_DAY, now, BENCH_TZ, seed=0)
    hub = _busiest_hub(seeded_db)
    done = breakdown(seeded_db, hub, now, seed=0)
    assert len(done.drivers) == 2
    state = day_state(seeded_db, hub.id, now, None)
    specs = {d.id: d for d in state.problem.drivers}
    locked = {o.id: o.locked_driver_id for o in state.problem.orders}
    stranded_here = 0
    for code in done.drivers:
        assert specs[code].blocked  # the day state sees the van as out of action
        loaded = seeded_db.scalars(
            select(Order.external_ref)
            .join(Stop, Stop.order_id == Order.id)
            .join(Route, Route.id == Stop.route_id)
            .join(Driver, Driver.id == Route.driver_id)
            .where(Driver.code == code, Stop.status == StopStatus.PENDING, Stop.loaded.is_(True))
        ).all()
        assert loaded and all(locked[ref] == code for ref in loaded)
        stranded_here += len(loaded)
    # the live plan still lists the stranded stops on the broken vans; measured, they are unserved
    _, unassigned, _ = measure(state, dict(state.live))
    assert stranded(state) >= stranded_here
    placed = {ref for refs in state.live.values() for ref in refs}
    assert unassigned >= stranded_here + sum(1 for o in state.problem.orders if o.id not in placed)


def test_zone_traffic_slows_legs_touching_the_zone_only_in_its_hours() -> None:
    points = np.array([[40.70, -73.95], [40.71, -73.95], [40.80, -73.95]])  # in, in, far outside
    zone = ZoneTraffic(40.70, -73.95, radius_m=2_000, start_s=11 * 3600, end_s=13 * 3600)
    _, normal = zone.base.matrices(points, 11 * 3600)
    _, slow = zone.matrices(points, 11 * 3600)
    _, later = zone.matrices(points, 13 * 3600)
    assert slow[0, 1] == np.ceil(normal[0, 1] / 0.6) and slow[2, 0] == np.ceil(normal[2, 0] / 0.6)
    assert (later == zone.base.matrices(points, 13 * 3600)[1]).all()  # after the jam: as normal


def test_bench_replan_is_a_ctower_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["bench", "replan", "--help"])
    text = capsys.readouterr().out
    assert "--reference-seconds" in text and "--states" in text and "--budget" in text
