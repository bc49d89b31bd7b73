"""The proposal's "why": one function per constraint family, each accounting for its share.

Every function takes (problem, result, params, initial) and returns a `Contribution`; the
cost-bearing ones sum to the plan's objective, the pure constraints report what they bound
at zero cost.  `best_insertions()` answers "where would this new order go?".
"""

from collections.abc import Callable
from dataclasses import dataclass, replace

from core.allocator import families as fam
from core.allocator.eligibility import static_issue
from core.allocator.evaluate import RouteSchedule, current_of
from core.allocator.kinds import PremiumOnGig, SlaMode
from core.allocator.params import DEFAULT_PARAMS, SolveParams
from core.allocator.pricing import UNITS_PER_CENT, Pricing
from core.allocator.problem import AllocationProblem, OrderSpec
from core.allocator.result import AllocationResult, RoutePlan
from core.kinds import BrandTier, FleetType
from core.timeutil import hhmm


@dataclass(frozen=True)
class Contribution:
    family: str
    cost_cents: int
    details: tuple[str, ...] = ()


Explainer = Callable[[AllocationProblem, AllocationResult, SolveParams, RoutePlan | None], Contribution]


def fleet_cost(
    pr: AllocationProblem, res: AllocationResult, p: SolveParams, _: RoutePlan | None
) -> Contribution:
    """Money paid to fleets, by route, with each fleet's own pay model."""
    details = []
    for r in res.routes:
        d = pr.drivers[pr.driver_index[r.driver_id]]
        details.append(
            f"{r.driver_id} ({d.fleet_type}): {len(r.visits)} drops, {r.distance_m / 1000:.1f} km, "
            f"{r.duration_s // 60} min: {r.cost_cents} c"
        )
    return Contribution(fam.FLEET_COST, sum(r.cost_cents for r in res.routes), tuple(details))


def co2(pr: AllocationProblem, res: AllocationResult, p: SolveParams, _: RoutePlan | None) -> Contribution:
    """CO2 at `co2_cents_per_kg`, so a cleaner vehicle can win a close call."""
    cents = round(res.metrics.co2_g * p.co2_cents_per_kg / 1000)
    details = tuple(f"{r.driver_id}: {r.co2_g / 1000:.2f} kg" for r in res.routes if r.co2_g)
    return Contribution(fam.CO2, cents, details)


def sla_window(
    pr: AllocationProblem, res: AllocationResult, p: SolveParams, _: RoutePlan | None
) -> Contribution:
    """Graded per second late, so one order 40 min late outweighs three orders 2 min late."""
    late = [(v.order_id, v.late_s) for v in res.visits() if v.late_s > 0]
    per_s = round(p.late_cents_per_min * UNITS_PER_CENT / 60) if p.sla_mode is SlaMode.SOFT else 0
    cents = sum(s for _, s in late) * per_s // UNITS_PER_CENT
    return Contribution(fam.SLA_WINDOW, cents, tuple(f"{o}: {s // 60} min late" for o, s in late))


def zone_success(
    pr: AllocationProblem, res: AllocationResult, p: SolveParams, _: RoutePlan | None
) -> Contribution:
    """Expected failed-delivery cost, (1 - p) x 1778 c, of each driver in each stop's zone."""
    total, details = 0.0, []
    for r in res.routes:
        d = pr.drivers[pr.driver_index[r.driver_id]]
        for v in r.visits:
            o = pr.orders[pr.order_index[v.order_id]]
            risk = (1 - d.success_rate(o.zone)) * p.failed_delivery_cost_cents
            total += risk
            if risk >= 1:
                details.append(f"{o.id} in {o.zone or 'no zone'} by {d.id}: {risk:.0f} c at risk")
    return Contribution(fam.ZONE_SUCCESS, round(total), tuple(details))


def brand_tier(
    pr: AllocationProblem, res: AllocationResult, p: SolveParams, _: RoutePlan | None
) -> Contribution:
    """Premium orders on gig couriers: the surcharge paid, or the bar that kept them off."""
    premium_on_gig = [
        v.order_id
        for r in res.routes
        if pr.drivers[pr.driver_index[r.driver_id]].fleet_type is FleetType.GIG
        for v in r.visits
        if pr.orders[pr.order_index[v.order_id]].brand_tier is BrandTier.PREMIUM
    ]
    premium = sum(1 for o in pr.orders if o.brand_tier is BrandTier.PREMIUM)
    if p.premium_on_gig is PremiumOnGig.BAR:
        return Contribution(fam.BRAND_TIER, 0, (f"{premium} premium orders kept off gig couriers",))
    cents = len(premium_on_gig) * p.premium_gig_surcharge_cents
    return Contribution(
        fam.BRAND_TIER, cents, tuple(f"{o}: premium on a gig courier" for o in premium_on_gig)
    )


def workload(
    pr: AllocationProblem, res: AllocationResult, p: SolveParams, _: RoutePlan | None
) -> Contribution:
    """The busiest route's stop count is priced, which spreads work across drivers."""
    stops = sorted(((len(r.visits), r.driver_id) for r in res.routes), reverse=True)
    if not stops:
        return Contribution(fam.WORKLOAD, 0)
    cents = stops[0][0] * p.workload_cents_per_stop
    return Contribution(
        fam.WORKLOAD,
        cents,
        (f"busiest route {stops[0][1]} with {stops[0][0]} stops; quietest {stops[-1][0]}",),
    )


def change_cost(
    pr: AllocationProblem, res: AllocationResult, p: SolveParams, initial: RoutePlan | None
) -> Contribution:
    """Orders taken from the driver who had them in the live plan, at `move_cost_cents` each."""
    was = current_of(initial)
    moved = [(o, was[o], res.driver_of(o)) for o in was if res.driver_of(o) not in (None, was[o])]
    return Contribution(
        fam.CHANGE_COST,
        len(moved) * p.move_cost_cents,
        tuple(f"{o}: {a} -> {b}" for o, a, b in moved),
    )


