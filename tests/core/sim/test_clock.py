"""The simulated clock: ticks only move forward, paced against an injectable wall clock."""

from __future__ import annotations

import pytest

from core.sim.clock import SimClock
from tests.conftest import TEST_DAY


class FakeWall:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def wall(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_ticks_cover_the_day_once_and_only_move_forward() -> None:
    clock = SimClock(TEST_DAY, "America/New_York", 8 * 3600, 8 * 3600 + 150, tick_s=60)
    ticks = list(clock.ticks())
    assert [(t.start_s, t.end_s) for t in ticks] == [(28800, 28860), (28860, 28920), (28920, 28950)]
    pairs = zip(ticks, ticks[1:], strict=False)
    assert all(a.end_at == b.start_at and a.start_at < a.end_at for a, b in pairs)
    assert ticks[0].start_at.utcoffset() is not None  # aware UTC instants


def test_speed_paces_ticks_against_the_wall_clock() -> None:
    fake = FakeWall()
    clock = SimClock(
        TEST_DAY, "America/New_York", 0, 600, tick_s=60, speed=60.0, wall=fake.wall, sleep=fake.sleep
    )
    for _ in clock.ticks():
        fake.now += 0.25  # each tick's work takes a quarter of a wall second
    assert fake.slept == pytest.approx([0.75] * 10)  # 60x: one wall second per simulated minute


def test_as_fast_as_possible_never_sleeps() -> None:
    fake = FakeWall()
    clock = SimClock(TEST_DAY, "America/New_York", 0, 3600, speed=None, wall=fake.wall, sleep=fake.sleep)
    assert len(list(clock.ticks())) == 60 and fake.slept == []


def test_a_clock_refuses_a_day_that_ends_before_it_starts() -> None:
    with pytest.raises(ValueError, match="end after it starts"):
        SimClock(TEST_DAY, "America/New_York", 3600, 3600)
    with pytest.raises(ValueError, match="speed"):
        SimClock(TEST_DAY, "America/New_York", 0, 60, speed=0)
