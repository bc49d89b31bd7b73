"""The allocator in a pure-VRPTW configuration: the Solomon benchmark's adapter to `solve()`.

Conventions (shared/benchmarks/solomon/README.md): Euclidean real distances, travel time =
distance, service starts within [ready, due], back at the depot by its due time.  Everything
is scaled by 1000 to integers; travel times are rounded UP (so an integer-feasible plan is
feasible in real arithmetic) and distances to nearest.  The objective is distance only, with
the fixed fleet of the file.  The portfolio runs PyVRP in a second process while OR-Tools
searches, then OR-Tools continues from the better plan under the full model and decides.
"""

from core.allocator import families as fam
from core.allocator.costs import FleetCost
from core.allocator.kinds import SlaMode
from core.allocator.params import SolveParams
from core.allocator.problem import AllocationProblem, DriverSpec, HubSpec, OrderSpec
from core.allocator.solve import solve
from core.allocator.stop import MaxRuntime
from core.allocator.travel import EuclideanTravel
from core.bench.solomon_instance import SolomonInstance
from core.kinds import FleetType

SCALE = 1000
VRPTW = SolveParams(
    enabled=frozenset({fam.CAPACITY, fam.SHIFT_WINDOW, fam.SLA_WINDOW, fam.FLEET_COST, fam.UNSERVED}),
    sla_mode=SlaMode.HARD,
    portfolio=True,
    portfolio_share=0.9,
)


def _up(value: float) -> int:
    return int(-(-round(float(value) * SCALE, 6) // 1))


def _down(value: float) -> int:
    return int(round(float(value) * SCALE, 6) // 1)


def solomon_problem(inst: SolomonInstance) -> AllocationProblem:
    """Customers as orders (id = customer number), identical vehicles at the depot."""
    n = len(inst.x) - 1
    depot_due = _down(inst.due[0])
    orders = tuple(
        OrderSpec(
            id=str(i),
            lat=float(inst.x[i]),
            lon=float(inst.y[i]),
            parcels=int(inst.demand[i]),
            ready_s=_up(inst.ready[i]),
            due_s=_down(inst.due[i]),
            service_time_s=_up(inst.service[i]),
        )
        for i in range(1, n + 1)
    )
    cost = FleetCost.captive(per_hour_cents=0, per_km_cents=1)
    drivers = tuple(
        DriverSpec(
            id=f"V{k}",
            fleet_type=FleetType.CAPTIVE,
            lat=float(inst.x[0]),
            lon=float(inst.y[0]),
            hub=0,
            cost=cost,
            shift_start_s=_up(inst.ready[0]),
            shift_end_s=depot_due,
            start_s=_up(inst.ready[0]),
            capacity_parcels=int(inst.capacity),
        )
        for k in range(inst.vehicles)
    )
    hub = HubSpec("depot", float(inst.x[0]), float(inst.y[0]))
    return AllocationProblem(drivers, orders, (hub,), travel=EuclideanTravel(scale=SCALE))


def solve_solomon(instance: SolomonInstance, seconds: float, seed: int) -> list[list[int]]:
    """Routes of customer numbers (depot left out), from `seconds` of wall time."""
    result = solve(solomon_problem(instance), MaxRuntime(seconds), seed=seed, params=VRPTW)
    return [[int(o) for o in r.order_ids] for r in result.routes]
