"""Vectorised movement: legs never overshoot, traffic slows, pings come on schedule."""

from __future__ import annotations

import numpy as np

from core.geo import haversine_m
from core.sim.disruptions import Area
from core.sim.movement import CIRCUITY, MAX_SPEED_M_PER_S, Fleet, Phase


def _fleet() -> Fleet:
    fleet = Fleet.at([1, 2], [40.70, 40.70], [-73.95, -73.95], ["van", "cargo_bike"])
    for i in range(2):
        fleet.start_leg(i, 40.71, -73.95)
    return fleet


def test_a_leg_is_the_straight_line_times_circuity_and_driving_never_overshoots() -> None:
    fleet = _fleet()
    straight = float(haversine_m(40.70, -73.95, 40.71, -73.95))
    assert fleet.road_m[0] == np.float64(straight * CIRCUITY)
    fleet.drive(np.array([0, 1]), np.array([500.0, 1e9]))
    assert fleet.left_m[0] == fleet.road_m[0] - 500 and fleet.left_m[1] == 0
    assert (fleet.lat[1], fleet.lon[1]) == (40.71, -73.95)
    moved = float(haversine_m(40.70, -73.95, fleet.lat[0], fleet.lon[0]))
    assert abs(moved - 500 / CIRCUITY) < 1.0  # straight-line progress = road metres / circuity


def test_speeds_follow_the_hour_the_vehicle_and_traffic_incidents() -> None:
    fleet = _fleet()
    noon, rush = fleet.speeds(12 * 3600, ()), fleet.speeds(17 * 3600, ())
    assert rush[0] < noon[0] and noon[1] < noon[0] and noon.max() <= MAX_SPEED_M_PER_S
    jam = Area(1, 1, 40.70, -73.95, 500, 12 * 3600, 13 * 3600, 0.35)
    slowed = fleet.speeds(12 * 3600, (jam,))
    assert np.allclose(slowed, noon * 0.35)
    assert np.allclose(fleet.speeds(14 * 3600, (jam,)), fleet.speeds(14 * 3600, ()))  # over


def test_a_detour_lengthens_what_is_left_of_the_leg_without_moving_the_driver() -> None:
    fleet = _fleet()
    fleet.drive(np.array([0]), np.array([300.0]))
    where, left = (fleet.lat[0], fleet.lon[0]), fleet.left_m[0]
    fleet.detour(0, 1.8)
    assert fleet.left_m[0] == left * 1.8
    assert abs(fleet.lat[0] - where[0]) < 1e-9 and abs(fleet.lon[0] - where[1]) < 1e-9


def test_on_duty_drivers_ping_every_interval() -> None:
    fleet = _fleet()
    fleet.phase[:] = [Phase.DRIVING, Phase.DONE]
    fleet.next_ping_s[:] = [100.0, 100.0]
    assert list(fleet.due_pings(120, 300)) == [0]
    assert fleet.next_ping_s[0] == 400 and list(fleet.due_pings(360, 300)) == []
    assert list(fleet.due_pings(400, 300)) == [0]
