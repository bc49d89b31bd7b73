"""Travel models: integer distance and duration matrices between points, vectorised.

The solver never calls these per arc: `AllocationProblem` asks once per (vehicle kind,
departure hour) and the model registers the resulting integer matrices.  A routing engine
(e.g. an OSRM table service) can implement `TravelModel` and drop in.
"""

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from core.geo import pairwise_haversine_m

IntMatrix = npt.NDArray[np.int64]
SECONDS_PER_HOUR = 3600

# Urban speed multipliers by hour of day: rush hours 07-09 and 16-19 are slower.
DEFAULT_HOURLY_FACTOR: tuple[float, ...] = tuple(
    0.6 if h in (7, 8) or h in (16, 17, 18) else 1.0 for h in range(24)
)
DEFAULT_KIND_FACTOR: dict[str, float] = {"van": 1.0, "car": 1.1, "cargo_bike": 0.6}


class TravelModel(Protocol):
    """Distance (m) and duration (s) between every pair of `points` (lat, lon), as int64."""

    def matrices(
        self, points: npt.NDArray[np.float64], depart_s: int, vehicle_type: str = "van"
    ) -> tuple[IntMatrix, IntMatrix]: ...

    def profile(self, depart_s: int, vehicle_type: str = "van") -> Hashable:
        """A key equal for two departures exactly when their duration matrices are equal, so
        a problem computes and keeps one matrix per key (a van at rush hour may share one
        with a bike off-peak)."""
        ...


@dataclass(frozen=True)
class HaversineTravel:
    """Straight-line distance x circuity, at a speed that depends on hour and vehicle kind.

    Durations are rounded up, so a plan the solver thinks feasible stays feasible when the
    driver is a second slower than the matrix.  The hour is taken at departure: one matrix
    per (kind, hour) is the documented approximation of time-dependent travel.
    """

    circuity: float = 1.3
    speed_kmh: float = 30.0
    hourly_factor: tuple[float, ...] = DEFAULT_HOURLY_FACTOR
    kind_factor: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_KIND_FACTOR))

    def __post_init__(self) -> None:
        if len(self.hourly_factor) != 24:
            raise ValueError("hourly_factor must have 24 entries")
        if self.circuity < 1.0:
            raise ValueError("circuity must be >= 1")
        if self.speed_kmh <= 0 or min(self.hourly_factor) <= 0:
            raise ValueError("speeds must be > 0")

    def speed_m_per_s(self, depart_s: int, vehicle_type: str = "van") -> float:
        hour = (depart_s // SECONDS_PER_HOUR) % 24
        factor = self.hourly_factor[hour] * self.kind_factor.get(str(vehicle_type), 1.0)
        return self.speed_kmh * factor / 3.6

    def profile(self, depart_s: int, vehicle_type: str = "van") -> Hashable:
        return self.speed_m_per_s(depart_s, vehicle_type)

    def matrices(
        self, points: npt.NDArray[np.float64], depart_s: int, vehicle_type: str = "van"
    ) -> tuple[IntMatrix, IntMatrix]:
        road_m = pairwise_haversine_m(np.asarray(points, dtype=np.float64)) * self.circuity
        distance_m = np.rint(road_m).astype(np.int64)
        duration_s = np.ceil(road_m / self.speed_m_per_s(depart_s, vehicle_type)).astype(np.int64)
        return distance_m, duration_s


URBAN_TRAVEL = HaversineTravel()
"""The one urban travel model (30 km/h, rush-hour factors, circuity 1.3) that agents' estimates and
the simulator's movement share with the allocator's default."""


@dataclass(frozen=True)
class EuclideanTravel:
    """Planar distances for benchmark instances: points are (x, y), scaled to integers.

    Duration = distance (Solomon convention), rounded UP so that an integer-feasible plan is
    feasible in real arithmetic; distance is rounded to nearest.
    """

    scale: int = 1000

    def matrices(
        self, points: npt.NDArray[np.float64], depart_s: int, vehicle_type: str = "van"
    ) -> tuple[IntMatrix, IntMatrix]:
        pts = np.asarray(points, dtype=np.float64)
        diff = pts[:, None, :] - pts[None, :, :]
        real = np.sqrt((diff**2).sum(axis=2)) * self.scale
        return np.rint(real).astype(np.int64), np.ceil(real - 1e-9).astype(np.int64)

    def profile(self, depart_s: int, vehicle_type: str = "van") -> Hashable:
        return 0  # the same for every departure and vehicle


__all__ = ["URBAN_TRAVEL", "EuclideanTravel", "HaversineTravel", "TravelModel"]
