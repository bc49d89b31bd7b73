"""Sample one day's orders for the demo metro: vectorised, deterministic from the generator."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
from numpy.typing import NDArray

from core.kinds import SlaKind
from core.scenario.city import City

HOUR_S = 3600
DAY_OPEN_S = 8 * HOUR_S
DAY_CLOSE_S = 20 * HOUR_S
ZONE_SPREAD_DEG = 0.005  # about 550 m around each neighbourhood's centre
SLA_KINDS = (SlaKind.TWO_HOUR, SlaKind.FOUR_HOUR, SlaKind.SAME_DAY)
SLA_SHARES = (0.35, 0.35, 0.30)
SKILL_SHARES = {"cold_chain": 0.04, "age_check": 0.03, "two_person": 0.02}
PREMIUM_SHARE = 0.15


@dataclass(frozen=True)
class OrderBatch:
    """Column arrays for `n` orders; `zone` indexes `zone_names`, `hub` indexes the city's hubs."""

    hub: NDArray[np.int64]
    zone: NDArray[np.int64]
    zone_names: tuple[str, ...]
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    parcels: NDArray[np.int64]
    weight_g: NDArray[np.int64]
    volume_ml: NDArray[np.int64]
    service_time_s: NDArray[np.int64]
    sla: NDArray[np.int64]
    window_start_s: NDArray[np.int64]
    window_end_s: NDArray[np.int64]
    priority: NDArray[np.int64]
    premium: NDArray[np.bool_]
    skills: tuple[list[str], ...]
    safe_place: NDArray[np.bool_]
    neighbour: NDArray[np.bool_]
    locker: NDArray[np.bool_]
    channel: NDArray[np.int64]
    house_number: NDArray[np.int64]
    street: NDArray[np.int64]
    customer_first: NDArray[np.int64]
    customer_last: NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.hub)


def sample_windows(
    sla: NDArray[np.int64], rng: np.random.Generator
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Booked slots: 2-hour slots from 08:00, 4-hour slots 08/12/16, same day 08:00-20:00."""
    two = DAY_OPEN_S + 2 * HOUR_S * rng.integers(0, 6, size=len(sla))
    four = DAY_OPEN_S + 4 * HOUR_S * rng.integers(0, 3, size=len(sla))
    start = np.where(sla == 0, two, np.where(sla == 1, four, DAY_OPEN_S))
    length = np.where(sla == 0, 2 * HOUR_S, np.where(sla == 1, 4 * HOUR_S, DAY_CLOSE_S - DAY_OPEN_S))
    return start.astype(np.int64), (start + length).astype(np.int64)


def sample_orders(city: City, n: int, rng: np.random.Generator, day: date) -> OrderBatch:
    """`n` orders spread over hubs (busier hubs get more) and their neighbourhoods."""
    zones = [(h_i, z) for h_i, hub in enumerate(city.hubs) for z in hub.zones]
    hub_weight = np.linspace(1.2, 0.8, len(city.hubs))
    zone_weight = np.array([hub_weight[h] for h, _ in zones])
    zone = rng.choice(len(zones), size=n, p=zone_weight / zone_weight.sum())
    centre = np.array([(z.lat, z.lon) for _, z in zones])
    lat = centre[zone, 0] + rng.normal(0, ZONE_SPREAD_DEG, n)
    lon = centre[zone, 1] + rng.normal(0, ZONE_SPREAD_DEG * 1.3, n)
    parcels = rng.geometric(0.6, n)
    weight_g = np.clip(rng.lognormal(np.log(2500), 0.9, n), 100, 30_000).astype(np.int64) * parcels
    volume_ml = (weight_g * rng.uniform(2.0, 6.0, n)).astype(np.int64)
    sla = rng.choice(3, size=n, p=SLA_SHARES)
    window_start, window_end = sample_windows(sla, rng)
    skill_draws = {s: rng.random(n) < share for s, share in SKILL_SHARES.items()}
    skills = tuple([s for s in SKILL_SHARES if skill_draws[s][i]] for i in range(n))
    service = 120 + 60 * parcels + rng.integers(0, 120, n)
    service = np.where(skill_draws["two_person"], service + 300, service)
    weekday_bias = 0.1 if day.weekday() >= 5 else 0.0
    return OrderBatch(
        hub=np.array([zones[z][0] for z in zone], dtype=np.int64),
        zone=zone.astype(np.int64),
        zone_names=tuple(z.name for _, z in zones),
        lat=np.round(lat, 6),
        lon=np.round(lon, 6),
        parcels=parcels.astype(np.int64),
        weight_g=weight_g,
        volume_ml=volume_ml,
        service_time_s=service.astype(np.int64),
        sla=sla.astype(np.int64),
        window_start_s=window_start,
        window_end_s=window_end,
        priority=rng.choice([1, 2, 3], size=n, p=[0.6, 0.3, 0.1]).astype(np.int64),
        premium=rng.random(n) < PREMIUM_SHARE,
        skills=skills,
        safe_place=rng.random(n) < 0.45 + weekday_bias,
        neighbour=rng.random(n) < 0.35,
        locker=rng.random(n) < 0.25,
        channel=rng.choice(3, size=n, p=[0.6, 0.35, 0.05]).astype(np.int64),
        house_number=rng.integers(1, 400, n),
        street=rng.integers(0, len(city.streets), n),
        customer_first=rng.integers(0, len(city.first_names), n),
        customer_last=rng.integers(0, len(city.last_names), n),
    )
