"""What goes wrong in a simulated day, all drawn from one seed.

The day's disruptions are planned up front (`plan_disruptions`): traffic incidents that slow a
zone for a while, road closures, vehicle breakdowns, drivers starting late and urgent orders
arriving during the day. What happens at a door (`door_outcome`) is drawn from a generator
keyed by the seed and the order id, so it does not depend on the order in which stops are
visited: a re-planned day meets the same customers at home and the same ones out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from core.field import ExceptionReason

HOUR_S = 3600
OTHER_FAILURES = (
    ExceptionReason.ACCESS_ISSUE,
    ExceptionReason.ADDRESS_NOT_FOUND,
    ExceptionReason.REFUSED,
    ExceptionReason.DAMAGED,
)
OTHER_FAILURE_SHARES = (0.4, 0.25, 0.2, 0.15)


@dataclass(frozen=True)
class DisruptionParams:
    """Rates of each disruption; zero switches one off. Per-day counts are Poisson draws."""

    not_home_rate: float = 0.06
    other_failure_rate: float = 0.015
    neighbour_home_rate: float = 0.8
    late_start_share: float = 0.05
    late_start_max_s: int = 45 * 60
    breakdowns_per_100_drivers: float = 1.0
    repair_min_s: int = 40 * 60
    repair_max_s: int = 120 * 60
    unrepaired_share: float = 0.25
    incidents_per_hub: float = 1.5
    incident_radius_m: float = 900.0
    incident_speed_factor: float = 0.35
    incident_min_s: int = 30 * 60
    incident_max_s: int = 90 * 60
    closures_per_hub: float = 0.5
    closure_radius_m: float = 400.0
    closure_detour_factor: float = 1.8
    closure_min_s: int = 60 * 60
    closure_max_s: int = 180 * 60
    urgent_orders_per_hub_hour: float = 2.0
    urgent_from_s: int = 9 * HOUR_S
    urgent_until_s: int = 17 * HOUR_S
    urgent_lead_s: int = 30 * 60
    urgent_window_s: int = 2 * HOUR_S
    customer_choice_rate: float = 0.05

    @classmethod
    def none(cls) -> DisruptionParams:
        """A day where nothing goes wrong (everyone at home, no traffic, no breakdowns)."""
        return cls(
            not_home_rate=0,
            other_failure_rate=0,
            late_start_share=0,
            breakdowns_per_100_drivers=0,
            incidents_per_hub=0,
            closures_per_hub=0,
            urgent_orders_per_hub_hour=0,
            customer_choice_rate=0,
        )


@dataclass(frozen=True)
class Area:
    """A circle where something happens from `start_s` to `end_s`."""

    id: int
    hub_id: int
    lat: float
    lon: float
    radius_m: float
    start_s: int
    end_s: int
    factor: float  # speed factor (incident) or detour factor (closure)

    def active(self, t_s: float) -> bool:
        return self.start_s <= t_s < self.end_s


@dataclass(frozen=True)
class Breakdown:
    driver_id: int
    at_s: int
    repair_s: int | None  # None: the van is out for the rest of the day


@dataclass(frozen=True)
class UrgentOrder:
    hub_id: int
    at_s: int
    lat: float
    lon: float
    zone: str
    window_start_s: int
    window_end_s: int
    parcels: int
    weight_g: int
    service_time_s: int


@dataclass(frozen=True)
class DayOutline:
    """What disruptions are placed on: hubs' order points and zones, drivers' planned spans."""

    order_points: Mapping[int, npt.NDArray[np.float64]]  # hub id -> (n, 2) lat, lon
    order_zones: Mapping[int, tuple[str, ...]]
    driver_spans: Mapping[int, tuple[int, int, int]]  # driver id -> hub id, start_s, end_s


@dataclass(frozen=True)
class DisruptionPlan:
    incidents: tuple[Area, ...]
    closures: tuple[Area, ...]
    breakdowns: tuple[Breakdown, ...]
    late_starts: Mapping[int, int]  # driver id -> delay in seconds
    urgent: tuple[UrgentOrder, ...]


def _areas(
    rng: np.random.Generator,
    outline: DayOutline,
    per_hub: float,
    radius: float,
    min_s: int,
    max_s: int,
    factor: float,
    first_id: int,
    open_s: int,
    close_s: int,
) -> list[Area]:
    out: list[Area] = []
    for hub_id in sorted(outline.order_points):
        points = outline.order_points[hub_id]
        for _ in range(int(rng.poisson(per_hub)) if len(points) else 0):
            lat, lon = points[int(rng.integers(len(points)))]
            start = int(rng.integers(open_s, max(open_s + 1, close_s - min_s)))
            length = int(rng.integers(min_s, max_s + 1))
            out.append(
                Area(
                    first_id + len(out), hub_id, float(lat), float(lon), radius, start, start + length, factor
                )
            )
    return out


def _stream(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, 1, *key]))


def plan_disruptions(
    params: DisruptionParams,
    outline: DayOutline,
    seed: int,
    open_s: int = 7 * HOUR_S,
    close_s: int = 20 * HOUR_S,
) -> DisruptionPlan:
    """The day's scheduled disruptions, deterministic from `seed`.

    Each family draws from its own stream, and a driver's late start and breakdown from a
    stream of its own: two plans of the same day (say rule-based and agentic) meet the same
    incidents, closures and urgent orders, and a driver routed in both meets the same fate.
    """
    p = params
    incidents = _areas(
        _stream(seed, 1),
        outline,
        p.incidents_per_hub,
        p.incident_radius_m,
        p.incident_min_s,
        p.incident_max_s,
        p.incident_speed_factor,
        1,
        open_s,
        close_s,
    )
    closures = _areas(
        _stream(seed, 2),
        outline,
        p.closures_per_hub,
        p.closure_radius_m,
        p.closure_min_s,
        p.closure_max_s,
        p.closure_detour_factor,
        1,
        open_s,
        close_s,
    )
    late_starts: dict[int, int] = {}
    breakdowns = []
    for d in sorted(outline.driver_spans):
        rng = _stream(seed, 3, d)
        late, delay, breaks, when, unrepaired, repair = rng.random(6)
        if late < p.late_start_share:
            late_starts[d] = 10 * 60 + int(delay * (p.late_start_max_s - 10 * 60))
        if breaks < p.breakdowns_per_100_drivers / 100:
            _, start, end = outline.driver_spans[d]
            at = start + 1800 + int(when * max(1, end - start - 3600))
            repair_s = (
                None
                if unrepaired < p.unrepaired_share
                else p.repair_min_s + int(repair * (p.repair_max_s - p.repair_min_s))
            )
            breakdowns.append(Breakdown(d, at, repair_s))
    urgent: list[UrgentOrder] = []
    hours = (p.urgent_until_s - p.urgent_from_s) / HOUR_S
    for hub_id in sorted(outline.order_points):
        rng = _stream(seed, 4, hub_id)
        points, zones = outline.order_points[hub_id], outline.order_zones[hub_id]
        n = int(rng.poisson(p.urgent_orders_per_hub_hour * hours)) if len(points) else 0
        for at in sorted(int(x) for x in rng.integers(p.urgent_from_s, p.urgent_until_s, size=n)):
            k = int(rng.integers(len(points)))
            lat, lon = points[k] + rng.normal(0, 0.002, 2)
            parcels = int(rng.integers(1, 3))
            start = at + p.urgent_lead_s
            urgent.append(
                UrgentOrder(
                    hub_id,
                    at,
                    round(float(lat), 6),
                    round(float(lon), 6),
                    zones[k],
                    start,
                    start + p.urgent_window_s,
                    parcels,
                    1500 * parcels,
                    120 + 60 * parcels,
                )
            )
    return DisruptionPlan(
        tuple(incidents),
        tuple(closures),
        tuple(sorted(breakdowns, key=lambda b: b.at_s)),
        late_starts,
        tuple(sorted(urgent, key=lambda u: (u.at_s, u.hub_id))),
    )


class Door(StrEnum):
    DELIVERED = "delivered"
    NOT_HOME = "not_home"
    FAILED = "failed"


@dataclass(frozen=True)
class DoorOutcome:
    door: Door
    reason: ExceptionReason | None = None
    neighbour_home: bool = True
    choice_draw: float = 1.0


def door_outcome(params: DisruptionParams, seed: int, order_id: int) -> DoorOutcome:
    """What happens at this order's door, the same whenever and by whoever it is visited."""
    rng = np.random.default_rng([seed, 2, order_id])
    u, neighbour, pick, choice = rng.random(4)
    if u < params.not_home_rate:
        return DoorOutcome(
            Door.NOT_HOME, ExceptionReason.NOT_HOME, neighbour < params.neighbour_home_rate, choice
        )
    if u < params.not_home_rate + params.other_failure_rate:
        reason = OTHER_FAILURES[int(np.searchsorted(np.cumsum(OTHER_FAILURE_SHARES), pick * 0.9999))]
        return DoorOutcome(Door.FAILED, reason)
    return DoorOutcome(Door.DELIVERED, choice_draw=choice)
