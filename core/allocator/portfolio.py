"""PyVRP on the part of the problem it can express, as a warm start for the full model.

The relaxation keeps capacity (parcels, weight, volume), hard order windows, shifts and
max route duration, per-driver starts and end hubs, per-metre and per-hour rates, fixed
costs and droppable orders (prize = drop penalty).  It leaves out eligibility, breaks, zone
risk, lateness prices and workload: OR-Tools, under the full model, decides whether to keep
what PyVRP found (orders PyVRP put on a driver the model forbids are left for it to place).
"""

from typing import TYPE_CHECKING, Any

import numpy as np

from core.allocator import families as fam
from core.allocator.kinds import SlaMode
from core.allocator.precheck import Candidates
from core.allocator.pricing import Pricing
from core.allocator.result import RoutePlan

if TYPE_CHECKING:  # pyvrp is imported where it runs: a solve without the portfolio never loads it
    from pyvrp import ProblemData

_UNIT = 1000  # PyVRP costs in 1/10 cent: keeps its integers far from overflow warnings


def _scaled(units: int) -> int:
    return 0 if units == 0 else max(1, round(units / _UNIT))


def pyvrp_data(pricing: Pricing, candidates: Candidates) -> tuple["ProblemData", list[int]]:
    """ProblemData of the relaxation and, per PyVRP client, the problem's order index."""
    from pyvrp import Client, Depot, Location, ProblemData, VehicleType

    pr, params = pricing.problem, pricing.params
    m = len(pr.drivers)
    orders = candidates.modelled()
    hubs = sorted({d.hub for d in pr.drivers})
    nodes = [pr.start_node(v) for v in range(m)] + [pr.hub_node(h) for h in hubs] + orders
    pts = pr.points()
    locations = [Location(x=float(pts[k, 0]), y=float(pts[k, 1])) for k in nodes]
    depots = [
        Depot(location=v, tw_early=pr.drivers[v].available_s, tw_late=pr.drivers[v].shift_end_s)
        for v in range(m)
    ]
    depots += [Depot(location=m + i) for i in range(len(hubs))]
    cap_on, sla_on = params.on(fam.CAPACITY), params.on(fam.SLA_WINDOW)
    # Soft windows: PyVRP cannot price lateness, so it gets the hard limit OR-Tools keeps.
    late_ok = params.max_late_s if params.sla_mode is SlaMode.SOFT else 0
    clients = []
    for k, j in enumerate(orders):
        o = pr.orders[j]
        clients.append(
            Client(
                location=m + len(hubs) + k,
                delivery=[o.parcels, o.weight_g, o.volume_ml] if cap_on else [],
                service_duration=o.service_time_s,
                tw_early=o.ready_s if sla_on else 0,
                tw_late=o.due_s + late_ok if sla_on else np.iinfo(np.int64).max,
                prize=_scaled(pricing.drop_units[j]),
                required=False,
            )
        )
    idx = np.asarray(nodes)
    dist = pr.distance_m[np.ix_(idx, idx)]
    profiles: dict[tuple[str, int], int] = {}
    durations: list[Any] = []  # int64 matrices; pyvrp's stubs type them as ndarray[int, ...]
    for v in range(m):
        key = pr.speed_profile(v)
        if key not in profiles:
            profiles[key] = len(durations)
            durations.append(pr.duration_s(v)[np.ix_(idx, idx)])
    types = []
    for v, d in enumerate(pr.drivers):
        shift_on = params.on(fam.SHIFT_WINDOW)
        limit = d.max_route_duration_s if params.on(fam.MAX_ROUTE_DURATION) else None
        types.append(
            VehicleType(
                num_available=1,
                capacity=[d.capacity_parcels, d.capacity_weight_g, d.capacity_volume_ml] if cap_on else [],
                start_depot=v,
                end_depot=m + hubs.index(d.hub),
                fixed_cost=_scaled(pricing.fixed_units[v]),
                tw_early=d.available_s + pricing.start_service_s[v],
                tw_late=d.shift_end_s if shift_on else np.iinfo(np.int64).max,
                shift_duration=limit if limit is not None else np.iinfo(np.int64).max,
                unit_distance_cost=_scaled(pricing.arc_units_per_m[v]),
                unit_duration_cost=_scaled(pricing.span_units_per_s[v]),
                profile=profiles[pr.speed_profile(v)],
            )
        )
    data = ProblemData(locations, clients, depots, types, [dist] * len(durations), durations)
    return data, orders


def pyvrp_plan(pricing: Pricing, candidates: Candidates, seconds: float, seed: int) -> RoutePlan | None:
    """PyVRP's best feasible plan of the relaxation within `seconds`, or None."""
    from pyvrp import solve as pyvrp_solve
    from pyvrp.stop import MaxRuntime

    if seconds <= 0 or not candidates.modelled() or not pricing.problem.drivers:
        return None
    data, orders = pyvrp_data(pricing, candidates)
    result = pyvrp_solve(data, MaxRuntime(seconds), seed=seed, collect_stats=False, display=False)
    if not result.best.is_feasible():
        return None
    pr = pricing.problem
    plan: dict[str, list[str]] = {}
    for route in result.best.routes():
        driver = pr.drivers[route.vehicle_type()].id
        visits = [pr.orders[orders[a.idx]].id for a in route if a.is_client()]
        if visits:
            plan[driver] = visits
    return plan


def _child(pricing: Pricing, candidates: Candidates, seconds: float, seed: int, conn: object) -> None:
    try:
        conn.send(pyvrp_plan(pricing, candidates, seconds, seed))  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a failed helper must not kill the solve
        conn.send(None)  # type: ignore[attr-defined]
    finally:
        conn.close()  # type: ignore[attr-defined]


class PyvrpInBackground:
    """PyVRP in a forked process, so it uses the second core while OR-Tools searches here."""

    def __init__(self, pricing: Pricing, candidates: Candidates, seconds: float, seed: int) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("fork")
        self._recv, send = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_child, args=(pricing, candidates, seconds, seed, send), daemon=True)
        self._proc.start()
        send.close()
        self._seconds = seconds

    def result(self) -> RoutePlan | None:
        plan = None
        if self._recv.poll(self._seconds + 10.0):
            try:
                plan = self._recv.recv()
            except EOFError:
                plan = None
        self._proc.join(timeout=1.0)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()
        return plan
