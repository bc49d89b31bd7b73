"""An independent feasibility checker for Solomon VRPTW plans.

It recomputes everything from the routes and the raw instance in floating point and shares no
code with any solver runner (not even the travel matrices), so a bug in how a solver is fed
cannot hide a bad plan.
"""

from __future__ import annotations

import math
import numbers
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from core.bench.solomon_instance import SolomonInstance

TIME_TOLERANCE = 1e-9
"""Slack on time comparisons that absorbs the rounding of summed square roots, nothing more."""


@dataclass(frozen=True)
class Check:
    """Result of `check`. `distance` is the real-valued Euclidean length of all routes."""

    feasible: bool
    vehicles: int
    distance: float
    violations: list[str] = field(default_factory=list)


def _customer(c: object) -> object:
    """numpy integers count as customer numbers; anything else non-integral stays as it is."""
    if isinstance(c, numbers.Integral) and not isinstance(c, bool):
        return int(c)
    return c


def check(inst: SolomonInstance, routes: Sequence[Sequence[int]]) -> Check:
    """Check a plan: routes of customer numbers (1..n, as in the file), depot left out.

    Violations reported: a customer not visited, visited more than once, or unknown (0 or
    out of range); more non-empty routes than vehicles; a route over capacity; service
    starting after the customer's due date (arriving early and waiting is fine); a route back
    at the depot after the depot's due date. Empty routes are ignored and use no vehicle.
    """
    n = len(inst.x) - 1
    violations: list[str] = []
    used = [[_customer(c) for c in r] for r in routes if len(r) > 0]

    counts = Counter(c for r in used for c in r)
    unknown = [c for c in counts if not (isinstance(c, int) and 1 <= c <= n)]
    for c in unknown:
        violations.append(f"unknown customer {c!r}: customers are 1..{n}")
    for c in range(1, n + 1):
        if counts[c] == 0:
            violations.append(f"customer {c} is not visited")
        elif counts[c] > 1:
            violations.append(f"customer {c} is visited {counts[c]} times")
    if len(used) > inst.vehicles:
        violations.append(f"{len(used)} routes but only {inst.vehicles} vehicles")

    total = 0.0
    for number, route in enumerate(used, 1):
        stops = [c for c in route if isinstance(c, int) and c not in unknown]
        load = sum(int(inst.demand[c]) for c in stops)
        if load > inst.capacity:
            violations.append(f"route {number}: load {load} exceeds capacity {inst.capacity}")

        prev = 0
        clock = float(inst.ready[0])  # leave the depot when it opens
        for c in stops:
            leg = math.hypot(float(inst.x[c] - inst.x[prev]), float(inst.y[c] - inst.y[prev]))
            total += leg
            start = max(clock + leg, float(inst.ready[c]))  # wait if early
            if start > float(inst.due[c]) + TIME_TOLERANCE:
                violations.append(
                    f"route {number}: customer {c} service starts at {start:.4f},"
                    f" after its due date {float(inst.due[c]):g}"
                )
            clock = start + float(inst.service[c])
            prev = c
        leg = math.hypot(float(inst.x[0] - inst.x[prev]), float(inst.y[0] - inst.y[prev]))
        total += leg
        back = clock + leg
        if back > float(inst.due[0]) + TIME_TOLERANCE:
            violations.append(
                f"route {number}: back at the depot at {back:.4f},"
                f" after the depot's due date {float(inst.due[0]):g}"
            )

    return Check(feasible=not violations, vehicles=len(used), distance=total, violations=violations)
