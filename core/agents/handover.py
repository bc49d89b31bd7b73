"""Stranded loads: parcels in a van whose driver cannot go on (a breakdown, a compliance block).

Each stranded van's load is handed over one of two ways, whichever the model prices lower:

- **rescue**: another driver drives to the van, takes the parcels over (a transfer stop of
  `TRANSFER_S` at the van's position) and delivers them with their own. The rescuer's day
  is re-planned from the van: their start moves there, at the moment the transfer ends.
- **back to the hub**: a recovery run brings the load back (`RECOVERY_CENTS`, ready at the
  hub `RECOVERY_HANDLING_S` after it arrives) and the parcels are dispatched again like new
  orders.

Both options are priced with the allocator's own objective (`evaluate`, breaks left out) on
the plan as it would be, so the choice weighs lateness, unserved parcels and fleet cost as a
re-plan does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from core.allocator import families as fam
from core.allocator.evaluate import evaluate_plan
from core.allocator.insertion import insert_greedily
from core.allocator.params import SolveParams
from core.allocator.pricing import UNITS_PER_CENT
from core.allocator.problem import AllocationProblem, DriverSpec, OrderSpec
from core.allocator.result import RoutePlan

TRANSFER_S = 10 * 60  # meet the van, move the parcels across, scan them
RECOVERY_CENTS = 6_000  # a recovery run bringing a van's load back to the hub
RECOVERY_HANDLING_S = 20 * 60  # unload and re-sort at the hub before it can go out again
RESCUERS_TRIED = 6  # nearest drivers priced as a rescuer for one van

RESCUE, BACK_TO_HUB = "rescue", "back_to_hub"


@dataclass(frozen=True)
class Handover:
    """How one stranded van's load goes on: who takes it (None: back to the hub), where, when."""

    from_driver: str
    kind: str  # RESCUE or BACK_TO_HUB
    to_driver: str | None
    lat: float
    lon: float
    at_s: int  # the transfer ends (rescue) or the load is back at the hub
    orders: tuple[str, ...]
    why: str  # why the van cannot go on, in words


@dataclass(frozen=True)
class HandedOver:
    """The day's problem and plan once every stranded load has a way to go on."""

    problem: AllocationProblem
    plan: dict[str, list[str]]
    handovers: tuple[Handover, ...]


def stranded_loads(problem: AllocationProblem) -> dict[str, list[str]]:
    """Driver id -> orders loaded in a van whose driver may not go on."""
    blocked = {d.id for d in problem.drivers if d.blocked}
    out: dict[str, list[str]] = {}
    for o in problem.orders:
        if o.locked_driver_id in blocked:
            out.setdefault(o.locked_driver_id, []).append(o.id)
    return out


def _travel_s(problem: AllocationProblem, a: tuple[float, float], b: tuple[float, float], at_s: int) -> int:
    _, duration = problem.travel.matrices(np.array([a, b], dtype=np.float64), at_s)
    return int(duration[0, 1])


def _units(problem: AllocationProblem, plan: RoutePlan, params: SolveParams) -> int:
    return evaluate_plan(problem, plan, params).metrics.objective_units


def _rescuer(problem: AllocationProblem, r: DriverSpec, van: DriverSpec, now_s: int) -> DriverSpec:
    """`r` re-planned from the van: loaded at the hub first if it had not left, then the transfer."""
    hub = problem.hubs[r.hub]
    leave_s = max(r.available_s, now_s) + (hub.turnaround_s if r.loading_at_start else 0)
    arrive_s = leave_s + _travel_s(problem, (r.lat, r.lon), (van.lat, van.lon), leave_s)
    return replace(r, lat=van.lat, lon=van.lon, start_s=arrive_s + TRANSFER_S, loading_at_start=False)


def _with(
    problem: AllocationProblem, drivers: dict[str, DriverSpec], orders: dict[str, OrderSpec]
) -> AllocationProblem:
    changed = tuple(orders.get(o.id, o) for o in problem.orders)
    if not drivers:  # same places: keep the travel matrices
        return problem.with_orders(changed)
    return replace(problem, drivers=tuple(drivers.get(d.id, d) for d in problem.drivers), orders=changed)


@dataclass(frozen=True)
class _Option:
    """One way on for a van's load: its added objective units, the handover, and the problem
    and plan as they would be (`plan` holds the load wherever the pricing put it)."""

    added: int
    handover: Handover
    problem: AllocationProblem
    plan: dict[str, list[str]]


