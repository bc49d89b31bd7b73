"""Metro days benchmark: decomposed, parallel solves of large synthetic days; prints a table.

    ctower bench metro --cases 1k,3k,demo,20k --budgets 10,30 --results bench/RESULTS.md

Days are seeded and built directly as `AllocationProblem`s with numpy (no database): hubs,
a mixed fleet with the demo's rate cards and vehicles, and orders scattered around the hubs
with 2- and 4-hour windows between 08:00 and 20:00.  Every driver has its region's break
rule (30 min after 5 h in New York, after 8 h in New Jersey).

For each day: the first complete plan (each part stops at its first solution), then a
solve per wall-time budget.  Wall and CPU seconds (this process and its reaped workers),
peak memory of the process tree (psutil, sampled), and the load average when the run began:
on a shared machine the wall time says as much about the neighbours as about the solver.
Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import math
import os
import platform
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from core.allocator.costs import FleetCost
from core.allocator.decompose import DecomposeParams
from core.allocator.executor import DaskExecutor, Executor, executor_for
from core.allocator.metro import MetroParams, solve_metro
from core.allocator.problem import AllocationProblem, DriverSpec, HubSpec, OrderSpec
from core.allocator.result import RoutePlan
from core.allocator.solve import solve
from core.allocator.stop import MaxRuntime, MaxSolutions
from core.kinds import BrandTier, FleetType, VehicleKind

H = 3600
NEW_YORK = (40.70, -73.95)
KM_PER_DEG_LAT = 111.32

# The demo metro's hubs (core/scenario_data/nyc.json) with their region's break rule
# (core/scenario_data/regions.json: NY 30 min after 5 h, NJ 30 min after 8 h).
DEMO_HUBS: tuple[tuple[str, float, float, int, int, int], ...] = (
    # code, lat, lon, turnaround_s, break_after_s, break_duration_s
    ("BKN", 40.676, -74.008, 1200, 5 * H, 1800),
    ("QNS", 40.744, -73.937, 1200, 5 * H, 1800),
    ("BRX", 40.812, -73.883, 1500, 5 * H, 1800),
    ("NJC", 40.789, -74.057, 1200, 8 * H, 1800),
)


@dataclass(frozen=True)
class Site:
    """A hub of a synthetic day, with the break rule of its region."""

    code: str
    lat: float
    lon: float
    turnaround_s: int = 1200
    break_after_s: int = 5 * H
    break_duration_s: int = 1800


# Demo rate cards (core/scenario/city.py FLEETS), as solver cost models.
FLEET_MIX: tuple[tuple[FleetType, float, FleetCost], ...] = (
    (FleetType.CAPTIVE, 0.50, FleetCost.captive(per_hour_cents=3200, per_km_cents=45)),
    (FleetType.THIRD_PARTY, 0.30, FleetCost.third_party(per_drop_cents=650, route_minimum_cents=9000)),
    (FleetType.GIG, 0.20, FleetCost.gig(per_task_cents=750, per_km_cents=40, min_payout_cents=2500)),
)
# vehicle kind, share, parcels, weight_g, volume_ml, co2_g_per_km
VEHICLE_MIX: tuple[tuple[VehicleKind, float, int, int, int, int], ...] = (
    (VehicleKind.VAN, 0.6, 140, 1_100_000, 10_000_000, 240),
    (VehicleKind.CAR, 0.3, 40, 350_000, 1_500_000, 150),
    (VehicleKind.CARGO_BIKE, 0.1, 25, 150_000, 800_000, 0),
)


def single_hub_day(
    seed: int, n_orders: int, n_drivers: int, radius_km: float | None = None
) -> AllocationProblem:
    """One hub at New York coordinates; orders in a disc whose area grows with the order count."""
    radius = radius_km if radius_km is not None else 4.0 * math.sqrt(n_orders / 250)
    return metro_day(seed, n_orders, n_drivers, (Site("NYC", *NEW_YORK),), radius_km=radius)


def demo_day(seed: int, n_orders: int = 2_000, n_drivers: int = 150) -> AllocationProblem:
    """The demo scenario's scale: its four hubs, orders within ~9 km of them."""
    sites = tuple(Site(c, la, lo, t, b, d) for c, la, lo, t, b, d in DEMO_HUBS)
    return metro_day(seed, n_orders, n_drivers, sites, radius_km=9.0)


