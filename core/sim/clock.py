"""Simulated time for one service day, in ticks, paced against the wall clock or not at all.

Time only moves forward: each tick starts where the last one ended. At `speed` 60 a 60-second
tick takes one wall second; `speed=None` runs as fast as the work allows. After each tick a
`hold` (if given) may publish the time and block while the simulation is paused; the time it
held does not count against the pace, so the clock resumes where it was. The wall clock and
sleep are injectable so tests never wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

from core.timeutil import at_seconds


@dataclass(frozen=True)
class Tick:
    """One step of simulated time, [start_s, end_s) in seconds since the hubs' local midnight."""

    index: int
    start_s: int
    end_s: int
    start_at: datetime
    end_at: datetime

    @property
    def seconds(self) -> int:
        return self.end_s - self.start_s


@dataclass
class SimClock:
    day: date
    tz: str
    start_s: int
    end_s: int
    tick_s: int = 60
    speed: float | None = None
    wall: Callable[[], float] = field(default=time.monotonic, repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    hold: Callable[[datetime], float] | None = field(default=None, repr=False)  # returns wall s held

    def __post_init__(self) -> None:
        if self.tick_s <= 0:
            raise ValueError("tick_s must be > 0")
        if self.end_s <= self.start_s:
            raise ValueError("the simulated day must end after it starts")
        if self.speed is not None and self.speed <= 0:
            raise ValueError("speed must be > 0 (or None for as fast as possible)")

    def at(self, seconds: float) -> datetime:
        return at_seconds(self.day, self.tz, seconds)

    def ticks(self) -> Iterator[Tick]:
        """Ticks until `end_s`; with a speed, each is held back until its wall time is due."""
        wall0 = self.wall()
        t, index = self.start_s, 0
        while t < self.end_s:
            end = min(t + self.tick_s, self.end_s)
            tick = Tick(index, t, end, self.at(t), self.at(end))
            yield tick
            if self.speed is not None:
                due = wall0 + (end - self.start_s) / self.speed
                wait = due - self.wall()
                if wait > 0:
                    self.sleep(wait)
            if self.hold is not None:
                wall0 += self.hold(tick.end_at)
            t, index = end, index + 1