def unserved(
    pr: AllocationProblem, res: AllocationResult, p: SolveParams, _: RoutePlan | None
) -> Contribution:
    """Orders left out, at drop_penalty x (1 + priority), with their reasons."""
    cents = sum(
        p.drop_penalty_cents * (1 + pr.orders[pr.order_index[u.order_id]].priority) for u in res.unassigned
    )
    return Contribution(fam.UNSERVED, cents, tuple(f"{u.order_id}: {u.reason_text}" for u in res.unassigned))


def hos_break(
    pr: AllocationProblem, res: AllocationResult, p: SolveParams, _: RoutePlan | None
) -> Contribution:
    details = tuple(
        f"{r.driver_id}: break {hhmm(b.start_s)} for {b.duration_s // 60} min"
        for r in res.routes
        for b in r.breaks
    )
    return Contribution(fam.HOS_BREAK, 0, details)


def capacity(
    pr: AllocationProblem, res: AllocationResult, p: SolveParams, _: RoutePlan | None
) -> Contribution:
    details = []
    for r in res.routes:
        d = pr.drivers[pr.driver_index[r.driver_id]]
        parcels = sum(pr.orders[pr.order_index[o]].parcels for o in r.order_ids)
        weight = sum(pr.orders[pr.order_index[o]].weight_g for o in r.order_ids)
        details.append(
            f"{r.driver_id}: {parcels}/{d.capacity_parcels} parcels, "
            f"{weight / 1000:.1f}/{d.capacity_weight_g / 1000:.1f} kg"
        )
    return Contribution(fam.CAPACITY, 0, tuple(details))


def _restriction(family: str) -> Explainer:
    def explain(
        pr: AllocationProblem, res: AllocationResult, p: SolveParams, _: RoutePlan | None
    ) -> Contribution:
        barred = sum(
            1
            for j in range(pr.n_orders)
            for v in range(len(pr.drivers))
            if (issue := static_issue(pr, p, v, j)) is not None and issue[0] == family
        )
        return Contribution(family, 0, (f"{barred} driver-order pairs ruled out",) if barred else ())

    explain.__doc__ = f"Pairs ruled out by {family}; a pure constraint, so no cost of its own."
    return explain


EXPLAINERS: dict[str, Explainer] = {
    fam.FLEET_COST: fleet_cost,
    fam.CO2: co2,
    fam.SLA_WINDOW: sla_window,
    fam.ZONE_SUCCESS: zone_success,
    fam.BRAND_TIER: brand_tier,
    fam.WORKLOAD: workload,
    fam.CHANGE_COST: change_cost,
    fam.UNSERVED: unserved,
    fam.HOS_BREAK: hos_break,
    fam.CAPACITY: capacity,
    **{
        f: _restriction(f)
        for f in (fam.SKILLS, fam.VEHICLE_TYPE, fam.FLEET_ELIGIBILITY, fam.LOCKS, fam.BLOCKED)
    },
}


def explain(
    problem: AllocationProblem,
    result: AllocationResult,
    params: SolveParams = DEFAULT_PARAMS,
    initial: RoutePlan | None = None,
) -> tuple[Contribution, ...]:
    """Contributions of every enabled family, largest cost first."""
    out = [fn(problem, result, params, initial) for f, fn in EXPLAINERS.items() if params.on(f)]
    return tuple(sorted(out, key=lambda c: -c.cost_cents))


@dataclass(frozen=True)
class Insertion:
    """Where a new order could go: before `position` in the driver's route (0 = first)."""

    driver_id: str
    position: int
    added_cost_cents: int
    added_minutes: float
    late: bool
    slack_minutes: float
    other_stops_made_late: int


def best_insertions(
    problem: AllocationProblem,
    result: AllocationResult,
    order: OrderSpec,
    k: int = 3,
    params: SolveParams = DEFAULT_PARAMS,
) -> list[Insertion]:
    """The `k` cheapest places for `order` in the current routes (cheap insertion: every
    position of every eligible driver, priced by the objective's own coefficients)."""
    extended = replace(problem, orders=(*problem.orders, order))
    pricing = Pricing(extended, params)
    j_new = extended.n_orders - 1
    plan = result.plan()
    options: list[Insertion] = []
    for v, d in enumerate(extended.drivers):
        if static_issue(extended, params, v, j_new) is not None:
            continue
        nodes = [extended.order_index[o] for o in plan.get(d.id, [])]
        base = RouteSchedule(pricing, v, nodes) if nodes else None
        base_units = base.units if base else 0
        base_end = base.route.duration_s if base else 0
        base_late = sum(1 for x in base.route.visits if x.late_s > 0) if base else 0
        for pos in range(len(nodes) + 1):
            trial = RouteSchedule(pricing, v, [*nodes[:pos], j_new, *nodes[pos:]])
            if trial.violations:
                continue
            visit = next(x for x in trial.route.visits if x.order_id == order.id)
            late_others = sum(1 for x in trial.route.visits if x.late_s > 0 and x.order_id != order.id)
            options.append(
                Insertion(
                    d.id,
                    pos,
                    (trial.units - base_units) // UNITS_PER_CENT,
                    (trial.route.duration_s - base_end) / 60,
                    visit.late_s > 0,
                    (order.due_s - visit.service_start_s) / 60,
                    max(0, late_others - base_late),
                )
            )
    options.sort(key=lambda i: (i.added_cost_cents, i.driver_id, i.position))
    return options[:k]
