"""Integer coefficients of the objective, shared by `model.py` and `evaluate()`.

Both sides read the same numbers, so the cost OR-Tools minimises and the cost `evaluate()`
recomputes from plain routes agree to the unit.  The objective is in units of 1/10,000 cent:
fine enough that per-metre and per-second rates round to integers with negligible error.

Linearisations of the pay models (documented approximations):
* captive  per-hour pay -> span cost on `time_s` (units per second of route), per-km -> arc cost;
* third_party max(per_drop x d, minimum M) -> fixed cost M when the route is used plus
  per_drop x max(0, d - floor(M / per_drop)) as a soft upper bound on the route's stop count:
  exact when per_drop divides M, otherwise at most one per_drop too high;
* gig max(per_task x d + per_km x km, min payout P) -> the same form on tasks, with the km pay
  always added on top: small gig routes are overestimated by at most their km pay.
"""

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from core.allocator import families as fam
from core.allocator.kinds import PremiumOnGig
from core.allocator.params import SolveParams
from core.allocator.problem import AllocationProblem
from core.allocator.travel import IntMatrix
from core.kinds import BrandTier, FleetType

UNITS_PER_CENT = 10_000


@dataclass(frozen=True)
class StopCap:
    """Soft upper bound on a route's stop count: `units_per_stop` for each stop over `stops`."""

    stops: int
    units_per_stop: int


class Pricing:
    """Every objective coefficient and time transit of one (problem, params, current plan)."""

    def __init__(
        self,
        problem: AllocationProblem,
        params: SolveParams,
        current: Mapping[str, str] | None = None,
    ) -> None:
        self.problem = problem
        self.params = params
        self.current = dict(current or {})
        m, n = len(problem.drivers), problem.n_orders
        self.arc_units_per_m = [self._arc_units_per_m(v) for v in range(m)]
        self.span_units_per_s = [self._span_units_per_s(v) for v in range(m)]
        self.fixed_units = [0] * m
        self.stop_caps: list[StopCap | None] = [None] * m
        self.visit_units = np.zeros((m, n), dtype=np.int64)
        for v in range(m):
            self._fleet_terms(v)
            self.fixed_units[v] += problem.drivers[v].start_cost_cents * UNITS_PER_CENT
            self.visit_units[v] += self._visit_extras(v)
        self.late_units_per_s = round(params.late_cents_per_min * UNITS_PER_CENT / 60)
        self.drop_units = [
            params.drop_penalty_cents * (1 + o.priority) * UNITS_PER_CENT for o in problem.orders
        ]
        on_workload = params.on(fam.WORKLOAD)
        self.workload_units_per_stop = params.workload_cents_per_stop * UNITS_PER_CENT if on_workload else 0
        self.start_service_s = [
            problem.hubs[d.hub].turnaround_s if d.loading_at_start and params.on(fam.HUB_TURNAROUND) else 0
            for d in problem.drivers
        ]

    # -- per-vehicle rates ----------------------------------------------------------------
    def _arc_units_per_m(self, v: int) -> int:
        d = self.problem.drivers[v]
        units = 0.0
        if self.params.on(fam.FLEET_COST) and d.fleet_type is not FleetType.THIRD_PARTY:
            units += d.cost.per_km_cents * UNITS_PER_CENT / 1000
        if self.params.on(fam.CO2):
            units += d.co2_g_per_km * self.params.co2_cents_per_kg * UNITS_PER_CENT / 1e6
        return round(units)

    def _span_units_per_s(self, v: int) -> int:
        d = self.problem.drivers[v]
        if not self.params.on(fam.FLEET_COST) or d.fleet_type is not FleetType.CAPTIVE:
            return 0
        return round(d.cost.per_hour_cents * UNITS_PER_CENT / 3600)

    def _fleet_terms(self, v: int) -> None:
        d = self.problem.drivers[v]
        if not self.params.on(fam.FLEET_COST) or d.fleet_type is FleetType.CAPTIVE:
            return
        if d.fleet_type is FleetType.THIRD_PARTY:
            per_stop, minimum = d.cost.per_drop_cents, d.cost.route_minimum_cents
        else:
            per_stop, minimum = d.cost.per_task_cents, d.cost.min_payout_cents
        if minimum > 0:
            self.fixed_units[v] = minimum * UNITS_PER_CENT
            if per_stop > 0:
                self.stop_caps[v] = StopCap(minimum // per_stop, per_stop * UNITS_PER_CENT)
        else:
            self.visit_units[v] += per_stop * UNITS_PER_CENT

    def _visit_extras(self, v: int) -> np.ndarray:
        """Per-order costs of serving with driver v: zone failures, premium tier, moves."""
        d, p = self.problem.drivers[v], self.params
        out = np.zeros(self.problem.n_orders, dtype=np.int64)
        surcharge = (
            p.on(fam.BRAND_TIER)
            and p.premium_on_gig is PremiumOnGig.SURCHARGE
            and d.fleet_type is FleetType.GIG
        )
        for j, o in enumerate(self.problem.orders):
            units = 0
            if p.on(fam.ZONE_SUCCESS):
                fail_p = 1.0 - d.success_rate(o.zone)
                units += round(fail_p * p.failed_delivery_cost_cents * UNITS_PER_CENT)
            if surcharge and o.brand_tier is BrandTier.PREMIUM:
                units += p.premium_gig_surcharge_cents * UNITS_PER_CENT
            if p.on(fam.CHANGE_COST):
                was = self.current.get(o.id)
                if was is not None and was != d.id:
                    units += p.move_cost_cents * UNITS_PER_CENT
            out[j] = units
        return out

    # -- matrices for the model -----------------------------------------------------------
    def time_transit(self, vehicles: list[int]) -> IntMatrix:
        """Seconds from arriving at i to arriving at j (service at i + drive), for vehicles
        sharing one speed profile.

        Each driver's start row carries that driver's loading time (a start row is only ever
        used by its own driver); the direct arc start -> own end hub is an empty route and
        costs 0, so an idle driver is free.
        """
        pr = self.problem
        mat = pr.duration_s(vehicles[0]).copy()
        n = pr.n_orders
        service = np.array([o.service_time_s for o in pr.orders], dtype=np.int64)
        mat[:n, :] += service[:, None]
        for v in vehicles:
            s = pr.start_node(v)
            mat[s, :] += self.start_service_s[v]
            mat[s, pr.end_node(v)] = 0
        return mat

    def cost_matrix(self, vehicles: list[int]) -> IntMatrix:
        """Objective units of arc i -> j: per-metre rate + visit cost of j, for vehicles
        sharing one `cost_class`."""
        pr = self.problem
        v0 = vehicles[0]
        mat = pr.distance_m * self.arc_units_per_m[v0]
        mat[:, : pr.n_orders] += self.visit_units[v0][None, :]
        for v in vehicles:
            mat[pr.start_node(v), pr.end_node(v)] = 0
        return mat

    def cost_class(self, v: int) -> tuple[int, bytes]:
        """Vehicles with equal class share one cost matrix and callback."""
        return (self.arc_units_per_m[v], self.visit_units[v].tobytes())
