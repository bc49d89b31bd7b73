"""Turn one day's sampled orders into rows: today's open orders, or a past day as it happened.

A past day is synthesised outcome-first: each order goes to a present driver of its hub whose
shift overlaps its slot (preferring drivers who know the zone), is on time or late at the
fleet's rate, and fails at a rate that depends on the fleet and on whether the driver knows
the zone. That last effect is what the allocator's learned driver-by-zone success reads back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import count

import numpy as np

from core.bulk import Row
from core.geo import haversine_m
from core.kinds import (
    BrandTier,
    ContactChannel,
    DriverStatus,
    EventKind,
    OrderStatus,
    RouteStatus,
    StopStatus,
)
from core.scenario.city import City, FleetSpec
from core.scenario.orders import SLA_KINDS, OrderBatch
from core.timeutil import at_seconds

CIRCUITY = 1.3
URBAN_SPEED_M_PER_S = 22_000 / 3600
PRESENT_SHARE = 0.95
WORK_DAYS_PER_WEEK = 5  # a rota: each driver has two days off a week, staggered by driver
KNOWN_ZONE_PREFERENCE = 0.8
KNOWN_ZONE_FAIL_FACTOR = 0.6
UNKNOWN_ZONE_FAIL_FACTOR = 1.6
SECOND_ATTEMPT_SHARE = 0.03
MEAN_LATENESS_S = 25 * 60
MIN_OVERLAP_S = 1800
FAIL_REASONS = ("not_home", "access_issue", "address_not_found", "refused", "damaged")
FAIL_REASON_SHARES = (0.60, 0.15, 0.10, 0.08, 0.07)
CHANNELS = (ContactChannel.SMS, ContactChannel.EMAIL, ContactChannel.NONE)


@dataclass(frozen=True)
class DriverContext:
    """What the day builder needs of a driver: its row, its fleet and the zones it knows."""

    row: Row
    fleet: FleetSpec
    hub_index: int
    known_zones: frozenset[int]
    shift_start_s: int
    shift_end_s: int


class Ids:
    """Explicit primary keys, so rows can reference each other before one bulk insert.

    Each day draws from its own block (day index x the most rows a day can make), so days
    can be generated independently, in any order or in parallel, and get the same ids.
    """

    EVENTS_PER_ORDER = 3

    def __init__(self, day_index: int, orders_per_day: int, drivers: int, hubs: int) -> None:
        self.orders = count(day_index * orders_per_day + 1)
        self.plans = count(day_index * hubs + 1)
        self.routes = count(day_index * drivers + 1)
        self.stops = count(day_index * orders_per_day + 1)
        self.events = count(day_index * orders_per_day * self.EVENTS_PER_ORDER + 1)


@dataclass
class DayRows:
    orders: list[Row] = field(default_factory=list)
    plans: list[Row] = field(default_factory=list)
    routes: list[Row] = field(default_factory=list)
    stops: list[Row] = field(default_factory=list)
    events: list[Row] = field(default_factory=list)


def _order_row(
    batch: OrderBatch,
    i: int,
    oid: int,
    day: date,
    city: City,
    hub_ids: list[int],
    tz: str,
    created_at: datetime,
) -> Row:
    return {
        "id": oid,
        "external_ref": f"ORD-{day:%Y%m%d}-{i + 1:06d}",
        "hub_id": hub_ids[int(batch.hub[i])],
        "service_date": day,
        "status": OrderStatus.UNASSIGNED,
        "address": f"{batch.house_number[i]} {city.streets[batch.street[i]]}, "
        f"{batch.zone_names[batch.zone[i]]}",
        "zone": batch.zone_names[batch.zone[i]],
        "lat": float(batch.lat[i]),
        "lon": float(batch.lon[i]),
        "parcels": int(batch.parcels[i]),
        "weight_g": int(batch.weight_g[i]),
        "volume_ml": int(batch.volume_ml[i]),
        "service_time_s": int(batch.service_time_s[i]),
        "sla_kind": SLA_KINDS[batch.sla[i]],
        "window_start_at": at_seconds(day, tz, int(batch.window_start_s[i])),
        "window_end_at": at_seconds(day, tz, int(batch.window_end_s[i])),
        "priority": int(batch.priority[i]),
        "brand_tier": BrandTier.PREMIUM if batch.premium[i] else BrandTier.STANDARD,
        "required_skills": batch.skills[i],
        "customer_name": f"{city.first_names[batch.customer_first[i]]} "
        f"{city.last_names[batch.customer_last[i]]}",
        "contact_channel": CHANNELS[batch.channel[i]],
        "safe_place_allowed": bool(batch.safe_place[i]),
        "safe_place_note": "behind the side gate" if batch.safe_place[i] else None,
        "neighbour_allowed": bool(batch.neighbour[i]),
        "locker_allowed": bool(batch.locker[i]),
        "attempts": 0,
        "created_at": created_at,
        "delivered_at": None,
    }


def open_day(
    batch: OrderBatch, day: date, city: City, hub_ids: list[int], ids: Ids, created_at: datetime
) -> DayRows:
    """Today's orders, all unassigned and waiting for the allocator."""
    rows = DayRows()
    rows.orders = [
        _order_row(batch, i, next(ids.orders), day, city, hub_ids, city.timezone, created_at)
        for i in range(len(batch))
    ]
    return rows


