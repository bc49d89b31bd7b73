"""The simulator's clock as the app sees it: published every tick, followed while fresh, paused
from another session, and handed back to the wall clock when the simulator stops."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.cli import main
from core.cli_sim import simulate_day
from core.db import unit_of_work
from core.errors import ControlTowerError
from core.sim.control import DAY_END_S, FRESH_S, ClockHold, app_now, current, publish, set_paused
from core.sim.disruptions import DisruptionParams
from core.sim.engine import SimParams
from core.timeutil import at_seconds
from tests.conftest import TEST_DAY

TZ = "America/New_York"
WALL = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
SIM_NOW = at_seconds(TEST_DAY, TZ, 10 * 3600)


def test_without_a_simulator_the_app_runs_on_the_wall_clock(db: Session) -> None:
    assert current(db) is None and app_now(db, WALL) == WALL
    with pytest.raises(ControlTowerError, match="no simulator is running"):
        set_paused(db, True)


def test_the_app_follows_a_fresh_simulator_and_falls_back_when_it_goes_quiet(db: Session) -> None:
    assert publish(db, TEST_DAY, SIM_NOW, 60.0, WALL) is False
    assert app_now(db, WALL + timedelta(seconds=FRESH_S)) == SIM_NOW
    stale = WALL + timedelta(seconds=FRESH_S + 1)
    assert app_now(db, stale) == stale  # the simulator stopped (or crashed): real time again
    state = current(db)
    assert state is not None and state.speed == 60.0 and state.day == TEST_DAY and not state.paused


def test_a_finished_day_holds_the_app_on_its_last_instant_until_another_run(db: Session) -> None:
    day_end = at_seconds(TEST_DAY, TZ, DAY_END_S)
    publish(db, TEST_DAY, day_end, 60.0, WALL)
    much_later = WALL + timedelta(hours=3)
    assert app_now(db, much_later, TZ) == day_end  # the simulated day ended: the app stays on it
    assert app_now(db, much_later) == much_later  # without the hubs' zone the rule cannot apply
    publish(db, TEST_DAY, SIM_NOW, 60.0, much_later)  # a person started another run
    assert app_now(db, much_later, TZ) == SIM_NOW


def test_a_simulator_stopped_mid_day_hands_back_the_wall_clock(db: Session) -> None:
    publish(db, TEST_DAY, SIM_NOW, 60.0, WALL)
    stale = WALL + timedelta(seconds=FRESH_S + 1)
    assert app_now(db, stale, TZ) == stale


def test_a_pause_holds_while_the_simulator_lives_and_is_dropped_by_the_next_run(db: Session) -> None:
    publish(db, TEST_DAY, SIM_NOW, 60.0, WALL)
    set_paused(db, True)
    assert publish(db, TEST_DAY, SIM_NOW, 60.0, WALL + timedelta(seconds=5)) is True  # still paused
    later = WALL + timedelta(seconds=5 + FRESH_S + 60)
    assert publish(db, TEST_DAY, SIM_NOW + timedelta(hours=1), 60.0, later) is False  # a new run moves


def _published(engine: Engine) -> datetime:
    with unit_of_work(engine, read_only=True) as session:
        state = current(session)
    assert state is not None
    return state.sim_now


def test_pause_stops_the_simulated_clock_and_resume_carries_on_where_it_was(day_engine: Engine) -> None:
    start, ticks = 8 * 3600, 4
    with unit_of_work(day_engine) as session:  # the app paused a live simulator
        publish(session, TEST_DAY, at_seconds(TEST_DAY, TZ, start), None, datetime.now(UTC))
        set_paused(session, True)
    seen: list[datetime] = []

    def sleep(seconds: float) -> None:  # the paused simulator's wait; the third one, the app resumes
        seen.append(_published(day_engine))
        if len(seen) == 3:
            with unit_of_work(day_engine) as session:
                set_paused(session, False)

    hold = ClockHold(day_engine, TEST_DAY, None, sleep=sleep, poll_s=0.5)
    params = SimParams(disruptions=DisruptionParams.none(), customer_every_s=0)
    simulate_day(day_engine, TEST_DAY, 0, params, start, start + ticks * 60, None, [].append, hold=hold)
    first_tick_end = at_seconds(TEST_DAY, TZ, start + 60)
    assert seen == [first_tick_end] * 3  # held at the end of the first tick, not a second further
    assert _published(day_engine) == at_seconds(TEST_DAY, TZ, start + ticks * 60)


@pytest.mark.slow
def test_simulate_latest_day_runs_the_seeded_day_and_exits_cleanly_without_one(
    cli_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", "--latest-day", "--fast"]) == 0
    assert "no orders to simulate" in capsys.readouterr().out
    assert main(["seed", "--orders", "40", "--drivers", "8", "--days", "0", "--date", "2026-11-27"]) == 0
    assert main(["simulate", "--latest-day", "--plan", "baseline", "--fast", "--until", "09:00"]) == 0
    assert "simulating 2026-11-27" in capsys.readouterr().out
    assert main(["simulate", "--latest-day", "--fast", "--until", "09:00"]) == 0  # the day is done so far
    assert "nothing to simulate" in capsys.readouterr().out
