"""Split a metro problem into small per-hub, per-sector parts that can be solved apart.

Regions.  A driver belongs to the region of the hub their route ends at.  An order goes to
the region of its nearest hub (among hubs with drivers), with three exceptions:

* an order locked to a van, or already on a driver in the live plan, goes to that driver's
  region (and later to that driver's part);
* a *border* order, one whose distance to another region's hub is within `border_ratio` x
  the distance to its nearest hub, goes to whichever of those regions has more spare
  capacity (parcels and working time, as fractions of the region's fleet) at that moment;
  non-border orders are placed first, so border orders fill what is left;
* an order no driver of its nearest region may ever serve (skills, vehicle, fleet...)
  goes to the nearest region that has such a driver, if any.

Sectors.  A region with more than `max_part_orders` orders is cut by angle around its hub
(a sweep, starting at the widest empty angle so no cluster is cut) into near-equal sectors,
so every part keeps at most `max_part_orders` orders (orders pinned to a van are the only
exception).  Drivers are then dealt to sectors by need: drivers away from the hub go to the
sector they are in, the rest one at a time to the sector whose demand (parcels, service
and an estimate of driving time) is least covered by the capacity and shift time it has.

Distances to hubs come from the problem's travel model in blocks of a few hundred points:
nothing here ever builds an orders x orders matrix.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from core.allocator import families as fam
from core.allocator.eligibility import static_issue
from core.allocator.params import DEFAULT_PARAMS, SolveParams
from core.allocator.problem import AllocationProblem, DriverSpec, OrderSpec
from core.allocator.result import RoutePlan, Unassigned

BLOCK_POINTS = 512  # orders per travel-model call when measuring distances to hubs
AWAY_FROM_HUB_M = 1_000  # a driver farther than this from the hub is placed by position
NEAR_HUBS = 6  # hubs per order measured with the travel model when there are more
NEAR_BLOCK = 64  # orders per travel-model call in that case
FAR = 1e3  # how much farther than its estimate an unmeasured hub counts
KM_PER_DEG = 111.32


@dataclass(frozen=True)
class DecomposeParams:
    """How to split. `border_ratio`: an order is a border order when its 2nd-nearest region's
    hub is at most this many times as far as its nearest; 1.0 switches border moves off."""

    max_part_orders: int = 250
    border_ratio: float = 1.15

    def __post_init__(self) -> None:
        if self.max_part_orders < 1:
            raise ValueError("max_part_orders must be >= 1")
        if self.border_ratio < 1.0:
            raise ValueError("border_ratio must be >= 1")


DEFAULT_DECOMPOSE = DecomposeParams()


@dataclass(frozen=True)
class Part:
    """One subproblem: a sector of one hub's region, with that hub as its only hub.

    `key` is "<hub id>" or "<hub id>/<sector>"; `hub` indexes the full problem's hubs.
    `border_orders`: orders of this part that could have gone to another region.
    """

    key: str
    hub: int
    sector: int
    problem: AllocationProblem
    border_orders: tuple[str, ...] = ()

    @property
    def order_ids(self) -> tuple[str, ...]:
        return tuple(o.id for o in self.problem.orders)

    @property
    def driver_ids(self) -> tuple[str, ...]:
        return tuple(d.id for d in self.problem.drivers)


@dataclass(frozen=True)
class Decomposition:
    """The parts, the orders no part takes (with a reason), and for each part the other parts
    nearest to it (where its leftovers are offered in a second pass)."""

    parts: tuple[Part, ...]
    unassigned: tuple[Unassigned, ...] = ()
    neighbours: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def part(self, key: str) -> Part:
        return next(p for p in self.parts if p.key == key)


def decompose(
    problem: AllocationProblem,
    params: DecomposeParams = DEFAULT_DECOMPOSE,
    solve_params: SolveParams = DEFAULT_PARAMS,
    initial: RoutePlan | None = None,
) -> Decomposition:
    """Regions by hub, then sectors by angle; see the module docstring for the rules."""
    if not problem.drivers:
        why = "no eligible driver: no drivers"
        return Decomposition((), tuple(Unassigned(o.id, fam.NO_ELIGIBLE_DRIVER, why) for o in problem.orders))
    regions = sorted({d.hub for d in problem.drivers})
    pinned = _pinned_drivers(problem, solve_params, initial)
    dist = hub_distances_m(problem, regions)
    fleet = _RegionFleet(problem, regions, solve_params)
    region_of = _assign_regions(problem, params, solve_params, regions, dist, fleet, pinned)
    is_border = _border_mask(dist, region_of, params.border_ratio)
    parts: list[Part] = []
    for r, h in enumerate(regions):
        members = np.flatnonzero(region_of == r)
        drivers = [v for v, d in enumerate(problem.drivers) if d.hub == h]
        border = {int(j) for j in members if is_border[j]}
        parts.extend(_sectors(problem, params, h, members, drivers, pinned, border, fleet, dist[:, r]))
    return Decomposition(tuple(parts), (), _neighbours(problem, parts))


# -- distances and capacity --------------------------------------------------------------
def hub_distances_m(problem: AllocationProblem, hubs: Sequence[int]) -> npt.NDArray[np.float64]:
    """Distance (m) from every order to each of `hubs`, from the problem's travel model.

    With many hubs only the `NEAR_HUBS` nearest of each order (by a flat-earth estimate)
    are asked of the travel model, in blocks of orders that share a nearest hub, so each
    call is (block + a few hubs)^2; the other hubs get the estimate x `FAR`, which keeps
    their order but never makes them nearest or a border choice."""
    n, k = problem.n_orders, len(hubs)
    out = np.zeros((n, k), dtype=np.float64)
    if n == 0:
        return out
    hub_pts = np.asarray([(problem.hubs[h].lat, problem.hubs[h].lon) for h in hubs], dtype=np.float64)
    pts = np.asarray([(o.lat, o.lon) for o in problem.orders], dtype=np.float64)
    if k <= NEAR_HUBS:
        for start in range(0, n, BLOCK_POINTS):
            block = pts[start : start + BLOCK_POINTS]
            dist, _ = problem.travel.matrices(np.vstack([block, hub_pts]), 0, "van")
            out[start : start + len(block)] = dist[: len(block), len(block) :]
        return out
    out[:] = _flat_m(pts, hub_pts) * FAR
    near = np.argpartition(out, NEAR_HUBS - 1, axis=1)[:, :NEAR_HUBS]
    order = np.argsort(np.argmin(out, axis=1), kind="stable")
    for start in range(0, n, NEAR_BLOCK):
        rows = order[start : start + NEAR_BLOCK]
        cols = np.unique(near[rows])
        dist, _ = problem.travel.matrices(np.vstack([pts[rows], hub_pts[cols]]), 0, "van")
        block = np.full((len(rows), k), np.inf)
        block[:, cols] = dist[: len(rows), len(rows) :]
        mine = np.zeros((len(rows), k), dtype=bool)
        np.put_along_axis(mine, near[rows], True, axis=1)
        out[rows] = np.where(mine, block, out[rows])
    return out


def _flat_m(pts: npt.NDArray[np.float64], hub_pts: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Flat-earth metres from each point to each hub: only to rank hubs."""
    lat0 = np.radians(pts[:, 0])[:, None]
    dy = (pts[:, 0][:, None] - hub_pts[:, 0][None, :]) * KM_PER_DEG * 1000
    dx = (pts[:, 1][:, None] - hub_pts[:, 1][None, :]) * KM_PER_DEG * 1000 * np.cos(lat0)
    return np.asarray(np.hypot(dx, dy))


