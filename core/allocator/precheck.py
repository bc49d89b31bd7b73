"""Before solving: which drivers could ever serve each order, and why the others cannot.

An order with no candidate is left out of the model and reported with the rule that rules
out each driver ("no eligible driver: 12 lack skill cold_chain, 3 blocked by compliance"),
which is what a dispatcher needs to fix the input rather than re-run the solver.
"""

from collections import Counter
from collections.abc import Set
from dataclasses import dataclass

from core.allocator import families as fam
from core.allocator.eligibility import static_issue
from core.allocator.params import SolveParams
from core.allocator.pricing import Pricing
from core.allocator.result import Unassigned


@dataclass(frozen=True)
class Candidates:
    """`allowed[j]`: driver indices that may serve order j (empty when j is excluded)."""

    allowed: tuple[tuple[int, ...], ...]
    excluded: tuple[Unassigned, ...]

    def modelled(self) -> list[int]:
        return [j for j, a in enumerate(self.allowed) if a]


def time_issue(pricing: Pricing, v: int, j: int) -> tuple[str, str] | None:
    """Can driver v reach order j in its window and still get back in shift, as a lone stop?"""
    pr, params = pricing.problem, pricing.params
    d, o = pr.drivers[v], pr.orders[j]
    leave_s = d.available_s + pricing.start_service_s[v]
    arrive = leave_s + int(pr.duration_s(v)[pr.start_node(v), j])
    windows = params.on(fam.SLA_WINDOW)
    begin = max(arrive, o.ready_s) if windows else arrive
    if windows:
        if begin > o.due_s + params.allowed_late_s:
            return fam.SLA_WINDOW, "arrive after the due time"
    back = begin + o.service_time_s + int(pr.duration_s(v)[j, pr.end_node(v)])
    if params.on(fam.SHIFT_WINDOW) and back > d.shift_end_s:
        return fam.SHIFT_WINDOW, "cannot finish before shift end"
    if params.on(fam.MAX_ROUTE_DURATION) and d.max_route_duration_s is not None:
        shortest = back - max(begin - arrive, 0) - d.available_s
        if shortest > d.max_route_duration_s:
            return fam.MAX_ROUTE_DURATION, "route would exceed max duration"
    return None


def check_candidates(pricing: Pricing, params: SolveParams, only: Set[int] | None = None) -> Candidates:
    """Every (driver, order) pair through `static_issue` and `time_issue`; drivers alike in
    everything those read are asked once per order (a fleet of identical vans, once).
    `only`: check just these orders (to explain the ones a plan left out); the others are
    listed with no candidate and no reason."""
    pr = pricing.problem
    allowed: list[tuple[int, ...]] = []
    excluded: list[Unassigned] = []
    twins = _alike(pricing)
    for j, o in enumerate(pr.orders):
        if only is not None and j not in only:
            allowed.append(())
            continue
        ok: list[int] = []
        why: Counter[tuple[str, str]] = Counter()
        locked = params.on(fam.LOCKS) and o.locked_driver_id is not None
        seen: dict[int, tuple[str, str] | None] = {}
        for v in range(len(pr.drivers)):
            first = twins[v]
            if locked or first not in seen:
                seen[first] = static_issue(pr, params, v, j) or time_issue(pricing, v, j)
            issue = seen[first]
            if issue is None:
                ok.append(v)
            else:
                why[issue] += 1
        allowed.append(tuple(ok))
        if not ok:
            excluded.append(_reason(o.id, why))
    return Candidates(tuple(allowed), tuple(excluded))


def _alike(pricing: Pricing) -> list[int]:
    """Per driver, the first driver with the same eligibility, start, end, shift and speed."""
    pr = pricing.problem
    pts = pr.points()
    first: dict[tuple[object, ...], int] = {}
    out = []
    for v, d in enumerate(pr.drivers):
        key = (
            d.blocked, d.fleet_type, d.skills, d.vehicle_type, d.max_item_weight_g,
            d.capacity_parcels, d.capacity_weight_g, d.capacity_volume_ml,
            d.available_s, d.shift_end_s, d.max_route_duration_s, pricing.start_service_s[v],
            tuple(pts[pr.start_node(v)]), tuple(pts[pr.end_node(v)]), pr.speed_profile(v),
        )  # fmt: skip
        out.append(first.setdefault(key, v))
    return out


def _reason(order_id: str, why: Counter[tuple[str, str]]) -> Unassigned:
    if not why:
        return Unassigned(order_id, fam.NO_ELIGIBLE_DRIVER, "no eligible driver: no drivers")
    parts = [f"{n} {label}" for (_, label), n in why.most_common()]
    families = {f for f, _ in why}
    code = families.pop() if len(families) == 1 else fam.NO_ELIGIBLE_DRIVER
    return Unassigned(order_id, code, "no eligible driver: " + ", ".join(parts))