def grid_sites(
    n_hubs: int, spacing_km: float = 9.0, centre: tuple[float, float] = NEW_YORK
) -> tuple[Site, ...]:
    """`n_hubs` hubs on a near-square grid around `centre`, `spacing_km` apart; NJ-side hubs
    (west of the centre) get New Jersey's longer break rule."""
    cols = math.ceil(math.sqrt(n_hubs))
    rows = math.ceil(n_hubs / cols)
    lat0, lon0 = centre
    km_lon = KM_PER_DEG_LAT * math.cos(math.radians(lat0))
    sites = []
    for k in range(n_hubs):
        r, c = divmod(k, cols)
        dy = (r - (rows - 1) / 2) * spacing_km
        dx = (c - (cols - 1) / 2) * spacing_km
        nj = dx < 0 and c == 0
        sites.append(
            Site(
                f"H{k:02d}",
                lat0 + dy / KM_PER_DEG_LAT,
                lon0 + dx / km_lon,
                break_after_s=8 * H if nj else 5 * H,
            )
        )
    return tuple(sites)


def metro_day(
    seed: int,
    n_orders: int,
    n_drivers: int,
    sites: Sequence[Site],
    radius_km: float,
) -> AllocationProblem:
    """Orders around each site (uniform in a disc of `radius_km`, shares drawn per site),
    drivers spread over the sites in proportion to their orders, all on the region break rule."""
    rng = np.random.default_rng(seed)
    h = len(sites)
    share = rng.dirichlet(np.full(h, 8.0)) if h > 1 else np.ones(1)
    site_of_order = rng.choice(h, size=n_orders, p=share)
    # Uniform in a disc: radius ~ sqrt(U).
    r_km = radius_km * np.sqrt(rng.random(n_orders))
    theta = rng.random(n_orders) * 2 * math.pi
    lat0 = np.array([s.lat for s in sites])[site_of_order]
    lon0 = np.array([s.lon for s in sites])[site_of_order]
    lat = lat0 + r_km * np.sin(theta) / KM_PER_DEG_LAT
    lon = lon0 + r_km * np.cos(theta) / (KM_PER_DEG_LAT * np.cos(np.radians(lat0)))
    wide = rng.random(n_orders) < 0.5  # half 4-hour windows, half 2-hour windows
    width_h = np.where(wide, 4, 2)
    ready_h = rng.integers(8, 21 - width_h)  # windows end by 20:00
    parcels = rng.integers(1, 4, size=n_orders)
    weight = rng.integers(200, 8_000, size=n_orders) * parcels
    volume = rng.integers(1_000, 20_000, size=n_orders) * parcels
    service = rng.integers(120, 300, size=n_orders)
    premium = rng.random(n_orders) < 0.15
    priority = rng.choice(3, size=n_orders, p=[0.8, 0.15, 0.05])
    orders = tuple(
        OrderSpec(
            id=f"O{j:06d}",
            lat=float(lat[j]),
            lon=float(lon[j]),
            zone=f"{sites[site_of_order[j]].code}-{int(theta[j] / (math.pi / 4))}",
            parcels=int(parcels[j]),
            weight_g=int(weight[j]),
            volume_ml=int(volume[j]),
            ready_s=int(ready_h[j]) * H,
            due_s=int(ready_h[j] + width_h[j]) * H,
            service_time_s=int(service[j]),
            priority=int(priority[j]),
            brand_tier=BrandTier.PREMIUM if premium[j] else BrandTier.STANDARD,
        )
        for j in range(n_orders)
    )
    counts = np.bincount(site_of_order, minlength=h)
    drivers_per_site = _apportion(n_drivers, counts)
    hubs = tuple(HubSpec(s.code, s.lat, s.lon, turnaround_s=s.turnaround_s) for s in sites)
    fleets = [f for f, _, _ in FLEET_MIX]
    fleet_p = [p for _, p, _ in FLEET_MIX]
    costs = {f: c for f, _, c in FLEET_MIX}
    kinds_p = [p for _, p, *_ in VEHICLE_MIX]
    drivers: list[DriverSpec] = []
    for k, s in enumerate(sites):
        for _ in range(int(drivers_per_site[k])):
            fleet = fleets[rng.choice(len(fleets), p=fleet_p)]
            kind, _, cap_p, cap_w, cap_v, co2 = VEHICLE_MIX[rng.choice(len(VEHICLE_MIX), p=kinds_p)]
            start_h = int(rng.choice([8, 8, 9, 10]))
            drivers.append(
                DriverSpec(
                    id=f"D{len(drivers):05d}",
                    fleet_type=fleet,
                    lat=s.lat,
                    lon=s.lon,
                    hub=k,
                    cost=costs[fleet],
                    shift_start_s=start_h * H,
                    shift_end_s=min(20, start_h + 10) * H,
                    start_s=start_h * H,
                    capacity_parcels=cap_p,
                    capacity_weight_g=cap_w,
                    capacity_volume_ml=cap_v,
                    co2_g_per_km=co2,
                    vehicle_type=kind,
                    work_before_break_s=s.break_after_s,
                    break_duration_s=s.break_duration_s,
                )
            )
    return AllocationProblem(tuple(drivers), orders, hubs)