def _breaks_in_shift(d: DriverSpec) -> int:
    """Breaks a full shift needs (as the model counts them)."""
    span = d.shift_end_s - d.available_s
    w, brk = d.work_before_break_s, d.break_duration_s
    if w <= 0 or span <= w:
        return 0
    return max(1, (span - 1) // (w + brk))


def working_s(problem: AllocationProblem, d: DriverSpec, params: SolveParams) -> int:
    """Seconds a driver can spend driving and serving: shift left, less loading and breaks."""
    span = d.shift_end_s - d.available_s
    if params.on(fam.MAX_ROUTE_DURATION) and d.max_route_duration_s is not None:
        span = min(span, d.max_route_duration_s)
    loading = problem.hubs[d.hub].turnaround_s if d.loading_at_start and params.on(fam.HUB_TURNAROUND) else 0
    rest = _breaks_in_shift(d) * d.break_duration_s if params.on(fam.HOS_BREAK) else 0
    return max(0, span - loading - rest)


class _RegionFleet:
    """Capacity (parcels, working seconds) per region and the load placed so far."""

    def __init__(self, problem: AllocationProblem, regions: list[int], params: SolveParams) -> None:
        self.problem, self.params = problem, params
        self.index = {h: r for r, h in enumerate(regions)}
        k = len(regions)
        self.cap = np.zeros((k, 2))
        self.load = np.zeros((k, 2))
        for d in problem.drivers:
            if d.blocked and params.on(fam.BLOCKED):
                continue
            self.cap[self.index[d.hub]] += (d.capacity_parcels, working_s(problem, d, params))
        self.cap = np.maximum(self.cap, 1.0)
        # A stop costs its service plus about half the drive out to it: a rough, shared
        # estimate that only has to rank regions and sectors against each other.
        self.leg_s = 0.0

    def set_leg(self, dist_m: npt.NDArray[np.float64]) -> None:
        speed = self.problem.travel.matrices(  # m/s from the model: one tiny 2-point call
            np.asarray([[0.0, 0.0], [0.01, 0.0]]), 12 * 3600, "van"
        )
        metres, seconds = float(speed[0][0, 1]), float(max(1, speed[1][0, 1]))
        self.leg_s = 0.5 * float(np.median(dist_m)) * seconds / max(metres, 1.0) if len(dist_m) else 0.0

    def need(self, o: OrderSpec) -> npt.NDArray[np.float64]:
        return np.array([o.parcels, o.service_time_s + self.leg_s])

    def spare(self, r: int) -> float:
        return float(np.min((self.cap[r] - self.load[r]) / self.cap[r]))


# -- regions -----------------------------------------------------------------------------
def _pinned_drivers(
    problem: AllocationProblem, params: SolveParams, initial: RoutePlan | None
) -> dict[int, int]:
    """Order index -> driver index it must stay with: locked in a van, or on the live plan."""
    pinned: dict[int, int] = {}
    for d_id, orders in (initial or {}).items():
        v = problem.driver_index.get(d_id)
        if v is None:
            continue
        for oid in orders:
            j = problem.order_index.get(oid)
            if j is not None:
                pinned[j] = v
    if params.on(fam.LOCKS):
        for j, o in enumerate(problem.orders):
            if o.locked_driver_id is not None:
                pinned[j] = problem.driver_index[o.locked_driver_id]
    return pinned


def _border_mask(
    dist: npt.NDArray[np.float64], region_of: npt.NDArray[np.int64], ratio: float
) -> npt.NDArray[np.bool_]:
    """Orders placed away from their nearest hub, or within `ratio` of a second region's hub."""
    if dist.shape[1] < 2:
        return np.zeros(len(dist), dtype=bool)
    first_two = np.sort(dist, axis=1)[:, :2]
    near_second = (ratio > 1.0) & (first_two[:, 1] <= ratio * np.maximum(first_two[:, 0], 1.0))
    return np.asarray((np.argmin(dist, axis=1) != region_of) | near_second)


def _can_serve(problem: AllocationProblem, params: SolveParams, reps: list[int], j: int) -> bool:
    """Whether some driver of a region passes the static rules for order j (one
    representative driver per distinct driver profile is enough)."""
    return any(static_issue(problem, params, v, j) is None for v in reps)


def _driver_profiles(problem: AllocationProblem, regions: list[int]) -> list[list[int]]:
    """Per region, one driver index per distinct eligibility profile."""
    out: list[list[int]] = []
    for h in regions:
        seen: dict[tuple[object, ...], int] = {}
        for v, d in enumerate(problem.drivers):
            if d.hub != h:
                continue
            key = (
                d.blocked, d.fleet_type, d.vehicle_type, d.skills, d.max_item_weight_g,
                d.capacity_parcels, d.capacity_weight_g, d.capacity_volume_ml,
            )  # fmt: skip
            seen.setdefault(key, v)
        out.append(sorted(seen.values()))
    return out


def _assign_regions(
    problem: AllocationProblem,
    params: DecomposeParams,
    solve_params: SolveParams,
    regions: list[int],
    dist: npt.NDArray[np.float64],
    fleet: _RegionFleet,
    pinned: dict[int, int],
) -> npt.NDArray[np.int64]:
    n = problem.n_orders
    region_of = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return region_of
    nearest = np.argmin(dist, axis=1)
    fleet.set_leg(dist[np.arange(n), nearest])
    reps = _driver_profiles(problem, regions)
    by_distance = np.argsort(dist, axis=1, kind="stable")
    limit = params.border_ratio * np.maximum(dist[np.arange(n), nearest], 1.0)
    n_close = np.maximum(1, (dist <= limit[:, None]).sum(axis=1))
    border: list[tuple[int, list[int]]] = []
    for j in range(n):
        if j in pinned:
            region_of[j] = fleet.index[problem.drivers[pinned[j]].hub]
            continue
        ranked = by_distance[j]
        close = [int(r) for r in ranked[: n_close[j]]]
        # Nearest regions within the border margin that can serve it; else the nearest
        # region that can; else the nearest (whose solve then reports why not).
        reach = [r for r in close if _can_serve(problem, solve_params, reps[r], j)]
        if not reach and len(regions) > 1:
            reach = [int(r) for r in ranked if _can_serve(problem, solve_params, reps[r], j)][:1]
        reach = reach or [int(ranked[0])]
        if len(reach) == 1:
            region_of[j] = reach[0]
        else:
            border.append((j, reach))
    for k in np.flatnonzero(region_of >= 0):
        fleet.load[region_of[k]] += fleet.need(problem.orders[int(k)])
    for j, reach in border:
        # Most spare capacity wins; ties go to the nearer hub (reach is nearest first).
        r = max(reach, key=lambda r: (round(fleet.spare(r), 9), -reach.index(r)))
        region_of[j] = r
        fleet.load[r] += fleet.need(problem.orders[j])
    return region_of


# -- sectors -----------------------------------------------------------------------------
def _angles(
    problem: AllocationProblem, h: int, points: Sequence[tuple[float, float]]
) -> npt.NDArray[np.float64]:
    hub = problem.hubs[h]
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    dy = pts[:, 0] - hub.lat
    # Longitude degrees shrink with latitude; plane fixtures (|lat| > 90) are left as they are.
    shrink = math.cos(math.radians(hub.lat)) if abs(hub.lat) <= 90 else 1.0
    dx = (pts[:, 1] - hub.lon) * shrink
    return np.arctan2(dy, dx)


def _sweep(angles: npt.NDArray[np.float64], k: int) -> list[npt.NDArray[np.int64]]:
    """Positions (into `angles`) of k angular sectors of near-equal size, cut so that the
    sweep starts just after the widest empty angle."""
    order = np.argsort(angles, kind="stable")
    a = angles[order]
    gaps = np.diff(np.concatenate([a, [a[0] + 2 * math.pi]]))
    start = (int(np.argmax(gaps)) + 1) % len(a)
    rotated = np.roll(order, -start)
    return [np.asarray(c, dtype=np.int64) for c in np.array_split(rotated, k)]


def _circular_mean(angles: npt.NDArray[np.float64]) -> float:
    return float(np.arctan2(np.sin(angles).sum(), np.cos(angles).sum()))


def _sectors(
    problem: AllocationProblem,
    params: DecomposeParams,
    h: int,
    members: npt.NDArray[np.int64],
    drivers: list[int],
    pinned: dict[int, int],
    border: set[int],
    fleet: _RegionFleet,
    dist_to_hub: npt.NDArray[np.float64],
) -> list[Part]:
    hub = problem.hubs[h]
    k = max(1, math.ceil(len(members) / params.max_part_orders))
    k = min(k, max(1, len(drivers)))
    if k == 1:
        groups = [members]
        driver_sector = {v: 0 for v in drivers}
    else:
        angles = _angles(problem, h, [(problem.orders[j].lat, problem.orders[j].lon) for j in members])
        cuts = _sweep(angles, k)
        groups = [members[c] for c in cuts]
        directions = [_circular_mean(angles[c]) for c in cuts]
        driver_sector = _deal_drivers(problem, h, groups, directions, drivers, pinned, fleet)
    # Orders pinned to a van follow the van's sector.
    sector_of = {int(j): s for s, g in enumerate(groups) for j in g}
    for j, v in pinned.items():
        if j in sector_of and v in driver_sector:
            sector_of[j] = driver_sector[v]
    parts = []
    for s in range(k):
        orders = sorted(j for j, sec in sector_of.items() if sec == s)
        mine = [v for v in drivers if driver_sector[v] == s]
        if not orders and not mine:
            continue
        sub = AllocationProblem(
            tuple(replace(problem.drivers[v], hub=0) for v in mine),
            tuple(problem.orders[j] for j in orders),
            (hub,),
            travel=problem.travel,
            due_margin_s=problem.due_margin_s,
        )
        key = hub.id if k == 1 else f"{hub.id}/{s + 1}"
        border_ids = tuple(problem.orders[j].id for j in orders if j in border)
        parts.append(Part(key, h, s, sub, border_ids))
    return parts


def _deal_drivers(
    problem: AllocationProblem,
    h: int,
    groups: list[npt.NDArray[np.int64]],
    directions: list[float],
    drivers: list[int],
    pinned: dict[int, int],
    fleet: _RegionFleet,
) -> dict[int, int]:
    """Driver index -> sector. Every sector gets at least one driver (k <= drivers)."""
    k = len(groups)
    need = np.array([sum((fleet.need(problem.orders[j]) for j in g), np.zeros(2)) for g in groups])
    need = need / np.maximum(need.sum(axis=0), 1.0)
    ds = [problem.drivers[v] for v in drivers]
    rows = [(d.capacity_parcels, working_s(problem, d, fleet.params)) for d in ds]
    supply = np.array(rows, dtype=np.float64).reshape(-1, 2)
    supply = supply / np.maximum(supply.sum(axis=0), 1.0)
    got = np.zeros((k, 2))
    out: dict[int, int] = {}
    # 1) drivers holding pinned orders go where most of those orders are;
    sector_of = {int(j): s for s, g in enumerate(groups) for j in g}
    votes: dict[int, list[int]] = {}
    for j, v in pinned.items():
        if j in sector_of:
            votes.setdefault(v, []).append(sector_of[j])
    # 2) drivers away from the hub go to the sector they are in.
    hub = problem.hubs[h]
    for i, v in enumerate(drivers):
        d = problem.drivers[v]
        if v in votes:
            out[v] = max(set(votes[v]), key=lambda s: (votes[v].count(s), -s))
        elif _far(problem, d, hub.lat, hub.lon):
            a = float(_angles(problem, h, [(d.lat, d.lon)])[0])
            out[v] = int(np.argmin([abs(math.remainder(a - c, 2 * math.pi)) for c in directions]))
        else:
            continue
        got[out[v]] += supply[i]
    # 3) the rest, biggest first, to the sector whose need is least covered.
    free = sorted((i for i, v in enumerate(drivers) if v not in out), key=lambda i: (-supply[i].max(), i))
    for i in free:
        empty = [s for s in range(k) if not any(sec == s for sec in out.values())]
        if empty:
            s = max(empty, key=lambda s: (need[s].max(), -s))
        else:
            s = int(np.argmax((need - got).max(axis=1)))
        out[drivers[i]] = s
        got[s] += supply[i]
    return out


def _far(problem: AllocationProblem, d: DriverSpec, lat: float, lon: float) -> bool:
    dist, _ = problem.travel.matrices(np.asarray([[d.lat, d.lon], [lat, lon]]), 0, "van")
    return bool(dist[0, 1] > AWAY_FROM_HUB_M)


def _neighbours(problem: AllocationProblem, parts: list[Part]) -> dict[str, tuple[str, ...]]:
    """Per part, the other parts by distance between their order centroids (hub if empty)."""
    centres = []
    for p in parts:
        if p.problem.orders:
            centres.append(np.mean([(o.lat, o.lon) for o in p.problem.orders], axis=0))
        else:
            centres.append(np.asarray([p.problem.hubs[0].lat, p.problem.hubs[0].lon]))
    if not parts:
        return {}
    dist, _ = problem.travel.matrices(np.asarray(centres, dtype=np.float64), 0, "van")
    out = {}
    for a, p in enumerate(parts):
        ranked = [int(b) for b in np.argsort(dist[a], kind="stable") if int(b) != a]
        out[p.key] = tuple(parts[b].key for b in ranked)
    return out
