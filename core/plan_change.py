"""A proposal's route change and its effect, typed: built by the agents, read by the applier,
the conflict check and the pages, and turned into JSON and back in one place.

`RouteChange.from_json` also reads what older proposals stored (routes keyed by driver code
with `[order, eta]` stops, routes as a list of entries, metrics under `late`), so every
proposal already in a database still loads.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

JSON = dict[str, Any]  # the stored form, at the database boundary only


@dataclass(frozen=True)
class Touches:
    """The drivers and orders a change writes to; two changes conflict when these meet."""

    drivers: frozenset[str]
    orders: frozenset[str]

    def meets(self, other: Touches) -> bool:
        return bool(self.drivers & other.drivers or self.orders & other.orders)


@dataclass(frozen=True)
class PlannedStop:
    order: str
    eta_s: int  # seconds since the hub's local midnight


@dataclass(frozen=True)
class NewRoute:
    """One touched route as the change writes it; no stops = the route is emptied."""

    driver: str
    stops: tuple[PlannedStop, ...]
    start_s: int | None
    end_s: int | None
    distance_m: int


@dataclass(frozen=True)
class OrderMove:
    """An order moved between drivers, newly placed (no from) or dropped (no to)."""

    order: str
    from_driver: str | None
    from_position: int | None
    to_driver: str | None
    to_position: int | None
    reason: str


@dataclass(frozen=True)
class Unplaced:
    order: str
    reason: str


@dataclass(frozen=True)
class LoadHandover:
    """A stranded van's load: taken over by `to_driver` at the van, or back to the hub (None)."""

    from_driver: str
    kind: str
    to_driver: str | None
    lat: float
    lon: float
    at_s: int
    orders: tuple[str, ...]
    why: str


@dataclass(frozen=True)
class DriverRisk:
    """A rule a driver's route would break (the compliance agent's reason to move stops)."""

    driver: str
    rule: str
    breach_at: str  # ISO instant
    orders: tuple[str, ...]


@dataclass(frozen=True)
class RouteChange:
    """What a route-changing proposal writes into one hub's plan."""

    hub_id: int | None  # None only in changes stored without it
    day: str  # ISO date
    requested_by: str
    routes: tuple[NewRoute, ...]
    moves: tuple[OrderMove, ...] = ()
    unassigned: tuple[Unplaced, ...] = ()
    handovers: tuple[LoadHandover, ...] = ()
    action: str | None = None
    risks: tuple[DriverRisk, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.routes

    def touches(self) -> Touches:
        drivers = {r.driver for r in self.routes}
        orders = {s.order for r in self.routes for s in r.stops}
        for m in self.moves:
            orders.add(m.order)
            drivers |= {d for d in (m.from_driver, m.to_driver) if d}
        drivers |= {r.driver for r in self.risks}
        drivers |= {h.from_driver for h in self.handovers}
        return Touches(frozenset(drivers), frozenset(orders))

    def to_json(self) -> JSON:
        out = asdict(self)
        out["routes"] = {
            r.driver: {
                "stops": [[s.order, s.eta_s] for s in r.stops],
                "start_s": r.start_s,
                "end_s": r.end_s,
                "distance_m": r.distance_m,
            }
            for r in self.routes
        }
        out["drivers"] = sorted({r.driver for r in self.risks})
        return out

    @classmethod
    def from_json(cls, data: JSON) -> RouteChange:
        routes = data.get("routes", {})
        return cls(
            hub_id=int(data["hub_id"]) if data.get("hub_id") is not None else None,
            day=str(data.get("day", "")),
            requested_by=str(data.get("requested_by", "")),
            routes=tuple(
                NewRoute(
                    driver=code,
                    stops=tuple(PlannedStop(str(ref), int(eta)) for ref, eta in r.get("stops", [])),
                    start_s=r.get("start_s"),
                    end_s=r.get("end_s"),
                    distance_m=int(r.get("distance_m") or 0),
                )
                for code, r in (routes.items() if isinstance(routes, dict) else ())
            ),
            moves=tuple(
                OrderMove(
                    str(m["order"]),
                    m.get("from_driver"),
                    m.get("from_position"),
                    m.get("to_driver"),
                    m.get("to_position"),
                    str(m.get("reason", "")),
                )
                for m in data.get("moves", [])
            ),
            unassigned=tuple(Unplaced(str(u["order"]), str(u["reason"])) for u in data.get("unassigned", [])),
            handovers=tuple(
                LoadHandover(**{**h, "orders": tuple(h["orders"])}) for h in data.get("handovers", [])
            ),
            action=data.get("action"),
            risks=tuple(
                DriverRisk(str(r["driver"]), str(r["rule"]), str(r["breach_at"]), tuple(r["orders"]))
                for r in data.get("risks", [])
            ),
        )


@dataclass(frozen=True)
class PlanMetrics:
    """One side of a plan's effect, in the allocator's units."""

    cost_cents: int
    distance_m: int
    co2_g: int
    late: int
    unassigned: int
    drivers_used: int


@dataclass(frozen=True)
class SolverRun:
    status: str
    runtime_s: float
    solutions: int
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlanEffect:
    """A route change's expected effect: the plan before and after, and how much moved."""

    before: PlanMetrics
    after: PlanMetrics
    orders_moved: int
    orders_placed: int
    orders_dropped: int
    routes_touched: int
    routes_total: int
    solver: SolverRun | None = None
    breaches: int | None = None  # the compliance agent's breaches found and avoided
    breaches_avoided: int | None = None
    handed_over: int = 0  # parcels of stranded vans given a way on
    extra: tuple[tuple[str, int], ...] = field(default=())  # other agents' named counts

    def to_json(self) -> JSON:
        return asdict(self)

    @classmethod
    def from_json(cls, data: JSON) -> PlanEffect:
        def metrics(m: JSON) -> PlanMetrics:
            return PlanMetrics(
                cost_cents=int(m.get("cost_cents", 0)),
                distance_m=int(m.get("distance_m", 0)),
                co2_g=int(m.get("co2_g", 0)),
                late=int(m.get("late") or m.get("late_count") or 0),
                unassigned=int(m.get("unassigned") or m.get("orders_unassigned") or 0),
                drivers_used=int(m.get("drivers_used", 0)),
            )

        solver = data.get("solver")
        known = {f for f in cls.__dataclass_fields__}
        extra = tuple(
            (k, int(v))
            for k, v in data.items()
            if k not in known and isinstance(v, int | float) and not isinstance(v, bool)
        )
        return cls(
            before=metrics(data["before"]),
            after=metrics(data["after"]),
            orders_moved=int(data.get("orders_moved", 0)),
            orders_placed=int(data.get("orders_placed", 0)),
            orders_dropped=int(data.get("orders_dropped", 0)),
            routes_touched=int(data.get("routes_touched", 0)),
            routes_total=int(data.get("routes_total", 0)),
            solver=SolverRun(
                solver["status"], float(solver["runtime_s"]), int(solver["solutions"]), tuple(solver["notes"])
            )
            if solver
            else None,
            breaches=data.get("breaches"),
            breaches_avoided=data.get("breaches_avoided"),
            handed_over=int(data.get("handed_over", 0)),
            extra=tuple((str(k), int(v)) for k, v in data["extra"]) if "extra" in data else extra,
        )
