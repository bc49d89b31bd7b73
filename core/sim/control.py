"""The simulator's clock as the app sees it: published every tick, paused from the app.

The simulator writes its simulated time into the one-row `sim_state` table after every tick
(`publish`). While the app has set `paused`, the simulator holds its clock (`ClockHold`): it
sleeps, re-reads the flag and keeps `updated_at` fresh, then carries on from the same instant.
The app's "now" (`app_now`) is the simulated time while the simulator's last word is recent,
running or paused, and the wall clock otherwise: a simulator that stopped or crashed hands the
app back to real time within `FRESH_S` wall seconds, and its pause does not hold the next one.
A simulator that ran its day to the end (`DAY_END_S`) is the exception: the app stays on that
day's last instant, saying so, until a person starts another run (or seeds a new day).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.db import unit_of_work
from core.errors import ControlTowerError
from core.models import SimState
from core.timeutil import seconds_since_midnight

STATE_ID = 1  # the table holds one row: one simulator drives one database
FRESH_S = 30  # a simulator silent for longer than this has stopped
POLL_S = 1.0  # how often a paused simulator re-reads the flag (wall seconds)
DAY_END_S = 22 * 3600  # the simulator's end of day (hub time); a run that got there finished the day


@dataclass(frozen=True)
class SimStateView:
    day: date
    sim_now: datetime
    speed: float | None  # times real time; None: as fast as the work allows
    paused: bool
    updated_at: datetime  # wall clock of the simulator's last word

    def live(self, wall_now: datetime) -> bool:
        """A simulator is running or paused (it spoke within `FRESH_S` wall seconds)."""
        return wall_now - self.updated_at <= timedelta(seconds=FRESH_S)

    def finished(self, tz: str) -> bool:
        """The simulator ran its day to the end (`tz`: the hubs' time zone)."""
        return seconds_since_midnight(self.sim_now, self.day, tz) >= DAY_END_S

    def clock(self, wall_now: datetime, tz: str | None = None) -> datetime:
        """The app's now: the simulated time while the simulator is live, or (given the hubs'
        `tz`) once it has finished its day; else `wall_now`."""
        held = tz is not None and self.finished(tz)
        return self.sim_now if held or self.live(wall_now) else wall_now


def _wall_now() -> datetime:
    return datetime.now(UTC)


def current(session: Session) -> SimStateView | None:
    """The last published state, or None if no simulator ever ran on this database."""
    row = session.get(SimState, STATE_ID)
    if row is None:
        return None
    return SimStateView(row.service_day, row.sim_now_at, row.speed, row.paused, row.updated_at)


def publish(session: Session, day: date, sim_now: datetime, speed: float | None, wall_now: datetime) -> bool:
    """The simulator's time after a tick; returns whether the app has paused it.

    A pause left behind by a simulator that is no longer live is dropped: a new run starts moving.
    """
    row = session.get(SimState, STATE_ID)
    if row is None:
        row = SimState(id=STATE_ID, paused=False)
        session.add(row)
    elif wall_now - row.updated_at > timedelta(seconds=FRESH_S):
        row.paused = False
    row.service_day, row.sim_now_at, row.speed, row.updated_at = day, sim_now, speed, wall_now
    session.flush()
    return row.paused


def set_paused(session: Session, paused: bool) -> None:
    """Ask the running simulator to hold (or release) its clock; it obeys at its next tick."""
    row = session.get(SimState, STATE_ID)
    if row is None:
        raise ControlTowerError("no simulator is running: start one with `ctower simulate`")
    row.paused = paused
    session.flush()


def app_now(session: Session, wall_now: datetime, tz: str | None = None) -> datetime:
    """The app's one clock: the simulated time while a simulator runs or is paused, or (given
    the hubs' `tz`) after it finished its day; else the wall."""
    state = current(session)
    return state.clock(wall_now, tz) if state is not None else wall_now


class ClockHold:
    """`SimClock`'s hold: publishes each tick's time and blocks while the app has paused it.

    The wall clock and sleep are injectable so tests never wait.
    """

    def __init__(
        self,
        engine: Engine,
        day: date,
        speed: float | None,
        wall: Callable[[], datetime] = _wall_now,
        sleep: Callable[[float], None] = time.sleep,
        poll_s: float = POLL_S,
    ) -> None:
        self.engine, self.day, self.speed = engine, day, speed
        self.wall, self.sleep, self.poll_s = wall, sleep, poll_s

    def _publish(self, sim_now: datetime) -> bool:
        with unit_of_work(self.engine) as session:
            return publish(session, self.day, sim_now, self.speed, self.wall())

    def __call__(self, sim_now: datetime) -> float:
        """Publish `sim_now`, then hold while paused; returns the wall seconds held."""
        held = 0.0
        paused = self._publish(sim_now)
        while paused:
            self.sleep(self.poll_s)
            held += self.poll_s
            paused = self._publish(sim_now)  # also tells the app the paused simulator is alive
        return held


__all__ = ["DAY_END_S", "FRESH_S", "ClockHold", "SimStateView", "app_now", "current", "publish", "set_paused"]