def _rescue(
    problem: AllocationProblem,
    plan: RoutePlan,
    van: DriverSpec,
    r: DriverSpec,
    load: list[str],
    now_s: int,
    params: SolveParams,
) -> _Option | None:
    """Driver `r` as the rescuer, or None when their route cannot take the whole load."""
    by_id = {o.id: o for o in problem.orders}
    rescuer = _rescuer(problem, r, van, now_s)
    relocked = {o: replace(by_id[o], locked_driver_id=r.id) for o in load}
    own = list(plan.get(r.id, []))
    sub_before = replace(problem, drivers=(r,), orders=tuple(by_id[o] for o in own))
    sub_after = replace(problem, drivers=(rescuer,), orders=(*sub_before.orders, *relocked.values()))
    route, left = insert_greedily(sub_after, {r.id: own} if own else {}, load, params)
    if left:
        return None
    added = _units(sub_after, route, params) - _units(sub_before, {r.id: own} if own else {}, params)
    handover = Handover(van.id, RESCUE, r.id, van.lat, van.lon, rescuer.start_s, tuple(load), "")
    new_plan = {**{d: list(o) for d, o in plan.items()}, r.id: route[r.id]}
    return _Option(added, handover, _with(problem, {r.id: rescuer}, relocked), new_plan)


def _back_to_hub(
    problem: AllocationProblem,
    plan: RoutePlan,
    van: DriverSpec,
    load: list[str],
    now_s: int,
    params: SolveParams,
) -> _Option:
    """The load back at the hub and dispatched again (priced by inserting it into `plan`)."""
    hub = problem.hubs[van.hub]
    back_s = now_s + _travel_s(problem, (van.lat, van.lon), (hub.lat, hub.lon), now_s) + RECOVERY_HANDLING_S
    by_id = {o.id: o for o in problem.orders}
    freed = {
        o: replace(
            by_id[o], locked_driver_id=None, ready_s=min(max(by_id[o].ready_s, back_s), by_id[o].due_s)
        )
        for o in load
    }
    changed = _with(problem, {}, freed)
    base_units = _units(changed, plan, params)
    new_plan, _ = insert_greedily(changed, plan, load, params)
    added = _units(changed, new_plan, params) - base_units + RECOVERY_CENTS * UNITS_PER_CENT
    handover = Handover(van.id, BACK_TO_HUB, None, hub.lat, hub.lon, back_s, tuple(load), "")
    return _Option(added, handover, changed, new_plan)


def hand_over(
    problem: AllocationProblem,
    plan: RoutePlan,
    now_s: int,
    params: SolveParams,
    why: dict[str, str],
) -> HandedOver:
    """Give every stranded load its cheaper way on; `plan` is the live plan without the
    stranded vans' routes, `why[driver]` says in words why that van cannot go on.

    The options are compared with breaks left out of the pricing (breaks weigh on the options
    much alike, and a route walk with breaks costs about a dozen without); the chosen rescue is
    then planned with breaks. A load going back to the hub is left unrouted, ready when it is back:
    the re-plan's repair places it with every other waiting order."""
    current = {d: list(o) for d, o in plan.items()}
    priced = {d: list(o) for d, o in plan.items()}  # the plan as the options priced it
    quick = params.without(fam.HOS_BREAK)
    handovers: list[Handover] = []
    busy: set[str] = set()
    if not params.on(fam.LOCKS):
        return HandedOver(problem, current, ())
    for van_id, load in sorted(stranded_loads(problem).items()):
        van = problem.drivers[problem.driver_index[van_id]]
        free = [d for d in problem.drivers if not d.blocked and d.id != van.id and d.id not in busy]
        near = sorted(free, key=lambda d: (d.lat - van.lat) ** 2 + (d.lon - van.lon) ** 2)[:RESCUERS_TRIED]
        options = [o for r in near if (o := _rescue(problem, priced, van, r, load, now_s, quick)) is not None]
        back = _back_to_hub(problem, priced, van, load, now_s, quick)
        chosen = min([*options, back], key=lambda o: o.added)
        rescue = None
        if chosen.handover.to_driver is not None:
            r = problem.drivers[problem.driver_index[chosen.handover.to_driver]]
            rescue = _rescue(problem, current, van, r, load, now_s, params)
        if rescue is not None:
            assert rescue.handover.to_driver is not None
            busy.add(rescue.handover.to_driver)
            problem, current, handover = rescue.problem, rescue.plan, rescue.handover
            priced[rescue.handover.to_driver] = list(chosen.plan[rescue.handover.to_driver])
        else:  # back to the hub (or a rescue that breaks were found to rule out)
            problem, handover = back.problem, back.handover
            priced = back.plan
        handovers.append(replace(handover, why=why.get(van_id, "the van cannot go on")))
    return HandedOver(problem, current, tuple(handovers))