def _apportion(total: int, weights: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Integers summing to `total`, proportional to `weights` (largest remainder)."""
    exact = total * weights / max(1, weights.sum())
    out: npt.NDArray[np.int64] = np.floor(exact).astype(np.int64)
    rest = total - out.sum()
    for k in np.argsort(-(exact - out), kind="stable")[:rest]:
        out[k] += 1
    return out


# -- the benchmark -----------------------------------------------------------------------
CASES: dict[str, tuple[str, Callable[[int], AllocationProblem]]] = {
    "tiny": (  # for the smoke test that keeps this benchmark from rotting
        "60 orders / 6 drivers, 2 hubs",
        lambda seed: metro_day(seed, 60, 6, grid_sites(2), radius_km=3.0),
    ),
    "1k": ("1,000 stops / 60 drivers, 1 hub", lambda seed: single_hub_day(seed, 1_000, 60)),
    "3k": ("3,000 stops / 150 drivers, 1 hub", lambda seed: single_hub_day(seed, 3_000, 150)),
    "demo": ("2,000 orders / 150 drivers, 4 demo hubs", lambda seed: demo_day(seed)),
    "20k": (
        "20,000 orders / 1,000 drivers, 20 hubs",
        lambda seed: metro_day(seed, 20_000, 1_000, grid_sites(20), radius_km=6.0),
    ),
    "100k": (
        "100,000 orders / 5,000 drivers, 100 hubs on a 10 x 10 grid 9 km apart",
        lambda seed: metro_day(seed, 100_000, 5_000, grid_sites(100), radius_km=6.0),
    ),
}
FIRST = "first"
SECTION = "## Metro days"


class PeakMemory:
    """Peak memory of this process and all its children (pool or dask workers), sampled
    every `interval_s` by a background thread with psutil.

    Sums PSS (proportional set size: a page shared by n processes counts 1/n in each), so
    forked workers do not count the parent's pages again; falls back to RSS where the
    system has no PSS.
    """

    def __init__(self, interval_s: float = 0.1) -> None:
        import psutil

        self._me = psutil.Process()
        self._psutil = psutil
        self.interval_s = interval_s
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        total = 0
        for p in [self._me, *self._me.children(recursive=True)]:
            try:
                info = p.memory_full_info()
                total += getattr(info, "pss", info.rss)
            except (self._psutil.NoSuchProcess, self._psutil.AccessDenied):
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, self._sample())
            self._stop.wait(self.interval_s)

    def __enter__(self) -> PeakMemory:
        self.peak_bytes = self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, self._sample())


@dataclass(frozen=True)
class Row:
    case: str
    orders: int
    drivers: int
    hubs: int
    run: str
    parts: int
    wall_s: float
    cpu_s: float
    served: int
    unassigned: int
    late: int
    cost_cents: int
    feasible: bool
    peak_mb: float
    load: float
    plan_digest: str = ""
    plan: RoutePlan = field(default_factory=dict, repr=False, compare=False)


def _cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run_case(
    name: str,
    problem: AllocationProblem,
    run: str,
    workers: int,
    scheduler: str | None,
    metro: MetroParams,
    seed: int,
    dask_workers: int = 0,
    warm: RoutePlan | None = None,
) -> Row:
    """One solve of one day: `run` is FIRST (stop at each part's first plan) or a budget in
    seconds.  A fresh pool per run, so its workers' CPU is counted when they are reaped.
    `dask_workers` > 0: a dask LocalCluster of that many one-thread worker processes on the
    loopback instead (started before the clock, inside the memory sampling).  `warm`: a plan
    of the day each part starts from (see `solve_metro`)."""
    load = os.getloadavg()[0]
    cpu = _cpu_s()
    with PeakMemory() as mem, _executor(scheduler, workers, dask_workers) as executor:
        started = time.perf_counter()
        if run == FIRST:
            stop = MaxSolutions(1, max_runtime_s=600.0, stall_s=600.0)
            result = solve_metro(problem, stop, seed=seed, executor=executor, metro=metro, warm=warm)
        else:
            result = solve_metro(
                problem, seed=seed, executor=executor, metro=metro, budget_s=float(run), warm=warm
            )
        wall = time.perf_counter() - started
    m = result.metrics
    parts = next((int(n.split()[0]) for n in result.notes if n.endswith("orders") and "parts" in n), 1)
    label = run if run == FIRST else f"{run} s"
    if dask_workers:
        label += f" (dask, {dask_workers} workers)"
    digest = hashlib.sha1(repr(sorted(result.plan().items())).encode()).hexdigest()[:12]
    return Row(
        name, len(problem.orders), len(problem.drivers), len(problem.hubs),
        label, parts, wall, _cpu_s() - cpu, m.orders_served,
        m.orders_unassigned, m.late_count, m.cost_cents, m.feasible, mem.peak_bytes / 2**20, load, digest,
        result.plan(),
    )  # fmt: skip


@contextlib.contextmanager
def _executor(scheduler: str | None, workers: int, dask_workers: int) -> Iterator[Executor]:
    if not dask_workers:
        with executor_for(scheduler, workers) as executor:
            yield executor
        return
    import dask
    from dask.distributed import Client, LocalCluster

    with dask.config.set({"distributed.worker.multiprocessing-method": "fork"}):
        cluster = LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=dask_workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
    try:
        with Client(cluster) as client:  # type: ignore[no-untyped-call]
            client.wait_for_workers(dask_workers, timeout=300)
            with DaskExecutor(client) as executor:
                yield executor
    finally:
        cluster.close()


def whole_row(name: str, problem: AllocationProblem, seconds: float, seed: int) -> Row:
    """The textbook way, for comparison: one `solve()` over the whole day."""
    load = os.getloadavg()[0]
    cpu = _cpu_s()
    started = time.perf_counter()
    with PeakMemory() as mem:
        result = solve(problem, MaxRuntime(seconds), seed=seed)
    m = result.metrics
    return Row(
        name, len(problem.orders), len(problem.drivers), len(problem.hubs),
        f"{seconds:g} s whole", 1, time.perf_counter() - started, _cpu_s() - cpu, m.orders_served,
        m.orders_unassigned, m.late_count, m.cost_cents, m.feasible, mem.peak_bytes / 2**20, load,
    )  # fmt: skip


LEGEND = (
    "Runs: `first` = first complete plan (each part stops at its first solution); `N s` = a "
    "wall-time budget for the whole solve, shared out per part (a part's construction and its "
    "late-stop repair are never cut, so a budget below the first-plan time is overrun); "
    "`whole` = one plain `solve()` over the whole day. CPU s = this process and its reaped "
    "workers. Peak MB = PSS summed over the process tree, sampled every 0.1 s. Load = 1-minute "
    "load average when the run began: the machine has 2 cores, so above 2 the run waited for "
    "CPU and wall time is inflated."
)

HEADER = (
    "| day | run | parts | wall s | CPU s | served | unassigned | late | cost $ | $/stop "
    "| feasible | peak MB | load |"
)
RULE = "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|"


def table(rows: Sequence[Row]) -> str:
    lines = [HEADER, RULE]
    for r in rows:
        per_stop = r.cost_cents / 100 / r.served if r.served else 0.0
        lines.append(
            f"| {r.case} | {r.run} | {r.parts} | {r.wall_s:.1f} | {r.cpu_s:.1f} | {r.served} | "
            f"{r.unassigned} | {r.late} | {r.cost_cents / 100:,.0f} | {per_stop:.2f} | "
            f"{'yes' if r.feasible else 'no'} | {r.peak_mb:,.0f} | {r.load:.1f} |"
        )
    return "\n".join(lines)


PRICE_HEADER = (
    "| day | metro run | metro cost $ | metro late | reference run | reference cost $ | reference late "
    "| cost gap % |\n|---|---|--:|--:|---|--:|--:|--:|"
)


def price_row(case: str, metro: Row, ref: Row) -> str:
    """The price of decomposition: the metro plan against the reference (bigger parts, more time)."""
    gap = 100.0 * (metro.cost_cents - ref.cost_cents) / max(1, ref.cost_cents)
    return (
        f"| {case} | {metro.run} | {metro.cost_cents / 100:,.0f} | {metro.late} | {ref.run} | "
        f"{ref.cost_cents / 100:,.0f} | {ref.late} | {gap:+.2f} |"
    )


def machine() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())} at the end"
    )


def write_section(path: Path, command: str, body: str) -> None:
    """Replace (or add) the "## Metro days" section of `path`, leaving other sections."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    section = f"{SECTION}\n\n{body.rstrip()}\n"
    lines = text.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if ln.rstrip() == SECTION), None)
    if start is None:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        tail = "".join(lines[end:])
        text = "".join(lines[:start]) + section + ("\n" + tail if tail else "")
    path.write_text(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cases", default="1k,3k,demo,20k", help=f"comma list of {', '.join(CASES)}")
    parser.add_argument("--budgets", default="10,30", help="wall-time budgets in seconds (comma list)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="local pool size")
    parser.add_argument("--scheduler", default=None, help="dask scheduler address (default: local pool)")
    parser.add_argument("--max-part-orders", type=int, default=250)
    parser.add_argument("--whole", type=float, default=0.0,
                        help="also run one solve() over the whole 1k day for this many seconds")  # fmt: skip
    parser.add_argument("--on-time-first", action="store_true",
                        help="windows one break shorter: no stop made late by a break")  # fmt: skip
    parser.add_argument("--results", default=None, help="write the table into this markdown file")
    parser.add_argument("--reference", type=float, default=0.0,
                        help="price of decomposition: also solve each day with parts of up to "
                        "--reference-part-orders orders and this many times the first budget, "
                        "starting from the first budget's plan (so never worse than it)")  # fmt: skip
    parser.add_argument("--reference-part-orders", type=int, default=1_000)
    parser.add_argument("--dask-local", type=int, default=0,
                        help="also make first plans on a local dask cluster of N workers")  # fmt: skip


def main(args: argparse.Namespace) -> int:
    metro = MetroParams(
        decompose=DecomposeParams(max_part_orders=args.max_part_orders), on_time_first=args.on_time_first
    )
    budgets = [b.strip() for b in args.budgets.split(",") if b.strip()]
    rows: list[Row] = []
    prices: list[str] = []
    same: list[str] = []
    for name in [c.strip() for c in args.cases.split(",") if c.strip()]:
        label, make = CASES[name]
        problem = make(args.seed)
        for run in [FIRST, *budgets]:
            row = run_case(name, problem, run, args.workers, args.scheduler, metro, args.seed)
            rows.append(row)
            print(table([row]).splitlines()[-1], flush=True)
        if args.dask_local:
            row = run_case(name, problem, FIRST, args.workers, None, metro, args.seed, args.dask_local)
            rows.append(row)
            print(table([row]).splitlines()[-1], flush=True)
            local = next(r for r in rows if r.case == name and r.run == FIRST)
            equal = "==" if row.plan_digest == local.plan_digest else "!="
            same.append(
                f"{name}: dask plan {equal} local pool plan ({row.plan_digest} / {local.plan_digest})"
            )
        if name == "1k" and args.whole > 0:
            rows.append(whole_row(name, problem, args.whole, args.seed))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
        if args.reference > 0 and budgets:
            wide = replace(
                metro, decompose=replace(metro.decompose, max_part_orders=args.reference_part_orders)
            )
            ref_s = f"{float(budgets[0]) * args.reference:g}"
            base = next(r for r in rows if r.case == name and r.run == f"{budgets[0]} s")
            row = run_case(
                name, problem, ref_s, args.workers, args.scheduler, wide, args.seed, warm=base.plan
            )
            row = replace(row, run=f"{ref_s} s reference from the {budgets[0]} s plan")
            rows.append(row)
            print(table([row]).splitlines()[-1], flush=True)
            prices.append(price_row(name, base, row))
    body = "\n".join(
        [
            f"Machine: {machine()}.",
            "",
            table(rows),
            "",
            "Days: " + "; ".join(f"{k} = {CASES[k][0]}" for k in CASES) + ".",
            "",
            LEGEND,
        ]
    )
    if same:
        body += "\n\nFirst plans, dask against the local pool: " + "; ".join(same) + "."
    if prices:
        body += "\n\n" + PRICE_HEADER + "\n" + "\n".join(prices)
    print()
    print(body)
    if args.results:
        command = "ctower bench metro " + " ".join(sys.argv[3:])
        write_section(Path(args.results), command, f"Command: `{command}`\n\n{body}")
    return 0
