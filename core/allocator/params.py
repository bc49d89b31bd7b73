"""Solve parameters: which constraint families are on, what things cost, how to search."""

from dataclasses import dataclass

from core.allocator.families import ALL_FAMILIES
from core.allocator.kinds import PremiumOnGig, SlaMode

FAILED_DELIVERY_COST_CENTS = 1778

# OR-Tools first-solution strategies a solve may ask for (names of routing_enums_pb2's
# FirstSolutionStrategy); checked here so a typo fails when the params are made.
FIRST_SOLUTION_STRATEGIES = frozenset(
    {
        "PATH_CHEAPEST_ARC",
        "PARALLEL_CHEAPEST_INSERTION",
        "LOCAL_CHEAPEST_INSERTION",
        "SEQUENTIAL_CHEAPEST_INSERTION",
        "SAVINGS",
        "CHRISTOFIDES",
        "AUTOMATIC",
    }
)


@dataclass(frozen=True)
class SolveParams:
    """Tuning of one solve. Money in cents; every family in `enabled` is modelled.

    `drop_penalty_cents` x (1 + priority) is what leaving an order unserved costs: far above
    any route cost, so the solver drops an order only when no route has room, and the
    lowest priority first.
    `max_late_s`: in soft SLA mode, lateness beyond this is still forbidden.
    `max_orders_moved` / `max_routes_touched`: rebalance change budget (None = unlimited).
    `portfolio`: run PyVRP on the VRPTW relaxation first and warm-start OR-Tools from it.
    `first_solution`: OR-Tools' construction heuristic (one of `FIRST_SOLUTION_STRATEGIES`);
    PARALLEL_CHEAPEST_INSERTION builds far better time-window plans on large parts.
    """

    enabled: frozenset[str] = ALL_FAMILIES
    sla_mode: SlaMode = SlaMode.SOFT
    late_cents_per_min: int = 50
    max_late_s: int = 4 * 3600
    co2_cents_per_kg: int = 10
    premium_on_gig: PremiumOnGig = PremiumOnGig.SURCHARGE
    premium_gig_surcharge_cents: int = 500
    failed_delivery_cost_cents: int = FAILED_DELIVERY_COST_CENTS
    workload_cents_per_stop: int = 20
    drop_penalty_cents: int = 100_000
    move_cost_cents: int = 300
    max_orders_moved: int | None = None
    max_routes_touched: int | None = None
    portfolio: bool = False
    portfolio_share: float = 0.6
    guided_local_search: bool = True
    progress_interval_s: float = 0.5
    first_solution: str = "PATH_CHEAPEST_ARC"

    def __post_init__(self) -> None:
        object.__setattr__(self, "enabled", frozenset(self.enabled))
        object.__setattr__(self, "sla_mode", SlaMode(self.sla_mode))
        object.__setattr__(self, "premium_on_gig", PremiumOnGig(self.premium_on_gig))
        unknown = self.enabled - ALL_FAMILIES
        if unknown:
            raise ValueError(f"unknown constraint families: {', '.join(sorted(unknown))}")
        for name in (
            "late_cents_per_min",
            "max_late_s",
            "co2_cents_per_kg",
            "premium_gig_surcharge_cents",
            "failed_delivery_cost_cents",
            "workload_cents_per_stop",
            "drop_penalty_cents",
            "move_cost_cents",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if not 0.0 <= self.portfolio_share <= 1.0:
            raise ValueError("portfolio_share must be in [0, 1]")
        if self.first_solution not in FIRST_SOLUTION_STRATEGIES:
            raise ValueError(f"unknown first_solution strategy: {self.first_solution}")

    def on(self, family: str) -> bool:
        return family in self.enabled

    @property
    def allowed_late_s(self) -> int:
        """How late past its due time a stop may still start: none in hard SLA mode,
        `max_late_s` in soft mode."""
        return 0 if self.sla_mode is SlaMode.HARD else self.max_late_s

    def without(self, *families: str) -> "SolveParams":
        """A copy with some families switched off (what-if and ablation tests)."""
        from dataclasses import replace

        return replace(self, enabled=self.enabled - frozenset(families))


DEFAULT_PARAMS = SolveParams()