class _DriverPicker:
    """Chooses a present driver for an order; pools are cached per (hub, slot, zone)."""

    def __init__(self, present_by_hub: dict[int, list[DriverContext]]) -> None:
        self._present = present_by_hub
        self._pools: dict[tuple[int, int, int, int], tuple[list[DriverContext], list[DriverContext]]] = {}

    def pick(
        self, hub: int, ws: int, we: int, zone: int, u_known: float, u_pick: float
    ) -> DriverContext | None:
        key = (hub, ws, we, zone)
        if key not in self._pools:
            present = self._present.get(hub, [])
            fits = [d for d in present if min(we, d.shift_end_s) - max(ws, d.shift_start_s) >= MIN_OVERLAP_S]
            pool = fits or present
            self._pools[key] = (pool, [d for d in pool if zone in d.known_zones])
        pool, known = self._pools[key]
        if known and u_known < KNOWN_ZONE_PREFERENCE:
            pool = known
        return pool[int(u_pick * len(pool))] if pool else None


def past_day(
    batch: OrderBatch,
    day: date,
    city: City,
    hub_ids: list[int],
    drivers: list[DriverContext],
    ids: Ids,
    rng: np.random.Generator,
    slip: dict[str, float],
    created_at: datetime,
) -> DayRows:
    """A day that happened: plans, routes, stops, events and final order states.

    `slip` multiplies a fleet's late and fail rates (by fleet code), to make a vendor slip.
    """
    tz = city.timezone
    rows = open_day(batch, day, city, hub_ids, ids, created_at)
    present_by_hub: dict[int, list[DriverContext]] = {}
    present_draw = rng.random(len(drivers))
    for d, u in zip(drivers, present_draw, strict=True):
        on_rota = (day.toordinal() + d.row["id"]) % 7 < WORK_DAYS_PER_WEEK
        if d.row["status"] is DriverStatus.ACTIVE and on_rota and u < PRESENT_SHARE:
            present_by_hub.setdefault(d.hub_index, []).append(d)
    picker = _DriverPicker(present_by_hub)
    n = len(batch)
    u_known, u_pick, u_late, u_arrive = (rng.random(n) for _ in range(4))
    lateness = rng.exponential(MEAN_LATENESS_S, n).astype(np.int64) + 60
    work: dict[int, list[tuple[int, int, DriverContext]]] = {}
    for i, order in enumerate(rows.orders):
        ws, we = int(batch.window_start_s[i]), int(batch.window_end_s[i])
        picked = picker.pick(int(batch.hub[i]), ws, we, int(batch.zone[i]), u_known[i], u_pick[i])
        if picked is None:
            order["status"] = OrderStatus.CANCELLED
            continue
        lo, hi = max(ws, picked.shift_start_s), min(we, picked.shift_end_s)
        if hi > lo and u_late[i] >= picked.fleet.late_rate * slip.get(picked.fleet.code, 1.0):
            arrival = lo + int(u_arrive[i] * (hi - lo))
        else:
            arrival = we + int(lateness[i])
        work.setdefault(picked.row["id"], []).append((arrival, i, picked))
    plan_ids = {hub_id: next(ids.plans) for hub_id in hub_ids}
    day_end = at_seconds(day, tz, 22 * 3600)
    rows.plans = [
        {"id": pid, "hub_id": hub_id, "service_date": day, "version": 1, "updated_at": day_end}
        for hub_id, pid in plan_ids.items()
    ]
    for visits in work.values():
        _execute_route(
            sorted(visits, key=lambda v: v[0]), batch, rows, day, city, hub_ids, plan_ids, ids, rng, slip
        )
    return rows


