"""Where every simulated driver is, as numpy arrays: one row per driver, advanced per tick.

A driver on a leg moves in a straight line from where the leg began towards its target; the
leg is `road_m` long (straight line x circuity, x a detour when a closure is in the way), so
the reported position never runs ahead of a plausible road speed. Speed is the allocator's
travel model (time-of-day factor x vehicle kind) times any traffic incident the driver is in.
Most drivers in most ticks are mid-leg: that case is one vectorised update; the few that
arrive, finish a service or start a shift in the tick are stepped one by one by the engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from core.allocator.travel import DEFAULT_HOURLY_FACTOR, DEFAULT_KIND_FACTOR, URBAN_TRAVEL
from core.geo import haversine_m
from core.sim.disruptions import Area

F64 = npt.NDArray[np.float64]
CIRCUITY = URBAN_TRAVEL.circuity
MAX_SPEED_M_PER_S = (
    URBAN_TRAVEL.speed_kmh / 3.6 * max(DEFAULT_HOURLY_FACTOR) * max(DEFAULT_KIND_FACTOR.values())
)


class Phase(IntEnum):
    IDLE = 0  # no route (yet), or waiting for the shift to start
    LOADING = 1  # at the hub, loading the van
    DRIVING = 2  # on a leg to a stop or back to the hub
    SERVING = 3  # at a stop: waiting for the window, knocking, handing over
    BROKEN = 4  # stopped by a breakdown
    DONE = 5  # back at the hub, nothing left
    WAITING = 6  # parked where they are until it is time to leave for a stop that opens later


ON_DUTY = (Phase.LOADING, Phase.DRIVING, Phase.SERVING, Phase.BROKEN, Phase.WAITING)
MIN_SPEED_M_PER_S = (
    URBAN_TRAVEL.speed_kmh / 3.6 * min(DEFAULT_HOURLY_FACTOR) * min(DEFAULT_KIND_FACTOR.values())
)
LEAVE_EARLY_S = 600  # a driver leaves for a stop that opens later so as to be there this early
WAIT_MIN_S = 900  # a shorter wait is taken at the door


@dataclass
class Fleet:
    """Per-driver state; index i is `driver_ids[i]`. Times are seconds since local midnight."""

    driver_ids: npt.NDArray[np.int64]
    lat: F64
    lon: F64
    from_lat: F64
    from_lon: F64
    to_lat: F64
    to_lon: F64
    road_m: F64  # length of the current leg
    left_m: F64  # what is left of it
    phase: npt.NDArray[np.int8]
    until_s: F64  # when the current loading, service, wait or repair ends
    kind_factor: F64
    travelled_m: F64
    next_ping_s: F64

    @classmethod
    def at(
        cls,
        driver_ids: Sequence[int],
        lat: Sequence[float],
        lon: Sequence[float],
        vehicle_kinds: Sequence[str],
    ) -> Fleet:
        n = len(driver_ids)
        la, lo = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
        kinds = np.array([URBAN_TRAVEL.kind_factor.get(k, 1.0) for k in vehicle_kinds], dtype=np.float64)
        return cls(
            np.asarray(driver_ids, dtype=np.int64),
            la.copy(),
            lo.copy(),
            la.copy(),
            lo.copy(),
            la.copy(),
            lo.copy(),
            np.zeros(n),
            np.zeros(n),
            np.zeros(n, dtype=np.int8),
            np.full(n, np.inf),
            kinds,
            np.zeros(n),
            np.full(n, np.inf),
        )

    def __len__(self) -> int:
        return len(self.driver_ids)

    def speeds(self, t_s: float, incidents: Sequence[Area]) -> F64:
        """Metres per second for every driver at `t_s`, traffic incidents included."""
        hour = int(t_s // 3600) % 24
        v = URBAN_TRAVEL.speed_kmh / 3.6 * URBAN_TRAVEL.hourly_factor[hour] * self.kind_factor
        for area in incidents:
            if area.active(t_s):
                inside = haversine_m(self.lat, self.lon, area.lat, area.lon) <= area.radius_m
                v = np.where(inside, v * area.factor, v)
        return v

    def leave_at_s(self, i: int, lat: float, lon: float, ready_s: float) -> float:
        """When driver i should leave for (lat, lon), a stop that opens at `ready_s`: to be
        there `LEAVE_EARLY_S` before it opens, driving at the slowest speed of the day."""
        road_m = float(haversine_m(self.lat[i], self.lon[i], lat, lon)) * CIRCUITY
        return ready_s - road_m / MIN_SPEED_M_PER_S - LEAVE_EARLY_S

    def start_leg(self, i: int, lat: float, lon: float, detour: float = 1.0) -> None:
        """Head from where driver i is now to (lat, lon)."""
        self.from_lat[i], self.from_lon[i] = self.lat[i], self.lon[i]
        self.to_lat[i], self.to_lon[i] = lat, lon
        straight = float(haversine_m(self.lat[i], self.lon[i], lat, lon))
        self.road_m[i] = self.left_m[i] = straight * CIRCUITY * detour
        self.phase[i] = Phase.DRIVING

    def detour(self, i: int, factor: float) -> None:
        """The rest of driver i's leg gets longer (a closed road ahead); the leg restarts from
        where the driver is, so the reported position does not jump."""
        self.from_lat[i], self.from_lon[i] = self.lat[i], self.lon[i]
        self.left_m[i] *= factor
        self.road_m[i] = self.left_m[i]

    def _place(self, idx: npt.NDArray[np.int64]) -> None:
        share = np.divide(
            self.left_m[idx], self.road_m[idx], out=np.zeros(len(idx)), where=self.road_m[idx] > 0
        )
        self.lat[idx] = self.to_lat[idx] + (self.from_lat[idx] - self.to_lat[idx]) * share
        self.lon[idx] = self.to_lon[idx] + (self.from_lon[idx] - self.to_lon[idx]) * share

    def drive(self, idx: npt.NDArray[np.int64], metres: F64) -> None:
        """Move drivers `idx` `metres` along their legs (never past the target)."""
        step = np.minimum(metres, self.left_m[idx])
        self.left_m[idx] -= step
        self.travelled_m[idx] += step
        self._place(idx)

    def arrive(self, i: int) -> None:
        self.travelled_m[i] += self.left_m[i]
        self.left_m[i] = 0.0
        self.lat[i], self.lon[i] = self.to_lat[i], self.to_lon[i]

    def split(self, t0: float, t1: float, speed: F64) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(drivers that only move this tick, drivers with something to do in it)."""
        dt = t1 - t0
        driving = self.phase == Phase.DRIVING
        arrives = driving & (self.left_m <= speed * dt)
        waiting = (self.phase != Phase.DRIVING) & (self.phase != Phase.DONE) & (self.until_s < t1)
        return np.flatnonzero(driving & ~arrives), np.flatnonzero(arrives | waiting)

    def due_pings(self, t1: float, every_s: int) -> npt.NDArray[np.int64]:
        """On-duty drivers whose next ping falls in this tick; schedules the one after."""
        on = np.isin(self.phase, [int(p) for p in ON_DUTY])
        due = np.flatnonzero(on & (self.next_ping_s <= t1))
        behind = np.floor((t1 - self.next_ping_s[due]) / every_s) + 1
        self.next_ping_s[due] += behind * every_s
        return due
