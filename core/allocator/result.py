"""What comes out of a solve: plain routes, unassigned orders with reasons, metrics, status."""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

RoutePlan = Mapping[str, Sequence[str]]
"""Driver id -> order ids in visiting order: the live plan, a warm start, a diff's side.

Not the stored, versioned `core.models.Plan` row: this is only its routes, as the solver sees them.
"""


class Status(StrEnum):
    SOLVED = "solved"  # a plan; some orders may still be unassigned, each with a reason
    NO_SOLUTION = "no_solution"  # the solver found no plan in time: every order unassigned
    KEPT_INITIAL = "kept_initial"  # re-optimising found nothing better than the live plan
    EMPTY = "empty"  # nothing to route


@dataclass(frozen=True)
class Visit:
    """One stop. Times in seconds since local midnight; loads are what is left in the van."""

    order_id: str
    arrival_s: int
    service_start_s: int
    departure_s: int
    due_s: int
    load_parcels_after: int
    load_weight_g_after: int
    load_volume_ml_after: int

    @property
    def late_s(self) -> int:
        return max(0, self.service_start_s - self.due_s)


@dataclass(frozen=True)
class Break:
    start_s: int
    duration_s: int


@dataclass(frozen=True)
class Route:
    """A driver's sequence with its schedule and what it costs (`cost_cents` = fleet pay)."""

    driver_id: str
    visits: tuple[Visit, ...]
    start_s: int
    end_s: int
    distance_m: int
    cost_cents: int
    co2_g: int
    breaks: tuple[Break, ...] = ()

    @property
    def duration_s(self) -> int:
        return self.end_s - self.start_s

    @property
    def order_ids(self) -> tuple[str, ...]:
        return tuple(v.order_id for v in self.visits)


@dataclass(frozen=True)
class Unassigned:
    """An order no route serves; `reason_code` is a family constant or a `families` reason."""

    order_id: str
    reason_code: str
    reason_text: str


@dataclass(frozen=True)
class Metrics:
    """Totals of a plan. `cost_cents` is money paid to fleets; `objective_cents` is what the
    solver minimises (money + priced CO2, lateness, risk, moves and unserved penalties)."""

    cost_cents: int
    objective_cents: int
    objective_units: int
    distance_m: int
    co2_g: int
    late_count: int
    late_s: int
    drivers_used: int
    orders_served: int
    orders_unassigned: int
    feasible: bool = True
    violations: tuple[str, ...] = ()


@dataclass(frozen=True)
class AllocationResult:
    routes: tuple[Route, ...]
    unassigned: tuple[Unassigned, ...]
    metrics: Metrics
    status: Status
    runtime_s: float = 0.0
    solutions: int = 0
    notes: tuple[str, ...] = field(default=())
    solver_objective_units: int | None = None  # OR-Tools' own value, to check `evaluate`

    def plan(self) -> dict[str, list[str]]:
        return {r.driver_id: list(r.order_ids) for r in self.routes}

    def visits(self) -> Iterator[Visit]:
        for r in self.routes:
            yield from r.visits

    def route_of(self, driver_id: str) -> Route | None:
        return next((r for r in self.routes if r.driver_id == driver_id), None)

    def driver_of(self, order_id: str) -> str | None:
        for r in self.routes:
            if order_id in r.order_ids:
                return r.driver_id
        return None
