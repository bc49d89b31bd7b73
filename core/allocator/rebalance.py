"""Re-optimising a day under way: price and cap how much the live plan changes.

The solver already pays `move_cost_cents` for each order it takes from its current driver
(a visit cost for every other vehicle).  The change budget (`max_orders_moved`,
`max_routes_touched`) is then checked on the solver's plan and repaired by undoing the moves
worth least, one at a time, until it fits.  Finally the plan must be no worse than the live
one under `evaluate()`, or the live plan is kept.
"""

import time

from core.allocator.evaluate import evaluate_plan
from core.allocator.pricing import Pricing
from core.allocator.result import RoutePlan

BUDGET_TRIM_LIMIT_S = 1.5


def moved_orders(initial: RoutePlan, plan: RoutePlan) -> dict[str, tuple[str, str | None]]:
    """Orders of the live plan now on another driver (or dropped): id -> (from, to)."""
    now = {o: d for d, orders in plan.items() for o in orders}
    return {o: (d, now.get(o)) for d, orders in initial.items() for o in orders if now.get(o) != d}


def routes_touched(initial: RoutePlan, plan: RoutePlan) -> set[str]:
    """Drivers that gained or lost an order of the live plan (new orders do not count)."""
    touched: set[str] = set()
    for frm, to in moved_orders(initial, plan).values():
        touched.add(frm)
        if to is not None:
            touched.add(to)
    return touched


def _units(pricing: Pricing, plan: RoutePlan) -> tuple[bool, int]:
    m = evaluate_plan(pricing.problem, plan, pricing.params, pricing=pricing).metrics
    return m.feasible, m.objective_units


def no_worse(pricing: Pricing, plan: RoutePlan, than: RoutePlan) -> bool:
    """Feasible beats infeasible; otherwise the lower (or equal) objective wins."""
    feasible_a, units_a = _units(pricing, plan)
    feasible_b, units_b = _units(pricing, than)
    if feasible_a != feasible_b:
        return feasible_a
    return units_a <= units_b


def _revert(pricing: Pricing, plan: RoutePlan, order_id: str, back_to: str) -> dict[str, list[str]]:
    """Plan with `order_id` moved back to `back_to`, at its cheapest position there."""
    base = {d: [o for o in orders if o != order_id] for d, orders in plan.items()}
    route = base.get(back_to, [])
    best: dict[str, list[str]] | None = None
    best_key: tuple[bool, int] | None = None
    for pos in range(len(route) + 1):
        trial = dict(base)
        trial[back_to] = [*route[:pos], order_id, *route[pos:]]
        feasible, units = _units(pricing, trial)
        key = (not feasible, units)
        if best_key is None or key < best_key:
            best, best_key = trial, key
    assert best is not None
    return {d: o for d, o in best.items() if o}


def enforce_budget(
    pricing: Pricing, initial: RoutePlan, plan: RoutePlan, time_limit_s: float = BUDGET_TRIM_LIMIT_S
) -> tuple[dict[str, list[str]], list[str]]:
    """Undo the least valuable moves until the change budget holds; notes say what was undone.

    Each undo prices every move, so trimming hundreds of moves on a large day is slow: past
    `time_limit_s` the live plan's routes are kept as they are (no move at all, so within any
    budget) and the orders the search had added are left for the caller to insert.
    """
    started = time.monotonic()
    params = pricing.params
    max_moved, max_touched = params.max_orders_moved, params.max_routes_touched
    current = {d: list(o) for d, o in plan.items()}
    notes: list[str] = []

    def over(p: RoutePlan) -> bool:
        moved = len(moved_orders(initial, p))
        touched = len(routes_touched(initial, p))
        return (max_moved is not None and moved > max_moved) or (
            max_touched is not None and touched > max_touched
        )

    while over(current):
        options = []
        for order_id, (frm, _) in moved_orders(initial, current).items():
            if time.monotonic() - started > time_limit_s:
                notes.append("change budget: too many moves to trim in time; the live routes are kept")
                return {d: list(o) for d, o in initial.items() if o}, notes
            trial = _revert(pricing, current, order_id, frm)
            feasible, units = _units(pricing, trial)
            options.append(((not feasible, units), order_id, trial))
        _, order_id, current = min(options, key=lambda t: t[0])
        notes.append(f"change budget: kept {order_id} with its current driver")
    return current, notes
