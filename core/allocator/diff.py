"""Compare two plans: who moves where, which routes change, and a sentence saying why."""

from collections import Counter
from dataclasses import dataclass

from core.allocator.problem import AllocationProblem
from core.allocator.result import Metrics, RoutePlan
from core.kinds import FleetType


@dataclass(frozen=True)
class Move:
    """An order that changes driver; positions are 0-based within the route."""

    order_id: str
    from_driver: str | None
    from_position: int | None
    to_driver: str | None
    to_position: int | None


@dataclass(frozen=True)
class DriverChange:
    driver_id: str
    gained: tuple[str, ...]
    lost: tuple[str, ...]
    resequenced: bool
    stops_before: int
    stops_after: int


@dataclass(frozen=True)
class PlanDiff:
    """`moves`: driver to driver; `assigned`/`unassigned`: from or to no driver."""

    moves: tuple[Move, ...]
    assigned: tuple[Move, ...]
    unassigned: tuple[Move, ...]
    drivers: tuple[DriverChange, ...]

    @property
    def orders_moved(self) -> int:
        return len(self.moves)

    @property
    def routes_touched(self) -> int:
        return sum(1 for d in self.drivers if d.gained or d.lost)

    @property
    def empty(self) -> bool:
        return not (self.moves or self.assigned or self.unassigned or self.drivers)


def _positions(plan: RoutePlan) -> dict[str, tuple[str, int]]:
    return {o: (d, i) for d, orders in plan.items() for i, o in enumerate(orders)}


def diff_plans(before: RoutePlan, after: RoutePlan) -> PlanDiff:
    was, now = _positions(before), _positions(after)
    moves: list[Move] = []
    assigned: list[Move] = []
    unassigned: list[Move] = []
    for order_id in sorted(set(was) | set(now)):
        frm, to = was.get(order_id), now.get(order_id)
        if frm is not None and to is not None and frm[0] == to[0]:
            continue
        move = Move(
            order_id,
            frm[0] if frm else None,
            frm[1] if frm else None,
            to[0] if to else None,
            to[1] if to else None,
        )
        (moves if frm and to else assigned if to else unassigned).append(move)
    changes = []
    for driver_id in sorted(set(before) | set(after)):
        old, new = list(before.get(driver_id, ())), list(after.get(driver_id, ()))
        if old == new:
            continue
        gained = tuple(o for o in new if o not in set(old))
        lost = tuple(o for o in old if o not in set(new))
        kept_old = [o for o in old if o in set(new)]
        kept_new = [o for o in new if o in set(old)]
        changes.append(DriverChange(driver_id, gained, lost, kept_old != kept_new, len(old), len(new)))
    return PlanDiff(tuple(moves), tuple(assigned), tuple(unassigned), tuple(changes))


_FLEET_WORDS = {
    FleetType.CAPTIVE: "captive driver",
    FleetType.THIRD_PARTY: "3PL driver",
    FleetType.GIG: "gig courier",
}


def _who(problem: AllocationProblem | None, driver_id: str) -> str:
    if problem is None or driver_id not in problem.driver_index:
        return f"driver {driver_id}"
    d = problem.drivers[problem.driver_index[driver_id]]
    return f"{_FLEET_WORDS[d.fleet_type]} {driver_id}"


def _money(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def _change(label: str, before: int, after: int, shown: str, shown_after: str) -> str | None:
    if before == after:
        return None
    verb = "fall" if after < before else "rise"
    if not label.endswith("deliveries"):
        verb += "s"
    return f"{label} {verb} from {shown} to {shown_after}"


def rationale(
    diff: PlanDiff,
    before: Metrics,
    after: Metrics,
    problem: AllocationProblem | None = None,
    max_groups: int = 2,
) -> str:
    """Plain words for a dispatcher, e.g. "14 orders move from gig courier G-17 to captive
    driver C-3; predicted late deliveries fall from 9 to 2; cost falls from $1,240.00 to ..."."""
    parts: list[str] = []
    groups = Counter((m.from_driver, m.to_driver) for m in diff.moves)
    for (frm, to), n in groups.most_common(max_groups):
        noun = "order moves" if n == 1 else "orders move"
        parts.append(f"{n} {noun} from {_who(problem, frm or '')} to {_who(problem, to or '')}")
    rest = diff.orders_moved - sum(n for _, n in groups.most_common(max_groups))
    if rest > 0:
        parts.append(f"{rest} more {'order moves' if rest == 1 else 'orders move'} between routes")
    if diff.assigned:
        parts.append(f"{len(diff.assigned)} unassigned orders get a driver")
    if diff.unassigned:
        parts.append(f"{len(diff.unassigned)} orders lose their driver")
    reseq = sum(1 for d in diff.drivers if d.resequenced)
    if reseq:
        parts.append(f"{reseq} {'route is' if reseq == 1 else 'routes are'} resequenced")
    if not parts:
        parts.append("no change to the plan")
    for text in (
        _change(
            "predicted late deliveries",
            before.late_count,
            after.late_count,
            str(before.late_count),
            str(after.late_count),
        ),
        _change(
            "cost",
            before.cost_cents,
            after.cost_cents,
            _money(before.cost_cents),
            _money(after.cost_cents),
        ),
        _change(
            "CO2",
            before.co2_g,
            after.co2_g,
            f"{before.co2_g / 1000:.1f} kg",
            f"{after.co2_g / 1000:.1f} kg",
        ),
    ):
        if text:
            parts.append(text)
    sentence = "; ".join(parts)
    return sentence[0].upper() + sentence[1:] + "."