def _execute_route(
    visits: list[tuple[int, int, DriverContext]],
    batch: OrderBatch,
    rows: DayRows,
    day: date,
    city: City,
    hub_ids: list[int],
    plan_ids: dict[int, int],
    ids: Ids,
    rng: np.random.Generator,
    slip: dict[str, float],
) -> None:
    tz = city.timezone
    d = visits[0][2]
    hub = city.hubs[d.hub_index]
    idx = np.array([i for _, i, _ in visits])
    lats = np.concatenate([[hub.lat], batch.lat[idx], [hub.lat]])
    lons = np.concatenate([[hub.lon], batch.lon[idx], [hub.lon]])
    legs_m = haversine_m(lats[:-1], lons[:-1], lats[1:], lons[1:]) * CIRCUITY
    first_arrival = visits[0][0]
    start_s = first_arrival - legs_m[0] / URBAN_SPEED_M_PER_S - hub.turnaround_s
    last_i = visits[-1][1]
    end_s = visits[-1][0] + int(batch.service_time_s[last_i]) + legs_m[-1] / URBAN_SPEED_M_PER_S
    route_id = next(ids.routes)
    rows.routes.append(
        {
            "id": route_id,
            "plan_id": plan_ids[hub_ids[d.hub_index]],
            "driver_id": d.row["id"],
            "vehicle_id": d.row["vehicle_id"],
            "status": RouteStatus.COMPLETED,
            "planned_start_at": at_seconds(day, tz, d.shift_start_s),
            "planned_end_at": at_seconds(day, tz, max(end_s, d.shift_start_s + 60)),
            "planned_distance_m": int(legs_m.sum() * 0.97),
            "started_at": at_seconds(day, tz, start_s),
            "finished_at": at_seconds(day, tz, end_s),
            "distance_m": int(legs_m.sum()),
        }
    )
    factor = slip.get(d.fleet.code, 1.0)
    n = len(visits)
    u_fail, u_second = rng.random(n), rng.random(n)
    eta_noise = rng.integers(-600, 900, n)
    reasons = rng.choice(len(FAIL_REASONS), size=n, p=FAIL_REASON_SHARES)
    for seq, (arrival, i, _) in enumerate(visits):
        order = rows.orders[i]
        known = int(batch.zone[i]) in d.known_zones
        fail_p = d.fleet.fail_rate * factor * (KNOWN_ZONE_FAIL_FACTOR if known else UNKNOWN_ZONE_FAIL_FACTOR)
        failed = u_fail[seq] < fail_p
        arrived_at = at_seconds(day, tz, arrival)
        done_at = arrived_at + timedelta(seconds=int(batch.service_time_s[i]))
        position = {
            "driver_id": d.row["id"],
            "order_id": order["id"],
            "lat": order["lat"],
            "lon": order["lon"],
        }
        rows.stops.append(
            {
                "id": next(ids.stops),
                "route_id": route_id,
                "order_id": order["id"],
                "sequence": seq,
                "status": StopStatus.FAILED if failed else StopStatus.DELIVERED,
                "loaded": True,
                "planned_eta_at": arrived_at - timedelta(seconds=int(eta_noise[seq])),
                "arrived_at": arrived_at,
                "completed_at": done_at,
            }
        )
        order["attempts"] = 1
        if failed:
            reason = FAIL_REASONS[reasons[seq]]
            order["status"] = OrderStatus.FAILED
            rows.events.append(
                {
                    "id": next(ids.events),
                    "kind": EventKind.EXCEPTION,
                    "occurred_at": done_at,
                    **position,
                    "payload": {"reason": reason, "action": "return_to_depot"},
                }
            )
            rows.events.append(
                {
                    "id": next(ids.events),
                    "kind": EventKind.FAILED,
                    "occurred_at": done_at,
                    **position,
                    "payload": {"reason": reason},
                }
            )
            continue
        if u_second[seq] < SECOND_ATTEMPT_SHARE:
            order["attempts"] = 2
            rows.events.append(
                {
                    "id": next(ids.events),
                    "kind": EventKind.FAILED,
                    "occurred_at": arrived_at - timedelta(hours=2),
                    **position,
                    "payload": {"reason": "not_home"},
                }
            )
        order["status"] = OrderStatus.DELIVERED
        order["delivered_at"] = done_at
        rows.events.append(
            {
                "id": next(ids.events),
                "kind": EventKind.DELIVERED,
                "occurred_at": done_at,
                **position,
                "payload": {"pod": "signature" if order["parcels"] > 2 else "photo", "recipient": "customer"},
            }
        )
